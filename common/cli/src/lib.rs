//! The command-line plumbing `issuer` and `activator` share: parse the
//! arguments, run one command, print what it returns as text or, with the
//! global `--json` flag, as one JSON document, and map an error to its exit
//! status — one error path for both binaries.
//!
//! * Success: the command's [`Output`] (text for people, a documented,
//!   versioned JSON shape for scripts) on standard output; exit 0.
//! * Failure: in text mode `error: …` and `hint: …` on standard error; with
//!   `--json`, `{"format": 1, "error": {…}}` on standard output (see
//!   [`ErrorReport`]); either way the exit
//!   status of the error's class. A command may also give an output with
//!   its failure (`activator check` says what is not entitled, `issuer
//!   ledger verify` lists the problems): its JSON then carries the `error`
//!   object beside its own fields.
//! * A closed pipe on standard output is not an error; a panic is reported
//!   as an internal error (status 1), in the same form.
//!
//! ```
//! use license_cli::Output;
//!
//! let out = Output::new(&serde_json::json!({"format": 1, "kid": "0123456789abcdef"}), "key id 0123456789abcdef\n");
//! assert_eq!(out.text(), "key id 0123456789abcdef\n");
//! assert_eq!(out.json()["kid"], "0123456789abcdef");
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use license_common::exit::{self, ErrorReport, ExitClass, Explain};
use serde::Serialize;

/// The version of the JSON error document and of every output wrapper.
pub const JSON_FORMAT: u32 = 1;

/// What a command printed: text for people and JSON for scripts.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    text: String,
    json: serde_json::Value,
}

impl Output {
    /// An output whose JSON is `value` and whose text is `text`.
    pub fn new(value: &impl Serialize, text: impl Into<String>) -> Self {
        let json = serde_json::to_value(value).expect("command outputs serialise to JSON");
        Output { text: text.into(), json }
    }

    /// The text form.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The JSON form.
    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }
}

/// A command that failed: its error, and what it printed before (if any).
#[derive(Debug)]
pub struct Failure<E> {
    /// The error, which decides the exit status.
    pub error: E,
    /// An output that goes with the failure.
    pub output: Option<Box<Output>>,
    /// In text mode, the output already says everything: no `error:` line.
    pub quiet: bool,
}

impl<E> Failure<E> {
    /// A failure that printed `output` first (text mode prints both).
    pub fn with_output(error: E, output: Output) -> Self {
        Failure { error, output: Some(Box::new(output)), quiet: false }
    }

    /// A failure whose output says it all in text mode (no `error:` line);
    /// with `--json` the error object is added to the output.
    pub fn told_by(error: E, output: Output) -> Self {
        Failure { error, output: Some(Box::new(output)), quiet: true }
    }
}

impl<E> From<E> for Failure<E> {
    fn from(error: E) -> Self {
        Failure { error, output: None, quiet: false }
    }
}

/// clap's parser for a value of one of a library's closed sets (plans, key
/// uses, ledger statuses): it offers exactly their wire names, in `--help`
/// and completions, and refuses anything else with clap's own message. The
/// names come from the library, so the command line never repeats them.
#[derive(Clone)]
pub struct OneOf<T: 'static> {
    values: &'static [T],
    name: fn(&T) -> &'static str,
}

/// The parser of [`OneOf`] for `values`, named by `name`.
pub fn one_of<T: Clone + Send + Sync + 'static>(values: &'static [T], name: fn(&T) -> &'static str) -> OneOf<T> {
    OneOf { values, name }
}

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for OneOf<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let names = clap::builder::PossibleValuesParser::new(self.values.iter().map(self.name));
        let chosen = names.parse_ref(cmd, arg, value)?;
        let found = self.values.iter().find(|v| (self.name)(v) == chosen);
        // The names parser accepted one of these names, so it is found.
        Ok(found.unwrap_or(&self.values[0]).clone())
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(self.values.iter().map(|v| clap::builder::PossibleValue::new((self.name)(v)))))
    }
}

/// Whether `--json` is on the command line (before a `--`).
pub fn wants_json(args: &[OsString]) -> bool {
    args.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--json")
}

/// Runs a binary: parses the arguments with clap, runs `run`, prints, and
/// returns the exit status. `tool` names the binary in internal errors.
pub fn main<C, E>(tool: &str, run: impl FnOnce(C, bool) -> Result<Output, Failure<E>>) -> ExitCode
where
    C: clap::Parser,
    E: Explain,
{
    let args: Vec<OsString> = std::env::args_os().collect();
    let json = wants_json(&args);
    let cli = match C::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return parse_failure(&e, json),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli, json)));
    match outcome {
        Ok(Ok(output)) => print(&output, json),
        Ok(Err(failure)) => fail(&failure, json),
        Err(_) => internal(tool, json),
    }
}

