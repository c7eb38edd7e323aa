//! The error catalogue, docs/ERRORS.md, is complete and true.
//!
//! * Every `#[error(...)]` message of every type that implements `Explain` has
//!   a row named `Type::Variant` whose message holds the literal text of the
//!   template, in order. The types and their messages are found by reading the
//!   sources, so a new type, variant or wording is caught without editing this
//!   file. Every string a `hint()` can print is in the catalogue too.
//! * Every exit status of the table in docs/CLI.md but 1 (`internal`: only a
//!   bug produces it, and its rows say so) is produced here through the real binaries, by a test
//!   named `status_<code>_<class>`, and the `error:` and `hint:` lines printed
//!   match a row of the catalogue with that status.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use license_common::envelope::{self, Kind};
use license_common::exit::ExitClass;
use license_common::license::License;
use license_common::{Plan, Timestamp};
use license_tests::{Install, Run, Vendor, bin, run, workspace};

/// Where the error types live.
const SOURCE_DIRS: [&str; 3] = ["common/src", "issuer/src", "activator/src"];
/// The catalogue.
const CATALOGUE: &str = "docs/ERRORS.md";

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---------------------------------------------------------------------------
// Reading the sources.

/// Every `.rs` file under `dir`, as (path relative to the workspace, text).
fn rust_files(dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.strip_prefix(workspace()).unwrap_or(&path).display().to_string();
            out.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        rust_files(&workspace().join(dir), &mut files);
    }
    assert!(files.len() > 20, "the sources were not found: {files:?}");
    files
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let s = s.trim_start();
    &s[..s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len())]
}

/// The names of the types that implement `Explain`.
fn explain_types(files: &[(String, String)]) -> BTreeSet<String> {
    let mut types = BTreeSet::new();
    for (_, text) in files {
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("impl ")
                && let Some(at) = rest.find("Explain for ")
            {
                types.insert(ident(&rest[at + "Explain for ".len()..]).to_owned());
            }
        }
    }
    types
}

/// The string literal that starts at the first `"` of `s`, unescaped, and the
/// rest of `s` after it.
fn string_literal(s: &str) -> Option<(String, &str)> {
    let start = s.find('"')?;
    let mut out = String::new();
    let mut chars = s[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[start + 1 + i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, other)) => out.push(other),
                None => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// Every string literal on a line of code (comments excluded).
fn string_literals(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut rest = code;
    while let Some((literal, after)) = string_literal(rest) {
        found.push(literal);
        rest = after;
    }
    found
}

/// One `#[error(...)]` attribute of a type that implements `Explain`.
#[derive(Debug)]
struct Message {
    /// `Type::Variant`, or `Type` for a struct.
    name: String,
    /// The format string; `None` for `#[error(transparent)]`.
    template: Option<String>,
    /// `file:line` of the attribute.
    at: String,
}

/// Every `#[error(...)]` of the enums and structs named in `types`: a simple
/// line-based reading of the sources, which are formatted by rustfmt.
fn messages(files: &[(String, String)], types: &BTreeSet<String>) -> Vec<Message> {
    let mut found = Vec::new();
    for (file, text) in files {
        let lines: Vec<&str> = text.lines().collect();
        let mut pending: Vec<(String, usize)> = Vec::new();
        let mut in_enum: Option<String> = None;
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let code = line.trim();
            i += 1;
            if code.starts_with("#[error(") {
                let start = i;
                let mut attribute = code.to_owned();
                while !attribute.ends_with(")]") && i < lines.len() {
                    attribute.push(' ');
                    attribute.push_str(lines[i].trim());
                    i += 1;
                }
                pending.push((attribute, start));
                continue;
            }
            if code.is_empty() || code.starts_with("//") || code.starts_with("#[") {
                continue;
            }
            let declared = code.strip_prefix("pub ").unwrap_or(code);
            let declared = declared.strip_prefix("(crate) ").unwrap_or(declared);
            let message = |name: String, (attribute, line): (String, usize)| {
                let body = attribute["#[error(".len()..].trim_start();
                let template = if body.starts_with("transparent") {
                    None
                } else {
                    let (literal, _) = string_literal(body)
                        .unwrap_or_else(|| panic!("{file}:{line}: cannot read the message of {attribute}"));
                    Some(literal)
                };
                Message { name, template, at: format!("{file}:{line}") }
            };
            match &in_enum {
                None => {
                    if let Some(rest) = declared.strip_prefix("enum ")
                        && types.contains(ident(rest))
                    {
                        in_enum = Some(ident(rest).to_owned());
                    } else if let Some(rest) = declared.strip_prefix("struct ")
                        && types.contains(ident(rest))
                    {
                        for attribute in pending.drain(..) {
                            found.push(message(ident(rest).to_owned(), attribute));
                        }
                    }
                    pending.clear();
                }
                Some(ty) => {
                    if line == "}" {
                        in_enum = None;
                    } else if !pending.is_empty() {
                        let name = format!("{ty}::{}", ident(code));
                        for attribute in pending.drain(..) {
                            found.push(message(name.clone(), attribute));
                        }
                    }
                }
            }
        }
    }
    found
}

