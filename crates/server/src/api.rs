//! The Convex HTTP API: `POST /api/query|mutation|action` with `{path, args, format}`,
//! `POST /api/run/{module}/{function}` with `{args, format}`, and `GET /api/query`.
//! Function outcomes are always HTTP 200 with `status` success or error, as the official
//! client expects; only requests refused before a function runs get other statuses.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use keel_functions::{Call, Caller, ClientOutcome, Executed, FunctionKind, canonicalize_path};
use keel_values::format::ValueFormat;
use serde_json::{Value as Json, json};

use crate::body::read_limited;
use crate::json_body::{self, parse_body};
use crate::{ApiError, AppState, RefusalCode};

type SharedState = Arc<AppState>;

pub(crate) fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/query", post(query).get(query_by_get))
        .route("/api/mutation", post(mutation))
        .route("/api/action", post(action))
        .route("/api/run/{*path}", post(run))
}

/// `{path, args, format}`. Read from parsed JSON by hand rather than by serde, so that a body
/// that is valid JSON of the wrong shape is a `BadRequest` naming the field, and only text
/// that is not JSON is a `BadJsonBody`.
struct FunctionRequest {
    path: String,
    args: Option<Json>,
    format: Option<String>,
}

impl FunctionRequest {
    fn from_json(body: Json) -> Result<Self, ApiError> {
        let mut fields = body_object(body, "{path, args, format}")?;
        let path = match fields.remove("path") {
            Some(Json::String(path)) => path,
            Some(_) => return Err(bad_field("`path` must be a string")),
            None => {
                return Err(bad_field(
                    "The request body has no `path`: the function to run, for example \"messages:list\"",
                ));
            }
        };
        let RunRequest { args, format } = RunRequest::from_fields(fields)?;
        Ok(FunctionRequest { path, args, format })
    }
}

/// `{args, format}` (`/api/run/…`; the path is in the URL).
struct RunRequest {
    args: Option<Json>,
    format: Option<String>,
}

impl RunRequest {
    fn from_json(body: Json) -> Result<Self, ApiError> {
        Self::from_fields(body_object(body, "{args, format}")?)
    }

    fn from_fields(mut fields: serde_json::Map<String, Json>) -> Result<Self, ApiError> {
        let format = match fields.remove("format") {
            None | Some(Json::Null) => None,
            Some(Json::String(format)) => Some(format),
            Some(_) => return Err(bad_field("`format` must be a string")),
        };
        Ok(RunRequest {
            args: fields.remove("args"),
            format,
        })
    }
}

fn body_object(body: Json, shape: &str) -> Result<serde_json::Map<String, Json>, ApiError> {
    match body {
        Json::Object(fields) => Ok(fields),
        _ => Err(bad_field(format!(
            "The request body must be a JSON object: {shape}"
        ))),
    }
}

fn bad_field(message: impl Into<String>) -> ApiError {
    ApiError::new(RefusalCode::BadRequest, message)
}

// Handlers take the whole `Request`: a `HeaderMap` extractor would clone every header.
async fn query(state: State<SharedState>, request: Request) -> Response {
    by_kind(state, request, FunctionKind::Query).await
}

async fn mutation(state: State<SharedState>, request: Request) -> Response {
    by_kind(state, request, FunctionKind::Mutation).await
}

async fn action(state: State<SharedState>, request: Request) -> Response {
    by_kind(state, request, FunctionKind::Action).await
}

async fn by_kind(
    State(state): State<SharedState>,
    request: Request,
    kind: FunctionKind,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let handled = async {
        let bytes = read_limited(&headers, body, &state.bodies).await?;
        let request = FunctionRequest::from_json(parse_body(bytes).await?)?;
        let format = parse_format(request.format.as_deref(), ValueFormat::ConvexEncodedJson)?;
        let args = normalize_args(request.args)?;
        execute(&state, &headers, request.path, Some(kind), args, format).await
    };
    handled.await.unwrap_or_else(IntoResponse::into_response)
}

async fn run(
    State(state): State<SharedState>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let handled = async {
        let bytes = read_limited(&headers, body, &state.bodies).await?;
        let request: RunRequest = if bytes.is_empty() {
            RunRequest {
                args: None,
                format: None,
            }
        } else {
            RunRequest::from_json(parse_body(bytes).await?)?
        };
        let format = parse_format(request.format.as_deref(), ValueFormat::Json)?;
        let args = normalize_args(request.args)?;
        let path = run_path(&path)?;
        execute(&state, &headers, path, None, args, format).await
    };
    handled.await.unwrap_or_else(IntoResponse::into_response)
}

