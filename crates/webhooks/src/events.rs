//! The Clerk webhook event: an envelope (`type`, `timestamp`, …) around `data`,
//! typed for the families Keel syncs and kept as JSON for every other type.
//!
//! Structs ignore unknown fields and take nullable or missing fields as
//! `None`/empty, because Clerk adds fields freely and its own examples differ
//! from its schemas. An unknown `type` is never an error: it becomes
//! [`EventPayload::Other`], so new Clerk events cannot break delivery.

mod deleted;
mod error;
mod ids;
mod organization;
mod session;
mod user;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use deleted::DeletedObject;
pub use error::ParseError;
pub use organization::{MembershipData, OrganizationData, PublicUserData};
pub use session::SessionData;
pub use user::{EmailAddress, UserData, Verification};

/// Envelope timestamps below this are seconds (Clerk's spec examples), at or
/// above it milliseconds (its docs). 10^11 s is the year 5138; 10^11 ms is 1973.
const SECONDS_LIMIT: i64 = 100_000_000_000;

/// One parsed webhook body.
#[derive(Clone, Debug, PartialEq)]
pub struct ClerkEvent {
    /// `data`, typed by `type`.
    pub payload: EventPayload,
    /// `"event"` in every delivery seen; kept as sent.
    pub object: Option<String>,
    /// When Clerk created the event, in milliseconds since the epoch, whether
    /// it was sent in seconds or milliseconds.
    pub timestamp_ms: i64,
    /// `ins_…`; some examples leave it out.
    pub instance_id: Option<String>,
    pub event_attributes: Option<EventAttributes>,
}

/// Context Clerk attaches to an event.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct EventAttributes {
    pub http_request: Option<HttpRequest>,
}

/// The request that caused the event, when a person's request did.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct HttpRequest {
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event's `data`, by its `type`.
#[derive(Clone, Debug, PartialEq)]
pub enum EventPayload {
    UserCreated(UserData),
    UserUpdated(UserData),
    UserDeleted(DeletedObject),
    SessionCreated(SessionData),
    SessionEnded(SessionData),
    SessionRemoved(SessionData),
    SessionRevoked(SessionData),
    SessionPending(SessionData),
    OrganizationCreated(OrganizationData),
    OrganizationUpdated(OrganizationData),
    OrganizationDeleted(DeletedObject),
    OrganizationMembershipCreated(MembershipData),
    OrganizationMembershipUpdated(MembershipData),
    OrganizationMembershipDeleted(MembershipData),
    /// Any other type (`email.created`, `role.*`, billing, types Clerk adds
    /// later), with `data` as sent.
    Other {
        event_type: String,
        data: Value,
    },
}

/// The envelope as sent; `data` waits for `type`, which may come after it.
#[derive(Deserialize)]
#[serde(expecting = "a Clerk webhook event object")]
struct Envelope {
    #[serde(rename = "type")]
    event_type: String,
    object: Option<String>,
    data: Value,
    timestamp: i64,
    instance_id: Option<String>,
    event_attributes: Option<EventAttributes>,
}

impl ClerkEvent {
    /// Parses a webhook body (after its signature was verified on the same bytes).
    pub fn from_slice(body: &[u8]) -> Result<ClerkEvent, ParseError> {
        let envelope: Envelope =
            serde_json::from_slice(body).map_err(|error| ParseError::envelope(&error))?;
        let payload = EventPayload::from_parts(envelope.event_type, envelope.data)?;
        ids::check(&payload)?;
        Ok(ClerkEvent {
            payload,
            object: envelope.object,
            timestamp_ms: to_millis(envelope.timestamp),
            instance_id: envelope.instance_id,
            event_attributes: envelope.event_attributes,
        })
    }

    /// The event's `type`, such as `user.created`.
    pub fn event_type(&self) -> &str {
        self.payload.event_type()
    }

    /// The id of the Clerk object the event is about, for the ordering ledger. For the typed
    /// families it is always present and non-empty (`from_slice` refuses events without).
    pub fn object_id(&self) -> Option<&str> {
        self.payload.object_id()
    }

    /// The object's `updated_at` in milliseconds, for the ordering ledger.
    pub fn updated_at_ms(&self) -> Option<i64> {
        self.payload.updated_at_ms()
    }
}

impl EventPayload {
    fn from_parts(event_type: String, data: Value) -> Result<EventPayload, ParseError> {
        Ok(match event_type.as_str() {
            "user.created" => EventPayload::UserCreated(decode(&event_type, data)?),
            "user.updated" => EventPayload::UserUpdated(decode(&event_type, data)?),
            "user.deleted" => EventPayload::UserDeleted(decode(&event_type, data)?),
            "session.created" => EventPayload::SessionCreated(decode(&event_type, data)?),
            "session.ended" => EventPayload::SessionEnded(decode(&event_type, data)?),
            "session.removed" => EventPayload::SessionRemoved(decode(&event_type, data)?),
            "session.revoked" => EventPayload::SessionRevoked(decode(&event_type, data)?),
            "session.pending" => EventPayload::SessionPending(decode(&event_type, data)?),
            "organization.created" => EventPayload::OrganizationCreated(decode(&event_type, data)?),
            "organization.updated" => EventPayload::OrganizationUpdated(decode(&event_type, data)?),
            "organization.deleted" => EventPayload::OrganizationDeleted(decode(&event_type, data)?),
            "organizationMembership.created" => {
                EventPayload::OrganizationMembershipCreated(decode(&event_type, data)?)
            }
            "organizationMembership.updated" => {
                EventPayload::OrganizationMembershipUpdated(decode(&event_type, data)?)
            }
            "organizationMembership.deleted" => {
                EventPayload::OrganizationMembershipDeleted(decode(&event_type, data)?)
            }
            _ => EventPayload::Other { event_type, data },
        })
    }

