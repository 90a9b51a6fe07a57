//! Reads, shared by read transactions and the writer (which reads its own writes).

use async_trait::async_trait;
use keel_store::engine::{EngineRead, IndexNumber, StoredCatalog, StoredDoc};
use keel_store::{KeyRange, Order, Result, StoreError};
use keel_values::{DocumentId, TableNumber, Ts};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::connection::PooledReader;
use crate::fault;

pub(crate) struct SqliteRead {
    conn: PooledReader,
    ts: Ts,
    catalog_version: u64,
}

impl SqliteRead {
    pub fn begin(conn: PooledReader) -> Result<Self> {
        conn.execute_batch("BEGIN").map_err(fault::sqlite)?;
        // A deferred transaction takes its snapshot at the first read: this one. (Dropping the
        // pooled connection rolls the transaction back, also when this fails.)
        let (ts, catalog_version) = clock(&conn)?;
        Ok(SqliteRead {
            conn,
            ts,
            catalog_version,
        })
    }
}

#[async_trait]
impl EngineRead for SqliteRead {
    fn ts(&self) -> Ts {
        self.ts
    }

    async fn get(&mut self, id: &DocumentId) -> Result<Option<StoredDoc>> {
        get(&self.conn, id)
    }

    async fn scan(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
        scan(&self.conn, index, range, order, limit)
    }

    async fn count(&mut self, index: IndexNumber, range: &KeyRange, limit: usize) -> Result<usize> {
        count(&self.conn, index, range, limit)
    }

    async fn table_documents(&mut self, table: TableNumber) -> Result<Vec<StoredDoc>> {
        table_documents(&self.conn, table)
    }

    fn catalog_version(&self) -> u64 {
        self.catalog_version
    }

    async fn catalog(&mut self) -> Result<StoredCatalog> {
        crate::catalog::stored(&self.conn, self.catalog_version)
    }
}

/// The last commit's timestamp and the catalog's version.
pub(crate) fn clock(conn: &Connection) -> Result<(Ts, u64)> {
    let (ts, version): (i64, i64) = conn
        .prepare_cached("SELECT last_ts, catalog_version FROM keel_clock WHERE id = 1")
        .and_then(|mut statement| statement.query_row([], |row| Ok((row.get(0)?, row.get(1)?))))
        .map_err(fault::sqlite)?;
    Ok((Ts(ts as u64), version as u64))
}

pub(crate) fn get(conn: &Connection, id: &DocumentId) -> Result<Option<StoredDoc>> {
    let mut statement = conn
        .prepare_cached("SELECT id, creation_time, body FROM keel_documents WHERE id = ?1")
        .map_err(fault::sqlite)?;
    statement
        .query_row([id.encode()], |row| stored_doc_at(row, 0))
        .optional()
        .map_err(fault::sqlite)?
        .transpose()
}

pub(crate) fn scan(
    conn: &Connection,
    index: IndexNumber,
    range: &KeyRange,
    order: Order,
    limit: Option<usize>,
) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
    let sql = scan_sql(range.end.is_some(), order);
    let mut statement = conn.prepare_cached(sql).map_err(fault::sqlite)?;
    let index_number = index.0 as i64;
    let start = range.start.as_slice();
    let decode_row = |row: &Row<'_>| Ok((row.get::<_, Vec<u8>>(0)?, stored_doc_at(row, 1)?));
    let rows = match &range.end {
        Some(end) => statement.query_map(params![index_number, start, end.as_slice()], decode_row),
        None => statement.query_map(params![index_number, start], decode_row),
    }
    .map_err(fault::sqlite)?;
    rows.take(limit.unwrap_or(usize::MAX))
        .map(|row| {
            let (key, doc) = row.map_err(fault::sqlite)?;
            Ok((key, doc?))
        })
        .collect()
}

