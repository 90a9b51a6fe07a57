//! Fresh databases for tests: each [`TestDatabase`] is a new, empty database on the server at
//! `KEEL_TEST_POSTGRES_URL`, dropped when the value is dropped. A server that cannot be
//! reached fails the test, naming the variable: no test passes by skipping.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::{DatabaseUrl, PostgresSettings};

/// The variable naming the server tests create their databases on.
pub const TEST_URL_VAR: &str = "KEEL_TEST_POSTGRES_URL";

/// Where tests look when the variable is unset: a local server with trust authentication.
pub const DEFAULT_TEST_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestDatabase {
    /// The server's maintenance database, where databases are created and dropped.
    admin: DatabaseUrl,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database with a name no other test uses.
    pub async fn create() -> TestDatabase {
        let admin = admin_url();
        let name = format!(
            "keel_test_{}_{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        let mut conn = admin_connection(&admin).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|err| panic!("creating test database {name} on {admin}: {err}"));
        let _ = conn.close().await;
        TestDatabase { admin, name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> DatabaseUrl {
        self.admin.with_database(&self.name)
    }

    /// Engine settings for this database, with a small pool (tests open many engines).
    pub fn settings(&self) -> PostgresSettings {
        PostgresSettings {
            pool_size: 4,
            ..PostgresSettings::new(self.url())
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Dropping happens in synchronous code, often on a runtime's worker: the drop runs on
        // a thread of its own with its own runtime. `FORCE` ends the connections that
        // engines of the test still hold.
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                let mut conn = admin_connection(&admin).await;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .execute(&mut conn)
                .await
                .map(drop)
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("dropping test database {}: {err}", self.name),
            Err(_) => eprintln!("dropping test database {} panicked", self.name),
        }
    }
}

/// `KEEL_TEST_POSTGRES_URL`, or the local default.
pub fn admin_url() -> DatabaseUrl {
    let text = std::env::var(TEST_URL_VAR).unwrap_or_else(|_| DEFAULT_TEST_URL.to_string());
    DatabaseUrl::parse(&text)
        .unwrap_or_else(|err| panic!("{TEST_URL_VAR} is not a PostgreSQL URL: {err}"))
}

async fn admin_connection(admin: &DatabaseUrl) -> PgConnection {
    let connected =
        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(admin.expose())).await;
    match connected {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => panic!(
            "PostgreSQL is unreachable at {admin} ({err}). The PostgreSQL tests need a server: \
             start one, or set {TEST_URL_VAR} (default {DEFAULT_TEST_URL})."
        ),
        Err(_) => panic!(
            "PostgreSQL at {admin} did not answer within {CONNECT_TIMEOUT:?}. The PostgreSQL \
             tests need a server: start one, or set {TEST_URL_VAR} (default {DEFAULT_TEST_URL})."
        ),
    }
}
