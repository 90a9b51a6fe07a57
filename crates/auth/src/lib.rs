//! keel-auth: verifies Clerk-issued JWTs the way the Convex backend does and
//! turns them into Convex-shaped [`UserIdentity`] values.
//!
//! ```no_run
//! # async fn demo() -> Result<(), keel_auth::AuthError> {
//! use keel_auth::{AuthConfig, Verifier};
//! let verifier = Verifier::new(AuthConfig::new("https://example.clerk.accounts.dev"));
//! let identity = verifier.verify_authorization_header(Some("Bearer eyJ…")).await?;
//! # let _ = identity;
//! # Ok(()) }
//! ```
//!
//! - Only RS256; keys come from OIDC discovery and are cached by `kid`
//!   (see [`discovery`] for the refresh policy).
//! - Verified tokens are cached until they expire (bounded, keyed by SHA-256).
//! - Clock and key fetching are injected ([`Clock`], [`KeyFetcher`]) so
//!   expiry and rotation are tested deterministically.

mod claims;
mod clock;
mod config;
pub mod discovery;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod identity;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod token;
mod token_cache;
mod verify;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AuthConfig, DEFAULT_APPLICATION_ID, DEFAULT_CLOCK_SKEW, ISSUER_DOMAIN_ENV, normalize_issuer,
};
pub use discovery::{FetchError, FetchedJwks, IssuerMismatch, KeyFetcher, ReqwestFetcher};
pub use error::{AuthError, AuthErrorCode, IDENTITY_EXPIRED_MESSAGE, UNAUTHENTICATED_MESSAGE};
pub use identity::{OrgClaims, UserIdentity};
pub use verify::{Verifier, VerifierStats};
