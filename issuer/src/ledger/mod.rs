//! The vendor's ledger: everything the issuer signs or receives, in one
//! SQLite file, or in a PostgreSQL database shared by several issuers
//! (`postgres://` URLs, [`Ledger::open_postgres`]; the stores behind one
//! SQL interface, `db`).
//!
//! * Path: `--ledger FILE`, else `ISSUER_LEDGER`, else
//!   `$XDG_DATA_HOME/license-issuer/ledger.sqlite3`, else
//!   `~/.local/share/license-issuer/ledger.sqlite3`.
//! * The schema is versioned (`PRAGMA user_version`) and migrated forward on
//!   open; a ledger from a newer release is refused rather than misread.
//! * Every command that signs something signs **inside** the transaction
//!   that records it, so a crash leaves neither a license without its record
//!   nor a record without its license (the record holds the token itself).
//! * Every transaction takes the write lock up front (`BEGIN IMMEDIATE`;
//!   on PostgreSQL one advisory lock),
//!   and the file is opened in WAL mode with a 30-second busy timeout, so two
//!   issuer commands at once wait for each other instead of failing; one that
//!   waited 30 seconds gives up with [`IssuerError::LedgerBusy`].
//! * The licenses of one product, account and region form a **chain**
//!   (an instance): sequences are allocated per chain in the transaction that
//!   records the license, and a new order for a chain whose newest license is
//!   in force is refused (it is an upgrade or a renewal).

mod api;
mod audit;
mod batch;
mod billing;
mod chain;
mod columns;
pub(crate) mod db;
mod imports;
mod listing;
mod migrate;
mod pg;
mod pgpass;
mod query;
mod signing;
mod sqlite;

use std::path::{Path, PathBuf};

use db::{Db, Dialect, OptionalExtension, Tx, params};
use license_common::keys::PublicKey;
use license_common::license::License;
use license_common::time::Timestamp;

pub use api::{
    ApiScope, ApiToken, AuditEntry, BodyDigest, NewApiToken, Outcome, Recorded, Request, TOKEN_PREFIX, body_digest,
};
pub use audit::{Problem, Verification, VerifyReport};
pub use batch::{BatchLine, BatchOutput, BatchRecord, BatchReport, parse_batch};
pub use billing::{Bill, BillDay, DayState};
pub use chain::{Attestation, ChainFlag, ChainProblem};
pub use imports::Imported;
pub use listing::{Filter, Listing};
pub use migrate::{Moved, TABLES, migrate};
pub use query::{Chain, EntryStatus, Lapsed, LedgerEntry, OrderState, Overuse};
pub use signing::{Distrusted, LedgerSigner};

use crate::error::IssuerError;

/// The environment variable naming the ledger file.
pub const LEDGER_ENV: &str = "ISSUER_LEDGER";
/// Where [`Ledger::open`] finds the password of a PostgreSQL ledger, as
/// PostgreSQL's own tools do.
pub const PG_PASSWORD_ENV: &str = "PGPASSWORD";

