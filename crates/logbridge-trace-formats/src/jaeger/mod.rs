//! Jaeger Thrift: what jaeger clients send, decoded into logbridge spans.
//!
//! Two transports, two Thrift protocols, one IDL (`jaeger.thrift`):
//! - UDP (agent port 6831): a compact-protocol message calling the oneway
//!   `Agent.emitBatch(1: Batch batch)` → [`decode_emit_batch_compact`].
//!   Port 6832 carries the same call in the binary protocol →
//!   [`decode_emit_batch_binary`].
//! - HTTP `POST /api/traces` (`Content-Type: application/x-thrift`): a bare
//!   binary-protocol `Batch` struct → [`decode_batch_binary`]. A bare
//!   compact `Batch` → [`decode_batch_compact`].
//!
//! The `_bytes` variants take the payload as [`Bytes`] and hand out string
//! values as slices of it, without a copy; the `&[u8]` ones copy the
//! payload once and do the same.
//!
//! # Why the Thrift readers are hand-written
//!
//! This is the hot path of trace ingestion and it must be fast. A
//! generated decoder would first build Jaeger's own structs (a `String` or
//! `Vec` per tag) and then convert them; reading the wire straight into
//! [`Span`]s skips that whole layer: string values become slices of the
//! payload, keys are stored inline (and looked up in a per-payload cache,
//! as every span repeats them), and each protocol gets its own
//! monomorphized, fully inlined copy of the struct readers. Tags, most of
//! any payload, are first matched against the layout every client writes
//! them in, and only go through the general field loop when that fails.
//! Errors are zero-sized on the way up (the details wait in the reader),
//! so every read returns in registers. Being ours, the
//! readers also bound what hostile input can cost: every length is checked
//! against the bytes left before anything is allocated, and nesting is
//! limited.
//!
//! # Mapping to OpenTelemetry
//!
//! The rules follow the OpenTelemetry Collector's Jaeger receiver:
//! - **Resource**: one per batch, shared by all its spans: the process's
//!   service name as `service.name`, then its tags as attributes (a tag of
//!   the same key wins). `hostname` is renamed `host.name`, and
//!   `jaeger.version` becomes `opencensus.exporterversion` =
//!   `Jaeger-<version>`, unless those keys are set already.
//! - **Ids**: `traceIdHigh` and `traceIdLow` are the big-endian halves of
//!   the 16-byte trace id (a 64-bit id has a zero high half, so it comes out
//!   left-padded with zeroes); span ids are the big-endian bytes.
//! - **Parent**: `parentSpanId` when not zero; else the first CHILD_OF
//!   reference in the same trace; else the first other reference in it.
//! - **Links**: every reference except the CHILD_OF one naming the parent,
//!   with its type as attribute `opentracing.ref_type` (`child_of` or
//!   `follows_from`).
//! - **Times**: microseconds become nanoseconds; the end is start plus
//!   duration.
//! - **Attributes**: tags keep their type (string, double, bool, long,
//!   binary; strings and binaries are both [`Value::Bytes`] here).
//! - **Kind**: the `span.kind` tag (`client`, `server`, `producer`,
//!   `consumer`, `internal`), which is then removed.
//! - **Status**: a boolean `error=true` tag means Error (removed), with the
//!   message from `otel.status_description` (removed) or else
//!   `http.status_message`. Otherwise `otel.status_code` (`OK`/`ERROR`,
//!   any case, always removed) with `otel.status_description` (removed).
//!   Otherwise `http.status_code`: 5xx is an Error, and 4xx too unless the
//!   span is a server's.
//! - **Events**: each log is an event at its timestamp; its `event` field
//!   names it (and is removed), the other fields are its attributes.
//! - **Flags**: Jaeger's sampled or debug bit sets the W3C sampled bit
//!   (the collector leaves flags unset; keeping the sampling decision is
//!   free).
//! - A span whose fields are all zero or empty is dropped, as the collector
//!   does.
//!
//! Unknown fields (such as `Batch.seqNo` and `Batch.stats`, or
//! `Span.incomplete`) are skipped; bytes after the batch are ignored, as
//! Thrift readers do.
//!
//! [`Span`]: logbridge_event::Span
//! [`Value::Bytes`]: logbridge_event::Value::Bytes

