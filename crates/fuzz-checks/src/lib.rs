//! What the fuzz targets in `fuzz/` check on every input, one function per target. Each takes
//! arbitrary bytes and panics only on a bug: a parser that panics, or a property that fails.
//! The targets call these functions and `tests/corpus.rs` replays the committed corpus and
//! regressions through them, so the two cannot drift apart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keel_values::bounded_json::{self, BoundedJsonError};
use keel_values::{Value, index_key};
use keel_webhooks::{ClerkEvent, WebhookSecrets};
use serde_json::Value as Json;

/// A target's check of one input.
pub type Check = fn(&[u8]);

/// The fuzz targets, by name: `fuzz/fuzz_targets/<name>.rs`, `fuzz/corpus/<name>/`,
/// `fuzz/regressions/<name>/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("value", check_value),
    ("webhook", check_webhook),
    ("jwt", check_jwt),
    ("jwks", check_jwks),
    ("sync_message", check_sync_message),
];

/// JSON text, as HTTP bodies and sync messages are parsed (`bounded_json`, which must agree
/// with `serde_json` within its bounds), then as a Convex value in the wire format and in the
/// snapshot export format. A value read must write out and read back as itself, in memory and
/// through JSON text.
pub fn check_value(data: &[u8]) {
    let plain = serde_json::from_slice::<Json>(data);
    let json = match (plain, bounded_json::parse_bounded(data)) {
        (Ok(plain), Ok(bounded)) => {
            assert_eq!(
                plain, bounded,
                "bounded_json read other JSON than serde_json"
            );
            plain
        }
        (Err(_), Ok(_)) => panic!("bounded_json accepted text serde_json refuses"),
        (Ok(_), Err(BoundedJsonError::NotJson(e))) => {
            panic!("bounded_json refused JSON serde_json accepts: {e}")
        }
        (_, Err(_)) => return,
    };

    if let Ok(value) = Value::from_encoded_json(&json) {
        let written = value.to_encoded_json();
        assert_eq!(Value::from_encoded_json(&written).ok(), Some(value.clone()));
        assert_reads_back_from_text(&written, &value, Value::from_encoded_json);
        // The same value in the other format.
        let exported = value.to_export_json();
        assert_eq!(Value::from_export_json(&exported).ok(), Some(value.clone()));
        assert_reads_back_from_text(&exported, &value, Value::from_export_json);
        exercise(&value);
    }
    if let Ok(value) = Value::from_export_json(&json) {
        let written = value.to_export_json();
        assert_eq!(Value::from_export_json(&written).ok(), Some(value.clone()));
        assert_reads_back_from_text(&written, &value, Value::from_export_json);
        exercise(&value);
    }
}

fn assert_reads_back_from_text(
    json: &Json,
    value: &Value,
    read: fn(&Json) -> Result<Value, keel_values::ValueError>,
) {
    let text = json.to_string();
    let reparsed: Json = serde_json::from_str(&text).expect("written JSON parses");
    assert_eq!(&reparsed, json, "JSON text {text} reads back as other JSON");
    assert_eq!(read(&reparsed).ok().as_ref(), Some(value), "text {text}");
}

/// The other pure functions of a value: none may panic, and a value equals itself.
fn exercise(value: &Value) {
    assert_eq!(value.total_cmp(value), std::cmp::Ordering::Equal);
    let _ = value.to_clean_json();
    let _ = index_key(&[Some(value), None]);
}

/// The secret of Svix's test vectors.
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: u64 = 1_716_883_200;

/// A webhook body as a Clerk event; then the bytes split at their first three newlines into an
/// `svix-id`, `svix-timestamp` and `svix-signature` header and a body, verified; a delivery
/// signed with those id and body must verify; and the first line as a webhook secret.
pub fn check_webhook(data: &[u8]) {
    if let Ok(event) = ClerkEvent::from_slice(data) {
        let _ = event.event_type();
        let _ = event.updated_at_ms();
        if let Some(id) = event.object_id() {
            assert!(
                !id.is_empty(),
                "an event with an empty object id was accepted"
            );
        }
    }

    let mut parts = data.splitn(4, |byte| *byte == b'\n');
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (id, timestamp, signature) = (next(), next(), next());
    let body = data
        .splitn(4, |byte| *byte == b'\n')
        .nth(3)
        .unwrap_or_default();
    let secrets = WebhookSecrets::parse(WEBHOOK_SECRET).expect("the test secret parses");
    let headers = [
        ("svix-id", id.as_str()),
        ("svix-timestamp", timestamp.as_str()),
        ("svix-signature", signature.as_str()),
    ];
    let _ = secrets.verify(&headers[..], body, NOW);

    if !id.is_empty() {
        let signed = secrets.sign(&id, NOW, body);
        let now = NOW.to_string();
        let headers = [
            ("webhook-id", id.as_str()),
            ("webhook-timestamp", now.as_str()),
            ("webhook-signature", signed.as_str()),
        ];
        let delivery = secrets
            .verify(&headers[..], body, NOW)
            .expect("a delivery signed now verifies");
        assert_eq!(delivery.id, id);
    }
    let _ = WebhookSecrets::parse(&id);
}

/// The bytes as an `Authorization` header; then as a token's claims (under a fixed RS256
/// header) and as a token's header (over empty claims), so the claim readers are reached
/// without the fuzzer having to learn base64url.
pub fn check_jwt(data: &[u8]) {
    use keel_auth::fuzzing::authorization_header;

    let _ = authorization_header(&String::from_utf8_lossy(data));

    let token = |header: &[u8], claims: &[u8]| {
        format!(
            "Bearer {}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    };
    let as_claims = authorization_header(&token(br#"{"alg":"RS256","kid":"k1"}"#, data));
    let is_object = serde_json::from_slice::<Json>(data).is_ok_and(|json| json.is_object());
    if data.len() < 16 * 1024 {
        assert_eq!(as_claims.is_ok(), is_object, "{as_claims:?}");
    }
    let _ = authorization_header(&token(data, b"{}"));
}

/// The bytes as a JWKS document, as an OIDC discovery document and as a `Cache-Control` value.
pub fn check_jwks(data: &[u8]) {
    use keel_auth::fuzzing::{cache_control_max_age, discovery_document, jwks};

    if let Ok(kids) = jwks(data) {
        assert!(
            !kids.is_empty(),
            "a key set without usable keys was accepted"
        );
    }
    let _ = discovery_document(data, "https://example.clerk.accounts.dev");
    let _ = cache_control_max_age(&String::from_utf8_lossy(data));
}

/// The bytes as a sync-protocol client message, both ways Keel parses one (straight into the
/// type for short texts, within `bounded_json`'s bounds for long ones): they must agree.
pub fn check_sync_message(data: &[u8]) {
    use keel_sync::protocol::fuzzing::{parse_inline, parse_within_bounds};
    use keel_sync::protocol::parse_client_message;

    let inline = parse_inline(data);
    let bounded = parse_within_bounds(data);
    match (&inline, &bounded) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the two parses read different messages"),
        (Ok(_), Err(e)) => assert!(
            e.code != keel_sync::ProtocolErrorCode::InvalidMessage,
            "only the bounded parse refused the message: {e}"
        ),
        _ => {}
    }
    let _ = parse_client_message(data);
}
