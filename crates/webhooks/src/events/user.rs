//! `user.*` payloads (Clerk's UserJSON), reduced to what Keel stores.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lenient::null_as_default;

/// The data of `user.created` and `user.updated`. Unknown fields are ignored;
/// fields Clerk marks nullable, or leaves out in some examples, are optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(expecting = "a Clerk user object")]
pub struct UserData {
    /// `user_…`
    pub id: String,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    /// The id (`idn_…`) of one of `email_addresses`.
    pub primary_email_address_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_addresses: Vec<EmailAddress>,
    /// Readable by the front end and customizable into tokens; `role` lives here.
    #[serde(default, deserialize_with = "null_as_default")]
    pub public_metadata: Map<String, Value>,
    /// Milliseconds since the epoch, as are all the times below.
    pub created_at: i64,
    pub updated_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub last_active_at: Option<i64>,
}

/// One of a user's email addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a Clerk email address object")]
pub struct EmailAddress {
    /// `idn_…`. Clerk always sends it, but the spec leaves it optional, so a
    /// missing id is empty (and never matches the primary id).
    #[serde(default)]
    pub id: String,
    pub email_address: String,
    pub verification: Option<Verification>,
}

/// How an email address was (or was not) verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a Clerk verification object")]
pub struct Verification {
    /// `unverified`, `verified`, `failed`, `expired` (kept as text: Clerk may add more).
    pub status: String,
    pub strategy: Option<String>,
}

impl UserData {
    /// The primary email address, found through `primary_email_address_id`;
    /// `None` when there is no primary id or it names none of the addresses.
    pub fn primary_email(&self) -> Option<&EmailAddress> {
        let primary = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .iter()
            .find(|email| !email.id.is_empty() && email.id == primary)
    }

    /// Whether the primary email address is verified; `None` without one.
    pub fn email_verified(&self) -> Option<bool> {
        self.primary_email().map(EmailAddress::is_verified)
    }

    /// `public_metadata.role` when it is a string.
    pub fn role(&self) -> Option<&str> {
        self.public_metadata.get("role")?.as_str()
    }
}

impl EmailAddress {
    /// True only for `verification.status == "verified"`.
    pub fn is_verified(&self) -> bool {
        self.verification
            .as_ref()
            .is_some_and(|verification| verification.status == "verified")
    }
}
