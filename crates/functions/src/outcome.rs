//! What a client is told about one call, whatever the transport: the value, or the error's
//! `errorMessage` and `errorData`, and the lines the function logged. [`ClientOutcome::new`] is
//! the one place an [`FnError`] becomes what clients see; the HTTP body
//! ([`ClientOutcome::http_body`]) and the sync protocol's `QueryUpdated`/`QueryFailed`,
//! `MutationResponse` and `ActionResponse` are all written from this type, so an error cannot
//! read differently over HTTP and over the WebSocket.

use keel_values::format::ValueFormat;
use serde_json::{Value as Json, json};

use crate::{FnError, FnResult, LogLines};

/// A call's result as clients see it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOutcome {
    /// The value (Convex encoded JSON), or the error as clients see it.
    pub result: Result<Json, ClientError>,
    /// The function's log lines (`[LEVEL] message`).
    pub log_lines: LogLines,
}

/// An error as clients see it: Convex's `errorMessage` and, for errors a function raised on
/// purpose, `errorData` (`{code, message}`, which the official client throws as
/// `ConvexError.data`).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientError {
    pub message: String,
    pub data: Option<Json>,
}

impl From<&FnError> for ClientError {
    fn from(err: &FnError) -> Self {
        ClientError {
            message: err.client_message(),
            data: err.error_data(),
        }
    }
}

impl ClientOutcome {
    pub fn new(result: FnResult<Json>, log_lines: LogLines) -> Self {
        ClientOutcome {
            result: result.map_err(|err| ClientError::from(&err)),
            log_lines,
        }
    }

    /// A value without log lines.
    pub fn value(value: Json) -> Self {
        ClientOutcome {
            result: Ok(value),
            log_lines: Vec::new(),
        }
    }

    /// An error Keel itself answers (no function ran, so no lines and no `errorData`).
    pub fn refused(message: impl Into<String>) -> Self {
        ClientOutcome {
            result: Err(ClientError {
                message: message.into(),
                data: None,
            }),
            log_lines: Vec::new(),
        }
    }

    /// Whether `other` has the same value or error (its log lines may differ). A live query
    /// whose re-run gives the same result is not sent again, and neither are that run's lines.
    pub fn same_result(&self, other: &ClientOutcome) -> bool {
        self.result == other.result
    }

    /// The HTTP API's body: `{"status":"success","value":…,"logLines":[…]}` or
    /// `{"status":"error","errorMessage":…,"errorData":…,"logLines":[…]}` (`errorData` only when
    /// there is some), values in `format`.
    pub fn http_body(&self, format: ValueFormat) -> Json {
        match &self.result {
            Ok(value) => json!({
                "status": "success",
                "value": export(value, format),
                "logLines": self.log_lines,
            }),
            Err(ClientError { message, data }) => {
                let mut body = json!({
                    "status": "error",
                    "errorMessage": message,
                    "logLines": self.log_lines,
                });
                if let Some(data) = data {
                    body["errorData"] = export(data, format);
                }
                body
            }
        }
    }
}

/// Function results are Convex encoded JSON already; the `json` format exports them lossily.
fn export(value: &Json, format: ValueFormat) -> Json {
    match format {
        ValueFormat::ConvexEncodedJson => value.clone(),
        ValueFormat::Json => match keel_values::Value::from_encoded_json(value) {
            Ok(decoded) => format.export(&decoded),
            Err(_) => value.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn http_bodies_keep_convexs_shape() {
        let ok = ClientOutcome::new(
            Ok(json!({"$integer": "AQAAAAAAAAA="})),
            vec!["[LOG] hi".into()],
        );
        assert_eq!(
            ok.http_body(ValueFormat::ConvexEncodedJson),
            json!({"status": "success", "value": {"$integer": "AQAAAAAAAAA="}, "logLines": ["[LOG] hi"]})
        );
        assert_eq!(ok.http_body(ValueFormat::Json)["value"], json!("1"));
        let coded = ClientOutcome::new(Err(FnError::coded(ErrorCode::Forbidden, "no")), vec![]);
        assert_eq!(
            coded.http_body(ValueFormat::Json),
            json!({"status": "error", "errorMessage": "no", "errorData": {"code": "FORBIDDEN", "message": "no"}, "logLines": []})
        );
        let internal = ClientOutcome::new(Err(FnError::internal("secret detail")), vec![]);
        assert_eq!(
            internal.http_body(ValueFormat::Json),
            json!({"status": "error", "errorMessage": "Server Error", "logLines": []})
        );
        assert!(ok.same_result(&ClientOutcome::value(json!({"$integer": "AQAAAAAAAAA="}))));
    }
}
