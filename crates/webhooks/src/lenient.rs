//! Decoders that accept the harmless variations senders produce.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer};

/// Standard base64 that decodes with or without `=` padding (secrets are
/// copied by hand, and some Standard Webhooks senders strip padding) and
/// encodes with padding, as Svix does.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// For `#[serde(default, deserialize_with = "null_as_default")]`: Clerk sends
/// `null` for some lists and maps it otherwise sends empty (`private_metadata`
/// is the documented case), so treat `null` like absence.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
