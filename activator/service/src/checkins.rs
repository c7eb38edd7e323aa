//! The check-in writer: one thread owns the store and commits check-ins in
//! groups. A request waits until the group that holds its check-in is on
//! disk (one SQLite commit, fsynced), so an acknowledged check-in survives
//! a kill at any moment; under load one commit carries many check-ins.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use license_activator::ActivatorError;
use license_activator::metering::{CheckIn, Meter, Outcome, Seats};
use license_common::Timestamp;
use tokio::sync::oneshot;

/// The most check-ins in one commit.
const MAX_GROUP: usize = 2048;

struct Job {
    checkin: CheckIn,
    cap: Option<u64>,
    reply: oneshot::Sender<Result<Outcome, String>>,
}

/// The handle requests use to reach the writer.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::SyncSender<Job>,
    /// A second connection for reads (seats, day counts), apart from the writer's.
    reader: Arc<Mutex<Meter>>,
    lease: i64,
}

impl Writer {
    /// Opens the store of `dir` and starts the writer thread.
    pub(crate) fn start(dir: &Path, lease: i64) -> Result<Writer, ActivatorError> {
        let mut meter = Meter::open(dir)?;
        let reader = Arc::new(Mutex::new(Meter::open(dir)?));
        let (jobs, rx) = mpsc::sync_channel::<Job>(65_536);
        std::thread::Builder::new()
            .name("checkin-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    commit(&mut meter, group, lease);
                }
            })
            .map_err(|e| ActivatorError::Metering {
                path: dir.join(license_activator::metering::FILE),
                detail: e.to_string(),
            })?;
        Ok(Writer { jobs, reader, lease })
    }

    /// Records `checkin` under `cap`; returns once it is on disk.
    pub(crate) async fn check_in(&self, checkin: CheckIn, cap: Option<u64>) -> Result<Outcome, String> {
        let (reply, answer) = oneshot::channel();
        let job = Job { checkin, cap, reply };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            // The channel is bounded: a full one pushes back on the request.
            Err(mpsc::TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                tokio::task::spawn_blocking(move || jobs.send(job))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|_| "the check-in writer has stopped".to_owned())?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return Err("the check-in writer has stopped".to_owned()),
        }
        answer.await.map_err(|_| "the check-in writer has stopped".to_owned())?
    }

    /// Seats held now.
    pub(crate) fn seats(&self, now: Timestamp, cap: Option<u64>) -> Result<Seats, ActivatorError> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner()).seats(now, self.lease, cap)
    }

    /// Distinct collectors on `day`.
    pub(crate) fn on_day(&self, day: chrono::NaiveDate) -> Result<u64, ActivatorError> {
        let reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        Ok(reader.distinct(day, day)?.get(&day).copied().unwrap_or(0))
    }

    /// Check-ins refused for want of a seat, in all.
    pub(crate) fn refused(&self) -> Result<u64, ActivatorError> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner()).refused()
    }

    /// The lease time, in seconds.
    pub(crate) fn lease(&self) -> i64 {
        self.lease
    }
}

/// Commits one group (split by cap, which changes only with the license)
/// and answers every request in it.
fn commit(meter: &mut Meter, mut group: Vec<Job>, lease: i64) {
    while !group.is_empty() {
        let cap = group[0].cap;
        let split = group.iter().position(|j| j.cap != cap).unwrap_or(group.len());
        let rest = group.split_off(split);
        let batch: Vec<CheckIn> = group.iter().map(|j| j.checkin.clone()).collect();
        match meter.check_in(&batch, cap, lease) {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "check-ins not recorded");
                for job in group {
                    let _ = job.reply.send(Err(e.to_string()));
                }
            }
        }
        group = rest;
    }
}
