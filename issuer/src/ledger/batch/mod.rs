//! Bulk issuance: one license per line of a JSON Lines order file, checked
//! and signed on every core, recorded in one transaction, and never
//! half-applied. The output is either one JSON Lines file (one record per
//! license, the fast form) or a directory of `<id>.lic` files.
//!
//! The protocol, so that a crash or kill at any moment leaves the ledger and
//! the output in agreement once the ledger is next opened:
//!
//! 1. a `batches` row records the staging place in state `started`: a
//!    directory `OUT/.batch-<id>/` (locked through `staging/.lock`) or a file
//!    `.batch-<id>.jsonl` beside the output file (locked itself);
//! 2. the licenses are signed and written into the staging place (for a
//!    JSON Lines file, while they are recorded);
//! 3. one transaction records every license and marks the batch `committed`,
//!    after the staged output is on disk;
//! 4. the output is moved into place and the batch is marked `done`.
//!
//! Recovery (on every ledger open, skipping batches whose lock is still
//! held): a `started` batch's staging place is deleted (nothing was
//! recorded), a `committed` batch's output is moved into place.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::columns::Row;
use super::db::params;
use license_common::catalog::Catalog;
use license_common::license::License;
use license_common::time::Timestamp;
use serde::Serialize;

use super::{Ledger, LedgerSigner, Recorder};
use output::{move_into_place, place_file, write_record};

mod output;
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

/// Where a batch writes its licenses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOutput {
    /// One JSON Lines file, one [`BatchRecord`] per license, in order file
    /// order. An existing file is refused unless `replace`.
    JsonLines {
        /// The file.
        path: PathBuf,
        /// Replace the file if it exists (`--force`).
        replace: bool,
    },
    /// A directory of armored `<id>.lic` files, created if missing.
    Files(PathBuf),
}

impl BatchOutput {
    /// The file or directory.
    pub fn path(&self) -> &Path {
        match self {
            BatchOutput::JsonLines { path, .. } | BatchOutput::Files(path) => path,
        }
    }
}

/// One line of a batch's JSON Lines output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRecord {
    /// The order's line number in the order file.
    pub line: usize,
    /// The license id.
    pub id: String,
    /// The account.
    pub account: String,
    /// The licensee.
    pub licensee: String,
    /// The compact license token.
    pub token: String,
}

/// What a batch did (`issuer issue --batch … --json`, format 1):
/// `{"format": 1, "batch": "<id>", "issued": N, "skipped": [[line, "reason"], …], "out_dir": "PATH"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchReport {
    /// Version of this JSON shape.
    pub format: u32,
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

pub(super) fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> IssuerError + 'a {
    move |source| IssuerError::Io { action, path: path.to_path_buf(), source }
}

/// Licenses per unit of work handed to a signing thread.
const BLOCK: usize = 256;

/// An order that passed the checks, with what its license will carry.
/// Its license is made again by the thread that signs it: holding 100,000
/// licenses at once costs more in fresh memory than making them twice.
struct Checked {
    line: usize,
    order: Order,
    id: String,
    sequence: u64,
    max_installs: Option<u32>,
}

impl Checked {
    /// The license, exactly as the check made it (same catalog, order, id
    /// and time), with its sequence.
    fn license(self, catalog: &Catalog, now: Timestamp) -> Result<(usize, License), IssuerError> {
        let mut license = self
            .order
            .to_license(catalog, self.id, now)
            .map_err(|e| IssuerError::Batch { errors: vec![(self.line, e.to_string())] })?;
        license.sequence = self.sequence;
        Ok((self.line, license))
    }
}

/// What either form of output needs to sign a batch.
struct Job<'a, S: ?Sized> {
    key: &'a S,
    catalog: &'a Catalog,
    now: Timestamp,
    licenses: Vec<Checked>,
    staging: &'a Path,
    id: &'a str,
    threads: usize,
    progress: &'a (dyn Fn(usize) + Sync),
    keep_going: bool,
    skipped: &'a mut Vec<Refused>,
}

