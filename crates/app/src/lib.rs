//! The application from the product brief: users kept in step with Clerk, and each user's
//! private chats. Everything here is ordinary Keel function code; a crate embedding Keel
//! registers its own functions the same way.

mod chats;
mod roles;
mod time;
mod users;

use keel_functions::Registry;
use keel_store::{Schema, TableDef};

pub use roles::AppRoles;

/// The tables the app declares.
pub fn schema() -> Schema {
    Schema::new()
        .table(
            TableDef::new("users")
                .index("by_clerk_user_id", &["clerkUserId"])
                .index("by_email", &["email"]),
        )
        .table(TableDef::new("chats").index("by_user_created", &["userId", "createdAt"]))
}

/// Every function the app exposes.
pub fn functions() -> Registry {
    let mut registry = Registry::new();
    users::register(&mut registry);
    chats::register(&mut registry);
    registry
}
