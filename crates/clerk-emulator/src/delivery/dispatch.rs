//! The delivery loop. First attempts go out one at a time in change order
//! (with faults applied); a message whose first attempt fails gets a task of
//! its own that retries on the schedule, so a failing message never holds
//! up later ones.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use tokio::sync::mpsc::UnboundedReceiver;

use super::faults::{Fault, Faults};
use super::log::{DeliveryLog, DeliveryStatus, Outcome};
use super::message::Message;
use super::sender::Sender;

/// How long a message held back for reordering waits for a next one when
/// the schedule is empty.
const DEFAULT_HOLD: Duration = Duration::from_secs(1);

pub(crate) struct Dispatcher {
    pub sender: Arc<Sender>,
    pub log: Arc<DeliveryLog>,
    pub schedule: Arc<[Duration]>,
    pub faults: Faults,
}

/// A message and the faults rolled for its first attempt.
struct Planned {
    message: Message,
    faults: Vec<Fault>,
}

impl Dispatcher {
    pub(crate) async fn run(self, mut queue: UnboundedReceiver<Message>) {
        let mut rng: StdRng = self.faults.rng();
        // A held message waits no longer than a first retry would.
        let hold = self.schedule.first().copied().unwrap_or(DEFAULT_HOLD);
        let mut held: Option<Planned> = None;
        loop {
            let next = if held.is_some() {
                match tokio::time::timeout(hold, queue.recv()).await {
                    Ok(next) => next,
                    Err(_) => {
                        if let Some(planned) = held.take() {
                            self.first_attempt(planned).await;
                        }
                        continue;
                    }
                }
            } else {
                queue.recv().await
            };
            let Some(message) = next else { break };
            let mut planned = Planned {
                faults: self.faults.roll(&mut rng),
                message,
            };
            // One message is held at a time; the next one overtakes it.
            if planned.faults.contains(&Fault::Reorder) && held.is_none() {
                held = Some(planned);
                continue;
            }
            planned.faults.retain(|f| *f != Fault::Reorder);
            self.first_attempt(planned).await;
            if let Some(overtaken) = held.take() {
                self.first_attempt(overtaken).await;
            }
        }
        // The emulator is gone: still deliver what was held.
        if let Some(planned) = held.take() {
            self.first_attempt(planned).await;
        }
    }

    async fn first_attempt(&self, planned: Planned) {
        let Planned {
            message,
            mut faults,
        } = planned;
        // A dropped attempt sends nothing, so nothing can be duplicated.
        if faults.contains(&Fault::Drop) {
            faults.retain(|f| *f != Fault::Duplicate);
        }
        for fault in &faults {
            self.log.fault(&message.id, *fault);
        }
        let delivered = if faults.contains(&Fault::Drop) {
            self.log.sent(&message.id, &Outcome::Dropped, true);
            false
        } else {
            let mut delivered = attempt(&self.sender, &self.log, &message, true).await;
            if faults.contains(&Fault::Duplicate) {
                delivered |= attempt(&self.sender, &self.log, &message, false).await;
            }
            delivered
        };
        if delivered {
            self.log.finish(&message.id, DeliveryStatus::Delivered);
        } else {
            let retry = Retry {
                sender: Arc::clone(&self.sender),
                log: Arc::clone(&self.log),
                schedule: Arc::clone(&self.schedule),
            };
            tokio::spawn(retry.run(message));
        }
    }
}

/// The retries of one message, after its first attempt failed.
struct Retry {
    sender: Arc<Sender>,
    log: Arc<DeliveryLog>,
    schedule: Arc<[Duration]>,
}

impl Retry {
    async fn run(self, message: Message) {
        for delay in self.schedule.iter() {
            tokio::time::sleep(*delay).await;
            if attempt(&self.sender, &self.log, &message, true).await {
                self.log.finish(&message.id, DeliveryStatus::Delivered);
                return;
            }
        }
        tracing::warn!(
            message_id = %message.id,
            event_type = message.event_type,
            "webhook delivery failed after every retry"
        );
        self.log.finish(&message.id, DeliveryStatus::Failed);
    }
}

async fn attempt(sender: &Sender, log: &DeliveryLog, message: &Message, new_attempt: bool) -> bool {
    let outcome = sender.send(message).await;
    log.sent(&message.id, &outcome, new_attempt);
    if !outcome.is_success() {
        tracing::debug!(
            message_id = %message.id,
            event_type = message.event_type,
            ?outcome,
            "webhook attempt failed"
        );
    }
    outcome.is_success()
}
