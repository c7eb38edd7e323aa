//! Prorated upgrade and renewal prices, in integer minor units (fen).
//!
//! The vendor's formula (data platform, "升级", step 5, `000_…` in the
//! vendors' documents):
//!
//! ```text
//! 升级订单价格 = 本次配置月单价 ÷ 30 ÷ 24 × 剩余时长 − 已购时配置月单价 ÷ 30 ÷ 24 × 剩余时长
//! price = new monthly ÷ 30 ÷ 24 × remaining hours − old monthly ÷ 30 ÷ 24 × remaining hours
//! 剩余时长 = 已购配置的到期时间 − 新购配置的时间   (remaining = current expiry − time of the upgrade)
//! ```
//!
//! A license's monthly price is its edition's, plus each package tier's,
//! plus each quota step's, from the catalog; on a plan billed by usage
//! (pay-as-you-go) the meter bills the edition instead, so its monthly price
//! is not charged (packages and quota steps keep theirs). A plan change is
//! its own line: what changing the plan alone does to the new
//! configuration's price.
//! Remaining hours are counted to the second, from the time of the upgrade
//! or the license's start when it has not started (the upgraded license
//! keeps that start).
//!
//! **Rounding.** The price is one expression: it is computed exactly, as
//! the fraction (new monthly − old monthly) × remaining seconds ÷ 2,592,000
//! fen, and rounded **once**, to the nearest fen, halves up (towards +∞).
//! Each line of the quote is its item's exact share, rounded so that the
//! lines add up to the price as printed (largest remainders first); a line
//! that is not exact says so. No floating point is used anywhere. A
//! renewal is priced the same way over the added time.

use std::fmt;

use license_common::catalog::Catalog;
use license_common::license::{License, Plan};
use license_common::time::Timestamp;
use serde::Serialize;

use crate::order::{OrderError, TermProblem};
use crate::upgrade::RenewTerm;

/// Seconds in the formula's month: 30 days × 24 hours.
pub const SECONDS_PER_MONTH: i128 = 30 * 24 * 3600;
/// The rounding rule, as printed with every quote.
pub const ROUNDING: &str = "the exact price is rounded once to the nearest fen, halves up; each line is its share, rounded so that the lines add up to the price (≈ marks a rounded line)";

/// One priced item of a quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    /// `edition`, `package data_service`, `quota processing_units`, `plan`.
    pub item: String,
    /// What it is on the current license (`-` when absent).
    pub old: String,
    /// What it is on the new license.
    pub new: String,
    /// Current monthly price, fen.
    pub old_monthly: u64,
    /// New monthly price, fen.
    pub new_monthly: u64,
    /// Its share of the price, fen.
    pub amount: i64,
    /// False when `amount` is its exact share rounded.
    pub exact: bool,
}

/// What a quote prices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priced {
    /// An upgrade over the remaining time.
    Upgrade,
    /// A renewal over the added time.
    Renewal,
}

/// A prorated quote. `issuer quote --json` prints this object (format 2);
/// every amount is in minor units of `currency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    /// Version of this JSON shape.
    pub format: u32,
    /// An upgrade or a renewal.
    pub priced: Priced,
    /// ISO 4217 currency.
    pub currency: String,
    /// The current license.
    pub from: String,
    /// The account.
    pub account: String,
    /// The time of the quote.
    pub at: Timestamp,
    /// Where the priced time starts: for an upgrade, the time of the
    /// upgrade (or the license's start, if later); for a renewal, the
    /// current expiry.
    pub counted_from: Timestamp,
    /// Where it ends: the current (and upgraded) expiry, or the renewed one.
    pub expires_at: Timestamp,
    /// The priced time, in seconds.
    pub remaining_seconds: i64,
    /// Items and their shares.
    pub lines: Vec<Line>,
    /// Current monthly price, fen.
    pub old_monthly: u64,
    /// New monthly price, fen.
    pub new_monthly: u64,
    /// new monthly ÷ 30 ÷ 24 × remaining hours, rounded (shown for reference).
    pub new_term: i64,
    /// old monthly ÷ 30 ÷ 24 × remaining hours, rounded (shown for reference).
    pub old_term: i64,
    /// The price: the exact difference of the two terms, rounded once.
    pub price: i64,
    /// Whether the price is exact (no rounding was needed).
    pub exact: bool,
    /// The rounding rule.
    pub rounding: &'static str,
}

