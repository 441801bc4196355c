//! Tests of the `throttle` transform on a clock the tests move: the
//! allowance and its refill, keys, `exclude`, the `dropped` output, and
//! that the keys tracked stay within `max_keys` for any input.

use logbridge_component::{BuildContext, TransformOutputs};
use logbridge_event::{Event, Value};
use proptest::prelude::*;

use super::*;
use crate::testing::{cx, evictions, field, log};

const SEC: u64 = 1_000_000_000;

fn config(threshold: u32, window_secs: f64, key_field: Option<&str>) -> ThrottleConfig {
    ThrottleConfig {
        threshold,
        window_secs,
        key_field: key_field.map(str::to_owned),
        exclude: None,
        max_keys: default_max_keys(),
    }
}

/// A throttle built from `config`, driven by hand.
fn throttle(config: &ThrottleConfig, cx: &BuildContext) -> Throttle {
    config.throttle(cx).unwrap()
}

fn outputs() -> TransformOutputs {
    TransformOutputs::new(vec![None, Some(DROPPED_OUTPUT.into())])
}

/// Sends `events` at `now`; returns (passed, held back).
fn send(t: &mut Throttle, events: Vec<Event>, now: u64) -> (Vec<Event>, Vec<Event>) {
    let mut out = outputs();
    t.transform_at(EventBatch::new(events), now, &mut out);
    let (mut passed, mut held) = (Vec::new(), Vec::new());
    for (port, mut batch) in out.drain() {
        let events = batch.take_events();
        if port == 0 {
            passed.extend(events)
        } else {
            held.extend(events)
        }
    }
    (passed, held)
}

fn plain(n: usize) -> Vec<Event> {
    (0..n)
        .map(|_| log(&[("message", Value::from("x"))]))
        .collect()
}

#[test]
fn a_burst_of_threshold_passes_then_one_per_interval() {
    // Vector's example: 2 per 5 s; a cell refills every 2.5 s.
    let cx = cx("throttle");
    let mut t = throttle(&config(2, 5.0, None), &cx);
    assert_eq!(send(&mut t, plain(3), 0).0.len(), 2);
    assert_eq!(send(&mut t, plain(1), 2 * SEC).0.len(), 0);
    // By 5 s both cells are back.
    assert_eq!(send(&mut t, plain(3), 5 * SEC).0.len(), 2);
    assert_eq!(send(&mut t, plain(2), 7 * SEC + SEC / 2).0.len(), 1);
    // Idle for a whole window: a full burst again.
    assert_eq!(send(&mut t, plain(3), 20 * SEC).0.len(), 2);
}

#[test]
fn held_back_logs_go_to_dropped_marked() {
    let mut t = throttle(&config(1, 1.0, None), &cx("throttle"));
    let (passed, held) = send(&mut t, plain(3), 0);
    assert_eq!((passed.len(), held.len()), (1, 2));
    let dropped = field(&held[0], "dropped").unwrap();
    let reason = dropped.as_object().unwrap().get("reason").cloned();
    assert_eq!(reason, Some(Value::from("throttled")));
    assert_eq!(field(&passed[0], "dropped"), None);
}

#[test]
fn each_key_has_its_own_allowance() {
    let mut t = throttle(&config(1, 60.0, Some("{{ service }}")), &cx("throttle"));
    let of = |s: &str| log(&[("service", Value::from(s))]);
    let (passed, held) = send(&mut t, vec![of("a"), of("b"), of("a"), of("c"), of("b")], 0);
    let services: Vec<_> = passed
        .iter()
        .map(|e| field(e, "service").unwrap())
        .collect();
    assert_eq!(
        services,
        [Value::from("a"), Value::from("b"), Value::from("c")]
    );
    assert_eq!(held.len(), 2);
}

