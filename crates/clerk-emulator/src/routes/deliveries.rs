//! `GET /v1/webhook_deliveries`: the emulator's own debug route (Clerk has
//! none), so tests and developers can see what was delivered and wait until
//! nothing is pending.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::auth::SecretKey;
use crate::emulator::Emulator;

/// `{data:[{message_id, event_type, status, attempts, sends, last_status,
/// last_error, faults}…], total_count}`, in change order.
pub(super) async fn list(_: SecretKey, State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    let records = emulator.delivery_log();
    Json(json!({ "total_count": records.len(), "data": records }))
}
