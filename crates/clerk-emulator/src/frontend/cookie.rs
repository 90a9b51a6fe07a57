//! The browser client's cookie, and the checks every browser call passes: the cookie as a
//! handler argument ([`ClientCookie`]), and a same-origin rule for anything that changes state
//! ([`SameOrigin`]).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use crate::emulator::Emulator;
use crate::error::EmulatorError;

pub(crate) const COOKIE_NAME: &str = "__keel_client";

/// Clerk's sessions last 7 days; the cookie need not outlive them.
const MAX_AGE_SECS: u64 = 7 * 24 * 3600;

/// The secret of the browser client that sent the request. A handler taking it cannot run for
/// a browser that never signed in.
pub(crate) struct ClientCookie(pub String);

impl FromRequestParts<Arc<Emulator>> for ClientCookie {
    type Rejection = EmulatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &Arc<Emulator>,
    ) -> Result<Self, Self::Rejection> {
        read(&parts.headers)
            .map(ClientCookie)
            .ok_or_else(EmulatorError::signed_out)
    }
}

/// Our cookie's value. Its values are base62, so a plain split of the `Cookie` header is exact.
pub(crate) fn read(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new client: HttpOnly (no script reads it), SameSite=Lax (other sites'
/// requests do not carry it), scoped to the emulator's path, and `Secure` behind https.
pub(crate) fn set(emulator: &Emulator, secret: &str) -> HeaderValue {
    header(emulator, secret, MAX_AGE_SECS)
}

pub(crate) fn clear(emulator: &Emulator) -> HeaderValue {
    header(emulator, "", 0)
}

fn header(emulator: &Emulator, value: &str, max_age: u64) -> HeaderValue {
    let secure = if emulator.issuer().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let path = mount_path(emulator.issuer());
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("cookie header is ASCII")
}

/// The path part of the issuer (`/_clerk` for `http://127.0.0.1:3210/_clerk`).
pub(crate) fn mount_path(issuer: &str) -> &str {
    let after_scheme = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) => &after_scheme[i..],
        None => "/",
    }
}

/// Proof that a state-changing request came from a page of this origin: a browser names the
/// page's origin in `Origin` on every POST, and it must be this host. (A request without
/// `Origin` comes from a tool, not another site's page, and may pass.)
pub(crate) struct SameOrigin;

impl FromRequestParts<Arc<Emulator>> for SameOrigin {
    type Rejection = EmulatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &Arc<Emulator>,
    ) -> Result<Self, Self::Rejection> {
        let Some(origin) = parts.headers.get(ORIGIN) else {
            return Ok(SameOrigin);
        };
        let host = parts.headers.get(HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, host)| host);
        match (origin_host, host) {
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => Ok(SameOrigin),
            _ => Err(EmulatorError::cross_origin()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_path_is_the_issuer_path() {
        assert_eq!(mount_path("http://127.0.0.1:3210/_clerk"), "/_clerk");
        assert_eq!(mount_path("https://clerk.example.com"), "/");
    }

    #[test]
    fn reads_only_our_cookie() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, "a=1; __keel_client=abc; b=2".parse().unwrap());
        assert_eq!(read(&headers).as_deref(), Some("abc"));
        let mut other = HeaderMap::new();
        other.append(COOKIE, "x__keel_client=abc".parse().unwrap());
        assert_eq!(read(&other), None);
    }
}
