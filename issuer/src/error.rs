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
use license_common::keys::{KeyError, KeyId};
use license_common::random::RandomError;
use license_common::time::Timestamp;
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
    /// A key in a hardware module could not be used.
    #[error(transparent)]
    Hsm(#[from] crate::hsm::HsmError),
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
    /// The PostgreSQL server holding the ledger cannot be reached or
    /// refuses the connection (not running, wrong database, user, password
    /// or client certificate).
    #[error("ledger database {url}: {detail}")]
    LedgerServer {
        /// The database's URL (it never holds a password).
        url: String,
        /// What the server or the connection said.
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
    /// A file signed by another install than the one the license is bound to.
    #[error("license {license} is bound to install {tied}, but this file was signed by install {signer}")]
    WrongInstall {
        /// The license.
        license: String,
        /// The install it is bound to.
        tied: String,
        /// The install that signed the file.
        signer: String,
    },
    /// A file from an install that never sent a receipt for the license.
    #[error("install {install} sent no activation receipt for license {license}, or for the license it replaced")]
    UnknownInstall {
        /// The license.
        license: String,
        /// The install that signed the file.
        install: String,
    },
    /// A billing period that makes no sense.
    #[error("the period {from} to {to} is empty or longer than ten years")]
    Period {
        /// First day.
        from: String,
        /// Last day.
        to: String,
    },
    /// An idempotency key used before for another request.
    #[error("idempotency key `{key}` was used before for another request ({route}, or another body)")]
    IdempotencyConflict {
        /// The key.
        key: String,
        /// The route it was first used on.
        route: String,
    },
    /// Two processes took the same idempotency key at once and what the
    /// first made cannot be read back (a bug, or a ledger edited by hand).
    #[error("the idempotency key was taken by another process at the same time")]
    IdempotencyRace,
    /// An idempotency key that is empty, too long or not printable.
    #[error("an idempotency key must be 1 to 200 printable ASCII characters without spaces")]
    BadIdempotencyKey,
    /// No API token with that id.
    #[error("no API token has id `{id}`")]
    UnknownApiToken {
        /// The id asked for.
        id: String,
    },
    /// The ledger keeps too many API tokens.
    #[error("the ledger already keeps {max} API tokens")]
    TooManyApiTokens {
        /// The limit.
        max: i64,
    },
    /// Another issuer command held the ledger's write lock for too long.
    #[error("ledger {}: another issuer command has held it for {seconds} seconds", path.display())]
    LedgerBusy {
        /// The ledger file.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// How long this command waited.
        seconds: u64,
    },
    /// A new order for an instance whose newest license is in force.
    #[error(
        "account {} already holds license {newest} (sequence {sequence}, {status}) for product {} in region {}: a new order cannot replace it",
        .instance.account, .instance.product, .instance.region
    )]
    InstanceInForce {
        /// The instance: product, account and region.
        #[serde(flatten)]
        instance: Box<Instance>,
        /// The newest license of the chain.
        newest: String,
        /// Its sequence.
        sequence: u64,
        /// Where it stands: `active`, `grace` or `not_yet_valid`.
        status: &'static str,
    },
    /// An upgrade or renewal from a license its chain's revocation voids.
    #[error("license {id} is void: its chain is revoked up to sequence {floor} ({reason})")]
    RevokedChain {
        /// The license given as CURRENT.
        id: String,
        /// Every license of the chain up to this sequence is void.
        floor: u64,
        /// Why the chain was revoked.
        reason: String,
    },
    /// A bound license moved before its install released it.
    #[error(
        "license {id} is bound to install {install}, which has not released it: no deactivation receipt of it is in the ledger"
    )]
    StillBound {
        /// The license given as CURRENT.
        id: String,
        /// The install it is bound to.
        install: String,
    },
    /// A key id the ledger never signed with.
    #[error("key {kid} is not in the ledger: it never signed anything recorded here")]
    UnknownKey {
        /// The key id.
        kid: KeyId,
    },
    /// A key the ledger retired, after its date.
    #[error("key {kid} was retired: it signs nothing after {not_after}")]
    KeyRetired {
        /// The key id.
        kid: KeyId,
        /// Its last moment.
        not_after: Timestamp,
    },
    /// A key the ledger distrusted.
    #[error("key {kid} was distrusted on {distrusted_at}: it signs nothing any more")]
    KeyDistrusted {
        /// The key id.
        kid: KeyId,
        /// When it was distrusted.
        distrusted_at: String,
    },
    /// A distrust whose new key is the distrusted one.
    #[error("key {kid} cannot replace itself")]
    SameKey {
        /// The key id.
        kid: KeyId,
    },
    /// An account that holds no license in the ledger.
    #[error("account {account} holds no license in the ledger")]
    UnknownAccount {
        /// The account.
        account: String,
    },
    /// A catalog of another product than the licenses'.
    #[error("the catalog is product {catalog}'s, but account {account}'s licenses are for {products}")]
    WrongCatalog {
        /// The catalog's product.
        catalog: String,
        /// The account.
        account: String,
        /// The products the account holds licenses for, comma-separated.
        products: String,
    },
    /// A file from an install that contradicts the license it names.
    #[error("{kind} for license {license}: its {field} is `{found}`, but the license's is `{expected}`")]
    ReportMismatch {
        /// `activation receipt`, `usage report` or `deactivation receipt`.
        kind: &'static str,
        /// The license it names.
        license: String,
        /// The field that differs.
        field: &'static str,
        /// The license's value.
        expected: String,
        /// The file's value (escaped when printed).
        found: String,
    },
    /// A day or moment of an install's file outside what it may cover.
    #[error("{kind} for license {license}: {what} lies outside {range}")]
    OutsideRange {
        /// `activation receipt`, `usage report` or `deactivation receipt`.
        kind: &'static str,
        /// The license it names.
        license: String,
        /// The day or moment, e.g. `day 2026-01-05`.
        what: String,
        /// What it should lie in, e.g. `the license's term 2026-01-01 to 2026-12-31`.
        range: String,
    },
}

