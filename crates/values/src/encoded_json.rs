//! `convex_encoded_json`: the lossless wire format of the official client (its `convexToJson`
//! and `jsonToConvex`), used by the sync protocol and by HTTP requests by default.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value as Json};

use crate::field_name::validate_field_name;
use crate::js_number::js_number_to_string;
use crate::{Value, ValueError, base64};

/// The one NaN the client puts on the wire; every NaN is encoded as it (see `ordering`).
const CANONICAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0000;

/// Floats at or beyond this magnitude are not printed as plain integers.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

impl Value {
    /// Decodes the wire format with the client's checks and messages: `$integer` and `$float`
    /// must be 8 bytes, `$float` is only for NaN, ±Infinity and -0, `$set`/`$map` are refused,
    /// and keys must pass [`validate_field_name`]. A plain JSON number is a `Float64`.
    pub fn from_encoded_json(json: &Json) -> Result<Value, ValueError> {
        Ok(match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Boolean(*b),
            Json::Number(n) => Value::Float64(number_to_f64(n)?),
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(
                items
                    .iter()
                    .map(Value::from_encoded_json)
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(fields) => {
                if let Some(value) = decode_tagged(fields)? {
                    return Ok(value);
                }
                let mut out = BTreeMap::new();
                for (key, value) in fields {
                    validate_field_name(key)?;
                    out.insert(key.clone(), Value::from_encoded_json(value)?);
                }
                Value::Object(out)
            }
        })
    }

    /// Encodes as the client's `convexToJson` does. Keys come out sorted (a `BTreeMap` is);
    /// an integral float below 2^63 in magnitude is written as a JSON integer (`1`, not
    /// `1.0`), as `JSON.stringify` writes it. Keys are not re-checked here: values decoded by
    /// [`Value::from_encoded_json`] already passed [`validate_field_name`].
    pub fn to_encoded_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(n) => tagged("$integer", base64::encode(&n.to_le_bytes())),
            Value::Float64(n) => encode_float(*n),
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(bytes) => tagged("$bytes", base64::encode(bytes)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_encoded_json).collect()),
            Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_encoded_json()))
                    .collect(),
            ),
        }
    }
}

fn number_to_f64(n: &Number) -> Result<f64, ValueError> {
    // Only fails when serde_json keeps arbitrary-precision numbers and one is out of range.
    n.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| ValueError::new(format!("Number {n} does not fit into a 64-bit float")))
}

/// Decodes a one-key `{"$…": …}` object, or returns `None` when `fields` is a plain object.
fn decode_tagged(fields: &Map<String, Json>) -> Result<Option<Value>, ValueError> {
    if fields.len() != 1 {
        return Ok(None);
    }
    let (key, payload) = fields.iter().next().expect("one field");
    let value = match key.as_str() {
        "$bytes" => Value::Bytes(base64::decode(tag_payload(key, payload)?)?),
        "$integer" => Value::Int64(i64::from_le_bytes(eight_bytes(key, payload)?)),
        "$float" => {
            let n = f64::from_le_bytes(eight_bytes(key, payload)?);
            if !is_special_float(n) {
                return Err(ValueError::new(format!(
                    "Float {} should be encoded as a number",
                    js_number_to_string(n)
                )));
            }
            Value::Float64(n)
        }
        "$set" => {
            return Err(ValueError::new(
                "Received a Set which is no longer supported as a Convex type.",
            ));
        }
        "$map" => {
            return Err(ValueError::new(
                "Received a Map which is no longer supported as a Convex type.",
            ));
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

fn tag_payload<'a>(key: &str, payload: &'a Json) -> Result<&'a str, ValueError> {
    // The client interpolates the whole object into the message, which JavaScript prints as
    // "[object Object]".
    payload
        .as_str()
        .ok_or_else(|| ValueError::new(format!("Malformed {key} field on [object Object]")))
}

fn eight_bytes(key: &str, payload: &Json) -> Result<[u8; 8], ValueError> {
    let bytes = base64::decode(tag_payload(key, payload)?)?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| ValueError::new(format!("Received {len} bytes, expected 8 for {key}")))
}

/// The floats JSON numbers cannot carry, which therefore travel as `$float`.
fn is_special_float(n: f64) -> bool {
    !n.is_finite() || (n == 0.0 && n.is_sign_negative())
}

fn encode_float(n: f64) -> Json {
    if is_special_float(n) {
        let bits = if n.is_nan() {
            CANONICAL_NAN_BITS
        } else {
            n.to_bits()
        };
        return tagged("$float", base64::encode(&bits.to_le_bytes()));
    }
    if n.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&n) {
        // Exact: an integral float in this range is an i64.
        return Json::Number(Number::from(n as i64));
    }
    Json::Number(Number::from_f64(n).expect("finite"))
}

