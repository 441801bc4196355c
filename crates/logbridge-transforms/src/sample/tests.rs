//! Tests of the `sample` transform: each option, span sampling by trace,
//! finalizers of dropped events, and that keyed decisions carry no state.

use std::sync::mpsc;

use logbridge_component::{TransformConfig, TransformOutputs};
use logbridge_event::{
    BatchNotifier, BatchStatus, Event, EventBatch, Finalizers, Span, TraceId, Value,
};
use proptest::prelude::*;

use super::*;
use crate::testing::{cx, drain_port, field, log};

fn config(rate: Option<u64>, ratio: Option<f64>) -> SampleConfig {
    SampleConfig {
        rate,
        ratio,
        key_field: None,
        sample_rate_key: default_sample_rate_key(),
        exclude: None,
    }
}

fn run(config: &SampleConfig, events: Vec<Event>) -> Vec<Event> {
    let mut t = config.build(&cx("sample")).unwrap();
    let mut out = TransformOutputs::new(vec![None]);
    t.transform(EventBatch::new(events), &mut out);
    drain_port(&mut out, 0)
}

fn numbered(n: i64) -> Vec<Event> {
    (0..n).map(|i| log(&[("n", Value::Integer(i))])).collect()
}

fn numbers(events: &[Event]) -> Vec<i64> {
    events
        .iter()
        .map(|e| match field(e, "n") {
            Some(Value::Integer(n)) => n,
            other => panic!("no n: {other:?}"),
        })
        .collect()
}

#[test]
fn rate_keeps_every_nth_event_from_the_first_and_records_the_rate() {
    let kept = run(&config(Some(10), None), numbered(35));
    assert_eq!(numbers(&kept), [0, 10, 20, 30]);
    assert_eq!(field(&kept[0], "sample_rate"), Some(Value::from("10")));
}

#[test]
fn the_counter_runs_across_batches() {
    let cx = cx("sample");
    let mut t = config(Some(3), None).build(&cx).unwrap();
    let mut out = TransformOutputs::new(vec![None]);
    for chunk in [0..2, 2..5, 5..7] {
        let events = chunk.map(|i| log(&[("n", Value::Integer(i))])).collect();
        t.transform(EventBatch::new(events), &mut out);
    }
    assert_eq!(numbers(&drain_port(&mut out, 0)), [0, 3, 6]);
    let discarded = cx
        .metrics
        .discarded_intentional
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(discarded, 4);
}

#[test]
fn ratio_spreads_the_kept_events_evenly() {
    let kept = run(&config(None, Some(0.5)), numbered(6));
    assert_eq!(numbers(&kept), [0, 2, 4]);
    assert_eq!(field(&kept[0], "sample_rate"), Some(Value::from("0.5")));
    assert_eq!(run(&config(None, Some(0.25)), numbered(100)).len(), 25);
    assert_eq!(run(&config(None, Some(1.0)), numbered(7)).len(), 7);
}

