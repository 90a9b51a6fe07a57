//! What one client may hold of the server (issue #18), over raw loopback TCP: connection
//! deadlines, the body deadline, the connection cap, and the lingering close that lets a
//! client still sending an oversized body read its 413.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use keel::Settings;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::TestServer;

/// Longer than any deadline these tests set: a socket still open past it was never closed.
const GUARD: Duration = Duration::from_secs(10);

async fn server(configure: impl FnOnce(&mut Settings)) -> TestServer {
    TestServer::dev_with(configure, keel::AppParts::builtin()).await
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.running.addr).await.unwrap()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: keel\r\n\r\n";

/// Reads one response (headers, then a `content-length` body); `None` if the connection
/// closed or failed first.
async fn read_response(tcp: &mut TcpStream) -> Option<(u16, String)> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |n| n.trim().parse().unwrap());
            if bytes.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]);
                return Some((status, body.into_owned()));
            }
        }
        match tokio::time::timeout(GUARD, tcp.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return None,
            Ok(Ok(n)) => bytes.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("no response and no close within {GUARD:?}"),
        }
    }
}

/// How long until the server closes `tcp` (reads EOF or a reset); panics past `GUARD`.
async fn closed_after(tcp: &mut TcpStream, since: Instant) -> Duration {
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout(GUARD, tcp.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return since.elapsed(),
            Ok(Ok(_)) => {}
            Err(_) => panic!("the connection is still open after {GUARD:?}"),
        }
    }
}

fn millis(ms: u64) -> humantime::Duration {
    Duration::from_millis(ms).into()
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = server(|s| {
        s.http.idle_timeout = millis(300);
        s.http.header_timeout = millis(5_000);
    })
    .await;
    let mut tcp = connect(&server).await;
    for _ in 0..2 {
        tcp.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_response(&mut tcp).await.unwrap().0, 200);
    }
    let idle = closed_after(&mut tcp, Instant::now()).await;
    // Closed by the idle timeout, not the (much longer) header timeout.
    assert!(
        idle >= Duration::from_millis(250) && idle < Duration::from_secs(4),
        "closed after {idle:?}"
    );
}

#[tokio::test]
async fn slow_or_missing_headers_are_cut_off_by_the_header_timeout() {
    let server = server(|s| {
        s.http.header_timeout = millis(400);
        s.http.idle_timeout = millis(8_000);
    })
    .await;
    // Nothing sent at all.
    let mut silent = connect(&server).await;
    let waited = closed_after(&mut silent, Instant::now()).await;
    assert!(waited < Duration::from_secs(4), "closed after {waited:?}");

    // A head trickled a byte at a time, after a first request (so the idle timeout, much
    // longer, is what the connection waits under until the first byte).
    let mut slow = connect(&server).await;
    slow.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut slow).await.unwrap().0, 200);
    let started = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nhost: keel\r\nx-slow: ";
    let (mut reader, mut writer) = slow.split();
    let trickle = async {
        for byte in head.iter().cycle() {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut chunk = [0u8; 64];
    let closed = async {
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break started.elapsed(),
                Ok(_) => {}
            }
        }
    };
    let waited = tokio::time::timeout(GUARD, async {
        tokio::select! {
            waited = closed => waited,
            () = trickle => started.elapsed(),
        }
    })
    .await
    .expect("the trickled head is still being accepted");
    assert!(waited < Duration::from_secs(4), "closed after {waited:?}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let server = server(|s| s.http.body_timeout = millis(500)).await;
    for path in ["/api/query", "/clerk-webhook"] {
        let mut tcp = connect(&server).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: keel\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"path\":"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let (status, body) = read_response(&mut tcp).await.expect("an answer");
        assert_eq!(status, 408, "{path}: {body}");
        let body: Json = serde_json::from_str(&body).unwrap();
        let message = if path == "/api/query" {
            assert_eq!(body["code"], "RequestTimeout", "{body}");
            body["message"].as_str().unwrap()
        } else {
            body["error"].as_str().unwrap()
        };
        assert!(message.contains("KEEL_HTTP_BODY_TIMEOUT"), "{body}");
    }
}

