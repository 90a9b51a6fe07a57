//! Live queries over the Convex WebSocket sync protocol: the message types, the per-connection
//! state machine, the subscription manager that re-runs queries whose reads a commit touched,
//! and the bounded outbound queue. Transport-agnostic: the server crate adapts a WebSocket to
//! [`ClientSocket`] and hands it to [`SyncService::run`].

mod encode;
mod http_answer;
pub mod manager;
mod outbound;
pub mod protocol;
mod protocol_error;
mod readindex;
mod session;
mod slot;
mod socket;

pub use encode::Published;
pub use http_answer::HttpAnswer;
pub use manager::{IdentityKey, QueryOutcome, Subscription, SubscriptionKey, SubscriptionManager};
pub use outbound::OVERLOADED_REASON;
pub use protocol_error::{ProtocolError, ProtocolErrorCode};
pub use session::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_QUERIES, DEFAULT_MAX_TOTAL_QUEUED_BYTES,
    DEFAULT_TRANSITION_CHUNK_BYTES, IDENTITY_EXPIRED, SyncConfig, SyncService,
};
pub use socket::{ClientSocket, OutFrame};
