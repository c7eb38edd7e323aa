//! Pay-as-you-go bills.
//!
//! Billing counts what the catalog's meter counts (DataKits that reported
//! data, processing units in use) each day: a day
//! is billed `max(count, minimum)` × the catalog's unit price, where the
//! count is the sum over the account's installs of the product of each
//! install's daily maximum. Money is integer minor units throughout.
//!
//! A day is owed only when the account was on a pay-as-you-go term of the
//! catalog's product that day: from the end of each order's own free window
//! (its activation deadline; a new order after a lapse has a window of its
//! own) to the term's end — its expiry, the license that replaced it, or
//! its revocation. Days before the first order, in grace, after release,
//! under a subscription or perpetual license, of an order that lapsed, or
//! after a revocation are listed with the reason and not billed. Days owed
//! with no report are listed as missing, never guessed. A day is a calendar
//! day in the catalog's `time_zone` (both example catalogs: `+08:00`, China
//! Standard Time, as the vendors bill).

use super::db::params;
use chrono::NaiveDate;
use license_common::catalog::Catalog;
use license_common::license::{License, Plan};
use license_common::time::Timestamp;
use serde::Serialize;

use super::Ledger;
use super::query::{decode_unverified, order_activated};
use crate::error::IssuerError;

/// Why a day of a bill is, or is not, billed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayState {
    /// Before the account's first license of the product.
    BeforeOrder,
    /// After a license was released (its grace period over), with no
    /// license since.
    Released,
    /// After a revocation, with no license since.
    Revoked,
    /// Under a perpetual license: paid once.
    Perpetual,
    /// Under a subscription: paid for by its term.
    Subscription,
    /// Of a pay-as-you-go order that was never activated in its window.
    Lapsed,
    /// Expired, in its grace period: not owed.
    Grace,
    /// Inside the order's free activation window.
    FreeWindow,
    /// Owed, but no install reported this day.
    Missing,
    /// Owed and billed.
    Billed,
}

impl DayState {
    /// The wire name, e.g. `free_window`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DayState::BeforeOrder => "before_order",
            DayState::Released => "released",
            DayState::Revoked => "revoked",
            DayState::Perpetual => "perpetual",
            DayState::Subscription => "subscription",
            DayState::Lapsed => "lapsed",
            DayState::Grace => "grace",
            DayState::FreeWindow => "free_window",
            DayState::Missing => "missing",
            DayState::Billed => "billed",
        }
    }
}

impl std::fmt::Display for DayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One day of a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BillDay {
    /// The day.
    pub day: NaiveDate,
    /// Collectors reported (`null` when no install reported).
    pub reported: Option<u64>,
    /// Collectors billed: `max(reported, minimum)`; 0 on a day not billed.
    pub billed: u64,
    /// Amount in minor units.
    pub amount: u64,
    /// Why the day is or is not billed.
    pub state: DayState,
    /// The license that decides it, if any.
    pub license: Option<String>,
    /// The reason, in words.
    pub reason: String,
}

/// A pay-as-you-go bill (`issuer bill --json`, format 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bill {
    /// Version of this JSON shape.
    pub format: u32,
    /// The account.
    pub account: String,
    /// The product billed.
    pub product: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Currency of every amount.
    pub currency: String,
    /// What is counted each day, e.g. `datakit` or `processing_unit`.
    pub meter: String,
    /// One of it, in words, e.g. `DataKit`.
    pub unit: String,
    /// Several of it, in words, e.g. `DataKits`.
    pub units: String,
    /// Price per counted unit per day, minor units.
    pub unit_price: u64,
    /// Fewer units than this are billed as this many.
    pub minimum: u64,
    /// Every day of the period.
    pub days: Vec<BillDay>,
    /// Days owed with no report.
    pub missing: usize,
    /// The sum of the amounts.
    pub total: u64,
}

/// A license's stretch of time, as billing sees it.
struct Segment {
    id: String,
    license: License,
    start: Timestamp,
    /// Where the term ends: expiry, replacement or revocation (`None`: never).
    end: Option<Timestamp>,
    /// The revocation that ends it, if it is what ends it.
    revoked_at: Option<Timestamp>,
    /// A pay-as-you-go order never activated in its window.
    lapsed: bool,
}

/// The catalog's days: UTC shifted by an offset in minutes.
#[derive(Clone, Copy)]
struct Days(i64);

impl Days {
    fn of(self, t: Timestamp) -> NaiveDate {
        t.plus(chrono::Duration::minutes(self.0)).as_datetime().date_naive()
    }

    fn start(self, d: NaiveDate) -> Timestamp {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        let utc = midnight.timestamp().saturating_sub(self.0 * 60);
        Timestamp::from_unix(utc).unwrap_or_else(|| Timestamp::from_unix(midnight.timestamp()).expect("in range"))
    }
}

