//! Table and index numbering (`keel_tables`, `keel_indexes`), and the catalog's version.

use keel_store::engine::{
    IndexNumber, StoredCatalog, StoredIndex, SyncedCatalog, SyncedIndex, SyncedTable, TableSpec,
};
use keel_store::{Result, StoreError};
use keel_values::TableNumber;
use rusqlite::{Connection, OptionalExtension, params};

use crate::fault;

/// Records the wanted tables and indexes in one write transaction, numbering new ones.
pub(crate) fn sync(conn: &Connection, wanted: &[TableSpec]) -> Result<SyncedCatalog> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(fault::sqlite)?;
    match sync_in_transaction(conn, wanted) {
        Ok(catalog) => {
            conn.execute_batch("COMMIT").map_err(fault::sqlite)?;
            Ok(catalog)
        }
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(err)
        }
    }
}

/// Moves the catalog's version on (see `keel_clock.catalog_version`).
pub(crate) const BUMP_VERSION: &str =
    "UPDATE keel_clock SET catalog_version = catalog_version + 1 WHERE id = 1";

fn sync_in_transaction(conn: &Connection, wanted: &[TableSpec]) -> Result<SyncedCatalog> {
    let mut catalog = SyncedCatalog::default();
    let mut changed = false;
    for spec in wanted {
        let (number, new_table) = table_number(conn, &spec.name).map_err(fault::sqlite)?;
        changed |= new_table;
        let mut indexes = Vec::new();
        for (name, fields) in &spec.indexes {
            let fields_json = serde_json::to_string(fields).map_err(StoreError::engine)?;
            let (index_number, built, index_changed) =
                index_number(conn, number, name, &fields_json).map_err(fault::sqlite)?;
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
        conn.execute(BUMP_VERSION, []).map_err(fault::sqlite)?;
    }
    Ok(catalog)
}

/// The table's number, and whether it was new.
fn table_number(conn: &Connection, name: &str) -> rusqlite::Result<(i64, bool)> {
    let existing = conn
        .query_row(
            "SELECT number FROM keel_tables WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()?;
    match existing {
        Some(number) => Ok((number, false)),
        None => conn
            .query_row(
                "INSERT INTO keel_tables (number, name)
                 VALUES ((SELECT coalesce(max(number), 0) + 1 FROM keel_tables), ?1)
                 RETURNING number",
                [name],
                |row| row.get(0),
            )
            .map(|number| (number, true)),
    }
}

/// The index's number, whether it is built, and whether this call changed it (added it, or
/// gave it new fields: either way it is recorded unbuilt).
fn index_number(
    conn: &Connection,
    table: i64,
    name: &str,
    fields_json: &str,
) -> rusqlite::Result<(i64, bool, bool)> {
    let existing: Option<(i64, String, bool)> = conn
        .query_row(
            "SELECT number, fields, built FROM keel_indexes WHERE table_number = ?1 AND name = ?2",
            params![table, name],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    match existing {
        Some((number, stored, built)) if stored == fields_json => Ok((number, built, false)),
        Some((number, _, _)) => {
            conn.execute(
                "UPDATE keel_indexes SET fields = ?1, built = 0 WHERE number = ?2",
                params![fields_json, number],
            )?;
            Ok((number, false, true))
        }
        None => {
            let number = conn.query_row(
                "INSERT INTO keel_indexes (table_number, name, fields, built) VALUES (?1, ?2, ?3, 0)
                 RETURNING number",
                params![table, name, fields_json],
                |row| row.get(0),
            )?;
            Ok((number, false, true))
        }
    }
}

/// Every table and index in the catalog, read on `conn` (in its transaction's snapshot).
pub(crate) fn stored(conn: &Connection, version: u64) -> Result<StoredCatalog> {
    let tables = conn
        .prepare_cached("SELECT name, number FROM keel_tables ORDER BY number")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, TableNumber(row.get::<_, u32>(1)?)))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(fault::sqlite)?;
    let rows = conn
        .prepare_cached(
            "SELECT table_number, name, number, fields, built FROM keel_indexes ORDER BY number",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, u32>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, u32>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, bool>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(fault::sqlite)?;
    let indexes = rows
        .into_iter()
        .map(|(table, name, number, fields, built)| {
            Ok(StoredIndex {
                table: TableNumber(table),
                name,
                number: IndexNumber(number),
                fields: serde_json::from_str(&fields).map_err(StoreError::engine)?,
                built,
            })
        })
        .collect::<Result<_>>()?;
    Ok(StoredCatalog {
        version,
        tables,
        indexes,
    })
}