/// Prints a successful output and gives status 0 (or 3 when standard output
/// cannot be written, other than a closed pipe).
fn print(output: &Output, json: bool) -> ExitCode {
    match write_stdout(output, json, None) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn write_stdout(output: &Output, json: bool, error: Option<&ErrorReport>) -> Result<(), ExitCode> {
    let text = if json {
        let mut value = output.json.clone();
        if let (Some(report), serde_json::Value::Object(map)) = (error, &mut value) {
            map.insert("error".into(), serde_json::to_value(report).expect("a report serialises"));
        }
        let mut s = serde_json::to_string_pretty(&value).expect("JSON serialises");
        s.push('\n');
        s
    } else {
        output.text.clone()
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            Err(ExitCode::from(ExitClass::Io.code()))
        }
    }
}

/// Reports a failure and gives its exit status.
fn fail<E: Explain>(failure: &Failure<E>, json: bool) -> ExitCode {
    let report = ErrorReport::of(&failure.error);
    let code = ExitCode::from(report.status);
    if json {
        let output = failure
            .output
            .as_deref()
            .cloned()
            .unwrap_or_else(|| Output::new(&serde_json::json!({ "format": JSON_FORMAT }), String::new()));
        return write_stdout(&output, true, Some(&report)).map_or_else(|c| c, |()| code);
    }
    if let Some(output) = &failure.output
        && let Err(c) = write_stdout(output, false, None)
    {
        return c;
    }
    if !failure.quiet {
        eprint!("{}", exit::render(&report.message, &report.hint));
    }
    code
}

/// A panic: a bug, reported as the internal class.
fn internal(tool: &str, json: bool) -> ExitCode {
    let report = ErrorReport {
        class: ExitClass::Internal,
        status: ExitClass::Internal.code(),
        case: "Internal".into(),
        message: format!("internal error (a bug in {tool})"),
        hint: "please report it with the command you ran".into(),
        fields: serde_json::json!({}),
    };
    if json {
        let output = Output::new(&serde_json::json!({ "format": JSON_FORMAT }), String::new());
        let _ = write_stdout(&output, true, Some(&report));
    } else {
        eprint!("{}", exit::render(&report.message, &report.hint));
    }
    ExitCode::from(report.status)
}

/// A command line that clap refuses: clap's own message (status 2), or,
/// with `--json`, the same as a JSON error of class `usage`. Help and
/// version requests print and exit 0.
fn parse_failure(e: &clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    if help || !json {
        let _ = e.print();
        return ExitCode::from(if e.use_stderr() { ExitClass::Usage.code() } else { 0 });
    }
    let rendered = e.render().to_string();
    let message = rendered.lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned();
    let report = ErrorReport {
        class: ExitClass::Usage,
        status: ExitClass::Usage.code(),
        case: format!("Usage::{:?}", e.kind()),
        message,
        hint: "see --help".into(),
        fields: serde_json::json!({ "detail": rendered }),
    };
    let output = Output::new(&serde_json::json!({ "format": JSON_FORMAT }), String::new());
    let _ = write_stdout(&output, true, Some(&report));
    ExitCode::from(ExitClass::Usage.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_of_takes_the_library_names_only() {
        use clap::builder::TypedValueParser;
        static PLANS: [&str; 2] = ["subscription", "perpetual"];
        let parser = one_of(&PLANS, |p| p);
        let cmd = clap::Command::new("t");
        assert_eq!(parser.parse_ref(&cmd, None, "perpetual".as_ref()).unwrap(), "perpetual");
        assert!(parser.parse_ref(&cmd, None, "lifetime".as_ref()).is_err());
        let offered: Vec<String> = parser.possible_values().unwrap().map(|v| v.get_name().to_owned()).collect();
        assert_eq!(offered, PLANS);
    }

    #[test]
    fn json_is_seen_anywhere_before_a_double_dash() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(wants_json(&args(&["issuer", "ledger", "list", "--json"])));
        assert!(wants_json(&args(&["issuer", "--json", "ledger", "list"])));
        assert!(!wants_json(&args(&["issuer", "inspect", "--", "--json"])));
        assert!(!wants_json(&args(&["--json"])), "the program name is not an argument");
    }
}
