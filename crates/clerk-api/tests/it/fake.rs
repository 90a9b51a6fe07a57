//! A fake Clerk Backend API on 127.0.0.1:0: users (a bare array), their
//! count, organizations and memberships (`{data, total_count}`), PATCH of an
//! organization, checked like Clerk checks them, plus switches for the
//! failures the client must survive (429, 500, slow answers, a wrong key).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, body::Bytes};
use serde::Deserialize;
use serde_json::{Value, json};

/// The key the fake accepts.
pub const KEY: &str = "sk_test_fake_0123456789abcdef";
/// A key the fake knows but refuses with 403.
pub const FORBIDDEN_KEY: &str = "sk_test_forbidden_fedcba9876543210";

/// The objects the fake serves.
#[derive(Clone, Default)]
pub struct Data {
    pub users: Vec<Value>,
    pub organizations: Vec<Value>,
    /// By organization id.
    pub memberships: HashMap<String, Vec<Value>>,
}

/// How the fake misbehaves.
#[derive(Clone, Default)]
pub struct Behaviour {
    /// Answer the first call to each URL (path and query) with 429 and this
    /// `Retry-After`.
    pub rate_limit_first_call: Option<String>,
    /// Answer every call with 429 and this `Retry-After`.
    pub always_rate_limit: Option<String>,
    /// Answer the first this-many calls with 500 (Clerk's error JSON).
    pub server_errors: u32,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Answer every call with this status and a message that repeats the
    /// request's `Authorization` header (a careless proxy).
    pub echo_authorization: Option<StatusCode>,
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
}

struct Inner {
    data: Mutex<Data>,
    behaviour: Behaviour,
    seen: Mutex<Vec<Seen>>,
    rate_limited: Mutex<HashSet<String>>,
    server_errors_left: Mutex<u32>,
}

pub struct Fake {
    /// `http://127.0.0.1:<port>`, the client's base URL.
    pub url: String,
    inner: Arc<Inner>,
}

impl Fake {
    pub async fn start(data: Data) -> Fake {
        Fake::start_with(data, Behaviour::default()).await
    }

    pub async fn start_with(data: Data, behaviour: Behaviour) -> Fake {
        let inner = Arc::new(Inner {
            data: Mutex::new(data),
            server_errors_left: Mutex::new(behaviour.server_errors),
            behaviour,
            seen: Mutex::new(Vec::new()),
            rate_limited: Mutex::new(HashSet::new()),
        });
        let api = Router::new()
            .route("/users", get(list_users).post(create_user))
            .route(
                "/users/{user_id}",
                get(get_user).patch(update_user).delete(delete_user),
            )
            .route("/users/count", get(count_users))
            .route("/organizations", get(list_organizations))
            .route(
                "/organizations/{organization_id}",
                get(get_organization).patch(update_organization),
            )
            .route(
                "/organizations/{organization_id}/memberships",
                get(list_memberships),
            );
        let app = Router::new()
            .nest("/v1", api)
            .fallback(|| async {
                clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "not found")
            })
            .layer(middleware::from_fn_with_state(inner.clone(), gate))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { url, inner }
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    pub fn user(&self, id: &str) -> Option<Value> {
        let data = self.inner.data.lock().unwrap();
        data.users.iter().find(|user| user["id"] == id).cloned()
    }

    pub fn organization(&self, id: &str) -> Option<Value> {
        find_organization(&self.inner, id)
    }
}

