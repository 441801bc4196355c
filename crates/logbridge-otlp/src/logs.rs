//! OTLP logs: `ExportLogsServiceRequest` (or `LogsData`) bytes to
//! logbridge [`LogRecord`]s and back.
//!
//! The mapping is field by field. The resource and scope of one
//! `ResourceLogs` / `ScopeLogs` become one `Arc` shared by its records, so
//! a request of a thousand records from one service allocates its resource
//! once. The body stays the body: in logbridge `.message` *is* the body, of
//! whatever type it has, so nothing is stringified or moved.
//!
//! Not carried (logbridge's model has no place for them yet): a log
//! record's `event_name` and a resource's `entity_refs`.

use std::sync::Arc;

use logbridge_event::{KeyString, LogRecord, Resource, Scope, SpanId, TraceId};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::logs::v1 as proto;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use prost::Message;

use crate::value::{from_any, from_key_values, to_any, to_key_values};

/// The input is not a valid OTLP logs message.
#[derive(Debug, thiserror::Error)]
#[error("invalid OTLP logs protobuf: {reason}")]
pub struct DecodeError {
    // Private, so that prost's type is not part of this crate's API.
    reason: prost::DecodeError,
}

/// Decodes an OTLP `ExportLogsServiceRequest` into log records, in order.
///
/// Also decodes a bare `LogsData` (what the OTLP file exporter writes):
/// both messages are `repeated ResourceLogs resource_logs = 1;` and
/// nothing else, so they are the same on the wire and one decoder reads
/// both.
///
/// Allocates in proportion to `bytes.len()` (see the crate docs): cap the
/// size before calling.
pub fn decode_logs(bytes: &[u8]) -> Result<Vec<LogRecord>, DecodeError> {
    let request =
        ExportLogsServiceRequest::decode(bytes).map_err(|reason| DecodeError { reason })?;
    let count = request
        .resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| sl.log_records.len())
        .sum();
    let mut out = Vec::with_capacity(count);
    for resource_logs in request.resource_logs {
        let resource = decode_resource(resource_logs.resource, resource_logs.schema_url);
        for scope_logs in resource_logs.scope_logs {
            let scope = decode_scope(scope_logs.scope, scope_logs.schema_url);
            for record in scope_logs.log_records {
                out.push(decode_record(record, &resource, &scope));
            }
        }
    }
    Ok(out)
}

/// `None` only when the sender sent neither a resource nor a schema URL,
/// so that encoding gives back exactly what was decoded.
fn decode_resource(resource: Option<ProtoResource>, schema_url: String) -> Option<Arc<Resource>> {
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

fn decode_scope(scope: Option<InstrumentationScope>, schema_url: String) -> Option<Arc<Scope>> {
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

fn decode_record(
    record: proto::LogRecord,
    resource: &Option<Arc<Resource>>,
    scope: &Option<Arc<Scope>>,
) -> LogRecord {
    LogRecord {
        time_unix_nano: nanos_from_wire(record.time_unix_nano),
        observed_time_unix_nano: nanos_from_wire(record.observed_time_unix_nano),
        severity_number: record.severity_number,
        severity_text: (!record.severity_text.is_empty())
            .then(|| KeyString::from(record.severity_text)),
        body: record.body.map(from_any).unwrap_or_default(),
        attributes: from_key_values(record.attributes),
        dropped_attributes_count: record.dropped_attributes_count,
        // OTLP allows ids to be absent (empty) and says all-zero ids are
        // invalid; a wrong length is a broken sender. All three mean "no id".
        trace_id: <[u8; 16]>::try_from(record.trace_id.as_slice())
            .ok()
            .map(TraceId)
            .filter(|id| id.is_valid()),
        span_id: <[u8; 8]>::try_from(record.span_id.as_slice())
            .ok()
            .map(SpanId)
            .filter(|id| id.is_valid()),
        flags: record.flags,
        resource: resource.clone(),
        scope: scope.clone(),
        // The rest is what a source knew beyond OpenTelemetry's fields
        // (`metadata`): an OTLP request carries none.
        ..LogRecord::default()
    }
}

/// OTLP times are unsigned; logbridge's are `i64` (good until 2262). Later
/// times saturate rather than wrap to before 1970.
fn nanos_from_wire(nanos: u64) -> i64 {
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// Negative times (before 1970) cannot be sent; 0 means "unknown" in OTLP.
fn nanos_to_wire(nanos: i64) -> u64 {
    u64::try_from(nanos).unwrap_or(0)
}

/// Encodes log records as an OTLP `ExportLogsServiceRequest` (which is also
/// a valid `LogsData`).
///
/// Consecutive records that share a resource (the same `Arc`, or both
/// none) go into one `ResourceLogs`, and within it consecutive records that
/// share a scope into one `ScopeLogs`; records are never reordered. For
/// records from [`decode_logs`] that rebuilds the original grouping.
///
/// Everything [`decode_logs`] produces round-trips exactly. A record's
/// source `metadata` is not written (like every encoder, see
/// [`LogRecord::metadata`]); otherwise two things change: a `Value::Timestamp` becomes an integer of nanoseconds (OTLP has no
/// timestamp value), and negative times become 0. Values nested deeper than
/// prost's recursion limit allows (48 levels of arrays or objects in a body) encode, but
/// will not decode.
pub fn encode_logs(records: &[LogRecord]) -> Vec<u8> {
    let mut request = ExportLogsServiceRequest::default();
    for by_resource in records.chunk_by(|a, b| same(&a.resource, &b.resource)) {
        let first = &by_resource[0];
        let (resource, schema_url) = encode_resource(&first.resource);
        let scope_logs = by_resource
            .chunk_by(|a, b| same(&a.scope, &b.scope))
            .map(|by_scope| {
                let (scope, schema_url) = encode_scope(&by_scope[0].scope);
                proto::ScopeLogs {
                    scope,
                    log_records: by_scope.iter().map(encode_record).collect(),
                    schema_url,
                }
            })
            .collect();
        request.resource_logs.push(proto::ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        });
    }
    request.encode_to_vec()
}

/// Sharing, not equality: comparing by pointer is O(1), and records that
/// came from one `ResourceLogs` share the pointer.
fn same<T>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

fn encode_resource(resource: &Option<Arc<Resource>>) -> (Option<ProtoResource>, String) {
    let Some(resource) = resource else {
        return (None, String::new());
    };
    let proto = ProtoResource {
        attributes: to_key_values(&resource.attributes),
        dropped_attributes_count: resource.dropped_attributes_count,
        ..ProtoResource::default()
    };
    (Some(proto), resource.schema_url.clone())
}

fn encode_scope(scope: &Option<Arc<Scope>>) -> (Option<InstrumentationScope>, String) {
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

fn encode_record(record: &LogRecord) -> proto::LogRecord {
    proto::LogRecord {
        time_unix_nano: nanos_to_wire(record.time_unix_nano),
        observed_time_unix_nano: nanos_to_wire(record.observed_time_unix_nano),
        severity_number: record.severity_number,
        severity_text: record
            .severity_text
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        body: (!record.body.is_null()).then(|| to_any(&record.body)),
        attributes: to_key_values(&record.attributes),
        dropped_attributes_count: record.dropped_attributes_count,
        flags: record.flags,
        trace_id: record.trace_id.map(|t| t.0.to_vec()).unwrap_or_default(),
        span_id: record.span_id.map(|s| s.0.to_vec()).unwrap_or_default(),
        event_name: String::new(),
    }
}
