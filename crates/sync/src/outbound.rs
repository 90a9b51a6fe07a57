//! The queue between a session and its socket, bounded in messages and bytes: a client that
//! stops reading is disconnected with a reason the official client understands, instead of
//! making the server buffer without limit.
//!
//! The connection's own task both fills and drains it (no channel, no second task); tasks
//! working beside the session (actions) push into it through a handle that wakes the
//! connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use crate::protocol::ServerMessage;

/// Close reason for a client that does not keep up. The official client recognizes the
/// prefix and backs off before reconnecting.
pub const OVERLOADED_REASON: &str =
    "SubscriptionsWorkerFullError: the client is not reading its messages fast enough";

#[derive(Debug)]
pub struct Overflow;

/// The bytes every connection's queue holds together, against a limit: many slow clients
/// cannot pin memory without bound, each under its own limit.
#[derive(Clone)]
pub(crate) struct Budget {
    used: Arc<AtomicUsize>,
    max: usize,
}

impl Budget {
    pub fn new(used: Arc<AtomicUsize>, max: usize) -> Self {
        Budget { used, max }
    }

    #[cfg(test)]
    fn unlimited() -> Self {
        Budget::new(Arc::default(), usize::MAX)
    }

    fn exhausted_by(&self, bytes: usize) -> bool {
        self.used.load(Ordering::Relaxed).saturating_add(bytes) > self.max
    }
}

#[derive(Clone)]
pub(crate) struct Outbound {
    queue: Arc<Queue>,
    /// Pushes from another task wake the connection; its own pushes are written when its loop
    /// comes round, so they skip the wake-up.
    wakes: bool,
}

struct Queue {
    state: Mutex<State>,
    /// A push from another task overflowed: the connection closes as overloaded. Checked on
    /// every turn of the session's loop, so a client flooding requests is cut off promptly.
    overflowed: AtomicBool,
    wake: Notify,
    max_messages: usize,
    max_bytes: usize,
    budget: Budget,
}

#[derive(Default)]
struct State {
    frames: VecDeque<Bytes>,
    bytes: usize,
}

impl Outbound {
    pub fn new(max_messages: usize, max_bytes: usize, budget: Budget) -> Self {
        Outbound {
            queue: Arc::new(Queue {
                state: Mutex::new(State::default()),
                overflowed: AtomicBool::new(false),
                wake: Notify::new(),
                max_messages: max_messages.max(1),
                max_bytes,
                budget,
            }),
            wakes: false,
        }
    }

    /// A handle for another task.
    pub fn for_other_task(&self) -> Outbound {
        Outbound {
            queue: Arc::clone(&self.queue),
            wakes: true,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.queue
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message; `Err(Overflow)` when the client is too far behind (the connection
    /// then closes).
    pub fn send(&self, message: &ServerMessage) -> Result<(), Overflow> {
        self.send_frame(Bytes::from(message.to_text()))
    }

    /// Queues an encoded message.
    pub fn send_frame(&self, frame: Bytes) -> Result<(), Overflow> {
        let mut state = self.state();
        // Over the shared budget, a connection that is keeping up (nothing queued) may still
        // queue; one that is behind is the one to let go.
        let fits = state.frames.len() < self.queue.max_messages
            && state.bytes + frame.len() <= self.queue.max_bytes
            && (state.frames.is_empty() || !self.queue.budget.exhausted_by(frame.len()));
        if fits {
            state.bytes += frame.len();
            self.queue
                .budget
                .used
                .fetch_add(frame.len(), Ordering::Relaxed);
            state.frames.push_back(frame);
        } else if self.wakes {
            self.queue.overflowed.store(true, Ordering::Release);
        }
        drop(state);
        if self.wakes {
            self.queue.wake.notify_one();
        }
        if fits { Ok(()) } else { Err(Overflow) }
    }

    /// Resolves when another task pushed or overflowed.
    pub fn woken(&self) -> Notified<'_> {
        self.queue.wake.notified()
    }

    pub fn overflowed(&self) -> bool {
        self.queue.overflowed.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.state().frames.is_empty()
    }

    /// The next frame for the socket.
    pub fn pop(&self) -> Option<Bytes> {
        let mut state = self.state();
        let frame = state.frames.pop_front()?;
        state.bytes -= frame.len();
        self.queue
            .budget
            .used
            .fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }

    /// Drops everything queued (the client is not reading it anyway).
    pub fn clear(&self) {
        let mut state = self.state();
        state.frames.clear();
        self.queue
            .budget
            .used
            .fetch_sub(std::mem::take(&mut state.bytes), Ordering::Relaxed);
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.budget.used.fetch_sub(state.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_messages_and_bytes() {
        let out = Outbound::new(2, 10, Budget::unlimited());
        assert!(out.send_frame(Bytes::from_static(b"12345")).is_ok());
        assert!(
            out.send_frame(Bytes::from_static(b"123456")).is_err(),
            "bytes"
        );
        assert!(out.send_frame(Bytes::from_static(b"12345")).is_ok());
        assert!(
            out.send_frame(Bytes::from_static(b"1")).is_err(),
            "messages"
        );
        assert!(
            !out.overflowed(),
            "the session's own overflow is its to handle"
        );
        assert_eq!(out.pop().as_deref(), Some(&b"12345"[..]));
        let other = out.for_other_task();
        assert!(other.send_frame(Bytes::from_static(b"123456")).is_err());
        assert!(out.overflowed());
        assert!(out.send_frame(Bytes::from_static(b"12345")).is_ok());
        out.clear();
        assert!(out.is_empty());
    }

    #[test]
    fn every_queue_together_stays_within_the_budget() {
        let used = Arc::new(AtomicUsize::new(0));
        let budget = Budget::new(Arc::clone(&used), 10);
        let behind = Outbound::new(100, 100, budget.clone());
        let keeping_up = Outbound::new(100, 100, budget);
        assert!(behind.send_frame(Bytes::from_static(b"12345678")).is_ok());
        assert!(
            behind.send_frame(Bytes::from_static(b"123")).is_err(),
            "a queue that is behind may not take the budget past its limit"
        );
        assert!(
            keeping_up.send_frame(Bytes::from_static(b"123")).is_ok(),
            "an empty queue still takes a frame"
        );
        assert_eq!(used.load(Ordering::Relaxed), 11);
        keeping_up.pop();
        behind.clear();
        assert_eq!(used.load(Ordering::Relaxed), 0);
        assert!(behind.send_frame(Bytes::from_static(b"1234")).is_ok());
        drop(behind);
        assert_eq!(
            used.load(Ordering::Relaxed),
            0,
            "a closed connection returns its share"
        );
    }
}