async fn query_by_get(
    State(state): State<SharedState>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let headers = request.headers();
    let handled = async {
        let path = params.get("path").cloned().ok_or_else(|| {
            ApiError::new(RefusalCode::BadRequest, "Missing query parameter `path`")
        })?;
        let args = match params.get("args") {
            Some(raw) => Some(json_body::parse(raw.as_bytes())?),
            None => None,
        };
        let format = parse_format(params.get("format").map(String::as_str), ValueFormat::Json)?;
        let args = normalize_args(args)?;
        execute(
            &state,
            headers,
            path,
            Some(FunctionKind::Query),
            args,
            format,
        )
        .await
    };
    handled.await.unwrap_or_else(IntoResponse::into_response)
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    path: String,
    kind: Option<FunctionKind>,
    args: Json,
    format: ValueFormat,
) -> Result<Response, ApiError> {
    let authorization = match headers.get(header::AUTHORIZATION) {
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::from(keel_auth::AuthError::new(
                keel_auth::AuthErrorCode::InvalidAuthHeader,
                "The Authorization header is not valid text",
            ))
        })?),
        None => None,
    };
    let identity = state
        .verifier
        .verify_authorization_header(authorization)
        .await?;
    if kind == Some(FunctionKind::Query) {
        // Queries are answered from the live query cache: identical ones share one execution
        // that commits keep current.
        let path = canonicalize_path(&path);
        let answer = state.sync.manager.query(&path, args, identity).await;
        tracing::debug!(function = %path, "query");
        // Rendered once per outcome and format, then shared by every request until it changes.
        return Ok(json_response(answer.body(format, render)));
    }
    let Executed { result, log_lines } = state
        .executor
        .execute(Call {
            path: path.clone(),
            kind,
            args,
            identity,
            caller: Caller::Client,
        })
        .await;
    tracing::debug!(function = %path, ok = result.is_ok(), "function call");
    let outcome = ClientOutcome::new(result.map(|outcome| outcome.value), log_lines);
    Ok(json_response(render(&outcome, format)))
}

/// A function outcome's body (see [`ClientOutcome::http_body`]), always HTTP 200.
fn render(outcome: &ClientOutcome, format: ValueFormat) -> Bytes {
    let body = outcome.http_body(format);
    Bytes::from(serde_json::to_vec(&body).expect("a JSON value always serializes"))
}

/// A JSON body already rendered: the same answer `axum::Json` gives, without serializing.
fn json_response(body: Bytes) -> Response {
    static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
    let mut response = Response::new(Body::from(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, APPLICATION_JSON.clone());
    response
}

fn parse_format(format: Option<&str>, default: ValueFormat) -> Result<ValueFormat, ApiError> {
    match format {
        None => Ok(default),
        Some(name) => ValueFormat::from_str(name).map_err(|_| {
            ApiError::new(
                RefusalCode::BadFormat,
                format!("Unsupported format `{name}`: use `convex_encoded_json` or `json`"),
            )
        }),
    }
}

/// `args` is an object, an array holding one object (what the official client sends), or
/// absent (no arguments).
fn normalize_args(args: Option<Json>) -> Result<Json, ApiError> {
    match args {
        None | Some(Json::Null) => Ok(json!({})),
        Some(Json::Object(map)) => Ok(Json::Object(map)),
        Some(Json::Array(mut items)) if items.len() == 1 && items[0].is_object() => {
            Ok(items.remove(0))
        }
        Some(_) => Err(ApiError::new(
            RefusalCode::BadRequest,
            "`args` must be an object or an array holding one object",
        )),
    }
}

/// `/api/run/dir/sub/fn` names function `fn` of module `dir/sub`.
fn run_path(path: &str) -> Result<String, ApiError> {
    match path.rsplit_once('/') {
        Some((module, function)) if !module.is_empty() && !function.is_empty() => {
            Ok(format!("{module}:{function}"))
        }
        _ => Err(ApiError::new(
            RefusalCode::BadRequest,
            "Use /api/run/{module}/{function}",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_paths_split_module_and_function() {
        assert_eq!(
            run_path("chats/listUserChats").unwrap(),
            "chats:listUserChats"
        );
        assert_eq!(run_path("dir/sub/fn").unwrap(), "dir/sub:fn");
        assert!(run_path("chats").is_err());
        assert!(run_path("chats/").is_err());
    }

    #[test]
    fn args_accept_an_object_or_an_array_of_one() {
        assert_eq!(
            normalize_args(Some(json!([{"a": 1}]))).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            normalize_args(Some(json!({"a": 1}))).unwrap(),
            json!({"a": 1})
        );
        assert_eq!(normalize_args(None).unwrap(), json!({}));
        assert!(normalize_args(Some(json!([{}, {}]))).is_err());
        assert!(normalize_args(Some(json!("x"))).is_err());
    }
}
