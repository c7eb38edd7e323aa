//! Why the issuer refused, and what the vendor can do about it.

use std::path::PathBuf;

use license_common::catalog::CatalogError;
use license_common::envelope::EnvelopeError;
use license_common::exit::{ExitClass, Explain};
use license_common::input::InputError;
use license_common::keys::KeyError;

use crate::order::OrderError;

/// An error of the issuer library. Nothing is written when one is returned.
#[derive(Debug, thiserror::Error)]
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
    /// The catalog is invalid.
    #[error("catalog {}: {source}", path.display())]
    Catalog {
        /// The catalog file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: CatalogError,
    },
    /// The order file cannot be parsed.
    #[error("order file {}: {detail}", path.display())]
    OrderFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A license that does not verify.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A license that verifies but breaks the rules every license follows.
    #[error("the license is signed but not valid: {0}")]
    InvalidLicense(String),
    /// Refusing to overwrite a file.
    #[error("{} already exists", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// No passphrase was given and there is no terminal to ask on.
    #[error(
        "no passphrase: standard input is not a terminal and neither ISSUER_PASSPHRASE nor --passphrase-file is set"
    )]
    NoPassphrase,
    /// Two passphrase entries differ.
    #[error("the two passphrases differ")]
    PassphraseMismatch,
    /// Writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The ledger cannot be used.
    #[error("ledger {}: {detail}", path.display())]
    Ledger {
        /// The ledger file.
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
    /// A command-line value that cannot be used.
    #[error("{0}")]
    Usage(String),
    /// The demo's activator steps failed.
    #[error(transparent)]
    Activator(#[from] license_activator::ActivatorError),
}

impl IssuerError {
    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| IssuerError::Io { action, path, source }
    }
}

impl Explain for IssuerError {
    fn class(&self) -> ExitClass {
        match self {
            IssuerError::Key(e) => e.class(),
            IssuerError::Order(e) => e.class(),
            IssuerError::Input(e) => e.class(),
            IssuerError::Catalog { .. } => ExitClass::Catalog,
            IssuerError::OrderFile { .. } => ExitClass::OrderRefused,
            IssuerError::Envelope(e) => e.class(),
            IssuerError::InvalidLicense(_) => ExitClass::Malformed,
            IssuerError::Exists { .. } => ExitClass::Io,
            IssuerError::NoPassphrase | IssuerError::PassphraseMismatch => ExitClass::Key,
            IssuerError::Io { .. } => ExitClass::Io,
            IssuerError::Activator(e) => e.class(),
            IssuerError::Ledger { .. } | IssuerError::NotInLedger { .. } => ExitClass::State,
            IssuerError::AlreadySuperseded { .. } => ExitClass::Superseded,
            IssuerError::Batch { .. } => ExitClass::OrderRefused,
            IssuerError::WrongInstall { .. } | IssuerError::UnknownInstall { .. } => ExitClass::Mismatch,
            IssuerError::Period { .. } | IssuerError::Usage(_) => ExitClass::Usage,
        }
    }

    fn hint(&self) -> String {
        match self {
            IssuerError::Key(e) => e.hint(),
            IssuerError::Order(e) => e.hint(),
            IssuerError::Input(e) => e.hint(),
            IssuerError::Catalog { source, .. } => source.hint(),
            IssuerError::OrderFile { .. } => "an order file is TOML or JSON with the keys listed in docs/CLI.md".into(),
            IssuerError::Envelope(e) => e.hint(),
            IssuerError::InvalidLicense(_) => "this license cannot be used; issue a new one".into(),
            IssuerError::Exists { .. } => {
                "choose another path, or pass --force to overwrite (never for keys: move the old key away yourself)"
                    .into()
            }
            IssuerError::NoPassphrase => {
                "set ISSUER_PASSPHRASE, pass --passphrase-file FILE, or run on a terminal to be asked".into()
            }
            IssuerError::PassphraseMismatch => "type the same passphrase twice".into(),
            IssuerError::Io { .. } => "check the path, free disk space and permissions".into(),
            IssuerError::Activator(e) => e.hint(),
            IssuerError::Ledger { .. } => {
                "check --ledger / ISSUER_LEDGER; restore the ledger from its backup if the file is damaged".into()
            }
            IssuerError::NotInLedger { .. } => "check the id with `issuer ledger list`".into(),
            IssuerError::Batch { .. } => "correct those lines, or pass --keep-going to issue the others".into(),
            IssuerError::AlreadySuperseded { by, .. } => {
                format!("start from the newest license of the chain, {by} (`issuer ledger show {by}`)")
            }
            IssuerError::WrongInstall { .. } => {
                "this file did not come from the install the license belongs to; ask the operator for the right one"
                    .into()
            }
            IssuerError::UnknownInstall { .. } => "import the install's activation receipt first".into(),
            IssuerError::Period { .. } => "give --from on or before --to, at most ten years apart".into(),
            IssuerError::Usage(_) => "see `issuer --help`".into(),
        }
    }
}
