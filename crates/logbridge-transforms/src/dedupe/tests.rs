//! Tests of the `dedupe` transform: the default and configured fields, the
//! LRU cache and its counted evictions, finalizers of dropped duplicates,
//! and that the cache stays within `cache.num_events` for any input.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use logbridge_component::{BuildContext, TransformConfig, TransformOutputs};
use logbridge_event::{BatchNotifier, BatchStatus, Event, EventBatch, Finalizers, Value};
use proptest::prelude::*;

use super::*;
use crate::testing::{cx, drain_port, evictions, field, log};

fn config(
    match_fields: Option<&[&str]>,
    ignore: Option<&[&str]>,
    num_events: usize,
) -> DedupeConfig {
    let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    DedupeConfig {
        fields: DedupeFields {
            match_fields: match_fields.map(list),
            ignore: ignore.map(list),
        },
        cache: DedupeCache { num_events },
    }
}

/// Runs `events` through, one batch each, and returns the `n` of those kept.
fn kept(config: &DedupeConfig, cx: &BuildContext, events: Vec<Event>) -> Vec<i64> {
    let mut t = config.build(cx).unwrap();
    let mut out = TransformOutputs::new(vec![None]);
    for e in events {
        t.transform(EventBatch::new(vec![e]), &mut out);
    }
    drain_port(&mut out, 0)
        .iter()
        .map(|e| match field(e, "n") {
            Some(Value::Integer(n)) => n,
            _ => -1,
        })
        .collect()
}

fn line(n: i64, message: &str, host: &str) -> Event {
    log(&[
        ("n", Value::Integer(n)),
        ("message", Value::from(message)),
        ("host", Value::from(host)),
    ])
}

#[test]
fn by_default_message_host_and_timestamp_are_compared() {
    let cx = cx("dedupe");
    let c = config(None, None, 5000);
    let events = vec![
        line(0, "a", "h1"),
        line(1, "a", "h1"),
        line(2, "a", "h2"),
        line(3, "b", "h1"),
        line(4, "a", "h2"),
    ];
    assert_eq!(kept(&c, &cx, events), [0, 2, 3]);
    assert_eq!(cx.metrics.discarded_intentional.load(Ordering::Relaxed), 2);
}

#[test]
fn match_compares_only_the_listed_fields() {
    let c = config(Some(&["service", "code"]), None, 10);
    let event = |n, service: &str, code: Value| {
        log(&[
            ("n", Value::Integer(n)),
            ("service", Value::from(service)),
            ("code", code),
            ("message", Value::from(format!("different {n}"))),
        ])
    };
    let events = vec![
        event(0, "api", Value::Integer(500)),
        event(1, "api", Value::Integer(500)),
        // Same text, another type: not a duplicate.
        event(2, "api", Value::from("500")),
        event(3, "web", Value::Integer(500)),
        // A missing field is the same as missing.
        log(&[("n", Value::Integer(4)), ("service", Value::from("api"))]),
        log(&[("n", Value::Integer(5)), ("service", Value::from("api"))]),
    ];
    assert_eq!(kept(&c, &cx("dedupe"), events), [0, 2, 3, 4]);
}

#[test]
fn ignore_compares_every_other_field_nested_ones_included() {
    let c = config(None, Some(&["n", "meta.seq"]), 10);
    let event = |n, seq, region: &str| {
        let mut meta = ObjectMap::new();
        meta.insert("seq".into(), Value::Integer(seq));
        meta.insert("region".into(), Value::from(region));
        log(&[
            ("n", Value::Integer(n)),
            ("message", Value::from("same")),
            ("meta", Value::Object(meta)),
        ])
    };
    let events = vec![event(0, 1, "eu"), event(1, 2, "eu"), event(2, 3, "us")];
    assert_eq!(kept(&c, &cx("dedupe"), events), [0, 2]);
}

#[test]
fn the_cache_forgets_the_least_recently_seen_and_counts_it() {
    let cx = cx("dedupe");
    let c = config(Some(&["message"]), None, 2);
    let events = vec![
        line(0, "a", ""),
        line(1, "b", ""),
        line(2, "a", ""), // duplicate; "a" is now the most recent
        line(3, "c", ""), // evicts "b"
        line(4, "a", ""), // still remembered
        line(5, "b", ""), // forgotten: passes, evicts "c"
    ];
    assert_eq!(kept(&c, &cx, events), [0, 1, 3, 5]);
    assert_eq!(evictions(&cx, "cache"), 2);
}

#[test]
fn options_are_checked() {
    let option = |c: DedupeConfig| c.build(&cx("dedupe")).err().unwrap().option.unwrap();
    assert_eq!(
        option(config(Some(&["a"]), Some(&["b"]), 5)),
        "fields.ignore"
    );
    assert_eq!(option(config(None, None, 0)), "cache.num_events");
    assert_eq!(option(config(None, Some(&["a[0]"]), 5)), "fields.ignore");
    assert_eq!(option(config(Some(&["a b"]), None, 5)), "fields.match");
}

#[test]
fn vector_style_config_parses() {
    let c: DedupeConfig =
        serde_json::from_str(r#"{"fields": {"match": ["message"]}, "cache": {"num_events": 7}}"#)
            .unwrap();
    assert_eq!(c.fields.match_fields.unwrap(), ["message"]);
    assert_eq!(c.cache.num_events, 7);
    let c: DedupeConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c.cache.num_events, 5000);
}

#[test]
fn dropped_duplicates_still_finish_their_batch() {
    let (tx, rx) = mpsc::channel();
    let mut t = config(None, None, 10).build(&cx("dedupe")).unwrap();
    let mut out = TransformOutputs::new(vec![None]);
    t.transform(EventBatch::new(vec![line(0, "a", "h")]), &mut out);
    let notifier = BatchNotifier::new(move |s| tx.send(s).unwrap());
    t.transform(
        EventBatch::new(vec![line(1, "a", "h"), line(2, "a", "h")])
            .with_finalizers(Finalizers::new(notifier)),
        &mut out,
    );
    assert_eq!(rx.try_recv().unwrap(), BatchStatus::Delivered);
    assert_eq!(out.drain().count(), 1);
}

proptest! {
    /// Whatever the number of distinct logs, the cache holds at most
    /// `num_events` of them, and every one it let go is counted.
    #[test]
    fn the_cache_stays_within_its_bound(
        keys in proptest::collection::vec(0u32..5_000, 1..600),
        num_events in 1usize..50,
    ) {
        let cx = cx("dedupe");
        let c = config(Some(&["k"]), None, num_events);
        let mut d = Dedupe {
            compare: c.compare().unwrap(),
            seen: LruCache::new(NonZeroUsize::new(num_events).unwrap()),
            metrics: cx.metrics.clone(),
        };
        let mut passed = 0u64;
        for k in &keys {
            let Event::Log(l) = log(&[("k", Value::Integer(i64::from(*k)))]) else { unreachable!() };
            if d.is_new(&l) {
                passed += 1;
            }
            prop_assert!(d.cached() <= num_events);
        }
        // Every log that passed entered the cache; those not there any
        // more were evicted, and counted.
        prop_assert_eq!(evictions(&cx, "cache"), passed - d.cached() as u64);
    }
}
