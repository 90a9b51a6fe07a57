//! Properties over arbitrary inputs: signing and verifying agree, any change
//! breaks a signature, and parsing never panics.

use keel_webhooks::{ClerkEvent, SignatureError, TOLERANCE_SECS, WebhookSecrets};
use proptest::prelude::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn headers(id: &str, timestamp: u64, signature: &str) -> Vec<(String, String)> {
    vec![
        ("svix-id".into(), id.into()),
        ("svix-timestamp".into(), timestamp.to_string()),
        ("svix-signature".into(), signature.into()),
    ]
}

proptest! {
    #[test]
    fn what_is_signed_verifies_within_tolerance(
        id in "[!-~]{1,40}",
        body in proptest::collection::vec(any::<u8>(), 0..512),
        timestamp in 1_000u64..4_000_000_000,
        skew in -(TOLERANCE_SECS as i64)..=(TOLERANCE_SECS as i64),
    ) {
        let secrets = WebhookSecrets::parse(SECRET).unwrap();
        let signature = secrets.sign(&id, timestamp, &body);
        let now = timestamp.checked_add_signed(skew).unwrap();
        let delivery = secrets.verify(&headers(&id, timestamp, &signature), &body, now).unwrap();
        prop_assert_eq!(delivery.id, id);
        prop_assert_eq!(delivery.timestamp, timestamp);
    }

    #[test]
    fn any_flipped_bit_in_body_or_id_fails(
        id in "[a-z0-9_]{1,30}",
        body in proptest::collection::vec(any::<u8>(), 1..256),
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let secrets = WebhookSecrets::parse(SECRET).unwrap();
        let signature = secrets.sign(&id, 1_000_000, &body);
        let mut tampered = body.clone();
        tampered[index.index(body.len())] ^= 1 << bit;
        prop_assert_eq!(
            secrets.verify(&headers(&id, 1_000_000, &signature), &tampered, 1_000_000),
            Err(SignatureError::NoValidSignature)
        );
        let other_id = format!("{id}x");
        prop_assert_eq!(
            secrets.verify(&headers(&other_id, 1_000_000, &signature), &body, 1_000_000),
            Err(SignatureError::NoValidSignature)
        );
    }

    #[test]
    fn arbitrary_signature_headers_never_panic(header in "\\PC{0,200}") {
        let secrets = WebhookSecrets::parse(SECRET).unwrap();
        let result = secrets.verify(&headers("msg_1", 1_000_000, &header), b"{}", 1_000_000);
        // An empty header counts as missing; anything else just cannot match.
        prop_assert!(matches!(
            result,
            Err(SignatureError::NoValidSignature | SignatureError::MissingHeader(_))
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Err(err) = ClerkEvent::from_slice(&body) {
            prop_assert!(err.message().len() < 400);
        }
    }

    #[test]
    fn arbitrary_secret_values_never_panic_or_echo(value in "\\PC{0,80}") {
        if let Err(err) = WebhookSecrets::parse(&value) {
            let message = err.to_string();
            for part in value.split_whitespace().filter(|part| part.len() > 8) {
                prop_assert!(!message.contains(part), "{} in {}", part, message);
            }
        }
    }
}
