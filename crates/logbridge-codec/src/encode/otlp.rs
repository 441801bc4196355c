//! The `otlp` codec: an event as one OTLP export request in protobuf, the
//! bytes OTLP/gRPC and OTLP/HTTP carry, holding that one record with its
//! resource and scope. A Kafka record written so is standard OTLP that any
//! OpenTelemetry consumer reads.
//!
//! The mapping is `logbridge_otlp`'s; this module only picks the signal.

use logbridge_event::Event;

pub(super) fn encode(event: &Event, out: &mut Vec<u8>) {
    let request = match event {
        Event::Log(log) => logbridge_otlp::encode_logs(std::slice::from_ref(log)),
        Event::Metric(metric) => logbridge_otlp::encode_metrics(std::slice::from_ref(metric)),
        Event::Span(span) => logbridge_otlp::encode_traces(std::slice::from_ref(&**span)),
    };
    out.extend_from_slice(&request);
}