/// Which store holds a ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// The embedded SQLite file (the default).
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// Whether `location` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 7;
/// How long a command waits for another one that holds the ledger's lock.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE keys (
        kid TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        first_used_at TEXT NOT NULL,
        retired_at TEXT
     );
     CREATE TABLE licenses (
        id TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        product TEXT NOT NULL,
        region TEXT NOT NULL,
        edition TEXT NOT NULL,
        plan TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        issued_at TEXT NOT NULL,
        expires_at TEXT,
        activate_by TEXT,
        supersedes TEXT,
        install TEXT,
        kid TEXT NOT NULL REFERENCES keys(kid),
        token TEXT NOT NULL
     );
     CREATE INDEX licenses_by_account ON licenses(account);
     CREATE INDEX licenses_by_supersedes ON licenses(supersedes);
     CREATE TABLE receipts (
        token_sha256 TEXT PRIMARY KEY,
        license_id TEXT NOT NULL,
        install_id TEXT NOT NULL,
        activated_at TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        token TEXT NOT NULL
     );
     CREATE INDEX receipts_by_license ON receipts(license_id);
     CREATE TABLE usage_reports (
        token_sha256 TEXT PRIMARY KEY,
        license_id TEXT NOT NULL,
        install_id TEXT NOT NULL,
        account TEXT NOT NULL,
        first_day TEXT NOT NULL,
        last_day TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        token TEXT NOT NULL
     );
     CREATE TABLE usage_days (
        account TEXT NOT NULL,
        day TEXT NOT NULL,
        install_id TEXT NOT NULL,
        datakits INTEGER NOT NULL,
        PRIMARY KEY (account, day, install_id)
     );
     CREATE TABLE revocations (
        license_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        revoked_at TEXT NOT NULL
     );
     CREATE TABLE retired_keys (
        kid TEXT PRIMARY KEY,
        not_after TEXT NOT NULL,
        reason TEXT NOT NULL
     );
     CREATE TABLE revocation_lists (
        sequence INTEGER PRIMARY KEY,
        issued_at TEXT NOT NULL,
        token TEXT NOT NULL
     );",
    // 2: batches, so that an interrupted bulk issuance can be finished or undone.
    "CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        out_dir TEXT NOT NULL,
        staging TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('started', 'committed', 'done', 'abandoned')),
        started_at TEXT NOT NULL,
        licenses INTEGER NOT NULL DEFAULT 0
     );",
    // 3: chains, every derived column, floors, deactivations, distrust, limits.
    "ALTER TABLE licenses ADD COLUMN not_before TEXT NOT NULL DEFAULT '';
     ALTER TABLE licenses ADD COLUMN licensee TEXT NOT NULL DEFAULT '';
     ALTER TABLE licenses ADD COLUMN engine TEXT;
     ALTER TABLE licenses ADD COLUMN settlement TEXT NOT NULL DEFAULT '';
     ALTER TABLE licenses ADD COLUMN packages TEXT NOT NULL DEFAULT '{}';
     ALTER TABLE licenses ADD COLUMN quotas TEXT NOT NULL DEFAULT '{}';
     ALTER TABLE licenses ADD COLUMN max_installs INTEGER;
     CREATE INDEX licenses_by_chain ON licenses(product, account, region, sequence);
     ALTER TABLE revocations ADD COLUMN product TEXT NOT NULL DEFAULT '';
     ALTER TABLE revocations ADD COLUMN account TEXT NOT NULL DEFAULT '';
     ALTER TABLE revocations ADD COLUMN region TEXT NOT NULL DEFAULT '';
     ALTER TABLE revocations ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
     UPDATE revocations SET (product, account, region, sequence) =
        (SELECT product, account, region, sequence FROM licenses WHERE licenses.id = revocations.license_id)
        WHERE EXISTS (SELECT 1 FROM licenses WHERE licenses.id = revocations.license_id);
     ALTER TABLE keys ADD COLUMN distrusted_at TEXT;
     ALTER TABLE keys ADD COLUMN distrust_reason TEXT;
     ALTER TABLE receipts ADD COLUMN account TEXT NOT NULL DEFAULT '';
     ALTER TABLE receipts ADD COLUMN product TEXT NOT NULL DEFAULT '';
     ALTER TABLE usage_reports ADD COLUMN product TEXT NOT NULL DEFAULT '';
     ALTER TABLE usage_reports ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
     CREATE TABLE deactivations (
        token_sha256 TEXT PRIMARY KEY,
        license_id TEXT NOT NULL,
        install_id TEXT NOT NULL,
        deactivated_at TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        token TEXT NOT NULL
     );
     CREATE INDEX deactivations_by_license ON deactivations(license_id);",
    // 4: each install's chain of files, its forks and gaps; time attestations.
    "CREATE TABLE install_chain (
        install_id TEXT NOT NULL,
        counter INTEGER NOT NULL,
        token_sha256 TEXT NOT NULL,
        prev TEXT,
        kind TEXT NOT NULL,
        license_id TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        PRIMARY KEY (install_id, counter, token_sha256)
     );
     CREATE TABLE chain_flags (
        problem TEXT NOT NULL CHECK (problem IN ('fork', 'gap')),
        install_id TEXT NOT NULL,
        license_id TEXT NOT NULL,
        counter INTEGER NOT NULL,
        first_sha256 TEXT,
        second_sha256 TEXT NOT NULL,
        detail TEXT NOT NULL,
        flagged_at TEXT NOT NULL
     );
     CREATE TABLE attestations (
        install_id TEXT NOT NULL,
        time TEXT NOT NULL,
        kid TEXT NOT NULL,
        token TEXT NOT NULL
     );",
    // 5: which account asked for each license (only the primary account may).
    "ALTER TABLE licenses ADD COLUMN requested_by TEXT;",
    // 6: revocation floors found by chain, as licenses are.
    "CREATE INDEX revocations_by_chain ON revocations(product, account, region, sequence);",
    // 7: the license API: its tokens (hashed), idempotency keys, audit log.
    "CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        scope TEXT NOT NULL CHECK (scope IN ('admin', 'issue', 'read')),
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
     );
     CREATE TABLE idempotency (
        key TEXT PRIMARY KEY,
        route TEXT NOT NULL,
        body_sha256 TEXT NOT NULL,
        token_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        license_id TEXT,
        list_sequence INTEGER
     );
     CREATE TABLE api_audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        token_id TEXT NOT NULL,
        scope TEXT,
        route TEXT NOT NULL,
        status INTEGER NOT NULL,
        idempotency_key TEXT,
        license_id TEXT
     );
     CREATE INDEX api_audit_by_token ON api_audit(token_id, seq);",
];

