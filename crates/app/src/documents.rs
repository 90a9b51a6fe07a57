//! The fields of each table's documents, as the app writes them. They type the generated
//! TypeScript API (`Doc<"users">` and the like in `dataModel.d.ts`); the code that writes the
//! documents is the authority, so a field added there is added here too.

use keel_functions::{TS, TableDocument};
use serde_json::Value as Json;

use crate::webhook_log::DeliveryOutcome;

/// `users`: one record per Clerk user (`clerk_sync.rs` from Clerk, `users.rs` from first login).
#[derive(TS)]
#[ts(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UserDoc {
    pub clerk_user_id: String,
    /// Lowercased primary email.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    pub email_verified: Option<bool>,
    /// Clerk's `public_metadata` (an object), or null when a token carried none.
    pub public_metadata: Json,
    /// `public_metadata.role`: `"admin"` makes an admin.
    pub role: Option<String>,
    /// Where the record came from: `"first-login"`, `"webhook"`, `"backfill"`.
    pub source: String,
    pub is_active: bool,
    pub deleted_at: Option<f64>,
    pub last_sign_in_at: Option<f64>,
    pub created_at: f64,
    pub updated_at: f64,
    /// Search fields the admin list reads by index (`user_search.rs`).
    #[ts(type = r#""active" | "deleted""#)]
    pub status: String,
    pub name_lower: Option<String>,
    pub last_name_lower: Option<String>,
}

impl TableDocument for UserDoc {
    const TABLE: &'static str = "users";
}

/// `chats`: a user's private chat.
#[derive(TS)]
#[ts(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ChatDoc {
    /// The owner's Clerk user id.
    pub user_id: String,
    pub title: String,
    pub created_at: f64,
    pub updated_at: f64,
}

impl TableDocument for ChatDoc {
    const TABLE: &'static str = "chats";
}

/// `organizations`: a Clerk organization.
#[derive(TS)]
#[ts(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct OrganizationDoc {
    pub clerk_org_id: String,
    pub name: String,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    pub is_active: bool,
    /// Set when Clerk deleted it.
    #[ts(optional)]
    pub deleted_at: Option<f64>,
    pub created_at: f64,
    pub updated_at: f64,
}

impl TableDocument for OrganizationDoc {
    const TABLE: &'static str = "organizations";
}

/// `memberships`: a user's role in an organization.
#[derive(TS)]
#[ts(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MembershipDoc {
    pub clerk_membership_id: String,
    pub clerk_org_id: String,
    pub clerk_user_id: String,
    /// `org:admin`, `org:member`, or a custom role.
    pub role: String,
    pub permissions: Vec<String>,
    pub created_at: f64,
    pub updated_at: f64,
}

impl TableDocument for MembershipDoc {
    const TABLE: &'static str = "memberships";
}

/// `clerkEvents`: the webhook ledger, one row per processed `svix-id`.
#[derive(TS)]
#[ts(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ClerkEventDoc {
    pub svix_id: String,
    #[ts(rename = "type")]
    pub event_type: String,
    pub object_id: Option<String>,
    /// The event's own timestamp (ms).
    pub event_time: f64,
    /// The object's `updated_at`, which orders events about it.
    pub updated_at: Option<f64>,
    pub received_at: f64,
    pub processed_at: f64,
    pub outcome: DeliveryOutcome,
}

impl TableDocument for ClerkEventDoc {
    const TABLE: &'static str = "clerkEvents";
}

/// `clerkWebhookIssues`: duplicate and rejected deliveries, newest 1,000 of each.
#[derive(TS)]
#[ts(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ClerkWebhookIssueDoc {
    /// The `svix-id` as sent (unverified for a rejection).
    pub svix_id: Option<String>,
    #[ts(rename = "type")]
    pub event_type: Option<String>,
    /// A duplicate's object.
    #[ts(optional)]
    pub object_id: Option<String>,
    pub reason: String,
    /// A rejection's HTTP status.
    #[ts(optional)]
    pub http_status: Option<u16>,
    /// Rejections not recorded before this one (the endpoint records a few per second).
    #[ts(optional)]
    pub unrecorded_before: Option<u64>,
    pub outcome: DeliveryOutcome,
    pub seq: u64,
    pub slot: u64,
    pub received_at: f64,
}

impl TableDocument for ClerkWebhookIssueDoc {
    const TABLE: &'static str = "clerkWebhookIssues";
}
