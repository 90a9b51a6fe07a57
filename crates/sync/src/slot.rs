//! A subscription's latest result, shared by its entry and every holder: a lock and one
//! `Notify` (~100 bytes), where a `tokio::sync::watch` channel is ~400 (it keeps eight
//! notifiers). Sessions are woken through their own `Notify`; only waits for a first result
//! use this one.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::encode::Published;

#[derive(Default)]
pub(crate) struct ResultSlot {
    state: Mutex<State>,
    published: Notify,
}

#[derive(Default)]
struct State {
    value: Option<Arc<Published>>,
    /// The entry is gone: nothing will be published any more.
    closed: bool,
}

impl ResultSlot {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn get(&self) -> Option<Arc<Published>> {
        self.lock().value.clone()
    }

    pub fn publish(&self, value: Arc<Published>) {
        self.lock().value = Some(value);
        self.published.notify_waiters();
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.published.notify_waiters();
    }

    /// The first published result; `None` if the entry went away before one was.
    pub async fn first(&self) -> Option<Arc<Published>> {
        loop {
            // Registered before looking, so a publish in between is not missed.
            let notified = self.published.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.lock();
                if let Some(value) = &state.value {
                    return Some(Arc::clone(value));
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager::QueryOutcome;

    #[tokio::test]
    async fn first_waits_for_a_publish_or_a_close() {
        let slot = Arc::new(ResultSlot::default());
        let waiter = tokio::spawn({
            let slot = Arc::clone(&slot);
            async move { slot.first().await.is_some() }
        });
        tokio::task::yield_now().await;
        slot.publish(Arc::new(Published::new(
            QueryOutcome::Value(serde_json::json!(1)),
            false,
        )));
        assert!(waiter.await.unwrap());
        assert!(slot.get().is_some());

        let empty = Arc::new(ResultSlot::default());
        let waiter = tokio::spawn({
            let slot = Arc::clone(&empty);
            async move { slot.first().await.is_none() }
        });
        tokio::task::yield_now().await;
        empty.close();
        assert!(waiter.await.unwrap());
    }
}
