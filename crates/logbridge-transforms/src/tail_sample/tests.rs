//! Holding and deciding traces, each policy, the bounds, the decision
//! cache, finalizers, configuration errors, and properties over any
//! arrival order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use logbridge_component::telemetry::{ComponentKind, Registry};
use logbridge_component::{DROPPED_OUTPUT, TransformOutputs};
use logbridge_event::{
    BatchNotifier, Event, EventBatch, Finalizers, KeyString, Resource, Span, SpanId, SpanStatus,
    StatusCode, TraceId, Value,
};
use proptest::prelude::*;

use super::*;

fn config(policies: &str, extra: &str) -> TailSampleConfig {
    toml::from_str(&format!("decision_wait_secs = 1.0\n{extra}\n{policies}")).unwrap()
}

struct Harness {
    sampler: TailSample,
    registry: Arc<Registry>,
    t0: Instant,
}

impl Harness {
    fn new(config: &TailSampleConfig) -> Harness {
        let registry = Registry::new();
        let metrics = registry.register("ts", ComponentKind::Transform, "tail_sample");
        Harness {
            sampler: config.build_sampler(metrics, "ts").unwrap(),
            registry,
            t0: Instant::now(),
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    /// Sends `spans` at `secs`; returns (kept, dropped-output) events.
    fn send(&mut self, secs: f64, spans: Vec<Event>) -> (Vec<Event>, Vec<Event>) {
        self.send_batch(secs, EventBatch::new(spans))
    }

    fn send_batch(&mut self, secs: f64, batch: EventBatch) -> (Vec<Event>, Vec<Event>) {
        let mut out = outputs();
        let now = self.at(secs);
        self.sampler.transform_at(batch, now, &mut out);
        split(&mut out)
    }

    /// Lets time pass to `secs` with no span coming.
    fn tick(&mut self, secs: f64) -> Vec<Event> {
        let mut out = outputs();
        let now = self.at(secs);
        self.sampler.decide_due(now);
        self.sampler.emit(&mut out);
        split(&mut out).0
    }

    fn counter(&self, name: &str, label: &str) -> u64 {
        self.registry
            .render()
            .lines()
            .filter(|l| l.starts_with(name) && l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

fn outputs() -> TransformOutputs {
    TransformOutputs::new(vec![None, Some(DROPPED_OUTPUT.to_owned())])
}

fn split(out: &mut TransformOutputs) -> (Vec<Event>, Vec<Event>) {
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for (port, mut batch) in out.drain() {
        let target = if port == 0 { &mut kept } else { &mut dropped };
        target.extend(batch.take_events());
    }
    (kept, dropped)
}

fn trace(n: u8) -> TraceId {
    let mut id = [0x11; 16];
    id[15] = n;
    id[0] = n.wrapping_mul(37);
    TraceId(id)
}

/// A span of trace `t`, from `start_ms` to `end_ms`.
fn span(t: u8, id: u8, start_ms: i64, end_ms: i64) -> Span {
    Span {
        trace_id: trace(t),
        span_id: SpanId([id.max(1); 8]),
        name: "op".into(),
        start_time_unix_nano: start_ms * 1_000_000,
        end_time_unix_nano: end_ms * 1_000_000,
        ..Default::default()
    }
}

fn ev(span: Span) -> Event {
    Event::Span(Box::new(span))
}

fn with_attr(mut s: Span, key: &str, value: Value) -> Span {
    s.attributes.insert(KeyString::from(key), value);
    s
}

fn ids(events: &[Event]) -> Vec<(TraceId, SpanId)> {
    events
        .iter()
        .map(|e| match e {
            Event::Span(s) => (s.trace_id, s.span_id),
            _ => panic!("not a span"),
        })
        .collect()
}

const ALWAYS: &str = "[[policies]]\nname = \"all\"\ntype = \"always_sample\"\n";

#[test]
fn a_trace_is_held_until_its_wait_is_over_then_leaves_whole() {
    let mut h = Harness::new(&config(ALWAYS, ""));
    let (kept, _) = h.send(0.0, vec![ev(span(1, 1, 0, 5)), ev(span(2, 1, 0, 5))]);
    assert!(kept.is_empty(), "held, not passed on");
    let (kept, _) = h.send(0.5, vec![ev(span(1, 2, 1, 3))]);
    assert!(kept.is_empty());
    assert!(h.tick(0.99).is_empty());
    let kept = h.tick(1.0);
    assert_eq!(
        ids(&kept),
        vec![
            (trace(1), SpanId([1; 8])),
            (trace(1), SpanId([2; 8])),
            (trace(2), SpanId([1; 8]))
        ]
    );
    assert_eq!(
        h.counter("logbridge_tail_sample_traces_total", "sampled"),
        2
    );
    assert_eq!(h.sampler.traces.len(), 0);
    assert_eq!(h.sampler.held_spans, 0);
}

/// Which of the traces built by `build` a single policy keeps.
fn kept_traces(policy: &str, traces: Vec<Vec<Span>>) -> Vec<u8> {
    let mut h = Harness::new(&config(policy, ""));
    let spans = traces.into_iter().flatten().map(ev).collect();
    h.send(0.0, spans);
    let kept = h.tick(2.0);
    let mut ts: Vec<u8> = ids(&kept).iter().map(|(t, _)| t.0[15]).collect();
    ts.dedup();
    ts
}

#[test]
fn latency_takes_the_whole_trace_from_first_start_to_last_end() {
    let policy = "[[policies]]\nname = \"slow\"\ntype = \"latency\"\nlatency.threshold_ms = 100\n";
    let traces = vec![
        vec![span(1, 1, 0, 50), span(1, 2, 60, 150)], // 150 ms in all
        vec![span(2, 1, 0, 100)],                     // exactly 100: not above
        vec![span(3, 1, 10, 20), span(3, 2, 0, 101)], // 101
    ];
    assert_eq!(kept_traces(policy, traces.clone()), vec![1, 3]);
    let banded = "[[policies]]\nname = \"band\"\ntype = \"latency\"\nlatency = { threshold_ms = 100, upper_threshold_ms = 120 }\n";
    assert_eq!(kept_traces(banded, traces), vec![3]);
}

#[test]
fn status_code_matches_any_span() {
    let policy = "[[policies]]\nname = \"errors\"\ntype = \"status_code\"\nstatus_code.status_codes = [\"ERROR\"]\n";
    let mut failed = span(2, 2, 0, 1);
    failed.status = SpanStatus {
        code: StatusCode::Error,
        message: "boom".into(),
    };
    let traces = vec![vec![span(1, 1, 0, 1)], vec![span(2, 1, 0, 1), failed]];
    assert_eq!(kept_traces(policy, traces), vec![2]);
}

#[test]
fn attribute_policies_look_at_spans_and_resources_and_invert() {
    let numeric = "[[policies]]\nname = \"n\"\ntype = \"numeric_attribute\"\nnumeric_attribute = { key = \"http.status_code\", min_value = 500, max_value = 599 }\n";
    let mut on_resource = span(3, 1, 0, 1);
    on_resource.resource = Some(Arc::new(Resource {
        attributes: [(KeyString::from("http.status_code"), Value::Integer(503))]
            .into_iter()
            .collect(),
        ..Default::default()
    }));
    let traces = vec![
        vec![with_attr(
            span(1, 1, 0, 1),
            "http.status_code",
            Value::Integer(200),
        )],
        vec![with_attr(
            span(2, 1, 0, 1),
            "http.status_code",
            Value::Float(500.0),
        )],
        vec![on_resource],
        vec![span(4, 1, 0, 1)],
    ];
    assert_eq!(kept_traces(numeric, traces.clone()), vec![2, 3]);
    let inverted = numeric.replace("max_value = 599", "max_value = 599, invert_match = true");
    assert_eq!(kept_traces(&inverted, traces), vec![1, 4]);

    let text = |extra: &str| {
        format!(
            "[[policies]]\nname = \"s\"\ntype = \"string_attribute\"\nstring_attribute = {{ key = \"route\", values = [\"/health\", \"^/api/v[0-9]+/users$\"]{extra} }}\n"
        )
    };
    let traces = vec![
        vec![with_attr(span(1, 1, 0, 1), "route", Value::from("/health"))],
        vec![with_attr(
            span(2, 1, 0, 1),
            "route",
            Value::from("/api/v2/users"),
        )],
        vec![with_attr(
            span(3, 1, 0, 1),
            "route",
            Value::from("/healthz"),
        )],
        vec![with_attr(span(4, 1, 0, 1), "route", Value::Integer(1))],
    ];
    assert_eq!(kept_traces(&text(""), traces.clone()), vec![1]);
    // Regular expressions match anywhere, as Go's do in the collector.
    assert_eq!(
        kept_traces(&text(", enabled_regex_matching = true"), traces.clone()),
        vec![1, 2, 3]
    );
    assert_eq!(
        kept_traces(&text(", invert_match = true"), traces),
        vec![2, 3, 4]
    );

    let boolean = "[[policies]]\nname = \"b\"\ntype = \"boolean_attribute\"\nboolean_attribute = { key = \"debug\", value = true }\n";
    let traces = vec![
        vec![with_attr(span(1, 1, 0, 1), "debug", Value::Bool(true))],
        vec![with_attr(span(2, 1, 0, 1), "debug", Value::from("true"))],
    ];
    assert_eq!(kept_traces(boolean, traces), vec![1]);
}

#[test]
fn probabilistic_keeps_what_sample_keeps_by_trace_id() {
    let policy = "[[policies]]\nname = \"p\"\ntype = \"probabilistic\"\nprobabilistic.sampling_percentage = 30\n";
    let traces: Vec<Vec<Span>> = (1..=200).map(|t| vec![span(t, 1, 0, 1)]).collect();
    let kept = kept_traces(policy, traces);
    let expected: Vec<u8> = (1..=200)
        .filter(|t| crate::sample::trace_keep(&trace(*t), 0.3, 0))
        .collect();
    assert_eq!(kept, expected);
    assert!((40..=80).contains(&kept.len()), "about 30%: {}", kept.len());
    let salted = format!("{policy}probabilistic.hash_salt = \"tier-2\"\n").replace(
        "probabilistic.sampling_percentage = 30\nprobabilistic.hash_salt",
        "probabilistic = { sampling_percentage = 30, hash_salt",
    );
    let salted = salted.replace("\"tier-2\"\n", "\"tier-2\" }\n");
    let traces: Vec<Vec<Span>> = (1..=200).map(|t| vec![span(t, 1, 0, 1)]).collect();
    assert_ne!(
        kept_traces(&salted, traces),
        expected,
        "a salt changes the draw"
    );
}

#[test]
fn rate_limiting_spends_spans_from_a_bucket() {
    let policy = "[[policies]]\nname = \"r\"\ntype = \"rate_limiting\"\nrate_limiting = { spans_per_second = 4, burst_capacity = 4 }\n";
    let traces = vec![
        vec![span(1, 1, 0, 1), span(1, 2, 0, 1), span(1, 3, 0, 1)],
        vec![span(2, 1, 0, 1), span(2, 2, 0, 1)], // 3 + 2 > 4
        vec![span(3, 1, 0, 1)],                   // 3 + 1 fits
    ];
    assert_eq!(kept_traces(policy, traces), vec![1, 3]);
}

#[test]
fn span_count_trace_state_and_flags() {
    let count = "[[policies]]\nname = \"c\"\ntype = \"span_count\"\nspan_count = { min_spans = 2, max_spans = 3 }\n";
    let traces = vec![
        vec![span(1, 1, 0, 1)],
        vec![span(2, 1, 0, 1), span(2, 2, 0, 1)],
        vec![
            span(3, 1, 0, 1),
            span(3, 2, 0, 1),
            span(3, 3, 0, 1),
            span(3, 4, 0, 1),
        ],
    ];
    assert_eq!(kept_traces(count, traces), vec![2]);

    let state = "[[policies]]\nname = \"ts\"\ntype = \"trace_state\"\ntrace_state = { key = \"tenant\", values = [\"gold\"] }\n";
    let mut gold = span(1, 1, 0, 1);
    gold.trace_state = "vendor=x, tenant=gold".into();
    let mut silver = span(2, 1, 0, 1);
    silver.trace_state = "tenant=silver".into();
    assert_eq!(kept_traces(state, vec![vec![gold], vec![silver]]), vec![1]);

    let flags = "[[policies]]\nname = \"f\"\ntype = \"trace_flags\"\n";
    let mut sampled = span(2, 1, 0, 1);
    sampled.flags = 1;
    assert_eq!(
        kept_traces(flags, vec![vec![span(1, 1, 0, 1)], vec![sampled]]),
        vec![2]
    );
}

#[test]
fn and_not_and_drop_combine_policies() {
    let errors = "{ name = \"e\", type = \"status_code\", status_code.status_codes = [\"ERROR\"] }";
    let slow = "{ name = \"s\", type = \"latency\", latency.threshold_ms = 100 }";
    let mut failed_fast = span(1, 1, 0, 10);
    failed_fast.status.code = StatusCode::Error;
    let mut failed_slow = span(2, 1, 0, 500);
    failed_slow.status.code = StatusCode::Error;
    let traces = vec![
        vec![failed_fast],
        vec![failed_slow],
        vec![span(3, 1, 0, 500)],
    ];

    let and = format!(
        "[[policies]]\nname = \"both\"\ntype = \"and\"\nand.and_sub_policy = [{errors}, {slow}]\n"
    );
    assert_eq!(kept_traces(&and, traces.clone()), vec![2]);

    let not =
        format!("[[policies]]\nname = \"fine\"\ntype = \"not\"\nnot.not_sub_policy = {errors}\n");
    assert_eq!(kept_traces(&not, traces.clone()), vec![3]);

    // A drop that matches beats a policy that samples, wherever it is
    // listed.
    let drop = format!(
        "{ALWAYS}[[policies]]\nname = \"no-slow\"\ntype = \"drop\"\ndrop.drop_sub_policy = [{slow}]\n"
    );
    let mut h = Harness::new(&config(&drop, ""));
    h.send(0.0, traces.into_iter().flatten().map(ev).collect());
    let kept = h.tick(2.0);
    assert_eq!(ids(&kept), vec![(trace(1), SpanId([1; 8]))]);
    assert_eq!(
        h.counter("logbridge_tail_sample_traces_total", "dropped"),
        2
    );
    assert_eq!(
        h.counter(
            "logbridge_tail_sample_policy_traces_total",
            "policy=\"no-slow\",decision=\"dropped\""
        ),
        2
    );
}

#[test]
fn composite_shares_its_rate_among_sub_policies() {
    let policy = r#"[[policies]]
name = "budget"
type = "composite"
composite.max_total_spans_per_second = 10
composite.composite_sub_policy = [
  { name = "errors", type = "status_code", status_code.status_codes = ["ERROR"] },
  { name = "rest", type = "always_sample" },
]
composite.rate_allocation = [{ policy = "errors", percent = 60 }, { policy = "rest", percent = 40 }]
"#;
    // Errors get 6 spans a second, the rest 4.
    let mut traces = Vec::new();
    for t in 1..=4u8 {
        let mut s = span(t, 1, 0, 1);
        s.status.code = StatusCode::Error;
        let s2 = span(t, 2, 0, 1);
        traces.push(vec![s, s2]);
    }
    for t in 5..=8u8 {
        traces.push(vec![span(t, 1, 0, 1), span(t, 2, 0, 1)]);
    }
    assert_eq!(kept_traces(policy, traces), vec![1, 2, 3, 5, 6]);
}

#[test]
fn condition_policy_uses_logbridge_conditions() {
    let policy = "[[policies]]\nname = \"checkout\"\ntype = \"condition\"\ncondition = '.attributes.route == \"/checkout\"'\n";
    let traces = vec![
        vec![with_attr(
            span(1, 1, 0, 1),
            "route",
            Value::from("/checkout"),
        )],
        vec![with_attr(span(2, 1, 0, 1), "route", Value::from("/home"))],
    ];
    assert_eq!(kept_traces(policy, traces), vec![1]);
}

#[test]
fn a_full_table_decides_the_oldest_trace_early() {
    let mut h = Harness::new(&config(ALWAYS, "num_traces = 2"));
    h.send(0.0, vec![ev(span(1, 1, 0, 1))]);
    h.send(0.1, vec![ev(span(2, 1, 0, 1))]);
    let (kept, _) = h.send(0.2, vec![ev(span(3, 1, 0, 1))]);
    assert_eq!(ids(&kept), vec![(trace(1), SpanId([1; 8]))]);
    assert_eq!(h.sampler.traces.len(), 2);
    assert_eq!(
        h.counter("logbridge_tail_sample_early_decisions_total", "num_traces"),
        1
    );
    // Its queue entry is stale now: nothing is decided twice.
    assert_eq!(ids(&h.tick(1.15)), vec![(trace(2), SpanId([1; 8]))]);
    assert_eq!(ids(&h.tick(1.25)), vec![(trace(3), SpanId([1; 8]))]);
}

#[test]
fn a_trace_reaching_max_spans_is_decided_at_once_and_its_rest_follows_the_cache() {
    let cfg = config(
        ALWAYS,
        "max_spans_per_trace = 3\ndecision_cache.sampled_cache_size = 10",
    );
    let mut h = Harness::new(&cfg);
    let (kept, _) = h.send(0.0, (1..=5).map(|i| ev(span(1, i, 0, 1))).collect());
    assert_eq!(kept.len(), 5, "3 decided at once, then 2 late ones follow");
    assert_eq!(
        h.counter(
            "logbridge_tail_sample_early_decisions_total",
            "max_spans_per_trace"
        ),
        1
    );
    assert_eq!(
        h.counter(
            "logbridge_tail_sample_late_spans_total",
            "decision=\"sampled\""
        ),
        2
    );
}

#[test]
fn late_spans_follow_the_cached_decision() {
    let policy = "[[policies]]\nname = \"errors\"\ntype = \"status_code\"\nstatus_code.status_codes = [\"ERROR\"]\n";
    let cfg = config(
        policy,
        "decision_cache = { sampled_cache_size = 10, non_sampled_cache_size = 10 }",
    );
    let mut h = Harness::new(&cfg);
    let mut failed = span(1, 1, 0, 1);
    failed.status.code = StatusCode::Error;
    h.send(0.0, vec![ev(failed), ev(span(2, 1, 0, 1))]);
    assert_eq!(h.tick(1.0).len(), 1);
    // A late span of the kept trace passes at once; one of the dropped
    // trace is dropped, even though it would match on its own.
    let mut late_failed = span(2, 2, 0, 1);
    late_failed.status.code = StatusCode::Error;
    let (kept, _) = h.send(5.0, vec![ev(span(1, 2, 0, 1)), ev(late_failed)]);
    assert_eq!(ids(&kept), vec![(trace(1), SpanId([2; 8]))]);
    assert_eq!(h.sampler.traces.len(), 0);
    assert_eq!(
        h.counter("logbridge_tail_sample_late_spans_total", "not_sampled"),
        1
    );

    // Without a cache, a late span starts a new trace of its own.
    let mut h = Harness::new(&config(policy, ""));
    h.send(0.0, vec![ev(span(2, 1, 0, 1))]);
    h.tick(1.0);
    let mut late_failed = span(2, 2, 0, 1);
    late_failed.status.code = StatusCode::Error;
    h.send(5.0, vec![ev(late_failed)]);
    assert_eq!(h.tick(6.0).len(), 1);
}

#[test]
fn traces_decided_early_leave_no_queue_behind() {
    // Every trace is decided at its first span; the queue still holds at
    // most twice the table's bound.
    let mut h = Harness::new(&config(ALWAYS, "num_traces = 4\nmax_spans_per_trace = 1"));
    for t in 0..=255u8 {
        for copy in 0..8u8 {
            let mut s = span(t, 1, 0, 1);
            s.trace_id.0[1] = copy;
            h.send(0.0, vec![ev(s)]);
        }
        assert!(h.sampler.queue.len() <= h.sampler.queue_bound());
    }
    assert!(h.sampler.traces.is_empty());
}

#[test]
fn spans_without_a_trace_id_go_to_dropped_with_the_reason() {
    let mut h = Harness::new(&config(ALWAYS, ""));
    let mut orphan = span(1, 1, 0, 1);
    orphan.trace_id = TraceId::default();
    let (kept, dropped) = h.send(0.0, vec![ev(orphan)]);
    assert!(kept.is_empty());
    let Event::Span(s) = &dropped[0] else {
        panic!()
    };
    assert_eq!(
        s.attributes.get("dropped.reason"),
        Some(&Value::from("no_trace_id"))
    );
    assert_eq!(
        s.attributes.get("dropped.component_id"),
        Some(&Value::from("ts"))
    );
}

#[test]
fn finalizers_wait_for_the_decision() {
    let policy = "[[policies]]\nname = \"errors\"\ntype = \"status_code\"\nstatus_code.status_codes = [\"ERROR\"]\n";
    let mut h = Harness::new(&config(policy, ""));
    let resolved = Arc::new(AtomicUsize::new(0));
    let notifier = |resolved: &Arc<AtomicUsize>| {
        let r = resolved.clone();
        Finalizers::new(BatchNotifier::new(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        }))
    };
    let mut failed = span(1, 1, 0, 1);
    failed.status.code = StatusCode::Error;
    // Two batches, each with spans of both traces.
    h.send_batch(
        0.0,
        EventBatch::new(vec![ev(failed), ev(span(2, 1, 0, 1))])
            .with_finalizers(notifier(&resolved)),
    );
    h.send_batch(
        0.2,
        EventBatch::new(vec![ev(span(1, 2, 0, 1)), ev(span(2, 2, 0, 1))])
            .with_finalizers(notifier(&resolved)),
    );
    assert_eq!(
        resolved.load(Ordering::SeqCst),
        0,
        "both held by undecided traces"
    );
    let mut out = outputs();
    h.sampler.decide_due(h.at(1.5));
    h.sampler.emit(&mut out);
    assert_eq!(
        resolved.load(Ordering::SeqCst),
        0,
        "the kept trace's spans are not yet delivered"
    );
    let batches: Vec<EventBatch> = out.drain().map(|(_, b)| b).collect();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].finalizers.len(), 2);
    drop(batches);
    assert_eq!(resolved.load(Ordering::SeqCst), 2);
}

#[test]
fn a_trace_its_source_withdrew_is_dropped_undecided() {
    let mut h = Harness::new(&config(ALWAYS, ""));
    let withdrawn = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let status = Arc::new(std::sync::Mutex::new(None));
    let seen = status.clone();
    let finalizers = Finalizers::new(BatchNotifier::withdrawable(withdrawn.clone(), move |s| {
        *seen.lock().unwrap() = Some(s);
    }));
    h.send_batch(
        0.0,
        EventBatch::new(vec![ev(span(1, 1, 0, 1))]).with_finalizers(finalizers),
    );
    h.send(0.1, vec![ev(span(2, 1, 0, 1))]);
    withdrawn.store(true, Ordering::Release);
    let kept = h.tick(2.0);
    assert_eq!(ids(&kept), vec![(trace(2), SpanId([1; 8]))]);
    assert_eq!(
        h.counter("logbridge_tail_sample_withdrawn_traces_total", ""),
        1
    );
    assert_eq!(h.counter("logbridge_tail_sample_traces_total", ""), 1);
}

#[test]
fn configuration_errors_say_what_is_wrong() {
    let err = |policies: &str| {
        let cfg: TailSampleConfig = toml::from_str(policies).unwrap();
        let registry = Registry::new();
        let metrics = registry.register("ts", ComponentKind::Transform, "tail_sample");
        match cfg.build_sampler(metrics, "ts") {
            Ok(_) => panic!("accepted: {policies}"),
            Err(e) => e.to_string(),
        }
    };
    assert!(err("policies = []").contains("no policy"));
    let e = err("[[policies]]\nname = \"x\"\ntype = \"latency\"\n");
    assert!(e.contains("needs its options in `latency`"), "{e}");
    let e = err("[[policies]]\nname = \"x\"\ntype = \"status_code\"\nlatency.threshold_ms = 1\n");
    assert!(
        e.contains("`latency` options on a policy of type `status_code`"),
        "{e}"
    );
    let e = err(
        "[[policies]]\nname = \"x\"\ntype = \"status_code\"\nstatus_code.status_codes = [\"Error\"]\n",
    );
    assert!(e.contains("unknown status code `Error`"), "{e}");
    let e = err(
        "[[policies]]\nname = \"x\"\ntype = \"always_sample\"\n[[policies]]\nname = \"x\"\ntype = \"always_sample\"\n",
    );
    assert!(e.contains("two policies are named `x`"), "{e}");
    let e = err(
        "[[policies]]\nname = \"x\"\ntype = \"and\"\nand.and_sub_policy = [{ name = \"y\", type = \"composite\", composite = { max_total_spans_per_second = 1, composite_sub_policy = [] } }]\n",
    );
    assert!(e.contains("cannot sit inside `and`"), "{e}");
    let e = err(
        "[[policies]]\nname = \"x\"\ntype = \"composite\"\ncomposite = { max_total_spans_per_second = 1, composite_sub_policy = [{ name = \"a\", type = \"always_sample\" }], rate_allocation = [{ policy = \"b\", percent = 10 }] }\n",
    );
    assert!(e.contains("names `b`"), "{e}");
    let e = err(
        "[[policies]]\nname = \"x\"\ntype = \"string_attribute\"\nstring_attribute = { key = \"k\", values = [\"(\"], enabled_regex_matching = true }\n",
    );
    assert!(e.contains("not a regular expression"), "{e}");
    let e = err(
        "[[policies]]\nname = \"x\"\ntype = \"probabilistic\"\nprobabilistic.sampling_percentage = 150\n",
    );
    assert!(e.contains("0 to 100"), "{e}");
    assert!(
        toml::from_str::<TailSampleConfig>("[[policies]]\nname = \"x\"\ntype = \"nope\"\n")
            .is_err()
    );
    assert!(toml::from_str::<TailSampleConfig>("decision_wait = 3\npolicies = []\n").is_err());
}

/// Spans of random traces (ids 1 to 12), up to 6 per trace, in any order
/// and batching.
fn arrivals() -> impl Strategy<Value = Vec<(u8, u8, i64, i64, bool)>> {
    proptest::collection::vec(
        (1..=12u8, 1..=6u8, 0..1000i64, 0..1000i64, any::<bool>()),
        0..80,
    )
}

fn build_span(&(t, id, a, b, error): &(u8, u8, i64, i64, bool)) -> Span {
    let mut s = span(t, id, a.min(b), a.max(b));
    if error {
        s.status.code = StatusCode::Error;
    }
    s
}

const DETERMINISTIC: &str = r#"[[policies]]
name = "errors"
type = "status_code"
status_code.status_codes = ["ERROR"]
[[policies]]
name = "slow"
type = "latency"
latency.threshold_ms = 700
[[policies]]
name = "some"
type = "probabilistic"
probabilistic.sampling_percentage = 25
[[policies]]
name = "no-big"
type = "drop"
drop.drop_sub_policy = [{ name = "big", type = "span_count", span_count.min_spans = 5 }]
"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Deterministic policies keep the same traces, with all their spans,
    /// however the spans are ordered and batched.
    #[test]
    fn decisions_do_not_depend_on_order_or_batching(
        spans in arrivals(),
        cuts in proptest::collection::vec(0..80usize, 0..6),
        seed in any::<u64>(),
    ) {
        let run = |spans: &[(u8, u8, i64, i64, bool)], cuts: &[usize]| {
            let mut h = Harness::new(&config(DETERMINISTIC, ""));
            let mut start = 0;
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (spans.len() + 1)).collect();
            bounds.sort_unstable();
            bounds.push(spans.len());
            for end in bounds {
                if end > start {
                    h.send(0.0, spans[start..end].iter().map(|s| ev(build_span(s))).collect());
                    start = end;
                }
            }
            let mut kept = ids(&h.tick(5.0));
            kept.sort_unstable_by_key(|(t, s)| (t.0, s.0));
            kept
        };
        let mut shuffled = spans.clone();
        // A permutation from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(run(&spans, &[]), run(&shuffled, &cuts));
    }

