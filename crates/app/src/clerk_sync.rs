//! Keeping `users`, `organizations` and `memberships` in step with Clerk. Webhooks (and, later,
//! backfill) call the internal mutation `clerk:applyWebhook`, which applies an event and records
//! it in the `clerkEvents` ledger in one transaction, so:
//! - a redelivered `svix-id` changes nothing (it is found in the ledger);
//! - an event older than the stored record (by Clerk's `updated_at`) never overwrites it;
//! - a deleted object never comes back: a later create or update for it is recorded as stale.

use keel_functions::{FnError, FnResult, MutationCtx, Order, Reader, Registry, Writer};
use keel_webhooks::{
    ClerkEvent, DeletedObject, EventPayload, MembershipData, OrganizationData, UserData,
};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::user_search::{insert_user, patch_user};
use crate::users::find_by_clerk_id;

pub(crate) const LEDGER: &str = "clerkEvents";

/// Deliveries that changed nothing and are shown to admins anyway: duplicates (a `svix-id`
/// seen before) and rejected ones (refused by the endpoint). Not the ledger, so they never
/// count for deduplication or ordering; and bounded, since rejected deliveries come from
/// anyone: each outcome keeps its newest [`ISSUES_KEPT`] rows, in a ring of slots.
pub(crate) const ISSUES: &str = "clerkWebhookIssues";
/// How many rows of each outcome [`ISSUES`] keeps.
pub const ISSUES_KEPT: u64 = 1_000;

pub(crate) fn register(registry: &mut Registry) {
    registry
        .internal_mutation("clerk:applyWebhook", apply_webhook)
        .internal_mutation("clerk:recordRejected", record_rejected);
}

/// What `user.deleted` does to the user's data (`KEEL_ON_USER_DELETED`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnUserDeleted {
    /// Keep the record, inactive, with `deletedAt`.
    #[default]
    Mark,
    /// Remove the user and everything the user owns.
    Purge,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApplyArgs {
    svix_id: String,
    /// The verified body as received, parsed when the arguments are decoded: before the
    /// mutation queues for the group committer, not in its serial section.
    #[serde(rename = "body", deserialize_with = "parse_event")]
    event: ClerkEvent,
    #[serde(default)]
    on_user_deleted: OnUserDeleted,
}

fn parse_event<'de, D: serde::Deserializer<'de>>(body: D) -> Result<ClerkEvent, D::Error> {
    let body = String::deserialize(body)?;
    ClerkEvent::from_slice(body.as_bytes()).map_err(|e| serde::de::Error::custom(e.message()))
}

/// What happened to an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Older than what is stored, or about a deleted object: recorded, not applied.
    Stale,
    /// A session event for a user not known yet: the user event or a backfill brings it.
    Deferred,
    /// A type Keel does not act on: recorded so Clerk stops retrying.
    Ignored,
    /// This `svix-id` was processed before.
    Duplicate,
    /// The stored record already holds exactly this version.
    Unchanged,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Stale => "stale",
            Outcome::Deferred => "deferred",
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::Unchanged => "unchanged",
        }
    }
}

async fn apply_webhook(ctx: MutationCtx, args: ApplyArgs) -> FnResult<Json> {
    let db = &ctx.db;
    let received_at = db.now_millis();
    let seen = db
        .query(LEDGER)
        .with_index("by_svix_id", |r| r.eq("svixId", args.svix_id.as_str()))
        .first()
        .await?;
    let event = args.event;
    if seen.is_some() {
        let mut issue = Map::new();
        issue.insert("svixId".into(), json!(args.svix_id));
        issue.insert("type".into(), json!(event.event_type()));
        issue.insert("objectId".into(), json!(event.object_id()));
        issue.insert("reason".into(), json!("this svix-id was processed before"));
        record_issue(db, Outcome::Duplicate.as_str(), issue).await?;
        return Ok(json!({ "status": Outcome::Duplicate.as_str() }));
    }
    let outcome = apply(db, &event, args.on_user_deleted).await?;
    db.insert(
        LEDGER,
        json!({
            "svixId": args.svix_id,
            "type": event.event_type(),
            "objectId": event.object_id(),
            "eventTime": event.timestamp_ms as f64,
            "updatedAt": event.updated_at_ms().map(|t| t as f64),
            "receivedAt": received_at,
            "processedAt": db.now_millis(),
            "outcome": outcome.as_str(),
        }),
    )
    .await?;
    Ok(json!({ "status": outcome.as_str() }))
}

