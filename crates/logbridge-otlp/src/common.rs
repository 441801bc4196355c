//! What the three signals share: resources and scopes (one `Arc` per
//! `Resource*`/`Scope*` message), times, trace and span ids, and how
//! consecutive events are grouped back under one resource or scope.

use std::sync::Arc;

use logbridge_event::{Resource, Scope, SpanId, TraceId};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;

use crate::value::{from_key_values, to_key_values};

/// `None` only when the sender sent neither a resource nor a schema URL,
/// so that encoding gives back exactly what was decoded.
pub(crate) fn decode_resource(
    resource: Option<ProtoResource>,
    schema_url: String,
) -> Option<Arc<Resource>> {
    if resource.is_none() && schema_url.is_empty() {
        return None;
    }
    let resource = resource.unwrap_or_default();
    Some(Arc::new(Resource {
        attributes: from_key_values(resource.attributes),
        dropped_attributes_count: resource.dropped_attributes_count,
        schema_url,
    }))
}

/// Like [`decode_resource`].
pub(crate) fn decode_scope(
    scope: Option<InstrumentationScope>,
    schema_url: String,
) -> Option<Arc<Scope>> {
    if scope.is_none() && schema_url.is_empty() {
        return None;
    }
    let scope = scope.unwrap_or_default();
    Some(Arc::new(Scope {
        name: scope.name,
        version: scope.version,
        attributes: from_key_values(scope.attributes),
        dropped_attributes_count: scope.dropped_attributes_count,
        schema_url,
    }))
}

/// The resource message and the schema URL of its `Resource*` message.
pub(crate) fn encode_resource(resource: &Option<Arc<Resource>>) -> (Option<ProtoResource>, String) {
    let Some(resource) = resource else {
        return (None, String::new());
    };
    let proto = ProtoResource {
        attributes: to_key_values(&resource.attributes),
        dropped_attributes_count: resource.dropped_attributes_count,
        // Not in logbridge's model (see the crate docs).
        entity_refs: Vec::new(),
    };
    (Some(proto), resource.schema_url.clone())
}

/// The scope message and the schema URL of its `Scope*` message.
pub(crate) fn encode_scope(scope: &Option<Arc<Scope>>) -> (Option<InstrumentationScope>, String) {
    let Some(scope) = scope else {
        return (None, String::new());
    };
    let proto = InstrumentationScope {
        name: scope.name.clone(),
        version: scope.version.clone(),
        attributes: to_key_values(&scope.attributes),
        dropped_attributes_count: scope.dropped_attributes_count,
    };
    (Some(proto), scope.schema_url.clone())
}

/// Whether two events belong under one `Resource*` (or `Scope*`) message:
/// the same `Arc` (O(1), and what decoding produces), both none, or equal
/// values behind different `Arc`s. Equality matters for events that were
/// built one by one (each with its own `Arc`): they still share one
/// message instead of repeating the resource per event. Decoding then
/// gives them one `Arc`, which compares equal to what they had.
pub(crate) fn same_group<T: PartialEq>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        _ => false,
    }
}

/// OTLP times are unsigned; logbridge's are `i64` (good until 2262). Later
/// times saturate rather than wrap to before 1970.
pub(crate) fn nanos_from_wire(nanos: u64) -> i64 {
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// Negative times (before 1970) cannot be sent; 0 means "unknown" in OTLP.
pub(crate) fn nanos_to_wire(nanos: i64) -> u64 {
    u64::try_from(nanos).unwrap_or(0)
}

/// An optional trace id: OTLP allows it to be absent (empty) and says the
/// all-zero id is invalid; a wrong length is a broken sender. All three
/// mean "no id".
pub(crate) fn trace_id_from_wire(bytes: &[u8]) -> Option<TraceId> {
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(TraceId)
        .filter(|id| id.is_valid())
}

/// Like [`trace_id_from_wire`].
pub(crate) fn span_id_from_wire(bytes: &[u8]) -> Option<SpanId> {
    <[u8; 8]>::try_from(bytes)
        .ok()
        .map(SpanId)
        .filter(|id| id.is_valid())
}

/// An absent id is the empty byte string.
pub(crate) fn trace_id_to_wire(id: Option<TraceId>) -> Vec<u8> {
    id.map(|t| t.0.to_vec()).unwrap_or_default()
}

/// Like [`trace_id_to_wire`].
pub(crate) fn span_id_to_wire(id: Option<SpanId>) -> Vec<u8> {
    id.map(|s| s.0.to_vec()).unwrap_or_default()
}
