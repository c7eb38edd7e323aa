//! Why the activator refused, and what the operator can do about it.

use std::path::PathBuf;

use license_common::envelope::EnvelopeError;
use license_common::exit::{ExitClass, Explain};
use license_common::input::InputError;
use license_common::keys::KeyError;
use license_common::time::Timestamp;

/// An error of the activator library. Every variant leaves the state
/// directory as it was. Messages and hints speak of the install and its
/// licenses, never of a command line: a launcher shows them as they are.
#[derive(Debug, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ActivatorError {
    /// The license (or other envelope) was refused before its content was read.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The input could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A public key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The gateway address (or a workspace token) is not usable.
    #[error(transparent)]
    Gateway(#[from] crate::gateway::GatewayError),
    /// The credentials are not usable.
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialsError),
    /// No random bytes for a new key.
    #[error(transparent)]
    Random(#[from] license_common::random::RandomError),
    /// The machine's clock reads earlier than time already seen.
    #[error("this machine's clock reads {now}, but this install has already seen {mark}: the clock was set back")]
    ClockSetBack {
        /// What the clock reads.
        now: Timestamp,
        /// The newest trusted time seen.
        mark: Timestamp,
    },
    /// The revocation list offered is not newer than the one imported.
    #[error(
        "revocation list {offered} (signed {offered_at}) is not newer than list {have} (signed {have_at}) already imported"
    )]
    StaleRevocations {
        /// The sequence offered.
        offered: u64,
        /// When the list offered was signed.
        offered_at: Timestamp,
        /// The sequence imported before.
        have: u64,
        /// When that list was signed.
        have_at: Timestamp,
    },
    /// A revocation list signed later than this machine's clock reads.
    #[error("revocation list {sequence} was signed at {issued_at}, later than this machine's clock ({now})")]
    RevocationsFromTheFuture {
        /// Its sequence.
        sequence: u64,
        /// When it says it was signed.
        issued_at: Timestamp,
        /// What the clock reads.
        now: Timestamp,
    },
    /// A revocation list signed by a key retired before the list's date.
    #[error("revocation list {sequence} was signed on {issued_at} by key {kid}, which was retired on {not_after}")]
    RevocationsKeyRetired {
        /// Its sequence.
        sequence: u64,
        /// When it was signed.
        issued_at: Timestamp,
        /// The key.
        kid: license_common::KeyId,
        /// The key's retirement.
        not_after: Timestamp,
    },
    /// A license signed later than this machine's clock reads.
    #[error(
        "license {id} was signed at {issued_at}, later than this machine's clock ({now}) allows: the vendor's clock or this one is wrong"
    )]
    IssuedInFuture {
        /// The license.
        id: String,
        /// When it says it was signed.
        issued_at: Timestamp,
        /// What the clock reads.
        now: Timestamp,
    },
    /// A time attestation for another install or product.
    #[error("this time attestation is for install {install} of product {product}, not this one ({this})")]
    AttestationMismatch {
        /// The install it names.
        install: String,
        /// The product it names.
        product: String,
        /// This install.
        this: String,
    },
    /// A time attestation not newer than the one imported before.
    #[error("this time attestation ({time}) is not newer than the one imported before ({have})")]
    StaleAttestation {
        /// Its time.
        time: Timestamp,
        /// The time of the one imported before.
        have: Timestamp,
    },
    /// A time attestation that answers no request, or not the newest one
    /// made here.
    #[error(
        "this time attestation does not answer the newest activation request made here: a kept attestation cannot move the clock mark back"
    )]
    AttestationUnasked,
    /// A time attestation whose request was made before the clock mark
    /// moved on.
    #[error(
        "the clock mark moved from {then} to {mark} since the request this time attestation answers: it would take the mark back to a time already passed"
    )]
    AttestationOvertaken {
        /// The mark when the request was made (`none` before any).
        then: String,
        /// The mark now.
        mark: String,
    },
    /// The state was changed outside the activator.
    #[error("{} is damaged: {detail}", path.display())]
    DamagedState {
        /// The file.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A state directory others may write into.
    #[error("{} can be written by other users (mode {mode:o}): they could plant or remove the install's files", dir.display())]
    UnsafeDirectory {
        /// The directory.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file found in a directory not yet initialised.
    #[error("{} already exists, but the directory is not initialised: it was not made by this install", path.display())]
    KeyFilePresent {
        /// The file.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
    },
    /// The license was revoked by the vendor.
    #[error("license {id} was revoked on {revoked_at}: {reason}")]
    Revoked {
        /// The license.
        id: String,
        /// Why.
        reason: String,
        /// When.
        revoked_at: Timestamp,
    },
    /// The key that signed the license was retired before it was signed.
    #[error(
        "license {id} was signed on {issued_at} by key {kid}, which is trusted only for licenses signed until {not_after}"
    )]
    KeyRetired {
        /// The license.
        id: String,
        /// When it was signed.
        issued_at: Timestamp,
        /// The key.
        kid: license_common::KeyId,
        /// The key's retirement.
        not_after: Timestamp,
    },
    /// The command needs a license in force.
    #[error("no license is in force on this install")]
    NoLicense,
    /// The license is bound to another install.
    #[error("license {id} is bound to install {bound}, not to this install ({this})")]
    OtherInstall {
        /// The license.
        id: String,
        /// The install it is bound to.
        bound: String,
        /// This install's id.
        this: String,
    },
    /// No gateway address has been set.
    #[error("no data gateway address is set on this install")]
    NoGateway,
    /// The state directory belongs to another product.
    #[error("{} holds the state of product `{found}`, not `{wanted}`", dir.display())]
    OtherProduct {
        /// The directory.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        dir: PathBuf,
        /// Its product.
        found: String,
        /// The product asked for.
        wanted: String,
    },
    /// The signed license breaks a rule every license must follow.
    #[error("the license is signed but not valid: {detail}")]
    InvalidLicense {
        /// The rule it breaks.
        detail: String,
    },
    /// The license is for another product.
    #[error("license {id} is for product `{license}`, but this install runs `{install}`")]
    WrongProduct {
        /// License id.
        id: String,
        /// The license's product.
        license: String,
        /// This install's product.
        install: String,
    },
    /// The license is for another region or site.
    #[error("license {id} is for region `{license}`, but this install is in region `{install}`")]
    WrongRegion {
        /// License id.
        id: String,
        /// The license's region.
        license: String,
        /// This install's region.
        install: String,
    },
    /// `not_before` is in the future.
    #[error("license {id} is not valid before {starts_at}")]
    NotYetValid {
        /// License id.
        id: String,
        /// When it starts.
        starts_at: Timestamp,
    },
    /// The license has expired.
    #[error("license {id} expired on {expired_at}")]
    Expired {
        /// License id.
        id: String,
        /// When it expired.
        expired_at: Timestamp,
    },
    /// The pay-as-you-go activation window has closed.
    #[error("license {id} had to be activated by {activate_by}; the activation window has closed")]
    ActivationWindowClosed {
        /// License id.
        id: String,
        /// The deadline.
        activate_by: Timestamp,
    },
    /// A license not newer than one this install has already seen in its chain.
    #[error(
        "license {id} (sequence {sequence}) is not newer than license {seen_license} (sequence {seen}), which this install has already had for the same account and region: an older license never comes back"
    )]
    BelowFloor {
        /// The refused license.
        id: String,
        /// Its sequence.
        sequence: u64,
        /// The newest license of the chain seen here.
        seen_license: String,
        /// Its sequence.
        seen: u64,
    },
    /// A license that is not newer than the one in force.
    #[error(
        "license {id} (sequence {sequence}) is not newer than license {current} (sequence {current_sequence}) in force"
    )]
    Superseded {
        /// The refused license.
        id: String,
        /// Its sequence.
        sequence: u64,
        /// The license in force.
        current: String,
        /// Its sequence.
        current_sequence: u64,
    },
    /// A license this install has already replaced or released.
    #[error("license {id} was activated here on {activated_at} and has since been {}", match (by, released_at) {
        (_, Some(at)) => format!("released from this install (on {at})"),
        (Some(b), None) => format!("replaced by license {b}"),
        (None, None) => "replaced".to_owned(),
    })]
    AlreadyReplaced {
        /// The refused license.
        id: String,
        /// When it was activated.
        activated_at: Timestamp,
        /// The license that replaced it, if known.
        by: Option<String>,
        /// When it was released with `activator deactivate`, if it was.
        released_at: Option<Timestamp>,
    },
    /// A license of another account than the one in force.
    #[error(
        "license {id} is for account `{account}`, but license {current} in force is for account `{current_account}`"
    )]
    OtherAccount {
        /// The refused license.
        id: String,
        /// Its account.
        account: String,
        /// The license in force.
        current: String,
        /// Its account.
        current_account: String,
    },
    /// The state directory has not been initialised.
    #[error("{} is not an activator state directory (no state.json)", dir.display())]
    NotInitialised {
        /// The directory.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        dir: PathBuf,
    },
    /// `init` on a directory that is already initialised.
    #[error("{} is already initialised", dir.display())]
    AlreadyInitialised {
        /// The directory.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        dir: PathBuf,
    },
    /// The state directory belongs to another user.
    #[error("{} belongs to user id {owner}, but this command runs as user id {you}", dir.display())]
    WrongOwner {
        /// The directory.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// The user running the command.
        you: u32,
    },
    /// A state file cannot be understood.
    #[error("{} is damaged: {detail}", path.display())]
    CorruptState {
        /// The file.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A product or region that is empty or has control characters.
    #[error("the {what} is empty or has control characters")]
    InvalidName {
        /// `product id` or `region`.
        what: &'static str,
    },
    /// An install needs at least one vendor key to trust.
    #[error("no vendor public key was given to trust")]
    NoTrustedKeys,
    /// A key that is not in the keyring.
    #[error("key {kid} is not trusted here (trusted: {trusted})")]
    KeyNotTrusted {
        /// The key.
        kid: license_common::KeyId,
        /// The keys trusted.
        trusted: String,
    },
    /// The last trusted key cannot be removed.
    #[error("key {kid} is the only trusted key")]
    LastTrustedKey {
        /// The key.
        kid: license_common::KeyId,
    },
    /// The keys are compiled into the launcher: the stored keyring is not used.
    #[error("this install verifies licenses with keys compiled into the launcher; its stored keyring is not used")]
    KeysCompiledIn,
    /// A period whose first day is after its last.
    #[error("the period starts on {from}, after its last day {to}")]
    ReversedPeriod {
        /// The first day.
        from: chrono::NaiveDate,
        /// The last day.
        to: chrono::NaiveDate,
    },
    /// A usage day that no report of the license in force can carry.
    #[error("no usage can be recorded for {day}: it lies outside {range}")]
    UsageDayOutside {
        /// The day.
        day: chrono::NaiveDate,
        /// What it should lie in, e.g. `the license's term 2026-05-01 to 2027-04-30`.
        range: String,
    },
    /// A day's count larger than any install measures.
    #[error("a day's count of {count} is more than the {max} a day can hold")]
    UsageCountTooLarge {
        /// The count given.
        count: u64,
        /// The largest count of one day.
        max: u64,
    },
    /// The machine has no machine id to fingerprint.
    #[error("this machine has no machine id (/etc/machine-id)")]
    NoMachineId,
    /// The collectors' check-in store could not be read or written.
    #[error("the collectors' check-in store {} failed: {detail}", path.display())]
    Metering {
        /// The store.
        #[serde(serialize_with = "license_common::exit::serialize_path")]
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// No service token has this id.
    #[error("no service token has id `{id}`")]
    UnknownToken {
        /// The id asked for.
        id: String,
    },
    /// The state keeps at most this many service tokens.
    #[error("this install already keeps {max} service tokens")]
    TooManyTokens {
        /// The most kept.
        max: usize,
    },
    /// Reading or writing the state directory failed.
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
}

impl ActivatorError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ActivatorError::Io { action, path, source }
    }

    /// A license that breaks the rules every license follows.
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        ActivatorError::InvalidLicense { detail: detail.into() }
    }
}

