//! Bulk writes for `keel seed`: users, organizations and memberships go through the same
//! upserts as Clerk's webhooks (so the records have exactly the webhook's shape, search fields
//! included), and chats are written as `chats:createUserChat` writes them; many records per
//! transaction instead of one.

use keel_functions::FnResult;
use keel_store::Database;
use keel_webhooks::{MembershipData, OrganizationData, UserData};
use serde_json::json;

use crate::clerk_sync::{upsert_membership, upsert_organization, upsert_user};

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
        upsert_user(&tx, user, "seed").await?;
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
