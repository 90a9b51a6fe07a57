//! A union of index ranges read as one ordered stream, with one cursor:
//!
//! ```text
//! db.union()
//!     .range("users", "by_status_email", |r| r.eq("status", "active").prefix("email", "ada"))
//!     .range("users", "by_status_name", |r| r.eq("status", "active").prefix("nameLower", "ada"))
//!     .paginate(opts)
//! ```
//!
//! - **Order.** Each entry is placed by its key *past its range's `eq` values* (its suffix:
//!   the next field's value, then `_creationTime` and the id), then by the range's position
//!   in the union. Ranges whose suffixes hold the same kind of value (a lower-cased name and a
//!   lower-cased email; `_creationTime` alone) therefore merge into one meaningful order: by
//!   that value, or newest first with [`Order::Desc`].
//! - **Each document once.** A document in several ranges (a user whose name and email both
//!   start with the search) is returned at its first position in that order only. Whether an
//!   entry is that first position is decided from the document itself (its key in each other
//!   range of its table), so no page needs to know what earlier pages returned.
//! - **Cursors** name a position (a suffix and a range number). The next page continues every
//!   range strictly past it, so pages never overlap or skip, and a pinned end (a live query's
//!   journal) bounds every range the same way.
//! - **A read budget** (`max_reads`, or the client's `paginationOpts.maximumRowsRead`) bounds
//!   the index entries one call reads when a filter or duplicates discard many: the page then
//!   comes back short with `isDone: false` and a cursor past what was read, as Convex's own
//!   filtered pages do.

use std::collections::VecDeque;
use std::sync::Arc;

use keel_values::TableNumber;

use crate::document::Document;
use crate::engine::{IndexNumber, RangeScan};
use crate::query::{
    END_CURSOR, MAX_PAGE_ITEMS, Order, PaginationOpts, PaginationResult, decode_cursor,
    encode_cursor,
};
use crate::range::{IndexRange, key_after};
use crate::tx::{Reader, index_key_of};
use crate::{KeyRange, Result, StoreError};

/// The most ranges one union may hold (a cursor names its range in one byte).
pub const MAX_UNION_RANGES: usize = 16;

/// How many entries one scan of a range reads at most.
const MAX_BATCH: usize = 256;

type Filter = Arc<dyn Fn(&Document) -> bool + Send + Sync>;

/// Several index ranges (of one table or several) read as one stream; see the module docs.
pub struct Union {
    reader: Reader,
    ranges: Vec<(String, String, IndexRange)>,
    order: Order,
    filter: Option<Filter>,
    max_reads: Option<usize>,
}

/// Where an entry stands in a union: its key past its range's `eq` values, then the range.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Position {
    suffix: Vec<u8>,
    range: usize,
}

impl Position {
    /// Whether `self` comes before `other` in a scan in `order`.
    fn precedes(&self, other: &Position, order: Order) -> bool {
        let ascending = (&self.suffix, self.range) < (&other.suffix, other.range);
        let equal = self == other;
        match order {
            Order::Asc => ascending,
            Order::Desc => !ascending && !equal,
        }
    }

    fn encode(&self) -> String {
        let mut bytes = self.suffix.clone();
        // Ranges are fewer than 256 (MAX_UNION_RANGES).
        bytes.push(self.range as u8);
        encode_cursor(&bytes)
    }

    fn decode(cursor: &str, ranges: usize) -> Result<Position> {
        let mut bytes = decode_cursor(cursor)?;
        match bytes.pop().map(usize::from) {
            Some(range) if range < ranges => Ok(Position {
                suffix: bytes,
                range,
            }),
            _ => Err(StoreError::InvalidArgument(
                "paginationOpts.cursor is not a valid cursor".into(),
            )),
        }
    }
}

