//! `all_metrics` of `log_to_metric`: a log in the shape Vector gives a
//! metric written out as a log (what `metric_to_log` writes) read back as
//! a metric. Vector reads `histogram` and `summary` objects; `metric_to_log`
//! writes `aggregated_histogram` and `aggregated_summary`: both are read.
//! Distributions (raw samples) become a histogram over the default buckets
//! or a summary without quantiles.

use logbridge_event::{
    Bucket, LogRecord, Metric, MetricKind, MetricValue, ObjectMap, Quantile, Temporality, Value,
};

use super::derive::{Derived, histogram_of, summary_of, with_namespace};
use super::sets::SetPoint;
use super::{DEFAULT_BUCKETS, Failure};

/// The keys that hold a metric's value, one of which a log must have.
const VALUE_KEYS: [&str; 8] = [
    "aggregated_histogram",
    "aggregated_summary",
    "counter",
    "distribution",
    "gauge",
    "histogram",
    "set",
    "summary",
];

/// Reads `log` as a metric into `out`.
pub(super) fn read(log: &LogRecord, now: i64, out: &mut Derived) -> Result<(), Failure> {
    let fields = &log.attributes;
    let name = text(required(fields, "", "name")?, "name")?;
    let name = match fields.get("namespace") {
        None | Some(Value::Null) => name,
        Some(ns) => with_namespace(&text(ns, "namespace")?, &name),
    };
    let temporality = match text(required(fields, "", "kind")?, "kind")?.as_str() {
        "incremental" => Temporality::Delta,
        "absolute" => Temporality::Cumulative,
        other => {
            return Err(invalid(format!(
                "kind is `{other}`, not `incremental` or `absolute`"
            )));
        }
    };
    let base = Metric {
        name: name.into(),
        labels: fields.get("tags").map(labels).unwrap_or_default(),
        temporality,
        time_unix_nano: time(log, now),
        ..Metric::default()
    };
    // The first value key in key order, as Vector picks it.
    let (key, value) = fields
        .iter()
        .find(|(k, _)| VALUE_KEYS.contains(&k.as_str()))
        .ok_or_else(|| {
            Failure::new(
                "metric_details_not_found",
                "the log has none of counter, gauge, set, distribution, histogram, summary",
            )
        })?;
    let key = key.as_str();
    let Value::Object(value) = value else {
        return Err(invalid(format!(
            "{key} is a {}, not an object",
            value.kind_name()
        )));
    };
    let (kind, value) = match key {
        "counter" => (
            MetricKind::Counter,
            MetricValue::Scalar(float(required(value, key, "value")?, "counter.value")?),
        ),
        "gauge" => (
            MetricKind::Gauge,
            MetricValue::Scalar(float(required(value, key, "value")?, "gauge.value")?),
        ),
        "set" => {
            for member in array(required(value, key, "values")?, "set.values")? {
                out.sets.push(SetPoint {
                    metric: base.clone(),
                    member: member.to_string_lossy().into_owned(),
                });
            }
            return Ok(());
        }
        "distribution" => distribution(value)?,
        "histogram" | "aggregated_histogram" => (MetricKind::Histogram, histogram(value, key)?),
        _ => (MetricKind::Summary, summary(value, key)?),
    };
    out.metrics.push(Metric {
        kind,
        value,
        ..base
    });
    Ok(())
}

fn invalid(message: String) -> Failure {
    Failure::new("invalid_metric", message)
}

fn required<'a>(object: &'a ObjectMap, parent: &str, key: &str) -> Result<&'a Value, Failure> {
    match object.get(key) {
        Some(v) if !v.is_null() => Ok(v),
        _ => {
            let dot = if parent.is_empty() { "" } else { "." };
            Err(Failure::new(
                "field_not_found",
                format!("field {parent}{dot}{key} is missing"),
            ))
        }
    }
}

fn text(v: &Value, what: &str) -> Result<String, Failure> {
    match v {
        Value::Bytes(_) => Ok(v.to_string_lossy().into_owned()),
        other => Err(invalid(format!(
            "{what} is a {}, not a string",
            other.kind_name()
        ))),
    }
}

/// A number; also the strings Vector writes for special floats.
fn float(v: &Value, what: &str) -> Result<f64, Failure> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Bytes(_) => match v.to_string_lossy().as_ref() {
            "inf" | "+Inf" => Ok(f64::INFINITY),
            "-inf" | "-Inf" => Ok(f64::NEG_INFINITY),
            "NaN" => Ok(f64::NAN),
            _ => Err(invalid(format!("{what} is not a number"))),
        },
        other => Err(invalid(format!(
            "{what} is a {}, not a number",
            other.kind_name()
        ))),
    }
}

