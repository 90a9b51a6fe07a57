//! The signing secrets from `CLERK_WEBHOOK_SECRET`. Several may be configured at
//! once, separated by whitespace, so a secret can be rotated without dropping
//! deliveries signed with the old one.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;

use crate::lenient::BASE64;

/// Svix's prefix for signing secrets; the rest is the base64 key.
const PREFIX: &str = "whsec_";

/// One or more HMAC-SHA256 keys. `Debug` shows how many, never the keys.
#[derive(Clone)]
pub struct WebhookSecrets {
    /// In configuration order; the first one signs.
    pub(crate) keys: Vec<hmac::Key>,
}

/// Why a secret value was refused. Messages name the problem and the position
/// of the bad secret, never its text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the webhook secret is empty (expected whsec_<base64>, as shown in the Clerk dashboard)"
    )]
    Empty,
    #[error(
        "webhook secret {position} of {count} is not valid base64 (expected whsec_<base64>, as shown in the Clerk dashboard)"
    )]
    InvalidBase64 { position: usize, count: usize },
    #[error("webhook secret {position} of {count} has no key after the whsec_ prefix")]
    EmptyKey { position: usize, count: usize },
    #[error(
        "webhook secret {position} of {count} looks like a Clerk secret key (sk_…); use the endpoint's signing secret (whsec_…) instead"
    )]
    SecretKeyGiven { position: usize, count: usize },
}

impl WebhookSecrets {
    /// Parses a `CLERK_WEBHOOK_SECRET` value: whitespace-separated secrets, each
    /// `whsec_<base64>` or (as Svix also accepts) the bare base64 key.
    pub fn parse(value: &str) -> Result<Self, SecretError> {
        let parts: Vec<&str> = value.split_whitespace().collect();
        if parts.is_empty() {
            return Err(SecretError::Empty);
        }
        let count = parts.len();
        let keys = parts
            .iter()
            .enumerate()
            .map(|(index, part)| decode_key(part, index + 1, count))
            .collect::<Result<_, _>>()?;
        Ok(WebhookSecrets { keys })
    }

    /// How many secrets are configured.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: parsing refuses an empty value. Present for clippy's
    /// `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn decode_key(part: &str, position: usize, count: usize) -> Result<hmac::Key, SecretError> {
    let encoded = part.strip_prefix(PREFIX).unwrap_or(part);
    if encoded.starts_with("sk_") {
        return Err(SecretError::SecretKeyGiven { position, count });
    }
    let key = BASE64
        .decode(encoded)
        .map_err(|_| SecretError::InvalidBase64 { position, count })?;
    if key.is_empty() {
        return Err(SecretError::EmptyKey { position, count });
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &key))
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecrets([redacted; {}])", self.keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn parses_one_or_several_secrets_with_or_without_prefix() {
        assert_eq!(WebhookSecrets::parse(SECRET).unwrap().len(), 1);
        let rotated = format!(" {SECRET}\n\tC2FVsBQIhrscChlQIMV+b5sSYspob7oD  ");
        assert_eq!(WebhookSecrets::parse(&rotated).unwrap().len(), 2);
    }

    #[test]
    fn refuses_empty_values() {
        assert_eq!(WebhookSecrets::parse("").unwrap_err(), SecretError::Empty);
        assert_eq!(
            WebhookSecrets::parse(" \n ").unwrap_err(),
            SecretError::Empty
        );
        assert_eq!(
            WebhookSecrets::parse("whsec_").unwrap_err(),
            SecretError::EmptyKey {
                position: 1,
                count: 1
            }
        );
    }

    #[test]
    fn errors_name_the_position_but_never_echo_the_secret() {
        let bad = "whsec_not*base64!";
        let err = WebhookSecrets::parse(&format!("{SECRET} {bad}")).unwrap_err();
        assert_eq!(
            err,
            SecretError::InvalidBase64 {
                position: 2,
                count: 2
            }
        );
        let message = err.to_string();
        assert!(message.contains("2 of 2"), "{message}");
        assert!(!message.contains("not*base64"), "{message}");
    }

    #[test]
    fn spots_a_clerk_secret_key_pasted_by_mistake() {
        let err = WebhookSecrets::parse("sk_test_abcdef").unwrap_err();
        assert!(matches!(err, SecretError::SecretKeyGiven { .. }));
        assert!(!err.to_string().contains("abcdef"));
    }

    #[test]
    fn debug_hides_the_keys() {
        let secrets = WebhookSecrets::parse(SECRET).unwrap();
        let shown = format!("{secrets:?}");
        assert_eq!(shown, "WebhookSecrets([redacted; 1])");
    }
}
