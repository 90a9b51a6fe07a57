//! Functions: the registry of queries, mutations and actions by Convex path, the contexts they
//! run with (`ctx.db`, `ctx.auth`), argument decoding, authorization wrappers, and the error
//! vocabulary every transport shares.

mod args;
mod auth;
mod committer;
mod context;
mod error;
mod executor;
mod log;
mod mutation_log;
mod outcome;
mod path;
mod registry;
mod wrappers;

pub use args::{DeferredArgs, NoArgs};
pub use auth::{Auth, NoRoles, RoleResolver};
pub use context::{ActionCtx, MutationCtx, QueryCtx};
pub use error::{ErrorCode, FnError, FnResult};
pub use executor::{Call, Caller, Executed, Executor, Extensions, Outcome, QueryRun};
pub use log::{
    FunctionLog, LogLevel, LogLines, MAX_LOG_BYTES, MAX_LOG_LINE_BYTES, MAX_LOG_LINES,
    TRUNCATED_SUFFIX,
};
pub use mutation_log::system_schema;
pub use outcome::{ClientError, ClientOutcome};
pub use path::canonicalize_path;
pub use registry::{FunctionKind, FunctionSignature, FunctionTypes, Registry, Visibility};
pub use wrappers::{HasAuth, authenticated, with_role};

pub use keel_auth::UserIdentity;
pub use keel_store::{
    Database, Doc, Document, Id, Order, PaginationOpts, PaginationResult, Reader, TableDocument,
    Writer,
};
/// Derive `TS` beside serde on argument and result types.
pub use ts_rs::{self, TS};

/// Gives a Rust type a TypeScript type written by hand, for a value whose shape serde derives
/// cannot describe (a flattened document, a union of tables).
#[macro_export]
macro_rules! typescript {
    ($ty:ty => $ts:expr) => {
        impl $crate::ts_rs::TS for $ty {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn name(_: &$crate::ts_rs::Config) -> String {
                String::from($ts)
            }
            fn inline(cfg: &$crate::ts_rs::Config) -> String {
                <Self as $crate::ts_rs::TS>::name(cfg)
            }
        }
    };
}
pub use keel_values::DocumentId;
