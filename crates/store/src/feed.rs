//! The commit feed: what live queries learn about commits, in timestamp order. Commits made
//! through this process come with their write sets; so do other processes' commits when the
//! engine keeps a commit log (read back by `follow.rs`, or here when a local commit shows
//! that others committed before it). Whatever the feed cannot deliver with its write set it
//! announces as [`Change::Unknown`], so a consumer re-checks everything rather than miss it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel_metrics::Metrics;
use keel_values::Ts;
use tokio::sync::{Mutex, broadcast, watch};

use crate::Result;
use crate::commit_order::CommitOrder;
use crate::database::Commit;
use crate::engine::{CommitLog, LogRead};
use crate::log_codec;

/// One step of the feed. Timestamps only increase along the feed.
#[derive(Clone, Debug)]
pub enum Change {
    /// A commit with its write set: made through this process, or another process's read
    /// back from the engine's commit log.
    Commit(Arc<Commit>),
    /// Commits up to this timestamp whose write sets are not known (the log no longer reached
    /// back to them, or the engine keeps none): anything may have changed.
    Unknown(Ts),
}

impl Change {
    pub fn ts(&self) -> Ts {
        match self {
            Change::Commit(commit) => commit.ts,
            Change::Unknown(ts) => *ts,
        }
    }
}

/// How many log entries one read takes.
const LOG_BATCH: usize = 256;

pub(crate) struct CommitFeed {
    sender: broadcast::Sender<Change>,
    /// The latest commit made through this process.
    last_local: AtomicU64,
    /// Commits of this process between `COMMIT` (their data visible to readers) and
    /// publishing.
    landing: AtomicUsize,
    /// Local commits reach publishing in commit order even when durability waits end out of
    /// order.
    pub(crate) order: CommitOrder,
    log: Option<Arc<dyn CommitLog>>,
    /// The latest timestamp published. Whoever publishes (a local commit, the log follower)
    /// holds this lock, so the feed stays in timestamp order and nothing is sent twice.
    published: Mutex<Ts>,
    /// `published`, readable without the lock.
    published_ts: AtomicU64,
    /// Dropped with the feed: tells the log follower to stop.
    alive: watch::Sender<()>,
    /// The follower starts with the first subscriber: a process nobody follows commits in
    /// (`keel backfill`, `keel seed`) never listens.
    following: Once,
    /// Where the lag of commits read back from the log is recorded.
    metrics: OnceLock<Metrics>,
}

impl CommitFeed {
    /// A feed whose consumers start after `start` (the latest commit when the store opened).
    pub(crate) fn new(log: Option<Arc<dyn CommitLog>>, start: Ts) -> Self {
        let (sender, _) = broadcast::channel(1024);
        CommitFeed {
            sender,
            last_local: AtomicU64::new(0),
            landing: AtomicUsize::new(0),
            order: CommitOrder::new(),
            log,
            published: Mutex::new(start),
            published_ts: AtomicU64::new(start.0),
            alive: watch::Sender::new(()),
            following: Once::new(),
            metrics: OnceLock::new(),
        }
    }

    pub(crate) fn record_metrics(&self, metrics: Metrics) {
        let _ = self.metrics.set(metrics);
    }

    /// A logged commit published: how long after its timestamp (the database's clock, in
    /// nanoseconds since the epoch) this instance passed it on to its live queries.
    fn record_logged(&self, ts: Ts) {
        let Some(metrics) = self.metrics.get().filter(|m| m.is_enabled()) else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        // A database clock ahead of this host's counts as no lag, not a negative one.
        metrics.commit_from_log(Duration::from_nanos(now.saturating_sub(ts.0)));
    }

    /// A receiver of every change from now on; the first one starts following the commit
    /// log (on the current tokio runtime).
    pub(crate) fn subscribe(self: &Arc<Self>) -> broadcast::Receiver<Change> {
        let receiver = self.sender.subscribe();
        if let Some(log) = &self.log {
            self.following
                .call_once(|| crate::follow::spawn(self, Arc::clone(log)));
        }
        receiver
    }

    /// Closes (its `changed()` fails) when the feed is dropped.
    pub(crate) fn alive(&self) -> watch::Receiver<()> {
        self.alive.subscribe()
    }

