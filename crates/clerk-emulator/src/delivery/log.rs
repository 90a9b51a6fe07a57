//! The in-memory record of webhook messages and how their delivery went,
//! for tests and the `GET /v1/webhook_deliveries` debug route.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

use super::faults::Fault;

/// Finished records beyond this many are forgotten, oldest first. Pending
/// ones are always kept, so "nothing is pending" stays a reliable signal.
const CAPACITY: usize = 1000;

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not yet delivered; attempts remain.
    Pending,
    /// An attempt got a 2xx answer.
    Delivered,
    /// Every attempt of the retry schedule failed.
    Failed,
}

/// One message (one change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    /// The `svix-id`: the same on every attempt and duplicate.
    pub message_id: String,
    /// The webhook `type`, e.g. `user.created`.
    pub event_type: String,
    pub status: DeliveryStatus,
    /// Attempts made, in Svix's sense: the first plus each retry. A dropped
    /// first attempt counts.
    pub attempts: u32,
    /// HTTP requests actually sent (a duplicate sends one more; a drop none).
    pub sends: u32,
    /// The HTTP status of the latest answer, if any.
    pub last_status: Option<u16>,
    /// Why the latest attempt failed without an answer (connection refused,
    /// timeout, dropped by fault injection), if it did.
    pub last_error: Option<String>,
    /// Faults injected into its first attempt.
    pub faults: Vec<Fault>,
}

/// What one attempt's request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Answered(u16),
    NoAnswer(String),
    Dropped,
}

impl Outcome {
    pub(crate) fn is_success(&self) -> bool {
        matches!(self, Outcome::Answered(status) if (200..300).contains(status))
    }
}

#[derive(Debug, Default)]
pub(crate) struct DeliveryLog(Mutex<VecDeque<DeliveryRecord>>);

impl DeliveryLog {
    pub(crate) fn snapshot(&self) -> Vec<DeliveryRecord> {
        self.lock().iter().cloned().collect()
    }

    pub(crate) fn queued(&self, message_id: &str, event_type: &str) {
        let mut records = self.lock();
        records.push_back(DeliveryRecord {
            message_id: message_id.to_owned(),
            event_type: event_type.to_owned(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            sends: 0,
            last_status: None,
            last_error: None,
            faults: Vec::new(),
        });
        if records.len() > CAPACITY
            && let Some(i) = records
                .iter()
                .position(|r| r.status != DeliveryStatus::Pending)
        {
            records.remove(i);
        }
    }

    pub(crate) fn fault(&self, message_id: &str, fault: Fault) {
        self.update(message_id, |r| r.faults.push(fault));
    }

    /// Records a request's outcome; `new_attempt` is false for a duplicate.
    pub(crate) fn sent(&self, message_id: &str, outcome: &Outcome, new_attempt: bool) {
        self.update(message_id, |r| {
            if new_attempt {
                r.attempts += 1;
            }
            match outcome {
                Outcome::Answered(status) => {
                    r.sends += 1;
                    r.last_status = Some(*status);
                    r.last_error = None;
                }
                Outcome::NoAnswer(error) => {
                    r.sends += 1;
                    r.last_error = Some(error.clone());
                }
                Outcome::Dropped => r.last_error = Some("dropped by fault injection".into()),
            }
        });
    }

    pub(crate) fn finish(&self, message_id: &str, status: DeliveryStatus) {
        self.update(message_id, |r| r.status = status);
    }

    fn update(&self, message_id: &str, change: impl FnOnce(&mut DeliveryRecord)) {
        // Recent messages are the ones still being worked on: search from the back.
        if let Some(record) = self
            .lock()
            .iter_mut()
            .rev()
            .find(|r| r.message_id == message_id)
        {
            change(record);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<DeliveryRecord>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_records_outlive_the_capacity() {
        let log = DeliveryLog::default();
        log.queued("msg_pending", "user.created");
        for i in 0..CAPACITY + 5 {
            let id = format!("msg_{i}");
            log.queued(&id, "user.updated");
            log.sent(&id, &Outcome::Answered(204), true);
            log.finish(&id, DeliveryStatus::Delivered);
        }
        let records = log.snapshot();
        assert!(records.len() <= CAPACITY + 1);
        assert_eq!(records[0].message_id, "msg_pending");
        let last = records.last().unwrap();
        assert_eq!(
            (last.attempts, last.sends, last.last_status),
            (1, 1, Some(204))
        );
    }

    #[test]
    fn outcomes() {
        assert!(Outcome::Answered(204).is_success());
        assert!(!Outcome::Answered(301).is_success());
        assert!(!Outcome::NoAnswer("refused".into()).is_success());
        assert!(!Outcome::Dropped.is_success());
    }
}
