//! [`Event`]: one log, metric or span, and [`DataKind`], the set of kinds a
//! component accepts or produces.

use std::borrow::Cow;
use std::fmt;

use crate::log::LogRecord;
use crate::metric::{Metric, MetricValue};
use crate::path::{Path, PathRoot, Segment};
use crate::span::{Span, SpanKind, StatusCode};
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Log(LogRecord),
    Metric(Metric),
    /// Boxed: a span is the largest kind, and events are moved as they are
    /// batched, filtered and routed, so the enum stays the size of a log.
    Span(Box<Span>),
}

impl Event {
    pub fn kind(&self) -> DataKind {
        match self {
            Event::Log(_) => DataKind::LOG,
            Event::Metric(_) => DataKind::METRIC,
            Event::Span(_) => DataKind::SPAN,
        }
    }

    pub fn as_log(&self) -> Option<&LogRecord> {
        match self {
            Event::Log(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_log_mut(&mut self) -> Option<&mut LogRecord> {
        match self {
            Event::Log(l) => Some(l),
            _ => None,
        }
    }

    /// A rough size in bytes, for bounding channels and buffers.
    pub fn estimated_size(&self) -> usize {
        match self {
            Event::Log(l) => l.estimated_size(),
            Event::Metric(m) => m.estimated_size(),
            Event::Span(s) => s.estimated_size(),
        }
    }

    /// The value at `path`. Logs expose their fields (see [`LogRecord`]);
    /// metrics expose `.name`, `.kind`, `.value`, `.unit`, `.labels.NAME`;
    /// spans expose `.name`, `.kind`, `.trace_id`, `.span_id`,
    /// `.parent_span_id`, `.status`, `.duration_ns`, `.attributes.NAME`,
    /// and their ids as a log's too (`%trace_id`, `%span_id`,
    /// `%parent_span_id`). `%resource.NAME` works for all three.
    pub fn get(&self, path: &Path) -> Option<Cow<'_, Value>> {
        match self {
            Event::Log(log) => log.get(path),
            Event::Metric(m) => metric_get(m, path),
            Event::Span(s) => span_get(s, path),
        }
    }
}

fn resource_get<'a>(attrs: &'a crate::value::ObjectMap, path: &Path) -> Option<Cow<'a, Value>> {
    match path.segments.split_first() {
        Some((Segment::Field(f), [Segment::Field(k), rest @ ..])) if f == "resource" => {
            attrs.get(k.as_str())?.get_path(rest).map(Cow::Borrowed)
        }
        _ => None,
    }
}

fn metric_get<'a>(m: &'a Metric, path: &Path) -> Option<Cow<'a, Value>> {
    if path.root == PathRoot::Metadata {
        return match path.first_field()? {
            "timestamp" if m.time_unix_nano != 0 => {
                Some(Cow::Owned(Value::Timestamp(m.time_unix_nano)))
            }
            _ => resource_get(&m.resource().attributes, path),
        };
    }
    let (Segment::Field(head), rest) = path.segments.split_first()? else {
        return None;
    };
    let owned = |v: Value| Some(Cow::Owned(v));
    match (head.as_str(), rest) {
        ("name", []) => owned(Value::from(m.name.as_str())),
        ("kind", []) => owned(Value::from(m.kind.as_str())),
        ("unit", []) => owned(Value::from(m.unit.as_str())),
        ("value", []) => match &m.value {
            MetricValue::Scalar(v) => owned(Value::Float(*v)),
            MetricValue::Integer(v) => owned(Value::Integer(*v)),
            MetricValue::Histogram { sum, .. } => owned(Value::Float((*sum)?)),
            MetricValue::ExponentialHistogram(h) => owned(Value::Float(h.sum?)),
            MetricValue::Summary { sum, .. } => owned(Value::Float(*sum)),
        },
        ("labels", [Segment::Field(k), rest @ ..]) => {
            m.labels.get(k.as_str())?.get_path(rest).map(Cow::Borrowed)
        }
        _ => None,
    }
}