/// The literal parts of a Rust format string, between its placeholders
/// (`{{` and `}}` are literal braces). Parts of nothing but spaces are dropped.
fn format_parts(template: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                parts.last_mut().unwrap().push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                parts.last_mut().unwrap().push('}');
            }
            '{' => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
                parts.push(String::new());
            }
            c => parts.last_mut().unwrap().push(c),
        }
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// True when `parts` occur in `text` in this order, without overlapping.
fn in_order(text: &str, parts: &[String]) -> bool {
    let mut rest = text;
    for part in parts {
        match rest.find(part.as_str()) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The string literals of each `fn hint` of an `impl Explain for T`, as
/// (T, literal, `file:line`).
fn hints(files: &[(String, String)]) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for (file, text) in files {
        let mut ty: Option<String> = None;
        let mut in_hint = false;
        for (n, line) in text.lines().enumerate() {
            if let Some(rest) = line.strip_prefix("impl ")
                && let Some(at) = rest.find("Explain for ")
            {
                ty = Some(ident(&rest[at + "Explain for ".len()..]).to_owned());
            } else if line == "}" {
                ty = None;
                in_hint = false;
            } else if let Some(ty) = &ty {
                if line.trim_start().starts_with("fn hint(") {
                    in_hint = true;
                } else if line == "    }" {
                    in_hint = false;
                } else if in_hint {
                    for literal in string_literals(line) {
                        found.push((ty.clone(), literal, format!("{file}:{}", n + 1)));
                    }
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------
// Reading the catalogue.

/// A row of a table of docs/ERRORS.md.
#[derive(Debug)]
struct Row {
    /// `Type::Variant`.
    name: String,
    /// The `error:` text, `<…>` marking what is filled in.
    message: String,
    /// Exit status and class name.
    code: u8,
    class: String,
    /// The `hint:` text, `<…>` marking what is filled in.
    hint: String,
}

/// The text of a table cell written as a code span (`` `x` `` or ``` `` x `` ```).
fn code_span(cell: &str) -> String {
    let cell = cell.trim();
    let ticks = cell.len() - cell.trim_start_matches('`').len();
    let inner = &cell[ticks..cell.len() - ticks.min(cell.len() - ticks)];
    inner.strip_prefix(' ').and_then(|s| s.strip_suffix(' ')).unwrap_or(inner).to_owned()
}

/// The rows of every table whose first cell is a code span: `| name | message | status | cause | hint |`.
fn rows(doc: &str) -> Vec<Row> {
    doc.lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').collect();
            assert_eq!(cells.len(), 7, "{CATALOGUE}: a row needs 5 cells: {line}");
            let (code, class) = cells[3]
                .trim()
                .split_once(' ')
                .unwrap_or_else(|| panic!("{CATALOGUE}: the status cell is `CODE `class``: {line}"));
            Row {
                name: code_span(cells[1]),
                message: code_span(cells[2]),
                code: code.parse().unwrap_or_else(|_| panic!("{CATALOGUE}: not a status: {line}")),
                class: class.trim_matches('`').to_owned(),
                hint: code_span(cells[5]),
            }
        })
        .collect()
}

/// True when `text` is what `template` (with `<…>` placeholders) can print.
fn matches(template: &str, text: &str) -> bool {
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('<') {
        parts.push(&rest[..open]);
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        rest = &rest[close..];
    }
    parts.push(rest);
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return text == first;
    }
    let Some(mut middle) = text.strip_prefix(first) else { return false };
    let Some(stripped) = middle.strip_suffix(last) else { return false };
    middle = stripped;
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(at) => middle = &middle[at + part.len()..],
            None => return false,
        }
    }
    true
}

// ---------------------------------------------------------------------------
// (b) Everything the code can print is in the catalogue.

#[test]
fn every_error_message_is_in_the_catalogue() {
    let files = sources();
    let types = explain_types(&files);
    assert!(types.len() > 3, "few `impl Explain for` were found: {types:?}");
    let messages = messages(&files, &types);
    let named: BTreeSet<&str> = messages.iter().map(|m| m.name.split("::").next().unwrap()).collect();
    for ty in &types {
        assert!(
            named.contains(ty.as_str()),
            "no #[error] attribute of {ty} was found; is the reading of the sources broken?"
        );
    }
    let rows = rows(&read(CATALOGUE));
    let mut missing = Vec::new();
    let mut documented = 0;
    for message in &messages {
        let Some(template) = &message.template else { continue };
        let parts = format_parts(template);
        let ours: Vec<&Row> = rows.iter().filter(|r| r.name == message.name).collect();
        if ours.is_empty() {
            missing.push(format!("{} ({}): no row `{}`: \"{template}\"", message.name, message.at, message.name));
        } else if !ours.iter().any(|r| in_order(&r.message, &parts)) {
            missing.push(format!(
                "{} ({}): the row's message does not hold {parts:?} in this order: \"{template}\"",
                message.name, message.at
            ));
        } else {
            documented += 1;
        }
    }
    assert!(missing.is_empty(), "{CATALOGUE} does not document {} message(s):\n{}", missing.len(), missing.join("\n"));

    // And nothing else: every row names a variant that exists and is not a wrapper.
    let real: BTreeSet<&str> = messages.iter().filter(|m| m.template.is_some()).map(|m| m.name.as_str()).collect();
    let stale: Vec<&str> = rows.iter().map(|r| r.name.as_str()).filter(|n| !real.contains(n)).collect();
    assert!(stale.is_empty(), "{CATALOGUE} has rows for what the code no longer has (or a wrapper): {stale:?}");
    println!(
        "{documented} messages of {} types documented, {} wrappers skipped",
        types.len(),
        messages.len() - documented
    );
}

#[test]
fn every_hint_is_in_the_catalogue() {
    let files = sources();
    let hints = hints(&files);
    assert!(hints.len() > 50, "the hints were not found: {hints:?}");
    let rows = rows(&read(CATALOGUE));
    let missing: Vec<String> = hints
        .iter()
        .filter(|(ty, literal, _)| {
            let parts = format_parts(literal);
            !rows.iter().any(|r| {
                (r.name == *ty || r.name.strip_prefix(ty.as_str()).is_some_and(|v| v.starts_with("::")))
                    && in_order(&r.hint, &parts)
            })
        })
        .map(|(ty, literal, at)| format!("{ty} ({at}): \"{literal}\""))
        .collect();
    assert!(missing.is_empty(), "{CATALOGUE} does not document {} hint(s):\n{}", missing.len(), missing.join("\n"));
}

#[test]
fn every_row_has_a_real_exit_status_and_both_texts() {
    let rows = rows(&read(CATALOGUE));
    assert!(rows.len() > 90, "{CATALOGUE}: too few rows were read: {}", rows.len());
    for row in &rows {
        assert!(
            ExitClass::ALL.iter().any(|c| c.code() == row.code && c.name() == row.class),
            "{CATALOGUE}: {}: `{} {}` is not an exit status and class of docs/CLI.md",
            row.name,
            row.code,
            row.class
        );
        assert!(
            row.code != ExitClass::Internal.code() || row.hint.contains("bug"),
            "{}: status 1 is for bugs only, and the hint must say so",
            row.name
        );
        assert!(!row.message.is_empty() && !row.hint.is_empty(), "{CATALOGUE}: {} lacks a text: {row:?}", row.name);
    }
}

// ---------------------------------------------------------------------------
// (a) Every documented exit status can be produced.

/// The (status, class) rows of the table in docs/CLI.md.
fn cli_statuses() -> Vec<(u8, String)> {
    read("docs/CLI.md")
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.parse::<u8>().ok()?;
            Some((code, cells.get(2)?.trim_matches('`').to_owned()))
        })
        .collect()
}

