//! `webhooks:recent`: the Clerk webhook deliveries Keel received, newest first, for admins.
//! Processed deliveries come from the ledger (`clerkEvents`); duplicates and rejected ones
//! from the bounded `clerkWebhookIssues` (see `clerk_sync.rs`). Both are read by index, and
//! the two tables merge into one page by arrival (`_creationTime`).

use std::sync::Arc;

use keel_functions::{
    Document, FnResult, Order, PaginationOpts, PaginationResult, QueryCtx, Registry, TS,
    UserIdentity, typescript, with_role,
};
use keel_store::BY_CREATION_TIME;
use serde::{Deserialize, Serialize};

use crate::clerk_sync::{ISSUES, LEDGER};

pub(crate) fn register(registry: &mut Registry) {
    registry.query("webhooks:recent", with_role("admin", recent));
}

/// A delivery's outcome, as `webhooks:recent` filters by it.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryOutcome {
    /// Applied to the synced tables.
    Applied,
    /// Older than what is stored, or about a deleted object.
    Stale,
    /// A session event for a user not known yet.
    Deferred,
    /// A type Keel does not act on.
    Ignored,
    /// The stored record already held exactly this version (backfill).
    Unchanged,
    /// A `svix-id` processed before (a redelivery).
    Duplicate,
    /// Refused by the endpoint (signature, timestamp, malformed or unprocessable payload).
    Rejected,
}

impl DeliveryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Applied => "applied",
            DeliveryOutcome::Stale => "stale",
            DeliveryOutcome::Deferred => "deferred",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Unchanged => "unchanged",
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::Rejected => "rejected",
        }
    }

    /// The table that records this outcome.
    fn table(self) -> &'static str {
        match self {
            DeliveryOutcome::Applied
            | DeliveryOutcome::Stale
            | DeliveryOutcome::Deferred
            | DeliveryOutcome::Ignored
            | DeliveryOutcome::Unchanged => LEDGER,
            DeliveryOutcome::Duplicate | DeliveryOutcome::Rejected => ISSUES,
        }
    }
}

/// `webhooks:recent` arguments.
#[derive(Deserialize, Serialize, Debug, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[ts(optional_fields = nullable)]
pub struct RecentWebhooksArgs {
    /// Only deliveries with this outcome (all when absent).
    #[serde(default)]
    pub outcome: Option<DeliveryOutcome>,
    pub pagination_opts: PaginationOpts,
}

/// A row of either table: the ledger's (processed) or the issues' (duplicate, rejected).
#[derive(Serialize)]
#[serde(transparent)]
pub struct Delivery(Document);

typescript!(Delivery => r#"Doc<"clerkEvents"> | Doc<"clerkWebhookIssues">"#);

/// Deliveries newest first, in Convex's page shape. Each is a stored document: a ledger row
/// (`svixId`, `type`, `objectId`, `eventTime`, `updatedAt`, `receivedAt`, `processedAt`,
/// `outcome`) or an issue row (`svixId`, `type`, `objectId` for a duplicate, `reason`,
/// `httpStatus` and `unrecordedBefore` for a rejection, `receivedAt`, `outcome`).
async fn recent(
    ctx: QueryCtx,
    _: Arc<UserIdentity>,
    args: RecentWebhooksArgs,
) -> FnResult<PaginationResult<Delivery>> {
    let union = match args.outcome {
        None => ctx.db.union().range(LEDGER, BY_CREATION_TIME, |r| r).range(
            ISSUES,
            BY_CREATION_TIME,
            |r| r,
        ),
        Some(outcome) => ctx
            .db
            .union()
            .range(outcome.table(), "by_outcome", move |r| {
                r.eq("outcome", outcome.as_str())
            }),
    };
    Ok(union
        .order(Order::Desc)
        .paginate(args.pagination_opts)
        .await?
        .map(Delivery))
}
