//! Reconciling the synced tables with Clerk's own data (`keel backfill`, `--reconcile-every`):
//! what is missing or stale is upserted with `source: "backfill"`, and what Clerk no longer
//! has is marked inactive (users, organizations) or removed (memberships). The same ordering
//! rules as webhooks apply, so a reconcile never overwrites newer data.

use std::collections::{HashMap, HashSet};

use futures::future::BoxFuture;
use keel_functions::{Database, Document, FnResult, Writer};
use keel_webhooks::{MembershipData, OrganizationData, UserData};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::clerk_sync::{Outcome, upsert_membership, upsert_organization, upsert_user};
use crate::time::now_millis;
use crate::user_search::patch_user;

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

/// Writes are grouped so a Keel serving the same database waits at most one small batch.
const BATCH: usize = 200;

/// Compares and (unless `dry_run`) repairs. `progress` is called with the number of objects
/// handled so far.
pub async fn reconcile(
    db: &Database,
    clerk: &ClerkSnapshot,
    dry_run: bool,
    mut progress: impl FnMut(usize),
) -> FnResult<Drift> {
    let mut drift = Drift::default();

    let users = by_field(db, "users", "clerkUserId").await?;
    let user_work: Vec<&UserData> = clerk
        .users
        .iter()
        .filter(|u| classify(&users, &u.id, u.updated_at, &mut drift))
        .collect();
    let clerk_users: HashSet<&str> = clerk.users.iter().map(|u| u.id.as_str()).collect();
    let extra_users = extras(&users, &clerk_users, &mut drift);

    let orgs = by_field(db, "organizations", "clerkOrgId").await?;
    let org_work: Vec<&OrganizationData> = clerk
        .organizations
        .iter()
        .filter(|o| classify(&orgs, &o.id, o.updated_at, &mut drift))
        .collect();
    let clerk_orgs: HashSet<&str> = clerk.organizations.iter().map(|o| o.id.as_str()).collect();
    let extra_orgs = extras(&orgs, &clerk_orgs, &mut drift);

    let memberships = by_field(db, "memberships", "clerkMembershipId").await?;
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
    let deleted_at = now_millis();
    drift.written += batches
        .apply(&extra_users, |tx, user| {
            Box::pin(async move {
                let mut changes = serde_json::Map::new();
                changes.insert("isActive".into(), json!(false));
                changes.insert("deletedAt".into(), json!(deleted_at));
                patch_user(tx, user, changes).await?;
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

/// Marks organizations Clerk no longer has as inactive.
fn deactivate(
    deleted_at: f64,
) -> impl for<'t> Fn(&'t Writer, &'t Document) -> BoxFuture<'t, FnResult<bool>> {
    move |tx, doc| {
        Box::pin(async move {
            let patch = json!({ "isActive": false, "deletedAt": deleted_at });
            tx.patch(doc.id(), patch).await?;
            Ok(true)
        })
    }
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

async fn by_field(db: &Database, table: &str, field: &str) -> FnResult<HashMap<String, Document>> {
    let reader = db.reader().await?;
    let docs = reader.query(table).collect().await?;
    reader.finish().await?;
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

/// Active records Clerk no longer has.
fn extras(
    stored: &HashMap<String, Document>,
    in_clerk: &HashSet<&str>,
    drift: &mut Drift,
) -> Vec<Document> {
    stored
        .iter()
        .filter(|(id, doc)| {
            !in_clerk.contains(id.as_str()) && doc.get("isActive") != Some(&Json::Bool(false))
        })
        .map(|(id, doc)| {
            drift.extra.push(id.clone());
            doc.clone()
        })
        .collect()
}
