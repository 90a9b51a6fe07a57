//! A bare Convex sync client over tokio-tungstenite, speaking the protocol as the official
//! client does: `Connect`, `Authenticate`, `ModifyQuerySet`, `Mutation`. Subscribers run as
//! tasks that timestamp every transition carrying a query update the moment its frame is read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const QUERY: &str = "chats:listUserChats";
pub const MUTATION: &str = "chats:createUserChat";
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// `ws://…/api/1.48.0/sync`, the path the official client uses.
pub fn sync_url(http_url: &str) -> String {
    format!("{}/api/1.48.0/sync", http_url.replacen("http", "ws", 1))
}

fn config() -> WebSocketConfig {
    // Small buffers: the load generator holds thousands of sockets on the same 2 cores, and
    // tungstenite zero-fills its read buffer's free space before every read.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

async fn send(socket: &mut Socket, message: &Json) -> anyhow::Result<()> {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .context("sending")
}

fn connect_message(session_id: &str) -> Json {
    json!({"type": "Connect", "sessionId": session_id, "connectionCount": 0,
           "lastCloseReason": "InitialConnect", "clientTs": 0})
}

fn authenticate_message(base_version: u32, token: &str) -> Json {
    json!({"type": "Authenticate", "baseVersion": base_version, "tokenType": "User", "value": token})
}

/// Opens a connection authenticated with `token` and, when `subscribe`, subscribed to
/// `chats:listUserChats({})` as query 0. Returns once the server has sent the transition that
/// reaches that state (the subscription's first result included).
pub async fn open(
    url: &str,
    session_id: &str,
    token: &str,
    subscribe: bool,
) -> anyhow::Result<Socket> {
    open_with(url, session_id, token, subscribe.then(|| json!({}))).await
}

/// `open`, subscribed to `chats:listUserChats(args)` when `args` is given.
pub async fn open_with(
    url: &str,
    session_id: &str,
    token: &str,
    args: Option<Json>,
) -> anyhow::Result<Socket> {
    let subscribe = args.is_some();
    tokio::time::timeout(SETUP_TIMEOUT, async {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
                .await
                .context("WebSocket handshake")?;
        send(&mut socket, &connect_message(session_id)).await?;
        send(&mut socket, &authenticate_message(0, token)).await?;
        if subscribe {
            send(
                &mut socket,
                &json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
                    {"type": "Add", "queryId": 0, "udfPath": QUERY, "args": [args]}]}),
            )
            .await?;
        }
        let want_query_set = u64::from(subscribe);
        loop {
            let message = next_json(&mut socket).await?;
            match message["type"].as_str() {
                Some("Transition") => {
                    let end = &message["endVersion"];
                    if end["identity"] == 1 && end["querySet"].as_u64() == Some(want_query_set) {
                        return Ok(socket);
                    }
                }
                Some("Ping") => {}
                _ => bail!("unexpected message while connecting: {message}"),
            }
        }
    })
    .await
    .map_err(|_| anyhow!("connection setup took over {SETUP_TIMEOUT:?}"))?
}

async fn next_json(socket: &mut Socket) -> anyhow::Result<Json> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text)?),
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err.into()),
            None => bail!("connection ended"),
        }
    }
}

