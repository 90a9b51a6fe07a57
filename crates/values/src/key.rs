//! Index keys: values as byte strings whose `memcmp` order is Convex's order of the values
//! ([`Value::total_cmp`]), so a key-value store can serve index ranges by plain byte ranges.
//!
//! Every encoding is self-delimiting and none is a proper prefix of another value's, so a key
//! of several components is their concatenation, and "all keys whose first components are
//! these" is the byte range `[prefix, prefix_successor(prefix))`.
//!
//! Layout: one tag byte in type order, then
//! - Int64: 8 bytes big-endian with the sign bit flipped (negatives first);
//! - Float64: 8 bytes big-endian of the IEEE bits, all flipped for negatives and only the sign
//!   bit flipped otherwise (IEEE total order), every NaN as the one positive quiet NaN;
//! - String, Bytes: the bytes with each `00` written `00 FF`, then the terminator `00 01`,
//!   which sorts below any continuation (`00 FF` or a non-zero byte);
//! - Array: each element's encoding, then `00` (below every tag);
//! - Object: per sorted field the key encoded as a String value and then the value, then `00`.

use crate::Value;

const MISSING: u8 = 0x01;
const NULL: u8 = 0x02;
const INT64: u8 = 0x03;
const FLOAT64: u8 = 0x04;
const FALSE: u8 = 0x05;
const TRUE: u8 = 0x06;
const STRING: u8 = 0x07;
const BYTES: u8 = 0x08;
const ARRAY: u8 = 0x09;
const OBJECT: u8 = 0x0a;
/// Ends an array or object; below every tag so that a shorter container sorts first.
const END: u8 = 0x00;

const SIGN_BIT: u64 = 1 << 63;
const CANONICAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0000;

/// Appends the key encoding of one index-key component; `None` is a missing field, which
/// sorts before every value.
pub fn encode_key_part(value: Option<&Value>, out: &mut Vec<u8>) {
    match value {
        None => out.push(MISSING),
        Some(value) => encode_value(value, out),
    }
}

/// The key of a whole index entry: the components' encodings, concatenated.
pub fn index_key(values: &[Option<&Value>]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        encode_key_part(*value, &mut out);
    }
    out
}

/// The smallest byte string greater than every string that starts with `prefix`: the exclusive
/// end of a prefix range. `None` when there is none (empty prefix, or all `FF`): the range
/// then runs to the end of the key space.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut successor = prefix[..=last].to_vec();
    successor[last] += 1;
    Some(successor)
}

/// Appends the start of the key of every string that begins with `prefix`: the tag and the
/// escaped bytes, without the terminator. A string's key starts with these bytes exactly when
/// the string starts with `prefix` (escaping maps byte by byte, and an escaped run never ends
/// inside a terminator), so `[start, prefix_successor(start))` is the range of such strings.
pub fn encode_string_prefix(prefix: &str, out: &mut Vec<u8>) {
    out.push(STRING);
    escape_bytes(prefix.as_bytes(), out);
    // `escape_bytes` ends every run with the terminator: a prefix has none.
    out.truncate(out.len() - 2);
}

fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Int64(n) => {
            out.push(INT64);
            out.extend_from_slice(&((*n as u64) ^ SIGN_BIT).to_be_bytes());
        }
        Value::Float64(n) => {
            out.push(FLOAT64);
            out.extend_from_slice(&ordered_float_bits(*n).to_be_bytes());
        }
        Value::Boolean(false) => out.push(FALSE),
        Value::Boolean(true) => out.push(TRUE),
        Value::String(s) => {
            out.push(STRING);
            escape_bytes(s.as_bytes(), out);
        }
        Value::Bytes(bytes) => {
            out.push(BYTES);
            escape_bytes(bytes, out);
        }
        Value::Array(items) => {
            out.push(ARRAY);
            for item in items {
                encode_value(item, out);
            }
            out.push(END);
        }
        Value::Object(fields) => {
            out.push(OBJECT);
            for (key, value) in fields {
                out.push(STRING);
                escape_bytes(key.as_bytes(), out);
                encode_value(value, out);
            }
            out.push(END);
        }
    }
}

/// Maps a float to a u64 whose unsigned order is the IEEE total order (NaNs collapsed).
fn ordered_float_bits(n: f64) -> u64 {
    let bits = if n.is_nan() {
        CANONICAL_NAN_BITS
    } else {
        n.to_bits()
    };
    if bits & SIGN_BIT != 0 {
        !bits
    } else {
        bits ^ SIGN_BIT
    }
}

