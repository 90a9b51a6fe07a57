//! The Convex sync protocol's messages, with the official client's type and field names
//! (`convex/src/browser/sync/protocol.ts`). Client messages are parsed leniently where the
//! client is (optional fields), strictly where a mistake would corrupt state (versions).

use keel_functions::{ClientError, ClientOutcome};
use keel_values::Ts;
use keel_values::bounded_json::{self, BoundedJsonError, PARSE_INLINE_MAX};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::protocol_error::{ProtocolError, ProtocolErrorCode};

pub type QueryId = u32;
/// Parsed from the JSON integer as written, never through a float64, so every value up to
/// u64::MAX is exact (2^53 and 2^53+1 differ); a fraction or a negative number is refused.
pub type RequestId = u64;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum ClientMessage {
    #[serde(rename_all = "camelCase")]
    Connect {
        session_id: String,
        #[serde(default)]
        connection_count: u32,
        #[serde(default)]
        last_close_reason: Option<String>,
        #[serde(default)]
        max_observed_timestamp: Option<Ts>,
    },
    #[serde(rename_all = "camelCase")]
    ModifyQuerySet {
        base_version: u32,
        new_version: u32,
        modifications: Vec<QuerySetModification>,
    },
    #[serde(rename_all = "camelCase")]
    Mutation {
        request_id: RequestId,
        udf_path: String,
        #[serde(default)]
        args: Vec<Json>,
    },
    #[serde(rename_all = "camelCase")]
    Action {
        request_id: RequestId,
        udf_path: String,
        #[serde(default)]
        args: Vec<Json>,
    },
    #[serde(rename_all = "camelCase")]
    Authenticate {
        base_version: u32,
        token_type: TokenType,
        #[serde(default)]
        value: Option<String>,
    },
    /// Client telemetry: accepted and ignored.
    Event {},
}

/// A client message's text → the message, or why it is none. Texts up to `PARSE_INLINE_MAX`
/// are parsed straight into their type; larger ones (a big query set or arguments) first
/// within `bounded_json`'s bounds, as HTTP bodies are: their parsed form could otherwise cost
/// tens of times their text.
pub fn parse_client_message(text: &[u8]) -> Result<ClientMessage, ProtocolError> {
    if text.len() <= PARSE_INLINE_MAX {
        parse_inline(text)
    } else {
        parse_within_bounds(text)
    }
}

fn parse_inline(text: &[u8]) -> Result<ClientMessage, ProtocolError> {
    serde_json::from_slice(text).map_err(invalid)
}

fn parse_within_bounds(text: &[u8]) -> Result<ClientMessage, ProtocolError> {
    match bounded_json::parse_bounded(text) {
        Ok(json) => serde_json::from_value(json).map_err(invalid),
        Err(BoundedJsonError::NotJson(e)) => Err(invalid(e)),
        Err(BoundedJsonError::TooComplex(bound)) => {
            Err(ProtocolErrorCode::MessageTooComplex.with(bound.message("The message")))
        }
    }
}

fn invalid(e: serde_json::Error) -> ProtocolError {
    ProtocolErrorCode::InvalidMessage.with(format!("Invalid client message: {e}"))
}

