//! `keel check`: a dry run of the `serve` settings. Each setting and dependency gets a line:
//! ✓, ⚠ (a risk that does not stop `serve`) or ✗ with the fix; any ✗ exits non-zero.

use std::process::ExitCode;

use keel_auth::{AuthConfig, FetchError, Verifier};

use crate::settings::{DatabaseChoice, misnamed_variables};
use crate::{AppParts, Settings};

/// Prints a line per setting and dependency; the exit code is a failure when any line is ✗.
pub(crate) async fn run(
    settings: &Settings,
    issuer: crate::issuer::IssuerArgs,
    parts: &AppParts,
) -> ExitCode {
    let mut failed = false;
    let mut report = |ok: bool, line: String| {
        failed |= !ok;
        println!("{} {line}", if ok { "✓" } else { "✗" });
    };
    // A risk worth knowing that does not stop `serve`: printed, never failing.
    let warn = |line: String| println!("⚠ {line}");
    for problem in misnamed_variables(std::env::vars().map(|(k, _)| k)) {
        report(false, problem);
    }
    match crate::issuer::require(issuer) {
        Ok(crate::issuer::Issuer { url: issuer, from }) => {
            report(true, format!("{from} = {issuer} (the issuer)"));
            if !issuer.contains("://") {
                warn(format!(
                    "{from} has no scheme: Keel uses https://{issuer}; write it out to be sure"
                ));
            }
            if let Some(warning) = crate::issuer::plain_http_warning(&issuer, from) {
                warn(warning);
            }
            let verifier = Verifier::new(AuthConfig {
                issuer: issuer.clone(),
                application_id: settings.auth.application_id(),
                authorized_parties: settings.auth.authorized_parties(),
                clock_skew: settings.auth.clock_skew(),
            });
            match verifier.refresh_keys().await {
                Ok(keys) => report(
                    true,
                    format!("issuer discovery and JWKS: {keys} signing key(s)"),
                ),
                // The mismatch's message is its own fix.
                Err(FetchError::IssuerMismatch(mismatch)) => {
                    report(false, format!("issuer discovery and JWKS: {mismatch}"))
                }
                Err(FetchError::Failed(reason)) => report(
                    false,
                    format!(
                        "issuer discovery and JWKS: {reason} — check {from} and that the issuer is reachable"
                    ),
                ),
            }
        }
        Err(err) => report(false, err.to_string()),
    }
    match settings.auth.application_id() {
        Some(aud) => report(
            true,
            format!("KEEL_APPLICATION_ID = {aud} (tokens must carry aud \"{aud}\")"),
        ),
        None => report(
            true,
            "KEEL_APPLICATION_ID is empty: tokens need no audience".to_string(),
        ),
    }
    match settings.clerk.webhook_secret.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(secret) => match keel_webhooks::WebhookSecrets::parse(secret) {
            Ok(secrets) => report(true, format!("CLERK_WEBHOOK_SECRET: {} signing secret(s)", secrets.len())),
            Err(err) => report(false, format!("CLERK_WEBHOOK_SECRET: {err} — copy the endpoint's signing secret (whsec_…) from the Clerk dashboard")),
        },
        None => report(
            false,
            "CLERK_WEBHOOK_SECRET is not set: the webhook endpoint answers 503 until it is — copy the endpoint's signing secret (whsec_…) from the Clerk dashboard".to_string(),
        ),
    }
    check_secret_key(settings, &mut report).await;
    let parties = settings.auth.authorized_parties();
    if parties.is_empty() {
        report(
            true,
            "KEEL_AUTHORIZED_PARTIES not set: azp is not checked".to_string(),
        );
    } else {
        report(
            true,
            format!("KEEL_AUTHORIZED_PARTIES = {}", parties.join(", ")),
        );
    }
    // A dry run: a SQLite file that is not there yet is not created (nor its folder).
    if let Ok(DatabaseChoice::Sqlite(location)) = settings.storage.database() {
        let path = std::path::Path::new(location.strip_prefix("sqlite://").unwrap_or(&location));
        if !path.exists() {
            report(
                true,
                format!(
                    "database: {} does not exist yet; keel serve creates it",
                    path.display()
                ),
            );
            return if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    }
    match std::fs::create_dir_all(&settings.storage.data_dir) {
        Ok(()) => match crate::start::open_database(&settings.storage, &parts.schema).await {
            Ok(db) => report(
                true,
                format!("database ({}) opened and migrated", db.engine_name()),
            ),
            Err(err) => report(
                false,
                format!("database: {err:#}{}", database_fix(settings)),
            ),
        },
        Err(err) => report(
            false,
            format!(
                "KEEL_DATA_DIR {}: {err}",
                settings.storage.data_dir.display()
            ),
        ),
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `CLERK_SECRET_KEY`, when set: one cheap Backend API call (count the users) proves Clerk
/// takes it. Unset is fine: only backfill, reconcile and the admin actions need it.
async fn check_secret_key(settings: &Settings, report: &mut impl FnMut(bool, String)) {
    let Some(key) = settings
        .clerk
        .secret_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
    else {
        report(
            true,
            "CLERK_SECRET_KEY is not set: backfill, reconcile and the admin user actions are off"
                .to_string(),
        );
        return;
    };
    let url = settings
        .clerk_instance
        .api_url
        .clone()
        .unwrap_or_else(|| keel_clerk_api::ClerkApi::DEFAULT_BASE_URL.to_string());
    let api = keel_clerk_api::ClerkApi::new(url.clone(), key);
    match api.count_users().await {
        Ok(users) => report(
            true,
            format!("CLERK_SECRET_KEY: the Backend API at {url} takes it ({users} users)"),
        ),
        Err(err) => report(false, format!("CLERK_SECRET_KEY: {err} (at {url})")),
    }
}

/// What to check when the database did not open, for a server Keel connects to.
fn database_fix(settings: &Settings) -> String {
    match settings.storage.database() {
        Ok(DatabaseChoice::Postgres(postgres)) => format!(
            " — check that PostgreSQL at {} is reachable and that KEEL_DATABASE_URL's user, password and database are right",
            postgres.url.host()
        ),
        _ => String::new(),
    }
}