impl Explain for ActivatorError {
    fn class(&self) -> ExitClass {
        match self {
            ActivatorError::Envelope(e) => e.class(),
            ActivatorError::Input(e) => e.class(),
            ActivatorError::Key(e) => e.class(),
            ActivatorError::Gateway(e) => e.class(),
            ActivatorError::Credentials(e) => e.class(),
            ActivatorError::Random(e) => e.class(),
            ActivatorError::NoGateway => ExitClass::State,
            ActivatorError::NoLicense => ExitClass::State,
            ActivatorError::StaleRevocations { .. }
            | ActivatorError::Revoked { .. }
            | ActivatorError::RevocationsFromTheFuture { .. } => ExitClass::Revoked,
            ActivatorError::KeyRetired { .. } | ActivatorError::RevocationsKeyRetired { .. } => ExitClass::UntrustedKey,
            ActivatorError::IssuedInFuture { .. } => ExitClass::NotYetValid,
            ActivatorError::AttestationMismatch { .. } => ExitClass::Mismatch,
            ActivatorError::StaleAttestation { .. }
            | ActivatorError::AttestationUnasked
            | ActivatorError::AttestationOvertaken { .. } => ExitClass::Superseded,
            ActivatorError::DamagedState { .. }
            | ActivatorError::UnsafeDirectory { .. }
            | ActivatorError::KeyFilePresent { .. } => ExitClass::State,
            ActivatorError::ClockSetBack { .. } => ExitClass::State,
            ActivatorError::OtherInstall { .. } => ExitClass::Mismatch,
            ActivatorError::OtherProduct { .. } => ExitClass::State,
            ActivatorError::InvalidLicense { .. } => ExitClass::Malformed,
            ActivatorError::WrongProduct { .. } | ActivatorError::WrongRegion { .. } => ExitClass::Mismatch,
            ActivatorError::NotYetValid { .. } => ExitClass::NotYetValid,
            ActivatorError::Expired { .. } => ExitClass::Expired,
            ActivatorError::ActivationWindowClosed { .. } => ExitClass::ActivationWindowClosed,
            ActivatorError::Superseded { .. }
            | ActivatorError::AlreadyReplaced { .. }
            | ActivatorError::BelowFloor { .. } => ExitClass::Superseded,
            ActivatorError::OtherAccount { .. } => ExitClass::Mismatch,
            ActivatorError::NotInitialised { .. }
            | ActivatorError::AlreadyInitialised { .. }
            | ActivatorError::CorruptState { .. }
            | ActivatorError::WrongOwner { .. }
            | ActivatorError::KeysCompiledIn
            | ActivatorError::NoMachineId
            | ActivatorError::Metering { .. }
            | ActivatorError::TooManyTokens { .. } => ExitClass::State,
            ActivatorError::UnknownToken { .. } => ExitClass::Usage,
            ActivatorError::InvalidName { .. }
            | ActivatorError::NoTrustedKeys
            | ActivatorError::KeyNotTrusted { .. }
            | ActivatorError::LastTrustedKey { .. }
            | ActivatorError::ReversedPeriod { .. }
            | ActivatorError::UsageDayOutside { .. }
            | ActivatorError::UsageCountTooLarge { .. } => ExitClass::Usage,
            ActivatorError::Io { .. } => ExitClass::Io,
        }
    }

