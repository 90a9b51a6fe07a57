//! Group commit. Mutations queue here; one task takes whatever is queued (up to a batch),
//! runs each in its own savepoint of a single write transaction, and commits once: one fsync
//! for the whole batch instead of one per mutation. Mutations still run one at a time, in
//! arrival order, each seeing the writes of those before it, so the schedule is serial; a
//! mutation that fails is rolled back to its savepoint without touching the others. Nobody is
//! answered before the batch is durable, but the next batch does not wait for that: it runs
//! as soon as the engine has written this one (the fsync overlaps it; see the SQLite engine's
//! `wal_sync.rs`).
//!
//! A batch whose transaction loses to a concurrent writer (another instance on the same
//! database: `StoreError::Conflict`, while running or at commit) is abandoned whole and its
//! mutations queue again, decoded afresh from their arguments, after a short random pause. A
//! handler may therefore run more than once; its effects commit once. After
//! [`MAX_ATTEMPTS`] lost attempts the caller gets `CONFLICT`.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use keel_metrics::Metrics;
use keel_store::Database;
use keel_values::Ts;
use serde_json::Value as Json;
use tokio::sync::{mpsc, oneshot};

use crate::context::MutationCtx;
use crate::log::{CallTag, FunctionLog, LogLines};
use crate::mutation_log::{self, RequestKey};
use crate::registry::{MutationHandler, PreparedMutation};
use crate::{Auth, ErrorCode, FnError, FnResult};

/// The most mutations one transaction carries.
const MAX_BATCH: usize = 128;

/// How many times a mutation runs before a lost conflict is the caller's answer.
pub(crate) const MAX_ATTEMPTS: u32 = 5;

/// The pause before attempt `n + 1` is random in `0..BACKOFF_STEP * 2^n` (so two instances
/// that collided do not collide again in step).
const BACKOFF_STEP: Duration = Duration::from_millis(2);

pub(crate) struct Job {
    /// The function's path and the call's request id, for the logs.
    pub tag: CallTag,
    /// Decodes `args` again for a retry (the first run's decoded arguments are consumed).
    pub handler: MutationHandler,
    pub args: Json,
    /// The decoded call for the next run; `None` after a lost attempt.
    pub prepared: Option<PreparedMutation>,
    pub auth: Auth,
    /// Answer a re-sent mutation from the log instead of re-running it.
    pub once: Option<RequestKey>,
    /// The answer, with the log lines of the run it reports (a run that was rolled back or
    /// whose commit failed logged too; a run lost to a conflict is not reported).
    pub reply: oneshot::Sender<(FnResult<Done>, LogLines)>,
    /// Runs so far that lost to a concurrent writer.
    pub lost: u32,
}

impl Job {
    /// The call ready to run: the prepared one, or the arguments decoded again.
    fn take_run(&mut self) -> FnResult<PreparedMutation> {
        match self.prepared.take() {
            Some(run) => Ok(run),
            None => (self.handler)(self.args.clone()),
        }
    }
}

/// A committed mutation: its value, the batch's commit timestamp, and whether it was
/// answered from the mutation log.
pub(crate) struct Done {
    pub value: Json,
    pub ts: Ts,
    pub replayed: bool,
}

pub(crate) fn start(db: Database, metrics: Metrics) -> mpsc::UnboundedSender<Job> {
    let (jobs, queue) = mpsc::unbounded_channel();
    // Weak, so the committer still stops when the executor (the last real sender) is dropped.
    tokio::spawn(run(db, metrics, queue, jobs.downgrade()));
    jobs
}

async fn run(
    db: Database,
    metrics: Metrics,
    mut queue: mpsc::UnboundedReceiver<Job>,
    requeue: mpsc::WeakUnboundedSender<Job>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&db, &metrics, batch, &requeue).await;
    }
}

