//! A bounded queue filled from LiveKit's event thread and drained by async
//! readers: the oldest item is dropped when full, never blocking the
//! producer.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::Notify;

pub(crate) struct DropOldest<T> {
    items: Mutex<VecDeque<T>>,
    notify: Notify,
    closed: AtomicBool,
    capacity: usize,
    received: AtomicU64,
    dropped: AtomicU64,
}

impl<T> DropOldest<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            items: Mutex::new(VecDeque::with_capacity(capacity + 1)),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
            capacity: capacity.max(1),
            received: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Adds an item; evicts (and drops, outside the lock) the oldest if full.
    pub(crate) fn push(&self, item: T) {
        self.received.fetch_add(1, Ordering::Relaxed);
        let evicted = {
            let mut q = self.items.lock();
            q.push_back(item);
            if q.len() > self.capacity {
                q.pop_front()
            } else {
                None
            }
        };
        if evicted.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        drop(evicted);
        self.notify.notify_one();
    }

    /// No more items will come; readers get `None` once it is empty.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// The oldest item, or with `newest` the newest (dropping the rest).
    pub(crate) async fn pop(&self, newest: bool) -> Option<T> {
        loop {
            let notified = self.notify.notified();
            let skipped = {
                let mut q = self.items.lock();
                let keep_from = if newest { q.len().saturating_sub(1) } else { 0 };
                let skipped: Vec<T> = q.drain(..keep_from).collect();
                if let Some(item) = q.pop_front() {
                    self.dropped
                        .fetch_add(skipped.len() as u64, Ordering::Relaxed);
                    return Some(item);
                }
                skipped
            };
            drop(skipped);
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            notified.await;
        }
    }

    pub(crate) fn clear(&self) {
        let items: Vec<T> = self.items.lock().drain(..).collect();
        drop(items);
    }

    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_newest_and_counts_drops() {
        let q = DropOldest::new(2);
        for i in 0..5 {
            q.push(i);
        }
        assert_eq!(q.dropped(), 3);
        assert_eq!(q.pop(false).await, Some(3));
        q.push(5);
        q.push(6);
        assert_eq!(q.pop(true).await, Some(6));
        assert_eq!((q.received(), q.dropped()), (7, 5));
        q.close();
        assert_eq!(q.pop(false).await, None);
    }
}
