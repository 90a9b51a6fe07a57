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
}

/// Convex's page shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaginationResult {
    pub page: Vec<Document>,
    pub is_done: bool,
    pub continue_cursor: String,
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

    pub async fn paginate(self, opts: PaginationOpts) -> Result<PaginationResult> {
        if opts.num_items == 0 || opts.num_items > MAX_PAGE_ITEMS {
            return Err(StoreError::InvalidArgument(format!(
                "paginationOpts.numItems must be between 1 and {MAX_PAGE_ITEMS}"
            )));
        }
        let after = opts.cursor.as_deref().map(decode_cursor).transpose()?;
        let mut rows = self.run_keyed(Some(opts.num_items + 1), after).await?;
        let is_done = rows.len() <= opts.num_items;
        rows.truncate(opts.num_items);
        let continue_cursor = match rows.last() {
            Some((key, _)) => encode_cursor(key),
            None => opts.cursor.unwrap_or_else(|| encode_cursor(&[])),
        };
        Ok(PaginationResult {
            page: rows.into_iter().map(|(_, doc)| doc).collect(),
            is_done,
            continue_cursor,
        })
    }

    async fn run(self, limit: Option<usize>, after: Option<Vec<u8>>) -> Result<Vec<Document>> {
        Ok(self
            .run_keyed(limit, after)
            .await?
            .into_iter()
            .map(|(_, doc)| doc)
            .collect())
    }

    async fn run_keyed(
        self,
        limit: Option<usize>,
        after: Option<Vec<u8>>,
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

fn encode_cursor(key: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

fn decode_cursor(cursor: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(cursor).map_err(|_| {
        StoreError::InvalidArgument("paginationOpts.cursor is not a valid cursor".into())
    })
}
