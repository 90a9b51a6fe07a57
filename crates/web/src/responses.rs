//! The responses the app's routes give, with their caching and safety headers.

use axum::body::Body;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::assets::Asset;

/// Hashed file names change with their content, so a browser may keep them forever.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A hashed asset.
pub(crate) fn immutable(asset: &'static Asset, headers: &HeaderMap) -> Response {
    file(asset, headers, IMMUTABLE)
}

/// An unhashed file (a favicon): the browser asks again each time.
pub(crate) fn revalidated(asset: &'static Asset, headers: &HeaderMap) -> Response {
    file(asset, headers, "no-cache")
}

fn file(asset: &'static Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let gzip = asset.gzip.filter(|_| accepts_gzip(headers));
    let mut response = Response::new(Body::from(gzip.unwrap_or(asset.body)));
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    out.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if asset.gzip.is_some() {
        out.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() {
        out.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// The app's page. Never cached, so a new build's assets are picked up at once; never framed.
pub(crate) fn index(html: &[u8], head: bool) -> Response {
    let body = if head {
        Body::empty()
    } else {
        Body::from(html.to_vec())
    };
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
        .into_response()
}

pub(crate) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

/// Whether `Accept-Encoding` lists gzip without refusing it (`gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}
