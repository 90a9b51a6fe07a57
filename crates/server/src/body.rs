//! The request body, read with a size limit. A declared `Content-Length` over the limit is
//! refused before reading anything; a streamed body is cut off once it passes the limit. A body
//! still arriving after `KEEL_HTTP_BODY_TIMEOUT` is answered 408 (the deadline itself is the
//! connection's: `conn::request`).

use axum::body::Body;
use axum::http::{StatusCode, header};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;

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
    collect(body, declared, limit)
        .await
        .map_err(|err| match err {
            ReadError::TooLarge => too_large(),
            ReadError::Body(err) => {
                if let Some(late) = cause::<BodyTimedOut>(&*err) {
                    return ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "RequestTimeout",
                        format!(
                            "The request body did not arrive within {:?} (KEEL_HTTP_BODY_TIMEOUT)",
                            late.0
                        ),
                    );
                }
                ApiError::bad_request(
                    "BadRequest",
                    format!("Could not read the request body: {err}"),
                )
            }
        })
}

enum ReadError {
    TooLarge,
    Body(axum::BoxError),
}

/// The body's bytes in one buffer. A body that comes as one frame is kept as it is; a longer
/// one is copied as its frames arrive into a buffer sized from `Content-Length`, so it costs
/// its own size once (collecting the frames first and joining them would cost it twice, and
/// keep hyper's read buffers alive meanwhile).
async fn collect(body: Body, declared: Option<u64>, limit: usize) -> Result<Bytes, ReadError> {
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame
            .map_err(|err| ReadError::Body(err.into()))?
            .into_data()
        else {
            continue; // trailers
        };
        let so_far =
            first.as_ref().map_or(0, Bytes::len) + joined.as_ref().map_or(0, BytesMut::len);
        if so_far + data.len() > limit {
            return Err(ReadError::TooLarge);
        }
        match (&mut first, &mut joined) {
            (None, None) => first = Some(data),
            (Some(_), None) => {
                let head = first.take().unwrap_or_default();
                let expected = declared
                    .map_or(0, |n| n as usize)
                    .clamp(head.len() + data.len(), limit);
                let mut buffer = BytesMut::with_capacity(expected);
                buffer.extend_from_slice(&head);
                buffer.extend_from_slice(&data);
                joined = Some(buffer);
            }
            (_, Some(buffer)) => buffer.extend_from_slice(&data),
        }
    }
    Ok(match (first, joined) {
        (_, Some(buffer)) => buffer.freeze(),
        (first, None) => first.unwrap_or_default(),
    })
}

/// The first error of type `T` in `err`'s chain of sources.
fn cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(source) = next {
        if let Some(found) = source.downcast_ref::<T>() {
            return Some(found);
        }
        next = source.source();
    }
    None
}
