//! `/v1/sessions`: creating sessions (a testing endpoint in Clerk too) and
//! minting their tokens.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::SecretKey;
use crate::emulator::{CreateSession, Emulator};
use crate::error::EmulatorError;
use crate::extract::ClerkJson;

type Reply = Result<Json<Value>, EmulatorError>;

/// Body of the token endpoints.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TokenRequest {
    expires_in_seconds: Option<u64>,
}

/// `POST /v1/sessions`
pub(super) async fn create(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    ClerkJson(req): ClerkJson<CreateSession>,
) -> Reply {
    emulator.create_session_with(req).await.map(Json)
}

/// `GET /v1/sessions/{session_id}`
pub(super) async fn get(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(session_id): Path<String>,
) -> Reply {
    emulator.get_session(&session_id).await.map(Json)
}

/// `POST /v1/sessions/{session_id}/revoke`
pub(super) async fn revoke(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(session_id): Path<String>,
) -> Reply {
    emulator.revoke_session(&session_id).await.map(Json)
}

/// `POST /v1/sessions/{session_id}/tokens`
pub(super) async fn token(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(session_id): Path<String>,
    ClerkJson(req): ClerkJson<TokenRequest>,
) -> Reply {
    let jwt = emulator
        .mint_token(&session_id, None, req.expires_in_seconds)
        .await?;
    Ok(token_json(jwt))
}

/// `POST /v1/sessions/{session_id}/tokens/{template_name}`
pub(super) async fn template_token(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path((session_id, template)): Path<(String, String)>,
    ClerkJson(req): ClerkJson<TokenRequest>,
) -> Reply {
    let jwt = emulator
        .mint_token(&session_id, Some(&template), req.expires_in_seconds)
        .await?;
    Ok(token_json(jwt))
}

fn token_json(jwt: String) -> Json<Value> {
    Json(json!({ "object": "token", "jwt": jwt }))
}
