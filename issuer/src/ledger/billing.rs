//! Receipts and usage reports from installs, and pay-as-you-go bills.
//!
//! Billing counts collectors (DataKits) that reported data each day: a day
//! is billed `max(count, minimum)` × the catalog's unit price, where the
//! count is the sum over the account's installs of each install's daily
//! maximum. Days inside the free activation window (before the order's
//! `activate_by`) are not billed. Days with no report are listed as missing,
//! never guessed. Money is integer minor units throughout.

use chrono::NaiveDate;
use license_common::armor;
use license_common::catalog::Catalog;
use license_common::envelope::Kind;
use license_common::exchange::{ActivationReceipt, UsageReport, open_self_signed};
use license_common::time::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Ledger;
use crate::error::IssuerError;

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// The license the file is about.
    pub license_id: String,
    /// The install that signed it.
    pub install_id: String,
    /// False when this very file was imported before (recorded once).
    pub new: bool,
}

/// One day of a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BillDay {
    /// The day.
    pub day: NaiveDate,
    /// Collectors reported (`null` when no install reported: missing).
    pub reported: Option<u64>,
    /// Collectors billed: `max(reported, minimum)`; 0 when free or missing.
    pub billed: u64,
    /// Amount in minor units.
    pub amount: u64,
    /// `billed`, `free` (activation window) or `missing`.
    pub state: &'static str,
}

