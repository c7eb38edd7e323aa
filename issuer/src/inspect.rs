//! `issuer inspect`: verify a license and describe it in plain words.

use std::fmt;

use license_common::armor;
use license_common::envelope::{self, Kind};
use license_common::keys::{KeyId, Keyring, PublicKey};
use license_common::license::{License, Phase};
use license_common::text::escape;
use license_common::time::{Timestamp, human_duration};
use serde::Serialize;

use crate::error::IssuerError;

/// A verified license, described at a moment.
///
/// `issuer inspect --json` prints this object:
/// `{"format": 1, "kid": "...", "phase": "active|grace|released|not_yet_valid",
///   "checked_at": "...", "license": { every signed field }}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// Version of this JSON shape.
    pub format: u32,
    /// The key that signed it.
    pub kid: KeyId,
    /// Its phase at `checked_at`.
    pub phase: &'static str,
    /// When it was checked.
    pub checked_at: Timestamp,
    /// The signed content.
    pub license: License,
}

/// Verifies `text` (armored or compact) with `public` and describes it at `now`.
pub fn inspect(text: &str, public: PublicKey, now: Timestamp) -> Result<Inspection, IssuerError> {
    let token = armor::read(text, Kind::License)?;
    let verified = envelope::open::<License>(&token, Kind::License, &Keyring::from_keys([public]))?;
    verified.content.check_shape().map_err(IssuerError::InvalidLicense)?;
    Ok(Inspection {
        format: 1,
        kid: verified.kid,
        phase: verified.content.phase_at(now).name(),
        checked_at: now,
        license: verified.content,
    })
}

fn when(t: Timestamp, now: Timestamp) -> String {
    let d = t.since(now);
    if d.num_seconds().abs() < 60 {
        format!("{t} (now)")
    } else if d.num_seconds() >= 0 {
        format!("{t} (in {})", human_duration(d))
    } else {
        format!("{t} ({} ago)", human_duration(d))
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.license;
        let now = self.checked_at;
        let row = |f: &mut fmt::Formatter<'_>, k: &str, v: &dyn fmt::Display| writeln!(f, "{k:<14}{v}");
        row(f, "Signature:", &format!("valid, key {}", self.kid))?;
        row(f, "License:", &escape(&l.id))?;
        row(f, "Product:", &escape(&l.product))?;
        row(f, "Account:", &escape(&l.account))?;
        row(f, "Licensee:", &escape(&l.licensee))?;
        row(f, "Region:", &escape(&l.region))?;
        row(f, "Edition:", &escape(&l.edition))?;
        if let Some(engine) = &l.engine {
            row(f, "Engine:", &escape(engine))?;
        }
        row(f, "Plan:", &l.plan)?;
        row(f, "Settlement:", &escape(&l.settlement))?;
        row(f, "Issued at:", &when(l.issued_at, now))?;
        row(f, "Valid from:", &when(l.not_before, now))?;
        match l.expires_at {
            Some(e) => row(f, "Expires at:", &when(e, now))?,
            None => row(f, "Expires at:", &"never (perpetual)")?,
        }
        row(f, "Grace:", &format!("{} days after expiry", l.grace_days))?;
        row(f, "Notice:", &format!("warn {} days before expiry", l.notice_days))?;
        if let Some(by) = l.activate_by {
            row(f, "Activate by:", &when(by, now))?;
        }
        row(f, "Sequence:", &l.sequence)?;
        if let Some(s) = &l.supersedes {
            row(f, "Supersedes:", &escape(s))?;
        }
        if l.packages.is_empty() {
            row(f, "Packages:", &"none")?;
        }
        for (i, (name, g)) in l.packages.iter().enumerate() {
            let limits: Vec<String> = g.limits.iter().map(|(k, v)| format!("{} {v}", escape(k))).collect();
            let limits = if limits.is_empty() { String::new() } else { format!(" ({})", limits.join(", ")) };
            row(f, if i == 0 { "Packages:" } else { "" }, &format!("{} = {}{limits}", escape(name), escape(&g.tier)))?;
        }
        for (i, (name, v)) in l.quotas.iter().enumerate() {
            row(f, if i == 0 { "Quotas:" } else { "" }, &format!("{} = {v}", escape(name)))?;
        }
        let state = match l.phase_at(now) {
            Phase::NotYetValid { starts_at } => {
                format!("not valid yet (starts {})", when(starts_at, now))
            }
            Phase::Active { expires_at: None } => "active, perpetual".into(),
            Phase::Active { expires_at: Some(e) } => format!("active, {} remaining", human_duration(e.since(now))),
            Phase::Grace { release_at, .. } => {
                format!("expired; in grace, released {}", when(release_at, now))
            }
            Phase::Released { released_at, .. } => {
                format!("expired and released {}", when(released_at, now))
            }
        };
        row(f, "State:", &state)
    }
}
