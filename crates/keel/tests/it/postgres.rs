//! Keel on PostgreSQL (`KEEL_DATABASE_URL=postgres://…`), each test on a fresh database of the
//! server at `KEEL_TEST_POSTGRES_URL` (see `keel_store_postgres::testing`).

use std::time::{Duration, Instant};

use keel::AppParts;
use keel_store_postgres::SCHEMA_VERSION;
use keel_store_postgres::testing::TestDatabase;
use serde_json::json;

use crate::binary::{keel, output};
use crate::harness::TestServer;

const SECRET: &str = "pg-pa55word-n0t-shown";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_on_postgres_serves_mutations_and_queries() {
    let database = TestDatabase::create().await;
    let url = database.url().to_string();
    let server =
        TestServer::dev_with(|s| s.storage.database_url = Some(url), AppParts::builtin()).await;
    let (status, ready) = server.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");

    let (_, token) = server.user("pg@example.com").await;
    server
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    let id = server
        .ok(
            "mutation",
            "chats:createUserChat",
            json!({"title": "on postgres"}),
            Some(&token),
        )
        .await;
    server
        .ok(
            "mutation",
            "chats:update",
            json!({"id": id, "title": "renamed"}),
            Some(&token),
        )
        .await;
    let chats = server
        .ok("query", "chats:listUserChats", json!({}), Some(&token))
        .await;
    assert_eq!(chats.as_array().unwrap().len(), 1, "{chats}");
    assert_eq!(chats[0]["title"], "renamed");

    // The rows are PostgreSQL's, not a file's.
    let mut conn = sqlx_connect(&database).await;
    let documents: i64 = sqlx::query_scalar("SELECT count(*) FROM keel_documents")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(documents >= 2, "a user and a chat at least: {documents}");
    assert!(
        !server.dir.path().join("keel.db").exists(),
        "no SQLite file"
    );
}

async fn sqlx_connect(database: &TestDatabase) -> sqlx::PgConnection {
    use sqlx::Connection;
    // The tests' own trust-auth server: the shown URL carries no password to hide.
    sqlx::PgConnection::connect(&database.url().to_string())
        .await
        .unwrap()
}

/// The test database's URL with a password in it (ignored by the tests' trust-auth server).
fn url_with_password(database: &TestDatabase) -> String {
    let mut url = url::Url::parse(&database.url().to_string()).unwrap();
    url.set_password(Some(SECRET)).unwrap();
    url.to_string()
}

/// `keel migrate --drop-undeclared-indexes` removes an index an older version of the app
/// declared (here written into the catalog by hand, with an entry), and only that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_drops_the_indexes_the_app_no_longer_declares() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create().await;
    let url = database.url().to_string();
    let migrate = |extra: &[&str]| {
        let mut command = keel(dir.path());
        command
            .arg("migrate")
            .args(extra)
            .env("KEEL_DATABASE_URL", &url);
        output(command)
    };
    let first = migrate(&["--drop-undeclared-indexes"]).await;
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{stdout}");
    assert!(stdout.contains("no undeclared indexes to drop"), "{stdout}");

    let mut conn = sqlx_connect(&database).await;
    let legacy: i32 = sqlx::query_scalar(
        "INSERT INTO keel_indexes (number, table_number, name, fields, built)
         SELECT (SELECT max(number) + 1 FROM keel_indexes), number, 'by_legacy', '[\"legacy\"]', true
         FROM keel_tables WHERE name = 'users'
         RETURNING number",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query("INSERT INTO keel_index_entries (index_number, key, id) VALUES ($1, '\\x01', 'x')")
        .bind(legacy)
        .execute(&mut conn)
        .await
        .unwrap();
    let indexes_before: i64 = sqlx::query_scalar("SELECT count(*) FROM keel_indexes")
        .fetch_one(&mut conn)
        .await
        .unwrap();

    let plain = migrate(&[]).await;
    assert!(plain.status.success());
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM keel_indexes WHERE number = $1")
        .bind(legacy)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        still, 1,
        "kept without the flag: other versions may read it"
    );

    let dropping = migrate(&["--drop-undeclared-indexes"]).await;
    let stdout = String::from_utf8_lossy(&dropping.stdout);
    assert!(dropping.status.success(), "{stdout}");
    assert!(
        stdout.contains("dropped index users.by_legacy, which the app no longer declares"),
        "{stdout}"
    );
    let entries: i64 =
        sqlx::query_scalar("SELECT count(*) FROM keel_index_entries WHERE index_number = $1")
            .bind(legacy)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let indexes_after: i64 = sqlx::query_scalar("SELECT count(*) FROM keel_indexes")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(entries, 0);
    assert_eq!(indexes_after, indexes_before - 1, "only that one");
}

