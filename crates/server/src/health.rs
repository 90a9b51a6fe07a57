//! `/healthz`: the process is up. `/readyz`: the database answers and signing keys are loaded;
//! otherwise 503 with a `reason`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;

use crate::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, axum::Json<serde_json::Value>) {
    let database = state.executor.database().ping().await.is_ok();
    // No signing key means no token can pass: the issuer is unreachable, or its discovery
    // document names another issuer than the configured one.
    let keys = state.verifier.ensure_keys().await;
    let mut body = json!({ "database": database, "keys": keys.is_ok() });
    let mut reasons = Vec::new();
    if !database {
        reasons.push("the database does not answer".to_string());
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
