//! `users:viewer`: who the caller is, for a client's header and navigation: the token's name
//! and email, and whether the caller holds the `admin` role (which the client cannot work
//! out for itself: roles also come from the stored record and `KEEL_ADMIN_USER_IDS`).

use keel_functions::{FnResult, NoArgs, QueryCtx, Registry, TS};
use serde::Serialize;

pub(crate) fn register(registry: &mut Registry) {
    registry.query("users:viewer", viewer);
}

#[derive(Serialize, TS)]
#[serde(rename_all = "camelCase")]
struct Viewer {
    subject: String,
    name: Option<String>,
    email: Option<String>,
    is_admin: bool,
}

/// The caller, or `null` when signed out (not an error: a page asks before it knows).
async fn viewer(ctx: QueryCtx, _: NoArgs) -> FnResult<Option<Viewer>> {
    let Some(identity) = ctx.auth.identity() else {
        return Ok(None);
    };
    let is_admin = ctx.auth.has_role(&ctx.db, "admin").await?;
    Ok(Some(Viewer {
        subject: identity.subject.clone(),
        name: identity.name.clone(),
        email: identity.email.clone(),
        is_admin,
    }))
}
