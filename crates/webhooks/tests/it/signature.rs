//! Signature verification: the official Svix vectors, then each way a delivery
//! can be right or wrong.

use std::collections::HashMap;

use keel_webhooks::{
    SignatureError, TOLERANCE_SECS, VerifiedDelivery, WebhookHeader, WebhookSecrets,
};
use serde::Deserialize;

use crate::support::read_reference;

#[derive(Deserialize)]
struct Vectors {
    valid: Vec<Vector>,
    invalid: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    secret: String,
    msg_id: String,
    timestamp: u64,
    payload: String,
    signature: String,
}

impl Vector {
    fn verify(&self) -> Result<VerifiedDelivery, SignatureError> {
        let secrets = WebhookSecrets::parse(&self.secret).unwrap();
        let timestamp = self.timestamp.to_string();
        let headers = [
            ("svix-id", self.msg_id.as_str()),
            ("svix-timestamp", timestamp.as_str()),
            ("svix-signature", self.signature.as_str()),
        ];
        secrets.verify(&headers, self.payload.as_bytes(), self.timestamp)
    }
}

fn vectors() -> Vectors {
    serde_json::from_str(&read_reference("svix/vectors.json")).unwrap()
}

#[test]
fn official_valid_vectors_pass() {
    let vectors = vectors();
    assert!(!vectors.valid.is_empty());
    for vector in &vectors.valid {
        assert_eq!(
            vector.verify(),
            Ok(VerifiedDelivery {
                id: vector.msg_id.clone(),
                timestamp: vector.timestamp,
            }),
            "{}",
            vector.msg_id
        );
    }
}

#[test]
fn official_invalid_vectors_fail() {
    let vectors = vectors();
    assert!(!vectors.invalid.is_empty());
    for vector in &vectors.invalid {
        assert_eq!(vector.verify(), Err(SignatureError::NoValidSignature));
    }
}

#[test]
fn sign_reproduces_the_official_signatures() {
    for vector in vectors().valid {
        let secrets = WebhookSecrets::parse(&vector.secret).unwrap();
        let signature = secrets.sign(&vector.msg_id, vector.timestamp, vector.payload.as_bytes());
        assert_eq!(signature, vector.signature);
    }
}

#[test]
fn a_bare_base64_secret_works_like_the_prefixed_one() {
    let vector = &vectors().valid[0];
    let bare = vector.secret.strip_prefix("whsec_").unwrap();
    let secrets = WebhookSecrets::parse(bare).unwrap();
    let signature = secrets.sign(&vector.msg_id, vector.timestamp, vector.payload.as_bytes());
    assert_eq!(signature, vector.signature);
}

const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_B: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const ID: &str = "msg_2aBcDeFgHiJkLmNoPqRsTuVwXyZ";
const NOW: u64 = 1_716_883_200;
const BODY: &[u8] = br#"{"type":"user.created","object":"event","data":{"id":"user_1"}}"#;

fn secrets(value: &str) -> WebhookSecrets {
    WebhookSecrets::parse(value).unwrap()
}

/// Headers under the Svix names.
fn svix_headers(timestamp: u64, signature: &str) -> Vec<(String, String)> {
    vec![
        ("svix-id".into(), ID.into()),
        ("svix-timestamp".into(), timestamp.to_string()),
        ("svix-signature".into(), signature.into()),
    ]
}

fn verify_with(
    secrets: &WebhookSecrets,
    signature: &str,
    timestamp: u64,
) -> Result<VerifiedDelivery, SignatureError> {
    secrets.verify(&svix_headers(timestamp, signature), BODY, NOW)
}

fn delivered() -> Result<VerifiedDelivery, SignatureError> {
    Ok(VerifiedDelivery {
        id: ID.into(),
        timestamp: NOW,
    })
}

#[test]
fn any_matching_entry_among_several_passes() {
    let a = secrets(SECRET_A);
    let good = a.sign(ID, NOW, BODY);
    let other = secrets(SECRET_B).sign(ID, NOW, BODY);
    assert_eq!(
        verify_with(&a, &format!("{other} {good}"), NOW),
        delivered()
    );
    assert_eq!(
        verify_with(&a, &format!("{good} {other}"), NOW),
        delivered()
    );
    assert_eq!(
        verify_with(&a, &format!("  {other}   {good}  "), NOW),
        delivered()
    );
    assert_eq!(
        verify_with(&a, &other, NOW),
        Err(SignatureError::NoValidSignature)
    );
}

