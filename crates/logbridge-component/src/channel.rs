//! Bounded channels between components.
//!
//! A channel is bounded twice: in events and in bytes (estimated). A sender
//! waits for room in both before its batch is queued, so a slow consumer
//! slows its producers and memory stays bounded whatever the input rate. A
//! batch larger than the whole channel is let through alone once the
//! channel is empty, so it cannot wait forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use logbridge_event::EventBatch;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// What a full queue does with the next batch: a channel's (here), a disk
/// buffer's (`logbridge-buffer`) and a sink's `buffer.when_full` option
/// (`block`, `drop_newest`) are this one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Wait for room: a slow consumer slows its producers (a disk buffer
    /// waits for the reader's acknowledgements to free space).
    #[default]
    Block,
    /// Drop the batch and count it; producers never wait. A channel
    /// resolves the batch's finalizers as delivered (the user chose to lose
    /// data over slowing down); a disk buffer counts it as discarded and
    /// marks them `Errored`.
    DropNewest,
}

struct Limits {
    events: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    max_events: usize,
    max_bytes: usize,
    when_full: WhenFull,
    /// Events refused because the channel was full (`drop_newest`).
    dropped: AtomicU64,
}

struct Item {
    batch: EventBatch,
    _events: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// The sending half; cheap to clone (one per upstream).
#[derive(Clone)]
pub struct BatchSender {
    tx: mpsc::UnboundedSender<Item>,
    limits: Arc<Limits>,
}

/// The receiving half; the channel ends when every sender is dropped.
pub struct BatchReceiver {
    rx: mpsc::UnboundedReceiver<Item>,
    limits: Arc<Limits>,
}

/// The consumer went away; the batch is handed back.
#[derive(Debug)]
pub struct SendError(pub EventBatch);

/// A channel holding at most `max_events` events and `max_bytes` bytes.
pub fn bounded(max_events: usize, max_bytes: usize) -> (BatchSender, BatchReceiver) {
    bounded_with(max_events, max_bytes, WhenFull::Block)
}

/// A channel holding at most `max_events` events and `max_bytes` bytes,
/// with a choice of what to do when full.
pub fn bounded_with(
    max_events: usize,
    max_bytes: usize,
    when_full: WhenFull,
) -> (BatchSender, BatchReceiver) {
    let max_events = max_events.clamp(1, Semaphore::MAX_PERMITS);
    let max_bytes = max_bytes.clamp(1, Semaphore::MAX_PERMITS);
    let limits = Arc::new(Limits {
        events: Arc::new(Semaphore::new(max_events)),
        bytes: Arc::new(Semaphore::new(max_bytes)),
        max_events,
        max_bytes,
        when_full,
        dropped: AtomicU64::new(0),
    });
    let (tx, rx) = mpsc::unbounded_channel();
    (
        BatchSender {
            tx,
            limits: limits.clone(),
        },
        BatchReceiver { rx, limits },
    )
}

fn permits(n: usize, max: usize) -> u32 {
    // A batch larger than the channel takes the whole channel.
    u32::try_from(n.clamp(1, max)).unwrap_or(u32::MAX)
}

impl BatchSender {
    /// Queues `batch`, waiting while the channel is full.
    pub async fn send(&self, batch: EventBatch) -> Result<(), SendError> {
        let l = &self.limits;
        if l.when_full == WhenFull::DropNewest {
            return self.send_or_drop(batch).map(drop);
        }
        let events = l
            .events
            .clone()
            .acquire_many_owned(permits(batch.len(), l.max_events))
            .await;
        let bytes = l
            .bytes
            .clone()
            .acquire_many_owned(permits(batch.byte_size(), l.max_bytes))
            .await;
        let (Ok(events), Ok(bytes)) = (events, bytes) else {
            return Err(SendError(batch));
        };
        self.tx
            .send(Item {
                batch,
                _events: events,
                _bytes: bytes,
            })
            .map_err(|e| SendError(e.0.batch))
    }