/// Records the request, then applies the key check and the misbehaviours.
async fn gate(State(inner): State<Arc<Inner>>, request: Request, next: Next) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let query = request.uri().query().unwrap_or("").to_owned();
    let path = request.uri().path().to_owned();
    inner.seen.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        path: path.clone(),
        query: query.clone(),
        authorization: authorization.clone(),
    });
    let behaviour = &inner.behaviour;
    if let Some(delay) = behaviour.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = behaviour.echo_authorization {
        let echoed = authorization.clone().unwrap_or_default();
        return clerk_error(
            status,
            "bad_request",
            &format!("unexpected header Authorization: {echoed}"),
        );
    }
    match authorization
        .as_deref()
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        Some(KEY) => {}
        Some(FORBIDDEN_KEY) => {
            return clerk_error(
                StatusCode::FORBIDDEN,
                "authorization_invalid",
                "Unauthorized request",
            );
        }
        _ => {
            return clerk_error(
                StatusCode::UNAUTHORIZED,
                "authentication_invalid",
                "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.",
            );
        }
    }
    if let Some(retry_after) = &behaviour.always_rate_limit {
        return too_many_requests(retry_after);
    }
    if let Some(retry_after) = &behaviour.rate_limit_first_call {
        let first = inner
            .rate_limited
            .lock()
            .unwrap()
            .insert(format!("{path}?{query}"));
        if first {
            return too_many_requests(retry_after);
        }
    }
    {
        let mut left = inner.server_errors_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return clerk_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_clerk_error",
                "There was an internal error on our servers. We've been notified and are working on fixing it.",
            );
        }
    }
    next.run(request).await
}

fn too_many_requests(retry_after: &str) -> Response {
    let mut response = clerk_error(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "Too many requests, please try again later.",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_str(retry_after).unwrap(),
    );
    response
}

/// Clerk's error body.
fn clerk_error(status: StatusCode, code: &str, long_message: &str) -> Response {
    let body = json!({
        "errors": [{"message": code.replace('_', " "), "long_message": long_message, "code": code}],
        "clerk_trace_id": "trace_fake",
    });
    (status, Json(body)).into_response()
}

#[derive(Deserialize)]
struct PageQuery {
    limit: Option<u32>,
    offset: Option<u32>,
    order_by: Option<String>,
}

/// Clerk's checks and ordering: limit 1–500 (default 10), `order_by` by
/// `created_at` only here, newest first by default.
fn page(mut items: Vec<Value>, query: &PageQuery) -> Result<Vec<Value>, String> {
    let limit = query.limit.unwrap_or(10);
    if !(1..=500).contains(&limit) {
        return Err("limit must be between 1 and 500.".into());
    }
    let descending = match query.order_by.as_deref().unwrap_or("-created_at") {
        "-created_at" => true,
        "created_at" | "+created_at" => false,
        other => {
            return Err(format!("cannot order by `{other}`"));
        }
    };
    items.sort_by_key(|item| item["created_at"].as_i64());
    if descending {
        items.reverse();
    }
    Ok(items
        .into_iter()
        .skip(query.offset.unwrap_or(0) as usize)
        .take(limit as usize)
        .collect())
}

async fn list_users(State(inner): State<Arc<Inner>>, Query(query): Query<PageQuery>) -> Response {
    let users = inner.data.lock().unwrap().users.clone();
    match page(users, &query) {
        Ok(page) => Json(page).into_response(),
        Err(message) => invalid(&message),
    }
}

async fn count_users(State(inner): State<Arc<Inner>>) -> Json<Value> {
    let count = inner.data.lock().unwrap().users.len();
    Json(json!({"object": "total_count", "total_count": count}))
}

async fn list_organizations(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<PageQuery>,
) -> Response {
    let organizations = inner.data.lock().unwrap().organizations.clone();
    let total = organizations.len();
    match page(organizations, &query) {
        Ok(page) => Json(json!({"data": page, "total_count": total})).into_response(),
        Err(message) => invalid(&message),
    }
}

async fn get_organization(
    State(inner): State<Arc<Inner>>,
    Path(organization_id): Path<String>,
) -> Response {
    match find_organization(&inner, &organization_id) {
        Some(org) => Json(org).into_response(),
        None => not_found(),
    }
}