/// What one chain says of the day from `s` to `e`: the licenses in force
/// that day decide (the most owed of them), else the last one that ended
/// before it, else the day is before the chain's first license.
fn chain_day(chain: &[Segment], days: Days, s: Timestamp, e: Timestamp) -> (DayState, Option<String>, String) {
    let in_force = chain.iter().filter(|seg| seg.start < e && seg.end.is_none_or(|end| end > s));
    let owed = in_force
        .map(|seg| {
            let (l, id) = (&seg.license, Some(seg.id.clone()));
            match l.plan {
                Plan::Perpetual => (DayState::Perpetual, id, format!("license {} is perpetual: paid once", seg.id)),
                Plan::Subscription => {
                    (DayState::Subscription, id, format!("license {} is a subscription: paid by its term", seg.id))
                }
                Plan::PayAsYouGo if seg.lapsed => (DayState::Lapsed, id, lapsed_reason(seg)),
                Plan::PayAsYouGo => match l.activate_by {
                    Some(by) if days.of(s) < days.of(by) => {
                        (DayState::FreeWindow, id, format!("license {}: free activation window until {by}", seg.id))
                    }
                    _ => (DayState::Billed, id, format!("license {}: pay-as-you-go", seg.id)),
                },
            }
        })
        .max_by_key(|(state, _, _)| *state);
    if let Some(owed) = owed {
        return owed;
    }
    let ended = chain.iter().filter(|seg| seg.end.is_some_and(|end| end <= s)).max_by_key(|seg| seg.end);
    match ended {
        Some(seg) => {
            let id = Some(seg.id.clone());
            let end = seg.end.expect("filtered");
            if let Some(at) = seg.revoked_at {
                (DayState::Revoked, id, format!("license {} was revoked on {at}", seg.id))
            } else if seg.lapsed {
                (DayState::Lapsed, id, lapsed_reason(seg))
            } else if seg.license.release_at().is_some_and(|r| s < r) {
                (DayState::Grace, id, format!("license {} expired on {end}: in grace, not owed", seg.id))
            } else {
                let released = seg.license.release_at().unwrap_or(end);
                (DayState::Released, id, format!("license {} was released on {released}", seg.id))
            }
        }
        None => {
            let first = chain.iter().map(|s| s.start).min();
            let reason = first.map_or_else(
                || "before the account's first license".to_owned(),
                |f| format!("before the account's first license of the product, which starts {f}"),
            );
            (DayState::BeforeOrder, None, reason)
        }
    }
}

fn lapsed_reason(seg: &Segment) -> String {
    let by = seg.license.activate_by.map_or_else(String::new, |t| t.to_string());
    format!("license {}'s order lapsed: not activated by {by}", seg.id)
}

impl Ledger {
    /// The segments of every chain of `account` for `product`.
    fn segments(&self, account: &str, product: &str, now: Timestamp) -> Result<Vec<Vec<Segment>>, IssuerError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT id, token FROM licenses WHERE account = ?1 AND product = ?2 ORDER BY region, sequence")
            .map_err(self.err())?;
        let rows: Vec<(String, String)> = stmt
            .query_map(params![account, product], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let mut chains: Vec<Vec<Segment>> = Vec::new();
        for (id, token) in rows {
            let license = decode_unverified(&token)?;
            let sequence = i64::try_from(license.sequence).unwrap_or(i64::MAX);
            let revoked: Option<String> = self
                .conn()
                .query_row(
                    "SELECT MIN(revoked_at) FROM revocations WHERE license_id = ?1
                     OR (product = ?2 AND account = ?3 AND region = ?4 AND sequence >= ?5)",
                    params![id, license.product, license.account, license.region, sequence],
                    |r| r.get(0),
                )
                .map_err(self.err())?;
            let revoked_at = revoked.and_then(|t| Timestamp::parse_wire(&t).ok());
            let lapsed = match license.activate_by {
                Some(by) if now > by => !order_activated(self.conn(), &license, by).map_err(self.err())?,
                _ => false,
            };
            let start = license.not_before.max(license.issued_at);
            let seg = Segment { id, start, end: license.expires_at, revoked_at, lapsed, license };
            match chains.last_mut() {
                Some(chain) if chain.last().is_some_and(|l| l.license.region == seg.license.region) => chain.push(seg),
                _ => chains.push(vec![seg]),
            }
        }
        for chain in &mut chains {
            for i in 0..chain.len() {
                let next_start = chain.get(i + 1).map(|n| n.start);
                let seg = &mut chain[i];
                if let Some(next) = next_start
                    && seg.end.is_none_or(|e| next < e)
                {
                    seg.end = Some(next.max(seg.start));
                }
                if let Some(at) = seg.revoked_at {
                    if seg.end.is_none_or(|e| at < e) {
                        seg.end = Some(at.max(seg.start));
                    } else {
                        seg.revoked_at = None; // its term ended before the revocation
                    }
                }
            }
        }
        Ok(chains)
    }

