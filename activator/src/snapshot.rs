//! A state as read and verified: the one value every answer (status,
//! checks, quotas, replay decisions) is computed from.
//!
//! Building a snapshot reads nothing and writes nothing: it verifies the
//! stored revocation list and license tokens again with the keys in use
//! (the stored keyring, or the keys a launcher compiled in), and re-derives
//! from them everything activation checked: the kind, the rules every
//! license follows, the key's retirement, the revocations and chain floors,
//! the product, the region and the binding to this install (on this
//! machine). A stored license that is no longer accepted does not make the
//! snapshot fail: the install runs the community edition and the
//! snapshot's problems say why.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use license_common::envelope::{self, Kind, Verified};
use license_common::keys::{KeyId, Keyring, TrustedKey};
use license_common::license::License;
use license_common::revocation::RevocationList;
use license_common::time::Timestamp;

use crate::credentials::SealedCredentials;
use crate::error::ActivatorError;
use crate::gateway::GatewayTemplate;
use crate::history::HistoryEntry;
use crate::state::StateFile;

/// How far the clock may read behind the newest trusted time seen before it
/// counts as set back: one hour (clock corrections and small drifts pass).
pub const CLOCK_TOLERANCE: chrono::Duration = chrono::Duration::hours(1);

/// The license in force on this install, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveLicense {
    /// The license content.
    pub license: License,
    /// The key that signed it.
    pub kid: KeyId,
    /// When this install activated it.
    pub activated_at: Timestamp,
}

/// Where the vendor keys in use come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// The keyring stored in the state (`activator init --trust`, `trust add`).
    Stored,
    /// Keys compiled into the launcher; the stored keyring is not used.
    CompiledIn(Keyring),
}

/// A verified view of a state.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub product: String,
    /// The keys in use, with the vendor's retirement notices applied.
    pub keyring: Keyring,
    pub keys_compiled_in: bool,
    pub install_id: Option<String>,
    pub current: Option<ActiveLicense>,
    pub problems: Vec<String>,
    pub gateway: Option<GatewayTemplate>,
    pub credentials: Option<SealedCredentials>,
    pub history: Vec<HistoryEntry>,
    pub usage: BTreeMap<NaiveDate, u64>,
    pub high_water: Option<Timestamp>,
    pub revocations: Option<RevocationList>,
    pub region: Option<String>,
    pub chains: Vec<crate::chains::ChainFloor>,
    pub released: Vec<crate::state::ReleasedLicense>,
    /// Whether the product has a free edition (the community edition).
    pub free_edition: bool,
    /// The local service's bearer tokens, hashed.
    pub service_tokens: Vec<crate::tokens::ServiceToken>,
    /// The directory was made on another machine than this one: no license
    /// bound to the install is accepted here.
    pub moved: bool,
}

impl Snapshot {
    /// Verifies `state` with the keys of `source`. Only a stored keyring that
    /// cannot be read is an error; everything else becomes a problem.
    pub fn verify(
        state: &StateFile,
        source: &KeySource,
        install_id: Option<String>,
        path: &Path,
    ) -> Result<Snapshot, ActivatorError> {
        let (base, keys_compiled_in) = match source {
            KeySource::Stored => (state.keyring(path)?, false),
            KeySource::CompiledIn(keys) => (keys.clone(), true),
        };
        let mut problems = Vec::new();
        let revocations = match &state.revocation_list {
            Some(token) => match envelope::open::<RevocationList>(token, Kind::RevocationList, &base) {
                Ok(v) => Some(v.content),
                Err(e) => {
                    problems.push(format!(
                        "the stored revocation list no longer verifies ({e}); import the vendor's newest list again"
                    ));
                    state.revocations.clone()
                }
            },
            None => state.revocations.clone(),
        };
        let keyring = with_retirements(base, revocations.as_ref());
        let here = crate::identity::machine_fingerprint();
        let moved_from = match (&state.machine, &here) {
            (Some(made), Some(here)) if made != here => Some(made.clone()),
            _ => None,
        };
        if let (Some(made), Some(here)) = (&moved_from, &here) {
            problems.push(format!(
                "this state directory was made on another machine (host fingerprint {made}; this one is {here}): a license bound to the install is not accepted here; if the machine id changed (a new container image), set {} to the old value, else ask the vendor to bind the license to this machine",
                crate::identity::MACHINE_ID_ENV
            ));
        }
        let gateway = state.gateway.as_deref().and_then(|text| match GatewayTemplate::from_stored(text) {
            Ok(template) => Some(template),
            Err(e) => {
                problems.push(format!("the stored gateway address is not valid ({e})"));
                None
            }
        });
        let here_install = install_id.clone();
        let current = state.license.as_ref().and_then(|stored| {
            let accepted = envelope::open::<License>(&stored.token, Kind::License, &keyring)
                .map_err(ActivatorError::from)
                .and_then(|v| v.content.check_shape().map(|()| v).map_err(ActivatorError::invalid))
                .and_then(|v| still_valid(&keyring, revocations.as_ref(), &v.content, v.kid).map(|()| v))
                .and_then(|v| rederive(&v.content, state, here_install.as_deref(), moved_from.is_some()).map(|()| v));
            match accepted {
                Ok(Verified { content, kid }) => {
                    Some(ActiveLicense { license: content, kid, activated_at: stored.activated_at })
                }
                Err(e) => {
                    let then = if state.free_edition == Some(false) {
                        "the install runs nothing until a license is activated"
                    } else {
                        "the install runs the community edition"
                    };
                    problems.push(format!("the stored license is no longer accepted: {e}; {then}"));
                    None
                }
            }
        });
        let free_edition = state.free_edition.unwrap_or(true)
            && current.as_ref().is_none_or(|c| c.license.free_edition != Some(false));
        Ok(Snapshot {
            product: state.product.clone(),
            keyring,
            keys_compiled_in,
            install_id,
            current,
            problems,
            gateway,
            credentials: state.credentials.clone(),
            history: state.history.clone(),
            usage: state.usage.clone(),
            high_water: state.high_water,
            revocations,
            region: state.region.clone(),
            chains: state.chains.clone(),
            released: state.released.clone(),
            free_edition,
            service_tokens: state.service_tokens.clone(),
            moved: moved_from.is_some(),
        })
    }

