//! Unit tests of `metric_to_log`: the shape of each kind of point, the
//! options, and reading the logs back with `log_to_metric`.

use std::sync::Arc;

use logbridge_component::telemetry::ComponentKind;
use logbridge_event::{Bucket, ExponentialHistogram, Quantile, Resource, Temporality};
use serde_json::json;

use super::*;
use crate::log_to_metric::LogToMetricConfig;

const T: i64 = 1_704_067_200_000_000_000;

fn cx() -> BuildContext {
    BuildContext::detached("m2l", ComponentKind::Transform, "/tmp".into())
}

fn convert(config: serde_json::Value, metrics: Vec<Metric>) -> Vec<LogRecord> {
    let cfg: MetricToLogConfig = serde_json::from_value(config).unwrap();
    let mut t = cfg.build(&cx()).unwrap();
    let mut out = TransformOutputs::new(vec![None]);
    t.transform(
        EventBatch::new(metrics.into_iter().map(Event::Metric).collect()),
        &mut out,
    );
    out.drain()
        .flat_map(|(_, b)| b.events().to_vec())
        .map(|e| e.as_log().unwrap().clone())
        .collect()
}

/// A log's fields as JSON, with its timestamp as Vector writes it.
fn fields(log: &LogRecord) -> serde_json::Value {
    let mut v = serde_json::to_value(Value::Object(log.attributes.clone())).unwrap();
    v["timestamp"] = json!(Value::Timestamp(log.time_unix_nano).to_string_lossy());
    v
}

/// A histogram point: (upper bound, count) per bucket.
fn histogram(name: &str, buckets: &[(f64, u64)], sum: f64) -> Metric {
    Metric {
        name: name.into(),
        kind: MetricKind::Histogram,
        value: MetricValue::Histogram {
            buckets: buckets
                .iter()
                .map(|&(upper_bound, count)| Bucket { upper_bound, count })
                .collect(),
            count: buckets.iter().map(|b| b.1).sum(),
            sum: Some(sum),
            min: None,
            max: None,
        },
        time_unix_nano: T,
        ..Metric::default()
    }
}

#[test]
fn counters_and_gauges_with_host_and_tags() {
    let mut counter = Metric::counter("requests_total", 3.0, T)
        .with_label("host", "web-1")
        .with_label("code", "200");
    counter.temporality = Temporality::Delta;
    counter.labels.insert("n".into(), Value::Integer(7));
    let mut gauge = Metric::gauge("load", 0.5, T);
    gauge.value = MetricValue::Integer(2);
    gauge.resource = Some(Arc::new(Resource::default()));
    let logs = convert(json!({}), vec![counter, gauge]);
    assert_eq!(
        fields(&logs[0]),
        json!({"name": "requests_total", "host": "web-1", "kind": "incremental",
            "tags": {"code": "200", "n": "7"}, "counter": {"value": 3.0},
            "timestamp": "2024-01-01T00:00:00Z"})
    );
    assert_eq!(
        fields(&logs[1]),
        json!({"name": "load", "kind": "absolute", "gauge": {"value": 2.0},
            "timestamp": "2024-01-01T00:00:00Z"})
    );
    assert!(logs[1].resource.is_some());
}

#[test]
fn host_tag_and_full_tag_values() {
    let mut m = Metric::gauge("g", 1.0, T)
        .with_label("hostname", "h")
        .with_label("host", "not-the-host");
    m.labels.insert("bare".into(), Value::Null);
    let logs = convert(
        json!({"host_tag": "hostname", "metric_tag_values": "full", "timezone": "local"}),
        vec![m.clone()],
    );
    let v = fields(&logs[0]);
    assert_eq!(v["host"], "h");
    assert_eq!(v["tags"], json!({"bare": [null], "host": ["not-the-host"]}));
    let v = fields(&convert(json!({}), vec![m])[0]);
    assert_eq!(v["tags"], json!({"hostname": "h"}));
}

#[test]
fn distributions() {
    let histogram = histogram("latency", &[(1.0, 10), (f64::INFINITY, 2)], 9.0);
    let summary = Metric {
        name: "rt".into(),
        kind: MetricKind::Summary,
        value: MetricValue::Summary {
            quantiles: vec![Quantile {
                quantile: 0.5,
                value: 0.25,
            }],
            count: 4,
            sum: 1.5,
        },
        time_unix_nano: T,
        ..Metric::default()
    };
    let exponential = Metric {
        name: "exp".into(),
        kind: MetricKind::Histogram,
        value: MetricValue::ExponentialHistogram(Box::new(ExponentialHistogram {
            count: 3,
            sum: Some(4.0),
            scale: 2,
            zero_count: 1,
            positive: ExponentialBuckets {
                offset: -1,
                counts: vec![2],
            },
            ..ExponentialHistogram::default()
        })),
        time_unix_nano: T,
        ..Metric::default()
    };
    let logs = convert(json!({}), vec![histogram, summary, exponential]);
    assert_eq!(
        fields(&logs[0])["aggregated_histogram"],
        json!({"buckets": [{"upper_limit": 1.0, "count": 10}], "count": 12, "sum": 9.0})
    );
    assert_eq!(
        fields(&logs[1])["aggregated_summary"],
        json!({"quantiles": [{"quantile": 0.5, "value": 0.25}], "count": 4, "sum": 1.5})
    );
    assert_eq!(
        fields(&logs[2])["exponential_histogram"],
        json!({"count": 3, "sum": 4.0, "scale": 2, "zero_count": 1, "zero_threshold": 0.0,
            "positive": {"offset": -1, "counts": [2]}, "negative": {"offset": 0, "counts": []}})
    );
}

#[test]
fn log_to_metric_reads_them_back() {
    let mut counter = Metric::counter("c", 2.0, T).with_label("a", "b");
    counter.temporality = Temporality::Delta;
    let histogram = histogram("h", &[(0.5, 1), (f64::INFINITY, 3)], 7.0);
    let metrics = vec![counter, Metric::gauge("g", 1.5, T), histogram];
    let logs = convert(json!({}), metrics.clone());
    let cfg: LogToMetricConfig = serde_json::from_value(json!({"all_metrics": true})).unwrap();
    let mut back = cfg.build(&cx()).unwrap();
    let mut out = TransformOutputs::new(vec![None, Some("dropped".into())]);
    back.transform(
        EventBatch::new(logs.into_iter().map(Event::Log).collect()),
        &mut out,
    );
    let got: Vec<Metric> = out
        .drain()
        .flat_map(|(port, b)| {
            assert_eq!(port, 0);
            b.events().to_vec()
        })
        .map(|e| match e {
            Event::Metric(m) => m,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, metrics);
}

#[test]
fn points_without_a_time_are_stamped_now() {
    let logs = convert(json!({}), vec![Metric::gauge("g", 1.0, 0)]);
    assert!(logs[0].time_unix_nano > T);
}

#[test]
fn an_empty_host_tag_is_a_build_error() {
    let cfg: MetricToLogConfig = serde_json::from_value(json!({"host_tag": ""})).unwrap();
    assert_eq!(
        cfg.build(&cx()).err().unwrap().option.as_deref(),
        Some("host_tag")
    );
}
