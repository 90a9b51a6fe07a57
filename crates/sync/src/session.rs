//! One client connection: the protocol state machine. It owns the client's query set and
//! identity, keeps versions chained exactly (`startVersion` is always the client's current
//! version), and pushes a transition when a subscribed result changes or when a mutation's
//! commit timestamp becomes visible (read-your-writes).
//!
//! One task per connection: the session's loop also reads the socket and writes its queued
//! frames ([`Pump`]), so a change reaches the socket without another task's wake-up, and an
//! idle connection holds one small future. Rarely taken, large steps (handling a client
//! message) are boxed so they do not grow that future.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt;
use keel_auth::{UserIdentity, Verifier};
use keel_functions::{Call, Caller, ClientOutcome, Executed, FunctionKind, Outcome};
use keel_metrics::{GaugeGuard, Metrics};
use keel_values::Ts;
use keel_values::bounded_json::PARSE_INLINE_MAX;
use serde_json::{Value as Json, json};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::encode::{self, Modification, Published};
use crate::manager::{Subscription, SubscriptionManager};
use crate::outbound::{OVERLOADED_REASON, Outbound};
use crate::protocol::{
    self, ClientMessage, QueryId, QuerySetModification, ServerMessage, StateVersion, TokenType,
};
use crate::protocol_error::{ProtocolError, ProtocolErrorCode};
use crate::socket::{ClientSocket, OutFrame, Pump};

/// What the official client expects after an identity's token expires mid-session.
pub const IDENTITY_EXPIRED: &str = "Convex token identity expired";

#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// A `Ping` after this long without any message to the client.
    pub ping_interval: Duration,
    /// Per-connection outbound limits.
    pub max_queued_messages: usize,
    pub max_queued_bytes: usize,
    /// What every connection together may hold queued for slow clients: past it, a client
    /// that is behind is disconnected even when under its own limit.
    pub max_total_queued_bytes: usize,
    /// A transition longer than this (bytes of JSON) goes out as `TransitionChunk` messages.
    pub transition_chunk_bytes: usize,
    /// A connection that sends no `Connect` within this long is closed.
    pub connect_timeout: Duration,
    /// Queries one connection may subscribe to; further ones get a `QueryFailed` and are not
    /// run (the client sees the error on those queries only).
    pub max_queries: usize,
    /// Mutations one connection may have waiting to run; past it the session stops reading
    /// the socket until one finishes (TCP pushes back on the client).
    pub max_queued_mutations: usize,
}

/// Convex's backend splits transitions over 5 MB.
pub const DEFAULT_TRANSITION_CHUNK_BYTES: usize = 5_000_000;
/// Four clients at the per-connection default; more than any healthy set of clients queues.
pub const DEFAULT_MAX_TOTAL_QUEUED_BYTES: usize = 256 * 1024 * 1024;
/// The official client sends `Connect` as soon as the socket opens.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Far above what an app's screens subscribe to at once, far below what slows its mutations.
pub const DEFAULT_MAX_QUERIES: usize = 2048;

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            ping_interval: Duration::from_secs(15),
            max_queued_messages: 4096,
            max_queued_bytes: 64 * 1024 * 1024,
            max_total_queued_bytes: DEFAULT_MAX_TOTAL_QUEUED_BYTES,
            transition_chunk_bytes: DEFAULT_TRANSITION_CHUNK_BYTES,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_queries: DEFAULT_MAX_QUERIES,
            max_queued_mutations: 64,
        }
    }
}

/// Shared by every connection.
pub struct SyncService {
    pub manager: SubscriptionManager,
    pub verifier: Verifier,
    pub config: SyncConfig,
    next_session: std::sync::atomic::AtomicU64,
    /// Bytes queued for every connection together.
    queued_total: Arc<std::sync::atomic::AtomicUsize>,
}

