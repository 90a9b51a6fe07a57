//! A session as stored, and its rendering as Clerk's SessionJSON.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids::new_id;
use crate::user::User;

/// Clerk's defaults: a session expires after 7 days and is abandoned after 30.
const EXPIRE_AFTER_MS: i64 = 7 * 24 * 3600 * 1000;
const ABANDON_AFTER_MS: i64 = 30 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SessionStatus {
    Active,
    Revoked,
    /// Signed out.
    Ended,
    /// Its user was deleted.
    Removed,
}

impl SessionStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Ended => "ended",
            Self::Removed => "removed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Session {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub status: SessionStatus,
    /// The active organization (set at creation); tokens then carry the `o`
    /// claim. Cleared when the membership or the organization goes away.
    #[serde(default)]
    pub last_active_organization_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_active_at: i64,
    pub expire_at: i64,
    pub abandon_at: i64,
}

impl Session {
    pub(crate) fn new(user_id: &str, now: i64) -> Self {
        Self {
            id: new_id("sess"),
            user_id: user_id.to_owned(),
            // Each Backend-API-created session gets its own client, as a fresh device would.
            client_id: new_id("client"),
            status: SessionStatus::Active,
            last_active_organization_id: None,
            created_at: now,
            updated_at: now,
            last_active_at: now,
            expire_at: now + EXPIRE_AFTER_MS,
            abandon_at: now + ABANDON_AFTER_MS,
        }
    }

    /// Whether tokens may still be minted for it.
    pub(crate) fn is_active(&self, now: i64) -> bool {
        match self.status {
            SessionStatus::Active => now < self.expire_at,
            SessionStatus::Revoked | SessionStatus::Ended | SessionStatus::Removed => false,
        }
    }

    /// The status Clerk would report now (an active session past `expire_at` is expired).
    fn status_at(&self, now: i64) -> &'static str {
        match self.status {
            SessionStatus::Active if now >= self.expire_at => "expired",
            status => status.as_str(),
        }
    }

    /// Clerk's SessionJSON (Backend API `Session` schema).
    pub(crate) fn to_json(&self, now: i64) -> Value {
        json!({
            "object": "session",
            "id": self.id,
            "user_id": self.user_id,
            "client_id": self.client_id,
            "actor": null,
            "status": self.status_at(now),
            "last_active_organization_id": self.last_active_organization_id,
            "last_active_at": self.last_active_at,
            "expire_at": self.expire_at,
            "abandon_at": self.abandon_at,
            "updated_at": self.updated_at,
            "created_at": self.created_at,
        })
    }

    /// What Clerk sends in `session.*` webhooks: the SessionJSON with the
    /// session's UserJSON embedded as `user`.
    pub(crate) fn to_event_json(&self, user: &User, now: i64) -> Value {
        let mut json = self.to_json(now);
        json["user"] = user.to_json();
        json
    }
}
