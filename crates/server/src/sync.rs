//! The sync WebSocket: `/api/{client_version}/sync` and `/api/sync`. This module only adapts
//! axum's WebSocket to [`keel_sync::ClientSocket`]; the session drives it from its own task.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use futures::{Sink, Stream};
use keel_sync::OutFrame;

use crate::AppState;

/// tungstenite's read buffer per connection (its default is 128 KiB, all of it resident once
/// used). Client messages are small (`Authenticate` with a Clerk token is ~1.2 KB) and the
/// buffer grows for a larger one. Measured per idle subscribed connection (`bench/sync-load`):
/// with 512 bytes, 4.8–6.3 KiB stay resident; with 1 or 2 KiB, 7–10 KiB. The cost: tungstenite
/// reads at most this much per `read` call, so a 64 KB message takes ~128 reads.
const READ_BUFFER: usize = 512;
/// Frames written before one flush (a mutation's response and its transition go out in one
/// write); larger frames are written straight away.
const WRITE_BUFFER: usize = 8 * 1024;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/sync", get(upgrade))
        .route("/api/{client_version}/sync", get(upgrade))
}

async fn upgrade(State(state): State<Arc<AppState>>, ws: WebSocketUpgrade) -> Response {
    let service = Arc::clone(&state.sync);
    // The session hands frames over only while the socket is ready, so tungstenite buffers at
    // most WRITE_BUFFER plus one frame, and a frame is at most the session's queue limit; the
    // session's byte-bounded queue holds the rest and closes a client that does not read.
    let max_write = WRITE_BUFFER + service.config.max_queued_bytes;
    ws.max_message_size(state.bodies.max_body_bytes)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(max_write)
        .on_upgrade(move |socket| service.run(Socket(socket)))
}

/// Text frames in, protocol frames out. Pings are answered by tungstenite; the protocol has
/// no binary frames.
struct Socket(WebSocket);

impl Stream for Socket {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            match ready!(Pin::new(&mut self.0).poll_next(cx)) {
                Some(Ok(Message::Text(text))) => return Poll::Ready(Some(Bytes::from(text))),
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Poll::Ready(None),
            }
        }
    }
}

impl Sink<OutFrame> for Socket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: OutFrame) -> Result<(), Self::Error> {
        let message = match frame {
            OutFrame::Text(text) => {
                Message::Text(Utf8Bytes::try_from(text).map_err(axum::Error::new)?)
            }
            OutFrame::Close { code, reason } => Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            })),
        };
        Pin::new(&mut self.0).start_send(message)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
