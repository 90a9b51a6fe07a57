use async_trait::async_trait;
use keel_store::engine::{EngineRead, IndexNumber, StoredDoc};
use keel_store::{KeyRange, Order, Result, StoreError};
use keel_values::{DocumentId, TableNumber, Ts};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool, Transaction};

pub(crate) struct SqliteRead {
    tx: Transaction<'static, Sqlite>,
    ts: Ts,
}

impl SqliteRead {
    pub async fn begin(pool: &SqlitePool) -> Result<Self> {
        let mut tx = pool.begin().await.map_err(StoreError::engine)?;
        // A deferred transaction takes its snapshot at the first read: this one.
        let ts = last_ts(&mut tx).await?;
        Ok(SqliteRead { tx, ts })
    }
}

#[async_trait]
impl EngineRead for SqliteRead {
    fn ts(&self) -> Ts {
        self.ts
    }

    async fn get(&mut self, id: &DocumentId) -> Result<Option<StoredDoc>> {
        get(&mut self.tx, id).await
    }

    async fn scan(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
        scan(&mut self.tx, index, range, order, limit).await
    }

    async fn table_documents(&mut self, table: TableNumber) -> Result<Vec<StoredDoc>> {
        table_documents(&mut self.tx, table).await
    }
}

pub(crate) async fn last_ts(conn: &mut SqliteConnection) -> Result<Ts> {
    let ts: i64 = sqlx::query("SELECT last_ts FROM keel_clock WHERE id = 1")
        .fetch_one(conn)
        .await
        .map_err(StoreError::engine)?
        .get(0);
    Ok(Ts(ts as u64))
}

pub(crate) async fn get(conn: &mut SqliteConnection, id: &DocumentId) -> Result<Option<StoredDoc>> {
    let row = sqlx::query("SELECT id, creation_time, body FROM keel_documents WHERE id = ?")
        .bind(id.encode())
        .fetch_optional(conn)
        .await
        .map_err(StoreError::engine)?;
    row.map(|row| stored_doc(&row)).transpose()
}

pub(crate) async fn scan(
    conn: &mut SqliteConnection,
    index: IndexNumber,
    range: &KeyRange,
    order: Order,
    limit: Option<usize>,
) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
    // Four fixed statements rather than generated SQL: bounds and order are the only variables.
    let sql = match (range.end.is_some(), order) {
        (false, Order::Asc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = ?1 AND e.key >= ?2 ORDER BY e.key ASC LIMIT ?4"
        }
        (false, Order::Desc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = ?1 AND e.key >= ?2 ORDER BY e.key DESC LIMIT ?4"
        }
        (true, Order::Asc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = ?1 AND e.key >= ?2 AND e.key < ?3 ORDER BY e.key ASC LIMIT ?4"
        }
        (true, Order::Desc) => {
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = ?1 AND e.key >= ?2 AND e.key < ?3 ORDER BY e.key DESC LIMIT ?4"
        }
    };
    let limit = limit.map_or(-1, |n| n as i64);
    let rows = sqlx::query(sql)
        .bind(index.0 as i64)
        .bind(range.start.as_slice())
        .bind(range.end.as_deref().unwrap_or_default())
        .bind(limit)
        .fetch_all(conn)
        .await
        .map_err(StoreError::engine)?;
    rows.iter()
        .map(|row| Ok((row.get::<Vec<u8>, _>(0), stored_doc_at(row, 1)?)))
        .collect()
}

pub(crate) async fn table_documents(
    conn: &mut SqliteConnection,
    table: TableNumber,
) -> Result<Vec<StoredDoc>> {
    let rows =
        sqlx::query("SELECT id, creation_time, body FROM keel_documents WHERE table_number = ?")
            .bind(table.0 as i64)
            .fetch_all(conn)
            .await
            .map_err(StoreError::engine)?;
    rows.iter().map(stored_doc).collect()
}

fn stored_doc(row: &SqliteRow) -> Result<StoredDoc> {
    stored_doc_at(row, 0)
}

fn stored_doc_at(row: &SqliteRow, first: usize) -> Result<StoredDoc> {
    let id: String = row.get(first);
    let id = DocumentId::parse(&id).map_err(StoreError::engine)?;
    let body: String = row.get(first + 2);
    let body = serde_json::from_str(&body).map_err(StoreError::engine)?;
    Ok(StoredDoc {
        id,
        creation_time: row.get(first + 1),
        body,
    })
}
