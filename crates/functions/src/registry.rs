//! Functions by canonical path. Each entry erases its argument and result types behind a boxed
//! handler that decodes arguments and encodes the result.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::args::decode_args;
use crate::context::{ActionCtx, MutationCtx, QueryCtx};
use crate::{FnError, FnResult, canonicalize_path};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    Query,
    Mutation,
    Action,
}

impl FunctionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::Query => "Query",
            FunctionKind::Mutation => "Mutation",
            FunctionKind::Action => "Action",
        }
    }
}

/// Internal functions run only from the server (actions, webhooks, the CLI), never for a
/// client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Internal,
}

pub(crate) type Handler<C> =
    Arc<dyn Fn(C, Json) -> BoxFuture<'static, FnResult<Json>> + Send + Sync>;

/// A call with its arguments decoded, ready to run with its context.
pub(crate) type Prepared<C> = Box<dyn FnOnce(C) -> BoxFuture<'static, FnResult<Json>> + Send>;

/// Decodes a call's arguments into a [`Prepared`] call.
pub(crate) type Prepare<C> = Arc<dyn Fn(Json) -> FnResult<Prepared<C>> + Send + Sync>;

/// A mutation with its arguments decoded, ready to run inside a transaction.
pub(crate) type PreparedMutation = Prepared<MutationCtx>;

/// Mutations decode their arguments before they queue for the group committer: decoding then
/// runs in the caller's task, in parallel with other requests, instead of in the committer's
/// serial section, and a bad argument never reaches a transaction.
pub(crate) type MutationHandler = Prepare<MutationCtx>;

#[derive(Clone)]
pub(crate) enum Function {
    Query(Handler<QueryCtx>),
    Mutation(MutationHandler),
    Action(Handler<ActionCtx>),
}

impl Function {
    pub fn kind(&self) -> FunctionKind {
        match self {
            Function::Query(_) => FunctionKind::Query,
            Function::Mutation(_) => FunctionKind::Mutation,
            Function::Action(_) => FunctionKind::Action,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Entry {
    pub function: Function,
    pub visibility: Visibility,
}

#[derive(Clone, Default)]
pub struct Registry {
    functions: HashMap<String, Entry>,
}

/// Decodes arguments, then runs `f` and encodes its result: the one typed-to-JSON bridge every
/// handler uses.
fn prepare<C, A, R, F, Fut>(f: F) -> Prepare<C>
where
    C: Send + 'static,
    A: DeserializeOwned + Send + 'static,
    R: Serialize,
    F: Fn(C, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FnResult<R>> + Send + 'static,
{
    let f = Arc::new(f);
    Arc::new(move |args: Json| {
        let args: A = decode_args(args)?;
        let f = Arc::clone(&f);
        let prepared: Prepared<C> = Box::new(move |ctx| {
            Box::pin(async move {
                let result = f(ctx, args).await?;
                serde_json::to_value(result).map_err(FnError::internal)
            })
        });
        Ok(prepared)
    })
}

/// Queries and actions decode and run in one step.
fn handler<C, A, R, F, Fut>(f: F) -> Handler<C>
where
    C: Send + 'static,
    A: DeserializeOwned + Send + 'static,
    R: Serialize,
    F: Fn(C, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FnResult<R>> + Send + 'static,
{
    let prepare = prepare(f);
    Arc::new(move |ctx: C, args: Json| match prepare(args) {
        Ok(run) => run(ctx),
        Err(err) => Box::pin(std::future::ready(Err(err))),
    })
}

macro_rules! register {
    ($(#[$doc:meta])* $name:ident, $variant:ident, $ctx:ty, $visibility:ident, $make:ident) => {
        $(#[$doc])*
        pub fn $name<A, R, F, Fut>(&mut self, path: &str, f: F) -> &mut Self
        where
            A: DeserializeOwned + Send + 'static,
            R: Serialize,
            F: Fn($ctx, A) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = FnResult<R>> + Send + 'static,
        {
            self.insert(path, Function::$variant($make(f)), Visibility::$visibility)
        }
    };
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    register!(/// A public query: reads one snapshot, callable by clients.
        query, Query, QueryCtx, Public, handler);
    register!(/// A query only other server code may run.
        internal_query, Query, QueryCtx, Internal, handler);
    register!(/// A public mutation: one atomic transaction, callable by clients.
        mutation, Mutation, MutationCtx, Public, prepare);
    register!(/// A mutation only other server code may run.
        internal_mutation, Mutation, MutationCtx, Internal, prepare);
    register!(/// A public action: may call other functions and the outside world.
        action, Action, ActionCtx, Public, handler);
    register!(/// An action only other server code may run.
        internal_action, Action, ActionCtx, Internal, handler);

    /// Registers `alias` as a second path for an already registered function.
    pub fn alias(&mut self, alias: &str, path: &str) -> &mut Self {
        let entry = self
            .functions
            .get(&canonicalize_path(path))
            .unwrap_or_else(|| panic!("alias {alias}: no function registered at {path}"))
            .clone();
        self.insert(alias, entry.function, entry.visibility)
    }

    /// Adds every function of `other` (a crate's own functions beside the app's).
    pub fn merge(&mut self, other: Registry) -> &mut Self {
        for (path, entry) in other.functions {
            self.insert(&path, entry.function, entry.visibility);
        }
        self
    }

    fn insert(&mut self, path: &str, function: Function, visibility: Visibility) -> &mut Self {
        let path = canonicalize_path(path);
        // Registration happens at start-up from code: a clash is a programming error.
        assert!(
            !self.functions.contains_key(&path),
            "function {path} is registered twice"
        );
        self.functions.insert(
            path,
            Entry {
                function,
                visibility,
            },
        );
        self
    }

    pub(crate) fn get(&self, canonical_path: &str) -> Option<&Entry> {
        self.functions.get(canonical_path)
    }

    /// Registered paths with their kind and visibility, sorted (for docs and `keel check`).
    pub fn list(&self) -> Vec<(String, FunctionKind, Visibility)> {
        let mut all: Vec<_> = self
            .functions
            .iter()
            .map(|(path, e)| (path.clone(), e.function.kind(), e.visibility))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}
