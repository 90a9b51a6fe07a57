//! Organizations and memberships, as synced from Clerk. Members of an organization (and
//! admins) may read it and its member list; everyone else gets `FORBIDDEN`.

use std::sync::Arc;

use keel_clerk_api::{ClerkApi, ClerkApiError, OrganizationData};
use keel_functions::{
    ActionCtx, Doc, Document, FnError, FnResult, MutationCtx, NoArgs, Order, PaginationOpts,
    PaginationResult, QueryCtx, Reader, Registry, TS, UserIdentity, authenticated, typescript,
    with_role,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::documents::OrganizationDoc;
use crate::org_roles::{OrgScoped, with_org_role};
use crate::users::find_by_clerk_id;

pub(crate) fn register(registry: &mut Registry) {
    registry
        .action("organizations:update", with_org_role("org:admin", update))
        .internal_mutation("organizations:applyFromClerk", apply_from_clerk)
        .query("organizations:list", with_role("admin", list))
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

/// An organization with the caller's role in it: the document's fields plus `role`.
#[derive(Serialize)]
#[serde(transparent)]
struct MyOrganization(Json);

typescript!(MyOrganization => r#"Doc<"organizations"> & { role: string | null }"#);

/// The caller's organizations, each with the caller's role.
async fn list_mine(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    _: NoArgs,
) -> FnResult<Vec<MyOrganization>> {
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
            organizations.push(MyOrganization(entry));
        }
    }
    Ok(organizations)
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OrgArgs {
    clerk_org_id: String,
}

async fn get(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    args: OrgArgs,
) -> FnResult<Doc<OrganizationDoc>> {
    require_member_or_admin(&ctx, &identity, &args.clerk_org_id).await?;
    find_org(&ctx.db, &args.clerk_org_id)
        .await?
        .map(Doc::new)
        .ok_or_else(|| FnError::not_found(format!("Organization {} not found", args.clerk_org_id)))
}

/// One member of an organization: the membership and the member's public profile (from
/// `users`; `null` fields while the user's own webhook has not arrived).
#[derive(Serialize, Deserialize, Debug, PartialEq, TS)]
#[serde(rename_all = "camelCase")]
pub struct OrgMember {
    pub clerk_user_id: String,
    /// `org:admin`, `org:member`, or a custom role.
    pub role: Option<String>,
    #[ts(type = "Array<string> | null")]
    pub permissions: Json,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub image_url: Option<String>,
}

/// The organization's members (members of it and admins may read them).
async fn members(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    args: OrgArgs,
) -> FnResult<Vec<OrgMember>> {
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
        let text = |doc: Option<&Document>, field: &str| {
            doc.and_then(|d| d.get_str(field)).map(str::to_string)
        };
        members.push(OrgMember {
            role: text(Some(&m), "role"),
            permissions: m.get("permissions").cloned().unwrap_or(Json::Null),
            first_name: text(user.as_ref(), "firstName"),
            last_name: text(user.as_ref(), "lastName"),
            email: text(user.as_ref(), "email"),
            image_url: text(user.as_ref(), "imageUrl"),
            clerk_user_id: user_id,
        });
    }
    Ok(members)
}

/// `organizations:list` arguments.
#[derive(Deserialize, Serialize, Debug, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListOrganizationsArgs {
    /// Also organizations deleted in Clerk (kept inactive here).
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub include_deleted: bool,
    pub pagination_opts: PaginationOpts,
}

/// Admins: organizations newest first (by Clerk's `createdAt`), in Convex's page shape.
async fn list(
    ctx: QueryCtx,
    _: Arc<UserIdentity>,
    args: ListOrganizationsArgs,
) -> FnResult<PaginationResult<Doc<OrganizationDoc>>> {
    let states: &[bool] = if args.include_deleted {
        &[true, false]
    } else {
        &[true]
    };
    let mut union = ctx.db.union();
    for &active in states {
        union = union.range("organizations", "by_active_created", move |r| {
            r.eq("isActive", active)
        });
    }
    Ok(union
        .order(Order::Desc)
        .paginate(args.pagination_opts)
        .await?
        .map(Doc::new))
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UpdateArgs {
    clerk_org_id: String,
    name: String,
}

impl OrgScoped for UpdateArgs {
    fn clerk_org_id(&self) -> &str {
        &self.clerk_org_id
    }
}

/// Renames the organization in Clerk (the source of truth) through the Backend API, then
/// applies Clerk's answer here at once; the `organization.updated` webhook that follows
/// finds it already applied.
/// What `organizations:update` returns: the organization as Clerk now has it.
#[derive(Serialize, TS)]
#[serde(rename_all = "camelCase")]
struct UpdatedOrganization {
    clerk_org_id: String,
    name: String,
    slug: Option<String>,
}

async fn update(
    ctx: ActionCtx,
    _: Arc<UserIdentity>,
    args: UpdateArgs,
) -> FnResult<UpdatedOrganization> {
    let name = args.name.trim();
    if name.is_empty() || name.chars().count() > 256 {
        return Err(FnError::invalid_argument(
            "`name` must be 1 to 256 characters",
        ));
    }
    let api = ctx
        .extension::<ClerkApi>()
        .ok_or_else(|| FnError::internal("no Clerk Backend API configured (CLERK_SECRET_KEY)"))?;
    let org = api
        .update_organization(&args.clerk_org_id, name)
        .await
        .map_err(|err| match err {
            ClerkApiError::NotFound => {
                FnError::not_found(format!("Organization {} not found", args.clerk_org_id))
            }
            other => FnError::internal(format!("Clerk Backend API: {other}")),
        })?;
    let org_json = serde_json::to_value(&org).map_err(FnError::internal)?;
    ctx.run_mutation::<Json>(
        "organizations:applyFromClerk",
        json!({ "organization": org_json.to_string() }),
    )
    .await?;
    Ok(UpdatedOrganization {
        clerk_org_id: org.id,
        name: org.name,
        slug: org.slug,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyArgs {
    /// OrganizationJSON as Clerk returned it.
    organization: String,
}

async fn apply_from_clerk(ctx: MutationCtx, args: ApplyArgs) -> FnResult<Json> {
    let org: OrganizationData = serde_json::from_str(&args.organization)
        .map_err(|e| FnError::invalid_argument(e.to_string()))?;
    let outcome = crate::clerk_sync::upsert_organization(&ctx.db, &org).await?;
    Ok(json!({ "status": outcome.as_str() }))
}