    /// Queues `batch` if there is room now; otherwise drops it and returns
    /// `Ok(false)`.
    pub fn send_or_drop(&self, batch: EventBatch) -> Result<bool, SendError> {
        let l = &self.limits;
        let events = l
            .events
            .clone()
            .try_acquire_many_owned(permits(batch.len(), l.max_events));
        let bytes = l
            .bytes
            .clone()
            .try_acquire_many_owned(permits(batch.byte_size(), l.max_bytes));
        let (Ok(events), Ok(bytes)) = (events, bytes) else {
            if self.tx.is_closed() {
                return Err(SendError(batch));
            }
            l.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
            return Ok(false);
        };
        self.tx
            .send(Item {
                batch,
                _events: events,
                _bytes: bytes,
            })
            .map(|()| true)
            .map_err(|e| SendError(e.0.batch))
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl BatchReceiver {
    /// The next batch; `None` once every sender is gone and the channel is
    /// empty.
    pub async fn recv(&mut self) -> Option<EventBatch> {
        self.rx.recv().await.map(|item| item.batch)
    }

    /// A batch if one is queued now.
    pub fn try_recv(&mut self) -> Option<EventBatch> {
        self.rx.try_recv().ok().map(|item| item.batch)
    }

    /// A handle that reports how full the channel is.
    pub fn usage(&self) -> ChannelUsage {
        ChannelUsage {
            limits: self.limits.clone(),
        }
    }
}

/// Reads a channel's fill level (for the buffer gauges).
#[derive(Clone)]
pub struct ChannelUsage {
    limits: Arc<Limits>,
}

impl ChannelUsage {
    pub fn events(&self) -> usize {
        self.limits.max_events - self.limits.events.available_permits()
    }
    pub fn bytes(&self) -> usize {
        self.limits.max_bytes - self.limits.bytes.available_permits()
    }
    pub fn max_events(&self) -> usize {
        self.limits.max_events
    }
    pub fn max_bytes(&self) -> usize {
        self.limits.max_bytes
    }
    /// Events refused because the channel was full (`drop_newest`).
    pub fn dropped_events(&self) -> u64 {
        self.limits.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for BatchReceiver {
    /// A consumer that ends before its input does (it failed, or gave up at
    /// shutdown) never handled what is still queued: those batches are not
    /// delivered, so their sources must not commit past them.
    fn drop(&mut self) {
        self.rx.close();
        while let Ok(item) = self.rx.try_recv() {
            item.batch
                .finalizers
                .update_status(logbridge_event::BatchStatus::Errored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_event::{Event, LogRecord};
    use std::time::Duration;

    fn batch(n: usize, bytes: usize) -> EventBatch {
        EventBatch::with_size(vec![Event::Log(LogRecord::default()); n], bytes)
    }

    #[tokio::test(start_paused = true)]
    async fn full_channel_blocks_until_drained() {
        let (tx, mut rx) = bounded(10, 1000);
        tx.send(batch(8, 100)).await.unwrap();
        let usage = rx.usage();
        assert_eq!(usage.events(), 8);
        let blocked = tokio::time::timeout(Duration::from_secs(1), tx.send(batch(5, 10))).await;
        assert!(blocked.is_err(), "events bound must block");
        assert_eq!(rx.recv().await.unwrap().len(), 8);
        tx.send(batch(5, 10)).await.unwrap();
        assert_eq!(usage.events(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_bound_blocks_too() {
        let (tx, mut rx) = bounded(1000, 100);
        tx.send(batch(1, 90)).await.unwrap();
        let blocked = tokio::time::timeout(Duration::from_secs(1), tx.send(batch(1, 20))).await;
        assert!(blocked.is_err(), "bytes bound must block");
        rx.recv().await.unwrap();
        // Larger than the channel: goes through alone.
        tx.send(batch(1, 10_000)).await.unwrap();
        assert_eq!(rx.usage().bytes(), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn drop_newest_never_waits_and_counts() {
        let (tx, mut rx) = bounded_with(10, 1000, WhenFull::DropNewest);
        tx.send(batch(8, 10)).await.unwrap();
        // No room: dropped at once, not queued.
        tokio::time::timeout(Duration::from_millis(1), tx.send(batch(5, 10)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rx.usage().dropped_events(), 5);
        assert_eq!(rx.recv().await.unwrap().len(), 8);
        assert!(rx.try_recv().is_none());
    }

    #[tokio::test]
    async fn ends_when_senders_drop() {
        let (tx, mut rx) = bounded(10, 10);
        drop(tx);
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn batches_left_in_a_dropped_receiver_are_not_delivered() {
        use logbridge_event::{BatchNotifier, BatchStatus, Finalizers};
        let (tx, rx) = bounded(10, 1000);
        let (status_tx, status_rx) = std::sync::mpsc::channel();
        let notifier = BatchNotifier::new(move |s| status_tx.send(s).unwrap());
        tx.send(batch(1, 10).with_finalizers(Finalizers::new(notifier)))
            .await
            .unwrap();
        drop(rx);
        assert_eq!(status_rx.try_recv().unwrap(), BatchStatus::Errored);
        assert!(tx.send(batch(1, 10)).await.is_err());
    }
}
