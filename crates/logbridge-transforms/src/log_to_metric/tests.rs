//! Unit tests of `log_to_metric`: each option, failures, sets, the
//! `all_metrics` shape and acknowledgements.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use logbridge_component::telemetry::ComponentKind;
use logbridge_event::{
    BatchNotifier, BatchStatus, Bucket, Finalizers, LogRecord, Metric, MetricKind, MetricValue,
    Path, Quantile, Temporality,
};
use proptest::prelude::*;
use serde_json::json;

use super::*;

const T: i64 = 1_704_067_200_000_000_000;

fn cx() -> BuildContext {
    BuildContext::detached("l2m", ComponentKind::Transform, "/tmp".into())
}

fn build(config: serde_json::Value) -> Result<Box<dyn Transform>, BuildError> {
    build_counted(config).map(|(t, _)| t)
}

/// The transform and its counters.
fn build_counted(
    config: serde_json::Value,
) -> Result<(Box<dyn Transform>, Arc<ComponentMetrics>), BuildError> {
    let cfg: LogToMetricConfig = serde_json::from_value(config).unwrap();
    let cx = cx();
    Ok((cfg.build(&cx)?, cx.metrics))
}

fn log(fields: serde_json::Value) -> Event {
    let mut l = LogRecord {
        time_unix_nano: T,
        ..LogRecord::default()
    };
    l.insert(
        &Path::parse(".").unwrap(),
        serde_json::from_value(fields).unwrap(),
    )
    .unwrap();
    Event::Log(l)
}

