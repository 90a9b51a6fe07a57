//! `users:adminCreate`, `users:adminUpdate`, `users:adminDelete`: admins manage users in
//! Clerk, the source of truth, through its Backend API. Each action returns once Clerk
//! accepted; the `users` table follows when Clerk's webhook arrives (in `keel dev`, the
//! emulator's), like any change made in Clerk's dashboard, so there is one path into the
//! table and its ordering rules (the ledger) hold.
//!
//! Clerk's refusals come back coded, with Clerk's own message: a taken email is
//! `ALREADY_EXISTS`, an invalid field `INVALID_ARGUMENT`, an unknown user `NOT_FOUND`, rate
//! limiting `RATE_LIMITED`, Clerk unreachable or failing `UPSTREAM_UNAVAILABLE`, and no (or a
//! refused) `CLERK_SECRET_KEY` `NOT_CONFIGURED`. The secret key never appears in a message
//! (`keel_clerk_api` scrubs what it reports).

use std::sync::Arc;
use std::time::Duration;

use keel_clerk_api::{ClerkApi, ClerkApiError, NewUser, RetryPolicy, UserChanges};
use keel_functions::{
    ActionCtx, ErrorCode, FnError, FnResult, Registry, TS, UserIdentity, with_role,
};
use serde::{Deserialize, Serialize};

pub(crate) fn register(registry: &mut Registry) {
    registry
        .action("users:adminCreate", with_role("admin", admin_create))
        .action("users:adminUpdate", with_role("admin", admin_update))
        .action("users:adminDelete", with_role("admin", admin_delete));
}

/// `users:adminCreate` arguments. Clerk marks the address verified; the user signs in without
/// a password (email code, social connection or a reset, as the instance allows).
#[derive(Deserialize, Serialize, Debug, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[ts(optional_fields = nullable)]
pub struct AdminCreateUserArgs {
    pub email: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

/// `users:adminUpdate` arguments: the names to set (absent or `null` leaves one alone, `""`
/// clears it). The email address is out of scope: Clerk's `PATCH /v1/users/{id}` cannot
/// change an address, only choose the primary one among the user's verified addresses.
#[derive(Deserialize, Serialize, Debug, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[ts(optional_fields = nullable)]
pub struct AdminUpdateUserArgs {
    pub user_id: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

/// `users:adminDelete` arguments.
#[derive(Deserialize, Serialize, Debug, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdminDeleteUserArgs {
    pub user_id: String,
}

/// What each of the three returns: the Clerk user id it acted on (the new one for create).
#[derive(Deserialize, Serialize, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserResult {
    pub user_id: String,
}

/// The longest name accepted (as `users:syncUserProfile`).
const MAX_NAME_CHARS: usize = 256;
/// RFC 5321's limit on an address.
const MAX_EMAIL_CHARS: usize = 254;

