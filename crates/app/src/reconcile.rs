//! Reconciling the synced tables with Clerk's own data (`keel backfill`, `--reconcile-every`):
//! what is missing or stale is upserted with `source: "backfill"`, and what Clerk no longer
//! has is marked inactive (users, organizations) or removed (memberships). The same ordering
//! rules as webhooks apply, so a reconcile never overwrites newer data.
//!
//! Webhooks keep arriving while Clerk is read (on this instance and others), and Clerk's
//! listing is paged by offset, so it is no snapshot: an object created during the listing is
//! missing from it, and a deletion during the listing shifts later pages so that one object
//! is skipped. Marking a user or an organization deleted is for good (a deleted object never
//! comes back), so:
//! - the local records are read *before* Clerk ([`LocalRecords::read`]): an object whose
//!   webhook lands during the listing is not among them, so it cannot look like one Clerk lost;
//! - a user or organization the listing lacks is asked about once more by id
//!   ([`ClerkLookup`]) and marked only when Clerk answers that it does not exist;
//! - the marking re-reads the record in its own transaction and leaves it alone when a
//!   webhook changed it meanwhile.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use futures::future::BoxFuture;
use keel_clerk_api::{ClerkApi, ClerkApiError};
use keel_functions::{Database, Document, ErrorCode, FnError, FnResult, Reader, Writer};
use keel_webhooks::{MembershipData, OrganizationData, UserData};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::clerk_sync::{Outcome, upsert_membership, upsert_organization, upsert_user};
use crate::user_search::patch_user;
use crate::users::find_by_clerk_id;

/// Everything Clerk has, as its Backend API lists it.
#[derive(Default)]
pub struct ClerkSnapshot {
    pub users: Vec<UserData>,
    pub organizations: Vec<OrganizationData>,
    pub memberships: Vec<MembershipData>,
}

/// What differed, by Clerk id.
#[derive(Default, Debug, Serialize)]
pub struct Drift {
    /// In Clerk, not here.
    pub missing: Vec<String>,
    /// Here, but older than Clerk's (or only known from a token).
    pub stale: Vec<String>,
    /// Here and active, but gone from Clerk.
    pub extra: Vec<String>,
    /// Writes made (0 on a dry run).
    pub written: usize,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty() && self.extra.is_empty()
    }
}

/// Asks Clerk about one object its listing did not include.
#[async_trait]
pub trait ClerkLookup: Send + Sync {
    /// Whether Clerk has this user now; `Ok(false)` only when Clerk says it does not.
    async fn user_exists(&self, id: &str) -> Result<bool, String>;
    /// Whether Clerk has this organization now; `Ok(false)` only when Clerk says it does not.
    async fn organization_exists(&self, id: &str) -> Result<bool, String>;
}

#[async_trait]
impl ClerkLookup for ClerkApi {
    async fn user_exists(&self, id: &str) -> Result<bool, String> {
        exists(self.get_user(id).await.map(drop))
    }

    async fn organization_exists(&self, id: &str) -> Result<bool, String> {
        exists(self.get_organization(id).await.map(drop))
    }
}

fn exists(found: Result<(), ClerkApiError>) -> Result<bool, String> {
    match found {
        Ok(()) => Ok(true),
        Err(ClerkApiError::NotFound) => Ok(false),
        Err(err) => Err(err.to_string()),
    }
}

/// Takes the listing as complete: what it lacks is gone. Only for snapshots that are not read
/// from a live Clerk (generated data, benchmarks).
pub struct ListingIsComplete;

#[async_trait]
impl ClerkLookup for ListingIsComplete {
    async fn user_exists(&self, _id: &str) -> Result<bool, String> {
        Ok(false)
    }

    async fn organization_exists(&self, _id: &str) -> Result<bool, String> {
        Ok(false)
    }
}

/// The synced tables by Clerk id, read before Clerk is (see the module's comment).
pub struct LocalRecords {
    users: HashMap<String, Document>,
    organizations: HashMap<String, Document>,
    memberships: HashMap<String, Document>,
}

