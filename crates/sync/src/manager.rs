//! Live query subscriptions. Identical subscriptions (same path, arguments and identity)
//! share one execution. A commit's write set is looked up in an index of the subscriptions'
//! read sets ([`ReadIndex`]); only the ones it touches re-run, and only changed results wake
//! their sessions. Nothing per commit walks every subscription.
//!
//! Consistency: a run reads one snapshot `S`; commits processed while it ran are kept in a
//! short log and checked against its read set when it finishes, so no write slips between
//! a result and its invalidation. The *frontier* is the latest commit timestamp at which
//! every subscription's result is current; a session answers a mutation's `ts` only once the
//! frontier has reached it (read-your-writes).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use keel_auth::UserIdentity;
use keel_functions::Executor;
use keel_store::{Change, Commit, ReadSet};
use keel_values::Ts;
use serde_json::Value as Json;
use std::time::Duration;

use crate::slot::ResultSlot;
use tokio::sync::{Notify, broadcast, watch};
use tokio::time::Instant;

use crate::encode::Published;
use crate::http_answer::HttpAnswer;
use crate::readindex::ReadIndex;

/// What identifies a shared execution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionKey {
    pub path: String,
    /// Canonical JSON text of the arguments.
    pub args: String,
    pub identity: IdentityKey,
    /// Live subscriptions keep each page's first end (growing in place, as Convex's journal
    /// does); one-off HTTP queries read `numItems` fresh each time.
    pub pinned_pages: bool,
}

/// Whose query it is, as part of its key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IdentityKey {
    SignedOut,
    /// A digest of the identity as functions see it: a refreshed token of the same user lands
    /// on the same execution. 32 bytes instead of the identity's JSON (a few hundred), in a key
    /// every per-user subscription holds.
    Identity([u8; 32]),
    /// A one-off HTTP query: the verified token's `Arc` (one per token, kept alive by the
    /// entry), so a hit hashes a pointer instead of serializing the identity.
    Token(usize),
}

/// A query's latest outcome, shared by every subscriber: its value or error, and the log
/// lines of the execution that produced it (every subscriber, and every HTTP request the
/// cache answers, gets that execution's lines).
pub type QueryOutcome = keel_functions::ClientOutcome;

/// A session's hold on a subscription. Dropping it unsubscribes.
pub struct Subscription {
    key: Arc<SubscriptionKey>,
    session: u64,
    results: Arc<ResultSlot>,
    manager: Arc<Shared>,
}

impl Subscription {
    /// The latest outcome, `None` until the first run finishes.
    pub fn current(&self) -> Option<Arc<Published>> {
        self.results.get()
    }

    /// The outcome that holds at `ts`, and whether a newer one waits for a later timestamp.
    pub fn current_at(&self, ts: Ts) -> (Option<Arc<Published>>, bool) {
        self.results.get_at(ts)
    }

    /// Waits until the first outcome is available.
    pub async fn first(&mut self) {
        self.results.first().await;
    }

    pub fn key(&self) -> &SubscriptionKey {
        &self.key
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.manager.unsubscribe(&self.key, self.session);
    }
}

struct Entry {
    path: String,
    args: Json,
    identity: Option<Arc<UserIdentity>>,
    results: Arc<ResultSlot>,
    /// Filed in [`Table::reads`] as well.
    reads: ReadSet,
    /// A run is in flight; it started when commits up to this timestamp were processed.
    running_since: Option<Ts>,
    /// The earliest processed commit this entry's published result does not reflect yet.
    stale_since: Option<Ts>,
    /// The snapshot the published result read: commits up to it need no re-run.
    snapshot: Ts,
    /// Sessions to wake when the result changes.
    /// Counted per session: one session may subscribe to the same query more than once
    /// (two query ids, or the overlap while it re-subscribes under a refreshed token).
    watchers: HashMap<u64, (Arc<Notify>, usize)>,
    /// Kept (and kept current) for one-off HTTP queries until then, even with no watcher.
    cached_until: Option<Instant>,
    /// Writes this entry's run in flight cannot be checked against happened (another
    /// process committed): run again when it finishes.
    rerun: bool,
    /// Page ends from the first run, replayed by re-runs of pinned subscriptions.
    journal: Vec<String>,
}

