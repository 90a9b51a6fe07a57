//! `users`: one record per Clerk user. Created on first login from the verified token
//! (`users:store`), and (with the Clerk sync) kept in step by webhooks and backfill.

use std::sync::Arc;

use keel_functions::{
    Doc, Document, FnError, FnResult, Id, MutationCtx, NoArgs, Order, PaginationOpts,
    PaginationResult, QueryCtx, Reader, Registry, TS, UserIdentity, authenticated, with_role,
};
use keel_store::BY_CREATION_TIME;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::documents::UserDoc;
use crate::profile_hints::{ProfileHints, fill_names};
use crate::user_search::{
    self, ACTIVE, BY_STATUS, BY_STATUS_ROLE, DELETED, SEARCHED, insert_user, normalize, patch_user,
};

pub(crate) fn register(registry: &mut Registry) {
    registry
        .query("users:getCurrentUser", get_current_user)
        .query("users:getMyProfile", authenticated(get_my_profile))
        .query("users:getByClerkId", authenticated(get_by_clerk_id))
        .query("users:getByEmail", authenticated(get_by_email))
        .query("users:list", with_role("admin", list))
        .internal_mutation("users:backfillSearchFields", user_search::backfill)
        .mutation("users:store", authenticated(store))
        .mutation("users:syncUserProfile", authenticated(sync_user_profile));
}

pub(crate) async fn find_by_clerk_id(
    db: &Reader,
    clerk_user_id: &str,
) -> FnResult<Option<Document>> {
    Ok(db
        .query("users")
        .with_index("by_clerk_user_id", |r| r.eq("clerkUserId", clerk_user_id))
        .first()
        .await?)
}

async fn is_admin(ctx: &QueryCtx) -> FnResult<bool> {
    ctx.auth.has_role(&ctx.db, "admin").await
}

/// A user record as functions return it.
type UserRecord = Option<Doc<UserDoc>>;

async fn find_user(db: &Reader, clerk_user_id: &str) -> FnResult<UserRecord> {
    Ok(find_by_clerk_id(db, clerk_user_id).await?.map(Doc::new))
}

/// The caller's record; `null` when signed out or not stored yet.
async fn get_current_user(ctx: QueryCtx, _: NoArgs) -> FnResult<UserRecord> {
    match ctx.auth.identity() {
        Some(identity) => find_user(&ctx.db, &identity.subject).await,
        None => Ok(None),
    }
}

/// Like `getCurrentUser`, but signed-out callers get `UNAUTHENTICATED`.
async fn get_my_profile(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    _: NoArgs,
) -> FnResult<UserRecord> {
    find_user(&ctx.db, &identity.subject).await
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ByClerkId {
    clerk_user_id: String,
}

/// Any user's record for admins; otherwise only the caller's own.
async fn get_by_clerk_id(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    args: ByClerkId,
) -> FnResult<UserRecord> {
    if args.clerk_user_id != identity.subject && !is_admin(&ctx).await? {
        return Err(FnError::forbidden());
    }
    find_user(&ctx.db, &args.clerk_user_id).await
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields)]
struct ByEmail {
    email: String,
}

/// Any user's record for admins; otherwise only the caller's own. A non-admin learns nothing
/// about other addresses: not even whether they exist.
async fn get_by_email(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    args: ByEmail,
) -> FnResult<UserRecord> {
    let email = args.email.trim().to_lowercase();
    let found = ctx
        .db
        .query("users")
        .with_index("by_email", |r| r.eq("email", email.as_str()))
        .first()
        .await?;
    let own = match &found {
        Some(user) => user.get_str("clerkUserId") == Some(identity.subject.as_str()),
        None => identity.email.as_deref().map(str::to_lowercase) == Some(email),
    };
    if own || is_admin(&ctx).await? {
        Ok(found.map(Doc::new))
    } else {
        Err(FnError::forbidden())
    }
}

/// First-login provisioning, as Convex's guide calls it (no arguments): see [`provision`].
async fn store(ctx: MutationCtx, identity: Arc<UserIdentity>, _: NoArgs) -> FnResult<Id<UserDoc>> {
    provision(ctx, identity, ProfileHints::default())
        .await
        .map(Id::from)
}

/// The product brief's call: the same provisioning, taking the profile the browser shows
/// (`profile_hints.rs` says which parts are used).
async fn sync_user_profile(
    ctx: MutationCtx,
    identity: Arc<UserIdentity>,
    hints: ProfileHints,
) -> FnResult<Id<UserDoc>> {
    provision(ctx, identity, hints).await.map(Id::from)
}

