//! Moving a ledger from one store to another (`issuer ledger migrate`):
//! from the SQLite file to PostgreSQL when a vendor outgrows one machine,
//! or back into a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ledger;
use super::db::{self, Arg, Dialect, Q, params};
use crate::error::IssuerError;

/// Every table of the ledger, in the order they are copied (a key before
/// the licenses it signed).
pub const TABLES: &[&str] = &[
    "keys",
    "licenses",
    "receipts",
    "usage_reports",
    "usage_days",
    "revocations",
    "retired_keys",
    "revocation_lists",
    "batches",
    "deactivations",
    "install_chain",
    "chain_flags",
    "attestations",
    "api_tokens",
    "idempotency",
    "api_audit",
];

/// What [`Ledger::copy_to`] moved (`issuer ledger migrate --json`, format 1).
#[derive(Clone, Debug, Serialize)]
pub struct Moved {
    /// Always 1.
    pub format: u32,
    /// The ledger copied.
    pub from: PathBuf,
    /// The ledger it was copied into.
    pub to: PathBuf,
    /// Rows per table, as counted in the new ledger after the copy.
    pub tables: BTreeMap<String, u64>,
}

/// The columns of `table` as the store lists them (PostgreSQL's explicit
/// `rowid` left out: it is SQLite's implicit one, made again in order).
fn columns(q: Q<'_>, table: &str) -> db::Result<Vec<String>> {
    let sql = match q.dialect() {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Dialect::Postgres => {
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"
        }
    };
    let all: Vec<String> = q.prepare(sql)?.query_map(params![table], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(all.into_iter().filter(|c| c != "rowid").collect())
}

/// The order rows were written in, as far as the store keeps it.
fn order(dialect: Dialect, table: &str, first_column: &str) -> String {
    match (dialect, table) {
        (Dialect::Sqlite, _) | (Dialect::Postgres, "licenses" | "chain_flags") => "rowid".into(),
        (Dialect::Postgres, "api_audit") => "seq".into(),
        (Dialect::Postgres, "attestations") => "install_id, time, kid".into(),
        (Dialect::Postgres, "usage_days") => "account, day, install_id".into(),
        (Dialect::Postgres, "install_chain") => "install_id, counter, token_sha256".into(),
        (Dialect::Postgres, _) => first_column.to_owned(),
    }
}

fn count(q: Q<'_>, table: &str) -> db::Result<u64> {
    q.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
}

impl Ledger {
    /// Opens the ledger at `path` to read it: a file that does not exist is
    /// refused rather than made (an audit, a listing or a migration of a
    /// mistyped path would otherwise pass on a new, empty ledger).
    pub fn open_existing(path: &Path) -> Result<Ledger, IssuerError> {
        // Anything written as a URL goes to `open`, which names the stores
        // a ledger can be in; only a path can be "no ledger here".
        let is_url = path.to_str().is_some_and(|p| super::is_postgres_url(p) || p.contains("://"));
        if !is_url && !path.is_file() {
            return Err(IssuerError::Ledger {
                path: path.to_path_buf(),
                detail: "there is no ledger file here; only a change that records something makes a new one".into(),
            });
        }
        Ledger::open(path)
    }

    /// Copies everything this ledger holds into `target`, which must be
    /// empty (a new file or a new database): every table, row by row in the
    /// order it was written, in one transaction of the target (a failure
    /// leaves it empty). The copy is read under this ledger's write lock,
    /// so it is one consistent state even while a service runs on it (its
    /// changes wait for the copy, up to the busy timeout). The tokens are
    /// copied as they were signed; check the copy with
    /// [`Ledger::verify_with`] against the vendor's keys.
    pub fn copy_to(&mut self, target: &mut Ledger) -> Result<Moved, IssuerError> {
        if self.path == target.path {
            return Err(IssuerError::Ledger {
                path: target.path.clone(),
                detail: "it is the ledger being copied; name a new file or database".into(),
            });
        }
        let source = self.path.clone();
        self.transaction(|src| copy(src.tx(), &source, target))
    }
}

/// `issuer ledger migrate`: opens the ledger at `from` (which must exist)
/// and the new one at `to` (a new file is made, a database must exist and
/// be empty), and copies the first into the second ([`Ledger::copy_to`]).
/// When it fails, a file it made for `to` is removed again: nothing is left
/// changed but the schema of `from`, brought up to date as any command does.
pub fn migrate(from: &Path, to: &Path) -> Result<Moved, IssuerError> {
    let is_url = |p: &Path| p.to_str().is_some_and(super::is_postgres_url);
    let same = !is_url(to)
        && to.exists()
        && std::fs::canonicalize(from).ok().is_some_and(|f| std::fs::canonicalize(to).is_ok_and(|t| f == t));
    if same || from == to {
        return Err(IssuerError::Ledger {
            path: to.to_path_buf(),
            detail: "it is the ledger being copied; name a new file or database".into(),
        });
    }
    let mut source = Ledger::open_existing(from)?;
    let made = !is_url(to) && !to.exists();
    let copied = Ledger::open(to).and_then(|mut target| source.copy_to(&mut target));
    if copied.is_err() && made {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = to.as_os_str().to_owned();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
    copied
}

/// Copies the ledger `from` (read in its transaction) into `target`.
fn copy(from: Q<'_>, source: &Path, target: &mut Ledger) -> Result<Moved, IssuerError> {
    {
        let to = target.conn();
        let err = super::db_error::<db::DbError>(source);
        let mut plan = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let held = count(to, table).map_err(target.err())?;
            if held > 0 {
                return Err(IssuerError::Ledger {
                    path: target.path.clone(),
                    detail: format!("it already holds {held} row(s) in `{table}`; migrate into an empty ledger"),
                });
            }
            let mine = columns(from, table).map_err(&err)?;
            let theirs = columns(to, table).map_err(target.err())?;
            let (mut a, mut b) = (mine.clone(), theirs);
            a.sort();
            b.sort();
            if a != b || a.is_empty() {
                return Err(IssuerError::Ledger {
                    path: target.path.clone(),
                    detail: format!("its table `{table}` has columns {b:?}, not {a:?}: the two schemas differ"),
                });
            }
            plan.push((*table, mine));
        }
        let dialect = from.dialect();
        target.transaction(|rec| {
            let tx = rec.tx();
            for (table, cols) in &plan {
                let list = cols.join(", ");
                let marks = (1..=cols.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
                let insert = format!("INSERT INTO {table} ({list}) VALUES ({marks})");
                let select = format!("SELECT {list} FROM {table} ORDER BY {}", order(dialect, table, &cols[0]));
                let mut write = Ok(());
                from.prepare(&select)
                    .and_then(|mut st| {
                        st.for_each([], |r| {
                            let values = (0..cols.len()).map(|i| r.value(i)).collect::<db::Result<Vec<_>>>()?;
                            if let Err(e) = tx.execute(&insert, values.iter().map(Arg::from).collect::<Vec<_>>()) {
                                write = Err(e);
                                return Err(db::DbError::NoRows); // stops reading; `write` says why
                            }
                            Ok(())
                        })
                    })
                    .or_else(|e| if write.is_err() { Ok(()) } else { Err(e) })
                    .map_err(&err)?;
                write.map_err(rec.err())?;
            }
            if tx.dialect() == Dialect::Postgres {
                // Explicit values do not move an identity column's sequence.
                for (table, column) in [("api_audit", "seq"), ("revocation_lists", "sequence")] {
                    tx.execute_batch(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                            (SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}), false)"
                    ))
                    .map_err(rec.err())?;
                }
            }
            let mut tables = BTreeMap::new();
            for (table, _) in &plan {
                let copied = count(tx, table).map_err(rec.err())?;
                let source = count(from, table).map_err(&err)?;
                if copied != source {
                    return Err(IssuerError::Ledger {
                        path: rec.path.clone(),
                        detail: format!("`{table}` has {copied} row(s) after the copy, not {source}: nothing was kept"),
                    });
                }
                tables.insert((*table).to_owned(), copied);
            }
            Ok(Moved { format: 1, from: source.to_path_buf(), to: rec.path.clone(), tables })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_of_the_schema_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.sqlite3")).unwrap();
        let mut names: Vec<String> = ledger
            .conn()
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        names.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
        listed.sort();
        assert_eq!(names, listed);
    }

    #[test]
    fn a_copy_needs_an_empty_target_and_keeps_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Ledger::open(&dir.path().join("a.sqlite3")).unwrap();
        let now = license_common::time::Timestamp::parse("2026-12-01T00:00:00Z").unwrap();
        a.api_token_create(crate::ledger::ApiScope::Read, "reports", now).unwrap();
        let mut b = Ledger::open(&dir.path().join("b.sqlite3")).unwrap();
        let moved = a.copy_to(&mut b).unwrap();
        assert_eq!(moved.tables["api_tokens"], 1);
        assert_eq!(b.api_tokens().unwrap(), a.api_tokens().unwrap());
        let again = a.copy_to(&mut b).unwrap_err();
        assert!(again.to_string().contains("already holds 1 row(s) in `api_tokens`"), "{again}");
        let missing = Ledger::open_existing(&dir.path().join("none.sqlite3")).unwrap_err();
        assert!(missing.to_string().contains("there is no ledger file here"), "{missing}");
        assert!(!dir.path().join("none.sqlite3").exists());
        // Into itself, by another name: refused before anything is opened.
        let other_name = dir.path().join(".").join("a.sqlite3");
        let itself = migrate(&dir.path().join("a.sqlite3"), &other_name).unwrap_err();
        assert!(itself.to_string().contains("it is the ledger being copied"), "{itself}");
        // A copy that fails after the new file was made: the file is gone.
        let fresh = dir.path().join("fresh.sqlite3");
        drop(b);
        let b = Ledger::open(&dir.path().join("b.sqlite3")).unwrap();
        b.conn().execute_batch("ALTER TABLE api_tokens ADD COLUMN extra TEXT").unwrap();
        drop(b);
        let refused = migrate(&dir.path().join("b.sqlite3"), &fresh).unwrap_err();
        assert!(refused.to_string().contains("the two schemas differ"), "{refused}");
        assert!(!fresh.exists(), "the file made for the copy is removed");
    }
}
