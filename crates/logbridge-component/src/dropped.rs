//! What an event sent to a `dropped` output carries: a `dropped` object
//! with the reason, the message and the component, so that a dead-letter
//! sink can tell why.

use logbridge_event::{DataKind, Event, KeyString, ObjectMap, Value};

use crate::{DROPPED_OUTPUT, OutputDef};

/// The outputs of a log component that can fail: logs on the default
/// output, failures on `dropped`.
pub fn log_outputs_with_dropped() -> Vec<OutputDef> {
    vec![
        OutputDef::default_output(DataKind::LOG),
        OutputDef::named(DROPPED_OUTPUT, DataKind::LOG),
    ]
}

/// Attaches `dropped = { reason, message, component_id }` to a log, and
/// the same as `dropped.reason`, `dropped.message` and
/// `dropped.component_id` attributes to a span (OpenTelemetry's flat
/// keys). Metrics carry no free-form fields and go out unchanged.
pub fn mark_dropped(event: &mut Event, reason: &str, message: &str, component_id: &str) {
    let fields = [
        ("reason", reason),
        ("message", message),
        ("component_id", component_id),
    ];
    match event {
        Event::Log(log) => {
            let info: ObjectMap = fields
                .iter()
                .map(|&(k, v)| (KeyString::const_new(k), Value::from(v)))
                .collect();
            log.attributes
                .insert(KeyString::const_new("dropped"), Value::Object(info));
        }
        Event::Span(span) => {
            for (k, v) in fields {
                span.attributes
                    .insert(KeyString::from(format!("dropped.{k}")), Value::from(v));
            }
        }
        Event::Metric(_) => {}
    }
}
