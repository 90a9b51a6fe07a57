//! The lossy `json` export format (alias `convex_clean_json`), as Convex's backend writes it.
//!
//! Rules, checked against get-convex/convex-backend `crates/value/src/export.rs`
//! (`ConvexValue::export_clean`):
//! - `Int64` → its base-10 string (`"-5"`), so no precision is lost in JavaScript;
//! - `Float64` NaN → `"NaN"`, +∞ → `"Infinity"`, −∞ → `"-Infinity"`; every other float stays a
//!   JSON number through `serde_json`'s `f64` conversion, so `-0.0` keeps its sign (printed
//!   `-0.0`) and `1.0` prints as `1.0`;
//! - `Bytes` → standard base64 with padding, a plain string;
//! - null, booleans, strings unchanged; arrays and objects element-wise, keys sorted.

use serde_json::{Number, Value as Json};

use crate::{Value, base64};

impl Value {
    /// Exports in the lossy `json` format; see the module docs for the rules.
    pub fn to_clean_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(n) => Json::String(n.to_string()),
            Value::Float64(n) => match Number::from_f64(*n) {
                Some(number) => Json::Number(number),
                None if n.is_nan() => Json::String("NaN".to_owned()),
                None if *n > 0.0 => Json::String("Infinity".to_owned()),
                None => Json::String("-Infinity".to_owned()),
            },
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(bytes) => Json::String(base64::encode(bytes)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_clean_json).collect()),
            Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_clean_json()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Value;

    fn clean(value: Value) -> String {
        value.to_clean_json().to_string()
    }

    #[test]
    fn scalars_follow_convex_export() {
        assert_eq!(clean(Value::Null), "null");
        assert_eq!(clean(Value::Int64(-5)), r#""-5""#);
        assert_eq!(clean(Value::Int64(i64::MAX)), r#""9223372036854775807""#);
        assert_eq!(clean(Value::Float64(1.5)), "1.5");
        assert_eq!(clean(Value::Float64(1.0)), "1.0");
        assert_eq!(clean(Value::Float64(-0.0)), "-0.0");
        assert_eq!(clean(Value::Float64(f64::NAN)), r#""NaN""#);
        assert_eq!(clean(Value::Float64(f64::INFINITY)), r#""Infinity""#);
        assert_eq!(clean(Value::Float64(f64::NEG_INFINITY)), r#""-Infinity""#);
        assert_eq!(clean(Value::Boolean(true)), "true");
        assert_eq!(clean(Value::Bytes(vec![0, 16, 131])), r#""ABCD""#);
        assert_eq!(clean(Value::Bytes(vec![1])), r#""AQ==""#);
    }

    #[test]
    fn containers_export_element_wise() {
        let value = Value::from_encoded_json(&json!({
            "b": [{"$integer": "AgAAAAAAAAA="}, {"$bytes": "AQ=="}],
            "a": "x",
        }))
        .unwrap();
        assert_eq!(value.to_clean_json(), json!({"a": "x", "b": ["2", "AQ=="]}));
    }
}
