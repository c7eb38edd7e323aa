//! The `activator` command line's errors: the library's, with hints that
//! name this tool's flags and commands, and the few only a command line has.

use license_activator::credentials::CredentialsError;
use license_activator::gateway::GatewayError;
use license_activator::{ActivatorError, Denied};
use license_common::envelope::EnvelopeError;
use license_common::exit::{Example, Examples, ExitClass, Explain, case_of, fields_of};
use license_common::fsio::OutputError;
use license_common::input::InputError;
use license_common::keys::KeyError;
use serde::Serialize;

/// An error of the `activator` command line.
#[derive(Debug, thiserror::Error, Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Error {
    /// Refused by the activator library.
    #[error(transparent)]
    Activator(#[from] ActivatorError),
    /// A feature that is not entitled now.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// A file for the vendor could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Refused by the local service.
    #[error(transparent)]
    Service(#[from] license_activator_service::ApiError),
    /// No state directory was named.
    #[error("no state directory: pass --state DIR or set ACTIVATOR_STATE")]
    NoStateDir,
    /// No license was given to `activate`.
    #[error(
        "no license given: pass a FILE, `-` for standard input, or set ACTIVATOR_LICENSE or ACTIVATOR_LICENSE_FILE"
    )]
    NoLicenseSource,
    /// The license was given more than once.
    #[error("the license is given more than once ({sources}); give exactly one source")]
    LicenseSources {
        /// The sources given.
        sources: String,
    },
    /// The license and the secret both on standard input.
    #[error("the license and the secret key cannot both come from standard input")]
    StdinTwice,
    /// `credentials set` without `--ak`.
    #[error("--ak AK is required")]
    AccessKeyRequired,
    /// A key id argument that is not one.
    #[error("`{text}` is not a key id (16 lowercase hex digits)")]
    NotAKeyId {
        /// What was given (escaped when printed).
        text: String,
    },
    /// No source for the secret key.
    #[error("no secret key given: standard input is not a terminal and --sk-file was not given")]
    NoSecretSource,
    /// `trust add` with no terminal to confirm on and no `--yes`.
    #[error("trusting key {kid} needs a confirmation: standard input is not a terminal and --yes was not given")]
    ConfirmTrust {
        /// The key.
        kid: license_common::KeyId,
    },
    /// The operator declined at the prompt.
    #[error("key {kid} was not trusted: the answer was not yes")]
    TrustDeclined {
        /// The key.
        kid: license_common::KeyId,
    },
    /// The terminal could not be read.
    #[error("cannot read the secret key from the terminal: {source}")]
    Prompt {
        /// The cause.
        #[source]
        #[serde(serialize_with = "license_common::exit::serialize_display")]
        source: std::io::Error,
    },
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Activator(e.into())
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Activator(e.into())
    }
}

impl From<CredentialsError> for Error {
    fn from(e: CredentialsError) -> Self {
        Error::Activator(e.into())
    }
}

impl From<GatewayError> for Error {
    fn from(e: GatewayError) -> Self {
        Error::Activator(e.into())
    }
}

/// The hint `activator` prints for a library error, where it can name its
/// own flags and commands; `None` keeps the library's.
fn activator_hint(e: &ActivatorError) -> Option<String> {
    Some(match e {
        ActivatorError::OtherInstall { .. } => {
            "send this install's activation request (`activator request`) to the vendor for a license bound to it"
                .into()
        }
        ActivatorError::NoGateway => "set it with `activator gateway set URL` or `activator activate --gateway URL`".into(),
        ActivatorError::OtherAccount { current, .. } => format!(
            "only the primary account's upgrades and renewals replace it; to move this install to the other account on purpose, run again with --replace (license {current} will be thrown away)"
        ),
        ActivatorError::NotInitialised { .. } => {
            "run `activator init --product PRODUCT --trust VENDOR.pub` first, or point --state / ACTIVATOR_STATE at the right directory".into()
        }
        ActivatorError::CorruptState { .. } => {
            "restore the directory from a backup, or move it away and run `activator init` again".into()
        }
        ActivatorError::DamagedState { .. } => {
            "the state was edited, or an old copy put back: restore the whole directory from its backup, or move it away, run `activator init` again and activate the license again (the vendor can print it again: `issuer ledger show ID --token`)".into()
        }
        ActivatorError::UnsafeDirectory { dir, .. } => {
            format!("run `chmod 700 {}` (and check who else could have written there), then run again", dir.display())
        }
        ActivatorError::StaleAttestation { .. }
        | ActivatorError::AttestationMismatch { .. }
        | ActivatorError::AttestationUnasked
        | ActivatorError::AttestationOvertaken { .. } => {
            "send `activator request --out req.txt` to the vendor for a new one (`issuer attest-time --bind req.txt`)"
                .into()
        }
        ActivatorError::WrongOwner { .. } => {
            "run the command as the user that owns the state directory (e.g. with runuser -u), or fix its ownership"
                .into()
        }
        ActivatorError::KeyNotTrusted { .. } => "see the trusted keys with `activator trust list`".into(),
        ActivatorError::LastTrustedKey { .. } => "add the new vendor key first (`activator trust add`)".into(),
        ActivatorError::InvalidName { .. } | ActivatorError::NoTrustedKeys => "see `activator --help`".into(),
        ActivatorError::ReversedPeriod { .. } => "give --from on or before --to".into(),
        ActivatorError::Envelope(EnvelopeError::KeyNotForKind { .. }) => {
            "ask the vendor for a file signed by the key meant for it (activator trust list shows each key's use)".into()
        }
        ActivatorError::Credentials(
            CredentialsError::SealKeyIo { .. } | CredentialsError::SealKeyDamaged | CredentialsError::Unseal,
        ) => "move seal.key out of the state directory, then set the credentials again with `activator credentials set --ak AK`".into(),
        ActivatorError::Gateway(GatewayError::UserInfo) => {
            "remove `user:password@`; use `activator credentials set` for access keys".into()
        }
        ActivatorError::Key(KeyError::NotAPublicKey | KeyError::WeakKey) => {
            "pass the issuer.pub file that `issuer keygen` wrote".into()
        }
        _ => return None,
    })
}

