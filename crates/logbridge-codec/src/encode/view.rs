//! What an encoder writes for each kind of event, as views the codecs walk.
//!
//! A log is walked field by field in key order without building a map (the
//! attributes, `message` for the body, `timestamp` for `time_unix_nano`), so
//! encoding a log clones nothing. Metrics and spans, rarer in file and
//! console output, are turned into an [`ObjectMap`] that the JSON and
//! logfmt codecs both write.

use logbridge_event::{
    KeyString, LogRecord, Metric, MetricKind, MetricValue, Number, ObjectMap, Resource, Scope,
    Span, SpanKind, StatusCode, Temporality, Value,
};

/// A top-level field of a log.
#[derive(Clone, Copy)]
pub(crate) enum Field<'a> {
    Value(&'a Value),
    /// `time_unix_nano`, written as RFC 3339.
    Timestamp(i64),
}

/// Calls `f` for every field of `log` in key order: the attributes, the
/// body as `message` (it hides an attribute of that name, as in
/// [`LogRecord::fields_object`]), and `timestamp` when the time is set and
/// no attribute is named so.
pub(crate) fn log_fields<'a>(log: &'a LogRecord, mut f: impl FnMut(&'a str, Field<'a>)) {
    let mut extras: [Option<(&'static str, Field<'a>)>; 2] = [
        (!log.body.is_null()).then_some(("message", Field::Value(&log.body))),
        (log.time_unix_nano != 0 && !log.attributes.contains_key("timestamp"))
            .then_some(("timestamp", Field::Timestamp(log.time_unix_nano))),
    ];
    let mut next = 0;
    for (key, value) in &log.attributes {
        let key = key.as_str();
        while let Some(slot) = extras.get_mut(next) {
            match slot {
                Some((name, _)) if *name > key => break,
                Some((name, field)) => f(name, *field),
                None => {}
            }
            *slot = None;
            next += 1;
        }
        if key == "message" && !log.body.is_null() {
            continue;
        }
        f(key, Field::Value(value));
    }
    for (name, field) in extras.into_iter().flatten() {
        f(name, field);
    }
}

fn put(map: &mut ObjectMap, key: &'static str, value: impl Into<Value>) {
    map.insert(KeyString::const_new(key), value.into());
}

fn put_time(map: &mut ObjectMap, key: &'static str, ns: i64) {
    if ns != 0 {
        put(map, key, Value::Timestamp(ns));
    }
}

fn put_opt(map: &mut ObjectMap, key: &'static str, value: Option<f64>) {
    if let Some(v) = value {
        put(map, key, v);
    }
}

fn put_nonzero(map: &mut ObjectMap, key: &'static str, n: u32) {
    if n != 0 {
        put(map, key, Value::Integer(n.into()));
    }
}

fn put_text(map: &mut ObjectMap, key: &'static str, text: &str) {
    if !text.is_empty() {
        put(map, key, text);
    }
}

/// `resource` (its attributes) and `resource_schema_url`; `scope` as
/// `name`, `version`, `attributes` and `schema_url`; each when set.
fn resource_and_scope(map: &mut ObjectMap, resource: &Resource, scope: &Scope) {
    if !resource.attributes.is_empty() {
        put(map, "resource", resource.attributes.clone());
    }
    put_text(map, "resource_schema_url", &resource.schema_url);
    let mut s = ObjectMap::new();
    put_text(&mut s, "name", &scope.name);
    put_text(&mut s, "version", &scope.version);
    if !scope.attributes.is_empty() {
        put(&mut s, "attributes", scope.attributes.clone());
    }
    put_text(&mut s, "schema_url", &scope.schema_url);
    if !s.is_empty() {
        put(map, "scope", s);
    }
}

