//! The evaluator and store beyond the peer cases: limits, and no panic
//! from any expression.

mod support;

use std::sync::Arc;
use std::time::Duration;

use logbridge_rules::labels::Labels;
use logbridge_rules::promql::{Engine, EngineOptions, QueryError, Value, parse};
use logbridge_rules::store::{AppendError, SeriesStore};
use proptest::prelude::*;

use support::SteppingClock;

fn store() -> SeriesStore {
    let mut store = SeriesStore::new(100);
    for i in 0..5 {
        let labels = Labels::from_pairs([
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("instance", &format!("i{i}")),
        ]);
        for t in 0..60 {
            store
                .append(&labels, t * 15_000, (t * (i + 1)) as f64)
                .unwrap();
        }
        let le = ["0.1", "1", "+Inf"][i as usize % 3];
        let bucket = Labels::from_pairs([("__name__", "latency_bucket"), ("le", le)]);
        store.append(&bucket, 0, i as f64).ok();
    }
    store
}

#[test]
fn store_bounds_series_and_order() {
    let mut store = SeriesStore::new(1);
    let a = Labels::from_pairs([("__name__", "a")]);
    let b = Labels::from_pairs([("__name__", "b")]);
    store.append(&a, 10, 1.0).unwrap();
    assert_eq!(store.append(&b, 10, 1.0), Err(AppendError::SeriesLimit));
    assert_eq!(store.append(&a, 5, 1.0), Err(AppendError::OutOfOrder));
    store.truncate_before(11);
    assert_eq!(store.series_count(), 0);
    store.append(&b, 20, 1.0).unwrap();
}

#[test]
fn queries_stop_at_the_sample_limit() {
    let store = store();
    let engine = Engine::new(EngineOptions {
        max_samples: 100,
        ..EngineOptions::default()
    });
    let expr = parse("sum(rate(http_requests_total[15m]))").unwrap();
    assert_eq!(
        engine.instant(&store, &expr, 900_000),
        Err(QueryError::TooManySamples(100))
    );
    let expr = parse("max_over_time(vector(1)[100y:1ms])").unwrap();
    assert_eq!(
        engine.instant(&store, &expr, 900_000),
        Err(QueryError::TooManySamples(100))
    );
    let expr = parse("up").unwrap();
    assert!(engine.range(&store, &expr, 0, 1_000_000_000, 1).is_err());
}

#[test]
fn queries_stop_at_the_time_limit_on_the_given_clock() {
    let store = store();
    let expr = parse("count_over_time(vector(1)[1h:1s])").unwrap();
    let limit = Duration::from_secs(10);
    // Every reading of this clock is a second later: the subquery's steps
    // outlast ten of them.
    let timed = Engine::new(EngineOptions {
        timeout: Some(limit),
        clock: Some(Arc::new(SteppingClock::new())),
        ..EngineOptions::default()
    });
    assert_eq!(
        timed.instant(&store, &expr, 3_600_000),
        Err(QueryError::Timeout(limit))
    );
    // Without a clock there is nothing to measure the limit with.
    let untimed = Engine::new(EngineOptions {
        timeout: Some(limit),
        ..EngineOptions::default()
    });
    assert!(untimed.instant(&store, &expr, 3_600_000).is_ok());
}

#[test]
fn evaluates_at_the_evaluation_time() {
    let store = store();
    let engine = Engine::default();
    let expr = parse("sum by (job) (rate(http_requests_total[5m]))").unwrap();
    let result = engine.instant(&store, &expr, 600_000).unwrap();
    let Value::Vector(samples) = result.value else {
        panic!("not a vector")
    };
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].labels, Labels::from_pairs([("job", "api")]));
    // Instances grow by 1..=5 per 15 s: 15 per 15 s in total.
    assert!((samples[0].v - 1.0).abs() < 1e-9, "{}", samples[0].v);
}

const FRAGMENTS: &[&str] = &[
    "http_requests_total",
    "http_requests_total{job=~\"a.*|api\"}",
    "latency_bucket",
    "nothing",
    "{__name__=~\".+\"}",
    "1",
    "-Inf",
    "NaN",
    "time()",
    "vector(2)",
];
const RANGE_FRAGMENTS: &[&str] = &["[5m]", "[1m:15s]", "[30m] offset 5m", "[2m] @ 100", "[1s]"];
const WRAPPERS: &[&str] = &[
    "sum by (job) ({})",
    "topk(2, {})",
    "quantile(0.9, {})",
    "count_values(\"v\", {})",
    "stddev without (instance) ({})",
    "abs({})",
    "clamp({}, 0, 1)",
    "histogram_quantile(0.5, {})",
    "histogram_fraction(0, 1, {})",
    "label_replace({}, \"x\", \"$1\", \"instance\", \"(.*)\")",
    "label_join({}, \"x\", \"-\", \"job\", \"instance\")",
    "sort_desc({})",
    "absent({})",
    "scalar({})",
    "-({})",
    "({}) > bool 3",
    "({}) / on(job) group_left sum by (job) ({})",
    "({}) or ({})",
    "({}) unless on() ({})",
    "timestamp({})",
    "round({}, 0.3)",
    "year({})",
];
const RANGE_WRAPPERS: &[&str] = &[
    "rate({})",
    "irate({})",
    "deriv({})",
    "predict_linear({}, 60)",
    "quantile_over_time(0.3, {})",
    "mad_over_time({})",
    "double_exponential_smoothing({}, 0.5, 0.5)",
    "changes({})",
    "absent_over_time({})",
    "ts_of_max_over_time({})",
    "avg_over_time({})",
    "stdvar_over_time({})",
];

fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        (
            proptest::sample::select(RANGE_WRAPPERS),
            proptest::sample::select(&FRAGMENTS[..5]),
            proptest::sample::select(RANGE_FRAGMENTS)
        )
            .prop_map(|(w, f, r)| w.replace("{}", &format!("{f}{r}"))),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        (proptest::sample::select(WRAPPERS), inner.clone(), inner)
            .prop_map(|(w, a, b)| w.replacen("{}", &a, 1).replacen("{}", &b, 1))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever expression parses evaluates to a value or an error, never a
    /// panic, as an instant and as a range query.
    #[test]
    fn no_expression_panics(text in expression(), t in 0i64..1_200_000) {
        let store = store();
        let engine = Engine::default();
        let parsed = parse(&text);
        prop_assume!(parsed.is_ok());
        let expr = parsed.unwrap();
        let _ = engine.instant(&store, &expr, t);
        let _ = engine.range(&store, &expr, t, t + 120_000, 30_000);
    }

    /// Arbitrary text never panics the parser or the evaluator.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,60}") {
        let store = store();
        if let Ok(expr) = parse(&text) {
            let _ = Engine::default().instant(&store, &expr, 60_000);
        }
    }
}
