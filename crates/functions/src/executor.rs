//! Runs a function by path: finds it, checks who may call it, opens the right transaction,
//! decodes arguments, and commits or rolls back.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use keel_auth::UserIdentity;
use keel_metrics::{CallOutcome, Metrics};
use keel_store::{Database, ReadSet};
use keel_values::Ts;
use serde_json::Value as Json;

use crate::canonicalize_path;
use crate::committer;
use crate::context::{ActionCtx, QueryCtx};
use crate::log::{CallTag, FunctionLog, LogLines};
use crate::mutation_log::{self, RequestKey};
use crate::registry::{Entry, Function, MutationHandler};
use crate::{Auth, FnError, FnResult, FunctionKind, Registry, RoleResolver, Visibility};

/// Who asked: a client over HTTP or WebSocket (public functions only), or server code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Client,
    Server,
}

pub struct Call {
    /// As the client sent it; canonicalized here.
    pub path: String,
    /// The kind the endpoint runs (`/api/query` …); `None` runs whatever is registered
    /// (`/api/run/...`).
    pub kind: Option<FunctionKind>,
    /// Convex encoded JSON, an object.
    pub args: Json,
    pub identity: Option<Arc<UserIdentity>>,
    pub caller: Caller,
}

#[derive(Debug)]
pub struct Outcome {
    /// The result as Convex encoded JSON.
    pub value: Json,
    pub kind: FunctionKind,
    /// For a mutation: the commit timestamp (the snapshot's for one that wrote nothing).
    /// For a query: the snapshot it read.
    pub ts: Option<Ts>,
    /// For a query: everything it read, to re-run it when that changes.
    pub reads: Option<ReadSet>,
}

/// A call's result with the lines the function logged (`ctx.log`), which its caller gets in
/// `logLines` whether it succeeded or failed.
#[derive(Debug)]
pub struct Executed<T> {
    pub result: FnResult<T>,
    pub log_lines: LogLines,
}

/// A query run for a subscription: its outcome, the snapshot it read and everything it read,
/// also when it failed (a failure can depend on data, and must re-run when that changes).
pub struct QueryRun {
    pub result: FnResult<Json>,
    /// What the run logged: the lines of the execution that produced `result`.
    pub log_lines: LogLines,
    pub ts: Ts,
    pub reads: ReadSet,
    /// Where each page the query read ended (see `Reader::journal`).
    pub journal: Vec<String>,
}

struct Inner {
    registry: Registry,
    db: Database,
    roles: Arc<dyn RoleResolver>,
    extensions: Extensions,
    committer: tokio::sync::mpsc::UnboundedSender<committer::Job>,
    metrics: Metrics,
}

/// Services the server hands to actions (a Clerk Backend API client, say), by type.
#[derive(Default, Clone)]
pub struct Extensions {
    by_type: std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>,
}

impl Extensions {
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.by_type
            .insert(std::any::TypeId::of::<T>(), Arc::new(value));
    }

    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.by_type
            .get(&std::any::TypeId::of::<T>())
            .cloned()
            .and_then(|any| any.downcast::<T>().ok())
    }
}

#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

impl Executor {
    pub fn new(registry: Registry, db: Database, roles: Arc<dyn RoleResolver>) -> Self {
        Self::with_extensions(registry, db, roles, Extensions::default())
    }

    pub fn with_extensions(
        registry: Registry,
        db: Database,
        roles: Arc<dyn RoleResolver>,
        extensions: Extensions,
    ) -> Self {
        Self::with_metrics(registry, db, roles, extensions, Metrics::disabled())
    }

    /// An executor that records its runs and commits in `metrics` (which the server's other
    /// layers then reach through [`Executor::metrics`]).
    pub fn with_metrics(
        registry: Registry,
        db: Database,
        roles: Arc<dyn RoleResolver>,
        extensions: Extensions,
        metrics: Metrics,
    ) -> Self {
        let committer = committer::start(db.clone(), metrics.clone());
        Executor {
            inner: Arc::new(Inner {
                registry,
                db,
                roles,
                extensions,
                committer,
                metrics,
            }),
        }
    }

