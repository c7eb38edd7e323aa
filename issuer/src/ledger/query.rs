//! Reading the ledger: lists, chains, lapsed orders, integrity.

use std::borrow::Cow;

use license_common::envelope::{self, Envelope, EnvelopeError, Kind};
use license_common::exchange::{ActivationReceipt, UsageReport, open_self_signed};
use license_common::keys::{Keyring, PublicKey};
use license_common::license::License;
use license_common::time::Timestamp;
use rusqlite::params;
use serde::Serialize;

use super::Ledger;
use crate::error::IssuerError;

/// Where a license of the ledger stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// In force.
    Active,
    /// Expired, in its grace period.
    Grace,
    /// Its grace period is over.
    Released,
    /// Not valid yet.
    NotYetValid,
    /// Replaced by a later license of its chain.
    Superseded,
    /// Revoked.
    Revoked,
    /// A pay-as-you-go order not activated within its window.
    Lapsed,
}

impl EntryStatus {
    /// Every status.
    pub const ALL: [EntryStatus; 7] = [
        EntryStatus::Active,
        EntryStatus::Grace,
        EntryStatus::Released,
        EntryStatus::NotYetValid,
        EntryStatus::Superseded,
        EntryStatus::Revoked,
        EntryStatus::Lapsed,
    ];

    /// The wire name, e.g. `not_yet_valid`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Active => "active",
            EntryStatus::Grace => "grace",
            EntryStatus::Released => "released",
            EntryStatus::NotYetValid => "not_yet_valid",
            EntryStatus::Superseded => "superseded",
            EntryStatus::Revoked => "revoked",
            EntryStatus::Lapsed => "lapsed",
        }
    }

    fn of_phase(phase: &license_common::license::Phase) -> Self {
        use license_common::license::Phase;
        match phase {
            Phase::NotYetValid { .. } => EntryStatus::NotYetValid,
            Phase::Active { .. } => EntryStatus::Active,
            Phase::Grace { .. } => EntryStatus::Grace,
            Phase::Released { .. } => EntryStatus::Released,
        }
    }
}

impl std::fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a pay-as-you-go order was activated within its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Its window is still open and no receipt came yet.
    Pending,
    /// A receipt shows it was activated in its window.
    Activated,
    /// No receipt by the deadline: the account is back to community.
    Lapsed,
}

/// One license as the ledger sees it (`ledger list --json`, one per element).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// License id.
    pub id: String,
    /// Account.
    pub account: String,
    /// Edition.
    pub edition: String,
    /// Plan.
    pub plan: String,
    /// Sequence.
    pub sequence: u64,
    /// When it was signed.
    pub issued_at: String,
    /// Expiry.
    pub expires_at: Option<String>,
    /// The license it replaced.
    pub supersedes: Option<String>,
    /// The install it is bound to.
    pub install: Option<String>,
    /// `active`, `grace`, `released`, `not_yet_valid`, `superseded`, `revoked` or `lapsed`.
    pub status: EntryStatus,
}

/// A license's whole story (`ledger show ID --json`, format 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Chain {
    /// Version of this JSON shape.
    pub format: u32,
    /// The license asked about.
    pub id: String,
    /// Oldest first: every license in its supersedes chain, itself included.
    pub licenses: Vec<LedgerEntry>,
    /// Receipts of any license in the chain: (license id, install id, activated at).
    pub receipts: Vec<(String, String, String)>,
    /// Revocation of the license, if any: (reason, revoked at).
    pub revocation: Option<(String, String)>,
}

/// A pay-as-you-go order and whether it was activated in its window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lapsed {
    /// The first pay-as-you-go license of the order.
    pub license_id: String,
    /// Account.
    pub account: String,
    /// The activation deadline.
    pub activate_by: String,
    /// `lapsed` (no receipt by the deadline, back to community), `activated` or `pending`.
    pub state: OrderState,
}

/// What `ledger verify` found (`ledger verify --json`, format 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Version of this JSON shape.
    pub format: u32,
    /// Licenses re-verified.
    pub licenses: usize,
    /// Receipts re-verified.
    pub receipts: usize,
    /// Usage reports re-verified.
    pub usage_reports: usize,
    /// Everything that did not verify or does not match its record.
    pub problems: Vec<String>,
}