/// Index entries in `range`, up to `limit`, stepping over the primary key's B-tree alone
/// (no document is read, and no bound `LIMIT`, as for scans).
pub(crate) fn count(
    conn: &Connection,
    index: IndexNumber,
    range: &KeyRange,
    limit: usize,
) -> Result<usize> {
    let sql = match range.end {
        Some(_) => {
            "SELECT 1 FROM keel_index_entries
             WHERE index_number = ?1 AND key >= ?2 AND key < ?3"
        }
        None => "SELECT 1 FROM keel_index_entries WHERE index_number = ?1 AND key >= ?2",
    };
    let mut statement = conn.prepare_cached(sql).map_err(fault::sqlite)?;
    let index_number = index.0 as i64;
    let start = range.start.as_slice();
    let mut rows = match &range.end {
        Some(end) => statement.query(params![index_number, start, end.as_slice()]),
        None => statement.query(params![index_number, start]),
    }
    .map_err(fault::sqlite)?;
    let mut counted = 0;
    while counted < limit && rows.next().map_err(fault::sqlite)?.is_some() {
        counted += 1;
    }
    Ok(counted)
}

/// The scan statement for a range with or without an end, in `order`.
fn scan_sql(has_end: bool, order: Order) -> &'static str {
    // Four fixed statements rather than generated SQL: bounds and order are the only variables,
    // so each stays prepared in the connection's cache. Rows are stepped lazily in key order (no
    // sort), so stopping after `limit` rows needs no `LIMIT` clause.
    match (has_end, order) {
        (false, Order::Asc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = ?1 AND e.key >= ?2 ORDER BY e.key ASC"
        }
        (false, Order::Desc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = ?1 AND e.key >= ?2 ORDER BY e.key DESC"
        }
        (true, Order::Asc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = ?1 AND e.key >= ?2 AND e.key < ?3 ORDER BY e.key ASC"
        }
        (true, Order::Desc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = ?1 AND e.key >= ?2 AND e.key < ?3 ORDER BY e.key DESC"
        }
    }
}

pub(crate) fn table_documents(conn: &Connection, table: TableNumber) -> Result<Vec<StoredDoc>> {
    let mut statement = conn
        .prepare_cached(
            "SELECT id, creation_time, body FROM keel_documents WHERE table_number = ?1",
        )
        .map_err(fault::sqlite)?;
    let rows = statement
        .query_map([table.0 as i64], |row| stored_doc_at(row, 0))
        .map_err(fault::sqlite)?;
    rows.map(|row| row.map_err(fault::sqlite)?).collect()
}

/// The document in columns `first..first + 3` (id, creation time, body). The outer result is
/// SQLite's; the inner one is decoding, which is the store's concern.
fn stored_doc_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Result<StoredDoc>> {
    let id = row
        .get_ref(first)?
        .as_str()
        .map_err(rusqlite::Error::from)?;
    let creation_time: f64 = row.get(first + 1)?;
    let body = row
        .get_ref(first + 2)?
        .as_str()
        .map_err(rusqlite::Error::from)?;
    Ok(decode(id, creation_time, body))
}

fn decode(id: &str, creation_time: f64, body: &str) -> Result<StoredDoc> {
    Ok(StoredDoc {
        id: DocumentId::parse(id).map_err(StoreError::engine)?,
        creation_time,
        body: serde_json::from_str(body).map_err(StoreError::engine)?,
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// Scans with new bounds reuse their prepared statement as is: no re-planning per call
    /// (SQLite is built with STAT4; without QPSG every new bound re-prepared the statement).
    #[test]
    fn scans_keep_their_plan_across_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::connection::open_writer(&dir.path().join("keel.db")).unwrap();
        for i in 0..5u8 {
            let range = KeyRange {
                start: vec![i],
                end: Some(vec![i + 1]),
            };
            scan(&conn, IndexNumber(1), &range, Order::Asc, Some(1)).unwrap();
        }
        let statement = conn.prepare_cached(scan_sql(true, Order::Asc)).unwrap();
        assert_eq!(statement.get_status(StatementStatus::RePrepare), 0);
    }
}