/// After migration 3: fills the new derived columns of the licenses already
/// recorded from their tokens (a token that does not decode keeps the
/// defaults, which the audit then reports).
fn backfill_v3(tx: db::Q<'_>) -> db::Result<()> {
    let rows: Vec<(i64, String, String)> = tx
        .prepare("SELECT rowid, kid, token FROM licenses")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (rowid, kid, token) in rows {
        let (Ok(license), Ok(kid)) = (query::decode_unverified(&token), kid.parse::<license_common::KeyId>()) else {
            continue;
        };
        let d = columns::derived(&license, &kid);
        tx.execute(
            "UPDATE licenses SET not_before = ?2, licensee = ?3, engine = ?4, settlement = ?5, packages = ?6, quotas = ?7
             WHERE rowid = ?1",
            params![rowid, d[8], d[13], d[14], d[15], d[16], d[17]],
        )?;
    }
    use license_common::exchange::{ActivationReceipt, UsageReport, open_self_signed};
    let pairs = |sql: &str| -> db::Result<Vec<(String, String)>> {
        tx.prepare(sql)?.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
    };
    for (hash, token) in pairs("SELECT token_sha256, token FROM receipts")? {
        if let Ok(v) = open_self_signed::<ActivationReceipt>(&token, license_common::envelope::Kind::ActivationReceipt)
        {
            tx.execute(
                "UPDATE receipts SET account = ?2, product = ?3 WHERE token_sha256 = ?1",
                params![hash, v.content.account, v.content.product],
            )?;
        }
    }
    for (hash, token) in pairs("SELECT token_sha256, token FROM usage_reports")? {
        if let Ok(v) = open_self_signed::<UsageReport>(&token, license_common::envelope::Kind::UsageReport) {
            tx.execute(
                "UPDATE usage_reports SET product = ?2, created_at = ?3 WHERE token_sha256 = ?1",
                params![hash, v.content.product, v.content.created_at.to_string()],
            )?;
        }
    }
    Ok(())
}

/// A migration as PostgreSQL runs it: 64-bit integers, an identity column
/// where SQLite has an integer primary key, text compared byte by byte as
/// SQLite compares it (whatever the database's locale), and the `rowid` SQLite gives
/// every table made explicit where the ledger reads it (insertion order).
fn pg_migration(i: usize, sql: &str) -> String {
    let mut sql = sql
        .replace("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        .replace("INTEGER", "BIGINT")
        .replace("TEXT", "TEXT COLLATE \"C\"");
    match i + 1 {
        1 => sql.push_str("\n     ALTER TABLE licenses ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE;"),
        4 => {
            sql.push_str("\n     ALTER TABLE chain_flags ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE;")
        }
        _ => {}
    }
    sql
}

/// An open ledger.
pub struct Ledger {
    conn: Db,
    path: PathBuf,
    /// The API call whose signing transaction is next ([`Ledger::idempotent`]).
    request: Option<api::Request>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish_non_exhaustive()
    }
}

/// The ledger path: an explicit one, `ISSUER_LEDGER`, or the per-user default.
pub fn ledger_path(explicit: Option<PathBuf>) -> Option<PathBuf> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    explicit
        .or_else(|| env(LEDGER_ENV).map(PathBuf::from))
        .or_else(|| env("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("license-issuer/ledger.sqlite3")))
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".local/share/license-issuer/ledger.sqlite3")))
}

