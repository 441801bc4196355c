//! Alert states and notifications beyond what the rule unit tests reach:
//! `keep_firing_for`, `limit`, resending and resolution, duplicate label
//! sets, alerts restored after a restart, and evaluations timed with the
//! clock the caller gives.

mod support;

use std::sync::Arc;
use std::time::Duration;

use logbridge_rules::labels::Labels;
use logbridge_rules::promql::EngineOptions;
use logbridge_rules::rule_file::parse_rule_file;
use logbridge_rules::rules::{AlertState, RuleEngine, RulesConfig};
use logbridge_rules::storage::Queryable;

use support::SteppingClock;

const MIN: i64 = 60_000;

fn engine(rules: &str) -> RuleEngine {
    let file = parse_rule_file("r.yml", rules).unwrap_or_else(|e| panic!("{e:?}"));
    RuleEngine::new(
        &[file],
        RulesConfig {
            default_interval_ms: MIN,
            resend_delay_ms: MIN,
            ..RulesConfig::default()
        },
    )
    .unwrap()
}

fn up(value: f64) -> (Labels, f64) {
    (
        Labels::from_pairs([("__name__", "up"), ("job", "api")]),
        value,
    )
}

/// Feeds `up` at `t` and evaluates every group there.
fn step(engine: &mut RuleEngine, t: i64, value: Option<f64>) -> logbridge_rules::rules::Evaluation {
    if let Some(v) = value {
        let (labels, v) = up(v);
        engine.ingest(&labels, t, v);
    }
    engine.evaluate_due(t)
}

fn state(engine: &RuleEngine) -> Option<AlertState> {
    engine.alerts().map(|(_, _, a)| a.state).next()
}

const DOWN: &str = "groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: 2m
        keep_firing_for: 3m
";

#[test]
fn pending_firing_kept_firing_then_resolved_and_sent() {
    let mut e = engine(DOWN);
    assert_eq!(step(&mut e, 0, Some(0.0)).notifications.len(), 0);
    assert_eq!(state(&e), Some(AlertState::Pending));
    step(&mut e, MIN, Some(0.0));
    let fired = step(&mut e, 2 * MIN, Some(0.0));
    assert_eq!(state(&e), Some(AlertState::Firing));
    assert_eq!(fired.notifications.len(), 1, "sent when it fires");
    assert_eq!(fired.notifications[0].starts_at, 2 * MIN);
    assert_eq!(
        fired.notifications[0].ends_at,
        2 * MIN + 4 * MIN,
        "valid for 4 resend delays"
    );
    // Recovered at 3m: still firing for keep_firing_for (3m).
    step(&mut e, 3 * MIN, Some(1.0));
    assert_eq!(state(&e), Some(AlertState::Firing));
    let again = step(&mut e, 4 * MIN + 1, Some(1.0));
    assert_eq!(
        again.notifications.len(),
        1,
        "resent after the resend delay"
    );
    step(&mut e, 5 * MIN, Some(1.0));
    assert_eq!(state(&e), Some(AlertState::Firing));
    let resolved = step(&mut e, 6 * MIN, Some(1.0));
    assert_eq!(state(&e), Some(AlertState::Inactive));
    assert_eq!(resolved.notifications.len(), 1);
    assert_eq!(
        resolved.notifications[0].ends_at,
        6 * MIN,
        "ends when resolved"
    );
    assert_eq!(resolved.notifications[0].state, AlertState::Inactive);
    // ALERTS ended with a stale marker.
    assert!(resolved.samples.iter().any(|(l, _, v)| {
        l.value_of("__name__") == "ALERTS" && v.to_bits() == 0x7ff0_0000_0000_0002
    }));
}

#[test]
fn limit_and_duplicate_label_sets_are_errors() {
    let mut e = engine(
        "groups:
  - name: g
    limit: 1
    rules:
      - alert: Any
        expr: up >= 0 or vector(1)
      - record: same
        expr: up or label_replace(up, \"job\", \"x\", \"job\", \".*\") * 0 + on() group_left vector(0)
",
    );
    step(&mut e, 0, Some(1.0));
    let rule = &e.groups()[0].rules[0];
    assert_eq!(
        rule.status().last_error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert_eq!(e.alerts().count(), 0, "all alerts dropped at the limit");
}

#[test]
fn recorded_duplicates_are_refused() {
    let mut e = engine(
        "groups:
  - name: g
    rules:
      - record: one
        expr: up or vector(1)
        labels:
          job: fixed
",
    );
    step(&mut e, 0, Some(1.0));
    let status = e.groups()[0].rules[0].status();
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|m| m.contains("same labelset after applying rule labels")),
        "{status:?}"
    );
}

