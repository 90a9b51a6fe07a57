//! Svix / Standard Webhooks signatures: HMAC-SHA256 over
//! `${id}.${timestamp}.${raw body}`, sent as `v1,<base64>` entries.
//!
//! The raw body bytes are what is signed: a caller that parses and
//! re-serializes the JSON first would break every signature.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;

use crate::headers::{HeaderLookup, WebhookHeader};
use crate::lenient::BASE64;
use crate::secrets::WebhookSecrets;

/// How far (in seconds, either way) a delivery's timestamp may be from now.
/// Svix's value: it bounds replays of captured requests and tolerates skew.
pub const TOLERANCE_SECS: u64 = 300;

/// The only signature version defined so far; entries of other versions are
/// skipped so a sender can add a new scheme beside it.
const VERSION_PREFIX: &str = "v1,";

/// A delivery whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDelivery {
    /// The message id (`svix-id`): the same on every retry, so it is the key
    /// for deduplication, not the Clerk object id.
    pub id: String,
    /// When the sender signed it, in Unix seconds.
    pub timestamp: u64,
}

/// Why a delivery was refused. Messages are fixed texts: they never contain a
/// secret, a signature or the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing {} header (or {})", .0.svix_name(), .0.standard_name())]
    MissingHeader(WebhookHeader),
    #[error("the webhook timestamp header is not a Unix time in seconds")]
    InvalidTimestamp,
    #[error("the webhook timestamp is more than 5 minutes in the past")]
    TimestampTooOld,
    #[error("the webhook timestamp is more than 5 minutes in the future")]
    TimestampTooNew,
    #[error("no valid webhook signature")]
    NoValidSignature,
}

impl SignatureError {
    /// A stable identifier for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader(_) => "missing_header",
            SignatureError::InvalidTimestamp => "invalid_timestamp",
            SignatureError::TimestampTooOld => "timestamp_too_old",
            SignatureError::TimestampTooNew => "timestamp_too_new",
            SignatureError::NoValidSignature => "no_valid_signature",
        }
    }
}

impl WebhookSecrets {
    /// Checks a delivery's headers against its raw body at `now_unix_secs`.
    ///
    /// Reads `svix-id`, `svix-timestamp`, `svix-signature`, or their Standard
    /// Webhooks names `webhook-*`, asking `headers` for lower-case names (see
    /// [`HeaderLookup`] on case). It passes when any `v1` entry matches any
    /// configured secret and the timestamp is within [`TOLERANCE_SECS`] of now.
    pub fn verify(
        &self,
        headers: &(impl HeaderLookup + ?Sized),
        body: &[u8],
        now_unix_secs: u64,
    ) -> Result<VerifiedDelivery, SignatureError> {
        let id = require(headers, WebhookHeader::Id)?;
        let timestamp_text = require(headers, WebhookHeader::Timestamp)?;
        let signatures = require(headers, WebhookHeader::Signature)?;

        let timestamp = parse_timestamp(timestamp_text)?;
        check_freshness(timestamp, now_unix_secs)?;

        // One HMAC per secret, then every entry is compared against each.
        let expected: Vec<hmac::Tag> = self
            .keys
            .iter()
            .map(|key| tag(key, id, timestamp_text, body))
            .collect();
        let matched = signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.strip_prefix(VERSION_PREFIX))
            // A malformed entry is just one that cannot match.
            .filter_map(|encoded| BASE64.decode(encoded).ok())
            .any(|given| {
                expected
                    .iter()
                    .any(|tag| constant_time::verify_slices_are_equal(tag.as_ref(), &given).is_ok())
            });
        if !matched {
            return Err(SignatureError::NoValidSignature);
        }
        Ok(VerifiedDelivery {
            id: id.to_owned(),
            timestamp,
        })
    }

    /// The `v1,<base64>` signature of a delivery, made with the first secret:
    /// for outgoing webhooks (the emulator) and tests.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let tag = tag(&self.keys[0], id, &timestamp.to_string(), body);
        format!("{VERSION_PREFIX}{}", BASE64.encode(tag.as_ref()))
    }
}

fn require(
    headers: &(impl HeaderLookup + ?Sized),
    header: WebhookHeader,
) -> Result<&str, SignatureError> {
    header
        .find(headers)
        .ok_or(SignatureError::MissingHeader(header))
}

/// Plain decimal seconds only: the signed content uses the header's text, so
/// a sign or spaces that `parse` might forgive would make it ambiguous.
fn parse_timestamp(text: &str) -> Result<u64, SignatureError> {
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(SignatureError::InvalidTimestamp);
    }
    text.parse().map_err(|_| SignatureError::InvalidTimestamp)
}

fn check_freshness(timestamp: u64, now: u64) -> Result<(), SignatureError> {
    if timestamp.saturating_add(TOLERANCE_SECS) < now {
        Err(SignatureError::TimestampTooOld)
    } else if timestamp > now.saturating_add(TOLERANCE_SECS) {
        Err(SignatureError::TimestampTooNew)
    } else {
        Ok(())
    }
}

/// HMAC of `${id}.${timestamp}.${body}`, fed in pieces so a large body is not
/// copied.
fn tag(key: &hmac::Key, id: &str, timestamp: &str, body: &[u8]) -> hmac::Tag {
    let mut context = hmac::Context::with_key(key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.as_bytes());
    context.update(b".");
    context.update(body);
    context.sign()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_plain_decimal_seconds() {
        assert_eq!(parse_timestamp("1614265330"), Ok(1_614_265_330));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1.5",
            "1e9",
            "99999999999999999999999",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                Err(SignatureError::InvalidTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn freshness_window_is_inclusive_and_saturates() {
        assert_eq!(check_freshness(1000, 1300), Ok(()));
        assert_eq!(check_freshness(1000, 700), Ok(()));
        assert_eq!(
            check_freshness(1000, 1301),
            Err(SignatureError::TimestampTooOld)
        );
        assert_eq!(
            check_freshness(1000, 699),
            Err(SignatureError::TimestampTooNew)
        );
        assert_eq!(check_freshness(u64::MAX, u64::MAX), Ok(()));
        assert_eq!(check_freshness(0, 0), Ok(()));
        assert_eq!(
            check_freshness(u64::MAX, 0),
            Err(SignatureError::TimestampTooNew)
        );
    }

    #[test]
    fn codes_are_distinct() {
        let errors = [
            SignatureError::MissingHeader(WebhookHeader::Id),
            SignatureError::InvalidTimestamp,
            SignatureError::TimestampTooOld,
            SignatureError::TimestampTooNew,
            SignatureError::NoValidSignature,
        ];
        let mut codes: Vec<_> = errors.iter().map(SignatureError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }
}