fn tagged(tag: &str, payload: String) -> Json {
    let mut map = Map::new();
    map.insert(tag.to_owned(), Json::String(payload));
    Json::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Value;

    fn vectors() -> serde_json::Value {
        serde_json::from_str(&crate::test_vectors::read()).unwrap()
    }

    #[test]
    fn valid_vectors_round_trip() {
        let vectors = vectors();
        let valid = vectors["valid"].as_array().unwrap();
        assert!(valid.len() >= 20, "values.json lost its vectors");
        for vector in valid {
            let name = &vector["name"];
            let encoded = &vector["encoded"];
            let value = Value::from_encoded_json(encoded)
                .unwrap_or_else(|err| panic!("{name}: decode failed: {err}"));
            assert_eq!(&value.to_encoded_json(), encoded, "{name}");
            // The exact text too, not only the parsed JSON.
            assert_eq!(
                serde_json::to_string(&value.to_encoded_json()).unwrap(),
                serde_json::to_string(encoded).unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn decode_error_vectors_fail_with_the_client_message() {
        let vectors = vectors();
        let cases = vectors["decodeErrors"].as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let name = &case["name"];
            let result = Value::from_encoded_json(&case["json"]);
            match case["error"].as_str() {
                Some(expected) => {
                    let err = result.expect_err(&format!("{name}: decoded"));
                    assert_eq!(err.to_string(), expected, "{name}");
                }
                None => {
                    result.unwrap_or_else(|err| panic!("{name}: {err}"));
                }
            }
        }
    }

    #[test]
    fn decodes_values_to_their_types() {
        let decoded = Value::from_encoded_json(&json!({
            "a": 2,
            "b": {"$integer": "BQAAAAAAAAA="},
            "c": {"$bytes": "AAE="},
            "d": {"$float": "AAAAAAAAAIA="},
        }))
        .unwrap();
        let fields = decoded.as_object().unwrap();
        assert!(matches!(fields["a"], Value::Float64(n) if n == 2.0));
        assert!(matches!(fields["b"], Value::Int64(5)));
        assert!(matches!(&fields["c"], Value::Bytes(b) if b == &[0, 1]));
        assert!(matches!(fields["d"], Value::Float64(n) if n == 0.0 && n.is_sign_negative()));
    }

    #[test]
    fn more_client_checks() {
        let message = |json: serde_json::Value| {
            Value::from_encoded_json(&json)
                .unwrap_err()
                .message()
                .to_owned()
        };
        assert_eq!(
            message(json!({"$map": []})),
            "Received a Map which is no longer supported as a Convex type."
        );
        assert_eq!(
            message(json!({"$float": "AAAAAAAA"})),
            "Received 6 bytes, expected 8 for $float"
        );
        assert_eq!(
            message(json!({"$bytes": 1})),
            "Malformed $bytes field on [object Object]"
        );
        assert_eq!(
            message(json!({"$integer": "AAA"})),
            "Invalid string. Length must be a multiple of 4"
        );
        // Tags only count alone; next to another key `$integer` is a reserved field name.
        assert_eq!(
            message(json!({"$integer": "AAAAAAAAAAA=", "a": 1})),
            "Field name $integer starts with a '$', which is reserved."
        );
        assert_eq!(
            message(json!([{"ok": {"bad\n": 1}}])),
            "Field name bad\n has invalid character '\n': Field names can only contain non-control ASCII characters"
        );
        // A $float must not hide an ordinary number, whose message prints as JavaScript does.
        let one_e21 = crate::base64::encode(&1e21f64.to_le_bytes());
        assert_eq!(
            message(json!({ "$float": one_e21 })),
            "Float 1e+21 should be encoded as a number"
        );
    }

    #[test]
    fn encodes_special_floats_and_plain_numbers() {
        assert_eq!(
            Value::Float64(-f64::NAN).to_encoded_json(),
            json!({"$float": "AAAAAAAA+H8="})
        );
        assert_eq!(Value::Float64(2.0).to_encoded_json().to_string(), "2");
        assert_eq!(Value::Float64(-3.0).to_encoded_json().to_string(), "-3");
        assert_eq!(Value::Float64(0.25).to_encoded_json().to_string(), "0.25");
        assert_eq!(
            Value::Float64(1e300).to_encoded_json().to_string(),
            "1e+300"
        );
        assert_eq!(
            Value::Float64(-super::TWO_POW_63)
                .to_encoded_json()
                .to_string(),
            "-9223372036854775808"
        );
    }

    #[test]
    fn int64_extremes_round_trip() {
        for n in [i64::MIN, -1, 0, 1, i64::MAX] {
            let json = Value::Int64(n).to_encoded_json();
            assert_eq!(Value::from_encoded_json(&json).unwrap(), Value::Int64(n));
        }
    }
}
