//! The `otlp_json` codec: an event as one OTLP/JSON export request, so
//! that every field of OpenTelemetry's model (severity, observed time,
//! trace and span ids, flags, event name, dropped counts, resource and
//! scope with their schema URLs) is kept and the line can be posted back to
//! an OTLP/HTTP receiver as it is.
//!
//! The mapping itself is `logbridge_otlp`'s; this module only picks the
//! signal. It must not write a newline: the encoder ends the line.

use logbridge_event::Event;

pub(super) fn encode(event: &Event, out: &mut Vec<u8>) {
    let request = match event {
        Event::Log(log) => logbridge_otlp::encode_logs_json(std::slice::from_ref(log)),
        Event::Metric(metric) => logbridge_otlp::encode_metrics_json(std::slice::from_ref(metric)),
        Event::Span(span) => logbridge_otlp::encode_traces_json(std::slice::from_ref(span)),
    };
    out.extend_from_slice(&request);
}