async fn commit_batch(
    db: &Database,
    metrics: &Metrics,
    batch: Vec<Job>,
    requeue: &mpsc::WeakUnboundedSender<Job>,
) {
    let started = Instant::now();
    let tx = match db.writer().await {
        Ok(tx) => tx,
        Err(err) if err.is_conflict() => {
            metrics.commit_conflict();
            return retry(batch, &err.to_string(), db.runtime(), requeue);
        }
        Err(err) => {
            tracing::error!(error = %err, "a group commit could not begin");
            for job in batch {
                let _ = job.reply.send((Err(FnError::from(&err)), Vec::new()));
            }
            return;
        }
    };
    let mut ran = Vec::with_capacity(batch.len());
    for mut job in batch {
        let (outcome, lines) = match job.take_run() {
            Ok(run) => run_job(&tx, &job.tag, run, job.auth.clone(), job.once.as_ref()).await,
            Err(err) => (Err(err), Vec::new()),
        };
        if let Err(FnError::WriteConflict(detail)) = &outcome {
            // The transaction is lost for everyone in it: drop it (a rollback) and queue the
            // whole batch again, this job included.
            let detail = detail.clone();
            drop(tx);
            metrics.commit_conflict();
            let mut again: Vec<Job> = ran.into_iter().map(|(job, _, _)| job).collect();
            again.push(job);
            return retry(again, &detail, db.runtime(), requeue);
        }
        ran.push((job, outcome, lines));
    }
    // The commit holds the write lock until the engine has written it, so the next batch's
    // `db.writer()` waits exactly that long, not for the fsync.
    let requeue = requeue.clone();
    let metrics = metrics.clone();
    let runtime = db.runtime().clone();
    tokio::spawn(async move {
        match tx.commit().await {
            Ok(commit) => {
                metrics.commit_batch(ran.len(), started.elapsed());
                for (job, outcome, lines) in ran {
                    let done = outcome.map(|(value, replayed)| Done {
                        value,
                        ts: commit.ts,
                        replayed,
                    });
                    let _ = job.reply.send((done, lines));
                }
            }
            Err(err) if err.is_conflict() => {
                metrics.commit_conflict();
                let jobs = ran.into_iter().map(|(job, _, _)| job).collect();
                retry(jobs, &err.to_string(), &runtime, &requeue);
            }
            Err(err) => {
                tracing::error!(error = %err, "group commit failed");
                for (job, _, lines) in ran {
                    let _ = job.reply.send((Err(FnError::from(&err)), lines));
                }
            }
        }
    });
}

/// Queues a lost batch's mutations again after a random pause; those out of attempts are
/// answered `CONFLICT`.
fn retry(
    jobs: Vec<Job>,
    detail: &str,
    runtime: &keel_runtime::Runtime,
    requeue: &mpsc::WeakUnboundedSender<Job>,
) {
    let mut again = Vec::with_capacity(jobs.len());
    for mut job in jobs {
        job.lost += 1;
        job.prepared = None;
        if job.lost >= MAX_ATTEMPTS {
            tracing::warn!(function = %job.tag.path, request_id = %job.tag.request_id, attempts = job.lost, detail, "mutation gave up after write conflicts");
            let err = FnError::coded(
                ErrorCode::Conflict,
                format!(
                    "This mutation conflicted with concurrent writes {} times in a row and was not applied; try again",
                    job.lost
                ),
            );
            let _ = job.reply.send((Err(err), Vec::new()));
        } else {
            tracing::debug!(function = %job.tag.path, attempt = job.lost + 1, detail, "mutation runs again after a write conflict");
            again.push(job);
        }
    }
    let Some(lost) = again.iter().map(|job| job.lost).max() else {
        return;
    };
    let pause = (BACKOFF_STEP * 2u32.pow(lost)).mul_f64(runtime.random_fraction());
    let requeue = requeue.clone();
    tokio::spawn(async move {
        tokio::time::sleep(pause).await;
        let Some(queue) = requeue.upgrade() else {
            return;
        };
        for job in again {
            if let Err(mpsc::error::SendError(job)) = queue.send(job) {
                let _ = job
                    .reply
                    .send((Err(FnError::internal("the committer stopped")), Vec::new()));
            }
        }
    });
}

/// Runs one mutation inside its own savepoint; `Ok((value, replayed))` when it is kept. Each
/// run has a log of its own, so a run again after a conflict does not repeat the lost run's
/// lines to the caller. A mutation answered from the mutation log returns no lines.
async fn run_job(
    tx: &keel_store::Writer,
    tag: &CallTag,
    run: PreparedMutation,
    auth: Auth,
    once: Option<&RequestKey>,
) -> (FnResult<(Json, bool)>, LogLines) {
    let log = FunctionLog::new(tag.clone());
    let result = run_in_savepoint(tx, tag, run, auth, once, &log).await;
    (result, log.lines())
}

async fn run_in_savepoint(
    tx: &keel_store::Writer,
    tag: &CallTag,
    run: PreparedMutation,
    auth: Auth,
    once: Option<&RequestKey>,
    log: &FunctionLog,
) -> FnResult<(Json, bool)> {
    let path = &tag.path;
    tx.savepoint().await?;
    let result = async {
        if let Some(key) = once
            && let Some(value) = mutation_log::find(tx, key).await?
        {
            return Ok((value, true));
        }
        let ctx = MutationCtx {
            auth,
            db: tx.clone(),
            log: log.clone(),
        };
        let run = run(ctx);
        let value = match AssertUnwindSafe(run).catch_unwind().await {
            Ok(result) => result?,
            Err(_) => {
                tracing::error!(function = %path, "function panicked");
                return Err(FnError::internal("function panicked"));
            }
        };
        if let Some(key) = once {
            mutation_log::record(tx, key, &value).await?;
        }
        Ok((value, false))
    }
    .await;
    match result {
        Ok(kept) => {
            tx.release_savepoint().await?;
            Ok(kept)
        }
        // The whole transaction is lost; the caller abandons it without a rollback here.
        Err(err @ FnError::WriteConflict(_)) => Err(err),
        Err(err) => {
            tx.rollback_to_savepoint().await?;
            Err(err)
        }
    }
}
