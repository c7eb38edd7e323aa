//! One example of every error of the activator library, with when it
//! happens: `docs/ERRORS.md` is generated from these.

use std::path::PathBuf;

use license_common::exit::{Example, Examples, placeholders};

use crate::error::{ActivatorError, Denied};

impl Examples for ActivatorError {
    fn examples() -> Vec<Example<Self>> {
        let s = |v: &str| v.to_owned();
        let t = placeholders::time();
        let n = placeholders::NUMBER;
        let kid = license_common::keys::KeyId::from_bytes(placeholders::KID);
        let dir = || PathBuf::from("<dir>");
        vec![
            Example {
                error: ActivatorError::ClockSetBack { now: t, mark: t },
                when: "Activation while the clock reads earlier than a time this install has already seen (the high-water mark kept in `state.json`).",
            },
            Example {
                error: ActivatorError::StaleRevocations { offered: n, offered_at: t, have: n, have_at: t },
                when: "A revocation list not signed later than the one imported before (the same list again, or an older one). Lists are ordered by the time they were signed, so no list can block the vendor's later ones.",
            },
            Example {
                error: ActivatorError::RevocationsFromTheFuture { sequence: n, issued_at: t, now: t },
                when: "A revocation list signed more than an hour later than this machine's clock reads.",
            },
            Example {
                error: ActivatorError::RevocationsKeyRetired { sequence: n, issued_at: t, kid, not_after: t },
                when: "A revocation list signed by a key retired (by an earlier list, by the list itself, or when it was trusted) before the list's own date.",
            },
            Example {
                error: ActivatorError::BelowFloor { id: s("<id>"), sequence: n, seen_license: s("<id>"), seen: n },
                when: "A license whose sequence is not above the highest this install has ever had for its account and region (activated, replaced, revoked or released), whether or not a license is in force: after a revocation or a deactivation, an older license does not come back.",
            },
            Example {
                error: ActivatorError::IssuedInFuture { id: s("<id>"), issued_at: t, now: t },
                when: "A license signed more than an hour later than this machine's clock reads (a vendor clock ahead, or this one behind); nothing is changed, and the clock's mark is not raised.",
            },
            Example {
                error: ActivatorError::AttestationMismatch {
                    install: s("<install>"),
                    product: s("<product>"),
                    this: s("<install>"),
                },
                when: "A time attestation made for another install's activation request, or another product.",
            },
            Example {
                error: ActivatorError::StaleAttestation { time: t, have: t },
                when: "A time attestation not newer than the one imported before (the same file again, or an older one).",
            },
            Example {
                error: ActivatorError::AttestationUnasked,
                when: "A time attestation that answers no activation request made here, or an older one than the newest (each request replaces the one before, and an import uses it up), or one of the first release's format.",
            },
            Example {
                error: ActivatorError::AttestationOvertaken { then: s("<time>"), mark: s("<time>") },
                when: "A time attestation imported after the install's clock mark moved on from where it was at the request: kept for later, it would take the mark back.",
            },
            Example {
                error: ActivatorError::DamagedState { path: PathBuf::from("<path>"), detail: s("<detail>") },
                when: "`state.json` does not match its MAC (it was edited by hand: revocations removed, the clock mark lowered, a binding, product or region changed), is older than `state.gen` says (an old copy put back beside newer files), is of an older format in a directory written in format 3, or `state.key` is missing. Details: `its MAC does not match: …`, `it is an older copy (generation <n>) than the directory last wrote (generation <n>)`.",
            },
            Example {
                error: ActivatorError::UnsafeDirectory { dir: dir(), mode: 0o777 },
                when: "The state directory is writable by its group or by everyone.",
            },
            Example {
                error: ActivatorError::KeyFilePresent { path: PathBuf::from("<path>") },
                when: "`init` found `install.key`, `seal.key` or `state.key` in a directory that is not initialised: a key planted beforehand is never adopted.",
            },
            Example {
                error: ActivatorError::Revoked { id: s("<id>"), reason: s("<reason>"), revoked_at: t },
                when: "The vendor revoked the license and the revocation list that says so was imported.",
            },
            Example {
                error: ActivatorError::KeyRetired { id: s("<id>"), issued_at: t, kid, not_after: t },
                when: "The key was retired (by the vendor's revocation list, or when it was trusted with an end date) before this license was signed.",
            },
            Example {
                error: ActivatorError::Metering { path: "<dir>/collectors.sqlite3".into(), detail: s("<detail>") },
                when: "The service cannot record a collector's check-in (disk full, permissions, a damaged store).",
            },
            Example {
                error: ActivatorError::UnknownToken { id: s("<id>") },
                when: "Revoking a service token that this install does not have.",
            },
            Example {
                error: ActivatorError::TooManyTokens { max: crate::tokens::MAX_TOKENS },
                when: "Making a service token when the state already keeps the most it keeps.",
            },
            Example {
                error: ActivatorError::NoLicense,
                when: "A receipt, usage report or deactivation on an install in the community edition.",
            },
            Example {
                error: ActivatorError::OtherInstall { id: s("<id>"), bound: s("<bound>"), this: s("<this>") },
                when: "The license was issued for another install's activation request.",
            },
            Example {
                error: ActivatorError::NoGateway,
                when: "The gateway address is asked for (shown or rendered) before one was set.",
            },
            Example {
                error: ActivatorError::OtherProduct { dir: dir(), found: s("<found>"), wanted: s("<wanted>") },
                when: "A program embedding the activator library opened another product's state directory.",
            },
            Example {
                error: ActivatorError::invalid("<detail>"),
                when: "The signature verifies but the license breaks a rule every license follows (e.g. `the sequence number starts at 1`).",
            },
            Example {
                error: ActivatorError::WrongProduct { id: s("<id>"), license: s("<license>"), install: s("<install>") },
                when: "The license is for another product than the install runs.",
            },
            Example {
                error: ActivatorError::WrongRegion { id: s("<id>"), license: s("<license>"), install: s("<install>") },
                when: "The install was given a region and the license is for another.",
            },
            Example {
                error: ActivatorError::NotYetValid { id: s("<id>"), starts_at: t },
                when: "The license's `not_before` is in the future (or the machine's clock is behind).",
            },
            Example {
                error: ActivatorError::Expired { id: s("<id>"), expired_at: t },
                when: "The license has expired (it is in its grace period or released): an expired license is never activated.",
            },
            Example {
                error: ActivatorError::ActivationWindowClosed { id: s("<id>"), activate_by: t },
                when: "A pay-as-you-go license activated after its `activate_by`, unless the license in force on the install is of the same order (same account and deadline): a first activation, or a plan change to pay-as-you-go, which is a new order with its own window.",
            },
            Example {
                error: ActivatorError::Superseded {
                    id: s("<id>"),
                    sequence: n,
                    current: s("<current>"),
                    current_sequence: n,
                },
                when: "A license of the account in force whose sequence is not higher than the one in force: the ledger numbers each account's licenses, so this is an older one.",
            },
            Example {
                error: ActivatorError::AlreadyReplaced {
                    id: s("<id>"),
                    activated_at: t,
                    by: Some(s("<by>")),
                    released_at: None,
                },
                when: "The license was in force on this install before and was replaced (by an upgrade, a renewal or an account change): it cannot come back.",
            },
            Example {
                error: ActivatorError::AlreadyReplaced {
                    id: s("<id>"),
                    activated_at: t,
                    by: None,
                    released_at: Some(t),
                },
                when: "The license was released from this install (deactivated): it cannot come back.",
            },
            Example {
                error: ActivatorError::OtherAccount {
                    id: s("<id>"),
                    account: s("<account>"),
                    current: s("<current>"),
                    current_account: s("<current_account>"),
                },
                when: "The license in force belongs to another account; only the same account's upgrades and renewals replace it.",
            },
            Example {
                error: ActivatorError::NotInitialised { dir: dir() },
                when: "The state directory named has not been initialised.",
            },
            Example {
                error: ActivatorError::AlreadyInitialised { dir: dir() },
                when: "Initialising a state directory that has a `state.json`.",
            },
            Example {
                error: ActivatorError::WrongOwner { dir: dir(), owner: n as u32, you: n as u32 },
                when: "The state directory is owned by another user than the one running (Linux). Writing into it would leave files the service's own user could not read, so nothing is read or written.",
            },
            Example {
                error: ActivatorError::CorruptState { path: PathBuf::from("<path>"), detail: s("<detail>") },
                when: "`state.json` (or a format-1 `keyring.json`) or the install key cannot be read back: not JSON, another format, too large (over 4 MiB), a key that does not have its recorded id.",
            },
            Example {
                error: ActivatorError::InvalidName { what: "<what>" },
                when: "The product id or the region given at initialisation is empty or has control characters (`product id`, `region`).",
            },
            Example { error: ActivatorError::NoTrustedKeys, when: "Initialising without a vendor key to trust." },
            Example {
                error: ActivatorError::KeyNotTrusted { kid, trusted: s("<kids>") },
                when: "Removing a key that is not in the keyring.",
            },
            Example {
                error: ActivatorError::LastTrustedKey { kid },
                when: "Removing the only trusted key, which would leave the install unable to verify anything.",
            },
            Example {
                error: ActivatorError::KeysCompiledIn,
                when: "Changing the trusted keys of an install whose launcher opened it with compiled-in keys.",
            },
            Example {
                error: ActivatorError::ReversedPeriod { from: placeholders::day(), to: placeholders::day() },
                when: "A usage report whose first day is after its last.",
            },
            Example {
                error: ActivatorError::UsageDayOutside { day: placeholders::day(), range: s("<range>") },
                when: "Usage recorded for a day that has not begun in the license's billing time zone, or that lies outside the term of the license in force (from the first activation of its account on this install, or its start if earlier, to its end); nothing is recorded. Details: `the days that have begun (to <day>)`, `the license's term <day> to <day>`.",
            },
            Example {
                error: ActivatorError::UsageCountTooLarge { count: 0, max: license_common::exchange::MAX_DAY_COUNT },
                when: "Usage recorded with a count above 1,000,000,000; nothing is recorded.",
            },
            Example {
                error: ActivatorError::NoMachineId,
                when: "An activation request on a machine without `/etc/machine-id` (or `/var/lib/dbus/machine-id`), e.g. a bare container.",
            },
            Example {
                error: ActivatorError::Io {
                    action: "<action>",
                    path: PathBuf::from("<path>"),
                    source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "<cause>"),
                },
                when: "The state directory or a file in it cannot be created, locked, read or written, and the operating system says permission denied.",
            },
            Example {
                error: ActivatorError::Io {
                    action: "<action>",
                    path: PathBuf::from("<path>"),
                    source: std::io::Error::new(std::io::ErrorKind::ReadOnlyFilesystem, "<cause>"),
                },
                when: "The same for another reason (no space, a read-only disk).",
            },
        ]
    }
}

