//! An app that embeds Keel and adds its own functions: private notes per user.
//!
//! `cargo run -p keel-example-notes -- dev` starts it exactly like `keel dev`, with
//! `notes:add` and `notes:list` beside the built-in users and chats.

use std::sync::Arc;

use keel::functions::{
    Doc, FnError, FnResult, Id, MutationCtx, NoArgs, Order, QueryCtx, Registry, TS, TableDocument,
    UserIdentity, authenticated,
};
use keel::store::{Schema, TableDef};
use serde::Deserialize;
use serde_json::json;

/// A note, as `notes:add` writes it (and `keel codegen` types it: `Doc<"notes">`).
#[derive(TS)]
#[allow(dead_code)]
pub struct NoteDoc {
    /// The author's Clerk user id.
    owner: String,
    text: String,
}

impl TableDocument for NoteDoc {
    const TABLE: &'static str = "notes";
}

/// The example's own table.
pub fn schema() -> Schema {
    Schema::new().table(
        TableDef::new("notes")
            .document::<NoteDoc>()
            .index("by_owner", &["owner"]),
    )
}

/// The example's own functions.
pub fn functions() -> Registry {
    let mut registry = Registry::new();
    registry
        .mutation("notes:add", authenticated(add))
        .query("notes:list", authenticated(list));
    registry
}

/// The built-in app with the notes beside it: what `main` serves.
pub fn app() -> keel::AppParts {
    keel::AppParts::builtin().with(schema(), functions())
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields)]
struct AddArgs {
    text: String,
}

async fn add(ctx: MutationCtx, me: Arc<UserIdentity>, args: AddArgs) -> FnResult<Id<NoteDoc>> {
    if args.text.trim().is_empty() {
        return Err(FnError::invalid_argument("`text` must not be empty"));
    }
    // `ctx.log` lines reach the caller's console (`[CONVEX M(notes:add)] [INFO] …`) and
    // Keel's log, as `console.log` in a Convex function does.
    ctx.log.info(format_args!(
        "added a note of {} characters",
        args.text.chars().count()
    ));
    let id = ctx
        .db
        .insert("notes", json!({ "owner": me.subject, "text": args.text }))
        .await?;
    Ok(Id::from(id.encode()))
}

async fn list(ctx: QueryCtx, me: Arc<UserIdentity>, _: NoArgs) -> FnResult<Vec<Doc<NoteDoc>>> {
    let notes = ctx
        .db
        .query("notes")
        .with_index("by_owner", |r| r.eq("owner", me.subject.as_str()))
        .order(Order::Desc)
        .collect()
        .await?;
    ctx.log.log(format_args!("{} notes", notes.len()));
    Ok(notes.into_iter().map(Doc::new).collect())
}
