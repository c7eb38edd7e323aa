//! Verify a license, or a file an install signed, and describe it in plain
//! words (what `issuer inspect` prints).

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
    verified.content.check_shape().map_err(IssuerError::invalid)?;
    Ok(Inspection {
        format: 1,
        kid: verified.kid,
        phase: verified.content.phase_at(now).name(),
        checked_at: now,
        license: verified.content,
    })
}

/// A verified file an install signed: an activation request, an activation
/// receipt, a usage report or a deactivation receipt.
///
/// `issuer inspect FILE --json` (without `--pub`) prints this object:
/// `{"format": 1, "kind": "activation request", "install_id": "...",
///   "content": { every signed field }}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstallFile {
    /// Version of this JSON shape.
    pub format: u32,
    /// What it is.
    pub kind: Kind,
    /// The install that signed it (the key id of its key).
    pub install_id: String,
    /// The signed content.
    pub content: serde_json::Value,
}

/// Verifies a file an install signed (with the key it carries) and returns
/// its kind and content. A license is refused: it is verified with the
/// vendor's key ([`inspect`]).
pub fn inspect_install_file(text: &str) -> Result<InstallFile, IssuerError> {
    use license_common::exchange::{
        ActivationReceipt, ActivationRequest, DeactivationReceipt, UsageReport, open_self_signed,
    };
    let trimmed = text.trim_start();
    let starts = |kind: Kind| {
        trimmed.starts_with(&format!("-----BEGIN {}-----", kind.label()))
            || trimmed.starts_with(&format!("{}1.", kind.tag()))
    };
    if starts(Kind::License) {
        return Err(IssuerError::LicenseNotInstallFile);
    }
    let kind = Kind::ALL.into_iter().filter(|k| k.is_install_signed()).find(|k| starts(*k)).ok_or_else(|| {
        IssuerError::from(license_common::EnvelopeError::Malformed {
            expected: Kind::ActivationRequest,
            detail: "it is not an install's request, receipt, usage report or deactivation receipt".into(),
        })
    })?;
    let token = armor::read(text, kind)?;
    let (install_id, content) = match kind {
        Kind::ActivationRequest => {
            let c = open_self_signed::<ActivationRequest>(&token, kind)?.content;
            (c.install_id.clone(), serde_json::to_value(c))
        }
        Kind::ActivationReceipt => {
            let c = open_self_signed::<ActivationReceipt>(&token, kind)?.content;
            (c.install_id.clone(), serde_json::to_value(c))
        }
        Kind::UsageReport => {
            let c = open_self_signed::<UsageReport>(&token, kind)?.content;
            (c.install_id.clone(), serde_json::to_value(c))
        }
        _ => {
            let c = open_self_signed::<DeactivationReceipt>(&token, kind)?.content;
            (c.install_id.clone(), serde_json::to_value(c))
        }
    };
    Ok(InstallFile { format: 1, kind, install_id, content: content.expect("exchange payloads serialise") })
}

impl fmt::Display for InstallFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Signature:    valid, install {}", escape(&self.install_id))?;
        writeln!(f, "Kind:         {}", self.kind)?;
        let pretty = serde_json::to_string_pretty(&self.content).map_err(|_| fmt::Error)?;
        writeln!(f, "{}", escape_lines(&pretty))
    }
}

/// Escapes control characters line by line, keeping the line breaks.
fn escape_lines(text: &str) -> String {
    text.lines().map(|l| escape(l).into_owned()).collect::<Vec<_>>().join("\n")
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