impl Explain for Error {
    fn class(&self) -> ExitClass {
        match self {
            Error::Activator(e) => e.class(),
            Error::Denied(e) => e.class(),
            Error::Output(e) => e.class(),
            Error::Service(e) => e.class(),
            Error::Prompt { .. } => ExitClass::Io,
            _ => ExitClass::Usage,
        }
    }

    fn hint(&self) -> String {
        match self {
            Error::Activator(e) => activator_hint(e).unwrap_or_else(|| e.hint()),
            Error::Denied(e) => e.hint(),
            Error::Output(OutputError::Exists { .. }) => {
                "choose another path: a file for the vendor is never overwritten".into()
            }
            Error::Output(e) => e.hint(),
            Error::Service(license_activator_service::ApiError::Listen(license_http::ListenError::Insecure { .. })) => {
                "give --tls-cert and --tls-key, listen on 127.0.0.1, or pass --insecure-listen if the network is trusted"
                    .into()
            }
            Error::Service(e) => e.hint(),
            Error::NoSecretSource => {
                "pass --sk-file FILE (or - for standard input), or run on a terminal to be asked".into()
            }
            Error::Prompt { .. } => "pass --sk-file FILE instead".into(),
            Error::ConfirmTrust { .. } => {
                "compare the fingerprint printed above with the one the vendor published, then run again with --yes"
                    .into()
            }
            Error::TrustDeclined { .. } => "nothing was changed".into(),
            _ => "see `activator --help`".into(),
        }
    }

    fn case(&self) -> String {
        match self {
            Error::Activator(e) => e.case(),
            Error::Denied(e) => e.case(),
            Error::Output(e) => e.case(),
            Error::Service(e) => e.case(),
            other => case_of("activator", other),
        }
    }

    fn fields(&self) -> serde_json::Value {
        fields_of(self)
    }
}

impl Examples for Error {
    fn examples() -> Vec<Example<Self>> {
        use license_common::random::RandomError;
        let lib = |e: ActivatorError| Error::Activator(e);
        let mut all: Vec<Example<Self>> = Vec::new();
        all.extend(EnvelopeError::examples_as(move |e| lib(e.into())));
        all.extend(InputError::examples_as(move |e| lib(e.into())));
        all.extend(OutputError::examples_as(Error::Output));
        // The activator reads public keys only.
        all.extend(KeyError::examples_as(move |e| lib(e.into())).filter(|x| {
            matches!(x.error, Error::Activator(ActivatorError::Key(KeyError::NotAPublicKey | KeyError::WeakKey)))
        }));
        all.extend(RandomError::examples_as(move |e| lib(e.into())));
        all.extend(GatewayError::examples_as(move |e| lib(e.into())));
        all.extend(CredentialsError::examples_as(move |e| lib(e.into())));
        all.extend(ActivatorError::examples_as(lib));
        all.extend(Denied::examples_as(Error::Denied));
        all.extend(license_activator_service::ApiError::examples_as(Error::Service));
        all.extend(license_http::ListenError::examples_as(|e| {
            Error::Service(license_activator_service::ApiError::Listen(e))
        }));
        all.extend(license_http::refusal::Refused::examples_as(|e| {
            Error::Service(license_activator_service::ApiError::Refused(e))
        }));
        all.extend([
            Example {
                error: Error::NoStateDir,
                when: "Neither `--state` nor `ACTIVATOR_STATE`, `XDG_DATA_HOME` or `HOME` names a state directory.",
            },
            Example {
                error: Error::NoLicenseSource,
                when: "`activator activate` without a FILE and without either variable.",
            },
            Example {
                error: Error::LicenseSources { sources: "<sources>".into() },
                when: "`activator activate` with a FILE and `ACTIVATOR_LICENSE` (or `ACTIVATOR_LICENSE_FILE`), or both variables.",
            },
            Example {
                error: Error::StdinTwice,
                when: "`activator activate - --ak AK --sk-file -`: standard input can carry only one of them.",
            },
            Example { error: Error::AccessKeyRequired, when: "`activator credentials set` without `--ak`." },
            Example {
                error: Error::NotAKeyId { text: "<text>".into() },
                when: "`activator trust remove` with something that is not a key id.",
            },
            Example {
                error: Error::NoSecretSource,
                when: "`activator activate - --ak AK` without `--sk-file`: standard input already carries the license.",
            },
            Example {
                error: Error::ConfirmTrust { kid: license_common::KeyId::from_bytes(license_common::exit::placeholders::KID) },
                when: "`activator trust add` from a script (standard input not a terminal) without `--yes`.",
            },
            Example {
                error: Error::TrustDeclined { kid: license_common::KeyId::from_bytes(license_common::exit::placeholders::KID) },
                when: "`activator trust add` at a terminal, answered with anything but `yes`.",
            },
            Example {
                error: Error::Prompt { source: std::io::Error::other("<cause>") },
                when: "The terminal could not be read for the secret key.",
            },
        ]);
        all
    }
}
