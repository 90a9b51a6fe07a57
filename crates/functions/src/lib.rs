//! Functions: the registry of queries, mutations and actions by Convex path, the contexts they
//! run with (`ctx.db`, `ctx.auth`), argument decoding, authorization wrappers, and the error
//! vocabulary every transport shares.

mod args;
mod auth;
mod committer;
mod context;
mod error;
mod executor;
mod mutation_log;
mod path;
mod registry;
mod wrappers;

pub use args::{DeferredArgs, NoArgs};
pub use auth::{Auth, NoRoles, RoleResolver};
pub use context::{ActionCtx, MutationCtx, QueryCtx};
pub use error::{ErrorCode, FnError, FnResult};
pub use executor::{Call, Caller, Executor, Extensions, Outcome, QueryRun};
pub use mutation_log::system_schema;
pub use path::canonicalize_path;
pub use registry::{FunctionKind, Registry, Visibility};
pub use wrappers::{HasAuth, authenticated, with_role};

pub use keel_auth::UserIdentity;
pub use keel_store::{Database, Document, Order, PaginationOpts, PaginationResult, Reader, Writer};
pub use keel_values::DocumentId;
