//! A user as the emulator stores it, and its rendering as Clerk's UserJSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// An email address or phone number (Clerk calls both "identifications",
/// hence the shared `idn_` id prefix). All are created verified by an admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Identification {
    pub id: String,
    pub value: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The persisted user. Fields Clerk has but the emulator never changes
/// (MFA, bans, web3 wallets …) are not stored, only rendered with fixed values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct User {
    pub id: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email_addresses: Vec<Identification>,
    #[serde(default)]
    pub phone_numbers: Vec<Identification>,
    #[serde(default)]
    pub primary_email_address_id: Option<String>,
    #[serde(default)]
    pub primary_phone_number_id: Option<String>,
    pub image_url: String,
    #[serde(default)]
    pub password_enabled: bool,
    #[serde(default)]
    pub public_metadata: Map<String, Value>,
    #[serde(default)]
    pub private_metadata: Map<String, Value>,
    #[serde(default)]
    pub unsafe_metadata: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub last_sign_in_at: Option<i64>,
    #[serde(default)]
    pub last_active_at: Option<i64>,
}

impl User {
    pub(crate) fn primary_email(&self) -> Option<&str> {
        primary(
            &self.email_addresses,
            self.primary_email_address_id.as_deref(),
        )
    }

    pub(crate) fn primary_phone(&self) -> Option<&str> {
        primary(&self.phone_numbers, self.primary_phone_number_id.as_deref())
    }

    /// Clerk's `full_name`: first and last name joined, None if both are missing.
    pub(crate) fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// Clerk's UserJSON (Backend API `User` schema).
    pub(crate) fn to_json(&self) -> Value {
        let mut json = json!({
            "id": self.id,
            "object": "user",
            "external_id": self.external_id,
            "primary_email_address_id": self.primary_email_address_id,
            "primary_phone_number_id": self.primary_phone_number_id,
            "primary_web3_wallet_id": null,
            "username": self.username,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "locale": null,
            "profile_image_url": self.image_url,
            "image_url": self.image_url,
            "has_image": false,
            "public_metadata": self.public_metadata,
            "private_metadata": self.private_metadata,
            "unsafe_metadata": self.unsafe_metadata,
            "email_addresses": self.email_addresses.iter().map(email_json).collect::<Vec<_>>(),
            "phone_numbers": self.phone_numbers.iter().map(phone_json).collect::<Vec<_>>(),
            "password_enabled": self.password_enabled,
            "last_sign_in_at": self.last_sign_in_at,
            "last_active_at": self.last_active_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        });
        if let (Some(obj), Value::Object(fixed)) = (json.as_object_mut(), fixed_user_fields()) {
            obj.extend(fixed);
        }
        json
    }

    /// What Clerk returns for a deleted user (and sends in `user.deleted`).
    pub(crate) fn deleted_json(&self) -> Value {
        json!({ "object": "user", "id": self.id, "deleted": true })
    }
}

/// UserJSON fields for features the emulator does not have (MFA, web3,
/// SSO, bans …), with the values Clerk shows for a user without them.
fn fixed_user_fields() -> Value {
    json!({
        "web3_wallets": [],
        "passkeys": [],
        "two_factor_enabled": false,
        "totp_enabled": false,
        "backup_code_enabled": false,
        "mfa_enabled_at": null,
        "mfa_disabled_at": null,
        "password_last_updated_at": null,
        "external_accounts": [],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "banned": false,
        "locked": false,
        "deprovisioned": false,
        "lockout_expires_in_seconds": null,
        "verification_attempts_remaining": null,
        "delete_self_enabled": true,
        "create_organization_enabled": true,
        "create_organizations_limit": null,
        "legal_accepted_at": null,
        "bypass_client_trust": false,
    })
}

fn primary<'a>(list: &'a [Identification], id: Option<&str>) -> Option<&'a str> {
    let id = id?;
    list.iter().find(|i| i.id == id).map(|i| i.value.as_str())
}

/// Admin-created identifications are verified with strategy "admin".
fn admin_verification() -> Value {
    json!({
        "object": "verification_admin",
        "status": "verified",
        "strategy": "admin",
        "attempts": null,
        "expire_at": null,
    })
}

fn email_json(e: &Identification) -> Value {
    json!({
        "id": e.id,
        "object": "email_address",
        "email_address": e.value,
        "reserved": false,
        "verification": admin_verification(),
        "linked_to": [],
        "matches_sso_connection": false,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    })
}

fn phone_json(p: &Identification) -> Value {
    json!({
        "id": p.id,
        "object": "phone_number",
        "phone_number": p.value,
        "reserved_for_second_factor": false,
        "default_second_factor": false,
        "reserved": false,
        "verification": admin_verification(),
        "linked_to": [],
        "backup_codes": null,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}
