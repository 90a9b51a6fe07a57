//! The client socket with Keel's connection deadlines and a lingering close.
//!
//! - While the connection waits for a request, its reads have a deadline: the header timeout
//!   from the accept for the first request, the idle timeout after a response, and the header
//!   timeout again once the next request's first bytes arrive. A read past the deadline fails
//!   with `TimedOut`, and hyper closes the connection. The idle wait is armed when the
//!   response is written (hyper does not read again until the client sends something), with
//!   one timer per connection that is only moved when it must fire sooner.
//! - While a request is served, or once the connection is a WebSocket, reads are plain.
//! - Closing after a request whose body was not read to its end (a 413, a 408, a refusal
//!   before reading) first reads and discards what the client still sends, for a bounded time
//!   and size, as nginx's lingering close does: closing a socket with unread input sends a
//!   reset, and a client still writing its body then fails with EPIPE/ECONNRESET before it
//!   reads the answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::{BUSY, ConnState, IDLE, OPENED, UPGRADED};
use crate::HttpLimits;

/// The longest a closing connection reads and discards what its client still sends.
const LINGER_TIME: Duration = Duration::from_secs(5);
/// The most it discards (on loopback 32 MiB take ~10 ms; a client sending more is cut off).
const LINGER_BYTES: usize = 32 * 1024 * 1024;

pub(super) struct ConnIo {
    tcp: TcpStream,
    state: Arc<ConnState>,
    limits: HttpLimits,
    /// The state word the deadline below was set for.
    seen: u64,
    /// When reads must have delivered the awaited request head, while waiting for one.
    deadline: Instant,
    /// Bytes of the next request have arrived since the connection went idle.
    head_started: bool,
    /// One timer for the connection's deadlines, made on first need and dropped on upgrade.
    timer: Option<Pin<Box<Sleep>>>,
    write_shut: bool,
    /// Until when, and how much, a closing connection has read and discarded.
    linger: Option<(Instant, usize)>,
    /// Its place under `KEEL_MAX_CONNECTIONS`, freed when the socket is dropped.
    _slot: OwnedSemaphorePermit,
}

impl ConnIo {
    pub(super) fn new(
        tcp: TcpStream,
        slot: OwnedSemaphorePermit,
        state: Arc<ConnState>,
        limits: HttpLimits,
    ) -> Self {
        ConnIo {
            tcp,
            seen: state.word(),
            state,
            deadline: Instant::now() + limits.header_timeout,
            limits,
            head_started: false,
            timer: None,
            write_shut: false,
            linger: None,
            _slot: slot,
        }
    }

    /// Notices what the request hooks changed since the last call; returns the phase.
    fn observe(&mut self) -> u64 {
        let word = self.state.word();
        if word != self.seen {
            self.seen = word;
            self.head_started = false;
            match ConnState::phase(word) {
                IDLE => self.deadline = Instant::now() + self.limits.idle_timeout,
                // A WebSocket reads through here for its whole life: free the timer.
                UPGRADED => self.timer = None,
                _ => {}
            }
        }
        ConnState::phase(word)
    }

    /// Makes sure the task is woken by `deadline` at the latest. The timer is only moved
    /// earlier or re-armed once it has fired, so a busy keep-alive connection, whose every
    /// response pushes the deadline later, does not reset it per request: when it fires
    /// early, the next read re-arms it for the deadline in force.
    fn arm(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.is_elapsed() || timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx)
    }

    /// Whether `deadline` has passed; arranges a wake-up at it otherwise.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        // Twice at most: a timer that fired for an earlier deadline is re-armed once.
        for _ in 0..2 {
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            if self.arm(cx, deadline).is_pending() {
                return Poll::Pending;
            }
        }
        Poll::Ready(())
    }

    /// After a write: a response just finished starts the idle wait, which needs a wake-up
    /// even if hyper does not read again until the client sends something.
    fn after_write(&mut self, cx: &mut Context<'_>) {
        if self.observe() == IDLE {
            let deadline = self.deadline;
            let _ = self.arm(cx, deadline);
        }
    }

    /// A read while waiting for a request head: fails once the deadline has passed.
    fn poll_read_waiting(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        phase: u64,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if phase == IDLE && !self.head_started && buf.filled().len() > before {
                    self.head_started = true;
                    self.deadline = Instant::now() + self.limits.header_timeout;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => {
                let deadline = self.deadline;
                ready!(self.poll_deadline(cx, deadline));
                let (what, setting) = if phase == IDLE && !self.head_started {
                    ("idle", "KEEL_HTTP_IDLE_TIMEOUT")
                } else {
                    ("request headers", "KEEL_HTTP_HEADER_TIMEOUT")
                };
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connection closed: {what} past {setting}"),
                )))
            }
        }
    }

    /// Reads and discards until the client closes, `LINGER_BYTES` or `LINGER_TIME`.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let (until, mut discarded) = *self
            .linger
            .get_or_insert_with(|| (Instant::now() + LINGER_TIME, 0));
        let mut scratch = [0u8; 16 * 1024];
        let outcome = loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.tcp).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    discarded += buf.filled().len();
                    if discarded >= LINGER_BYTES {
                        break Poll::Ready(());
                    }
                }
                // The client closed its side, or the socket failed: nothing more to wait for.
                Poll::Ready(_) => break Poll::Ready(()),
                Poll::Pending => break self.poll_deadline(cx, until),
            }
        };
        self.linger = Some((until, discarded));
        outcome
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.observe() {
            phase @ (OPENED | IDLE) => this.poll_read_waiting(cx, buf, phase),
            BUSY | UPGRADED => Pin::new(&mut this.tcp).poll_read(cx, buf),
            _ => unreachable!("a phase is two bits"),
        }
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.after_write(cx);
        Pin::new(&mut this.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.after_write(cx);
        Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.after_write(cx);
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_shut {
            ready!(Pin::new(&mut this.tcp).poll_shutdown(cx))?;
            this.write_shut = true;
        }
        let upgraded = ConnState::phase(this.state.word()) == UPGRADED;
        if !upgraded && this.state.body_unread() {
            ready!(this.poll_linger(cx));
        }
        Poll::Ready(Ok(()))
    }
}
