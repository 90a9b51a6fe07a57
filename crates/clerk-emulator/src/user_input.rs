//! Request bodies that create or change users (Clerk's `CreateUser` and
//! `UpdateUser`), with the checks Clerk applies to them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::error::EmulatorError;
use crate::ids::new_id;
use crate::user::{Identification, User};

/// Body of `POST /v1/users`. Unknown fields are accepted and ignored, as are
/// fields the emulator has no use for; `password` is never stored (it only
/// turns `password_enabled` on).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateUser {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_address: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phone_number: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Map<String, Value>>,
}

/// Body of `PATCH /v1/users/{id}`. For the `Option<Option<_>>` fields, absent
/// leaves the value alone and `null` clears it; metadata given here replaces
/// the stored object whole, as Clerk's PATCH does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateUser {
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Option<String>>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Option<String>>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub username: Option<Option<String>>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_email_address_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_phone_number_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Option<Map<String, Value>>>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Option<Map<String, Value>>>,
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Option<Map<String, Value>>>,
}

/// Tells a present `null` (Some(None)) from an absent field (None, via `default`).
pub(crate) fn nullable<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

impl CreateUser {
    /// Validates the request against the existing `users` and builds the new user.
    pub(crate) fn build(
        self,
        users: &[User],
        instance_id: &str,
        now: i64,
    ) -> Result<User, EmulatorError> {
        let id = new_id("user");
        let mut emails = Vec::with_capacity(self.email_address.len());
        for raw in &self.email_address {
            let email = normalize_email(raw)?;
            if emails.iter().any(|e: &Identification| e.value == email) {
                return Err(email_taken());
            }
            ensure_unique(users, &id, |u| {
                u.email_addresses.iter().any(|e| e.value == email)
            })
            .map_err(|()| email_taken())?;
            emails.push(identification(email, now));
        }
        let mut phones = Vec::with_capacity(self.phone_number.len());
        for raw in &self.phone_number {
            let phone = normalize_phone(raw)?;
            if phones.iter().any(|p: &Identification| p.value == phone) {
                return Err(phone_taken());
            }
            ensure_unique(users, &id, |u| {
                u.phone_numbers.iter().any(|p| p.value == phone)
            })
            .map_err(|()| phone_taken())?;
            phones.push(identification(phone, now));
        }
        let username = normalize_username(self.username.as_deref());
        check_username(users, &id, username.as_deref())?;
        check_external_id(users, &id, self.external_id.as_deref())?;

        Ok(User {
            image_url: default_image_url(instance_id, &id),
            primary_email_address_id: emails.first().map(|e| e.id.clone()),
            primary_phone_number_id: phones.first().map(|p| p.id.clone()),
            id,
            external_id: self.external_id,
            username,
            first_name: self.first_name,
            last_name: self.last_name,
            email_addresses: emails,
            phone_numbers: phones,
            password_enabled: self.password.is_some(),
            public_metadata: self.public_metadata.unwrap_or_default(),
            private_metadata: self.private_metadata.unwrap_or_default(),
            unsafe_metadata: self.unsafe_metadata.unwrap_or_default(),
            created_at: now,
            updated_at: now,
            last_sign_in_at: None,
            last_active_at: None,
        })
    }
}

impl UpdateUser {
    /// Applies the change to `user`, checking uniqueness against `users`.
    pub(crate) fn apply(
        self,
        user: &mut User,
        users: &[User],
        now: i64,
    ) -> Result<(), EmulatorError> {
        if let Some(first_name) = self.first_name {
            user.first_name = first_name;
        }
        if let Some(last_name) = self.last_name {
            user.last_name = last_name;
        }
        if let Some(username) = self.username {
            // Clerk removes the username for null and for "".
            let username = normalize_username(username.as_deref());
            check_username(users, &user.id, username.as_deref())?;
            user.username = username;
        }
        if let Some(external_id) = self.external_id {
            check_external_id(users, &user.id, external_id.as_deref())?;
            user.external_id = external_id;
        }
        if let Some(id) = self.primary_email_address_id {
            if !user.email_addresses.iter().any(|e| e.id == id) {
                return Err(EmulatorError::invalid_param(
                    "primary_email_address_id",
                    format!("{id} is not an email address of this user."),
                ));
            }
            user.primary_email_address_id = Some(id);
        }
        if let Some(id) = self.primary_phone_number_id {
            if !user.phone_numbers.iter().any(|p| p.id == id) {
                return Err(EmulatorError::invalid_param(
                    "primary_phone_number_id",
                    format!("{id} is not a phone number of this user."),
                ));
            }
            user.primary_phone_number_id = Some(id);
        }
        if self.password.is_some() {
            user.password_enabled = true;
        }
        if let Some(m) = self.public_metadata {
            user.public_metadata = m.unwrap_or_default();
        }
        if let Some(m) = self.private_metadata {
            user.private_metadata = m.unwrap_or_default();
        }
        if let Some(m) = self.unsafe_metadata {
            user.unsafe_metadata = m.unwrap_or_default();
        }
        user.updated_at = now;
        Ok(())
    }
}