    /// Where this server's figures go (a disabled handle when it keeps none).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.inner.extensions.get()
    }

    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Runs a function; its log lines go to Keel's log only. Transports that answer a client
    /// use [`Executor::execute`], which returns them.
    pub async fn call(&self, call: Call) -> FnResult<Outcome> {
        self.execute(call).await.result
    }

    /// Runs a function and returns its result with the lines it logged.
    pub async fn execute(&self, call: Call) -> Executed<Outcome> {
        let path = canonicalize_path(&call.path);
        let log = FunctionLog::new(CallTag::new(&path, self.database().runtime()));
        let result = self.execute_logged(path, call, &log).await;
        if let Err(err) = &result {
            log_failure(log.tag(), err);
        }
        Executed {
            result,
            log_lines: log.lines(),
        }
    }

    async fn execute_logged(
        &self,
        path: String,
        call: Call,
        log: &FunctionLog,
    ) -> FnResult<Outcome> {
        let entry = self.lookup(&path, call.caller)?;
        if let Some(requested) = call.kind
            && requested != entry.function.kind()
        {
            return Err(FnError::WrongKind {
                path,
                requested: requested.as_str(),
                actual: entry.function.kind().as_str(),
            });
        }
        let kind = entry.function.kind();
        let auth = Auth::new(call.identity, Arc::clone(&self.inner.roles));
        let started = Instant::now();
        let run = self.run(entry.function, auth, call.args, log);
        let result = match AssertUnwindSafe(run).catch_unwind().await {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(function = %path, request_id = %log.tag().request_id, "function panicked");
                Err(FnError::internal("function panicked"))
            }
        };
        self.record(&path, kind, &result, started);
        result
    }

    /// Counts a run of a registered function (never a path a client made up: the label
    /// values stay bounded).
    fn record<T>(&self, path: &str, kind: FunctionKind, result: &FnResult<T>, started: Instant) {
        if !self.inner.metrics.is_enabled() {
            return;
        }
        let outcome = match result {
            Ok(_) => CallOutcome::Success,
            Err(err) if err.log_detail().is_some() => CallOutcome::SystemError,
            Err(_) => CallOutcome::Error,
        };
        self.inner
            .metrics
            .function_call(path, kind.label(), outcome, started.elapsed());
    }

    /// Runs a public query for a live subscription. Unlike [`Executor::call`], errors keep
    /// the snapshot and read set.
    pub async fn run_query(
        &self,
        path: &str,
        args: Json,
        identity: Option<Arc<UserIdentity>>,
        journal: Vec<String>,
    ) -> FnResult<QueryRun> {
        let path = canonicalize_path(path);
        let entry = self.lookup(&path, Caller::Client);
        let log = FunctionLog::new(CallTag::new(&path, self.database().runtime()));
        let started = Instant::now();
        let db = self.inner.db.reader().await?.with_journal(journal);
        let ts = db.ts();
        let mut ran = false;
        let result = match entry {
            Err(err) => Err(err),
            Ok(Entry {
                function: Function::Query(handler),
                ..
            }) => {
                ran = true;
                let auth = Auth::new(identity, Arc::clone(&self.inner.roles));
                let run = handler(
                    QueryCtx {
                        auth,
                        db: db.clone(),
                        log: log.clone(),
                    },
                    args,
                );
                match AssertUnwindSafe(run).catch_unwind().await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::error!(function = %path, "function panicked");
                        Err(FnError::internal("function panicked"))
                    }
                }
            }
            Ok(entry) => Err(FnError::WrongKind {
                path: path.clone(),
                requested: FunctionKind::Query.as_str(),
                actual: entry.function.kind().as_str(),
            }),
        };
        if let Err(err) = &result {
            log_failure(log.tag(), err);
        }
        if ran {
            self.record(&path, FunctionKind::Query, &result, started);
        }
        let journal = db.journal();
        let reads = db.finish().await?;
        Ok(QueryRun {
            result,
            log_lines: log.lines(),
            ts,
            reads,
            journal,
        })
    }

    /// Runs a mutation at most once per request: when a reconnecting client re-sends a
    /// mutation that already committed, the stored result is returned instead of running it
    /// again. A request is the same only with the same session and request ids, the same
    /// caller (issuer and subject) and the same function (see `mutation_log`). The record is
    /// written in the mutation's own transaction, so it exists exactly when the mutation's
    /// effects do, also across restarts.
    pub async fn call_mutation_once(
        &self,
        call: Call,
        session_id: &str,
        request_id: u64,
    ) -> Executed<(Outcome, bool)> {
        let path = canonicalize_path(&call.path);
        let tag = CallTag::new(&path, self.database().runtime());
        let (result, log_lines) = self
            .mutation_once(path, call, session_id, request_id, &tag)
            .await;
        if let Err(err) = &result {
            log_failure(&tag, err);
        }
        Executed { result, log_lines }
    }

    async fn mutation_once(
        &self,
        path: String,
        call: Call,
        session_id: &str,
        request_id: u64,
        tag: &CallTag,
    ) -> (FnResult<(Outcome, bool)>, LogLines) {
        let entry = match self.lookup(&path, call.caller) {
            Ok(entry) => entry,
            Err(err) => return (Err(err), Vec::new()),
        };
        let Function::Mutation(handler) = entry.function else {
            let err = FnError::WrongKind {
                path,
                requested: FunctionKind::Mutation.as_str(),
                actual: entry.function.kind().as_str(),
            };
            return (Err(err), Vec::new());
        };
        let once = RequestKey::new(session_id, request_id, call.identity.as_deref(), &path);
        let auth = Auth::new(call.identity, Arc::clone(&self.inner.roles));
        let started = Instant::now();
        let (done, lines) = self
            .enqueue(tag.clone(), handler, call.args, auth, Some(once))
            .await;
        self.record(&path, FunctionKind::Mutation, &done, started);
        let result = done.map(|done| {
            let outcome = Outcome {
                value: done.value,
                kind: FunctionKind::Mutation,
                ts: Some(done.ts),
                reads: None,
            };
            (outcome, done.replayed)
        });
        (result, lines)
    }

    /// Decodes a mutation's arguments (here, in the caller's task), hands it to the group
    /// committer and waits until its batch is durable.
    async fn enqueue(
        &self,
        tag: CallTag,
        handler: MutationHandler,
        args: Json,
        auth: Auth,
        once: Option<RequestKey>,
    ) -> (FnResult<committer::Done>, LogLines) {
        // The arguments stay with the job: a retry after a write conflict decodes them again.
        let prepared = match handler(args.clone()) {
            Ok(prepared) => prepared,
            Err(err) => return (Err(err), Vec::new()),
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = committer::Job {
            tag,
            handler,
            args,
            prepared: Some(prepared),
            auth,
            once,
            reply,
            lost: 0,
        };
        if self.inner.committer.send(job).is_err() {
            return (Err(FnError::internal("the committer stopped")), Vec::new());
        }
        answer.await.unwrap_or_else(|_| {
            let err = FnError::internal("the committer dropped a mutation");
            (Err(err), Vec::new())
        })
    }

    /// Forgets answered mutations older than `retention`, in batches.
    pub async fn prune_mutation_log(&self, retention: std::time::Duration) -> FnResult<usize> {
        mutation_log::prune(&self.inner.db, retention).await
    }

    fn lookup(&self, path: &str, caller: Caller) -> FnResult<Entry> {
        match self.inner.registry.get(path) {
            Some(entry) if entry.visibility == Visibility::Public || caller == Caller::Server => {
                Ok(entry.clone())
            }
            _ => Err(FnError::UnknownFunction(path.to_string())),
        }
    }

    async fn run(
        &self,
        function: Function,
        auth: Auth,
        args: Json,
        log: &FunctionLog,
    ) -> FnResult<Outcome> {
        match function {
            Function::Query(handler) => {
                let db = self.inner.db.reader().await?;
                let ts = db.ts();
                let result = handler(
                    QueryCtx {
                        auth,
                        db: db.clone(),
                        log: log.clone(),
                    },
                    args,
                )
                .await;
                let reads = db.finish().await?;
                Ok(Outcome {
                    value: result?,
                    kind: FunctionKind::Query,
                    ts: Some(ts),
                    reads: Some(reads),
                })
            }
            Function::Mutation(handler) => {
                let (done, lines) = self
                    .enqueue(log.tag().clone(), handler, args, auth, None)
                    .await;
                log.append(lines);
                let done = done?;
                Ok(Outcome {
                    value: done.value,
                    kind: FunctionKind::Mutation,
                    ts: Some(done.ts),
                    reads: None,
                })
            }
            Function::Action(handler) => {
                let ctx = ActionCtx {
                    auth,
                    log: log.clone(),
                    executor: self.clone(),
                };
                Ok(Outcome {
                    value: handler(ctx, args).await?,
                    kind: FunctionKind::Action,
                    ts: None,
                    reads: None,
                })
            }
        }
    }
}

/// A failed call in Keel's own log: server faults at `error` with their detail; refusals the
/// function made on purpose (and bad arguments) at `info`, with their code and message, so a
/// developer sees why a call failed without opening the client.
fn log_failure(tag: &CallTag, err: &FnError) {
    let (path, request_id) = (&tag.path, &tag.request_id);
    match err.log_detail() {
        Some(detail) => {
            tracing::error!(function = %path, %request_id, error = %detail, "function failed")
        }
        None => tracing::info!(
            function = %path,
            %request_id,
            code = err.code().map_or("none", |code| code.as_str()),
            message = %err.client_message(),
            "function refused"
        ),
    }
}
