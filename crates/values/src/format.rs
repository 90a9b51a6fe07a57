//! The `format` field of HTTP function calls: which JSON form results are written in.

use std::fmt;
use std::str::FromStr;

use crate::{Value, ValueError};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ValueFormat {
    /// `convex_encoded_json` (legacy alias `convex_json`): lossless, what the clients send.
    ConvexEncodedJson,
    /// `json` (legacy alias `convex_clean_json`): lossy and readable, see `to_clean_json`.
    Json,
}

impl ValueFormat {
    pub fn export(self, v: &Value) -> serde_json::Value {
        match self {
            ValueFormat::ConvexEncodedJson => v.to_encoded_json(),
            ValueFormat::Json => v.to_clean_json(),
        }
    }

    /// The canonical name, as accepted by `from_str`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueFormat::ConvexEncodedJson => "convex_encoded_json",
            ValueFormat::Json => "json",
        }
    }
}

impl FromStr for ValueFormat {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<ValueFormat, ValueError> {
        match s {
            "convex_encoded_json" | "convex_json" => Ok(ValueFormat::ConvexEncodedJson),
            "json" | "convex_clean_json" => Ok(ValueFormat::Json),
            // Convex's own wording (its BadFormat error), which names only the public format.
            _ => Err(ValueError::new(format!(
                "format param must be one of [`json`]. Got {s}"
            ))),
        }
    }
}

impl fmt::Display for ValueFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_aliases() {
        for (name, format) in [
            ("convex_encoded_json", ValueFormat::ConvexEncodedJson),
            ("convex_json", ValueFormat::ConvexEncodedJson),
            ("json", ValueFormat::Json),
            ("convex_clean_json", ValueFormat::Json),
        ] {
            assert_eq!(name.parse::<ValueFormat>().unwrap(), format, "{name}");
        }
        assert_eq!(
            ValueFormat::Json.as_str().parse::<ValueFormat>().unwrap(),
            ValueFormat::Json
        );
    }

    #[test]
    fn rejects_unknown_names_naming_them() {
        let err = "yaml".parse::<ValueFormat>().unwrap_err();
        assert_eq!(
            err.message(),
            "format param must be one of [`json`]. Got yaml"
        );
        assert!("JSON".parse::<ValueFormat>().is_err());
    }

    #[test]
    fn export_picks_the_encoding() {
        let v = Value::Int64(5);
        assert_eq!(
            ValueFormat::ConvexEncodedJson.export(&v),
            serde_json::json!({"$integer": "BQAAAAAAAAA="})
        );
        assert_eq!(ValueFormat::Json.export(&v), serde_json::json!("5"));
    }
}