#[test]
fn restored_alerts_keep_active_at_within_the_window() {
    let mut before = engine(DOWN);
    step(&mut before, 0, Some(0.0));
    step(&mut before, MIN, Some(0.0));
    let saved = before.saved_alerts();
    assert_eq!(saved.len(), 1);

    // Restarted: the first evaluations see no data yet.
    let mut after = engine(DOWN);
    after.restore(saved.clone(), MIN);
    step(&mut after, 5 * MIN, None);
    step(&mut after, 6 * MIN, Some(0.0));
    let alert = after.alerts().next().unwrap().2.clone();
    assert_eq!(alert.active_at, 0, "active since before the restart");
    assert_eq!(alert.state, AlertState::Firing, "`for` already elapsed");

    // Coming back after the window: a new alert.
    let mut late = engine(DOWN);
    late.restore(saved, MIN);
    step(&mut late, 5 * MIN, None);
    step(&mut late, 16 * MIN, Some(0.0));
    let alert = late.alerts().next().unwrap().2.clone();
    assert_eq!(alert.active_at, 16 * MIN);
    assert_eq!(alert.state, AlertState::Pending);
}

fn sample(name: &str, job: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("job", job)])
}

const CHAIN: &str = "groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: JobDown
        expr: job:up:sum == 0
      - record: unread
        expr: count(up)
";

