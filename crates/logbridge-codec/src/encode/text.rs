//! The `text` codec: a log's body as it is, a metric as a Prometheus-like
//! line, a span as `name trace_id span_id duration`. The rules are in the
//! module docs of [`crate::encode`].

use logbridge_event::{Event, Metric, MetricValue, Span, Value};

use super::view;
use super::write;

pub(super) fn encode(event: &Event, out: &mut Vec<u8>) {
    match event {
        Event::Log(log) => match &log.body {
            Value::Bytes(b) => out.extend_from_slice(b),
            other => out.extend_from_slice(other.to_string_lossy().as_bytes()),
        },
        Event::Metric(m) => metric(m, out),
        Event::Span(s) => span(s, out),
    }
}

fn metric(m: &Metric, out: &mut Vec<u8>) {
    out.extend_from_slice(m.name.as_bytes());
    if !m.labels.is_empty() {
        out.push(b'{');
        for (i, (k, v)) in m.labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"=\"");
            for c in v.to_string_lossy().bytes() {
                match c {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    c => out.push(c),
                }
            }
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b' ');
    match &m.value {
        MetricValue::Scalar(v) => number(out, *v),
        MetricValue::Integer(v) => write::int(out, *v),
        MetricValue::Histogram {
            buckets,
            count,
            sum,
            ..
        } => {
            counts(out, *count, *sum);
            out.extend_from_slice(b" le=");
            list(out, buckets.iter().map(|b| (b.upper_bound, b.count as f64)));
        }
        MetricValue::ExponentialHistogram(h) => {
            counts(out, h.count, h.sum);
            out.extend_from_slice(b" scale=");
            write::int(out, h.scale.into());
            out.extend_from_slice(b" zero=");
            out.extend_from_slice(h.zero_count.to_string().as_bytes());
        }
        MetricValue::Summary {
            quantiles,
            count,
            sum,
        } => {
            counts(out, *count, Some(*sum));
            out.extend_from_slice(b" q=");
            list(out, quantiles.iter().map(|q| (q.quantile, q.value)));
        }
    }
    if m.time_unix_nano != 0 {
        out.push(b' ');
        write::int(out, m.time_unix_nano.div_euclid(1_000_000));
    }
}

fn counts(out: &mut Vec<u8>, count: u64, sum: Option<f64>) {
    out.extend_from_slice(b"count=");
    out.extend_from_slice(count.to_string().as_bytes());
    if let Some(sum) = sum {
        out.extend_from_slice(b" sum=");
        number(out, sum);
    }
}

fn list(out: &mut Vec<u8>, pairs: impl Iterator<Item = (f64, f64)>) {
    for (i, (a, b)) in pairs.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        number(out, a);
        out.push(b':');
        number(out, b);
    }
}

/// A number as Prometheus writes it: `3`, `2.5`, `1e300`, `+Inf`, `NaN`.
fn number(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        write::json_f64(out, f);
        if out.ends_with(b".0") {
            out.truncate(out.len() - 2);
        }
    }
}

fn span(s: &Span, out: &mut Vec<u8>) {
    out.extend_from_slice(s.name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(s.trace_id.to_hex().as_bytes());
    out.push(b' ');
    out.extend_from_slice(s.span_id.to_hex().as_bytes());
    out.push(b' ');
    let ns = view::span_duration_ns(s);
    out.extend_from_slice(format!("{:.3}ms", ns as f64 / 1e6).as_bytes());
}
