//! Zipkin v2 JSON (`POST /api/v2/spans`, `Content-Type: application/json`):
//! an array of span objects, decoded into logbridge spans.
//!
//! The reader is serde_json with hand-written visitors: each span object
//! is read straight into a [`Span`], strings without escapes are borrowed
//! from the payload (and become slices of it as values), unknown fields
//! are skipped, and a malformed id fails the body with the index of the
//! span that carried it. The body is checked to be UTF-8 once, up front,
//! which lets serde_json take each string as it is instead of validating
//! it again; keys and annotation names go through the same per-payload key
//! cache as Jaeger's. (sonic-rs, tried in place of serde_json through the
//! same visitors, saved about a quarter of the instructions: not enough to
//! justify a large `unsafe`-heavy dependency.)
//!
//! # Mapping to OpenTelemetry
//!
//! The rules follow the OpenTelemetry Collector's Zipkin receiver:
//! - **Resource**: `localEndpoint.serviceName` as `service.name`; the spans
//!   of one service share one resource. Unlike the collector, no tag is
//!   moved from the span to the resource: every tag stays an attribute.
//! - **Ids**: `traceId` is 16 or 32 hex digits (a 64-bit id is left-padded
//!   with zeroes), `id` and `parentId` are 16; either case is accepted. An
//!   all-zero trace or span id is rejected; an all-zero `parentId`, or one
//!   equal to `id`, means no parent.
//! - **Times**: `timestamp` and `duration` are microseconds; without a
//!   timestamp the span starts at zero and gets the attribute
//!   `otel.zipkin.absentField.startTime=true`.
//! - **Kind**: `CLIENT`, `SERVER`, `PRODUCER`, `CONSUMER`; otherwise a
//!   `span.kind` tag (removed) of `internal` means Internal.
//! - **Attributes**: `tags` as string attributes, then the endpoints: the
//!   local `ipv4`/`ipv6` as `net.host.ip` and `port` as `net.host.port`,
//!   the remote ones as `net.peer.ip` and `net.peer.port`, the remote
//!   `serviceName` as `peer.service`.
//! - **Status**: `otel.status_code` (`STATUS_CODE_OK`/`Ok`,
//!   `STATUS_CODE_ERROR`/`Error`) with `otel.status_description` as the
//!   message, both removed; then any `error` tag makes it Error (the tag is
//!   removed only when it is just `"true"`, since otherwise it holds the
//!   error's description). `w3c.tracestate` becomes the trace state.
//! - **Events**: each annotation is an event named by its `value`.
//! - `debug: true` sets the W3C sampled flag (in B3, debug implies
//!   sampled); `shared: true` is kept as the attribute `zipkin.shared`,
//!   since OpenTelemetry has no field for a span id shared between client
//!   and server.
//!
//! [`Span`]: logbridge_event::Span

mod json;
mod mapping;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use logbridge_event::Span;
use serde::Deserializer as _;

use crate::Error;
use crate::common::Ctx;
use json::{SpansVisitor, State};

/// Decodes a Zipkin v2 JSON array of spans.
pub fn decode_spans_json(payload: &[u8]) -> Result<Vec<Span>, Error> {
    decode_spans_json_bytes(&Bytes::copy_from_slice(payload))
}

/// [`decode_spans_json`], with string values sliced from `payload`.
pub fn decode_spans_json_bytes(payload: &Bytes) -> Result<Vec<Span>, Error> {
    // Validating the whole body at once lets serde_json take every string
    // as it is, rather than validating each one on its own.
    let text = std::str::from_utf8(payload).map_err(|e| Error::Utf8 {
        at: e.valid_up_to(),
    })?;
    let mut state = State {
        cx: Ctx::new(payload),
        resources: Default::default(),
        index: 0,
        in_span: false,
        error: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let spans = match (&mut de).deserialize_seq(SpansVisitor { state: &mut state }) {
        Ok(spans) => spans,
        Err(source) => {
            return Err(state.error.take().unwrap_or(Error::Json {
                index: state.in_span.then_some(state.index),
                source,
            }));
        }
    };
    de.end().map_err(|source| Error::Json {
        index: None,
        source,
    })?;
    Ok(spans)
}
