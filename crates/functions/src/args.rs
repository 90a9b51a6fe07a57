//! Arguments arrive as Convex encoded JSON; functions declare a serde type. Decoding checks the
//! Convex encoding first, then maps `$integer` to a plain integer so serde sees ordinary JSON,
//! and reports the path of the offending field.

use keel_values::Value;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::FnError;

/// The arguments of a function that takes none: `{}`, nothing else.
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

pub(crate) fn decode_args<A: DeserializeOwned>(args: Json) -> Result<A, FnError> {
    Value::from_encoded_json(&args).map_err(|e| FnError::invalid_argument(e.to_string()))?;
    if !args.is_object() {
        return Err(FnError::invalid_argument(
            "Function arguments must be an object",
        ));
    }
    serde_path_to_error::deserialize(plain_json(args)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            FnError::invalid_argument(format!("Invalid arguments: {inner}"))
        } else {
            FnError::invalid_argument(format!("Invalid argument `{path}`: {inner}"))
        }
    })
}

/// `{"$integer": …}` → a JSON integer; everything else unchanged.
fn plain_json(json: Json) -> Json {
    match json {
        Json::Object(map) if map.len() == 1 && map.contains_key("$integer") => {
            match Value::from_encoded_json(&Json::Object(map.clone())) {
                Ok(Value::Int64(i)) => Json::from(i),
                _ => Json::Object(map),
            }
        }
        Json::Object(map) => {
            Json::Object(map.into_iter().map(|(k, v)| (k, plain_json(v))).collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(plain_json).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        title: String,
        count: Option<i64>,
    }

    fn message(err: FnError) -> String {
        err.error_data().unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn integers_decode_from_their_convex_encoding() {
        let args: Args =
            decode_args(json!({"title": "a", "count": {"$integer": "BQAAAAAAAAA="}})).unwrap();
        assert_eq!(args.count, Some(5));
    }

    #[test]
    fn errors_name_the_offending_field() {
        let err = decode_args::<Args>(json!({"title": 5})).unwrap_err();
        assert!(message(err).contains("`title`"));
        let err = decode_args::<Args>(json!({"title": "a", "extra": 1})).unwrap_err();
        assert!(message(err).contains("extra"));
        let err = decode_args::<Args>(json!({})).unwrap_err();
        assert!(message(err).contains("title"));
    }

    #[test]
    fn invalid_convex_values_are_rejected() {
        let err = decode_args::<NoArgs>(json!({"$bad": 1})).unwrap_err();
        assert_eq!(err.code(), Some(crate::ErrorCode::InvalidArgument));
        assert!(decode_args::<NoArgs>(json!([1])).is_err());
        assert!(decode_args::<NoArgs>(json!({"x": 1})).is_err());
        assert!(decode_args::<NoArgs>(json!({})).is_ok());
    }
}