/// A metric point: `name`, `kind`, `temporality`, `labels`, `timestamp`,
/// `start_timestamp`, then `value` for counters and gauges, `count`, `sum`
/// and `buckets` (`upper_bound`, `count`; the `+Inf` bound is the string
/// `"+Inf"` in JSON) plus `min` and `max` when known for histograms, `count`, `sum`,
/// `scale`, `zero_count`, `zero_threshold`, `positive` and `negative`
/// (`offset`, `counts`) for exponential histograms, `count`, `sum` and
/// `quantiles` for summaries; `exemplars` and `flags` when set;
/// `unit`, `description`, `resource`, `resource_schema_url` and `scope`
/// (with its `schema_url`) when set.
pub(crate) fn metric_object(m: &Metric) -> ObjectMap {
    let mut map = ObjectMap::new();
    put(&mut map, "name", m.name.as_str());
    put(&mut map, "kind", m.kind.as_str());
    if matches!(
        m.kind,
        MetricKind::Counter | MetricKind::UpDownCounter | MetricKind::Histogram
    ) {
        let temporality = match m.temporality {
            Temporality::Cumulative => "cumulative",
            Temporality::Delta => "delta",
        };
        put(&mut map, "temporality", temporality);
    }
    put(&mut map, "labels", m.labels.clone());
    put_time(&mut map, "timestamp", m.time_unix_nano);
    put_time(&mut map, "start_timestamp", m.start_time_unix_nano);
    match &m.value {
        MetricValue::Scalar(v) => put(&mut map, "value", *v),
        MetricValue::Integer(v) => put(&mut map, "value", *v),
        MetricValue::Histogram {
            buckets,
            count,
            sum,
            min,
            max,
        } => {
            put(&mut map, "count", count_value(*count));
            put_opt(&mut map, "sum", *sum);
            put_opt(&mut map, "min", *min);
            put_opt(&mut map, "max", *max);
            let buckets = buckets.iter().map(|b| {
                let mut o = ObjectMap::new();
                put(&mut o, "upper_bound", b.upper_bound);
                put(&mut o, "count", count_value(b.count));
                Value::Object(o)
            });
            put(&mut map, "buckets", buckets.collect::<Vec<_>>());
        }
        MetricValue::Summary {
            quantiles,
            count,
            sum,
        } => {
            put(&mut map, "count", count_value(*count));
            put(&mut map, "sum", *sum);
            let quantiles = quantiles.iter().map(|q| {
                let mut o = ObjectMap::new();
                put(&mut o, "quantile", q.quantile);
                put(&mut o, "value", q.value);
                Value::Object(o)
            });
            put(&mut map, "quantiles", quantiles.collect::<Vec<_>>());
        }
        MetricValue::ExponentialHistogram(h) => {
            put(&mut map, "count", count_value(h.count));
            put_opt(&mut map, "sum", h.sum);
            put(&mut map, "scale", i64::from(h.scale));
            put(&mut map, "zero_count", count_value(h.zero_count));
            put(&mut map, "zero_threshold", h.zero_threshold);
            for (name, side) in [("positive", &h.positive), ("negative", &h.negative)] {
                let mut o = ObjectMap::new();
                put(&mut o, "offset", i64::from(side.offset));
                let counts = side.counts.iter().map(|c| count_value(*c));
                put(&mut o, "counts", counts.collect::<Vec<_>>());
                put(&mut map, name, o);
            }
            put_opt(&mut map, "min", h.min);
            put_opt(&mut map, "max", h.max);
        }
    }
    if !m.exemplars.is_empty() {
        let exemplars = m.exemplars.iter().map(|e| {
            let mut o = ObjectMap::new();
            match e.value {
                Number::Float(v) => put(&mut o, "value", v),
                Number::Integer(v) => put(&mut o, "value", v),
            }
            put_time(&mut o, "timestamp", e.time_unix_nano);
            if !e.filtered_attributes.is_empty() {
                put(&mut o, "labels", e.filtered_attributes.clone());
            }
            if let Some(t) = e.trace_id {
                put(&mut o, "trace_id", t.to_hex().as_str());
            }
            if let Some(s) = e.span_id {
                put(&mut o, "span_id", s.to_hex().as_str());
            }
            Value::Object(o)
        });
        put(&mut map, "exemplars", exemplars.collect::<Vec<_>>());
    }
    put_nonzero(&mut map, "flags", m.flags);
    put_text(&mut map, "unit", &m.unit);
    put_text(&mut map, "description", &m.description);
    resource_and_scope(&mut map, m.resource(), m.scope());
    map
}

