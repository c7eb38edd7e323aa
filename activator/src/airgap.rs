//! The install's side of the air gap: requests, receipts, usage, release.
//!
//! Every file an install sends is signed with its own key
//! ([`InstallKey`]); see `license_common::exchange` for the payloads. What
//! is here builds them from a verified snapshot, and makes the changes of
//! the state that usage and release need.
//!
//! The receipts, usage reports and deactivation receipts an install makes
//! form a **hash chain**: each carries the install's counter of such files
//! and the SHA-256 of the one before, and the state keeps the head. A state
//! directory restored from a backup starts again from an older head, so
//! its next file forks the chain the vendor's ledger holds, and the ledger
//! shows it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use license_common::envelope::Kind;
use license_common::exchange::{
    ActivationReceipt, ActivationRequest, DeactivationReceipt, EXCHANGE_FORMAT, UsageReport, encode_key,
};
use license_common::time::Timestamp;

use crate::error::ActivatorError;
use crate::history::{HistoryEntry, HistoryEvent};
use crate::identity::{self, InstallKey};
use crate::snapshot::Snapshot;
use crate::state::StateFile;

/// The most days of usage kept in the state (about three years).
pub const MAX_USAGE_DAYS: usize = 1100;

/// A license released from this install, and the signed deactivation
/// receipt (`dea1`) for the vendor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    /// The license released.
    pub license_id: String,
    /// The compact deactivation receipt.
    pub receipt: String,
    /// When it was released.
    pub released_at: Timestamp,
    /// False when the license was released before and this is its kept
    /// receipt again.
    pub now: bool,
}

/// The next link of the install's chain of files: (counter, previous hash).
fn next_link(state: &StateFile) -> (u64, Option<String>) {
    match &state.sent {
        Some(head) => (head.counter + 1, Some(head.hash.clone())),
        None => (1, None),
    }
}

/// Makes `token` the head of the chain.
fn link(state: &mut StateFile, counter: u64, token: &str) {
    state.sent = Some(crate::state::SentHead { counter, hash: license_common::exchange::chain_hash(token) });
}

/// A signed activation request (`req1`) for the vendor, made at `now`.
pub(crate) fn request(snapshot: &Snapshot, key: &InstallKey, now: Timestamp) -> Result<String, ActivatorError> {
    let request = ActivationRequest {
        format: EXCHANGE_FORMAT,
        install_id: key.id(),
        install_key: encode_key(key.public()),
        product: snapshot.product.clone(),
        hostname: identity::hostname(),
        host_fingerprint: identity::host_fingerprint(&identity::machine_id()?),
        created_at: now,
        nonce: Some(hex::encode(license_common::random::bytes::<16>()?)),
    };
    Ok(key.seal(Kind::ActivationRequest, &serde_json::to_vec(&request).expect("serialises")))
}

/// A signed activation receipt (`rct1`) for the license in force, linked
/// into the install's chain.
pub(crate) fn receipt(
    state: &mut StateFile,
    snapshot: &Snapshot,
    key: &InstallKey,
    now: Timestamp,
) -> Result<String, ActivatorError> {
    let current = snapshot.current.as_ref().ok_or(ActivatorError::NoLicense)?;
    // A clock set back would date a file the vendor refuses (or release
    // the license on a day before it was activated).
    snapshot.refuse_clock_set_back(now)?;
    let (counter, prev) = next_link(state);
    let receipt = ActivationReceipt {
        format: EXCHANGE_FORMAT,
        install_id: key.id(),
        install_key: encode_key(key.public()),
        product: snapshot.product.clone(),
        license_id: current.license.id.clone(),
        account: current.license.account.clone(),
        region: Some(current.license.region.clone()),
        activated_at: current.activated_at,
        created_at: now,
        counter: Some(counter),
        prev,
    };
    let token = key.seal(Kind::ActivationReceipt, &serde_json::to_vec(&receipt).expect("serialises"));
    link(state, counter, &token);
    Ok(token)
}

/// Refuses a day's usage no report of the license in force can carry (see
/// [`Activator::record_usage`](crate::Activator::record_usage)).
pub(crate) fn recordable(
    snapshot: &Snapshot,
    day: NaiveDate,
    count: u64,
    now: Timestamp,
) -> Result<(), ActivatorError> {
    let max = license_common::exchange::MAX_DAY_COUNT;
    if count > max {
        return Err(ActivatorError::UsageCountTooLarge { count, max });
    }
    let current = snapshot.current.as_ref().ok_or(ActivatorError::NoLicense)?;
    let license = &current.license;
    let day_of = |t: Timestamp| license.usage_day(t);
    let today = day_of(now);
    if day > today {
        return Err(ActivatorError::UsageDayOutside { day, range: format!("the days that have begun (to {today})") });
    }
    let activated = snapshot.history.iter().filter(|h| h.account == license.account).map(|h| h.at);
    let start = activated.chain([license.not_before]).min().unwrap_or(license.not_before);
    let (first, last) = (day_of(start), license.expires_at.map(day_of));
    if day < first || last.is_some_and(|l| day > l) {
        let end = last.map_or_else(|| "no end".to_owned(), |l| l.to_string());
        return Err(ActivatorError::UsageDayOutside { day, range: format!("the license's term {first} to {end}") });
    }
    Ok(())
}

