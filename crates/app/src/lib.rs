//! The application from the product brief: users kept in step with Clerk, and each user's
//! private chats. Everything here is ordinary Keel function code; a crate embedding Keel
//! registers its own functions the same way.

mod admin_users;
mod chats;
mod clerk_sync;
mod data_browser;
mod documents;
mod org_roles;
mod organizations;
mod profile_hints;
mod reconcile;
mod roles;
mod seed;
mod user_search;
mod users;
mod viewer;
mod webhook_log;

use keel_functions::Registry;
use keel_store::{Schema, TableDef};

pub use clerk_sync::{ISSUES_KEPT, OnUserDeleted};
pub use documents::{
    ChatDoc, ClerkEventDoc, ClerkWebhookIssueDoc, MembershipDoc, OrganizationDoc, UserDoc,
};
pub use org_roles::{OrgScoped, with_org_role};
pub use reconcile::{
    ClerkLookup, ClerkSnapshot, Drift, ListingIsComplete, LocalRecords, reconcile,
};
pub use roles::AppRoles;
pub use seed::{SeedBatch, SeedChat, write_seed_batch};
pub use user_search::BackfillResult;

/// The tables the app declares.
pub fn schema() -> Schema {
    Schema::new()
        .table(
            TableDef::new("users")
                .document::<UserDoc>()
                .index("by_clerk_user_id", &["clerkUserId"])
                .index("by_email", &["email"])
                // The admin list (`user_search.rs`): filters and prefix searches by index.
                .index(user_search::BY_STATUS, &["status"])
                .index(user_search::BY_STATUS_ROLE, &["status", "role"])
                .index(user_search::BY_STATUS_EMAIL, &["status", "email"])
                .index(user_search::BY_STATUS_NAME, &["status", "nameLower"])
                .index(
                    user_search::BY_STATUS_LAST_NAME,
                    &["status", "lastNameLower"],
                ),
        )
        .table(
            TableDef::new("chats")
                .document::<ChatDoc>()
                .index("by_user_created", &["userId", "createdAt"]),
        )
        .table(
            TableDef::new("organizations")
                .document::<OrganizationDoc>()
                .index("by_clerk_org_id", &["clerkOrgId"])
                // `organizations:list`: active (or all) newest first.
                .index("by_active_created", &["isActive", "createdAt"]),
        )
        .table(
            TableDef::new("memberships")
                .document::<MembershipDoc>()
                .index("by_clerk_membership_id", &["clerkMembershipId"])
                .index("by_org", &["clerkOrgId", "clerkUserId"])
                .index("by_user", &["clerkUserId", "clerkOrgId"]),
        )
        .table(
            TableDef::new(clerk_sync::LEDGER)
                .document::<ClerkEventDoc>()
                .index("by_svix_id", &["svixId"])
                .index("by_object", &["objectId", "type"])
                // `webhooks:recent` with an outcome filter, newest first.
                .index("by_outcome", &["outcome"]),
        )
        .table(
            TableDef::new(clerk_sync::ISSUES)
                .document::<ClerkWebhookIssueDoc>()
                .index("by_outcome", &["outcome"])
                .index("by_slot", &["outcome", "slot"]),
        )
}

/// Every function the app exposes.
pub fn functions() -> Registry {
    let mut registry = Registry::new();
    users::register(&mut registry);
    viewer::register(&mut registry);
    admin_users::register(&mut registry);
    chats::register(&mut registry);
    clerk_sync::register(&mut registry);
    organizations::register(&mut registry);
    org_roles::register(&mut registry);
    webhook_log::register(&mut registry);
    data_browser::register(&mut registry);
    registry
}
