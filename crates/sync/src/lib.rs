//! Live queries over the Convex WebSocket sync protocol: the message types, the per-connection
//! state machine, the subscription manager that re-runs queries whose reads a commit touched,
//! and the bounded outbound queue. Transport-agnostic: the server crate bridges a WebSocket to
//! [`SyncService::run`].

mod http_answer;
pub mod manager;
pub mod outbound;
pub mod protocol;
mod session;

pub use http_answer::HttpAnswer;
pub use manager::{QueryOutcome, Subscription, SubscriptionKey, SubscriptionManager};
pub use outbound::{OVERLOADED_REASON, Outbound, OutboundReceiver, outbound};
pub use session::{IDENTITY_EXPIRED, SyncConfig, SyncService};
