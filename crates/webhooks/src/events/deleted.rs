//! What `*.deleted` events carry instead of the object.

use serde::{Deserialize, Serialize};

/// The data of `user.deleted` and `organization.deleted`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a Clerk deleted object")]
pub struct DeletedObject {
    /// `user`, `organization`, …
    pub object: Option<String>,
    /// The deleted object's id. The spec does not require it, but
    /// `ClerkEvent::from_slice` refuses a deletion without one (nothing could
    /// be deleted, and answering 200 would hide that).
    pub id: Option<String>,
    /// Organizations send their slug.
    pub slug: Option<String>,
    /// Users send their external id.
    pub external_id: Option<String>,
    pub deleted: bool,
}