/// One range being read.
struct Stream {
    table: TableNumber,
    index: IndexNumber,
    fields: Vec<Vec<String>>,
    /// The range as declared (for deciding where else a document appears).
    declared: KeyRange,
    /// The `eq` values' bytes every key of the range starts with.
    prefix: Vec<u8>,
    /// What is still to be read.
    remaining: KeyRange,
    buffer: VecDeque<(Vec<u8>, Document)>,
    exhausted: bool,
    /// How many entries the next read takes: doubles with each read of this range.
    batch: usize,
}

impl Stream {
    /// The next batch to read (and the one after it twice as large), or `None` when the
    /// range is used up.
    fn next_scan(&mut self) -> Option<RangeScan> {
        if self.exhausted {
            return None;
        }
        if self.remaining.is_empty() {
            self.exhausted = true;
            return None;
        }
        let limit = self.batch;
        self.batch = (limit * 2).min(MAX_BATCH);
        Some(RangeScan {
            index: self.index,
            range: self.remaining.clone(),
            limit,
        })
    }

    /// Takes in the answer to a scan of `asked` entries that [`Self::next_scan`] gave.
    fn absorb(&mut self, rows: Vec<(Vec<u8>, Document)>, asked: usize, order: Order) {
        if rows.len() < asked {
            self.exhausted = true;
        }
        if let Some((last, _)) = rows.last() {
            match order {
                Order::Asc => self.remaining.start = key_after(last),
                Order::Desc => self.remaining.end = Some(last.clone()),
            }
        }
        self.buffer.extend(rows);
    }

    fn position(&self, key: &[u8], range: usize) -> Position {
        Position {
            suffix: key.get(self.prefix.len()..).unwrap_or_default().to_vec(),
            range,
        }
    }

    /// The key of `position`'s suffix in this range.
    fn key_of(&self, position: &Position) -> Vec<u8> {
        let mut key = self.prefix.clone();
        key.extend_from_slice(&position.suffix);
        key
    }

    fn raise_start(&mut self, start: Vec<u8>) {
        if start > self.remaining.start {
            self.remaining.start = start;
        }
    }

    fn lower_end(&mut self, end: Vec<u8>) {
        if self
            .remaining
            .end
            .as_ref()
            .is_none_or(|current| end < *current)
        {
            self.remaining.end = Some(end);
        }
    }
}

/// What one run of the merge produced.
struct Run {
    /// Documents that passed, with their positions, in order.
    kept: Vec<(Position, Document)>,
    /// The last entry read (kept or not).
    last_read: Option<Position>,
    /// Every range was read to its end.
    drained: bool,
}

impl Union {
    pub(crate) fn new(reader: Reader) -> Self {
        Union {
            reader,
            ranges: Vec::new(),
            order: Order::Asc,
            filter: None,
            max_reads: None,
        }
    }

    /// Adds a range of `index` on `table`, built as in `Query::with_index`.
    pub fn range(
        mut self,
        table: &str,
        index: &str,
        range: impl FnOnce(IndexRange) -> IndexRange,
    ) -> Self {
        self.ranges.push((
            table.to_string(),
            index.to_string(),
            range(IndexRange::default()),
        ));
        self
    }

    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Keeps only documents `keep` accepts (after duplicates are dropped). What is read, and
    /// what invalidates a live query, is still the ranges.
    pub fn filter(mut self, keep: impl Fn(&Document) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(Arc::new(keep));
        self
    }

    /// Reads at most `entries` index entries per `paginate` call (kept or not); see the
    /// module docs.
    pub fn max_reads(mut self, entries: usize) -> Self {
        self.max_reads = Some(entries.max(1));
        self
    }

    pub async fn collect(self) -> Result<Vec<Document>> {
        Ok(self.run(None, None, None, None).await?.documents())
    }

