//! Index queries: `db.query("chats").with_index("by_user", |r| r.eq("userId", id)).order(Desc)`,
//! then `collect`, `first`, `unique`, `take` or `paginate`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::document::Document;
use crate::range::{IndexRange, key_after};
use crate::schema::BY_CREATION_TIME;
use crate::tx::Reader;
use crate::{KeyRange, Result, StoreError};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// Convex's `paginationOpts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaginationOpts {
    pub num_items: usize,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Where the page ends (inclusive), instead of `numItems`: reactive clients pin a page's
    /// end so it grows or shrinks in place rather than shifting into the next page.
    #[serde(default)]
    pub end_cursor: Option<String>,
    /// Accepted for compatibility; Keel bounds pages by `numItems`.
    #[serde(default)]
    pub maximum_rows_read: Option<usize>,
    /// The client's page id (`usePaginatedQuery`); not used by the server.
    #[serde(default)]
    pub id: Option<serde_json::Value>,
}

impl PaginationOpts {
    pub fn first(num_items: usize) -> Self {
        PaginationOpts {
            num_items,
            cursor: None,
            end_cursor: None,
            maximum_rows_read: None,
            id: None,
        }
    }
}

/// The cursor of the end of a query's results.
pub const END_CURSOR: &str = "_end";

/// Convex's page shape: documents, or (after [`PaginationResult::map`]) what a function made of
/// them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaginationResult<T = Document> {
    pub page: Vec<T>,
    pub is_done: bool,
    pub continue_cursor: String,
}

impl<T> PaginationResult<T> {
    /// The same page with each item turned into something else (a typed document, a view).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PaginationResult<U> {
        PaginationResult {
            page: self.page.into_iter().map(f).collect(),
            is_done: self.is_done,
            continue_cursor: self.continue_cursor,
        }
    }
}

/// The most documents one page may ask for.
pub const MAX_PAGE_ITEMS: usize = 8192;

type Filter = Arc<dyn Fn(&Document) -> bool + Send + Sync>;

pub struct Query {
    reader: Reader,
    table: String,
    index: String,
    range: IndexRange,
    order: Order,
    filter: Option<Filter>,
}

/// How many index entries a filtered query reads per round trip.
const FILTER_BATCH: usize = 256;

impl Query {
    pub(crate) fn new(reader: Reader, table: &str) -> Self {
        Query {
            reader,
            table: table.to_string(),
            index: BY_CREATION_TIME.to_string(),
            range: IndexRange::default(),
            order: Order::Asc,
            filter: None,
        }
    }

    /// Keeps only documents `keep` accepts. The index range is still what is read (and what
    /// invalidates a live query), so narrow it with `with_index` first.
    pub fn filter(mut self, keep: impl Fn(&Document) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(Arc::new(keep));
        self
    }

    pub fn with_index(mut self, index: &str, range: impl FnOnce(IndexRange) -> IndexRange) -> Self {
        self.index = index.to_string();
        self.range = range(IndexRange::default());
        self
    }

    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    pub async fn collect(self) -> Result<Vec<Document>> {
        self.run(None, None).await
    }

