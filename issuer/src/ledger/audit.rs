//! `ledger verify`: the ledger checked against what was signed.
//!
//! The trusted keys come from the caller, never from the ledger (whoever can
//! edit the file could add a key of their own). Every license is verified
//! and every column the ledger derives from it ([`super::columns`]) is
//! compared with the signed token; every receipt, usage report and
//! deactivation receipt is verified with its install's key and its columns
//! compared; the daily usage that bills are made from is recomputed from the
//! stored signed reports; every revocation list is verified. Each difference
//! is reported by record and column.

use std::collections::BTreeMap;

use license_common::envelope::{self, Envelope, Kind};
use license_common::exchange::{ActivationReceipt, DeactivationReceipt, UsageReport, open_self_signed};
use license_common::keys::{Keyring, PublicKey};
use license_common::license::License;
use license_common::revocation::RevocationList;
use serde::Serialize;

use super::Ledger;
use super::columns::{self, DERIVED};
use crate::error::IssuerError;

/// One thing `ledger verify` found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The record: `license <id>`, `usage report <hash>`, `usage of <account> on <day> by <install>`, ….
    pub record: String,
    /// The column that differs from what was signed, if it is one column.
    pub column: Option<String>,
    /// The column's value in the ledger.
    pub ledger: Option<String>,
    /// The value in the signed token.
    pub signed: Option<String>,
    /// What is wrong, in words.
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.record, self.detail)
    }
}

fn shown(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "null".to_owned(), |s| format!("`{}`", license_common::text::escape(s)))
}

impl Problem {
    fn broken(record: String, detail: impl std::fmt::Display) -> Self {
        Problem { record, column: None, ledger: None, signed: None, detail: detail.to_string() }
    }

    fn column(record: String, column: &str, ledger: Option<String>, signed: Option<String>) -> Self {
        let detail =
            format!("column `{column}` is {} in the ledger but {} in the signed token", shown(&ledger), shown(&signed));
        Problem { record, column: Some(column.to_owned()), ledger, signed, detail }
    }
}

/// What `ledger verify` found (`ledger verify --json`, format 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Version of this JSON shape.
    pub format: u32,
    /// Licenses re-verified.
    pub licenses: usize,
    /// Activation receipts re-verified.
    pub receipts: usize,
    /// Usage reports re-verified.
    pub usage_reports: usize,
    /// Deactivation receipts re-verified.
    pub deactivations: usize,
    /// Revocation lists re-verified.
    pub revocation_lists: usize,
    /// Everything that did not verify or does not match what was signed.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    fn empty() -> Self {
        VerifyReport {
            format: 2,
            licenses: 0,
            receipts: 0,
            usage_reports: 0,
            deactivations: 0,
            revocation_lists: 0,
            problems: Vec::new(),
        }
    }
}

/// How `ledger verify` checks license signatures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verification {
    /// [`envelope::verify_batch`]: the same verdicts, about twice as fast;
    /// a batch with a bad signature is re-checked one license at a time.
    #[default]
    Batch,
    /// `verify_strict` on each license, exactly as an activator does.
    OneByOne,
}

/// Licenses verified per step: bounds the memory of an audit.
const VERIFY_CHUNK: usize = 4 * envelope::BATCH_SIZE;

/// A `licenses` row: its derived columns, then its token.
struct LicenseRow {
    derived: [Option<String>; 19],
    token: String,
}

impl LicenseRow {
    fn record(&self) -> String {
        format!("license {}", self.derived[0].as_deref().unwrap_or("?"))
    }
}

/// Verifies the signatures of `rows` and compares every derived column of
/// each with its signed license.
fn verify_licenses(rows: &[LicenseRow], keys: &Keyring, how: Verification, report: &mut VerifyReport) {
    let mut envelopes = Vec::with_capacity(rows.len());
    let mut parsed = Vec::with_capacity(rows.len());
    for row in rows {
        report.licenses += 1;
        match Envelope::parse(&row.token, Kind::License) {
            Ok(e) => {
                envelopes.push(e);
                parsed.push(row);
            }
            Err(e) => report.problems.push(Problem::broken(row.record(), e)),
        }
    }
    let verdicts = match how {
        Verification::Batch => envelope::verify_batch(&envelopes, keys),
        Verification::OneByOne => envelopes.iter().map(|e| e.verify(keys)).collect(),
    };
    for ((row, e), verdict) in parsed.into_iter().zip(&envelopes).zip(verdicts) {
        let decoded = verdict.and_then(|payload| envelope::decode::<License>(payload, Kind::License));
        match decoded {
            Err(err) => report.problems.push(Problem::broken(row.record(), err)),
            Ok(license) => {
                let signed = columns::derived(&license, &e.kid());
                for ((column, ledger), signed) in DERIVED.iter().zip(&row.derived).zip(signed) {
                    if *ledger != signed {
                        report.problems.push(Problem::column(row.record(), column, ledger.clone(), signed));
                    }
                }
            }
        }
    }
}

