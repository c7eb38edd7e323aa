//! Exit statuses shared by the `issuer` and `activator` command lines.
//!
//! Every refusal belongs to one class, and each class has one process exit
//! status, so that scripts can tell "the license was tampered with" from "the
//! license has expired" without parsing messages. The table is reproduced in
//! `docs/CLI.md`; a test keeps the two in step.

use std::fmt;

/// A class of outcome, and the process exit status that reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExitClass {
    /// Everything asked for was done.
    Success,
    /// An unexpected internal failure (a bug: please report it).
    Internal,
    /// The command line was wrong (unknown flag, missing argument).
    Usage,
    /// A file or stream could not be read or written.
    Io,
    /// The input is not a well-formed envelope: truncated, not base64url,
    /// not the expected type, an unknown field, too large.
    Malformed,
    /// The signature does not verify: the text was changed after signing.
    BadSignature,
    /// The signing key is not in the keyring of trusted keys.
    UntrustedKey,
    /// The license has expired.
    Expired,
    /// The license is not valid yet (`not_before` is in the future).
    NotYetValid,
    /// The pay-as-you-go activation deadline (`activate_by`) has passed.
    ActivationWindowClosed,
    /// The license is for another product, account, region or install.
    Mismatch,
    /// The license is older than the one in force (replay refused).
    Superseded,
    /// The license (or the list offered) was revoked, or the revocation list is stale.
    Revoked,
    /// `check`: the feature or tier is not entitled now.
    NotEntitled,
    /// The activation state directory is missing, locked or damaged.
    State,
    /// The order is refused by the product catalog.
    OrderRefused,
    /// The product catalog itself is invalid.
    Catalog,
    /// A key file or passphrase problem.
    Key,
}

impl ExitClass {
    /// Every class, in the order of their exit statuses.
    pub const ALL: [ExitClass; 18] = [
        ExitClass::Success,
        ExitClass::Internal,
        ExitClass::Usage,
        ExitClass::Io,
        ExitClass::Malformed,
        ExitClass::BadSignature,
        ExitClass::UntrustedKey,
        ExitClass::Expired,
        ExitClass::NotYetValid,
        ExitClass::ActivationWindowClosed,
        ExitClass::Mismatch,
        ExitClass::Superseded,
        ExitClass::Revoked,
        ExitClass::NotEntitled,
        ExitClass::State,
        ExitClass::OrderRefused,
        ExitClass::Catalog,
        ExitClass::Key,
    ];

    /// The process exit status of this class.
    pub const fn code(self) -> u8 {
        match self {
            ExitClass::Success => 0,
            ExitClass::Internal => 1,
            ExitClass::Usage => 2,
            ExitClass::Io => 3,
            ExitClass::Malformed => 10,
            ExitClass::BadSignature => 11,
            ExitClass::UntrustedKey => 12,
            ExitClass::Expired => 13,
            ExitClass::NotYetValid => 14,
            ExitClass::ActivationWindowClosed => 15,
            ExitClass::Mismatch => 16,
            ExitClass::Superseded => 17,
            ExitClass::Revoked => 18,
            ExitClass::NotEntitled => 20,
            ExitClass::State => 30,
            ExitClass::OrderRefused => 40,
            ExitClass::Catalog => 41,
            ExitClass::Key => 50,
        }
    }

    /// A short stable name, used in `--json` error output.
    pub const fn name(self) -> &'static str {
        match self {
            ExitClass::Success => "success",
            ExitClass::Internal => "internal",
            ExitClass::Usage => "usage",
            ExitClass::Io => "io",
            ExitClass::Malformed => "malformed",
            ExitClass::BadSignature => "bad_signature",
            ExitClass::UntrustedKey => "untrusted_key",
            ExitClass::Expired => "expired",
            ExitClass::NotYetValid => "not_yet_valid",
            ExitClass::ActivationWindowClosed => "activation_window_closed",
            ExitClass::Mismatch => "mismatch",
            ExitClass::Superseded => "superseded",
            ExitClass::Revoked => "revoked",
            ExitClass::NotEntitled => "not_entitled",
            ExitClass::State => "state",
            ExitClass::OrderRefused => "order_refused",
            ExitClass::Catalog => "catalog",
            ExitClass::Key => "key",
        }
    }
}

impl fmt::Display for ExitClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error of the toolkit, as every front end shows it.
///
/// `Display` says what went wrong, in the domain's words, with the values
/// involved; [`Explain::hint`] says what to do about it, again in the
/// domain's words: a library never names a command-line flag or command
/// (the command lines map their errors to hints of their own);
/// [`Explain::class`] picks the exit status; [`Explain::case`] names the
/// case (`Type::Variant`, the first column of `docs/ERRORS.md`) and
/// [`Explain::fields`] gives its structured values for `--json`.
pub trait Explain: std::error::Error {
    /// The class of this error, which decides the exit status.
    fn class(&self) -> ExitClass;
    /// One sentence telling the user what to do next.
    fn hint(&self) -> String;
    /// The case, `Type::Variant` (or `Type` for an error with one case).
    /// Wrappers give the case of what they wrap.
    fn case(&self) -> String;
    /// The structured values of the error, as a JSON object (`{}` when it
    /// has none). Secrets are never among them.
    fn fields(&self) -> serde_json::Value;
}