/// `keel migrate` applies the migrations and exits 0, also when there is nothing to do, and
/// several started at once on an empty database all succeed, migrating once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_once_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create().await;
    let url = url_with_password(&database);
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let mut command = keel(dir.path());
            command.args(["migrate"]).env("KEEL_DATABASE_URL", &url);
            output(command)
        })
        .collect();
    let mut applied = 0;
    for run in runs {
        let run = run.await;
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stdout}\n{stderr}");
        assert!(
            !stdout.contains(SECRET) && !stderr.contains(SECRET),
            "{stdout}\n{stderr}"
        );
        assert!(stdout.contains(database.name()), "{stdout}");
        if stdout.contains(&format!("applied {SCHEMA_VERSION} migration")) {
            applied += 1;
        } else {
            assert!(
                stdout.contains(&format!("already at schema version {SCHEMA_VERSION}")),
                "{stdout}"
            );
        }
    }
    assert_eq!(applied, 1, "one of them migrated");
    let mut conn = sqlx_connect(&database).await;
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM keel_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(versions, SCHEMA_VERSION as i64);
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM keel_tables")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(tables > 0, "the app's tables are numbered too");
}

/// A server that never answers: `keel serve` exits non-zero within 30 s (the default connect
/// timeout is 10 s), naming the host and not the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exits_naming_the_host_when_postgres_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut command = keel(dir.path());
    command
        .args(["serve"])
        .env(
            "CLERK_JWT_ISSUER_DOMAIN",
            "https://example.clerk.accounts.dev",
        )
        .env(
            "KEEL_DATABASE_URL",
            format!("postgres://keel:{SECRET}@127.0.0.1:{port}/keel"),
        );
    let started = Instant::now();
    let run = output(command).await;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("KEEL_DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    drop(silent);
}

/// Two instances on one database: a chat created through B reaches a live query that the same
/// user holds through A (through the commit log and its notification; `cross_instance.rs` checks
/// that nothing else re-runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_through_one_instance_reaches_a_live_query_on_another() {
    use crate::sync::Client;

    let database = TestDatabase::create().await;
    let url = database.url().to_string();
    let a = TestServer::dev_with(
        |s| s.storage.database_url = Some(url.clone()),
        AppParts::builtin(),
    )
    .await;
    let b = TestServer::dev_with(|s| s.storage.database_url = Some(url), AppParts::builtin()).await;
    let (user_id, token) = a.user("two@example.com").await;
    a.ok("mutation", "users:store", json!({}), Some(&token))
        .await;

    let mut live = Client::connect(&a, "live").await;
    live.send(
        json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
    )
    .await;
    live.expect("Transition").await;
    live.send(
        json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": 1, "udfPath": "chats:listUserChats", "args": [{}]}]}),
    )
    .await;
    let first = live.expect("Transition").await;
    assert_eq!(first["modifications"][0]["value"], json!([]), "{first}");

    // The same Clerk user, signed in through B (B's emulator signs for B's issuer).
    let through_b = b.forged_token(&user_id);
    let started = Instant::now();
    b.ok(
        "mutation",
        "chats:createUserChat",
        json!({"title": "from B"}),
        Some(&through_b),
    )
    .await;
    let update = live.expect("Transition").await;
    assert_eq!(
        update["modifications"][0]["value"][0]["title"], "from B",
        "{update}"
    );
    assert!(
        crate::sync::ts(&update["endVersion"]) > crate::sync::ts(&first["endVersion"]),
        "timestamps keep increasing across instances"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// `keel check` names an unreachable database by host, with the fix, and without the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_an_unreachable_postgres_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut command = keel(dir.path());
    command
        .args(["check"])
        .env("CLERK_JWT_ISSUER_DOMAIN", "http://127.0.0.1:1/_clerk")
        .env(
            "KEEL_DATABASE_URL",
            format!("postgres://keel:{SECRET}@127.0.0.1:{port}/keel"),
        );
    let run = output(command).await;
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find(|line| line.starts_with("✗ database:"))
        .unwrap_or_else(|| panic!("no database line in:\n{stdout}"));
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(line.contains("check that PostgreSQL"), "{line}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}\n{stderr}"
    );
}

