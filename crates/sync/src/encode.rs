//! Transition frames encoded once per change, not once per subscriber.
//!
//! A published result carries its modification's JSON, encoded on first use; each session
//! writes only its own envelope (versions, query id) around it. When a session's transition is
//! exactly the one another session already needed (the same versions and query id, this
//! result alone; typically the many subscribers of one shared query), the whole frame is
//! reused: one `Bytes` shared by every socket. The output is byte for byte what serializing
//! [`ServerMessage::Transition`](crate::protocol::ServerMessage) gives (tested below).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value as Json;

use crate::http_answer::HttpAnswer;
use crate::manager::QueryOutcome;
use crate::protocol::{QueryId, StateVersion};
use keel_functions::ClientError;
use keel_values::Ts;

/// A query's result as published to its subscribers.
pub struct Published {
    outcome: Arc<QueryOutcome>,
    /// The snapshot its run read: the result holds from there on. A session sends it only in
    /// a transition at or past this timestamp, so every query a commit changed arrives in
    /// that commit's one transition.
    current_at: Ts,
    /// Several sessions watched it when it was published: its encodings are kept for reuse.
    /// A result only one session needs keeps none (idle connections should stay small).
    shared: bool,
    /// The modification's JSON after its `"queryId":N`, encoded on first use.
    tail: OnceLock<Bytes>,
    /// The last transition frame carrying this result alone, and what it was built for.
    alone: Mutex<Option<(FrameKey, Bytes)>>,
    /// The HTTP API's answer for this result, made on the first HTTP request for it.
    http: OnceLock<Arc<HttpAnswer>>,
}

type FrameKey = (StateVersion, StateVersion, QueryId);

impl Published {
    pub fn new(outcome: QueryOutcome, shared: bool) -> Self {
        Published {
            outcome: Arc::new(outcome),
            current_at: Ts::ZERO,
            shared,
            tail: OnceLock::new(),
            alone: Mutex::new(None),
            http: OnceLock::new(),
        }
    }

    /// This result as read at snapshot `ts`.
    pub fn with_current_at(mut self, ts: Ts) -> Self {
        self.current_at = ts;
        self
    }

    /// The earliest transition timestamp that may carry this result.
    pub fn current_at(&self) -> Ts {
        self.current_at
    }

    /// The HTTP answer for this result, with its rendered bodies (made once, then shared).
    pub fn http_answer(&self) -> Arc<HttpAnswer> {
        Arc::clone(
            self.http
                .get_or_init(|| Arc::new(HttpAnswer::new(Arc::clone(&self.outcome)))),
        )
    }

    pub fn outcome(&self) -> &Arc<QueryOutcome> {
        &self.outcome
    }

    fn kind(&self) -> &'static str {
        match self.outcome.result {
            Ok(_) => "QueryUpdated",
            Err(_) => "QueryFailed",
        }
    }

    fn tail(&self) -> Bytes {
        if self.shared {
            self.tail.get_or_init(|| self.encode_tail()).clone()
        } else {
            self.encode_tail()
        }
    }

    fn encode_tail(&self) -> Bytes {
        {
            let log_lines = &self.outcome.log_lines;
            let modification = match &self.outcome.result {
                Ok(value) => ModificationRef::QueryUpdated {
                    query_id: 0,
                    value,
                    log_lines,
                    journal: None,
                },
                Err(ClientError { message, data }) => ModificationRef::QueryFailed {
                    query_id: 0,
                    error_message: message,
                    log_lines,
                    journal: None,
                    error_data: data.as_ref(),
                },
            };
            let full = serde_json::to_vec(&modification).expect("results always serialize");
            let head = head(self.kind());
            debug_assert!(full.starts_with(head.as_bytes()) && full[head.len()..][0] == b'0');
            // Drop the head and the placeholder id `0`.
            Bytes::from(full).slice(head.len() + 1..)
        }
    }

    /// The transition from `start` to `end` whose only modification is this result as
    /// `query_id`, shared with every session that needs the same one.
    pub(crate) fn alone(&self, start: StateVersion, end: StateVersion, query_id: QueryId) -> Bytes {
        if !self.shared {
            return transition(start, end, &[Modification::Updated(query_id, self)]);
        }
        let key = (start, end, query_id);
        let mut alone = self.alone.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((built_for, frame)) = &*alone
            && *built_for == key
        {
            return frame.clone();
        }
        let frame = transition(start, end, &[Modification::Updated(query_id, self)]);
        *alone = Some((key, frame.clone()));
        frame
    }
}

