//! Tests of the `reduce` transform on a clock the tests move: defaults and
//! every merge strategy, the ways a group ends, finalizers held by groups,
//! and that groups stay within `max_groups` and `max_bytes` for any input.

use std::sync::mpsc;

use logbridge_component::{BuildContext, TransformOutputs};
use logbridge_event::{BatchNotifier, BatchStatus, Event, EventBatch, Finalizers, Value};
use proptest::prelude::*;

use super::*;
use crate::testing::{cx, drain_port, evictions, field, log};

const MS: u64 = 1_000_000;

fn config() -> ReduceConfig {
    serde_json::from_str("{}").unwrap()
}

fn by(fields: &[&str]) -> ReduceConfig {
    ReduceConfig {
        group_by: fields.iter().map(|f| f.to_string()).collect(),
        ..config()
    }
}

fn reduce(config: &ReduceConfig, cx: &BuildContext) -> Reduce {
    config.reduce(cx).unwrap()
}

/// Sends each list of events as one batch at `now`; returns what came out.
fn send(r: &mut Reduce, events: Vec<Event>, now: u64) -> Vec<Event> {
    let mut out = TransformOutputs::new(vec![None]);
    r.transform_at(EventBatch::new(events), now, &mut out);
    drain_port(&mut out, 0)
}

fn finish(r: &mut Reduce) -> Vec<Event> {
    let mut out = TransformOutputs::new(vec![None]);
    Transform::finish(r, &mut out);
    drain_port(&mut out, 0)
}

#[test]
fn defaults_sum_numbers_keep_first_strings_and_span_timestamps() {
    let mut r = reduce(&by(&["request_id"]), &cx("reduce"));
    let at = |id: &str, ms: i64, message: &str, bytes: i64| {
        let mut e = log(&[
            ("request_id", Value::from(id)),
            ("message", Value::from(message)),
            ("bytes", Value::Integer(bytes)),
            ("seen", Value::Timestamp(ms * 1_000_000)),
        ]);
        if let Event::Log(l) = &mut e {
            l.time_unix_nano = ms * 1_000_000;
        }
        e
    };
    let out = send(
        &mut r,
        vec![
            at("a", 1, "start", 10),
            at("b", 2, "other", 1),
            at("a", 3, "more", 5),
        ],
        0,
    );
    assert!(out.is_empty());
    let out = finish(&mut r);
    assert_eq!(out.len(), 2);
    let a = out
        .iter()
        .find(|e| field(e, "request_id") == Some(Value::from("a")))
        .unwrap();
    assert_eq!(field(a, "message"), Some(Value::from("start")));
    assert_eq!(field(a, "bytes"), Some(Value::Integer(15)));
    assert_eq!(field(a, "seen"), Some(Value::Timestamp(MS as i64)));
    assert_eq!(field(a, "seen_end"), Some(Value::Timestamp(3 * MS as i64)));
    assert_eq!(a.as_log().unwrap().time_unix_nano, MS as i64);
    assert_eq!(
        field(a, "timestamp_end"),
        Some(Value::Timestamp(3 * MS as i64))
    );
}

