//! The change feed: every committed change is handed to the registered
//! listeners, in commit order. This is the seam for webhook delivery (Svix-
//! signed `user.*` / `session.*` events); the emulator itself delivers nothing.

use std::sync::{Arc, RwLock};

use serde_json::Value;

/// Which change happened, named like Clerk's webhook event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    UserCreated,
    UserUpdated,
    UserDeleted,
    SessionCreated,
    SessionRevoked,
}

impl ChangeKind {
    /// Clerk's webhook `type`, e.g. `user.created`.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::SessionCreated => "session.created",
            Self::SessionRevoked => "session.revoked",
        }
    }
}

/// One committed change. `data` is what Clerk puts in a webhook's `data`:
/// the UserJSON, `{object:"user", id, deleted:true}`, or the SessionJSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub kind: ChangeKind,
    pub data: Value,
    /// When the change was committed, milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// Receives changes after they are durably stored. Called with the state
/// lock held, so it must return quickly (queue the work, don't do it).
pub trait ChangeListener: Send + Sync + 'static {
    fn on_change(&self, event: &ChangeEvent);
}

/// The simplest listener: forward into a channel (a closed channel is ignored).
impl ChangeListener for tokio::sync::mpsc::UnboundedSender<ChangeEvent> {
    fn on_change(&self, event: &ChangeEvent) {
        let _ = self.send(event.clone());
    }
}

#[derive(Default)]
pub(crate) struct Listeners(RwLock<Vec<Arc<dyn ChangeListener>>>);

impl Listeners {
    pub(crate) fn add(&self, listener: Arc<dyn ChangeListener>) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(listener);
    }

    pub(crate) fn publish(&self, events: &[ChangeEvent]) {
        if events.is_empty() {
            return;
        }
        let listeners = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in events {
            for listener in listeners.iter() {
                listener.on_change(event);
            }
        }
    }
}
