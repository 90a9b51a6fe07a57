use async_trait::async_trait;
use keel_store::engine::{EngineRead, EngineWrite, IndexNumber, StoredDoc};
use keel_store::{KeyRange, Order, Result, StoreError};
use keel_values::{DocumentId, TableNumber, Ts};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use crate::read;

pub(crate) struct SqliteWrite {
    tx: Transaction<'static, Sqlite>,
    ts: Ts,
}

impl SqliteWrite {
    async fn execute(&mut self, sql: &'static str) -> Result<()> {
        sqlx::query(sql)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::engine)?;
        Ok(())
    }

    pub async fn begin(pool: &SqlitePool) -> Result<Self> {
        // IMMEDIATE takes the write lock now, so everything read below is current and stays so.
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::engine)?;
        let ts = read::last_ts(&mut tx).await?;
        Ok(SqliteWrite { tx, ts })
    }
}

#[async_trait]
impl EngineRead for SqliteWrite {
    fn ts(&self) -> Ts {
        self.ts
    }

    async fn get(&mut self, id: &DocumentId) -> Result<Option<StoredDoc>> {
        read::get(&mut self.tx, id).await
    }

    async fn scan(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
        read::scan(&mut self.tx, index, range, order, limit).await
    }

    async fn table_documents(&mut self, table: TableNumber) -> Result<Vec<StoredDoc>> {
        read::table_documents(&mut self.tx, table).await
    }
}

#[async_trait]
impl EngineWrite for SqliteWrite {
    async fn put(&mut self, doc: &StoredDoc) -> Result<()> {
        let body = serde_json::to_string(&doc.body).map_err(StoreError::engine)?;
        sqlx::query(
            "INSERT INTO keel_documents (id, table_number, creation_time, body) VALUES (?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        )
        .bind(doc.id.encode())
        .bind(doc.id.table.0 as i64)
        .bind(doc.creation_time)
        .bind(body)
        .execute(&mut *self.tx)
        .await
        .map_err(StoreError::engine)?;
        Ok(())
    }

    async fn remove(&mut self, id: &DocumentId) -> Result<()> {
        sqlx::query("DELETE FROM keel_documents WHERE id = ?")
            .bind(id.encode())
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::engine)?;
        Ok(())
    }

    async fn put_index_entry(
        &mut self,
        index: IndexNumber,
        key: &[u8],
        id: &DocumentId,
    ) -> Result<()> {
        sqlx::query("INSERT INTO keel_index_entries (index_number, key, id) VALUES (?, ?, ?)")
            .bind(index.0 as i64)
            .bind(key)
            .bind(id.encode())
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::engine)?;
        Ok(())
    }

    async fn remove_index_entry(&mut self, index: IndexNumber, key: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM keel_index_entries WHERE index_number = ? AND key = ?")
            .bind(index.0 as i64)
            .bind(key)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::engine)?;
        Ok(())
    }

    async fn clear_index(&mut self, index: IndexNumber) -> Result<()> {
        sqlx::query("DELETE FROM keel_index_entries WHERE index_number = ?")
            .bind(index.0 as i64)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::engine)?;
        Ok(())
    }

    async fn savepoint(&mut self) -> Result<()> {
        self.execute("SAVEPOINT keel_mutation").await
    }

    async fn release_savepoint(&mut self) -> Result<()> {
        self.execute("RELEASE keel_mutation").await
    }

    async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.execute("ROLLBACK TO keel_mutation").await?;
        self.execute("RELEASE keel_mutation").await
    }

    async fn commit(mut self: Box<Self>, now: Ts) -> Result<Ts> {
        let ts: i64 = sqlx::query(
            "UPDATE keel_clock SET last_ts = max(last_ts + 1, ?) WHERE id = 1 RETURNING last_ts",
        )
        .bind(now.0 as i64)
        .fetch_one(&mut *self.tx)
        .await
        .map_err(StoreError::engine)?
        .get(0);
        self.tx.commit().await.map_err(StoreError::engine)?;
        Ok(Ts(ts as u64))
    }
}
