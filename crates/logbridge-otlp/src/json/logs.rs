//! OTLP/JSON of `ExportLogsServiceRequest`, field by field.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use serde_json::Value;

use super::common::{
    read_any, read_key_values, read_resource, read_scope, write_any, write_key_value,
    write_resource, write_scope,
};
use super::read::{self, Object, Result};
use super::write::Out;

pub(super) fn read_request(mut obj: Object) -> Result<ExportLogsServiceRequest> {
    Ok(ExportLogsServiceRequest {
        resource_logs: read::messages(&mut obj, "resourceLogs", read_resource_logs)?,
    })
}

fn read_resource_logs(mut obj: Object) -> Result<ResourceLogs> {
    Ok(ResourceLogs {
        resource: read::message(&mut obj, "resource", read_resource)?,
        scope_logs: read::messages(&mut obj, "scopeLogs", read_scope_logs)?,
        schema_url: read::string(&mut obj, "schemaUrl")?,
    })
}

fn read_scope_logs(mut obj: Object) -> Result<ScopeLogs> {
    Ok(ScopeLogs {
        scope: read::message(&mut obj, "scope", read_scope)?,
        log_records: read::messages(&mut obj, "logRecords", read_record)?,
        schema_url: read::string(&mut obj, "schemaUrl")?,
    })
}

fn severity_from_name(name: &str) -> Option<i32> {
    SeverityNumber::from_str_name(name).map(Into::into)
}

fn read_record(mut obj: Object) -> Result<LogRecord> {
    Ok(LogRecord {
        time_unix_nano: read::uint64(&mut obj, "timeUnixNano")?,
        observed_time_unix_nano: read::uint64(&mut obj, "observedTimeUnixNano")?,
        severity_number: read::enumeration(&mut obj, "severityNumber", severity_from_name)?,
        severity_text: read::string(&mut obj, "severityText")?,
        body: read::message(&mut obj, "body", read_any)?,
        attributes: read_key_values(&mut obj, "attributes")?,
        dropped_attributes_count: read::uint32(&mut obj, "droppedAttributesCount")?,
        flags: read::uint32(&mut obj, "flags")?,
        trace_id: read::hex(&mut obj, "traceId")?,
        span_id: read::hex(&mut obj, "spanId")?,
        event_name: read::string(&mut obj, "eventName")?,
    })
}

pub(super) fn write_request(request: &ExportLogsServiceRequest) -> Value {
    let mut out = Out::new();
    out.messages("resourceLogs", &request.resource_logs, write_resource_logs);
    out.done()
}

fn write_resource_logs(rl: &ResourceLogs) -> Value {
    let mut out = Out::new();
    out.message("resource", rl.resource.as_ref(), write_resource);
    out.messages("scopeLogs", &rl.scope_logs, write_scope_logs);
    out.string("schemaUrl", &rl.schema_url);
    out.done()
}

fn write_scope_logs(sl: &ScopeLogs) -> Value {
    let mut out = Out::new();
    out.message("scope", sl.scope.as_ref(), write_scope);
    out.messages("logRecords", &sl.log_records, write_record);
    out.string("schemaUrl", &sl.schema_url);
    out.done()
}

fn write_record(record: &LogRecord) -> Value {
    let mut out = Out::new();
    out.uint64("timeUnixNano", record.time_unix_nano);
    out.uint64("observedTimeUnixNano", record.observed_time_unix_nano);
    out.int("severityNumber", record.severity_number);
    out.string("severityText", &record.severity_text);
    out.message("body", record.body.as_ref(), write_any);
    out.messages("attributes", &record.attributes, write_key_value);
    out.int("droppedAttributesCount", record.dropped_attributes_count);
    out.int("flags", record.flags);
    out.hex("traceId", &record.trace_id);
    out.hex("spanId", &record.span_id);
    out.string("eventName", &record.event_name);
    out.done()
}