impl SyncService {
    pub fn new(manager: SubscriptionManager, verifier: Verifier, config: SyncConfig) -> Arc<Self> {
        let service = Arc::new(SyncService {
            manager,
            verifier,
            config,
            next_session: std::sync::atomic::AtomicU64::new(1),
            queued_total: Arc::default(),
        });
        // Weak: the figures outlive nothing they read.
        let sampled = Arc::downgrade(&service);
        service.metrics().sample_with(move |gauges| {
            if let Some(service) = sampled.upgrade() {
                let queued = service
                    .queued_total
                    .load(std::sync::atomic::Ordering::Relaxed);
                gauges
                    .sync_queued_bytes
                    .set(i64::try_from(queued).unwrap_or(i64::MAX));
                gauges
                    .live_executions
                    .set(i64::try_from(service.manager.len()).unwrap_or(i64::MAX));
            }
        });
        service
    }

    fn metrics(&self) -> &Metrics {
        self.manager.executor().metrics()
    }

    /// Runs a connection until the client leaves or the session ends it.
    // Not an `async fn`: the session's own future is the connection's whole state, with no
    // wrapper holding a second copy of the socket.
    pub fn run<S: ClientSocket>(
        self: Arc<Self>,
        socket: S,
    ) -> impl Future<Output = ()> + Send + use<S> {
        let id = self
            .next_session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let frontier = self.manager.frontier();
        let out = Outbound::new(
            self.config.max_queued_messages,
            self.config.max_queued_bytes,
            crate::outbound::Budget::new(
                Arc::clone(&self.queued_total),
                self.config.max_total_queued_bytes,
            ),
        );
        let connect_by = Instant::now() + self.config.connect_timeout;
        let counted = self.metrics().sync_connection();
        let session = Session {
            _counted: counted,
            id,
            service: self,
            out,
            pump: Pump::default(),
            notify: Arc::new(Notify::new()),
            frontier,
            version: StateVersion::default(),
            session_id: None,
            ts_floor: Ts::ZERO,
            identity: None,
            identity_expires: None,
            queries: Vec::new(),
            live_queries: 0,
            awaiting_ts: None,
            held: false,
            mutations: VecDeque::new(),
            running_mutation: None,
            connect_by: Some(connect_by),
            last_sent: Instant::now(),
            chunked_transitions: 0,
        };
        session.run(socket)
    }
}

/// How long a closing connection may take to write its last messages and close frame, and
/// then to read what the client still sends until its own close frame (a socket closed with
/// unread data is reset, and the client would lose the last messages).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

struct LiveQuery {
    /// Holds the subscriptions gauge up while the query is subscribed (not refused).
    _counted: Option<GaugeGuard>,
    id: QueryId,
    path: String,
    args: Json,
    source: QuerySource,
    sent: Option<Arc<Published>>,
}

/// Where a query's result comes from.
enum QuerySource {
    Live(Subscription),
    /// Over the connection's query limit: this error, never run.
    Refused(Arc<Published>),
}

impl QuerySource {
    /// The result that holds at `ts`, and whether a newer one waits for a later `ts`.
    fn current_at(&self, ts: Ts) -> (Option<Arc<Published>>, bool) {
        match self {
            QuerySource::Live(subscription) => subscription.current_at(ts),
            QuerySource::Refused(error) => (Some(Arc::clone(error)), false),
        }
    }
}

/// A client's mutation waiting for its turn.
struct QueuedMutation {
    request_id: u64,
    call: Call,
}

/// A mutation running beside the session's loop: its request id and result.
type RunningMutation = Pin<Box<dyn Future<Output = (u64, Executed<(Outcome, bool)>)> + Send>>;