/// Runs SQL on the tests' server's maintenance database.
async fn admin_sql(sql: String) {
    use sqlx::Connection;
    let admin = keel_store_postgres::testing::admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin.to_string())
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// The database goes away while Keel serves (renamed: connections end and new ones find no
/// such database): requests fail as `STORAGE_UNAVAILABLE`, `/readyz` turns 503, and both
/// recover by themselves once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_and_comes_back() {
    let database = TestDatabase::create().await;
    let name = database.name().to_string();
    let away = format!("{name}_away");
    let url = database.url().to_string();
    let server =
        TestServer::dev_with(|s| s.storage.database_url = Some(url), AppParts::builtin()).await;
    let (_, token) = server.user("away@example.com").await;
    server
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    assert_eq!(server.get("/readyz").await.0, 200);

    admin_sql(format!(
        r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS false;
           SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';
           ALTER DATABASE "{name}" RENAME TO "{away}";
           ALTER DATABASE "{away}" ALLOW_CONNECTIONS true;"#
    ))
    .await;
    let code = server
        .error_code(
            "mutation",
            "chats:createUserChat",
            json!({"title": "lost"}),
            Some(&token),
        )
        .await;
    assert_eq!(code, "STORAGE_UNAVAILABLE");
    let code = server
        .error_code("query", "chats:listUserChats", json!({}), Some(&token))
        .await;
    assert_eq!(code, "STORAGE_UNAVAILABLE");
    let (status, ready) = server.get("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["database"], false, "{ready}");

    admin_sql(format!(r#"ALTER DATABASE "{away}" RENAME TO "{name}""#)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, ready) = server.get("/readyz").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still not ready: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
        .ok(
            "mutation",
            "chats:createUserChat",
            json!({"title": "back"}),
            Some(&token),
        )
        .await;
    // A query that failed while the database was away runs again by itself (within about
    // a second, `STORE_FAILURE_RETRY`), so its cached error does not outlive the outage.
    let deadline = Instant::now() + Duration::from_secs(10);
    let chats = loop {
        let (_, body) = server
            .call("query", "chats:listUserChats", json!({}), Some(&token))
            .await;
        if body["status"] == "success" {
            break body["value"].clone();
        }
        assert!(Instant::now() < deadline, "the query still fails: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(chats[0]["title"], "back", "{chats}");
    assert_eq!(
        chats.as_array().unwrap().len(),
        1,
        "nothing of the lost one"
    );
}

/// A target directive in `KEEL_LOG` (`info,keel=debug`) loses no line on PostgreSQL. sqlx asks
/// the logger whether each statement's debug line is wanted and then writes none; with the
/// filter on the output layer, that made the next event on the thread vanish (tracing#2519):
/// start-up's warning and its open-files line, reconcile warnings, at random.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debug_directive_loses_no_log_line_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create().await;
    let mut command = keel(dir.path());
    command
        .args(["serve"])
        .env("KEEL_DATABASE_URL", database.url().to_string())
        .env("CLERK_JWT_ISSUER_DOMAIN", "http://127.0.0.1:9")
        .env("KEEL_LOG", "info,keel=debug");
    let keel = tokio::task::spawn_blocking(move || crate::binary::start_keel(command))
        .await
        .unwrap();
    keel.log_line(&["WARN", "CLERK_WEBHOOK_SECRET is not set"]);
    keel.log_line(&["INFO", "open-files limit"]);
}