#[test]
fn every_merge_strategy() {
    use MergeStrategy::*;
    let s = |x: &str| Value::from(x);
    let a = |v: Vec<Value>| Value::Array(v);
    let i = Value::Integer;
    let cases: Vec<(MergeStrategy, Vec<Value>, Value)> = vec![
        (Array, vec![i(1), s("x"), i(1)], a(vec![i(1), s("x"), i(1)])),
        (Concat, vec![s("a"), s("b"), s("c")], s("a b c")),
        (
            Concat,
            vec![a(vec![i(1)]), a(vec![i(2), i(3)]), i(4)],
            a(vec![i(1), i(2), i(3), i(4)]),
        ),
        (ConcatNewline, vec![s("a"), s("b")], s("a\nb")),
        (ConcatRaw, vec![s("a"), s("b")], s("ab")),
        (Discard, vec![s("first"), s("second")], s("first")),
        (Retain, vec![s("first"), s("last"), Value::Null], s("last")),
        (Sum, vec![i(1), i(2), Value::Float(0.5)], Value::Float(3.5)),
        (Max, vec![i(3), i(7), i(5)], i(7)),
        (
            Min,
            vec![i(3), Value::Float(-1.5), i(5)],
            Value::Float(-1.5),
        ),
        (
            FlatUnique,
            vec![a(vec![i(1), i(2)]), i(2), s("x"), a(vec![s("x"), i(3)])],
            a(vec![i(1), i(2), s("x"), i(3)]),
        ),
        (
            ShortestArray,
            vec![
                a(vec![i(1), i(2)]),
                a(vec![i(3)]),
                a(vec![i(4), i(5), i(6)]),
            ],
            a(vec![i(3)]),
        ),
        (
            LongestArray,
            vec![
                a(vec![i(1), i(2)]),
                a(vec![i(3)]),
                a(vec![i(4), i(5), i(6)]),
            ],
            a(vec![i(4), i(5), i(6)]),
        ),
    ];
    for (strategy, values, expected) in cases {
        let mut c = config();
        c.merge_strategies.insert("v".into(), strategy);
        let mut r = reduce(&c, &cx("reduce"));
        let events = values.into_iter().map(|v| log(&[("v", v)])).collect();
        send(&mut r, events, 0);
        let out = finish(&mut r);
        assert_eq!(field(&out[0], "v"), Some(expected), "{strategy:?}");
    }
}

