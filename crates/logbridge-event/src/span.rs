//! [`Span`]: a trace span, shaped like an OpenTelemetry Span.

use std::fmt::Write;
use std::sync::Arc;

use crate::log::{Resource, Scope};
use crate::value::{KeyString, ObjectMap};

/// A 16-byte trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.as_bytes();
    if text.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

impl TraceId {
    pub fn to_hex(self) -> String {
        to_hex(&self.0)
    }
    pub fn from_hex(text: &str) -> Option<TraceId> {
        from_hex(text).map(TraceId)
    }
    /// All zeroes is the invalid trace id in OpenTelemetry.
    pub fn is_valid(self) -> bool {
        self.0 != [0; 16]
    }
}

impl SpanId {
    pub fn to_hex(self) -> String {
        to_hex(&self.0)
    }
    pub fn from_hex(text: &str) -> Option<SpanId> {
        from_hex(text).map(SpanId)
    }
    pub fn is_valid(self) -> bool {
        self.0 != [0; 8]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanKind {
    #[default]
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusCode {
    #[default]
    Unset,
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanStatus {
    pub code: StatusCode,
    pub message: String,
}

/// A timed event inside a span.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanEvent {
    pub time_unix_nano: i64,
    pub name: KeyString,
    pub attributes: ObjectMap,
    pub dropped_attributes_count: u32,
}

/// A link from a span to another span.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanLink {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attributes: ObjectMap,
    pub dropped_attributes_count: u32,
    pub flags: u32,
}

/// A span.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub trace_state: String,
    pub flags: u32,
    pub name: KeyString,
    pub kind: SpanKind,
    pub start_time_unix_nano: i64,
    pub end_time_unix_nano: i64,
    pub attributes: ObjectMap,
    pub dropped_attributes_count: u32,
    pub events: Vec<SpanEvent>,
    pub dropped_events_count: u32,
    pub links: Vec<SpanLink>,
    pub dropped_links_count: u32,
    pub status: SpanStatus,
    pub resource: Option<Arc<Resource>>,
    pub scope: Option<Arc<Scope>>,
}

impl Span {
    pub fn resource(&self) -> &Resource {
        crate::log::resource_of(&self.resource)
    }

    pub fn scope(&self) -> &Scope {
        crate::log::scope_of(&self.scope)
    }

    pub fn estimated_size(&self) -> usize {
        128 + self.name.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.estimated_size())
                .sum::<usize>()
            + self.events.len() * 64
            + self.links.len() * 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let t = TraceId([0xab; 16]);
        assert_eq!(TraceId::from_hex(&t.to_hex()), Some(t));
        assert_eq!(SpanId::from_hex("zz00000000000000"), None);
        assert_eq!(SpanId::from_hex("00"), None);
        assert!(!TraceId::default().is_valid());
    }
}