impl LocalRecords {
    /// The three tables from one snapshot.
    pub async fn read(db: &Database) -> FnResult<LocalRecords> {
        let reader = db.reader().await?;
        let local = LocalRecords {
            users: by_field(&reader, "users", "clerkUserId").await?,
            organizations: by_field(&reader, "organizations", "clerkOrgId").await?,
            memberships: by_field(&reader, "memberships", "clerkMembershipId").await?,
        };
        reader.finish().await?;
        Ok(local)
    }
}

/// Writes are grouped so a Keel serving the same database waits at most one small batch.
const BATCH: usize = 200;

/// Compares `local` (read before `clerk` was listed) with Clerk and, unless `dry_run`,
/// repairs. `progress` is called with the number of objects handled so far.
pub async fn reconcile(
    db: &Database,
    local: LocalRecords,
    clerk: &ClerkSnapshot,
    lookup: &dyn ClerkLookup,
    dry_run: bool,
    mut progress: impl FnMut(usize),
) -> FnResult<Drift> {
    let mut drift = Drift::default();
    let LocalRecords {
        users,
        organizations: orgs,
        memberships,
    } = local;

    let user_work: Vec<&UserData> = clerk
        .users
        .iter()
        .filter(|u| classify(&users, &u.id, u.updated_at, &mut drift))
        .collect();
    let clerk_users: HashSet<&str> = clerk.users.iter().map(|u| u.id.as_str()).collect();
    let mut extra_users = Vec::new();
    for (id, doc) in unlisted(&users, &clerk_users) {
        if gone(lookup.user_exists(id).await, "user", id)? {
            drift.extra.push(id.clone());
            extra_users.push(doc.clone());
        }
    }

    let org_work: Vec<&OrganizationData> = clerk
        .organizations
        .iter()
        .filter(|o| classify(&orgs, &o.id, o.updated_at, &mut drift))
        .collect();
    let clerk_orgs: HashSet<&str> = clerk.organizations.iter().map(|o| o.id.as_str()).collect();
    let mut extra_orgs = Vec::new();
    for (id, doc) in unlisted(&orgs, &clerk_orgs) {
        if gone(lookup.organization_exists(id).await, "organization", id)? {
            drift.extra.push(id.clone());
            extra_orgs.push(doc.clone());
        }
    }

    let membership_work: Vec<&MembershipData> = clerk
        .memberships
        .iter()
        .filter(|m| classify(&memberships, &m.id, m.updated_at, &mut drift))
        .collect();
    let clerk_memberships: HashSet<&str> =
        clerk.memberships.iter().map(|m| m.id.as_str()).collect();
    let extra_memberships: Vec<Document> = memberships
        .iter()
        .filter(|(id, _)| !clerk_memberships.contains(id.as_str()))
        .map(|(id, doc)| {
            drift.extra.push(id.clone());
            doc.clone()
        })
        .collect();

    if dry_run {
        return Ok(drift);
    }
    let mut batches = Batches {
        db,
        handled: 0,
        progress: &mut progress,
    };
    drift.written += batches
        .apply(&user_work, |tx, user| {
            Box::pin(
                async move { Ok(upsert_user(tx, user, "backfill").await? == Outcome::Applied) },
            )
        })
        .await?;
    let deleted_at = db.runtime().now_unix_millis();
    drift.written += batches
        .apply(&extra_users, |tx, listed| {
            Box::pin(async move {
                // As it is now: a webhook may have changed (or deleted) it since it was read.
                let Some(clerk_id) = listed.get_str("clerkUserId") else {
                    return Ok(false);
                };
                let Some(user) = find_by_clerk_id(tx, clerk_id).await? else {
                    return Ok(false);
                };
                if !is_active(&user) {
                    return Ok(false);
                }
                let mut changes = serde_json::Map::new();
                changes.insert("isActive".into(), json!(false));
                changes.insert("deletedAt".into(), json!(deleted_at));
                patch_user(tx, &user, changes).await?;
                Ok(true)
            })
        })
        .await?;
    drift.written += batches.apply(&extra_orgs, deactivate(deleted_at)).await?;
    drift.written += batches
        .apply(&org_work, |tx, org| {
            Box::pin(async move { Ok(upsert_organization(tx, org).await? == Outcome::Applied) })
        })
        .await?;
    drift.written += batches
        .apply(&membership_work, |tx, membership| {
            Box::pin(
                async move { Ok(upsert_membership(tx, membership).await? == Outcome::Applied) },
            )
        })
        .await?;
    drift.written += batches
        .apply(&extra_memberships, |tx, doc| {
            let doc_id = doc.id();
            Box::pin(async move {
                tx.delete(doc_id).await?;
                Ok(true)
            })
        })
        .await?;
    Ok(drift)
}