#[test]
fn during_rotation_either_secret_passes() {
    let both = secrets(&format!("{SECRET_A} {SECRET_B}"));
    for signer in [SECRET_A, SECRET_B] {
        let signature = secrets(signer).sign(ID, NOW, BODY);
        assert_eq!(verify_with(&both, &signature, NOW), delivered(), "{signer}");
    }
    // The first secret is the one that signs.
    assert_eq!(
        both.sign(ID, NOW, BODY),
        secrets(SECRET_A).sign(ID, NOW, BODY)
    );
}

#[test]
fn a_wrong_secret_fails() {
    let signature = secrets(SECRET_B).sign(ID, NOW, BODY);
    assert_eq!(
        verify_with(&secrets(SECRET_A), &signature, NOW),
        Err(SignatureError::NoValidSignature)
    );
}

#[test]
fn every_one_byte_change_of_the_body_fails() {
    let a = secrets(SECRET_A);
    let headers = svix_headers(NOW, &a.sign(ID, NOW, BODY));
    for index in 0..BODY.len() {
        let mut tampered = BODY.to_vec();
        tampered[index] ^= 0x01;
        assert_eq!(
            a.verify(&headers, &tampered, NOW),
            Err(SignatureError::NoValidSignature),
            "byte {index}"
        );
    }
    let mut longer = BODY.to_vec();
    longer.push(b' ');
    assert_eq!(
        a.verify(&headers, &longer, NOW),
        Err(SignatureError::NoValidSignature)
    );
}

#[test]
fn the_raw_bytes_are_verified_not_a_reserialization() {
    // The vector's payload has a space after the colon; serde_json drops it.
    let vector = &vectors().valid[0];
    let value: serde_json::Value = serde_json::from_str(&vector.payload).unwrap();
    let reserialized = serde_json::to_vec(&value).unwrap();
    assert_ne!(reserialized, vector.payload.as_bytes());
    let secrets = secrets(&vector.secret);
    let timestamp = vector.timestamp.to_string();
    let headers = [
        ("svix-id", vector.msg_id.as_str()),
        ("svix-timestamp", timestamp.as_str()),
        ("svix-signature", vector.signature.as_str()),
    ];
    assert_eq!(
        secrets.verify(&headers, &reserialized, vector.timestamp),
        Err(SignatureError::NoValidSignature)
    );
}

#[test]
fn timestamps_pass_at_exactly_five_minutes_and_fail_one_second_beyond() {
    let a = secrets(SECRET_A);
    let check = |timestamp: u64| {
        let headers = svix_headers(timestamp, &a.sign(ID, timestamp, BODY));
        a.verify(&headers, BODY, NOW)
            .map(|delivery| delivery.timestamp)
    };
    assert_eq!(TOLERANCE_SECS, 300);
    assert_eq!(check(NOW - 300), Ok(NOW - 300));
    assert_eq!(check(NOW + 300), Ok(NOW + 300));
    assert_eq!(check(NOW - 301), Err(SignatureError::TimestampTooOld));
    assert_eq!(check(NOW + 301), Err(SignatureError::TimestampTooNew));
}

#[test]
fn the_timestamp_is_checked_before_the_signature_and_is_signed() {
    let a = secrets(SECRET_A);
    // A fresh timestamp header on a signature made for another time fails.
    let signature = a.sign(ID, NOW - 10, BODY);
    assert_eq!(
        verify_with(&a, &signature, NOW),
        Err(SignatureError::NoValidSignature)
    );
    // A stale delivery is refused as stale even with a valid signature.
    let stale = NOW - 3600;
    assert_eq!(
        verify_with(&a, &a.sign(ID, stale, BODY), stale),
        Err(SignatureError::TimestampTooOld)
    );
}

#[test]
fn an_unparseable_timestamp_is_refused() {
    let a = secrets(SECRET_A);
    let signature = a.sign(ID, NOW, BODY);
    for bad in [
        "soon",
        "-1",
        "1716883200.5",
        "+1716883200",
        "1716883200000000000000",
    ] {
        let headers = [
            ("svix-id", ID),
            ("svix-timestamp", bad),
            ("svix-signature", signature.as_str()),
        ];
        assert_eq!(
            a.verify(&headers, BODY, NOW),
            Err(SignatureError::InvalidTimestamp),
            "{bad}"
        );
    }
}