#[tokio::test]
async fn websockets_are_not_cut_by_the_http_timeouts() {
    let server = server(|s| {
        s.http.header_timeout = millis(200);
        s.http.idle_timeout = millis(200);
        s.http.body_timeout = millis(200);
    })
    .await;
    let url = format!("{}/api/1.48.0/sync", server.url.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let send = |message: Json| Message::Text(message.to_string().into());
    socket
        .send(send(json!({"type": "Connect", "sessionId": "quiet", "connectionCount": 0, "lastCloseReason": "InitialConnect", "clientTs": 0})))
        .await
        .unwrap();
    // Quiet for several times every HTTP deadline: the connection must still work after it.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    socket
        .send(send(
            json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
                {"type": "Add", "queryId": 0, "udfPath": "users:getCurrentUser", "args": [{}]},
            ]}),
        ))
        .await
        .unwrap();
    let answer = tokio::time::timeout(GUARD, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Json = serde_json::from_str(&text).unwrap();
                    if message["type"] != "Ping" {
                        break Some(message);
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap()
    .expect("the WebSocket was closed");
    assert_eq!(answer["type"], "Transition", "{answer}");
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_are_refused_and_open_ones_keep_working() {
    const CAP: usize = 4;
    let server = server(|s| s.http.max_connections = Some(CAP)).await;
    let mut open = Vec::new();
    for _ in 0..CAP {
        let mut tcp = connect(&server).await;
        tcp.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_response(&mut tcp).await.unwrap().0, 200);
        open.push(tcp);
    }

    let started = Instant::now();
    let mut extra = connect(&server).await;
    let _ = extra.write_all(HEALTHZ).await;
    // Answered without its request being read, or closed before the answer arrived.
    if let Some((status, body)) = read_response(&mut extra).await {
        assert_eq!(status, 503, "{body}");
        let body: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "TooManyConnections");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("KEEL_MAX_CONNECTIONS")
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused after {:?}",
        started.elapsed()
    );

    // The open connections are still served.
    open[0].write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut open[0]).await.unwrap().0, 200);

    // Once some close, new connections are accepted again (as soon as the server has seen
    // the close).
    open.truncate(CAP - 2);
    let deadline = Instant::now() + GUARD;
    loop {
        let mut tcp = connect(&server).await;
        let _ = tcp.write_all(HEALTHZ).await;
        if read_response(&mut tcp)
            .await
            .is_some_and(|(status, _)| status == 200)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection accepted after closing two"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `total` bytes of body after `head` in 64 KiB pieces; every write must succeed.
async fn send_body(tcp: &mut TcpStream, head: &str, total: usize, chunked: bool) {
    tcp.write_all(head.as_bytes()).await.unwrap();
    let piece = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        if chunked {
            tcp.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .await
                .unwrap_or_else(|err| panic!("after {sent} bytes: {err}"));
        }
        tcp.write_all(&piece)
            .await
            .unwrap_or_else(|err| panic!("after {sent} bytes of body: {err}"));
        if chunked {
            tcp.write_all(b"\r\n").await.unwrap();
        }
        sent += piece.len();
    }
    if chunked {
        tcp.write_all(b"0\r\n\r\n").await.unwrap();
    }
}

/// A client that writes its whole body before reading (as Node's `http` and browsers do
/// with a body in flight) must not fail with EPIPE/ECONNRESET, and must then read the 413.
#[tokio::test]
async fn a_client_still_sending_an_oversized_body_reads_its_413() {
    let server = server(|s| s.http.max_body_bytes = 1024).await;
    let total = 24 * 1024 * 1024;
    for chunked in [false, true] {
        let mut tcp = connect(&server).await;
        let framing = if chunked {
            "transfer-encoding: chunked".to_string()
        } else {
            format!("content-length: {total}")
        };
        let head = format!(
            "POST /api/mutation HTTP/1.1\r\nhost: keel\r\ncontent-type: application/json\r\n{framing}\r\n\r\n"
        );
        send_body(&mut tcp, &head, total, chunked).await;
        let (status, body) = read_response(&mut tcp)
            .await
            .expect("the 413 answer, not a reset");
        assert_eq!(status, 413, "chunked: {chunked}: {body}");
        let body: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "PayloadTooLarge");
    }
}

#[tokio::test]
async fn bodies_still_arriving_share_one_budget() {
    let server = server(|s| s.http.max_buffered_body_bytes = 64 * 1024).await;
    let body = json!({"path": "users:getCurrentUser", "args": [{}], "format": "json"}).to_string();
    let post = |length: usize| {
        format!(
            "POST /api/query HTTP/1.1\r\nhost: keel\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
        )
    };
    // A sender that has sent 60 KiB of a 100 KiB body, and stops there.
    let mut slow = connect(&server).await;
    slow.write_all(post(100 * 1024).as_bytes()).await.unwrap();
    slow.write_all(&vec![b' '; 60 * 1024]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Another small body no longer fits: 503 at once, naming the setting.
    let mut other = connect(&server).await;
    other.write_all(post(8 * 1024).as_bytes()).await.unwrap();
    other.write_all(&vec![b' '; 8 * 1024]).await.unwrap();
    let (status, answer) = read_response(&mut other).await.expect("an answer");
    assert_eq!(status, 503, "{answer}");
    let answer: Json = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["code"], "ServerBusy");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("KEEL_MAX_BUFFERED_BODY_BYTES")
    );

    // Once the slow sender is gone, its share comes back.
    drop(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = connect(&server).await;
    again.write_all(post(body.len()).as_bytes()).await.unwrap();
    again.write_all(body.as_bytes()).await.unwrap();
    let (status, answer) = read_response(&mut again).await.expect("an answer");
    assert_eq!(status, 200, "{answer}");
}
