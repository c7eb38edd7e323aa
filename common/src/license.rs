//! The license: what a vendor grants an account, and its lifecycle.
//!
//! A license is the JSON payload of a `lic1` envelope. Every field is
//! always present (optional ones as `null`), unknown and duplicate fields are
//! refused, and all times are UTC to the second.
//!
//! # Lifecycle
//!
//! With `E` = `expires_at` and `G` = `grace_days`:
//!
//! | time `t`                 | phase                | usable | renewable |
//! |--------------------------|----------------------|--------|-----------|
//! | `t < not_before`         | [`Phase::NotYetValid`] | no   | —         |
//! | `not_before ≤ t < E`     | [`Phase::Active`]    | yes    | yes       |
//! | `E ≤ t < E + G days`     | [`Phase::Grace`]     | no, data kept | yes |
//! | `E + G days ≤ t`         | [`Phase::Released`]  | no, commercial rights gone | no |
//!
//! A perpetual license (no `expires_at`) stays active.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The payload format version this build writes and reads.
pub const LICENSE_FORMAT: u32 = 1;
/// The grace period after expiry when the catalog says nothing else.
pub const DEFAULT_GRACE_DAYS: u32 = 14;
/// How long before expiry the "expiring soon" warning starts, by default.
pub const DEFAULT_NOTICE_DAYS: u32 = 30;
/// The longest grace or notice period a license may carry.
pub const MAX_PERIOD_DAYS: u32 = 366;
/// The horizon: no time of a license lies more than this many years after
/// it was signed (nor before 1970), so every date stays readable.
pub const HORIZON_YEARS: u32 = 100;

/// How the customer pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// Billed by usage; must be activated within the activation window.
    PayAsYouGo,
    /// Paid for a fixed term.
    Subscription,
    /// Paid once; never expires.
    Perpetual,
}

impl Plan {
    /// Every plan.
    pub const ALL: [Plan; 3] = [Plan::PayAsYouGo, Plan::Subscription, Plan::Perpetual];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Plan::PayAsYouGo => "pay_as_you_go",
            Plan::Subscription => "subscription",
            Plan::Perpetual => "perpetual",
        }
    }

    /// Parses a wire name (`-` accepted for `_`).
    pub fn parse(s: &str) -> Option<Plan> {
        match s.replace('-', "_").as_str() {
            "pay_as_you_go" | "payg" => Some(Plan::PayAsYouGo),
            "subscription" => Some(Plan::Subscription),
            "perpetual" => Some(Plan::Perpetual),
            _ => None,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value-added package granted at a tier, with the tier's limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageGrant {
    /// The tier id, e.g. `api.s1.small`.
    pub tier: String,
    /// Every tier this grant includes, lowest first, ending with `tier`, so
    /// an install can compare tiers without the catalog.
    pub includes: Vec<String>,
    /// Limits of the tier, e.g. `qps = 2500`.
    #[serde(deserialize_with = "crate::strict_map::deserialize")]
    pub limits: BTreeMap<String, u64>,
}

/// A signed license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// Payload format version, [`LICENSE_FORMAT`].
    pub format: u32,
    /// Unique id (a UUID v7).
    pub id: String,
    /// The product this license is for, e.g. `observability`.
    pub product: String,
    /// The primary account: the only one that may renew or upgrade.
    pub account: String,
    /// The licensee's name, as shown to people.
    pub licensee: String,
    /// The region or site of the instance.
    pub region: String,
    /// The edition, e.g. `commercial` or `intelligent_rnd`.
    pub edition: String,
    /// The compute engine, for products whose engine cannot be switched.
    pub engine: Option<String>,
    /// How it is paid for.
    pub plan: Plan,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// Not valid before this time.
    pub not_before: Timestamp,
    /// When it expires; `null` only for perpetual licenses.
    pub expires_at: Option<Timestamp>,
    /// Days after expiry before the instance is released.
    pub grace_days: u32,
    /// Pay-as-you-go: must be activated before this time.
    pub activate_by: Option<Timestamp>,
    /// The settlement account kind, e.g. `enterprise`.
    pub settlement: String,
    /// Value-added packages by id.
    #[serde(deserialize_with = "crate::strict_map::deserialize")]
    pub packages: BTreeMap<String, PackageGrant>,
    /// Quotas by id, e.g. `processing_units = 40`.
    #[serde(deserialize_with = "crate::strict_map::deserialize")]
    pub quotas: BTreeMap<String, u64>,
    /// The license id this one replaces, if any.
    pub supersedes: Option<String>,
    /// Grows with each license of the account; an older one never replaces a newer.
    pub sequence: u64,
    /// Days before expiry from which an "expiring soon" warning is shown.
    pub notice_days: u32,
    /// The install this license is bound to (its install id), or `null`
    /// for a license any install of the product may activate.
    pub install: Option<String>,
    /// Pay-as-you-go: what the install counts each day and when its days
    /// begin. Absent on other plans (and in licenses of release 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageTerms>,
    /// `false` when the product has no free edition: an install that ran
    /// this license never falls back to a community edition, and once it is
    /// released its data is due for deletion. Absent when the product has
    /// one (and in licenses of release 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_edition: Option<bool>,
}