/// Creates the caller's record from the verified token's claims, or refreshes one that
/// first-login created. A record that came from Clerk itself (webhook or backfill) is newer
/// than any token, so only its missing fields are filled in, and client hints not at all.
/// Identity (the subject, the email) is never taken from the client.
async fn provision(
    ctx: MutationCtx,
    identity: Arc<UserIdentity>,
    hints: ProfileHints,
) -> FnResult<String> {
    let names = hints.names()?;
    let claims = profile_from_claims(&identity);
    let now = ctx.db.now_millis();
    let existing = find_by_clerk_id(&ctx.db, &identity.subject).await?;
    let Some(user) = existing else {
        let mut record = claims;
        fill_names(names, None, &mut record);
        record.insert("clerkUserId".into(), json!(identity.subject));
        record.insert("isActive".into(), json!(true));
        record.insert("deletedAt".into(), Json::Null);
        record.insert("lastSignInAt".into(), json!(now));
        record.insert("createdAt".into(), json!(now));
        record.entry("updatedAt").or_insert(json!(now));
        record.insert("source".into(), json!("first-login"));
        let id = insert_user(&ctx.db, record).await?;
        return Ok(id.encode());
    };
    let from_clerk = user.get_str("source") != Some("first-login");
    let mut changes: Map<String, Json> = claims
        .into_iter()
        .filter(|(field, value)| {
            let current = user.get(field).unwrap_or(&Json::Null);
            if from_clerk {
                current.is_null() && !value.is_null()
            } else {
                !value.is_null() && current != value
            }
        })
        .collect();
    if !from_clerk {
        fill_names(names, Some(user.fields()), &mut changes);
    }
    if !changes.is_empty() {
        patch_user(&ctx.db, &user, changes).await?;
    }
    Ok(user.id().encode())
}

/// The profile fields a token can carry (Clerk's `convex` template and session tokens
/// customized with `metadata`).
fn profile_from_claims(identity: &UserIdentity) -> Map<String, Json> {
    let metadata = identity.other_claims.get("metadata").cloned();
    let role = metadata
        .as_ref()
        .and_then(|m| m.get("role"))
        .cloned()
        .unwrap_or(Json::Null);
    let (first_name, last_name) = match (&identity.given_name, &identity.family_name) {
        (None, None) => split_name(identity.name.as_deref()),
        (given, family) => (given.clone(), family.clone()),
    };
    let mut record = Map::new();
    let mut set = |field: &str, value: Json| {
        record.insert(field.to_string(), value);
    };
    set(
        "email",
        json!(identity.email.as_ref().map(|e| e.trim().to_lowercase())),
    );
    set("firstName", json!(first_name));
    set("lastName", json!(last_name));
    set("username", json!(identity.nickname));
    set("imageUrl", json!(identity.picture_url));
    set("emailVerified", json!(identity.email_verified));
    set("publicMetadata", metadata.unwrap_or(Json::Null));
    set("role", role);
    record
}

fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => match name.split_once(' ') {
            Some((first, last)) => (Some(first.to_string()), Some(last.trim().to_string())),
            None => (Some(name.to_string()), None),
        },
        None => (None, None),
    }
}

/// Which users the admin list shows.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    #[default]
    Active,
    Deleted,
    All,
}

impl UserStatus {
    /// The `status` values this filter covers.
    fn values(self) -> &'static [&'static str] {
        match self {
            UserStatus::Active => &[ACTIVE],
            UserStatus::Deleted => &[DELETED],
            UserStatus::All => &[ACTIVE, DELETED],
        }
    }
}

/// `users:list` arguments.
#[derive(Deserialize, Serialize, Debug, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[ts(optional_fields = nullable)]
pub struct ListUsersArgs {
    /// A prefix of the email, the full name ("ada lo") or the last name, in any case.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    #[ts(as = "Option<UserStatus>", optional)]
    pub status: UserStatus,
    /// Only users whose `role` is this.
    #[serde(default)]
    pub role: Option<String>,
    pub pagination_opts: PaginationOpts,
}

/// How many index entries one `users:list` page may read beyond four per item: a role filter
/// on a search can discard many entries, and the page then comes back short (`isDone: false`)
/// rather than reading on. Without a role filter a search discards at most two entries per
/// user kept (the same user found by another field).
const LIST_EXTRA_READS: usize = 500;

/// Admins: users in Convex's page shape, by index ranges only (see `user_search.rs`):
/// - without `search`, newest first, filtered by status and role;
/// - with `search`, users whose email, full name or last name starts with it (any case), in
///   the order of the matching text, each user once.
async fn list(
    ctx: QueryCtx,
    _: Arc<UserIdentity>,
    args: ListUsersArgs,
) -> FnResult<PaginationResult<Doc<UserDoc>>> {
    let search = args
        .search
        .as_deref()
        .map(normalize)
        .filter(|s| !s.is_empty());
    let statuses = args.status.values();
    let budget = args
        .pagination_opts
        .num_items
        .saturating_mul(4)
        .saturating_add(LIST_EXTRA_READS);
    let mut union = ctx.db.union().max_reads(budget);
    match (search, args.role) {
        (None, None) if args.status == UserStatus::All => {
            union = union.range("users", BY_CREATION_TIME, |r| r);
        }
        (None, None) => {
            for &status in statuses {
                union = union.range("users", BY_STATUS, move |r| r.eq("status", status));
            }
        }
        (None, Some(role)) => {
            for &status in statuses {
                let role = role.clone();
                union = union.range("users", BY_STATUS_ROLE, move |r| {
                    r.eq("status", status).eq("role", role)
                });
            }
        }
        (Some(search), role) => {
            for &status in statuses {
                for (index, field) in SEARCHED {
                    let prefix = search.clone();
                    union = union.range("users", index, move |r| {
                        r.eq("status", status).prefix(field, prefix)
                    });
                }
            }
            if let Some(role) = role {
                union = union.filter(move |user| user.get_str("role") == Some(role.as_str()));
            }
            return Ok(union.paginate(args.pagination_opts).await?.map(Doc::new));
        }
    }
    Ok(union
        .order(Order::Desc)
        .paginate(args.pagination_opts)
        .await?
        .map(Doc::new))
}
