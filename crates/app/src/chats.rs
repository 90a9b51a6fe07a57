//! `chats`: each user's private chats. Another user's chat behaves exactly like a missing one
//! (`NOT_FOUND`), so ids leak nothing.

use std::sync::Arc;

use keel_functions::{
    Document, DocumentId, FnError, FnResult, MutationCtx, Order, PaginationOpts, QueryCtx, Reader,
    Registry, UserIdentity, authenticated,
};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::time::now_millis;

const MAX_TITLE_CHARS: usize = 200;

pub(crate) fn register(registry: &mut Registry) {
    registry
        .query("chats:listUserChats", authenticated(list_user_chats))
        .query("chats:get", authenticated(get))
        .mutation("chats:createUserChat", authenticated(create_user_chat))
        .mutation("chats:update", authenticated(update))
        .mutation("chats:remove", authenticated(remove));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListArgs {
    #[serde(default)]
    pagination_opts: Option<PaginationOpts>,
}

/// The caller's chats, newest first: the whole list, or a Convex page with `paginationOpts`.
async fn list_user_chats(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    args: ListArgs,
) -> FnResult<Json> {
    let query = ctx
        .db
        .query("chats")
        .with_index("by_user_created", |r| {
            r.eq("userId", identity.subject.as_str())
        })
        .order(Order::Desc);
    Ok(match args.pagination_opts {
        Some(opts) => json!(query.paginate(opts).await?),
        None => json!(query.collect().await?),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    id: String,
}

async fn get(ctx: QueryCtx, identity: Arc<UserIdentity>, args: IdArgs) -> FnResult<Document> {
    owned_chat(&ctx.db, &identity, &args.id)
        .await
        .map(|(_, chat)| chat)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateArgs {
    title: String,
}

async fn create_user_chat(
    ctx: MutationCtx,
    identity: Arc<UserIdentity>,
    args: CreateArgs,
) -> FnResult<String> {
    let title = valid_title(&args.title)?;
    let now = now_millis();
    let id = ctx
        .db
        .insert(
            "chats",
            json!({ "userId": identity.subject, "title": title, "createdAt": now, "updatedAt": now }),
        )
        .await?;
    Ok(id.encode())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateArgs {
    id: String,
    title: String,
}

async fn update(ctx: MutationCtx, identity: Arc<UserIdentity>, args: UpdateArgs) -> FnResult<()> {
    let title = valid_title(&args.title)?;
    let (id, _) = owned_chat(&ctx.db, &identity, &args.id).await?;
    ctx.db
        .patch(id, json!({ "title": title, "updatedAt": now_millis() }))
        .await?;
    Ok(())
}

async fn remove(ctx: MutationCtx, identity: Arc<UserIdentity>, args: IdArgs) -> FnResult<()> {
    let (id, _) = owned_chat(&ctx.db, &identity, &args.id).await?;
    ctx.db.delete(id).await?;
    Ok(())
}

/// The chat if it exists and belongs to the caller; `NOT_FOUND` in every other case (a
/// malformed id, another table's id, another user's chat).
async fn owned_chat(
    db: &Reader,
    identity: &UserIdentity,
    id: &str,
) -> FnResult<(DocumentId, Document)> {
    let not_found = || FnError::not_found(format!("Chat with ID {id} not found"));
    let doc_id = db.normalize_id("chats", id).ok_or_else(not_found)?;
    match db.get(doc_id).await? {
        Some(chat) if chat.get_str("userId") == Some(identity.subject.as_str()) => {
            Ok((doc_id, chat))
        }
        _ => Err(not_found()),
    }
}

fn valid_title(title: &str) -> FnResult<&str> {
    let title = title.trim();
    if title.is_empty() {
        return Err(FnError::invalid_argument("`title` must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(FnError::invalid_argument(format!(
            "`title` must be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title)
}
