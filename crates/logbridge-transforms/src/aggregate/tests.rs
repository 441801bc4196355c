//! Unit tests of the `aggregate` transform: intervals, shutdown,
//! acknowledgements, the series bound and its telemetry.

use std::sync::atomic::Ordering;
use std::sync::mpsc;

use logbridge_component::telemetry::{ComponentKind, Registry};
use logbridge_event::{BatchNotifier, BatchStatus, LogRecord, Metric, MetricValue, Temporality};
use proptest::prelude::*;
use serde_json::json;

use super::*;

/// The transform, and the registry its counters render from.
fn build(config: serde_json::Value) -> (Box<dyn Transform>, Arc<Registry>) {
    let cfg: AggregateConfig = serde_json::from_value(config).unwrap();
    let registry = Registry::new();
    let cx = BuildContext {
        id: "agg".into(),
        data_dir: "/tmp".into(),
        metrics: registry.register("agg", ComponentKind::Transform, "aggregate"),
        registry: registry.clone(),
        enrichment_tables: Default::default(),
    };
    (cfg.build(&cx).unwrap(), registry)
}

fn delta(name: &str, v: f64, t: i64) -> Metric {
    Metric {
        temporality: Temporality::Delta,
        ..Metric::counter(name, v, t)
    }
}

fn outputs() -> TransformOutputs {
    TransformOutputs::new(vec![None])
}

