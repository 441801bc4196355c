//! OTLP logs: `ExportLogsServiceRequest` (or `LogsData`) to logbridge
//! [`LogRecord`]s and back, as decoded messages or as protobuf bytes.
//!
//! The mapping is field by field. The resource and scope of one
//! `ResourceLogs` / `ScopeLogs` become one `Arc` shared by its records, so
//! a request of a thousand records from one service allocates its resource
//! once. The body stays the body: in logbridge `.message` *is* the body, of
//! whatever type it has, so nothing is stringified or moved.
//!
//! Not carried (logbridge's model has no place for it yet): a resource's
//! `entity_refs`.

use logbridge_event::{KeyString, LogRecord, Resource, Scope};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1 as proto;
use prost::Message;
use std::sync::Arc;

use crate::common::{
    decode_resource, decode_scope, encode_resource, encode_scope, nanos_from_wire, nanos_to_wire,
    same_group, span_id_from_wire, span_id_to_wire, trace_id_from_wire, trace_id_to_wire,
};
use crate::error::DecodeError;
use crate::value::{from_any, from_key_values, to_any, to_key_values};

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
        ExportLogsServiceRequest::decode(bytes).map_err(|e| DecodeError::new("logs", e))?;
    Ok(logs_from_request(request))
}

/// The log records of a decoded request (from a gRPC server, say), in
/// order. Every field of a log record is carried; see the module docs for
/// the one resource field that is not.
pub fn logs_from_request(request: ExportLogsServiceRequest) -> Vec<LogRecord> {
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
    out
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
        event_name: (!record.event_name.is_empty()).then(|| KeyString::from(record.event_name)),
        body: record.body.map(from_any).unwrap_or_default(),
        attributes: from_key_values(record.attributes),
        dropped_attributes_count: record.dropped_attributes_count,
        trace_id: trace_id_from_wire(&record.trace_id),
        span_id: span_id_from_wire(&record.span_id),
        flags: record.flags,
        resource: resource.clone(),
        scope: scope.clone(),
        // What a source knew beyond OpenTelemetry's fields: an OTLP
        // request carries none.
        metadata: Default::default(),
    }
}

/// Encodes log records as an OTLP `ExportLogsServiceRequest` (which is also
/// a valid `LogsData`). See [`logs_to_request`].
pub fn encode_logs(records: &[LogRecord]) -> Vec<u8> {
    logs_to_request(records).encode_to_vec()
}

/// Builds the request for log records.
///
/// Consecutive records that share a resource (the same `Arc`, equal
/// values, or both none) go into one `ResourceLogs`, and within it
/// consecutive records that share a scope into one `ScopeLogs`; records are
/// never reordered. For records from [`decode_logs`] that rebuilds the
/// original grouping.
///
/// Everything [`decode_logs`] produces round-trips exactly. A record's
/// source `metadata` is not written (like every encoder, see
/// [`LogRecord::metadata`]); otherwise two things change: a
/// `Value::Timestamp` becomes an integer of nanoseconds (OTLP has no
/// timestamp value), and negative times become 0. Values nested deeper
/// than prost's recursion limit allows (48 levels of arrays or objects in a
/// body) encode, but will not decode.
pub fn logs_to_request(records: &[LogRecord]) -> ExportLogsServiceRequest {
    let resource_logs = records
        .chunk_by(|a, b| same_group(&a.resource, &b.resource))
        .map(|by_resource| {
            let (resource, schema_url) = encode_resource(&by_resource[0].resource);
            let scope_logs = by_resource
                .chunk_by(|a, b| same_group(&a.scope, &b.scope))
                .map(|by_scope| {
                    let (scope, schema_url) = encode_scope(&by_scope[0].scope);
                    proto::ScopeLogs {
                        scope,
                        log_records: by_scope.iter().map(encode_record).collect(),
                        schema_url,
                    }
                })
                .collect();
            proto::ResourceLogs {
                resource,
                scope_logs,
                schema_url,
            }
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
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
        trace_id: trace_id_to_wire(record.trace_id),
        span_id: span_id_to_wire(record.span_id),
        event_name: record
            .event_name
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
    }
}
