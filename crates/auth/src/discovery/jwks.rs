//! JWKS JSON → `kid` → parsed RS256 key. One odd key (EC, encryption-only,
//! malformed) must not make the whole set unusable, so keys are parsed one by one.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

pub(crate) type KeyMap = HashMap<String, Arc<DecodingKey>>;

#[derive(Deserialize)]
struct JwkSetShape {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The usable RS256 signing keys of a JWKS; an error when there is none, so a
/// broken or empty answer never replaces keys that work.
pub(crate) fn parse_jwks(doc: &serde_json::Value) -> Result<KeyMap, String> {
    let set = JwkSetShape::deserialize(doc).map_err(|e| format!("not a JWKS: {e}"))?;
    let total = set.keys.len();
    let keys: KeyMap = set.keys.iter().filter_map(parse_key).collect();
    if keys.is_empty() {
        return Err(format!(
            "JWKS has no usable RS256 signing key ({total} keys)"
        ));
    }
    Ok(keys)
}

fn parse_key(value: &serde_json::Value) -> Option<(String, Arc<DecodingKey>)> {
    let jwk = RsaJwk::deserialize(value).ok()?;
    let usable = jwk.kty == "RSA"
        && jwk.alg.as_deref().is_none_or(|alg| alg == "RS256")
        && jwk.key_use.as_deref().is_none_or(|u| u == "sig");
    if !usable {
        return None;
    }
    let key = DecodingKey::from_rsa_components(jwk.n.as_deref()?, jwk.e.as_deref()?).ok()?;
    Some((jwk.kid?, Arc::new(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn skips_unusable_keys() {
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "good", "alg": "RS256", "use": "sig", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "hs", "alg": "HS256", "n": "sXch", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "alg": "RS256", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "broken", "n": "!!!", "e": "AQAB"},
            "not an object"
        ]});
        let keys = parse_jwks(&doc).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["good"]);
    }

    #[test]
    fn empty_or_malformed_sets_are_errors() {
        assert!(parse_jwks(&json!({"keys": []})).is_err());
        assert!(parse_jwks(&json!({"nokeys": 1})).is_err());
        assert!(parse_jwks(&json!([1, 2])).is_err());
    }
}
