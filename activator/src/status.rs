//! The status of an install: what `activator status` prints.

use std::collections::BTreeMap;
use std::fmt;

use license_common::keys::KeyId;
use license_common::license::{PackageGrant, Phase, Plan};
use license_common::text::escape;
use license_common::time::{Timestamp, human_duration};
use serde::Serialize;

use crate::snapshot::Snapshot;

/// The version of the `--json` shape below.
pub const STATUS_FORMAT: u32 = 1;

/// Where an install stands at a moment.
///
/// `activator status --json` prints exactly this, one JSON object:
///
/// ```json
/// {
///   "format": 1,                      // version of this shape
///   "product": "data-platform",
///   "edition": "intelligent_rnd",     // "community" without a usable license ("none" for a product without one)
///   "phase": "active",                // community | unlicensed | not_yet_valid | active | grace | released
///   "deletion_due": null,             // a product without a free edition: when a released instance's data is due for deletion
///   "usable": true,                   // may the commercial features be used now?
///   "checked_at": "2026-11-23T10:00:00Z",
///   "license": { ... } | null,        // see LicenseStatus
///   "gateway": "https://gw.example.com/v1/write?token={}" | null,
///   "credentials": {"access_key": "AK…", "secret_key": "****abcd"} | null,
///   "clock_set_back": false,
///   "install_id": "0123456789abcdef" | null,   // made on first use
///   "keys_compiled_in": false,       // true when a launcher's compiled-in keys verify
///   "warnings": ["..."]               // expiring soon, grace countdown, stored license refused
/// }
/// ```
///
/// Strings from the signed license are given as signed (JSON escapes them);
/// the human form escapes control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Version of this shape, [`STATUS_FORMAT`].
    pub format: u32,
    /// The install's product.
    pub product: String,
    /// The edition in force: the license's while active or in grace, else `community`.
    pub edition: String,
    /// `community`, `unlicensed` (no license, and the product has no free
    /// edition), `not_yet_valid`, `active`, `grace` or `released`.
    pub phase: &'static str,
    /// For a product without a free edition, in grace or released: when the
    /// instance's data is (or was) due for deletion, as the vendor's terms say.
    pub deletion_due: Option<Timestamp>,
    /// True when the commercial license may be used now.
    pub usable: bool,
    /// The time this status was computed for.
    pub checked_at: Timestamp,
    /// The license on record, if any.
    pub license: Option<LicenseStatus>,
    /// The data-gateway address template, exactly as stored.
    pub gateway: Option<String>,
    /// The access key and the masked secret key (`****` + last 4).
    pub credentials: Option<crate::credentials::MaskedCredentials>,
    /// True when the machine's clock reads earlier than time already seen.
    pub clock_set_back: bool,
    /// This install's id, once its install key exists.
    pub install_id: Option<String>,
    /// True when licenses are verified with keys compiled into the
    /// launcher rather than the stored keyring.
    pub keys_compiled_in: bool,
    /// Things the operator should know, in plain sentences.
    pub warnings: Vec<String>,
}

/// The license part of [`Status`]. Durations are whole seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LicenseStatus {
    /// License id.
    pub id: String,
    /// The key that signed it.
    pub kid: KeyId,
    /// The primary account.
    pub account: String,
    /// Licensee name.
    pub licensee: String,
    /// Region or site.
    pub region: String,
    /// Edition.
    pub edition: String,
    /// Compute engine, if any.
    pub engine: Option<String>,
    /// Plan.
    pub plan: Plan,
    /// Settlement account kind.
    pub settlement: String,
    /// Sequence number.
    pub sequence: u64,
    /// The license it replaced, if any.
    pub supersedes: Option<String>,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// When this install activated it.
    pub activated_at: Timestamp,
    /// Expiry (`null` for perpetual).
    pub expires_at: Option<Timestamp>,
    /// Seconds until expiry (negative once expired; `null` for perpetual).
    pub remaining_seconds: Option<i64>,
    /// Grace period in days.
    pub grace_days: u32,
    /// When the instance is (or was) released (`null` for perpetual).
    pub release_at: Option<Timestamp>,
    /// Seconds until release, while in grace.
    pub release_in_seconds: Option<i64>,
    /// Inside the notice period before expiry.
    pub expiring_soon: bool,
    /// Packages and tiers with their limits.
    pub packages: BTreeMap<String, PackageGrant>,
    /// Quotas.
    pub quotas: BTreeMap<String, u64>,
}

