//! The keyring file and revocation lists: which vendor keys an install
//! trusts, until when, and which licenses the vendor has revoked.

use license_common::armor;
use license_common::envelope::{self, Kind};
use license_common::fsio::DirLock;
use license_common::keys::{KeyId, KeyUse, PublicKey, TrustedKey};
use license_common::revocation::RevocationList;
use license_common::time::Timestamp;

use crate::activator::Activator;
use crate::error::ActivatorError;

/// What `revocations import` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The list's sequence.
    pub sequence: u64,
    /// How many licenses it revokes.
    pub revoked: usize,
    /// How many key retirements it carries.
    pub retired_keys: usize,
    /// The license in force, when the list revokes it.
    pub revokes_current: Option<String>,
}

impl Activator {
    /// Trusts `key` (replacing its entry if present) for `usage`, optionally
    /// only for what it signed up to `not_after`.
    pub fn trust_add(
        &mut self,
        key: PublicKey,
        not_after: Option<Timestamp>,
        usage: KeyUse,
    ) -> Result<(), ActivatorError> {
        self.change_keyring(|ring| {
            ring.add(TrustedKey { key, not_after, usage });
            Ok(())
        })
    }

    /// Stops trusting the key `kid`: licenses it signed are refused from now
    /// on (the stored license too, if it is one of them). The last key
    /// cannot be removed.
    pub fn trust_remove(&mut self, kid: KeyId) -> Result<(), ActivatorError> {
        self.change_keyring(|ring| {
            if ring.get(&kid).is_none() {
                return Err(ActivatorError::InvalidArgument(format!(
                    "key {kid} is not trusted here (trusted: {})",
                    ring.kids()
                )));
            }
            if ring.keys().len() == 1 {
                return Err(ActivatorError::InvalidArgument(format!(
                    "key {kid} is the only trusted key; add the new vendor key first (`activator trust add`)"
                )));
            }
            let kept: Vec<TrustedKey> = ring.keys().iter().filter(|k| k.key.kid() != kid).cloned().collect();
            *ring = license_common::Keyring::new();
            for k in kept {
                ring.add(k);
            }
            Ok(())
        })
    }

    fn change_keyring(
        &mut self,
        change: impl FnOnce(&mut license_common::Keyring) -> Result<(), ActivatorError>,
    ) -> Result<(), ActivatorError> {
        let _lock = DirLock::acquire(self.dir()).map_err(ActivatorError::io("lock", self.dir().to_path_buf()))?;
        let mut ring = self.store.read_keyring()?;
        change(&mut ring)?;
        self.store.write_keyring(&ring)?;
        self.set_keyring(ring)?;
        Ok(())
    }

    /// Verifies and imports a revocation list (armored or compact): it must
    /// be signed by a trusted key and newer than the list already imported.
    /// A revoked license in force drops the install to community; key
    /// retirement notices set the keys' `not_after` in the keyring.
    pub fn import_revocations(&mut self, text: &str) -> Result<Imported, ActivatorError> {
        let token = armor::read(text, Kind::RevocationList)?;
        let list = envelope::open::<RevocationList>(&token, Kind::RevocationList, self.keyring())?.content;
        if list.format != license_common::revocation::REVOCATION_FORMAT {
            return Err(ActivatorError::Envelope(license_common::EnvelopeError::Payload {
                kind: Kind::RevocationList,
                detail: format!("format {} is not 1", list.format),
            }));
        }
        let _lock = DirLock::acquire(self.dir()).map_err(ActivatorError::io("lock", self.dir().to_path_buf()))?;
        let mut state = self.store.read_state()?;
        if let Some(have) = &state.revocations
            && list.sequence <= have.sequence
        {
            return Err(ActivatorError::StaleRevocations { offered: list.sequence, have: have.sequence });
        }
        if !list.retired_keys.is_empty() {
            let mut ring = self.store.read_keyring()?;
            for retired in &list.retired_keys {
                if let Some(entry) = ring.get(&retired.kid).cloned() {
                    let not_after = entry.not_after.map_or(retired.not_after, |na| na.min(retired.not_after));
                    ring.add(TrustedKey { key: entry.key, not_after: Some(not_after), usage: entry.usage });
                }
            }
            self.store.write_keyring(&ring)?;
            self.set_keyring(ring)?;
        }
        let current = self.current().map(|c| c.license.id.clone());
        let imported = Imported {
            sequence: list.sequence,
            revoked: list.revoked.len(),
            retired_keys: list.retired_keys.len(),
            revokes_current: current.filter(|id| list.find(id).is_some()),
        };
        state.revocations = Some(list);
        self.store.write_state(&state)?;
        self.reload(state);
        Ok(imported)
    }
}