/// A name as sent to Clerk: trimmed, at most 256 characters.
fn name(field: &str, value: Option<String>) -> FnResult<Option<String>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim().to_string();
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(FnError::invalid_argument(format!(
            "`{field}` is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(Some(value))
}

fn user_id(value: &str) -> FnResult<&str> {
    let value = value.trim();
    if value.is_empty() || value.len() > 128 {
        return Err(FnError::invalid_argument(
            "`userId` must be a Clerk user id (user_…)",
        ));
    }
    Ok(value)
}

/// The Backend API client for these actions: an admin waits at most a few seconds on a rate
/// limit (then gets `RATE_LIMITED` and can try again), and a failed upstream is reported at
/// once rather than retried for half a minute (`create_user` is never retried anyway).
fn clerk(ctx: &ActionCtx) -> FnResult<ClerkApi> {
    let api = ctx.extension::<ClerkApi>().ok_or_else(|| {
        FnError::coded(
            ErrorCode::NotConfigured,
            "Clerk's Backend API is not configured: set CLERK_SECRET_KEY (your Clerk secret key, sk_…)",
        )
    })?;
    Ok((*api).clone().with_retry_policy(RetryPolicy {
        max_retry_after: Duration::from_secs(2),
        max_rate_limit_wait: Duration::from_secs(2),
        max_transient_retries: 0,
        ..RetryPolicy::default()
    }))
}

async fn admin_create(
    ctx: ActionCtx,
    _: Arc<UserIdentity>,
    args: AdminCreateUserArgs,
) -> FnResult<AdminUserResult> {
    let email = args.email.trim().to_lowercase();
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        return Err(FnError::invalid_argument(format!(
            "`email` must be an email address of 1 to {MAX_EMAIL_CHARS} characters"
        )));
    }
    let user = NewUser {
        email_addresses: vec![email],
        first_name: name("firstName", args.first_name)?.filter(|n| !n.is_empty()),
        last_name: name("lastName", args.last_name)?.filter(|n| !n.is_empty()),
        skip_password_requirement: true,
    };
    let created = clerk(&ctx)?
        .create_user(&user)
        .await
        .map_err(|e| from_clerk("create a user", None, e))?;
    Ok(AdminUserResult {
        user_id: created.id,
    })
}

async fn admin_update(
    ctx: ActionCtx,
    _: Arc<UserIdentity>,
    args: AdminUpdateUserArgs,
) -> FnResult<AdminUserResult> {
    let id = user_id(&args.user_id)?;
    let changes = UserChanges {
        first_name: name("firstName", args.first_name)?,
        last_name: name("lastName", args.last_name)?,
    };
    if changes == UserChanges::default() {
        return Err(FnError::invalid_argument(
            "nothing to change: give `firstName` or `lastName`",
        ));
    }
    let updated = clerk(&ctx)?
        .update_user(id, &changes)
        .await
        .map_err(|e| from_clerk("update a user", Some(id), e))?;
    Ok(AdminUserResult {
        user_id: updated.id,
    })
}

/// Admins cannot delete themselves here: a slip of the mouse would end their session and, for
/// the last admin, leave nobody to manage users. Another admin, or Clerk's dashboard, can.
async fn admin_delete(
    ctx: ActionCtx,
    identity: Arc<UserIdentity>,
    args: AdminDeleteUserArgs,
) -> FnResult<AdminUserResult> {
    let id = user_id(&args.user_id)?;
    if id == identity.subject {
        return Err(FnError::invalid_argument(
            "admins cannot delete their own user; another admin (or Clerk's dashboard) can",
        ));
    }
    clerk(&ctx)?
        .delete_user(id)
        .await
        .map_err(|e| from_clerk("delete a user", Some(id), e))?;
    Ok(AdminUserResult {
        user_id: id.to_string(),
    })
}

/// Clerk's refusal as a coded error with Clerk's message. Failures that are not the caller's
/// (Clerk down, a refused key) are logged with their detail.
pub(crate) fn from_clerk(action: &str, user_id: Option<&str>, err: ClerkApiError) -> FnError {
    let coded = |code, message: String| FnError::coded(code, message);
    match err {
        ClerkApiError::NotFound => FnError::not_found(match user_id {
            Some(id) => format!("Clerk has no user {id}"),
            None => "Clerk answered 404 Not Found".to_string(),
        }),
        ClerkApiError::Http {
            status: 422,
            code: Some(code),
            message,
        } if code == "form_identifier_exists" => coded(ErrorCode::AlreadyExists, message),
        ClerkApiError::Http {
            status: 400 | 422,
            message,
            ..
        } => FnError::invalid_argument(message),
        ClerkApiError::Http {
            status: 409,
            message,
            ..
        } => FnError::conflict(message),
        ClerkApiError::Http { status: 429, .. } | ClerkApiError::RateLimitedTooLong => coded(
            ErrorCode::RateLimited,
            "Clerk is rate-limiting requests; try again in a few seconds".into(),
        ),
        ClerkApiError::Unauthorized => {
            tracing::warn!(action, "Clerk refused the secret key");
            coded(
                ErrorCode::NotConfigured,
                "Clerk refused this server's secret key: check CLERK_SECRET_KEY".into(),
            )
        }
        ClerkApiError::Http {
            status, message, ..
        } => {
            tracing::warn!(action, status, %message, "Clerk failed");
            coded(
                ErrorCode::UpstreamUnavailable,
                format!("Clerk could not {action} (status {status}): {message}"),
            )
        }
        err @ (ClerkApiError::Network(_) | ClerkApiError::Decode(_)) => {
            tracing::warn!(action, error = %err, "Clerk could not be reached");
            coded(
                ErrorCode::UpstreamUnavailable,
                format!("Clerk could not be reached to {action}; try again"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(err: ClerkApiError) -> (String, String) {
        let err = from_clerk("create a user", Some("user_1"), err);
        let data = err.error_data().unwrap();
        (
            data["code"].as_str().unwrap().to_string(),
            data["message"].as_str().unwrap().to_string(),
        )
    }

    fn http(status: u16, code: Option<&str>, message: &str) -> ClerkApiError {
        ClerkApiError::Http {
            status,
            code: code.map(str::to_string),
            message: message.into(),
        }
    }

    #[test]
    fn clerks_refusals_become_coded_errors_with_clerks_message() {
        let taken = "That email address is taken. Please try another.";
        assert_eq!(
            code(http(422, Some("form_identifier_exists"), taken)),
            ("ALREADY_EXISTS".into(), taken.into())
        );
        assert_eq!(
            code(http(422, Some("form_param_format_invalid"), "bad email")),
            ("INVALID_ARGUMENT".into(), "bad email".into())
        );
        assert_eq!(code(http(400, None, "bad")).0, "INVALID_ARGUMENT");
        assert_eq!(code(http(409, None, "conflict")).0, "CONFLICT");
        assert_eq!(
            code(ClerkApiError::NotFound),
            ("NOT_FOUND".into(), "Clerk has no user user_1".into())
        );
        assert_eq!(code(http(429, None, "slow down")).0, "RATE_LIMITED");
        assert_eq!(code(ClerkApiError::RateLimitedTooLong).0, "RATE_LIMITED");
        let (unavailable, message) = code(http(503, None, "maintenance"));
        assert_eq!(unavailable, "UPSTREAM_UNAVAILABLE");
        assert!(message.contains("503") && message.contains("maintenance"));
        assert_eq!(
            code(ClerkApiError::Network("connection refused".into())).0,
            "UPSTREAM_UNAVAILABLE"
        );
        assert_eq!(
            code(ClerkApiError::Decode("x".into())).0,
            "UPSTREAM_UNAVAILABLE"
        );
        assert_eq!(code(ClerkApiError::Unauthorized).0, "NOT_CONFIGURED");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            name("firstName", Some(" Ada ".into())).unwrap(),
            Some("Ada".into())
        );
        assert_eq!(name("firstName", None).unwrap(), None);
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        let err = name("lastName", Some(long)).unwrap_err();
        assert!(err.to_string().contains("lastName"));
        assert!(user_id(" ").is_err());
        assert_eq!(user_id(" user_1 ").unwrap(), "user_1");
    }
}