impl Status {
    /// Where the install of `snapshot` stands at `now`: a pure function of
    /// the two.
    pub(crate) fn at(snapshot: &Snapshot, now: Timestamp) -> Status {
        let mut warnings = Vec::new();
        warnings.extend(snapshot.problems.iter().cloned());
        let clock_set_back = snapshot.clock_set_back(now);
        if let Some(mark) = clock_set_back {
            warnings.push(format!(
                "the clock was set back: it reads {now}, but this install has already seen {mark}; commercial features are off until the clock is right again (nothing was deleted)"
            ));
        }
        let gateway = snapshot.gateway.as_ref().map(|g| g.as_str().to_owned());
        let credentials = snapshot.credentials.as_ref().map(|c| c.masked());
        let unlicensed = if snapshot.free_edition { "community" } else { "none" };
        let Some(active) = snapshot.current.as_ref() else {
            return Status {
                format: STATUS_FORMAT,
                product: snapshot.product.clone(),
                edition: unlicensed.into(),
                phase: if snapshot.free_edition { "community" } else { "unlicensed" },
                deletion_due: None,
                usable: false,
                checked_at: now,
                license: None,
                gateway,
                credentials,
                clock_set_back: clock_set_back.is_some(),
                install_id: snapshot.install_id.clone(),
                keys_compiled_in: snapshot.keys_compiled_in,
                warnings,
            };
        };
        let l = &active.license;
        let phase = l.phase_at(now);
        let mut release_in_seconds = None;
        match phase {
            Phase::Active { expires_at: Some(e) } if l.expiring_soon(now) => warnings.push(format!(
                "license {} expires in {} (on {e}); ask the vendor for a renewal",
                l.id,
                human_duration(e.since(now))
            )),
            Phase::Grace { expired_at, release_at } => {
                release_in_seconds = Some(release_at.since(now).num_seconds());
                let then = if snapshot.free_edition { "released" } else { "released and all its data deleted" };
                warnings.push(format!(
                    "license {} expired on {expired_at}; the product is not usable, all data is kept; \
                     the instance will be {then} in {} (on {release_at}) unless it is renewed",
                    l.id,
                    human_duration(release_at.since(now))
                ));
            }
            Phase::Released { released_at, .. } if snapshot.free_edition => warnings.push(format!(
                "license {} was released on {released_at} after its grace period; the install runs the community edition",
                l.id
            )),
            Phase::Released { released_at, .. } => warnings.push(format!(
                "license {} was released on {released_at} after its grace period: the instance is released and its data is due for deletion since then; this product has no free edition",
                l.id
            )),
            _ => {}
        }
        let edition = match phase {
            Phase::Active { .. } | Phase::Grace { .. } => l.edition.clone(),
            _ => unlicensed.into(),
        };
        let deletion_due = match phase {
            Phase::Grace { release_at, .. } if !snapshot.free_edition => Some(release_at),
            Phase::Released { released_at, .. } if !snapshot.free_edition => Some(released_at),
            _ => None,
        };
        Status {
            format: STATUS_FORMAT,
            product: snapshot.product.clone(),
            edition,
            phase: phase.name(),
            deletion_due,
            usable: phase.is_usable() && clock_set_back.is_none(),
            checked_at: now,
            license: Some(LicenseStatus {
                id: l.id.clone(),
                kid: active.kid,
                account: l.account.clone(),
                licensee: l.licensee.clone(),
                region: l.region.clone(),
                edition: l.edition.clone(),
                engine: l.engine.clone(),
                plan: l.plan,
                settlement: l.settlement.clone(),
                sequence: l.sequence,
                supersedes: l.supersedes.clone(),
                issued_at: l.issued_at,
                activated_at: active.activated_at,
                expires_at: l.expires_at,
                remaining_seconds: l.expires_at.map(|e| e.since(now).num_seconds()),
                grace_days: l.grace_days,
                release_at: l.release_at(),
                release_in_seconds,
                expiring_soon: l.expiring_soon(now),
                packages: l.packages.clone(),
                quotas: l.quotas.clone(),
            }),
            gateway,
            credentials,
            clock_set_back: clock_set_back.is_some(),
            install_id: snapshot.install_id.clone(),
            keys_compiled_in: snapshot.keys_compiled_in,
            warnings,
        }
    }
}