/// `monthly × seconds / (30 × 24 × 3600)`, rounded half up.
pub fn prorate(monthly: u64, seconds: i64) -> i64 {
    let numerator = i128::from(monthly) * i128::from(seconds.max(0));
    let rounded = (2 * numerator + SECONDS_PER_MONTH) / (2 * SECONDS_PER_MONTH);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// Rounds `numerator / SECONDS_PER_MONTH` to the nearest integer, halves up.
fn round_half_up(numerator: i128) -> i128 {
    (2 * numerator + SECONDS_PER_MONTH).div_euclid(2 * SECONDS_PER_MONTH)
}

/// Each share `numerators[i] / SECONDS_PER_MONTH`, rounded so that they add
/// up to the total rounded once: floors, then one more fen to the largest
/// remainders. Returns (amount, exact) per share, and the total.
fn apportion(numerators: &[i128]) -> (Vec<(i64, bool)>, i64, bool) {
    let total: i128 = numerators.iter().sum();
    let price = round_half_up(total);
    let floors: Vec<i128> = numerators.iter().map(|n| n.div_euclid(SECONDS_PER_MONTH)).collect();
    let mut extra = price - floors.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..numerators.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(numerators[i].rem_euclid(SECONDS_PER_MONTH)), i));
    let mut amounts = floors.clone();
    for &i in &order {
        if extra <= 0 {
            break;
        }
        if numerators[i].rem_euclid(SECONDS_PER_MONTH) != 0 {
            amounts[i] += 1;
            extra -= 1;
        }
    }
    let clamp = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    let shares = amounts
        .iter()
        .zip(numerators)
        .map(|(a, n)| (clamp(*a), n.rem_euclid(SECONDS_PER_MONTH) == 0 && *a * SECONDS_PER_MONTH == *n))
        .collect();
    (shares, clamp(price), total.rem_euclid(SECONDS_PER_MONTH) == 0)
}

/// Whether `plan` charges the edition's monthly price: a plan billed by
/// usage (pay-as-you-go) bills the edition by the meter instead; packages
/// and quota steps keep their monthly prices on every plan.
fn fixed(plan: Plan) -> bool {
    plan != Plan::PayAsYouGo
}

/// The monthly price of `item` on `plan`.
fn on_plan(item: &str, plan: Plan, monthly: u64) -> u64 {
    if item == "edition" && !fixed(plan) { 0 } else { monthly }
}

/// One priced item: its name, old and new settings, old and new monthly prices.
type Item = (String, String, String, u64, u64);

/// The items of `old` and `new` with their monthly prices (each at list price).
fn items(catalog: &Catalog, old: &License, new: &License) -> Result<Vec<Item>, OrderError> {
    let edition_price = |id: &str| {
        catalog.edition(id).map(|(_, e)| e.monthly_price).ok_or_else(|| OrderError::UnknownEdition {
            edition: id.to_owned(),
            known: crate::order::list(catalog.editions.iter().map(|e| &e.id)),
        })
    };
    let mut out = vec![(
        "edition".to_owned(),
        old.edition.clone(),
        new.edition.clone(),
        edition_price(&old.edition)?,
        edition_price(&new.edition)?,
    )];
    let tier_price = |package: &str, tier: &str| {
        catalog
            .package(package)
            .and_then(|p| p.tiers.iter().find(|t| t.id == tier))
            .map(|t| t.monthly_price)
            .ok_or_else(|| OrderError::UnknownTier {
                package: package.into(),
                tier: tier.into(),
                known: crate::order::list(
                    catalog.package(package).into_iter().flat_map(|p| p.tiers.iter().map(|t| &t.id)),
                ),
            })
    };
    let mut packages: Vec<&String> = old.packages.keys().chain(new.packages.keys()).collect();
    packages.sort();
    packages.dedup();
    for p in packages {
        let (o, n) = (old.packages.get(p), new.packages.get(p));
        out.push((
            format!("package {p}"),
            o.map_or("-".into(), |g| g.tier.clone()),
            n.map_or("-".into(), |g| g.tier.clone()),
            o.map(|g| tier_price(p, &g.tier)).transpose()?.unwrap_or(0),
            n.map(|g| tier_price(p, &g.tier)).transpose()?.unwrap_or(0),
        ));
    }
    let step_price = |quota: &str, value: u64| {
        catalog
            .quota(quota)
            .and_then(|q| q.steps.iter().find(|s| s.value == value))
            .map(|s| s.monthly_price)
            .ok_or_else(|| OrderError::QuotaNotAStep {
                quota: quota.into(),
                value,
                steps: crate::order::list(
                    catalog.quota(quota).into_iter().flat_map(|q| q.steps.iter().map(|s| s.value)),
                ),
            })
    };
    let mut quotas: Vec<&String> = old.quotas.keys().chain(new.quotas.keys()).collect();
    quotas.sort();
    quotas.dedup();
    for q in quotas {
        let (o, n) = (old.quotas.get(q), new.quotas.get(q));
        out.push((
            format!("quota {q}"),
            o.map_or("-".into(), u64::to_string),
            n.map_or("-".into(), u64::to_string),
            o.map(|v| step_price(q, *v)).transpose()?.unwrap_or(0),
            n.map(|v| step_price(q, *v)).transpose()?.unwrap_or(0),
        ));
    }
    Ok(out)
}