/// An instance: the product, account and region whose licenses form one chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// The product.
    pub product: String,
    /// The account.
    pub account: String,
    /// The region.
    pub region: String,
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
            IssuerError::Hsm(e) => e.class(),
            IssuerError::Catalog { .. } | IssuerError::NotBillable { .. } => ExitClass::Catalog,
            IssuerError::OrderFile { .. } => ExitClass::OrderRefused,
            IssuerError::InvalidLicense { .. } | IssuerError::LicenseNotInstallFile => ExitClass::Malformed,
            IssuerError::Io { .. } => ExitClass::Io,
            IssuerError::Ledger { .. }
            | IssuerError::NotInLedger { .. }
            | IssuerError::LedgerBusy { .. }
            | IssuerError::LedgerServer { .. }
            | IssuerError::UnknownAccount { .. } => ExitClass::State,
            IssuerError::AlreadySuperseded { .. } => ExitClass::Superseded,
            IssuerError::Batch { .. } | IssuerError::InstanceInForce { .. } | IssuerError::StillBound { .. } => {
                ExitClass::OrderRefused
            }
            IssuerError::RevokedChain { .. } => ExitClass::Revoked,
            IssuerError::UnknownKey { .. } | IssuerError::KeyRetired { .. } | IssuerError::KeyDistrusted { .. } => {
                ExitClass::Key
            }
            IssuerError::EmptyBatch
            | IssuerError::Period { .. }
            | IssuerError::SameKey { .. }
            | IssuerError::BadIdempotencyKey
            | IssuerError::UnknownApiToken { .. } => ExitClass::Usage,
            IssuerError::IdempotencyConflict { .. }
            | IssuerError::IdempotencyRace
            | IssuerError::TooManyApiTokens { .. } => ExitClass::State,
            IssuerError::WrongInstall { .. }
            | IssuerError::UnknownInstall { .. }
            | IssuerError::WrongCatalog { .. }
            | IssuerError::ReportMismatch { .. }
            | IssuerError::OutsideRange { .. } => ExitClass::Mismatch,
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
            IssuerError::Hsm(e) => e.hint(),
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
            IssuerError::IdempotencyConflict { .. } => {
                "use a new key for a new request; the same key is only for retrying the same request".into()
            }
            IssuerError::IdempotencyRace => "retry the request with the same key; it returns what was made".into(),
            IssuerError::BadIdempotencyKey => "use the billing system's order id (printable, no spaces)".into(),
            IssuerError::UnknownApiToken { .. } => "list the API tokens to see their ids".into(),
            IssuerError::TooManyApiTokens { .. } => "revoke the API tokens no longer used first".into(),
            IssuerError::AlreadySuperseded { by, .. } => {
                format!("start from the newest license of the chain, {by}")
            }
            IssuerError::WrongInstall { .. } => {
                "this file did not come from the install the license belongs to; ask the operator for the right one"
                    .into()
            }
            IssuerError::UnknownInstall { .. } => "import that install's activation receipt first".into(),
            IssuerError::Period { .. } => "give a first day on or before the last day, at most ten years apart".into(),
            IssuerError::LedgerBusy { .. } => {
                "another issuer command is still working on this ledger; try again when it is done".into()
            }
            IssuerError::LedgerServer { .. } => "check that the PostgreSQL server runs and that the URL's host, port, \
                database, user and TLS settings are right; a password comes from PGPASSWORD or the password file \
                (PGPASSFILE, ~/.pgpass), a client certificate from sslcert and sslkey; once the server is back, retry (a retried call that signs returns the same license for the same idempotency key)"
                .into(),
            IssuerError::InstanceInForce { newest, .. } => format!(
                "upgrade or renew license {newest} instead, or revoke it first if the account's rights end now"
            ),
            IssuerError::RevokedChain { .. } => {
                "a revoked chain cannot be renewed or upgraded; issue a new license once no license of the instance is in force".into()
            }
            IssuerError::StillBound { install, .. } => format!(
                "import the deactivation receipt of install {install} first, or revoke its binding in the same step"
            ),
            IssuerError::UnknownKey { .. } => "check the key id against the ledger's keys".into(),
            IssuerError::KeyRetired { .. } | IssuerError::KeyDistrusted { .. } => {
                "sign with the key that replaced it".into()
            }
            IssuerError::SameKey { .. } => "sign the replacements with a new key".into(),
            IssuerError::UnknownAccount { .. } => "check the account against the ledger's list".into(),
            IssuerError::WrongCatalog { .. } => "bill with the catalog of the account's product".into(),
            IssuerError::ReportMismatch { .. } | IssuerError::OutsideRange { .. } => {
                "nothing was recorded; this file does not describe the license it names, so ask the operator where it came from".into()
            }
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
            IssuerError::Hsm(e) => e.case(),
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
                when: "The ledger file cannot be opened, read or written by SQLite: damaged, not a database, on a full disk, or made by a newer release (`its schema version <n> is newer than this release reads (<n>)`).",
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
                error: IssuerError::IdempotencyConflict { key: "<key>".into(), route: "<route>".into() },
                when: "A license API call that signs, with an idempotency key used before on another route or with another body.",
            },
            Example {
                error: IssuerError::IdempotencyRace,
                when: "Two processes took one idempotency key at once and the first one's record cannot be read back.",
            },
            Example {
                error: IssuerError::BadIdempotencyKey,
                when: "A license API call that signs, with an empty, long or unprintable idempotency key.",
            },
            Example {
                error: IssuerError::UnknownApiToken { id: "<id>".into() },
                when: "Revoking an API token the ledger does not have.",
            },
            Example {
                error: IssuerError::TooManyApiTokens { max: 1024 },
                when: "Making an API token when the ledger keeps 1,024 (revoked ones included).",
            },
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
                when: "A receipt, usage report or deactivation receipt signed by another install than the one the license is bound to: a copied license, or a file from the wrong machine.",
            },
            Example {
                error: IssuerError::UnknownInstall { license: id(), install: "<install>".into() },
                when: "A usage report or deactivation receipt for an unbound license from an install whose activation receipt of it (or of the license it replaced) was never imported.",
            },
            Example {
                error: IssuerError::Period { from: "<day>".into(), to: "<day>".into() },
                when: "A bill whose first day is after its last day, or that spans more than ten years.",
            },
            Example {
                error: IssuerError::LedgerServer {
                    url: "postgres://<user>@<host>/<database>".into(),
                    detail: "<detail>".into(),
                },
                when: "A PostgreSQL ledger whose server is not running or went away (`issuer serve` connects again on the next call, answering 503 until it can), refuses the user or the password (`password authentication failed`, `password missing`), or has no such database; a server on another machine without `sslmode=verify-full&sslrootcert=FILE`, or whose certificate that authority did not sign or does not name the URL's host; a server that wants a client certificate and gets none, or one of another authority or user; a client certificate and key that do not go together, or a key (`sslkey`) that others may read; a password file (`PGPASSFILE`, `~/.pgpass`) that others may read, or a `PGPASSFILE` that is not there; or a URL that holds a password (give it in `PGPASSWORD`).",
            },
            Example {
                error: IssuerError::LedgerBusy { path: path(), seconds: 30 },
                when: "Another issuer command held the ledger's write lock for the whole busy timeout (30 seconds); nothing was done. Commands normally wait for each other.",
            },
            Example {
                error: IssuerError::InstanceInForce {
                    instance: Box::new(Instance {
                        product: "<product>".into(),
                        account: "<account>".into(),
                        region: "<region>".into(),
                    }),
                    newest: id(),
                    sequence: placeholders::NUMBER,
                    status: "active",
                },
                when: "A new order for a product, account and region whose newest license is active, in grace or not valid yet: the account's rights change only by an upgrade or a renewal of that license.",
            },
            Example {
                error: IssuerError::RevokedChain { id: id(), floor: placeholders::NUMBER, reason: "<reason>".into() },
                when: "An upgrade or renewal of a license that was revoked, or that is older than a revoked license of its chain: a renewal never undoes a revocation.",
            },
            Example {
                error: IssuerError::StillBound { id: id(), install: "<install>".into() },
                when: "An upgrade or renewal moves a bound license to another install (or unbinds it) while the old install's deactivation receipt is not in the ledger.",
            },
            Example {
                error: IssuerError::UnknownKey { kid: KeyId::from_bytes(placeholders::KID) },
                when: "`retire-key` or `distrust-key` names a key id that never signed anything recorded in this ledger, e.g. a typo.",
            },
            Example {
                error: IssuerError::KeyRetired {
                    kid: KeyId::from_bytes(placeholders::KID),
                    not_after: placeholders::time(),
                },
                when: "A command signs with a key the ledger retired, after its retirement date.",
            },
            Example {
                error: IssuerError::KeyDistrusted {
                    kid: KeyId::from_bytes(placeholders::KID),
                    distrusted_at: "<time>".into(),
                },
                when: "A command signs with a key the ledger distrusted (compromised), or `retire-key` names one.",
            },
            Example {
                error: IssuerError::SameKey { kid: KeyId::from_bytes(placeholders::KID) },
                when: "`distrust-key` was given the distrusted key itself to sign the replacements.",
            },
            Example {
                error: IssuerError::UnknownAccount { account: "<account>".into() },
                when: "A bill for an account that holds no license in the ledger, e.g. a typo.",
            },
            Example {
                error: IssuerError::WrongCatalog {
                    catalog: "<product>".into(),
                    account: "<account>".into(),
                    products: "<products>".into(),
                },
                when: "A bill priced with the catalog of a product the account holds no license for.",
            },
            Example {
                error: IssuerError::ReportMismatch {
                    kind: "usage report",
                    license: id(),
                    field: "account",
                    expected: "<value>".into(),
                    found: "<value>".into(),
                },
                when: "A receipt, usage report or deactivation receipt names a license of the ledger but another account, product or region than that license's; nothing is recorded.",
            },
            Example {
                error: IssuerError::OutsideRange {
                    kind: "usage report",
                    license: id(),
                    what: "day <day>".into(),
                    range: "<range>".into(),
                },
                when: "A usage report with a day outside its own range or outside the license's term, or a count above 1,000,000,000 (`the count <n> of day <day>`), or a receipt whose activation lies outside the license's term; nothing is recorded.",
            },
        ]
    }
}
