//! The HTTP surface, relative to the mount point (Keel nests it at `/_clerk`).

mod deliveries;
mod memberships;
mod oidc;
mod organizations;
mod sessions;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, patch, post};

use crate::emulator::Emulator;
use crate::error::EmulatorError;

pub(crate) fn router(emulator: Arc<Emulator>) -> Router {
    let v1 = Router::new()
        .route("/jwks", get(oidc::backend_jwks))
        .route("/users", get(users::list).post(users::create))
        .route("/users/count", get(users::count))
        .route(
            "/users/{user_id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            "/users/{user_id}/organization_memberships",
            get(memberships::list_for_user),
        )
        .route("/sessions", post(sessions::create))
        .route("/sessions/{session_id}", get(sessions::get))
        .route("/sessions/{session_id}/revoke", post(sessions::revoke))
        .route("/sessions/{session_id}/tokens", post(sessions::token))
        .route(
            "/sessions/{session_id}/tokens/{template_name}",
            post(sessions::template_token),
        )
        .route(
            "/organizations",
            get(organizations::list).post(organizations::create),
        )
        .route(
            "/organizations/{organization_id}",
            get(organizations::get)
                .patch(organizations::update)
                .delete(organizations::delete),
        )
        .route(
            "/organizations/{organization_id}/memberships",
            get(memberships::list).post(memberships::create),
        )
        .route(
            "/organizations/{organization_id}/memberships/{user_id}",
            patch(memberships::update).delete(memberships::delete),
        )
        .route("/organization_memberships", get(memberships::list_all))
        .route("/webhook_deliveries", get(deliveries::list))
        .merge(crate::frontend::client_routes());
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(oidc::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(oidc::jwks))
        .merge(crate::frontend::page_routes())
        .nest("/v1", v1)
        .fallback(not_found)
        .with_state(emulator)
}

/// Unknown paths answer like Clerk's, in its error shape.
async fn not_found() -> EmulatorError {
    EmulatorError::not_found("The requested resource does not exist")
}
