//! Putting a SQLite file into WAL mode when several processes may open it
//! at once (the vendor's ledger, an install's check-in store).
//!
//! `PRAGMA journal_mode = WAL` on a file that is not yet in WAL mode is
//! refused at once with `SQLITE_BUSY`, without the connection's busy
//! handler, when another process is opening the same file; and a change
//! that cannot take effect is not an error but an answer naming the mode
//! the file kept. [`enter_wal`] tries again until the file says `wal`.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let conn = rusqlite::Connection::open(dir.path().join("store.sqlite3")).unwrap();
//! let mode = license_common::sqlite::enter_wal(&conn, std::time::Duration::from_secs(5)).unwrap();
//! assert_eq!(mode, "wal");
//! ```

use std::time::{Duration, Instant};

/// How long to wait between two attempts.
const RETRY: Duration = Duration::from_millis(10);

/// Asks for WAL mode until the file is in it or `patience` has passed, and
/// returns the mode the file is in then (`wal`, unless patience ran out
/// while the change did not take). Once patience runs out a refusal for a
/// lock held elsewhere is returned as it is (`DatabaseBusy`); any other
/// error is returned at once.
pub fn enter_wal(conn: &rusqlite::Connection, patience: Duration) -> rusqlite::Result<String> {
    let deadline = Instant::now() + patience;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") || Instant::now() >= deadline => return Ok(mode),
            Ok(_) => {}
            Err(e) if is_busy(&e) && Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(RETRY);
    }
}

/// Whether `e` is SQLite saying another connection holds a lock.
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in rollback mode whose lock another connection holds (the
    /// holder, to release with `COMMIT`), and a connection to it without a
    /// busy handler: the waiting is `enter_wal`'s own.
    fn locked(dir: &tempfile::TempDir) -> (rusqlite::Connection, rusqlite::Connection) {
        let path = dir.path().join("store.sqlite3");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder.execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);").unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(Duration::ZERO).unwrap();
        (holder, conn)
    }

    #[test]
    fn a_lock_held_past_patience_is_reported_busy_and_the_next_try_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let (holder, conn) = locked(&dir);
        let started = Instant::now();
        let refused = enter_wal(&conn, Duration::from_millis(200)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(200), "gave up after {:?}", started.elapsed());
        assert!(is_busy(&refused), "{refused:?}");
        holder.execute_batch("COMMIT").unwrap();
        assert_eq!(enter_wal(&conn, Duration::from_millis(200)).unwrap(), "wal");
    }

    #[test]
    fn a_file_that_cannot_be_wal_keeps_its_mode_and_says_so() {
        // An in-memory database has no WAL: the answer names its mode.
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        assert_eq!(enter_wal(&conn, Duration::from_millis(50)).unwrap(), "memory");
    }

    #[test]
    fn a_lock_released_while_waiting_lets_the_change_through() {
        let dir = tempfile::tempdir().unwrap();
        let (holder, conn) = locked(&dir);
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            holder.execute_batch("COMMIT").unwrap();
        });
        assert_eq!(enter_wal(&conn, Duration::from_secs(5)).unwrap(), "wal");
        release.join().unwrap();
    }
}
