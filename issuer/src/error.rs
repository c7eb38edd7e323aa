//! Why the issuer refused, and what the vendor can do about it.
//!
//! Every message names the rule, the value and the license involved; every
//! hint is in the vendor's words. Neither ever names a command-line flag: the
//! `issuer` command line maps these to hints of its own.

use std::path::PathBuf;

use license_common::catalog::CatalogError;
use license_common::envelope::{EnvelopeError, SignError};
use license_common::exit::{Example, Examples, ExitClass, Explain, case_of, fields_of, placeholders};
use license_common::fsio::OutputError;
use license_common::input::InputError;
use license_common::keys::KeyError;
use license_common::random::RandomError;
use serde::Serialize;

use crate::order::OrderError;

/// An error of the issuer library. Nothing is written when one is returned.
#[derive(Debug, thiserror::Error, Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum IssuerError {
    /// A key or passphrase problem.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The order breaks a catalog rule.
    #[error(transparent)]
    Order(#[from] OrderError),
    /// A file could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// An output file could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A license that does not verify.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The signing key could not sign.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// No random bytes.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The catalog is invalid.
    #[error("catalog {}: {source}", path.display())]
    Catalog {
        /// The catalog file.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: CatalogError,
    },
    /// The catalog has no pay-as-you-go meter to bill from.
    #[error("the catalog of product `{product}` has no [pay_as_you_go] table to bill from")]
    NotBillable {
        /// The catalog's product.
        product: String,
    },
    /// The order file cannot be parsed.
    #[error("order file {}: {detail}", path.display())]
    OrderFile {
        /// The file.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A license that verifies but breaks the rules every license follows.
    #[error("the license is signed but not valid: {detail}")]
    InvalidLicense {
        /// The rule it breaks.
        detail: String,
    },
    /// A license was given where an install's file was expected.
    #[error("this is a license, not a file an install signed: it is verified with the vendor's public key")]
    LicenseNotInstallFile,
    /// Writing or reading a file of the ledger or a batch failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// The cause.
        #[source]
        #[serde(serialize_with = "license_common::exit::serialize_display")]
        source: std::io::Error,
    },
    /// The ledger cannot be used.
    #[error("ledger {}: {detail}", path.display())]
    Ledger {
        /// The ledger file.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// An upgrade or renewal of a license that was already replaced.
    #[error("license {id} has already been superseded by license {by}")]
    AlreadySuperseded {
        /// The license given as CURRENT.
        id: String,
        /// The license that replaced it.
        by: String,
    },
    /// Lines of a batch that cannot be issued.
    #[error("{} line(s) of the batch cannot be issued, so nothing was issued: {}", errors.len(), errors.iter().take(5).map(|(l, e)| format!("line {l}: {e}")).collect::<Vec<_>>().join("; "))]
    Batch {
        /// (line, reason) for every bad line.
        errors: Vec<(usize, String)>,
    },
    /// A batch with no order in it.
    #[error("the order file has no orders: a batch is one JSON order per line")]
    EmptyBatch,
    /// The ledger has no such license.
    #[error("license {id} is not in the ledger")]
    NotInLedger {
        /// The license id.
        id: String,
    },
    /// A file signed by another install than the license's.
    #[error("license {license} belongs to install {tied}, but this file was signed by install {signer}")]
    WrongInstall {
        /// The license.
        license: String,
        /// The install it is bound to or was first activated on.
        tied: String,
        /// The install that signed the file.
        signer: String,
    },
    /// Usage for a license with no known install.
    #[error("license {license} is not bound to an install and no receipt of it was imported yet")]
    UnknownInstall {
        /// The license.
        license: String,
    },
    /// A billing period that makes no sense.
    #[error("the period {from} to {to} is empty or longer than ten years")]
    Period {
        /// First day.
        from: String,
        /// Last day.
        to: String,
    },
}

impl From<std::convert::Infallible> for IssuerError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl IssuerError {
    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| IssuerError::Io { action, path, source }
    }

    /// A license that breaks the rules every license follows.
    pub fn invalid(detail: impl Into<String>) -> Self {
        IssuerError::InvalidLicense { detail: detail.into() }
    }
}

impl Explain for IssuerError {
    fn class(&self) -> ExitClass {
        match self {
            IssuerError::Key(e) => e.class(),
            IssuerError::Order(e) => e.class(),
            IssuerError::Input(e) => e.class(),
            IssuerError::Output(e) => e.class(),
            IssuerError::Envelope(e) => e.class(),
            IssuerError::Sign(e) => e.class(),
            IssuerError::Random(e) => e.class(),
            IssuerError::Catalog { .. } | IssuerError::NotBillable { .. } => ExitClass::Catalog,
            IssuerError::OrderFile { .. } => ExitClass::OrderRefused,
            IssuerError::InvalidLicense { .. } | IssuerError::LicenseNotInstallFile => ExitClass::Malformed,
            IssuerError::Io { .. } => ExitClass::Io,
            IssuerError::Ledger { .. } | IssuerError::NotInLedger { .. } => ExitClass::State,
            IssuerError::AlreadySuperseded { .. } => ExitClass::Superseded,
            IssuerError::Batch { .. } => ExitClass::OrderRefused,
            IssuerError::EmptyBatch | IssuerError::Period { .. } => ExitClass::Usage,
            IssuerError::WrongInstall { .. } | IssuerError::UnknownInstall { .. } => ExitClass::Mismatch,
        }
    }