#[test]
fn every_exit_status_of_cli_md_but_internal_has_a_test_here() {
    let this = include_str!("errors_catalogue.rs");
    let statuses = cli_statuses();
    assert!(statuses.len() >= 18, "docs/CLI.md: the exit status table was not found: {statuses:?}");
    let test = |code: &u8, class: &str| format!("fn status_{code}_{class}() {{");
    let missing: Vec<String> = statuses
        .iter()
        .filter(|(code, _)| *code != ExitClass::Internal.code())
        .map(|(code, class)| test(code, class))
        .filter(|f| !this.contains(f.as_str()))
        .collect();
    assert!(missing.is_empty(), "no test produces these statuses: {missing:?}");
    let internal = ExitClass::Internal;
    assert!(!this.contains(&test(&internal.code(), internal.name())), "no error has status 1: nothing can test it");
    let doc = read(CATALOGUE);
    assert!(
        doc.contains("| 1 | `internal` |") || doc.contains("status 1"),
        "{CATALOGUE} must say what becomes of status 1"
    );
}

/// Asserts that `run` failed with `code` in the two-line format, and that
/// its message and hint are those of a row of the catalogue with that status.
#[track_caller]
fn documented(run: &Run, code: i32) -> String {
    let stderr = run.fails_with(code).to_owned();
    let mut lines = stderr.lines();
    let message = lines.next().and_then(|l| l.strip_prefix("error: ")).unwrap();
    let hint = lines.find_map(|l| l.strip_prefix("hint: ")).unwrap();
    let rows = rows(&read(CATALOGUE));
    let same_message: Vec<&Row> = rows.iter().filter(|r| matches(&r.message, message)).collect();
    assert!(
        same_message.iter().any(|r| i32::from(r.code) == code && matches(&r.hint, hint)),
        "no row of {CATALOGUE} with status {code} matches\nerror: {message}\nhint: {hint}\nrows with this message: {same_message:#?}"
    );
    stderr
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

/// Signs a license the CLI rightly refuses to make, with the vendor's key.
fn sign_custom(vendor: &Vendor, edit: impl FnOnce(&mut License)) -> String {
    let token = vendor.issue(&[]);
    let key = vendor.signing_key();
    let ring = license_common::Keyring::from_keys([*key.public()]);
    let mut license = envelope::open::<License>(&token, Kind::License, &ring).unwrap().content;
    edit(&mut license);
    license_issuer::sign(&key, license).token
}

#[test]
fn status_0_success() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let out = install.run(&["check", "data_service"], None);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    out.ok();
}

