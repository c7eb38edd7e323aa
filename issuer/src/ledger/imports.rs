//! What installs send back: activation receipts, usage reports and
//! deactivation receipts.
//!
//! An install signs each file with its own key, so a file proves which
//! install made it, not that what it says is true. A file is recorded only
//! when it agrees with the license it names:
//!
//! * the license is in the ledger, and the file's product, account and
//!   region are the license's;
//! * a bound license's files come from its install; an unbound license's
//!   usage reports and deactivation receipts come from an install whose
//!   receipt of it (or of a license it replaced) is in;
//! * a receipt's activation lies inside the license's term; every day of a
//!   usage report lies inside the report's own range, on or before the day
//!   it was made, and inside the term of the license (from the start of the
//!   first license it replaced to its own expiry).
//!
//! Anything else is refused naming the field, and nothing is recorded. Each
//! import is one transaction under the ledger's write lock; the same file
//! twice is recorded once. A recorded file is linked into its install's
//! chain ([`super::chain`]), which flags forks and gaps.

use super::db::{self, OptionalExtension, params};
use license_common::armor;
use license_common::envelope::Kind;
use license_common::exchange::{ActivationReceipt, Chained, DeactivationReceipt, UsageReport, open_self_signed};
use license_common::license::License;
use license_common::time::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::chain::Link;
use super::query::decode_unverified;
use super::{Ledger, Recorder};
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
    /// A fork or gap the file makes in the install's chain of files
    /// (the file is recorded all the same; `ledger forks` lists them).
    pub flag: Option<super::ChainFlag>,
}

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What a file names, to be checked against the license.
struct Claim<'a> {
    kind: &'static str,
    license_id: &'a str,
    install_id: &'a str,
    product: &'a str,
    account: &'a str,
    region: Option<&'a str>,
}

/// The license a file names, once the file agrees with it.
fn check_claim(conn: db::Q<'_>, claim: &Claim<'_>) -> db::Result<Result<License, IssuerError>> {
    let token: Option<String> = conn
        .query_row("SELECT token FROM licenses WHERE id = ?1", params![claim.license_id], |r| r.get(0))
        .optional()?;
    let Some(token) = token else {
        return Ok(Err(IssuerError::NotInLedger { id: claim.license_id.to_owned() }));
    };
    let license = match decode_unverified(&token) {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    let mismatch = |field: &'static str, expected: &str, found: &str| IssuerError::ReportMismatch {
        kind: claim.kind,
        license: claim.license_id.to_owned(),
        field,
        expected: expected.to_owned(),
        found: license_common::text::escape(found).into_owned(),
    };
    if claim.product != license.product {
        return Ok(Err(mismatch("product", &license.product, claim.product)));
    }
    if claim.account != license.account {
        return Ok(Err(mismatch("account", &license.account, claim.account)));
    }
    if let Some(region) = claim.region
        && region != license.region
    {
        return Ok(Err(mismatch("region", &license.region, region)));
    }
    if let Some(bound) = &license.install
        && bound != claim.install_id
    {
        return Ok(Err(IssuerError::WrongInstall {
            license: claim.license_id.to_owned(),
            tied: bound.clone(),
            signer: claim.install_id.to_owned(),
        }));
    }
    Ok(Ok(license))
}

/// The licenses `id` replaced, itself first, following `supersedes`.
fn lineage(conn: db::Q<'_>, id: &str) -> db::Result<Vec<(String, License)>> {
    let mut out: Vec<(String, License)> = Vec::new();
    let mut next = Some(id.to_owned());
    while let Some(id) = next.take() {
        if out.iter().any(|(seen, _)| *seen == id) || out.len() > 10_000 {
            break;
        }
        let token: Option<String> =
            conn.query_row("SELECT token FROM licenses WHERE id = ?1", params![id], |r| r.get(0)).optional()?;
        let Some(license) = token.and_then(|t| decode_unverified(&t).ok()) else { break };
        next.clone_from(&license.supersedes);
        out.push((id, license));
    }
    Ok(out)
}

