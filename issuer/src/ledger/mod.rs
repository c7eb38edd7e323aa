//! The vendor's ledger: everything the issuer signs or receives, in one
//! SQLite file.
//!
//! * Path: `--ledger FILE`, else `ISSUER_LEDGER`, else
//!   `$XDG_DATA_HOME/license-issuer/ledger.sqlite3`, else
//!   `~/.local/share/license-issuer/ledger.sqlite3`.
//! * The schema is versioned (`PRAGMA user_version`) and migrated forward on
//!   open; a ledger from a newer release is refused rather than misread.
//! * Every command that signs something signs **inside** the transaction
//!   that records it, so a crash leaves neither a license without its record
//!   nor a record without its license (the record holds the token itself).
//! * The file is opened in WAL mode with a busy timeout, so two issuer
//!   commands at once wait for each other instead of failing.

mod batch;
mod billing;
mod query;
mod signing;

use std::path::{Path, PathBuf};

use license_common::keys::PublicKey;
use license_common::license::License;
use license_common::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

pub use batch::{BatchLine, BatchOutput, BatchRecord, BatchReport, parse_batch};
pub use billing::{Bill, BillDay, Imported};
pub use query::{Chain, EntryStatus, Lapsed, LedgerEntry, OrderState, Verification, VerifyReport};
pub use signing::LedgerSigner;

use crate::error::IssuerError;

/// The environment variable naming the ledger file.
pub const LEDGER_ENV: &str = "ISSUER_LEDGER";
/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

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
];

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
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

pub(crate) fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> IssuerError + '_ {
    move |e| IssuerError::Ledger { path: path.to_path_buf(), detail: e.to_string() }
}

impl Ledger {
    /// Opens (creating if needed) and migrates the ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger, IssuerError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(IssuerError::io("create", dir))?;
        }
        let err = db_error(path);
        let mut conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(&err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(&err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(&err)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(&err)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(&err)?;
        if version > SCHEMA_VERSION {
            return Err(IssuerError::Ledger {
                path: path.to_path_buf(),
                detail: format!("its schema version {version} is newer than this release reads ({SCHEMA_VERSION})"),
            });
        }
        let tx = conn.transaction().map_err(&err)?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            tx.execute_batch(migration).map_err(&err)?;
            tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX)).map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        let mut ledger = Ledger { conn, path: path.to_path_buf() };
        ledger.recover_batches()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(ledger)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self) -> impl Fn(rusqlite::Error) -> IssuerError + '_ {
        db_error(&self.path)
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`,
    /// rolled back otherwise (and on a crash).
    pub fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Recorder<'_>) -> Result<T, IssuerError>,
    ) -> Result<T, IssuerError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_error(&path))?;
        let mut recorder = Recorder { tx, path: path.clone() };
        let out = work(&mut recorder)?;
        recorder.tx.commit().map_err(db_error(&path))?;
        Ok(out)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// Records inside one ledger transaction.
pub struct Recorder<'a> {
    tx: Transaction<'a>,
    path: PathBuf,
}

impl Recorder<'_> {
    pub(crate) fn err(&self) -> impl Fn(rusqlite::Error) -> IssuerError + '_ {
        db_error(&self.path)
    }

    /// Records a signing key the first time it is used.
    pub fn key(&self, key: &PublicKey, now: Timestamp) -> Result<(), IssuerError> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO keys (kid, public_key, first_used_at) VALUES (?1, ?2, ?3)",
                params![key.kid().to_string(), key.to_pem(), now.to_string()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Records a signed license with its token.
    pub fn license(&self, license: &License, token: &str, kid: &str) -> Result<(), IssuerError> {
        let ts = |t: Option<Timestamp>| t.map(|t| t.to_string());
        self.tx
            .prepare_cached(
                "INSERT INTO licenses (id, account, product, region, edition, plan, sequence, issued_at, expires_at,
                                       activate_by, supersedes, install, kid, token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    license.id,
                    license.account,
                    license.product,
                    license.region,
                    license.edition,
                    license.plan.as_str(),
                    i64::try_from(license.sequence).unwrap_or(i64::MAX),
                    license.issued_at.to_string(),
                    ts(license.expires_at),
                    ts(license.activate_by),
                    license.supersedes,
                    license.install,
                    kid,
                    token,
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// The highest sequence of any license of `account`, if any.
    pub fn last_sequence(&self, account: &str) -> Result<Option<u64>, IssuerError> {
        let max: Option<i64> = self
            .tx
            .query_row("SELECT MAX(sequence) FROM licenses WHERE account = ?1", params![account], |r| r.get(0))
            .optional()
            .map_err(self.err())?
            .flatten();
        Ok(max.map(|m| u64::try_from(m).unwrap_or(0)))
    }

    /// The license that already supersedes `id`, if any.
    pub fn superseded_by(&self, id: &str) -> Result<Option<String>, IssuerError> {
        self.tx
            .query_row("SELECT id FROM licenses WHERE supersedes = ?1 LIMIT 1", params![id], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    pub(crate) fn tx(&self) -> &Transaction<'_> {
        &self.tx
    }
}
