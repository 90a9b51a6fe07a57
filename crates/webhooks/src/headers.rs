//! How the verifier reads request headers without depending on an HTTP crate.

use std::collections::HashMap;
use std::hash::BuildHasher;

/// Read access to a request's headers.
///
/// The verifier always asks for lower-case names (`svix-id`, `webhook-id`, …).
/// HTTP header names are case-insensitive, so an implementation over a map
/// whose keys may be in any case must fold case itself: `http::HeaderMap`
/// already does, and a `HashMap` should be filled with lower-cased keys.
pub trait HeaderLookup {
    /// The value of the header `name` (given in lower case), if present.
    fn get(&self, name: &str) -> Option<&str>;
}

/// Keys are matched exactly, so insert them in lower case.
impl<S: BuildHasher> HeaderLookup for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

/// A list of `(name, value)` pairs, as tests and small callers write them.
/// Names are compared ignoring ASCII case; the first match wins.
impl<K: AsRef<str>, V: AsRef<str>> HeaderLookup for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> HeaderLookup for [(K, V); N] {
    fn get(&self, name: &str) -> Option<&str> {
        HeaderLookup::get(self.as_slice(), name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderLookup for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        HeaderLookup::get(self.as_slice(), name)
    }
}

/// The three headers a signed delivery carries. Each has a Svix name and the
/// Standard Webhooks name for the same scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookHeader {
    /// The message id: stable across retries, the idempotency key.
    Id,
    /// Unix seconds at which the message was signed.
    Timestamp,
    /// Space-separated `v1,<base64>` entries.
    Signature,
}

impl WebhookHeader {
    /// The name Svix (and so Clerk) sends: `svix-id`, `svix-timestamp`, `svix-signature`.
    pub fn svix_name(self) -> &'static str {
        match self {
            WebhookHeader::Id => "svix-id",
            WebhookHeader::Timestamp => "svix-timestamp",
            WebhookHeader::Signature => "svix-signature",
        }
    }

    /// The Standard Webhooks name: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub fn standard_name(self) -> &'static str {
        match self {
            WebhookHeader::Id => "webhook-id",
            WebhookHeader::Timestamp => "webhook-timestamp",
            WebhookHeader::Signature => "webhook-signature",
        }
    }

    /// The header's value under either name (Svix first). An empty value counts
    /// as absent: an empty id would be a useless idempotency key.
    pub(crate) fn find(self, headers: &(impl HeaderLookup + ?Sized)) -> Option<&str> {
        [self.svix_name(), self.standard_name()]
            .into_iter()
            .filter_map(|name| headers.get(name))
            .find(|value| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_match_names_ignoring_case() {
        let headers = [("Svix-Id", "msg_1")];
        assert_eq!(WebhookHeader::Id.find(&headers), Some("msg_1"));
    }

    #[test]
    fn hash_map_keys_match_exactly() {
        let mut headers = HashMap::new();
        headers.insert("webhook-timestamp".to_owned(), "1".to_owned());
        assert_eq!(WebhookHeader::Timestamp.find(&headers), Some("1"));
        headers.clear();
        headers.insert("Webhook-Timestamp".to_owned(), "1".to_owned());
        assert_eq!(WebhookHeader::Timestamp.find(&headers), None);
    }

    #[test]
    fn svix_name_wins_and_empty_values_are_absent() {
        let both = vec![("webhook-id", "std"), ("svix-id", "svix")];
        assert_eq!(WebhookHeader::Id.find(&both), Some("svix"));
        let empty_svix = [("svix-id", ""), ("webhook-id", "std")];
        assert_eq!(WebhookHeader::Id.find(&empty_svix), Some("std"));
        let only_empty = [("svix-id", "")];
        assert_eq!(WebhookHeader::Id.find(&only_empty), None);
    }
}