/// Refuses a file of an unbound license from an install that sent no
/// receipt of it or of a license it replaced.
fn check_known_install(rec: &Recorder<'_>, claim: &Claim<'_>, license: &License) -> Result<(), IssuerError> {
    if license.install.is_some() {
        return Ok(());
    }
    let err = rec.err();
    for (id, _) in lineage(rec.tx(), claim.license_id).map_err(&err)? {
        let known: bool = rec
            .tx()
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM receipts WHERE license_id = ?1 AND install_id = ?2)",
                params![id, claim.install_id],
                |r| r.get(0),
            )
            .map_err(&err)?;
        if known {
            return Ok(());
        }
    }
    Err(IssuerError::UnknownInstall { license: claim.license_id.to_owned(), install: claim.install_id.to_owned() })
}

/// Links a recorded file into its install's chain and says what was done.
fn recorded<F>(
    rec: &Recorder<'_>,
    kind: Kind,
    file: &F,
    token: &str,
    new: bool,
    now: Timestamp,
) -> Result<Imported, IssuerError>
where
    F: Chained + Names,
{
    let flag = rec.chain_link(
        &Link {
            kind,
            install_id: file.install(),
            license_id: file.license(),
            counter: file.counter(),
            prev: file.prev(),
            sha256: &sha256_hex(token),
        },
        now,
    )?;
    Ok(Imported { license_id: file.license().to_owned(), install_id: file.install().to_owned(), new, flag })
}

/// The install and license a file names.
trait Names {
    fn install(&self) -> &str;
    fn license(&self) -> &str;
}

macro_rules! names {
    ($($t:ty),*) => {$(
        impl Names for $t {
            fn install(&self) -> &str {
                &self.install_id
            }
            fn license(&self) -> &str {
                &self.license_id
            }
        }
    )*};
}
names!(ActivationReceipt, UsageReport, DeactivationReceipt);

impl Ledger {
    /// Verifies, checks and records an activation receipt.
    pub fn import_receipt(&mut self, text: &str, now: Timestamp) -> Result<Imported, IssuerError> {
        let token = armor::read(text, Kind::ActivationReceipt)?;
        let receipt = open_self_signed::<ActivationReceipt>(&token, Kind::ActivationReceipt)?.content;
        let claim = Claim {
            kind: "activation receipt",
            license_id: &receipt.license_id,
            install_id: &receipt.install_id,
            product: &receipt.product,
            account: &receipt.account,
            region: receipt.region.as_deref(),
        };
        self.transaction(|rec| {
            let license = check_claim(rec.tx(), &claim).map_err(rec.err())??;
            let at = receipt.activated_at;
            let outside = |range: String| IssuerError::OutsideRange {
                kind: claim.kind,
                license: receipt.license_id.clone(),
                what: format!("the activation at {at}"),
                range,
            };
            if at < license.not_before || license.expires_at.is_some_and(|e| at > e) {
                let end = license.expires_at.map_or_else(|| "no end".to_owned(), |e| e.to_string());
                return Err(outside(format!("the license's term {} to {end}", license.not_before)));
            }
            if at > receipt.created_at {
                return Err(outside(format!("the time the receipt was made, {}", receipt.created_at)));
            }
            let new = rec
                .tx()
                .execute(
                    "INSERT INTO receipts
                        (token_sha256, license_id, install_id, activated_at, imported_at, token, account, product)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                    params![
                        sha256_hex(&token),
                        receipt.license_id,
                        receipt.install_id,
                        at.to_string(),
                        now.to_string(),
                        token,
                        receipt.account,
                        receipt.product
                    ],
                )
                .map_err(rec.err())?
                == 1;
            recorded(rec, Kind::ActivationReceipt, &receipt, &token, new, now)
        })
    }

