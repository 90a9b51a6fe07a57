//! The commit log (`keel_commit_log`), which lets instances sharing the database re-run only
//! the live queries another instance's commit touched.
//!
//! - Every commit inserts its write set under its timestamp, in its own transaction, and
//!   `NOTIFY keel_commits` with the timestamp alone as payload (NOTIFY payloads are limited to
//!   8000 bytes; a write set can be larger). See `write.rs`.
//! - Each instance listens on a connection of its own ([`PgCommitListener`]); on a
//!   notification the store reads the log after the last commit it published. A heartbeat
//!   on that connection finds a connection that died silently (a failover, a dropped route),
//!   which would otherwise wait for notifications that never come.
//! - A pruner deletes entries older than [`LOG_RETENTION`] or beyond the newest
//!   [`LOG_MAX_ENTRIES`], and records how far it reached in `keel_commit_log_pruned`, so a
//!   reader behind that point is told the log is truncated. Pruning touches neither the clock
//!   row nor new entries, so it never waits for a commit or makes one wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use keel_store::engine::{CommitListener, CommitLog, LogRead, LoggedCommit};
use keel_store::{Result, StorageFault, StoreError};
use keel_values::Ts;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Row};
use tokio::sync::watch;

use crate::fault;

/// The channel commits are notified on (payload: the commit timestamp in decimal).
/// `write.rs` names it in its commit statement.
pub(crate) const CHANNEL: &str = "keel_commits";

/// Entries older than this are pruned: enough for a listener to reconnect and an instance to
/// catch up after a pause; one further behind re-checks every live query instead.
pub const LOG_RETENTION: Duration = Duration::from_secs(5 * 60);

/// At most this many entries are kept, whatever their age (a burst of commits).
pub const LOG_MAX_ENTRIES: i64 = 100_000;

/// How often each instance prunes the log.
pub const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// A listener that heard nothing for this long checks its connection with a query.
const HEARTBEAT_AFTER: Duration = Duration::from_secs(10);
/// How long that check may take before the connection counts as lost.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// The application name of listener connections (`pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "keel-listener";

pub(crate) struct PgCommitLog {
    pool: PgPool,
    /// For listener connections, which are not the pool's.
    options: PgConnectOptions,
    connect_timeout: Duration,
    /// The backend process of the current listener connection (0 before the first).
    listener_pid: Arc<AtomicI32>,
}

impl PgCommitLog {
    pub(crate) fn new(pool: PgPool, options: PgConnectOptions, connect_timeout: Duration) -> Self {
        PgCommitLog {
            pool,
            options: options.application_name(LISTENER_APPLICATION_NAME),
            connect_timeout,
            listener_pid: Arc::default(),
        }
    }

    pub(crate) fn listener_pid(&self) -> Option<i32> {
        Some(self.listener_pid.load(Ordering::Acquire)).filter(|&pid| pid != 0)
    }
}

#[async_trait]
impl CommitLog for PgCommitLog {
    async fn commits_after(&self, after: Ts, limit: usize) -> Result<LogRead> {
        let mut conn = self.pool.acquire().await.map_err(fault::sqlx)?;
        read_after(&mut conn, after, limit).await
    }

    async fn listen(&self) -> Result<Box<dyn CommitListener>> {
        // A pool of one connection for this listener alone, gone with it: a listener that is
        // dropped closes its connection rather than leaving it LISTENing in a pool, unread.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(self.connect_timeout)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(self.options.clone());
        let mut listener = PgListener::connect_with(&pool)
            .await
            .map_err(|err| fault::sqlx_during("listening for commits", err))?;
        // A lost connection ends this listener (`next` fails); the store listens again and
        // reads the log, instead of the listener reconnecting behind its back.
        listener.eager_reconnect(false);
        listener
            .listen(CHANNEL)
            .await
            .map_err(|err| fault::sqlx_during("listening for commits", err))?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut listener)
            .await
            .map_err(fault::sqlx)?;
        self.listener_pid.store(pid, Ordering::Release);
        Ok(Box::new(PgCommitListener { listener }))
    }
}

