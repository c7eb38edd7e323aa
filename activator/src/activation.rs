//! Activation: which license may come in, and the change it makes.
//!
//! A license is admitted when its signature is by a trusted key, it follows
//! the rules every license follows, its key was not retired before it was
//! signed, it is not revoked, it is for this product (and region, and
//! install, when they are set), it was not signed later than this machine's
//! clock allows, it is valid now, the clock was not set back, the replay
//! rules ([`crate::replay`]) let it replace the license in force, and it is
//! above every floor of its chain ([`crate::chains`]). The change is applied to a value of the state; the handle writes
//! it in one atomic step with the gateway and the credentials.

use license_common::armor;
use license_common::envelope::{self, Kind, Verified};
use license_common::license::{License, Phase};
use license_common::time::Timestamp;
use serde::Serialize;

use crate::credentials::Credentials;
use crate::error::ActivatorError;
use crate::history::{HistoryEntry, HistoryEvent, MAX_HISTORY};
use crate::replay;
use crate::snapshot::{Snapshot, still_valid};
use crate::state::{StateFile, StoredLicense};

/// The rest of an activation: gateway, credentials, and whether a license of
/// another account may replace the one in force.
#[derive(Debug, Default)]
pub struct Setup<'a> {
    /// The data gateway address template (`...?token={}`).
    pub gateway: Option<&'a str>,
    /// The access key pair, sealed when stored.
    pub credentials: Option<Credentials>,
    /// Allow a license of another account to replace the one in force (a
    /// deliberate account change); the activation's notes say what was
    /// thrown away.
    pub replace_account: bool,
}

/// What an activation did (`activator activate --json`, format 1):
///
/// ```json
/// {"format": 1, "activated": true, "already_active": false,
///  "replaced": "0193…" | null, "changed": true, "notes": ["..."],
///  "license": {every signed field}}
/// ```
///
/// The command line adds `"status"`, the status after the activation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Activation {
    /// Version of this JSON shape.
    pub format: u32,
    /// True when the license became the one in force now.
    pub activated: bool,
    /// True when this very license was already in force.
    pub already_active: bool,
    /// The id of the license it replaced, if any.
    pub replaced: Option<String>,
    /// True when the state directory was written.
    pub changed: bool,
    /// Things the operator should know (e.g. how the gateway address was read).
    pub notes: Vec<String>,
    /// The license now in force.
    pub license: License,
}

/// A license that passed every check but the replay rules (which
/// [`apply`] decides): its token and content.
pub(crate) struct Admitted {
    pub token: String,
    pub verified: Verified<License>,
}

/// Verifies a license text (armored or compact) for activation at `now`,
/// against what `snapshot` trusts and holds. Nothing is changed.
pub(crate) fn admit(snapshot: &Snapshot, text: &str, now: Timestamp) -> Result<Admitted, ActivatorError> {
    let token = armor::read(text, Kind::License)?;
    let verified: Verified<License> = envelope::open(&token, Kind::License, &snapshot.keyring)?;
    let license = &verified.content;
    license.check_shape().map_err(ActivatorError::invalid)?;
    still_valid(&snapshot.keyring, snapshot.revocations.as_ref(), license, verified.kid)?;
    if license.product != snapshot.product {
        return Err(ActivatorError::WrongProduct {
            id: license.id.clone(),
            license: license.product.clone(),
            install: snapshot.product.clone(),
        });
    }
    if let Some(region) = &snapshot.region
        && &license.region != region
    {
        return Err(ActivatorError::WrongRegion {
            id: license.id.clone(),
            license: license.region.clone(),
            install: region.clone(),
        });
    }
    if license.issued_at > now.plus(crate::snapshot::CLOCK_TOLERANCE) {
        return Err(ActivatorError::IssuedInFuture { id: license.id.clone(), issued_at: license.issued_at, now });
    }
    match license.phase_at(now) {
        Phase::NotYetValid { starts_at } => {
            return Err(ActivatorError::NotYetValid { id: license.id.clone(), starts_at });
        }
        Phase::Grace { expired_at, .. } | Phase::Released { expired_at, .. } => {
            return Err(ActivatorError::Expired { id: license.id.clone(), expired_at });
        }
        Phase::Active { .. } => {}
    }
    crate::snapshot::bound_here(license, snapshot.install_id.as_deref(), snapshot.moved)?;
    snapshot.refuse_clock_set_back(now)?;
    Ok(Admitted { token, verified })
}

/// Applies an admitted license to `next` (the state `snapshot` was made
/// from): the license in force, the history, the clock's high-water mark.
pub(crate) fn apply(
    next: &mut StateFile,
    snapshot: &Snapshot,
    admitted: Admitted,
    replace_account: bool,
    now: Timestamp,
) -> Result<Activation, ActivatorError> {
    let license = admitted.verified.content;
    let admission = replay::admit(snapshot.current.as_ref(), &snapshot.history, &license, replace_account, now)?;
    if !admission.already_active {
        crate::snapshot::floors_admit(&snapshot.chains, &license)?;
        crate::chains::saw(&mut next.chains, &license);
        // The same license again writes nothing, not even the clock's mark;
        // the mark never goes past this machine's own time.
        next.high_water = next.high_water.max(Some(now));
        next.license = Some(StoredLicense { token: admitted.token, activated_at: now });
        // A product without a free edition says so in its licenses; the
        // install remembers it, so it never falls back to a community
        // edition that does not exist.
        if license.free_edition == Some(false) {
            next.free_edition = Some(false);
        }
        next.history.push(HistoryEntry {
            at: now,
            license: license.id.clone(),
            account: license.account.clone(),
            edition: license.edition.clone(),
            sequence: license.sequence,
            expires_at: license.expires_at,
            replaced: admission.replaced.clone(),
            account_change: admission.account_change,
            event: HistoryEvent::Activated,
        });
        let excess = next.history.len().saturating_sub(MAX_HISTORY);
        next.history.drain(..excess);
    }
    Ok(Activation {
        format: 1,
        activated: !admission.already_active,
        already_active: admission.already_active,
        replaced: if admission.already_active { None } else { admission.replaced },
        changed: false,
        notes: admission.notes,
        license,
    })
}

impl std::fmt::Display for Activation {
    /// One line saying what happened (two when a license was replaced).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use license_common::text::escape;
        let l = &self.license;
        if self.already_active {
            let what = if self.changed { "; the other settings were updated" } else { "; nothing changed" };
            writeln!(f, "license {} is already active{what}", escape(&l.id))?;
        } else {
            writeln!(
                f,
                "activated license {} ({} edition, {}) for account {}",
                escape(&l.id),
                escape(&l.edition),
                l.plan,
                escape(&l.account)
            )?;
        }
        if let Some(old) = &self.replaced {
            writeln!(f, "it replaces license {}", escape(old))?;
        }
        for note in &self.notes {
            writeln!(f, "note: {}", escape(note))?;
        }
        Ok(())
    }
}