fn identification(value: String, now: i64) -> Identification {
    Identification {
        id: new_id("idn"),
        value,
        created_at: now,
        updated_at: now,
    }
}

/// Err(()) if a user other than `self_id` matches `taken`.
fn ensure_unique(users: &[User], self_id: &str, taken: impl Fn(&User) -> bool) -> Result<(), ()> {
    if users.iter().any(|u| u.id != self_id && taken(u)) {
        Err(())
    } else {
        Ok(())
    }
}

fn email_taken() -> EmulatorError {
    EmulatorError::taken(
        "email_address",
        "That email address is taken. Please try another.",
    )
}

fn phone_taken() -> EmulatorError {
    EmulatorError::taken(
        "phone_number",
        "That phone number is taken. Please try another.",
    )
}

fn check_username(
    users: &[User],
    self_id: &str,
    username: Option<&str>,
) -> Result<(), EmulatorError> {
    let Some(name) = username else {
        return Ok(());
    };
    ensure_unique(users, self_id, |u| u.username.as_deref() == Some(name)).map_err(|()| {
        EmulatorError::taken("username", "That username is taken. Please try another.")
    })
}

fn check_external_id(
    users: &[User],
    self_id: &str,
    external_id: Option<&str>,
) -> Result<(), EmulatorError> {
    let Some(ext) = external_id else {
        return Ok(());
    };
    ensure_unique(users, self_id, |u| u.external_id.as_deref() == Some(ext)).map_err(|()| {
        EmulatorError::taken(
            "external_id",
            "That external ID is taken. Please try another.",
        )
    })
}

/// Clerk stores email addresses lower-cased and rejects ones without a
/// local part and a domain.
fn normalize_email(raw: &str) -> Result<String, EmulatorError> {
    let email = raw.trim().to_lowercase();
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(email)
        }
        _ => Err(EmulatorError::invalid_param(
            "email_address",
            "email_address must be a valid email address.",
        )),
    }
}

/// Phone numbers must be E.164: a `+` and 7 to 15 digits.
fn normalize_phone(raw: &str) -> Result<String, EmulatorError> {
    let phone: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let digits = phone.strip_prefix('+').unwrap_or("");
    if (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(phone)
    } else {
        Err(EmulatorError::invalid_param(
            "phone_number",
            "phone_number must be in E.164 format, e.g. +15555550100.",
        ))
    }
}

/// Usernames are case-insensitive in Clerk (stored lower-cased); "" means none.
fn normalize_username(raw: Option<&str>) -> Option<String> {
    raw.map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
}

/// Clerk's default avatar URL encodes `{type:"default", iid, rid}` in base64;
/// the emulator keeps the shape (no image is served for it). Organizations
/// get one too.
pub(crate) fn default_image_url(instance_id: &str, resource_id: &str) -> String {
    let spec = json!({ "type": "default", "iid": instance_id, "rid": resource_id });
    format!(
        "https://img.clerk.com/{}",
        URL_SAFE_NO_PAD.encode(spec.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_null_from_absent() {
        let patch: UpdateUser =
            serde_json::from_str(r#"{"first_name":null,"public_metadata":{"role":"admin"}}"#)
                .unwrap();
        assert_eq!(patch.first_name, Some(None));
        assert_eq!(patch.last_name, None);
        assert_eq!(
            patch.public_metadata,
            Some(Some(json!({"role":"admin"}).as_object().unwrap().clone()))
        );
    }

    #[test]
    fn identifiers_are_normalized_and_checked() {
        assert_eq!(
            normalize_email(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        assert!(normalize_email("no-at-sign").is_err());
        assert!(normalize_email("a@b@c").is_err());
        assert_eq!(normalize_phone("+1 555-555-0100").unwrap(), "+15555550100");
        assert!(normalize_phone("5555550100").is_err());
        assert_eq!(normalize_username(Some("  ")), None);
    }
}