    pub async fn take(self, n: usize) -> Result<Vec<Document>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        self.run(Some(n), None).await
    }

    pub async fn first(self) -> Result<Option<Document>> {
        Ok(self.take(1).await?.into_iter().next())
    }

    /// The only matching document, `None` when there is none, an error when there are more.
    pub async fn unique(self) -> Result<Option<Document>> {
        let description = format!("{}.{}", self.table, self.index);
        let mut docs = self.take(2).await?;
        if docs.len() > 1 {
            return Err(StoreError::InvalidArgument(format!(
                "unique() query on {description} returned more than one document"
            )));
        }
        Ok(docs.pop())
    }

    /// How many documents the index range holds, counting no further than `limit` (a count
    /// that reaches it means "at least `limit`"). Only index keys are read; a `filter` cannot
    /// be counted that way and is refused.
    pub async fn count(self, limit: usize) -> Result<usize> {
        if self.filter.is_some() {
            return Err(StoreError::InvalidArgument(
                "count() reads index keys only and cannot apply filter()".into(),
            ));
        }
        let table = self.reader.table(&self.table)?;
        let index = table.index(&self.index)?;
        let range = self.range.to_key_range(index)?;
        self.reader.count(index.number, range, limit).await
    }

    pub async fn paginate(self, opts: PaginationOpts) -> Result<PaginationResult> {
        if opts.num_items == 0 || opts.num_items > MAX_PAGE_ITEMS {
            return Err(StoreError::InvalidArgument(format!(
                "paginationOpts.numItems must be between 1 and {MAX_PAGE_ITEMS}"
            )));
        }
        let reader = self.reader.clone();
        let done = |page: Vec<(Vec<u8>, Document)>| PaginationResult {
            page: page.into_iter().map(|(_, doc)| doc).collect(),
            is_done: true,
            continue_cursor: END_CURSOR.to_string(),
        };
        if opts.cursor.as_deref() == Some(END_CURSOR) {
            return Ok(done(Vec::new()));
        }
        let after = opts.cursor.as_deref().map(decode_cursor).transpose()?;
        // A live query re-runs a page with the end it had the first time (its journal).
        let journaled = reader.next_journaled_end_cursor();
        let end_cursor = opts.end_cursor.clone().or(journaled);
        let result = match end_cursor.as_deref() {
            Some(END_CURSOR) => done(self.run_keyed(None, after, None).await?),
            Some(end) => {
                let until = decode_cursor(end)?;
                let rows = self.run_keyed(None, after, Some(until)).await?;
                PaginationResult {
                    page: rows.into_iter().map(|(_, doc)| doc).collect(),
                    is_done: false,
                    continue_cursor: end.to_string(),
                }
            }
            None => {
                let mut rows = self
                    .run_keyed(Some(opts.num_items + 1), after, None)
                    .await?;
                if rows.len() <= opts.num_items {
                    done(rows)
                } else {
                    rows.truncate(opts.num_items);
                    let last = rows
                        .last()
                        .map(|(key, _)| encode_cursor(key))
                        .unwrap_or_default();
                    PaginationResult {
                        page: rows.into_iter().map(|(_, doc)| doc).collect(),
                        is_done: false,
                        continue_cursor: last,
                    }
                }
            }
        };
        reader.record_journal_end(&result.continue_cursor);
        Ok(result)
    }

    async fn run(self, limit: Option<usize>, after: Option<Vec<u8>>) -> Result<Vec<Document>> {
        Ok(self
            .run_keyed(limit, after, None)
            .await?
            .into_iter()
            .map(|(_, doc)| doc)
            .collect())
    }

    /// Entries strictly past `after` and up to `until` (inclusive), in scan order.
    async fn run_keyed(
        self,
        limit: Option<usize>,
        after: Option<Vec<u8>>,
        until: Option<Vec<u8>>,
    ) -> Result<Vec<(Vec<u8>, Document)>> {
        let table = self.reader.table(&self.table)?;
        let index = table.index(&self.index)?;
        let mut range: KeyRange = self.range.to_key_range(index)?;
        if let Some(cursor) = after {
            // Continue strictly past the cursor, in the direction of the scan.
            match self.order {
                Order::Asc => range.start = range.start.max(key_after(&cursor)),
                Order::Desc => {
                    range.end = Some(match range.end {
                        Some(end) => end.min(cursor),
                        None => cursor,
                    })
                }
            }
        }
        if let Some(until) = until {
            match self.order {
                Order::Asc => {
                    let end = key_after(&until);
                    range.end = Some(match range.end {
                        Some(current) => current.min(end),
                        None => end,
                    });
                }
                Order::Desc => range.start = range.start.max(until),
            }
        }
        let number = index.number;
        let Some(keep) = self.filter else {
            return self.reader.scan(number, range, self.order, limit).await;
        };
        // Filtered: read batches until `limit` documents pass or the range ends.
        let mut kept = Vec::new();
        loop {
            let batch = self
                .reader
                .scan(number, range.clone(), self.order, Some(FILTER_BATCH))
                .await?;
            let exhausted = batch.len() < FILTER_BATCH;
            let last_key = batch.last().map(|(key, _)| key.clone());
            for (key, doc) in batch {
                if keep(&doc) {
                    kept.push((key, doc));
                    if limit.is_some_and(|n| kept.len() >= n) {
                        return Ok(kept);
                    }
                }
            }
            match (exhausted, last_key) {
                (false, Some(last)) => match self.order {
                    Order::Asc => range.start = key_after(&last),
                    Order::Desc => range.end = Some(last),
                },
                _ => return Ok(kept),
            }
        }
    }
}

pub(crate) fn encode_cursor(key: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(cursor).map_err(|_| {
        StoreError::InvalidArgument("paginationOpts.cursor is not a valid cursor".into())
    })
}
