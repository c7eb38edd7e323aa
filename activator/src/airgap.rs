//! The install's side of the air gap: requests, receipts, usage, release.
//!
//! Every file an install sends is signed with its own key
//! ([`InstallKey`]); see `license_common::exchange` for the payloads. What
//! is here builds them from a verified snapshot, and makes the changes of
//! the state that usage and release need.

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
    };
    Ok(key.seal(Kind::ActivationRequest, &serde_json::to_vec(&request).expect("serialises")))
}

/// A signed activation receipt (`rct1`) for the license in force.
pub(crate) fn receipt(snapshot: &Snapshot, key: &InstallKey, now: Timestamp) -> Result<String, ActivatorError> {
    let current = snapshot.current.as_ref().ok_or(ActivatorError::NoLicense)?;
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
    };
    Ok(key.seal(Kind::ActivationReceipt, &serde_json::to_vec(&receipt).expect("serialises")))
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

/// A signed usage report (`use1`) of the days from `from` to `to`.
pub(crate) fn usage_report(
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
    };
    Ok(key.seal(Kind::UsageReport, &serde_json::to_vec(&report).expect("serialises")))
}

/// Releases the license in force (back to community) and makes the signed
/// deactivation receipt. The released license cannot be activated on this
/// install again.
pub(crate) fn deactivate(
    state: &mut StateFile,
    snapshot: &Snapshot,
    key: &InstallKey,
    now: Timestamp,
) -> Result<Released, ActivatorError> {
    let current = snapshot.current.as_ref().ok_or(ActivatorError::NoLicense)?;
    state.license = None;
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
    let receipt = DeactivationReceipt {
        format: EXCHANGE_FORMAT,
        install_id: key.id(),
        install_key: encode_key(key.public()),
        product: snapshot.product.clone(),
        license_id: current.license.id.clone(),
        account: current.license.account.clone(),
        region: Some(current.license.region.clone()),
        deactivated_at: now,
    };
    let token = key.seal(Kind::DeactivationReceipt, &serde_json::to_vec(&receipt).expect("serialises"));
    Ok(Released { license_id: current.license.id.clone(), receipt: token })
}