#[test]
fn status_2_usage() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let err = documented(&install.run(&["gateway", "set", "gw.example.com/v1/write?token={}"], None), 2);
    assert!(err.contains("no scheme (it looks like a host name)"), "{err}");
    let err = documented(&install.run(&["gateway", "set", "https://gw.example.com/v1/write"], None), 2);
    assert!(err.contains("no `token` query parameter"), "{err}");
    let err = documented(&install.run(&["activate"], None), 2);
    assert!(err.contains("no license given"), "{err}");
    // Clap's own refusals share the status, in clap's format.
    let r = install.run(&["activate", "--no-such-flag"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
}

#[test]
fn status_3_io() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let missing = install.dir.path().join("no-such-license.txt");
    let err = documented(&install.run(&["activate", path(&missing)], None), 3);
    assert!(err.contains("cannot read") && err.contains("no-such-license.txt"), "{err}");
    let err = documented(&install.run(&["activate", path(install.dir.path())], None), 3);
    assert!(err.contains("is a directory"), "{err}");
    let mut keygen = vendor.issuer();
    keygen.arg("keygen").arg("--out").arg(vendor.key.parent().unwrap()).arg("--passphrase-file").arg(&vendor.pass_file);
    let err = documented(&run(keygen, None), 3);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn status_10_malformed() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let good = vendor.issue(&[]);
    let err = documented(&install.activate(""), 10);
    assert!(err.contains("the license is empty"), "{err}");
    let err = documented(&install.activate(&good.replacen("lic1.", "rct1.", 1)), 10);
    assert!(err.contains("not a license"), "{err}");
    let err = documented(&install.activate(&good[..good.len() - 20]), 10);
    assert!(err.contains("not a well-formed license"), "{err}");
    let err = documented(&install.activate(&good.replacen("lic1.", "lic9.", 1)), 10);
    assert!(err.contains("format version 9"), "{err}");
}

