//! Taking a token apart before any crypto: the `Authorization` header, the three
//! base64url parts, the header and the (still unverified) claims. Everything
//! here that fails means "this is not a JWT" (`InvalidAuthHeader`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::AuthError;

/// Far above any Clerk token (they travel in a 4 KB cookie); stops pointless
/// decoding of huge inputs.
const MAX_TOKEN_BYTES: usize = 32 * 1024;

#[derive(Debug, Deserialize)]
pub(crate) struct TokenHeader {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ParsedToken<'a> {
    pub header: TokenHeader,
    /// Unverified until the signature over `signing_input` checks out.
    pub claims: Map<String, Value>,
    /// `base64(header).base64(payload)`, the signed bytes.
    pub signing_input: &'a str,
    pub signature: &'a str,
}

/// `Bearer <jwt>` (scheme case-insensitive, like Convex) → the token.
pub(crate) fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let header = header.trim();
    let token = header
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        .map(|_| header[7..].trim())
        .filter(|token| !token.is_empty());
    token.ok_or_else(|| {
        AuthError::new(
            crate::AuthErrorCode::InvalidAuthHeader,
            "Header must begin with `Bearer ` followed by a JWT",
        )
    })
}

pub(crate) fn parse(token: &str) -> Result<ParsedToken<'_>, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::bad_format("token too large"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::bad_format("expected three parts"));
    };
    let header_bytes = decode_part(header_b64, "header")?;
    let payload_bytes = decode_part(payload_b64, "payload")?;
    decode_part(signature, "signature")?;

    let header: TokenHeader = serde_json::from_slice(&header_bytes)
        .map_err(|_| AuthError::bad_format("header is not a JWT header"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload_bytes)
        .map_err(|_| AuthError::bad_format("payload is not a JSON object"))?;
    Ok(ParsedToken {
        header,
        claims,
        signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
        signature,
    })
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::bad_format(&format!("{what} is not base64url")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthErrorCode;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn bearer_header() {
        assert_eq!(bearer_token("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer_token("bearer   abc ").unwrap(), "abc");
        for bad in [
            "",
            "Bearer",
            "Bearer  ",
            "Basic abc",
            "abc.def.ghi",
            "Bearerabc",
        ] {
            assert_eq!(
                bearer_token(bad).unwrap_err().code,
                AuthErrorCode::InvalidAuthHeader,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parses_a_jwt() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","kid":"k1","typ":"JWT","cat":"x"}"#),
            b64(r#"{"sub":"user_1"}"#),
            b64("sig")
        );
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.header.alg, "RS256");
        assert_eq!(parsed.header.kid.as_deref(), Some("k1"));
        assert_eq!(parsed.claims["sub"], "user_1");
        assert_eq!(parsed.signature, b64("sig"));
        assert_eq!(
            format!("{}.{}", parsed.signing_input, parsed.signature),
            token
        );
    }

    #[test]
    fn rejects_non_jwts_as_invalid_auth_header() {
        let h = b64(r#"{"alg":"RS256"}"#);
        let p = b64(r#"{"sub":"u"}"#);
        let cases = [
            String::new(),
            "abc".to_owned(),
            format!("{h}.{p}"),
            format!("{h}.{p}.sig.extra"),
            format!("{h}.{p}.not base64!"),
            format!("{h}.{}.sig", b64("[1,2]")),
            format!("{h}.{}.sig", b64("not json")),
            format!("{}.{p}.sig", b64(r#"{"typ":"JWT"}"#)),
            format!("{h}=.{p}.sig"),
            "a".repeat(MAX_TOKEN_BYTES + 1),
        ];
        for token in cases {
            let err = parse(&token).unwrap_err();
            assert_eq!(err.code, AuthErrorCode::InvalidAuthHeader);
            // Messages never echo the token.
            if token.len() > 8 {
                assert!(!err.message.contains(&token));
            }
        }
    }
}