/// A transition that carries at least one query modification (not a bare version bump).
pub fn is_update(text: &str) -> bool {
    text.starts_with(r#"{"type":"Transition""#) && text.contains(r#""modifications":[{"#)
}

/// A query update seen by subscriber `conn`, stamped when its frame was read.
pub struct Update {
    pub conn: usize,
    pub at: Instant,
    pub text: Utf8Bytes,
}

/// Subscribers whose connection ended (they must all stay up).
#[derive(Default)]
pub struct Health {
    pub closed: AtomicUsize,
}

/// Reads `socket` until it ends, reporting every query update.
pub fn spawn_subscriber(
    conn: usize,
    mut socket: Socket,
    updates: mpsc::UnboundedSender<Update>,
    health: Arc<Health>,
) {
    tokio::spawn(async move {
        loop {
            let message = socket.next().await;
            let at = Instant::now();
            match message {
                Some(Ok(Message::Text(text))) => {
                    if is_update(&text) && updates.send(Update { conn, at, text }).is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    health.closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(Ok(_)) => {}
            }
        }
    });
}

/// A writer connection with no subscriptions: it (re)authenticates as the user whose data it
/// changes and sends mutations, one at a time.
pub struct Writer {
    sink: SplitSink<Socket, Message>,
    incoming: mpsc::UnboundedReceiver<(Instant, Json)>,
    identity_version: u32,
    next_request: u64,
}

/// What the writer saw of one mutation.
pub struct MutationDone {
    /// When `MutationResponse` arrived.
    pub response_at: Instant,
    /// When the writer's own transition reaching the mutation's `ts` arrived: the official
    /// client resolves a mutation only then.
    pub visible_at: Instant,
    /// The commit timestamp: the server's wall clock (ns since the epoch) when the commit
    /// began, before SQLite's COMMIT and its fsync.
    pub commit_ts: Option<u64>,
    /// The mutation's return value.
    pub result: Json,
}

/// A `Ts` as the protocol sends it: base64 of 8 little-endian bytes.
pub fn decode_ts(value: &Json) -> Option<u64> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.as_str()?)
        .ok()?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// A transition's `serverTs`: the server's wall clock (ns) when it built the message.
pub fn server_ts(text: &str) -> Option<u64> {
    // The last field of a transition: a string search, not a parse of the whole message.
    let start = text.rfind(r#""serverTs":"#)? + r#""serverTs":"#.len();
    let digits = text[start..].split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// Wall clock now, in ns since the epoch (the server's clock: same machine).
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

impl Writer {
    pub async fn open(url: &str, session_id: &str, token: &str) -> anyhow::Result<Writer> {
        let socket = open(url, session_id, token, false).await?;
        let (sink, stream) = socket.split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(read_writer(stream, tx));
        Ok(Writer {
            sink,
            incoming: rx,
            identity_version: 1,
            next_request: 0,
        })
    }

    async fn send(&mut self, message: &Json) -> anyhow::Result<()> {
        self.sink
            .send(Message::Text(message.to_string().into()))
            .await
            .context("writer send")
    }

    async fn next(&mut self) -> anyhow::Result<(Instant, Json)> {
        tokio::time::timeout(Duration::from_secs(30), self.incoming.recv())
            .await
            .map_err(|_| anyhow!("the writer got no message within 30 s"))?
            .context("the writer's connection ended")
    }

    /// Switches the writer's identity and waits for the transition that confirms it.
    pub async fn authenticate(&mut self, token: &str) -> anyhow::Result<()> {
        let base = self.identity_version;
        self.send(&authenticate_message(base, token)).await?;
        loop {
            let (_, message) = self.next().await?;
            match message["type"].as_str() {
                Some("Transition") if message["endVersion"]["identity"] == base + 1 => break,
                Some("Transition" | "Ping") => {}
                _ => bail!("writer: unexpected message while authenticating: {message}"),
            }
        }
        self.identity_version = base + 1;
        Ok(())
    }

    /// Sends `chats:createUserChat({title})`; returns the instant (and wall clock, ns) just
    /// before the frame was written.
    pub async fn send_mutation(&mut self, title: &str) -> anyhow::Result<(Instant, u64)> {
        self.send_call(MUTATION, json!({"title": title})).await
    }

    /// Sends the mutation `udf_path(args)`, like `send_mutation`.
    pub async fn send_call(
        &mut self,
        udf_path: &str,
        args: Json,
    ) -> anyhow::Result<(Instant, u64)> {
        let request_id = self.next_request;
        let message = json!({"type": "Mutation", "requestId": request_id, "udfPath": udf_path,
                             "args": [args]});
        let text: Utf8Bytes = message.to_string().into();
        let sent = (Instant::now(), wall_ns());
        self.sink
            .send(Message::Text(text))
            .await
            .context("writer send")?;
        Ok(sent)
    }

    /// Waits for the mutation's response and the transition that reaches its `ts`.
    pub async fn finish_mutation(&mut self) -> anyhow::Result<MutationDone> {
        let request_id = self.next_request;
        self.next_request += 1;
        let mut response = None;
        loop {
            let (at, mut message) = self.next().await?;
            match message["type"].as_str() {
                Some("MutationResponse") => {
                    if message["requestId"] != request_id || message["success"] != true {
                        bail!("writer: mutation failed: {message}");
                    }
                    response = Some((at, decode_ts(&message["ts"]), message["result"].take()));
                }
                Some("Transition") => {
                    if let Some((response_at, commit_ts, result)) = response {
                        return Ok(MutationDone {
                            response_at,
                            visible_at: at,
                            commit_ts,
                            result,
                        });
                    }
                }
                Some("Ping") => {}
                _ => bail!("writer: unexpected message: {message}"),
            }
        }
    }
}

async fn read_writer(mut stream: SplitStream<Socket>, tx: mpsc::UnboundedSender<(Instant, Json)>) {
    while let Some(Ok(message)) = stream.next().await {
        let at = Instant::now();
        if let Message::Text(text) = message {
            let Ok(json) = serde_json::from_str::<Json>(&text) else {
                return;
            };
            if tx.send((at, json)).is_err() {
                return;
            }
        }
    }
}
