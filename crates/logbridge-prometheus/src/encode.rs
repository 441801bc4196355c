//! The text exposition writer: [`Metric`]s to Prometheus 0.0.4 or
//! OpenMetrics 1.0 text, the inverse of [`crate::text::parse`].
//!
//! Points are grouped into families by name (first appearance order), each
//! with `# HELP` and `# TYPE` (and `# UNIT` in OpenMetrics when the family
//! name ends with it, as the format requires). Histograms are expanded to
//! cumulative `_bucket{le=..}`, `_sum` and `_count` lines, summaries to
//! `quantile` lines; in OpenMetrics counters get `_total`, `_created` comes
//! from `start_time_unix_nano`, timestamps are seconds, exemplars are
//! written (one per counter, one per histogram bucket), and `# EOF` ends
//! the output. Points flagged as having no recorded value (staleness) and
//! exponential histograms have no text form and are skipped.

use std::collections::HashMap;

use logbridge_event::{Exemplar, Metric, MetricKind, MetricValue, ObjectMap, Value};

use crate::text::Format;

/// The text exposition of `metrics` in `format`.
pub fn encode_text(metrics: &[Metric], format: Format) -> Vec<u8> {
    let mut out = Vec::with_capacity(metrics.len() * 64);
    write_text(metrics, format, &mut out);
    out
}

/// How a point is written, from its kind and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

fn shape_of(m: &Metric) -> Option<Shape> {
    match (&m.value, m.kind) {
        (MetricValue::ExponentialHistogram(_), _) => None,
        (MetricValue::Histogram { .. }, _) => Some(Shape::Histogram),
        (MetricValue::Summary { .. }, _) => Some(Shape::Summary),
        (_, MetricKind::Counter) => Some(Shape::Counter),
        _ => Some(Shape::Gauge),
    }
}

/// The family name of a point: in OpenMetrics a counter's family drops
/// the `_total` its sample carries.
fn family_name(m: &Metric, shape: Shape, format: Format) -> &str {
    if shape == Shape::Counter && format == Format::OpenMetrics {
        m.name.strip_suffix("_total").unwrap_or(&m.name)
    } else {
        &m.name
    }
}

/// Appends the exposition of `metrics` to `out`.
pub fn write_text(metrics: &[Metric], format: Format, out: &mut Vec<u8>) {
    let om = format == Format::OpenMetrics;
    // Families in order of first appearance.
    let mut index: HashMap<(&str, Shape), usize> = HashMap::new();
    let mut families: Vec<(&str, Shape, Vec<&Metric>)> = Vec::new();
    for m in metrics {
        if m.flags & logbridge_event::FLAG_NO_RECORDED_VALUE != 0 {
            continue;
        }
        let Some(shape) = shape_of(m) else { continue };
        let name = family_name(m, shape, format);
        let i = *index.entry((name, shape)).or_insert_with(|| {
            families.push((name, shape, Vec::new()));
            families.len() - 1
        });
        if let Some(f) = families.get_mut(i) {
            f.2.push(m);
        }
    }
    for (name, shape, points) in &families {
        let help = points
            .iter()
            .map(|m| m.description.as_str())
            .find(|d| !d.is_empty());
        if let Some(help) = help {
            out.extend_from_slice(b"# HELP ");
            write_name(out, name);
            out.push(b' ');
            escape_into(out, help.as_bytes(), om);
            out.push(b'\n');
        }
        out.extend_from_slice(b"# TYPE ");
        write_name(out, name);
        out.extend_from_slice(match shape {
            Shape::Counter => b" counter\n",
            Shape::Gauge => b" gauge\n",
            Shape::Histogram => b" histogram\n",
            Shape::Summary => b" summary\n",
        });
        if om {
            let unit = points.iter().map(|m| m.unit.as_str()).find(|u| {
                !u.is_empty()
                    && name.len() > u.len()
                    && name.ends_with(u)
                    && name.as_bytes().get(name.len() - u.len() - 1) == Some(&b'_')
            });
            if let Some(unit) = unit {
                out.extend_from_slice(b"# UNIT ");
                write_name(out, name);
                out.push(b' ');
                out.extend_from_slice(unit.as_bytes());
                out.push(b'\n');
            }
        }
        for m in points {
            write_point(out, name, *shape, m, format);
        }
    }
    if om {
        out.extend_from_slice(b"# EOF\n");
    }
}

