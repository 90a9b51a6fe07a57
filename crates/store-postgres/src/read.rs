//! Reads, shared by read transactions and the writer (which reads its own writes).

use async_trait::async_trait;
use keel_store::engine::{EngineRead, IndexNumber, RangeScan, StoredCatalog, StoredDoc};
use keel_store::{KeyRange, Order, Result, StoreError};
use keel_values::{DocumentId, TableNumber, Ts};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row};

use crate::fault;

/// Begins the snapshot and reads its clock in one round trip (a simple-protocol query of two
/// statements), so `ts` is exactly the last commit the snapshot holds.
const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT last_ts, catalog_version FROM keel_clock WHERE id = 1";

/// A read-only transaction: one REPEATABLE READ snapshot, taken by its first statement (the
/// clock read), so `ts` is exactly the last commit the snapshot holds.
///
/// Not a sqlx `Transaction`: that would spend a round trip on `BEGIN` alone. The transaction
/// is ended by `ROLLBACK` when the reader is dropped, before its connection goes back to the
/// pool (see `Drop`).
pub(crate) struct PgRead {
    /// `None` only while dropping.
    conn: Option<PoolConnection<Postgres>>,
    ts: Ts,
    catalog_version: u64,
}

impl PgRead {
    pub async fn begin(pool: &sqlx::PgPool) -> Result<Self> {
        // Pooled connections are not pinged before use (a round trip per transaction); one the
        // server closed while it sat idle fails the first statement, and another is tried.
        let mut attempts = pool.size() as usize + 1;
        loop {
            let conn = pool.acquire().await.map_err(fault::sqlx)?;
            // From here on, dropping `read` (also if this future is dropped) ends the
            // transaction.
            let mut read = PgRead {
                conn: Some(conn),
                ts: Ts(0),
                catalog_version: 0,
            };
            let rows = sqlx::raw_sql(BEGIN_READ).fetch_all(read.conn()?).await;
            match rows {
                Ok(rows) => {
                    let row = rows.first().ok_or_else(|| {
                        StoreError::Engine("the clock row is missing".to_string())
                    })?;
                    // Text format (simple protocol): sqlx parses it.
                    let ts: i64 = row.try_get(0).map_err(fault::sqlx)?;
                    let version: i64 = row.try_get(1).map_err(fault::sqlx)?;
                    read.ts = Ts(ts as u64);
                    read.catalog_version = version as u64;
                    return Ok(read);
                }
                Err(err) if attempts > 1 && fault::lost_connection(&err) => {
                    attempts -= 1;
                    if let Some(mut conn) = read.conn.take() {
                        conn.close_on_drop();
                    }
                }
                Err(err) => return Err(fault::sqlx(err)),
            }
        }
    }

    fn conn(&mut self) -> Result<&mut PgConnection> {
        self.conn.as_deref_mut().ok_or(StoreError::Finished)
    }
}

impl Drop for PgRead {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        // The snapshot ends before the connection is pooled again (off the caller's path; the
        // pool's own check on release follows). Without a runtime, or if the rollback fails,
        // the connection is closed instead of reused.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_err() {
                        conn.close_on_drop();
                    }
                });
            }
            Err(_) => conn.close_on_drop(),
        }
    }
}

#[async_trait]
impl EngineRead for PgRead {
    fn ts(&self) -> Ts {
        self.ts
    }

    async fn get(&mut self, id: &DocumentId) -> Result<Option<StoredDoc>> {
        get(self.conn()?, id).await
    }

    async fn scan(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
        scan(self.conn()?, index, range, order, limit).await
    }

    async fn scan_many(
        &mut self,
        scans: &[RangeScan],
        order: Order,
    ) -> Result<Vec<Vec<(Vec<u8>, StoredDoc)>>> {
        scan_many(self.conn()?, scans, order).await
    }

    async fn count(&mut self, index: IndexNumber, range: &KeyRange, limit: usize) -> Result<usize> {
        count(self.conn()?, index, range, limit).await
    }