    /// The `type` this payload was sent under.
    pub fn event_type(&self) -> &str {
        match self {
            EventPayload::UserCreated(_) => "user.created",
            EventPayload::UserUpdated(_) => "user.updated",
            EventPayload::UserDeleted(_) => "user.deleted",
            EventPayload::SessionCreated(_) => "session.created",
            EventPayload::SessionEnded(_) => "session.ended",
            EventPayload::SessionRemoved(_) => "session.removed",
            EventPayload::SessionRevoked(_) => "session.revoked",
            EventPayload::SessionPending(_) => "session.pending",
            EventPayload::OrganizationCreated(_) => "organization.created",
            EventPayload::OrganizationUpdated(_) => "organization.updated",
            EventPayload::OrganizationDeleted(_) => "organization.deleted",
            EventPayload::OrganizationMembershipCreated(_) => "organizationMembership.created",
            EventPayload::OrganizationMembershipUpdated(_) => "organizationMembership.updated",
            EventPayload::OrganizationMembershipDeleted(_) => "organizationMembership.deleted",
            EventPayload::Other { event_type, .. } => event_type,
        }
    }

    /// `data.id`: the user, session, organization or membership id; for other
    /// types `data.id` when it is a string.
    pub fn object_id(&self) -> Option<&str> {
        match self {
            EventPayload::UserCreated(user) | EventPayload::UserUpdated(user) => Some(&user.id),
            EventPayload::SessionCreated(session)
            | EventPayload::SessionEnded(session)
            | EventPayload::SessionRemoved(session)
            | EventPayload::SessionRevoked(session)
            | EventPayload::SessionPending(session) => Some(&session.id),
            EventPayload::OrganizationCreated(org) | EventPayload::OrganizationUpdated(org) => {
                Some(&org.id)
            }
            EventPayload::OrganizationMembershipCreated(membership)
            | EventPayload::OrganizationMembershipUpdated(membership)
            | EventPayload::OrganizationMembershipDeleted(membership) => Some(&membership.id),
            EventPayload::UserDeleted(deleted) | EventPayload::OrganizationDeleted(deleted) => {
                deleted.id.as_deref()
            }
            EventPayload::Other { data, .. } => data.get("id")?.as_str(),
        }
    }

    /// `data.updated_at` in milliseconds. Deletions carry none: a ledger
    /// should let a deletion win over any update it has not yet applied.
    pub fn updated_at_ms(&self) -> Option<i64> {
        match self {
            EventPayload::UserCreated(user) | EventPayload::UserUpdated(user) => {
                Some(user.updated_at)
            }
            EventPayload::SessionCreated(session)
            | EventPayload::SessionEnded(session)
            | EventPayload::SessionRemoved(session)
            | EventPayload::SessionRevoked(session)
            | EventPayload::SessionPending(session) => Some(session.updated_at),
            EventPayload::OrganizationCreated(org) | EventPayload::OrganizationUpdated(org) => {
                Some(org.updated_at)
            }
            EventPayload::OrganizationMembershipCreated(membership)
            | EventPayload::OrganizationMembershipUpdated(membership)
            | EventPayload::OrganizationMembershipDeleted(membership) => {
                Some(membership.updated_at)
            }
            EventPayload::UserDeleted(_) | EventPayload::OrganizationDeleted(_) => None,
            EventPayload::Other { data, .. } => data.get("updated_at")?.as_i64(),
        }
    }
}

/// Typed `data`, with the failing field's path in the error.
fn decode<T: DeserializeOwned>(event_type: &str, data: Value) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(data).map_err(|error| ParseError::data(event_type, &error))
}

fn to_millis(timestamp: i64) -> i64 {
    if timestamp < SECONDS_LIMIT {
        timestamp.saturating_mul(1000)
    } else {
        timestamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_below_1e11_are_seconds() {
        assert_eq!(to_millis(1_716_883_200), 1_716_883_200_000);
        assert_eq!(to_millis(1_654_012_591_835), 1_654_012_591_835);
        assert_eq!(to_millis(SECONDS_LIMIT - 1), 99_999_999_999_000);
        assert_eq!(to_millis(SECONDS_LIMIT), SECONDS_LIMIT);
        assert_eq!(to_millis(0), 0);
        assert_eq!(to_millis(i64::MIN), i64::MIN);
    }
}
