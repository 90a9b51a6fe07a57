//! The request body, read with a size limit. A declared `Content-Length` over the limit is
//! refused before reading anything; a streamed body is cut off once it passes the limit. A body
//! still arriving after `KEEL_HTTP_BODY_TIMEOUT` is answered 408 (the deadline itself is the
//! connection's: `conn::request`).
//!
//! Bodies being received also share one byte budget ([`BodyLimits`]): each buffers until it is
//! complete, so without it many slow senders could pin memory (64 unfinished 7.9 MiB bodies
//! held ~550 MiB). A body that would take the total past it is answered 503 at once.

use std::sync::Arc;

use axum::body::Body;
use axum::http::header;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::conn::BodyTimedOut;
use crate::{ApiError, RefusalCode};

/// What one body may be, and what every body being received may hold together.
#[derive(Clone)]
pub(crate) struct BodyLimits {
    pub max_body_bytes: usize,
    max_buffered_bytes: usize,
    /// One permit per byte buffered by a body still arriving.
    buffered: Arc<Semaphore>,
}

impl BodyLimits {
    pub fn new(max_body_bytes: usize, max_buffered_bytes: usize) -> Self {
        let max_buffered_bytes = max_buffered_bytes.min(Semaphore::MAX_PERMITS);
        BodyLimits {
            max_body_bytes,
            max_buffered_bytes,
            buffered: Arc::new(Semaphore::new(max_buffered_bytes)),
        }
    }

    /// Takes `bytes` more of the budget for a body holding `held` so far.
    fn take(&self, held: &mut Option<OwnedSemaphorePermit>, bytes: usize) -> Result<(), ReadError> {
        let Ok(permit) = Arc::clone(&self.buffered)
            .try_acquire_many_owned(u32::try_from(bytes).unwrap_or(u32::MAX))
        else {
            return Err(ReadError::Busy);
        };
        match held {
            Some(held) => held.merge(permit),
            None => *held = Some(permit),
        }
        Ok(())
    }
}

pub(crate) async fn read_limited(
    headers: &axum::http::HeaderMap,
    body: Body,
    limits: &BodyLimits,
) -> Result<Bytes, ApiError> {
    let limit = limits.max_body_bytes;
    let too_large = || {
        ApiError::new(
            RefusalCode::PayloadTooLarge,
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
    collect(body, declared, limits)
        .await
        .map_err(|err| match err {
            ReadError::TooLarge => too_large(),
            ReadError::Busy => {
                tracing::warn!(
                    budget = limits.max_buffered_bytes,
                    "request bodies being received fill the buffer budget; answering 503"
                );
                ApiError::new(RefusalCode::ServerBusy,
                    format!(
                        "Too many request bodies are being received at once (KEEL_MAX_BUFFERED_BODY_BYTES = {} bytes): retry shortly",
                        limits.max_buffered_bytes
                    ),
                )
            }
            ReadError::Body(err) => {
                if let Some(late) = cause::<BodyTimedOut>(&*err) {
                    return ApiError::new(RefusalCode::RequestTimeout,
                        format!(
                            "The request body did not arrive within {:?} (KEEL_HTTP_BODY_TIMEOUT)",
                            late.0
                        ),
                    );
                }
                ApiError::new(RefusalCode::BadRequest,
                    format!("Could not read the request body: {err}"),
                )
            }
        })
}

enum ReadError {
    TooLarge,
    /// The bodies being received together are at the budget.
    Busy,
    Body(axum::BoxError),
}

/// The body's bytes in one buffer. A body that comes as one frame is kept as it is; a longer
/// one is copied as its frames arrive into a buffer sized from `Content-Length`, so it costs
/// its own size once (collecting the frames first and joining them would cost it twice, and
/// keep hyper's read buffers alive meanwhile).
async fn collect(
    body: Body,
    declared: Option<u64>,
    limits: &BodyLimits,
) -> Result<Bytes, ReadError> {
    let limit = limits.max_body_bytes;
    // Held until the body is complete (then it is parsed and dropped straight away).
    let mut held = None;
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
        limits.take(&mut held, data.len())?;
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
