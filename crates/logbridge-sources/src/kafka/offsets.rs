//! Turning acknowledgements into the offset to commit, per partition.
//!
//! Batches of one partition are sent in offset order and acknowledged in
//! any order; the offset to commit advances only over the longest prefix of
//! batches, in send order, that were all delivered. A batch that errored or
//! was rejected stops the partition's commits until it is assigned again
//! (after a restart or a rebalance the group resumes before that batch, so
//! nothing is lost). Each assignment of a partition is a new generation:
//! late acknowledgements of a revoked assignment change nothing. Pure
//! bookkeeping: no I/O, no clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use logbridge_event::BatchStatus;

/// A topic and partition.
pub(crate) type PartitionKey = (String, i32);

/// Identifies one sent batch in its acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchTicket {
    pub key: PartitionKey,
    pub generation: u64,
    pub seq: u64,
}

#[derive(Debug)]
struct Slot {
    /// The batch's last record: delivered once it and everything before
    /// it is.
    last_offset: i64,
    status: Option<BatchStatus>,
}

#[derive(Debug)]
struct Partition {
    generation: u64,
    /// Set when the partition is revoked: its batches still in flight
    /// are withdrawn (the next owner reads them again).
    withdrawn: Arc<AtomicBool>,
    /// Sequence number of `pending[0]`.
    first_seq: u64,
    next_seq: u64,
    pending: VecDeque<Slot>,
    blocked: bool,
}

/// What to do after an acknowledgement.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// Nothing to store (not the head of the line, or a stale ticket).
    Nothing,
    /// Every record up to this offset is delivered.
    Store(i64),
    /// The batch failed: the partition stops committing.
    Blocked,
}

/// The assigned partitions and their batches in flight.
#[derive(Debug, Default)]
pub(crate) struct Offsets {
    partitions: HashMap<PartitionKey, Partition>,
    next_generation: u64,
}

impl Offsets {
    /// Starts a new generation for a partition just assigned.
    pub(crate) fn assign(&mut self, key: PartitionKey) {
        self.next_generation += 1;
        self.partitions.insert(
            key,
            Partition {
                generation: self.next_generation,
                withdrawn: Arc::default(),
                first_seq: 0,
                next_seq: 0,
                pending: VecDeque::new(),
                blocked: false,
            },
        );
    }

    /// Forgets a revoked partition and withdraws its batches in flight;
    /// their late acknowledgements are ignored.
    pub(crate) fn revoke(&mut self, key: &PartitionKey) {
        if let Some(p) = self.partitions.remove(key) {
            p.withdrawn.store(true, Ordering::Release);
        }
    }

    /// Withdraws the partition's batches in flight as its revocation
    /// begins: what decides on them from now on (`tail_sample`) sees only
    /// what was read before, and must leave them to the next owner.
    pub(crate) fn withdraw(&self, key: &PartitionKey) {
        if let Some(p) = self.partitions.get(key) {
            p.withdrawn.store(true, Ordering::Release);
        }
    }

    /// The flag that withdraws the partition's batches when it is revoked.
    pub(crate) fn withdrawal(&self, key: &PartitionKey) -> Option<Arc<AtomicBool>> {
        self.partitions.get(key).map(|p| p.withdrawn.clone())
    }

    pub(crate) fn is_assigned(&self, key: &PartitionKey) -> bool {
        self.partitions.contains_key(key)
    }

    pub(crate) fn generation(&self, key: &PartitionKey) -> Option<u64> {
        self.partitions.get(key).map(|p| p.generation)
    }

    /// Records a batch about to be sent whose last record is at
    /// `last_offset`; `None` if the partition is not assigned.
    pub(crate) fn register(&mut self, key: &PartitionKey, last_offset: i64) -> Option<BatchTicket> {
        let p = self.partitions.get_mut(key)?;
        let seq = p.next_seq;
        p.next_seq += 1;
        p.pending.push_back(Slot {
            last_offset,
            status: None,
        });
        Some(BatchTicket {
            key: key.clone(),
            generation: p.generation,
            seq,
        })
    }

    /// Applies an acknowledgement.
    pub(crate) fn ack(&mut self, ticket: &BatchTicket, status: BatchStatus) -> AckOutcome {
        let Some(p) = self.partitions.get_mut(&ticket.key) else {
            return AckOutcome::Nothing;
        };
        if p.generation != ticket.generation || p.blocked {
            return AckOutcome::Nothing;
        }
        let Some(slot) = ticket
            .seq
            .checked_sub(p.first_seq)
            .and_then(|i| p.pending.get_mut(i as usize))
        else {
            return AckOutcome::Nothing;
        };
        slot.status = Some(status);
        if status != BatchStatus::Delivered {
            p.blocked = true;
            p.pending.clear();
            return AckOutcome::Blocked;
        }
        let mut store = None;
        while let Some(Slot {
            status: Some(BatchStatus::Delivered),
            last_offset,
        }) = p.pending.front()
        {
            store = Some(*last_offset);
            p.pending.pop_front();
            p.first_seq += 1;
        }
        store.map_or(AckOutcome::Nothing, AckOutcome::Store)
    }