impl serde::Serialize for ExitClass {
    /// The stable name: `"expired"`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The fields of an error that derives `Serialize` untagged: its variant's
/// fields as a JSON object (`{}` for a variant without any).
pub fn fields_of<T: serde::Serialize>(error: &T) -> serde_json::Value {
    match serde_json::to_value(error) {
        Ok(serde_json::Value::Object(map)) => serde_json::Value::Object(map),
        Ok(serde_json::Value::Null) | Err(_) => serde_json::Value::Object(serde_json::Map::new()),
        Ok(other) => serde_json::json!({ "value": other }),
    }
}

/// `Type::Variant` for an enum that derives `strum::IntoStaticStr`.
pub fn case_of<'a, T>(type_name: &str, error: &'a T) -> String
where
    &'a T: Into<&'static str>,
{
    format!("{type_name}::{}", Into::<&'static str>::into(error))
}

/// Serializes any `Display` value as its text (an `io::Error`, a cause).
pub fn serialize_display<T: fmt::Display, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// Serializes a path as text, replacing what is not UTF-8.
pub fn serialize_path<S: serde::Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// An error as `--json` prints it: the object under `"error"` of
/// `{"format": 1, "error": {…}}` (see `docs/CLI.md`).
///
/// ```json
/// {"class": "expired", "status": 13, "case": "ActivatorError::Expired",
///  "message": "license L-1 expired on 2026-10-01T00:00:00Z",
///  "hint": "ask the vendor for a renewal",
///  "fields": {"id": "L-1", "expired_at": "2026-10-01T00:00:00Z"}}
/// ```
///
/// Text is given as it is (JSON escapes it); secrets are never in it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ErrorReport {
    /// The class name, e.g. `expired`.
    pub class: ExitClass,
    /// The exit status of the class.
    pub status: u8,
    /// `Type::Variant`, as in `docs/ERRORS.md`.
    pub case: String,
    /// What went wrong (the `error:` line).
    pub message: String,
    /// What to do (the `hint:` line).
    pub hint: String,
    /// The error's structured values.
    pub fields: serde_json::Value,
}

impl ErrorReport {
    /// The report of `error`.
    pub fn of(error: &dyn Explain) -> Self {
        let class = error.class();
        ErrorReport {
            class,
            status: class.code(),
            case: error.case(),
            message: error.to_string(),
            hint: error.hint(),
            fields: error.fields(),
        }
    }
}

/// One documented case of an error: an example of it and, in a sentence or
/// two, when it happens. `docs/ERRORS.md` is generated from these.
#[derive(Debug)]
pub struct Example<E> {
    /// The error, with placeholder values (see [`placeholders`]).
    pub error: E,
    /// When it happens and what it means.
    pub when: &'static str,
}

/// Error types that list every case they can be, for `docs/ERRORS.md`.
pub trait Examples: Explain + Sized {
    /// One example per case (more when the message has optional parts).
    fn examples() -> Vec<Example<Self>>;

    /// The examples of `Self`, each wrapped into another error type (a
    /// wrapper variant), with the same words of when it happens.
    fn examples_as<T>(wrap: impl Fn(Self) -> T) -> impl Iterator<Item = Example<T>> {
        Self::examples().into_iter().map(move |x| Example { error: wrap(x.error), when: x.when })
    }
}

/// The values examples are built with, and the placeholders that replace
/// them in `docs/ERRORS.md` (where `<…>` marks what is filled in).
pub mod placeholders {
    use crate::time::Timestamp;

    /// The time every example uses; printed `<time>`.
    pub fn time() -> Timestamp {
        Timestamp::from_unix(946_684_800).expect("2000-01-01 is representable")
    }
    /// The day every example uses; printed `<day>`.
    pub fn day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date")
    }
    /// The number every example uses; printed `<n>`.
    pub const NUMBER: u64 = 4242;
    /// The bytes of the key id every example uses; printed `<kid>`.
    pub const KID: [u8; 8] = [0x42; 8];
    /// Replaces the example values in `text` by their placeholders.
    pub fn mark(text: &str) -> String {
        text.replace("2000-01-01T00:00:00Z", "<time>")
            .replace("2000-01-01", "<day>")
            .replace(&hex::encode(KID), "<kid>")
            .replace(&NUMBER.to_string(), "<n>")
    }
}

/// Every exit status and its meaning on one line, for `--help`.
pub fn summary() -> String {
    let codes: Vec<String> = ExitClass::ALL
        .iter()
        .filter(|c| **c != ExitClass::Internal)
        .map(|c| format!("{} {}", c.code(), c.name()))
        .collect();
    format!("Exit status: {}; 1 internal error (a bug). See docs/CLI.md and docs/ERRORS.md.", codes.join(", "))
}

/// Formats an error for a terminal: `error: <what>` then `hint: <what to do>`,
/// with control characters escaped (messages may quote signed text).
pub fn render(message: &str, hint: &str) -> String {
    format!("error: {}\nhint: {}\n", crate::text::escape(message), crate::text::escape(hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_distinct() {
        let codes: HashSet<u8> = ExitClass::ALL.iter().map(|c| c.code()).collect();
        let names: HashSet<&str> = ExitClass::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(codes.len(), ExitClass::ALL.len());
        assert_eq!(names.len(), ExitClass::ALL.len());
    }
}
