//! JSON text parsed into `serde_json::Value` with a bound on what one text can cost.
//!
//! A parsed JSON value takes 32 bytes or more for as little as two bytes of text (`0,`), and a
//! growing array is copied as it doubles: one 7.9 MiB request of `[0,0,…]` made Keel's memory
//! peak at ~400 MB. The parse here stops at the first bound passed, before building more:
//! - an array holds at most [`MAX_ARRAY_LEN`] elements and an object at most
//!   [`MAX_OBJECT_FIELDS`] fields (Convex's own limits for a value: it refuses larger ones);
//! - a text holds at most [`MAX_VALUES`] values in all, so its parsed form stays within a few
//!   MiB (about as much as the largest text) however its values are arranged;
//! - nesting is bounded by serde_json's recursion limit (128).
//!
//! Used for HTTP request bodies and for large sync WebSocket messages.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};

/// The most elements in one array (Convex's `MAX_ARRAY_LEN`).
pub const MAX_ARRAY_LEN: usize = 8192;
/// The most fields in one object (Convex's limit on an object's fields).
pub const MAX_OBJECT_FIELDS: usize = 1024;
/// The most JSON values (every number, string, array, object, … counted) in one text.
pub const MAX_VALUES: usize = 1 << 17;

/// Texts longer than this are worth parsing off the async workers (above it, a parse takes
/// over ~0.1 ms); HTTP bodies and sync messages both use it.
pub const PARSE_INLINE_MAX: usize = 64 * 1024;

/// Which bound a text passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonBound {
    ArrayLen,
    ObjectFields,
    Values,
}

impl JsonBound {
    /// What was passed, said of `subject` ("The request body", "The message").
    pub fn message(self, subject: &str) -> String {
        match self {
            JsonBound::ArrayLen => format!(
                "{subject} has an array of more than {MAX_ARRAY_LEN} elements, the limit for one array"
            ),
            JsonBound::ObjectFields => format!(
                "{subject} has an object of more than {MAX_OBJECT_FIELDS} fields, the limit for one object"
            ),
            JsonBound::Values => format!(
                "{subject} has more than {MAX_VALUES} JSON values, the limit for one request"
            ),
        }
    }
}

#[derive(Debug)]
pub enum BoundedJsonError {
    /// The text is not JSON.
    NotJson(serde_json::Error),
    TooComplex(JsonBound),
}

/// Parses JSON text within the bounds.
pub fn parse_bounded(bytes: &[u8]) -> Result<Json, BoundedJsonError> {
    let budget = Budget {
        values_left: Cell::new(MAX_VALUES),
        passed: Cell::new(None),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Bounded(&budget)
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|err| match budget.passed.get() {
        Some(bound) => BoundedJsonError::TooComplex(bound),
        None => BoundedJsonError::NotJson(err),
    })
}

struct Budget {
    values_left: Cell<usize>,
    passed: Cell<Option<JsonBound>>,
}

impl Budget {
    fn take_value<E: de::Error>(&self) -> Result<(), E> {
        match self.values_left.get().checked_sub(1) {
            Some(left) => {
                self.values_left.set(left);
                Ok(())
            }
            None => Err(self.pass(JsonBound::Values)),
        }
    }

    fn pass<E: de::Error>(&self, bound: JsonBound) -> E {
        self.passed.set(Some(bound));
        E::custom(bound.message("The text"))
    }
}

/// A `serde_json::Value` built within the budget.
#[derive(Clone, Copy)]
struct Bounded<'a>(&'a Budget);

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Json;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        self.0.take_value()?;
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        self.0.take_value()?;
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        self.0.take_value()?;
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        self.0.take_value()?;
        // JSON text has no NaN or infinity, so this is always a number.
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        self.0.take_value()?;
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        self.0.take_value()?;
        Ok(Json::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        self.0.take_value()?;
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        self.0.take_value()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            if items.len() == MAX_ARRAY_LEN {
                return Err(self.0.pass(JsonBound::ArrayLen));
            }
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        self.0.take_value()?;
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.len() == MAX_OBJECT_FIELDS {
                return Err(self.0.pass(JsonBound::ObjectFields));
            }
            let value = map.next_value_seed(self)?;
            fields.insert(key, value);
        }
        Ok(Json::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bound(text: &str) -> Option<JsonBound> {
        match parse_bounded(text.as_bytes()) {
            Err(BoundedJsonError::TooComplex(bound)) => Some(bound),
            _ => None,
        }
    }

    #[test]
    fn ordinary_json_parses_as_serde_json_does() {
        let text = r#"{"path":"a:b","args":[{"n":-1,"x":1.5,"s":"é\n","t":true,"z":null,"big":18446744073709551615}]}"#;
        assert_eq!(
            parse_bounded(text.as_bytes()).unwrap(),
            serde_json::from_str::<Json>(text).unwrap()
        );
        assert_eq!(parse_bounded(b" [] ").unwrap(), json!([]));
    }

    #[test]
    fn text_that_is_not_json_is_not_json() {
        for text in [r#"{"path":"#, "[1] x", &"[".repeat(200)] {
            assert!(matches!(
                parse_bounded(text.as_bytes()),
                Err(BoundedJsonError::NotJson(_))
            ));
        }
    }

    #[test]
    fn arrays_and_objects_up_to_the_limits_parse() {
        let array = format!("[{}0]", "0,".repeat(MAX_ARRAY_LEN - 1));
        assert_eq!(
            parse_bounded(array.as_bytes())
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            MAX_ARRAY_LEN
        );
        let fields: Vec<String> = (0..MAX_OBJECT_FIELDS)
            .map(|i| format!(r#""f{i}":0"#))
            .collect();
        let object = format!("{{{}}}", fields.join(","));
        assert_eq!(
            parse_bounded(object.as_bytes())
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            MAX_OBJECT_FIELDS
        );
    }

    #[test]
    fn a_text_past_a_bound_is_refused_naming_it() {
        let array = format!("[{}0]", "0,".repeat(MAX_ARRAY_LEN));
        assert_eq!(bound(&array), Some(JsonBound::ArrayLen));
        assert!(
            JsonBound::ArrayLen
                .message("The message")
                .contains("8192 elements")
        );

        let fields: Vec<String> = (0..=MAX_OBJECT_FIELDS)
            .map(|i| format!(r#""f{i}":0"#))
            .collect();
        assert_eq!(
            bound(&format!("{{{}}}", fields.join(","))),
            Some(JsonBound::ObjectFields)
        );

        // Many arrays, each within its own bound, pass the bound on the whole text.
        let chunk = format!("[{}0]", "0,".repeat(MAX_ARRAY_LEN - 1));
        let many = format!(
            "[{}]",
            vec![chunk; MAX_VALUES / MAX_ARRAY_LEN + 1].join(",")
        );
        assert_eq!(bound(&many), Some(JsonBound::Values));
        assert!(
            JsonBound::Values
                .message("The request body")
                .contains("131072 JSON values")
        );
    }
}
