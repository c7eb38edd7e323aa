//! Opening the ledger's SQLite file: made private from its first byte, in
//! WAL mode, with the lock waits every command shares.

use std::path::Path;

use super::{BUSY_TIMEOUT, PAGE_SIZE, db_error};
use crate::IssuerError;

/// Opens (creating if needed) the SQLite file at `path`, set up as every
/// command uses it; the schema is not touched.
pub(super) fn open(path: &Path) -> Result<rusqlite::Connection, IssuerError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(IssuerError::io("create", dir))?;
    }
    // A new ledger is made private from its first byte (SQLite gives its
    // -wal and -shm files the same mode); an existing one keeps the mode
    // its operator gave it (a group that reads backups, a read-only copy).
    #[cfg(unix)]
    if !path.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        let made = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
        if let Err(e) = made
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(IssuerError::io("create", path)(e));
        }
    }
    let err = db_error::<rusqlite::Error>(path);
    let conn = rusqlite::Connection::open(path).map_err(&err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
    conn.set_prepared_statement_cache_capacity(64);
    // Takes effect only when the file is new (before WAL): see PAGE_SIZE.
    conn.pragma_update(None, "page_size", PAGE_SIZE).map_err(&err)?;
    enter_wal(&conn, path, BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(&err)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(&err)?;
    // What SQLite holds for one query (a batch's materialised list of
    // chains, a sort) stays in memory, not in a file in /var/tmp.
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(&err)?;
    Ok(conn)
}

/// Puts the ledger into WAL mode, waiting up to `patience` for the lock
/// that takes ([`license_common::sqlite::enter_wal`]: without it, sixteen
/// `issuer issue` on one new ledger lost one open in about 300).
fn enter_wal(conn: &rusqlite::Connection, path: &Path, patience: std::time::Duration) -> Result<(), IssuerError> {
    match license_common::sqlite::enter_wal(conn, patience).map_err(db_error(path))? {
        mode if mode == "wal" => Ok(()),
        mode => Err(IssuerError::Ledger {
            path: path.to_path_buf(),
            detail: format!("it stays in journal mode `{mode}`; a ledger needs WAL"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Set in a child process of the test below: the file it opens.
    const CHILD_ENV: &str = "LICENSE_TEST_SQLITE_OPEN";
    /// Set in a child process: when to open it, in microseconds since 1970.
    const START_ENV: &str = "LICENSE_TEST_SQLITE_OPEN_AT";

    /// Sixteen processes (this test binary run again) open one new file at
    /// once, forty times over (the old single attempt lost 16 to 38 opens in
    /// a hundred rounds): every one opens it, in WAL mode.
    #[test]
    fn sixteen_processes_opening_one_new_file_all_reach_wal() {
        if let Some(path) = std::env::var_os(CHILD_ENV) {
            // All sixteen start at the same instant, given by the parent.
            let at: u128 = std::env::var(START_ENV).unwrap().parse().unwrap();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros();
            std::thread::sleep(Duration::from_micros(u64::try_from(at.saturating_sub(now)).unwrap()));
            let conn = open(Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
            assert_eq!(mode, "wal");
            return;
        }
        let me = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut failed = Vec::new();
        for round in 0..40 {
            let path = dir.path().join(format!("ledger-{round}.sqlite3"));
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            let at = (now + Duration::from_millis(150)).as_micros().to_string();
            let children: Vec<_> = (0..16)
                .map(|_| {
                    let mut child = std::process::Command::new(&me);
                    child.args([
                        "--exact",
                        "ledger::sqlite::tests::sixteen_processes_opening_one_new_file_all_reach_wal",
                    ]);
                    child.args(["--nocapture", "--test-threads", "1"]).env(CHILD_ENV, &path).env(START_ENV, &at);
                    child.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
                })
                .collect();
            for child in children {
                let out = child.wait_with_output().unwrap();
                if !out.status.success() {
                    let said = String::from_utf8_lossy(&out.stderr);
                    let mut lines = said.lines().skip_while(|l| !l.contains("panicked"));
                    failed.push(format!("round {round}: {}", lines.nth(1).unwrap_or(&said)));
                }
            }
        }
        assert!(failed.is_empty(), "{} of 640 opens failed: {failed:#?}", failed.len());
    }
}