    pub async fn take(self, n: usize) -> Result<Vec<Document>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        Ok(self.run(Some(n), None, None, None).await?.documents())
    }

    /// One page in Convex's shape (see the module docs for cursors and the read budget).
    pub async fn paginate(self, opts: PaginationOpts) -> Result<PaginationResult> {
        if opts.num_items == 0 || opts.num_items > MAX_PAGE_ITEMS {
            return Err(StoreError::InvalidArgument(format!(
                "paginationOpts.numItems must be between 1 and {MAX_PAGE_ITEMS}"
            )));
        }
        let reader = self.reader.clone();
        let ranges = self.ranges.len();
        let done = |kept: Vec<(Position, Document)>| PaginationResult {
            page: kept.into_iter().map(|(_, doc)| doc).collect(),
            is_done: true,
            continue_cursor: END_CURSOR.to_string(),
        };
        if opts.cursor.as_deref() == Some(END_CURSOR) {
            return Ok(done(Vec::new()));
        }
        let after = opts
            .cursor
            .as_deref()
            .map(|c| Position::decode(c, ranges))
            .transpose()?;
        // A live query re-runs a page with the end it had the first time (its journal).
        let journaled = reader.next_journaled_end_cursor();
        let end_cursor = opts.end_cursor.clone().or(journaled);
        let budget = match (self.max_reads, opts.maximum_rows_read) {
            (Some(a), Some(b)) => Some(a.min(b.max(1))),
            (a, b) => a.or(b.map(|b| b.max(1))),
        };
        let result = match end_cursor.as_deref() {
            Some(END_CURSOR) => done(self.run(None, after, None, None).await?.kept),
            Some(end) => {
                let until = Position::decode(end, ranges)?;
                let run = self.run(None, after, Some(until), None).await?;
                PaginationResult {
                    page: run.documents(),
                    is_done: false,
                    continue_cursor: end.to_string(),
                }
            }
            None => {
                let want = opts.num_items + 1;
                let mut run = self.run(Some(want), after, None, budget).await?;
                if run.kept.len() == want {
                    run.kept.truncate(opts.num_items);
                    let cursor = run.kept.last().map(|(p, _)| p.encode());
                    PaginationResult {
                        page: run.documents(),
                        is_done: false,
                        continue_cursor: cursor.unwrap_or_default(),
                    }
                } else if run.drained {
                    done(run.kept)
                } else {
                    // The read budget ran out: a short page, continued past what was read.
                    let cursor = run.last_read.as_ref().map(Position::encode);
                    PaginationResult {
                        page: run.documents(),
                        is_done: false,
                        continue_cursor: cursor.unwrap_or_else(|| END_CURSOR.to_string()),
                    }
                }
            }
        };
        reader.record_journal_end(&result.continue_cursor);
        Ok(result)
    }

    fn streams(&self, after: Option<&Position>, until: Option<&Position>) -> Result<Vec<Stream>> {
        if self.ranges.is_empty() || self.ranges.len() > MAX_UNION_RANGES {
            return Err(StoreError::InvalidArgument(format!(
                "a union holds 1 to {MAX_UNION_RANGES} ranges, not {}",
                self.ranges.len()
            )));
        }
        let mut streams = Vec::with_capacity(self.ranges.len());
        for (position, (table, index, range)) in self.ranges.iter().enumerate() {
            let table = self.reader.table(table)?;
            let index = table.index(index)?;
            let (declared, prefix) = range.to_key_range_and_prefix(index)?;
            let mut stream = Stream {
                table: table.number,
                index: index.number,
                fields: index.fields.clone(),
                remaining: declared.clone(),
                declared,
                prefix,
                buffer: VecDeque::new(),
                exhausted: false,
                batch: MAX_BATCH,
            };
            // Entries strictly past `after`, and up to `until` inclusive, in scan order. With
            // equal suffixes, the range number decides (ascending in an ascending scan).
            if let Some(after) = after {
                let key = stream.key_of(after);
                match self.order {
                    Order::Asc if position > after.range => stream.raise_start(key),
                    Order::Asc => stream.raise_start(key_after(&key)),
                    Order::Desc if position < after.range => stream.lower_end(key_after(&key)),
                    Order::Desc => stream.lower_end(key),
                }
            }
            if let Some(until) = until {
                let key = stream.key_of(until);
                match self.order {
                    Order::Asc if position <= until.range => stream.lower_end(key_after(&key)),
                    Order::Asc => stream.lower_end(key),
                    Order::Desc if position >= until.range => stream.raise_start(key),
                    Order::Desc => stream.raise_start(key_after(&key)),
                }
            }
            streams.push(stream);
        }
        Ok(streams)
    }

    /// Merges the ranges until `want` documents are kept, `budget` entries are read, or every
    /// range ends.
    async fn run(
        self,
        want: Option<usize>,
        after: Option<Position>,
        until: Option<Position>,
        budget: Option<usize>,
    ) -> Result<Run> {
        let mut streams = self.streams(after.as_ref(), until.as_ref())?;
        // A page of `want` from n ranges usually takes a share from each: each range's first
        // read takes its share, and a range that supplies more reads on in doubling batches.
        // (Reading `want` from every range read up to n times the page: six ranges of a user
        // search read ~300 documents for 50.)
        if let Some(want) = want {
            let first = want.div_ceil(streams.len()).clamp(8, MAX_BATCH);
            for stream in &mut streams {
                stream.batch = first;
            }
        }
        let mut run = Run {
            kept: Vec::new(),
            last_read: None,
            drained: false,
        };
        // Every range's first batch in one engine call (one round trip on PostgreSQL).
        let first: Vec<(usize, RangeScan)> = streams
            .iter_mut()
            .enumerate()
            .filter_map(|(i, stream)| stream.next_scan().map(|scan| (i, scan)))
            .collect();
        if !first.is_empty() {
            let asked: Vec<(usize, usize)> = first.iter().map(|(i, s)| (*i, s.limit)).collect();
            let scans = first.into_iter().map(|(_, scan)| scan).collect();
            let answers = self.reader.scan_many(scans, self.order).await?;
            for ((i, limit), rows) in asked.into_iter().zip(answers) {
                streams[i].absorb(rows, limit, self.order);
            }
        }
        let mut read = 0usize;
        loop {
            if want.is_some_and(|w| run.kept.len() >= w) || budget.is_some_and(|b| read >= b) {
                return Ok(run);
            }
            for stream in streams.iter_mut() {
                if stream.buffer.is_empty() && !stream.exhausted {
                    self.fill(stream).await?;
                }
            }
            let next = streams
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.buffer.front().map(|(key, _)| s.position(key, i)))
                .reduce(|best, candidate| {
                    if candidate.precedes(&best, self.order) {
                        candidate
                    } else {
                        best
                    }
                });
            let Some(position) = next else {
                run.drained = true;
                return Ok(run);
            };
            let Some((_, doc)) = streams[position.range].buffer.pop_front() else {
                unreachable!("the position came from this buffer's front")
            };
            read += 1;
            run.last_read = Some(position.clone());
            if self.first_position(&streams, &doc, &position)
                && self.filter.as_ref().is_none_or(|keep| keep(&doc))
            {
                run.kept.push((position, doc));
            }
        }
    }

    /// Reads the next batch of a range.
    async fn fill(&self, stream: &mut Stream) -> Result<()> {
        let Some(scan) = stream.next_scan() else {
            return Ok(());
        };
        let rows = self
            .reader
            .scan(scan.index, scan.range, self.order, Some(scan.limit))
            .await?;
        stream.absorb(rows, scan.limit, self.order);
        Ok(())
    }

    /// Whether `position` is the document's first position in the union: no other range of
    /// its table holds it at a position that comes earlier.
    fn first_position(&self, streams: &[Stream], doc: &Document, position: &Position) -> bool {
        let own = &streams[position.range];
        streams.iter().enumerate().all(|(i, other)| {
            if i == position.range || other.table != own.table {
                return true;
            }
            let key = index_key_of(&other.fields, doc.fields(), doc.creation_time(), &doc.id());
            if !other.declared.contains(&key) || !key.starts_with(&other.prefix) {
                return true;
            }
            !other.position(&key, i).precedes(position, self.order)
        })
    }
}

impl Run {
    fn documents(self) -> Vec<Document> {
        self.kept.into_iter().map(|(_, doc)| doc).collect()
    }
}
