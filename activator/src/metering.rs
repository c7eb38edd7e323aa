//! Collector check-ins: distinct collectors per billing day, and seats.
//!
//! A pay-as-you-go install is billed by the collectors (DataKits) that
//! report each day; a subscription or perpetual license may cap how many
//! run at once (a quota such as `collectors = 50`). The local service
//! records every check-in here, in `collectors.sqlite3` beside the state
//! (SQLite in WAL mode, `synchronous = FULL`: a committed check-in is on
//! disk), so usage is measured, not typed:
//!
//! - `days(day, id)`: each collector that checked in on a billing day (the
//!   day in the license's billing time zone), once; the day's count is the
//!   number of distinct ids.
//! - `seats(id, last_seen)`: a collector holds a seat while it checks in
//!   at least once per lease time; one that stops frees its seat when the
//!   lease runs out, like a floating license inside the air gap.
//!
//! [`Meter::check_in`] takes a batch and commits it in one transaction
//! (group commit); the caller acknowledges the check-ins only after it
//! returns. Usage reports take each day's count as the larger of what was
//! measured here and what was recorded by hand (`activator usage record`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use license_common::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::error::ActivatorError;

/// The file beside the state.
pub const FILE: &str = "collectors.sqlite3";

/// The quota of a license that caps how many collectors run at once.
pub const CAP_QUOTA: &str = "collectors";

/// The longest collector id accepted.
pub const MAX_ID_LEN: usize = 128;

/// Whether `id` is a valid collector id: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// One check-in: a collector says it is alive and reporting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckIn {
    /// The collector's id.
    pub id: String,
    /// When it checked in.
    pub at: Timestamp,
    /// The billing day `at` falls on.
    pub day: NaiveDate,
}

/// What became of a check-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded; the collector holds a seat.
    Accepted {
        /// It took a seat it did not hold.
        new_seat: bool,
        /// Its first check-in of the billing day.
        first_today: bool,
    },
    /// Refused: every seat is held.
    SeatsFull {
        /// The license's cap.
        cap: u64,
    },
}

/// Seats now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seats {
    /// Collectors holding a seat (checked in within the lease).
    pub used: u64,
    /// The cap, if the license has one.
    pub cap: Option<u64>,
}

/// The check-in store of one state directory.
pub struct Meter {
    conn: Connection,
    path: PathBuf,
}

fn err(path: &Path) -> impl Fn(rusqlite::Error) -> ActivatorError + '_ {
    move |e| ActivatorError::Metering { path: path.to_path_buf(), detail: e.to_string() }
}

