//! Bulk issuance: one license per line of a JSON Lines order file, signed on
//! every core, recorded in one transaction, and never half-applied.
//!
//! The protocol, so that a crash or kill at any moment leaves the ledger and
//! the output directory in agreement once the ledger is next opened:
//!
//! 1. a `batches` row records the staging directory (`OUT/.batch-<id>/`) in
//!    state `started`; the running batch holds a lock on `staging/.lock`;
//! 2. the licenses are signed and written into the staging directory;
//! 3. one transaction records every license and marks the batch `committed`;
//! 4. the files are moved into `OUT/` and the batch is marked `done`.
//!
//! Recovery (on every ledger open, skipping batches whose lock is still
//! held): a `started` batch's staging directory is deleted (nothing was
//! recorded), a `committed` batch's remaining files are moved into place.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use license_common::catalog::Catalog;
use license_common::signing::IssuerKey;
use license_common::time::Timestamp;
use rusqlite::params;
use serde::Serialize;

use super::Ledger;
use crate::error::IssuerError;
use crate::order::Order;
use crate::{Issued, sign};

/// One order of a batch, with its line number in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchLine {
    /// 1-based line number.
    pub line: usize,
    /// The order.
    pub order: Order,
}

/// What a batch did (`issue --batch --json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    /// The batch id.
    pub batch: String,
    /// Licenses signed, recorded and written.
    pub issued: usize,
    /// Lines skipped with `--keep-going`: (line, reason).
    pub skipped: Vec<(usize, String)>,
    /// Where the license files are.
    pub out_dir: PathBuf,
}

/// Parses a JSON Lines order file. Blank lines are skipped; every bad line
/// is returned with its number.
pub fn parse_batch(text: &str) -> (Vec<BatchLine>, Vec<(usize, String)>) {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Order>(raw) {
            Ok(order) => lines.push(BatchLine { line: i + 1, order }),
            Err(e) => {
                let message = e.to_string();
                let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m).to_owned();
                errors.push((i + 1, format!("{message} (column {})", e.column())));
            }
        }
    }
    (lines, errors)
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> IssuerError + 'a {
    move |source| IssuerError::Io { action, path: path.to_path_buf(), source }
}

