//! Following other processes' commits through the engine's commit log. A notification only
//! says "something was committed"; the log is the truth: on every notification past what the
//! feed published, and after every (re)connection of the listener, the feed reads the log from
//! where it stands. A notification lost while the listener was away therefore costs latency,
//! not correctness; only a log pruned past that point makes the feed announce the commits as
//! unknown (see `feed.rs`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use crate::engine::{CommitListener, CommitLog};
use crate::feed::CommitFeed;

/// While the listener cannot connect, the log is read this often instead (the pool may still
/// work), and listening is tried again.
pub const RELISTEN_EVERY: Duration = Duration::from_millis(250);

pub(crate) fn spawn(feed: &Arc<CommitFeed>, log: Arc<dyn CommitLog>) {
    let alive = feed.alive();
    tokio::spawn(follow(Arc::downgrade(feed), log, alive));
}

async fn follow(feed: Weak<CommitFeed>, log: Arc<dyn CommitLog>, mut alive: watch::Receiver<()>) {
    let mut failures = 0u32;
    loop {
        let listening = tokio::select! {
            listening = log.listen() => listening,
            _ = alive.changed() => return,
        };
        let listener = match listening {
            Ok(listener) => listener,
            Err(err) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(error = %err, "cannot listen for other instances' commits; reading the commit log every {RELISTEN_EVERY:?} until it works");
                } else {
                    tracing::debug!(error = %err, failures, "still cannot listen for commits");
                }
                // Commits may still be readable: precise, only later.
                if !catch_up(&feed).await.unwrap_or(true) {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(RELISTEN_EVERY) => continue,
                    _ = alive.changed() => return,
                }
            }
        };
        if failures > 0 {
            tracing::info!("listening for other instances' commits again");
            failures = 0;
        }
        // Listening from here on; what was committed before is read from the log.
        match listen(&feed, listener, &mut alive).await {
            Stop::Closed => return,
            Stop::Lost(err) => {
                tracing::warn!(error = %err, "lost the listener for other instances' commits; listening again and reading the commit log");
            }
        }
    }
}

enum Stop {
    Closed,
    Lost(crate::StoreError),
}

/// Reads the log after every notification that is past what the feed published, until the
/// listener or a log read fails (then the caller listens again and catches up).
async fn listen(
    feed: &Weak<CommitFeed>,
    mut listener: Box<dyn CommitListener>,
    alive: &mut watch::Receiver<()>,
) -> Stop {
    let mut pending = true;
    loop {
        if pending {
            match catch_up(feed).await {
                Ok(true) => {}
                Ok(false) => return Stop::Closed,
                Err(err) => return Stop::Lost(err),
            }
        }
        let notified = tokio::select! {
            notified = listener.next() => notified,
            _ = alive.changed() => return Stop::Closed,
        };
        match notified {
            // Its own commits and those already read with an earlier notification's: nothing
            // new. (A notification is sent at commit, so its entry is readable by now.)
            Ok(ts) => pending = feed.upgrade().is_some_and(|feed| ts > feed.published_ts()),
            Err(err) => return Stop::Lost(err),
        }
    }
}

/// Publishes what the log holds past the feed; `Ok(false)` once the feed is gone.
async fn catch_up(feed: &Weak<CommitFeed>) -> crate::Result<bool> {
    let Some(feed) = feed.upgrade() else {
        return Ok(false);
    };
    feed.catch_up().await.map(|()| true)
}