    /// The bill of `account` for the catalog's product from `from` to `to`,
    /// inclusive, as the ledger stands at `now`.
    pub fn bill(
        &self,
        catalog: &Catalog,
        account: &str,
        from: NaiveDate,
        to: NaiveDate,
        now: Timestamp,
    ) -> Result<Bill, IssuerError> {
        let product = &catalog.product.id;
        let payg =
            catalog.pay_as_you_go.as_ref().ok_or_else(|| IssuerError::NotBillable { product: product.clone() })?;
        let meter = catalog.meter_info().ok_or_else(|| IssuerError::NotBillable { product: product.clone() })?;
        if from > to || (to - from).num_days() > 3660 {
            return Err(IssuerError::Period { from: from.to_string(), to: to.to_string() });
        }
        let mut stmt = self
            .conn()
            .prepare("SELECT DISTINCT product FROM licenses WHERE account = ?1 ORDER BY product")
            .map_err(self.err())?;
        let products: Vec<String> = stmt
            .query_map(params![account], |r| r.get(0))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        if products.is_empty() {
            return Err(IssuerError::UnknownAccount { account: account.to_owned() });
        }
        if !products.contains(product) {
            return Err(IssuerError::WrongCatalog {
                catalog: product.clone(),
                account: account.to_owned(),
                products: products.join(", "),
            });
        }
        let chains = self.segments(account, product, now)?;
        let zone = Days(i64::from(catalog.utc_offset_minutes()));
        let mut days = Vec::new();
        let mut day = from;
        loop {
            let (s, e) = (zone.start(day), zone.start(day.succ_opt().unwrap_or(day)));
            let (mut state, license, mut reason) = chains
                .iter()
                .map(|chain| chain_day(chain, zone, s, e))
                .max_by_key(|(state, _, _)| *state)
                .unwrap_or((DayState::BeforeOrder, None, "no license".into()));
            // What was reported is shown on every day (a free-window day
            // with usage says so); only a billed day turns it into money.
            let sum: Option<i64> = self
                .conn()
                .query_row(
                    "SELECT CAST(SUM(datakits) AS BIGINT) FROM usage_days WHERE account = ?1 AND day = ?2 AND install_id IN
                        (SELECT u.install_id FROM usage_reports u JOIN licenses l ON l.id = u.license_id
                         WHERE l.product = ?3 AND l.account = ?1)",
                    params![account, day.to_string(), product],
                    |r| r.get(0),
                )
                .map_err(self.err())?;
            let reported = sum.map(|n| u64::try_from(n).unwrap_or(0));
            let (mut billed, mut amount) = (0, 0);
            if state == DayState::Billed {
                match reported {
                    None => {
                        state = DayState::Missing;
                        reason.push_str(": no install reported this day");
                    }
                    Some(n) => {
                        billed = n.max(payg.minimum_count);
                        amount = billed.saturating_mul(payg.unit_price_per_day);
                        reason.push_str(&format!(": {n} reported, billed as {billed}"));
                    }
                }
            }
            days.push(BillDay { day, reported, billed, amount, state, license, reason });
            match day.succ_opt() {
                Some(next) if next <= to => day = next,
                _ => break,
            }
        }
        Ok(Bill {
            format: 2,
            account: account.to_owned(),
            product: product.clone(),
            from,
            to,
            currency: catalog.product.currency.clone(),
            meter: meter.meter,
            unit: meter.unit,
            units: meter.units,
            unit_price: payg.unit_price_per_day,
            minimum: payg.minimum_count,
            missing: days.iter().filter(|d| d.state == DayState::Missing).count(),
            total: days.iter().fold(0u64, |sum, d| sum.saturating_add(d.amount)),
            days,
        })
    }
}

impl std::fmt::Display for Bill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let money = |v: u64| crate::quote::money(i64::try_from(v).unwrap_or(i64::MAX), &self.currency);
        writeln!(f, "Bill for account {} ({}) from {} to {}", self.account, self.product, self.from, self.to)?;
        writeln!(
            f,
            "{} per {} per day; fewer than {} {} are billed as {}",
            money(self.unit_price),
            self.unit,
            self.minimum,
            self.units,
            self.minimum
        )?;
        writeln!(f, "{:<12}{:>10}{:>10}{:>16}  {:<14}why", "day", "reported", "billed", "amount", "state")?;
        for d in &self.days {
            let reported = d.reported.map_or("-".to_owned(), |n| n.to_string());
            writeln!(
                f,
                "{:<12}{:>10}{:>10}{:>16}  {:<14}{}",
                d.day.to_string(),
                reported,
                d.billed,
                money(d.amount),
                d.state.as_str(),
                d.reason
            )?;
        }
        writeln!(f, "total {} ({} fen); {} days missing", money(self.total), self.total, self.missing)
    }
}
