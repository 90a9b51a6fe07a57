//! The `export_json` form of Convex's snapshot exports (`ValueFormat::ConvexExportJSON` in
//! get-convex/convex-backend `crates/value/src/export.rs`, written by `export_clean_lossless`
//! and read back by `from_clean_lossless`), the form of every `documents.jsonl` line whose
//! table's `generated_schema.jsonl` says `"uniform"`.
//!
//! - `Int64` → a JSON integer (`5`); `Float64` → a JSON number with a dot or exponent as
//!   `serde_json` prints it (`5.0`, `-0.0`, `1e300`), so the two stay apart; NaN and ±∞ → the
//!   wire's `{"$float": …}`;
//! - `Bytes` → the wire's `{"$bytes": …}`;
//! - null, booleans, strings, arrays and objects as themselves.
//!
//! Reading: a JSON number that fits an `i64` is an `Int64`, any other number a `Float64`; an
//! object whose first key starts with `$` is decoded as the wire format.

use std::collections::BTreeMap;

use serde_json::{Number, Value as Json};

use crate::field_name::validate_field_name;
use crate::{Value, ValueError};

impl Value {
    /// Writes the `export_json` form; see the module docs.
    pub fn to_export_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(n) => Json::Number(Number::from(*n)),
            Value::Float64(n) => match Number::from_f64(*n) {
                Some(number) => Json::Number(number),
                None => self.to_encoded_json(),
            },
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(_) => self.to_encoded_json(),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_export_json).collect()),
            Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_export_json()))
                    .collect(),
            ),
        }
    }

    /// Reads the `export_json` form; see the module docs.
    pub fn from_export_json(json: &Json) -> Result<Value, ValueError> {
        Ok(match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Boolean(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int64(i),
                None => Value::Float64(n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| {
                    ValueError::new(format!("Number {n} does not fit into a 64-bit float"))
                })?),
            },
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(
                items
                    .iter()
                    .map(Value::from_export_json)
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(fields) => {
                if fields.keys().next().is_some_and(|k| k.starts_with('$')) {
                    return Value::from_encoded_json(json);
                }
                let mut out = BTreeMap::new();
                for (key, value) in fields {
                    validate_field_name(key)?;
                    out.insert(key.clone(), Value::from_export_json(value)?);
                }
                Value::Object(out)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Value;

    fn export(value: Value) -> String {
        value.to_export_json().to_string()
    }

    #[test]
    fn scalars_follow_convex_export_json() {
        assert_eq!(export(Value::Int64(5)), "5");
        assert_eq!(export(Value::Int64(i64::MIN)), "-9223372036854775808");
        assert_eq!(export(Value::Float64(5.0)), "5.0");
        assert_eq!(export(Value::Float64(-0.0)), "-0.0");
        assert_eq!(export(Value::Float64(1.5)), "1.5");
        assert_eq!(
            export(Value::Float64(f64::INFINITY)),
            r#"{"$float":"AAAAAAAA8H8="}"#
        );
        assert_eq!(
            export(Value::Bytes(vec![0, 16, 131])),
            r#"{"$bytes":"ABCD"}"#
        );
        assert_eq!(export(Value::String("5".into())), r#""5""#);
    }

    #[test]
    fn every_value_round_trips() {
        let values = [
            Value::Null,
            Value::Int64(-7),
            Value::Int64(i64::MAX),
            Value::Float64(7.0),
            Value::Float64(-0.0),
            Value::Float64(0.1),
            Value::Float64(1e300),
            Value::Float64(f64::NAN),
            Value::Float64(f64::NEG_INFINITY),
            Value::Boolean(false),
            Value::String("$x".into()),
            Value::Bytes(vec![1, 2, 3]),
            Value::Array(vec![Value::Int64(1), Value::Float64(1.0)]),
            Value::from_encoded_json(&json!({"a": {"b": {"$integer": "AQAAAAAAAAA="}}, "c": []}))
                .unwrap(),
        ];
        for value in values {
            let json = value.to_export_json();
            let text = json.to_string();
            let back = Value::from_export_json(&serde_json::from_str(&text).unwrap()).unwrap();
            assert_eq!(back, value, "{text}");
        }
    }

    /// Found by `fuzz/` (target `value`, `fuzz/regressions/value/`): without serde_json's
    /// `float_roundtrip` feature, the text `9007199254740991.0` written for 2^53 − 1 read back
    /// as 2^53 − 2, so a snapshot export re-imported changed the number.
    #[test]
    fn every_float_reads_back_from_the_text_written_for_it() {
        let read_back = |n: f64| {
            let value = Value::Float64(n);
            let forms: [(_, fn(&serde_json::Value) -> _); 2] = [
                (value.to_export_json(), Value::from_export_json),
                (value.to_encoded_json(), Value::from_encoded_json),
            ];
            for (json, read) in forms {
                let text = json.to_string();
                let back = read(&serde_json::from_str(&text).unwrap()).unwrap();
                assert_eq!(back, value, "{text}");
            }
        };
        read_back(9_007_199_254_740_991.0);
        read_back(0.1 + 0.2);
        read_back(f64::MIN_POSITIVE);
        read_back(5e-324);
        proptest::proptest!(proptest::prelude::ProptestConfig::with_cases(4096), |(bits: u64)| {
            read_back(f64::from_bits(bits));
        });
    }

    #[test]
    fn reads_what_convex_writes() {
        let line = json!({"count": 3, "score": 3.5, "when": 1.0, "data": {"$bytes": "AQ=="}});
        let value = Value::from_export_json(&line).unwrap();
        let fields = value.as_object().unwrap();
        assert_eq!(fields["count"], Value::Int64(3));
        assert_eq!(fields["score"], Value::Float64(3.5));
        assert_eq!(fields["when"], Value::Float64(1.0));
        assert_eq!(fields["data"], Value::Bytes(vec![1]));
        assert!(Value::from_export_json(&json!({"a\nb": 1})).is_err());
    }
}