/// Compares named text columns of an install's file with its signed content.
fn compare(report: &mut VerifyReport, record: &str, pairs: &[(&str, Option<String>, Option<String>)]) {
    for (column, ledger, signed) in pairs {
        if ledger != signed {
            report.problems.push(Problem::column(record.to_owned(), column, ledger.clone(), signed.clone()));
        }
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

impl Ledger {
    /// Re-verifies everything stored with the `trusted` keys, the licenses
    /// with Ed25519 batch verification.
    pub fn verify(&self, trusted: &Keyring) -> Result<VerifyReport, IssuerError> {
        self.verify_with(trusted, Verification::Batch)
    }

    /// Re-verifies everything stored with the `trusted` keys, the licenses
    /// as `how` says.
    pub fn verify_with(&self, trusted: &Keyring, how: Verification) -> Result<VerifyReport, IssuerError> {
        let mut report = VerifyReport::empty();
        for row in self.rows("SELECT kid, public_key FROM keys", 2)? {
            let (kid, pem) = (row[0].clone().unwrap_or_default(), row[1].clone().unwrap_or_default());
            if !PublicKey::from_pem(&pem).is_ok_and(|k| k.kid().to_string() == kid) {
                report
                    .problems
                    .push(Problem::broken(format!("key {kid}"), "the stored public key does not match its id"));
            }
        }
        self.audit_licenses(trusted, how, &mut report)?;
        self.audit_installs_files(&mut report)?;
        for row in self.rows("SELECT CAST(sequence AS TEXT), issued_at, token FROM revocation_lists", 3)? {
            report.revocation_lists += 1;
            let record = format!("revocation list {}", row[0].as_deref().unwrap_or("?"));
            let token = row[2].clone().unwrap_or_default();
            let opened = envelope::open::<RevocationList>(&token, Kind::RevocationList, trusted);
            match opened {
                Err(e) => report.problems.push(Problem::broken(record, e)),
                Ok(list) => compare(
                    &mut report,
                    &record,
                    &[
                        ("sequence", row[0].clone(), Some(list.content.sequence.to_string())),
                        ("issued_at", row[1].clone(), Some(list.content.issued_at.to_string())),
                    ],
                ),
            }
        }
        Ok(report)
    }

    /// Receipts, usage reports (and the daily usage made from them) and
    /// deactivation receipts.
    fn audit_installs_files(&self, report: &mut VerifyReport) -> Result<(), IssuerError> {
        let hashed = |report: &mut VerifyReport, record: &str, hash: &Option<String>, token: &str| {
            let actual = super::imports::sha256_hex(token);
            if hash.as_deref() != Some(actual.as_str()) {
                report.problems.push(Problem::column(record.to_owned(), "token_sha256", hash.clone(), Some(actual)));
            }
        };
        let sql = "SELECT token_sha256, license_id, install_id, activated_at, account, product, token FROM receipts";
        for row in self.rows(sql, 7)? {
            report.receipts += 1;
            let record = format!("activation receipt {}", short(row[0].as_deref().unwrap_or("")));
            let token = row[6].clone().unwrap_or_default();
            match open_self_signed::<ActivationReceipt>(&token, Kind::ActivationReceipt) {
                Err(e) => report.problems.push(Problem::broken(record, e)),
                Ok(v) => {
                    hashed(report, &record, &row[0], &token);
                    let r = v.content;
                    compare(
                        report,
                        &record,
                        &[
                            ("license_id", row[1].clone(), Some(r.license_id)),
                            ("install_id", row[2].clone(), Some(r.install_id)),
                            ("activated_at", row[3].clone(), Some(r.activated_at.to_string())),
                            ("account", row[4].clone(), Some(r.account)),
                            ("product", row[5].clone(), Some(r.product)),
                        ],
                    );
                }
            }
        }
        let sql =
            "SELECT token_sha256, license_id, install_id, account, first_day, last_day, product, created_at, token
                   FROM usage_reports";
        let mut usage: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for row in self.rows(sql, 9)? {
            report.usage_reports += 1;
            let record = format!("usage report {}", short(row[0].as_deref().unwrap_or("")));
            let token = row[8].clone().unwrap_or_default();
            match open_self_signed::<UsageReport>(&token, Kind::UsageReport) {
                Err(e) => report.problems.push(Problem::broken(record, e)),
                Ok(v) => {
                    hashed(report, &record, &row[0], &token);
                    let r = v.content;
                    for (day, count) in &r.days {
                        let slot = usage.entry((r.account.clone(), day.to_string(), r.install_id.clone())).or_default();
                        *slot = (*slot).max(*count);
                    }
                    compare(
                        report,
                        &record,
                        &[
                            ("license_id", row[1].clone(), Some(r.license_id)),
                            ("install_id", row[2].clone(), Some(r.install_id)),
                            ("account", row[3].clone(), Some(r.account)),
                            ("first_day", row[4].clone(), Some(r.from.to_string())),
                            ("last_day", row[5].clone(), Some(r.to.to_string())),
                            ("product", row[6].clone(), Some(r.product)),
                            ("created_at", row[7].clone(), Some(r.created_at.to_string())),
                        ],
                    );
                }
            }
        }
        let mut stored: BTreeMap<(String, String, String), Option<String>> = BTreeMap::new();
        for row in self.rows("SELECT account, day, install_id, CAST(datakits AS TEXT) FROM usage_days", 4)? {
            let key = (
                row[0].clone().unwrap_or_default(),
                row[1].clone().unwrap_or_default(),
                row[2].clone().unwrap_or_default(),
            );
            stored.insert(key, row[3].clone());
        }
        let keys: std::collections::BTreeSet<_> = usage.keys().chain(stored.keys()).cloned().collect();
        for key in keys {
            let signed = usage.get(&key).map(u64::to_string);
            let ledger = stored.get(&key).cloned().flatten();
            if signed != ledger {
                let record = format!("usage of account {} on {} by install {}", key.0, key.1, key.2);
                report.problems.push(Problem::column(record, "datakits", ledger, signed));
            }
        }
        let sql = "SELECT token_sha256, license_id, install_id, deactivated_at, token FROM deactivations";
        for row in self.rows(sql, 5)? {
            report.deactivations += 1;
            let record = format!("deactivation receipt {}", short(row[0].as_deref().unwrap_or("")));
            let token = row[4].clone().unwrap_or_default();
            match open_self_signed::<DeactivationReceipt>(&token, Kind::DeactivationReceipt) {
                Err(e) => report.problems.push(Problem::broken(record, e)),
                Ok(v) => {
                    hashed(report, &record, &row[0], &token);
                    let r = v.content;
                    compare(
                        report,
                        &record,
                        &[
                            ("license_id", row[1].clone(), Some(r.license_id)),
                            ("install_id", row[2].clone(), Some(r.install_id)),
                            ("deactivated_at", row[3].clone(), Some(r.deactivated_at.to_string())),
                        ],
                    );
                }
            }
        }
        Ok(())
    }

    /// Every row of a query of `n` columns, each as text (or NULL).
    fn rows(&self, sql: &str, n: usize) -> Result<Vec<Vec<Option<String>>>, IssuerError> {
        let mut stmt = self.conn().prepare(sql).map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| (0..n).map(|i| r.get::<Option<String>>(i)).collect::<Result<Vec<_>, _>>())
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Verifies every license: this thread reads the rows, every core
    /// verifies chunks of them, and problems are reported in row order
    /// whichever thread found them.
    fn audit_licenses(&self, keys: &Keyring, how: Verification, report: &mut VerifyReport) -> Result<(), IssuerError> {
        let mut stmt = self.conn().prepare(&columns::select("ORDER BY rowid")).map_err(self.err())?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
        let (work, queue) = std::sync::mpsc::sync_channel::<(usize, Vec<LicenseRow>)>(threads);
        // Shared by the workers alone: if they all stop, sending fails
        // rather than waiting for a reader that is gone.
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let (done, results) = std::sync::mpsc::channel();
        let mut found: Vec<(usize, usize, Vec<Problem>)> = std::thread::scope(|s| {
            for _ in 0..threads {
                let (queue, done) = (std::sync::Arc::clone(&queue), done.clone());
                s.spawn(move || {
                    while let Ok((index, rows)) = queue.lock().map_err(drop).and_then(|q| q.recv().map_err(drop)) {
                        let mut part = VerifyReport::empty();
                        verify_licenses(&rows, keys, how, &mut part);
                        if done.send((index, part.licenses, part.problems)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop((queue, done));
            let read: Result<(), IssuerError> = (|| {
                let mut chunk: Vec<LicenseRow> = Vec::with_capacity(VERIFY_CHUNK);
                let (mut index, mut stopped) = (0, false);
                stmt.for_each([], |r| {
                    if stopped {
                        return Ok(()); // every worker stopped; the scope reports why
                    }
                    let mut derived: [Option<String>; 19] = Default::default();
                    for (i, slot) in derived.iter_mut().enumerate() {
                        *slot = r.get(i)?;
                    }
                    chunk.push(LicenseRow { derived, token: r.get(DERIVED.len())? });
                    if chunk.len() == VERIFY_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(VERIFY_CHUNK));
                        stopped = work.send((index, full)).is_err();
                        index += 1;
                    }
                    Ok(())
                })
                .map_err(self.err())?;
                let _ = work.send((index, chunk));
                Ok(())
            })();
            drop(work);
            read.map(|()| results.into_iter().collect())
        })?;
        found.sort_by_key(|(index, _, _)| *index);
        for (_, licenses, problems) in found {
            report.licenses += licenses;
            report.problems.extend(problems);
        }
        Ok(())
    }
}