    /// Every span is kept, discarded or still held, and the bounds hold at
    /// every step.
    #[test]
    fn spans_are_conserved_and_bounds_hold(
        spans in arrivals(),
        num_traces in 1..6usize,
        max_spans in 1..5usize,
        cache in 0..4usize,
        steps in proptest::collection::vec(0.0..0.6f64, 1..10),
    ) {
        let extra = format!(
            "num_traces = {num_traces}\nmax_spans_per_trace = {max_spans}\ndecision_cache = {{ sampled_cache_size = {cache}, non_sampled_cache_size = {cache} }}"
        );
        let mut h = Harness::new(&config(DETERMINISTIC, &extra));
        let mut kept = 0;
        let mut now = 0.0;
        let chunk = spans.len().div_ceil(steps.len()).max(1);
        for (part, step) in spans.chunks(chunk).zip(&steps) {
            now += step;
            kept += h.send(now, part.iter().map(|s| ev(build_span(s))).collect()).0.len();
            prop_assert!(h.sampler.traces.len() <= num_traces);
            prop_assert!(h.sampler.traces.values().all(|t| t.spans.len() < max_spans));
            prop_assert!(h.sampler.sampled_cache.as_ref().is_none_or(|c| c.len() <= cache));
            prop_assert!(h.sampler.queue.len() <= h.sampler.queue_bound());
        }
        let held = h.sampler.held_spans;
        prop_assert_eq!(held, h.sampler.traces.values().map(|t| t.spans.len()).sum::<usize>());
        let discarded = h.counter("logbridge_component_discarded_events_total", "");
        prop_assert_eq!(kept + held + discarded as usize, spans.len());
    }
}
