//! Document ids: a table number and 16 random bytes, written as a short checked string.
//!
//! String form: lowercase base32 without padding, alphabet `0123456789abcdefghjkmnpqrstvwxyz`
//! (Crockford's: no i, l, o, u), most significant bit first, of
//! `[table number as LEB128][16 random bytes][Fletcher-16 of the preceding bytes, big-endian]`.
//! Tables below 128 give 31 characters, larger ones 32 to 37. The checksum makes a mistyped
//! or truncated id fail to parse instead of naming some other document; every id has exactly
//! one string form (no overlong varints, no stray trailing bits), so strings compare as ids do.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use data_encoding::{Encoding, Specification};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::quote_input;

const ALPHABET: &str = "0123456789abcdefghjkmnpqrstvwxyz";
const INTERNAL_LEN: usize = 16;
const CHECKSUM_LEN: usize = 2;
const MAX_VARINT_LEN: usize = 5;
/// Shortest and longest string forms (1- and 5-byte table numbers).
const MIN_ENCODED_LEN: usize = encoded_len(1 + INTERNAL_LEN + CHECKSUM_LEN);
const MAX_ENCODED_LEN: usize = encoded_len(MAX_VARINT_LEN + INTERNAL_LEN + CHECKSUM_LEN);

const fn encoded_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

static BASE32: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str(ALPHABET);
    spec.encoding().expect("a valid base32 specification")
});

/// A table's number, encoded inside every document id so an id names its table.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TableNumber(pub u32);

impl fmt::Display for TableNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A document id: its table number plus 16 random bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct DocumentId {
    pub table: TableNumber,
    pub internal: [u8; 16],
}

/// A string that is not a document id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Invalid ID {input}: {reason}")]
pub struct IdError {
    /// The offending string, quoted and cut short.
    input: String,
    reason: &'static str,
}

impl IdError {
    fn new(input: &str, reason: &'static str) -> IdError {
        IdError {
            input: quote_input(input),
            reason,
        }
    }

    /// Why the string was refused (e.g. "wrong checksum").
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl DocumentId {
    /// A new id: the time in nanoseconds (8 bytes, big-endian) then 8 random bytes. Ids of one
    /// table thus sort roughly by creation, so inserts land on the same few B-tree pages instead
    /// of a random page each (a commit writes far fewer pages), and 64 random bits keep ids
    /// unguessable.
    pub fn new_random(table: TableNumber) -> DocumentId {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
        let mut random = [0u8; 8];
        rand::Rng::fill(&mut rand::rng(), &mut random);
        DocumentId::new_at(table, nanos, random)
    }

    /// The id [`DocumentId::new_random`] makes, from a given time (nanoseconds since the
    /// epoch) and random bytes: the store draws both from its injected runtime.
    pub fn new_at(table: TableNumber, unix_nanos: u64, random: [u8; 8]) -> DocumentId {
        let mut internal = [0u8; INTERNAL_LEN];
        internal[..8].copy_from_slice(&unix_nanos.to_be_bytes());
        internal[8..].copy_from_slice(&random);
        DocumentId { table, internal }
    }

    /// As [`DocumentId::new_random`], drawing from `rng` so tests can be deterministic.
    pub fn new_with_rng(table: TableNumber, rng: &mut impl rand::Rng) -> DocumentId {
        DocumentId {
            table,
            internal: rng.random(),
        }
    }

    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(MAX_VARINT_LEN + INTERNAL_LEN + CHECKSUM_LEN);
        write_varint(self.table.0, &mut bytes);
        bytes.extend_from_slice(&self.internal);
        let checksum = fletcher16(&bytes);
        bytes.extend_from_slice(&checksum.to_be_bytes());
        BASE32.encode(&bytes)
    }

