//! The `issuer` command line's errors: the library's, with hints that name
//! this tool's flags and commands, and the few only a command line has.

use std::path::PathBuf;

use license_activator::ActivatorError;
use license_common::exit::{Example, Examples, ExitClass, Explain, case_of, fields_of};
use license_common::fsio::OutputError;
use license_common::keys::KeyError;
use license_issuer::IssuerError;
use license_issuer::order::OrderError;
use serde::Serialize;

/// An error of the `issuer` command line.
#[derive(Debug, thiserror::Error, Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Error {
    /// Refused by the issuer library.
    #[error(transparent)]
    Issuer(#[from] IssuerError),
    /// Refused by the activator library (the demo's install).
    #[error(transparent)]
    Activator(#[from] ActivatorError),
    /// The license API could not start (`issuer serve`).
    #[error(transparent)]
    Service(Box<license_issuer_service::ServiceError>),
    /// No passphrase was given and there is no terminal to ask on.
    #[error(
        "no passphrase: standard input is not a terminal and neither ISSUER_PASSPHRASE nor --passphrase-file is set"
    )]
    NoPassphrase,
    /// Two passphrase entries differ.
    #[error("the two passphrases differ")]
    PassphraseMismatch,
    /// The terminal could not be read.
    #[error("cannot read the passphrase from the terminal: {source}")]
    Prompt {
        /// The cause.
        #[source]
        #[serde(serialize_with = "license_common::exit::serialize_display")]
        source: std::io::Error,
    },
    /// A key id argument that is not one.
    #[error("`{text}` is not a key id (16 lowercase hex digits)")]
    NotAKeyId {
        /// What was given (escaped when printed).
        text: String,
    },
    /// `--package` or `--quota` given twice for one name.
    #[error("--{flag} {name} is given twice ({first}, then {second})")]
    RepeatedFlag {
        /// The flag, `package` or `quota`.
        flag: &'static str,
        /// The package or quota.
        name: String,
        /// The first value given.
        first: String,
        /// The second.
        second: String,
    },
    /// The demo directory is taken.
    #[error("{} already exists and is not empty", path.display())]
    DemoDirTaken {
        /// The directory.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
    },
    /// No ledger location is given and there is no home directory.
    #[error("no ledger location: pass --ledger FILE or set ISSUER_LEDGER")]
    NoLedgerPath,
    /// `ledger verify` found records that do not verify.
    #[error("{problems} record(s) of the ledger do not verify or do not match what was signed")]
    AuditFailed {
        /// How many problems were found.
        problems: usize,
    },
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Issuer(e.into())
    }
}

impl From<OutputError> for Error {
    fn from(e: OutputError) -> Self {
        Error::Issuer(e.into())
    }
}

impl From<license_common::input::InputError> for Error {
    fn from(e: license_common::input::InputError) -> Self {
        Error::Issuer(e.into())
    }
}

impl From<OrderError> for Error {
    fn from(e: OrderError) -> Self {
        Error::Issuer(e.into())
    }
}

impl From<license_issuer_service::ServiceError> for Error {
    fn from(e: license_issuer_service::ServiceError) -> Self {
        Error::Service(Box::new(e))
    }
}