/// Counts are `u64`; past `i64::MAX` (never in practice) they saturate.
fn count_value(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(crate) fn span_kind(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "unspecified",
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

pub(crate) fn span_duration_ns(s: &Span) -> i64 {
    s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano)
}

/// A span: ids as lower-case hex, `kind` and `status` as lower-case words
/// (`server`, `error`), `status_message`, `start_timestamp`,
/// `end_timestamp`, `duration_ns`, `attributes`, `events` (`name`,
/// `timestamp`, `attributes`), `links` (`trace_id`, `span_id`,
/// `trace_state`, `attributes`), `resource`, `resource_schema_url` and
/// `scope` (with its `schema_url`); empty parts and
/// zero counts are left out.
pub(crate) fn span_object(s: &Span) -> ObjectMap {
    let mut map = ObjectMap::new();
    put(&mut map, "name", s.name.as_str());
    put(&mut map, "trace_id", s.trace_id.to_hex());
    put(&mut map, "span_id", s.span_id.to_hex());
    if let Some(parent) = s.parent_span_id {
        put(&mut map, "parent_span_id", parent.to_hex());
    }
    put_text(&mut map, "trace_state", &s.trace_state);
    put_nonzero(&mut map, "flags", s.flags);
    put(&mut map, "kind", span_kind(s.kind));
    put_time(&mut map, "start_timestamp", s.start_time_unix_nano);
    put_time(&mut map, "end_timestamp", s.end_time_unix_nano);
    put(&mut map, "duration_ns", Value::Integer(span_duration_ns(s)));
    let status = match s.status.code {
        StatusCode::Unset => "unset",
        StatusCode::Ok => "ok",
        StatusCode::Error => "error",
    };
    put(&mut map, "status", status);
    put_text(&mut map, "status_message", &s.status.message);
    put(&mut map, "attributes", s.attributes.clone());
    put_nonzero(
        &mut map,
        "dropped_attributes_count",
        s.dropped_attributes_count,
    );
    if !s.events.is_empty() {
        let events = s.events.iter().map(|e| {
            let mut o = ObjectMap::new();
            put(&mut o, "name", e.name.as_str());
            put_time(&mut o, "timestamp", e.time_unix_nano);
            if !e.attributes.is_empty() {
                put(&mut o, "attributes", e.attributes.clone());
            }
            put_nonzero(
                &mut o,
                "dropped_attributes_count",
                e.dropped_attributes_count,
            );
            Value::Object(o)
        });
        put(&mut map, "events", events.collect::<Vec<_>>());
    }
    put_nonzero(&mut map, "dropped_events_count", s.dropped_events_count);
    if !s.links.is_empty() {
        let links = s.links.iter().map(|l| {
            let mut o = ObjectMap::new();
            put(&mut o, "trace_id", l.trace_id.to_hex());
            put(&mut o, "span_id", l.span_id.to_hex());
            put_text(&mut o, "trace_state", &l.trace_state);
            put_nonzero(&mut o, "flags", l.flags);
            if !l.attributes.is_empty() {
                put(&mut o, "attributes", l.attributes.clone());
            }
            put_nonzero(
                &mut o,
                "dropped_attributes_count",
                l.dropped_attributes_count,
            );
            Value::Object(o)
        });
        put(&mut map, "links", links.collect::<Vec<_>>());
    }
    put_nonzero(&mut map, "dropped_links_count", s.dropped_links_count);
    resource_and_scope(&mut map, s.resource(), s.scope());
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn names(log: &LogRecord) -> Vec<String> {
        let mut out = Vec::new();
        log_fields(log, |k, _| out.push(k.to_owned()));
        out
    }

    #[test]
    fn log_fields_merge_in_key_order() {
        let mut log = LogRecord::from_line(Bytes::from_static(b"hi"), 0);
        assert_eq!(names(&log), ["message"]);
        log.time_unix_nano = 1;
        for k in ["a", "n", "z", "message"] {
            log.attributes.insert(k.into(), Value::Null);
        }
        assert_eq!(names(&log), ["a", "message", "n", "timestamp", "z"]);
        log.attributes.insert("timestamp".into(), Value::Null);
        assert_eq!(names(&log), ["a", "message", "n", "timestamp", "z"]);
        log.body = Value::Null;
        assert_eq!(names(&log), ["a", "message", "n", "timestamp", "z"]);
        log.attributes.clear();
        assert_eq!(names(&log), ["timestamp"]);
    }
}
