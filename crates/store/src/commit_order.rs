//! Publishing commits in the order they committed. An engine may let the next writer commit
//! while an earlier commit still waits for its fsync, and the waits can end in any order
//! (tasks are woken in any order), but live queries must see commits in timestamp order. A
//! writer takes a ticket while it still holds the write lock, so tickets follow commit order,
//! and publishes only when every earlier ticket is done.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

pub(crate) struct CommitOrder {
    state: Mutex<State>,
    /// The next ticket allowed to publish.
    next: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    issued: u64,
    next: u64,
    /// Tickets given up before their turn (a commit future dropped mid-way): skipped.
    abandoned: BTreeSet<u64>,
}

impl CommitOrder {
    pub fn new() -> Self {
        CommitOrder {
            state: Mutex::new(State::default()),
            next: watch::Sender::new(0),
        }
    }

    /// A place in line; take it while holding the write lock, before committing.
    pub fn ticket(&self) -> Ticket<'_> {
        let mut state = self.lock();
        let number = state.issued;
        state.issued += 1;
        Ticket {
            order: self,
            number,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends `number`'s place in line, whether or not it was its turn yet.
    fn done(&self, number: u64) {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.next != number {
            state.abandoned.insert(number);
            return;
        }
        state.next += 1;
        while state.abandoned.remove(&state.next) {
            state.next += 1;
        }
        self.next.send_replace(state.next);
    }
}

/// Dropping a ticket ends its place in line, so a later commit never waits for it forever.
pub(crate) struct Ticket<'a> {
    order: &'a CommitOrder,
    number: u64,
}

impl Ticket<'_> {
    /// Waits until every earlier ticket is done; publish, then drop the ticket.
    pub async fn turn(&self) {
        let mut next = self.order.next.subscribe();
        // The sender lives as long as `self.order`, which this ticket borrows.
        let _ = next.wait_for(|next| *next == self.number).await;
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.order.done(self.number);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn turns_follow_ticket_order_whatever_order_the_waits_end_in() {
        let order = Arc::new(CommitOrder::new());
        let (published, mut seen) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        // Tickets 0..8 taken in order; later tickets finish their "fsync" sooner.
        for number in 0..8u64 {
            let order = Arc::clone(&order);
            let published = published.clone();
            let ticket_taken = tokio::sync::oneshot::channel::<()>();
            tasks.push(tokio::spawn(async move {
                let ticket = order.ticket();
                let _ = ticket_taken.0.send(());
                tokio::time::sleep(Duration::from_millis(40 - 5 * number)).await;
                ticket.turn().await;
                published.send(number).unwrap();
            }));
            ticket_taken.1.await.unwrap();
        }
        for task in tasks {
            task.await.unwrap();
        }
        drop(published);
        let mut got = Vec::new();
        while let Some(number) = seen.recv().await {
            got.push(number);
        }
        assert_eq!(got, (0..8).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn an_abandoned_ticket_does_not_block_later_ones() {
        let order = CommitOrder::new();
        let first = order.ticket();
        let second = order.ticket();
        let third = order.ticket();
        drop(second); // gave up before its turn
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), third.turn())
            .await
            .expect("the third ticket's turn comes once the first is done");
    }
}