impl Meter {
    /// Opens (creating it, mode 0600) the store of state directory `dir`.
    pub fn open(dir: &Path) -> Result<Meter, ActivatorError> {
        let path = dir.join(FILE);
        if !path.exists() {
            create_private(&path)?;
        }
        let conn = Connection::open(&path).map_err(err(&path))?;
        let patience = std::time::Duration::from_secs(5);
        conn.busy_timeout(patience).map_err(err(&path))?;
        // Entering WAL is refused at once while another process opens the
        // same new file: `enter_wal` tries again for the same patience.
        let mode = license_common::sqlite::enter_wal(&conn, patience).map_err(err(&path))?;
        if mode != "wal" {
            let detail = format!("it stays in journal mode `{mode}`; the check-in store needs WAL");
            return Err(ActivatorError::Metering { path, detail });
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS seats (id TEXT PRIMARY KEY, last_seen INTEGER NOT NULL) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS seats_by_time ON seats (last_seen);
             CREATE TABLE IF NOT EXISTS days (day TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (day, id)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS refusals (day TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;",
        )
        .map_err(err(&path))?;
        Ok(Meter { conn, path })
    }

    /// Records `batch` in one transaction and returns what became of each
    /// check-in, in order. A collector that holds a seat (checked in within
    /// `lease_seconds`) keeps it; another takes one if fewer than `cap` are
    /// held, else it is refused (and counted as refused).
    pub fn check_in(
        &mut self,
        batch: &[CheckIn],
        cap: Option<u64>,
        lease_seconds: i64,
    ) -> Result<Vec<Outcome>, ActivatorError> {
        let path = self.path.clone();
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err(&path))?;
        let mut outcomes = Vec::with_capacity(batch.len());
        {
            let mut held = tx.prepare_cached("SELECT last_seen FROM seats WHERE id = ?1").map_err(err(&path))?;
            let mut used = tx.prepare_cached("SELECT COUNT(*) FROM seats WHERE last_seen > ?1").map_err(err(&path))?;
            let mut seat = tx
                .prepare_cached(
                    "INSERT INTO seats (id, last_seen) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                )
                .map_err(err(&path))?;
            let mut day =
                tx.prepare_cached("INSERT OR IGNORE INTO days (day, id) VALUES (?1, ?2)").map_err(err(&path))?;
            let mut refused = tx
                .prepare_cached(
                    "INSERT INTO refusals (day, n) VALUES (?1, 1) ON CONFLICT (day) DO UPDATE SET n = n + 1",
                )
                .map_err(err(&path))?;
            for c in batch {
                let now = c.at.unix();
                let since = now - lease_seconds;
                let last: Option<i64> = held.query_row(params![c.id], |r| r.get(0)).optional().map_err(err(&path))?;
                let holds = last.is_some_and(|t| t > since);
                if !holds && let Some(cap) = cap {
                    let n: i64 = used.query_row(params![since], |r| r.get(0)).map_err(err(&path))?;
                    if u64::try_from(n).unwrap_or(0) >= cap {
                        refused.execute(params![c.day.to_string()]).map_err(err(&path))?;
                        outcomes.push(Outcome::SeatsFull { cap });
                        continue;
                    }
                }
                seat.execute(params![c.id, now]).map_err(err(&path))?;
                let first_today = day.execute(params![c.day.to_string(), c.id]).map_err(err(&path))? == 1;
                outcomes.push(Outcome::Accepted { new_seat: !holds, first_today });
            }
        }
        tx.commit().map_err(err(&path))?;
        Ok(outcomes)
    }

    /// Distinct collectors per billing day, from `from` to `to` inclusive.
    pub fn distinct(&self, from: NaiveDate, to: NaiveDate) -> Result<BTreeMap<NaiveDate, u64>, ActivatorError> {
        distinct(&self.conn, &self.path, from, to)
    }

    /// Seats held at `now` under `lease_seconds`, against `cap`.
    pub fn seats(&self, now: Timestamp, lease_seconds: i64, cap: Option<u64>) -> Result<Seats, ActivatorError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM seats WHERE last_seen > ?1", params![now.unix() - lease_seconds], |r| {
                r.get(0)
            })
            .map_err(err(&self.path))?;
        Ok(Seats { used: u64::try_from(n).unwrap_or(0), cap })
    }

    /// Check-ins refused for want of a seat, over all days.
    pub fn refused(&self) -> Result<u64, ActivatorError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COALESCE(SUM(n), 0) FROM refusals", [], |r| r.get(0))
            .map_err(err(&self.path))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn distinct(
    conn: &Connection,
    path: &Path,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, u64>, ActivatorError> {
    let mut stmt = conn
        .prepare_cached("SELECT day, COUNT(*) FROM days WHERE day >= ?1 AND day <= ?2 GROUP BY day")
        .map_err(err(path))?;
    let rows = stmt
        .query_map(params![from.to_string(), to.to_string()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(err(path))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (day, n) = row.map_err(err(path))?;
        if let Ok(day) = day.parse::<NaiveDate>() {
            out.insert(day, u64::try_from(n).unwrap_or(0));
        }
    }
    Ok(out)
}

/// What the store of `dir` measured from `from` to `to` (nothing when the
/// service never ran there). Read-only: it never creates the file.
pub fn measured(dir: &Path, from: NaiveDate, to: NaiveDate) -> Result<BTreeMap<NaiveDate, u64>, ActivatorError> {
    let path = dir.join(FILE);
    if !path.exists() || from > to {
        return Ok(BTreeMap::new());
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err(&path))?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err(&path))?;
    let has_days: bool = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'days'", [], |r| r.get::<_, i64>(0))
        .map_err(err(&path))?
        > 0;
    if !has_days {
        return Ok(BTreeMap::new());
    }
    distinct(&conn, &path, from, to)
}

fn create_private(path: &Path) -> Result<(), ActivatorError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(ActivatorError::io("create", path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn c(id: &str, t: &str, day: &str) -> CheckIn {
        CheckIn { id: id.into(), at: at(t), day: day.parse().unwrap() }
    }

    #[test]
    fn distinct_collectors_per_day_and_seats_freed_after_the_lease() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Meter::open(dir.path()).unwrap();
        let out = m
            .check_in(
                &[c("a", "2026-12-01T01:00:00Z", "2026-12-01"), c("b", "2026-12-01T01:00:01Z", "2026-12-01")],
                Some(2),
                600,
            )
            .unwrap();
        assert_eq!(out, [Outcome::Accepted { new_seat: true, first_today: true }; 2]);
        // A third is refused while both hold their seats; a holder checks in again.
        let out = m
            .check_in(
                &[c("c", "2026-12-01T01:05:00Z", "2026-12-01"), c("a", "2026-12-01T01:05:00Z", "2026-12-01")],
                Some(2),
                600,
            )
            .unwrap();
        assert_eq!(out[0], Outcome::SeatsFull { cap: 2 });
        assert_eq!(out[1], Outcome::Accepted { new_seat: false, first_today: false });
        assert_eq!(m.refused().unwrap(), 1);
        // b's lease runs out at 01:10:01; c takes its seat.
        let out = m.check_in(&[c("c", "2026-12-01T01:10:02Z", "2026-12-01")], Some(2), 600).unwrap();
        assert_eq!(out[0], Outcome::Accepted { new_seat: true, first_today: true });
        assert_eq!(m.seats(at("2026-12-01T01:10:02Z"), 600, Some(2)).unwrap().used, 2);
        // The next day counts afresh.
        m.check_in(&[c("a", "2026-12-02T00:00:00Z", "2026-12-02")], None, 600).unwrap();
        let days = m.distinct("2026-12-01".parse().unwrap(), "2026-12-02".parse().unwrap()).unwrap();
        assert_eq!(days.values().copied().collect::<Vec<_>>(), [3, 1]);
        drop(m);
        let read = measured(dir.path(), "2026-12-01".parse().unwrap(), "2026-12-01".parse().unwrap()).unwrap();
        assert_eq!(read.values().copied().collect::<Vec<_>>(), [3]);
        assert!(
            measured(&dir.path().join("none"), "2026-12-01".parse().unwrap(), "2026-12-01".parse().unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn collector_ids_are_short_and_plain() {
        assert!(valid_id("dk-host-01.example:9529"));
        assert!(!valid_id("") && !valid_id("a b") && !valid_id("a/b") && !valid_id(&"x".repeat(129)));
    }
}