fn escape_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0x00 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// The reference order the encoding must reproduce: a missing field first, then
    /// `Value::total_cmp`.
    fn convex_cmp(a: Option<&Value>, b: Option<&Value>) -> Ordering {
        match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.total_cmp(b),
        }
    }

    fn key(value: Option<&Value>) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key_part(value, &mut out);
        out
    }

    /// Small alphabets, so that equal values, shared prefixes and embedded zero bytes are
    /// common rather than vanishingly rare.
    fn arb_float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            prop::sample::select(vec![
                0.0,
                -0.0,
                1.0,
                -1.0,
                f64::MIN_POSITIVE,
                -f64::MIN_POSITIVE,
                5e-324,
                f64::MAX,
                f64::MIN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                -f64::NAN,
                f64::from_bits(0x7ff0_0000_0000_0001),
            ]),
        ]
    }

    fn arb_int() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            -300i64..300,
            prop::sample::select(vec![i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX]),
        ]
    }

    fn arb_text() -> impl Strategy<Value = String> {
        "[a\u{0}\u{1}\u{ff}é]{0,4}"
    }

    fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![0x00u8, 0x01, 0x7f, 0xfe, 0xff]),
            0..5,
        )
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            arb_int().prop_map(Value::Int64),
            arb_float().prop_map(Value::Float64),
            any::<bool>().prop_map(Value::Boolean),
            arb_text().prop_map(Value::String),
            arb_bytes().prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[ab\u{0}]{0,2}", inner, 0..4).prop_map(Value::Object),
            ]
        })
    }

    fn arb_component() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![1 => Just(None), 8 => arb_value().prop_map(Some)]
    }

    /// A value next to `a` in the order: equal, extended by a short tail (the case where a
    /// careless encoding becomes a prefix), or one step away; `tweak` picks which.
    fn neighbour(a: &Value, tweak: u8) -> Value {
        let mut b = a.clone();
        match &mut b {
            Value::String(s) => s.push_str(["", "\0", "\u{1}", "a"][usize::from(tweak % 4)]),
            Value::Bytes(bytes) => {
                bytes.extend([[].as_slice(), &[0], &[1], &[0xff]][usize::from(tweak % 4)])
            }
            Value::Array(items) if tweak.is_multiple_of(2) => items.push(Value::Null),
            Value::Array(items) => {
                items.pop();
            }
            Value::Object(fields) => {
                fields.insert(
                    ["", "\0", "a", "b"][usize::from(tweak % 4)].to_owned(),
                    Value::Null,
                );
            }
            Value::Int64(n) => *n = n.wrapping_add(i64::from(tweak % 3) - 1),
            Value::Float64(n) if tweak.is_multiple_of(2) => *n = n.next_up(),
            Value::Float64(n) => *n = n.next_down(),
            Value::Null | Value::Boolean(_) => {}
        }
        b
    }

    /// Pairs of components: half independent, half neighbours, at the top or nested one deep.
    fn arb_pair() -> impl Strategy<Value = (Option<Value>, Option<Value>)> {
        let near = (arb_value(), any::<u8>()).prop_map(|(a, tweak)| {
            let b = neighbour(&a, tweak);
            match tweak >> 6 {
                0 => (
                    Some(Value::Array(vec![a, Value::Null])),
                    Some(Value::Array(vec![b])),
                ),
                1 => {
                    let wrap = |v| Value::Object(BTreeMap::from([("k".to_owned(), v)]));
                    (Some(wrap(a)), Some(wrap(b)))
                }
                _ => (Some(a), Some(b)),
            }
        });
        prop_oneof![(arb_component(), arb_component()), near]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn memcmp_of_keys_is_convex_order((a, b) in arb_pair()) {
            let (ka, kb) = (key(a.as_ref()), key(b.as_ref()));
            prop_assert_eq!(ka.cmp(&kb), convex_cmp(a.as_ref(), b.as_ref()), "{:?} {:?}", a, b);
        }

        #[test]
        fn keys_are_prefix_free((a, b) in arb_pair()) {
            let (ka, kb) = (key(a.as_ref()), key(b.as_ref()));
            if ka != kb {
                prop_assert!(!kb.starts_with(&ka) && !ka.starts_with(&kb), "{:?} {:?}", a, b);
            }
        }

        #[test]
        fn composite_keys_order_lexicographically(
            a in prop::collection::vec(arb_component(), 0..3),
            b in prop::collection::vec(arb_component(), 0..3),
        ) {
            let ra: Vec<Option<&Value>> = a.iter().map(Option::as_ref).collect();
            let rb: Vec<Option<&Value>> = b.iter().map(Option::as_ref).collect();
            let expected = ra
                .iter()
                .zip(&rb)
                .map(|(x, y)| convex_cmp(*x, *y))
                .find(|o| o.is_ne())
                .unwrap_or(ra.len().cmp(&rb.len()));
            prop_assert_eq!(index_key(&ra).cmp(&index_key(&rb)), expected);
        }

        #[test]
        fn prefix_range_holds_exactly_the_keys_with_that_first_component(
            (a, b) in arb_pair(),
            rest in arb_component(),
        ) {
            let start = key(a.as_ref());
            let end = prefix_successor(&start).expect("keys start with a tag below FF");
            let candidate = index_key(&[b.as_ref(), rest.as_ref()]);
            let inside = start <= candidate && candidate < end;
            prop_assert_eq!(inside, convex_cmp(a.as_ref(), b.as_ref()).is_eq());
        }
    }

    proptest! {
        #[test]
        fn string_prefix_keys_start_exactly_the_strings_with_that_prefix(
            prefix in arb_text(),
            text in arb_text(),
            rest in arb_component(),
        ) {
            let mut start = Vec::new();
            encode_string_prefix(&prefix, &mut start);
            let end = prefix_successor(&start).expect("the string tag is below FF");
            let candidate = index_key(&[Some(&Value::String(text.clone())), rest.as_ref()]);
            let inside = start <= candidate && candidate < end;
            prop_assert_eq!(inside, text.starts_with(&prefix), "{:?} / {:?}", prefix, text);
        }

        #[test]
        fn string_prefix_range_holds_no_other_type(
            prefix in arb_text(),
            other in arb_value(),
        ) {
            prop_assume!(!matches!(other, Value::String(_)));
            let mut start = Vec::new();
            encode_string_prefix(&prefix, &mut start);
            let end = prefix_successor(&start).expect("the string tag is below FF");
            let candidate = key(Some(&other));
            prop_assert!(!(start <= candidate && candidate < end));
        }
    }

    #[test]
    fn hand_picked_values_sort_as_listed() {
        let object = |pairs: &[(&str, Value)]| {
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let ascending = [
            None,
            Some(Value::Null),
            Some(Value::Int64(i64::MIN)),
            Some(Value::Int64(-1)),
            Some(Value::Int64(0)),
            Some(Value::Int64(i64::MAX)),
            Some(Value::Float64(f64::NEG_INFINITY)),
            Some(Value::Float64(-1.5)),
            Some(Value::Float64(-0.0)),
            Some(Value::Float64(0.0)),
            Some(Value::Float64(5e-324)),
            Some(Value::Float64(f64::INFINITY)),
            Some(Value::Float64(f64::NAN)),
            Some(Value::Boolean(false)),
            Some(Value::Boolean(true)),
            Some(Value::from("")),
            Some(Value::from("a")),
            Some(Value::from("a\0")),
            Some(Value::from("a\0\0")),
            Some(Value::from("a\u{1}")),
            Some(Value::from("b")),
            Some(Value::Bytes(vec![])),
            Some(Value::Bytes(vec![0])),
            Some(Value::Bytes(vec![0xff])),
            Some(Value::Array(vec![])),
            Some(Value::Array(vec![Value::Null])),
            Some(Value::Array(vec![Value::Null, Value::Null])),
            Some(Value::Array(vec![Value::Int64(0)])),
            Some(object(&[])),
            Some(object(&[("", Value::Null)])),
            Some(object(&[("a", Value::Null)])),
            Some(object(&[("a", Value::Null), ("b", Value::Null)])),
            Some(object(&[("a", Value::Int64(0))])),
            Some(object(&[("b", Value::Null)])),
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                let (ka, kb) = (key(a.as_ref()), key(b.as_ref()));
                assert_eq!(ka.cmp(&kb), i.cmp(&j), "{a:?} vs {b:?}");
                assert_eq!(
                    convex_cmp(a.as_ref(), b.as_ref()),
                    i.cmp(&j),
                    "{a:?} vs {b:?}"
                );
                if i != j {
                    assert!(!kb.starts_with(&ka), "{a:?} is a prefix of {b:?}");
                }
            }
        }
    }

    #[test]
    fn all_nans_share_one_key() {
        let payload_nan = f64::from_bits(0xfff0_0000_0000_0001);
        assert_eq!(
            key(Some(&Value::Float64(payload_nan))),
            key(Some(&Value::Float64(f64::NAN)))
        );
    }

    #[test]
    fn prefix_successor_cases() {
        assert_eq!(prefix_successor(&[]), None);
        assert_eq!(prefix_successor(&[0xff]), None);
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(&[0x00]), Some(vec![0x01]));
        assert_eq!(prefix_successor(&[0x01, 0x02]), Some(vec![0x01, 0x03]));
        assert_eq!(prefix_successor(&[0x01, 0xff]), Some(vec![0x02]));
        assert_eq!(
            prefix_successor(&[0x01, 0xfe, 0xff, 0xff]),
            Some(vec![0x01, 0xff])
        );
        // The successor is above everything with the prefix and nothing without it is between.
        let prefix = [0x07, 0x61, 0xff];
        let end = prefix_successor(&prefix).unwrap();
        assert!([0x07, 0x61, 0xff, 0xff, 0xff].as_slice() < end.as_slice());
        assert!(end.as_slice() <= [0x07, 0x62].as_slice());
    }
}