#[test]
fn key_field_keeps_or_drops_every_log_of_a_key_together() {
    let mut c = config(Some(4), None);
    c.key_field = Some("request_id".into());
    let events: Vec<Event> = (0..400)
        .map(|i| {
            log(&[
                ("request_id", Value::from(format!("r{}", i % 40))),
                ("n", Value::Integer(i)),
            ])
        })
        .collect();
    let kept = run(&c, events);
    let kept_keys: std::collections::BTreeSet<String> = kept
        .iter()
        .map(|e| {
            field(e, "request_id")
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // Every key kept is kept for all of its ten logs.
    assert_eq!(kept.len(), kept_keys.len() * 10);
    assert!(
        !kept_keys.is_empty() && kept_keys.len() < 40,
        "{kept_keys:?}"
    );
    // Logs without the key are sampled by the counter.
    let unkeyed = run(&c, numbered(8));
    assert_eq!(numbers(&unkeyed), [0, 4]);
}

#[test]
fn exclude_passes_matching_events_untouched() {
    let mut c = config(Some(1000), None);
    c.exclude = Some(".level == \"error\"".into());
    let events = vec![
        log(&[("level", Value::from("info"))]),
        log(&[("level", Value::from("error"))]),
        log(&[("level", Value::from("info"))]),
        log(&[("level", Value::from("error"))]),
    ];
    let kept = run(&c, events);
    let levels: Vec<_> = kept.iter().map(|e| field(e, "level").unwrap()).collect();
    // The first info log is the counter's first: kept; errors always.
    assert_eq!(
        levels,
        [
            Value::from("info"),
            Value::from("error"),
            Value::from("error")
        ]
    );
    assert_eq!(field(&kept[1], "sample_rate"), None);
}

#[test]
fn sample_rate_key_can_move_or_be_turned_off() {
    let mut c = config(Some(2), None);
    c.sample_rate_key = "meta.rate".into();
    let kept = run(&c, numbered(1));
    assert_eq!(field(&kept[0], "meta.rate"), Some(Value::from("2")));
    assert_eq!(field(&kept[0], "sample_rate"), None);
    c.sample_rate_key = String::new();
    let kept = run(&c, numbered(1));
    assert_eq!(field(&kept[0], "meta"), None);
}

#[test]
fn options_are_checked() {
    let option = |c: SampleConfig| c.build(&cx("sample")).err().unwrap().option.unwrap();
    assert_eq!(option(config(None, None)), "rate");
    assert_eq!(option(config(Some(2), Some(0.5))), "ratio");
    assert_eq!(option(config(Some(0), None)), "rate");
    assert_eq!(option(config(None, Some(1.5))), "ratio");
    assert_eq!(option(config(None, Some(0.0))), "ratio");
    let mut c = config(Some(2), None);
    c.exclude = Some(".a ==".into());
    assert_eq!(option(c), "exclude");
}

fn span(trace: u8, n: u8) -> Event {
    let mut s = Span {
        trace_id: TraceId([trace; 16]),
        ..Span::default()
    };
    s.span_id.0[0] = n;
    Event::Span(Box::new(s))
}

#[test]
fn spans_are_kept_or_dropped_by_whole_traces() {
    let c = config(None, Some(0.5));
    let events: Vec<Event> = (0..200u8)
        .flat_map(|t| (0..3).map(move |n| span(t, n)))
        .collect();
    let kept = run(&c, events);
    let mut per_trace = std::collections::BTreeMap::new();
    for e in &kept {
        let Event::Span(s) = e else { panic!() };
        *per_trace.entry(s.trace_id.0[0]).or_insert(0) += 1;
        assert_eq!(s.attributes.get("sample_rate"), Some(&Value::from("0.5")));
        assert!(trace_keep(&s.trace_id, 0.5, TRACE_SALT));
    }
    assert!(per_trace.values().all(|n| *n == 3));
    assert!((60..140).contains(&per_trace.len()), "{}", per_trace.len());
}

/// `trace_keep(id, 0.5, TRACE_SALT)` for the first sixteen ids of
/// `trace_keep_is_stable_and_nested_by_ratio`.
const PINNED: [bool; 16] = [
    false, true, false, true, false, true, true, true, true, false, true, true, false, false, true,
    true,
];

#[test]
fn trace_keep_is_stable_and_nested_by_ratio() {
    let ids: Vec<TraceId> = (0..500u32)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_le_bytes());
            TraceId(id)
        })
        .collect();
    for id in &ids {
        assert!(trace_keep(id, 1.0, 7));
        assert!(!trace_keep(id, 0.0, 7));
        if trace_keep(id, 0.1, 7) {
            assert!(trace_keep(id, 0.3, 7), "kept at 0.1 but not at 0.3");
        }
    }
    let at = |salt| ids.iter().filter(|id| trace_keep(id, 0.3, salt)).count();
    assert!((100..200).contains(&at(7)), "{}", at(7));
    // A different salt picks different traces.
    let differ = ids
        .iter()
        .filter(|id| trace_keep(id, 0.3, 1) != trace_keep(id, 0.3, 2))
        .count();
    assert!(differ > 0);
    // Pinned: a sampler elsewhere (tail sampling) must decide alike.
    let pinned: Vec<bool> = ids[..16]
        .iter()
        .map(|id| trace_keep(id, 0.5, TRACE_SALT))
        .collect();
    assert_eq!(pinned, PINNED);
}

#[test]
fn dropped_events_still_finish_their_batch() {
    let (tx, rx) = mpsc::channel();
    let notifier = BatchNotifier::new(move |s| tx.send(s).unwrap());
    let mut t = config(Some(100), None).build(&cx("sample")).unwrap();
    let mut out = TransformOutputs::new(vec![None]);
    // Only the first event is kept; the other batch is dropped whole.
    t.transform(
        EventBatch::new(numbered(3)).with_finalizers(Finalizers::new(notifier.clone())),
        &mut out,
    );
    t.transform(
        EventBatch::new(numbered(3)).with_finalizers(Finalizers::new(notifier)),
        &mut out,
    );
    assert!(
        rx.try_recv().is_err(),
        "the kept event is not delivered yet"
    );
    let batches: Vec<_> = out.drain().collect();
    assert_eq!(batches.len(), 1);
    drop(batches);
    assert_eq!(rx.try_recv().unwrap(), BatchStatus::Delivered);
}

proptest! {
    /// Keyed decisions depend on the key's value alone: any number of
    /// distinct keys, in any order, leaves no state behind that changes
    /// them (the transform keeps nothing per key).
    #[test]
    fn keyed_decisions_depend_on_the_value_alone(
        keys in proptest::collection::vec(0u32..100_000, 1..300),
        rate in 1u64..20,
    ) {
        let mut c = config(Some(rate), None);
        c.key_field = Some("k".into());
        let events = |keys: &[u32]| -> Vec<Event> {
            keys.iter().map(|k| log(&[("k", Value::Integer(i64::from(*k)))])).collect()
        };
        let kept = |keys: &[u32]| -> std::collections::BTreeSet<i64> {
            run(&c, events(keys))
                .iter()
                .map(|e| match field(e, "k") { Some(Value::Integer(k)) => k, _ => -1 })
                .collect()
        };
        let forward = kept(&keys);
        let mut reversed = keys.clone();
        reversed.reverse();
        prop_assert_eq!(&forward, &kept(&reversed));
        for k in &keys {
            prop_assert_eq!(forward.contains(&i64::from(*k)), !kept(&[*k]).is_empty());
        }
    }
}
