//! The HTTP ceiling for `bench/http/run.sh`: `POST /api/query` reads the body, parses it with
//! serde_json into the same `{path, args, format}` shape Keel parses, and answers a fixed
//! `{"status":"success","value":null,"logLines":[]}`. No auth, no function, no database: what
//! axum + hyper + tokio alone can do on this machine. Same runtime as Keel (multi-threaded tokio
//! with default settings, `axum::serve`).
//!
//! `POST /clerk-webhook` is the same bound for `bench/webhooks/diagnose.sh`: it reads the
//! delivery and answers `{"status":"applied"}` without verifying, parsing or storing it.
//!
//! Usage: `keel-bench-ceiling PORT` (listens on 127.0.0.1; port 0 picks one). Prints
//! `ceiling listening on http://127.0.0.1:PORT` once bound.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde::Deserialize;

/// The same shape as Keel's `FunctionRequest` (crates/server/src/api.rs).
#[derive(Deserialize)]
#[allow(dead_code)]
struct FunctionRequest {
    path: String,
    #[serde(default)]
    args: Option<serde_json::Value>,
    #[serde(default)]
    format: Option<String>,
}

const ANSWER: &str = r#"{"status":"success","value":null,"logLines":[]}"#;

async fn query(body: Bytes) -> Response {
    match serde_json::from_slice::<FunctionRequest>(&body) {
        Ok(request) => {
            std::hint::black_box(&request);
            ([(header::CONTENT_TYPE, "application/json")], ANSWER).into_response()
        }
        Err(err) => (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    }
}

async fn webhook(body: Bytes) -> Response {
    std::hint::black_box(&body);
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"applied"}"#,
    )
        .into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "usage: keel-bench-ceiling PORT",
            )
        })?,
        None => 0,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("ceiling listening on http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/api/query", post(query))
        .route("/clerk-webhook", post(webhook));
    axum::serve(listener, app).await
}
