//! One client connection: hyper's HTTP/1 server over a socket that enforces Keel's
//! connection deadlines (`io`), with per-request hooks (`request`) that tell the socket what
//! the connection is doing and bound the time a request body may take.
//!
//! hyper offers one deadline, `header_read_timeout`, which runs from the moment it waits for
//! a request until the request's headers are in: idle time between keep-alive requests and a
//! slow head count alike. Keel wants a short limit on a head once it starts and a longer one
//! on an idle connection, as Go's `ReadHeaderTimeout` and `IdleTimeout` do, so it keeps its
//! own clock on the socket and leaves hyper's off.

mod io;
mod request;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use hyper_util::rt::TokioIo;
use keel_metrics::Metrics;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};

pub(crate) use request::BodyTimedOut;

use crate::HttpLimits;

/// Serves one accepted connection on its own task. `slot` is its place under
/// `KEEL_MAX_CONNECTIONS`, held by the socket so a WebSocket keeps it after the upgrade.
/// `closing` changes when the server shuts down; the task holds it until it ends, so the
/// server can wait for every connection.
pub(crate) fn spawn(
    tcp: TcpStream,
    slot: OwnedSemaphorePermit,
    router: Router,
    limits: HttpLimits,
    metrics: Metrics,
    mut closing: watch::Receiver<()>,
) {
    let state = Arc::new(ConnState::default());
    let io = io::ConnIo::new(tcp, slot, Arc::clone(&state), limits);
    let service = request::ConnService::new(router, state, limits.body_timeout, metrics);
    tokio::spawn(async move {
        let mut builder = hyper::server::conn::http1::Builder::new();
        // Keel's own deadlines apply (see `io`); hyper's would also end idle connections.
        builder.header_read_timeout(None);
        let connection = builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            _ = closing.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(err) = result {
            tracing::debug!(%err, "connection ended");
        }
        drop(closing);
    });
}

/// What the connection is doing, shared by the socket and the request hooks (all on the
/// connection's task until an upgrade hands the socket to a WebSocket task).
#[derive(Default)]
pub(crate) struct ConnState {
    /// `requests << 2 | phase`: a request count, so that the socket notices a new wait even
    /// when it did not see the request in between.
    word: AtomicU64,
    /// The current request's body has not been read to its end.
    unread_body: AtomicBool,
}

/// The connection waits for its first request (the header deadline runs from the accept).
pub(crate) const OPENED: u64 = 0;
/// A request is being served: no connection deadline.
pub(crate) const BUSY: u64 = 1;
/// A response was sent; the connection waits for the next request (the idle deadline).
pub(crate) const IDLE: u64 = 2;
/// The connection is a WebSocket now: HTTP deadlines no longer apply.
pub(crate) const UPGRADED: u64 = 3;

impl ConnState {
    pub(crate) fn word(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    pub(crate) fn phase(word: u64) -> u64 {
        word & 3
    }

    fn set_phase(&self, requests: u64, phase: u64) {
        self.word.store(requests << 2 | phase, Ordering::Release);
    }

    fn request_started(&self, has_body: bool) {
        self.unread_body.store(has_body, Ordering::Relaxed);
        self.set_phase((self.word() >> 2) + 1, BUSY);
    }

    fn response_done(&self) {
        let word = self.word();
        if Self::phase(word) == BUSY {
            self.set_phase(word >> 2, IDLE);
        }
    }

    fn upgraded(&self) {
        self.set_phase(self.word() >> 2, UPGRADED);
    }

    fn body_read(&self) {
        self.unread_body.store(false, Ordering::Relaxed);
    }

    pub(crate) fn body_unread(&self) -> bool {
        self.unread_body.load(Ordering::Relaxed)
    }
}
