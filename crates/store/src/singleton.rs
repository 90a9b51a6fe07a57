//! Jobs that must run on one instance at a time, however many serve the database (the periodic
//! reconcile with Clerk). Before each round an instance tries to take the job's lock, without
//! waiting: when another instance holds it, this one skips the round. The lock is released
//! when the round's guard is released or dropped, and when the process holding it dies.
//!
//! Each engine says how: [`SingleNode`] for an engine one process serves (SQLite: rounds
//! always run), an advisory lock for PostgreSQL (`keel_store_postgres::PostgresSingletons`).

use async_trait::async_trait;

use crate::Result;

#[async_trait]
pub trait Singletons: Send + Sync + 'static {
    /// Takes `job`'s lock if nobody holds it, without waiting: `Ok(Some(guard))` means run the
    /// round and then release the guard; `Ok(None)` means another instance is running it.
    async fn try_acquire(&self, job: &str) -> Result<Option<SingletonGuard>>;
}

/// What an engine keeps while a job's lock is held.
#[async_trait]
pub trait HeldLock: Send + Sync {
    /// Gives the lock back (an engine without an explicit release lets drop do it).
    async fn release(self: Box<Self>);
}

/// A job's lock, held until [`SingletonGuard::release`] or drop. Dropping it without the
/// release still frees the lock (PostgreSQL's ends with its connection), only less promptly.
pub struct SingletonGuard {
    held: Option<Box<dyn HeldLock>>,
}

impl SingletonGuard {
    pub fn new(held: impl HeldLock + 'static) -> Self {
        SingletonGuard {
            held: Some(Box::new(held)),
        }
    }

    /// A guard that holds nothing: the job's only runner needs no lock.
    pub fn unlocked() -> Self {
        SingletonGuard { held: None }
    }

    pub async fn release(mut self) {
        if let Some(held) = self.held.take() {
            held.release().await;
        }
    }
}

impl std::fmt::Debug for SingletonGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingletonGuard")
            .field("locked", &self.held.is_some())
            .finish()
    }
}

/// An engine that one process serves (SQLite: one node): every round runs here.
pub struct SingleNode;

#[async_trait]
impl Singletons for SingleNode {
    async fn try_acquire(&self, _job: &str) -> Result<Option<SingletonGuard>> {
        Ok(Some(SingletonGuard::unlocked()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_single_node_always_runs_the_job() {
        let node = SingleNode;
        let first = node.try_acquire("reconcile").await.unwrap();
        let second = node.try_acquire("reconcile").await.unwrap();
        assert!(first.is_some() && second.is_some());
        first.unwrap().release().await;
    }
}
