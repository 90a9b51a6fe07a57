//! One webhook message: a change wrapped in Clerk's event envelope,
//! serialized once so every attempt sends (and signs) the same bytes.

use axum::body::Bytes;
use serde_json::json;

use crate::events::ChangeEvent;
use crate::ids::new_id;

/// Clerk reports the request that caused the change; Backend API calls to
/// the emulator come from this machine.
const CLIENT_IP: &str = "127.0.0.1";
const USER_AGENT: &str = "keel-clerk-emulator";

#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// `msg_…`, the `svix-id`.
    pub id: String,
    pub event_type: &'static str,
    pub body: Bytes,
}

impl Message {
    pub(crate) fn new(event: &ChangeEvent, instance_id: &str) -> Self {
        let event_type = event.kind.event_type();
        let envelope = json!({
            "data": event.data,
            "object": "event",
            "type": event_type,
            "timestamp": event.timestamp_ms,
            "instance_id": instance_id,
            "event_attributes": {
                "http_request": { "client_ip": CLIENT_IP, "user_agent": USER_AGENT },
            },
        });
        Self {
            id: new_id("msg"),
            event_type,
            body: Bytes::from(envelope.to_string()),
        }
    }
}