fn write_point(out: &mut Vec<u8>, family: &str, shape: Shape, m: &Metric, format: Format) {
    let om = format == Format::OpenMetrics;
    let ts = m.time_unix_nano;
    match (&m.value, shape) {
        (
            MetricValue::Histogram {
                buckets,
                count,
                sum,
                ..
            },
            _,
        ) => {
            // One exemplar per bucket: the first whose value falls in it.
            let mut bucket_exemplars: Vec<Option<&Exemplar>> = vec![None; buckets.len() + 1];
            if om {
                for e in &m.exemplars {
                    let v = e.value.as_f64();
                    let i = buckets
                        .iter()
                        .position(|b| v <= b.upper_bound)
                        .unwrap_or(buckets.len());
                    if let Some(slot @ None) = bucket_exemplars.get_mut(i) {
                        *slot = Some(e);
                    }
                }
            }
            let mut cumulative: u64 = 0;
            let mut wrote_inf = false;
            for (i, b) in buckets.iter().enumerate() {
                cumulative = cumulative.saturating_add(b.count);
                wrote_inf |= b.upper_bound == f64::INFINITY;
                write_sample_head(
                    out,
                    family,
                    "_bucket",
                    &m.labels,
                    Some(("le", b.upper_bound)),
                );
                write_u64(out, cumulative);
                write_timestamp(out, ts, format);
                if let Some(Some(e)) = bucket_exemplars.get(i) {
                    write_exemplar(out, e);
                }
                out.push(b'\n');
            }
            if !wrote_inf {
                write_sample_head(
                    out,
                    family,
                    "_bucket",
                    &m.labels,
                    Some(("le", f64::INFINITY)),
                );
                write_u64(out, (*count).max(cumulative));
                write_timestamp(out, ts, format);
                if let Some(Some(e)) = bucket_exemplars.get(buckets.len()) {
                    write_exemplar(out, e);
                }
                out.push(b'\n');
            }
            // OpenMetrics forbids a sum with negative buckets, and writes
            // `_count` if and only if it writes `_sum` (the `+Inf` bucket
            // holds the count either way).
            let negative = buckets.first().is_some_and(|b| b.upper_bound < 0.0);
            let sum = sum.filter(|_| !(om && negative));
            if let Some(sum) = sum {
                write_sample_head(out, family, "_sum", &m.labels, None);
                write_f64(out, sum);
                write_timestamp(out, ts, format);
                out.push(b'\n');
            }
            if sum.is_some() || !om {
                write_sample_head(out, family, "_count", &m.labels, None);
                write_u64(out, *count);
                write_timestamp(out, ts, format);
                out.push(b'\n');
            }
            write_created(out, family, m, format);
        }
        (
            MetricValue::Summary {
                quantiles,
                count,
                sum,
            },
            _,
        ) => {
            for q in quantiles {
                write_sample_head(out, family, "", &m.labels, Some(("quantile", q.quantile)));
                write_f64(out, q.value);
                write_timestamp(out, ts, format);
                out.push(b'\n');
            }
            write_sample_head(out, family, "_sum", &m.labels, None);
            write_f64(out, *sum);
            write_timestamp(out, ts, format);
            out.push(b'\n');
            write_sample_head(out, family, "_count", &m.labels, None);
            write_u64(out, *count);
            write_timestamp(out, ts, format);
            out.push(b'\n');
            write_created(out, family, m, format);
        }
        (value, shape) => {
            let suffix = if om && shape == Shape::Counter {
                "_total"
            } else {
                ""
            };
            write_sample_head(out, family, suffix, &m.labels, None);
            match value {
                MetricValue::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
                other => write_f64(out, other.as_f64().unwrap_or(0.0)),
            }
            write_timestamp(out, ts, format);
            if om
                && shape == Shape::Counter
                && let Some(e) = m.exemplars.first()
            {
                write_exemplar(out, e);
            }
            out.push(b'\n');
            if shape == Shape::Counter {
                write_created(out, family, m, format);
            }
        }
    }
}

fn write_created(out: &mut Vec<u8>, family: &str, m: &Metric, format: Format) {
    if format != Format::OpenMetrics || m.start_time_unix_nano == 0 {
        return;
    }
    write_sample_head(out, family, "_created", &m.labels, None);
    write_seconds(out, m.start_time_unix_nano);
    write_timestamp(out, m.time_unix_nano, format);
    out.push(b'\n');
}

