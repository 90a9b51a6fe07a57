//! keel-webhooks: the pure half of Clerk sync. It checks that a webhook really
//! came from Clerk (Svix / Standard Webhooks signatures) and turns its body into
//! typed Clerk events. It knows nothing of storage or HTTP frameworks: the
//! server hands it header values, the raw body bytes and the current time.
//!
//! ```
//! use keel_webhooks::{ClerkEvent, EventPayload, WebhookSecrets};
//!
//! let secrets = WebhookSecrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let body = br#"{"type":"user.deleted","object":"event","timestamp":1716883200,
//!                 "data":{"object":"user","id":"user_1","deleted":true}}"#;
//! // What the sender does (the emulator, or a test):
//! let signature = secrets.sign("msg_1", 1716883200, body);
//! let headers = [
//!     ("svix-id", "msg_1"),
//!     ("svix-timestamp", "1716883200"),
//!     ("svix-signature", signature.as_str()),
//! ];
//! // What the endpoint does, on the raw bytes, before parsing them:
//! let delivery = secrets.verify(&headers, body, 1716883250).unwrap();
//! assert_eq!(delivery.id, "msg_1");
//! let event = ClerkEvent::from_slice(body).unwrap();
//! assert_eq!(event.event_type(), "user.deleted");
//! assert!(matches!(event.payload, EventPayload::UserDeleted(_)));
//! assert_eq!(event.timestamp_ms, 1_716_883_200_000);
//! ```

mod events;
mod headers;
mod lenient;
mod secrets;
mod signature;

pub use events::{
    ClerkEvent, DeletedObject, EmailAddress, EventAttributes, EventPayload, HttpRequest,
    MembershipData, OrganizationData, ParseError, PublicUserData, SessionData, UserData,
    Verification,
};
pub use headers::{HeaderLookup, WebhookHeader};
pub use secrets::{SecretError, WebhookSecrets};
pub use signature::{SignatureError, TOLERANCE_SECS, VerifiedDelivery};
