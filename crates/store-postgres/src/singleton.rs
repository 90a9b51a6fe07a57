//! One instance at a time for a job, through a PostgreSQL session advisory lock.
//!
//! Each attempt opens a connection of its own (not one of the pool's: a lock left on a pooled
//! connection would outlive the round) and asks `pg_try_advisory_lock`, which never waits.
//! The lock lives as long as that connection: released explicitly after the round, and by the
//! server when the connection ends, so an instance that dies (SIGKILL, a lost host whose TCP
//! connection the server sees close) frees it for the others. Advisory locks are per
//! database, so instances on other databases of the server do not exclude each other. The key
//! is two `int4`s, which never meet the single-`bigint` key migrations lock under.

use async_trait::async_trait;
use keel_store::Result;
use keel_store::singleton::{HeldLock, SingletonGuard, Singletons};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::{PostgresSettings, connect, connect_options, fault};

/// The lock class every Keel job's lock shares: "keel" in ASCII.
const CLASS: i32 = i32::from_be_bytes(*b"keel");

pub struct PostgresSingletons {
    settings: PostgresSettings,
    options: PgConnectOptions,
}

impl PostgresSingletons {
    pub fn new(settings: &PostgresSettings) -> Result<Self> {
        Ok(PostgresSingletons {
            settings: settings.clone(),
            options: connect_options(settings)?,
        })
    }
}

/// A job's key within [`CLASS`]: FNV-1a of its name, so it is the same in every instance and
/// every version.
fn job_key(job: &str) -> i32 {
    let hash = job.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    i32::from_be_bytes(hash.to_be_bytes())
}

#[async_trait]
impl Singletons for PostgresSingletons {
    async fn try_acquire(&self, job: &str) -> Result<Option<SingletonGuard>> {
        let mut conn = connect(&self.settings, &self.options).await?;
        let key = job_key(job);
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(CLASS)
            .bind(key)
            .fetch_one(&mut conn)
            .await
            .map_err(fault::sqlx)?;
        if !taken {
            let _ = conn.close().await;
            return Ok(None);
        }
        Ok(Some(SingletonGuard::new(AdvisoryLock { conn, key })))
    }
}

/// The connection that holds a job's lock.
struct AdvisoryLock {
    conn: PgConnection,
    key: i32,
}

#[async_trait]
impl HeldLock for AdvisoryLock {
    async fn release(self: Box<Self>) {
        let AdvisoryLock { mut conn, key } = *self;
        let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1, $2)")
            .bind(CLASS)
            .bind(key)
            .fetch_one(&mut conn)
            .await;
        if let Err(err) = unlocked {
            // Closing the connection releases it anyway.
            tracing::warn!(error = %fault::sqlx(err), "releasing a job's advisory lock");
        }
        let _ = conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_keys_are_stable() {
        // Instances of different versions must agree on the key.
        assert_eq!(job_key("reconcile"), job_key("reconcile"));
        assert_ne!(job_key("reconcile"), job_key("reconcile2"));
        assert_eq!(job_key(""), 0x811c_9dc5_u32 as i32);
    }
}