fn count(v: &Value, what: &str) -> Result<u64, Failure> {
    let n = match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        Value::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64 => Some(*f as u64),
        _ => None,
    };
    n.ok_or_else(|| invalid(format!("{what} is not a count")))
}

fn array<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], Failure> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(invalid(format!(
            "{what} is a {}, not a list",
            other.kind_name()
        ))),
    }
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a ObjectMap, Failure> {
    v.as_object()
        .ok_or_else(|| invalid(format!("{what} is a {}, not an object", v.kind_name())))
}

/// Tags as labels: strings as they are, a list (Vector's full tag values)
/// by its last value, bare tags (null) left out.
fn labels(tags: &Value) -> ObjectMap {
    let Value::Object(tags) = tags else {
        return ObjectMap::new();
    };
    let mut labels = ObjectMap::with_capacity(tags.len());
    for (key, value) in tags {
        let value = match value {
            Value::Array(values) => values.iter().rev().find(|v| !v.is_null()),
            Value::Null => None,
            other => Some(other),
        };
        if let Some(v) = value {
            labels.insert(key.clone(), Value::from(v.to_string_lossy().into_owned()));
        }
    }
    labels
}

/// The `timestamp` field (a timestamp or RFC 3339 text), else the log's
/// time, else now.
fn time(log: &LogRecord, now: i64) -> i64 {
    let field = match log.attributes.get("timestamp") {
        Some(Value::Timestamp(ns)) => Some(*ns),
        Some(v @ Value::Bytes(_)) => chrono::DateTime::parse_from_rfc3339(&v.to_string_lossy())
            .ok()
            .and_then(|t| t.timestamp_nanos_opt()),
        _ => None,
    };
    field
        .or((log.time_unix_nano != 0).then_some(log.time_unix_nano))
        .unwrap_or(now)
}

fn distribution(value: &ObjectMap) -> Result<(MetricKind, MetricValue), Failure> {
    let mut samples = Vec::new();
    for sample in array(
        required(value, "distribution", "samples")?,
        "distribution.samples",
    )? {
        let sample = object(sample, "a sample")?;
        samples.push((
            float(required(sample, "sample", "value")?, "sample.value")?,
            count(required(sample, "sample", "rate")?, "sample.rate")?,
        ));
    }
    let statistic = required(value, "distribution", "statistic")?;
    match text(statistic, "distribution.statistic")?.as_str() {
        "histogram" => Ok((
            MetricKind::Histogram,
            histogram_of(&DEFAULT_BUCKETS, samples),
        )),
        "summary" => Ok((MetricKind::Summary, summary_of(samples))),
        other => Err(invalid(format!(
            "distribution.statistic is `{other}`, not `histogram` or `summary`"
        ))),
    }
}

/// Vector's buckets leave out `+Inf` (its count is `count` less the
/// others'); a last bucket at `+Inf` is taken as it is.
fn histogram(value: &ObjectMap, key: &str) -> Result<MetricValue, Failure> {
    let mut buckets = Vec::new();
    for bucket in array(required(value, key, "buckets")?, "buckets")? {
        let bucket = object(bucket, "a bucket")?;
        let upper_bound = float(required(bucket, "bucket", "upper_limit")?, "upper_limit")?;
        if buckets
            .last()
            .is_some_and(|b: &Bucket| b.upper_bound >= upper_bound)
            || upper_bound.is_nan()
        {
            return Err(invalid(format!("{key}.buckets are not in ascending order")));
        }
        buckets.push(Bucket {
            upper_bound,
            count: count(required(bucket, "bucket", "count")?, "bucket count")?,
        });
    }
    let total = count(required(value, key, "count")?, "count")?;
    if buckets
        .last()
        .is_none_or(|b| b.upper_bound != f64::INFINITY)
    {
        let counted = buckets.iter().fold(0u64, |n, b| n.saturating_add(b.count));
        buckets.push(Bucket {
            upper_bound: f64::INFINITY,
            count: total.saturating_sub(counted),
        });
    }
    Ok(MetricValue::Histogram {
        buckets,
        count: total,
        sum: Some(float(required(value, key, "sum")?, "sum")?),
        min: None,
        max: None,
    })
}

fn summary(value: &ObjectMap, key: &str) -> Result<MetricValue, Failure> {
    let mut quantiles = Vec::new();
    for q in array(required(value, key, "quantiles")?, "quantiles")? {
        let q = object(q, "a quantile")?;
        quantiles.push(Quantile {
            quantile: float(required(q, "quantile", "quantile")?, "quantile")?,
            value: float(required(q, "quantile", "value")?, "quantile value")?,
        });
    }
    Ok(MetricValue::Summary {
        quantiles,
        count: count(required(value, key, "count")?, "count")?,
        sum: float(required(value, key, "sum")?, "sum")?,
    })
}
