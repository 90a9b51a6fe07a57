//! The durable record of answered mutations, keyed by the client's `(sessionId, requestId)`,
//! so a mutation re-sent after a reconnect (or a server restart) is answered, not re-run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keel_store::{Database, Order, Schema, TableDef, Writer};
use serde_json::{Value as Json, json};

use crate::FnResult;

pub const TABLE: &str = "_mutation_results";

/// Keel's own tables, merged into every app's schema.
pub fn system_schema() -> Schema {
    Schema::new().table(TableDef::system(TABLE).index("by_request", &["sessionId", "requestId"]))
}

pub(crate) async fn find(db: &Writer, session_id: &str, request_id: u64) -> FnResult<Option<Json>> {
    let found = db
        .system()
        .query(TABLE)
        .with_index("by_request", |r| {
            r.eq("sessionId", session_id)
                .eq("requestId", request_id as f64)
        })
        .first()
        .await?;
    Ok(found.and_then(|doc| doc.get("result").cloned()))
}

pub(crate) async fn record(
    db: &Writer,
    session_id: &str,
    request_id: u64,
    result: &Json,
) -> FnResult<()> {
    db.system()
        .insert(
            TABLE,
            json!({ "sessionId": session_id, "requestId": request_id as f64, "result": result }),
        )
        .await?;
    Ok(())
}

const PRUNE_BATCH: usize = 500;

pub(crate) async fn prune(db: &Database, retention: Duration) -> FnResult<usize> {
    let cutoff = SystemTime::now()
        .checked_sub(retention)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as f64)
        .unwrap_or_default();
    let mut removed = 0;
    loop {
        let tx = db.writer().await?.system();
        let old = tx
            .query(TABLE)
            .with_index(keel_store::BY_CREATION_TIME, |r| {
                r.lt("_creationTime", cutoff)
            })
            .order(Order::Asc)
            .take(PRUNE_BATCH)
            .await?;
        for doc in &old {
            tx.delete(doc.id()).await?;
        }
        tx.commit().await?;
        removed += old.len();
        if old.len() < PRUNE_BATCH {
            return Ok(removed);
        }
    }
}
