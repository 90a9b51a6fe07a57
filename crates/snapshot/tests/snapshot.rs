//! `keel export` / `keel import` against both engines: the round trip, a Convex-format
//! fixture, and broken files that change nothing.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keel_snapshot::{
    CONVEX_TABLE_OFFSET, IdForm, ImportMode, Quiet, SnapshotError, export, import,
};
use keel_store::{Database, Schema, TableDef};
use keel_store_postgres::PostgresEngine;
use keel_store_postgres::testing::TestDatabase;
use keel_store_sqlite::SqliteEngine;
use keel_values::{DocumentId, Value};
use serde_json::{Value as Json, json};

#[derive(Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

/// `name::sqlite` and `name::postgres` from `async fn name(Engine)`; what follows the name
/// goes to `#[tokio::test(…)]`.
macro_rules! engine_tests {
    ($name:ident $(, $($arg:tt)+)?) => {
        mod $name {
            #[tokio::test $( ( $($arg)+ ) )?]
            async fn sqlite() {
                super::$name(super::Engine::Sqlite).await
            }
            #[tokio::test $( ( $($arg)+ ) )?]
            async fn postgres() {
                super::$name(super::Engine::Postgres).await
            }
        }
    };
}

/// A database and what keeps it alive (its folder, or its PostgreSQL database).
struct Store {
    db: Database,
    dir: tempfile::TempDir,
    _postgres: Option<TestDatabase>,
}

fn schema() -> Schema {
    Schema::new()
        .table(TableDef::new("users").index("by_email", &["email"]))
        .table(TableDef::new("messages").index("by_author", &["author"]))
        .table(TableDef::system("_bookkeeping"))
}

async fn open(engine: Engine, schema: &Schema) -> Store {
    let dir = tempfile::tempdir().unwrap();
    let (engine, postgres): (Arc<dyn keel_store::engine::Engine>, _) = match engine {
        Engine::Sqlite => {
            let path = dir.path().join("keel.db");
            (
                Arc::new(SqliteEngine::open(path.to_str().unwrap()).await.unwrap()),
                None,
            )
        }
        Engine::Postgres => {
            let database = TestDatabase::create().await;
            let engine = PostgresEngine::open(&database.settings()).await.unwrap();
            (Arc::new(engine), Some(database))
        }
    };
    let db = Database::open(engine, schema).await.unwrap();
    Store {
        db,
        dir,
        _postgres: postgres,
    }
}

impl Store {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Users and messages with every kind of value, references between them, and a system row.
async fn fill(db: &Database) -> (DocumentId, DocumentId) {
    let w = db.writer().await.unwrap();
    let ada = w
        .insert(
            "users",
            json!({
                "email": "ada@example.com",
                "age": {"$integer": "JAAAAAAAAAA="},
                "score": 4.5,
                "count": 3,
                "avatar": {"$bytes": "AQID"},
                "weird": {"$float": "AAAAAAAA8H8="},
                "profile": {"city": "Paris", "codes": ["5", 5, {"$integer": "BQAAAAAAAAA="}]},
            }),
        )
        .await
        .unwrap();
    let bob = w
        .insert(
            "users",
            json!({"email": "bob@example.com", "zero": {"$float": "AAAAAAAAAIA="}}),
        )
        .await
        .unwrap();
    let hello = w
        .insert(
            "messages",
            json!({"author": ada.encode(), "body": "Hello", "to": [bob.encode()]}),
        )
        .await
        .unwrap();
    w.insert(
        "messages",
        json!({"author": bob.encode(), "body": "Hi", "replyTo": hello.encode()}),
    )
    .await
    .unwrap();
    w.system()
        .insert("_bookkeeping", json!({"note": "not exported"}))
        .await
        .unwrap();
    w.commit().await.unwrap();
    (ada, bob)
}

/// Every entry of a ZIP with its text.
fn entries(path: &Path) -> BTreeMap<String, String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        out.insert(file.name().unwrap().into_owned(), text);
    }
    out
}

fn write_zip(path: &Path, files: &BTreeMap<String, String>) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

/// A fresh export of the database, as entry → text.
/// The stored user with this email, found through the `by_email` index.
async fn user_by_email(r: &keel_store::Reader, email: &str) -> keel_store::Document {
    r.query("users")
        .with_index("by_email", |q| q.eq("email", email))
        .unique()
        .await
        .unwrap()
        .unwrap()
}

