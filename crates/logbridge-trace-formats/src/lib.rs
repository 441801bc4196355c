//! Decoders from the trace formats of Jaeger and Zipkin into logbridge's
//! span model ([`logbridge_event::Span`]), mapped the way OpenTelemetry
//! maps them.
//!
//! - [`jaeger`]: Jaeger Thrift, compact protocol (agent UDP `emitBatch`)
//!   and binary protocol (HTTP `/api/traces` body).
//! - [`zipkin`]: Zipkin v2 JSON.
//!
//! Pure functions from bytes to spans: no I/O, no clock, no runtime. Each
//! takes the whole payload; sources bring the transport, and cap the size
//! of what they accept (decoding allocates in proportion to the input).
//! No input makes a decoder panic: malformed payloads come back as an
//! [`Error`].

mod common;
mod error;
pub mod jaeger;
mod thrift;
pub mod zipkin;

/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) the `_bytes` entry
/// points take.
pub use bytes;
pub use error::Error;
pub use jaeger::{
    decode_batch_binary, decode_batch_compact, decode_emit_batch_binary, decode_emit_batch_compact,
};
pub use zipkin::decode_spans_json;
