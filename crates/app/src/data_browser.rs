//! The admin data browser: `data:tables`, `data:page`, `data:get`. Read-only.
//!
//! Every table the app declares is listed, the webhook ledger (`clerkEvents`) and its bounded
//! companion (`clerkWebhookIssues`) included: they are app tables, and the browser never
//! writes. Keel's system tables (`_mutation_results`, the mutation log: other callers' answers)
//! are invisible to function code and are left out; `data:page` on one is an unknown table.

use std::sync::Arc;

use keel_functions::{
    Document, DocumentId, FnError, FnResult, NoArgs, Order, PaginationOpts, PaginationResult,
    QueryCtx, Registry, TS, UserIdentity, with_role,
};
use serde::{Deserialize, Serialize};

pub(crate) fn register(registry: &mut Registry) {
    registry
        .query("data:tables", with_role("admin", tables))
        .query("data:page", with_role("admin", page))
        .query("data:get", with_role("admin", get));
}

/// Counting stops here: beyond it a table shows "at least 10,000". A count reads index keys
/// only (no document), a few µs per thousand, and `data:tables` counts every table.
pub const COUNT_CAP: usize = 10_000;

/// One table in `data:tables`.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "camelCase")]
pub struct TableSummary {
    pub name: String,
    /// Documents in the table, counted up to [`COUNT_CAP`].
    pub count: usize,
    /// Whether the table holds at least `count` documents (the count stopped at the cap).
    pub at_least: bool,
}

/// Every table, by name, with its document count.
async fn tables(ctx: QueryCtx, _: Arc<UserIdentity>, _: NoArgs) -> FnResult<Vec<TableSummary>> {
    let mut summaries = Vec::new();
    for name in ctx.db.table_names() {
        let counted = ctx.db.query(&name).count(COUNT_CAP + 1).await?;
        summaries.push(TableSummary {
            name,
            count: counted.min(COUNT_CAP),
            at_least: counted > COUNT_CAP,
        });
    }
    Ok(summaries)
}

/// `data:page` arguments.
#[derive(Deserialize, Serialize, Debug, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataPageArgs {
    pub table: String,
    pub pagination_opts: PaginationOpts,
}

/// A table's documents, newest first (by `_creationTime`).
async fn page(
    ctx: QueryCtx,
    _: Arc<UserIdentity>,
    args: DataPageArgs,
) -> FnResult<PaginationResult> {
    let names = ctx.db.table_names();
    if !names.contains(&args.table) {
        return Err(FnError::invalid_argument(format!(
            "Unknown table `{}`; the tables are: {}",
            args.table,
            names.join(", ")
        )));
    }
    Ok(ctx
        .db
        .query(&args.table)
        .order(Order::Desc)
        .paginate(args.pagination_opts)
        .await?)
}

/// `data:get` arguments.
#[derive(Deserialize, Serialize, Debug, TS)]
#[serde(deny_unknown_fields)]
pub struct DataGetArgs {
    pub id: String,
}

/// The document with this id, whatever its table; `null` when there is none. An id that is not
/// a document id at all is `INVALID_ARGUMENT`.
async fn get(ctx: QueryCtx, _: Arc<UserIdentity>, args: DataGetArgs) -> FnResult<Option<Document>> {
    let id = DocumentId::parse(args.id.trim())
        .map_err(|_| FnError::invalid_argument("`id` is not a document id"))?;
    Ok(ctx.db.get(id).await?)
}
