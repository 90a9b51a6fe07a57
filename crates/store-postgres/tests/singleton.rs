//! A job's advisory lock, as two instances on one database see it.

use std::time::{Duration, Instant};

use keel_store::singleton::Singletons;
use keel_store_postgres::PostgresSingletons;
use keel_store_postgres::testing::TestDatabase;

#[tokio::test]
async fn one_holder_at_a_time_and_the_others_skip() {
    let db = TestDatabase::create().await;
    let a = PostgresSingletons::new(&db.settings()).unwrap();
    let b = PostgresSingletons::new(&db.settings()).unwrap();

    let held = a.try_acquire("reconcile").await.unwrap().expect("free");
    assert!(b.try_acquire("reconcile").await.unwrap().is_none());
    assert!(
        a.try_acquire("reconcile").await.unwrap().is_none(),
        "not even the same instance takes it twice"
    );
    let other_job = b.try_acquire("another job").await.unwrap();
    assert!(other_job.is_some(), "jobs do not exclude each other");

    held.release().await;
    let taken = b.try_acquire("reconcile").await.unwrap();
    assert!(taken.is_some(), "released, it is anyone's");
}

/// A holder that goes away without releasing (its process dies, or the guard is dropped):
/// the lock ends with its connection.
#[tokio::test]
async fn a_holder_that_goes_away_frees_the_lock() {
    let db = TestDatabase::create().await;
    let a = PostgresSingletons::new(&db.settings()).unwrap();
    let b = PostgresSingletons::new(&db.settings()).unwrap();
    let held = a.try_acquire("reconcile").await.unwrap().expect("free");
    drop(held);
    // The server ends the dropped connection's session when it reads the close.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if b.try_acquire("reconcile").await.unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lock outlived its connection"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The lock is the database's: a holder on another database does not stop this one.
#[tokio::test]
async fn databases_do_not_share_locks() {
    let one = TestDatabase::create().await;
    let two = TestDatabase::create().await;
    let on_one = PostgresSingletons::new(&one.settings()).unwrap();
    let on_two = PostgresSingletons::new(&two.settings()).unwrap();
    let _held = on_one
        .try_acquire("reconcile")
        .await
        .unwrap()
        .expect("free");
    assert!(on_two.try_acquire("reconcile").await.unwrap().is_some());
}