/// Writes an [`ISSUES`] row for `outcome`: into the next slot of that outcome's ring, removing
/// the row that held the slot (the oldest), so the table never holds more than
/// [`ISSUES_KEPT`] rows per outcome. The row is inserted anew (not replaced) so that its
/// `_creationTime` is its arrival and the table reads newest first by creation.
async fn record_issue(db: &Writer, outcome: &str, mut fields: Map<String, Json>) -> FnResult<()> {
    let newest = db
        .query(ISSUES)
        .with_index("by_outcome", |r| r.eq("outcome", outcome))
        .order(Order::Desc)
        .first()
        .await?;
    let seq = newest
        .and_then(|row| row.get("seq").and_then(Json::as_u64))
        .map_or(0, |seq| seq + 1);
    let slot = seq % ISSUES_KEPT;
    if let Some(oldest) = db
        .query(ISSUES)
        .with_index("by_slot", |r| r.eq("outcome", outcome).eq("slot", slot))
        .first()
        .await?
    {
        db.delete(oldest.id()).await?;
    }
    fields.insert("outcome".into(), json!(outcome));
    fields.insert("seq".into(), json!(seq));
    fields.insert("slot".into(), json!(slot));
    fields.insert("receivedAt".into(), json!(db.now_millis()));
    db.insert(ISSUES, fields).await?;
    Ok(())
}

/// `clerk:recordRejected`: what the webhook endpoint keeps of a delivery it refused. Only
/// these fields, never the body or the signature; the endpoint truncates the sender's values.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RejectedArgs {
    /// The `svix-id` header as sent (unverified), if any.
    #[serde(default)]
    svix_id: Option<String>,
    /// The event type, only when the signature checked out.
    #[serde(default, rename = "type")]
    event_type: Option<String>,
    /// Why, in Keel's own words.
    reason: String,
    /// The HTTP status it was answered with.
    status: u16,
    /// Refusals the endpoint did not record before this one (it records a few per second).
    #[serde(default)]
    unrecorded: u64,
}

/// Field lengths kept of a sender's values.
const MAX_KEPT_CHARS: usize = 128;

async fn record_rejected(ctx: MutationCtx, args: RejectedArgs) -> FnResult<Json> {
    let cut = |text: String| text.chars().take(MAX_KEPT_CHARS).collect::<String>();
    let mut issue = Map::new();
    issue.insert("svixId".into(), json!(args.svix_id.map(cut)));
    issue.insert("type".into(), json!(args.event_type.map(cut)));
    issue.insert("reason".into(), json!(cut(args.reason)));
    issue.insert("httpStatus".into(), json!(args.status));
    issue.insert("unrecordedBefore".into(), json!(args.unrecorded));
    record_issue(&ctx.db, REJECTED, issue).await?;
    Ok(json!({ "status": REJECTED }))
}

/// The outcome of a delivery the endpoint refused (never a ledger outcome).
pub(crate) const REJECTED: &str = "rejected";

async fn apply(
    db: &Writer,
    event: &ClerkEvent,
    on_user_deleted: OnUserDeleted,
) -> FnResult<Outcome> {
    match &event.payload {
        EventPayload::UserCreated(user) | EventPayload::UserUpdated(user) => {
            upsert_user(db, user, "webhook").await
        }
        EventPayload::UserDeleted(deleted) => {
            delete_user(db, deleted, event.timestamp_ms, on_user_deleted).await
        }
        EventPayload::SessionCreated(session) => {
            let Some(user) = find_by_clerk_id(db, &session.user_id).await? else {
                return Ok(Outcome::Deferred);
            };
            let signed_in = session.last_active_at.unwrap_or(session.created_at) as f64;
            if user
                .get("lastSignInAt")
                .and_then(Json::as_f64)
                .is_some_and(|t| t >= signed_in)
            {
                return Ok(Outcome::Stale);
            }
            let mut changes = Map::new();
            changes.insert("lastSignInAt".into(), json!(signed_in));
            patch_user(db, &user, changes).await?;
            Ok(Outcome::Applied)
        }
        EventPayload::SessionEnded(_)
        | EventPayload::SessionRemoved(_)
        | EventPayload::SessionRevoked(_)
        | EventPayload::SessionPending(_) => Ok(Outcome::Ignored),
        EventPayload::OrganizationCreated(org) | EventPayload::OrganizationUpdated(org) => {
            upsert_organization(db, org).await
        }
        EventPayload::OrganizationDeleted(deleted) => {
            delete_organization(db, deleted, event.timestamp_ms).await
        }
        EventPayload::OrganizationMembershipCreated(m)
        | EventPayload::OrganizationMembershipUpdated(m) => upsert_membership(db, m).await,
        EventPayload::OrganizationMembershipDeleted(m) => delete_membership(db, m).await,
        EventPayload::Other { .. } => Ok(Outcome::Ignored),
    }
}