    /// Batches of `key` still waiting for their acknowledgement.
    pub(crate) fn in_flight(&self, key: &PartitionKey) -> usize {
        self.partitions.get(key).map_or(0, |p| p.pending.len())
    }

    /// Batches in flight over every partition.
    pub(crate) fn total_in_flight(&self) -> usize {
        self.partitions.values().map(|p| p.pending.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: i32) -> PartitionKey {
        ("logs".to_owned(), p)
    }

    #[test]
    fn revoking_withdraws_the_batches_of_that_assignment_only() {
        let mut o = Offsets::default();
        o.assign(key(0));
        o.assign(key(1));
        let first = o.withdrawal(&key(0)).unwrap();
        let other = o.withdrawal(&key(1)).unwrap();
        o.revoke(&key(0));
        assert!(first.load(Ordering::Acquire));
        assert!(!other.load(Ordering::Acquire));
        assert!(o.withdrawal(&key(0)).is_none());
        // Assigned again: a new flag, not withdrawn.
        o.assign(key(0));
        assert!(!o.withdrawal(&key(0)).unwrap().load(Ordering::Acquire));
    }

    #[test]
    fn commits_the_delivered_prefix_in_send_order() {
        let mut o = Offsets::default();
        o.assign(key(0));
        let a = o.register(&key(0), 9).unwrap();
        let b = o.register(&key(0), 19).unwrap();
        let c = o.register(&key(0), 29).unwrap();
        assert_eq!(o.ack(&b, BatchStatus::Delivered), AckOutcome::Nothing);
        assert_eq!(o.ack(&a, BatchStatus::Delivered), AckOutcome::Store(19));
        assert_eq!(o.in_flight(&key(0)), 1);
        assert_eq!(o.ack(&c, BatchStatus::Delivered), AckOutcome::Store(29));
        assert_eq!(o.total_in_flight(), 0);
    }

    #[test]
    fn a_failed_batch_blocks_the_partition_only() {
        let mut o = Offsets::default();
        o.assign(key(0));
        o.assign(key(1));
        let a = o.register(&key(0), 9).unwrap();
        let b = o.register(&key(0), 19).unwrap();
        let other = o.register(&key(1), 4).unwrap();
        assert_eq!(o.ack(&a, BatchStatus::Errored), AckOutcome::Blocked);
        assert_eq!(o.ack(&b, BatchStatus::Delivered), AckOutcome::Nothing);
        assert_eq!(o.ack(&other, BatchStatus::Delivered), AckOutcome::Store(4));
    }

    #[test]
    fn late_acknowledgements_of_a_revoked_assignment_are_ignored() {
        let mut o = Offsets::default();
        o.assign(key(0));
        let old = o.register(&key(0), 99).unwrap();
        o.revoke(&key(0));
        assert_eq!(o.ack(&old, BatchStatus::Delivered), AckOutcome::Nothing);
        o.assign(key(0));
        let new = o.register(&key(0), 49).unwrap();
        assert_eq!(o.ack(&old, BatchStatus::Delivered), AckOutcome::Nothing);
        assert_eq!(o.ack(&new, BatchStatus::Delivered), AckOutcome::Store(49));
        assert!(o.register(&key(7), 1).is_none());
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever the order of acknowledgements, the stored offset only
        /// grows, never passes an unacknowledged batch, and ends at the last
        /// batch once all are delivered.
        #[test]
        fn stored_offsets_follow_the_delivered_prefix(order in Just((0..20usize).collect::<Vec<_>>()).prop_shuffle()) {
            let mut o = Offsets::default();
            o.assign(key(0));
            let tickets: Vec<BatchTicket> = (0..20).map(|i| o.register(&key(0), i * 10 + 9).unwrap()).collect();
            let mut acked = [false; 20];
            let mut stored = -1;
            for i in order {
                acked[i] = true;
                if let AckOutcome::Store(last) = o.ack(&tickets[i], BatchStatus::Delivered) {
                    prop_assert!(last > stored);
                    let prefix = acked.iter().take_while(|a| **a).count() as i64;
                    prop_assert_eq!(last, prefix * 10 - 1);
                    stored = last;
                }
            }
            prop_assert_eq!(stored, 199);
            prop_assert_eq!(o.total_in_flight(), 0);
        }
    }
}
