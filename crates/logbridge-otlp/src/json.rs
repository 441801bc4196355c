//! OTLP/JSON (the body of OTLP/HTTP with `application/json`): bytes to
//! requests and events, and back.
//!
//! The spec's mapping is proto3 JSON with three changes: trace and span
//! ids are hex strings (not base64), enums are integers (not names), and
//! field names are only lowerCamelCase. Decoding accepts what the spec
//! says receivers must: 64-bit integers as decimal strings or numbers,
//! unknown fields (ignored), absent or `null` fields (the default); and a
//! little more: ids in upper-case hex, enum names, non-finite doubles as
//! `"NaN"`/`"Infinity"`/`"-Infinity"`, `bytesValue` in either base64
//! alphabet. Encoding writes the canonical form: defaults left out, 64-bit
//! integers as strings, lower-case hex.
//!
//! Why not `opentelemetry-proto`'s `with-serde` feature (0.33): it gets
//! hex ids, 64-bit strings and the `AnyValue` shape right, but rejects
//! valid input (an `arrayValue` or `kvlistValue` without `values`, a
//! `KeyValue` without `key`: proto3 JSON leaves empty fields out, so a
//! conforming sender writes those for an empty array or key), writes a
//! non-finite `doubleValue`, `asDouble`, `sum`, `min`, `max` or bound as
//! `null` (which reads back as absent or fails) and does not read
//! `"NaN"`/`"Infinity"` there. So the mapping is written here, over
//! `serde_json::Value`, one function per message and direction.
//!
//! Nesting is bounded by serde_json's recursion limit (128 levels of
//! arrays and objects): deeper input is an error, not a stack overflow.
//! Size is not bounded: parsing allocates a tree several times the size of
//! the input, so cap the body before calling.

mod base64;
mod common;
mod logs;
mod metrics;
mod read;
mod traces;
mod write;

use logbridge_event::{LogRecord, Metric, Span};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::{
    logs_from_request, logs_to_request, metrics_from_request, metrics_to_request,
    spans_from_request, spans_to_request,
};

/// The input is not a valid OTLP/JSON request of the expected signal.
#[derive(Debug, thiserror::Error)]
#[error("invalid OTLP/JSON {signal}: {reason}")]
pub struct JsonError {
    signal: &'static str,
    // Private, so that serde_json's type is not part of this crate's API.
    reason: Reason,
}

#[derive(Debug, thiserror::Error)]
enum Reason {
    #[error("{0}")]
    Syntax(serde_json::Error),
    #[error("`{field}` must be {expected}")]
    Field {
        field: &'static str,
        expected: &'static str,
    },
}

impl Reason {
    fn field(field: &'static str, expected: &'static str) -> Reason {
        Reason::Field { field, expected }
    }
}

/// Parses the body and hands its top-level object to `read`.
fn parse<T>(
    signal: &'static str,
    bytes: &[u8],
    read: fn(read::Object) -> read::Result<T>,
) -> Result<T, JsonError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| JsonError {
        signal,
        reason: Reason::Syntax(e),
    })?;
    read::object(value, "the request")
        .and_then(read)
        .map_err(|reason| JsonError { signal, reason })
}

/// Parses an OTLP/JSON logs request.
pub fn logs_request_from_json(bytes: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    parse("logs", bytes, logs::read_request)
}

/// Writes a logs request as OTLP/JSON.
pub fn logs_request_to_json(request: &ExportLogsServiceRequest) -> Vec<u8> {
    logs::write_request(request).to_string().into_bytes()
}

/// Decodes an OTLP/JSON logs request into log records, in order; see
/// [`logs_from_request`](crate::logs_from_request).
pub fn decode_logs_json(bytes: &[u8]) -> Result<Vec<LogRecord>, JsonError> {
    logs_request_from_json(bytes).map(logs_from_request)
}

/// Encodes log records as an OTLP/JSON logs request; see
/// [`logs_to_request`](crate::logs_to_request).
pub fn encode_logs_json(records: &[LogRecord]) -> Vec<u8> {
    logs_request_to_json(&logs_to_request(records))
}

/// Parses an OTLP/JSON traces request.
pub fn traces_request_from_json(bytes: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    parse("traces", bytes, traces::read_request)
}

/// Writes a traces request as OTLP/JSON.
pub fn traces_request_to_json(request: &ExportTraceServiceRequest) -> Vec<u8> {
    traces::write_request(request).to_string().into_bytes()
}

/// Decodes an OTLP/JSON traces request into spans, in order.
pub fn decode_traces_json(bytes: &[u8]) -> Result<Vec<Span>, JsonError> {
    traces_request_from_json(bytes).map(spans_from_request)
}

/// Encodes spans as an OTLP/JSON traces request.
pub fn encode_traces_json(spans: &[Span]) -> Vec<u8> {
    traces_request_to_json(&spans_to_request(spans))
}

/// Parses an OTLP/JSON metrics request.
pub fn metrics_request_from_json(bytes: &[u8]) -> Result<ExportMetricsServiceRequest, JsonError> {
    parse("metrics", bytes, metrics::read_request)
}

/// Writes a metrics request as OTLP/JSON.
pub fn metrics_request_to_json(request: &ExportMetricsServiceRequest) -> Vec<u8> {
    metrics::write_request(request).to_string().into_bytes()
}

/// Decodes an OTLP/JSON metrics request into one [`Metric`] per data
/// point, in order.
pub fn decode_metrics_json(bytes: &[u8]) -> Result<Vec<Metric>, JsonError> {
    metrics_request_from_json(bytes).map(metrics_from_request)
}

/// Encodes metric points as an OTLP/JSON metrics request.
pub fn encode_metrics_json(metrics: &[Metric]) -> Vec<u8> {
    metrics_request_to_json(&metrics_to_request(metrics))
}
