//! Series, labels and dimensions, buckets and units, exemplars, the
//! cardinality bound, temporality and configuration errors.

use std::sync::Arc;

use logbridge_component::TransformOutputs;
use logbridge_component::telemetry::{ComponentKind, Registry};
use logbridge_event::{
    KeyString, Metric, MetricValue, Span, SpanId, SpanKind, StatusCode, TraceId, Value,
};

use super::*;
use crate::testing::{drain_metrics, service_resource};

fn build(toml_text: &str) -> (SpanMetrics, Arc<Registry>) {
    let config: SpanMetricsConfig = toml::from_str(toml_text).unwrap();
    let registry = Registry::new();
    let metrics = registry.register("sm", ComponentKind::Transform, "span_metrics");
    (config.build_metrics(metrics).unwrap(), registry)
}

fn span(service: &str, name: &str, ms: i64, error: bool) -> Span {
    Span {
        trace_id: TraceId([3; 16]),
        span_id: SpanId([4; 8]),
        name: name.into(),
        kind: SpanKind::Server,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_000_000_000 + ms * 1_000_000,
        status: logbridge_event::SpanStatus {
            code: if error {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            message: String::new(),
        },
        resource: service_resource(service),
        ..Default::default()
    }
}

fn flush(sm: &mut SpanMetrics, now: i64) -> Vec<Metric> {
    let mut out = TransformOutputs::new(vec![None]);
    sm.flush(now, &mut out);
    drain_metrics(&mut out)
}

fn find<'a>(points: &'a [Metric], name: &str, span_name: &str) -> &'a Metric {
    points
        .iter()
        .find(|m| m.name == name && m.labels.get("span.name") == Some(&Value::from(span_name)))
        .unwrap_or_else(|| panic!("{name} of {span_name} in {points:#?}"))
}

#[test]
fn calls_and_durations_per_service_name_kind_and_status() {
    let (mut sm, _) = build("");
    for (name, ms, error) in [
        ("GET /", 3, false),
        ("GET /", 70, false),
        ("GET /", 5, true),
        ("POST /", 1, false),
    ] {
        sm.record(&span("shop", name, ms, error), 10);
    }
    let points = flush(&mut sm, 20);
    // Three series (GET ok, GET error, POST), a counter and a histogram each.
    assert_eq!(points.len(), 6);
    let calls: Vec<&Metric> = points
        .iter()
        .filter(|m| m.name == "traces.span.metrics.calls")
        .collect();
    assert_eq!(calls.len(), 3);
    let get_ok = calls
        .iter()
        .find(|m| {
            m.labels.get("span.name") == Some(&Value::from("GET /"))
                && m.labels.get("status.code") == Some(&Value::from("STATUS_CODE_UNSET"))
        })
        .unwrap();
    assert_eq!(get_ok.value, MetricValue::Integer(2));
    assert_eq!(
        get_ok.labels.get("service.name"),
        Some(&Value::from("shop"))
    );
    assert_eq!(
        get_ok.labels.get("span.kind"),
        Some(&Value::from("SPAN_KIND_SERVER"))
    );
    assert_eq!(get_ok.kind, MetricKind::Counter);
    assert_eq!(get_ok.start_time_unix_nano, 10);
    assert_eq!(get_ok.time_unix_nano, 20);
    let duration = points
        .iter()
        .find(|m| m.name == "traces.span.metrics.duration" && m.labels == get_ok.labels)
        .unwrap();
    assert_eq!(duration.unit, "ms");
    let MetricValue::Histogram {
        buckets,
        count,
        sum,
        ..
    } = &duration.value
    else {
        panic!()
    };
    assert_eq!(*count, 2);
    assert_eq!(*sum, Some(73.0));
    assert_eq!(buckets.len(), 17);
    // 3 ms in (2, 4]; 70 ms in (50, 100].
    assert_eq!(buckets[1].count, 1);
    assert_eq!(buckets[6].count, 1);
    assert_eq!(buckets[16].upper_bound, f64::INFINITY);
}

#[test]
fn dimensions_come_from_the_span_then_the_resource_then_the_default() {
    let (mut sm, _) = build(
        "dimensions = [{ name = \"http.method\" }, { name = \"region\", default = \"unknown\" }, { name = \"service.version\" }]\nexclude_dimensions = [\"span.kind\"]",
    );
    let mut s = span("shop", "a", 1, false);
    s.attributes
        .insert(KeyString::from("http.method"), Value::from("GET"));
    Arc::make_mut(s.resource.as_mut().unwrap())
        .attributes
        .insert(KeyString::from("service.version"), Value::from("1.2"));
    sm.record(&s, 0);
    sm.record(&span("shop", "b", 1, false), 0);
    let points = flush(&mut sm, 1);
    let a = find(&points, "traces.span.metrics.calls", "a");
    assert_eq!(a.labels.get("http.method"), Some(&Value::from("GET")));
    assert_eq!(a.labels.get("region"), Some(&Value::from("unknown")));
    assert_eq!(a.labels.get("service.version"), Some(&Value::from("1.2")));
    assert_eq!(a.labels.get("span.kind"), None);
    let b = find(&points, "traces.span.metrics.calls", "b");
    assert_eq!(b.labels.get("http.method"), None, "no default: no label");
}

