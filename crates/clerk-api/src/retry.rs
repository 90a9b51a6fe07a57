//! When to try a request again, and how long to wait first.

use std::time::{Duration, SystemTime};

/// How a [`ClerkApi`](crate::ClerkApi) retries.
///
/// Two budgets, kept apart:
/// - **429 Too Many Requests** is Clerk pacing us (100 requests / 10 s per key
///   in development, 1000 in production). The client waits `Retry-After`
///   (at most [`max_retry_after`](Self::max_retry_after) each time) and sends
///   the same request again, until the waits would add up to more than
///   [`max_rate_limit_wait`](Self::max_rate_limit_wait); then
///   [`ClerkApiError::RateLimitedTooLong`](crate::ClerkApiError::RateLimitedTooLong).
/// - **Network errors and 5xx** are retried
///   [`max_transient_retries`](Self::max_transient_retries) times with
///   exponential backoff from [`initial_backoff`](Self::initial_backoff),
///   doubling up to [`max_backoff`](Self::max_backoff).
///
/// Reads, PATCHes that set names and a DELETE are safe to repeat: a retry never
/// does anything twice (a DELETE repeated after Clerk acted answers 404). Creating a
/// user is not, so `create_user` never retries a network error or a 5xx.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The longest single wait for a 429, whatever `Retry-After` says.
    pub max_retry_after: Duration,
    /// The longest total wait for 429s within one call.
    pub max_rate_limit_wait: Duration,
    /// The shortest wait for a 429 (a `Retry-After: 0` must not spin).
    pub min_rate_limit_wait: Duration,
    /// Retries after a network error or a 5xx (so at most this + 1 attempts).
    pub max_transient_retries: u32,
    /// The first backoff after a network error or a 5xx, and after a 429
    /// without a usable `Retry-After`.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retry_after: Duration::from_secs(60),
            max_rate_limit_wait: Duration::from_secs(10 * 60),
            min_rate_limit_wait: Duration::from_millis(500),
            max_transient_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0 for the first retry):
    /// `initial_backoff * 2^retry`, at most `max_backoff`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// How long to wait after the `count`-th consecutive 429 (0-based), given
    /// its `Retry-After`: the header's delay, or a backoff without one,
    /// between `min_rate_limit_wait` and `max_retry_after`.
    pub(crate) fn rate_limit_wait(&self, retry_after: Option<Duration>, count: u32) -> Duration {
        let wait = retry_after.unwrap_or_else(|| {
            self.initial_backoff
                .saturating_mul(1u32.checked_shl(count.min(31)).unwrap_or(u32::MAX))
        });
        wait.min(self.max_retry_after)
            .max(self.min_rate_limit_wait.min(self.max_retry_after))
    }
}

/// The delay a `Retry-After` header asks for: delay-seconds (`120`; a
/// fractional `1.5` is accepted too) or an HTTP-date (`Wed, 21 Oct 2026
/// 07:28:00 GMT`, measured from `now`; a date already past means no delay).
/// `None` when the value is neither.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        // Not in RFC 9110, but harmless to honour. Rejects NaN, ±inf and
        // negatives; huge values saturate (and are capped by the policy).
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(http_date: &str) -> SystemTime {
        httpdate::parse_http_date(http_date).unwrap()
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
        assert_eq!(parse_retry_after("inf", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_http_date() {
        let now = at("Wed, 21 Oct 2026 07:28:00 GMT");
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // RFC 850 and asctime forms are HTTP-dates too.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-26 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:05 2026", now),
            Some(Duration::from_secs(5))
        );
        // Already past: retry now.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Wed, 32 Oct 2026 07:27:00 GMT", now),
            None
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u64> = (0..7)
            .map(|retry| policy.backoff(retry).as_millis() as u64)
            .collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(8));
    }

    #[test]
    fn rate_limit_waits_are_clamped() {
        let policy = RetryPolicy::default();
        let secs = Duration::from_secs;
        assert_eq!(policy.rate_limit_wait(Some(secs(1)), 0), secs(1));
        assert_eq!(policy.rate_limit_wait(Some(secs(3600)), 0), secs(60));
        assert_eq!(policy.rate_limit_wait(Some(Duration::MAX), 0), secs(60));
        assert_eq!(
            policy.rate_limit_wait(Some(Duration::ZERO), 0),
            Duration::from_millis(500)
        );
        // Without a usable header: backoff, still capped.
        assert_eq!(policy.rate_limit_wait(None, 0), Duration::from_millis(500));
        assert_eq!(policy.rate_limit_wait(None, 3), secs(4));
        assert_eq!(policy.rate_limit_wait(None, 40), secs(60));
    }
}