struct Session {
    /// Holds the open-connections gauge up for the session's life.
    _counted: GaugeGuard,
    id: u64,
    service: Arc<SyncService>,
    out: Outbound,
    pump: Pump,
    notify: Arc<Notify>,
    frontier: watch::Receiver<Ts>,
    version: StateVersion,
    session_id: Option<String>,
    /// Transitions never go below the client's `maxObservedTimestamp`.
    ts_floor: Ts,
    identity: Option<Arc<UserIdentity>>,
    identity_expires: Option<Instant>,
    /// Sorted by id; a `Vec` because sessions hold few queries and idle ones should be small.
    queries: Vec<LiveQuery>,
    /// How many of `queries` are subscribed (not refused).
    live_queries: usize,
    /// The latest mutation commit timestamp no transition has reached yet.
    awaiting_ts: Option<Ts>,
    /// Some result waits for the frontier to reach the commit it reflects (or the client's
    /// observed timestamp): the session watches the frontier until it is sent.
    held: bool,
    /// Mutations run one at a time, in the order they arrived, while the loop goes on serving.
    mutations: VecDeque<QueuedMutation>,
    running_mutation: Option<RunningMutation>,
    /// Until `Connect` arrives: when the connection is given up.
    connect_by: Option<Instant>,
    last_sent: Instant,
    /// Transitions sent as chunks so far: the next one's `transitionId`.
    chunked_transitions: u64,
}

/// Why a session ends early.
enum End {
    /// The client broke the protocol: `FatalError` then close.
    Fatal(ProtocolError),
    /// The client is too far behind: close with a reason.
    Overloaded,
    /// Close after the last message (an `AuthError` for a bad token).
    Close,
}

type Step = Result<(), End>;

/// What woke the connection.
enum Event {
    Inbound(Bytes),
    /// Another task queued a message, or overflowed the queue.
    Woken,
    /// A subscribed result or the frontier changed.
    Changed,
    /// The running mutation finished.
    Mutated(u64, Executed<(Outcome, bool)>),
    Timer,
}

impl Session {
    // Not an `async fn`: its arguments would be stored twice in the connection's future (once
    // as arguments, once moved into the body); an `async move` block uses them in place.
    #[allow(clippy::manual_async_fn)]
    fn run<S: ClientSocket>(mut self, mut socket: S) -> impl Future<Output = ()> + Send {
        async move {
            let close = match self.serve(&mut socket).await {
                Err(End::Fatal(error)) => {
                    tracing::debug!(session = self.id, code = error.code.as_str(), message = %error.message, "closing session after a protocol error");
                    let _ = self.out.send(&ServerMessage::FatalError {
                        error: error.to_string(),
                    });
                    OutFrame::Close {
                        code: 1000,
                        reason: "FatalError",
                    }
                }
                Err(End::Overloaded) => {
                    tracing::warn!(session = self.id, "client not reading; closing");
                    // What is queued would only wait behind what the client is not reading.
                    self.out.clear();
                    OutFrame::Close {
                        code: 1011,
                        reason: OVERLOADED_REASON,
                    }
                }
                Err(End::Close) => OutFrame::Close {
                    code: 1000,
                    reason: "",
                },
                Ok(()) => return,
            };
            // A client that stopped reading may never take these. (Boxed: only closing
            // connections need room for it.)
            let finish = async {
                Pump::finish(&mut socket, &self.out, close).await;
                // Read (and drop) until the client's own close frame: closing a socket
                // with unread data resets it, and the client would never see our last
                // messages (an `AuthError` it must act on).
                while socket.next().await.is_some() {}
            };
            let _ = Box::pin(tokio::time::timeout(CLOSE_TIMEOUT, finish)).await;
        }
    }

