//! Turning acknowledgements into a committed offset, per file.
//!
//! Batches of one file are acknowledged in any order; the committed offset
//! advances only over the longest prefix of batches, in send order, that
//! were all delivered. A batch that errored or was rejected stops the
//! commit for good (for this run): its lines, and every line after it, will
//! be read again after a restart. Pure bookkeeping: no I/O, no clock.

use std::collections::VecDeque;

use logbridge_event::BatchStatus;

use super::identity::FileKey;

/// One sent batch (or a stretch of skipped lines) waiting for its turn.
#[derive(Debug)]
struct Slot {
    /// File offset just past the batch's last line.
    end: u64,
    /// `None` while the batch is in flight.
    status: Option<BatchStatus>,
}

/// What an acknowledgement changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct AckOutcome {
    /// The new committed offset, if it moved.
    pub committed: Option<u64>,
    /// Whether this acknowledgement stopped the commit.
    pub newly_blocked: bool,
}

/// The pending batches of one generation of one file (a truncated file
/// starts a new generation, so late acknowledgements of its old content
/// cannot move the new content's offset).
#[derive(Debug)]
pub(super) struct Tracker {
    pub key: FileKey,
    /// Sequence number of `pending[0]`.
    first_seq: u64,
    next_seq: u64,
    pending: VecDeque<Slot>,
    committed: u64,
    blocked: bool,
    /// Whether a reader still feeds this tracker; a detached tracker is
    /// dropped once nothing is pending.
    pub attached: bool,
}

impl Tracker {
    pub(super) fn new(key: FileKey, committed: u64) -> Tracker {
        Tracker {
            key,
            first_seq: 0,
            next_seq: 0,
            pending: VecDeque::new(),
            committed,
            blocked: false,
            attached: true,
        }
    }

    /// Records a batch ending at `end`, about to be sent; its sequence
    /// number for the acknowledgement.
    pub(super) fn register(&mut self, end: u64) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if !self.blocked {
            self.pending.push_back(Slot { end, status: None });
        }
        seq
    }

    /// Lines up to `end` need no acknowledgement (they were all skipped as
    /// overlong). Returns the new committed offset if it moved.
    pub(super) fn skip_to(&mut self, end: u64) -> Option<u64> {
        if self.blocked {
            return None;
        }
        if self.pending.is_empty() {
            self.committed = end;
            return Some(end);
        }
        self.next_seq += 1;
        self.pending.push_back(Slot {
            end,
            status: Some(BatchStatus::Delivered),
        });
        None
    }

    pub(super) fn ack(&mut self, seq: u64, status: BatchStatus) -> AckOutcome {
        let mut outcome = AckOutcome::default();
        if self.blocked {
            return outcome;
        }
        let Some(slot) = seq
            .checked_sub(self.first_seq)
            .and_then(|i| self.pending.get_mut(i as usize))
        else {
            return outcome;
        };
        slot.status = Some(status);
        while let Some(front) = self.pending.front() {
            match front.status {
                None => break,
                Some(BatchStatus::Delivered) => {
                    self.committed = front.end;
                    outcome.committed = Some(front.end);
                    self.pending.pop_front();
                    self.first_seq += 1;
                }
                Some(BatchStatus::Errored | BatchStatus::Rejected) => {
                    // Nothing after this batch can be committed in this run:
                    // stop tracking, so memory does not grow with the file.
                    self.blocked = true;
                    self.pending.clear();
                    outcome.newly_blocked = true;
                    break;
                }
            }
        }
        outcome
    }

    pub(super) fn committed(&self) -> u64 {
        self.committed
    }

    /// Nothing in flight that could still move the committed offset.
    pub(super) fn is_settled(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BatchStatus::{Delivered, Errored, Rejected};

    fn tracker() -> Tracker {
        Tracker::new(
            FileKey {
                dev: 1,
                inode: 2,
                checksum: 3,
            },
            0,
        )
    }

    fn committed(c: u64) -> AckOutcome {
        AckOutcome {
            committed: Some(c),
            newly_blocked: false,
        }
    }

    #[test]
    fn commits_only_a_contiguous_delivered_prefix() {
        let mut t = tracker();
        let a = t.register(10);
        let b = t.register(20);
        let c = t.register(30);
        assert_eq!(t.ack(c, Delivered), AckOutcome::default());
        assert_eq!(t.ack(b, Delivered), AckOutcome::default());
        assert_eq!(t.committed(), 0);
        assert_eq!(t.ack(a, Delivered), committed(30));
        assert!(t.is_settled());
    }

    #[test]
    fn a_failed_batch_blocks_everything_after_it() {
        for failure in [Errored, Rejected] {
            let mut t = tracker();
            let a = t.register(10);
            let b = t.register(20);
            let c = t.register(30);
            assert_eq!(t.ack(a, Delivered), committed(10));
            assert_eq!(t.ack(c, Delivered), AckOutcome::default());
            assert_eq!(
                t.ack(b, failure),
                AckOutcome {
                    committed: None,
                    newly_blocked: true
                }
            );
            let d = t.register(40);
            assert_eq!(t.ack(d, Delivered), AckOutcome::default());
            assert_eq!(t.committed(), 10);
            assert!(t.is_settled());
        }
    }

    #[test]
    fn skipped_lines_commit_in_order() {
        let mut t = tracker();
        assert_eq!(t.skip_to(5), Some(5));
        let a = t.register(10);
        assert_eq!(t.skip_to(15), None);
        let b = t.register(20);
        assert_eq!(t.ack(a, Delivered), committed(15));
        assert_eq!(t.ack(b, Delivered), committed(20));
        // Unknown or repeated sequence numbers change nothing.
        assert_eq!(t.ack(b, Errored), AckOutcome::default());
        assert_eq!(t.ack(99, Errored), AckOutcome::default());
        assert_eq!(t.committed(), 20);
    }
}
