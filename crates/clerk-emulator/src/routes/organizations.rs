//! `/v1/organizations`: Clerk's organization endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::SecretKey;
use crate::emulator::Emulator;
use crate::error::EmulatorError;
use crate::extract::{ClerkJson, ClerkQuery};
use crate::org_list::ListOrganizations;
use crate::organization_input::{CreateOrganization, UpdateOrganization};

type Reply = Result<Json<Value>, EmulatorError>;

/// Query of `GET /v1/organizations/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GetQuery {
    include_members_count: Option<bool>,
}

/// `POST /v1/organizations`
pub(super) async fn create(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    ClerkJson(req): ClerkJson<CreateOrganization>,
) -> Reply {
    emulator.create_organization(req).await.map(Json)
}

/// `GET /v1/organizations`: `{data, total_count}`.
pub(super) async fn list(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    ClerkQuery(query): ClerkQuery<ListOrganizations>,
) -> Reply {
    emulator.list_organizations(&query).await.map(Json)
}

/// `GET /v1/organizations/{organization_id}` (an id or a slug)
pub(super) async fn get(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(organization_id): Path<String>,
    ClerkQuery(query): ClerkQuery<GetQuery>,
) -> Reply {
    let include = query.include_members_count.unwrap_or(false);
    emulator
        .get_organization(&organization_id, include)
        .await
        .map(Json)
}

/// `PATCH /v1/organizations/{organization_id}`
pub(super) async fn update(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(organization_id): Path<String>,
    ClerkJson(req): ClerkJson<UpdateOrganization>,
) -> Reply {
    emulator
        .update_organization(&organization_id, req)
        .await
        .map(Json)
}

/// `DELETE /v1/organizations/{organization_id}`
pub(super) async fn delete(
    _: SecretKey,
    State(emulator): State<Arc<Emulator>>,
    Path(organization_id): Path<String>,
) -> Reply {
    emulator
        .delete_organization(&organization_id)
        .await
        .map(Json)
}