/// How a pay-as-you-go license's usage is counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageTerms {
    /// What is counted each day, e.g. `datakit`.
    pub meter: String,
    /// One of it, in messages, e.g. `DataKit`.
    pub unit: String,
    /// Several of it, e.g. `DataKits`.
    pub units: String,
    /// Minutes east of UTC at which usage days begin (480 for China
    /// Standard Time).
    pub utc_offset_minutes: i32,
    /// Fewer than this many are billed as this many (the catalog's
    /// `minimum_count`), so an install can show what a day costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_count: Option<u64>,
    /// The price of one per day, in minor units of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_per_day: Option<u64>,
    /// The currency of the price (ISO 4217).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl UsageTerms {
    /// What a day with `count` is billed: at least the minimum, and its
    /// amount in minor units (when the license carries the price).
    pub fn billed(&self, count: u64) -> (u64, Option<u64>) {
        let billed = count.max(self.minimum_count.unwrap_or(0));
        (billed, self.unit_price_per_day.map(|p| p.saturating_mul(billed)))
    }

    /// The usage day `at` falls on.
    pub fn day_of(&self, at: Timestamp) -> chrono::NaiveDate {
        at.plus(chrono::Duration::minutes(i64::from(self.utc_offset_minutes))).as_datetime().date_naive()
    }
}

/// Where a license stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before `not_before`.
    NotYetValid {
        /// When it becomes valid.
        starts_at: Timestamp,
    },
    /// In force.
    Active {
        /// When it expires (`None` for perpetual).
        expires_at: Option<Timestamp>,
    },
    /// Expired, inside the grace period: not usable, data kept, renewable.
    Grace {
        /// When it expired.
        expired_at: Timestamp,
        /// When the instance will be released.
        release_at: Timestamp,
    },
    /// The grace period is over: commercial rights are gone.
    Released {
        /// When it expired.
        expired_at: Timestamp,
        /// When it was released.
        released_at: Timestamp,
    },
}

impl Phase {
    /// The phase at `now` of a license in force from `not_before` until
    /// `expires_at` (`None`: perpetual), whose instance is released
    /// `grace_days` after it expires: what [`License::phase_at`] says of a
    /// license's own fields. `grace_days` counts only once it expired.
    pub fn at(not_before: Timestamp, expires_at: Option<Timestamp>, grace_days: u32, now: Timestamp) -> Phase {
        if now < not_before {
            return Phase::NotYetValid { starts_at: not_before };
        }
        match expires_at {
            None => Phase::Active { expires_at: None },
            Some(expired_at) if now < expired_at => Phase::Active { expires_at: Some(expired_at) },
            Some(expired_at) => {
                let release_at = expired_at.plus_days(grace_days);
                if now < release_at {
                    Phase::Grace { expired_at, release_at }
                } else {
                    Phase::Released { expired_at, released_at: release_at }
                }
            }
        }
    }

    /// A short stable name: `not_yet_valid`, `active`, `grace`, `released`.
    pub const fn name(&self) -> &'static str {
        match self {
            Phase::NotYetValid { .. } => "not_yet_valid",
            Phase::Active { .. } => "active",
            Phase::Grace { .. } => "grace",
            Phase::Released { .. } => "released",
        }
    }

    /// True only when the license grants its rights now.
    pub const fn is_usable(&self) -> bool {
        matches!(self, Phase::Active { .. })
    }
}

impl PackageGrant {
    /// True when this grant includes `tier` (the granted tier or a lower one).
    pub fn includes_tier(&self, tier: &str) -> bool {
        self.includes.iter().any(|t| t == tier)
    }
}

