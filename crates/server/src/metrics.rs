//! `GET /metrics`: the figures of [`keel_metrics::Metrics`] in Prometheus' text format, and
//! the route label each HTTP request is counted under.
//!
//! Who may read them is the operator's choice ([`MetricsAccess`]): open in `keel dev`;
//! behind a bearer token on the public address in `keel serve` (`KEEL_METRICS_TOKEN`), or
//! only on a separate address ([`metrics_only_router`], `KEEL_METRICS_LISTEN`) that the
//! operator keeps private. The figures name functions, event types and load, never secrets,
//! but they are still not for every client.

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keel_metrics::{HttpRoute, Metrics};

use crate::webhooks::WEBHOOK_PATHS;
use crate::{ApiError, AppState, RefusalCode};

/// Who may read `GET /metrics` on the main address.
#[derive(Clone, Default)]
pub enum MetricsAccess {
    /// Not served here: answered 404 `MetricsOff` (figures off, or served on
    /// `KEEL_METRICS_LISTEN` instead).
    #[default]
    Off,
    /// Anyone (`keel dev`).
    Open,
    /// Requests with `Authorization: Bearer <token>` (`KEEL_METRICS_TOKEN`).
    Bearer(Arc<str>),
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsAccess::Off => f.write_str("Off"),
            MetricsAccess::Open => f.write_str("Open"),
            MetricsAccess::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let metrics = state.executor.metrics();
    match &state.metrics_access {
        MetricsAccess::Open => render(metrics),
        MetricsAccess::Bearer(token) if bearer_matches(&headers, token) => render(metrics),
        MetricsAccess::Bearer(_) => {
            let mut response = ApiError::new(
                RefusalCode::Unauthenticated,
                "GET /metrics needs the header `Authorization: Bearer <KEEL_METRICS_TOKEN>`",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        MetricsAccess::Off => off(),
    }
}

fn off() -> Response {
    ApiError::new(
        RefusalCode::MetricsOff,
        "This server does not serve /metrics here: set KEEL_METRICS_TOKEN to serve it behind a bearer token, or KEEL_METRICS_LISTEN to serve it on a separate address",
    )
    .into_response()
}

/// Compared in constant time, so the answer's timing says nothing about the token.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    !token.is_empty()
        && headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|given| {
                verify_slices_are_equal(given.trim().as_bytes(), token.as_bytes()).is_ok()
            })
}

fn render(metrics: &Metrics) -> Response {
    match metrics.render() {
        Some(text) => ([(header::CONTENT_TYPE, keel_metrics::CONTENT_TYPE)], text).into_response(),
        None => off(),
    }
}

/// A router with `GET /metrics` alone, open, for a separate address
/// (`KEEL_METRICS_LISTEN`).
pub fn metrics_only_router(metrics: Metrics) -> Router {
    Router::new().route("/metrics", get(move || async move { render(&metrics) }))
}

/// The route a request is counted under: one word per route template, never the path's own
/// parts (function names, asset names), so clients cannot add label values.
pub(crate) fn route_of(method: &Method, path: &str) -> HttpRoute {
    match path {
        "/api/query" => HttpRoute::Query,
        "/api/mutation" => HttpRoute::Mutation,
        "/api/action" => HttpRoute::Action,
        "/api/sync" => HttpRoute::Sync,
        "/healthz" => HttpRoute::Healthz,
        "/readyz" => HttpRoute::Readyz,
        "/metrics" => HttpRoute::Metrics,
        _ if path.starts_with("/api/run/") => HttpRoute::Run,
        _ if path.starts_with("/api/") && path.ends_with("/sync") => HttpRoute::Sync,
        _ if WEBHOOK_PATHS.contains(&path) => HttpRoute::Webhook,
        _ if path == "/_clerk" || path.starts_with("/_clerk/") => HttpRoute::ClerkEmulator,
        _ if path.starts_with("/api/") => HttpRoute::Other,
        // The web app answers every other GET (its routes reload in the browser).
        _ if method == Method::GET || method == Method::HEAD => HttpRoute::WebApp,
        _ => HttpRoute::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_labelled_by_template_not_by_path() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(route_of(&post, "/api/query"), HttpRoute::Query);
        assert_eq!(route_of(&post, "/api/run/chats/list"), HttpRoute::Run);
        assert_eq!(route_of(&get, "/api/1.31.0/sync"), HttpRoute::Sync);
        assert_eq!(route_of(&post, "/clerk-webhook"), HttpRoute::Webhook);
        assert_eq!(
            route_of(&post, "/http/clerk-users-webhook"),
            HttpRoute::Webhook
        );
        assert_eq!(
            route_of(&get, "/_clerk/.well-known/jwks.json"),
            HttpRoute::ClerkEmulator
        );
        assert_eq!(route_of(&get, "/users/user_123"), HttpRoute::WebApp);
        assert_eq!(route_of(&post, "/users/user_123"), HttpRoute::Other);
        assert_eq!(route_of(&get, "/api/unknown"), HttpRoute::Other);
        assert_eq!(route_of(&get, "/_clerkish"), HttpRoute::WebApp);
    }

    #[test]
    fn a_bearer_token_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, "s3cret"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(bearer_matches(&headers, "s3cret"));
        assert!(!bearer_matches(&headers, "s3cre"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(!bearer_matches(&headers, "s3cret"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(
            !bearer_matches(&headers, ""),
            "an empty token opens nothing"
        );
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let access = MetricsAccess::Bearer("s3cret".into());
        assert!(!format!("{access:?}").contains("s3cret"));
    }
}