    async fn serve<S: ClientSocket>(&mut self, socket: &mut S) -> Step {
        // One timer for pings and identity expiry, moved only when it fires or must fire
        // sooner (each send pushes the ping later; it is checked when the timer fires).
        let timer = tokio::time::sleep_until(self.next_deadline());
        tokio::pin!(timer);
        loop {
            if self.out.overflowed() {
                return Err(End::Overloaded);
            }
            let deadline = self.next_deadline();
            if deadline < timer.deadline() {
                timer.as_mut().reset(deadline);
            }
            // While a mutation runs, changes wait for its answer (see `Event::Changed`); an
            // unread frontier change would wake this loop again at once.
            let watch_frontier =
                (self.awaiting_ts.is_some() || self.held) && self.running_mutation.is_none();
            // A client with many mutations waiting is not read until one finishes.
            let read = self.mutations.len() < self.service.config.max_queued_mutations;
            let event = tokio::select! {
                biased;
                inbound = poll_fn(|cx| self.pump.poll(socket, &self.out, read, cx)) => match inbound {
                    Some(text) => Event::Inbound(text),
                    None => return Ok(()),
                },
                _ = self.out.woken() => Event::Woken,
                (request_id, result) = poll_fn(|cx| poll_running(&mut self.running_mutation, cx)) => {
                    Event::Mutated(request_id, result)
                }
                _ = self.notify.notified() => Event::Changed,
                changed = self.frontier.changed(), if watch_frontier => match changed {
                    Ok(()) => Event::Changed,
                    Err(_) => return Ok(()),
                },
                () = &mut timer => Event::Timer,
            };
            match event {
                Event::Inbound(text) => Box::pin(self.handle(text)).await?,
                Event::Woken => {} // checked at the top of the loop
                // While one of this connection's mutations runs, its transitions wait for the
                // answer (`mutated` pushes them): the client never sees a write's effects
                // before the write's answer, whether the committer's reply or the manager's
                // re-run reaches this session first. The wait lasts one mutation.
                Event::Changed if self.running_mutation.is_some() => {}
                Event::Changed => self.push_changes()?,
                Event::Mutated(request_id, result) => self.mutated(request_id, result)?,
                Event::Timer => {
                    let now = Instant::now();
                    if self.connect_by.is_some_and(|at| at <= now) {
                        return Err(End::Fatal(ProtocolErrorCode::ConnectTimeout.with(format!(
                            "No Connect message within {} s of opening the connection",
                            self.service.config.connect_timeout.as_secs_f32()
                        ))));
                    }
                    if self.identity_expires.is_some_and(|at| at <= now) {
                        self.expire_identity()?;
                    }
                    if self.last_sent + self.service.config.ping_interval <= now {
                        self.send(ServerMessage::Ping)?;
                    }
                    timer.as_mut().reset(self.next_deadline());
                }
            }
        }
    }

    /// When the timer must fire next: the ping, the identity's expiry or the `Connect`
    /// deadline, whichever is soonest.
    fn next_deadline(&self) -> Instant {
        let ping_at = self.last_sent + self.service.config.ping_interval;
        [self.identity_expires, self.connect_by]
            .into_iter()
            .flatten()
            .fold(ping_at, Instant::min)
    }

    fn send(&mut self, message: ServerMessage) -> Step {
        self.out.send(&message).map_err(|_| End::Overloaded)?;
        self.last_sent = Instant::now();
        Ok(())
    }

    fn send_frame(&mut self, frame: Bytes) -> Step {
        self.out.send_frame(frame).map_err(|_| End::Overloaded)?;
        self.last_sent = Instant::now();
        Ok(())
    }

    async fn handle(&mut self, text: Bytes) -> Step {
        // The timer runs on the monotonic clock, which stands still while the host sleeps (a
        // laptop running `keel dev`) and ignores a test's manual clock; the verifier's clock
        // says whether the token has expired by now, before anything is served on it.
        if self
            .identity
            .as_ref()
            .is_some_and(|identity| self.service.verifier.has_expired(identity))
        {
            return self.expire_identity();
        }
        let message = decode(text).await.map_err(End::Fatal)?;
        match message {
            ClientMessage::Connect {
                session_id,
                max_observed_timestamp,
                ..
            } => self.connect(session_id, max_observed_timestamp).await,
            ClientMessage::ModifyQuerySet {
                base_version,
                new_version,
                modifications,
            } => {
                self.modify_query_set(base_version, new_version, modifications)
                    .await
            }
            ClientMessage::Authenticate {
                base_version,
                token_type,
                value,
            } => self.authenticate(base_version, token_type, value).await,
            ClientMessage::Mutation {
                request_id,
                udf_path,
                args,
            } => self.mutation(request_id, udf_path, args),
            ClientMessage::Action {
                request_id,
                udf_path,
                args,
            } => self.action(request_id, udf_path, args),
            ClientMessage::Event {} => Ok(()),
        }
    }