    /// The string Convex would write for this id (see [`DocumentId::parse_convex`]).
    pub fn encode_convex(&self) -> String {
        let mut bytes = Vec::with_capacity(MAX_VARINT_LEN + INTERNAL_LEN + CHECKSUM_LEN);
        write_varint(self.table.0, &mut bytes);
        bytes.extend_from_slice(&self.internal);
        let checksum = convex_fletcher16(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        BASE32.encode(&bytes)
    }

    pub fn parse(s: &str) -> Result<DocumentId, IdError> {
        DocumentId::parse_with(s, |body| fletcher16(body).to_be_bytes())
    }

    /// Parses an id as Convex writes it (`id_v6`): the same bytes, alphabet and table-number
    /// varint as Keel's, but a different footer: Fletcher-16 with sums mod 256, stored
    /// little-endian (XOR version 0). Keel's own ids use sums mod 255, big-endian, so the
    /// same document has two different strings; `keel import` reads Convex's with this and
    /// stores Keel's. Fails on Keel's own strings (and Keel's parse fails on Convex's),
    /// except for the rare id whose two footers happen to agree.
    pub fn parse_convex(s: &str) -> Result<DocumentId, IdError> {
        DocumentId::parse_with(s, |body| convex_fletcher16(body).to_le_bytes())
    }

    fn parse_with(s: &str, footer: impl Fn(&[u8]) -> [u8; 2]) -> Result<DocumentId, IdError> {
        if !(MIN_ENCODED_LEN..=MAX_ENCODED_LEN).contains(&s.len()) {
            return Err(IdError::new(s, "wrong length"));
        }
        let bytes = BASE32
            .decode(s.as_bytes())
            .map_err(|_| IdError::new(s, "not lowercase base32"))?;
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if footer(body) != checksum {
            return Err(IdError::new(s, "wrong checksum"));
        }
        let (table, rest) = read_varint(body).ok_or_else(|| IdError::new(s, "bad table number"))?;
        let internal = rest
            .try_into()
            .map_err(|_| IdError::new(s, "wrong length"))?;
        Ok(DocumentId {
            table: TableNumber(table),
            internal,
        })
    }
}

/// LEB128: seven bits per byte, low bits first, high bit set on all but the last byte.
fn write_varint(mut n: u32, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a canonical LEB128 u32 (no redundant zero groups), returning it and the rest.
fn read_varint(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let mut n: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(MAX_VARINT_LEN) {
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let overlong = i > 0 && byte == 0;
            return match u32::try_from(n) {
                Ok(n) if !overlong => Some((n, &bytes[i + 1..])),
                _ => None,
            };
        }
    }
    None
}

/// Convex's `id_v6` footer checksum: two running sums mod 256 (wrapping), high byte the
/// second sum.
fn convex_fletcher16(bytes: &[u8]) -> u16 {
    let (mut low, mut high) = (0u8, 0u8);
    for &b in bytes {
        low = low.wrapping_add(b);
        high = high.wrapping_add(low);
    }
    (u16::from(high) << 8) | u16::from(low)
}

/// Fletcher-16: two running sums mod 255, so both changed bytes and swapped bytes show.
fn fletcher16(bytes: &[u8]) -> u16 {
    let (mut low, mut high) = (0u16, 0u16);
    for &b in bytes {
        low = (low + u16::from(b)) % 255;
        high = (high + low) % 255;
    }
    (high << 8) | low
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for DocumentId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<DocumentId, IdError> {
        DocumentId::parse(s)
    }
}

impl Serialize for DocumentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DocumentId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DocumentId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    /// Real Convex ids, from get-convex/convex-backend
    /// `npm-packages/dashboard/src/elements/CommandPalette/CommandPalette.stories.tsx`, which
    /// notes their tables (10017 and 10009).
    #[test]
    fn parses_convex_ids_which_keel_checksums_refuse() {
        let message = DocumentId::parse_convex("m57068j1c1zsxfewzcd3jp3qjttx99vg").unwrap();
        assert_eq!(message.table, TableNumber(10017));
        let storage = DocumentId::parse_convex("k570e9j5cj1t5gf0zwf3tq3vkawxhqr0").unwrap();
        assert_eq!(storage.table, TableNumber(10009));
        assert_eq!(
            DocumentId::parse("m57068j1c1zsxfewzcd3jp3qjttx99vg")
                .unwrap_err()
                .reason(),
            "wrong checksum"
        );
        assert_eq!(message.encode_convex(), "m57068j1c1zsxfewzcd3jp3qjttx99vg");
        // The same document in Keel's encoding, and back.
        let keel = message.encode();
        assert_ne!(keel, "m57068j1c1zsxfewzcd3jp3qjttx99vg");
        assert_eq!(DocumentId::parse(&keel).unwrap(), message);
        assert!(
            DocumentId::parse_convex("m57068j1c1zsxfewzcd3jp3qjttx99vh").is_err(),
            "a changed character fails Convex's checksum too"
        );
    }

    fn sample(table: u32, seed: u64) -> DocumentId {
        DocumentId::new_with_rng(TableNumber(table), &mut StdRng::seed_from_u64(seed))
    }