pub(crate) fn db_error<E: Into<db::DbError>>(path: &Path) -> impl Fn(E) -> IssuerError + '_ {
    move |e| {
        let e: db::DbError = e.into();
        if e.is_busy() {
            IssuerError::LedgerBusy { path: path.to_path_buf(), seconds: BUSY_TIMEOUT.as_secs() }
        } else if e.is_connection_lost() {
            IssuerError::LedgerServer { url: path.display().to_string(), detail: e.to_string() }
        } else {
            IssuerError::Ledger { path: path.to_path_buf(), detail: e.to_string() }
        }
    }
}

/// `INSERT INTO licenses` of `rows` rows: the derived columns, the token and
/// `max_installs`, numbered `?1` on.
fn insert_licenses(rows: usize) -> String {
    let width = columns::DERIVED.len() + 2;
    let row =
        |r: usize| format!("({})", (1..=width).map(|c| format!("?{}", r * width + c)).collect::<Vec<_>>().join(", "));
    let values = (0..rows).map(row).collect::<Vec<_>>().join(", ");
    format!("INSERT INTO licenses ({}, token, max_installs) VALUES {values}", columns::DERIVED.join(", "))
}

/// Per chain (account, region): the highest license sequence and the highest
/// revocation floor, where the ledger has them.
pub(crate) type ChainHeads = std::collections::HashMap<(String, String), (Option<u64>, Option<u64>)>;

/// The page size of a new ledger. A license row with its token is about
/// 1.5 KB: with 16 KiB pages, recording 100,000 licenses in one transaction
/// writes and checkpoints about half the WAL frames of 4 KiB pages and took
/// 1.0–1.2 s instead of 1.9–2.4 s in the same probe (docs/BENCHMARKS.md,
/// "Bulk issuance"), while WAL keeps readers working during a batch. An
/// existing ledger keeps its page size (SQLite changes it only by VACUUM).
pub const PAGE_SIZE: u32 = 16384;

impl Ledger {
    /// Opens (creating if needed) and migrates the ledger at `path`: a
    /// SQLite file, or a PostgreSQL database when `path` is a
    /// `postgres://` or `postgresql://` URL ([`Ledger::open_postgres`]).
    pub fn open(path: &Path) -> Result<Ledger, IssuerError> {
        if let Some(url) = path.to_str().filter(|p| is_postgres_url(p)) {
            return Ledger::open_postgres(url, std::env::var(PG_PASSWORD_ENV).ok().filter(|p| !p.is_empty()));
        }
        if let Some(scheme) = path.to_str().and_then(pg::foreign_scheme) {
            return Err(IssuerError::Ledger {
                path: path.to_path_buf(),
                detail: format!(
                    "`{scheme}://` is not a store a ledger can be in: give a SQLite file's path, or a `postgres://` or `postgresql://` URL (in lower case)"
                ),
            });
        }
        let conn = sqlite::open(path)?;
        Ledger::migrate(Db::Sqlite(conn), path.to_path_buf())
    }