#[test]
fn only_series_some_rule_reads_are_stored() {
    let mut e = engine(CHAIN);
    e.ingest(&sample("up", "api"), 0, 0.0);
    e.ingest(&sample("node_load1", "node"), 0, 0.5);
    let out = e.evaluate_due(0);
    assert_eq!(e.samples_not_read, 1, "node_load1 is read by no rule");
    let stored: Vec<String> = e
        .store()
        .select(&[], i64::MIN, i64::MAX, usize::MAX)
        .unwrap()
        .iter()
        .map(|s| s.labels.to_string())
        .collect();
    assert_eq!(
        stored,
        [r#"up{job="api"}"#, r#"job:up:sum{job="api"}"#],
        "the recorded series a later rule reads is kept; `unread` and ALERTS are not"
    );
    // What is not stored still leaves for the pipeline.
    let names: Vec<&str> = out
        .samples
        .iter()
        .map(|(l, _, _)| l.value_of("__name__"))
        .collect();
    assert_eq!(
        names,
        ["job:up:sum", "ALERTS", "ALERTS_FOR_STATE", "unread"]
    );
    assert_eq!(state(&e), Some(AlertState::Firing), "the chain works");
}

#[test]
fn templates_that_query_keep_every_series() {
    let mut e = engine(
        "groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        annotations:
          load: '{{ with query \"node_load1\" }}{{ . | first | value }}{{ end }}'
",
    );
    e.ingest(&sample("node_load1", "node"), 0, 0.5);
    e.ingest(&sample("up", "api"), 0, 0.0);
    assert_eq!(e.samples_not_read, 0);
    let out = e.evaluate_due(0);
    assert_eq!(
        out.notifications[0].annotations,
        [("load".into(), "0.5".into())]
    );
}

#[test]
fn external_labels_go_on_notifications_under_the_alerts_own() {
    let file = parse_rule_file("r.yml", CHAIN).unwrap();
    let mut e = RuleEngine::new(
        &[file],
        RulesConfig {
            external_labels: vec![
                ("cluster".into(), "eu1".into()),
                ("job".into(), "not-this".into()),
            ],
            ..RulesConfig::default()
        },
    )
    .unwrap();
    e.ingest(&sample("up", "api"), 0, 0.0);
    let out = e.evaluate_due(0);
    assert_eq!(
        out.notifications[0].labels.to_string(),
        r#"{alertname="JobDown", cluster="eu1", job="api"}"#
    );
    let alerts = out
        .samples
        .iter()
        .find(|(l, _, _)| l.value_of("__name__") == "ALERTS")
        .unwrap();
    assert_eq!(alerts.0.value_of("cluster"), "", "not on the ALERTS series");
}

#[test]
fn query_offset_evaluates_earlier_and_records_at_that_time() {
    let mut e = engine(
        "groups:
  - name: g
    query_offset: 1m
    rules:
      - record: r
        expr: up
",
    );
    for (t, v) in [(0, 1.0), (MIN, 2.0), (2 * MIN, 3.0)] {
        let (labels, _) = up(v);
        e.ingest(&labels, t, v);
    }
    let out = e.evaluate_due(2 * MIN);
    let recorded: Vec<(i64, f64)> = out.samples.iter().map(|(_, t, v)| (*t, *v)).collect();
    assert_eq!(recorded, [(MIN, 2.0)], "the value at 1m, as of 1m");
}

#[test]
fn a_query_over_its_sample_limit_fails_its_rule_and_is_reported() {
    let file = parse_rule_file(
        "r.yml",
        "groups:
  - name: g
    rules:
      - record: wide
        expr: sum(count_over_time(up[10m]))
      - record: narrow
        expr: up
",
    )
    .unwrap();
    let mut e = RuleEngine::new(
        &[file],
        RulesConfig {
            default_interval_ms: MIN,
            engine: logbridge_rules::promql::EngineOptions {
                max_samples: 5,
                ..Default::default()
            },
            ..RulesConfig::default()
        },
    )
    .unwrap();
    for i in 0..10 {
        let (labels, v) = up(1.0);
        e.ingest(&labels, i * MIN, v);
    }
    let out = e.evaluate_due(9 * MIN);
    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    assert_eq!(out.failures[0].rule, "wide");
    assert!(
        out.failures[0].error.contains("too many samples"),
        "{}",
        out.failures[0].error
    );
    let recorded: Vec<&str> = out
        .samples
        .iter()
        .map(|(l, _, _)| l.value_of("__name__"))
        .collect();
    assert_eq!(recorded, ["narrow"], "the group's other rules still run");
}

#[test]
fn a_long_for_restored_does_not_count_the_time_spent_down() {
    // `for: 20m` is longer than the 10m grace period: as in Prometheus,
    // pending time spent down does not count.
    let rules = DOWN.replace("for: 2m", "for: 20m");
    let mut before = engine(&rules);
    for m in 0..=5 {
        step(&mut before, m * MIN, Some(0.0));
    }
    let saved = before.saved_alerts();
    // Down from 5m to 12m: 5m of the 20m were spent, 15m remain, from 12m.
    let mut after = engine(&rules);
    after.restore(saved, 5 * MIN);
    step(&mut after, 12 * MIN, Some(0.0));
    let alert = after.alerts().next().unwrap().2.clone();
    assert_eq!(alert.active_at, 7 * MIN, "moved by the 7m spent down");
    step(&mut after, 26 * MIN, Some(0.0));
    assert_eq!(state(&after), Some(AlertState::Pending));
    step(&mut after, 27 * MIN, Some(0.0));
    assert_eq!(state(&after), Some(AlertState::Firing));
}

#[test]
fn restored_active_times_follow_prometheus_grace_period() {
    use logbridge_rules::rules::alerting::restored_active_at;
    const GRACE: i64 = 10 * MIN;
    // `for` within the grace period: kept as saved.
    assert_eq!(restored_active_at(0, 5 * MIN, 60 * MIN, 10 * MIN, GRACE), 0);
    // Already firing when it went down: kept.
    assert_eq!(
        restored_active_at(0, 30 * MIN, 40 * MIN, 20 * MIN, GRACE),
        0
    );
    // 5m of 20m left: fires at the end of the grace period after restart.
    assert_eq!(
        restored_active_at(0, 15 * MIN, 40 * MIN, 20 * MIN, GRACE),
        40 * MIN + GRACE - 20 * MIN
    );
    // 15m of 20m left: shifted by the 25m downtime.
    assert_eq!(
        restored_active_at(0, 5 * MIN, 30 * MIN, 20 * MIN, GRACE),
        25 * MIN
    );
}

#[test]
fn skipped_evaluation_times_count_as_missed_iterations() {
    let mut e = engine(
        "groups:
  - name: g
    interval: 1m
    rules:
      - record: r
        expr: vector(1)
",
    );
    e.evaluate_due(0);
    e.evaluate_due(MIN + 30_000);
    assert_eq!(e.groups()[0].iterations_missed, 0, "on time");
    // Asked again only 4 minutes later: the steps at 2m and 3m were
    // skipped; 4m is evaluated.
    let out = e.evaluate_due(4 * MIN + 10_000);
    assert_eq!(out.groups_evaluated, 1);
    assert_eq!(e.groups()[0].iterations_missed, 2);
    assert_eq!(e.groups()[0].last_evaluation, Some(4 * MIN));
    e.evaluate_due(4 * MIN + 20_000);
    assert_eq!(e.groups()[0].iterations_missed, 2, "not due, not missed");
}

#[test]
fn evaluations_are_timed_with_the_given_clock() {
    const RULES: &str = "groups:
  - name: g
    rules:
      - record: a
        expr: vector(1)
      - record: b
        expr: vector(2)
";
    let file = parse_rule_file("r.yml", RULES).unwrap();
    let mut timed = RuleEngine::new(
        &[file],
        RulesConfig {
            engine: EngineOptions {
                clock: Some(Arc::new(SteppingClock::new())),
                ..EngineOptions::default()
            },
            ..RulesConfig::default()
        },
    )
    .unwrap();
    timed.evaluate_due(0);
    let group = &timed.groups()[0];
    let in_rules: Duration = group.rules.iter().map(|r| r.status().evaluation_time).sum();
    assert!(
        group
            .rules
            .iter()
            .all(|r| r.status().evaluation_time > Duration::ZERO)
    );
    assert!(
        group.evaluation_time > in_rules,
        "the group's time includes its rules'"
    );

    // Without a clock nothing is measured.
    let mut untimed = engine(RULES);
    untimed.evaluate_due(0);
    let group = &untimed.groups()[0];
    assert_eq!(group.evaluation_time, Duration::ZERO);
    assert!(
        group
            .rules
            .iter()
            .all(|r| r.status().evaluation_time == Duration::ZERO)
    );
}
