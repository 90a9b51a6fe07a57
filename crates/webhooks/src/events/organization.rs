//! `organization.*` and `organizationMembership.*` payloads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lenient::null_as_default;

/// The data of `organization.created` and `organization.updated`, and the
/// organization inside a membership.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(expecting = "a Clerk organization object")]
pub struct OrganizationData {
    /// `org_…`
    pub id: String,
    pub name: String,
    /// Optional: an instance can turn organization slugs off.
    pub slug: Option<String>,
    pub image_url: Option<String>,
    /// The `user_…` who created it.
    pub created_by: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub public_metadata: Map<String, Value>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

/// The data of `organizationMembership.created|updated|deleted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(expecting = "a Clerk organization membership object")]
pub struct MembershipData {
    /// `orgmem_…`
    pub id: String,
    /// With its prefix: `org:admin`, `org:member`, or a custom `org:…` role.
    pub role: String,
    pub role_name: Option<String>,
    /// `org:<feature>:<permission>` names.
    #[serde(default, deserialize_with = "null_as_default")]
    pub permissions: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub public_metadata: Map<String, Value>,
    pub organization: OrganizationData,
    /// Optional in the spec, though Clerk's examples always carry it.
    pub public_user_data: Option<PublicUserData>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub updated_at: i64,
}

/// The member, as much of them as is public.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a Clerk public user data object")]
pub struct PublicUserData {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub username: Option<String>,
    /// The member's primary identifier, usually an email address.
    pub identifier: Option<String>,
}

impl MembershipData {
    /// The member's `user_…` id, when Clerk sent the public user data.
    pub fn user_id(&self) -> Option<&str> {
        self.public_user_data
            .as_ref()
            .map(|user| user.user_id.as_str())
    }
}
