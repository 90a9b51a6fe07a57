//! Functions by canonical path. Each entry erases its argument and result types behind a boxed
//! handler that decodes arguments and encodes the result.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use keel_store::TsType;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use ts_rs::TS;

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

    /// The kind as a metrics label: `query`, `mutation`, `action`.
    pub fn label(self) -> &'static str {
        match self {
            FunctionKind::Query => "query",
            FunctionKind::Mutation => "mutation",
            FunctionKind::Action => "action",
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
    /// The TypeScript of its arguments and result, for `keel codegen`.
    pub types: fn() -> FunctionTypes,
}

/// A function's arguments (written out, as a client passes them) and result in TypeScript.
#[derive(Clone, Debug)]
pub struct FunctionTypes {
    pub args: TsType,
    pub returns: TsType,
}

impl FunctionTypes {
    /// An internal function's: `any` both ways (codegen leaves internal functions out).
    fn untyped() -> Self {
        let any = || TsType {
            expr: "any".to_string(),
            declarations: Default::default(),
        };
        FunctionTypes {
            args: any(),
            returns: any(),
        }
    }
}

fn types_of<A: TS + 'static, R: TS + 'static>() -> FunctionTypes {
    FunctionTypes {
        args: TsType::inline::<A>(),
        returns: TsType::named::<R>(),
    }
}

/// One registered function as `keel codegen` sees it.
#[derive(Clone, Debug)]
pub struct FunctionSignature {
    pub path: String,
    pub kind: FunctionKind,
    pub visibility: Visibility,
    pub types: FunctionTypes,
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
    ($(#[$doc:meta])* $name:ident, $variant:ident, $ctx:ty, $make:ident) => {
        $(#[$doc])*
        ///
        /// `A` and `R` derive `TS` (ts-rs) beside serde, so `keel codegen` types the function
        /// for clients.
        pub fn $name<A, R, F, Fut>(&mut self, path: &str, f: F) -> &mut Self
        where
            A: DeserializeOwned + TS + Send + 'static,
            R: Serialize + TS + 'static,
            F: Fn($ctx, A) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = FnResult<R>> + Send + 'static,
        {
            let entry = Entry {
                function: Function::$variant($make(f)),
                visibility: Visibility::Public,
                types: types_of::<A, R>,
            };
            self.insert(path, entry)
        }
    };
    ($(#[$doc:meta])* internal $name:ident, $variant:ident, $ctx:ty, $make:ident) => {
        $(#[$doc])*
        ///
        /// Clients never see it, so its types need no TypeScript.
        pub fn $name<A, R, F, Fut>(&mut self, path: &str, f: F) -> &mut Self
        where
            A: DeserializeOwned + Send + 'static,
            R: Serialize,
            F: Fn($ctx, A) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = FnResult<R>> + Send + 'static,
        {
            let entry = Entry {
                function: Function::$variant($make(f)),
                visibility: Visibility::Internal,
                types: FunctionTypes::untyped,
            };
            self.insert(path, entry)
        }
    };
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    register!(/// A public query: reads one snapshot, callable by clients.
        query, Query, QueryCtx, handler);
    register!(/// A query only other server code may run.
        internal internal_query, Query, QueryCtx, handler);
    register!(/// A public mutation: one atomic transaction, callable by clients.
        mutation, Mutation, MutationCtx, prepare);
    register!(/// A mutation only other server code may run.
        internal internal_mutation, Mutation, MutationCtx, prepare);
    register!(/// A public action: may call other functions and the outside world.
        action, Action, ActionCtx, handler);
    register!(/// An action only other server code may run.
        internal internal_action, Action, ActionCtx, handler);

    /// Registers `alias` as a second path for an already registered function.
    pub fn alias(&mut self, alias: &str, path: &str) -> &mut Self {
        let entry = self
            .functions
            .get(&canonicalize_path(path))
            .unwrap_or_else(|| panic!("alias {alias}: no function registered at {path}"))
            .clone();
        self.insert(alias, entry)
    }

    /// Adds every function of `other` (a crate's own functions beside the app's).
    pub fn merge(&mut self, other: Registry) -> &mut Self {
        for (path, entry) in other.functions {
            self.insert(&path, entry);
        }
        self
    }

    fn insert(&mut self, path: &str, entry: Entry) -> &mut Self {
        let path = canonicalize_path(path);
        // Registration happens at start-up from code: a clash is a programming error.
        assert!(
            !self.functions.contains_key(&path),
            "function {path} is registered twice"
        );
        self.functions.insert(path, entry);
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

    /// Every function with its TypeScript types, sorted by path.
    pub fn signatures(&self) -> Vec<FunctionSignature> {
        let mut all: Vec<_> = self
            .functions
            .iter()
            .map(|(path, e)| FunctionSignature {
                path: path.clone(),
                kind: e.function.kind(),
                visibility: e.visibility,
                types: (e.types)(),
            })
            .collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        all
    }
}
