//! A subscription's recent results, shared by its entry and every holder: a lock and one
//! `Notify` (~100 bytes), where a `tokio::sync::watch` channel is ~400 (it keeps eight
//! notifiers). Sessions are woken through their own `Notify`; only waits for a first result
//! use this one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use keel_values::Ts;

use tokio::sync::Notify;

use crate::encode::Published;

#[derive(Default)]
pub(crate) struct ResultSlot {
    state: Mutex<State>,
    published: Notify,
}

/// Results kept at most: past it the oldest goes even if the frontier has not passed its
/// successor (a subscription re-running faster than the frontier can move).
const MAX_HISTORY: usize = 8;

#[derive(Default)]
struct State {
    /// Published results, oldest first, each holding from its [`Published::current_at`].
    /// One is kept until the frontier reaches the next: until then it is what holds at the
    /// frontier, and a session that has not sent it yet sends it rather than a newer one.
    history: VecDeque<Arc<Published>>,
    /// The entry is gone: nothing will be published any more.
    closed: bool,
}

impl ResultSlot {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest result.
    pub fn get(&self) -> Option<Arc<Published>> {
        self.lock().history.back().cloned()
    }

    /// The latest result that holds at `ts`, and whether a newer one is waiting for the
    /// frontier to reach it.
    pub fn get_at(&self, ts: Ts) -> (Option<Arc<Published>>, bool) {
        let state = self.lock();
        let held = state.history.iter().rposition(|p| p.current_at() <= ts);
        let newer = held.map_or(!state.history.is_empty(), |at| at + 1 < state.history.len());
        (held.map(|at| Arc::clone(&state.history[at])), newer)
    }

    /// Adds a result; `frontier` is where the frontier is now (older results it made
    /// unreachable are dropped).
    pub fn publish(&self, value: Arc<Published>, frontier: Ts) {
        let mut state = self.lock();
        state.history.push_back(value);
        while state.history.len() > MAX_HISTORY
            || state
                .history
                .get(1)
                .is_some_and(|next| next.current_at() <= frontier)
        {
            state.history.pop_front();
        }
        drop(state);
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
                if let Some(value) = state.history.back() {
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
        slot.publish(
            Arc::new(Published::new(
                QueryOutcome::value(serde_json::json!(1)),
                false,
            )),
            Ts::ZERO,
        );
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

    #[test]
    fn a_result_is_kept_until_the_frontier_reaches_the_next() {
        let slot = ResultSlot::default();
        let at = |ts: u64, value: i64| {
            Arc::new(
                Published::new(QueryOutcome::value(serde_json::json!(value)), false)
                    .with_current_at(Ts(ts)),
            )
        };
        let value = |p: Option<Arc<Published>>| {
            p.unwrap()
                .outcome()
                .result
                .as_ref()
                .unwrap()
                .as_i64()
                .unwrap()
        };
        slot.publish(at(10, 1), Ts(10));
        slot.publish(at(20, 2), Ts(12));
        let (held, newer) = slot.get_at(Ts(15));
        assert_eq!((value(held), newer), (1, true), "20 is not reached at 15");
        let (held, newer) = slot.get_at(Ts(20));
        assert_eq!((value(held), newer), (2, false));
        slot.publish(at(30, 3), Ts(21));
        let (held, newer) = slot.get_at(Ts(15));
        assert!(
            held.is_none() && newer,
            "the frontier passed 20: 10's result is gone"
        );
        assert_eq!(value(slot.get()), 3);
    }
}
