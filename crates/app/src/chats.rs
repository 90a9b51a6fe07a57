//! `chats`: each user's private chats. Another user's chat behaves exactly like a missing one
//! (`NOT_FOUND`), so ids leak nothing.

use std::sync::Arc;

use keel_functions::{
    Doc, Document, DocumentId, FnError, FnResult, Id, MutationCtx, Order, PaginationOpts,
    PaginationResult, QueryCtx, Reader, Registry, TS, UserIdentity, authenticated,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::documents::ChatDoc;

const MAX_TITLE_CHARS: usize = 200;

pub(crate) fn register(registry: &mut Registry) {
    registry
        .query("chats:listUserChats", authenticated(list_user_chats))
        .query("chats:pageUserChats", authenticated(page_user_chats))
        .query("chats:get", authenticated(get))
        .mutation("chats:createUserChat", authenticated(create_user_chat))
        .mutation("chats:update", authenticated(update))
        .mutation("chats:remove", authenticated(remove));
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[ts(optional_fields = nullable)]
struct ListArgs {
    #[serde(default)]
    pagination_opts: Option<PaginationOpts>,
}

/// `chats:listUserChats` answers in the shape it was asked for: the product brief calls it
/// without arguments for the whole list; `usePaginatedQuery` passes `paginationOpts`.
#[derive(Serialize, TS)]
#[serde(untagged)]
#[ts(rename = "UserChats")]
enum UserChats {
    All(Vec<Doc<ChatDoc>>),
    Page(PaginationResult<Doc<ChatDoc>>),
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PageArgs {
    pagination_opts: PaginationOpts,
}

/// The caller's chats, newest first: the whole list, or a Convex page with `paginationOpts`.
async fn list_user_chats(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    args: ListArgs,
) -> FnResult<UserChats> {
    let query = ctx
        .db
        .query("chats")
        .with_index("by_user_created", |r| {
            r.eq("userId", identity.subject.as_str())
        })
        .order(Order::Desc);
    Ok(match args.pagination_opts {
        Some(opts) => UserChats::Page(query.paginate(opts).await?.map(Doc::new)),
        None => UserChats::All(query.collect().await?.into_iter().map(Doc::new).collect()),
    })
}

/// The same list, always in pages: the typed form `usePaginatedQuery` takes.
async fn page_user_chats(
    ctx: QueryCtx,
    identity: Arc<UserIdentity>,
    args: PageArgs,
) -> FnResult<PaginationResult<Doc<ChatDoc>>> {
    let page = ctx
        .db
        .query("chats")
        .with_index("by_user_created", |r| {
            r.eq("userId", identity.subject.as_str())
        })
        .order(Order::Desc)
        .paginate(args.pagination_opts)
        .await?;
    Ok(page.map(Doc::new))
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    id: Id<ChatDoc>,
}

async fn get(ctx: QueryCtx, identity: Arc<UserIdentity>, args: IdArgs) -> FnResult<Doc<ChatDoc>> {
    owned_chat(&ctx.db, &identity, args.id.as_str())
        .await
        .map(|(_, chat)| Doc::new(chat))
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields)]
struct CreateArgs {
    title: String,
}

async fn create_user_chat(
    ctx: MutationCtx,
    identity: Arc<UserIdentity>,
    args: CreateArgs,
) -> FnResult<Id<ChatDoc>> {
    let title = valid_title(&args.title)?;
    let now = ctx.db.now_millis();
    let id = ctx
        .db
        .insert(
            "chats",
            json!({ "userId": identity.subject, "title": title, "createdAt": now, "updatedAt": now }),
        )
        .await?;
    Ok(Id::from(id.encode()))
}

#[derive(Deserialize, TS)]
#[serde(deny_unknown_fields)]
struct UpdateArgs {
    id: Id<ChatDoc>,
    title: String,
}

async fn update(ctx: MutationCtx, identity: Arc<UserIdentity>, args: UpdateArgs) -> FnResult<()> {
    let title = valid_title(&args.title)?;
    let (id, _) = owned_chat(&ctx.db, &identity, args.id.as_str()).await?;
    ctx.db
        .patch(
            id,
            json!({ "title": title, "updatedAt": ctx.db.now_millis() }),
        )
        .await?;
    Ok(())
}

async fn remove(ctx: MutationCtx, identity: Arc<UserIdentity>, args: IdArgs) -> FnResult<()> {
    let (id, _) = owned_chat(&ctx.db, &identity, args.id.as_str()).await?;
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