    fn hint(&self) -> String {
        match self {
            ActivatorError::Envelope(e) => e.hint(),
            ActivatorError::Input(e) => e.hint(),
            ActivatorError::Key(e) => e.hint(),
            ActivatorError::Gateway(e) => e.hint(),
            ActivatorError::Credentials(e) => e.hint(),
            ActivatorError::Random(e) => e.hint(),
            ActivatorError::NoLicense => "activate a license first".into(),
            ActivatorError::StaleRevocations { .. } => "import the newest revocation list the vendor sent".into(),
            ActivatorError::RevocationsFromTheFuture { .. } => {
                "check this machine's clock (UTC); if it is right, the vendor's was ahead: import the list once the clock reaches that time, or ask the vendor for a new one".into()
            }
            ActivatorError::RevocationsKeyRetired { .. } => {
                "ask the vendor for a list signed by its current key".into()
            }
            ActivatorError::IssuedInFuture { .. } => {
                "check this machine's clock (UTC); if it is right, ask the vendor to check theirs and send the license again".into()
            }
            ActivatorError::AttestationMismatch { .. } => {
                "ask the vendor for an attestation made from this install's activation request".into()
            }
            ActivatorError::StaleAttestation { .. } => "ask the vendor for a new time attestation".into(),
            ActivatorError::AttestationUnasked | ActivatorError::AttestationOvertaken { .. } => {
                "make a new activation request, have the vendor attest the time for it, and import that attestation before the install runs again".into()
            }
            ActivatorError::DamagedState { .. } => {
                "the state was edited, or an old copy put back: restore the whole directory from its backup, or move it away, initialise it again and activate the license again (the vendor can send it again)".into()
            }
            ActivatorError::UnsafeDirectory { .. } => {
                "remove write access for group and others (chmod 700 on the directory), then run again".into()
            }
            ActivatorError::KeyFilePresent { .. } => {
                "remove that file (or use an empty directory) and initialise again".into()
            }
            ActivatorError::Revoked { .. } => "contact the vendor; a revoked license cannot be activated".into(),
            ActivatorError::KeyRetired { .. } => "ask the vendor for a license signed by its current key".into(),
            ActivatorError::ClockSetBack { .. } => {
                "set the clock right (UTC); nothing was deleted and everything works again once it is".into()
            }
            ActivatorError::OtherInstall { .. } => {
                "send this install's activation request to the vendor for a license bound to it".into()
            }
            ActivatorError::NoGateway => "set the data gateway address first".into(),
            ActivatorError::OtherProduct { .. } => "use a state directory of its own for each product".into(),
            ActivatorError::InvalidLicense { .. } => "ask the vendor for a new license".into(),
            ActivatorError::WrongProduct { .. } => "use the license issued for this product".into(),
            ActivatorError::WrongRegion { .. } => "use the license issued for this region or site".into(),
            ActivatorError::NotYetValid { .. } => {
                "activate it on or after that date, or check this machine's clock".into()
            }
            ActivatorError::Expired { .. } => "ask the vendor for a renewal".into(),
            ActivatorError::ActivationWindowClosed { .. } => {
                "the order has lapsed: the account is back where it was before it; ask the vendor to reissue the license".into()
            }
            ActivatorError::Superseded { .. }
            | ActivatorError::AlreadyReplaced { .. }
            | ActivatorError::BelowFloor { .. } => {
                "use the newest license the vendor sent; a license replaced or released here cannot come back".into()
            }
            ActivatorError::OtherAccount { current, .. } => format!(
                "only the primary account's upgrades and renewals replace it; to move this install to the other account on purpose, activate it as an account change (license {current} will be thrown away)"
            ),
            ActivatorError::NotInitialised { .. } => {
                "initialise the state directory first, with the product and the vendor's public key".into()
            }
            ActivatorError::AlreadyInitialised { .. } => {
                "nothing to do; to start over, move the directory away first (it holds the activated license)".into()
            }
            ActivatorError::WrongOwner { .. } => {
                "run as the user that owns the state directory (e.g. with runuser -u), or fix its ownership".into()
            }
            ActivatorError::CorruptState { .. } => {
                "restore the directory from a backup, or move it away and initialise it again".into()
            }
            ActivatorError::InvalidName { what } => format!("give the {what} as plain text on one line"),
            ActivatorError::NoTrustedKeys => "give at least one vendor public key (SPKI PEM) to trust".into(),
            ActivatorError::KeyNotTrusted { .. } => "name one of the trusted keys".into(),
            ActivatorError::LastTrustedKey { .. } => "trust the vendor's new key first, then remove this one".into(),
            ActivatorError::KeysCompiledIn => "change the keys in the launcher's build instead".into(),
            ActivatorError::ReversedPeriod { .. } => "give a first day on or before the last day".into(),
            ActivatorError::UsageDayOutside { .. } => {
                "record only days that have begun, inside the term of the license in force".into()
            }
            ActivatorError::UsageCountTooLarge { .. } => "record the number actually measured that day".into(),
            ActivatorError::NoMachineId => "set ACTIVATOR_MACHINE_ID to a stable value for this install".into(),
            ActivatorError::Metering { .. } => {
                "check free disk space and permissions of the state directory; stop the service before moving it".into()
            }
            ActivatorError::UnknownToken { .. } => "list the tokens to see their ids".into(),
            ActivatorError::TooManyTokens { .. } => "revoke the tokens no longer used first".into(),
            ActivatorError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                "run as the user that owns the state directory, or fix its permissions".into()
            }
            ActivatorError::Io { .. } => "check the path, free disk space and permissions".into(),
        }
    }

    fn case(&self) -> String {
        match self {
            ActivatorError::Envelope(e) => e.case(),
            ActivatorError::Input(e) => e.case(),
            ActivatorError::Key(e) => e.case(),
            ActivatorError::Gateway(e) => e.case(),
            ActivatorError::Credentials(e) => e.case(),
            ActivatorError::Random(e) => e.case(),
            other => license_common::exit::case_of("ActivatorError", other),
        }
    }

    fn fields(&self) -> serde_json::Value {
        license_common::exit::fields_of(self)
    }
}

pub use crate::denied::Denied;