/// Whether the ledger holds a deletion of this object: deleted objects stay deleted.
async fn was_deleted(db: &Reader, object_id: &str, deletion: &str) -> FnResult<bool> {
    Ok(db
        .query(LEDGER)
        .with_index("by_object", |r| {
            r.eq("objectId", object_id).eq("type", deletion)
        })
        .first()
        .await?
        .is_some())
}

/// Clerk's user as the `users` table stores it.
pub(crate) fn user_fields(user: &UserData) -> Map<String, Json> {
    let email = user
        .primary_email()
        .map(|e| e.email_address.trim().to_lowercase());
    let mut fields = Map::new();
    fields.insert("email".into(), json!(email));
    fields.insert("firstName".into(), json!(user.first_name));
    fields.insert("lastName".into(), json!(user.last_name));
    fields.insert("username".into(), json!(user.username));
    fields.insert("imageUrl".into(), json!(user.image_url));
    fields.insert("emailVerified".into(), json!(user.email_verified()));
    fields.insert(
        "publicMetadata".into(),
        Json::Object(user.public_metadata.clone()),
    );
    fields.insert("role".into(), json!(user.role()));
    fields.insert("createdAt".into(), json!(user.created_at as f64));
    fields.insert("updatedAt".into(), json!(user.updated_at as f64));
    fields
}

/// The record of a user Clerk told us about first (search fields aside: `insert_user` adds
/// them).
pub(crate) fn new_user_record(user: &UserData, source: &str) -> Map<String, Json> {
    let mut fields = user_fields(user);
    fields.insert("source".into(), json!(source));
    fields.insert("clerkUserId".into(), json!(user.id));
    fields.insert("isActive".into(), json!(true));
    fields.insert("deletedAt".into(), Json::Null);
    fields.insert(
        "lastSignInAt".into(),
        json!(user.last_sign_in_at.map(|t| t as f64)),
    );
    fields
}

/// Creates or refreshes a user from Clerk's data. A record that first login made from a
/// token is filled in place (one record, never two); an older event never wins.
pub(crate) async fn upsert_user(db: &Writer, user: &UserData, source: &str) -> FnResult<Outcome> {
    if was_deleted(db, &user.id, "user.deleted").await? {
        return Ok(Outcome::Stale);
    }
    let mut fields = user_fields(user);
    fields.insert("source".into(), json!(source));
    let last_sign_in = user.last_sign_in_at.map(|t| t as f64);
    match find_by_clerk_id(db, &user.id).await? {
        None => {
            insert_user(db, new_user_record(user, source)).await?;
            Ok(Outcome::Applied)
        }
        Some(existing) => {
            if existing.get("deletedAt").is_some_and(|d| !d.is_null()) {
                return Ok(Outcome::Stale);
            }
            let from_token = existing.get_str("source") == Some("first-login");
            let stored_updated = existing
                .get("updatedAt")
                .and_then(Json::as_f64)
                .unwrap_or(f64::MIN);
            if !from_token && (user.updated_at as f64) < stored_updated {
                return Ok(Outcome::Stale);
            }
            if !from_token && (user.updated_at as f64) == stored_updated && source == "backfill" {
                return Ok(Outcome::Unchanged);
            }
            let stored_sign_in = existing.get("lastSignInAt").and_then(Json::as_f64);
            let newest_sign_in = match (stored_sign_in, last_sign_in) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            fields.insert("lastSignInAt".into(), json!(newest_sign_in));
            patch_user(db, &existing, fields).await?;
            Ok(Outcome::Applied)
        }
    }
}

async fn delete_user(
    db: &Writer,
    deleted: &DeletedObject,
    at: i64,
    policy: OnUserDeleted,
) -> FnResult<Outcome> {
    // `ClerkEvent::from_slice` refuses deletions without an id; this only guards other callers.
    let Some(id) = deleted.id.as_deref() else {
        return Err(FnError::invalid_argument("user.deleted without data.id"));
    };
    let existing = find_by_clerk_id(db, id).await?;
    match (policy, existing) {
        (OnUserDeleted::Mark, Some(user)) => {
            let mut changes = Map::new();
            changes.insert("isActive".into(), json!(false));
            changes.insert("deletedAt".into(), json!(at as f64));
            patch_user(db, &user, changes).await?;
        }
        (OnUserDeleted::Purge, Some(user)) => {
            for chat in db
                .query("chats")
                .with_index("by_user_created", |r| r.eq("userId", id))
                .collect()
                .await?
            {
                db.delete(chat.id()).await?;
            }
            for membership in db
                .query("memberships")
                .with_index("by_user", |r| r.eq("clerkUserId", id))
                .collect()
                .await?
            {
                db.delete(membership.id()).await?;
            }
            db.delete(user.id()).await?;
        }
        // Unknown user: the ledger entry alone keeps a late user.created from creating it.
        (_, None) => {}
    }
    Ok(Outcome::Applied)
}