async fn update_organization(
    State(inner): State<Arc<Inner>>,
    Path(organization_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/json")
    {
        return clerk_error(
            StatusCode::BAD_REQUEST,
            "request_body_invalid",
            "The request body is not JSON.",
        );
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return clerk_error(
            StatusCode::BAD_REQUEST,
            "request_body_invalid",
            "The request body is invalid.",
        );
    };
    // additionalProperties: false, and a name must be a string.
    if let Some(unknown) = fields.keys().find(|key| key.as_str() != "name") {
        return clerk_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_unknown",
            &format!("{unknown} is not a valid parameter for this request."),
        );
    }
    let Some(Value::String(name)) = fields.get("name") else {
        return clerk_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_missing",
            "name must be a string.",
        );
    };
    let mut data = inner.data.lock().unwrap();
    let Some(org) = data
        .organizations
        .iter_mut()
        .find(|org| org["id"] == organization_id.as_str())
    else {
        return not_found();
    };
    org["name"] = json!(name);
    org["updated_at"] = json!(org["updated_at"].as_i64().unwrap() + 1);
    Json(org.clone()).into_response()
}

/// The body as a JSON object, or Clerk's 400.
fn json_object(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, Box<Response>> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        == Some("application/json");
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) if is_json => Ok(fields),
        _ => Err(Box::new(clerk_error(
            StatusCode::BAD_REQUEST,
            "request_body_invalid",
            "The request body is invalid.",
        ))),
    }
}

async fn create_user(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = match json_object(&headers, &body) {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let Some(email) = fields["email_address"][0].as_str().map(str::to_lowercase) else {
        return clerk_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_missing",
            "email_address must be included.",
        );
    };
    let mut data = inner.data.lock().unwrap();
    if data
        .users
        .iter()
        .any(|user| user["email_addresses"][0]["email_address"] == email.as_str())
    {
        return clerk_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_identifier_exists",
            "That email address is taken. Please try another.",
        );
    }
    let mut user = users(1).remove(0);
    let id = format!("user_new{}", data.users.len());
    user["id"] = json!(id);
    user["email_addresses"][0]["email_address"] = json!(email);
    user["first_name"] = fields.get("first_name").cloned().unwrap_or(Value::Null);
    user["last_name"] = fields.get("last_name").cloned().unwrap_or(Value::Null);
    data.users.push(user.clone());
    Json(user).into_response()
}

async fn get_user(State(inner): State<Arc<Inner>>, Path(user_id): Path<String>) -> Response {
    let data = inner.data.lock().unwrap();
    match data
        .users
        .iter()
        .find(|user| user["id"] == user_id.as_str())
    {
        Some(user) => Json(user.clone()).into_response(),
        None => clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "not found"),
    }
}

async fn update_user(
    State(inner): State<Arc<Inner>>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match json_object(&headers, &body) {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let mut data = inner.data.lock().unwrap();
    let Some(user) = data
        .users
        .iter_mut()
        .find(|user| user["id"] == user_id.as_str())
    else {
        return clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "not found");
    };
    for (field, value) in fields {
        user[field.as_str()] = value;
    }
    Json(user.clone()).into_response()
}

async fn delete_user(State(inner): State<Arc<Inner>>, Path(user_id): Path<String>) -> Response {
    let mut data = inner.data.lock().unwrap();
    let before = data.users.len();
    data.users.retain(|user| user["id"] != user_id.as_str());
    if data.users.len() == before {
        return clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "not found");
    }
    Json(json!({"object": "user", "id": user_id, "deleted": true})).into_response()
}

async fn list_memberships(
    State(inner): State<Arc<Inner>>,
    Path(organization_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    if find_organization(&inner, &organization_id).is_none() {
        return not_found();
    }
    let memberships = inner
        .data
        .lock()
        .unwrap()
        .memberships
        .get(&organization_id)
        .cloned()
        .unwrap_or_default();
    let total = memberships.len();
    match page(memberships, &query) {
        Ok(page) => Json(json!({"data": page, "total_count": total})).into_response(),
        Err(message) => invalid(&message),
    }
}

/// Clerk's 422 for a bad parameter.
fn invalid(long_message: &str) -> Response {
    clerk_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "form_param_value_invalid",
        long_message,
    )
}

