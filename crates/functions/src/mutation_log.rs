//! The durable record of answered mutations, so a mutation re-sent after a reconnect (or a
//! server restart) is answered, not re-run.
//!
//! A record answers a re-sent mutation only when everything that made it the same request
//! matches: the session and request ids the client chose, the caller's identity (issuer and
//! subject, which a refreshed token keeps) and the function. Session ids travel in the clear
//! over the sync protocol and request ids count up from 0, so anyone who learns a session id
//! could otherwise collect its owner's answers, or answer the owner's next request in advance.
//! A mismatch is simply another request: it runs, as its caller, and gets its own record.

use std::time::Duration;

use keel_auth::UserIdentity;
use keel_store::{Database, Order, Schema, TableDef, Writer};
use serde_json::{Value as Json, json};

use crate::FnResult;

pub const TABLE: &str = "_mutation_results";

/// Keel's own tables, merged into every app's schema.
pub fn system_schema() -> Schema {
    Schema::new().table(TableDef::system(TABLE).index(
        "by_request",
        &["sessionId", "requestId", "issuer", "subject", "path"],
    ))
}

/// What makes a re-sent mutation the same one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestKey {
    pub session_id: String,
    pub request_id: u64,
    /// `None` when signed out.
    pub caller: Option<(String, String)>,
    /// Canonical.
    pub path: String,
}

impl RequestKey {
    pub fn new(
        session_id: &str,
        request_id: u64,
        identity: Option<&UserIdentity>,
        path: &str,
    ) -> Self {
        RequestKey {
            session_id: session_id.to_string(),
            request_id,
            caller: identity.map(|id| (id.issuer.clone(), id.subject.clone())),
            path: path.to_string(),
        }
    }

    /// The stored fields. The request id is kept as decimal text: every u64 exactly (a JSON
    /// number would become a float64 and merge ids from 2^53 on).
    fn fields(&self) -> [(&'static str, Json); 5] {
        let (issuer, subject) = match &self.caller {
            Some((issuer, subject)) => (json!(issuer), json!(subject)),
            None => (Json::Null, Json::Null),
        };
        [
            ("sessionId", json!(self.session_id)),
            ("requestId", json!(self.request_id.to_string())),
            ("issuer", issuer),
            ("subject", subject),
            ("path", json!(self.path)),
        ]
    }
}

pub(crate) async fn find(db: &Writer, key: &RequestKey) -> FnResult<Option<Json>> {
    let found = db
        .system()
        .query(TABLE)
        .with_index("by_request", |mut range| {
            for (field, value) in key.fields() {
                range = range.eq(field, value);
            }
            range
        })
        .first()
        .await?;
    Ok(found.and_then(|doc| doc.get("result").cloned()))
}

pub(crate) async fn record(db: &Writer, key: &RequestKey, result: &Json) -> FnResult<()> {
    let mut doc: serde_json::Map<String, Json> = key
        .fields()
        .into_iter()
        .map(|(field, value)| (field.to_string(), value))
        .collect();
    doc.insert("result".into(), result.clone());
    db.system().insert(TABLE, doc).await?;
    Ok(())
}

const PRUNE_BATCH: usize = 500;

pub(crate) async fn prune(db: &Database, retention: Duration) -> FnResult<usize> {
    let cutoff = db
        .runtime()
        .now()
        .checked_sub(retention)
        .map_or(0.0, |t| keel_runtime::unix_millis(t) as f64);
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