fn points(out: &mut TransformOutputs) -> Vec<(String, MetricValue)> {
    out.drain()
        .flat_map(|(_, b)| b.events().to_vec())
        .map(|e| match e {
            Event::Metric(m) => (m.name.to_string(), m.value),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// What a tick sends.
fn ticked(t: &mut Box<dyn Transform>) -> Vec<(String, MetricValue)> {
    let mut out = outputs();
    t.tick(&mut out);
    points(&mut out)
}

fn batch(metrics: Vec<Metric>) -> EventBatch {
    EventBatch::new(metrics.into_iter().map(Event::Metric).collect())
}

/// A batch whose acknowledgement reports on the channel.
fn acknowledged(metrics: Vec<Metric>) -> (EventBatch, mpsc::Receiver<BatchStatus>) {
    let (tx, rx) = mpsc::channel();
    let notifier = BatchNotifier::new(move |s| tx.send(s).unwrap());
    (
        batch(metrics).with_finalizers(Finalizers::new(notifier)),
        rx,
    )
}

#[test]
fn sums_counters_within_an_interval_and_sends_them_on_the_tick() {
    let (mut t, _) = build(json!({"interval_ms": 1000}));
    assert_eq!(t.tick_interval(), Some(Duration::from_secs(1)));
    let mut out = outputs();
    t.transform(
        batch(vec![delta("c", 1.0, 1), delta("c", 2.0, 2)]),
        &mut out,
    );
    t.transform(
        batch(vec![delta("c", 3.0, 3), Metric::gauge("g", 5.0, 3)]),
        &mut out,
    );
    assert!(points(&mut out).is_empty(), "nothing before the tick");
    assert_eq!(
        ticked(&mut t),
        [
            ("c".to_owned(), MetricValue::Scalar(6.0)),
            ("g".to_owned(), MetricValue::Scalar(5.0))
        ]
    );
    assert!(ticked(&mut t).is_empty(), "an empty interval sends nothing");
    t.transform(batch(vec![delta("c", 1.0, 4)]), &mut out);
    t.finish(&mut out);
    assert_eq!(
        points(&mut out),
        [("c".to_owned(), MetricValue::Scalar(1.0))]
    );
}

#[test]
fn acknowledgements_wait_for_the_points_sent() {
    let (mut t, _) = build(json!({}));
    let mut out = outputs();
    let (first, first_ack) = acknowledged(vec![delta("c", 1.0, 1)]);
    let (second, second_ack) = acknowledged(vec![delta("c", 1.0, 2)]);
    t.transform(first, &mut out);
    t.transform(second, &mut out);
    assert!(first_ack.try_recv().is_err() && second_ack.try_recv().is_err());
    t.tick(&mut out);
    let sent: Vec<_> = out.drain().collect();
    assert_eq!(sent.len(), 1);
    assert!(
        first_ack.try_recv().is_err(),
        "acknowledged before delivery"
    );
    drop(sent);
    assert_eq!(first_ack.try_recv().unwrap(), BatchStatus::Delivered);
    assert_eq!(second_ack.try_recv().unwrap(), BatchStatus::Delivered);
}

#[test]
fn points_held_when_the_transform_is_stopped_count_as_not_delivered() {
    let (mut t, _) = build(json!({}));
    let (b, ack) = acknowledged(vec![delta("c", 1.0, 1)]);
    t.transform(b, &mut outputs());
    drop(t);
    assert_eq!(ack.try_recv().unwrap(), BatchStatus::Errored);
}

#[test]
fn too_many_series_send_the_interval_early_and_are_counted() {
    let (mut t, registry) = build(json!({"max_series": 2}));
    let mut out = outputs();
    let (b, ack) = acknowledged(vec![
        delta("a", 1.0, 1),
        delta("b", 1.0, 1),
        delta("c", 1.0, 1),
        delta("a", 1.0, 2),
    ]);
    t.transform(b, &mut out);
    let early: Vec<_> = out.drain().collect();
    assert_eq!(early.len(), 1);
    assert_eq!(early[0].1.len(), 2);
    let text = registry.render();
    assert!(
        text.contains("logbridge_component_evictions_total{component_id=\"agg\",component_kind=\"transform\",component_type=\"aggregate\",state=\"series\"} 2"),
        "{text}"
    );
    // The batch answers to both the early points and those still held.
    drop(early);
    assert!(ack.try_recv().is_err());
    assert_eq!(
        ticked(&mut t),
        [
            ("c".to_owned(), MetricValue::Scalar(1.0)),
            ("a".to_owned(), MetricValue::Scalar(1.0))
        ]
    );
    assert_eq!(ack.try_recv().unwrap(), BatchStatus::Delivered);
}

#[test]
fn ignored_points_are_discarded_and_failed_updates_counted() {
    let (mut t, registry) = build(json!({"mode": "Sum"}));
    let mut out = outputs();
    let mut gauge_delta = delta("c", 9.0, 2);
    gauge_delta.kind = logbridge_event::MetricKind::Gauge;
    t.transform(
        EventBatch::new(vec![
            Event::Metric(delta("c", 1.0, 1)),
            Event::Metric(Metric::gauge("g", 1.0, 1)),
            Event::Metric(gauge_delta),
            Event::Log(LogRecord::default()),
        ]),
        &mut out,
    );
    let metrics = registry.components()[0].clone();
    assert_eq!(metrics.discarded_intentional.load(Ordering::Relaxed), 2);
    assert!(
        registry
            .render()
            .contains("logbridge_aggregate_failed_updates_total{component_id=\"agg\",component_kind=\"transform\",component_type=\"aggregate\"} 1")
    );
    assert_eq!(ticked(&mut t), [("c".to_owned(), MetricValue::Scalar(9.0))]);
}

#[test]
fn modes_by_vector_names_and_lower_case() {
    for (name, expected) in [
        ("Latest", 3.0),
        ("max", 5.0),
        ("Min", 1.0),
        ("Mean", 3.0),
        ("Count", 3.0),
    ] {
        let (mut t, _) = build(json!({"mode": name}));
        let mut out = outputs();
        t.transform(
            batch(vec![
                Metric::gauge("g", 1.0, 1),
                Metric::gauge("g", 5.0, 2),
                Metric::gauge("g", 3.0, 3),
            ]),
            &mut out,
        );
        assert_eq!(
            ticked(&mut t),
            [("g".to_owned(), MetricValue::Scalar(expected))],
            "{name}"
        );
    }
}

#[test]
fn bad_options_are_build_errors() {
    for (config, option) in [
        (json!({"interval_ms": 0}), "interval_ms"),
        (json!({"max_series": 0}), "max_series"),
    ] {
        let cfg: AggregateConfig = serde_json::from_value(config).unwrap();
        let cx = BuildContext::detached("a", ComponentKind::Transform, "/tmp".into());
        assert_eq!(
            cfg.build(&cx).err().unwrap().option.as_deref(),
            Some(option)
        );
    }
    assert!(serde_json::from_value::<AggregateConfig>(json!({"mode": "Median"})).is_err());
}

proptest! {
    /// Through the transform, under any cardinality and any timing of
    /// ticks: the series held stay within `max_series`, and every delta
    /// counted comes out (summed) exactly once.
    #[test]
    fn sums_are_kept_and_state_bounded(
        max_series in 1usize..32,
        batches in proptest::collection::vec(
            (proptest::collection::vec((0u16..300, 1u32..100), 0..50), any::<bool>()),
            0..30,
        ),
    ) {
        let (mut t, _) = build(json!({"max_series": max_series}));
        let mut out = outputs();
        let (mut sent, mut emitted) = (0u64, 0u64);
        // Each flush sends what was held: never more than `max_series`.
        let mut tally = |out: &mut TransformOutputs| {
            for (_, sent_batch) in out.drain() {
                prop_assert!(sent_batch.len() <= max_series);
                for event in sent_batch.events() {
                    match event {
                        Event::Metric(Metric { value: MetricValue::Scalar(v), .. }) => {
                            emitted += *v as u64;
                        }
                        other => prop_assert!(false, "{other:?}"),
                    }
                }
            }
            Ok(())
        };
        for (points_in, tick) in batches {
            let metrics = points_in
                .iter()
                .map(|(series, v)| {
                    sent += u64::from(*v);
                    delta(&format!("s{series}"), f64::from(*v), 1)
                })
                .collect();
            t.transform(batch(metrics), &mut out);
            tally(&mut out)?;
            if tick {
                t.tick(&mut out);
                tally(&mut out)?;
            }
        }
        t.finish(&mut out);
        tally(&mut out)?;
        prop_assert_eq!(sent, emitted);
    }
}
