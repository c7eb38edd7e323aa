//! Prorated upgrade prices, in integer minor units (fen).
//!
//! The vendor's formula:
//!
//! ```text
//! price = new monthly ÷ 30 ÷ 24 × remaining hours − old monthly ÷ 30 ÷ 24 × remaining hours
//! remaining hours = current expiry − time of the upgrade
//! ```
//!
//! A license that has not started yet is counted from its start, not from
//! the time of the upgrade: the upgraded license keeps that start, so the
//! hours before it are never sold.
//!
//! A license's monthly price is its edition's, plus each package tier's,
//! plus each quota step's, from the catalog. Remaining hours are counted to
//! the second (a fractional hour counts as its fraction). **Rounding:** each
//! term is computed exactly in integers and rounded to the nearest fen,
//! halves rounded up; the price is the new term minus the old term. No
//! floating point is used anywhere.

use std::fmt;

use license_common::catalog::Catalog;
use license_common::license::License;
use license_common::time::Timestamp;
use serde::Serialize;

use crate::order::{OrderError, TermProblem};

/// Seconds in the formula's month: 30 days × 24 hours.
pub const SECONDS_PER_MONTH: i128 = 30 * 24 * 3600;
/// The rounding rule, as printed with every quote.
pub const ROUNDING: &str = "each term is rounded to the nearest fen, halves up; price = new term − old term";

/// One priced item of a license.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    /// `edition`, `package data_service`, `quota processing_units`.
    pub item: String,
    /// What it is on the current license (`-` when absent).
    pub old: String,
    /// What it is on the upgraded license.
    pub new: String,
    /// Current monthly price, fen.
    pub old_monthly: u64,
    /// Upgraded monthly price, fen.
    pub new_monthly: u64,
}

/// A prorated upgrade quote. `issuer quote --json` prints this object
/// (format 1); every amount is in minor units of `currency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    /// Version of this JSON shape.
    pub format: u32,
    /// ISO 4217 currency.
    pub currency: String,
    /// The current license.
    pub from: String,
    /// The account.
    pub account: String,
    /// The time of the upgrade.
    pub at: Timestamp,
    /// Where the remaining time starts: the time of the upgrade, or the
    /// license's start when it has not started yet.
    pub counted_from: Timestamp,
    /// The current (and upgraded) expiry.
    pub expires_at: Timestamp,
    /// Remaining time, in seconds.
    pub remaining_seconds: i64,
    /// Items and their monthly prices.
    pub lines: Vec<Line>,
    /// Current monthly price, fen.
    pub old_monthly: u64,
    /// Upgraded monthly price, fen.
    pub new_monthly: u64,
    /// new monthly ÷ 30 ÷ 24 × remaining hours, rounded.
    pub new_term: i64,
    /// old monthly ÷ 30 ÷ 24 × remaining hours, rounded.
    pub old_term: i64,
    /// new term − old term.
    pub price: i64,
    /// The rounding rule.
    pub rounding: &'static str,
}

/// `monthly × seconds / (30 × 24 × 3600)`, rounded half up.
pub fn prorate(monthly: u64, seconds: i64) -> i64 {
    let numerator = i128::from(monthly) * i128::from(seconds.max(0));
    let rounded = (2 * numerator + SECONDS_PER_MONTH) / (2 * SECONDS_PER_MONTH);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

fn lines(catalog: &Catalog, old: &License, new: &License) -> Result<Vec<Line>, OrderError> {
    let edition_price = |id: &str| {
        catalog.edition(id).map(|(_, e)| e.monthly_price).ok_or_else(|| OrderError::UnknownEdition {
            edition: id.to_owned(),
            known: crate::order::list(catalog.editions.iter().map(|e| &e.id)),
        })
    };
    let mut out = vec![Line {
        item: "edition".into(),
        old: old.edition.clone(),
        new: new.edition.clone(),
        old_monthly: edition_price(&old.edition)?,
        new_monthly: edition_price(&new.edition)?,
    }];
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
        out.push(Line {
            item: format!("package {p}"),
            old: o.map_or("-".into(), |g| g.tier.clone()),
            new: n.map_or("-".into(), |g| g.tier.clone()),
            old_monthly: o.map(|g| tier_price(p, &g.tier)).transpose()?.unwrap_or(0),
            new_monthly: n.map(|g| tier_price(p, &g.tier)).transpose()?.unwrap_or(0),
        });
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
        out.push(Line {
            item: format!("quota {q}"),
            old: o.map_or("-".into(), u64::to_string),
            new: n.map_or("-".into(), u64::to_string),
            old_monthly: o.map(|v| step_price(q, *v)).transpose()?.unwrap_or(0),
            new_monthly: n.map(|v| step_price(q, *v)).transpose()?.unwrap_or(0),
        });
    }
    Ok(out)
}

/// Prices the upgrade from `old` to `new` at time `at`.
pub fn quote(catalog: &Catalog, old: &License, new: &License, at: Timestamp) -> Result<Quote, OrderError> {
    let expires_at = old
        .expires_at
        .ok_or_else(|| OrderError::Term { problem: TermProblem::PerpetualQuote { id: old.id.clone() } })?;
    let counted_from = at.max(old.not_before);
    let remaining_seconds = expires_at.since(counted_from).num_seconds();
    if remaining_seconds <= 0 {
        return Err(OrderError::Term { problem: TermProblem::NoTimeLeft { id: old.id.clone(), at, expires_at } });
    }
    let lines = lines(catalog, old, new)?;
    let old_monthly: u64 = lines.iter().map(|l| l.old_monthly).sum();
    let new_monthly: u64 = lines.iter().map(|l| l.new_monthly).sum();
    let new_term = prorate(new_monthly, remaining_seconds);
    let old_term = prorate(old_monthly, remaining_seconds);
    Ok(Quote {
        format: 1,
        currency: catalog.product.currency.clone(),
        from: old.id.clone(),
        account: old.account.clone(),
        at,
        counted_from,
        expires_at,
        remaining_seconds,
        lines,
        old_monthly,
        new_monthly,
        new_term,
        old_term,
        price: new_term - old_term,
        rounding: ROUNDING,
    })
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
        writeln!(f, "Upgrade quote for license {} (account {}) at {}", self.from, self.account, self.at)?;
        writeln!(f, "{:<28}{:<16}{:<16}{:>16}{:>16}", "item", "current", "upgraded", "old/month", "new/month")?;
        for l in &self.lines {
            writeln!(f, "{:<28}{:<16}{:<16}{:>16}{:>16}", l.item, l.old, l.new, m(l.old_monthly), m(l.new_monthly))?;
        }
        writeln!(f, "{:<60}{:>16}{:>16}", "total per month", m(self.old_monthly), m(self.new_monthly))?;
        let hours = self.remaining_seconds / 3600;
        let rest = self.remaining_seconds % 3600;
        writeln!(
            f,
            "remaining hours: {hours}h {}m {}s (from {} until {})",
            rest / 60,
            rest % 60,
            self.counted_from,
            self.expires_at
        )?;
        writeln!(f, "new term: {} ÷ 30 ÷ 24 × remaining hours = {}", m(self.new_monthly), money(self.new_term, c))?;
        writeln!(f, "old term: {} ÷ 30 ÷ 24 × remaining hours = {}", m(self.old_monthly), money(self.old_term, c))?;
        writeln!(f, "price:    new term − old term = {} ({} fen)", money(self.price, c), self.price)?;
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
    fn money_prints_minor_units() {
        assert_eq!(money(102_500, "CNY"), "1025.00 CNY");
        assert_eq!(money(-5, "CNY"), "-0.05 CNY");
    }
}
