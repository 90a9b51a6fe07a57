//! The instance's RSA-2048 signing key: created once, kept as a PKCS#8 PEM
//! file (mode 0600) and reused after restarts so earlier tokens stay valid.

use std::path::Path;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::EmulatorError;
use crate::files;
use crate::ids::base62_of;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

pub(crate) struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    /// Public modulus and exponent, base64url as JWK wants them.
    n: String,
    e: String,
}

impl SigningKey {
    /// Reads the key at `path`, or generates and stores one if there is none.
    /// Blocking (RSA generation takes a moment): call from a blocking task.
    pub(crate) fn load_or_create(path: &Path) -> Result<Self, EmulatorError> {
        match std::fs::read(path) {
            Ok(pem) => Self::from_pem(&pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pem = generate_pem()?;
                if files::write_new(path, pem.as_bytes())? {
                    tracing::info!(path = %path.display(), "generated clerk emulator signing key");
                    Self::from_pem(pem.as_bytes())
                } else {
                    // Another process created it meanwhile: use theirs.
                    let pem =
                        std::fs::read(path).map_err(|e| EmulatorError::io("reading", path, e))?;
                    Self::from_pem(&pem)
                }
            }
            Err(e) => Err(EmulatorError::io("reading", path, e)),
        }
    }

    fn from_pem(pem: &[u8]) -> Result<Self, EmulatorError> {
        let der = pem_to_der(pem)?;
        let pair = KeyPair::from_pkcs8(&der)
            .map_err(|e| EmulatorError::SigningKey(format!("not an RSA PKCS#8 key: {e}")))?;
        let public = pair.public_key();
        // The kid names the instance in Clerk ("ins_…"); deriving it from the
        // public key keeps it stable for as long as the key file lives.
        let kid = format!(
            "ins_{}",
            base62_of(digest(&SHA256, public.as_ref()).as_ref(), 27)
        );
        // jsonwebtoken takes PKCS#8 PEM here and signs with aws-lc-rs.
        let encoding = EncodingKey::from_rsa_pem(pem)?;
        Ok(Self {
            kid,
            encoding,
            n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as Clerk publishes it in its JWKS.
    pub(crate) fn jwk(&self) -> Value {
        json!({
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": self.n,
            "e": self.e,
        })
    }

    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// Signs `claims` as an RS256 JWT with header `{alg, kid, typ: "JWT"}`.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, EmulatorError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

fn generate_pem() -> Result<String, EmulatorError> {
    let pair = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| EmulatorError::SigningKey("RSA key generation failed".into()))?;
    let der = pair
        .as_der()
        .map_err(|_| EmulatorError::SigningKey("PKCS#8 encoding failed".into()))?;
    let body = STANDARD.encode(der.as_ref());
    let mut pem = String::with_capacity(body.len() + 100);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    // PEM wraps base64 at 64 columns; base64 output is ASCII, so byte chunks are chars.
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    Ok(pem)
}

fn pem_to_der(pem: &[u8]) -> Result<Vec<u8>, EmulatorError> {
    let text = std::str::from_utf8(pem)
        .map_err(|_| EmulatorError::SigningKey("key file is not PEM text".into()))?;
    let text = text.trim();
    let body = text
        .strip_prefix(PEM_BEGIN)
        .and_then(|rest| rest.strip_suffix(PEM_END))
        .ok_or_else(|| EmulatorError::SigningKey("expected a PKCS#8 \"PRIVATE KEY\" PEM".into()))?;
    let body: String = body.split_whitespace().collect();
    STANDARD
        .decode(body)
        .map_err(|e| EmulatorError::SigningKey(format!("bad base64 in key file: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};

    #[test]
    fn key_is_reused_and_tokens_verify_with_the_jwk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing-key.pem");
        let first = SigningKey::load_or_create(&path).unwrap();
        let again = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(first.kid(), again.kid());
        assert!(first.kid().starts_with("ins_") && first.kid().len() == 31);
        assert_eq!(first.jwk()["e"], "AQAB");

        let token = first
            .sign(&json!({ "sub": "user_1", "exp": 4_000_000_000u64 }))
            .unwrap();
        let jwk: Jwk = serde_json::from_value(again.jwk()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let data = jsonwebtoken::decode::<Value>(&token, &key, &Validation::new(Algorithm::RS256))
            .unwrap();
        assert_eq!(data.claims["sub"], "user_1");
        assert_eq!(data.header.kid.as_deref(), Some(first.kid()));
    }
}
