//! Commit timestamps, in the form the sync protocol carries them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::quote_input;
use crate::{ValueError, base64};

/// Commit timestamp: u64 nanoseconds since the Unix epoch. Serializes (serde) as base64 of its
/// 8 little-endian bytes (0 = `"AAAAAAAAAAA="`), as the sync protocol does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Ts(pub u64);

impl Ts {
    pub const ZERO: Ts = Ts(0);

    pub fn to_base64(self) -> String {
        base64::encode(&self.0.to_le_bytes())
    }

    pub fn from_base64(s: &str) -> Result<Ts, ValueError> {
        let invalid =
            |why: String| ValueError::new(format!("Invalid timestamp {}: {why}", quote_input(s)));
        let bytes = base64::decode(s).map_err(|err| invalid(err.to_string()))?;
        let len = bytes.len();
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| invalid(format!("received {len} bytes, expected 8")))?;
        Ok(Ts(u64::from_le_bytes(bytes)))
    }
}

/// Nanoseconds, in decimal: for logs.
impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ts, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ts::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_the_protocol_zero_vector() {
        assert_eq!(Ts::ZERO.to_base64(), "AAAAAAAAAAA=");
        assert_eq!(Ts::from_base64("AAAAAAAAAAA=").unwrap(), Ts::ZERO);
        assert_eq!(Ts::default(), Ts::ZERO);
    }

    #[test]
    fn round_trips_little_endian() {
        assert_eq!(Ts(5).to_base64(), "BQAAAAAAAAA=");
        for ts in [1, 1_700_000_000_000_000_000, u64::MAX] {
            assert_eq!(Ts::from_base64(&Ts(ts).to_base64()).unwrap(), Ts(ts));
        }
    }

    #[test]
    fn rejects_wrong_lengths_and_garbage() {
        assert_eq!(
            Ts::from_base64("AAA=").unwrap_err().message(),
            r#"Invalid timestamp "AAA=": received 2 bytes, expected 8"#
        );
        assert!(Ts::from_base64("AAAAAAAAAAA").is_err());
        assert!(Ts::from_base64("not base64!!").is_err());
    }

    #[test]
    fn serde_uses_the_base64_string() {
        let json = serde_json::to_string(&Ts(5)).unwrap();
        assert_eq!(json, r#""BQAAAAAAAAA=""#);
        assert_eq!(serde_json::from_str::<Ts>(&json).unwrap(), Ts(5));
        assert!(serde_json::from_str::<Ts>("5").is_err());
    }
}
