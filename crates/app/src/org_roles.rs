//! `with_org_role("org:admin", f)`: runs an action only for callers holding that role in the
//! organization its arguments name. The role comes from the token's active-organization
//! claim when it names that organization, else from the synced membership.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use keel_functions::{
    ActionCtx, FnError, FnResult, QueryCtx, Registry, UserIdentity, authenticated,
};
use serde::Deserialize;
use serde_json::json;

use crate::organizations::org_role;

/// Arguments that name the organization they act on.
pub trait OrgScoped {
    fn clerk_org_id(&self) -> &str;
}

pub(crate) fn register(registry: &mut Registry) {
    registry.internal_query("organizations:roleOf", authenticated(role_of));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RoleOfArgs {
    clerk_org_id: String,
}

async fn role_of(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    args: RoleOfArgs,
) -> FnResult<Option<String>> {
    org_role(&ctx.db, &identity, &args.clerk_org_id).await
}

pub fn with_org_role<A, R, F, Fut>(
    role: &'static str,
    f: F,
) -> impl Fn(ActionCtx, A) -> BoxFuture<'static, FnResult<R>> + Send + Sync + 'static
where
    A: OrgScoped + Send + 'static,
    F: Fn(ActionCtx, Arc<UserIdentity>, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = FnResult<R>> + Send + 'static,
{
    let f = Arc::new(f);
    move |ctx: ActionCtx, args: A| {
        let f = Arc::clone(&f);
        Box::pin(async move {
            let identity = Arc::clone(ctx.auth.require()?);
            let held: Option<String> = ctx
                .run_query(
                    "organizations:roleOf",
                    json!({ "clerkOrgId": args.clerk_org_id() }),
                )
                .await?;
            if held.as_deref() != Some(role) {
                return Err(FnError::forbidden());
            }
            f(ctx, identity, args).await
        })
    }
}
