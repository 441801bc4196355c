//! OTLP/JSON of `ExportTraceServiceRequest`, field by field.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::Value;

use super::common::{
    read_key_values, read_resource, read_scope, write_key_value, write_resource, write_scope,
};
use super::read::{self, Object, Result};
use super::write::Out;

pub(super) fn read_request(mut obj: Object) -> Result<ExportTraceServiceRequest> {
    Ok(ExportTraceServiceRequest {
        resource_spans: read::messages(&mut obj, "resourceSpans", read_resource_spans)?,
    })
}

fn read_resource_spans(mut obj: Object) -> Result<ResourceSpans> {
    Ok(ResourceSpans {
        resource: read::message(&mut obj, "resource", read_resource)?,
        scope_spans: read::messages(&mut obj, "scopeSpans", read_scope_spans)?,
        schema_url: read::string(&mut obj, "schemaUrl")?,
    })
}

fn read_scope_spans(mut obj: Object) -> Result<ScopeSpans> {
    Ok(ScopeSpans {
        scope: read::message(&mut obj, "scope", read_scope)?,
        spans: read::messages(&mut obj, "spans", read_span)?,
        schema_url: read::string(&mut obj, "schemaUrl")?,
    })
}

fn kind_from_name(name: &str) -> Option<i32> {
    SpanKind::from_str_name(name).map(Into::into)
}

fn code_from_name(name: &str) -> Option<i32> {
    StatusCode::from_str_name(name).map(Into::into)
}

fn read_span(mut obj: Object) -> Result<Span> {
    Ok(Span {
        trace_id: read::hex(&mut obj, "traceId")?,
        span_id: read::hex(&mut obj, "spanId")?,
        trace_state: read::string(&mut obj, "traceState")?,
        parent_span_id: read::hex(&mut obj, "parentSpanId")?,
        flags: read::uint32(&mut obj, "flags")?,
        name: read::string(&mut obj, "name")?,
        kind: read::enumeration(&mut obj, "kind", kind_from_name)?,
        start_time_unix_nano: read::uint64(&mut obj, "startTimeUnixNano")?,
        end_time_unix_nano: read::uint64(&mut obj, "endTimeUnixNano")?,
        attributes: read_key_values(&mut obj, "attributes")?,
        dropped_attributes_count: read::uint32(&mut obj, "droppedAttributesCount")?,
        events: read::messages(&mut obj, "events", read_event)?,
        dropped_events_count: read::uint32(&mut obj, "droppedEventsCount")?,
        links: read::messages(&mut obj, "links", read_link)?,
        dropped_links_count: read::uint32(&mut obj, "droppedLinksCount")?,
        status: read::message(&mut obj, "status", read_status)?,
    })
}

fn read_event(mut obj: Object) -> Result<Event> {
    Ok(Event {
        time_unix_nano: read::uint64(&mut obj, "timeUnixNano")?,
        name: read::string(&mut obj, "name")?,
        attributes: read_key_values(&mut obj, "attributes")?,
        dropped_attributes_count: read::uint32(&mut obj, "droppedAttributesCount")?,
    })
}

fn read_link(mut obj: Object) -> Result<Link> {
    Ok(Link {
        trace_id: read::hex(&mut obj, "traceId")?,
        span_id: read::hex(&mut obj, "spanId")?,
        trace_state: read::string(&mut obj, "traceState")?,
        attributes: read_key_values(&mut obj, "attributes")?,
        dropped_attributes_count: read::uint32(&mut obj, "droppedAttributesCount")?,
        flags: read::uint32(&mut obj, "flags")?,
    })
}

fn read_status(mut obj: Object) -> Result<Status> {
    Ok(Status {
        message: read::string(&mut obj, "message")?,
        code: read::enumeration(&mut obj, "code", code_from_name)?,
    })
}

pub(super) fn write_request(request: &ExportTraceServiceRequest) -> Value {
    let mut out = Out::new();
    out.messages(
        "resourceSpans",
        &request.resource_spans,
        write_resource_spans,
    );
    out.done()
}

fn write_resource_spans(rs: &ResourceSpans) -> Value {
    let mut out = Out::new();
    out.message("resource", rs.resource.as_ref(), write_resource);
    out.messages("scopeSpans", &rs.scope_spans, write_scope_spans);
    out.string("schemaUrl", &rs.schema_url);
    out.done()
}

fn write_scope_spans(ss: &ScopeSpans) -> Value {
    let mut out = Out::new();
    out.message("scope", ss.scope.as_ref(), write_scope);
    out.messages("spans", &ss.spans, write_span);
    out.string("schemaUrl", &ss.schema_url);
    out.done()
}

fn write_span(span: &Span) -> Value {
    let mut out = Out::new();
    out.hex("traceId", &span.trace_id);
    out.hex("spanId", &span.span_id);
    out.string("traceState", &span.trace_state);
    out.hex("parentSpanId", &span.parent_span_id);
    out.int("flags", span.flags);
    out.string("name", &span.name);
    out.int("kind", span.kind);
    out.uint64("startTimeUnixNano", span.start_time_unix_nano);
    out.uint64("endTimeUnixNano", span.end_time_unix_nano);
    out.messages("attributes", &span.attributes, write_key_value);
    out.int("droppedAttributesCount", span.dropped_attributes_count);
    out.messages("events", &span.events, write_event);
    out.int("droppedEventsCount", span.dropped_events_count);
    out.messages("links", &span.links, write_link);
    out.int("droppedLinksCount", span.dropped_links_count);
    out.message("status", span.status.as_ref(), write_status);
    out.done()
}

fn write_event(event: &Event) -> Value {
    let mut out = Out::new();
    out.uint64("timeUnixNano", event.time_unix_nano);
    out.string("name", &event.name);
    out.messages("attributes", &event.attributes, write_key_value);
    out.int("droppedAttributesCount", event.dropped_attributes_count);
    out.done()
}

fn write_link(link: &Link) -> Value {
    let mut out = Out::new();
    out.hex("traceId", &link.trace_id);
    out.hex("spanId", &link.span_id);
    out.string("traceState", &link.trace_state);
    out.messages("attributes", &link.attributes, write_key_value);
    out.int("droppedAttributesCount", link.dropped_attributes_count);
    out.int("flags", link.flags);
    out.done()
}

fn write_status(status: &Status) -> Value {
    let mut out = Out::new();
    out.string("message", &status.message);
    out.int("code", status.code);
    out.done()
}
