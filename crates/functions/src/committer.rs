//! Group commit. Mutations queue here; one task takes whatever is queued (up to a batch),
//! runs each in its own savepoint of a single write transaction, and commits once: one fsync
//! for the whole batch instead of one per mutation. Mutations still run one at a time, in
//! arrival order, each seeing the writes of those before it, so the schedule is serial; a
//! mutation that fails is rolled back to its savepoint without touching the others. Nobody is
//! answered before the batch is durable, but the next batch does not wait for that: it runs
//! as soon as the engine has written this one (the fsync overlaps it; see the SQLite engine's
//! `wal_sync.rs`).

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use keel_store::Database;
use keel_values::Ts;
use serde_json::Value as Json;
use tokio::sync::{mpsc, oneshot};

use crate::context::MutationCtx;
use crate::mutation_log::{self, RequestKey};
use crate::registry::PreparedMutation;
use crate::{Auth, FnError, FnResult};

/// The most mutations one transaction carries.
const MAX_BATCH: usize = 128;

pub(crate) struct Job {
    pub path: String,
    pub run: PreparedMutation,
    pub auth: Auth,
    /// Answer a re-sent mutation from the log instead of re-running it.
    pub once: Option<RequestKey>,
    pub reply: oneshot::Sender<FnResult<Done>>,
}

/// A committed mutation: its value, the batch's commit timestamp, and whether it was
/// answered from the mutation log.
pub(crate) struct Done {
    pub value: Json,
    pub ts: Ts,
    pub replayed: bool,
}

pub(crate) fn start(db: Database) -> mpsc::UnboundedSender<Job> {
    let (jobs, queue) = mpsc::unbounded_channel();
    tokio::spawn(run(db, queue));
    jobs
}

async fn run(db: Database, mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&db, batch).await;
    }
}

async fn commit_batch(db: &Database, batch: Vec<Job>) {
    let tx = match db.writer().await {
        Ok(tx) => tx,
        Err(err) => {
            tracing::error!(error = %err, "a group commit could not begin");
            for job in batch {
                let _ = job.reply.send(Err(FnError::from(&err)));
            }
            return;
        }
    };
    let mut answered = Vec::with_capacity(batch.len());
    for job in batch {
        let Job {
            path,
            run,
            auth,
            once,
            reply,
        } = job;
        let outcome = run_job(&tx, &path, run, auth, once.as_ref()).await;
        answered.push((reply, outcome));
    }
    // The commit holds the write lock until the engine has written it, so the next batch's
    // `db.writer()` waits exactly that long, not for the fsync.
    tokio::spawn(async move {
        match tx.commit().await {
            Ok(commit) => {
                for (reply, outcome) in answered {
                    let _ = reply.send(outcome.map(|(value, replayed)| Done {
                        value,
                        ts: commit.ts,
                        replayed,
                    }));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "group commit failed");
                for (reply, _) in answered {
                    let _ = reply.send(Err(FnError::from(&err)));
                }
            }
        }
    });
}

/// Runs one mutation inside its own savepoint; `Ok((value, replayed))` when it is kept.
async fn run_job(
    tx: &keel_store::Writer,
    path: &str,
    run: PreparedMutation,
    auth: Auth,
    once: Option<&RequestKey>,
) -> FnResult<(Json, bool)> {
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
        Err(err) => {
            tx.rollback_to_savepoint().await?;
            if let Some(detail) = err.log_detail() {
                tracing::error!(function = %path, error = %detail, "function failed");
            }
            Err(err)
        }
    }
}