#[test]
fn a_value_that_does_not_fit_its_strategy_is_left_out_and_counted() {
    let cx = cx("reduce");
    let mut c = config();
    c.merge_strategies.insert("v".into(), MergeStrategy::Sum);
    let mut r = reduce(&c, &cx);
    send(
        &mut r,
        vec![
            log(&[("v", Value::Integer(2))]),
            log(&[("v", Value::from("x"))]),
        ],
        0,
    );
    assert_eq!(field(&finish(&mut r)[0], "v"), Some(Value::Integer(2)));
    assert_eq!(
        cx.metrics.errors.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn objects_merge_field_by_field_unless_given_a_strategy() {
    let mut c = config();
    c.merge_strategies
        .insert("kept".into(), MergeStrategy::Retain);
    let mut r = reduce(&c, &cx("reduce"));
    let obj = |n: i64, tag: &str| {
        let mut m = ObjectMap::new();
        m.insert("n".into(), Value::Integer(n));
        m.insert("tag".into(), Value::from(tag));
        Value::Object(m)
    };
    send(
        &mut r,
        vec![
            log(&[("http", obj(1, "a")), ("kept", obj(1, "a"))]),
            log(&[("http", obj(2, "b")), ("kept", obj(2, "b"))]),
        ],
        0,
    );
    let out = finish(&mut r);
    assert_eq!(field(&out[0], "http.n"), Some(Value::Integer(3)));
    assert_eq!(field(&out[0], "http.tag"), Some(Value::from("a")));
    assert_eq!(field(&out[0], "kept"), Some(obj(2, "b")));
}

#[test]
fn ends_when_emits_the_group_with_the_log() {
    let mut c = by(&["id"]);
    c.ends_when = Some("exists(.done)".into());
    let mut r = reduce(&c, &cx("reduce"));
    let out = send(
        &mut r,
        vec![
            log(&[("id", Value::Integer(1)), ("n", Value::Integer(1))]),
            log(&[("id", Value::Integer(2)), ("n", Value::Integer(1))]),
            log(&[
                ("id", Value::Integer(1)),
                ("n", Value::Integer(1)),
                ("done", Value::Bool(true)),
            ]),
        ],
        0,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(field(&out[0], "n"), Some(Value::Integer(2)));
    assert_eq!(finish(&mut r).len(), 1);
}

#[test]
fn starts_when_emits_the_open_group_without_the_log() {
    let mut c = config();
    c.starts_when = Some(".message == \"BEGIN\"".into());
    c.merge_strategies
        .insert("message".into(), MergeStrategy::ConcatNewline);
    let mut r = reduce(&c, &cx("reduce"));
    let line = |m: &str| log(&[("message", Value::from(m))]);
    let out = send(
        &mut r,
        vec![line("BEGIN"), line("a"), line("BEGIN"), line("b")],
        0,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(field(&out[0], "message"), Some(Value::from("BEGIN\na")));
    let rest = finish(&mut r);
    assert_eq!(field(&rest[0], "message"), Some(Value::from("BEGIN\nb")));
}

#[test]
fn a_group_started_by_starts_when_counts_its_events_afresh() {
    let mut c = config();
    c.starts_when = Some(".message == \"BEGIN\"".into());
    c.max_events = Some(2);
    c.merge_strategies
        .insert("message".into(), MergeStrategy::Concat);
    let mut r = reduce(&c, &cx("reduce"));
    let line = |m: &str| log(&[("message", Value::from(m))]);
    let out = send(&mut r, vec![line("x"), line("BEGIN"), line("y")], 0);
    let messages: Vec<_> = out.iter().map(|e| field(e, "message").unwrap()).collect();
    assert_eq!(messages, [Value::from("x"), Value::from("BEGIN y")]);
}

#[test]
fn max_events_emits_a_full_group() {
    let mut c = config();
    c.max_events = Some(3);
    let mut r = reduce(&c, &cx("reduce"));
    let events = (0..7).map(|_| log(&[("n", Value::Integer(1))])).collect();
    let out = send(&mut r, events, 0);
    let sizes: Vec<_> = out.iter().map(|e| field(e, "n").unwrap()).collect();
    assert_eq!(sizes, [Value::Integer(3), Value::Integer(3)]);
    assert_eq!(field(&finish(&mut r)[0], "n"), Some(Value::Integer(1)));
}

#[test]
fn groups_expire_after_expire_after_ms_without_a_log() {
    let mut c = by(&["id"]);
    c.expire_after_ms = 100;
    let mut r = reduce(&c, &cx("reduce"));
    let of = |id: i64| log(&[("id", Value::Integer(id))]);
    send(&mut r, vec![of(1), of(2)], 0);
    send(&mut r, vec![of(2)], 60 * MS);
    r.expire(120 * MS);
    assert_eq!(
        r.flushed.len(),
        1,
        "group 1 expired, group 2 was joined at 60 ms"
    );
    r.expire(159 * MS);
    assert_eq!(r.flushed.len(), 1);
    r.expire(160 * MS);
    assert_eq!(r.flushed.len(), 2);
    assert_eq!(r.groups.len(), 0);
}

#[test]
fn past_max_groups_the_stalest_group_is_emitted_early_and_counted() {
    let cx = cx("reduce");
    let mut c = by(&["id"]);
    c.max_groups = 2;
    let mut r = reduce(&c, &cx);
    let of = |id: i64| log(&[("id", Value::Integer(id)), ("n", Value::Integer(1))]);
    let out = send(&mut r, vec![of(1), of(2), of(1), of(3)], 0);
    assert_eq!(out.len(), 1);
    assert_eq!(field(&out[0], "id"), Some(Value::Integer(2)));
    assert_eq!(evictions(&cx, "group"), 1);
    assert_eq!(finish(&mut r).len(), 2);
}

#[test]
fn a_group_never_grows_past_max_bytes() {
    let mut c = config();
    c.merge_strategies
        .insert("message".into(), MergeStrategy::Concat);
    c.max_bytes = 350;
    let mut r = reduce(&c, &cx("reduce"));
    let line = |n: usize| log(&[("message", Value::from("x".repeat(n)))]);
    // 64 + 100 bytes each: the second fits, the third starts a new group.
    let out = send(&mut r, vec![line(100), line(100), line(100)], 0);
    assert_eq!(out.len(), 1);
    assert_eq!(
        field(&out[0], "message").unwrap().to_string_lossy().len(),
        201
    );
    // A log larger than the bound on its own is emitted alone at once.
    let out = send(&mut r, vec![line(1000)], 0);
    assert_eq!(out.len(), 2);
}

#[test]
fn options_are_checked() {
    let option = |c: ReduceConfig| c.reduce(&cx("reduce")).err().unwrap().option.unwrap();
    let mut c = config();
    c.starts_when = Some(".a == 1".into());
    c.ends_when = Some(".a == 2".into());
    assert_eq!(option(c), "ends_when");
    let mut c = config();
    c.merge_strategies.insert("a[0]".into(), MergeStrategy::Sum);
    assert_eq!(option(c), "merge_strategies");
    let mut c = config();
    c.max_groups = 0;
    assert_eq!(option(c), "max_groups");
    let mut c = config();
    c.max_events = Some(0);
    assert_eq!(option(c), "max_events");
    let mut c = config();
    c.ends_when = Some(".a ==".into());
    assert_eq!(option(c), "ends_when");
    let c: ReduceConfig = serde_json::from_str(
        r#"{"group_by": ["id"], "merge_strategies": {"message": "concat_newline"}}"#,
    )
    .unwrap();
    assert_eq!(c.expire_after_ms, 30_000);
    assert_eq!(c.flush_period_ms, 1_000);
    assert_eq!(c.merge_strategies["message"], MergeStrategy::ConcatNewline);
}

#[test]
fn groups_hold_their_batches_finalizers_until_emitted() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let mut r = reduce(&by(&["id"]), &cx("reduce"));
    let of = |id: i64| log(&[("id", Value::Integer(id))]);
    let first = Finalizers::new(BatchNotifier::new(move |s| tx.send(("first", s)).unwrap()));
    let second = Finalizers::new(BatchNotifier::new(move |s| {
        tx2.send(("second", s)).unwrap()
    }));
    let mut out = TransformOutputs::new(vec![None]);
    r.transform_at(
        EventBatch::new(vec![of(1), of(2)]).with_finalizers(first),
        0,
        &mut out,
    );
    r.transform_at(
        EventBatch::new(vec![of(1)]).with_finalizers(second),
        0,
        &mut out,
    );
    assert_eq!(out.drain().count(), 0);
    assert!(
        rx.try_recv().is_err(),
        "nothing is acknowledged while groups hold it"
    );
    // Group 1 carries both batches, group 2 the first only.
    r.flush_key(r.group_key(of(1).as_log().unwrap()));
    r.emit(&mut out);
    let emitted: Vec<_> = out.drain().collect();
    assert_eq!(emitted[0].1.finalizers.len(), 2);
    drop(emitted);
    assert_eq!(rx.try_recv().unwrap(), ("second", BatchStatus::Delivered));
    assert!(
        rx.try_recv().is_err(),
        "the first batch is still in group 2"
    );
    Transform::finish(&mut r, &mut out);
    drop(out);
    assert_eq!(rx.try_recv().unwrap(), ("first", BatchStatus::Delivered));
}

proptest! {
    /// Whatever the number of groups, at most `max_groups` are open and
    /// none holds more than `max_bytes` (or one log); every group emitted
    /// early is counted, and no log is lost (each carries `n = 1`, summed).
    #[test]
    fn groups_stay_within_their_bounds(
        keys in proptest::collection::vec((0u32..2_000, 0usize..200), 1..400),
        max_groups in 1usize..30,
        max_bytes in 100usize..2_000,
        batch in 1usize..20,
    ) {
        let cx = cx("reduce");
        let mut c = by(&["k"]);
        c.max_groups = max_groups;
        c.max_bytes = max_bytes;
        c.merge_strategies.insert("message".into(), MergeStrategy::Concat);
        let mut r = reduce(&c, &cx);
        let mut total = 0i64;
        let mut emitted = Vec::new();
        for chunk in keys.chunks(batch) {
            let events = chunk
                .iter()
                .map(|(k, len)| log(&[
                    ("k", Value::Integer(i64::from(*k))),
                    ("n", Value::Integer(1)),
                    ("message", Value::from("x".repeat(*len))),
                ]))
                .collect();
            emitted.extend(send(&mut r, events, 0));
            prop_assert!(r.groups.len() <= max_groups);
            for (_, g) in r.groups.iter() {
                prop_assert!(g.bytes <= max_bytes || g.events == 1);
            }
        }
        total += keys.len() as i64;
        let early = evictions(&cx, "group");
        emitted.extend(finish(&mut r));
        let reduced: i64 = emitted
            .iter()
            .map(|e| match field(e, "n") { Some(Value::Integer(n)) => n, _ => 0 })
            .sum();
        prop_assert_eq!(reduced, total);
        // A group is only evicted when one more key would not fit.
        let distinct = keys.iter().map(|(k, _)| k).collect::<std::collections::HashSet<_>>().len();
        if distinct <= max_groups {
            prop_assert_eq!(early, 0);
        }
    }
}
