//! An organization as stored, and its rendering as Clerk's OrganizationJSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Organization {
    pub id: String,
    pub name: String,
    /// Unique in the instance; lower-case letters, digits and dashes.
    pub slug: String,
    pub image_url: String,
    /// The `user_…` who was made its first admin, if any.
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub public_metadata: Map<String, Value>,
    #[serde(default)]
    pub private_metadata: Map<String, Value>,
    /// Clerk's `0` means unlimited. Stored and shown, not enforced.
    #[serde(default)]
    pub max_allowed_memberships: u64,
    #[serde(default = "enabled")]
    pub admin_delete_enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

fn enabled() -> bool {
    true
}

impl Organization {
    /// Clerk's OrganizationJSON. `members_count` is left out, as Clerk leaves
    /// it out unless asked (`include_members_count`): a count in webhook
    /// payloads would go stale with every membership change, which Clerk does
    /// not announce as `organization.updated`.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "object": "organization",
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "image_url": self.image_url,
            "has_image": false,
            "max_allowed_memberships": self.max_allowed_memberships,
            "admin_delete_enabled": self.admin_delete_enabled,
            "public_metadata": self.public_metadata,
            "private_metadata": self.private_metadata,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// What Clerk returns for a deleted organization (and sends in `organization.deleted`).
    pub(crate) fn deleted_json(&self) -> Value {
        json!({ "object": "organization", "id": self.id, "slug": self.slug, "deleted": true })
    }
}