    /// `Some(mark)` when `now` is earlier than the newest trusted time seen
    /// by more than [`CLOCK_TOLERANCE`]: the clock was set back.
    pub fn clock_set_back(&self, now: Timestamp) -> Option<Timestamp> {
        let mark = self.high_water?;
        (now.plus(CLOCK_TOLERANCE) < mark).then_some(mark)
    }

    /// Refuses what must not be done or dated while the clock is set back
    /// ([`Snapshot::clock_set_back`]).
    pub fn refuse_clock_set_back(&self, now: Timestamp) -> Result<(), ActivatorError> {
        match self.clock_set_back(now) {
            Some(mark) => Err(ActivatorError::ClockSetBack { now, mark }),
            None => Ok(()),
        }
    }
}

/// What activation checked of the license in force, checked again against
/// the state as it is now: the product, the region, the binding to this
/// install on this machine, and the chain floors.
fn rederive(license: &License, state: &StateFile, install_id: Option<&str>, moved: bool) -> Result<(), ActivatorError> {
    if license.product != state.product {
        return Err(ActivatorError::WrongProduct {
            id: license.id.clone(),
            license: license.product.clone(),
            install: state.product.clone(),
        });
    }
    if let Some(region) = &state.region
        && &license.region != region
    {
        return Err(ActivatorError::WrongRegion {
            id: license.id.clone(),
            license: license.region.clone(),
            install: region.clone(),
        });
    }
    bound_here(license, install_id, moved)?;
    floors_admit(&state.chains, license)
}

/// Refuses a license bound to another install, or to this install's id in
/// a directory that was made on another machine (copied, or its machine id
/// changed).
pub(crate) fn bound_here(license: &License, install_id: Option<&str>, moved: bool) -> Result<(), ActivatorError> {
    match &license.install {
        Some(bound) if install_id != Some(bound.as_str()) || moved => {
            let this = install_id.unwrap_or("none: no install key yet").to_owned();
            let this = if moved { format!("{this}, on another machine than it was made on") } else { this };
            Err(ActivatorError::OtherInstall { id: license.id.clone(), bound: bound.clone(), this })
        }
        _ => Ok(()),
    }
}

/// Refuses a license at or below a floor of its chain.
pub(crate) fn floors_admit(chains: &[crate::chains::ChainFloor], license: &License) -> Result<(), ActivatorError> {
    match crate::chains::refuses(chains, license) {
        None => Ok(()),
        Some(crate::chains::Refusal::Revoked(floor, reason)) => Err(ActivatorError::Revoked {
            id: license.id.clone(),
            reason: format!("its chain is revoked up to sequence {floor} ({reason})"),
            revoked_at: license.issued_at,
        }),
        Some(crate::chains::Refusal::Seen(chain)) => Err(ActivatorError::BelowFloor {
            id: license.id.clone(),
            sequence: license.sequence,
            seen_license: chain.seen_license.clone(),
            seen: chain.seen,
        }),
    }
}

/// The keyring with each key's trust ending no later than the vendor's
/// retirement notice for it, if the newest revocation list carries one.
fn with_retirements(keyring: Keyring, revocations: Option<&RevocationList>) -> Keyring {
    let Some(list) = revocations else { return keyring };
    let mut ring = Keyring::new();
    for trusted in keyring.keys() {
        let retired = list.retired_keys.iter().find(|r| r.kid == trusted.key.kid()).map(|r| r.not_after);
        let not_after = match (trusted.not_after, retired) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        ring.add(TrustedKey { not_after, ..trusted.clone() });
    }
    ring
}

/// What can change after a license was first verified: its key's
/// retirement date and the vendor's revocations (of the license, of its
/// chain up to a sequence, of its key).
pub(crate) fn still_valid(
    keyring: &Keyring,
    revocations: Option<&RevocationList>,
    license: &License,
    kid: KeyId,
) -> Result<(), ActivatorError> {
    if let Some(not_after) = keyring.get(&kid).and_then(|k| k.not_after)
        && license.issued_at > not_after
    {
        return Err(ActivatorError::KeyRetired {
            id: license.id.clone(),
            issued_at: license.issued_at,
            kid,
            not_after,
        });
    }
    if let Some((reason, revoked_at)) = revocations.and_then(|list| list.voids(license, &kid)) {
        return Err(ActivatorError::Revoked { id: license.id.clone(), reason, revoked_at });
    }
    Ok(())
}
