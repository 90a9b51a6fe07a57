//! `keel export` and `keel import` as a user runs them, on each engine: a seeded database
//! exported, imported into an empty one, exported again the same; refusals exit 1 naming the
//! file and change nothing. The format itself is tested in `crates/snapshot`.

use std::path::Path;
use std::process::Output;

use crate::binary::keel;
use crate::harness::{Engine, Storage, engine_tests};

fn run(storage: &Storage, args: &[&str]) -> Output {
    let mut command = keel(storage.dir.path());
    if let Some(url) = storage.database_url() {
        command.env("KEEL_DATABASE_URL", url);
    }
    command.args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The table lines of an export's or import's report (`  users: 30`).
fn counts(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(str::to_owned)
        .collect()
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

/// On PostgreSQL a bulk load ends with `VACUUM (ANALYZE)`, so the planner has statistics for
/// the first queries after it (autovacuum would gather them only minutes later).
async fn assert_analyzed_after_the_load(storage: &Storage) {
    use sqlx::Connection;
    let Some(url) = storage.database_url() else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for table in ["keel_documents", "keel_index_entries"] {
        let (vacuumed, analyzed): (bool, bool) = sqlx::query_as(
            "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL
             FROM pg_stat_user_tables WHERE relname = $1",
        )
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(
            vacuumed && analyzed,
            "{table}: vacuumed {vacuumed}, analyzed {analyzed}"
        );
    }
}

async fn export_and_import_round_trip_through_the_cli(engine: Engine) {
    let source = Storage::new(engine).await;
    let seeded = run(&source, &["seed", "--users", "30"]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    assert_analyzed_after_the_load(&source).await;
    let first = path(source.dir.path(), "first.zip");
    let exported = run(&source, &["export", &first]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let report = stdout(&exported);
    assert!(report.contains("  users: 30"), "{report}");

    let target = Storage::new(engine).await;
    let imported = run(&target, &["import", &first]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert_analyzed_after_the_load(&target).await;
    assert_eq!(counts(&stdout(&imported)), counts(&report));
    let second = path(target.dir.path(), "second.zip");
    let again = run(&target, &["export", &second]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(counts(&stdout(&again)), counts(&report));

    // Refusals: exit 1, the file named, nothing changed.
    let twice = run(&target, &["import", &first]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(stderr(&twice).contains("--replace"), "{}", stderr(&twice));
    let junk = path(target.dir.path(), "junk.zip");
    std::fs::write(&junk, "not a zip").unwrap();
    let bad = run(&target, &["import", "--replace", &junk]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("junk.zip: not a ZIP file"),
        "{}",
        stderr(&bad)
    );
    let existing = run(&target, &["export", &second]);
    assert_eq!(
        existing.status.code(),
        Some(1),
        "an export never overwrites"
    );
    let third = path(target.dir.path(), "third.zip");
    let after = run(&target, &["export", &third]);
    assert_eq!(counts(&stdout(&after)), counts(&report));
    assert!(
        run(&target, &["import", "--replace", "--append", &first])
            .status
            .code()
            .is_some_and(|c| c != 0)
    );
}
engine_tests!(export_and_import_round_trip_through_the_cli);