impl License {
    /// The usage and billing day `at` falls on: a calendar day in the time
    /// zone of the license's usage terms, else in UTC. Installs record
    /// usage and vendors check reports by this one rule.
    pub fn usage_day(&self, at: Timestamp) -> chrono::NaiveDate {
        match &self.usage {
            Some(terms) => terms.day_of(at),
            None => at.as_datetime().date_naive(),
        }
    }

    /// The phase of this license at `now`.
    pub fn phase_at(&self, now: Timestamp) -> Phase {
        Phase::at(self.not_before, self.expires_at, self.grace_days, now)
    }

    /// When the instance is released: expiry plus the grace period.
    pub fn release_at(&self) -> Option<Timestamp> {
        self.expires_at.map(|e| e.plus_days(self.grace_days))
    }

    /// True when `now` is inside the notice period before expiry.
    pub fn expiring_soon(&self, now: Timestamp) -> bool {
        match (self.phase_at(now), self.expires_at) {
            (Phase::Active { .. }, Some(e)) => now >= e.plus(-chrono::Duration::days(i64::from(self.notice_days))),
            _ => false,
        }
    }

    /// Checks the rules every license must follow, whatever the catalog.
    pub fn check_shape(&self) -> Result<(), String> {
        if self.format != LICENSE_FORMAT {
            return Err(format!("format {} is not {LICENSE_FORMAT}", self.format));
        }
        for (name, value) in [
            ("id", &self.id),
            ("product", &self.product),
            ("account", &self.account),
            ("region", &self.region),
            ("edition", &self.edition),
            ("settlement", &self.settlement),
        ] {
            if value.trim().is_empty() {
                return Err(format!("`{name}` is empty"));
            }
        }
        match (self.plan, self.expires_at) {
            (Plan::Perpetual, Some(_)) => return Err("a perpetual license has no expiry".into()),
            (Plan::PayAsYouGo | Plan::Subscription, None) => {
                return Err(format!("a {} license needs an expiry", self.plan));
            }
            (_, Some(e)) if e <= self.not_before => {
                return Err(format!("it expires ({e}) before it starts ({})", self.not_before));
            }
            _ => {}
        }
        let horizon = self.issued_at.plus_months(HORIZON_YEARS * 12);
        for (name, time) in
            [("not_before", Some(self.not_before)), ("expires_at", self.expires_at), ("activate_by", self.activate_by)]
        {
            if let Some(t) = time
                && (t.unix() < 0 || horizon.is_none_or(|h| t > h))
            {
                return Err(format!(
                    "`{name}` ({t}) is more than {HORIZON_YEARS} years after it was signed, or before 1970"
                ));
            }
        }
        if self.grace_days > MAX_PERIOD_DAYS || self.notice_days > MAX_PERIOD_DAYS {
            return Err(format!("grace and notice periods are at most {MAX_PERIOD_DAYS} days"));
        }
        for (id, grant) in &self.packages {
            if grant.includes.last() != Some(&grant.tier) {
                return Err(format!("package `{id}`: `includes` must end with the granted tier"));
            }
        }
        if self.sequence == 0 {
            return Err("the sequence number starts at 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> License {
        let t = |s: &str| Timestamp::parse_wire(s).unwrap();
        License {
            format: LICENSE_FORMAT,
            id: "0192f7a0-0000-7000-8000-000000000001".into(),
            product: "data-platform".into(),
            account: "acct-1001".into(),
            licensee: "Acme Analytics".into(),
            region: "cn-hangzhou".into(),
            edition: "intelligent_rnd".into(),
            engine: Some("maxcompute".into()),
            plan: Plan::Subscription,
            issued_at: t("2026-01-01T00:00:00Z"),
            not_before: t("2026-01-01T00:00:00Z"),
            expires_at: Some(t("2027-01-01T00:00:00Z")),
            grace_days: 14,
            activate_by: None,
            settlement: "enterprise".into(),
            packages: BTreeMap::from([(
                "data_service".into(),
                PackageGrant {
                    tier: "api.s1.small".into(),
                    includes: vec!["api.base".into(), "api.s1.small".into()],
                    limits: BTreeMap::from([("qps".into(), 2500)]),
                },
            )]),
            quotas: BTreeMap::from([("processing_units".into(), 40)]),
            supersedes: None,
            sequence: 1,
            notice_days: 30,
            install: None,
            usage: None,
            free_edition: None,
        }
    }

    #[test]
    fn phases_change_exactly_at_their_boundaries() {
        let l = sample();
        let t = |s: &str| Timestamp::parse_wire(s).unwrap();
        assert_eq!(l.phase_at(t("2025-12-31T23:59:59Z")).name(), "not_yet_valid");
        assert_eq!(l.phase_at(t("2026-01-01T00:00:00Z")).name(), "active");
        assert_eq!(l.phase_at(t("2026-12-31T23:59:59Z")).name(), "active");
        assert_eq!(
            l.phase_at(t("2027-01-01T00:00:00Z")),
            Phase::Grace { expired_at: t("2027-01-01T00:00:00Z"), release_at: t("2027-01-15T00:00:00Z") }
        );
        assert_eq!(l.phase_at(t("2027-01-14T23:59:59Z")).name(), "grace");
        assert_eq!(l.phase_at(t("2027-01-15T00:00:00Z")).name(), "released");
    }

    #[test]
    fn notice_period_starts_notice_days_before_expiry() {
        let l = sample();
        let t = |s: &str| Timestamp::parse_wire(s).unwrap();
        assert!(!l.expiring_soon(t("2026-12-01T23:59:59Z")));
        assert!(l.expiring_soon(t("2026-12-02T00:00:00Z")));
        assert!(!l.expiring_soon(t("2027-01-02T00:00:00Z")), "in grace it is expired, not expiring");
    }

    #[test]
    fn times_beyond_the_horizon_are_refused() {
        let mut l = sample();
        l.expires_at = Some(l.issued_at.plus_months(HORIZON_YEARS * 12 + 1).unwrap());
        assert!(l.check_shape().unwrap_err().contains("100 years"));
        l.expires_at = Some(l.issued_at.plus_months(HORIZON_YEARS * 12).unwrap());
        l.check_shape().unwrap();
    }

    #[test]
    fn perpetual_stays_active() {
        let mut l = sample();
        l.plan = Plan::Perpetual;
        l.expires_at = None;
        l.check_shape().unwrap();
        assert!(l.phase_at(Timestamp::parse_wire("2999-01-01T00:00:00Z").unwrap()).is_usable());
    }

    #[test]
    fn json_round_trip_and_strictness() {
        let l = sample();
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<License>(&json).unwrap(), l);
        let unknown = json.replacen("{", "{\"admin\":true,", 1);
        assert!(serde_json::from_str::<License>(&unknown).unwrap_err().to_string().contains("unknown field"));
        let dup = json.replacen("{", "{\"sequence\":99,", 1);
        assert!(serde_json::from_str::<License>(&dup).unwrap_err().to_string().contains("duplicate field"));
        let dup_pkg = json.replace(
            "\"packages\":{",
            "\"packages\":{\"data_service\":{\"tier\":\"api.s2.large\",\"includes\":[\"api.s2.large\"],\"limits\":{}},",
        );
        assert!(serde_json::from_str::<License>(&dup_pkg).unwrap_err().to_string().contains("duplicate key"));
    }
}

#[cfg(test)]
mod lifecycle_properties {
    use super::tests::sample;
    use super::*;
    use proptest::prelude::*;

    fn rank(phase: &Phase) -> u8 {
        match phase {
            Phase::NotYetValid { .. } => 0,
            Phase::Active { .. } => 1,
            Phase::Grace { .. } => 2,
            Phase::Released { .. } => 3,
        }
    }

    proptest! {
        /// Active → grace → released, never back, for any license and any two moments.
        #[test]
        fn the_lifecycle_only_moves_forward(
            start in 0i64..4_000_000_000,
            length in 1i64..400_000_000,
            grace in 0u32..60,
            a in 0i64..5_000_000_000,
            b in 0i64..5_000_000_000,
        ) {
            let mut l = sample();
            l.not_before = Timestamp::from_unix(start).unwrap();
            l.expires_at = Some(Timestamp::from_unix(start + length).unwrap());
            l.grace_days = grace;
            let (early, late) = (a.min(b), a.max(b));
            let p1 = l.phase_at(Timestamp::from_unix(early).unwrap());
            let p2 = l.phase_at(Timestamp::from_unix(late).unwrap());
            prop_assert!(rank(&p1) <= rank(&p2), "{p1:?} at {early} then {p2:?} at {late}");
            prop_assert_eq!(p2.is_usable(), rank(&p2) == 1);
        }
    }
}
