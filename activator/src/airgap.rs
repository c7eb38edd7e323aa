//! The install's side of the air gap: requests, receipts, usage, release.
//!
//! Every file an install sends is signed with its own key
//! ([`InstallKey`]); see `license_common::exchange` for the payloads.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use license_common::envelope::Kind;
use license_common::exchange::{
    ActivationReceipt, ActivationRequest, DeactivationReceipt, EXCHANGE_FORMAT, UsageReport, encode_key,
};
use license_common::time::Timestamp;

use crate::activator::Activator;
use crate::error::ActivatorError;
use crate::history::{HistoryEntry, HistoryEvent};
use crate::identity::{self, InstallKey};
use license_common::fsio::DirLock;

/// The most days of usage kept in the state (about three years).
pub const MAX_USAGE_DAYS: usize = 1100;

impl Activator {
    /// The install key, made on first use.
    pub(crate) fn install_key(&self) -> Result<InstallKey, ActivatorError> {
        if let Some(key) = InstallKey::load(self.dir(), false)? {
            return Ok(key);
        }
        let _lock = DirLock::acquire(self.dir()).map_err(ActivatorError::io("lock", self.dir().to_path_buf()))?;
        Ok(InstallKey::load(self.dir(), true)?.expect("created when missing"))
    }

    /// This install's id (the key id of its install key).
    pub fn install_id(&self) -> Result<String, ActivatorError> {
        Ok(self.install_key()?.id())
    }

    /// A signed activation request (`req1`) for the vendor, made at `now`.
    pub fn request(&self, now: Timestamp) -> Result<String, ActivatorError> {
        let key = self.install_key()?;
        let request = ActivationRequest {
            format: EXCHANGE_FORMAT,
            install_id: key.id(),
            install_key: encode_key(key.public()),
            product: self.product().to_owned(),
            hostname: identity::hostname(),
            host_fingerprint: identity::host_fingerprint(&identity::machine_id()?),
            created_at: now,
        };
        Ok(key.seal(Kind::ActivationRequest, &serde_json::to_vec(&request).expect("serialises")))
    }

    /// A signed activation receipt (`rct1`) for the license in force.
    pub fn receipt(&self, now: Timestamp) -> Result<String, ActivatorError> {
        let current = self.current().ok_or(ActivatorError::NoLicense)?;
        let key = self.install_key()?;
        let receipt = ActivationReceipt {
            format: EXCHANGE_FORMAT,
            install_id: key.id(),
            install_key: encode_key(key.public()),
            product: self.product().to_owned(),
            license_id: current.license.id.clone(),
            account: current.license.account.clone(),
            activated_at: current.activated_at,
            created_at: now,
        };
        Ok(key.seal(Kind::ActivationReceipt, &serde_json::to_vec(&receipt).expect("serialises")))
    }

    /// Records `datakits` collectors for `day`, keeping the day's maximum;
    /// returns the day's count. Safe with concurrent writers.
    pub fn record_usage(&mut self, day: NaiveDate, datakits: u64) -> Result<u64, ActivatorError> {
        let mut count = 0;
        self.update(|state, _| {
            let entry = state.usage.entry(day).or_insert(0);
            *entry = (*entry).max(datakits);
            count = *entry;
            while state.usage.len() > MAX_USAGE_DAYS {
                state.usage.pop_first();
            }
            Ok(())
        })?;
        Ok(count)
    }

    /// The recorded daily counts from `from` to `to`, inclusive (none when
    /// `from` is after `to`).
    pub fn usage(&self, from: NaiveDate, to: NaiveDate) -> BTreeMap<NaiveDate, u64> {
        if from > to {
            return BTreeMap::new();
        }
        self.usage.range(from..=to).map(|(d, n)| (*d, *n)).collect()
    }

    /// A signed usage report (`use1`) of the days from `from` to `to`.
    pub fn usage_report(&self, from: NaiveDate, to: NaiveDate, now: Timestamp) -> Result<String, ActivatorError> {
        if from > to {
            return Err(ActivatorError::InvalidArgument(format!("--from {from} is after --to {to}")));
        }
        let current = self.current().ok_or(ActivatorError::NoLicense)?;
        let key = self.install_key()?;
        let report = UsageReport {
            format: EXCHANGE_FORMAT,
            install_id: key.id(),
            install_key: encode_key(key.public()),
            product: self.product().to_owned(),
            license_id: current.license.id.clone(),
            account: current.license.account.clone(),
            from,
            to,
            days: self.usage(from, to),
            created_at: now,
        };
        Ok(key.seal(Kind::UsageReport, &serde_json::to_vec(&report).expect("serialises")))
    }

    /// Releases the license in force (back to community) and returns the
    /// signed deactivation receipt (`dea1`) for the vendor, who can then bind
    /// the license to a new machine. The released license cannot be
    /// activated on this install again.
    pub fn deactivate(&mut self, now: Timestamp) -> Result<String, ActivatorError> {
        let key = self.install_key()?;
        let released = self.update(|state, current| {
            let current = current.cloned().ok_or(ActivatorError::NoLicense)?;
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
            Ok(current)
        })?;
        let receipt = DeactivationReceipt {
            format: EXCHANGE_FORMAT,
            install_id: key.id(),
            install_key: encode_key(key.public()),
            product: self.product().to_owned(),
            license_id: released.license.id.clone(),
            account: released.license.account.clone(),
            deactivated_at: now,
        };
        Ok(key.seal(Kind::DeactivationReceipt, &serde_json::to_vec(&receipt).expect("serialises")))
    }
}