/// A pay-as-you-go bill (`issuer bill --json`, format 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bill {
    /// Version of this JSON shape.
    pub format: u32,
    /// The account.
    pub account: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Currency of every amount.
    pub currency: String,
    /// Price per collector per day, minor units.
    pub unit_price: u64,
    /// Fewer collectors than this are billed as this many.
    pub minimum: u64,
    /// Every day of the period.
    pub days: Vec<BillDay>,
    /// Days with no report.
    pub missing: usize,
    /// The sum of the amounts.
    pub total: u64,
}

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Ledger {
    /// The install a license is tied to: the one it is bound to, else the
    /// one it was first activated on (from the receipts).
    fn tied_install(&self, license_id: &str) -> Result<Option<String>, IssuerError> {
        let bound: Option<Option<String>> = self
            .conn()
            .query_row("SELECT install FROM licenses WHERE id = ?1", params![license_id], |r| r.get(0))
            .optional()
            .map_err(self.err())?;
        let Some(bound) = bound else { return Err(IssuerError::NotInLedger { id: license_id.to_owned() }) };
        if bound.is_some() {
            return Ok(bound);
        }
        self.conn()
            .query_row(
                "SELECT install_id FROM receipts WHERE license_id = ?1 ORDER BY activated_at, imported_at LIMIT 1",
                params![license_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Verifies and records an activation receipt.
    pub fn import_receipt(&mut self, text: &str, now: Timestamp) -> Result<Imported, IssuerError> {
        let token = armor::read(text, Kind::ActivationReceipt)?;
        let receipt = open_self_signed::<ActivationReceipt>(&token, Kind::ActivationReceipt)?.content;
        if let Some(tied) = self.tied_install(&receipt.license_id)?
            && tied != receipt.install_id
        {
            return Err(IssuerError::WrongInstall { license: receipt.license_id, tied, signer: receipt.install_id });
        }
        let hash = sha256_hex(&token);
        let new = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO receipts (token_sha256, license_id, install_id, activated_at, imported_at, token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![hash, receipt.license_id, receipt.install_id, receipt.activated_at.to_string(), now.to_string(), token],
            )
            .map_err(self.err())?
            == 1;
        Ok(Imported { license_id: receipt.license_id, install_id: receipt.install_id, new })
    }

    /// Verifies and records a usage report; each day keeps the install's
    /// largest count.
    pub fn import_usage(&mut self, text: &str, now: Timestamp) -> Result<Imported, IssuerError> {
        let token = armor::read(text, Kind::UsageReport)?;
        let report = open_self_signed::<UsageReport>(&token, Kind::UsageReport)?.content;
        let tied = self
            .tied_install(&report.license_id)?
            .ok_or_else(|| IssuerError::UnknownInstall { license: report.license_id.clone() })?;
        if tied != report.install_id {
            return Err(IssuerError::WrongInstall { license: report.license_id, tied, signer: report.install_id });
        }
        let hash = sha256_hex(&token);
        self.transaction(|rec| {
            let tx = rec.tx();
            let err = rec.err();
            let new = tx
                .execute(
                    "INSERT OR IGNORE INTO usage_reports (token_sha256, license_id, install_id, account, first_day, last_day, imported_at, token)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        hash,
                        report.license_id,
                        report.install_id,
                        report.account,
                        report.from.to_string(),
                        report.to.to_string(),
                        now.to_string(),
                        token
                    ],
                )
                .map_err(&err)?
                == 1;
            if new {
                for (day, count) in &report.days {
                    tx.execute(
                        "INSERT INTO usage_days (account, day, install_id, datakits) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (account, day, install_id) DO UPDATE SET datakits = MAX(datakits, excluded.datakits)",
                        params![report.account, day.to_string(), report.install_id, i64::try_from(*count).unwrap_or(i64::MAX)],
                    )
                    .map_err(&err)?;
                }
            }
            Ok(Imported { license_id: report.license_id.clone(), install_id: report.install_id.clone(), new })
        })
    }

    /// The bill of `account` from `from` to `to`, inclusive.
    pub fn bill(&self, catalog: &Catalog, account: &str, from: NaiveDate, to: NaiveDate) -> Result<Bill, IssuerError> {
        let payg = catalog
            .pay_as_you_go
            .as_ref()
            .ok_or_else(|| IssuerError::NotBillable { product: catalog.product.id.clone() })?;
        if from > to || (to - from).num_days() > 3660 {
            return Err(IssuerError::Period { from: from.to_string(), to: to.to_string() });
        }
        // The free window: from the day of the account's first pay-as-you-go
        // order to its activation deadline.
        let window: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT issued_at, activate_by FROM licenses WHERE account = ?1 AND activate_by IS NOT NULL
                 ORDER BY issued_at LIMIT 1",
                params![account],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        let day_of = |t: &str| Timestamp::parse_wire(t).ok().map(|t| t.as_datetime().date_naive());
        let free = window.and_then(|(from, until)| Some((day_of(&from)?, day_of(&until)?)));
        let mut days = Vec::new();
        let mut day = from;
        while day <= to {
            let reported: Option<i64> = self
                .conn()
                .query_row(
                    "SELECT SUM(datakits) FROM usage_days WHERE account = ?1 AND day = ?2",
                    params![account, day.to_string()],
                    |r| r.get(0),
                )
                .map_err(self.err())?;
            let reported = reported.map(|n| u64::try_from(n).unwrap_or(0));
            let entry = match reported {
                _ if free.is_some_and(|(start, end)| start <= day && day < end) => {
                    BillDay { day, reported, billed: 0, amount: 0, state: "free" }
                }
                None => BillDay { day, reported, billed: 0, amount: 0, state: "missing" },
                Some(n) => {
                    let billed = n.max(payg.minimum_count);
                    BillDay {
                        day,
                        reported,
                        billed,
                        amount: billed.saturating_mul(payg.unit_price_per_day),
                        state: "billed",
                    }
                }
            };
            days.push(entry);
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        Ok(Bill {
            format: 1,
            account: account.to_owned(),
            from,
            to,
            currency: catalog.product.currency.clone(),
            unit_price: payg.unit_price_per_day,
            minimum: payg.minimum_count,
            missing: days.iter().filter(|d| d.state == "missing").count(),
            total: days.iter().fold(0u64, |sum, d| sum.saturating_add(d.amount)),
            days,
        })
    }
}

impl std::fmt::Display for Bill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let money = |v: u64| crate::quote::money(i64::try_from(v).unwrap_or(i64::MAX), &self.currency);
        writeln!(f, "Bill for account {} from {} to {}", self.account, self.from, self.to)?;
        writeln!(
            f,
            "{} per collector per day; fewer than {} are billed as {}",
            money(self.unit_price),
            self.minimum,
            self.minimum
        )?;
        writeln!(f, "{:<12}{:>10}{:>10}{:>16}  state", "day", "reported", "billed", "amount")?;
        for d in &self.days {
            let reported = d.reported.map_or("-".to_owned(), |n| n.to_string());
            writeln!(
                f,
                "{:<12}{:>10}{:>10}{:>16}  {}",
                d.day.to_string(),
                reported,
                d.billed,
                money(d.amount),
                d.state
            )?;
        }
        writeln!(f, "total {} ({} fen); {} days missing", money(self.total), self.total, self.missing)
    }
}