    async fn connect(&mut self, session_id: String, max_observed: Option<Ts>) -> Step {
        if self.session_id.is_some() {
            return Err(End::Fatal(
                ProtocolErrorCode::AlreadyConnected
                    .with("Connect was sent twice on one connection"),
            ));
        }
        if session_id.is_empty() || session_id.len() > 128 {
            return Err(End::Fatal(
                ProtocolErrorCode::InvalidSessionId
                    .with("Connect needs a sessionId of 1 to 128 characters"),
            ));
        }
        if let Some(observed) = max_observed {
            let latest = self
                .service
                .manager
                .executor()
                .database()
                .reader()
                .await
                .map_err(|_| {
                    End::Fatal(
                        ProtocolErrorCode::ServerError.with("The database could not be read"),
                    )
                })?
                .ts();
            if observed > latest {
                return Err(End::Fatal(ProtocolErrorCode::TimestampAhead.with(format!(
                    "Client has observed timestamp {} but this server's latest is {}: it is connected to a different or restored database",
                    observed.0, latest.0
                ))));
            }
            self.ts_floor = observed;
        }
        self.session_id = Some(session_id);
        self.connect_by = None;
        Ok(())
    }

    async fn modify_query_set(
        &mut self,
        base: u32,
        new: u32,
        modifications: Vec<QuerySetModification>,
    ) -> Step {
        if base != self.version.query_set {
            return Err(End::Fatal(ProtocolErrorCode::InvalidQuerySetVersion.with(
                format!(
                    "Invalid query set base version {base}: the current version is {}",
                    self.version.query_set
                ),
            )));
        }
        if new <= base {
            return Err(End::Fatal(ProtocolErrorCode::InvalidQuerySetVersion.with(
                format!("Invalid query set version {new}: it must be greater than {base}"),
            )));
        }
        let mut removed = Vec::new();
        for modification in modifications {
            match modification {
                QuerySetModification::Add {
                    query_id,
                    udf_path,
                    args,
                } => {
                    let Err(at) = self.query_position(query_id) else {
                        return Err(End::Fatal(
                            ProtocolErrorCode::DuplicateQueryId
                                .with(format!("Query {query_id} was added twice")),
                        ));
                    };
                    let args = single_args(args);
                    let source = self.source(&udf_path, args.clone());
                    let counted = matches!(source, QuerySource::Live(_))
                        .then(|| self.service.metrics().sync_subscription());
                    self.queries.insert(
                        at,
                        LiveQuery {
                            _counted: counted,
                            id: query_id,
                            path: udf_path,
                            args,
                            source,
                            sent: None,
                        },
                    );
                }
                QuerySetModification::Remove { query_id } => {
                    let Ok(at) = self.query_position(query_id) else {
                        return Err(End::Fatal(
                            ProtocolErrorCode::UnknownQueryId
                                .with(format!("Query {query_id} is not in the query set")),
                        ));
                    };
                    if let QuerySource::Live(_) = self.queries.remove(at).source {
                        self.live_queries -= 1;
                    }
                    removed.push(query_id);
                }
            }
        }
        self.wait_for_first_results().await;
        let mut end = self.version;
        end.query_set = new;
        self.transition(end, &removed)
    }

    fn query_position(&self, id: QueryId) -> Result<usize, usize> {
        self.queries.binary_search_by_key(&id, |q| q.id)
    }