async fn snapshot(store: &Store, name: &str) -> BTreeMap<String, String> {
    let path = store.path(name);
    export(&store.db, &path, IdForm::Convex, &Quiet)
        .await
        .unwrap();
    entries(&path)
}

async fn round_trip_gives_the_same_documents(engine: Engine) {
    let source = open(engine, &schema()).await;
    let (ada, _) = fill(&source.db).await;
    let path = source.path("a.zip");
    let summary = export(&source.db, &path, IdForm::Convex, &Quiet)
        .await
        .unwrap();
    assert_eq!(
        summary.tables,
        vec![("messages".to_owned(), 2), ("users".to_owned(), 2)]
    );
    let first = entries(&path);
    let names: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "README.md",
            "_tables/documents.jsonl",
            "messages/documents.jsonl",
            "messages/generated_schema.jsonl",
            "users/documents.jsonl",
            "users/generated_schema.jsonl",
        ],
        "Convex's layout, and no system table"
    );
    assert_eq!(first["users/generated_schema.jsonl"], "\"uniform\"\n");
    // Ids as Convex writes them: its footer, user tables numbered from 10001, references too.
    let in_convex = |id: DocumentId| {
        DocumentId {
            table: keel_values::TableNumber(id.table.0 + CONVEX_TABLE_OFFSET),
            internal: id.internal,
        }
        .encode_convex()
    };
    let table_lines: Vec<Json> = first["_tables/documents.jsonl"]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        table_lines
            .iter()
            .all(|t| t["id"].as_u64().unwrap() > 10_000),
        "{table_lines:?}"
    );
    let ada_line: Json =
        serde_json::from_str(first["users/documents.jsonl"].lines().next().unwrap()).unwrap();
    assert_eq!(ada_line["_id"], json!(in_convex(ada)));
    assert!(DocumentId::parse(ada_line["_id"].as_str().unwrap()).is_err());
    let hello_line: Json =
        serde_json::from_str(first["messages/documents.jsonl"].lines().next().unwrap()).unwrap();
    assert_eq!(hello_line["author"], json!(in_convex(ada)));
    // The values in Convex's export_json: int64 a number, floats with a dot, bytes tagged.
    assert_eq!(ada_line["age"].to_string(), "36");
    assert_eq!(ada_line["count"].to_string(), "3.0");
    assert_eq!(ada_line["avatar"], json!({"$bytes": "AQID"}));
    assert!(ada_line["_creationTime"].is_f64());

    let target = open(engine, &schema()).await;
    let imported = import(&target.db, &path, ImportMode::RequireEmpty, &Quiet)
        .await
        .unwrap();
    assert!(
        imported.ids_rewritten >= 4,
        "Convex's strings back to Keel's"
    );
    assert_eq!(snapshot(&target, "b.zip").await, first);

    // Indexes were written with the documents.
    let r = target.db.reader().await.unwrap();
    let found = user_by_email(&r, "ada@example.com").await;
    assert_eq!(found.id(), ada);
    let by_ada = r
        .query("messages")
        .with_index("by_author", |q| q.eq("author", ada.encode()))
        .collect()
        .await
        .unwrap();
    assert_eq!(by_ada.len(), 1);
    // A second import without --replace or --append is refused.
    let err = import(&target.db, &path, ImportMode::RequireEmpty, &Quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--replace"), "{err}");
    // --replace gives the same database again; --append refuses the ids already there.
    import(&target.db, &path, ImportMode::Replace, &Quiet)
        .await
        .unwrap();
    assert_eq!(snapshot(&target, "c.zip").await, first);
    let err = import(&target.db, &path, ImportMode::Append, &Quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(snapshot(&target, "d.zip").await, first);
}
engine_tests!(round_trip_gives_the_same_documents);

/// `--keel-ids`: the strings the app sees, unchanged through an import into the same schema.
async fn keel_ids_are_written_as_the_app_sees_them(engine: Engine) {
    let source = open(engine, &schema()).await;
    let (ada, _) = fill(&source.db).await;
    let path = source.path("a.zip");
    export(&source.db, &path, IdForm::Keel, &Quiet)
        .await
        .unwrap();
    let first = entries(&path);
    let ada_line: Json =
        serde_json::from_str(first["users/documents.jsonl"].lines().next().unwrap()).unwrap();
    assert_eq!(ada_line["_id"], json!(ada.encode()));
    let hello_line: Json =
        serde_json::from_str(first["messages/documents.jsonl"].lines().next().unwrap()).unwrap();
    assert_eq!(hello_line["author"], json!(ada.encode()));

    let target = open(engine, &schema()).await;
    let imported = import(&target.db, &path, ImportMode::RequireEmpty, &Quiet)
        .await
        .unwrap();
    assert_eq!(imported.ids_rewritten, 0, "same schema, same table numbers");
    let again = target.path("b.zip");
    export(&target.db, &again, IdForm::Keel, &Quiet)
        .await
        .unwrap();
    assert_eq!(entries(&again), first);
}
engine_tests!(keel_ids_are_written_as_the_app_sees_them);

async fn other_table_numbers_rewrite_ids_and_references(engine: Engine) {
    let source = open(engine, &schema()).await;
    let (ada, bob) = fill(&source.db).await;
    let path = source.path("a.zip");
    export(&source.db, &path, IdForm::Convex, &Quiet)
        .await
        .unwrap();
    // Another app declaring a table first numbers users and messages otherwise.
    let other = Schema::new().table(TableDef::new("tags")).merge(schema());
    let target = open(engine, &other).await;
    let summary = import(&target.db, &path, ImportMode::RequireEmpty, &Quiet)
        .await
        .unwrap();
    assert!(summary.ids_rewritten >= 4, "{summary:?}");
    let r = target.db.reader().await.unwrap();
    let users = r.table_number("users").unwrap();
    assert_ne!(users, ada.table);
    let ada_here = DocumentId {
        table: users,
        internal: ada.internal,
    };
    let bob_here = DocumentId {
        table: users,
        internal: bob.internal,
    };
    assert!(r.get(ada_here).await.unwrap().is_some());
    let hello = r
        .query("messages")
        .with_index("by_author", |q| q.eq("author", ada_here.encode()))
        .unique()
        .await
        .unwrap()
        .expect("the reference follows the new number");
    assert_eq!(hello.get("to"), Some(&json!([bob_here.encode()])));
}
engine_tests!(other_table_numbers_rewrite_ids_and_references);

fn fixture(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/convex_export");
    let mut files = BTreeMap::new();
    for entry in [
        "README.md",
        "_tables/documents.jsonl",
        "users/documents.jsonl",
        "users/generated_schema.jsonl",
        "messages/documents.jsonl",
        "messages/generated_schema.jsonl",
    ] {
        files.insert(
            entry.to_owned(),
            std::fs::read_to_string(root.join(entry)).unwrap(),
        );
    }
    let path = dir.join("convex.zip");
    write_zip(&path, &files);
    path
}

async fn a_convex_export_imports(engine: Engine) {
    let store = open(engine, &schema()).await;
    let path = fixture(store.dir.path());
    let summary = import(&store.db, &path, ImportMode::RequireEmpty, &Quiet)
        .await
        .unwrap();
    assert_eq!(
        summary.tables,
        vec![("messages".to_owned(), 2), ("users".to_owned(), 2)]
    );
    let r = store.db.reader().await.unwrap();
    let ada = user_by_email(&r, "ada@example.com").await;
    // Convex's id, in Keel's table number and footer: the same 16 bytes.
    let convex_id = DocumentId::parse_convex("j57020g30g2gc1r81450p30d1r7h0swg").unwrap();
    assert_eq!(ada.id().internal, convex_id.internal);
    assert_eq!(ada.id().table, r.table_number("users").unwrap());
    assert_eq!(ada.creation_time(), 1733390000000.5);
    let value = Value::from_encoded_json(&Json::Object(ada.fields().clone())).unwrap();
    let fields = value.as_object().unwrap();
    assert_eq!(
        fields["age"],
        Value::Int64(36),
        "uniform: an integer is an int64"
    );
    assert_eq!(fields["score"], Value::Float64(4.5));
    assert_eq!(fields["avatar"], Value::Bytes(vec![1, 2, 3]));
    assert_eq!(
        fields["tags"],
        Value::Array(vec!["admin".into(), "1".into()])
    );
    let bob = user_by_email(&r, "bob@example.com").await;
    let bob_value = Value::from_encoded_json(&Json::Object(bob.fields().clone())).unwrap();
    assert_eq!(
        bob_value.as_object().unwrap()["score"],
        Value::Float64(-0.0)
    );
    // References inside documents follow.
    let hello = r
        .query("messages")
        .with_index("by_author", |q| q.eq("author", ada.id().encode()))
        .unique()
        .await
        .unwrap()
        .expect("author rewritten to Ada's Keel id");
    assert_eq!(hello.get("mentions"), Some(&json!([bob.id().encode()])));
    let reply = r
        .query("messages")
        .with_index("by_author", |q| q.eq("author", bob.id().encode()))
        .unique()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.get_str("replyTo"), Some(hello.id().encode().as_str()));
}
engine_tests!(a_convex_export_imports);

