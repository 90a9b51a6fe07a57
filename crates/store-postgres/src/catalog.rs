//! Table and index numbering (`keel_tables`, `keel_indexes`), and the catalog's version.
//!
//! Numbers are assigned under the commit lock, so instances starting at once cannot give one
//! number twice. A catalog that already holds everything wanted is only read, without the
//! lock: the usual start of an instance beside running ones.

use keel_store::engine::{
    IndexNumber, StoredCatalog, StoredIndex, SyncedCatalog, SyncedIndex, SyncedTable, TableSpec,
};
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

/// Moves the catalog's version on (see `keel_clock.catalog_version`).
pub(crate) const BUMP_VERSION: &str =
    "UPDATE keel_clock SET catalog_version = catalog_version + 1 WHERE id = 1";

/// The synced catalog; `None` when something must change and `write` is false.
async fn sync_in_transaction(
    conn: &mut PgConnection,
    wanted: &[TableSpec],
    write: bool,
) -> Result<Option<SyncedCatalog>> {
    let mut catalog = SyncedCatalog::default();
    let mut changed = false;
    for spec in wanted {
        let Some((number, new_table)) = table_number(conn, &spec.name, write).await? else {
            return Ok(None);
        };
        changed |= new_table;
        let mut indexes = Vec::new();
        for (name, fields) in &spec.indexes {
            let fields_json = serde_json::to_string(fields).map_err(StoreError::engine)?;
            let Some((index_number, built, index_changed)) =
                index_number(conn, number, name, &fields_json, write).await?
            else {
                return Ok(None);
            };
            changed |= index_changed;
            indexes.push(SyncedIndex {
                name: name.clone(),
                number: IndexNumber(index_number as u32),
                fields: fields.clone(),
                needs_rebuild: !built,
            });
        }
        catalog.tables.push(SyncedTable {
            name: spec.name.clone(),
            number: TableNumber(number as u32),
            indexes,
        });
    }
    if changed {
        sqlx::query(BUMP_VERSION)
            .execute(&mut *conn)
            .await
            .map_err(|err| fault::sqlx_during("syncing the catalog", err))?;
    }
    Ok(Some(catalog))
}

/// The table's number and whether this call added it; `None` when it is missing and `write`
/// is false.
async fn table_number(
    conn: &mut PgConnection,
    name: &str,
    write: bool,
) -> Result<Option<(i32, bool)>> {
    let during = |err| fault::sqlx_during("syncing the catalog", err);
    let existing: Option<i32> =
        sqlx::query_scalar("SELECT number FROM keel_tables WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(during)?;
    if existing.is_some() || !write {
        return Ok(existing.map(|number| (number, false)));
    }
    sqlx::query_scalar(
        "INSERT INTO keel_tables (number, name)
         VALUES ((SELECT coalesce(max(number), 0) + 1 FROM keel_tables), $1)
         RETURNING number",
    )
    .bind(name)
    .fetch_one(&mut *conn)
    .await
    .map(|number| Some((number, true)))
    .map_err(during)
}

/// The index's number, whether it is built, and whether this call changed it (added it, or
/// gave it new fields: either way it is recorded unbuilt); `None` when it must change and
/// `write` is false.
async fn index_number(
    conn: &mut PgConnection,
    table: i32,
    name: &str,
    fields_json: &str,
    write: bool,
) -> Result<Option<(i32, bool, bool)>> {
    let during = |err| fault::sqlx_during("syncing the catalog", err);
    let existing: Option<(i32, String, bool)> = sqlx::query_as(
        "SELECT number, fields, built FROM keel_indexes WHERE table_number = $1 AND name = $2",
    )
    .bind(table)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(during)?;
    match existing {
        Some((number, stored, built)) if stored == fields_json => Ok(Some((number, built, false))),
        _ if !write => Ok(None),
        Some((number, _, _)) => {
            sqlx::query("UPDATE keel_indexes SET fields = $1, built = false WHERE number = $2")
                .bind(fields_json)
                .bind(number)
                .execute(&mut *conn)
                .await
                .map_err(during)?;
            Ok(Some((number, false, true)))
        }
        None => {
            let number = sqlx::query_scalar(
                "INSERT INTO keel_indexes (number, table_number, name, fields, built)
                 VALUES ((SELECT coalesce(max(number), 0) + 1 FROM keel_indexes), $1, $2, $3, false)
                 RETURNING number",
            )
            .bind(table)
            .bind(name)
            .bind(fields_json)
            .fetch_one(&mut *conn)
            .await
            .map_err(during)?;
            Ok(Some((number, false, true)))
        }
    }
}

/// Every table and index in the catalog, read on `conn` (in its transaction's snapshot).
pub(crate) async fn stored(conn: &mut PgConnection, version: u64) -> Result<StoredCatalog> {
    let during = |err| fault::sqlx_during("reading the catalog", err);
    let tables: Vec<(String, i32)> =
        sqlx::query_as("SELECT name, number FROM keel_tables ORDER BY number")
            .fetch_all(&mut *conn)
            .await
            .map_err(during)?;
    let indexes: Vec<(i32, String, i32, String, bool)> = sqlx::query_as(
        "SELECT table_number, name, number, fields, built FROM keel_indexes ORDER BY number",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(during)?;
    Ok(StoredCatalog {
        version,
        tables: tables
            .into_iter()
            .map(|(name, number)| (name, TableNumber(number as u32)))
            .collect(),
        indexes: indexes
            .into_iter()
            .map(|(table, name, number, fields, built)| {
                Ok(StoredIndex {
                    table: TableNumber(table as u32),
                    name,
                    number: IndexNumber(number as u32),
                    fields: serde_json::from_str(&fields).map_err(StoreError::engine)?,
                    built,
                })
            })
            .collect::<Result<_>>()?,
    })
}