#[derive(Default)]
struct Table {
    entries: HashMap<Arc<SubscriptionKey>, Entry>,
    /// Every entry's read set, to find the ones a commit touches.
    reads: ReadIndex<KeyRef>,
    /// The entries' `running_since` and `stale_since`, counted, so the frontier needs no walk.
    running: TsCounts,
    stale: TsCounts,
    /// Commits processed while some run was in flight, oldest first.
    recent: VecDeque<Arc<Commit>>,
    processed: Ts,
    /// Results with no answer for part of the timeline: a re-run for the commit at `.0` read
    /// the later snapshot `.1` (SQLite reads only the latest state), so at timestamps in
    /// `[.0, .1)` neither the old result nor the new one is known to hold. The frontier never
    /// stops inside such a gap; it is dropped once the frontier passes `.1`.
    gaps: Vec<(Ts, Ts, KeyRef)>,
}

/// An entry's key, compared by address (the table holds one `Arc` per entry).
#[derive(Clone)]
struct KeyRef(Arc<SubscriptionKey>);

impl PartialEq for KeyRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for KeyRef {}

impl Hash for KeyRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

/// A multiset of timestamps.
#[derive(Default)]
struct TsCounts(BTreeMap<Ts, usize>);

impl TsCounts {
    fn replace(&mut self, old: Option<Ts>, new: Option<Ts>) {
        if old == new {
            return;
        }
        if let Some(old) = old
            && let Some(count) = self.0.get_mut(&old)
        {
            *count -= 1;
            if *count == 0 {
                self.0.remove(&old);
            }
        }
        if let Some(new) = new {
            *self.0.entry(new).or_default() += 1;
        }
    }