/// Runs one batch: (metrics, dropped logs).
fn run(t: &mut Box<dyn Transform>, logs: Vec<Event>) -> (Vec<Metric>, Vec<LogRecord>) {
    let mut out = TransformOutputs::new(vec![None, Some(DROPPED_OUTPUT.into())]);
    t.transform(EventBatch::new(logs), &mut out);
    let (mut metrics, mut dropped) = (Vec::new(), Vec::new());
    for (port, batch) in out.drain() {
        for e in batch.events() {
            match (port, e) {
                (0, Event::Metric(m)) => metrics.push(m.clone()),
                (1, Event::Log(l)) => dropped.push(l.clone()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    (metrics, dropped)
}

fn reason(l: &LogRecord) -> &str {
    l.attributes["dropped"].as_object().unwrap()["reason"]
        .as_str()
        .unwrap()
}

#[test]
fn counts_logs_by_field_with_templated_names_and_tags() {
    let mut t = build(json!({"metrics": [{
        "type": "counter", "field": "status", "name": "{{ service }}_responses_total",
        "namespace": "web", "tags": {"status": "{{ status }}", "host": "{{ host }}"}
    }]}))
    .unwrap();
    let (metrics, dropped) = run(
        &mut t,
        vec![log(
            json!({"status": 200, "service": "shop", "host": "a/b", "message": "ok"}),
        )],
    );
    assert!(dropped.is_empty());
    assert_eq!(metrics.len(), 1);
    let m = &metrics[0];
    assert_eq!(m.name, "web_shop_responses_total");
    assert_eq!(m.kind, MetricKind::Counter);
    assert_eq!(m.temporality, Temporality::Delta);
    assert_eq!(m.value, MetricValue::Scalar(1.0));
    assert_eq!(m.time_unix_nano, T);
    assert_eq!(m.labels["status"].as_str(), Some("200"));
    // Values are kept as they are (no path sanitizing).
    assert_eq!(m.labels["host"].as_str(), Some("a/b"));
}

#[test]
fn the_name_defaults_to_the_field() {
    let mut t = build(json!({"metrics": [
        {"type": "counter", "field": ".status"},
        {"type": "gauge", "field": "load.avg"}
    ]}))
    .unwrap();
    let (metrics, _) = run(
        &mut t,
        vec![log(json!({"status": 1, "load": {"avg": 0.5}}))],
    );
    let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["status", "load.avg"]);
    assert_eq!(metrics[1].kind, MetricKind::Gauge);
    assert_eq!(metrics[1].value, MetricValue::Scalar(0.5));
}

#[test]
fn increment_by_value_and_kind() {
    let mut t = build(json!({"metrics": [
        {"type": "counter", "field": "bytes", "increment_by_value": true, "kind": "absolute"}
    ]}))
    .unwrap();
    let (metrics, dropped) = run(
        &mut t,
        vec![log(json!({"bytes": "12.5"})), log(json!({"bytes": 3}))],
    );
    assert!(dropped.is_empty());
    let values: Vec<_> = metrics.iter().map(|m| m.value.clone()).collect();
    assert_eq!(
        values,
        [MetricValue::Scalar(12.5), MetricValue::Scalar(3.0)]
    );
    assert!(
        metrics
            .iter()
            .all(|m| m.temporality == Temporality::Cumulative)
    );
}

#[test]
fn a_log_failing_one_entry_gives_none_and_goes_to_dropped() {
    let (mut t, counters) = build_counted(json!({"metrics": [
        {"type": "counter", "field": "status"},
        {"type": "gauge", "field": "duration"}
    ]}))
    .unwrap();
    let (metrics, dropped) = run(
        &mut t,
        vec![
            log(json!({"status": 200, "duration": 0.2})),
            log(json!({"status": 200})),
            log(json!({"status": 200, "duration": null})),
            log(json!({"status": 200, "duration": "fast"})),
            log(json!({"status": 200, "duration": true})),
        ],
    );
    assert_eq!(metrics.len(), 2, "{metrics:?}");
    let reasons: Vec<&str> = dropped.iter().map(reason).collect();
    assert_eq!(
        reasons,
        [
            "field_not_found",
            "field_null",
            "not_a_number",
            "not_a_number"
        ]
    );
    let message = dropped[2].attributes["dropped"].as_object().unwrap()["message"]
        .to_string_lossy()
        .into_owned();
    assert_eq!(message, "field .duration is not a number: a string `fast`");
    assert_eq!(counters.errors.load(Ordering::Relaxed), 1);
}

#[test]
fn names_that_do_not_render_drop_the_log_but_tags_are_left_out() {
    let (mut t, counters) = build_counted(json!({"metrics": [{
        "type": "counter", "field": "status", "name": "{{ service }}_total",
        "tags": {"a": "{{ a }}", "multi": ["{{ x }}", "{{ y }}", null], "bare": null}
    }]}))
    .unwrap();
    let (metrics, dropped) = run(
        &mut t,
        vec![
            log(json!({"status": 1, "service": "s", "x": "1", "y": "2"})),
            log(json!({"status": 1, "service": "s", "x": "1"})),
            log(json!({"status": 1})),
        ],
    );
    assert_eq!(metrics.len(), 2);
    // `a` never renders; of several values, the last that renders wins;
    // bare tags carry no value.
    assert_eq!(metrics[0].labels.len(), 1);
    assert_eq!(metrics[0].labels["multi"].as_str(), Some("2"));
    assert_eq!(metrics[1].labels["multi"].as_str(), Some("1"));
    assert_eq!(dropped.len(), 1);
    assert_eq!(reason(&dropped[0]), "template_failed");
    assert_eq!(counters.errors.load(Ordering::Relaxed), 1);
}

#[test]
fn histograms_and_summaries_of_one_observation() {
    let mut t = build(json!({"metrics": [
        {"type": "histogram", "field": "duration", "buckets": [0.1, 1.0]},
        {"type": "summary", "field": "duration", "name": "duration_summary"},
        {"type": "histogram", "field": "duration", "name": "default_buckets"}
    ]}))
    .unwrap();
    let (metrics, _) = run(&mut t, vec![log(json!({"duration": "0.5"}))]);
    assert_eq!(metrics[0].kind, MetricKind::Histogram);
    assert_eq!(metrics[0].temporality, Temporality::Delta);
    let bucket = |upper_bound, count| Bucket { upper_bound, count };
    assert_eq!(
        metrics[0].value,
        MetricValue::Histogram {
            buckets: vec![bucket(0.1, 0), bucket(1.0, 1), bucket(f64::INFINITY, 0)],
            count: 1,
            sum: Some(0.5),
            min: Some(0.5),
            max: Some(0.5),
        }
    );
    assert_eq!(metrics[1].kind, MetricKind::Summary);
    assert_eq!(
        metrics[1].value,
        MetricValue::Summary {
            quantiles: Vec::new(),
            count: 1,
            sum: 0.5
        }
    );
    let MetricValue::Histogram { buckets, .. } = &metrics[2].value else {
        panic!("{:?}", metrics[2]);
    };
    assert_eq!(buckets.len(), DEFAULT_BUCKETS.len() + 1);
    assert_eq!(buckets[6], bucket(0.5, 1));
}

#[test]
fn sets_count_distinct_values_per_series_in_a_batch() {
    let mut t = build(json!({"metrics": [
        {"type": "set", "field": "user", "name": "users", "tags": {"site": "{{ site }}"}}
    ]}))
    .unwrap();
    let (metrics, _) = run(
        &mut t,
        vec![
            log(json!({"user": "ann", "site": "a"})),
            log(json!({"user": "bob", "site": "a"})),
            log(json!({"user": "ann", "site": "a"})),
            log(json!({"user": "ann", "site": "b"})),
        ],
    );
    let got: Vec<(String, MetricValue)> = metrics
        .iter()
        .map(|m| {
            (
                m.labels["site"].to_string_lossy().into_owned(),
                m.value.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a".to_owned(), MetricValue::Scalar(2.0)),
            ("b".to_owned(), MetricValue::Scalar(1.0))
        ]
    );
    assert!(metrics.iter().all(|m| m.kind == MetricKind::Gauge));
}

#[test]
fn all_metrics_reads_metrics_written_as_logs() {
    let mut t = build(json!({"all_metrics": true})).unwrap();
    let (metrics, dropped) = run(
        &mut t,
        vec![
            log(
                json!({"name": "requests", "namespace": "app", "kind": "incremental",
                "tags": {"host": "h", "bare": null, "multi": ["x", "y", null]},
                "counter": {"value": 10.0}}),
            ),
            log(
                json!({"name": "load", "kind": "absolute", "gauge": {"value": 2},
                "timestamp": "2024-01-01T00:00:01Z"}),
            ),
            log(
                json!({"name": "latency", "kind": "absolute", "aggregated_histogram": {
                "buckets": [{"upper_limit": 1.0, "count": 2}, {"upper_limit": 2.0, "count": 3}],
                "count": 6, "sum": 9.5}}),
            ),
            log(json!({"name": "rt", "kind": "absolute", "summary": {
                "quantiles": [{"quantile": 0.5, "value": 1.5}], "count": 4, "sum": 8.0}})),
            log(json!({"name": "d", "kind": "incremental", "distribution": {
                "samples": [{"value": 0.3, "rate": 2}], "statistic": "summary"}})),
            log(json!({"name": "u", "kind": "incremental", "set": {"values": ["a", "b", "a"]}})),
            log(json!({"name": "x", "kind": "sideways", "counter": {"value": 1}})),
            log(json!({"name": "x", "kind": "incremental"})),
            log(json!({"kind": "incremental", "counter": {"value": 1}})),
            log(json!({"name": "x", "kind": "incremental", "gauge": {"value": "high"}})),
        ],
    );
    let reasons: Vec<&str> = dropped.iter().map(reason).collect();
    assert_eq!(
        reasons,
        [
            "invalid_metric",
            "metric_details_not_found",
            "field_not_found",
            "invalid_metric"
        ]
    );
    assert_eq!(metrics.len(), 6, "{metrics:?}");
    assert_eq!(metrics[0].name, "app_requests");
    assert_eq!(metrics[0].temporality, Temporality::Delta);
    assert_eq!(metrics[0].value, MetricValue::Scalar(10.0));
    assert_eq!(metrics[0].labels.len(), 2);
    assert_eq!(metrics[0].labels["multi"].as_str(), Some("y"));
    assert_eq!(metrics[1].kind, MetricKind::Gauge);
    assert_eq!(metrics[1].temporality, Temporality::Cumulative);
    assert_eq!(metrics[1].time_unix_nano, T + 1_000_000_000);
    let MetricValue::Histogram { buckets, count, .. } = &metrics[2].value else {
        panic!("{:?}", metrics[2]);
    };
    let counts: Vec<u64> = buckets.iter().map(|b| b.count).collect();
    assert_eq!((counts, *count), (vec![2, 3, 1], 6));
    assert_eq!(
        metrics[3].value,
        MetricValue::Summary {
            quantiles: vec![Quantile {
                quantile: 0.5,
                value: 1.5
            }],
            count: 4,
            sum: 8.0
        }
    );
    assert_eq!(
        metrics[4].value,
        MetricValue::Summary {
            quantiles: Vec::new(),
            count: 2,
            sum: 0.6
        }
    );
    assert_eq!(metrics[5].value, MetricValue::Scalar(2.0));
}

#[test]
fn metrics_and_dead_letters_answer_to_the_logs_acknowledgement() {
    let mut t = build(json!({"metrics": [{"type": "counter", "field": "status"}]})).unwrap();
    let (tx, rx) = mpsc::channel();
    let notifier = BatchNotifier::new(move |s| tx.send(s).unwrap());
    let batch = EventBatch::new(vec![log(json!({"status": 1})), log(json!({}))])
        .with_finalizers(Finalizers::new(notifier));
    let mut out = TransformOutputs::new(vec![None, Some(DROPPED_OUTPUT.into())]);
    t.transform(batch, &mut out);
    let emitted: Vec<_> = out.drain().collect();
    assert_eq!(emitted.len(), 2);
    assert!(rx.try_recv().is_err(), "acknowledged before delivery");
    drop(emitted);
    assert_eq!(rx.try_recv().unwrap(), BatchStatus::Delivered);
}

#[test]
fn bad_options_are_build_errors() {
    let err = build(json!({"metrics": []})).err().unwrap();
    assert_eq!(err.option.as_deref(), Some("metrics"));
    let err =
        build(json!({"metrics": [{"type": "histogram", "field": "d", "buckets": [1.0, 0.5]}]}))
            .err()
            .unwrap();
    assert_eq!(err.option.as_deref(), Some("metrics[0].buckets"));
    let err = build(json!({"metrics": [{"type": "counter", "field": "d", "name": "{{ x"}]}))
        .err()
        .unwrap();
    assert_eq!(err.option.as_deref(), Some("metrics[0].name"));
    let err = build(json!({"metrics": [{"type": "counter", "field": "a b"}]}))
        .err()
        .unwrap();
    assert_eq!(err.option.as_deref(), Some("metrics[0].field"));
    assert!(
        serde_json::from_value::<LogToMetricConfig>(
            json!({"metrics": [{"type": "counter", "field": "a", "bucket": [1]}]})
        )
        .is_err()
    );
}

#[test]
fn other_kinds_of_events_give_nothing() {
    let mut t = build(json!({"metrics": [{"type": "counter", "field": "status"}]})).unwrap();
    let (metrics, dropped) = run(&mut t, vec![Event::Metric(Metric::gauge("g", 1.0, 1))]);
    assert!(metrics.is_empty() && dropped.is_empty());
}

/// Keys and strings that the transform looks at, so random logs reach
/// its branches.
const WORDS: [&str; 24] = [
    "name",
    "kind",
    "counter",
    "value",
    "buckets",
    "upper_limit",
    "count",
    "sum",
    "quantiles",
    "quantile",
    "samples",
    "rate",
    "statistic",
    "set",
    "values",
    "tags",
    "gauge",
    "distribution",
    "aggregated_histogram",
    "summary",
    "status",
    "incremental",
    "absolute",
    "inf",
];

fn arb_value() -> impl Strategy<Value = logbridge_event::Value> {
    use logbridge_event::{ObjectMap, Value};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Float),
        prop::sample::select(WORDS.to_vec()).prop_map(Value::from),
        "[0-9.e+-]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(WORDS.to_vec()), inner), 0..6).prop_map(
                |entries| {
                    Value::Object(ObjectMap::from_entries(
                        entries.into_iter().map(|(k, v)| (k.into(), v)).collect(),
                    ))
                }
            ),
        ]
    })
}

proptest! {
    /// Whatever the logs hold, the transform answers with metrics or dead
    /// letters, never a panic.
    #[test]
    fn any_log_gives_metrics_or_a_reason(values in prop::collection::vec(arb_value(), 1..8)) {
        let logs: Vec<Event> = values
            .into_iter()
            .map(|v| {
                let mut l = LogRecord::default();
                if let logbridge_event::Value::Object(fields) = v {
                    l.attributes = fields;
                }
                Event::Log(l)
            })
            .collect();
        for config in [
            json!({"all_metrics": true}),
            json!({"metrics": [
                {"type": "counter", "field": "status", "increment_by_value": true,
                 "name": "{{ name }}", "tags": {"k": "{{ kind }}"}},
                {"type": "histogram", "field": "value"},
                {"type": "set", "field": "count"},
                {"type": "summary", "field": "sum", "namespace": "{{ tags }}"},
            ]}),
        ] {
            let mut t = build(config).unwrap();
            let (_, dropped) = run(&mut t, logs.clone());
            prop_assert!(dropped.len() <= logs.len());
            prop_assert!(dropped.iter().all(|d| d.attributes.contains_key("dropped")));
        }
    }
}
