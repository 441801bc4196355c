//! Conversions between OpenTelemetry's protocol (OTLP, protobuf encoding)
//! and logbridge events.
//!
//! Owns the mapping between the generated OTLP message types
//! (`opentelemetry-proto`) and [`logbridge_event`]'s model; does no I/O, so
//! sources and sinks bring their own transport (gRPC, HTTP, files).
//!
//! Logs only for now: [`decode_logs`] and its inverse [`encode_logs`].
//!
//! # Limits
//!
//! Decoding is bounded in depth, not in size:
//! - prost refuses messages nested deeper than 100 levels, so a hostile
//!   payload cannot overflow the stack (each level of a nested body or
//!   attribute value costs two: `AnyValue` and `ArrayValue`/`KeyValueList`);
//! - prost allocates in proportion to the input, with a large constant: an
//!   empty log record is two bytes on the wire and a few hundred in memory.
//!   Capping the size of a request (and of its decompressed form) is the
//!   caller's job, before calling [`decode_logs`].

mod logs;
mod value;

#[cfg(test)]
mod tests;

pub use logs::{DecodeError, decode_logs, encode_logs};
