//! The sync WebSocket: `/api/{client_version}/sync` and `/api/sync`. This module only moves
//! frames between the socket and a [`keel_sync::SyncService`] session.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use keel_sync::SyncService;
use tokio::sync::mpsc;

use crate::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/sync", get(upgrade))
        .route("/api/{client_version}/sync", get(upgrade))
}

async fn upgrade(State(state): State<Arc<AppState>>, ws: WebSocketUpgrade) -> Response {
    let service = Arc::clone(&state.sync);
    ws.max_message_size(state.max_body_bytes)
        .on_upgrade(move |socket| bridge(socket, service))
}

async fn bridge(socket: WebSocket, service: Arc<SyncService>) {
    let (mut sink, mut stream) = socket.split();
    let config = &service.config;
    let (out, mut queue) = keel_sync::outbound(config.max_queued_messages, config.max_queued_bytes);
    let (inbound, session_inbound) = mpsc::channel::<String>(64);
    tokio::spawn(Arc::clone(&service).run(session_inbound, out));

    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            match message {
                Message::Text(text) => {
                    if inbound.send(text.to_string()).await.is_err() {
                        break;
                    }
                }
                Message::Close(_) => break,
                // Pings are answered by the WebSocket layer; the protocol has no binary frames.
                Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    });

    loop {
        tokio::select! {
            biased;
            changed = queue.close.changed() => {
                let frame = if changed.is_ok() { queue.close.borrow().clone() } else { None };
                if let Some(frame) = frame {
                    // Flush what is queued (a FatalError or AuthError explains the close).
                    while let Ok(text) = queue.messages.try_recv() {
                        queue.sent(&text);
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame { code: frame.code, reason: frame.reason.into() })))
                        .await;
                }
                break;
            }
            message = queue.messages.recv() => match message {
                Some(text) => {
                    queue.sent(&text);
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
        }
    }
    reader.abort();
}
