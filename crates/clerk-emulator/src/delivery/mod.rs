//! Webhook delivery, as Svix delivers Clerk's webhooks: every committed
//! change becomes one message (`svix-id` `msg_…`, Clerk's event envelope,
//! serialized once) POSTed to one endpoint with `svix-id`,
//! `svix-timestamp` and `svix-signature` headers, the signature made per
//! attempt over the exact bytes sent.
//!
//! Success is any 2xx within 15 s. Anything else (another status, a
//! timeout, a refused connection) is retried after each delay of the retry
//! schedule in turn; when the schedule is exhausted the message is marked
//! failed. The Backend API never waits for delivery: a change is queued as
//! it commits and sent in the background.
//!
//! [`Faults`] make first attempts misbehave (drop, duplicate, reorder) so a
//! receiver's idempotency and reconciliation can be tested.

mod dispatch;
mod faults;
mod log;
mod message;
mod sender;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use keel_webhooks::WebhookSecrets;
use tokio::sync::mpsc;

use crate::error::EmulatorError;
use crate::events::{ChangeEvent, ChangeListener};
use dispatch::Dispatcher;
pub use faults::{Fault, Faults, FaultsError};
pub(crate) use log::DeliveryLog;
pub use log::{DeliveryRecord, DeliveryStatus};
use message::Message;
pub use sender::ATTEMPT_TIMEOUT;

/// Svix's schedule shortened for development: a failing local endpoint
/// catches up within two minutes instead of hours.
pub const DEVELOPMENT_RETRY_SCHEDULE: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
];

/// The schedule Svix uses for Clerk: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
pub const SVIX_RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// Where and how to deliver.
#[derive(Clone)]
pub struct DeliveryConfig {
    /// The endpoint's URL (http or https).
    pub endpoint: String,
    /// A `CLERK_WEBHOOK_SECRET` value: one or more `whsec_…` secrets,
    /// whitespace-separated; the first one signs.
    pub secret: String,
    /// Delays before the 2nd, 3rd … attempt; its length is the number of retries.
    pub retry_schedule: Vec<Duration>,
    pub faults: Faults,
}

impl DeliveryConfig {
    /// The development schedule and no faults.
    pub fn new(endpoint: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            secret: secret.into(),
            retry_schedule: DEVELOPMENT_RETRY_SCHEDULE.to_vec(),
            faults: Faults::default(),
        }
    }
}

/// Hides the secret.
impl fmt::Debug for DeliveryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryConfig")
            .field("endpoint", &self.endpoint)
            .field("secret", &"[redacted]")
            .field("retry_schedule", &self.retry_schedule)
            .field("faults", &self.faults)
            .finish()
    }
}

/// Checks `config` and starts the delivery task on the current Tokio
/// runtime. The returned listener queues each change; when it is dropped
/// (with the emulator) the task delivers what is queued and ends.
pub(crate) fn start(
    instance_id: &str,
    config: DeliveryConfig,
) -> Result<(Arc<dyn ChangeListener>, Arc<DeliveryLog>), EmulatorError> {
    let invalid = |what: String| EmulatorError::Config(format!("webhook delivery: {what}"));
    let endpoint = reqwest::Url::parse(&config.endpoint)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| invalid(format!("`{}` is not an http(s) URL", config.endpoint)))?;
    let secrets = WebhookSecrets::parse(&config.secret).map_err(|e| invalid(e.to_string()))?;
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| invalid("must be started inside a Tokio runtime".into()))?;
    let sender = sender::Sender::new(endpoint, secrets)
        .map_err(|e| invalid(format!("cannot build the HTTP client: {e}")))?;

    let log = Arc::new(DeliveryLog::default());
    let (queue, receiver) = mpsc::unbounded_channel();
    let dispatcher = Dispatcher {
        sender: Arc::new(sender),
        log: Arc::clone(&log),
        schedule: config.retry_schedule.into(),
        faults: config.faults,
    };
    runtime.spawn(dispatcher.run(receiver));
    let listener = Queue {
        queue,
        log: Arc::clone(&log),
        instance_id: instance_id.to_owned(),
    };
    Ok((Arc::new(listener), log))
}

/// The change listener: builds the message and queues it, no I/O (it runs
/// with the state lock held).
struct Queue {
    queue: mpsc::UnboundedSender<Message>,
    log: Arc<DeliveryLog>,
    instance_id: String,
}

impl ChangeListener for Queue {
    fn on_change(&self, event: &ChangeEvent) {
        let message = Message::new(event, &self.instance_id);
        // Logged before it is queued, so a finished API call's message is
        // already visible (as pending) in the log.
        self.log.queued(&message.id, message.event_type);
        if let Err(unsent) = self.queue.send(message) {
            tracing::warn!("webhook delivery task has stopped; change not delivered");
            self.log.finish(&unsent.0.id, DeliveryStatus::Failed);
        }
    }
}
