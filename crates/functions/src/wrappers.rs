//! Authorization as part of a function's signature: `authenticated(f)` runs `f` only for a
//! signed-in caller and hands it the identity; `with_role("admin", f)` also requires the role.
//! A function written to take an identity cannot be registered without one of them. Both wrap
//! queries, mutations and actions alike.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::{ActionCtx, Auth, DeferredArgs, FnError, FnResult, MutationCtx, QueryCtx};
use futures::future::BoxFuture;
use keel_auth::UserIdentity;

/// A context that carries a caller and can check the caller's roles.
pub trait HasAuth: Clone + Send + 'static {
    fn auth(&self) -> &Auth;
    /// Whether the caller holds `role`. Queries and mutations read it from their own snapshot,
    /// so the check is part of what they read; an action, which has none, from a fresh one.
    fn holds_role(&self, role: &'static str) -> BoxFuture<'static, FnResult<bool>>;
}

impl HasAuth for QueryCtx {
    fn auth(&self) -> &Auth {
        &self.auth
    }
    fn holds_role(&self, role: &'static str) -> BoxFuture<'static, FnResult<bool>> {
        let ctx = self.clone();
        Box::pin(async move { ctx.auth.has_role(&ctx.db, role).await })
    }
}

impl HasAuth for MutationCtx {
    fn auth(&self) -> &Auth {
        &self.auth
    }
    fn holds_role(&self, role: &'static str) -> BoxFuture<'static, FnResult<bool>> {
        let ctx = self.clone();
        Box::pin(async move { ctx.auth.has_role(&ctx.db, role).await })
    }
}

impl HasAuth for ActionCtx {
    fn auth(&self) -> &Auth {
        &self.auth
    }
    fn holds_role(&self, role: &'static str) -> BoxFuture<'static, FnResult<bool>> {
        let ctx = self.clone();
        Box::pin(async move {
            let snapshot = ctx.executor.database().reader().await?;
            let held = ctx.auth.has_role(&snapshot, role).await;
            snapshot.finish().await?;
            held
        })
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
/// `FORBIDDEN` without the role. Both come before the arguments are decoded ([`DeferredArgs`]),
/// so a caller without the role gets the same answer whatever it sends; a caller with it gets
/// `INVALID_ARGUMENT` for arguments that do not decode.
pub fn with_role<C, A, R, F, Fut>(
    role: &'static str,
    f: F,
) -> impl Fn(C, DeferredArgs<A>) -> BoxFuture<'static, FnResult<R>> + Send + Sync + 'static
where
    C: HasAuth,
    A: DeserializeOwned + Send + 'static,
    F: Fn(C, Arc<UserIdentity>, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FnResult<R>> + Send + 'static,
{
    let f = Arc::new(f);
    authenticated(
        move |ctx: C, identity: Arc<UserIdentity>, args: DeferredArgs<A>| {
            let f = Arc::clone(&f);
            async move {
                if !ctx.holds_role(role).await? {
                    return Err(FnError::forbidden());
                }
                f(ctx, identity, args.decode()?).await
            }
        },
    )
}