#[test]
fn each_missing_header_is_named() {
    let a = secrets(SECRET_A);
    let full = svix_headers(NOW, &a.sign(ID, NOW, BODY));
    for (missing, header) in [
        ("svix-id", WebhookHeader::Id),
        ("svix-timestamp", WebhookHeader::Timestamp),
        ("svix-signature", WebhookHeader::Signature),
    ] {
        let headers: Vec<_> = full
            .iter()
            .filter(|(name, _)| name != missing)
            .cloned()
            .collect();
        let err = a.verify(&headers, BODY, NOW).unwrap_err();
        assert_eq!(err, SignatureError::MissingHeader(header));
        assert_eq!(err.code(), "missing_header");
        assert!(err.to_string().contains(missing), "{err}");
    }
    assert_eq!(
        a.verify(&Vec::<(String, String)>::new(), BODY, NOW),
        Err(SignatureError::MissingHeader(WebhookHeader::Id))
    );
}

#[test]
fn standard_webhooks_header_names_work() {
    let a = secrets(SECRET_A);
    let signature = a.sign(ID, NOW, BODY);
    let mut headers = HashMap::new();
    headers.insert("webhook-id".to_owned(), ID.to_owned());
    headers.insert("webhook-timestamp".to_owned(), NOW.to_string());
    headers.insert("webhook-signature".to_owned(), signature);
    assert_eq!(a.verify(&headers, BODY, NOW), delivered());
}

#[test]
fn other_signature_versions_are_ignored() {
    let a = secrets(SECRET_A);
    let good = a.sign(ID, NOW, BODY);
    let same_bytes_as_v2 = good.replacen("v1,", "v2,", 1);
    assert_eq!(
        verify_with(&a, &same_bytes_as_v2, NOW),
        Err(SignatureError::NoValidSignature)
    );
    assert_eq!(
        verify_with(&a, &format!("{same_bytes_as_v2} v1a,xyz {good}"), NOW),
        delivered()
    );
}

#[test]
fn malformed_entries_never_match_and_never_panic() {
    let a = secrets(SECRET_A);
    let good = a.sign(ID, NOW, BODY);
    let truncated = &good[..good.len() - 4];
    for bad in [
        "v1,!!!not-base64!!!",
        "v1,",
        "v1",
        ",",
        "v1,,",
        "v1,AAAA",
        truncated,
        "\u{feff}v1,abc",
    ] {
        assert_eq!(
            verify_with(&a, bad, NOW),
            Err(SignatureError::NoValidSignature),
            "{bad}"
        );
        // Garbage beside a good entry does not spoil it.
        assert_eq!(verify_with(&a, &format!("{bad} {good}"), NOW), delivered());
    }
    // A header of blanks is present but holds no entry.
    assert_eq!(
        verify_with(&a, "   ", NOW),
        Err(SignatureError::NoValidSignature)
    );
}

#[test]
fn padding_is_optional_in_signatures() {
    let a = secrets(SECRET_A);
    let good = a.sign(ID, NOW, BODY);
    assert!(good.ends_with('='));
    let unpadded = good.trim_end_matches('=');
    assert_eq!(verify_with(&a, unpadded, NOW), delivered());
}

#[test]
fn error_messages_hold_no_secret_and_no_expected_signature() {
    let a = secrets(SECRET_A);
    let expected = a.sign(ID, NOW, BODY);
    let errors = [
        verify_with(&a, "v1,AAAA", NOW).unwrap_err(),
        verify_with(&a, &expected, NOW + 301).unwrap_err(),
        verify_with(&a, &expected, NOW - 301).unwrap_err(),
        a.verify(&[("svix-id", ID)], BODY, NOW).unwrap_err(),
    ];
    let secret_key = SECRET_A.strip_prefix("whsec_").unwrap();
    let expected_b64 = expected.strip_prefix("v1,").unwrap();
    for err in errors {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(secret_key), "{shown}");
        assert!(!shown.contains(expected_b64), "{shown}");
    }
    assert_eq!(
        SignatureError::NoValidSignature.to_string(),
        "no valid webhook signature"
    );
    assert_eq!(SignatureError::TimestampTooOld.code(), "timestamp_too_old");
}
