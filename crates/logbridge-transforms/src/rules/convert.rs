//! Between pipeline events and the rules engine: metric events to samples
//! (histograms and summaries as their `_bucket`/`_sum`/`_count` series, as
//! Prometheus stores them), recorded samples back to metric events, and
//! alert notifications to log events.

use logbridge_event::{
    Event, FLAG_NO_RECORDED_VALUE, KeyString, LogRecord, Metric, MetricValue, ObjectMap, Value,
};
use logbridge_prometheus::remote_write::metrics_to_request;
use logbridge_rules::labels::{Labels, METRIC_NAME};
use logbridge_rules::promql::value::is_stale_marker;
use logbridge_rules::rules::{AlertState, Notification};

/// The samples of a batch's metric events: (labels, milliseconds, value).
/// A metric without a time gets `now_ms`.
pub fn samples(events: &[Event], now_ms: i64) -> Vec<(Labels, i64, f64)> {
    let request = metrics_to_request(events.iter().filter_map(|e| match e {
        Event::Metric(m) => Some(m),
        _ => None,
    }));
    let mut out = Vec::new();
    for series in request.timeseries {
        let labels = Labels::from_pairs(series.labels.iter().map(|l| (&l.name, &l.value)));
        for sample in series.samples {
            let t = if sample.timestamp == 0 {
                now_ms
            } else {
                sample.timestamp
            };
            out.push((labels.clone(), t, sample.value));
        }
    }
    out
}

/// A recorded sample as a gauge event; a stale marker as a point with no
/// recorded value.
pub fn metric_event(labels: &Labels, t_ms: i64, v: f64) -> Event {
    let name = labels.value_of(METRIC_NAME);
    let mut metric = Metric::gauge(name, v, t_ms.saturating_mul(1_000_000));
    for label in labels.iter().filter(|l| &*l.name != METRIC_NAME) {
        metric
            .labels
            .insert(KeyString::new(&*label.name), Value::from(&*label.value));
    }
    if is_stale_marker(v) {
        metric.flags |= FLAG_NO_RECORDED_VALUE;
        metric.value = MetricValue::Scalar(f64::NAN);
    }
    Event::Metric(metric)
}

/// RFC 3339 with milliseconds, as Prometheus writes alert times.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn string_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut map = ObjectMap::default();
    for (k, v) in pairs {
        map.insert(KeyString::new(k), Value::from(v));
    }
    Value::Object(map)
}

/// An alert as a log event: its body holds the fields of Alertmanager's
/// API v2 (`labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL`)
/// and `state`, `activeAt`, `value`.
pub fn alert_event(n: &Notification, now_nanos: i64) -> Event {
    let mut body = ObjectMap::default();
    body.insert(
        KeyString::new("labels"),
        string_map(n.labels.iter().map(|l| (&*l.name, &*l.value))),
    );
    body.insert(
        KeyString::new("annotations"),
        string_map(n.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    let state = match n.state {
        AlertState::Inactive => "resolved",
        other => other.as_str(),
    };
    body.insert(KeyString::new("state"), Value::from(state));
    body.insert(
        KeyString::new("startsAt"),
        Value::from(rfc3339(n.starts_at)),
    );
    body.insert(KeyString::new("endsAt"), Value::from(rfc3339(n.ends_at)));
    body.insert(
        KeyString::new("generatorURL"),
        Value::from(n.generator_url.as_str()),
    );
    body.insert(
        KeyString::new("activeAt"),
        Value::from(rfc3339(n.active_at)),
    );
    body.insert(KeyString::new("value"), Value::from(n.value));
    Event::Log(LogRecord {
        time_unix_nano: now_nanos,
        observed_time_unix_nano: now_nanos,
        event_name: Some(KeyString::new("alert")),
        body: Value::Object(body),
        ..LogRecord::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_event::{Bucket, MetricKind};

    #[test]
    fn histograms_become_bucket_series() {
        let mut m = Metric::gauge("latency", 0.0, 5_000_000);
        m.kind = MetricKind::Counter;
        m.value = MetricValue::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 0.1,
                    count: 2,
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 1,
                },
            ],
            count: 3,
            sum: Some(0.5),
            min: None,
            max: None,
        };
        let got = samples(&[Event::Metric(m)], 9);
        let show: Vec<String> = got
            .iter()
            .map(|(l, t, v)| format!("{} {t} {v}", l))
            .collect();
        assert_eq!(
            show,
            [
                r#"latency_bucket{le="0.1"} 5 2"#,
                r#"latency_bucket{le="+Inf"} 5 3"#,
                "latency_sum{} 5 0.5",
                "latency_count{} 5 3",
            ]
        );
    }

    #[test]
    fn recorded_samples_and_stale_markers() {
        let labels = Labels::from_pairs([("__name__", "job:up:sum"), ("job", "a")]);
        let Event::Metric(m) = metric_event(&labels, 2000, 3.0) else {
            panic!()
        };
        assert_eq!(
            (m.name.as_str(), m.time_unix_nano),
            ("job:up:sum", 2_000_000_000)
        );
        assert_eq!(m.labels.get("job").unwrap().to_string_lossy(), "a");
        let stale = logbridge_rules::promql::value::stale_marker();
        let Event::Metric(m) = metric_event(&labels, 2000, stale) else {
            panic!()
        };
        assert_eq!(m.flags & FLAG_NO_RECORDED_VALUE, FLAG_NO_RECORDED_VALUE);
    }
}