async fn find_one(
    db: &Reader,
    table: &str,
    index: &str,
    field: &str,
    value: &str,
) -> FnResult<Option<keel_functions::Document>> {
    Ok(db
        .query(table)
        .with_index(index, |r| r.eq(field, value))
        .first()
        .await?)
}

pub(crate) async fn upsert_organization(db: &Writer, org: &OrganizationData) -> FnResult<Outcome> {
    if was_deleted(db, &org.id, "organization.deleted").await? {
        return Ok(Outcome::Stale);
    }
    let fields = json!({
        "clerkOrgId": org.id,
        "name": org.name,
        "slug": org.slug,
        "imageUrl": org.image_url,
        "createdAt": org.created_at as f64,
        "updatedAt": org.updated_at as f64,
        "isActive": true,
    });
    let key = ("organizations", "by_clerk_org_id", "clerkOrgId");
    upsert_versioned(db, key, &org.id, org.updated_at, fields).await
}

/// Inserts, or replaces the stored record unless it is newer (by Clerk's `updated_at`).
/// `key` names the table, its index and the Clerk-id field.
async fn upsert_versioned(
    db: &Writer,
    (table, index, field): (&str, &str, &str),
    clerk_id: &str,
    updated_at: i64,
    fields: Json,
) -> FnResult<Outcome> {
    match find_one(db, table, index, field, clerk_id).await? {
        None => {
            db.insert(table, fields).await?;
        }
        Some(existing) => {
            let stored = existing
                .get("updatedAt")
                .and_then(Json::as_f64)
                .unwrap_or(f64::MIN);
            if (updated_at as f64) < stored {
                return Ok(Outcome::Stale);
            }
            db.patch(existing.id(), fields).await?;
        }
    }
    Ok(Outcome::Applied)
}

async fn delete_organization(db: &Writer, deleted: &DeletedObject, at: i64) -> FnResult<Outcome> {
    let Some(id) = deleted.id.as_deref() else {
        return Err(FnError::invalid_argument(
            "organization.deleted without data.id",
        ));
    };
    if let Some(org) = find_one(db, "organizations", "by_clerk_org_id", "clerkOrgId", id).await? {
        db.patch(
            org.id(),
            json!({ "isActive": false, "deletedAt": at as f64 }),
        )
        .await?;
    }
    for membership in db
        .query("memberships")
        .with_index("by_org", |r| r.eq("clerkOrgId", id))
        .collect()
        .await?
    {
        db.delete(membership.id()).await?;
    }
    Ok(Outcome::Applied)
}

pub(crate) async fn upsert_membership(db: &Writer, m: &MembershipData) -> FnResult<Outcome> {
    if was_deleted(db, &m.id, "organizationMembership.deleted").await?
        || was_deleted(db, &m.organization.id, "organization.deleted").await?
    {
        return Ok(Outcome::Stale);
    }
    let Some(user_id) = m.user_id() else {
        return Err(FnError::invalid_argument(
            "membership without public_user_data.user_id",
        ));
    };
    let fields = json!({
        "clerkMembershipId": m.id,
        "clerkOrgId": m.organization.id,
        "clerkUserId": user_id,
        "role": m.role,
        "permissions": m.permissions,
        "createdAt": m.created_at as f64,
        "updatedAt": m.updated_at as f64,
    });
    let key = ("memberships", "by_clerk_membership_id", "clerkMembershipId");
    if upsert_versioned(db, key, &m.id, m.updated_at, fields).await? == Outcome::Stale {
        return Ok(Outcome::Stale);
    }
    // The organization is known from the membership too, if its own event is late.
    if find_one(
        db,
        "organizations",
        "by_clerk_org_id",
        "clerkOrgId",
        &m.organization.id,
    )
    .await?
    .is_none()
    {
        upsert_organization(db, &m.organization).await?;
    }
    Ok(Outcome::Applied)
}

async fn delete_membership(db: &Writer, m: &MembershipData) -> FnResult<Outcome> {
    if let Some(existing) = find_one(
        db,
        "memberships",
        "by_clerk_membership_id",
        "clerkMembershipId",
        &m.id,
    )
    .await?
    {
        db.delete(existing.id()).await?;
    }
    Ok(Outcome::Applied)
}