/// One entry of a transition's `modifications`.
pub(crate) enum Modification<'a> {
    Updated(QueryId, &'a Published),
    Removed(QueryId),
}

/// `{"type":"QueryUpdated","queryId":` (the part before the id).
fn head(kind: &str) -> String {
    format!(r#"{{"type":"{kind}","queryId":"#)
}

/// A `Transition` frame, stamped with the server's clock.
pub(crate) fn transition(
    start: StateVersion,
    end: StateVersion,
    modifications: &[Modification<'_>],
) -> Bytes {
    let tails: Vec<Option<Bytes>> = modifications
        .iter()
        .map(|m| match m {
            Modification::Updated(_, published) => Some(published.tail()),
            Modification::Removed(_) => None,
        })
        .collect();
    let mut out =
        Vec::with_capacity(256 + tails.iter().flatten().map(|t| t.len() + 48).sum::<usize>());
    out.extend_from_slice(br#"{"type":"Transition","startVersion":"#);
    serde_json::to_writer(&mut out, &start).expect("versions serialize");
    out.extend_from_slice(br#","endVersion":"#);
    serde_json::to_writer(&mut out, &end).expect("versions serialize");
    out.extend_from_slice(br#","modifications":["#);
    for (i, (modification, tail)) in modifications.iter().zip(&tails).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match modification {
            Modification::Updated(query_id, published) => {
                out.extend_from_slice(head(published.kind()).as_bytes());
                out.extend_from_slice(query_id.to_string().as_bytes());
                out.extend_from_slice(tail.as_deref().unwrap_or_default());
            }
            Modification::Removed(query_id) => {
                out.extend_from_slice(head("QueryRemoved").as_bytes());
                out.extend_from_slice(query_id.to_string().as_bytes());
                out.push(b'}');
            }
        }
    }
    out.extend_from_slice(br#"],"serverTs":"#);
    out.extend_from_slice(now_nanos().to_string().as_bytes());
    out.push(b'}');
    Bytes::from(out)
}

/// [`StateModification`](crate::protocol::StateModification) borrowing the result.
#[derive(Serialize)]
#[serde(tag = "type")]
enum ModificationRef<'a> {
    #[serde(rename_all = "camelCase")]
    QueryUpdated {
        query_id: QueryId,
        value: &'a Json,
        log_lines: &'a [String],
        journal: Option<&'a str>,
    },
    #[serde(rename_all = "camelCase")]
    QueryFailed {
        query_id: QueryId,
        error_message: &'a str,
        log_lines: &'a [String],
        journal: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_data: Option<&'a Json>,
    },
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ServerMessage, StateModification};
    use keel_values::Ts;
    use serde_json::json;

    fn version(query_set: u32, ts: u64) -> StateVersion {
        StateVersion {
            query_set,
            identity: 1,
            ts: Ts(ts),
        }
    }

    /// Everything up to the server's clock.
    fn frame_without_ts(text: &str) -> &str {
        &text[..text.find(r#","serverTs""#).unwrap()]
    }

    #[test]
    fn frames_match_the_serialized_messages() {
        let value = Published::new(
            QueryOutcome {
                result: Ok(json!({"b": [1, "x\"y", null], "a": 1.5})),
                log_lines: vec!["[LOG] read 2 \"rows\"".into(), "[WARN] é".into()],
            },
            false,
        );
        let failed = Published::new(
            QueryOutcome {
                result: Err(ClientError {
                    message: "Uncaught Error: no".into(),
                    data: Some(json!({"code": "X"})),
                }),
                log_lines: vec!["[ERROR] about to fail".into()],
            },
            true,
        );
        let plain_failure = Published::new(QueryOutcome::refused("Server Error"), false);
        let (start, end) = (version(1, 5), version(2, 9));
        let frame = transition(
            start,
            end,
            &[
                Modification::Removed(3),
                Modification::Updated(12, &value),
                Modification::Updated(0, &failed),
                Modification::Updated(7, &plain_failure),
            ],
        );
        let raw = std::str::from_utf8(&frame).unwrap();
        let expected = ServerMessage::Transition {
            start_version: start,
            end_version: end,
            modifications: vec![
                StateModification::QueryRemoved { query_id: 3 },
                StateModification::QueryUpdated {
                    query_id: 12,
                    value: json!({"b": [1, "x\"y", null], "a": 1.5}),
                    log_lines: vec!["[LOG] read 2 \"rows\"".into(), "[WARN] é".into()],
                    journal: None,
                },
                StateModification::QueryFailed {
                    query_id: 0,
                    error_message: "Uncaught Error: no".into(),
                    log_lines: vec!["[ERROR] about to fail".into()],
                    journal: None,
                    error_data: Some(json!({"code": "X"})),
                },
                StateModification::QueryFailed {
                    query_id: 7,
                    error_message: "Server Error".into(),
                    log_lines: vec![],
                    journal: None,
                    error_data: None,
                },
            ],
            client_clock_skew: None,
            server_ts: Some(1),
        };
        assert_eq!(
            frame_without_ts(raw),
            frame_without_ts(&expected.to_text()),
            "byte for byte"
        );
        let parsed: Json = serde_json::from_slice(&frame).unwrap();
        assert!(parsed["serverTs"].as_u64().unwrap() > 0);
        let empty = transition(start, end, &[]);
        assert!(
            std::str::from_utf8(&empty)
                .unwrap()
                .contains(r#""modifications":[],"serverTs":"#)
        );
    }

    #[test]
    fn a_result_alone_is_encoded_once_per_transition() {
        let value = Published::new(QueryOutcome::value(json!([1, 2])), true);
        let a = value.alone(version(1, 1), version(1, 2), 0);
        let b = value.alone(version(1, 1), version(1, 2), 0);
        assert_eq!(a.as_ptr(), b.as_ptr(), "shared, not rebuilt");
        let c = value.alone(version(1, 1), version(1, 2), 1);
        assert_ne!(a, c);
        assert!(std::str::from_utf8(&c).unwrap().contains(r#""queryId":1,"#));
    }
}

/// Splits an encoded `Transition` longer than `limit` bytes (the caller sends shorter ones as
/// they are) into `TransitionChunk` messages, as Convex's backend does for large transitions
/// (some proxies cap a WebSocket message's size). The client joins the chunks' text in order and parses the whole. Each part holds
/// at most `limit / 2` bytes of the transition's text, so its message stays under `limit`
/// once the text is escaped as a JSON string (escaping at most doubles it here: the text is
/// JSON already, so control characters are escaped in it).
pub(crate) fn transition_chunks(frame: &[u8], transition_id: u64, limit: usize) -> Vec<Bytes> {
    let text = std::str::from_utf8(frame).expect("frames are JSON text");
    let part_len = (limit / 2).max(4);
    let mut parts = Vec::with_capacity(text.len() / part_len + 1);
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + part_len).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        parts.push(&text[start..end]);
        start = end;
    }
    let total = parts.len();
    let id = transition_id.to_string();
    parts
        .into_iter()
        .enumerate()
        .map(|(number, chunk)| {
            let message = serde_json::json!({
                "type": "TransitionChunk",
                "chunk": chunk,
                "partNumber": number,
                "totalParts": total,
                "transitionId": id,
            });
            Bytes::from(message.to_string())
        })
        .collect()
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    fn joined(chunks: &[Bytes]) -> String {
        chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let message: Json = serde_json::from_slice(chunk).unwrap();
                assert_eq!(message["type"], "TransitionChunk");
                assert_eq!(message["partNumber"], i);
                assert_eq!(message["totalParts"], chunks.len());
                assert_eq!(message["transitionId"], "7");
                message["chunk"].as_str().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn a_large_transition_is_split_and_joins_back_exactly() {
        // Quotes and backslashes double when escaped; multi-byte characters must not be cut.
        let value = "\"é\\ 漢字 🚀 ".repeat(400);
        let frame = Bytes::from(serde_json::json!({"type": "Transition", "v": value}).to_string());
        let limit = 1000;
        let chunks = transition_chunks(&frame, 7, limit);
        assert!(chunks.len() > 1);
        assert!(
            chunks.iter().all(|c| c.len() <= limit + 100),
            "each message near the limit"
        );
        assert_eq!(joined(&chunks).as_bytes(), &frame[..]);
    }
}
