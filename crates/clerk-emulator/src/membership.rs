//! A user's membership in an organization, and its rendering as Clerk's
//! OrganizationMembershipJSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::organization::Organization;
use crate::roles;
use crate::user::User;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Membership {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    /// A role key such as `org:admin`; permissions follow from it.
    pub role: String,
    #[serde(default)]
    pub public_metadata: Map<String, Value>,
    #[serde(default)]
    pub private_metadata: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Membership {
    pub(crate) fn permissions(&self) -> &'static [&'static str] {
        roles::describe(&self.role).1
    }

    /// Clerk's OrganizationMembershipJSON, with the organization and the
    /// member's public data embedded as Clerk embeds them.
    pub(crate) fn to_json(&self, organization: &Organization, user: &User) -> Value {
        let (role_name, permissions) = roles::describe(&self.role);
        json!({
            "object": "organization_membership",
            "id": self.id,
            "role": self.role,
            "role_name": role_name,
            "permissions": permissions,
            "public_metadata": self.public_metadata,
            "private_metadata": self.private_metadata,
            "organization": organization.to_json(),
            "public_user_data": public_user_data(user),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// Clerk's OrganizationMembershipPublicUserData. The identifier is the
/// user's primary email, else phone, else username.
fn public_user_data(user: &User) -> Value {
    let identifier = user
        .primary_email()
        .or(user.primary_phone())
        .or(user.username.as_deref());
    json!({
        "user_id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "profile_image_url": user.image_url,
        "image_url": user.image_url,
        "has_image": false,
        "identifier": identifier,
        "username": user.username,
    })
}