/// Marks organizations Clerk no longer has as inactive, unless a webhook already did.
fn deactivate(
    deleted_at: f64,
) -> impl for<'t> Fn(&'t Writer, &'t Document) -> BoxFuture<'t, FnResult<bool>> {
    move |tx, doc| {
        Box::pin(async move {
            match tx.get(doc.id()).await? {
                Some(org) if is_active(&org) => {}
                _ => return Ok(false),
            }
            let patch = json!({ "isActive": false, "deletedAt": deleted_at });
            tx.patch(doc.id(), patch).await?;
            Ok(true)
        })
    }
}

fn is_active(doc: &Document) -> bool {
    doc.get("isActive") != Some(&Json::Bool(false))
}

/// Repairs in transactions of `BATCH`, reporting progress after each.
struct Batches<'a, P: FnMut(usize)> {
    db: &'a Database,
    handled: usize,
    progress: &'a mut P,
}

impl<P: FnMut(usize)> Batches<'_, P> {
    /// Applies `write` to each item; the number of items it reports as written.
    async fn apply<T>(
        &mut self,
        items: &[T],
        write: impl for<'t> Fn(&'t Writer, &'t T) -> BoxFuture<'t, FnResult<bool>>,
    ) -> FnResult<usize> {
        let mut written = 0;
        for chunk in items.chunks(BATCH) {
            let tx = self.db.writer().await?;
            for item in chunk {
                if write(&tx, item).await? {
                    written += 1;
                }
            }
            tx.commit().await?;
            self.handled += chunk.len();
            (self.progress)(self.handled);
        }
        Ok(written)
    }
}

async fn by_field(
    reader: &Reader,
    table: &str,
    field: &str,
) -> FnResult<HashMap<String, Document>> {
    let docs = reader.query(table).collect().await?;
    Ok(docs
        .into_iter()
        .filter_map(|doc| Some((doc.get_str(field)?.to_string(), doc)))
        .collect())
}

/// Whether a Clerk object needs writing here, noting why in `drift`.
fn classify(
    stored: &HashMap<String, Document>,
    id: &str,
    updated_at: i64,
    drift: &mut Drift,
) -> bool {
    match stored.get(id) {
        None => {
            drift.missing.push(id.to_string());
            true
        }
        Some(doc) => {
            let deleted = doc.get("deletedAt").is_some_and(|d| !d.is_null());
            let from_token = doc.get_str("source") == Some("first-login");
            let older = doc
                .get("updatedAt")
                .and_then(Json::as_f64)
                .is_none_or(|t| t < updated_at as f64);
            let stale = !deleted && (from_token || older);
            if stale {
                drift.stale.push(id.to_string());
            }
            stale
        }
    }
}

/// Active records the listing lacks: gone from Clerk, or missed by the listing.
fn unlisted<'a>(
    stored: &'a HashMap<String, Document>,
    listed: &HashSet<&str>,
) -> Vec<(&'a String, &'a Document)> {
    let mut unlisted: Vec<_> = stored
        .iter()
        .filter(|(id, doc)| !listed.contains(id.as_str()) && is_active(doc))
        .collect();
    unlisted.sort_by_key(|(id, _)| id.as_str());
    unlisted
}

/// Whether Clerk's answer about an unlisted object says it is gone. Not knowing stops the
/// reconcile: marking it deleted could not be undone.
fn gone(exists: Result<bool, String>, kind: &str, id: &str) -> FnResult<bool> {
    match exists {
        Ok(exists) => {
            if exists {
                tracing::debug!(
                    kind,
                    id,
                    "reconcile: not in Clerk's listing, but Clerk has it"
                );
            }
            Ok(!exists)
        }
        Err(err) => Err(FnError::coded(
            ErrorCode::UpstreamUnavailable,
            format!("asking Clerk whether {kind} {id} still exists: {err}"),
        )),
    }
}
