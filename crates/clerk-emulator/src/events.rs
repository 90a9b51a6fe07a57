//! The change feed: every committed change is handed to the registered
//! listeners, in commit order. Webhook delivery ([`crate::delivery`]) is one
//! such listener; tests and tools may add their own.

use std::sync::{Arc, RwLock};

use serde_json::Value;

/// Which change happened, named like Clerk's webhook event types. More may
/// be added (Clerk has more), hence `non_exhaustive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    UserCreated,
    UserUpdated,
    UserDeleted,
    SessionCreated,
    /// Its user was deleted.
    SessionRemoved,
    SessionRevoked,
    /// Signed out (Clerk's sign-out ends the session).
    SessionEnded,
    OrganizationCreated,
    OrganizationUpdated,
    OrganizationDeleted,
    OrganizationMembershipCreated,
    OrganizationMembershipUpdated,
    OrganizationMembershipDeleted,
}

impl ChangeKind {
    /// Clerk's webhook `type`, e.g. `user.created`.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::SessionCreated => "session.created",
            Self::SessionRemoved => "session.removed",
            Self::SessionRevoked => "session.revoked",
            Self::SessionEnded => "session.ended",
            Self::OrganizationCreated => "organization.created",
            Self::OrganizationUpdated => "organization.updated",
            Self::OrganizationDeleted => "organization.deleted",
            Self::OrganizationMembershipCreated => "organizationMembership.created",
            Self::OrganizationMembershipUpdated => "organizationMembership.updated",
            Self::OrganizationMembershipDeleted => "organizationMembership.deleted",
        }
    }
}

/// One committed change. `data` is what Clerk puts in a webhook's `data`:
/// - `user.created|updated`: the UserJSON; `user.deleted`: `{object:"user", id, deleted:true}`;
/// - `session.*`: the SessionJSON with the UserJSON embedded as `user`;
/// - `organization.created|updated`: the OrganizationJSON;
///   `organization.deleted`: `{object:"organization", id, slug, deleted:true}`;
/// - `organizationMembership.*`: the OrganizationMembershipJSON (as it was,
///   for `deleted`), with `organization` and `public_user_data` embedded.
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
