//! The accept loop: the connection cap, `TCP_NODELAY`, and graceful shutdown. Each accepted
//! connection is served on its own task (`conn`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use keel_metrics::Metrics;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::accept::Backoff;
use crate::conn;

/// What one connection may take: its deadlines, and how many connections may be open.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// A request's headers must arrive within this (`KEEL_HTTP_HEADER_TIMEOUT`), counted
    /// from the accept for the first request and from its first bytes for later ones.
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this of its headers
    /// (`KEEL_HTTP_BODY_TIMEOUT`); a late one is answered 408.
    pub body_timeout: Duration,
    /// A keep-alive connection with no request is closed after this
    /// (`KEEL_HTTP_IDLE_TIMEOUT`). WebSockets are not HTTP connections once upgraded.
    pub idle_timeout: Duration,
    /// Connections (HTTP and WebSocket) open at once (`KEEL_MAX_CONNECTIONS`); past it a new
    /// connection is answered 503 and closed.
    pub max_connections: usize,
}

pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: 10_000,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish.
/// Each request is counted in `metrics` by route, status and time.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut refusals = Refusals::new(limits.max_connections);
    let mut backoff = Backoff::default();
    // Every connection task holds a receiver: `closing.closed()` is when all have ended.
    let (closing, watching) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            tcp = backoff.accept(|| async { listener.accept().await.map(|(tcp, _)| tcp) }) => tcp,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refusals.refuse(tcp);
            continue;
        };
        // Without TCP_NODELAY a second small write (a transition right after a mutation's
        // response, or an HTTP body after its headers) waits for the peer's delayed ACK: ~40 ms.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
        conn::spawn(
            tcp,
            slot,
            router.clone(),
            limits,
            metrics.clone(),
            watching.clone(),
        );
    }
    drop(listener);
    drop(watching);
    let _ = closing.send(());
    closing.closed().await;
    Ok(())
}

/// Connections refused at the cap: answered at once without reading the request, so the
/// refusal costs no task and no buffer, and logged at most once per `LOG_EVERY`.
struct Refusals {
    answer: Vec<u8>,
    logged: Option<Instant>,
    since_log: u64,
}

const LOG_EVERY: Duration = Duration::from_secs(10);

impl Refusals {
    fn new(max_connections: usize) -> Self {
        let refusal = crate::ApiError::new(
            crate::RefusalCode::TooManyConnections,
            format!(
                "The server has {max_connections} connections open, its limit (KEEL_MAX_CONNECTIONS); retry later"
            ),
        );
        let body = refusal.api_body().to_string();
        let status = refusal.status();
        let answer = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
            status.as_str(),
            status.canonical_reason().unwrap_or_default(),
            body.len()
        );
        Refusals {
            answer: answer.into_bytes(),
            logged: None,
            since_log: 0,
        }
    }

    fn refuse(&mut self, tcp: TcpStream) {
        // A fresh socket's send buffer is empty, so this write does not wait; if it cannot be
        // made at once, the client sees the connection closed, which is a refusal too.
        let _ = tcp.try_write(&self.answer);
        drop(tcp);
        self.since_log += 1;
        let now = Instant::now();
        if self.logged.is_none_or(|at| now - at >= LOG_EVERY) {
            tracing::warn!(
                refused = self.since_log,
                "connection limit reached (KEEL_MAX_CONNECTIONS): refusing new connections"
            );
            self.logged = Some(now);
            self.since_log = 0;
        }
    }
}