    fn hint(&self) -> String {
        match self {
            IssuerError::Key(e) => e.hint(),
            IssuerError::Order(e) => e.hint(),
            IssuerError::Input(e) => e.hint(),
            IssuerError::Output(e) => e.hint(),
            IssuerError::Envelope(e) => e.hint(),
            IssuerError::Sign(e) => e.hint(),
            IssuerError::Random(e) => e.hint(),
            IssuerError::Catalog { source, .. } => source.hint(),
            IssuerError::NotBillable { .. } => {
                "bill with the catalog of a product sold pay-as-you-go, which has a [pay_as_you_go] table".into()
            }
            IssuerError::OrderFile { .. } => "an order file is TOML or JSON with the keys listed in docs/CLI.md".into(),
            IssuerError::InvalidLicense { .. } => "this license cannot be used; issue a new one".into(),
            IssuerError::LicenseNotInstallFile => "verify it with the vendor's public key instead".into(),
            IssuerError::Io { .. } => "check the path, free disk space and permissions".into(),
            IssuerError::Ledger { .. } => {
                "check the ledger's path; restore the ledger from its backup if the file is damaged".into()
            }
            IssuerError::NotInLedger { .. } => "check the license id against the ledger's list".into(),
            IssuerError::Batch { .. } => "correct those lines, or skip them and issue the others".into(),
            IssuerError::EmptyBatch => "write one JSON order per line".into(),
            IssuerError::AlreadySuperseded { by, .. } => {
                format!("start from the newest license of the chain, {by}")
            }
            IssuerError::WrongInstall { .. } => {
                "this file did not come from the install the license belongs to; ask the operator for the right one"
                    .into()
            }
            IssuerError::UnknownInstall { .. } => "import the install's activation receipt first".into(),
            IssuerError::Period { .. } => "give a first day on or before the last day, at most ten years apart".into(),
        }
    }

    fn case(&self) -> String {
        match self {
            IssuerError::Key(e) => e.case(),
            IssuerError::Order(e) => e.case(),
            IssuerError::Input(e) => e.case(),
            IssuerError::Output(e) => e.case(),
            IssuerError::Envelope(e) => e.case(),
            IssuerError::Sign(e) => e.case(),
            IssuerError::Random(e) => e.case(),
            other => case_of("IssuerError", other),
        }
    }

    fn fields(&self) -> serde_json::Value {
        fields_of(self)
    }
}

impl Examples for IssuerError {
    fn examples() -> Vec<Example<Self>> {
        let path = || PathBuf::from("<path>");
        let id = || "<id>".to_owned();
        vec![
            Example {
                error: IssuerError::Catalog {
                    path: path(),
                    source: CatalogError { line: Some(placeholders::NUMBER as usize), message: "<message>".into() },
                },
                when: "A command that reads a catalog was given an invalid one; the message after the path is the `CatalogError` below.",
            },
            Example {
                error: IssuerError::NotBillable { product: "<product>".into() },
                when: "A bill was asked for with a catalog that has no `[pay_as_you_go]` table: that product is not sold by usage.",
            },
            Example {
                error: IssuerError::OrderFile { path: path(), detail: "<detail>".into() },
                when: "The order file is not TOML or JSON (JSON when it starts with `{`), or has an unknown key or a value of the wrong type.",
            },
            Example {
                error: IssuerError::invalid("<detail>"),
                when: "The signature verifies but the license breaks a rule every license follows (e.g. `the sequence number starts at 1`, `` `account` is empty ``, `it expires (…) before it starts (…)`), or a license stored in the ledger cannot be decoded.",
            },
            Example {
                error: IssuerError::LicenseNotInstallFile,
                when: "A license was given where a file signed by an install (request, receipt, usage report, deactivation receipt) was expected.",
            },
            Example {
                error: IssuerError::Io { action: "<action>", path: path(), source: std::io::Error::other("<cause>") },
                when: "The ledger's directory or a batch's staging file cannot be created, moved or removed. After a batch is recorded, `cannot move the recorded batch to <FILE>: …; the licenses are recorded and kept in <DIR>/.batch-<id>.jsonl` when the output name was taken meanwhile: the licenses are in the staged file, and in the ledger.",
            },
            Example {
                error: IssuerError::Ledger { path: path(), detail: "<detail>".into() },
                when: "The ledger file cannot be opened, read or written by SQLite: damaged, locked for longer than 30 seconds, on a full disk, or made by a newer release (`its schema version <n> is newer than this release reads (<n>)`).",
            },
            Example {
                error: IssuerError::AlreadySuperseded { id: id(), by: "<by>".into() },
                when: "An upgrade or renewal starts from a license that another license of the ledger already replaced: a chain only grows from its newest license.",
            },
            Example {
                error: IssuerError::Batch { errors: vec![(placeholders::NUMBER as usize, "<reason>".into())] },
                when: "Lines of a batch order file are refused (each with its line number and the rule it breaks, the first five shown), and they may not be skipped: nothing was signed or recorded.",
            },
            Example { error: IssuerError::EmptyBatch, when: "The batch order file holds no order (only blank lines)." },
            Example {
                error: IssuerError::NotInLedger { id: id() },
                when: "A license id that the ledger does not hold, e.g. a typo, or a license signed with another ledger.",
            },
            Example {
                error: IssuerError::WrongInstall {
                    license: id(),
                    tied: "<install>".into(),
                    signer: "<install>".into(),
                },
                when: "A receipt or usage report signed by another install than the one the license is bound to (or was first activated on): a copied license, or a report from the wrong machine.",
            },
            Example {
                error: IssuerError::UnknownInstall { license: id() },
                when: "A usage report for a license that is bound to no install and of which no activation receipt was imported, so the ledger cannot tell whose usage it is.",
            },
            Example {
                error: IssuerError::Period { from: "<day>".into(), to: "<day>".into() },
                when: "A bill whose first day is after its last day, or that spans more than ten years.",
            },
        ]
    }
}