/// `name{labels} ` up to the value.
fn write_sample_head(
    out: &mut Vec<u8>,
    family: &str,
    suffix: &str,
    labels: &ObjectMap,
    extra: Option<(&str, f64)>,
) {
    write_name(out, family);
    out.extend_from_slice(suffix.as_bytes());
    if !labels.is_empty() || extra.is_some() {
        out.push(b'{');
        let mut first = true;
        for (k, v) in labels.iter() {
            if extra.is_some_and(|(name, _)| name == k.as_str()) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            write_label_name(out, k);
            out.extend_from_slice(b"=\"");
            write_label_value(out, v);
            out.push(b'"');
        }
        if let Some((name, bound)) = extra {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"=\"");
            write_f64(out, bound);
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b' ');
}

fn write_label_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Bytes(b) => escape_into(out, b, true),
        other => escape_into(out, other.to_string_lossy().as_bytes(), true),
    }
}

fn write_exemplar(out: &mut Vec<u8>, e: &Exemplar) {
    out.extend_from_slice(b" # {");
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b',');
        }
        first = false;
    };
    if let Some(id) = e.trace_id {
        sep(out);
        out.extend_from_slice(b"trace_id=\"");
        out.extend_from_slice(id.to_hex().as_bytes());
        out.push(b'"');
    }
    if let Some(id) = e.span_id {
        sep(out);
        out.extend_from_slice(b"span_id=\"");
        out.extend_from_slice(id.to_hex().as_bytes());
        out.push(b'"');
    }
    for (k, v) in e.filtered_attributes.iter() {
        sep(out);
        write_label_name(out, k);
        out.extend_from_slice(b"=\"");
        write_label_value(out, v);
        out.push(b'"');
    }
    out.extend_from_slice(b"} ");
    write_f64(out, e.value.as_f64());
    if e.time_unix_nano != 0 {
        out.push(b' ');
        write_seconds(out, e.time_unix_nano);
    }
}

fn write_timestamp(out: &mut Vec<u8>, ns: i64, format: Format) {
    if ns == 0 {
        return;
    }
    out.push(b' ');
    match format {
        Format::OpenMetrics => write_seconds(out, ns),
        Format::Prometheus => {
            let mut buf = itoa_buf(ns.div_euclid(1_000_000));
            out.append(&mut buf);
        }
    }
}

fn itoa_buf(v: i64) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// Nanoseconds as decimal seconds, exactly (`1.5`, `-0.000000001`, `12`).
fn write_seconds(out: &mut Vec<u8>, ns: i64) {
    let abs = ns.unsigned_abs();
    if ns < 0 {
        out.push(b'-');
    }
    out.extend_from_slice((abs / 1_000_000_000).to_string().as_bytes());
    let frac = abs % 1_000_000_000;
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push(b'.');
        out.extend_from_slice(digits.trim_end_matches('0').as_bytes());
    }
}

fn write_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(v.to_string().as_bytes());
}

/// Shortest text that reads back to the same float.
fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        let mut buf = ryu::Buffer::new();
        out.extend_from_slice(buf.format_finite(v).as_bytes());
    }
}

/// Metric names with characters outside `[a-zA-Z0-9_:]` replaced by `_`
/// (and a leading digit prefixed), so the output always parses.
fn write_name(out: &mut Vec<u8>, name: &str) {
    if name.is_empty() {
        out.push(b'_');
        return;
    }
    if name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        out.push(b'_');
    }
    for &c in name.as_bytes() {
        out.push(if c.is_ascii_alphanumeric() || c == b'_' || c == b':' {
            c
        } else {
            b'_'
        });
    }
}

fn write_label_name(out: &mut Vec<u8>, name: &str) {
    if name.is_empty() {
        out.push(b'_');
        return;
    }
    if name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        out.push(b'_');
    }
    for &c in name.as_bytes() {
        out.push(if c.is_ascii_alphanumeric() || c == b'_' {
            c
        } else {
            b'_'
        });
    }
}

/// Escapes `\` and newline, and `"` when `quotes` (label values, and help
/// texts in OpenMetrics).
fn escape_into(out: &mut Vec<u8>, text: &[u8], quotes: bool) {
    for &c in text {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if quotes => out.extend_from_slice(b"\\\""),
            c => out.push(c),
        }
    }
}