/// Builds the quote over `seconds` from item prices: each item's change at
/// the old plan's prices, and a line for the plan when it changes.
#[allow(clippy::too_many_arguments)]
fn priced(
    catalog: &Catalog,
    old: &License,
    new: &License,
    at: Timestamp,
    counted_from: Timestamp,
    expires_at: Timestamp,
    seconds: i64,
    priced: Priced,
) -> Result<Quote, OrderError> {
    let list = items(catalog, old, new)?;
    let s = i128::from(seconds);
    // Each item's change at the old plan's prices; the plan line is what
    // the change of plan alone does to the new configuration's price.
    let mut numerators: Vec<i128> = match priced {
        Priced::Upgrade => list
            .iter()
            .map(|(item, _, _, o, n)| {
                (i128::from(on_plan(item, old.plan, *n)) - i128::from(on_plan(item, old.plan, *o))) * s
            })
            .collect(),
        Priced::Renewal => list.iter().map(|(item, _, _, _, n)| i128::from(on_plan(item, new.plan, *n)) * s).collect(),
    };
    let total_on = |plan: Plan, new_side: bool| -> u64 {
        list.iter().map(|(item, _, _, o, n)| on_plan(item, plan, if new_side { *n } else { *o })).sum()
    };
    let (old_monthly, new_monthly) = (total_on(old.plan, false), total_on(new.plan, true));
    let new_at_old_plan = total_on(old.plan, true);
    let plan_changed = old.plan != new.plan;
    if plan_changed {
        numerators.push((i128::from(new_monthly) - i128::from(new_at_old_plan)) * s);
    }
    let (shares, price, exact) = apportion(&numerators);
    let mut lines: Vec<Line> = list
        .into_iter()
        .zip(&shares)
        .map(|((item, o, n, om, nm), (amount, exact))| Line {
            old_monthly: on_plan(&item, old.plan, om),
            new_monthly: on_plan(&item, new.plan, nm),
            item,
            old: o,
            new: n,
            amount: *amount,
            exact: *exact,
        })
        .collect();
    if plan_changed {
        let (amount, exact) = shares[shares.len() - 1];
        lines.push(Line {
            item: "plan".into(),
            old: old.plan.to_string(),
            new: new.plan.to_string(),
            old_monthly: new_at_old_plan,
            new_monthly,
            amount,
            exact,
        });
    }
    let (new_term, old_term) = match priced {
        Priced::Upgrade => (prorate(new_monthly, seconds), prorate(old_monthly, seconds)),
        Priced::Renewal => (prorate(new_monthly, seconds), 0),
    };
    Ok(Quote {
        format: 2,
        priced,
        currency: catalog.product.currency.clone(),
        from: old.id.clone(),
        account: old.account.clone(),
        at,
        counted_from,
        expires_at,
        remaining_seconds: seconds,
        lines,
        old_monthly,
        new_monthly,
        new_term,
        old_term,
        price,
        exact,
        rounding: ROUNDING,
    })
}

/// Prices the upgrade from `old` to `new` at time `at`.
pub fn quote(catalog: &Catalog, old: &License, new: &License, at: Timestamp) -> Result<Quote, OrderError> {
    if new.plan == Plan::Perpetual && old.plan != Plan::Perpetual {
        return Err(OrderError::Term { problem: TermProblem::PerpetualQuote { id: old.id.clone() } });
    }
    let expires_at = old
        .expires_at
        .ok_or_else(|| OrderError::Term { problem: TermProblem::PerpetualQuote { id: old.id.clone() } })?;
    let counted_from = at.max(old.not_before);
    let remaining_seconds = expires_at.since(counted_from).num_seconds();
    if remaining_seconds <= 0 {
        return Err(OrderError::Term { problem: TermProblem::NoTimeLeft { id: old.id.clone(), at, expires_at } });
    }
    priced(catalog, old, new, at, counted_from, expires_at, remaining_seconds, Priced::Upgrade)
}

