//! `keel-bench-sqlite-hops DIR [SECONDS]`: a diagnosis for the webhook benchmark. How much of a
//! Keel write is SQLite and how much is the trip to sqlx's connection thread?
//!
//! On one SQLite file in DIR with Keel's settings (WAL, synchronous=FULL, one writer
//! connection, Keel's `keel_documents` / `keel_index_entries` tables), each "event" runs the
//! statements Keel's `clerk:applyWebhook` runs under group commit: SAVEPOINT, 3 index scans
//! joined to documents, 2 document inserts, 4 index-entry inserts, RELEASE (11 statements, as
//! counted from Keel's sqlx debug log). Events are grouped B per transaction (B = 1: a commit and
//! a WAL sync per event, as before group commit; B = 16: about what Keel's group commit batches
//! under 32 senders). Two ways to send them:
//!   hops    every statement is its own sqlx call (one round trip to the connection's thread
//!           each), as Keel's store does today;
//!   script  the event's 11 statements as one `raw_sql` script (one round trip per event), as
//!           if the whole mutation ran on the SQLite thread.
//! Plus `select1`: sequential `SELECT 1` calls, the bare round-trip cost.
//! Prints `HOPS key=value …` lines.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Executor, SqlitePool};

const STATEMENTS_PER_EVENT: usize = 11;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: keel-bench-sqlite-hops DIR [SECONDS]"))?;
    let secs: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let dir = tempdir_in(&dir)?;
    let pool = open(&dir.join("hops.db")).await?;

    let (n, elapsed) = until(secs, |i| {
        let pool = pool.clone();
        async move {
            let _ = i;
            sqlx::query("SELECT 1").execute(&pool).await.map(|_| 1)
        }
    })
    .await?;
    println!(
        "HOPS mode=select1 calls_per_s={:.0} us_per_call={:.1}",
        n as f64 / elapsed.as_secs_f64(),
        1e6 * elapsed.as_secs_f64() / n as f64
    );

    let mut next_id = 0u64;
    for mode in ["hops", "script"] {
        for batch in [1usize, 16] {
            let start = Instant::now();
            let mut events = 0u64;
            let mut commits = 0u64;
            while start.elapsed().as_secs_f64() < secs {
                let mut conn = pool.acquire().await?;
                conn.execute("BEGIN IMMEDIATE").await?;
                for _ in 0..batch {
                    next_id += 1;
                    if mode == "hops" {
                        event_hops(&mut conn, next_id).await?;
                    } else {
                        sqlx::raw_sql(AssertSqlSafe(event_script(next_id)))
                            .execute(&mut *conn)
                            .await?;
                    }
                    events += 1;
                }
                sqlx::query("UPDATE keel_clock SET last_ts = last_ts + 1 WHERE id = 1")
                    .execute(&mut *conn)
                    .await?;
                conn.execute("COMMIT").await?;
                commits += 1;
            }
            let elapsed = start.elapsed().as_secs_f64();
            println!(
                "HOPS mode={mode} batch={batch} events_per_s={:.0} us_per_event={:.0} commits_per_s={:.0}",
                events as f64 / elapsed,
                1e6 * elapsed / events as f64,
                commits as f64 / elapsed
            );
        }
    }
    pool.close().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

async fn until<F, Fut>(secs: f64, mut f: F) -> anyhow::Result<(u64, Duration)>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<u64, sqlx::Error>>,
{
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < secs {
        n += f(n).await?;
    }
    Ok((n, start.elapsed()))
}

fn tempdir_in(parent: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir =
        std::path::Path::new(parent).join(format!("sqlite-hops-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn open(path: &std::path::Path) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(options)
        .await?;
    pool.execute(
        "CREATE TABLE keel_clock (id INTEGER PRIMARY KEY, last_ts INTEGER NOT NULL);
         INSERT INTO keel_clock VALUES (1, 0);
         CREATE TABLE keel_documents (id TEXT PRIMARY KEY, table_number INTEGER NOT NULL,
             creation_time REAL NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
         CREATE INDEX keel_documents_by_table ON keel_documents (table_number);
         CREATE TABLE keel_index_entries (index_number INTEGER NOT NULL, key BLOB NOT NULL,
             id TEXT NOT NULL, PRIMARY KEY (index_number, key)) WITHOUT ROWID;",
    )
    .await?;
    Ok(pool)
}

fn body(id: u64) -> String {
    format!(
        r#"{{"clerkUserId":"user_{id}","email":"user_{id}@example.org","firstName":"Bench","lastName":"User {id}","imageUrl":"https://img.clerk.com/xxxxxx","emailVerified":true,"publicMetadata":{{}},"role":null,"createdAt":1716883200000,"updatedAt":1716883500000,"source":"webhook","isActive":true,"deletedAt":null,"lastSignInAt":1716883400000}}"#
    )
}

const SCAN: &str = "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
    JOIN keel_documents d ON d.id = e.id
    WHERE e.index_number = ? AND e.key >= ? AND e.key < ? ORDER BY e.key LIMIT 1";

/// One event, statement by statement (11 round trips).
async fn event_hops(conn: &mut sqlx::SqliteConnection, id: u64) -> Result<(), sqlx::Error> {
    conn.execute("SAVEPOINT keel_mutation").await?;
    for index in 1..=3i64 {
        let key = format!("k{id}").into_bytes();
        let mut end = key.clone();
        end.push(0xff);
        sqlx::query(SCAN)
            .bind(index)
            .bind(key)
            .bind(end)
            .fetch_optional(&mut *conn)
            .await?;
    }
    for (table, doc) in [(1i64, format!("u{id}")), (2, format!("l{id}"))] {
        sqlx::query("INSERT INTO keel_documents (id, table_number, creation_time, body) VALUES (?, ?, ?, ?)")
            .bind(doc)
            .bind(table)
            .bind(id as f64)
            .bind(body(id))
            .execute(&mut *conn)
            .await?;
    }
    for index in 1..=4i64 {
        sqlx::query("INSERT INTO keel_index_entries (index_number, key, id) VALUES (?, ?, ?)")
            .bind(index)
            .bind(format!("k{id}").into_bytes())
            .bind(format!("u{id}"))
            .execute(&mut *conn)
            .await?;
    }
    conn.execute("RELEASE keel_mutation").await?;
    Ok(())
}

/// The same event as one script (one round trip).
fn event_script(id: u64) -> String {
    let mut sql = String::from("SAVEPOINT keel_mutation;");
    for index in 1..=3 {
        sql.push_str(&format!(
            "SELECT e.key, d.id, d.creation_time, d.body FROM keel_index_entries e
             JOIN keel_documents d ON d.id = e.id
             WHERE e.index_number = {index} AND e.key >= X'{k}' AND e.key < X'{k}ff' ORDER BY e.key LIMIT 1;",
            k = hex(format!("k{id}").as_bytes())
        ));
    }
    let body = body(id).replace('\'', "''");
    for (table, doc) in [(1, format!("u{id}")), (2, format!("l{id}"))] {
        sql.push_str(&format!(
            "INSERT INTO keel_documents (id, table_number, creation_time, body) VALUES ('{doc}', {table}, {id}, '{body}');"
        ));
    }
    for index in 1..=4 {
        sql.push_str(&format!(
            "INSERT INTO keel_index_entries (index_number, key, id) VALUES ({index}, X'{k}', 'u{id}');",
            k = hex(format!("k{id}").as_bytes())
        ));
    }
    sql.push_str("RELEASE keel_mutation;");
    debug_assert_eq!(sql.matches(';').count(), STATEMENTS_PER_EVENT);
    sql
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
