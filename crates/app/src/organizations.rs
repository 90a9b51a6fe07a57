//! Organizations and memberships, as synced from Clerk. Members of an organization (and
//! admins) may read it and its member list; everyone else gets `FORBIDDEN`.

use std::sync::Arc;

use keel_functions::{
    Document, FnError, FnResult, NoArgs, QueryCtx, Reader, Registry, UserIdentity, authenticated,
};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::users::find_by_clerk_id;

pub(crate) fn register(registry: &mut Registry) {
    registry
        .query("organizations:listMine", authenticated(list_mine))
        .query("organizations:get", authenticated(get))
        .query("organizations:members", authenticated(members));
}

pub(crate) async fn find_org(db: &Reader, clerk_org_id: &str) -> FnResult<Option<Document>> {
    Ok(db
        .query("organizations")
        .with_index("by_clerk_org_id", |r| r.eq("clerkOrgId", clerk_org_id))
        .first()
        .await?
        .filter(|org| org.get("isActive") != Some(&Json::Bool(false))))
}

pub(crate) async fn membership(
    db: &Reader,
    clerk_user_id: &str,
    clerk_org_id: &str,
) -> FnResult<Option<Document>> {
    Ok(db
        .query("memberships")
        .with_index("by_user", |r| {
            r.eq("clerkUserId", clerk_user_id)
                .eq("clerkOrgId", clerk_org_id)
        })
        .first()
        .await?)
}

/// The caller's role in an organization: from the token's active-organization claim when it
/// names this organization, else from the synced membership.
pub(crate) async fn org_role(
    db: &Reader,
    identity: &UserIdentity,
    clerk_org_id: &str,
) -> FnResult<Option<String>> {
    if let Some(org) = identity.org.as_ref().filter(|o| o.id == clerk_org_id) {
        return Ok(Some(org.role.clone()));
    }
    Ok(membership(db, &identity.subject, clerk_org_id)
        .await?
        .and_then(|m| m.get_str("role").map(str::to_string)))
}

/// Members of the organization and admins pass; others get `FORBIDDEN`.
async fn require_member_or_admin(
    ctx: &QueryCtx,
    identity: &UserIdentity,
    clerk_org_id: &str,
) -> FnResult<()> {
    if org_role(&ctx.db, identity, clerk_org_id).await?.is_some()
        || ctx.auth.has_role(&ctx.db, "admin").await?
    {
        Ok(())
    } else {
        Err(FnError::forbidden())
    }
}

/// The caller's organizations, each with the caller's role.
async fn list_mine(ctx: QueryCtx, identity: Arc<UserIdentity>, _: NoArgs) -> FnResult<Vec<Json>> {
    let memberships = ctx
        .db
        .query("memberships")
        .with_index("by_user", |r| {
            r.eq("clerkUserId", identity.subject.as_str())
        })
        .collect()
        .await?;
    let mut organizations = Vec::new();
    for m in memberships {
        let Some(org_id) = m.get_str("clerkOrgId") else {
            continue;
        };
        if let Some(org) = find_org(&ctx.db, org_id).await? {
            let mut entry = org.to_json();
            entry["role"] = m.get("role").cloned().unwrap_or(Json::Null);
            organizations.push(entry);
        }
    }
    Ok(organizations)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OrgArgs {
    clerk_org_id: String,
}

async fn get(ctx: QueryCtx, identity: Arc<UserIdentity>, args: OrgArgs) -> FnResult<Document> {
    require_member_or_admin(&ctx, &identity, &args.clerk_org_id).await?;
    find_org(&ctx.db, &args.clerk_org_id)
        .await?
        .ok_or_else(|| FnError::not_found(format!("Organization {} not found", args.clerk_org_id)))
}

/// The organization's members: membership with the member's public profile.
async fn members(ctx: QueryCtx, identity: Arc<UserIdentity>, args: OrgArgs) -> FnResult<Vec<Json>> {
    require_member_or_admin(&ctx, &identity, &args.clerk_org_id).await?;
    let memberships = ctx
        .db
        .query("memberships")
        .with_index("by_org", |r| r.eq("clerkOrgId", args.clerk_org_id.as_str()))
        .collect()
        .await?;
    let mut members = Vec::new();
    for m in memberships {
        let user_id = m.get_str("clerkUserId").unwrap_or_default().to_string();
        let user = find_by_clerk_id(&ctx.db, &user_id).await?;
        let profile = |field: &str| {
            user.as_ref()
                .and_then(|u| u.get(field).cloned())
                .unwrap_or(Json::Null)
        };
        members.push(json!({
            "clerkUserId": user_id,
            "role": m.get("role"),
            "permissions": m.get("permissions"),
            "firstName": profile("firstName"),
            "lastName": profile("lastName"),
            "email": profile("email"),
            "imageUrl": profile("imageUrl"),
        }));
    }
    Ok(members)
}
