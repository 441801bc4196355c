//! The `metric_to_log` transform: writes each metric as a log shaped as
//! Vector shapes a metric written out as a log, for sinks and tools that
//! take logs. Every metric converts, so nothing is dropped; the metrics'
//! acknowledgements travel with the logs. It keeps nothing between
//! batches.
//!
//! The shape: `name`; `tags` (labels, the `host_tag` one taken out into
//! `host`); `kind`, `incremental` for delta points and `absolute` for the
//! rest; the point's time as the log's timestamp; and the value under the
//! name of its type: `counter.value`, `gauge.value` (gauges and up-down
//! counters), `aggregated_histogram` (`buckets` of `upper_limit` and
//! `count`, without the `+Inf` bucket, whose count is `count` less the
//! others', then `count` and `sum`), `aggregated_summary` (`quantiles` of
//! `quantile` and `value`, `count`, `sum`). Exponential histograms, which
//! Vector does not have, go under `exponential_histogram` (`scale`,
//! `zero_count`, `zero_threshold`, `positive` and `negative` with `offset`
//! and `counts`, `count`, `sum`, `min`, `max`). The resource and scope of
//! an OpenTelemetry point stay the log's resource and scope.

use bytes::Bytes;
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs, now_nanos,
};
use logbridge_event::{
    DataKind, Event, EventBatch, ExponentialBuckets, KeyString, LogRecord, Metric, MetricKind,
    MetricValue, ObjectMap, Temporality, Value,
};
use serde::Deserialize;

/// How tag values are written.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MetricTagValues {
    /// Each tag as a string; tags without a value are left out.
    #[default]
    Single,
    /// Each tag as a list of its values (strings, or null for a tag
    /// without a value), as Vector's `native_json` writes them.
    Full,
}

/// Writes metrics as logs.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricToLogConfig {
    /// The tag whose value becomes the log's `host` field (and leaves
    /// `tags`).
    #[serde(default = "default_host_tag")]
    pub host_tag: String,
    /// Accepted for Vector configs: the time zone of timestamps written
    /// without one (`local`, `America/New_York`). A metric's time always
    /// carries its zone, so nothing here depends on it.
    #[serde(default)]
    pub timezone: Option<String>,
    /// `single`: each tag a string, tags without a value left out; `full`:
    /// each tag a list of its values (strings, or null for a tag without a
    /// value), as Vector's `native_json` writes them.
    #[serde(default)]
    pub metric_tag_values: MetricTagValues,
}

fn default_host_tag() -> String {
    "host".into()
}

impl TransformConfig for MetricToLogConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        if self.host_tag.is_empty() {
            return Err(BuildError::new("host_tag", "host_tag is empty")
                .with_hint("name a tag, such as \"host\" or \"hostname\""));
        }
        if self
            .timezone
            .as_deref()
            .is_some_and(|tz| tz.trim().is_empty())
        {
            return Err(BuildError::new("timezone", "timezone is empty")
                .with_hint("remove it, or name a zone such as \"local\""));
        }
        Ok(Box::new(MetricToLog {
            host_tag: self.host_tag.clone(),
            tag_values: self.metric_tag_values,
        }))
    }

    fn is_stateless(&self) -> bool {
        true
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::METRIC
    }

    fn outputs(&self, _input: DataKind) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::LOG)]
    }
}

struct MetricToLog {
    host_tag: String,
    tag_values: MetricTagValues,
}

impl Transform for MetricToLog {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let now = now_nanos();
        let logs: Vec<Event> = batch
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Metric(m) => Some(Event::Log(self.to_log(m, now))),
                _ => None,
            })
            .collect();
        out.push(EventBatch::new(logs).with_finalizers(batch.finalizers.clone()));
    }
}

fn put(map: &mut ObjectMap, key: &'static str, value: impl Into<Value>) {
    map.insert(KeyString::const_new(key), value.into());
}