    async fn table_documents(&mut self, table: TableNumber) -> Result<Vec<StoredDoc>> {
        table_documents(self.conn()?, table).await
    }

    fn catalog_version(&self) -> u64 {
        self.catalog_version
    }

    async fn catalog(&mut self) -> Result<StoredCatalog> {
        let version = self.catalog_version;
        crate::catalog::stored(self.conn()?, version).await
    }
}

pub(crate) async fn get(conn: &mut PgConnection, id: &DocumentId) -> Result<Option<StoredDoc>> {
    let row = sqlx::query("SELECT id, creation_time, body FROM keel_documents WHERE id = $1")
        .bind(id.encode())
        .fetch_optional(conn)
        .await
        .map_err(fault::sqlx)?;
    row.map(|row| stored_doc_at(&row, 0)).transpose()
}

/// A nullable `LIMIT`: `NULL` is no limit, so one prepared statement serves both.
fn limit_param(limit: Option<usize>) -> Option<i64> {
    limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX))
}

pub(crate) async fn scan(
    conn: &mut PgConnection,
    index: IndexNumber,
    range: &KeyRange,
    order: Order,
    limit: Option<usize>,
) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
    if limit == Some(0) {
        return Ok(Vec::new());
    }
    let query = sqlx::query(scan_sql(range.end.is_some(), order))
        .bind(index.0 as i32)
        .bind(range.start.as_slice());
    let query = match &range.end {
        Some(end) => query.bind(end.as_slice()),
        None => query,
    };
    let rows = query
        .bind(limit_param(limit))
        .fetch_all(conn)
        .await
        .map_err(fault::sqlx)?;
    rows.iter()
        .map(|row| {
            let key: Vec<u8> = row.try_get(0).map_err(fault::sqlx)?;
            Ok((key, stored_doc_at(row, 1)?))
        })
        .collect()
}

/// Several ranges' first entries in one statement: a `UNION ALL` of one scan per range, each
/// with its own bounds and `LIMIT` as parameters the planner sees (so each branch is planned
/// as the single-range scan is: an index range scan stopping at its limit or its end), and
/// the rows tagged with their range's position. Each range's bounds are an equality on
/// `index_number` and bounds on `key`, not a row comparison: PostgreSQL 15 stops a
/// row-comparison scan only at the first column's bound, so a range holding fewer entries
/// than its limit read on to the end of its index (measured: 7 ms for a range of no rows).
pub(crate) async fn scan_many(
    conn: &mut PgConnection,
    scans: &[RangeScan],
    order: Order,
) -> Result<Vec<Vec<(Vec<u8>, StoredDoc)>>> {
    let mut results: Vec<Vec<(Vec<u8>, StoredDoc)>> = vec![Vec::new(); scans.len()];
    if scans.is_empty() {
        return Ok(results);
    }
    // Generated from the ranges' shapes and the order alone: no value reaches the text.
    let sql = sqlx::AssertSqlSafe(scan_many_sql(scans, order));
    let mut query = sqlx::query(sql);
    for scan in scans {
        query = query
            .bind(scan.index.0 as i32)
            .bind(scan.range.start.as_slice());
        if let Some(end) = &scan.range.end {
            query = query.bind(end.as_slice());
        }
        query = query.bind(i64::try_from(scan.limit).unwrap_or(i64::MAX));
    }
    let rows = query.fetch_all(conn).await.map_err(fault::sqlx)?;
    for row in &rows {
        let position: i32 = row.try_get(0).map_err(fault::sqlx)?;
        let key: Vec<u8> = row.try_get(1).map_err(fault::sqlx)?;
        let slot = usize::try_from(position)
            .ok()
            .and_then(|i| results.get_mut(i))
            .ok_or_else(|| StoreError::Engine(format!("scan_many: no range {position}")))?;
        slot.push((key, stored_doc_at(row, 2)?));
    }
    Ok(results)
}

