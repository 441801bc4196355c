//! Conversions between OpenTelemetry's protocol (OTLP) and logbridge
//! events, for all three signals, in both of OTLP's encodings.
//!
//! Owns the mapping between the generated OTLP message types
//! (`opentelemetry-proto`) and [`logbridge_event`]'s model, and OTLP/JSON;
//! does no I/O, so sources and sinks bring their own transport (gRPC,
//! HTTP, files). Per signal, four functions (logs shown; traces and
//! metrics are alike):
//!
//! | from | to | function |
//! | --- | --- | --- |
//! | protobuf bytes | events | [`decode_logs`], [`decode_traces`], [`decode_metrics`] |
//! | events | protobuf bytes | [`encode_logs`], [`encode_traces`], [`encode_metrics`] |
//! | decoded request (gRPC) | events | [`logs_from_request`], [`spans_from_request`], [`metrics_from_request`] |
//! | events | request | [`logs_to_request`], [`spans_to_request`], [`metrics_to_request`] |
//! | OTLP/JSON bytes | events | [`decode_logs_json`], [`decode_traces_json`], [`decode_metrics_json`] |
//! | events | OTLP/JSON bytes | [`encode_logs_json`], [`encode_traces_json`], [`encode_metrics_json`] |
//!
//! plus the request-level JSON functions (`*_request_from_json`,
//! `*_request_to_json`) for a server that wants the request itself.
//!
//! Everything a decoder produces encodes back to equal events, and a
//! well-formed request (no empty containers, no two consecutive resources,
//! scopes or metrics that are the same, key-value lists in key order)
//! encodes back to an equal request. Each signal's module lists how input
//! outside the spec is settled.
//!
//! # What logbridge's model does not hold
//!
//! - The order of key-value lists (attributes, `kvlistValue`s): logbridge
//!   keeps them as maps sorted by key, so they come out in key order, and
//!   of duplicate keys the last one wins. OTLP defines them as maps, so
//!   no meaning is lost, but the bytes differ from an unsorted sender's.
//! - `bytesValue` versus `stringValue`: both are a logbridge string, and a
//!   string goes out as `stringValue` when it is valid UTF-8, so bytes that
//!   happen to be UTF-8 come back as a string.
//! - An absent `KeyValue.value` or log body versus an empty `AnyValue`:
//!   both are null; attributes go out with the empty `AnyValue`.
//! - `string_value_strindex` (profiles only; other signals treat it as
//!   absent): decodes as null.
//! - A resource's `entity_refs`, a metric's `metadata`, and a metric with
//!   no data or no data points (see `metrics.rs`).
//! - Times after 2262 (saturate) and before 1970 (go out as 0).
//!
//! The reverse also happens: some events have no exact OTLP form (a gauge
//! or summary with delta temporality, a summary with exemplars, a kind
//! that does not match the value); `metrics.rs` says how they go out.
//!
//! # Limits
//!
//! Decoding is bounded in depth, not in size:
//! - prost refuses messages nested deeper than 100 levels, so a hostile
//!   payload cannot overflow the stack (each level of a nested body or
//!   attribute value costs two: `AnyValue` and `ArrayValue`/`KeyValueList`);
//!   serde_json likewise refuses JSON nested deeper than 128 levels;
//! - both allocate in proportion to the input, with a large constant: an
//!   empty log record is two bytes on the wire and a few hundred in memory.
//!   Capping the size of a request (and of its decompressed form) is the
//!   caller's job, before calling a decoder.
//!
//! Values nested deeper than prost's limit (48 levels of arrays or objects
//! in an attribute or body) encode, but will not decode.

mod common;
mod error;
mod json;
mod logs;
mod metrics;
mod signal;
mod traces;
mod value;

#[cfg(test)]
mod tests;

pub use error::DecodeError;
pub use json::{
    JsonError, decode_logs_json, decode_metrics_json, decode_traces_json, encode_logs_json,
    encode_metrics_json, encode_traces_json, logs_request_from_json, logs_request_to_json,
    metrics_request_from_json, metrics_request_to_json, traces_request_from_json,
    traces_request_to_json,
};
pub use logs::{decode_logs, encode_logs, logs_from_request, logs_to_request};
pub use metrics::{
    decode_metrics, encode_metrics, metrics_from_request, metrics_point_copies, metrics_to_request,
};
/// The request types the request-level functions take and give, so that a
/// caller need not name `opentelemetry-proto`'s module paths (nor risk
/// another version of them).
pub use opentelemetry_proto::tonic::collector::{
    logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    trace::v1::ExportTraceServiceRequest,
};
pub use signal::{Signal, decode_any};
pub use traces::{decode_traces, encode_traces, spans_from_request, spans_to_request};
