//! The configured issuer (`CLERK_JWT_ISSUER_DOMAIN`) in `keel serve` and `keel check`: read
//! it, and load its keys at start so a wrong setting shows in the log at once.

use anyhow::bail;
use keel_auth::Verifier;

use crate::settings::misnamed_variables;

/// The issuer, or the fix: its name, an example, and any look-alike variable that is set.
pub(crate) fn require(issuer: Option<String>) -> anyhow::Result<String> {
    match issuer.filter(|i| !i.trim().is_empty()) {
        Some(issuer) => Ok(issuer.trim().to_string()),
        None => {
            let hints = misnamed_variables(std::env::vars().map(|(k, _)| k));
            let mut message = "CLERK_JWT_ISSUER_DOMAIN is not set: set it to your Clerk Frontend API URL (for example https://your-app.clerk.accounts.dev)".to_string();
            for hint in hints {
                message.push_str("\n  ");
                message.push_str(&hint);
            }
            bail!(message)
        }
    }
}

/// Loads the issuer's keys in the background at start: a wrong issuer (unreachable, or one
/// whose discovery document names another) is an error in the log now, not a 401 on the
/// first request. Serving starts regardless: `/readyz` answers 503 until keys load, and an
/// outage of the issuer must not stop the process.
pub(crate) fn load_keys_at_start(verifier: Verifier) {
    tokio::spawn(async move {
        let issuer = verifier.config().issuer.clone();
        match verifier.refresh_keys().await {
            Ok(keys) => tracing::info!(%issuer, keys, "loaded the issuer's signing keys"),
            Err(error) => tracing::error!(
                %issuer,
                %error,
                "no token can be verified until this is fixed; /readyz answers 503"
            ),
        }
    });
}