/// Broken files: each fails naming where, and the database exports exactly as before.
async fn a_broken_file_changes_nothing(engine: Engine) {
    let store = open(engine, &schema()).await;
    fill(&store.db).await;
    let good_path = store.path("good.zip");
    export(&store.db, &good_path, IdForm::Convex, &Quiet)
        .await
        .unwrap();
    let good = entries(&good_path);
    let before = snapshot(&store, "before.zip").await;

    let mut n = 0;
    let mut check = async |files: Option<BTreeMap<String, String>>, mode, expected: &str| {
        n += 1;
        let path = store.path(&format!("broken{n}.zip"));
        match files {
            Some(files) => write_zip(&path, &files),
            None => std::fs::write(&path, "this is not a zip\n").unwrap(),
        }
        let err: SnapshotError = import(&store.db, &path, mode, &Quiet).await.unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expected), "{message} lacks {expected}");
        assert!(message.contains(&format!("broken{n}.zip")), "{message}");
        assert_eq!(
            snapshot(&store, &format!("after{n}.zip")).await,
            before,
            "{message}"
        );
    };

    check(None, ImportMode::Replace, "not a ZIP file").await;

    // The second message's line cut short, after the first table was already replaced.
    let mut broken = good.clone();
    let messages = broken.get_mut("messages/documents.jsonl").unwrap();
    let cut = messages.rfind(",\"body\"").unwrap();
    messages.truncate(cut);
    messages.push('\n');
    check(
        Some(broken),
        ImportMode::Replace,
        "messages/documents.jsonl line 2: not JSON",
    )
    .await;

    let mut unknown = good.clone();
    unknown.insert("ghosts/documents.jsonl".into(), "{\"boo\": 1}\n".into());
    check(
        Some(unknown),
        ImportMode::Replace,
        "ghosts/documents.jsonl: table `ghosts` is not declared",
    )
    .await;

    let mut duplicate = good.clone();
    let users = duplicate.get_mut("users/documents.jsonl").unwrap();
    let first = users.lines().next().unwrap().to_owned();
    users.push_str(&first);
    users.push('\n');
    check(
        Some(duplicate),
        ImportMode::Replace,
        "users/documents.jsonl line 3: _id",
    )
    .await;

    let mut legacy = good.clone();
    legacy.insert(
        "users/generated_schema.jsonl".into(),
        "\"{_creationTime: normalfloat64, _id: id<users>, email: string}\"\n".into(),
    );
    check(
        Some(legacy),
        ImportMode::Replace,
        "users/generated_schema.jsonl line 1: an inferred type",
    )
    .await;

    let mut wrong_table = good.clone();
    let text = wrong_table["messages/documents.jsonl"].clone();
    let users_text = wrong_table["users/documents.jsonl"].clone();
    wrong_table.insert(
        "messages/documents.jsonl".into(),
        format!("{}{}", text, users_text.lines().next().unwrap()),
    );
    check(
        Some(wrong_table),
        ImportMode::Replace,
        "messages/documents.jsonl line 3: _id",
    )
    .await;
}
engine_tests!(a_broken_file_changes_nothing);