    async fn authenticate(
        &mut self,
        base: u32,
        token_type: TokenType,
        value: Option<String>,
    ) -> Step {
        if base != self.version.identity {
            return Err(End::Fatal(ProtocolErrorCode::InvalidIdentityVersion.with(
                format!(
                    "Invalid identity base version {base}: the current version is {}",
                    self.version.identity
                ),
            )));
        }
        let identity = match (token_type, value) {
            (TokenType::None, _) => None,
            (TokenType::Admin, _) => {
                self.send(ServerMessage::AuthError {
                    error: "Admin keys are not accepted by Keel: authenticate with a Clerk token"
                        .into(),
                    base_version: base,
                    auth_update_attempted: true,
                })?;
                return Err(End::Close);
            }
            (TokenType::User, None) => {
                return Err(End::Fatal(
                    ProtocolErrorCode::MissingToken
                        .with("Authenticate with tokenType User needs a value"),
                ));
            }
            (TokenType::User, Some(token)) => match self.service.verifier.verify(&token).await {
                Ok(identity) => Some(identity),
                Err(err) => {
                    self.send(ServerMessage::AuthError {
                        error: err.message,
                        base_version: base,
                        auth_update_attempted: true,
                    })?;
                    return Err(End::Close);
                }
            },
        };
        self.identity_expires = identity
            .as_ref()
            .map(|i| expiry_instant(i, &self.service.verifier));
        self.identity = identity;
        self.resubscribe_all();
        self.wait_for_first_results().await;
        let mut end = self.version;
        end.identity = base + 1;
        self.transition(end, &[])
    }

    /// The token behind the identity passed its `exp`: tell the client, which fetches a fresh
    /// token and reconnects, and end the connection as Convex does, so no private data flows
    /// on an expired identity.
    fn expire_identity(&mut self) -> Step {
        self.identity_expires = None;
        if self.identity.take().is_none() {
            return Ok(());
        }
        self.send(ServerMessage::AuthError {
            error: IDENTITY_EXPIRED.into(),
            base_version: self.version.identity.saturating_sub(1),
            auth_update_attempted: false,
        })?;
        Err(End::Close)
    }

    /// Queues a mutation; they run one at a time, in order, beside the loop.
    fn mutation(&mut self, request_id: u64, path: String, args: Vec<Json>) -> Step {
        if self.session_id.is_none() {
            return Err(End::Fatal(
                ProtocolErrorCode::NotConnected.with("Mutation before Connect"),
            ));
        }
        let call = Call {
            path,
            kind: Some(FunctionKind::Mutation),
            args: single_args(args),
            identity: self.identity.clone(),
            caller: Caller::Client,
        };
        self.mutations
            .push_back(QueuedMutation { request_id, call });
        self.start_next_mutation();
        Ok(())
    }

    fn start_next_mutation(&mut self) {
        if self.running_mutation.is_some() {
            return;
        }
        let Some(QueuedMutation { request_id, call }) = self.mutations.pop_front() else {
            return;
        };
        let executor = self.service.manager.executor().clone();
        let session_id = self.session_id.clone().unwrap_or_default();
        self.running_mutation = Some(Box::pin(async move {
            let result = executor
                .call_mutation_once(call, &session_id, request_id)
                .await;
            (request_id, result)
        }));
    }

    /// Answers a finished mutation; its transition follows once the frontier reaches its
    /// commit (read-your-writes).
    fn mutated(&mut self, request_id: u64, executed: Executed<(Outcome, bool)>) -> Step {
        self.running_mutation = None;
        let Executed { result, log_lines } = executed;
        let response = match result {
            Ok((outcome, _replayed)) => {
                let ts = outcome.ts.unwrap_or(self.version.ts);
                self.awaiting_ts = Some(self.awaiting_ts.map_or(ts, |t| t.max(ts)));
                let answer = ClientOutcome::new(Ok(outcome.value), log_lines);
                ServerMessage::mutation_response(request_id, answer, Some(ts))
            }
            Err(err) => ServerMessage::mutation_response(
                request_id,
                ClientOutcome::new(Err(err), log_lines),
                None,
            ),
        };
        self.send(response)?;
        // The commit may already be visible everywhere (nothing to re-run): answer now, and
        // with whatever changed while the mutation ran, before the next one starts.
        self.push_changes()?;
        self.start_next_mutation();
        Ok(())
    }