/// The hint `issuer` prints for a library error, where it can name its own
/// flags and commands; `None` keeps the library's.
fn issuer_hint(e: &IssuerError) -> Option<String> {
    Some(match e {
        IssuerError::Key(KeyError::NotAPublicKey | KeyError::WeakKey) => {
            "pass the issuer.pub file that `issuer keygen` wrote".into()
        }
        IssuerError::Key(KeyError::NotAPrivateKey) => "pass the issuer.key file that `issuer keygen` wrote".into(),
        IssuerError::Hsm(license_issuer::hsm::HsmError::NoModule) => {
            "add ?module-path=/path/to/module.so to the URI, or set ISSUER_PKCS11_MODULE".into()
        }
        IssuerError::Hsm(license_issuer::hsm::HsmError::WrongPin { .. }) => {
            "check ISSUER_PKCS11_PIN, --passphrase-file or the URI's pin-source; too many wrong PINs lock the token"
                .into()
        }
        IssuerError::Key(KeyError::WrongPassphrase) => {
            "check ISSUER_PASSPHRASE or --passphrase-file (a trailing newline in the file is ignored)".into()
        }
        IssuerError::Output(OutputError::Exists { .. }) => {
            "choose another path, or pass --force to overwrite (never for keys: move the old key away yourself)".into()
        }
        IssuerError::Order(order) => match order {
            OrderError::EngineRequired { .. } => "add --engine ENGINE".into(),
            OrderError::PlanMissing { .. } => "add --plan PLAN".into(),
            OrderError::QuotaMissing { quota, .. } => format!("add --quota {quota}=N"),
            OrderError::Term { problem: license_issuer::order::TermProblem::BeyondHorizon { .. } } => {
                "check --until and --months: a term ends within 100 years".into()
            }
            OrderError::Term { .. } => "check --not-before, --until and --months".into(),
            OrderError::BindingRequired { .. } => {
                "add --bind REQUEST with the install's activation request (`activator request`)".into()
            }
            OrderError::TooManyInstalls { cap, .. } => format!("pass --max-installs {cap} or less"),
            OrderError::NoChange { .. } => "name a higher --edition, --package NAME=TIER or --quota NAME=N".into(),
            OrderError::ExpiredUpgrade { .. } => "renew it first with `issuer renew`, then upgrade".into(),
            OrderError::Released { .. } => {
                "issue a new license with `issuer issue`; the released one cannot come back".into()
            }
            _ => return None,
        },
        IssuerError::Ledger { .. } => {
            "check --ledger / ISSUER_LEDGER; restore the ledger from its backup if the file is damaged".into()
        }
        IssuerError::NotInLedger { .. } => "check the id with `issuer ledger list`".into(),
        IssuerError::Batch { .. } => "correct those lines, or pass --keep-going to issue the others".into(),
        IssuerError::EmptyBatch => "write one JSON order per line in the --batch file".into(),
        IssuerError::AlreadySuperseded { by, .. } => {
            format!("start from the newest license of the chain, {by} (`issuer ledger show {by}`)")
        }
        IssuerError::Period { .. } => "give --from on or before --to, at most ten years apart".into(),
        IssuerError::InstanceInForce { newest, .. } => format!(
            "upgrade or renew it: `issuer ledger show {newest} --token > current.lic`, then `issuer upgrade --from current.lic …` or `issuer renew --from current.lic …`; or `issuer revoke {newest}` first if the account's rights end now"
        ),
        IssuerError::StillBound { .. } => {
            "import its deactivation receipt first (`issuer deactivations import FILE`), or pass --revoke-old-binding"
                .into()
        }
        IssuerError::UnknownKey { .. } => "check the key id against `issuer ledger export` (its `keys`)".into(),
        IssuerError::KeyRetired { .. } | IssuerError::KeyDistrusted { .. } => {
            "pass --key with the key that replaced it".into()
        }
        IssuerError::SameKey { .. } => "pass --key with a new key (`issuer keygen`)".into(),
        IssuerError::UnknownAccount { .. } => "check the account with `issuer ledger list`".into(),
        IssuerError::WrongCatalog { .. } => "pass --catalog with the catalog of the account's product".into(),
        IssuerError::LicenseNotInstallFile => "pass --pub ISSUER.pub to verify it with the vendor's key".into(),
        IssuerError::NotBillable { .. } => "pass --catalog with the catalog of a product sold pay-as-you-go".into(),
        _ => return None,
    })
}

impl Explain for Error {
    fn class(&self) -> ExitClass {
        match self {
            Error::Issuer(e) => e.class(),
            Error::Activator(e) => e.class(),
            Error::Service(e) => e.class(),
            Error::NoPassphrase | Error::PassphraseMismatch | Error::Prompt { .. } => ExitClass::Key,
            Error::NotAKeyId { .. } | Error::NoLedgerPath | Error::RepeatedFlag { .. } => ExitClass::Usage,
            Error::DemoDirTaken { .. } => ExitClass::Io,
            Error::AuditFailed { .. } => ExitClass::BadSignature,
        }
    }