fn object(entries: Vec<(&'static str, Value)>) -> Value {
    let mut map = ObjectMap::with_capacity(entries.len());
    for (k, v) in entries {
        put(&mut map, k, v);
    }
    Value::Object(map)
}

/// Counts are `u64`; past `i64::MAX` (never in practice) they saturate.
fn count(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn text(v: &Value) -> Value {
    match v {
        Value::Bytes(_) => v.clone(),
        other => Value::Bytes(Bytes::from(other.to_string_lossy().into_owned())),
    }
}

impl MetricToLog {
    fn to_log(&self, m: Metric, now: i64) -> LogRecord {
        let mut fields = ObjectMap::with_capacity(5);
        put(&mut fields, "name", m.name.as_str());
        let mut tags = ObjectMap::with_capacity(m.labels.len());
        for (key, value) in m.labels {
            if key == self.host_tag.as_str() {
                if !value.is_null() {
                    put(&mut fields, "host", text(&value));
                }
                continue;
            }
            match (self.tag_values, value) {
                (MetricTagValues::Single, Value::Null) => {}
                (MetricTagValues::Single, v) => {
                    tags.insert(key, text(&v));
                }
                (MetricTagValues::Full, Value::Null) => {
                    tags.insert(key, Value::Array(vec![Value::Null]));
                }
                (MetricTagValues::Full, v) => {
                    tags.insert(key, Value::Array(vec![text(&v)]));
                }
            }
        }
        if !tags.is_empty() {
            put(&mut fields, "tags", tags);
        }
        let kind = match m.temporality {
            Temporality::Delta => "incremental",
            Temporality::Cumulative => "absolute",
        };
        put(&mut fields, "kind", kind);
        let (key, value) = value_of(m.kind, m.value);
        put(&mut fields, key, value);
        LogRecord {
            time_unix_nano: if m.time_unix_nano != 0 {
                m.time_unix_nano
            } else {
                now
            },
            observed_time_unix_nano: now,
            attributes: fields,
            resource: m.resource,
            scope: m.scope,
            ..LogRecord::default()
        }
    }
}

/// The value's key and object (see the module doc).
fn value_of(kind: MetricKind, value: MetricValue) -> (&'static str, Value) {
    let scalar_key = if kind == MetricKind::Counter {
        "counter"
    } else {
        "gauge"
    };
    match value {
        MetricValue::Scalar(v) => (scalar_key, object(vec![("value", Value::Float(v))])),
        MetricValue::Integer(v) => (scalar_key, object(vec![("value", Value::Float(v as f64))])),
        MetricValue::Histogram {
            buckets,
            count: total,
            sum,
            ..
        } => {
            let buckets = buckets
                .iter()
                .filter(|b| b.upper_bound != f64::INFINITY)
                .map(|b| {
                    object(vec![
                        ("upper_limit", Value::Float(b.upper_bound)),
                        ("count", count(b.count)),
                    ])
                })
                .collect();
            let mut h = vec![("buckets", Value::Array(buckets)), ("count", count(total))];
            h.extend(sum.map(|s| ("sum", Value::Float(s))));
            ("aggregated_histogram", object(h))
        }
        MetricValue::Summary {
            quantiles,
            count: total,
            sum,
        } => {
            let quantiles = quantiles
                .iter()
                .map(|q| {
                    object(vec![
                        ("quantile", Value::Float(q.quantile)),
                        ("value", Value::Float(q.value)),
                    ])
                })
                .collect();
            (
                "aggregated_summary",
                object(vec![
                    ("quantiles", Value::Array(quantiles)),
                    ("count", count(total)),
                    ("sum", Value::Float(sum)),
                ]),
            )
        }
        MetricValue::ExponentialHistogram(h) => {
            let side = |s: &ExponentialBuckets| {
                object(vec![
                    ("offset", Value::Integer(s.offset.into())),
                    (
                        "counts",
                        Value::Array(s.counts.iter().map(|c| count(*c)).collect()),
                    ),
                ])
            };
            let mut e = vec![
                ("count", count(h.count)),
                ("scale", Value::Integer(h.scale.into())),
                ("zero_count", count(h.zero_count)),
                ("zero_threshold", Value::Float(h.zero_threshold)),
                ("positive", side(&h.positive)),
                ("negative", side(&h.negative)),
            ];
            for (k, v) in [("sum", h.sum), ("min", h.min), ("max", h.max)] {
                e.extend(v.map(|v| (k, Value::Float(v))));
            }
            ("exponential_histogram", object(e))
        }
    }
}

#[cfg(test)]
mod tests;