impl Examples for Denied {
    fn examples() -> Vec<Example<Self>> {
        let s = |v: &str| v.to_owned();
        let t = placeholders::time();
        vec![
            Example {
                error: Denied::Community { feature: s("<feature>") },
                when: "No license is in force (never activated, deactivated, revoked, or a stored license no longer accepted).",
            },
            Example {
                error: Denied::InGrace { id: s("<id>"), expired_at: t, release_at: t },
                when: "The license has expired and is in its grace period (`grace_days`); data is kept.",
            },
            Example {
                error: Denied::Released { id: s("<id>"), expired_at: t, released_at: t },
                when: "The grace period is over; the install runs the community edition.",
            },
            Example {
                error: Denied::NoLicense { feature: s("<feature>") },
                when: "No license is in force on an install of a product without a free edition (`activator init --no-free-edition`).",
            },
            Example {
                error: Denied::ReleasedForDeletion { id: s("<id>"), expired_at: t, released_at: t },
                when: "The grace period is over on a product without a free edition: the instance is released and its data due for deletion.",
            },
            Example {
                error: Denied::ClockSetBack { now: t, mark: t },
                when: "The clock reads earlier than a time this install has already seen.",
            },
            Example {
                error: Denied::NotIncluded { id: s("<id>"), feature: s("<feature>"), granted: s("<granted>") },
                when: "The license in force has no such package.",
            },
            Example {
                error: Denied::TierTooLow {
                    id: s("<id>"),
                    feature: s("<feature>"),
                    granted: s("<granted>"),
                    wanted: s("<wanted>"),
                },
                when: "The tier asked for is above the one licensed.",
            },
        ]
    }
}