impl VerifyReport {
    fn empty() -> Self {
        VerifyReport { format: 1, licenses: 0, receipts: 0, usage_reports: 0, problems: Vec::new() }
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

/// A `licenses` row, as `verify` reads it.
struct LicenseRow {
    id: String,
    account: String,
    sequence: i64,
    supersedes: Option<String>,
    install: Option<String>,
    kid: String,
    token: String,
}

/// The fields of a signed license that its ledger row repeats. Only these
/// are decoded: the signature already shows the payload is what this
/// issuer signed, and the full decode would cost as much as the batch
/// equation itself.
#[derive(serde::Deserialize)]
struct Recorded<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    account: Cow<'a, str>,
    sequence: u64,
    #[serde(borrow, default)]
    supersedes: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    install: Option<Cow<'a, str>>,
}

/// Verifies the signatures of `rows` and compares each license with its record.
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
            Err(e) => report.problems.push(format!("license {}: {e}", row.id)),
        }
    }
    let verdicts = match how {
        Verification::Batch => envelope::verify_batch(&envelopes, keys),
        Verification::OneByOne => envelopes.iter().map(|e| e.verify(keys)).collect(),
    };
    let mut kid_text = (None, String::new()); // the last key id seen, as text
    for ((row, e), verdict) in parsed.into_iter().zip(&envelopes).zip(verdicts) {
        let decoded = verdict.and_then(|payload| {
            let bad = |detail: String| EnvelopeError::Payload { kind: Kind::License, detail };
            let text = std::str::from_utf8(payload).map_err(|err| bad(format!("the payload is not UTF-8 ({err})")))?;
            serde_json::from_str::<Recorded>(text).map_err(|err| bad(err.to_string()))
        });
        if kid_text.0 != Some(e.kid()) {
            kid_text = (Some(e.kid()), e.kid().to_string());
        }
        match decoded {
            Err(err) => report.problems.push(format!("license {}: {err}", row.id)),
            Ok(l) => {
                if l.id != row.id
                    || l.account != row.account
                    || i64::try_from(l.sequence).ok() != Some(row.sequence)
                    || l.supersedes.as_deref() != row.supersedes.as_deref()
                    || l.install.as_deref() != row.install.as_deref()
                    || kid_text.1 != row.kid
                {
                    report.problems.push(format!("license {}: the record does not match the signed license", row.id));
                }
            }
        }
    }
}

impl Ledger {
    fn status_of(&self, id: &str, license: &License, now: Timestamp) -> Result<EntryStatus, IssuerError> {
        let conn = self.conn();
        let revoked: bool = conn
            .query_row("SELECT EXISTS(SELECT 1 FROM revocations WHERE license_id = ?1)", params![id], |r| r.get(0))
            .map_err(self.err())?;
        if revoked {
            return Ok(EntryStatus::Revoked);
        }
        let superseded: bool = conn
            .query_row("SELECT EXISTS(SELECT 1 FROM licenses WHERE supersedes = ?1)", params![id], |r| r.get(0))
            .map_err(self.err())?;
        if superseded {
            return Ok(EntryStatus::Superseded);
        }
        if let Some(by) = license.activate_by
            && now > by
            && license.supersedes.is_none()
            && !self.activated_by(id, by)?
        {
            return Ok(EntryStatus::Lapsed);
        }
        Ok(EntryStatus::of_phase(&license.phase_at(now)))
    }

