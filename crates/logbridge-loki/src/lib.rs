//! Codecs for Loki's push API: the protobuf body (a snappy-compressed
//! `logproto.PushRequest`) and the JSON body of `/loki/api/v1/push`, to
//! and from logbridge logs.
//!
//! - [`decode_push_protobuf`] and [`decode_push_json`], for a source that
//!   receives what Promtail, Grafana Alloy or Loki clients push; the
//!   mapping between Loki's model and [`logbridge_event::LogRecord`] is
//!   documented in [`decode`].
//! - [`encode_push_protobuf`] and [`encode_push_json`], for a sink: they
//!   group records into streams by a caller-supplied label function and
//!   sort each stream by time (see [`encode`]).
//! - [`LabelSet`]: a stream's labels and their text form.
//!
//! Pure code: no I/O, no clock, no async. Transport, retries and batching
//! belong to the sources and sinks built on it. No input can make it
//! panic; bad input is an [`Error`].

/// The `bytes` crate, whose `Bytes` this crate's API takes and returns.
pub use bytes;

pub mod decode;
pub mod encode;
mod error;
mod json;
pub mod labels;
pub mod proto;

#[cfg(test)]
mod tests;

pub use decode::{decode_push_json, decode_push_protobuf, decode_push_request};
pub use encode::{
    Entry, Stream, StructuredMetadata, encode_push_json, encode_push_protobuf, encode_streams_json,
    encode_streams_protobuf, group_streams, push_request, resource_labels,
};
pub use error::Error;
pub use labels::{LabelError, LabelSet, is_valid_label_name, sanitize_label_name};

/// Where both ends of the push API meet.
pub const PUSH_PATH: &str = "/loki/api/v1/push";

/// The header naming the tenant a push belongs to.
pub const TENANT_HEADER: &str = "x-scope-orgid";