/// A ZIP made by hand, as Convex's docs allow: no `_tables`, no `generated_schema.jsonl`, no
/// `_id` (new ids), numbers as floats and `$`-tagged values as the wire's; a `_storage` folder
/// and a component's table are skipped and named.
async fn a_hand_made_zip_imports_as_plain_json(engine: Engine) {
    let store = open(engine, &schema()).await;
    let mut files = BTreeMap::new();
    files.insert(
        "users/documents.jsonl".to_owned(),
        "{\"email\": \"cy@example.com\", \"age\": 30, \"big\": {\"$integer\": \"AQAAAAAAAAA=\"}}\n\
         \n\
         {\"email\": \"di@example.com\", \"_creationTime\": 1700000000000.0}\n"
            .to_owned(),
    );
    files.insert(
        "_storage/documents.jsonl".to_owned(),
        "{\"_id\": \"x\"}\n".to_owned(),
    );
    files.insert(
        "_components/limiter/limits/documents.jsonl".to_owned(),
        "{\"n\": 1}\n".to_owned(),
    );
    let path = store.path("hand.zip");
    write_zip(&path, &files);
    let summary = import(&store.db, &path, ImportMode::RequireEmpty, &Quiet)
        .await
        .unwrap();
    assert_eq!(summary.tables, vec![("users".to_owned(), 2)]);
    assert_eq!(summary.skipped.len(), 2, "{:?}", summary.skipped);
    assert!(
        summary.skipped[0].contains("_components/limiter"),
        "{:?}",
        summary.skipped
    );
    assert!(
        summary.skipped[1].contains("_storage"),
        "{:?}",
        summary.skipped
    );
    let r = store.db.reader().await.unwrap();
    let cy = user_by_email(&r, "cy@example.com").await;
    let value = Value::from_encoded_json(&Json::Object(cy.fields().clone())).unwrap();
    assert_eq!(value.as_object().unwrap()["age"], Value::Float64(30.0));
    assert_eq!(value.as_object().unwrap()["big"], Value::Int64(1));
    assert_eq!(cy.id().table, r.table_number("users").unwrap());
    let di = user_by_email(&r, "di@example.com").await;
    assert_eq!(di.creation_time(), 1700000000000.0);
}
engine_tests!(a_hand_made_zip_imports_as_plain_json);