    fn activated_by(&self, id: &str, deadline: Timestamp) -> Result<bool, IssuerError> {
        self.conn()
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM receipts WHERE license_id = ?1 AND activated_at <= ?2)",
                params![id, deadline.to_string()],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    fn entries(&self, filter: &str, arg: Option<&str>, now: Timestamp) -> Result<Vec<LedgerEntry>, IssuerError> {
        let sql = format!(
            "SELECT id, account, edition, plan, sequence, issued_at, expires_at, supersedes, install, token FROM licenses {filter} ORDER BY issued_at, sequence"
        );
        let mut stmt = self.conn().prepare(&sql).map_err(self.err())?;
        let map = |r: &rusqlite::Row<'_>| {
            Ok((
                LedgerEntry {
                    id: r.get(0)?,
                    account: r.get(1)?,
                    edition: r.get(2)?,
                    plan: r.get(3)?,
                    sequence: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                    issued_at: r.get(5)?,
                    expires_at: r.get(6)?,
                    supersedes: r.get(7)?,
                    install: r.get(8)?,
                    status: EntryStatus::Active,
                },
                r.get::<_, String>(9)?,
            ))
        };
        let rows: Vec<(LedgerEntry, String)> = match arg {
            Some(a) => stmt.query_map(params![a], map),
            None => stmt.query_map([], map),
        }
        .map_err(self.err())?
        .collect::<Result<_, _>>()
        .map_err(self.err())?;
        let mut out = Vec::with_capacity(rows.len());
        for (mut entry, token) in rows {
            let license = decode_unverified(&token)?;
            entry.status = self.status_of(&entry.id, &license, now)?;
            out.push(entry);
        }
        Ok(out)
    }

    /// Every license, optionally of one account and/or with one status.
    pub fn list(
        &self,
        account: Option<&str>,
        status: Option<EntryStatus>,
        now: Timestamp,
    ) -> Result<Vec<LedgerEntry>, IssuerError> {
        let entries = match account {
            Some(a) => self.entries("WHERE account = ?1", Some(a), now)?,
            None => self.entries("", None, now)?,
        };
        Ok(entries.into_iter().filter(|e| status.is_none_or(|s| e.status == s)).collect())
    }

    /// The whole chain of a license.
    pub fn show(&self, id: &str, now: Timestamp) -> Result<Chain, IssuerError> {
        let one = |id: &str| -> Result<Option<LedgerEntry>, IssuerError> {
            Ok(self.entries("WHERE id = ?1", Some(id), now)?.into_iter().next())
        };
        let start = one(id)?.ok_or_else(|| IssuerError::NotInLedger { id: id.to_owned() })?;
        let mut chain = vec![start];
        while let Some(prev) = chain[0].supersedes.clone() {
            match one(&prev)? {
                Some(e) if chain.iter().all(|c| c.id != e.id) => chain.insert(0, e),
                _ => break,
            }
        }
        loop {
            let last = chain.last().expect("non-empty").id.clone();
            let next: Option<String> = self
                .conn()
                .query_row("SELECT id FROM licenses WHERE supersedes = ?1 LIMIT 1", params![last], |r| r.get(0))
                .ok();
            match next.map(|n| one(&n)).transpose()?.flatten() {
                Some(e) if chain.iter().all(|c| c.id != e.id) => chain.push(e),
                _ => break,
            }
        }
        let mut receipts = Vec::new();
        for entry in &chain {
            let mut stmt = self
                .conn()
                .prepare("SELECT license_id, install_id, activated_at FROM receipts WHERE license_id = ?1 ORDER BY activated_at")
                .map_err(self.err())?;
            let rows = stmt
                .query_map(params![entry.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(self.err())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.err())?;
            receipts.extend(rows);
        }
        let revocation = self
            .conn()
            .query_row("SELECT reason, revoked_at FROM revocations WHERE license_id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok();
        Ok(Chain { format: 1, id: id.to_owned(), licenses: chain, receipts, revocation })
    }

    /// Pay-as-you-go orders and their activation windows.
    pub fn lapsed(&self, now: Timestamp) -> Result<Vec<Lapsed>, IssuerError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT id, account, activate_by FROM licenses WHERE activate_by IS NOT NULL AND supersedes IS NULL ORDER BY activate_by")
            .map_err(self.err())?;
        let rows: Vec<(String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let mut out = Vec::new();
        for (license_id, account, activate_by) in rows {
            let deadline = Timestamp::parse_wire(&activate_by)
                .map_err(|e| IssuerError::Ledger { path: self.path().to_path_buf(), detail: e.to_string() })?;
            let state = if self.activated_by(&license_id, deadline)? {
                OrderState::Activated
            } else if now > deadline {
                OrderState::Lapsed
            } else {
                OrderState::Pending
            };
            out.push(Lapsed { license_id, account, activate_by, state });
        }
        Ok(out)
    }

    /// The pay-as-you-go orders that lapsed by `now`: not activated within
    /// their window, so their accounts are back to community.
    pub fn lapsed_orders(&self, now: Timestamp) -> Result<Vec<Lapsed>, IssuerError> {
        Ok(self.lapsed(now)?.into_iter().filter(|l| l.state == OrderState::Lapsed).collect())
    }

    /// Re-verifies every stored license, receipt and usage report, the
    /// licenses with Ed25519 batch verification.
    pub fn verify(&self) -> Result<VerifyReport, IssuerError> {
        self.verify_with(Verification::Batch)
    }

    /// Re-verifies every stored license, receipt and usage report, the
    /// licenses as `how` says.
    pub fn verify_with(&self, how: Verification) -> Result<VerifyReport, IssuerError> {
        let mut report = VerifyReport::empty();
        let mut keys = Keyring::new();
        for (kid, pem) in self.text_pairs("SELECT kid, public_key FROM keys")? {
            match PublicKey::from_pem(&pem) {
                Ok(k) if k.kid().to_string() == kid => {
                    keys.add(license_common::keys::TrustedKey { key: k, not_after: None, usage: Default::default() })
                }
                _ => report.problems.push(format!("key {kid}: the stored public key does not match its id")),
            }
        }
        self.audit_licenses(&keys, how, &mut report)?;
        for (table, kind) in [("receipts", Kind::ActivationReceipt), ("usage_reports", Kind::UsageReport)] {
            for (hash, token) in self.text_pairs(&format!("SELECT token_sha256, token FROM {table}"))? {
                let ok = match kind {
                    Kind::ActivationReceipt => open_self_signed::<ActivationReceipt>(&token, kind).map(|_| ()),
                    _ => open_self_signed::<UsageReport>(&token, kind).map(|_| ()),
                };
                if table == "receipts" {
                    report.receipts += 1;
                } else {
                    report.usage_reports += 1;
                }
                if let Err(e) = ok {
                    report.problems.push(format!("{kind} {}: {e}", hash.get(..12).unwrap_or(&hash)));
                } else if super::billing::sha256_hex(&token) != hash {
                    report.problems.push(format!(
                        "{kind} {}: the record's hash does not match its token",
                        hash.get(..12).unwrap_or(&hash)
                    ));
                }
            }
        }
        Ok(report)
    }

    /// Every row of a two-column text query.
    fn text_pairs(&self, sql: &str) -> Result<Vec<(String, String)>, IssuerError> {
        let mut stmt = self.conn().prepare(sql).map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Verifies every license: this thread reads the rows, every core
    /// verifies chunks of them, and problems are reported in row order
    /// whichever thread found them.
    fn audit_licenses(&self, keys: &Keyring, how: Verification, report: &mut VerifyReport) -> Result<(), IssuerError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT id, account, sequence, supersedes, install, kid, token FROM licenses")
            .map_err(self.err())?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
        let (work, queue) = std::sync::mpsc::sync_channel::<(usize, Vec<LicenseRow>)>(threads);
        // Shared by the workers alone: if they all stop, sending fails
        // rather than waiting for a reader that is gone.
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let (done, results) = std::sync::mpsc::channel();
        let mut found: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|s| {
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
                let mut rows = stmt.query([]).map_err(self.err())?;
                let mut chunk: Vec<LicenseRow> = Vec::with_capacity(VERIFY_CHUNK);
                let mut index = 0;
                while let Some(r) = rows.next().map_err(self.err())? {
                    chunk.push(LicenseRow {
                        id: r.get(0).map_err(self.err())?,
                        account: r.get(1).map_err(self.err())?,
                        sequence: r.get(2).map_err(self.err())?,
                        supersedes: r.get(3).map_err(self.err())?,
                        install: r.get(4).map_err(self.err())?,
                        kid: r.get(5).map_err(self.err())?,
                        token: r.get(6).map_err(self.err())?,
                    });
                    if chunk.len() == VERIFY_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(VERIFY_CHUNK));
                        if work.send((index, full)).is_err() {
                            break; // every worker stopped; the scope reports why
                        }
                        index += 1;
                    }
                }
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

/// Decodes a stored license's payload without verifying it (for listing;
/// `verify` checks the signatures).
fn decode_unverified(token: &str) -> Result<License, IssuerError> {
    use base64::Engine as _;
    let payload = token.split('.').nth(2).unwrap_or("");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| IssuerError::invalid(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| IssuerError::invalid(e.to_string()))
}

impl Ledger {
    /// Everything on record, for accounting (`ledger export --json`, format 1).
    pub fn export(&self, now: Timestamp) -> Result<serde_json::Value, IssuerError> {
        let rows = |sql: &str, cols: &[&str]| -> Result<Vec<serde_json::Value>, IssuerError> {
            let mut stmt = self.conn().prepare(sql).map_err(self.err())?;
            let n = cols.len();
            let out = stmt
                .query_map([], |r| {
                    let mut obj = serde_json::Map::new();
                    for (i, col) in cols.iter().enumerate().take(n) {
                        let value: rusqlite::types::Value = r.get(i)?;
                        let json = match value {
                            rusqlite::types::Value::Null => serde_json::Value::Null,
                            rusqlite::types::Value::Integer(v) => v.into(),
                            rusqlite::types::Value::Real(v) => v.into(),
                            rusqlite::types::Value::Text(v) => v.into(),
                            rusqlite::types::Value::Blob(_) => serde_json::Value::Null,
                        };
                        obj.insert((*col).to_owned(), json);
                    }
                    Ok(serde_json::Value::Object(obj))
                })
                .map_err(self.err())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.err())?;
            Ok(out)
        };
        Ok(serde_json::json!({
            "format": 1,
            "exported_at": now,
            "licenses": self.list(None, None, now)?,
            "orders": self.lapsed(now)?,
            "receipts": rows("SELECT license_id, install_id, activated_at, imported_at FROM receipts ORDER BY imported_at",
                &["license_id", "install_id", "activated_at", "imported_at"])?,
            "usage": rows("SELECT account, day, install_id, datakits FROM usage_days ORDER BY account, day, install_id",
                &["account", "day", "install_id", "datakits"])?,
            "revocations": rows("SELECT license_id, reason, revoked_at FROM revocations ORDER BY revoked_at",
                &["license_id", "reason", "revoked_at"])?,
            "keys": rows("SELECT kid, first_used_at, retired_at FROM keys ORDER BY first_used_at", &["kid", "first_used_at", "retired_at"])?,
        }))
    }
}
