//! Dropping events from a batch on purpose (filter, sample, dedupe): the
//! batch keeps its finalizers, so what is kept still answers to them and a
//! batch emptied here finishes as delivered once dropped. It does not
//! decide what to drop, nor count it.

use logbridge_event::EventBatch;

/// Keeps the events whose flag in `keep` is set (one flag per event, in
/// order) and scales the batch's byte size to the share kept. Returns how
/// many were kept; touches nothing (no copy of shared events) when every
/// event is kept.
pub(crate) fn keep_flagged(batch: &mut EventBatch, keep: &[bool]) -> usize {
    let before = batch.len();
    let kept = keep.iter().filter(|k| **k).count();
    if kept == before {
        return kept;
    }
    let size = batch.byte_size() * kept / before.max(1);
    let mut flags = keep.iter();
    batch
        .events_mut()
        .retain(|_| *flags.next().unwrap_or(&false));
    batch.set_byte_size(size);
    kept
}

/// Splits `batch` into the events flagged in `keep` (one flag per event,
/// in order) and the others: two batches answering to the batch's
/// finalizers, with sizes in proportion.
pub(crate) fn split_flagged(mut batch: EventBatch, keep: &[bool]) -> (EventBatch, EventBatch) {
    let total = batch.len().max(1);
    let size = batch.byte_size();
    let finalizers = batch.finalizers.clone();
    let mut flags = keep.iter();
    let (kept, others): (Vec<_>, Vec<_>) = batch
        .take_events()
        .into_iter()
        .partition(|_| *flags.next().unwrap_or(&true));
    let kept_size = size * kept.len() / total;
    (
        EventBatch::with_size(kept, kept_size).with_finalizers(finalizers.clone()),
        EventBatch::with_size(others, size - kept_size).with_finalizers(finalizers),
    )
}
