//! [`EventBatch`]: the unit components exchange.
//!
//! The events sit behind an `Arc`, so fan-out to several consumers clones a
//! pointer, not the events; a consumer that changes events gets its own copy
//! only if another consumer still shares them (copy on write).

use std::sync::Arc;

use crate::event::Event;
use crate::finalizer::Finalizers;

#[derive(Debug, Clone, Default)]
pub struct EventBatch {
    events: Arc<Vec<Event>>,
    /// Estimated size in bytes; used to bound channels and buffers.
    byte_size: usize,
    pub finalizers: Finalizers,
}

impl EventBatch {
    /// A batch whose size is estimated from its events.
    pub fn new(events: Vec<Event>) -> EventBatch {
        let byte_size = events.iter().map(Event::estimated_size).sum();
        EventBatch::with_size(events, byte_size)
    }

    /// A batch whose size the caller already knows (e.g. the bytes read).
    pub fn with_size(events: Vec<Event>, byte_size: usize) -> EventBatch {
        EventBatch {
            events: Arc::new(events),
            byte_size,
            finalizers: Finalizers::default(),
        }
    }

    pub fn with_finalizers(mut self, finalizers: Finalizers) -> EventBatch {
        self.finalizers = finalizers;
        self
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Mutable access; copies the events if another consumer shares them.
    pub fn events_mut(&mut self) -> &mut Vec<Event> {
        Arc::make_mut(&mut self.events)
    }

    /// Takes the events out, copying only if they are shared.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.byte_size = 0;
        let events = std::mem::take(&mut self.events);
        Arc::try_unwrap(events).unwrap_or_else(|shared| (*shared).clone())
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn byte_size(&self) -> usize {
        self.byte_size
    }

    pub fn set_byte_size(&mut self, byte_size: usize) {
        self.byte_size = byte_size;
    }

    /// A new batch of `events` answering to the same finalizers, with a size
    /// in proportion to the share of events it holds.
    pub fn derive(&self, events: Vec<Event>) -> EventBatch {
        let share = if self.events.is_empty() {
            0
        } else {
            self.byte_size.saturating_mul(events.len()) / self.events.len()
        };
        EventBatch {
            events: Arc::new(events),
            byte_size: share,
            finalizers: self.finalizers.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogRecord;

    #[test]
    fn clones_share_until_written() {
        let mut a = EventBatch::new(vec![Event::Log(LogRecord::default())]);
        let b = a.clone();
        assert!(std::ptr::eq(a.events().as_ptr(), b.events().as_ptr()));
        a.events_mut().clear();
        assert_eq!(b.len(), 1);
        assert_eq!(a.len(), 0);
    }
}
