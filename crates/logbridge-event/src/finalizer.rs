//! End-to-end acknowledgements.
//!
//! A source attaches a [`BatchNotifier`] to each batch it emits. Every copy
//! of the batch (fan-out, routing, sink-side merging) holds a reference in
//! its [`Finalizers`]; when the last reference is dropped the notifier's
//! callback runs once with the combined [`BatchStatus`]. Sinks drop their
//! reference only after the data is durably written, and mark the status
//! first if delivery failed for good. Events dropped on purpose (a filter)
//! simply drop their reference: that counts as delivered.
//!
//! A source may also withdraw a batch it can no longer acknowledge (a Kafka
//! partition taken away: the next owner reads those records again). A
//! component that holds events for a while (`tail_sample`) then drops them
//! instead of sending on what would be read twice, or a part of a whole.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use smallvec::SmallVec;

/// How a batch ended, combined over all its copies: the worst wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BatchStatus {
    /// Every copy was written (or intentionally discarded).
    Delivered = 0,
    /// A copy failed transiently and was given up (e.g. at shutdown).
    Errored = 1,
    /// A copy was refused for good (e.g. the destination rejected it).
    Rejected = 2,
}

impl BatchStatus {
    fn from_u8(v: u8) -> BatchStatus {
        match v {
            0 => BatchStatus::Delivered,
            1 => BatchStatus::Errored,
            _ => BatchStatus::Rejected,
        }
    }
}

type Callback = Box<dyn FnOnce(BatchStatus) + Send>;

/// Runs a callback when the last copy of a batch is finished.
pub struct BatchNotifier {
    status: AtomicU8,
    callback: Mutex<Option<Callback>>,
    /// Set by the source when it withdraws the batch; shared by the
    /// batches it may withdraw together.
    withdrawn: Option<Arc<AtomicBool>>,
}

impl BatchNotifier {
    /// A notifier calling `callback` with the combined status once every
    /// reference is dropped.
    pub fn new(callback: impl FnOnce(BatchStatus) + Send + 'static) -> Arc<BatchNotifier> {
        Arc::new(BatchNotifier {
            status: AtomicU8::new(BatchStatus::Delivered as u8),
            callback: Mutex::new(Some(Box::new(callback))),
            withdrawn: None,
        })
    }

    /// Like [`BatchNotifier::new`], for a batch the source withdraws by
    /// setting `withdrawn`.
    pub fn withdrawable(
        withdrawn: Arc<AtomicBool>,
        callback: impl FnOnce(BatchStatus) + Send + 'static,
    ) -> Arc<BatchNotifier> {
        Arc::new(BatchNotifier {
            status: AtomicU8::new(BatchStatus::Delivered as u8),
            callback: Mutex::new(Some(Box::new(callback))),
            withdrawn: Some(withdrawn),
        })
    }

    /// Whether the source withdrew the batch.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn
            .as_ref()
            .is_some_and(|w| w.load(Ordering::Acquire))
    }

    pub fn update_status(&self, status: BatchStatus) {
        self.status.fetch_max(status as u8, Ordering::AcqRel);
    }
}

impl Drop for BatchNotifier {
    fn drop(&mut self) {
        let status = BatchStatus::from_u8(*self.status.get_mut());
        let callback = match self.callback.get_mut() {
            Ok(slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(callback) = callback {
            callback(status);
        }
    }
}

impl std::fmt::Debug for BatchNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchNotifier")
            .field(
                "status",
                &BatchStatus::from_u8(self.status.load(Ordering::Acquire)),
            )
            .finish()
    }
}

/// The notifiers a batch (or a sink's merged batch) answers to.
#[derive(Debug, Clone, Default)]
pub struct Finalizers(SmallVec<[Arc<BatchNotifier>; 1]>);

impl Finalizers {
    pub fn new(notifier: Arc<BatchNotifier>) -> Finalizers {
        Finalizers(smallvec::smallvec![notifier])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Takes over `other`'s references (a sink merging batches).
    pub fn merge(&mut self, other: Finalizers) {
        self.0.extend(other.0);
    }

    /// Whether a source withdrew any of these batches.
    pub fn any_withdrawn(&self) -> bool {
        self.0.iter().any(|n| n.is_withdrawn())
    }

    pub fn update_status(&self, status: BatchStatus) {
        for n in &self.0 {
            n.update_status(status);
        }
    }

    /// Marks the status and drops the references: the explicit way for a
    /// sink to say it is done.
    pub fn finish(self, status: BatchStatus) {
        self.update_status(status);
        drop(self);
    }
}

/// Finalizers held by a task while it works on their data. If the task is
/// dropped before it calls [`HeldFinalizers::finish`] (aborted at the
/// shutdown deadline in the middle of a retry, or panicking), they finish
/// as `Errored`: data that was never written must not count as delivered.
#[derive(Debug)]
pub struct HeldFinalizers(Option<Finalizers>);

impl HeldFinalizers {
    pub fn new(finalizers: Finalizers) -> HeldFinalizers {
        HeldFinalizers(Some(finalizers))
    }

    /// The task is done with the data: finish with `status`.
    pub fn finish(mut self, status: BatchStatus) {
        if let Some(finalizers) = self.0.take() {
            finalizers.finish(status);
        }
    }

    /// Hands the finalizers on (to whatever settles them later).
    pub fn release(mut self) -> Finalizers {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for HeldFinalizers {
    fn drop(&mut self) {
        if let Some(finalizers) = self.0.take() {
            finalizers.finish(BatchStatus::Errored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn callback_runs_once_after_last_copy_with_worst_status() {
        let (tx, rx) = mpsc::channel();
        let n = BatchNotifier::new(move |s| tx.send(s).unwrap());
        let a = Finalizers::new(n);
        let b = a.clone();
        let c = a.clone();
        a.finish(BatchStatus::Delivered);
        assert!(rx.try_recv().is_err());
        b.finish(BatchStatus::Errored);
        assert!(rx.try_recv().is_err());
        drop(c);
        assert_eq!(rx.try_recv().unwrap(), BatchStatus::Errored);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn held_finalizers_dropped_unfinished_count_as_errored() {
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        let held = HeldFinalizers::new(Finalizers::new(BatchNotifier::new(move |s| {
            tx.send(s).unwrap()
        })));
        drop(held);
        assert_eq!(rx.try_recv().unwrap(), BatchStatus::Errored);
        let held = HeldFinalizers::new(Finalizers::new(BatchNotifier::new(move |s| {
            tx2.send(s).unwrap()
        })));
        held.release().finish(BatchStatus::Delivered);
        assert_eq!(rx.try_recv().unwrap(), BatchStatus::Delivered);
    }
}
