//! Publishing commits in the order they committed. An engine may let the next writer commit
//! while an earlier commit still waits for its fsync, and the waits can end in any order
//! (tasks are woken in any order), but live queries must see commits in timestamp order. A
//! writer takes a ticket while it still holds the write lock, so tickets follow commit order,
//! and publishes only when every earlier ticket is done.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

pub(crate) struct CommitOrder {
    issued: AtomicU64,
    line: watch::Sender<Line>,
}

#[derive(Default)]
struct Line {
    /// The next ticket allowed to publish.
    next: u64,
    /// Tickets given up before their turn (a commit future dropped mid-way): skipped.
    abandoned: BTreeSet<u64>,
}

impl CommitOrder {
    pub fn new() -> Self {
        CommitOrder {
            issued: AtomicU64::new(0),
            line: watch::Sender::new(Line::default()),
        }
    }

    /// A place in line; take it while holding the write lock, before committing.
    pub fn ticket(&self) -> Ticket<'_> {
        Ticket {
            order: self,
            number: self.issued.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Ends `number`'s place in line, whether or not it was its turn yet; wakes the waiters
    /// only when the line moves.
    fn done(&self, number: u64) {
        self.line.send_if_modified(|line| {
            if line.next != number {
                line.abandoned.insert(number);
                return false;
            }
            line.next += 1;
            while line.abandoned.remove(&line.next) {
                line.next += 1;
            }
            true
        });
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
        let mut line = self.order.line.subscribe();
        // The sender lives as long as `self.order`, which this ticket borrows.
        let _ = line.wait_for(|line| line.next == self.number).await;
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
