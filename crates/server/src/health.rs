//! `/healthz`: the process is up. `/readyz`: the database answers reads, storage accepts
//! writes, and signing keys are loaded.
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
    let keys = state.verifier.keys_loaded() || state.verifier.refresh_keys().await.is_ok();
    let status = if database && writable.is_ok() && keys {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({ "database": database, "writable": writable.is_ok(), "keys": keys });
    if let Err(err) = &writable {
        let fault = err.storage_fault().unwrap_or(StorageFault::Unavailable);
        body["storage"] = json!(fault.message());
    }
    (status, axum::Json(body))
}