    pub(crate) fn log(&self) -> Option<&Arc<dyn CommitLog>> {
        self.log.as_ref()
    }

    pub(crate) fn last_local(&self) -> Ts {
        Ts(self.last_local.load(Ordering::Acquire))
    }

    pub(crate) fn published_ts(&self) -> Ts {
        Ts(self.published_ts.load(Ordering::Acquire))
    }

    pub(crate) fn landing_count(&self) -> usize {
        self.landing.load(Ordering::Acquire)
    }

    /// Marks a commit as landing until the returned guard is dropped (after publishing).
    pub(crate) fn landing(&self) -> Landing<'_> {
        self.landing.fetch_add(1, Ordering::AcqRel);
        Landing(self)
    }

    /// Publishes a commit made through this process, on its turn in commit order. Commits
    /// between the last one published and this one's `base` were made by others: they are
    /// read from the log first, or announced as unknown.
    pub(crate) async fn publish_local(&self, commit: &Arc<Commit>) {
        let mut published = self.published.lock().await;
        self.last_local.fetch_max(commit.ts.0, Ordering::AcqRel);
        if commit.ts <= *published {
            // The follower read it from the log first (its notification came before this
            // turn): delivered already, with the same write set.
            return;
        }
        // Nobody to tell (a process that follows no commits): no reason to read the log.
        if commit.base > *published
            && self.sender.receiver_count() > 0
            && let Some(log) = &self.log
            && let Err(err) = self
                .publish_logged(log.as_ref(), &mut published, Some(commit.base))
                .await
        {
            tracing::debug!(error = %err, "reading the commit log before a local commit");
        }
        if commit.base > *published {
            self.send(&mut published, Change::Unknown(commit.base));
        }
        self.send(&mut published, Change::Commit(Arc::clone(commit)));
    }

    /// Publishes every logged commit after the last one published (the follower's job, on a
    /// notification or after listening again).
    pub(crate) async fn catch_up(&self) -> Result<()> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let mut published = self.published.lock().await;
        self.publish_logged(log.as_ref(), &mut published, None)
            .await
    }

    /// Publishes the logged commits after `*published` up to `until` (inclusive; all when
    /// `None`), oldest first. A log that no longer reaches back is announced as unknown up to
    /// where it would have been read.
    async fn publish_logged(
        &self,
        log: &dyn CommitLog,
        published: &mut Ts,
        until: Option<Ts>,
    ) -> Result<()> {
        loop {
            let commits = match log.commits_after(*published, LOG_BATCH).await? {
                LogRead::Commits(commits) => commits,
                LogRead::Truncated { latest } => {
                    let to = until.map_or(latest, |until| until.min(latest));
                    tracing::warn!(
                        after = published.0,
                        latest = latest.0,
                        "the commit log no longer reaches back to the last commit seen; re-checking every live query"
                    );
                    if to > *published {
                        self.send(published, Change::Unknown(to));
                    }
                    return Ok(());
                }
            };
            let full = commits.len() >= LOG_BATCH;
            for logged in commits {
                if until.is_some_and(|until| logged.ts > until) {
                    return Ok(());
                }
                let change = match logged.writes.as_deref().map(log_codec::decode) {
                    Some(Ok(writes)) => Change::Commit(Arc::new(Commit {
                        ts: logged.ts,
                        // Writers are serialized and the log holds every commit after
                        // `published`: nothing came in between.
                        base: *published,
                        writes,
                        reads: Default::default(),
                    })),
                    Some(Err(err)) => {
                        tracing::warn!(ts = logged.ts.0, error = %err, "unreadable commit log entry; re-checking every live query");
                        Change::Unknown(logged.ts)
                    }
                    None => Change::Unknown(logged.ts),
                };
                self.send(published, change);
                self.record_logged(logged.ts);
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn send(&self, published: &mut Ts, change: Change) {
        debug_assert!(change.ts() > *published, "the feed only moves forward");
        *published = change.ts();
        self.published_ts.store(published.0, Ordering::Release);
        // Nobody listening is fine: live queries subscribe only when the server runs them.
        let _ = self.sender.send(change);
    }
}

pub(crate) struct Landing<'a>(&'a CommitFeed);

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        self.0.landing.fetch_sub(1, Ordering::AcqRel);
    }
}
