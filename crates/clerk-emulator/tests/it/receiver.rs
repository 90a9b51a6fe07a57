//! A webhook endpoint for tests: verifies each delivery's Svix signature on
//! the raw bytes with keel-webhooks, records it, and answers as told.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use keel_clerk_emulator::{DeliveryRecord, DeliveryStatus, Emulator};
use keel_webhooks::WebhookSecrets;
use serde_json::Value;
use tokio::task::JoinHandle;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One verified request.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: u64,
    pub raw: Bytes,
    pub body: Value,
    pub content_type: String,
    pub at: Instant,
    /// The status the receiver answered.
    pub answered: u16,
}

/// Decides the answer from the `svix-id` and how often it was seen before.
type Answer = Box<dyn Fn(&str, usize) -> u16 + Send + Sync>;

struct Shared {
    secrets: WebhookSecrets,
    answer: Answer,
    /// When set, requests wait here until [`Receiver::open`].
    gate: Option<Semaphore>,
    received: Mutex<Vec<Received>>,
    rejected: Mutex<Vec<String>>,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Answers 204 to everything.
    pub async fn ok() -> Self {
        Self::start(|_, _| 204).await
    }

    pub async fn start(answer: impl Fn(&str, usize) -> u16 + Send + Sync + 'static) -> Self {
        Self::serve(Box::new(answer), None).await
    }

    /// Answers 204, but only once [`Receiver::open`] is called.
    pub async fn gated() -> Self {
        Self::serve(Box::new(|_, _| 204), Some(Semaphore::new(0))).await
    }

    pub fn open(&self) {
        if let Some(gate) = &self.shared.gate {
            gate.add_permits(Semaphore::MAX_PERMITS - gate.available_permits());
        }
    }

    async fn serve(answer: Answer, gate: Option<Semaphore>) -> Self {
        let shared = Arc::new(Shared {
            secrets: WebhookSecrets::parse(SECRET).unwrap(),
            answer,
            gate,
            received: Mutex::default(),
            rejected: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/clerk", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/webhooks/clerk", post(receive))
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, shared, task }
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Requests whose signature did not verify (should stay empty).
    pub fn rejected(&self) -> Vec<String> {
        self.shared.rejected.lock().unwrap().clone()
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, raw: Bytes) -> StatusCode {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = match shared.secrets.verify(&pairs, &raw, now) {
        Ok(verified) => verified,
        Err(e) => {
            shared.rejected.lock().unwrap().push(e.to_string());
            return StatusCode::BAD_REQUEST;
        }
    };
    if let Some(gate) = &shared.gate {
        let _pass = gate.acquire().await.unwrap();
    }
    let mut received = shared.received.lock().unwrap();
    let seen = received.iter().filter(|r| r.id == verified.id).count();
    let answered = (shared.answer)(&verified.id, seen);
    received.push(Received {
        id: verified.id,
        timestamp: verified.timestamp,
        body: serde_json::from_slice(&raw).unwrap(),
        raw,
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        at: Instant::now(),
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

/// Waits until no message is pending, then returns the log.
pub async fn settle(emulator: &Emulator, within: Duration) -> Vec<DeliveryRecord> {
    let deadline = Instant::now() + within;
    loop {
        let log = emulator.delivery_log();
        if log.iter().all(|r| r.status != DeliveryStatus::Pending) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries still pending: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
