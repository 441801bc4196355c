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

/// Attaches `dropped = { reason, message, component_id }` to a log. Other
/// kinds carry no free-form fields and go out unchanged.
pub fn mark_dropped(event: &mut Event, reason: &str, message: &str, component_id: &str) {
    if let Event::Log(log) = event {
        let mut info = ObjectMap::new();
        info.insert(KeyString::const_new("reason"), Value::from(reason));
        info.insert(KeyString::const_new("message"), Value::from(message));
        info.insert(
            KeyString::const_new("component_id"),
            Value::from(component_id),
        );
        log.attributes
            .insert(KeyString::const_new("dropped"), Value::Object(info));
    }
}