/// The statement of [`scan_many`] for these ranges: one branch per range, with three
/// parameters (index, start, limit) or four (and its end).
fn scan_many_sql(scans: &[RangeScan], order: Order) -> String {
    let direction = match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    let mut next = 0;
    let mut param = || {
        next += 1;
        format!("${next}")
    };
    let branches: Vec<String> = scans
        .iter()
        .enumerate()
        .map(|(i, scan)| {
            let (index, start) = (param(), param());
            let end = match scan.range.end {
                Some(_) => format!(" AND e.key < {}::bytea", param()),
                None => String::new(),
            };
            let limit = param();
            format!(
                "(SELECT {i}::int4 AS n, e.key, d.id, d.creation_time, d.body
                  FROM keel_index_entries e JOIN keel_documents d ON d.id = e.id
                  WHERE e.index_number = {index}::int4 AND e.key >= {start}::bytea{end}
                  ORDER BY e.key {direction} LIMIT {limit}::int8)"
            )
        })
        .collect();
    // Wrapped, so that one range (a single parenthesized query) takes the outer `ORDER BY`.
    format!(
        "SELECT * FROM ({}) AS ranges ORDER BY n, key {direction}",
        branches.join(" UNION ALL ")
    )
}

/// The scan statement for a range with or without an end, in `order`.
fn scan_sql(has_end: bool, order: Order) -> &'static str {
    // Four fixed statements rather than generated SQL, each prepared once per connection. The
    // primary key (index_number, key) serves the range and the order, both directions.
    match (has_end, order) {
        (false, Order::Asc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = $1 AND e.key >= $2 ORDER BY e.key ASC LIMIT $3"
        }
        (false, Order::Desc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = $1 AND e.key >= $2 ORDER BY e.key DESC LIMIT $3"
        }
        (true, Order::Asc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = $1 AND e.key >= $2 AND e.key < $3 ORDER BY e.key ASC LIMIT $4"
        }
        (true, Order::Desc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = $1 AND e.key >= $2 AND e.key < $3 ORDER BY e.key DESC LIMIT $4"
        }
    }
}

/// Index entries in `range`, up to `limit`: keys only, no document read.
pub(crate) async fn count(
    conn: &mut PgConnection,
    index: IndexNumber,
    range: &KeyRange,
    limit: usize,
) -> Result<usize> {
    let sql = match range.end {
        Some(_) => {
            "SELECT count(*) FROM (SELECT 1 FROM keel_index_entries
             WHERE index_number = $1 AND key >= $2 AND key < $3 LIMIT $4) AS entries"
        }
        None => {
            "SELECT count(*) FROM (SELECT 1 FROM keel_index_entries
             WHERE index_number = $1 AND key >= $2 LIMIT $3) AS entries"
        }
    };
    let query = sqlx::query_scalar(sql)
        .bind(index.0 as i32)
        .bind(range.start.as_slice());
    let query = match &range.end {
        Some(end) => query.bind(end.as_slice()),
        None => query,
    };
    let counted: i64 = query
        .bind(limit_param(Some(limit)))
        .fetch_one(conn)
        .await
        .map_err(fault::sqlx)?;
    Ok(counted as usize)
}

pub(crate) async fn table_documents(
    conn: &mut PgConnection,
    table: TableNumber,
) -> Result<Vec<StoredDoc>> {
    let rows =
        sqlx::query("SELECT id, creation_time, body FROM keel_documents WHERE table_number = $1")
            .bind(table.0 as i32)
            .fetch_all(conn)
            .await
            .map_err(fault::sqlx)?;
    rows.iter().map(|row| stored_doc_at(row, 0)).collect()
}

/// The document in columns `first..first + 3` (id, creation time, body).
fn stored_doc_at(row: &PgRow, first: usize) -> Result<StoredDoc> {
    let id: &str = row.try_get(first).map_err(fault::sqlx)?;
    let creation_time: f64 = row.try_get(first + 1).map_err(fault::sqlx)?;
    let body: &str = row.try_get(first + 2).map_err(fault::sqlx)?;
    Ok(StoredDoc {
        id: DocumentId::parse(id).map_err(StoreError::engine)?,
        creation_time,
        body: serde_json::from_str(body).map_err(StoreError::engine)?,
    })
}