/// Inside the recording transaction: gives every order its chain's next
/// sequence, and refuses (as lines) orders for a chain whose newest license
/// is in force, or that an earlier line of the batch already orders.
/// Without `keep_going`, any refusal refuses the batch.
fn allocate(
    rec: &Recorder<'_>,
    catalog: &Catalog,
    licenses: &mut Vec<Checked>,
    keep_going: bool,
    skipped: &mut Vec<Refused>,
    now: Timestamp,
) -> Result<(), IssuerError> {
    let product = catalog.product.id.as_str();
    fn chain(c: &Checked) -> (&str, &str) {
        (c.order.account.trim(), c.order.region.as_str())
    }
    let mut refused = Vec::new();
    // Each chain once per batch: the first line that orders it keeps it.
    // Keys borrow from the orders; each order stays where it is until the
    // refused ones are dropped at the end.
    let mut first: HashMap<(&str, &str), usize> = HashMap::with_capacity(licenses.len());
    // Each order's sequence, or `None` once it is refused.
    let mut sequences: Vec<Option<u64>> = vec![Some(1); licenses.len()];
    for (i, checked) in licenses.iter().enumerate() {
        match first.entry(chain(checked)) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let ((account, region), first) = (e.key(), e.get());
                refused.push((checked.line, format!("line {first} of this batch already orders product {product} for account {account} in region {region}")));
                sequences[i] = None;
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(checked.line);
            }
        }
    }
    // The chains the ledger already has, in one lookup; only those need the
    // in-force check, and their sequences continue above every license and
    // revocation floor.
    let chains: Vec<(&str, &str)> = first.into_keys().collect();
    let heads = rec.chain_heads(product, &chains)?;
    for (i, checked) in licenses.iter().enumerate() {
        if sequences[i].is_none() || heads.is_empty() {
            continue;
        }
        let (account, region) = chain(checked);
        let (licensed, floor) = heads.get(&(account.to_owned(), region.to_owned())).copied().unwrap_or((None, None));
        let free = if licensed.is_some() { rec.check_chain_free(product, account, region, now) } else { Ok(()) };
        if let Err(ref e @ IssuerError::InstanceInForce { .. }) = free {
            refused.push((checked.line, e.to_string()));
            sequences[i] = None;
            continue;
        }
        free?;
        sequences[i] = Some(licensed.max(floor).map_or(1, |s| s + 1));
    }
    let mut sequences = sequences.into_iter();
    licenses.retain_mut(|checked| match sequences.next().flatten() {
        Some(sequence) => {
            checked.sequence = sequence;
            true
        }
        None => false,
    });
    if !refused.is_empty() {
        skipped.extend(refused);
        skipped.sort();
        if !keep_going || licenses.is_empty() {
            return Err(IssuerError::Batch { errors: std::mem::take(skipped) });
        }
    }
    Ok(())
}

/// A refused line: its number and why.
type Refused = (usize, String);

/// Checks every order on every core, keeping file order; returns the
/// orders that pass, with their license ids, and the refused lines.
fn check_orders(
    catalog: &Catalog,
    lines: Vec<BatchLine>,
    now: Timestamp,
    threads: usize,
) -> (Vec<Checked>, Vec<Refused>) {
    let chunk = lines.len().div_ceil(threads).max(1);
    let verdicts: Vec<Vec<Result<Option<u32>, String>>> = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|l| l.order.validate(catalog, now).map(|c| c.max_installs()).map_err(|e| e.to_string()))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("checking threads do not panic")).collect()
    });
    // Ids are drawn here, in file order: they sort as the orders do.
    let (mut checked, mut refused) = (Vec::with_capacity(lines.len()), Vec::new());
    for (l, verdict) in lines.into_iter().zip(verdicts.into_iter().flatten()) {
        match verdict {
            Ok(max_installs) => checked.push(Checked {
                line: l.line,
                order: l.order,
                id: super::signing::new_id(),
                sequence: 0,
                max_installs,
            }),
            Err(reason) => refused.push((l.line, reason)),
        }
    }
    (checked, refused)
}

