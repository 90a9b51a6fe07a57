//! `/healthz`: the process is up. `/readyz`: the database answers reads, storage accepts
//! writes, and signing keys are loaded; otherwise 503 with a `reason`.
//!
//! Whether storage accepts writes is the outcome of the last write (re-probed while it
//! failed; see `keel_store`'s `health.rs`): a full disk or a read-only file makes the instance
//! not ready, with the same words mutations get (`"storage": "Storage is full"`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use keel_store::StorageFault;
use serde_json::json;

use crate::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, axum::Json<serde_json::Value>) {
    let db = state.executor.database();
    let database = db.ping().await.is_ok();
    let writable = db.writable().await;
    // No signing key means no token can pass: the issuer is unreachable, or its discovery
    // document names another issuer than the configured one.
    let keys = state.verifier.ensure_keys().await;
    let mut body =
        json!({ "database": database, "writable": writable.is_ok(), "keys": keys.is_ok() });
    let mut reasons = Vec::new();
    if !database {
        reasons.push("the database does not answer".to_string());
    }
    if let Err(err) = &writable {
        let fault = err.storage_fault().unwrap_or(StorageFault::Unavailable);
        body["storage"] = json!(fault.message());
        reasons.push(fault.message().to_string());
    }
    if let Err(err) = &keys {
        reasons.push(format!("no signing keys: {err}"));
    }
    if reasons.is_empty() {
        return (StatusCode::OK, axum::Json(body));
    }
    body["reason"] = reasons.join("; ").into();
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body))
}
