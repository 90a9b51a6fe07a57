//! The queue between a session and its socket, bounded in messages and bytes: a client that
//! stops reading is disconnected with a reason the official client understands, instead of
//! making the server buffer without limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{mpsc, watch};

use crate::protocol::ServerMessage;

/// Close reason for a client that does not keep up. The official client recognizes the
/// prefix and backs off before reconnecting.
pub const OVERLOADED_REASON: &str =
    "SubscriptionsWorkerFullError: the client is not reading its messages fast enough";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    pub code: u16,
    pub reason: String,
}

#[derive(Debug)]
pub struct Overflow;

/// The session's side: queue messages, or ask for the socket to close.
#[derive(Clone)]
pub struct Outbound {
    messages: mpsc::Sender<String>,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    close: Arc<watch::Sender<Option<CloseFrame>>>,
}

/// The socket writer's side.
pub struct OutboundReceiver {
    pub messages: mpsc::Receiver<String>,
    queued_bytes: Arc<AtomicUsize>,
    pub close: watch::Receiver<Option<CloseFrame>>,
}

pub fn outbound(max_messages: usize, max_bytes: usize) -> (Outbound, OutboundReceiver) {
    let (tx, rx) = mpsc::channel(max_messages.max(1));
    let queued = Arc::new(AtomicUsize::new(0));
    let (close_tx, close_rx) = watch::channel(None);
    (
        Outbound {
            messages: tx,
            queued_bytes: Arc::clone(&queued),
            max_bytes,
            close: Arc::new(close_tx),
        },
        OutboundReceiver {
            messages: rx,
            queued_bytes: queued,
            close: close_rx,
        },
    )
}

impl Outbound {
    /// Queues a message; `Err(Overflow)` when the client is too far behind (the caller then
    /// closes the connection).
    pub fn send(&self, message: &ServerMessage) -> Result<(), Overflow> {
        let text = message.to_text();
        let len = text.len();
        if self.queued_bytes.fetch_add(len, Ordering::AcqRel) + len > self.max_bytes {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            return Err(Overflow);
        }
        self.messages.try_send(text).map_err(|_| {
            self.queued_bytes.fetch_sub(len, Ordering::AcqRel);
            Overflow
        })
    }

    /// Asks the writer to close the socket now, ahead of anything still queued.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        self.close.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(frame);
                true
            } else {
                false
            }
        });
    }

    pub fn is_closed(&self) -> bool {
        self.close.borrow().is_some() || self.messages.is_closed()
    }
}

impl OutboundReceiver {
    /// Call after a message left the queue for the socket.
    pub fn sent(&self, message: &str) {
        self.queued_bytes.fetch_sub(message.len(), Ordering::AcqRel);
    }
}