#[test]
fn status_11_bad_signature() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let good = vendor.issue(&[]);
    let mut bytes = good.clone().into_bytes();
    let i = good.find('.').unwrap() + 18 + 10; // inside the payload
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let err = documented(&install.activate(&String::from_utf8(bytes).unwrap()), 11);
    assert!(err.contains("changed after it was signed"), "{err}");
}

#[test]
fn status_12_untrusted_key() {
    let vendor = Vendor::new();
    let stranger = Vendor::new();
    let install = Install::new(&vendor);
    let err = documented(&install.activate(&stranger.issue(&[])), 12);
    assert!(err.contains("not a trusted key"), "{err}");
}

#[test]
fn status_13_expired() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let expired = sign_custom(&vendor, |l| {
        l.not_before = Timestamp::parse("2024-01-01").unwrap();
        l.expires_at = Some(Timestamp::parse("2025-01-01").unwrap());
    });
    let err = documented(&install.activate(&expired), 13);
    assert!(err.contains("expired on 2025-01-01"), "{err}");
}

#[test]
fn status_14_not_yet_valid() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let later = vendor.issue(&["--not-before", "2031-01-01", "--until", "2032-01-01"]);
    let err = documented(&install.activate(&later), 14);
    assert!(err.contains("not valid before 2031-01-01"), "{err}");
}

#[test]
fn status_15_activation_window_closed() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let lapsed = sign_custom(&vendor, |l| {
        l.plan = Plan::PayAsYouGo;
        l.activate_by = Some(Timestamp::parse("2025-06-01").unwrap());
    });
    let err = documented(&install.activate(&lapsed), 15);
    assert!(err.contains("activated by 2025-06-01"), "{err}");
}

#[test]
fn status_16_mismatch() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    install.activate(&vendor.issue(&[])).ok();
    let err = documented(&install.activate(&vendor.issue(&["--account", "acct-2002"])), 16);
    assert!(err.contains("for account `acct-2002`") && err.contains("--replace"), "{err}");
    let other_product = sign_custom(&vendor, |l| l.product = "observability".into());
    let err = documented(&install.activate(&other_product), 16);
    assert!(err.contains("for product `observability`"), "{err}");
}

#[test]
fn status_17_superseded() {
    let vendor = Vendor::new();
    // The ledger numbers an account's licenses: the second is sequence 2.
    let (first, second) = (vendor.issue(&[]), vendor.issue(&[]));
    let install = Install::new(&vendor);
    install.activate(&second).ok();
    let err = documented(&install.activate(&first), 17);
    assert!(err.contains("(sequence 1) is not newer than license") && err.contains("(sequence 2)"), "{err}");
    // Once replaced, a license cannot come back.
    let replaced = Install::new(&vendor);
    replaced.activate(&first).ok();
    replaced.activate(&second).ok();
    let err = documented(&replaced.activate(&first), 17);
    assert!(err.contains("has since been replaced by license"), "{err}");
}

