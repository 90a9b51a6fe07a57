//! The engine's own SQL schema: numbered migrations in `migrations/`, embedded in the
//! binary, recorded one row each in `keel_migrations`.
//!
//! Pending migrations are applied in one transaction that first takes an advisory lock, so
//! when several instances (or `keel migrate`s) start at once on an empty database, one
//! migrates and the others wait for it, then find nothing left to do. PostgreSQL's DDL is
//! transactional: a migration that fails leaves nothing behind. A database that is already
//! up to date is only read, without the lock.

use keel_store::{Result, StoreError};
use sqlx::{Connection, PgConnection};

use crate::fault;

/// Migrations in order; the first is version 1.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_documents",
        include_str!("../migrations/0001_documents.sql"),
    ),
    (
        "0002_commit_log",
        include_str!("../migrations/0002_commit_log.sql"),
    ),
    (
        "0003_catalog_version",
        include_str!("../migrations/0003_catalog_version.sql"),
    ),
];

/// The advisory lock migrations run under ("keelmigr" in ASCII). Advisory locks are scoped to
/// one database, so databases on one server do not wait for each other.
const MIGRATION_LOCK: i64 = 0x6b65_656c_6d69_6772;

/// The schema version this build migrates to.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Applies every pending migration; returns how many this call applied (0 when another
/// instance did, or none was pending).
pub(crate) async fn migrate(conn: &mut PgConnection) -> Result<usize> {
    if applied(conn).await? == Some(SCHEMA_VERSION) {
        return Ok(0);
    }
    let mut tx = conn
        .begin()
        .await
        .map_err(|err| fault::sqlx_during("migrating", err))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(|err| fault::sqlx_during("waiting for the migration lock", err))?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS keel_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(|err| fault::sqlx_during("migrating", err))?;
    let done = applied(&mut tx).await?.unwrap_or(0);
    let mut count = 0;
    for (number, (name, sql)) in MIGRATIONS.iter().enumerate().skip(done) {
        let during = |err| fault::sqlx_during(&format!("migration {name}"), err);
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(during)?;
        sqlx::query("INSERT INTO keel_migrations (version, name) VALUES ($1, $2)")
            .bind(number as i32 + 1)
            .bind(*name)
            .execute(&mut *tx)
            .await
            .map_err(during)?;
        count += 1;
    }
    tx.commit()
        .await
        .map_err(|err| fault::sqlx_during("migrating", err))?;
    if count > 0 {
        tracing::info!(
            applied = count,
            version = SCHEMA_VERSION,
            "migrated the PostgreSQL schema"
        );
    }
    Ok(count)
}

/// The schema version the database is at (`None`: never migrated). A database from a newer
/// Keel is refused.
async fn applied(conn: &mut PgConnection) -> Result<Option<usize>> {
    let during = |err| fault::sqlx_during("reading the schema version", err);
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('keel_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(during)?;
    if !exists {
        return Ok(None);
    }
    let version: i32 = sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM keel_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(during)?;
    let version = version as usize;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Engine(format!(
            "the database is at schema version {version}, newer than this Keel ({SCHEMA_VERSION}); upgrade Keel"
        )));
    }
    Ok(Some(version))
}