mod decode;
mod mapping;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use logbridge_event::Span;

use crate::Error;
use crate::common::Ctx;
use crate::thrift::Reader;
use crate::thrift::binary::Binary;
use crate::thrift::compact::Compact;

/// Thrift message types that may carry `emitBatch`.
const CALL: u8 = 1;
const ONEWAY: u8 = 4;

fn check_method(kind: u8, name: &[u8], protocol: &'static str) -> Result<(), Error> {
    if kind != CALL && kind != ONEWAY {
        return Err(Error::MessageHeader {
            protocol,
            reason: "not a call",
        });
    }
    if name != b"emitBatch" {
        // Bounded: the name comes from the input.
        let name = String::from_utf8_lossy(name).chars().take(64).collect();
        return Err(Error::Method { name });
    }
    Ok(())
}

/// Decodes an `Agent.emitBatch` call in the compact protocol, as jaeger
/// clients send it over UDP.
pub fn decode_emit_batch_compact(payload: &[u8]) -> Result<Vec<Span>, Error> {
    decode_emit_batch_compact_bytes(&Bytes::copy_from_slice(payload))
}

/// [`decode_emit_batch_compact`], with string values sliced from `payload`.
pub fn decode_emit_batch_compact_bytes(payload: &Bytes) -> Result<Vec<Span>, Error> {
    let mut r = Compact::new(payload);
    let (kind, name) = r.message_begin().map_err(|_| r.take_error())?;
    check_method(kind, name, "compact")?;
    decode::emit_batch_args(&mut r, &mut Ctx::new(payload)).map_err(|_| r.take_error())
}

/// Decodes a bare `Batch` struct in the compact protocol.
pub fn decode_batch_compact(payload: &[u8]) -> Result<Vec<Span>, Error> {
    decode_batch_compact_bytes(&Bytes::copy_from_slice(payload))
}

/// [`decode_batch_compact`], with string values sliced from `payload`.
pub fn decode_batch_compact_bytes(payload: &Bytes) -> Result<Vec<Span>, Error> {
    let mut r = Compact::new(payload);
    decode::batch(&mut r, &mut Ctx::new(payload)).map_err(|_| r.take_error())
}

/// Decodes a bare `Batch` struct in the binary protocol: the body of an
/// HTTP `POST /api/traces` with `Content-Type: application/x-thrift`.
pub fn decode_batch_binary(payload: &[u8]) -> Result<Vec<Span>, Error> {
    decode_batch_binary_bytes(&Bytes::copy_from_slice(payload))
}

/// [`decode_batch_binary`], with string values sliced from `payload`.
pub fn decode_batch_binary_bytes(payload: &Bytes) -> Result<Vec<Span>, Error> {
    let mut r = Binary::new(payload);
    decode::batch(&mut r, &mut Ctx::new(payload)).map_err(|_| r.take_error())
}

/// How many spans a bare binary-protocol `Batch` holds (at most), read
/// from its header without decoding them: for a receiver that bounds what
/// a request may build before building it.
pub fn batch_binary_span_count(payload: &[u8]) -> Result<usize, Error> {
    let mut r = Binary::new(payload);
    decode::batch_span_count(&mut r).map_err(|_| r.take_error())
}

/// Decodes an `Agent.emitBatch` call in the binary protocol (agent UDP
/// port 6832).
pub fn decode_emit_batch_binary(payload: &[u8]) -> Result<Vec<Span>, Error> {
    decode_emit_batch_binary_bytes(&Bytes::copy_from_slice(payload))
}

/// [`decode_emit_batch_binary`], with string values sliced from `payload`.
pub fn decode_emit_batch_binary_bytes(payload: &Bytes) -> Result<Vec<Span>, Error> {
    let mut r = Binary::new(payload);
    let (kind, name) = r.message_begin().map_err(|_| r.take_error())?;
    check_method(kind, name, "binary")?;
    decode::emit_batch_args(&mut r, &mut Ctx::new(payload)).map_err(|_| r.take_error())
}