fn span_get<'a>(s: &'a Span, path: &Path) -> Option<Cow<'a, Value>> {
    if path.root == PathRoot::Metadata {
        // The ids where a log keeps them, so one path (`%trace_id`) names
        // a trace in logs and spans alike.
        return match path.segments.as_slice() {
            [Segment::Field(f)] if f == "trace_id" => {
                Some(Cow::Owned(Value::from(s.trace_id.to_hex())))
            }
            [Segment::Field(f)] if f == "span_id" => {
                Some(Cow::Owned(Value::from(s.span_id.to_hex())))
            }
            [Segment::Field(f)] if f == "parent_span_id" => s
                .parent_span_id
                .map(|p| Cow::Owned(Value::from(p.to_hex()))),
            _ => resource_get(&s.resource().attributes, path),
        };
    }
    let (Segment::Field(head), rest) = path.segments.split_first()? else {
        return None;
    };
    let owned = |v: Value| Some(Cow::Owned(v));
    match (head.as_str(), rest) {
        ("name", []) => owned(Value::from(s.name.as_str())),
        ("kind", []) => owned(Value::from(match s.kind {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        })),
        ("trace_id", []) => owned(Value::from(s.trace_id.to_hex())),
        ("span_id", []) => owned(Value::from(s.span_id.to_hex())),
        ("parent_span_id", []) => s
            .parent_span_id
            .and_then(|p| owned(Value::from(p.to_hex()))),
        ("status", []) => owned(Value::from(match s.status.code {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        })),
        ("duration_ns", []) => owned(Value::Integer(
            s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
        )),
        ("attributes", [Segment::Field(k), rest @ ..]) => s
            .attributes
            .get(k.as_str())?
            .get_path(rest)
            .map(Cow::Borrowed),
        _ => None,
    }
}

/// A set of event kinds: what a component accepts or emits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataKind(u8);

impl DataKind {
    pub const NONE: DataKind = DataKind(0);
    pub const LOG: DataKind = DataKind(1);
    pub const METRIC: DataKind = DataKind(2);
    pub const SPAN: DataKind = DataKind(4);
    pub const ALL: DataKind = DataKind(7);

    pub const fn union(self, other: DataKind) -> DataKind {
        DataKind(self.0 | other.0)
    }
    pub const fn intersection(self, other: DataKind) -> DataKind {
        DataKind(self.0 & other.0)
    }
    /// The kinds in `self` that are not in `other`.
    pub const fn difference(self, other: DataKind) -> DataKind {
        DataKind(self.0 & !other.0 & DataKind::ALL.0)
    }
    pub const fn contains(self, other: DataKind) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (DataKind::LOG, "logs"),
            (DataKind::METRIC, "metrics"),
            (DataKind::SPAN, "traces"),
        ]
        .into_iter()
        .filter(|(k, _)| self.contains(*k))
        .map(|(_, n)| n)
        .collect();
        if names.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_kind_sets() {
        let lm = DataKind::LOG.union(DataKind::METRIC);
        assert!(lm.contains(DataKind::LOG));
        assert!(!lm.contains(DataKind::SPAN));
        assert_eq!(lm.to_string(), "logs, metrics");
        assert!(DataKind::LOG.intersection(DataKind::SPAN).is_empty());
    }

    #[test]
    fn metric_paths() {
        let m =
            Event::Metric(Metric::counter("http_requests_total", 3.0, 0).with_label("code", "500"));
        assert_eq!(
            m.get(&Path::parse(".name").unwrap()).unwrap().as_str(),
            Some("http_requests_total")
        );
        assert_eq!(
            m.get(&Path::parse(".labels.code").unwrap())
                .unwrap()
                .as_str(),
            Some("500")
        );
        assert_eq!(
            m.get(&Path::parse(".value").unwrap()).unwrap().into_owned(),
            Value::Float(3.0)
        );
    }
}