#[test]
fn buckets_units_namespace_and_exemplars_are_configurable() {
    let (mut sm, _) = build(
        "namespace = \"\"\nhistogram = { unit = \"s\", explicit = { buckets = [\"100ms\", \"1s\"] } }\nexemplars = { enabled = true, max_per_data_point = 1 }",
    );
    sm.record(&span("shop", "a", 250, false), 0);
    sm.record(&span("shop", "a", 2500, false), 0);
    let points = flush(&mut sm, 1);
    let d = find(&points, "duration", "a");
    assert_eq!(d.unit, "s");
    let MetricValue::Histogram { buckets, sum, .. } = &d.value else {
        panic!()
    };
    assert_eq!(
        buckets
            .iter()
            .map(|b| (b.upper_bound, b.count))
            .collect::<Vec<_>>(),
        vec![(0.1, 0), (1.0, 1), (f64::INFINITY, 1)]
    );
    assert_eq!(*sum, Some(2.75));
    assert_eq!(d.exemplars.len(), 1);
    assert_eq!(d.exemplars[0].trace_id, Some(TraceId([3; 16])));
    let calls = find(&points, "calls", "a");
    assert_eq!(calls.exemplars.len(), 1);
    // Exemplars are of one interval.
    let points = flush(&mut sm, 2);
    assert!(find(&points, "calls", "a").exemplars.is_empty());
}

#[test]
fn cumulative_keeps_counting_and_delta_starts_again() {
    let (mut cumulative, _) = build("");
    let (mut delta, _) = build("aggregation_temporality = \"AGGREGATION_TEMPORALITY_DELTA\"");
    for sm in [&mut cumulative, &mut delta] {
        sm.record(&span("shop", "a", 1, false), 0);
    }
    flush(&mut cumulative, 1);
    flush(&mut delta, 1);
    for sm in [&mut cumulative, &mut delta] {
        sm.record(&span("shop", "a", 1, false), 2);
    }
    let c = flush(&mut cumulative, 3);
    let d = flush(&mut delta, 3);
    assert_eq!(
        find(&c, "traces.span.metrics.calls", "a").value,
        MetricValue::Integer(2)
    );
    let dc = find(&d, "traces.span.metrics.calls", "a");
    assert_eq!(dc.value, MetricValue::Integer(1));
    assert_eq!(dc.start_time_unix_nano, 1);
    assert_eq!(dc.temporality, Temporality::Delta);
    // Nothing new: a delta series sends nothing.
    assert!(flush(&mut delta, 4).is_empty());
}

#[test]
fn series_past_the_limit_count_in_an_overflow_series() {
    let (mut sm, registry) = build("aggregation_cardinality_limit = 2");
    for name in ["a", "b", "c", "d", "c"] {
        sm.record(&span("shop", name, 1, false), 0);
    }
    assert_eq!(sm.series.len(), 3, "two series and the overflow one");
    let points = flush(&mut sm, 1);
    let overflow = points
        .iter()
        .find(|m| {
            m.name == "traces.span.metrics.calls" && m.labels.get("otel.metric.overflow").is_some()
        })
        .unwrap();
    assert_eq!(overflow.value, MetricValue::Integer(3));
    assert_eq!(overflow.labels.len(), 1);
    let text = registry.render();
    assert!(
        text.lines().any(
            |l| l.starts_with("logbridge_span_metrics_overflow_spans_total") && l.ends_with(" 3")
        ),
        "{text}"
    );
}

#[test]
fn idle_series_expire() {
    let (mut sm, _) = build("metrics_expiration_secs = 1");
    sm.record(&span("shop", "old", 1, false), 0);
    sm.record(&span("shop", "new", 1, false), 1_500_000_000);
    let points = flush(&mut sm, 2_000_000_000);
    assert!(
        points
            .iter()
            .all(|m| m.labels.get("span.name") == Some(&Value::from("new")))
    );
}

#[test]
fn configuration_errors_name_the_option() {
    let err = |text: &str| {
        let config: SpanMetricsConfig = toml::from_str(text).unwrap();
        let registry = Registry::new();
        let metrics = registry.register("sm", ComponentKind::Transform, "span_metrics");
        match config.build_metrics(metrics) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    };
    assert!(err("histogram.explicit.buckets = [\"2 parsecs\"]").contains("not a duration"));
    assert!(err("histogram.explicit.buckets = [\"2s\", \"1s\"]").contains("increasing"));
    assert!(err("dimensions = [{ name = \"span.name\" }]").contains("already a label"));
    assert!(err("exclude_dimensions = [\"nope\"]").contains("not a built-in label"));
    assert!(toml::from_str::<SpanMetricsConfig>("histogram.exponential.max_size = 160").is_err());
}
