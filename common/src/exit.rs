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

/// An error that can explain itself to a person at a terminal.
///
/// `Display` says what went wrong; [`Explain::hint`] says what to do about
/// it; [`Explain::class`] picks the exit status.
pub trait Explain: std::error::Error {
    /// The class of this error, which decides the exit status.
    fn class(&self) -> ExitClass;
    /// One sentence telling the user what to do next.
    fn hint(&self) -> String;
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
pub fn render(error: &dyn Explain) -> String {
    format!("error: {}\nhint: {}\n", crate::text::escape(&error.to_string()), crate::text::escape(&error.hint()))
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
