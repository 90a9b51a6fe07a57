use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::executor::{Call, Caller, Executor};
use crate::{Auth, FnError, FnResult, FunctionKind, FunctionLog};
use keel_store::{Reader, Writer};

/// What a query runs with: the caller and a read-only snapshot.
#[derive(Clone)]
pub struct QueryCtx {
    pub auth: Auth,
    pub db: Reader,
    /// Lines for the caller's console and Keel's log (see [`FunctionLog`]).
    pub log: FunctionLog,
}

/// What a mutation runs with: the caller and one serializable transaction, committed when the
/// mutation returns `Ok` and rolled back otherwise.
#[derive(Clone)]
pub struct MutationCtx {
    pub auth: Auth,
    pub db: Writer,
    /// Lines for the caller's console and Keel's log (see [`FunctionLog`]).
    pub log: FunctionLog,
}

/// What an action runs with: the caller and the other functions (internal ones included). An
/// action has no transaction of its own; each function it runs has one.
#[derive(Clone)]
pub struct ActionCtx {
    pub auth: Auth,
    /// Lines for the caller's console and Keel's log (see [`FunctionLog`]). The lines of the
    /// functions it runs are added to its own, within the same bounds.
    pub log: FunctionLog,
    pub(crate) executor: Executor,
}

impl ActionCtx {
    /// A service the server provides to actions, by type (`None` when not configured).
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<std::sync::Arc<T>> {
        self.executor.extension()
    }

    pub async fn run_query<R: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> FnResult<R> {
        self.run(FunctionKind::Query, path, args).await
    }

    pub async fn run_mutation<R: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> FnResult<R> {
        self.run(FunctionKind::Mutation, path, args).await
    }

    pub async fn run_action<R: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> FnResult<R> {
        self.run(FunctionKind::Action, path, args).await
    }

    async fn run<R: DeserializeOwned>(
        &self,
        kind: FunctionKind,
        path: &str,
        args: impl Serialize,
    ) -> FnResult<R> {
        let args: Json = serde_json::to_value(args).map_err(FnError::internal)?;
        let executed = Box::pin(self.executor.execute(Call {
            path: path.to_string(),
            kind: Some(kind),
            args,
            identity: self.auth.identity().cloned(),
            caller: Caller::Server,
        }))
        .await;
        self.log.append(executed.log_lines);
        serde_json::from_value(executed.result?.value).map_err(FnError::internal)
    }
}
