//! Request bodies parsed into JSON within `keel_values::bounded_json`'s bounds, so one body's
//! parsed form stays within a few MiB (one 7.9 MiB body of `[0,0,…]` made Keel's memory peak
//! at ~400 MB, and four such senders stalled every other request).
//!
//! Bodies over [`PARSE_INLINE_MAX`] bytes are parsed on the blocking pool, so a large body does
//! not hold up other requests on the async workers.

use bytes::Bytes;
use keel_values::bounded_json::{BoundedJsonError, PARSE_INLINE_MAX, parse_bounded};
use serde_json::Value as Json;

use crate::{ApiError, RefusalCode};

/// Parses a request body, off the async workers when it is large.
pub(crate) async fn parse_body(bytes: Bytes) -> Result<Json, ApiError> {
    if bytes.len() <= PARSE_INLINE_MAX {
        return parse(&bytes);
    }
    tokio::task::spawn_blocking(move || parse(&bytes))
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
}

/// Parses JSON text within the bounds: `BadJsonBody` when it is not JSON, `BodyTooComplex`
/// naming the bound it passes.
pub(crate) fn parse(bytes: &[u8]) -> Result<Json, ApiError> {
    parse_bounded(bytes).map_err(|err| match err {
        BoundedJsonError::TooComplex(bound) => ApiError::new(
            RefusalCode::BodyTooComplex,
            bound.message("The request body"),
        ),
        BoundedJsonError::NotJson(err) => ApiError::new(
            RefusalCode::BadJsonBody,
            format!("Request body is not valid JSON: {err}"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_values::bounded_json::MAX_ARRAY_LEN;

    #[test]
    fn errors_carry_the_api_codes() {
        assert_eq!(
            parse(br#"{"path":"#).unwrap_err().code,
            RefusalCode::BadJsonBody
        );
        let array = format!("[{}0]", "0,".repeat(MAX_ARRAY_LEN));
        let err = parse(array.as_bytes()).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.status().as_u16()),
            ("BodyTooComplex", 400)
        );
        assert!(
            err.message
                .starts_with("The request body has an array of more than 8192"),
            "{}",
            err.message
        );
    }
}
