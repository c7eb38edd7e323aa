//! Which vendor keys an install trusts, until when, and which licenses the
//! vendor has revoked: the changes of the state they make, and what
//! `trust list` shows.

use license_common::armor;
use license_common::envelope::{self, Kind};
use license_common::keys::{KeyId, KeyUse, Keyring, TrustedKey};
use license_common::revocation::{REVOCATION_FORMATS_READ, RevocationList};
use license_common::time::Timestamp;
use serde::Serialize;

use crate::error::ActivatorError;
use crate::snapshot::Snapshot;
use crate::state::StateFile;

/// What `revocations import` did (`activator revocations import --json`,
/// format 1): `{"format": 1, "sequence": N, "revoked": N, "retired_keys": N,
/// "floors": N, "distrusted_keys": N, "revokes_current": "0193…" | null}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// Version of this JSON shape.
    pub format: u32,
    /// The list's sequence.
    pub sequence: u64,
    /// How many licenses it revokes.
    pub revoked: usize,
    /// How many key retirements it carries.
    pub retired_keys: usize,
    /// How many chains it voids up to a sequence.
    pub floors: usize,
    /// How many keys it distrusts.
    pub distrusted_keys: usize,
    /// The license in force, when the list voids it.
    pub revokes_current: Option<String>,
}

/// The keys an install trusts (`activator trust list --json`, format 1):
///
/// ```json
/// {"format": 1, "compiled_in": false,
///  "keys": [{"kid": "b32bfe0d0e02fed0", "not_after": null | "TIME", "use": "all"}]}
/// ```
///
/// `not_after` includes the vendor's retirement notices; `compiled_in` is
/// true when a launcher's compiled-in keys are the ones in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustedKeys {
    /// Version of this JSON shape.
    pub format: u32,
    /// Whether the keys are compiled into the launcher.
    pub compiled_in: bool,
    /// The keys.
    pub keys: Vec<TrustedKeyInfo>,
}

/// One trusted key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustedKeyInfo {
    /// Its id.
    pub kid: KeyId,
    /// Licenses it signed after this time are refused.
    pub not_after: Option<Timestamp>,
    /// What it may sign.
    #[serde(rename = "use")]
    pub usage: KeyUse,
}

impl TrustedKeys {
    pub(crate) fn of(snapshot: &Snapshot) -> Self {
        TrustedKeys {
            format: 1,
            compiled_in: snapshot.keys_compiled_in,
            keys: snapshot
                .keyring
                .keys()
                .iter()
                .map(|k| TrustedKeyInfo { kid: k.key.kid(), not_after: k.not_after, usage: k.usage })
                .collect(),
        }
    }
}

impl std::fmt::Display for TrustedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for k in &self.keys {
            let until = k.not_after.map(|t| format!(", for what it signed until {t}")).unwrap_or_default();
            writeln!(f, "{}  use {}{until}", k.kid, k.usage.as_str())?;
        }
        if self.compiled_in {
            writeln!(f, "(compiled into the launcher)")?;
        }
        Ok(())
    }
}

/// The stored keyring of `state`, unless a launcher's keys are compiled in.
fn stored_keyring(state: &StateFile, snapshot: &Snapshot, dir: &std::path::Path) -> Result<Keyring, ActivatorError> {
    if snapshot.keys_compiled_in {
        return Err(ActivatorError::KeysCompiledIn);
    }
    state.keyring(&dir.join(crate::state::STATE_FILE))
}

/// Trusts `key` (replacing its entry if present) for `usage`, optionally
/// only for what it signed up to `not_after`.
pub(crate) fn add(
    state: &mut StateFile,
    snapshot: &Snapshot,
    dir: &std::path::Path,
    trusted: TrustedKey,
) -> Result<(), ActivatorError> {
    let mut ring = stored_keyring(state, snapshot, dir)?;
    ring.add(trusted);
    state.set_keyring(&ring);
    Ok(())
}

/// Stops trusting key `kid`. The last key cannot be removed.
pub(crate) fn remove(
    state: &mut StateFile,
    snapshot: &Snapshot,
    dir: &std::path::Path,
    kid: KeyId,
) -> Result<(), ActivatorError> {
    let ring = stored_keyring(state, snapshot, dir)?;
    if ring.get(&kid).is_none() {
        return Err(ActivatorError::KeyNotTrusted { kid, trusted: ring.kids() });
    }
    if ring.keys().len() == 1 {
        return Err(ActivatorError::LastTrustedKey { kid });
    }
    let mut next = Keyring::new();
    for kept in ring.keys().iter().filter(|k| k.key.kid() != kid) {
        next.add(kept.clone());
    }
    state.set_keyring(&next);
    Ok(())
}

/// Verifies a revocation list (armored or compact) with the keys in use and
/// makes it the newest one: it must be newer than the list imported before.
pub(crate) fn import_revocations(
    state: &mut StateFile,
    snapshot: &Snapshot,
    text: &str,
) -> Result<Imported, ActivatorError> {
    let token = armor::read(text, Kind::RevocationList)?;
    let list = envelope::open::<RevocationList>(&token, Kind::RevocationList, &snapshot.keyring)?.content;
    if !REVOCATION_FORMATS_READ.contains(&list.format) {
        return Err(ActivatorError::Envelope(license_common::EnvelopeError::Payload {
            kind: Kind::RevocationList,
            detail: format!("format {} is not one this release reads ({REVOCATION_FORMATS_READ:?})", list.format),
        }));
    }
    if let Some(have) = &state.revocations
        && list.sequence <= have.sequence
    {
        return Err(ActivatorError::StaleRevocations { offered: list.sequence, have: have.sequence });
    }
    let imported = Imported {
        format: 1,
        sequence: list.sequence,
        revoked: list.revoked.len(),
        retired_keys: list.retired_keys.len(),
        floors: list.floors.len(),
        distrusted_keys: list.distrusted_keys.len(),
        revokes_current: snapshot
            .current
            .as_ref()
            .filter(|c| list.voids(&c.license, &c.kid).is_some())
            .map(|c| c.license.id.clone()),
    };
    state.revocations = Some(list);
    Ok(imported)
}
