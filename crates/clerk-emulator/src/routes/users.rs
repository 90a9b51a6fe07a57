//! `/v1/users`: Clerk's user endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::auth::SecretKey;
use crate::emulator::Emulator;
use crate::error::EmulatorError;
use crate::extract::{ClerkJson, ClerkQuery};
use crate::user_input::{CreateUser, UpdateUser};
use crate::user_list::ListUsers;

type Reply = Result<Json<Value>, EmulatorError>;

/// `POST /v1/users`
pub(super) async fn create(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    ClerkJson(req): ClerkJson<CreateUser>,
) -> Reply {
    emulator.create_user(req).await.map(Json)
}

/// `GET /v1/users`: a bare JSON array, as Clerk returns it.
pub(super) async fn list(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    ClerkQuery(query): ClerkQuery<ListUsers>,
) -> Reply {
    let users = emulator.list_users(&query).await?;
    Ok(Json(Value::Array(users)))
}

/// `GET /v1/users/count`
pub(super) async fn count(_: SecretKey, State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    let total = emulator.count_users().await;
    Json(json!({ "object": "total_count", "total_count": total }))
}

/// `GET /v1/users/{user_id}`
pub(super) async fn get(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(user_id): Path<String>,
) -> Reply {
    emulator.get_user(&user_id).await.map(Json)
}

/// `PATCH /v1/users/{user_id}`
pub(super) async fn update(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(user_id): Path<String>,
    ClerkJson(req): ClerkJson<UpdateUser>,
) -> Reply {
    emulator.update_user(&user_id, req).await.map(Json)
}

/// `DELETE /v1/users/{user_id}`
pub(super) async fn delete(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(user_id): Path<String>,
) -> Reply {
    emulator.delete_user(&user_id).await.map(Json)
}
