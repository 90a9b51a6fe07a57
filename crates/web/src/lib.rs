//! The web app from `ui/`, built into the binary (see `build.rs`), and the routes that serve
//! it: hashed assets under `/assets/` (cached for good, gzipped when the browser accepts it),
//! and `index.html` for every other `GET` that no server route took, so client-side routes
//! (`/users`, `/chats/…`) load on reload. Server paths (`/api`, `/_clerk`, …) never fall back
//! to the page: an unknown one stays a 404.

mod assets;
mod config;
mod responses;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::get;

pub use config::{SignIn, WebConfig};

/// Path prefixes that belong to the server. A request under one that reached this router
/// matched no server route, and gets a 404 rather than the app.
const SERVER_PREFIXES: &[&str] = &[
    "/api",
    "/_clerk",
    "/_keel",
    "/clerk-webhook",
    "/healthz",
    "/readyz",
    "/metrics",
    "/assets",
];

struct Web {
    index: Vec<u8>,
}

/// The app's routes, to be the server's fallback (`Router::fallback_service`).
pub fn router(config: WebConfig) -> Router {
    let web = Arc::new(Web {
        index: config::render_index(assets::index_html(), &config),
    });
    Router::new()
        .route("/assets/{*file}", get(asset))
        .fallback(page)
        .with_state(web)
}

async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    match assets::get(uri.path()) {
        Some(asset) => responses::immutable(asset, &headers),
        None => responses::not_found(),
    }
}

async fn page(
    State(web): State<Arc<Web>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path();
    if method != Method::GET && method != Method::HEAD || is_server_path(path) {
        return responses::not_found();
    }
    if path != "/index.html"
        && let Some(asset) = assets::get(path)
    {
        return responses::revalidated(asset, &headers);
    }
    responses::index(&web.index, method == Method::HEAD)
}

fn is_server_path(path: &str) -> bool {
    SERVER_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests;