/// An export while another task commits pairs (a user and a message naming them, one
/// transaction each) holds whole pairs only: one snapshot, however many pages it reads.
async fn an_export_during_writes_is_one_snapshot(engine: Engine) {
    let store = open(engine, &schema()).await;
    let w = store.db.writer().await.unwrap();
    for i in 0..1500 {
        let user = w
            .insert("users", json!({"email": format!("u{i}@example.com")}))
            .await
            .unwrap();
        w.insert("messages", json!({"author": user.encode(), "body": "x"}))
            .await
            .unwrap();
    }
    w.commit().await.unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let committed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writing = tokio::spawn({
        let (db, stop, committed) = (store.db.clone(), stop.clone(), committed.clone());
        async move {
            let mut pairs = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let w = db.writer().await.unwrap();
                let user = w
                    .insert(
                        "users",
                        json!({"email": format!("late{pairs}@example.com")}),
                    )
                    .await
                    .unwrap();
                w.insert("messages", json!({"author": user.encode(), "body": "y"}))
                    .await
                    .unwrap();
                w.commit().await.unwrap();
                pairs += 1;
                committed.store(pairs, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
            pairs
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let path = store.path("during.zip");
    let before = committed.load(std::sync::atomic::Ordering::Relaxed);
    export(&store.db, &path, IdForm::Convex, &Quiet)
        .await
        .unwrap();
    let after = committed.load(std::sync::atomic::Ordering::Relaxed);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writing.await.unwrap();
    assert!(after > before, "writes committed while the export read");
    let files = entries(&path);
    let ids = |table: &str, field: &str| -> Vec<String> {
        files[&format!("{table}/documents.jsonl")]
            .lines()
            .map(|l| {
                serde_json::from_str::<Json>(l).unwrap()[field]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let users: std::collections::HashSet<String> = ids("users", "_id").into_iter().collect();
    let authors = ids("messages", "author");
    assert_eq!(users.len(), authors.len(), "whole pairs only");
    assert!(users.len() >= 1500);
    assert!(
        authors.iter().all(|a| users.contains(a)),
        "every author exported"
    );
}
engine_tests!(
    an_export_during_writes_is_one_snapshot,
    flavor = "multi_thread",
    worker_threads = 2
);
