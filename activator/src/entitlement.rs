//! Entitlement checks: may the product use this package, at this tier, now?
//!
//! A check reads only memory: no I/O, no allocation on success.

use std::collections::BTreeMap;

use license_common::license::{License, Phase};
use license_common::time::Timestamp;
use serde::Serialize;

use crate::error::Denied;

/// A feature that is entitled now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant<'a> {
    /// The package.
    pub feature: &'a str,
    /// The tier granted (which may be above the tier asked for).
    pub tier: &'a str,
    /// The tier's limits.
    pub limits: &'a BTreeMap<String, u64>,
    /// Until when (`None` for perpetual).
    pub until: Option<Timestamp>,
}

/// Checks `feature` (a package id) and optional minimum `tier` against the
/// license in force, for a product with or without a free edition.
pub fn check<'a>(
    license: Option<&'a License>,
    free_edition: bool,
    feature: &'a str,
    tier: Option<&str>,
    now: Timestamp,
) -> Result<Grant<'a>, Denied> {
    let unlicensed = |feature: &str| {
        if free_edition {
            Denied::Community { feature: Denied::escaped(feature) }
        } else {
            Denied::NoLicense { feature: Denied::escaped(feature) }
        }
    };
    let Some(license) = license else {
        return Err(unlicensed(feature));
    };
    let until = match license.phase_at(now) {
        Phase::Active { expires_at } => expires_at,
        Phase::NotYetValid { .. } => {
            return Err(unlicensed(feature));
        }
        Phase::Grace { expired_at, release_at } => {
            return Err(Denied::InGrace { id: license.id.clone(), expired_at, release_at });
        }
        Phase::Released { expired_at, released_at } if !free_edition => {
            return Err(Denied::ReleasedForDeletion { id: license.id.clone(), expired_at, released_at });
        }
        Phase::Released { expired_at, released_at } => {
            return Err(Denied::Released { id: license.id.clone(), expired_at, released_at });
        }
    };
    let Some(grant) = license.packages.get(feature) else {
        let granted: Vec<&str> = license.packages.keys().map(String::as_str).collect();
        return Err(Denied::NotIncluded {
            id: license.id.clone(),
            feature: Denied::escaped(feature),
            granted: if granted.is_empty() { "no package".into() } else { granted.join(", ") },
        });
    };
    if let Some(wanted) = tier
        && !grant.includes_tier(wanted)
    {
        return Err(Denied::TierTooLow {
            id: license.id.clone(),
            feature: Denied::escaped(feature),
            granted: grant.tier.clone(),
            wanted: Denied::escaped(wanted),
        });
    }
    Ok(Grant { feature, tier: &grant.tier, limits: &grant.limits, until })
}

/// The answer to "is FEATURE entitled now?" (`activator check --json`,
/// format 1):
///
/// ```json
/// {"format": 1, "feature": "data_service", "entitled": true,
///  "tier": "api.s1.small", "limits": {"qps": 2500}, "until": "2027-11-23T00:00:00Z"}
/// ```
///
/// When it is not entitled, `entitled` is false, `tier`, `limits` and
/// `until` are null, and the command line adds the `error` object that
/// says why (its class is `not_entitled`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckOutcome<'a> {
    /// Version of this JSON shape.
    pub format: u32,
    /// The package asked about.
    pub feature: &'a str,
    /// Whether it may be used now.
    pub entitled: bool,
    /// The tier granted.
    pub tier: Option<&'a str>,
    /// The tier's limits.
    pub limits: Option<&'a BTreeMap<String, u64>>,
    /// Until when (`null` for perpetual, or when not entitled).
    pub until: Option<Timestamp>,
}

impl<'a> CheckOutcome<'a> {
    /// The outcome of a grant.
    pub fn granted(grant: &Grant<'a>) -> Self {
        CheckOutcome {
            format: 1,
            feature: grant.feature,
            entitled: true,
            tier: Some(grant.tier),
            limits: Some(grant.limits),
            until: grant.until,
        }
    }

    /// The outcome of a denial of `feature`.
    pub fn denied(feature: &'a str) -> Self {
        CheckOutcome { format: 1, feature, entitled: false, tier: None, limits: None, until: None }
    }
}

impl std::fmt::Display for Grant<'_> {
    /// `data_service: entitled at tier api.s1.small (qps 2500) until 2027-11-23T00:00:00Z`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use license_common::text::escape;
        let limits = if self.limits.is_empty() {
            String::new()
        } else {
            format!(" ({})", crate::status::format_limits(self.limits))
        };
        let until = self.until.map_or_else(|| "with no expiry".to_owned(), |u| format!("until {u}"));
        writeln!(f, "{}: entitled at tier {}{limits} {until}", escape(self.feature), escape(self.tier))
    }
}