/// Records `datakits` collectors for `day`, keeping the day's maximum;
/// returns the day's count.
pub(crate) fn record_usage(state: &mut StateFile, day: NaiveDate, datakits: u64) -> u64 {
    let entry = state.usage.entry(day).or_insert(0);
    *entry = (*entry).max(datakits);
    let count = *entry;
    while state.usage.len() > MAX_USAGE_DAYS {
        state.usage.pop_first();
    }
    count
}

/// The recorded daily counts from `from` to `to`, inclusive (none when
/// `from` is after `to`).
pub(crate) fn usage(snapshot: &Snapshot, from: NaiveDate, to: NaiveDate) -> BTreeMap<NaiveDate, u64> {
    if from > to {
        return BTreeMap::new();
    }
    snapshot.usage.range(from..=to).map(|(d, n)| (*d, *n)).collect()
}

/// A signed usage report (`use1`) of the days from `from` to `to`, linked
/// into the install's chain.
pub(crate) fn usage_report(
    state: &mut StateFile,
    snapshot: &Snapshot,
    key: &InstallKey,
    from: NaiveDate,
    to: NaiveDate,
    now: Timestamp,
) -> Result<String, ActivatorError> {
    if from > to {
        return Err(ActivatorError::ReversedPeriod { from, to });
    }
    let current = snapshot.current.as_ref().ok_or(ActivatorError::NoLicense)?;
    // A clock set back would date a file the vendor refuses (or release
    // the license on a day before it was activated).
    snapshot.refuse_clock_set_back(now)?;
    let (counter, prev) = next_link(state);
    let report = UsageReport {
        format: EXCHANGE_FORMAT,
        install_id: key.id(),
        install_key: encode_key(key.public()),
        product: snapshot.product.clone(),
        license_id: current.license.id.clone(),
        account: current.license.account.clone(),
        region: Some(current.license.region.clone()),
        from,
        to,
        days: usage(snapshot, from, to),
        created_at: now,
        counter: Some(counter),
        prev,
    };
    let token = key.seal(Kind::UsageReport, &serde_json::to_vec(&report).expect("serialises"));
    link(state, counter, &token);
    Ok(token)
}

/// Releases the license in force (back to community) and makes the signed
/// deactivation receipt, kept in the state in the same change: the
/// released license cannot be activated on this install again, and its
/// receipt can be written out again at any time. With no license in force,
/// gives the receipt of the license released last.
pub(crate) fn deactivate(
    state: &mut StateFile,
    snapshot: &Snapshot,
    key: &InstallKey,
    now: Timestamp,
) -> Result<Released, ActivatorError> {
    let Some(current) = snapshot.current.as_ref() else {
        let last = snapshot.released.last().ok_or(ActivatorError::NoLicense)?;
        return Ok(Released {
            license_id: last.license_id.clone(),
            receipt: last.receipt.clone(),
            released_at: last.at,
            now: false,
        });
    };
    // A clock set back would date a file the vendor refuses (or release
    // the license on a day before it was activated).
    snapshot.refuse_clock_set_back(now)?;
    state.license = None;
    crate::chains::saw(&mut state.chains, &current.license);
    state.history.push(HistoryEntry {
        at: now,
        license: current.license.id.clone(),
        account: current.license.account.clone(),
        edition: current.license.edition.clone(),
        sequence: current.license.sequence,
        expires_at: current.license.expires_at,
        replaced: None,
        account_change: false,
        event: HistoryEvent::Deactivated,
    });
    let (counter, prev) = next_link(state);
    let receipt = DeactivationReceipt {
        format: EXCHANGE_FORMAT,
        install_id: key.id(),
        install_key: encode_key(key.public()),
        product: snapshot.product.clone(),
        license_id: current.license.id.clone(),
        account: current.license.account.clone(),
        region: Some(current.license.region.clone()),
        deactivated_at: now,
        counter: Some(counter),
        prev,
    };
    let token = key.seal(Kind::DeactivationReceipt, &serde_json::to_vec(&receipt).expect("serialises"));
    link(state, counter, &token);
    state.released.push(crate::state::ReleasedLicense {
        license_id: current.license.id.clone(),
        at: now,
        receipt: token.clone(),
    });
    let excess = state.released.len().saturating_sub(crate::state::MAX_RELEASED);
    state.released.drain(..excess);
    Ok(Released { license_id: current.license.id.clone(), receipt: token, released_at: now, now: true })
}
