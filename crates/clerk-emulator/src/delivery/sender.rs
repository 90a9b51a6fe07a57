//! One HTTP attempt: sign the message's bytes for this moment and POST them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel_webhooks::WebhookSecrets;
use reqwest::header::CONTENT_TYPE;

use super::log::Outcome;
use super::message::Message;

/// Svix's limit: an endpoint must answer within 15 s.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) struct Sender {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    secrets: WebhookSecrets,
}

impl Sender {
    pub(crate) fn new(
        endpoint: reqwest::Url,
        secrets: WebhookSecrets,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            // Svix does not follow redirects: a 3xx is a failed attempt.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("keel-clerk-emulator")
            .build()?;
        Ok(Self {
            client,
            endpoint,
            secrets,
        })
    }

    /// Svix signs each attempt anew, so `svix-timestamp` is the attempt's
    /// time and an old retry never fails the receiver's 5-minute check.
    pub(crate) async fn send(&self, message: &Message) -> Outcome {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let signature = self.secrets.sign(&message.id, timestamp, &message.body);
        let sent = self
            .client
            .post(self.endpoint.clone())
            .header("svix-id", &message.id)
            .header("svix-timestamp", timestamp.to_string())
            .header("svix-signature", signature)
            .header(CONTENT_TYPE, "application/json")
            .body(message.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => Outcome::Answered(response.status().as_u16()),
            Err(e) if e.is_timeout() => {
                Outcome::NoAnswer(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()))
            }
            // Without the URL: a query string may hold an access token.
            Err(e) => Outcome::NoAnswer(error_chain(&e.without_url())),
        }
    }
}

/// reqwest's top-level message is vague ("error sending request"); the
/// causes say what happened (e.g. connection refused).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
