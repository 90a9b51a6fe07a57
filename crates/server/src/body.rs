//! The request body, read with a size limit. A declared `Content-Length` over the limit is
//! refused before reading anything; a streamed body is cut off once it passes the limit.

use axum::body::Body;
use axum::http::{StatusCode, header};
use bytes::Bytes;

use crate::ApiError;

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
        let is_limit = std::error::Error::source(&err)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if is_limit || declared.is_none() {
            too_large()
        } else {
            ApiError::bad_request(
                "BadRequest",
                format!("Could not read the request body: {err}"),
            )
        }
    })
}