/// The log after `after` in one statement, so one snapshot: the clock, how far pruning
/// reached, and up to `limit` entries.
async fn read_after(conn: &mut PgConnection, after: Ts, limit: usize) -> Result<LogRead> {
    let after_param = i64::try_from(after.0).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT c.last_ts, p.through, l.ts, l.writes
         FROM keel_clock c
         CROSS JOIN keel_commit_log_pruned p
         LEFT JOIN LATERAL (
             SELECT ts, writes FROM keel_commit_log WHERE ts > $1 ORDER BY ts LIMIT $2
         ) l ON true
         WHERE c.id = 1 AND p.id = 1
         ORDER BY l.ts",
    )
    .bind(after_param)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await
    .map_err(fault::sqlx)?;
    let first = rows
        .first()
        .ok_or_else(|| StoreError::Engine("the commit clock row is missing".into()))?;
    let latest = Ts(first.try_get::<i64, _>(0).map_err(fault::sqlx)? as u64);
    let pruned_through = first.try_get::<i64, _>(1).map_err(fault::sqlx)?;
    if after_param < pruned_through {
        return Ok(LogRead::Truncated { latest });
    }
    let mut commits = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(ts) = row.try_get::<Option<i64>, _>(2).map_err(fault::sqlx)? else {
            continue; // no entry: the LEFT JOIN's one row of NULLs
        };
        commits.push(LoggedCommit {
            ts: Ts(ts as u64),
            writes: row.try_get(3).map_err(fault::sqlx)?,
        });
    }
    // Every commit logs an entry, so the newest entry is the clock's commit; one that is not
    // means a commit without an entry (nothing in this crate makes one): unknown writes.
    let newest = commits.last().map_or(after, |commit| commit.ts);
    if commits.len() < limit && newest < latest {
        tracing::warn!(
            newest = newest.0,
            latest = latest.0,
            "the commit log lacks the latest commit"
        );
        return Ok(LogRead::Truncated { latest });
    }
    Ok(LogRead::Commits(commits))
}

pub(crate) struct PgCommitListener {
    listener: PgListener,
}

#[async_trait]
impl CommitListener for PgCommitListener {
    async fn next(&mut self) -> Result<Ts> {
        loop {
            match tokio::time::timeout(HEARTBEAT_AFTER, self.listener.try_recv()).await {
                Ok(Ok(Some(notification))) => {
                    // Anything else on the channel still means "read the log".
                    return Ok(Ts(notification.payload().parse().unwrap_or(u64::MAX)));
                }
                Ok(Ok(None)) => {
                    return Err(StoreError::storage(
                        StorageFault::Unavailable,
                        "the listener's connection to PostgreSQL was lost",
                    ));
                }
                Ok(Err(err)) => return Err(fault::sqlx_during("listening for commits", err)),
                Err(_quiet) => self.heartbeat().await?,
            }
        }
    }
}

impl PgCommitListener {
    /// A query on the listener's connection: a connection that died without a word (no
    /// reset reached us) fails it or lets it time out.
    async fn heartbeat(&mut self) -> Result<()> {
        match tokio::time::timeout(
            HEARTBEAT_TIMEOUT,
            sqlx::query("SELECT 1").execute(&mut self.listener),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(fault::sqlx_during(
                "checking the listener's connection",
                err,
            )),
            Err(_) => Err(StoreError::storage(
                StorageFault::Unavailable,
                format!(
                    "the listener's connection to PostgreSQL did not answer within {HEARTBEAT_TIMEOUT:?}"
                ),
            )),
        }
    }
}

/// Deletes entries older than `keep` or beyond the newest `max_entries`, and moves the
/// pruning mark to the newest entry deleted. Returns how many were deleted.
pub(crate) async fn prune(pool: &PgPool, keep: Duration, max_entries: i64) -> Result<u64> {
    let keep_ns = i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX);
    let deleted: i64 = sqlx::query_scalar(
        "WITH cutoff AS (
             SELECT GREATEST(
                 (extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 1000 - $1,
                 COALESCE((SELECT ts FROM keel_commit_log ORDER BY ts DESC OFFSET $2 LIMIT 1), 0)
             ) AS ts
         ), gone AS (
             DELETE FROM keel_commit_log WHERE ts <= (SELECT ts FROM cutoff) RETURNING ts
         )
         UPDATE keel_commit_log_pruned
         SET through = GREATEST(through, (SELECT max(ts) FROM gone))
         WHERE id = 1
         RETURNING (SELECT count(*) FROM gone)",
    )
    .bind(keep_ns)
    .bind(max_entries.max(0))
    .fetch_one(pool)
    .await
    .map_err(|err| fault::sqlx_during("pruning the commit log", err))?;
    Ok(deleted as u64)
}

/// Prunes every [`PRUNE_EVERY`] (starting at a random point in the first period, so
/// instances started together spread out) until `alive` closes.
pub(crate) fn spawn_pruner(pool: PgPool, mut alive: watch::Receiver<()>) {
    tokio::spawn(async move {
        let offset = PRUNE_EVERY.mul_f64(rand::random::<f64>());
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + offset, PRUNE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = alive.changed() => return,
            }
            match prune(&pool, LOG_RETENTION, LOG_MAX_ENTRIES).await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "pruned the commit log"),
                // Storage trouble shows in requests and readiness; here it only delays pruning.
                Err(err) => tracing::debug!(error = %err, "pruning the commit log failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_statement_notifies_on_the_listened_channel() {
        assert!(crate::write::COMMIT.contains(&format!("pg_notify('{CHANNEL}'")));
    }
}
