//! The one error vocabulary of this crate: a code the protocol layers switch on
//! and a message that is safe to show to clients (it never contains the token).

use std::fmt;

/// What the Convex backend says for every signature or claim failure; clients
/// and dashboards match on this text, so keep it verbatim.
pub const UNAUTHENTICATED_MESSAGE: &str = "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.";

/// Convex's message when a live session outlives its token.
pub const IDENTITY_EXPIRED_MESSAGE: &str = "Convex token identity expired";

const NO_PROVIDER_PREFIX: &str = "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers";

const BAD_FORMAT_MESSAGE: &str = "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots.";

/// Error codes as the Convex backend names them (`code` in HTTP errors and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthErrorCode {
    /// The header is not `Bearer <jwt>` or the token is not a JWT at all.
    InvalidAuthHeader,
    /// The token's `iss`/`aud` match no configured provider.
    NoAuthProvider,
    /// The token (or the live identity built from it) has expired.
    TokenExpired,
    /// Any other verification failure: signature, key, algorithm, claims.
    Unauthenticated,
}

impl AuthErrorCode {
    /// The exact code string used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthErrorCode::InvalidAuthHeader => "InvalidAuthHeader",
            AuthErrorCode::NoAuthProvider => "NoAuthProvider",
            AuthErrorCode::TokenExpired => "TokenExpired",
            AuthErrorCode::Unauthenticated => "Unauthenticated",
        }
    }
}

impl fmt::Display for AuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed authentication. `message` is meant for the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthError {
    pub code: AuthErrorCode,
    pub message: String,
}

impl AuthError {
    pub fn new(code: AuthErrorCode, message: impl Into<String>) -> Self {
        AuthError {
            code,
            message: message.into(),
        }
    }

    /// The token is not structurally a JWT.
    pub(crate) fn bad_format(reason: &str) -> Self {
        Self::new(
            AuthErrorCode::InvalidAuthHeader,
            format!("{BAD_FORMAT_MESSAGE} ({reason})"),
        )
    }

    /// `providers` are descriptions like `OIDC(domain=…, app_id=convex)`.
    pub(crate) fn no_auth_provider(providers: &[String]) -> Self {
        Self::new(
            AuthErrorCode::NoAuthProvider,
            format!("{NO_PROVIDER_PREFIX}: [{}]", providers.join(", ")),
        )
    }

    pub(crate) fn token_expired(reason: &str) -> Self {
        Self::new(
            AuthErrorCode::TokenExpired,
            format!("{UNAUTHENTICATED_MESSAGE} ({reason})"),
        )
    }

    pub(crate) fn unauthenticated(reason: &str) -> Self {
        Self::new(
            AuthErrorCode::Unauthenticated,
            format!("{UNAUTHENTICATED_MESSAGE} ({reason})"),
        )
    }

    /// For the sync layer: the identity of a live session passed its `exp`.
    pub fn identity_expired() -> Self {
        Self::new(AuthErrorCode::TokenExpired, IDENTITY_EXPIRED_MESSAGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_convex_strings() {
        assert_eq!(
            AuthErrorCode::InvalidAuthHeader.as_str(),
            "InvalidAuthHeader"
        );
        assert_eq!(AuthErrorCode::NoAuthProvider.as_str(), "NoAuthProvider");
        assert_eq!(AuthErrorCode::TokenExpired.as_str(), "TokenExpired");
        assert_eq!(AuthErrorCode::Unauthenticated.as_str(), "Unauthenticated");
    }

    #[test]
    fn messages_keep_the_convex_prefixes() {
        let e = AuthError::no_auth_provider(&["OIDC(domain=https://a.dev, app_id=convex)".into()]);
        assert_eq!(
            e.message,
            "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [OIDC(domain=https://a.dev, app_id=convex)]"
        );
        let e = AuthError::unauthenticated("invalid signature");
        assert!(e.message.starts_with(UNAUTHENTICATED_MESSAGE));
        assert!(e.message.ends_with("(invalid signature)"));
        assert_eq!(e.to_string(), format!("Unauthenticated: {}", e.message));
    }
}
