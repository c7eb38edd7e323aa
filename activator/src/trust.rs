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
/// makes it the newest one, kept as signed and verified again on every open.
///
/// Lists are ordered by the time they were signed, then (within one second)
/// by sequence: a list must come after the one imported before, and not be
/// signed later than this machine's clock allows — so a list dated far ahead
/// cannot block the vendor's later ones, nor can an absurd sequence. The key that signed it must
/// be trusted for revocation lists and not retired — by an earlier list, by
/// the list itself, or when it was trusted — before the list's own date.
/// The list's chain floors are added to the install's, which never go down.
pub(crate) fn import_revocations(
    state: &mut StateFile,
    snapshot: &Snapshot,
    text: &str,
    now: Timestamp,
) -> Result<Imported, ActivatorError> {
    let token = armor::read(text, Kind::RevocationList)?;
    let verified = envelope::open::<RevocationList>(&token, Kind::RevocationList, &snapshot.keyring)?;
    let (list, kid) = (verified.content, verified.kid);
    if !REVOCATION_FORMATS_READ.contains(&list.format) {
        return Err(ActivatorError::Envelope(license_common::EnvelopeError::Payload {
            kind: Kind::RevocationList,
            detail: format!("format {} is not one this release reads ({REVOCATION_FORMATS_READ:?})", list.format),
        }));
    }
    if list.issued_at > now.plus(crate::snapshot::CLOCK_TOLERANCE) {
        return Err(ActivatorError::RevocationsFromTheFuture {
            sequence: list.sequence,
            issued_at: list.issued_at,
            now,
        });
    }
    let own = list.retired_keys.iter().find(|r| r.kid == kid).map(|r| r.not_after);
    let trusted_until = snapshot.keyring.get(&kid).and_then(|k| k.not_after);
    let retired = match (own, trusted_until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(not_after) = retired
        && list.issued_at > not_after
    {
        return Err(ActivatorError::RevocationsKeyRetired {
            sequence: list.sequence,
            issued_at: list.issued_at,
            kid,
            not_after,
        });
    }
    if let Some(have) = &snapshot.revocations
        && (list.issued_at, list.sequence) <= (have.issued_at, have.sequence)
    {
        return Err(ActivatorError::StaleRevocations {
            offered: list.sequence,
            offered_at: list.issued_at,
            have: have.sequence,
            have_at: have.issued_at,
        });
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
            .filter(|c| {
                list.voids(&c.license, &c.kid).is_some()
                    || list.retired_keys.iter().any(|r| r.kid == c.kid && c.license.issued_at > r.not_after)
            })
            .map(|c| c.license.id.clone()),
    };
    crate::chains::import(&mut state.chains, &list);
    state.revocation_list = Some(token);
    state.revocations = None;
    Ok(imported)
}
