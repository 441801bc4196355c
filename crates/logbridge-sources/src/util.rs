//! Small helpers shared by sources: batching of lines.

use bytes::Bytes;
use logbridge_event::{Event, EventBatch, LogRecord};

/// Collects lines into log events until a batch is full.
pub(crate) struct LineBatcher {
    events: Vec<Event>,
    bytes: usize,
    max_events: usize,
}

impl LineBatcher {
    pub(crate) fn new(max_events: usize) -> LineBatcher {
        LineBatcher {
            events: Vec::with_capacity(max_events),
            bytes: 0,
            max_events,
        }
    }

    /// Adds a line; true when the batch is full.
    pub(crate) fn push(&mut self, line: Bytes, observed: i64) -> bool {
        self.bytes += line.len();
        self.events
            .push(Event::Log(LogRecord::from_line(line, observed)));
        self.events.len() >= self.max_events
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub(crate) fn take(&mut self) -> EventBatch {
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(self.max_events));
        EventBatch::with_size(events, std::mem::take(&mut self.bytes))
    }
}
