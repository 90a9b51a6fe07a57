//! What a signed-in page calls: who am I (`/v1/client`), a token for my session, sign out.
//! Each answer is `no-store`: it is this browser's, and tokens are short-lived.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::cookie::{self, ClientCookie, SameOrigin};
use crate::emulator::Emulator;
use crate::error::EmulatorError;

const NO_STORE: (axum::http::HeaderName, &str) = (CACHE_CONTROL, "no-store");

/// `{object: "client", session}`: the browser's live session, or `null` when signed out.
pub(crate) async fn get(State(emulator): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    let session = match cookie::read(&headers) {
        Some(secret) => emulator.browser_session(&secret).await,
        None => None,
    };
    let session = session.map(|s| s.to_json());
    (
        [NO_STORE],
        Json(json!({ "object": "client", "session": session })),
    )
        .into_response()
}

/// The session token (`{object: "token", jwt}`).
pub(crate) async fn token(
    State(emulator): State<Arc<Emulator>>,
    _: SameOrigin,
    ClientCookie(secret): ClientCookie,
    Path(session_id): Path<String>,
) -> Result<Response, EmulatorError> {
    let jwt = emulator.browser_token(&secret, &session_id, None).await?;
    Ok(([NO_STORE], Json(json!({ "object": "token", "jwt": jwt }))).into_response())
}

/// A template's token, `convex` for `ConvexProviderWithClerk`.
pub(crate) async fn template_token(
    State(emulator): State<Arc<Emulator>>,
    _: SameOrigin,
    ClientCookie(secret): ClientCookie,
    Path((session_id, template)): Path<(String, String)>,
) -> Result<Response, EmulatorError> {
    let jwt = emulator
        .browser_token(&secret, &session_id, Some(&template))
        .await?;
    Ok(([NO_STORE], Json(json!({ "object": "token", "jwt": jwt }))).into_response())
}

/// Signs out: ends the session and clears the cookie.
pub(crate) async fn end(
    State(emulator): State<Arc<Emulator>>,
    _: SameOrigin,
    ClientCookie(secret): ClientCookie,
    Path(_session_id): Path<String>,
) -> Result<Response, EmulatorError> {
    emulator.sign_out_browser(&secret).await?;
    Ok((
        [(SET_COOKIE, cookie::clear(&emulator))],
        [NO_STORE],
        Json(json!({ "object": "client", "session": null })),
    )
        .into_response())
}
