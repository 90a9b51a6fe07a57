//! The request body, read with a size limit. A declared `Content-Length` over the limit is
//! refused before reading anything; a streamed body is cut off once it passes the limit. A body
//! still arriving after `KEEL_HTTP_BODY_TIMEOUT` is answered 408 (the deadline itself is the
//! connection's: `conn::request`).

use axum::body::Body;
use axum::http::{StatusCode, header};
use bytes::Bytes;

use crate::ApiError;
use crate::conn::BodyTimedOut;

pub(crate) async fn read_limited(
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            format!("Request body is larger than the limit of {limit} bytes (KEEL_MAX_BODY_BYTES)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        if let Some(late) = cause::<BodyTimedOut>(&err) {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                format!(
                    "The request body did not arrive within {:?} (KEEL_HTTP_BODY_TIMEOUT)",
                    late.0
                ),
            );
        }
        if cause::<http_body_util::LengthLimitError>(&err).is_some() || declared.is_none() {
            too_large()
        } else {
            ApiError::bad_request(
                "BadRequest",
                format!("Could not read the request body: {err}"),
            )
        }
    })
}

/// The first error of type `T` in `err`'s chain of sources.
fn cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = err.source();
    while let Some(source) = next {
        if let Some(found) = source.downcast_ref::<T>() {
            return Some(found);
        }
        next = source.source();
    }
    None
}