    /// New ids of a table sort by creation (the engine's inserts stay on the last B-tree
    /// pages) and still differ within one instant.
    #[test]
    fn new_ids_sort_by_creation_and_are_distinct() {
        let table = TableNumber(7);
        let earlier = DocumentId::new_random(table);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = DocumentId::new_random(table);
        assert!(earlier.encode() < later.encode());
        let burst: std::collections::HashSet<_> =
            (0..1000).map(|_| DocumentId::new_random(table)).collect();
        assert_eq!(burst.len(), 1000);
    }

    #[test]
    fn round_trips_across_table_numbers() {
        for (seed, table) in [0, 1, 127, 128, 16_383, 16_384, 1 << 28, u32::MAX]
            .into_iter()
            .enumerate()
        {
            let id = sample(table, seed as u64);
            let text = id.encode();
            assert!(
                text.chars().all(|c| ALPHABET.contains(c)),
                "{text} leaves the alphabet"
            );
            assert_eq!(DocumentId::parse(&text).unwrap(), id, "{text}");
            assert_eq!(text.parse::<DocumentId>().unwrap(), id);
            assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn lengths_resemble_convex_ids() {
        assert_eq!(sample(1, 1).encode().len(), 31);
        assert_eq!(sample(200, 1).encode().len(), 32);
        assert_eq!(sample(u32::MAX, 1).encode().len(), 37);
    }

    #[test]
    fn known_encoding_is_stable() {
        // Pinned so that a change of layout, which would orphan stored ids, cannot go unseen.
        // By hand: bytes 01, sixteen 00, checksum 11 01; in 5-bit groups 00000 00100 0… 00001
        // 00010 00000 01000.
        let id = DocumentId {
            table: TableNumber(1),
            internal: [0; 16],
        };
        assert_eq!(id.encode(), "0400000000000000000000000001208");
        assert_eq!(
            DocumentId::parse("0400000000000000000000000001208").unwrap(),
            id
        );
    }

    #[test]
    fn fresh_ids_differ() {
        let a = DocumentId::new_random(TableNumber(3));
        let b = DocumentId::new_random(TableNumber(3));
        assert_ne!(a, b);
        assert_eq!(a.table, TableNumber(3));
    }

    #[test]
    fn every_single_character_typo_is_rejected() {
        let text = sample(42, 7).encode();
        for (i, original) in text.char_indices() {
            for replacement in ALPHABET.chars().filter(|c| *c != original) {
                let mut typo = text.clone();
                typo.replace_range(i..i + 1, replacement.encode_utf8(&mut [0; 4]));
                assert!(DocumentId::parse(&typo).is_err(), "{typo} parsed");
            }
        }
    }

    #[test]
    fn wrong_checksum_is_rejected() {
        let id = sample(5, 9);
        let mut bytes = vec![5];
        bytes.extend_from_slice(&id.internal);
        let good = fletcher16(&bytes);
        bytes.extend_from_slice(&(good ^ 1).to_be_bytes());
        let err = DocumentId::parse(&BASE32.encode(&bytes)).unwrap_err();
        assert_eq!(err.reason(), "wrong checksum");
    }

    #[test]
    fn garbage_is_rejected() {
        let id = sample(5, 9).encode();
        let cases = [
            ("", "wrong length"),
            ("abc", "wrong length"),
            (&id[..id.len() - 1], "wrong length"),
            (&format!("{id}00000000"), "wrong length"),
            (&id.to_uppercase(), "not lowercase base32"),
            ("0123456789abcdefghjkmnpqrstvwxi", "not lowercase base32"),
            ("ü123456789abcdefghjkmnpqrstvwx", "not lowercase base32"),
        ];
        for (input, reason) in cases {
            let err = DocumentId::parse(input).unwrap_err();
            assert_eq!(err.reason(), reason, "{input:?}");
        }
        assert_eq!(
            DocumentId::parse("abc").unwrap_err().to_string(),
            r#"Invalid ID "abc": wrong length"#
        );
    }

    #[test]
    fn overlong_table_numbers_are_rejected() {
        // Table 1 written as two varint bytes: a second spelling of the same id.
        let mut bytes = vec![0x81, 0x00];
        bytes.extend_from_slice(&[0; 16]);
        let checksum = fletcher16(&bytes);
        bytes.extend_from_slice(&checksum.to_be_bytes());
        let err = DocumentId::parse(&BASE32.encode(&bytes)).unwrap_err();
        assert_eq!(err.reason(), "bad table number");
    }

    #[test]
    fn serde_uses_the_string_form() {
        let id = sample(9, 3);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<DocumentId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<DocumentId>(r#""nope""#).is_err());
    }
}