/// Prices the renewal of `current` by `term`, asked at `at`: its monthly
/// price over the added time.
pub fn quote_renewal(
    catalog: &Catalog,
    current: &License,
    term: RenewTerm,
    at: Timestamp,
) -> Result<Quote, OrderError> {
    let renewed = crate::upgrade::renew(catalog, current, term, None, at)?;
    let from = current.expires_at.expect("renew refuses a perpetual license");
    let until = renewed.preview().expires_at.expect("a renewal has an expiry");
    let seconds = until.since(from).num_seconds();
    priced(catalog, current, renewed.preview(), at, from, until, seconds, Priced::Renewal)
}

/// Formats minor units as `1234.56 CNY`.
pub fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
}

impl fmt::Display for Quote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.currency;
        let m = |v: u64| money(i64::try_from(v).unwrap_or(i64::MAX), c);
        let what = match self.priced {
            Priced::Upgrade => "Upgrade",
            Priced::Renewal => "Renewal",
        };
        writeln!(f, "{what} quote for license {} (account {}) at {}", self.from, self.account, self.at)?;
        writeln!(
            f,
            "{:<28}{:<16}{:<16}{:>16}{:>16}{:>18}",
            "item", "current", "new", "old/month", "new/month", "share"
        )?;
        for l in &self.lines {
            let mark = if l.exact { " " } else { "≈" };
            writeln!(
                f,
                "{:<28}{:<16}{:<16}{:>16}{:>16}{:>17}{mark}",
                l.item,
                l.old,
                l.new,
                m(l.old_monthly),
                m(l.new_monthly),
                money(l.amount, c)
            )?;
        }
        writeln!(f, "{:<60}{:>16}{:>16}", "total per month", m(self.old_monthly), m(self.new_monthly))?;
        let hours = self.remaining_seconds / 3600;
        let rest = self.remaining_seconds % 3600;
        let span = match self.priced {
            Priced::Upgrade => "remaining hours",
            Priced::Renewal => "added hours",
        };
        writeln!(
            f,
            "{span}: {hours}h {}m {}s (from {} until {})",
            rest / 60,
            rest % 60,
            self.counted_from,
            self.expires_at
        )?;
        match self.priced {
            Priced::Upgrade => writeln!(
                f,
                "price = {} ÷ 30 ÷ 24 × {span} − {} ÷ 30 ÷ 24 × {span} = {}{} ({} fen)",
                m(self.new_monthly),
                m(self.old_monthly),
                money(self.price, c),
                if self.exact { "" } else { " (rounded once)" },
                self.price
            )?,
            Priced::Renewal => writeln!(
                f,
                "price = {} ÷ 30 ÷ 24 × {span} = {}{} ({} fen)",
                m(self.new_monthly),
                money(self.price, c),
                if self.exact { "" } else { " (rounded once)" },
                self.price
            )?,
        }
        writeln!(f, "rounding: {}", self.rounding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prorating_rounds_half_up_in_integers() {
        // 300000 fen/month for 246 hours: 300000 × 246 / 720 = 102500 exactly.
        assert_eq!(prorate(300_000, 246 * 3600), 102_500);
        // 1 fen/month for half a month: 0.5 fen rounds up to 1.
        assert_eq!(prorate(1, 15 * 24 * 3600), 1);
        // Just under half rounds down.
        assert_eq!(prorate(1, 15 * 24 * 3600 - 1), 0);
        assert_eq!(prorate(0, 1_000_000), 0);
        assert_eq!(prorate(u64::MAX, 10 * 365 * 24 * 3600), i64::MAX, "saturates, never wraps");
    }

    #[test]
    fn shares_add_up_to_the_price_rounded_once() {
        let m = SECONDS_PER_MONTH;
        // Three thirds of a fen: each share rounds down, the total is exactly 1.
        let (shares, price, exact) = apportion(&[m / 3, m / 3, m / 3]);
        assert_eq!((price, exact), (1, true));
        assert_eq!(shares.iter().map(|s| s.0).sum::<i64>(), 1);
        assert!(shares.iter().all(|s| !s.1));
        // 0.4 + 0.4: separately 0 + 0, once 1 (0.8 rounds up).
        let (shares, price, _) = apportion(&[2 * m / 5, 2 * m / 5]);
        assert_eq!((price, shares.iter().map(|s| s.0).sum::<i64>()), (1, 1));
        // A credit: −2.5 rounds half up to −2.
        let (_, price, _) = apportion(&[-5 * m / 2]);
        assert_eq!(price, -2);
        // Exact shares stay exact.
        let (shares, price, exact) = apportion(&[3 * m, 4 * m]);
        assert_eq!((shares, price, exact), (vec![(3, true), (4, true)], 7, true));
    }

    #[test]
    fn money_prints_minor_units() {
        assert_eq!(money(102_500, "CNY"), "1025.00 CNY");
        assert_eq!(money(-5, "CNY"), "-0.05 CNY");
    }
}