    fn hint(&self) -> String {
        match self {
            Error::Issuer(e) => issuer_hint(e).unwrap_or_else(|| e.hint()),
            Error::Activator(e) => e.hint(),
            Error::Service(e)
                if matches!(
                    **e,
                    license_issuer_service::ServiceError::Listen(license_http::ListenError::Insecure { .. })
                ) =>
            {
                "give --tls-cert and --tls-key, listen on loopback, or pass --insecure-listen on a trusted network"
                    .into()
            }
            Error::Service(e) => e.hint(),
            Error::NoPassphrase => {
                "set ISSUER_PASSPHRASE, pass --passphrase-file FILE, or run on a terminal to be asked".into()
            }
            Error::PassphraseMismatch => "type the same passphrase twice".into(),
            Error::Prompt { .. } => "pass --passphrase-file FILE or set ISSUER_PASSPHRASE instead".into(),
            Error::NotAKeyId { .. } => "give the key id that `issuer keygen` printed (16 lowercase hex digits)".into(),
            Error::DemoDirTaken { .. } => "name a new directory for the demo, or leave DIR out".into(),
            Error::RepeatedFlag { flag, name, .. } => format!("give --{flag} {name}=… once, with the value meant"),
            Error::NoLedgerPath => "set HOME or XDG_DATA_HOME, or name the ledger file".into(),
            Error::AuditFailed { .. } => {
                "each problem line names the record; restore the ledger from its backup, or ask who edited it".into()
            }
        }
    }

    fn case(&self) -> String {
        match self {
            Error::Issuer(e) => e.case(),
            Error::Activator(e) => e.case(),
            Error::Service(e) => e.case(),
            other => case_of("issuer", other),
        }
    }

    fn fields(&self) -> serde_json::Value {
        fields_of(self)
    }
}

impl Examples for Error {
    fn examples() -> Vec<Example<Self>> {
        use license_common::catalog::CatalogError;
        use license_common::envelope::{EnvelopeError, SignError};
        use license_common::input::InputError;
        use license_common::random::RandomError;
        let lib = |e: IssuerError| Error::Issuer(e);
        let mut all: Vec<Example<Self>> = Vec::new();
        all.extend(EnvelopeError::examples_as(move |e| lib(e.into())));
        all.extend(InputError::examples_as(move |e| lib(e.into())));
        all.extend(OutputError::examples_as(move |e| lib(e.into())));
        all.extend(KeyError::examples_as(move |e| lib(e.into())));
        all.extend(RandomError::examples_as(move |e| lib(e.into())));
        all.extend(SignError::examples_as(move |e| lib(e.into())));
        all.extend(license_issuer::hsm::HsmError::examples_as(move |e| lib(e.into())));
        all.extend(CatalogError::examples_as(move |e| {
            lib(IssuerError::Catalog { path: PathBuf::from("<path>"), source: e })
        }));
        all.extend(OrderError::examples_as(move |e| lib(e.into())));
        all.extend(IssuerError::examples_as(lib));
        all.extend(license_issuer_service::ServiceError::examples_as(|e| Error::Service(Box::new(e))));
        all.extend(license_http::ListenError::examples_as(|e| {
            Error::Service(Box::new(license_issuer_service::ServiceError::Listen(e)))
        }));
        all.extend(license_http::refusal::Refused::examples_as(|e| {
            Error::Service(Box::new(license_issuer_service::ServiceError::Refused(e)))
        }));
        all.extend([
            Example {
                error: Error::NoPassphrase,
                when: "A command that signs (`keygen`, `issue`, `upgrade`, `renew`, `revocations export`) was run from a script with no passphrase source.",
            },
            Example {
                error: Error::PassphraseMismatch,
                when: "`issuer keygen` at a terminal: the passphrase typed the second time is not the first.",
            },
            Example {
                error: Error::Prompt { source: std::io::Error::other("<cause>") },
                when: "The terminal could not be read for the passphrase (closed, or not a terminal after all).",
            },
            Example {
                error: Error::NotAKeyId { text: "<text>".into() },
                when: "`issuer retire-key` with something that is not a key id.",
            },
            Example {
                error: Error::RepeatedFlag {
                    flag: "package",
                    name: "<package>".into(),
                    first: "<tier>".into(),
                    second: "<tier>".into(),
                },
                when: "`issuer issue`, `upgrade` or `quote` with one package or quota given twice (which one was meant is not guessed).",
            },
            Example {
                error: Error::DemoDirTaken { path: PathBuf::from("<path>") },
                when: "`issuer demo DIR` with a directory that holds files already.",
            },
            Example {
                error: Error::NoLedgerPath,
                when: "Neither `--ledger`, `ISSUER_LEDGER`, `XDG_DATA_HOME` nor `HOME` says where the ledger is.",
            },
            Example {
                error: Error::AuditFailed { problems: license_common::exit::placeholders::NUMBER as usize },
                when: "`issuer ledger verify` found records that do not verify or do not match their signed license. In text mode the report is printed on standard output, one `problem:` line per record, and no `error:` line.",
            },
        ]);
        all
    }
}