/// Refuses an output that cannot be written, before anything is checked,
/// signed or recorded: a JSON Lines file that exists (unless it may be
/// replaced) or is a directory, or whose directory is missing; an output
/// directory that is a file.
fn check_output(output: &BatchOutput) -> Result<(), IssuerError> {
    let refuse = |path: &Path, kind, why: String| {
        Err(IssuerError::Io { action: "write", path: path.to_path_buf(), source: std::io::Error::new(kind, why) })
    };
    match output {
        BatchOutput::JsonLines { path, replace } => license_common::fsio::Output::new(path, *replace).check()?,
        BatchOutput::Files(dir) => {
            if std::fs::symlink_metadata(dir).is_ok() && !dir.is_dir() {
                return refuse(dir, std::io::ErrorKind::NotADirectory, "it is a file, not a directory".into());
            }
        }
    }
    Ok(())
}

/// The number of signing threads: every core, at most 16.
fn signing_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16)
}

impl Ledger {
    /// Issues every order of `lines` into `output`, or none: a bad line
    /// refuses the whole batch unless `keep_going`, which skips it.
    /// `progress` is called with the number of licenses signed so far.
    #[allow(clippy::too_many_arguments)]
    pub fn issue_batch<S>(
        &mut self,
        key: &S,
        catalog: &Catalog,
        lines: Vec<BatchLine>,
        parse_errors: Vec<(usize, String)>,
        output: &BatchOutput,
        keep_going: bool,
        now: Timestamp,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<BatchReport, IssuerError>
    where
        S: LedgerSigner + Sync + ?Sized,
        S::Error: Send,
        IssuerError: From<S::Error>,
    {
        check_output(output)?;
        // 0. Check every order before anything is written.
        let threads = signing_threads();
        let (licenses, mut skipped) = check_orders(catalog, lines, now, threads);
        skipped.extend(parse_errors);
        skipped.sort();
        if !skipped.is_empty() && (!keep_going || licenses.is_empty()) {
            return Err(IssuerError::Batch { errors: skipped });
        }
        if licenses.is_empty() {
            return Err(IssuerError::EmptyBatch);
        }
        // 1. Record the batch and its staging place, then make it: a crash
        //    after the record leaves something recovery knows about.
        //    Both places are recorded as absolute paths: recovery runs in
        //    whichever command opens the ledger next, from any directory.
        let id = super::signing::new_id();
        let target = std::path::absolute(output.path()).map_err(io("resolve", output.path()))?;
        let staging = match output {
            BatchOutput::Files(_) => target.join(format!(".batch-{id}")),
            BatchOutput::JsonLines { .. } => {
                target.parent().unwrap_or(Path::new("/")).join(format!(".batch-{id}.jsonl"))
            }
        };
        self.transaction(|rec| {
            rec.tx()
                .execute(
                    "INSERT INTO batches (id, out_dir, staging, state, started_at) VALUES (?1, ?2, ?3, 'started', ?4)",
                    params![id, target.to_string_lossy(), staging.to_string_lossy(), now.to_string()],
                )
                .map_err(rec.err())?;
            Ok(())
        })?;
        let job = Job {
            key,
            catalog,
            now,
            licenses,
            staging: &staging,
            id: &id,
            threads,
            progress,
            keep_going,
            skipped: &mut skipped,
        };
        let issued = match output {
            BatchOutput::Files(dir) => self.batch_to_files(job, dir)?,
            BatchOutput::JsonLines { path, replace } => self.batch_to_json_lines(job, path, *replace)?,
        };
        self.finish_batch(&id, "done")?;
        Ok(BatchReport { format: 1, batch: id, issued, skipped, out_dir: output.path().to_path_buf() })
    }

    /// Marks batch `id` committed with its `count` licenses, inside the
    /// transaction that records them.
    fn commit_batch(rec: &Recorder<'_>, id: &str, count: usize) -> Result<(), IssuerError> {
        let claimed = rec
            .tx()
            .execute(
                "UPDATE batches SET state = 'committed', licenses = ?2 WHERE id = ?1 AND state = 'started'",
                params![id, i64::try_from(count).unwrap_or(i64::MAX)],
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
    }

    /// Steps 2 to 4 for a directory of `<id>.lic` files.
    fn batch_to_files<S>(&mut self, job: Job<'_, S>, out_dir: &Path) -> Result<usize, IssuerError>
    where
        S: LedgerSigner + Sync + ?Sized,
        S::Error: Send,
        IssuerError: From<S::Error>,
    {
        let Job { key, catalog, now, mut licenses, staging, id, threads, progress, keep_going, skipped } = job;
        std::fs::create_dir_all(staging).map_err(io("create", staging))?;
        let lock = license_common::fsio::FileLock::acquire(&staging.join(".lock")).map_err(io("lock", staging))?;

        // 2 and 3, in one transaction under the write lock: allocate the
        // sequences, sign and stage, record every license, commit the batch.
        let recorded = self.transaction(|rec| {
            allocate(rec, catalog, &mut licenses, keep_going, skipped, now)?;
            let kid = key.kid().to_string();
            let chunk = licenses.len().div_ceil(threads).max(1);
            let done = std::sync::atomic::AtomicUsize::new(0);
            let mut parts: Vec<Vec<Checked>> = Vec::new();
            let mut rest = licenses.into_iter().peekable();
            while rest.peek().is_some() {
                parts.push(rest.by_ref().take(chunk).collect());
            }
            let issued: Vec<(Issued, Option<u32>)> = std::thread::scope(|s| {
                let handles: Vec<_> = parts
                    .into_iter()
                    .map(|part| {
                        let done = &done;
                        s.spawn(move || -> Result<Vec<(Issued, Option<u32>)>, IssuerError> {
                            let mut out = Vec::with_capacity(part.len());
                            for checked in part {
                                let max_installs = checked.max_installs;
                                let issued = sign(key, checked.license(catalog, now)?.1)?;
                                let path = staging.join(format!("{}.lic", issued.license.id));
                                let mut file = File::create(&path).map_err(io("create", &path))?;
                                file.write_all(issued.armored().as_bytes()).map_err(io("write", &path))?;
                                out.push((issued, max_installs));
                                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                                if n.is_multiple_of(BLOCK) {
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
            license_common::fsio::sync_dir(staging).map_err(io("sync", staging))?;
            rec.key(&key.public_key(), now)?;
            for (i, max_installs) in &issued {
                rec.license(&i.license, &i.token, &kid, *max_installs)?;
            }
            Self::commit_batch(rec, id, issued.len())?;
            Ok(issued.len())
        });
        let count = match recorded {
            Ok(count) => count,
            Err(e) => {
                // Nothing was recorded: leave nothing behind either.
                drop(lock);
                let _ = std::fs::remove_dir_all(staging);
                let _ = self.finish_batch(id, "abandoned");
                return Err(e);
            }
        };
        drop(lock);

        // 4. Move the files into place.
        move_into_place(staging, out_dir)?;
        Ok(count)
    }

    /// Steps 2 to 4 for one JSON Lines file: the signing threads hand over
    /// blocks of licenses, which are written and recorded in file order
    /// while the next ones are signed.
    fn batch_to_json_lines<S>(&mut self, job: Job<'_, S>, out_file: &Path, replace: bool) -> Result<usize, IssuerError>
    where
        S: LedgerSigner + Sync + ?Sized,
        S::Error: Send,
        IssuerError: From<S::Error>,
    {
        let Job { key, catalog, now, mut licenses, staging, id, threads, progress, keep_going, skipped } = job;
        let file =
            std::fs::OpenOptions::new().write(true).create_new(true).open(staging).map_err(io("create", staging))?;
        file.lock().map_err(io("lock", staging))?;
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, &file);

        let recorded = self.transaction(|rec| {
            allocate(rec, catalog, &mut licenses, keep_going, skipped, now)?;
            let total = licenses.len();
            rec.key(&key.public_key(), now)?;
            let kid = key.kid();
            let kid = &kid;
            // Blocks dealt round-robin, owned by the thread that signs them.
            let mut queues: Vec<Vec<(usize, Vec<Checked>)>> = (0..threads).map(|_| Vec::new()).collect();
            let mut rest = licenses.into_iter().peekable();
            let mut b = 0;
            while rest.peek().is_some() {
                queues[b % threads].push((b, rest.by_ref().take(BLOCK).collect()));
                b += 1;
            }
            std::thread::scope(|s| -> Result<(), IssuerError> {
                // A block's rows, ready to record, and its JSON Lines text.
                type Signed = Result<(usize, Vec<Row>, Vec<u8>), IssuerError>;
                let (sender, receiver) = std::sync::mpsc::sync_channel::<Signed>(threads * 4);
                for queue in queues {
                    let sender = sender.clone();
                    s.spawn(move || {
                        for (b, block) in queue {
                            let mut text = Vec::with_capacity(block.len() * 1400);
                            let issued: Result<Vec<Row>, IssuerError> = block
                                .into_iter()
                                .map(|checked| {
                                    let max_installs = checked.max_installs;
                                    let (line, license) = checked.license(catalog, now)?;
                                    let Issued { token, license, .. } = sign(key, license)?;
                                    let l = &license;
                                    write_record(&mut text, line, &l.id, &l.account, &l.licensee, &token);
                                    Ok((super::columns::derived(l, kid), token, max_installs))
                                })
                                .collect();
                            let failed = issued.is_err();
                            if sender.send(issued.map(|issued| (b, issued, text))).is_err() || failed {
                                return; // the writer stopped, or this thread did
                            }
                        }
                    });
                }
                drop(sender);
                // Write and record in block order, whatever order they come in.
                let mut waiting = std::collections::BTreeMap::new();
                let (mut next, mut done) = (0, 0);
                for signed in receiver {
                    let (b, issued, text) = signed?;
                    waiting.insert(b, (issued, text));
                    while let Some((issued, text)) = waiting.remove(&next) {
                        writer.write_all(&text).map_err(io("write", staging))?;
                        rec.license_rows(&issued)?;
                        done += issued.len();
                        progress(done);
                        next += 1;
                    }
                }
                Ok(())
            })?;
            writer.flush().map_err(io("write", staging))?;
            file.sync_all().map_err(io("sync", staging))?;
            Self::commit_batch(rec, id, total)?;
            Ok(total)
        });
        let total = match recorded {
            Ok(total) => total,
            Err(e) => {
                // Nothing was recorded: leave nothing behind either.
                drop(writer);
                let _ = std::fs::remove_file(staging);
                let _ = self.finish_batch(id, "abandoned");
                return Err(e);
            }
        };

        // 4. Put the file in place (over an old one only when asked to).
        license_common::fsio::fault_point("batch-committed");
        place_file(staging, out_file, replace)?;
        Ok(total)
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
            // A batch recorded before its places were absolute names them
            // relative to the directory it ran in: from anywhere else they
            // name nothing, and the batch waits for a command run there.
            if staging.is_relative() && !staging.exists() {
                continue;
            }
            // A batch still running holds its lock: leave it alone.
            let lock_path = if staging.is_dir() { staging.join(".lock") } else { staging.clone() };
            if let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(&lock_path) {
                if file.try_lock().is_err() {
                    continue;
                }
                let _ = file.unlock();
            }
            if state == "committed" {
                if staging.is_dir() {
                    move_into_place(&staging, Path::new(&out_dir))?;
                } else if staging.exists() {
                    // If the name is taken (or cannot be made), the staged
                    // file stays where the batch's own run said it is.
                    let _ = place_file(&staging, Path::new(&out_dir), false);
                }
                self.finish_batch(&id, "done")?;
            } else {
                if staging.is_dir() {
                    std::fs::remove_dir_all(&staging).map_err(io("remove", &staging))?;
                } else if staging.exists() {
                    std::fs::remove_file(&staging).map_err(io("remove", &staging))?;
                }
                self.finish_batch(&id, "abandoned")?;
            }
        }
        Ok(())
    }
}