/// Both ways [`parse_client_message`] parses, whatever the text's length, so the fuzz targets
/// (`fuzz/`) can compare them. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    use super::ClientMessage;
    use crate::ProtocolError;

    /// Straight into the type, as texts up to `PARSE_INLINE_MAX` are parsed.
    pub fn parse_inline(text: &[u8]) -> Result<ClientMessage, ProtocolError> {
        super::parse_inline(text)
    }

    /// Within `bounded_json`'s bounds first, as longer texts are parsed.
    pub fn parse_within_bounds(text: &[u8]) -> Result<ClientMessage, ProtocolError> {
        super::parse_within_bounds(text)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum TokenType {
    User,
    None,
    Admin,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum QuerySetModification {
    #[serde(rename_all = "camelCase")]
    Add {
        query_id: QueryId,
        udf_path: String,
        #[serde(default)]
        args: Vec<Json>,
    },
    #[serde(rename_all = "camelCase")]
    Remove { query_id: QueryId },
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct StateVersion {
    pub query_set: u32,
    pub identity: u32,
    pub ts: Ts,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type")]
pub enum StateModification {
    #[serde(rename_all = "camelCase")]
    QueryUpdated {
        query_id: QueryId,
        value: Json,
        log_lines: Vec<String>,
        journal: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    QueryFailed {
        query_id: QueryId,
        error_message: String,
        log_lines: Vec<String>,
        journal: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_data: Option<Json>,
    },
    #[serde(rename_all = "camelCase")]
    QueryRemoved { query_id: QueryId },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type")]
pub enum ServerMessage {
    #[serde(rename_all = "camelCase")]
    Transition {
        start_version: StateVersion,
        end_version: StateVersion,
        modifications: Vec<StateModification>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_clock_skew: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        server_ts: Option<u64>,
    },
    #[serde(rename_all = "camelCase")]
    MutationResponse {
        request_id: RequestId,
        success: bool,
        /// The result, or the error message when `success` is false.
        result: Json,
        ts: Option<Ts>,
        log_lines: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_data: Option<Json>,
    },
    #[serde(rename_all = "camelCase")]
    ActionResponse {
        request_id: RequestId,
        success: bool,
        result: Json,
        log_lines: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_data: Option<Json>,
    },
    #[serde(rename_all = "camelCase")]
    AuthError {
        error: String,
        base_version: u32,
        auth_update_attempted: bool,
    },
    FatalError {
        error: String,
    },
    Ping,
}

/// The fields a function's answer carries: `success`, `result` (the value, or the error
/// message), `errorData` and `logLines`, from the one [`ClientOutcome`].
fn answer_fields(outcome: ClientOutcome) -> (bool, Json, Option<Json>, Vec<String>) {
    match outcome.result {
        Ok(value) => (true, value, None, outcome.log_lines),
        Err(ClientError { message, data }) => {
            (false, Json::String(message), data, outcome.log_lines)
        }
    }
}

impl ServerMessage {
    /// A mutation's answer; `ts` is its commit's (only when it succeeded).
    pub fn mutation_response(
        request_id: RequestId,
        outcome: ClientOutcome,
        ts: Option<Ts>,
    ) -> Self {
        let (success, result, error_data, log_lines) = answer_fields(outcome);
        ServerMessage::MutationResponse {
            request_id,
            success,
            result,
            ts: if success { ts } else { None },
            log_lines,
            error_data,
        }
    }

    /// An action's answer.
    pub fn action_response(request_id: RequestId, outcome: ClientOutcome) -> Self {
        let (success, result, error_data, log_lines) = answer_fields(outcome);
        ServerMessage::ActionResponse {
            request_id,
            success,
            result,
            log_lines,
            error_data,
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_messages_parse_as_the_official_client_sends_them() {
        let connect: ClientMessage = serde_json::from_value(json!({"connectionCount":0,"lastCloseReason":"InitialConnect","clientTs":1795356125411u64,"type":"Connect","sessionId":"b0a8"})).unwrap();
        assert!(
            matches!(connect, ClientMessage::Connect { ref session_id, .. } if session_id == "b0a8")
        );
        let with_ts: ClientMessage = serde_json::from_value(json!({"type":"Connect","sessionId":"s","connectionCount":1,"lastCloseReason":null,"clientTs":1,"maxObservedTimestamp":"6AMqNv6clxc="})).unwrap();
        assert!(matches!(
            with_ts,
            ClientMessage::Connect {
                max_observed_timestamp: Some(_),
                ..
            }
        ));
        let modify: ClientMessage = serde_json::from_value(json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]},{"type":"Remove","queryId":3}]})).unwrap();
        assert!(
            matches!(modify, ClientMessage::ModifyQuerySet { ref modifications, .. } if modifications.len() == 2)
        );
        let auth: ClientMessage = serde_json::from_value(
            json!({"type":"Authenticate","baseVersion":0,"tokenType":"None"}),
        )
        .unwrap();
        assert!(matches!(
            auth,
            ClientMessage::Authenticate {
                token_type: TokenType::None,
                ..
            }
        ));
        let event: ClientMessage =
            serde_json::from_value(json!({"type":"Event","eventType":"x","event":{}})).unwrap();
        assert_eq!(event, ClientMessage::Event {});
        assert!(serde_json::from_value::<ClientMessage>(json!({"type":"Nope"})).is_err());
    }

    #[test]
    fn server_messages_serialize_with_the_official_field_names() {
        let transition = ServerMessage::Transition {
            start_version: StateVersion::default(),
            end_version: StateVersion {
                query_set: 1,
                identity: 0,
                ts: Ts(1),
            },
            modifications: vec![StateModification::QueryUpdated {
                query_id: 0,
                value: json!([]),
                log_lines: vec![],
                journal: None,
            }],
            client_clock_skew: None,
            server_ts: None,
        };
        assert_eq!(
            serde_json::to_value(&transition).unwrap(),
            json!({"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"AQAAAAAAAAA="},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[],"logLines":[],"journal":null}]})
        );
        let failed = ServerMessage::MutationResponse {
            request_id: 2,
            success: false,
            result: json!("boom"),
            ts: None,
            log_lines: vec![],
            error_data: Some(json!({"code":"X"})),
        };
        assert_eq!(
            serde_json::to_value(&failed).unwrap(),
            json!({"type":"MutationResponse","requestId":2,"success":false,"result":"boom","ts":null,"logLines":[],"errorData":{"code":"X"}})
        );
        assert_eq!(ServerMessage::Ping.to_text(), r#"{"type":"Ping"}"#);
    }

    #[test]
    fn request_ids_are_exact_integers() {
        let parse = |id: &str| {
            serde_json::from_str::<ClientMessage>(&format!(
                r#"{{"type":"Mutation","requestId":{id},"udfPath":"m:f","args":[{{}}]}}"#
            ))
        };
        for id in [9_007_199_254_740_993u64, u64::MAX] {
            let Ok(ClientMessage::Mutation { request_id, .. }) = parse(&id.to_string()) else {
                panic!("{id} parses");
            };
            assert_eq!(request_id, id);
        }
        for bad in ["1.5", "-1", "18446744073709551616", "\"7\""] {
            assert!(parse(bad).is_err(), "{bad} is refused");
        }
    }
}
