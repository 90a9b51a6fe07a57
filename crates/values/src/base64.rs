//! Base64 as the official client reads and writes it: standard alphabet with padding on
//! output; on input also the URL-safe `-` and `_`, and the length must be a multiple of four.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::ValueError;

/// Padding is required, as the client requires a length that is a multiple of four; stray
/// low bits in the last symbol are ignored, as the client ignores them.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

pub(crate) fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn decode(text: &str) -> Result<Vec<u8>, ValueError> {
    if !text.len().is_multiple_of(4) {
        return Err(ValueError::new(
            "Invalid string. Length must be a multiple of 4",
        ));
    }
    let standard;
    let text = if text.contains(['-', '_']) {
        standard = text.replace('-', "+").replace('_', "/");
        &standard
    } else {
        text
    };
    LENIENT
        .decode(text)
        .map_err(|err| ValueError::new(format!("Invalid base64 string: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_padding() {
        assert_eq!(encode(&[0, 1, 2, 253, 254, 255]), "AAEC/f7/");
        assert_eq!(encode(&[1]), "AQ==");
        assert_eq!(decode("AQ==").unwrap(), vec![1]);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn accepts_url_safe_symbols() {
        assert_eq!(decode("AAEC_f7_").unwrap(), decode("AAEC/f7/").unwrap());
        assert_eq!(decode("-w==").unwrap(), vec![0xfb]);
    }

    #[test]
    fn rejects_what_the_client_rejects_and_garbage() {
        assert_eq!(
            decode("AQ").unwrap_err().message(),
            "Invalid string. Length must be a multiple of 4"
        );
        assert!(decode("A!==").is_err());
    }
}