    /// Brings the schema to [`SCHEMA_VERSION`] under the write lock (two
    /// processes opening a new ledger at once migrate it once), and finishes
    /// or undoes an interrupted batch.
    pub(crate) fn migrate(mut conn: Db, path: PathBuf) -> Result<Ledger, IssuerError> {
        let err = db_error::<db::DbError>(&path);
        let dialect = conn.dialect();
        let txn = conn.transaction().map_err(&err)?;
        let tx = txn.q();
        let version: i64 = match dialect {
            Dialect::Sqlite => tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(&err)?,
            Dialect::Postgres => {
                tx.execute_batch("CREATE TABLE IF NOT EXISTS ledger_schema (version BIGINT NOT NULL)").map_err(&err)?;
                let version = tx.query_row("SELECT MAX(version) FROM ledger_schema", [], |r| r.get::<Option<i64>>(0));
                version.map_err(&err)?.unwrap_or(0)
            }
        };
        if version > SCHEMA_VERSION {
            return Err(IssuerError::Ledger {
                path: path.clone(),
                detail: format!("its schema version {version} is newer than this release reads ({SCHEMA_VERSION})"),
            });
        }
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            let to = i64::try_from(i + 1).unwrap_or(i64::MAX);
            match dialect {
                Dialect::Sqlite => tx.execute_batch(migration).map_err(&err)?,
                Dialect::Postgres => tx.execute_batch(&pg_migration(i, migration)).map_err(&err)?,
            }
            if i + 1 == 3 {
                backfill_v3(tx).map_err(&err)?;
            }
            match dialect {
                Dialect::Sqlite => tx.execute_batch(&format!("PRAGMA user_version = {to}")).map_err(&err)?,
                Dialect::Postgres => {
                    tx.execute("DELETE FROM ledger_schema", []).map_err(&err)?;
                    tx.execute("INSERT INTO ledger_schema (version) VALUES (?1)", params![to]).map_err(&err)?;
                }
            }
        }
        txn.commit().map_err(&err)?;
        drop(err);
        let mut ledger = Ledger { conn, path, request: None };
        ledger.recover_batches()?;
        Ok(ledger)
    }

    /// Which store holds the ledger.
    pub fn store(&self) -> Store {
        match self.conn.dialect() {
            Dialect::Sqlite => Store::Sqlite,
            Dialect::Postgres => Store::Postgres,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self) -> impl Fn(db::DbError) -> IssuerError + '_ {
        db_error(&self.path)
    }

    /// Runs `work` in one transaction that holds the write lock from its
    /// start (`BEGIN IMMEDIATE`): committed when it returns `Ok`, rolled back
    /// otherwise (and on a crash). Another writer waits up to
    /// [`BUSY_TIMEOUT`] for it.
    pub fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Recorder<'_>) -> Result<T, IssuerError>,
    ) -> Result<T, IssuerError> {
        let path = self.path.clone();
        let request = self.request.take();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        let pending = match &request {
            Some(request) => match api::record_request(tx.q(), request, Timestamp::now()).map_err(db_error(&path))? {
                Some(audit) => Some((request.key.clone(), audit)),
                None => return Err(IssuerError::IdempotencyRace),
            },
            None => None,
        };
        let mut recorder = Recorder { tx, path: path.clone(), request: pending };
        let out = work(&mut recorder)?;
        recorder.tx.commit().map_err(db_error(&path))?;
        Ok(out)
    }

    pub(crate) fn conn(&self) -> db::Q<'_> {
        self.conn.q()
    }
}

/// Records inside one ledger transaction.
pub struct Recorder<'a> {
    tx: Tx<'a>,
    path: PathBuf,
    /// The idempotency key of the API call this transaction signs for, and
    /// the call's audit row.
    request: Option<(String, i64)>,
}