    fn action(&mut self, request_id: u64, path: String, args: Vec<Json>) -> Step {
        let call = Call {
            path,
            kind: Some(FunctionKind::Action),
            args: single_args(args),
            identity: self.identity.clone(),
            caller: Caller::Client,
        };
        let executor = self.service.manager.executor().clone();
        let out = self.out.for_other_task();
        // Actions may be slow; they run beside the session and answer when done.
        tokio::spawn(async move {
            let Executed { result, log_lines } = executor.execute(call).await;
            let outcome = ClientOutcome::new(result.map(|outcome| outcome.value), log_lines);
            let response = ServerMessage::action_response(request_id, outcome);
            // An overflow here wakes the session, which closes the connection.
            let _ = out.send(&response);
        });
        Ok(())
    }

    /// A new query's source: a subscription, or an error once the connection is at its
    /// query limit.
    fn source(&mut self, path: &str, args: Json) -> QuerySource {
        let limit = self.service.config.max_queries;
        if self.live_queries >= limit {
            return QuerySource::Refused(Arc::new(Published::new(
                ClientOutcome::refused(format!(
                    "Too many queries on one connection: the limit is {limit} (KEEL_SYNC_MAX_QUERIES)"
                )),
                false,
            )));
        }
        self.live_queries += 1;
        QuerySource::Live(self.service.manager.subscribe(
            self.id,
            &self.notify,
            path,
            args,
            self.identity.clone(),
        ))
    }

    /// New identity: every query is subscribed under it. A refreshed token for the same
    /// identity lands on the same executions, and unchanged results are not sent again.
    fn resubscribe_all(&mut self) {
        let manager = &self.service.manager;
        for query in &mut self.queries {
            let QuerySource::Live(subscription) = &mut query.source else {
                continue;
            };
            // The new hold is taken before the old one is dropped, so a shared execution
            // never sees zero watchers in between.
            *subscription = manager.subscribe(
                self.id,
                &self.notify,
                &query.path,
                query.args.clone(),
                self.identity.clone(),
            );
        }
    }

    /// Waits for every query's first result, then (briefly) until the frontier reaches the
    /// commits those results reflect and the client's observed timestamp, so the transition
    /// that answers a query set or identity change carries all of them.
    async fn wait_for_first_results(&mut self) {
        let mut needed = self.ts_floor;
        for query in &mut self.queries {
            if let QuerySource::Live(subscription) = &mut query.source {
                subscription.first().await;
                if let Some(current) = subscription.current() {
                    needed = needed.max(current.current_at());
                }
            }
        }
        let wait = self.frontier.wait_for(|ts| *ts >= needed);
        let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
    }

    fn push_changes(&mut self) -> Step {
        self.send_transition(self.version, &[], false)
    }

    /// Sends one transition from the current version to `end` (its `ts` set here: the
    /// frontier), removing `removed` and updating every query whose result the client has not
    /// seen.
    fn transition(&mut self, end: StateVersion, removed: &[QueryId]) -> Step {
        self.send_transition(end, removed, true)
    }

