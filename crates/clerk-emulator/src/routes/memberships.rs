//! Organization memberships: per organization, per user and instance-wide.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::auth::SecretKey;
use crate::emulator::Emulator;
use crate::error::EmulatorError;
use crate::extract::{ClerkJson, ClerkQuery};
use crate::org_list::ListMemberships;
use crate::organization_input::{CreateMembership, UpdateMembership};

type Reply = Result<Json<Value>, EmulatorError>;

/// `POST /v1/organizations/{organization_id}/memberships`
pub(super) async fn create(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(organization_id): Path<String>,
    ClerkJson(req): ClerkJson<CreateMembership>,
) -> Reply {
    emulator
        .create_membership(&organization_id, req)
        .await
        .map(Json)
}

/// `GET /v1/organizations/{organization_id}/memberships`
pub(super) async fn list(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(organization_id): Path<String>,
    ClerkQuery(query): ClerkQuery<ListMemberships>,
) -> Reply {
    emulator
        .list_memberships(&organization_id, &query)
        .await
        .map(Json)
}

/// `PATCH /v1/organizations/{organization_id}/memberships/{user_id}`
pub(super) async fn update(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path((organization_id, user_id)): Path<(String, String)>,
    ClerkJson(req): ClerkJson<UpdateMembership>,
) -> Reply {
    emulator
        .update_membership(&organization_id, &user_id, req)
        .await
        .map(Json)
}

/// `DELETE /v1/organizations/{organization_id}/memberships/{user_id}`
pub(super) async fn delete(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path((organization_id, user_id)): Path<(String, String)>,
) -> Reply {
    emulator
        .delete_membership(&organization_id, &user_id)
        .await
        .map(Json)
}

/// `GET /v1/organization_memberships`
pub(super) async fn list_all(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    ClerkQuery(query): ClerkQuery<ListMemberships>,
) -> Reply {
    emulator.list_all_memberships(&query).await.map(Json)
}

/// `GET /v1/users/{user_id}/organization_memberships`
pub(super) async fn list_for_user(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(user_id): Path<String>,
    ClerkQuery(query): ClerkQuery<ListMemberships>,
) -> Reply {
    emulator
        .list_user_memberships(&user_id, &query)
        .await
        .map(Json)
}
