//! Arguments arrive as Convex encoded JSON; functions declare a serde type. Decoding checks the
//! Convex encoding first, then maps `$integer` to a plain integer so serde sees ordinary JSON,
//! and reports the path of the offending field.

use std::marker::PhantomData;

use keel_values::Value;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;
use ts_rs::{Config, TS, TypeVisitor};

use crate::FnError;

/// The arguments of a function that takes none: `{}`, nothing else.
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Arguments kept as they came (plain JSON: Convex-valid, `$integer` mapped) until a wrapper
/// has checked the caller, then decoded into `A` with [`DeferredArgs::decode`]. `with_role`
/// registers its functions with these, so a caller without the role gets `FORBIDDEN` whatever
/// arguments it sends, and learns nothing of their shape.
pub struct DeferredArgs<A> {
    json: Json,
    _args: PhantomData<fn() -> A>,
}

/// `{}` in TypeScript as Convex writes it, so a client may leave the arguments out.
impl TS for NoArgs {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name(_: &Config) -> String {
        "Record<string, never>".to_string()
    }
    fn inline(cfg: &Config) -> String {
        Self::name(cfg)
    }
}

/// Clients send the arguments `A` describes; when they are decoded is the server's business.
impl<A: TS> TS for DeferredArgs<A> {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;
    fn name(cfg: &Config) -> String {
        A::name(cfg)
    }
    fn inline(cfg: &Config) -> String {
        A::inline(cfg)
    }
    fn visit_dependencies(v: &mut impl TypeVisitor)
    where
        Self: 'static,
    {
        A::visit_dependencies(v);
    }
    fn visit_generics(v: &mut impl TypeVisitor)
    where
        Self: 'static,
    {
        A::visit_generics(v);
    }
}

impl<A: DeserializeOwned> DeferredArgs<A> {
    /// The arguments as `A`; `INVALID_ARGUMENT` naming the field otherwise.
    pub fn decode(self) -> Result<A, FnError> {
        from_plain(self.json)
    }
}

impl<'de, A> Deserialize<'de> for DeferredArgs<A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(DeferredArgs {
            json: Json::deserialize(deserializer)?,
            _args: PhantomData,
        })
    }
}

pub(crate) fn decode_args<A: DeserializeOwned>(args: Json) -> Result<A, FnError> {
    Value::from_encoded_json(&args).map_err(|e| FnError::invalid_argument(e.to_string()))?;
    if !args.is_object() {
        return Err(FnError::invalid_argument(
            "Function arguments must be an object",
        ));
    }
    from_plain(plain_json(args))
}

/// Plain JSON (after [`plain_json`]) into `A`, naming the offending field.
fn from_plain<A: DeserializeOwned>(args: Json) -> Result<A, FnError> {
    serde_path_to_error::deserialize(args).map_err(|e| {
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
    fn deferred_arguments_decode_later_with_the_same_errors() {
        let deferred: DeferredArgs<Args> =
            decode_args(json!({"title": 5, "count": {"$integer": "BQAAAAAAAAA="}})).unwrap();
        let err = deferred.decode().unwrap_err();
        assert!(message(err).contains("`title`"));
        let deferred: DeferredArgs<Args> =
            decode_args(json!({"title": "a", "count": {"$integer": "BQAAAAAAAAA="}})).unwrap();
        assert_eq!(deferred.decode().unwrap().count, Some(5));
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