impl Ledger {
    /// Issues every order of `lines` into `out_dir`, or none: a bad line
    /// refuses the whole batch unless `keep_going`, which skips it.
    /// `progress` is called with the number of licenses signed so far.
    #[allow(clippy::too_many_arguments)]
    pub fn issue_batch(
        &mut self,
        key: &IssuerKey,
        catalog: &Catalog,
        lines: Vec<BatchLine>,
        parse_errors: Vec<(usize, String)>,
        out_dir: &Path,
        keep_going: bool,
        now: Timestamp,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<BatchReport, IssuerError> {
        // 0. Check every order before anything is written.
        let mut skipped = parse_errors;
        let mut licenses = Vec::with_capacity(lines.len());
        for l in lines {
            match l.order.to_license(catalog, uuid::Uuid::now_v7().to_string(), now) {
                Ok(license) => licenses.push(license),
                Err(e) => skipped.push((l.line, e.to_string())),
            }
        }
        skipped.sort();
        if !skipped.is_empty() && !keep_going {
            return Err(IssuerError::Batch { errors: skipped });
        }
        // Sequences continue each account's, in file order.
        let mut next: HashMap<String, u64> = HashMap::new();
        for license in &mut licenses {
            let seq = match next.get(&license.account) {
                Some(s) => *s,
                None => self.transaction(|rec| rec.last_sequence(&license.account))?.map_or(1, |s| s + 1),
            };
            license.sequence = seq;
            next.insert(license.account.clone(), seq + 1);
        }

        // 1. Record the batch and its staging directory, then make it: a
        //    crash after the record leaves something recovery knows about.
        let id = uuid::Uuid::now_v7().to_string();
        let staging = out_dir.join(format!(".batch-{id}"));
        self.transaction(|rec| {
            rec.tx()
                .execute(
                    "INSERT INTO batches (id, out_dir, staging, state, started_at) VALUES (?1, ?2, ?3, 'started', ?4)",
                    params![id, out_dir.to_string_lossy(), staging.to_string_lossy(), now.to_string()],
                )
                .map_err(rec.err())?;
            Ok(())
        })?;
        std::fs::create_dir_all(&staging).map_err(io("create", &staging))?;
        let _lock = license_common::fsio::FileLock::acquire(&staging.join(".lock")).map_err(io("lock", &staging))?;

        // 2. Sign and write into the staging directory, on every core.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
        let chunk = licenses.len().div_ceil(threads).max(1);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let issued: Vec<Issued> = std::thread::scope(|s| {
            let handles: Vec<_> = licenses
                .chunks(chunk)
                .map(|part| {
                    let staging = &staging;
                    let done = &done;
                    s.spawn(move || -> Result<Vec<Issued>, IssuerError> {
                        let mut out = Vec::with_capacity(part.len());
                        for license in part {
                            let issued = sign(key, license.clone());
                            let path = staging.join(format!("{}.lic", issued.license.id));
                            let mut file = File::create(&path).map_err(io("create", &path))?;
                            file.write_all(issued.armored().as_bytes()).map_err(io("write", &path))?;
                            out.push(issued);
                            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                            if n.is_multiple_of(256) {
                                progress(n);
                            }
                        }
                        Ok(out)
                    })
                })
                .collect();
            let mut all = Vec::new();
            for h in handles {
                all.extend(h.join().expect("signing threads do not panic")?);
            }
            Ok::<_, IssuerError>(all)
        })?;
        progress(issued.len());
        license_common::fsio::sync_dir(&staging).map_err(io("sync", &staging))?;

        // 3. Record every license and commit the batch.
        self.transaction(|rec| {
            rec.key(key.public(), now)?;
            let kid = key.kid().to_string();
            for i in &issued {
                rec.license(&i.license, &i.token, &kid)?;
            }
            let claimed = rec
                .tx()
                .execute(
                    "UPDATE batches SET state = 'committed', licenses = ?2 WHERE id = ?1 AND state = 'started'",
                    params![id, i64::try_from(issued.len()).unwrap_or(i64::MAX)],
                )
                .map_err(rec.err())?;
            if claimed != 1 {
                // Another process's recovery took this batch for dead: record nothing.
                return Err(IssuerError::Ledger {
                    path: rec.path.clone(),
                    detail: format!(
                        "batch {id} was abandoned by a concurrent issuer; nothing of it was recorded, run it again"
                    ),
                });
            }
            Ok(())
        })?;

        // 4. Move the files into place.
        move_into_place(&staging, out_dir)?;
        self.finish_batch(&id, "done")?;
        Ok(BatchReport { batch: id, issued: issued.len(), skipped, out_dir: out_dir.to_path_buf() })
    }

    fn finish_batch(&mut self, id: &str, state: &str) -> Result<(), IssuerError> {
        self.transaction(|rec| {
            rec.tx().execute("UPDATE batches SET state = ?2 WHERE id = ?1", params![id, state]).map_err(rec.err())?;
            Ok(())
        })
    }

    /// Finishes or undoes batches interrupted by a crash (see the module docs).
    pub(crate) fn recover_batches(&mut self) -> Result<(), IssuerError> {
        let mut stmt = self
            .conn()
            .prepare("SELECT id, out_dir, staging, state FROM batches WHERE state IN ('started', 'committed')")
            .map_err(self.err())?;
        let open: Vec<(String, String, String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        drop(stmt);
        for (id, out_dir, staging, state) in open {
            let staging = PathBuf::from(staging);
            // A batch still running holds its lock: leave it alone.
            let lock_path = staging.join(".lock");
            if let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(&lock_path) {
                if file.try_lock().is_err() {
                    continue;
                }
                let _ = file.unlock();
            }
            if state == "committed" {
                if staging.exists() {
                    move_into_place(&staging, Path::new(&out_dir))?;
                }
                self.finish_batch(&id, "done")?;
            } else {
                if staging.exists() {
                    std::fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
                }
                self.finish_batch(&id, "abandoned")?;
            }
        }
        Ok(())
    }
}

/// Moves every license file of `staging` into `out_dir`, then removes
/// `staging`. A file already in place is left as it is.
fn move_into_place(staging: &Path, out_dir: &Path) -> Result<(), IssuerError> {
    for entry in std::fs::read_dir(staging).map_err(io("read", staging))?.flatten() {
        let name = entry.file_name();
        if name == ".lock" {
            continue;
        }
        let target = out_dir.join(&name);
        if !target.exists() {
            std::fs::rename(entry.path(), &target).map_err(io("move", &target))?;
        }
    }
    license_common::fsio::sync_dir(out_dir).map_err(io("sync", out_dir))?;
    std::fs::remove_dir_all(staging).map_err(io("remove", staging))?;
    Ok(())
}
