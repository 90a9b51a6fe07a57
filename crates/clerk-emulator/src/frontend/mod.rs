//! The browser-facing side, Clerk's Frontend API in miniature: a sign-in page and the calls a
//! signed-in page makes (`/v1/client`, its session's tokens, sign-out). The credential is the
//! `__keel_client` cookie set at sign-in, never the secret key, which a browser must not hold.
//! Keel mounts the emulator, and with it these routes, only in `keel dev`.

mod client;
mod cookie;
mod page;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::emulator::Emulator;

/// `/sign-in`, relative to the emulator's mount point.
pub(crate) fn page_routes() -> Router<Arc<Emulator>> {
    Router::new().route("/sign-in", get(page::show).post(page::submit))
}

/// The browser's calls, relative to `/v1` (beside the Backend API, as on Clerk's Frontend API
/// host; none of them takes the secret key).
pub(crate) fn client_routes() -> Router<Arc<Emulator>> {
    Router::new()
        .route("/client", get(client::get))
        .route("/client/sessions/{session_id}/tokens", post(client::token))
        .route(
            "/client/sessions/{session_id}/tokens/{template}",
            post(client::template_token),
        )
        .route("/client/sessions/{session_id}/end", post(client::end))
}
