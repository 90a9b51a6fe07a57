//! Bulk writes for `keel seed`, into an empty database: users are written as a webhook
//! writes a user it has not seen (`new_user_record` + `insert_user`, search fields included,
//! without the lookups an upsert makes), organizations and memberships through the webhook's
//! upserts, and chats as `chats:createUserChat` writes them; many records per transaction.

use keel_functions::FnResult;
use keel_store::Database;
use keel_webhooks::{MembershipData, OrganizationData, UserData};
use serde_json::json;

use crate::clerk_sync::{new_user_record, upsert_membership, upsert_organization};
use crate::user_search::insert_user;

/// A chat to write: its owner's Clerk user id, title and creation time (ms).
pub struct SeedChat {
    pub user_id: String,
    pub title: String,
    pub created_at: f64,
}

/// What one transaction writes.
#[derive(Default)]
pub struct SeedBatch {
    pub users: Vec<UserData>,
    pub organizations: Vec<OrganizationData>,
    pub memberships: Vec<MembershipData>,
    pub chats: Vec<SeedChat>,
}

impl SeedBatch {
    pub fn len(&self) -> usize {
        self.users.len() + self.organizations.len() + self.memberships.len() + self.chats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes the batch in one transaction: users, then organizations, memberships and chats, so
/// a membership finds its organization and user written.
pub async fn write_seed_batch(db: &Database, batch: &SeedBatch) -> FnResult<()> {
    let tx = db.writer().await?;
    for user in &batch.users {
        insert_user(&tx, new_user_record(user, "seed")).await?;
    }
    for organization in &batch.organizations {
        upsert_organization(&tx, organization).await?;
    }
    for membership in &batch.memberships {
        upsert_membership(&tx, membership).await?;
    }
    for chat in &batch.chats {
        tx.insert(
            "chats",
            json!({
                "userId": chat.user_id,
                "title": chat.title,
                "createdAt": chat.created_at,
                "updatedAt": chat.created_at,
            }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