    fn min(&self) -> Option<Ts> {
        self.0.keys().next().copied()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Table {
    /// Sets an entry's `running_since`.
    fn set_running(&mut self, key: &SubscriptionKey, since: Option<Ts>) {
        if let Some(entry) = self.entries.get_mut(key) {
            let old = std::mem::replace(&mut entry.running_since, since);
            self.running.replace(old, since);
        }
    }

    /// Marks an entry stale from `ts` unless it already is from earlier; `None` clears it.
    fn set_stale(&mut self, key: &SubscriptionKey, ts: Option<Ts>) {
        if let Some(entry) = self.entries.get_mut(key) {
            let old = entry.stale_since;
            let new = ts.map(|ts| old.map_or(ts, |o| o.min(ts)));
            entry.stale_since = new;
            self.stale.replace(old, new);
        }
    }

    fn set_reads(&mut self, key: &Arc<SubscriptionKey>, reads: ReadSet) {
        if let Some(entry) = self.entries.get_mut(key) {
            let key = KeyRef(Arc::clone(key));
            self.reads.remove(&key, &entry.reads);
            self.reads.insert(&key, &reads);
            entry.reads = reads;
        }
    }

    fn remove(&mut self, key: &Arc<SubscriptionKey>) {
        if let Some((key, entry)) = self.entries.remove_entry(key) {
            self.gaps.retain(|(_, _, k)| !Arc::ptr_eq(&k.0, &key));
            entry.results.close();
            self.reads.remove(&KeyRef(key), &entry.reads);
            self.running.replace(entry.running_since, None);
            self.stale.replace(entry.stale_since, None);
        }
    }
}

struct Shared {
    executor: Executor,
    table: Mutex<Table>,
    frontier: watch::Sender<Ts>,
    /// Query runs started, for tests and diagnostics.
    runs: AtomicU64,
}

/// The subscription manager: one per server.
#[derive(Clone)]
pub struct SubscriptionManager {
    shared: Arc<Shared>,
}

impl SubscriptionManager {
    /// Starts following the database's commits.
    pub async fn start(executor: Executor) -> keel_store::Result<Self> {
        let commits = executor.database().subscribe();
        let processed = executor.database().reader().await?.ts();
        let (frontier, _) = watch::channel(processed);
        let shared = Arc::new(Shared {
            executor,
            table: Mutex::new(Table {
                processed,
                ..Table::default()
            }),
            frontier,
            runs: AtomicU64::new(0),
        });
        tokio::spawn(follow_commits(Arc::clone(&shared), commits));
        tokio::spawn(evict_idle(Arc::downgrade(&shared)));
        // A store that follows other processes' commits hands them over with their write
        // sets; polling the clock beside it would re-run everything for each of them.
        if !shared.executor.database().follows_other_processes() {
            tokio::spawn(watch_other_writers(Arc::downgrade(&shared)));
        }
        Ok(SubscriptionManager { shared })
    }

    /// Every subscription's result is current at this timestamp.
    pub fn frontier(&self) -> watch::Receiver<Ts> {
        self.shared.frontier.subscribe()
    }

    pub fn executor(&self) -> &Executor {
        &self.shared.executor
    }

    /// Subscribes `session` (woken through `notify` on every change) to a query.
    pub fn subscribe(
        &self,
        session: u64,
        notify: &Arc<Notify>,
        path: &str,
        args: Json,
        identity: Option<Arc<UserIdentity>>,
    ) -> Subscription {
        let key = subscription_key(path, &args, identity.as_ref(), true);
        let mut table = self.shared.lock();
        let processed = table.processed;
        // Every holder shares the entry's key (thousands of sessions may hold one).
        let key = match table.entries.get_key_value(&key) {
            Some((shared, _)) => Arc::clone(shared),
            None => {
                let key = Arc::new(key);
                let entry = new_entry(path, args, identity);
                table.entries.insert(Arc::clone(&key), entry);
                key
            }
        };
        let entry = table.entries.get_mut(&key).expect("inserted above");
        entry
            .watchers
            .entry(session)
            .or_insert_with(|| (Arc::clone(notify), 0))
            .1 += 1;
        let results = Arc::clone(&entry.results);
        if results.get().is_none() && entry.running_since.is_none() {
            spawn_run(&self.shared, Arc::clone(&key), entry);
            table.set_running(&key, Some(processed));
        }
        drop(table);
        Subscription {
            key,
            session,
            results,
            manager: Arc::clone(&self.shared),
        }
    }

    /// A one-off query (the HTTP API), answered from the live result when one is current:
    /// identical requests share one execution, kept up to date by commits like any
    /// subscription and forgotten after [`QUERY_CACHE_IDLE`] without use. The answer reflects
    /// every commit made before the call (read-your-writes for HTTP clients too).
    pub async fn query(
        &self,
        path: &str,
        args: Json,
        identity: Option<Arc<UserIdentity>>,
    ) -> Arc<HttpAnswer> {
        let written = self.shared.executor.database().last_commit_ts();
        if *self.shared.frontier.borrow() < written {
            let mut frontier = self.frontier();
            let _ =
                tokio::time::timeout(Duration::from_secs(5), frontier.wait_for(|f| *f >= written))
                    .await;
        }
        // The verifier hands out one `Arc` per verified token, and the entry keeps it alive, so
        // its address names the identity without serializing it on every request.
        let key = SubscriptionKey {
            path: path.to_string(),
            args: args.to_string(),
            identity: identity.as_ref().map_or(IdentityKey::SignedOut, |i| {
                IdentityKey::Token(Arc::as_ptr(i) as usize)
            }),
            pinned_pages: false,
        };
        let results = {
            let mut table = self.shared.lock();
            let processed = table.processed;
            // Look up by reference first: a hit allocates no `Arc` for the key.
            if let Some(entry) = table.entries.get_mut(&key) {
                entry.cached_until = Some(Instant::now() + QUERY_CACHE_IDLE);
                if let Some(current) = entry.results.get() {
                    return current.http_answer();
                }
            }
            let key = Arc::new(key);
            let entry = table
                .entries
                .entry(Arc::clone(&key))
                .or_insert_with(|| new_entry(path, args, identity));
            // No result yet (checked above under this same lock, or the entry is new).
            entry.cached_until = Some(Instant::now() + QUERY_CACHE_IDLE);
            let results = Arc::clone(&entry.results);
            if entry.running_since.is_none() {
                spawn_run(&self.shared, Arc::clone(&key), entry);
                table.set_running(&key, Some(processed));
            }
            results
        };
        match results.first().await {
            Some(published) => published.http_answer(),
            None => Arc::new(HttpAnswer::new(Arc::new(QueryOutcome::refused(
                "Server Error",
            )))),
        }
    }

    /// How many query runs this manager has started (first runs and re-runs), for metrics
    /// and tests: a commit that touches no subscription starts none.
    pub fn runs(&self) -> u64 {
        self.shared.runs.load(Ordering::Relaxed)
    }

    /// Live subscriptions (distinct executions), for metrics and tests.
    pub fn len(&self) -> usize {
        self.shared.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn unsubscribe(&self, key: &Arc<SubscriptionKey>, session: u64) {
        let mut table = self.lock();
        if let Some(entry) = table.entries.get_mut(key) {
            if let Some((_, count)) = entry.watchers.get_mut(&session) {
                *count -= 1;
                if *count == 0 {
                    entry.watchers.remove(&session);
                }
            }
            let cached = entry
                .cached_until
                .is_some_and(|until| until > Instant::now());
            if entry.watchers.is_empty() && !cached {
                table.remove(key);
                self.advance_frontier(&mut table);
            }
        }
    }

    /// The frontier moves to the latest processed commit unless some result is stale, in
    /// which case it stops just before the oldest commit not yet reflected.
    fn advance_frontier(&self, table: &mut Table) {
        self.advance_frontier_and(table, |_| {});
    }

    /// [`Self::advance_frontier`], running `publish` (given the new frontier) under the
    /// frontier's lock.
    fn advance_frontier_and(&self, table: &mut Table, publish: impl FnOnce(Ts)) {
        let oldest_stale = table.stale.min();
        let mut target = match oldest_stale {
            Some(stale) => Ts(stale.0.saturating_sub(1)).min(table.processed),
            None => table.processed,
        };
        // Below every gap that covers it. Latest start first: lowering the target below one
        // gap can only bring it into a gap that starts earlier.
        table
            .gaps
            .sort_unstable_by_key(|&(from, _, _)| std::cmp::Reverse(from));
        for &(from, until, _) in &table.gaps {
            if from <= target && target < until {
                target = Ts(from.0.saturating_sub(1));
            }
        }
        table.gaps.retain(|&(_, until, _)| until > target);
        let mut publish = Some(publish);
        self.frontier.send_if_modified(|frontier| {
            if let Some(publish) = publish.take() {
                publish(target.max(*frontier));
            }
            if target > *frontier {
                *frontier = target;
                true
            } else {
                false
            }
        });
        match table.running.min() {
            Some(since) => table.recent.retain(|c| c.ts > since),
            None => table.recent.clear(),
        }
    }
}

/// How long a one-off query's result is kept current without being asked for again.
pub const QUERY_CACHE_IDLE: Duration = Duration::from_secs(30);

fn subscription_key(
    path: &str,
    args: &Json,
    identity: Option<&Arc<UserIdentity>>,
    pinned_pages: bool,
) -> SubscriptionKey {
    SubscriptionKey {
        path: path.to_string(),
        args: args.to_string(),
        identity: identity.map_or(IdentityKey::SignedOut, |i| {
            IdentityKey::Identity(i.fingerprint())
        }),
        pinned_pages,
    }
}

fn new_entry(path: &str, args: Json, identity: Option<Arc<UserIdentity>>) -> Entry {
    let results = Arc::default();
    Entry {
        path: path.to_string(),
        args,
        identity,
        results,
        reads: ReadSet::default(),
        running_since: None,
        stale_since: None,
        snapshot: Ts::ZERO,
        watchers: HashMap::new(),
        cached_until: None,
        rerun: false,
        journal: Vec::new(),
    }
}

/// How often the database is checked for commits made by other processes (`keel backfill`
/// beside a SQLite instance), when the store does not follow them itself: their write sets
/// are unknown, so everything re-runs when one is seen.
pub const OTHER_WRITERS_POLL: Duration = Duration::from_millis(250);

async fn watch_other_writers(shared: std::sync::Weak<Shared>) {
    let mut every = tokio::time::interval(OTHER_WRITERS_POLL);
    loop {
        every.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let database = shared.executor.database().clone();
        let Ok(reader) = database.reader().await else {
            continue;
        };
        let latest = reader.ts();
        let _ = reader.finish().await;
        let processed = shared.lock().processed;
        // Our own commits reach the feed once durable (`landing` until then); only newer ones
        // are foreign. Under steady local writes `landing` is rarely 0, and a foreign commit
        // is caught instead by the gap between a local commit's `base` and what was processed.
        if latest > processed && database.is_foreign_ts(latest) {
            tracing::debug!(
                ts = latest.0,
                "another process committed; re-running subscriptions"
            );
            process_commit(&shared, Change::Unknown(latest));
        }
    }
}

/// How long a query whose run failed in the store itself (storage unavailable, the database
/// unreachable) waits before it runs again by itself. The error stays published meanwhile,
/// to live subscribers and to HTTP callers of the cached result.
pub const STORE_FAILURE_RETRY: Duration = Duration::from_secs(1);

/// Runs `key` again after [`STORE_FAILURE_RETRY`], if anyone still wants it: a failed run
/// has an empty read set, so without this its error would stay until the client
/// resubscribed (or, for the HTTP cache, stopped asking), long after storage came back.
fn retry_after_store_failure(shared: &Arc<Shared>, key: &Arc<SubscriptionKey>) {
    let shared = Arc::downgrade(shared);
    let key = Arc::clone(key);
    tokio::spawn(async move {
        tokio::time::sleep(STORE_FAILURE_RETRY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut table = shared.lock();
        let processed = table.processed;
        let Some(entry) = table.entries.get_mut(&key) else {
            return; // forgotten meanwhile
        };
        if entry.running_since.is_some() {
            entry.rerun = true;
            return;
        }
        spawn_run(&shared, Arc::clone(&key), entry);
        table.set_running(&key, Some(processed));
    });
}

/// Forgets one-off query results nobody asked for lately and nobody subscribes to.
async fn evict_idle(shared: std::sync::Weak<Shared>) {
    let mut every = tokio::time::interval(QUERY_CACHE_IDLE / 3);
    loop {
        every.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut table = shared.lock();
        let now = Instant::now();
        let idle: Vec<Arc<SubscriptionKey>> = table
            .entries
            .iter()
            .filter(|(_, e)| {
                e.watchers.is_empty() && e.cached_until.is_none_or(|until| until <= now)
            })
            .map(|(key, _)| Arc::clone(key))
            .collect();
        for key in &idle {
            table.remove(key);
        }
        shared.advance_frontier(&mut table);
    }
}

fn spawn_run(shared: &Arc<Shared>, key: Arc<SubscriptionKey>, entry: &Entry) {
    shared.runs.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::clone(shared);
    let (path, args, identity) = (
        entry.path.clone(),
        entry.args.clone(),
        entry.identity.clone(),
    );
    let journal = if key.pinned_pages {
        entry.journal.clone()
    } else {
        Vec::new()
    };
    tokio::spawn(async move {
        let run = shared
            .executor
            .run_query(&path, args, identity, journal)
            .await;
        finish_run(&shared, &key, run);
    });
}

fn finish_run(
    shared: &Arc<Shared>,
    key: &Arc<SubscriptionKey>,
    run: keel_functions::FnResult<keel_functions::QueryRun>,
) {
    let mut table = shared.lock();
    if !table.entries.contains_key(key) {
        return; // everyone unsubscribed meanwhile
    }
    let (outcome, snapshot, reads, journal) = match run {
        Ok(run) => (
            QueryOutcome::new(run.result, run.log_lines),
            run.ts,
            run.reads,
            run.journal,
        ),
        // The store itself failed: publish the error, and run again shortly (it read
        // nothing, so no commit would ever re-run it).
        Err(err) => (
            {
                retry_after_store_failure(shared, key);
                QueryOutcome::new(Err(err), Vec::new())
            },
            Ts::ZERO,
            ReadSet::default(),
            Vec::new(),
        ),
    };
    let missed = table
        .recent
        .iter()
        .any(|commit| commit.ts > snapshot && reads.intersects(&commit.writes));
    let processed = table.processed;
    let entry = table.entries.get_mut(key).expect("checked above");
    if missed || std::mem::take(&mut entry.rerun) {
        // A commit this run did not see touched what it read: run again.
        spawn_run(shared, Arc::clone(key), entry);
        table.set_running(key, Some(processed));
        return;
    }
    if entry.journal.is_empty() {
        entry.journal = journal;
    }
    let changed = entry
        .results
        .get()
        .is_none_or(|previous| !previous.outcome().same_result(&outcome));
    // The result holds from its snapshot on; until then, clients keep the previous one, which
    // holds until the commit that made this run. Between the two is a gap (see `Table::gaps`).
    let published = changed.then(|| {
        Arc::new(Published::new(outcome, entry.watchers.len() > 1).with_current_at(snapshot))
    });
    entry.snapshot = snapshot;
    let gap = entry
        .stale_since
        .filter(|&from| changed && from < snapshot)
        .map(|from| (from, snapshot, KeyRef(Arc::clone(key))));
    let slot = Arc::clone(&entry.results);
    table.gaps.extend(gap);
    table.set_reads(key, reads);
    table.set_running(key, None);
    table.set_stale(key, None);
    // Published under the frontier's lock, as the frontier moves, and sessions woken after:
    // a session reads its results under the same lock, so it sees a result together with the
    // frontier it makes current and its transition's `ts` reaches the mutation behind it.
    shared.advance_frontier_and(&mut table, |frontier| {
        if let Some(published) = published {
            slot.publish(published, frontier);
        }
    });
    if changed {
        for (notify, _) in table.entries[key].watchers.values() {
            notify.notify_one();
        }
    }
}

async fn follow_commits(shared: Arc<Shared>, mut commits: broadcast::Receiver<Change>) {
    loop {
        match commits.recv().await {
            Ok(change) => process_commit(&shared, change),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "fell behind the commit stream; re-running every subscription"
                );
                let latest = shared.executor.database().published_ts();
                process_commit(&shared, Change::Unknown(latest));
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Marks the subscriptions a change touches as stale and re-runs them. A commit (this
/// process's, or another's read from the commit log) re-runs those whose read sets its write
/// set touches; an unknown change re-runs everything.
fn process_commit(shared: &Arc<Shared>, change: Change) {
    let mut table = shared.lock();
    let (ts, commit) = match change {
        // The feed announces what it cannot deliver; a gap here would be commits it skipped:
        // treat them as unknown rather than miss them.
        Change::Commit(commit) if commit.base > table.processed => (commit.ts, None),
        Change::Commit(commit) => (commit.ts, Some(commit)),
        Change::Unknown(ts) => (ts, None),
    };
    if ts <= table.processed {
        return;
    }
    table.processed = ts;
    if let (false, Some(commit)) = (table.running.is_empty(), &commit) {
        table.recent.push_back(Arc::clone(commit));
    }
    // Runs in flight are checked against `recent` when they finish; a result whose snapshot
    // already holds this commit needs no re-run.
    let needs_run = |e: &Entry| e.running_since.is_none() && e.snapshot < ts;
    let keys: Vec<Arc<SubscriptionKey>> = match &commit {
        Some(commit) => table
            .reads
            .touched(&commit.writes)
            .into_iter()
            .map(|key| key.0)
            .filter(|key| table.entries.get(key).is_some_and(needs_run))
            .collect(),
        None => {
            let running: Vec<Arc<SubscriptionKey>> = table
                .entries
                .iter()
                .filter(|(_, e)| e.running_since.is_some())
                .map(|(k, _)| Arc::clone(k))
                .collect();
            for key in &running {
                table.entries.get_mut(key).expect("listed above").rerun = true;
                table.set_stale(key, Some(ts));
            }
            table
                .entries
                .iter()
                .filter(|(_, e)| needs_run(e))
                .map(|(k, _)| Arc::clone(k))
                .collect()
        }
    };
    for key in keys {
        spawn_run(shared, Arc::clone(&key), &table.entries[&key]);
        table.set_running(&key, Some(ts));
        table.set_stale(&key, Some(ts));
    }
    shared.advance_frontier(&mut table);
}
