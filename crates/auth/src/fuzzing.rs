//! The parsers a token and a key set pass through, callable on their own for the fuzz targets
//! (`fuzz/`) and their corpus replay (`crates/fuzz-checks`). Not an API: hidden from the docs
//! and free to change with them.

use std::time::Duration;

use crate::discovery::http::DiscoveryDocument;
use crate::error::AuthError;
use crate::identity::UserIdentity;
use crate::{claims, token};

/// An `Authorization` header taken apart as verification takes it before the signature check
/// (scheme, three base64url parts, header, claims), then read into an identity as after it:
/// the identity's Convex JSON, or why the header is no token.
pub fn authorization_header(header: &str) -> Result<serde_json::Value, AuthError> {
    let parsed = token::parse(token::bearer_token(header)?)?;
    let claims = &parsed.claims;
    let _ = claims::audiences(claims);
    for key in ["exp", "nbf", "iat"] {
        let _ = claims::numeric_date(claims, key);
    }
    let issuer = claims::string(claims, "iss").unwrap_or_default();
    let subject = claims::string(claims, "sub").unwrap_or_default();
    let expires_at = claims::numeric_date(claims, "exp")
        .ok()
        .flatten()
        .unwrap_or_default();
    let identity = UserIdentity::from_claims(claims, issuer, subject, expires_at);
    let _ = identity.fingerprint();
    let _ = identity.metadata_role();
    Ok(identity.to_convex_json())
}

/// A JWKS document's text → the `kid`s of its usable RS256 keys, sorted.
pub fn jwks(text: &[u8]) -> Result<Vec<String>, String> {
    let doc: serde_json::Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let mut kids: Vec<String> = crate::discovery::jwks::parse_jwks(&doc)?
        .into_keys()
        .collect();
    kids.sort();
    Ok(kids)
}

/// An OIDC discovery document's text, read as `ReqwestFetcher` reads it (its body through
/// `serde_json`), checked against `configured_issuer`: its `jwks_uri`.
pub fn discovery_document(text: &[u8], configured_issuer: &str) -> Result<String, String> {
    let doc: DiscoveryDocument = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    let named = doc.issuer.ok_or("no issuer")?;
    let url = crate::discovery::discovery_url(configured_issuer);
    crate::discovery::issuer::check(&url, configured_issuer, &named).map_err(|e| e.to_string())?;
    Ok(doc.jwks_uri)
}

/// A JWKS response's `Cache-Control` value → its `max-age`.
pub fn cache_control_max_age(value: &str) -> Option<Duration> {
    crate::discovery::http::parse_max_age(value)
}
