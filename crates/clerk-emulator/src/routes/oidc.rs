//! Discovery and the public keys, where Clerk's Frontend API serves them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::auth::SecretKey;
use crate::emulator::Emulator;

/// `GET /.well-known/openid-configuration`
pub(super) async fn openid_configuration(State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    Json(emulator.openid_configuration())
}

/// `GET /.well-known/jwks.json` (public)
pub(super) async fn jwks(State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    Json(emulator.jwks())
}

/// `GET /v1/jwks`: the same keys through the Backend API.
pub(super) async fn backend_jwks(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
) -> Json<Value> {
    Json(emulator.jwks())
}
