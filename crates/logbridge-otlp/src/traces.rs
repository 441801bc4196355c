//! OTLP traces: `ExportTraceServiceRequest` (or `TracesData`) to logbridge
//! [`Span`]s and back, as decoded messages or as protobuf bytes.
//!
//! Field by field, like the logs (see `logs.rs`): one `Arc` per resource
//! and per scope, shared by their spans. What the model cannot tell apart
//! is settled as follows (only input that breaks the spec is affected):
//! - a span's or link's trace and span ids are required, so an id of the
//!   wrong length decodes as all zeroes (the invalid id) and encodes back
//!   as zeroes of the right length; a parent span id is optional, and an
//!   empty, all-zero or wrong-length one means "no parent";
//! - a kind or status code outside the enum decodes as unspecified/unset;
//! - an absent status and an empty one (unset, no message) are the same,
//!   and encode as absent.

use std::sync::Arc;

use logbridge_event::{
    KeyString, Resource, Scope, Span, SpanEvent, SpanId, SpanKind, SpanLink, SpanStatus,
    StatusCode, TraceId,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1 as proto;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind as ProtoKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as ProtoCode;
use prost::Message;

use crate::common::{
    decode_resource, decode_scope, encode_resource, encode_scope, nanos_from_wire, nanos_to_wire,
    same_group, span_id_from_wire, span_id_to_wire,
};
use crate::error::DecodeError;
use crate::value::{from_key_values, to_key_values};

/// Decodes an OTLP `ExportTraceServiceRequest` (or a `TracesData`, which
/// is the same on the wire) into spans, in order.
///
/// Allocates in proportion to `bytes.len()` (see the crate docs): cap the
/// size before calling.
pub fn decode_traces(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let request =
        ExportTraceServiceRequest::decode(bytes).map_err(|e| DecodeError::new("traces", e))?;
    Ok(spans_from_request(request))
}

/// The spans of a decoded request, in order.
pub fn spans_from_request(request: ExportTraceServiceRequest) -> Vec<Span> {
    let count = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    let mut out = Vec::with_capacity(count);
    for resource_spans in request.resource_spans {
        let resource = decode_resource(resource_spans.resource, resource_spans.schema_url);
        for scope_spans in resource_spans.scope_spans {
            let scope = decode_scope(scope_spans.scope, scope_spans.schema_url);
            for span in scope_spans.spans {
                out.push(decode_span(span, &resource, &scope));
            }
        }
    }
    out
}

fn decode_span(
    span: proto::Span,
    resource: &Option<Arc<Resource>>,
    scope: &Option<Arc<Scope>>,
) -> Span {
    let status = span.status.unwrap_or_default();
    Span {
        trace_id: required_trace_id(&span.trace_id),
        span_id: required_span_id(&span.span_id),
        parent_span_id: span_id_from_wire(&span.parent_span_id),
        trace_state: span.trace_state,
        flags: span.flags,
        name: KeyString::from(span.name),
        kind: decode_kind(span.kind),
        start_time_unix_nano: nanos_from_wire(span.start_time_unix_nano),
        end_time_unix_nano: nanos_from_wire(span.end_time_unix_nano),
        attributes: from_key_values(span.attributes),
        dropped_attributes_count: span.dropped_attributes_count,
        events: span.events.into_iter().map(decode_event).collect(),
        dropped_events_count: span.dropped_events_count,
        links: span.links.into_iter().map(decode_link).collect(),
        dropped_links_count: span.dropped_links_count,
        status: SpanStatus {
            code: decode_code(status.code),
            message: status.message,
        },
        resource: resource.clone(),
        scope: scope.clone(),
    }
}

/// A required id: a wrong length is the invalid (all-zero) id.
fn required_trace_id(bytes: &[u8]) -> TraceId {
    <[u8; 16]>::try_from(bytes).map(TraceId).unwrap_or_default()
}

fn required_span_id(bytes: &[u8]) -> SpanId {
    <[u8; 8]>::try_from(bytes).map(SpanId).unwrap_or_default()
}

fn decode_kind(kind: i32) -> SpanKind {
    match ProtoKind::try_from(kind) {
        Ok(ProtoKind::Internal) => SpanKind::Internal,
        Ok(ProtoKind::Server) => SpanKind::Server,
        Ok(ProtoKind::Client) => SpanKind::Client,
        Ok(ProtoKind::Producer) => SpanKind::Producer,
        Ok(ProtoKind::Consumer) => SpanKind::Consumer,
        Ok(ProtoKind::Unspecified) | Err(_) => SpanKind::Unspecified,
    }
}

fn encode_kind(kind: SpanKind) -> i32 {
    let kind = match kind {
        SpanKind::Unspecified => ProtoKind::Unspecified,
        SpanKind::Internal => ProtoKind::Internal,
        SpanKind::Server => ProtoKind::Server,
        SpanKind::Client => ProtoKind::Client,
        SpanKind::Producer => ProtoKind::Producer,
        SpanKind::Consumer => ProtoKind::Consumer,
    };
    kind.into()
}

fn decode_code(code: i32) -> StatusCode {
    match ProtoCode::try_from(code) {
        Ok(ProtoCode::Ok) => StatusCode::Ok,
        Ok(ProtoCode::Error) => StatusCode::Error,
        Ok(ProtoCode::Unset) | Err(_) => StatusCode::Unset,
    }
}

fn encode_code(code: StatusCode) -> i32 {
    let code = match code {
        StatusCode::Unset => ProtoCode::Unset,
        StatusCode::Ok => ProtoCode::Ok,
        StatusCode::Error => ProtoCode::Error,
    };
    code.into()
}

fn decode_event(event: proto::span::Event) -> SpanEvent {
    SpanEvent {
        time_unix_nano: nanos_from_wire(event.time_unix_nano),
        name: KeyString::from(event.name),
        attributes: from_key_values(event.attributes),
        dropped_attributes_count: event.dropped_attributes_count,
    }
}

fn decode_link(link: proto::span::Link) -> SpanLink {
    SpanLink {
        trace_id: required_trace_id(&link.trace_id),
        span_id: required_span_id(&link.span_id),
        trace_state: link.trace_state,
        attributes: from_key_values(link.attributes),
        dropped_attributes_count: link.dropped_attributes_count,
        flags: link.flags,
    }
}

/// Encodes spans as an OTLP `ExportTraceServiceRequest` (which is also a
/// valid `TracesData`). See [`spans_to_request`].
pub fn encode_traces(spans: &[Span]) -> Vec<u8> {
    spans_to_request(spans).encode_to_vec()
}

/// Builds the request for spans.
///
/// Consecutive spans that share a resource (the same `Arc`, equal values,
/// or both none) go into one `ResourceSpans`, and within it consecutive
/// spans that share a scope into one `ScopeSpans`; spans are never
/// reordered. Everything [`decode_traces`] produces round-trips exactly;
/// a `Value::Timestamp` attribute becomes an integer and negative times
/// become 0, as for logs.
pub fn spans_to_request(spans: &[Span]) -> ExportTraceServiceRequest {
    let resource_spans = spans
        .chunk_by(|a, b| same_group(&a.resource, &b.resource))
        .map(|by_resource| {
            let (resource, schema_url) = encode_resource(&by_resource[0].resource);
            let scope_spans = by_resource
                .chunk_by(|a, b| same_group(&a.scope, &b.scope))
                .map(|by_scope| {
                    let (scope, schema_url) = encode_scope(&by_scope[0].scope);
                    proto::ScopeSpans {
                        scope,
                        spans: by_scope.iter().map(encode_span).collect(),
                        schema_url,
                    }
                })
                .collect();
            proto::ResourceSpans {
                resource,
                scope_spans,
                schema_url,
            }
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn encode_span(span: &Span) -> proto::Span {
    let status = &span.status;
    proto::Span {
        trace_id: span.trace_id.0.to_vec(),
        span_id: span.span_id.0.to_vec(),
        trace_state: span.trace_state.clone(),
        parent_span_id: span_id_to_wire(span.parent_span_id),
        flags: span.flags,
        name: span.name.as_str().to_owned(),
        kind: encode_kind(span.kind),
        start_time_unix_nano: nanos_to_wire(span.start_time_unix_nano),
        end_time_unix_nano: nanos_to_wire(span.end_time_unix_nano),
        attributes: to_key_values(&span.attributes),
        dropped_attributes_count: span.dropped_attributes_count,
        events: span.events.iter().map(encode_event).collect(),
        dropped_events_count: span.dropped_events_count,
        links: span.links.iter().map(encode_link).collect(),
        dropped_links_count: span.dropped_links_count,
        status: (*status != SpanStatus::default()).then(|| proto::Status {
            message: status.message.clone(),
            code: encode_code(status.code),
        }),
    }
}

fn encode_event(event: &SpanEvent) -> proto::span::Event {
    proto::span::Event {
        time_unix_nano: nanos_to_wire(event.time_unix_nano),
        name: event.name.as_str().to_owned(),
        attributes: to_key_values(&event.attributes),
        dropped_attributes_count: event.dropped_attributes_count,
    }
}

fn encode_link(link: &SpanLink) -> proto::span::Link {
    proto::span::Link {
        trace_id: link.trace_id.0.to_vec(),
        span_id: link.span_id.0.to_vec(),
        trace_state: link.trace_state.clone(),
        attributes: to_key_values(&link.attributes),
        dropped_attributes_count: link.dropped_attributes_count,
        flags: link.flags,
    }
}