    /// [`Self::transition`]; unless `always`, only when a result changed or a mutation's
    /// `ts` became visible.
    fn send_transition(
        &mut self,
        mut end: StateVersion,
        removed: &[QueryId],
        always: bool,
    ) -> Step {
        // Results are read under the frontier's lock, which the manager publishes under: the
        // `ts` is never older than a result it carries became current at.
        let frontier = self.frontier.borrow_and_update();
        end.ts = self.version.ts.max(*frontier);
        // Nothing below the client's observed timestamp (after a reconnect), except to answer
        // a request, which waited for it already.
        if !always && end.ts < self.ts_floor {
            self.held = true;
            return Ok(());
        }
        self.held = false;
        let mut updated = Vec::new();
        for query in &mut self.queries {
            // Read once: a shared result's lock is contended by every session it wakes. A
            // result of a commit the frontier has not reached waits for it (that commit's
            // other results are still running, and they go out together); the one before it
            // still holds.
            let (current, newer) = query.source.current_at(end.ts);
            self.held |= newer;
            let Some(current) = current else {
                continue;
            };
            if !already_sent(query.sent.as_ref(), &current) {
                updated.push((query.id, Arc::clone(&current)));
            }
            query.sent = Some(current);
        }
        drop(frontier);
        let reaches_mutation = self.awaiting_ts.is_some_and(|t| end.ts >= t);
        if !(always || reaches_mutation || !updated.is_empty()) {
            return Ok(());
        }
        if reaches_mutation {
            self.awaiting_ts = None;
        }
        let start = self.version;
        self.version = end;
        let frame = match (removed, &updated[..]) {
            ([], [(query_id, published)]) => published.alone(start, end, *query_id),
            _ => {
                let modifications: Vec<Modification<'_>> = removed
                    .iter()
                    .map(|id| Modification::Removed(*id))
                    .chain(updated.iter().map(|(id, p)| Modification::Updated(*id, p)))
                    .collect();
                encode::transition(start, end, &modifications)
            }
        };
        let limit = self.service.config.transition_chunk_bytes;
        if frame.len() <= limit {
            self.service.metrics().sync_transition(frame.len());
            return self.send_frame(frame);
        }
        self.chunked_transitions += 1;
        for chunk in encode::transition_chunks(&frame, self.chunked_transitions, limit) {
            self.service.metrics().sync_transition(chunk.len());
            self.send_frame(chunk)?;
        }
        Ok(())
    }
}

/// Whether the client already holds this result (the same execution's, or an equal one).
fn already_sent(sent: Option<&Arc<Published>>, current: &Arc<Published>) -> bool {
    sent.is_some_and(|sent| {
        Arc::ptr_eq(sent, current) || sent.outcome().same_result(current.outcome())
    })
}

/// A client message, or why it cannot be one ([`protocol::parse_client_message`]); a large
/// one is parsed off the async workers, as HTTP bodies are.
async fn decode(text: Bytes) -> Result<ClientMessage, ProtocolError> {
    if text.len() <= PARSE_INLINE_MAX {
        return protocol::parse_client_message(&text);
    }
    tokio::task::spawn_blocking(move || protocol::parse_client_message(&text))
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
}

/// Polls the running mutation, if any (a select branch that never fires without one).
fn poll_running(
    running: &mut Option<RunningMutation>,
    cx: &mut Context<'_>,
) -> Poll<(u64, Executed<(Outcome, bool)>)> {
    match running {
        Some(mutation) => mutation.as_mut().poll(cx),
        None => Poll::Pending,
    }
}

/// The client sends arguments as a one-element array.
fn single_args(args: Vec<Json>) -> Json {
    match <[Json; 1]>::try_from(args) {
        Ok([only]) => only,
        Err(args) if args.is_empty() => json!({}),
        // Anything else is passed on as-is, so argument decoding reports it.
        Err(args) => Json::Array(args),
    }
}

/// When the identity stops being valid: `exp` plus the allowed clock skew, as verification.
fn expiry_instant(identity: &UserIdentity, verifier: &Verifier) -> Instant {
    let now = verifier
        .clock()
        .now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let expires = Duration::from_secs(identity.expires_at) + verifier.config().clock_skew;
    Instant::now() + expires.saturating_sub(now)
}