/// Formats the limits of a tier: `qps 2500, units 4`.
pub fn format_limits(limits: &BTreeMap<String, u64>) -> String {
    limits.iter().map(|(k, v)| format!("{} {v}", escape(k))).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = |f: &mut fmt::Formatter<'_>, label: &str, value: &dyn fmt::Display| writeln!(f, "{label:<14}{value}");
        let phase = match self.phase {
            "community" => "community edition (no commercial license)",
            "unlicensed" => "no license in force (this product has no free edition)",
            "released" if self.deletion_due.is_some() => {
                "released (grace period over; the instance's data is due for deletion)"
            }
            "active" => "active",
            "grace" => "expired, in grace period (not usable; data kept; renewable)",
            "released" => "released (grace period over; community edition)",
            "not_yet_valid" => "not valid yet",
            other => other,
        };
        row(f, "Product:", &escape(&self.product))?;
        row(f, "Edition:", &escape(&self.edition))?;
        row(f, "State:", &phase)?;
        if let Some(due) = self.deletion_due {
            row(f, "Deletion due:", &due)?;
        }
        if let Some(l) = &self.license {
            let now = self.checked_at;
            row(f, "Plan:", &l.plan)?;
            row(f, "License:", &format!("{} (sequence {}, key {})", escape(&l.id), l.sequence, l.kid))?;
            row(f, "Account:", &escape(&l.account))?;
            row(f, "Licensee:", &escape(&l.licensee))?;
            row(f, "Region:", &escape(&l.region))?;
            if let Some(engine) = &l.engine {
                row(f, "Engine:", &escape(engine))?;
            }
            row(f, "Settlement:", &escape(&l.settlement))?;
            row(f, "Activated at:", &l.activated_at)?;
            match l.expires_at {
                None => row(f, "Expires at:", &"never (perpetual)")?,
                Some(e) => {
                    row(f, "Expires at:", &e)?;
                    let remaining = e.since(now);
                    if remaining.num_seconds() > 0 {
                        row(f, "Remaining:", &human_duration(remaining))?;
                    } else {
                        row(f, "Remaining:", &format!("none (expired {} ago)", human_duration(remaining)))?;
                    }
                }
            }
            if let Some(release_at) = l.release_at {
                let left = release_at.since(now);
                if self.phase == "grace" {
                    row(
                        f,
                        "Release in:",
                        &format!(
                            "{} (on {release_at}, after a {}-day grace period)",
                            human_duration(left),
                            l.grace_days
                        ),
                    )?;
                } else if self.phase == "active" {
                    row(f, "Grace:", &format!("{} days after expiry, until {release_at}", l.grace_days))?;
                }
            }
            if l.packages.is_empty() {
                row(f, "Packages:", &"none")?;
            }
            for (i, (name, grant)) in l.packages.iter().enumerate() {
                let label = if i == 0 { "Packages:" } else { "" };
                let limits = if grant.limits.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", format_limits(&grant.limits))
                };
                row(f, label, &format!("{} = {}{limits}", escape(name), escape(&grant.tier)))?;
            }
            for (i, (name, value)) in l.quotas.iter().enumerate() {
                row(f, if i == 0 { "Quotas:" } else { "" }, &format!("{} = {value}", escape(name)))?;
            }
        }
        if let Some(g) = &self.gateway {
            row(f, "Gateway:", &escape(g))?;
        }
        row(f, "Install id:", &self.install_id.as_deref().unwrap_or("none yet (made on first use)"))?;
        let keys = if self.keys_compiled_in {
            "compiled into the launcher (the state's keyring is not used)"
        } else {
            "the state's keyring (activator trust list)"
        };
        row(f, "Vendor keys:", &keys)?;
        if let Some(c) = &self.credentials {
            row(f, "Access key:", &format!("{} (secret {})", escape(&c.access_key), c.secret_key))?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {}", escape(w))?;
        }
        Ok(())
    }
}
