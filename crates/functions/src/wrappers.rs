//! Authorization as part of a function's signature: `authenticated(f)` runs `f` only for a
//! signed-in caller and hands it the identity; `with_role("admin", f)` also requires the role.
//! A function written to take an identity cannot be registered without one of them.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use keel_auth::UserIdentity;
use keel_store::Reader;

use crate::{Auth, FnError, FnResult, MutationCtx, QueryCtx};

/// A context that carries a caller and can read (queries and mutations).
pub trait HasAuth: Clone + Send + 'static {
    fn auth(&self) -> &Auth;
    fn reader(&self) -> &Reader;
}

impl HasAuth for QueryCtx {
    fn auth(&self) -> &Auth {
        &self.auth
    }
    fn reader(&self) -> &Reader {
        &self.db
    }
}

impl HasAuth for MutationCtx {
    fn auth(&self) -> &Auth {
        &self.auth
    }
    fn reader(&self) -> &Reader {
        &self.db
    }
}

/// Runs `f` with the caller's identity; `UNAUTHENTICATED` when signed out.
pub fn authenticated<C, A, R, F, Fut>(
    f: F,
) -> impl Fn(C, A) -> BoxFuture<'static, FnResult<R>> + Send + Sync + 'static
where
    C: HasAuth,
    A: Send + 'static,
    F: Fn(C, Arc<UserIdentity>, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FnResult<R>> + Send + 'static,
{
    let f = Arc::new(f);
    move |ctx: C, args: A| {
        let f = Arc::clone(&f);
        Box::pin(async move {
            let identity = Arc::clone(ctx.auth().require()?);
            f(ctx, identity, args).await
        })
    }
}

/// Runs `f` only for a signed-in caller holding `role`: `UNAUTHENTICATED` when signed out,
/// `FORBIDDEN` without the role.
pub fn with_role<C, A, R, F, Fut>(
    role: &'static str,
    f: F,
) -> impl Fn(C, A) -> BoxFuture<'static, FnResult<R>> + Send + Sync + 'static
where
    C: HasAuth,
    A: Send + 'static,
    F: Fn(C, Arc<UserIdentity>, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FnResult<R>> + Send + 'static,
{
    let f = Arc::new(f);
    authenticated(move |ctx: C, identity: Arc<UserIdentity>, args: A| {
        let f = Arc::clone(&f);
        async move {
            if !ctx.auth().has_role(ctx.reader(), role).await? {
                return Err(FnError::forbidden());
            }
            f(ctx, identity, args).await
        }
    })
}
