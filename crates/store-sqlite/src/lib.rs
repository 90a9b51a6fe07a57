//! The embedded engine: one SQLite file in WAL mode. Readers use a pool of read-only
//! connections (each transaction one snapshot); writers take SQLite's write lock with
//! `BEGIN IMMEDIATE`, which serializes them with each other and with other processes (such as
//! `keel backfill`) on the same file.

mod read;
mod write;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use keel_store::engine::{
    Engine, EngineRead, EngineWrite, IndexNumber, SyncedCatalog, SyncedIndex, SyncedTable,
    TableSpec,
};
use keel_store::{Result, StoreError};
use keel_values::TableNumber;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

pub struct SqliteEngine {
    readers: SqlitePool,
    writer: SqlitePool,
}

impl SqliteEngine {
    /// Opens (creating if missing) the database at a `sqlite:` URL or a plain file path, and
    /// applies pending migrations.
    pub async fn open(location: &str) -> Result<Self> {
        let url = if location.starts_with("sqlite:") {
            location.to_string()
        } else {
            format!("sqlite://{location}")
        };
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(StoreError::engine)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged (webhooks rely on this).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::engine)?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(StoreError::engine)?;
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options.read_only(true))
            .await
            .map_err(StoreError::engine)?;
        Ok(SqliteEngine { readers, writer })
    }
}

#[async_trait]
impl Engine for SqliteEngine {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn sync_catalog(&self, wanted: &[TableSpec]) -> Result<SyncedCatalog> {
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::engine)?;
        let mut catalog = SyncedCatalog::default();
        for spec in wanted {
            let existing = sqlx::query("SELECT number FROM keel_tables WHERE name = ?")
                .bind(&spec.name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::engine)?;
            let number: i64 = match existing {
                Some(row) => row.get(0),
                None => sqlx::query(
                    "INSERT INTO keel_tables (number, name)
                     VALUES ((SELECT coalesce(max(number), 0) + 1 FROM keel_tables), ?)
                     RETURNING number",
                )
                .bind(&spec.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::engine)?
                .get(0),
            };
            let mut indexes = Vec::new();
            for (name, fields) in &spec.indexes {
                let fields_json = serde_json::to_string(fields).map_err(StoreError::engine)?;
                let row = sqlx::query(
                    "SELECT number, fields FROM keel_indexes WHERE table_number = ? AND name = ?",
                )
                .bind(number)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::engine)?;
                let (index_number, needs_rebuild) = match row {
                    Some(row) => {
                        let index_number: i64 = row.get(0);
                        let stored: String = row.get(1);
                        if stored != fields_json {
                            sqlx::query("UPDATE keel_indexes SET fields = ? WHERE number = ?")
                                .bind(&fields_json)
                                .bind(index_number)
                                .execute(&mut *tx)
                                .await
                                .map_err(StoreError::engine)?;
                        }
                        (index_number, stored != fields_json)
                    }
                    None => {
                        let index_number: i64 = sqlx::query(
                            "INSERT INTO keel_indexes (table_number, name, fields) VALUES (?, ?, ?)
                             RETURNING number",
                        )
                        .bind(number)
                        .bind(name)
                        .bind(&fields_json)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(StoreError::engine)?
                        .get(0);
                        (index_number, true)
                    }
                };
                indexes.push(SyncedIndex {
                    name: name.clone(),
                    number: IndexNumber(index_number as u32),
                    fields: fields.clone(),
                    needs_rebuild,
                });
            }
            catalog.tables.push(SyncedTable {
                name: spec.name.clone(),
                number: TableNumber(number as u32),
                indexes,
            });
        }
        tx.commit().await.map_err(StoreError::engine)?;
        Ok(catalog)
    }

    async fn begin_read(&self) -> Result<Box<dyn EngineRead>> {
        Ok(Box::new(read::SqliteRead::begin(&self.readers).await?))
    }

    async fn begin_write(&self) -> Result<Box<dyn EngineWrite>> {
        Ok(Box::new(write::SqliteWrite::begin(&self.writer).await?))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map_err(StoreError::engine)?;
        Ok(())
    }
}
