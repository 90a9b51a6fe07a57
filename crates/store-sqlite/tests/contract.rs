//! The store's engine contract, on a temporary SQLite file.

use std::sync::Arc;

use keel_store::engine::Engine;
use keel_store::testing::OpenEngine;
use keel_store_sqlite::SqliteEngine;

async fn sqlite() -> (tempfile::TempDir, OpenEngine) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.db").to_string_lossy().into_owned();
    let open: OpenEngine = Box::new(move || {
        let path = path.clone();
        Box::pin(async move {
            Arc::new(SqliteEngine::open(&path).await.expect("open sqlite")) as Arc<dyn Engine>
        })
    });
    (dir, open)
}

keel_store::engine_contract_tests!(sqlite());