fn not_found() -> Response {
    clerk_error(
        StatusCode::NOT_FOUND,
        "resource_not_found",
        "Given organization not found.",
    )
}

fn find_organization(inner: &Inner, id: &str) -> Option<Value> {
    let data = inner.data.lock().unwrap();
    data.organizations
        .iter()
        .find(|org| org["id"] == id)
        .cloned()
}

/// `n` users in UserJSON's shape, `user_00000` first, created a second apart
/// (and listed in `Data` newest first, so only the client's ordering makes
/// them come out oldest first).
pub fn users(n: usize) -> Vec<Value> {
    let mut users: Vec<Value> = (0..n)
        .map(|i| {
            let created = 1_700_000_000_000_i64 + i as i64 * 1000;
            json!({
                "object": "user",
                "id": format!("user_{i:05}"),
                "external_id": null,
                "username": null,
                "first_name": format!("First{i}"),
                "last_name": "Generated",
                "image_url": "https://img.clerk.com/generated",
                "has_image": false,
                "primary_email_address_id": format!("idn_{i:05}"),
                "primary_phone_number_id": null,
                "email_addresses": [{
                    "object": "email_address",
                    "id": format!("idn_{i:05}"),
                    "email_address": format!("user{i}@example.com"),
                    "verification": {"object": "verification_email_link", "status": "verified", "strategy": "email_link"},
                    "linked_to": [],
                }],
                "phone_numbers": [],
                "external_accounts": [],
                "public_metadata": if i % 100 == 0 { json!({"role": "admin"}) } else { json!({}) },
                "private_metadata": null,
                "unsafe_metadata": {},
                "banned": false,
                "locked": false,
                "last_sign_in_at": null,
                "last_active_at": created,
                "created_at": created,
                "updated_at": created + 5,
            })
        })
        .collect();
    users.reverse();
    users
}

/// `n` organizations (`org_000` oldest) with `members` memberships each.
pub fn organizations(n: usize, members: usize) -> Data {
    let mut data = Data::default();
    for i in 0..n {
        let created = 1_710_000_000_000_i64 + i as i64 * 60_000;
        let org = json!({
            "object": "organization",
            "id": format!("org_{i:03}"),
            "name": format!("Org {i}"),
            "slug": format!("org-{i}"),
            "image_url": "https://img.clerk.com/org",
            "has_image": false,
            "max_allowed_memberships": 5,
            "admin_delete_enabled": true,
            "public_metadata": {},
            "private_metadata": {},
            "created_by": "user_00000",
            "created_at": created,
            "updated_at": created,
        });
        let memberships = (0..members)
            .map(|m| {
                json!({
                    "object": "organization_membership",
                    "id": format!("orgmem_{i:03}_{m:03}"),
                    "role": if m == 0 { "org:admin" } else { "org:member" },
                    "role_name": if m == 0 { "Admin" } else { "Member" },
                    "permissions": [],
                    "public_metadata": {},
                    "private_metadata": {},
                    "organization": org.clone(),
                    "public_user_data": {
                        "user_id": format!("user_{m:05}"),
                        "first_name": format!("First{m}"),
                        "last_name": "Generated",
                        "profile_image_url": "https://img.clerk.com/u",
                        "image_url": "https://img.clerk.com/u",
                        "has_image": false,
                        "identifier": format!("user{m}@example.com"),
                    },
                    "created_at": created + m as i64 * 1000,
                    "updated_at": created + m as i64 * 1000,
                })
            })
            .rev()
            .collect();
        data.memberships.insert(format!("org_{i:03}"), memberships);
        data.organizations.insert(0, org);
    }
    data
}
