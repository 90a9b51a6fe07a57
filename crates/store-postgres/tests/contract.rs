//! The store's engine contract, each test on a fresh PostgreSQL database (see
//! `keel_store_postgres::testing`).

use std::sync::Arc;

use keel_store::engine::Engine;
use keel_store::testing::OpenEngine;
use keel_store_postgres::PostgresEngine;
use keel_store_postgres::testing::TestDatabase;

async fn postgres() -> (TestDatabase, OpenEngine) {
    let database = TestDatabase::create().await;
    let settings = database.settings();
    let open: OpenEngine = Box::new(move || {
        let settings = settings.clone();
        Box::pin(async move {
            Arc::new(
                PostgresEngine::open(&settings)
                    .await
                    .expect("open postgres"),
            ) as Arc<dyn Engine>
        })
    });
    (database, open)
}

keel_store::engine_contract_tests!(postgres());
