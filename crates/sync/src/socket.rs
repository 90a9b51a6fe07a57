//! The connection's socket as the session drives it, from its own task: queued frames are
//! written (all of them, then one flush) whenever the session waits for the client.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Sink, Stream};

use crate::outbound::Outbound;

/// A frame to the client.
#[derive(Debug)]
pub enum OutFrame {
    Text(Bytes),
    Close { code: u16, reason: &'static str },
}

/// What a session needs from its transport: the client's text frames in (the stream ends when
/// the client closes or the connection fails), frames out. The server crate adapts a WebSocket.
pub trait ClientSocket: Stream<Item = Bytes> + Sink<OutFrame> + Unpin + Send {}

impl<T: Stream<Item = Bytes> + Sink<OutFrame> + Unpin + Send> ClientSocket for T {}

/// The writing half's state between polls.
#[derive(Default)]
pub(crate) struct Pump {
    /// Frames were handed to the socket and not flushed yet.
    unflushed: bool,
}

impl Pump {
    /// Writes what is queued, then (when `read`) waits for the client's next frame: `None`
    /// once the connection is gone. Frames stay queued (and count against the limit) while
    /// the socket cannot take them.
    pub fn poll<S: ClientSocket>(
        &mut self,
        socket: &mut S,
        out: &Outbound,
        read: bool,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Bytes>> {
        if self.poll_write(socket, out, cx).is_err() {
            return Poll::Ready(None);
        }
        if !read {
            return Poll::Pending;
        }
        Pin::new(socket).poll_next(cx)
    }

    fn poll_write<S: ClientSocket>(
        &mut self,
        socket: &mut S,
        out: &Outbound,
        cx: &mut Context<'_>,
    ) -> Result<(), ()> {
        while !out.is_empty() {
            match Pin::new(&mut *socket).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Err(()),
                Poll::Pending => return Ok(()),
            }
            let Some(frame) = out.pop() else { break };
            Pin::new(&mut *socket)
                .start_send(OutFrame::Text(frame))
                .map_err(|_| ())?;
            self.unflushed = true;
        }
        if self.unflushed {
            match Pin::new(&mut *socket).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Err(()),
                Poll::Pending => {}
            }
        }
        Ok(())
    }

    /// Writes what is queued and `close`, for a session that ends the connection.
    pub async fn finish<S: ClientSocket>(socket: &mut S, out: &Outbound, close: OutFrame) {
        use futures::SinkExt;
        while let Some(frame) = out.pop() {
            if socket.feed(OutFrame::Text(frame)).await.is_err() {
                return;
            }
        }
        let _ = socket.send(close).await;
    }
}
