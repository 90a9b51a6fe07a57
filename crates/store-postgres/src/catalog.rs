//! Table and index numbering (`keel_tables`, `keel_indexes`).
//!
//! Numbers are assigned under the commit lock, so instances starting at once cannot give one
//! number twice. A catalog that already holds everything wanted is only read, without the
//! lock: the usual start of an instance beside running ones.

use keel_store::engine::{IndexNumber, SyncedCatalog, SyncedIndex, SyncedTable, TableSpec};
use keel_store::{Result, StoreError};
use keel_values::TableNumber;
use sqlx::{PgConnection, PgPool};

use crate::{fault, write};

pub(crate) async fn sync(pool: &PgPool, wanted: &[TableSpec]) -> Result<SyncedCatalog> {
    let during = |err| fault::sqlx_during("syncing the catalog", err);
    {
        let mut tx = pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(during)?;
        if let Some(catalog) = sync_in_transaction(&mut tx, wanted, false).await? {
            return Ok(catalog);
        }
    }
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await
        .map_err(during)?;
    sqlx::query(write::LOCK_CLOCK)
        .execute(&mut *tx)
        .await
        .map_err(during)?;
    let catalog = sync_in_transaction(&mut tx, wanted, true)
        .await?
        .expect("a writing sync always completes");
    tx.commit().await.map_err(during)?;
    Ok(catalog)
}

/// The synced catalog; `None` when something must change and `write` is false.
async fn sync_in_transaction(
    conn: &mut PgConnection,
    wanted: &[TableSpec],
    write: bool,
) -> Result<Option<SyncedCatalog>> {
    let mut catalog = SyncedCatalog::default();
    for spec in wanted {
        let Some(number) = table_number(conn, &spec.name, write).await? else {
            return Ok(None);
        };
        let mut indexes = Vec::new();
        for (name, fields) in &spec.indexes {
            let fields_json = serde_json::to_string(fields).map_err(StoreError::engine)?;
            let Some((index_number, needs_rebuild)) =
                index_number(conn, number, name, &fields_json, write).await?
            else {
                return Ok(None);
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
    Ok(Some(catalog))
}

async fn table_number(conn: &mut PgConnection, name: &str, write: bool) -> Result<Option<i32>> {
    let during = |err| fault::sqlx_during("syncing the catalog", err);
    let existing: Option<i32> =
        sqlx::query_scalar("SELECT number FROM keel_tables WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(during)?;
    if existing.is_some() || !write {
        return Ok(existing);
    }
    sqlx::query_scalar(
        "INSERT INTO keel_tables (number, name)
         VALUES ((SELECT coalesce(max(number), 0) + 1 FROM keel_tables), $1)
         RETURNING number",
    )
    .bind(name)
    .fetch_one(&mut *conn)
    .await
    .map(Some)
    .map_err(during)
}

/// The index's number, and whether its entries must be rebuilt (new, or its fields changed).
async fn index_number(
    conn: &mut PgConnection,
    table: i32,
    name: &str,
    fields_json: &str,
    write: bool,
) -> Result<Option<(i32, bool)>> {
    let during = |err| fault::sqlx_during("syncing the catalog", err);
    let existing: Option<(i32, String)> = sqlx::query_as(
        "SELECT number, fields FROM keel_indexes WHERE table_number = $1 AND name = $2",
    )
    .bind(table)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(during)?;
    match existing {
        Some((number, stored)) if stored == fields_json => Ok(Some((number, false))),
        _ if !write => Ok(None),
        Some((number, _)) => {
            sqlx::query("UPDATE keel_indexes SET fields = $1 WHERE number = $2")
                .bind(fields_json)
                .bind(number)
                .execute(&mut *conn)
                .await
                .map_err(during)?;
            Ok(Some((number, true)))
        }
        None => {
            let number = sqlx::query_scalar(
                "INSERT INTO keel_indexes (number, table_number, name, fields)
                 VALUES ((SELECT coalesce(max(number), 0) + 1 FROM keel_indexes), $1, $2, $3)
                 RETURNING number",
            )
            .bind(table)
            .bind(name)
            .bind(fields_json)
            .fetch_one(&mut *conn)
            .await
            .map_err(during)?;
            Ok(Some((number, true)))
        }
    }
}
