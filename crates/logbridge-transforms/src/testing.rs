//! Helpers for the unit tests of transforms: a build context whose counters
//! can be read back, logs made from a few fields, and the events a
//! transform emitted. Test-only; nothing here runs in the product.

use logbridge_component::BuildContext;
use logbridge_component::TransformOutputs;
use logbridge_component::telemetry::{ComponentKind, Registry};
use logbridge_event::{Event, EventBatch, LogRecord, Path, Value};

/// A build context whose metrics are registered, so that
/// [`evictions`] can read them back.
pub(crate) fn cx(component_type: &str) -> BuildContext {
    let registry = Registry::new();
    let metrics = registry.register("t", ComponentKind::Transform, component_type);
    BuildContext {
        id: "t".into(),
        data_dir: std::env::temp_dir(),
        metrics,
        registry,
        enrichment_tables: Default::default(),
    }
}

/// The evictions counted for `state` so far.
pub(crate) fn evictions(cx: &BuildContext, state: &str) -> u64 {
    let text = cx.registry.render();
    let label = format!("state=\"{state}\"");
    text.lines()
        .filter(|l| l.starts_with("logbridge_component_evictions_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A log with `fields` set (`message` becomes the body).
pub(crate) fn log(fields: &[(&str, Value)]) -> Event {
    let mut l = LogRecord::default();
    for (name, value) in fields {
        l.insert(&Path::parse(name).unwrap(), value.clone())
            .unwrap();
    }
    Event::Log(l)
}

/// Every event emitted on output `port`, in order (what went to other
/// outputs is drained and dropped).
pub(crate) fn drain_port(out: &mut TransformOutputs, port: usize) -> Vec<Event> {
    drain_batches(out, port)
        .into_iter()
        .flat_map(|mut b| b.take_events())
        .collect()
}

/// Every batch emitted on output `port`, in order (what went to other
/// outputs is drained and dropped).
pub(crate) fn drain_batches(out: &mut TransformOutputs, port: usize) -> Vec<EventBatch> {
    out.drain()
        .filter(|(p, _)| *p == port)
        .map(|(_, b)| b)
        .collect()
}

/// The string at `field` of a log.
pub(crate) fn field(event: &Event, field: &str) -> Option<Value> {
    event
        .as_log()?
        .get(&Path::parse(field).unwrap())
        .map(|v| v.into_owned())
}

/// A resource whose `service.name` is `service`.
pub(crate) fn service_resource(service: &str) -> Option<std::sync::Arc<logbridge_event::Resource>> {
    Some(std::sync::Arc::new(logbridge_event::Resource {
        attributes: [(
            logbridge_event::KeyString::from("service.name"),
            Value::from(service),
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    }))
}

/// The metrics a transform emitted on any output.
pub(crate) fn drain_metrics(out: &mut TransformOutputs) -> Vec<logbridge_event::Metric> {
    out.drain()
        .flat_map(|(_, mut b)| b.take_events())
        .map(|e| match e {
            Event::Metric(m) => m,
            _ => panic!("not a metric"),
        })
        .collect()
}