    /// Verifies, checks and records a usage report; each day keeps the
    /// install's largest count.
    pub fn import_usage(&mut self, text: &str, now: Timestamp) -> Result<Imported, IssuerError> {
        let token = armor::read(text, Kind::UsageReport)?;
        let report = open_self_signed::<UsageReport>(&token, Kind::UsageReport)?.content;
        let claim = Claim {
            kind: "usage report",
            license_id: &report.license_id,
            install_id: &report.install_id,
            product: &report.product,
            account: &report.account,
            region: report.region.as_deref(),
        };
        self.transaction(|rec| {
            let license = check_claim(rec.tx(), &claim).map_err(rec.err())??;
            check_known_install(rec, &claim, &license)?;
            let lineage = lineage(rec.tx(), &report.license_id).map_err(rec.err())?;
            let start = lineage.last().map_or(license.not_before, |(_, first)| first.not_before);
            // Usage days are the license's (its billing time zone), else UTC.
            let day_of = |t: Timestamp| license.usage_day(t);
            let (first, last) = (day_of(start), license.expires_at.map(day_of));
            let made = day_of(report.created_at);
            for (day, count) in report.days.iter().map(|(d, n)| (*d, *n)) {
                let outside = |range: String| IssuerError::OutsideRange {
                    kind: claim.kind,
                    license: report.license_id.clone(),
                    what: format!("day {day}"),
                    range,
                };
                let max = license_common::exchange::MAX_DAY_COUNT;
                if count > max {
                    return Err(IssuerError::OutsideRange {
                        kind: claim.kind,
                        license: report.license_id.clone(),
                        what: format!("the count {count} of day {day}"),
                        range: format!("the counts a day can hold (0 to {max})"),
                    });
                }
                if day < report.from || day > report.to {
                    return Err(outside(format!("the report's own range {} to {}", report.from, report.to)));
                }
                if day > made {
                    return Err(outside(format!("the days before the report was made ({made})")));
                }
                if day < first || last.is_some_and(|l| day > l) {
                    let end = last.map_or_else(|| "no end".to_owned(), |l| l.to_string());
                    return Err(outside(format!("the license's term {first} to {end}")));
                }
            }
            let tx = rec.tx();
            let err = rec.err();
            let new = tx
                .execute(
                    "INSERT INTO usage_reports (token_sha256, license_id, install_id, account, first_day,
                        last_day, imported_at, token, product, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
                    params![
                        sha256_hex(&token),
                        report.license_id,
                        report.install_id,
                        report.account,
                        report.from.to_string(),
                        report.to.to_string(),
                        now.to_string(),
                        token,
                        report.product,
                        report.created_at.to_string()
                    ],
                )
                .map_err(&err)?
                == 1;
            if new {
                for (day, count) in &report.days {
                    tx.execute(
                        "INSERT INTO usage_days (account, day, install_id, datakits) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (account, day, install_id) DO UPDATE SET datakits = excluded.datakits WHERE excluded.datakits > usage_days.datakits",
                        params![report.account, day.to_string(), report.install_id, i64::try_from(*count).unwrap_or(i64::MAX)],
                    )
                    .map_err(&err)?;
                }
            }
            recorded(rec, Kind::UsageReport, &report, &token, new, now)
        })
    }

    /// Verifies, checks and records a deactivation receipt: the install let
    /// the license go, so a bound license may move to another install.
    pub fn import_deactivation(&mut self, text: &str, now: Timestamp) -> Result<Imported, IssuerError> {
        let token = armor::read(text, Kind::DeactivationReceipt)?;
        let receipt = open_self_signed::<DeactivationReceipt>(&token, Kind::DeactivationReceipt)?.content;
        let claim = Claim {
            kind: "deactivation receipt",
            license_id: &receipt.license_id,
            install_id: &receipt.install_id,
            product: &receipt.product,
            account: &receipt.account,
            region: receipt.region.as_deref(),
        };
        self.transaction(|rec| {
            let license = check_claim(rec.tx(), &claim).map_err(rec.err())??;
            check_known_install(rec, &claim, &license)?;
            if receipt.deactivated_at < license.issued_at {
                return Err(IssuerError::OutsideRange {
                    kind: claim.kind,
                    license: receipt.license_id.clone(),
                    what: format!("the deactivation at {}", receipt.deactivated_at),
                    range: format!("the time since the license was signed, {}", license.issued_at),
                });
            }
            let new = rec
                .tx()
                .execute(
                    "INSERT INTO deactivations
                        (token_sha256, license_id, install_id, deactivated_at, imported_at, token)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                    params![
                        sha256_hex(&token),
                        receipt.license_id,
                        receipt.install_id,
                        receipt.deactivated_at.to_string(),
                        now.to_string(),
                        token
                    ],
                )
                .map_err(rec.err())?
                == 1;
            recorded(rec, Kind::DeactivationReceipt, &receipt, &token, new, now)
        })
    }
}
