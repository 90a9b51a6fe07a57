//! What can go wrong talking to Clerk, and how Clerk's own error bodies are read.

use serde::Deserialize;

/// Every failure of a [`ClerkApi`](crate::ClerkApi) call.
///
/// No variant ever holds the secret key: messages that came from the network
/// (Clerk's error text, transport errors) are scrubbed of it before they are
/// stored here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClerkApiError {
    /// Clerk answered 401 or 403: the secret key is wrong, revoked, or belongs
    /// to another instance.
    #[error(
        "Clerk refused the secret key (401/403): check CLERK_SECRET_KEY and that it belongs to \
         this Clerk instance"
    )]
    Unauthorized,
    /// Clerk answered 404: no such object (or the base URL is wrong).
    #[error("Clerk answered 404 Not Found: no such object, or the Clerk API URL is wrong")]
    NotFound,
    /// Clerk kept answering 429 Too Many Requests for longer than the client's
    /// rate-limit budget ([`RetryPolicy::max_rate_limit_wait`](crate::RetryPolicy)).
    #[error("Clerk kept rate-limiting the requests (429) past the client's total wait budget")]
    RateLimitedTooLong,
    /// Any other unsuccessful status, after retries for 5xx.
    #[error("Clerk answered {status}: {message}")]
    Http {
        status: u16,
        /// Clerk's `errors[0].code` (`form_identifier_exists`, `form_param_value_invalid`,
        /// …), when the body is Clerk's error JSON.
        code: Option<String>,
        /// Clerk's `errors[0].long_message` (or `message`); otherwise the
        /// start of the body, or the status's reason phrase.
        message: String,
    },
    /// The request did not complete (connect, TLS, timeout, reading the
    /// body), after retries.
    #[error("could not reach the Clerk API: {0}")]
    Network(String),
    /// A successful answer whose body is not what the endpoint returns.
    #[error("could not decode Clerk's answer: {0}")]
    Decode(String),
}

/// Clerk's error body: `{"errors":[{"message","long_message","code"}], …}`.
#[derive(Deserialize)]
struct ClerkErrors {
    errors: Vec<ClerkError>,
}

#[derive(Deserialize)]
struct ClerkError {
    message: Option<String>,
    long_message: Option<String>,
    code: Option<String>,
}

/// Clerk's `errors[0].code` of an unsuccessful answer, when its body is Clerk's error JSON.
pub fn error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ClerkErrors>(body)
        .ok()?
        .errors
        .into_iter()
        .next()?
        .code
        .filter(|code| !code.trim().is_empty())
}

/// How much of a body that is not Clerk's error JSON goes into a message.
const BODY_SNIPPET_CHARS: usize = 300;

/// The message of an unsuccessful answer: `errors[0].long_message`, else
/// `errors[0].message`, else the start of the body, else the reason phrase.
pub fn error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<ClerkErrors>(body)
        .ok()
        .and_then(|body| body.errors.into_iter().next())
        .and_then(|first| {
            [first.long_message, first.message]
                .into_iter()
                .flatten()
                .find(|text| !text.trim().is_empty())
        });
    if let Some(message) = from_json {
        return message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() {
        let mut snippet: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
        if text.chars().nth(BODY_SNIPPET_CHARS).is_some() {
            snippet.push('…');
        }
        return snippet;
    }
    status
        .canonical_reason()
        .unwrap_or("no reason given")
        .to_owned()
}

/// `text` with every occurrence of the secret key replaced, for anything that
/// came from outside (a server may echo the request's headers).
pub(crate) fn redact(text: String, secret: &str) -> String {
    if secret.is_empty() || !text.contains(secret) {
        text
    } else {
        text.replace(secret, "[redacted]")
    }
}

/// A transport error with its causes (`error sending request …: connection
/// refused`), which reqwest's own `Display` leaves out.
pub(crate) fn describe_transport(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn prefers_the_long_message() {
        let body = br#"{"errors":[{"message":"is invalid","long_message":"limit must be between 1 and 500.","code":"form_param_value_invalid"},{"message":"second","long_message":"second long","code":"x"}],"clerk_trace_id":"t"}"#;
        assert_eq!(
            error_message(StatusCode::UNPROCESSABLE_ENTITY, body),
            "limit must be between 1 and 500."
        );
    }

    #[test]
    fn reads_clerks_error_code() {
        let body = br#"{"errors":[{"message":"is taken","long_message":"That email address is taken. Please try another.","code":"form_identifier_exists","meta":{"param_name":"email_address"}}]}"#;
        assert_eq!(error_code(body).as_deref(), Some("form_identifier_exists"));
        assert_eq!(error_code(br#"{"errors":[{"message":"x"}]}"#), None);
        assert_eq!(error_code(b"upstream went away"), None);
    }

    #[test]
    fn falls_back_to_the_short_message() {
        let body = br#"{"errors":[{"message":"not found","code":"resource_not_found"}]}"#;
        assert_eq!(error_message(StatusCode::BAD_REQUEST, body), "not found");
        let body = br#"{"errors":[{"message":"short","long_message":"  ","code":"c"}]}"#;
        assert_eq!(error_message(StatusCode::BAD_REQUEST, body), "short");
    }

    #[test]
    fn falls_back_to_the_body_then_the_reason() {
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"  upstream went away\n"),
            "upstream went away"
        );
        let long = "x".repeat(1000);
        let message = error_message(StatusCode::BAD_GATEWAY, long.as_bytes());
        assert_eq!(message.chars().count(), BODY_SNIPPET_CHARS + 1);
        assert!(message.ends_with('…'));
        assert_eq!(
            error_message(StatusCode::SERVICE_UNAVAILABLE, b""),
            "Service Unavailable"
        );
        assert_eq!(
            error_message(StatusCode::BAD_REQUEST, br#"{"errors":[]}"#),
            r#"{"errors":[]}"#
        );
    }

    #[test]
    fn redacts_the_secret_everywhere() {
        assert_eq!(
            redact("a sk_test_1 b sk_test_1".into(), "sk_test_1"),
            "a [redacted] b [redacted]"
        );
        assert_eq!(redact("nothing here".into(), "sk_test_1"), "nothing here");
        // An empty key must not turn every gap into "[redacted]".
        assert_eq!(redact("text".into(), ""), "text");
    }
}