#[test]
fn status_18_revoked() {
    let vendor = Vendor::new();
    let issued = vendor.issue_run(&["--json"]).json();
    let (id, token) = (issued["id"].as_str().unwrap(), issued["token"].as_str().unwrap());
    let mut revoke = vendor.issuer();
    revoke.args(["revoke", id, "--reason", "chargeback on order 7731"]);
    run(revoke, None).ok();
    let list = vendor.dir.path().join("revocations.txt");
    let mut export = vendor.issuer();
    export.args(["revocations", "export", "--key", path(&vendor.key), "--passphrase-file", path(&vendor.pass_file)]);
    export.args(["--out", path(&list)]);
    run(export, None).ok();

    let install = Install::new(&vendor);
    install.run(&["revocations", "import", path(&list)], None).ok();
    let err = documented(&install.activate(token), 18);
    assert!(err.contains("was revoked on") && err.contains("chargeback on order 7731"), "{err}");
    let err = documented(&install.run(&["revocations", "import", path(&list)], None), 18);
    assert!(err.contains("is not newer than list"), "{err}");
}

#[test]
fn status_20_not_entitled() {
    let vendor = Vendor::new();
    let install = Install::new(&vendor);
    let err = documented(&install.run(&["check", "data_service"], None), 20);
    assert!(err.contains("community edition"), "{err}");
    install.activate(&vendor.issue(&[])).ok();
    let err = documented(&install.run(&["check", "data_service", "--tier", "api.s1.medium"], None), 20);
    assert!(err.contains("at tier `api.s1.small`"), "{err}");
}

#[test]
fn status_30_state() {
    let vendor = Vendor::new();
    let dir = tempfile::tempdir().unwrap();
    let mut status = Command::new(bin("activator"));
    status.arg("--state").arg(dir.path().join("nothing-here")).arg("status");
    let err = documented(&run(status, None), 30);
    assert!(err.contains("not an activator state directory"), "{err}");
    let install = Install::new(&vendor);
    let err = documented(&install.run(&["gateway", "show"], None), 30);
    assert!(err.contains("no data gateway address"), "{err}");
    let err = documented(&install.run(&["receipt", "--out", path(&install.dir.path().join("r.txt"))], None), 30);
    assert!(err.contains("no license is in force"), "{err}");
}

#[test]
fn status_40_order_refused() {
    let vendor = Vendor::new();
    let err = documented(&vendor.issue_run(&["--edition", "platinum"]), 40);
    assert!(err.contains("edition `platinum` is not in the catalog"), "{err}");
    let err = documented(&vendor.issue_run(&["--quota", "processing_units=41"]), 40);
    assert!(err.contains("sold in steps of"), "{err}");
}

#[test]
fn status_41_catalog() {
    let vendor = Vendor::new();
    let bad = write(vendor.dir.path(), "bad.toml", "format = 1\n[product]\nid = 3\n");
    let mut check = vendor.issuer();
    check.args(["catalog", "check", path(&bad)]);
    let err = documented(&run(check, None), 41);
    assert!(err.contains("bad.toml: line 3:"), "{err}");
}

#[test]
fn status_50_key() {
    let vendor = Vendor::new();
    let wrong = write(vendor.dir.path(), "wrong.txt", "not the passphrase\n");
    let mut issue = vendor.issuer();
    issue.args(["revocations", "export", "--key", path(&vendor.key), "--passphrase-file", path(&wrong)]);
    issue.args(["--out", path(&vendor.dir.path().join("rev.txt"))]);
    let err = documented(&run(issue, None), 50);
    assert!(err.contains("the passphrase does not open this private key"), "{err}");
    let mut none = vendor.issuer();
    none.args(["revocations", "export", "--key", path(&vendor.key), "--out", path(&vendor.dir.path().join("r.txt"))]);
    let err = documented(&run(none, None), 50);
    assert!(err.contains("no passphrase"), "{err}");
    let mut init = Command::new(bin("activator"));
    init.arg("--state").arg(vendor.dir.path().join("state")).args(["init", "--product", "data-platform", "--trust"]);
    init.arg(&vendor.key);
    let err = documented(&run(init, None), 50);
    assert!(err.contains("not an Ed25519 public key"), "{err}");
}