impl Recorder<'_> {
    pub(crate) fn err(&self) -> impl Fn(db::DbError) -> IssuerError + '_ {
        db_error(&self.path)
    }

    /// Records a signing key the first time it is used.
    pub fn key(&self, key: &PublicKey, now: Timestamp) -> Result<(), IssuerError> {
        self.tx
            .q()
            .execute(
                "INSERT INTO keys (kid, public_key, first_used_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![key.kid().to_string(), key.to_pem(), now.to_string()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Records a signed license with its token, its derived columns, and how
    /// many installs may run it (`None`: no limit).
    pub fn license(
        &self,
        license: &License,
        token: &str,
        kid: &str,
        max_installs: Option<u32>,
    ) -> Result<(), IssuerError> {
        let kid_value: license_common::KeyId = kid.parse().map_err(|()| IssuerError::Ledger {
            path: self.path.clone(),
            detail: format!("`{kid}` is not a key id"),
        })?;
        self.license_row(&columns::derived(license, &kid_value), token, max_installs)
    }

    /// [`Recorder::license_row`] of many licenses (a batch). On PostgreSQL
    /// in one statement per 256, one round trip instead of 256 (12.9 s → 5.7 s
    /// for 100,000); SQLite, in process, is faster one prepared row at a time.
    pub(crate) fn license_rows(&self, rows: &[columns::Row]) -> Result<(), IssuerError> {
        use db::ToArg;
        const WIDTH: usize = columns::DERIVED.len() + 2;
        if self.request.is_some() || self.tx.q().dialect() == Dialect::Sqlite {
            return rows.iter().try_for_each(|(d, token, max)| self.license_row(d, token, *max));
        }
        static FULL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_licenses(256));
        for part in rows.chunks(256) {
            let partial;
            let sql = if part.len() == 256 {
                FULL.as_str()
            } else {
                partial = insert_licenses(part.len());
                partial.as_str()
            };
            let mut args: Vec<db::Arg<'_>> = Vec::with_capacity(part.len() * WIDTH);
            for (d, token, max) in part {
                args.extend(d.iter().map(|v| v.to_arg()));
                args.push(token.to_arg());
                args.push(max.to_arg());
            }
            self.tx.q().prepare_cached(sql).and_then(|mut stmt| stmt.execute(args)).map_err(self.err())?;
        }
        Ok(())
    }

    /// [`Recorder::license`] of a license whose derived columns were made
    /// already (a batch makes them on the threads that sign).
    pub(crate) fn license_row(
        &self,
        d: &[Option<String>; columns::DERIVED.len()],
        token: &str,
        max_installs: Option<u32>,
    ) -> Result<(), IssuerError> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_licenses(1));
        use db::ToArg;
        let n = d.len();
        let args: [db::Arg<'_>; columns::DERIVED.len() + 2] = std::array::from_fn(|i| {
            if i < n {
                d[i].to_arg()
            } else if i == n {
                token.to_arg()
            } else {
                max_installs.to_arg()
            }
        });
        self.tx.q().prepare_cached(&SQL).and_then(|mut stmt| stmt.execute(args)).map_err(self.err())?;
        if let Some((key, audit)) = &self.request {
            let id = d[0].as_deref().unwrap_or_default();
            api::record_license(self.tx.q(), key, *audit, id).map_err(self.err())?;
        }
        Ok(())
    }

    /// The highest sequence of the chain of `product`, `account` and
    /// `region` (its licenses and its revocation floor), if any.
    pub fn last_sequence(&self, product: &str, account: &str, region: &str) -> Result<Option<u64>, IssuerError> {
        let max: Option<i64> = self.tx.q().prepare_cached(
                "SELECT MAX(s) FROM (
                    SELECT MAX(sequence) AS s FROM licenses WHERE product = ?1 AND account = ?2 AND region = ?3
                    UNION ALL
                    SELECT MAX(sequence) FROM revocations WHERE product = ?1 AND account = ?2 AND region = ?3) AS heads",
            )
            .and_then(|mut stmt| stmt.query_row(params![product, account, region], |r| r.get(0)).optional())
            .map_err(self.err())?
            .flatten();
        Ok(max.map(|m| u64::try_from(m).unwrap_or(0)))
    }

    /// The license that already supersedes `id`, if any.
    pub fn superseded_by(&self, id: &str) -> Result<Option<String>, IssuerError> {
        self.tx
            .q()
            .query_row("SELECT id FROM licenses WHERE supersedes = ?1 LIMIT 1", params![id], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    pub(crate) fn tx(&self) -> db::Q<'_> {
        self.tx.q()
    }

    /// For each chain (`account`, `region`) of `product`: the highest
    /// sequence of its licenses and of its revocation floors, as
    /// [`Recorder::last_sequence`] gives them one by one, looked up in one
    /// query for a whole batch: the chains go in as one JSON array, which
    /// either store reads as a table.
    pub(crate) fn chain_heads(&self, product: &str, chains: &[(&str, &str)]) -> Result<ChainHeads, IssuerError> {
        let tx = self.tx.q();
        let chains_json = serde_json::to_string(chains).expect("strings serialise");
        let table = match tx.dialect() {
            Dialect::Sqlite => "SELECT value ->> 0, value ->> 1 FROM json_each(?2)",
            Dialect::Postgres => "SELECT e ->> 0, e ->> 1 FROM jsonb_array_elements(CAST(CAST(?2 AS TEXT) AS jsonb)) e",
        };
        let sql = format!(
            "WITH c(account, region) AS MATERIALIZED ({table})
             SELECT c.account, c.region,
                (SELECT MAX(sequence) FROM licenses l
                  WHERE l.product = ?1 AND l.account = c.account AND l.region = c.region),
                (SELECT MAX(sequence) FROM revocations r
                  WHERE r.product = ?1 AND r.account = c.account AND r.region = c.region)
             FROM c
             WHERE EXISTS (SELECT 1 FROM licenses l
                            WHERE l.product = ?1 AND l.account = c.account AND l.region = c.region)
                OR EXISTS (SELECT 1 FROM revocations r
                            WHERE r.product = ?1 AND r.account = c.account AND r.region = c.region)"
        );
        let mut heads = std::collections::HashMap::new();
        let seq = |v: Option<i64>| v.map(|m| u64::try_from(m).unwrap_or(0));
        tx.prepare(&sql)
            .and_then(|mut stmt| {
                stmt.for_each(params![product, chains_json], |r| {
                    heads.insert((r.get(0)?, r.get(1)?), (seq(r.get(2)?), seq(r.get(3)?)));
                    Ok(())
                })
            })
            .map_err(self.err())?;
        Ok(heads)
    }
}
