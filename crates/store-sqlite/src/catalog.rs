//! Table and index numbering (`keel_tables`, `keel_indexes`).

use keel_store::engine::{IndexNumber, SyncedCatalog, SyncedIndex, SyncedTable, TableSpec};
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

fn sync_in_transaction(conn: &Connection, wanted: &[TableSpec]) -> Result<SyncedCatalog> {
    let mut catalog = SyncedCatalog::default();
    for spec in wanted {
        let number = table_number(conn, &spec.name).map_err(fault::sqlite)?;
        let mut indexes = Vec::new();
        for (name, fields) in &spec.indexes {
            let fields_json = serde_json::to_string(fields).map_err(StoreError::engine)?;
            let (index_number, needs_rebuild) =
                index_number(conn, number, name, &fields_json).map_err(fault::sqlite)?;
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
    Ok(catalog)
}

fn table_number(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    let existing = conn
        .query_row(
            "SELECT number FROM keel_tables WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()?;
    match existing {
        Some(number) => Ok(number),
        None => conn.query_row(
            "INSERT INTO keel_tables (number, name)
             VALUES ((SELECT coalesce(max(number), 0) + 1 FROM keel_tables), ?1)
             RETURNING number",
            [name],
            |row| row.get(0),
        ),
    }
}

/// The index's number, and whether its entries must be rebuilt (new, or its fields changed).
fn index_number(
    conn: &Connection,
    table: i64,
    name: &str,
    fields_json: &str,
) -> rusqlite::Result<(i64, bool)> {
    let existing: Option<(i64, String)> = conn
        .query_row(
            "SELECT number, fields FROM keel_indexes WHERE table_number = ?1 AND name = ?2",
            params![table, name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match existing {
        Some((number, stored)) if stored == fields_json => Ok((number, false)),
        Some((number, _)) => {
            conn.execute(
                "UPDATE keel_indexes SET fields = ?1 WHERE number = ?2",
                params![fields_json, number],
            )?;
            Ok((number, true))
        }
        None => {
            let number = conn.query_row(
                "INSERT INTO keel_indexes (table_number, name, fields) VALUES (?1, ?2, ?3)
                 RETURNING number",
                params![table, name, fields_json],
                |row| row.get(0),
            )?;
            Ok((number, true))
        }
    }
}