#[test]
fn excluded_logs_always_pass_and_spend_nothing() {
    let mut c = config(1, 60.0, None);
    c.exclude = Some(".level == \"error\"".into());
    let mut t = throttle(&c, &cx("throttle"));
    let of = |l: &str| log(&[("level", Value::from(l))]);
    let (passed, _) = send(
        &mut t,
        vec![of("error"), of("error"), of("info"), of("info")],
        0,
    );
    assert_eq!(passed.len(), 3);
}

#[test]
fn past_max_keys_the_least_recent_key_is_forgotten_and_counted() {
    let cx = cx("throttle");
    let mut c = config(1, 60.0, Some("{{ k }}"));
    c.max_keys = 2;
    let mut t = throttle(&c, &cx);
    let of = |k: i64| log(&[("k", Value::Integer(k))]);
    assert_eq!(send(&mut t, vec![of(1), of(2), of(1)], 0).0.len(), 2);
    // Key 3 evicts key 2 (key 1 was seen more recently).
    assert_eq!(send(&mut t, vec![of(3)], SEC).0.len(), 1);
    assert_eq!(evictions(&cx, "key"), 1);
    // Key 1 is still limited (and now the most recent key).
    assert_eq!(send(&mut t, vec![of(1)], SEC).0.len(), 0);
    // Key 2 starts afresh, evicting key 3.
    assert_eq!(send(&mut t, vec![of(2)], SEC).0.len(), 1);
    assert_eq!(evictions(&cx, "key"), 2);
}

#[test]
fn ticks_forget_keys_whose_allowance_is_back() {
    let mut t = throttle(&config(2, 10.0, Some("{{ k }}")), &cx("throttle"));
    let of = |k: i64| log(&[("k", Value::Integer(k))]);
    send(&mut t, vec![of(1), of(1), of(2)], 0);
    t.limiter.forget_idle(6 * SEC);
    // Key 2 (one cell, refilled after 5 s) is gone; key 1 is not.
    assert_eq!(t.limiter.keys.len(), 1);
    t.limiter.forget_idle(10 * SEC);
    assert_eq!(t.limiter.keys.len(), 0);
}

#[test]
fn options_are_checked() {
    let option = |c: ThrottleConfig| c.throttle(&cx("throttle")).err().unwrap().option.unwrap();
    assert_eq!(option(config(0, 1.0, None)), "threshold");
    assert_eq!(option(config(1, 0.0, None)), "window_secs");
    assert_eq!(option(config(1, f64::NAN, None)), "window_secs");
    assert_eq!(option(config(1, 1.0, Some("{{ a"))), "key_field");
    let mut c = config(1, 1.0, None);
    c.max_keys = 0;
    assert_eq!(option(c), "max_keys");
}

proptest! {
    /// Whatever the number of keys and their order, at most `max_keys` are
    /// tracked, and every key let go is counted.
    #[test]
    fn tracked_keys_stay_within_max_keys(
        keys in proptest::collection::vec(0u32..10_000, 1..500),
        max_keys in 1usize..40,
        step_ms in 0u64..50,
    ) {
        let cx = cx("throttle");
        let mut c = config(3, 1.0, Some("{{ k }}"));
        c.max_keys = max_keys;
        let mut t = throttle(&c, &cx);
        let mut now = 0;
        let mut new_keys = 0u64;
        let mut tracked = std::collections::HashSet::new();
        for k in &keys {
            now += step_ms * 1_000_000;
            let (passed, held) = send(&mut t, vec![log(&[("k", Value::Integer(i64::from(*k)))])], now);
            prop_assert_eq!(passed.len() + held.len(), 1);
            prop_assert!(t.limiter.keys.len() <= max_keys);
            if !t.limiter.keys.contains(&crate::fingerprint::of_text(&k.to_string())) {
                prop_assert!(false, "the key just seen is tracked");
            }
            if tracked.insert(*k) {
                new_keys += 1;
            }
            // A key evicted and seen again is new again.
            tracked.retain(|k| t.limiter.keys.contains(&crate::fingerprint::of_text(&k.to_string())));
        }
        prop_assert_eq!(evictions(&cx, "key"), new_keys - t.limiter.keys.len() as u64);
    }
}
