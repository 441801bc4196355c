//! The `json` codec: one JSON object per event, keys sorted.
//!
//! Logs are written field by field from a borrowed view (nothing cloned);
//! metrics and spans through their [`ObjectMap`](logbridge_event::ObjectMap)
//! views.

use logbridge_event::Event;

use super::view::{self, Field};
use super::write;

pub(super) fn encode(event: &Event, out: &mut Vec<u8>) {
    match event {
        Event::Log(log) => {
            out.push(b'{');
            let mut first = true;
            view::log_fields(log, |key, field| {
                if !first {
                    out.push(b',');
                }
                first = false;
                write::json_str(out, key);
                out.push(b':');
                match field {
                    Field::Value(v) => write::json_value(out, v),
                    Field::Timestamp(ns) => {
                        out.push(b'"');
                        write::timestamp(out, ns);
                        out.push(b'"');
                    }
                }
            });
            out.push(b'}');
        }
        Event::Metric(m) => write::json_object(out, &view::metric_object(m)),
        Event::Span(s) => write::json_object(out, &view::span_object(s)),
    }
}
