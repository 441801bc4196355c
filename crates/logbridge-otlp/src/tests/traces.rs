//! Traces: a canonical request with every field set, the cases outside
//! the spec the mapping settles, hostile input, and round trips of
//! generated spans through protobuf and JSON.

use std::sync::Arc;

use logbridge_event::{
    KeyString, Span, SpanEvent, SpanId, SpanKind, SpanLink, SpanStatus, StatusCode, TraceId, Value,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1 as proto;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use prost::Message;

use super::strategies::{attributes, grouped, optional_span_id, pooled, shared, time};
use super::{full_resource, full_scope, kv, nested_any, object, string};
use crate::{
    decode_traces, decode_traces_json, encode_traces, encode_traces_json, spans_from_request,
    spans_to_request, traces_request_from_json, traces_request_to_json,
};

/// Every field of every message of a span set to a distinct non-default
/// value.
fn full_span() -> proto::Span {
    proto::Span {
        trace_id: (1..=16).collect(),
        span_id: (21..=28).collect(),
        trace_state: "k=v".into(),
        parent_span_id: (31..=38).collect(),
        flags: 0x301,
        name: "GET /cart".into(),
        kind: 3,
        start_time_unix_nano: 1_700_000_000_000_000_001,
        end_time_unix_nano: 1_700_000_000_000_000_002,
        // In key order: logbridge's maps are sorted (see the crate docs).
        attributes: vec![
            kv("bytes", Some(Any::BytesValue(vec![0xff, 0]))),
            kv("http.status", Some(Any::IntValue(200))),
        ],
        dropped_attributes_count: 4,
        events: vec![proto::span::Event {
            time_unix_nano: 5,
            name: "retry".into(),
            attributes: vec![kv("n", Some(Any::IntValue(2)))],
            dropped_attributes_count: 6,
        }],
        dropped_events_count: 7,
        links: vec![proto::span::Link {
            trace_id: (41..=56).collect(),
            span_id: (61..=68).collect(),
            trace_state: "a=b".into(),
            attributes: vec![kv("why", Some(string("batch")))],
            dropped_attributes_count: 8,
            flags: 0x100,
        }],
        dropped_links_count: 9,
        status: Some(proto::Status {
            message: "boom".into(),
            code: 2,
        }),
    }
}

pub(super) fn canonical_request() -> ExportTraceServiceRequest {
    let root = proto::Span {
        parent_span_id: Vec::new(),
        status: None,
        ..full_span()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            proto::ResourceSpans {
                resource: Some(full_resource("api")),
                scope_spans: vec![
                    proto::ScopeSpans {
                        scope: Some(full_scope()),
                        spans: vec![full_span(), root],
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                    },
                    proto::ScopeSpans {
                        scope: None,
                        spans: vec![full_span()],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
            },
            proto::ResourceSpans {
                resource: None,
                scope_spans: vec![proto::ScopeSpans {
                    scope: None,
                    spans: vec![full_span()],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

#[test]
fn decodes_every_field() {
    let spans = decode_traces(&canonical_request().encode_to_vec()).unwrap();
    assert_eq!(spans.len(), 4);
    let span = &spans[0];
    let expected = Span {
        trace_id: TraceId((1..=16).collect::<Vec<u8>>().try_into().unwrap()),
        span_id: SpanId([21, 22, 23, 24, 25, 26, 27, 28]),
        parent_span_id: Some(SpanId([31, 32, 33, 34, 35, 36, 37, 38])),
        trace_state: "k=v".into(),
        flags: 0x301,
        name: KeyString::from("GET /cart"),
        kind: SpanKind::Client,
        start_time_unix_nano: 1_700_000_000_000_000_001,
        end_time_unix_nano: 1_700_000_000_000_000_002,
        attributes: object(&[
            ("http.status", Value::Integer(200)),
            ("bytes", Value::Bytes(vec![0xff, 0].into())),
        ]),
        dropped_attributes_count: 4,
        events: vec![SpanEvent {
            time_unix_nano: 5,
            name: "retry".into(),
            attributes: object(&[("n", Value::Integer(2))]),
            dropped_attributes_count: 6,
        }],
        dropped_events_count: 7,
        links: vec![SpanLink {
            trace_id: TraceId((41..=56).collect::<Vec<u8>>().try_into().unwrap()),
            span_id: SpanId([61, 62, 63, 64, 65, 66, 67, 68]),
            trace_state: "a=b".into(),
            attributes: object(&[("why", "batch".into())]),
            dropped_attributes_count: 8,
            flags: 0x100,
        }],
        dropped_links_count: 9,
        status: SpanStatus {
            code: StatusCode::Error,
            message: "boom".into(),
        },
        resource: span.resource.clone(),
        scope: span.scope.clone(),
    };
    assert_eq!(span, &expected);
    assert_eq!(
        span.resource().schema_url,
        "https://opentelemetry.io/schemas/1.20.0"
    );
    assert_eq!(span.scope().name, "lib");
    assert_eq!(spans[1].parent_span_id, None);
    assert_eq!(spans[1].status, SpanStatus::default());
    assert!(shared(&spans[0].resource, &spans[2].resource));
    assert_eq!(spans[2].scope, None);
    assert_eq!(spans[3].resource, None);
}

#[test]
fn a_canonical_request_round_trips_through_protobuf_and_json() {
    let request = canonical_request();
    let spans = spans_from_request(request.clone());
    assert_eq!(spans_to_request(&spans), request);
    let bytes = encode_traces(&spans);
    assert_eq!(bytes, request.encode_to_vec());
    assert_eq!(decode_traces(&bytes).unwrap(), spans);

    let json = encode_traces_json(&spans);
    assert_eq!(traces_request_from_json(&json).unwrap(), request);
    assert_eq!(decode_traces_json(&json).unwrap(), spans);
    assert_eq!(traces_request_to_json(&request), json);
}

#[test]
fn settles_what_the_spec_does_not_allow() {
    let odd = proto::Span {
        trace_id: vec![1; 3],
        span_id: Vec::new(),
        parent_span_id: vec![0; 8],
        kind: 42,
        status: Some(proto::Status {
            message: String::new(),
            code: 7,
        }),
        ..proto::Span::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            scope_spans: vec![proto::ScopeSpans {
                spans: vec![odd],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let spans = spans_from_request(request);
    let span = &spans[0];
    assert_eq!(span.trace_id, TraceId::default(), "wrong length");
    assert_eq!(span.span_id, SpanId::default(), "absent");
    assert_eq!(span.parent_span_id, None, "all zeroes");
    assert_eq!(span.kind, SpanKind::Unspecified);
    assert_eq!(span.status, SpanStatus::default());
    let back = spans_to_request(&spans);
    let span = &back.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!((span.trace_id.len(), span.span_id.len()), (16, 8));
    assert!(span.parent_span_id.is_empty());
    assert_eq!(span.status, None);
}

#[test]
fn garbage_is_an_error_with_a_message() {
    let error = decode_traces(&[0x0a, 100]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid OTLP traces protobuf: "),
        "{error}"
    );
    // A length prefix far beyond the input.
    assert!(decode_traces(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    assert!(decode_traces(b"\xff\xff\xff").is_err());
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let path = [
        2 << 3 | 2, // KeyValue.value
        9 << 3 | 2, // Span.attributes
        2 << 3 | 2, // ScopeSpans.spans
        2 << 3 | 2, // ResourceSpans.scope_spans
        1 << 3 | 2, // ExportTraceServiceRequest.resource_spans
    ];
    let ok = decode_traces(&nested_any(47, &path)).unwrap();
    assert_eq!(decode_traces(&encode_traces(&ok)).unwrap(), ok);
    assert!(decode_traces(&nested_any(48, &path)).is_err());
    let error = decode_traces(&nested_any(10_000, &path)).unwrap_err();
    assert!(error.to_string().contains("recursion limit"), "{error}");
}

fn span_kind() -> impl Strategy<Value = SpanKind> {
    prop_oneof![
        Just(SpanKind::Unspecified),
        Just(SpanKind::Internal),
        Just(SpanKind::Server),
        Just(SpanKind::Client),
        Just(SpanKind::Producer),
        Just(SpanKind::Consumer),
    ]
}

fn status() -> impl Strategy<Value = SpanStatus> {
    (
        prop_oneof![
            Just(StatusCode::Unset),
            Just(StatusCode::Ok),
            Just(StatusCode::Error)
        ],
        "[a-z ]{0,6}",
    )
        .prop_map(|(code, message)| SpanStatus { code, message })
}

fn event() -> impl Strategy<Value = SpanEvent> {
    (time(), "[a-z]{0,5}", attributes(), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| SpanEvent {
            time_unix_nano,
            name: KeyString::from(name),
            attributes,
            dropped_attributes_count,
        },
    )
}

fn link() -> impl Strategy<Value = SpanLink> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 8]>(),
        "[a-z=]{0,5}",
        attributes(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| {
                SpanLink {
                    trace_id: TraceId(trace_id),
                    span_id: SpanId(span_id),
                    trace_state,
                    attributes,
                    dropped_attributes_count,
                    flags,
                }
            },
        )
}

fn span() -> impl Strategy<Value = Span> {
    (
        (any::<[u8; 16]>(), any::<[u8; 8]>(), optional_span_id()),
        ("[a-z=,]{0,5}", any::<u32>(), "[a-z /]{0,8}", span_kind()),
        (time(), time(), attributes(), any::<u32>()),
        (
            vec(event(), 0..3),
            any::<u32>(),
            vec(link(), 0..3),
            any::<u32>(),
        ),
        status(),
    )
        .prop_map(
            |(
                (trace_id, span_id, parent_span_id),
                (trace_state, flags, name, kind),
                (start_time_unix_nano, end_time_unix_nano, attributes, dropped_attributes_count),
                (events, dropped_events_count, links, dropped_links_count),
                status,
            )| Span {
                trace_id: TraceId(trace_id),
                span_id: SpanId(span_id),
                parent_span_id,
                trace_state,
                flags,
                name: KeyString::from(name),
                kind,
                start_time_unix_nano,
                end_time_unix_nano,
                attributes,
                dropped_attributes_count,
                events,
                dropped_events_count,
                links,
                dropped_links_count,
                status,
                resource: None,
                scope: None,
            },
        )
}

fn spans() -> impl Strategy<Value = Vec<Span>> {
    pooled(span(), |span, resource, scope| {
        span.resource = resource;
        span.scope = scope;
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode_traces(&bytes);
    }

    #[test]
    fn damaged_requests_never_panic(
        spans in spans(),
        edits in vec((any::<Index>(), any::<u8>()), 1..4),
        cut in any::<Index>(),
    ) {
        let mut bytes = encode_traces(&spans);
        if !bytes.is_empty() {
            for (at, byte) in edits {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let _ = decode_traces(&bytes);
    }

    #[test]
    fn encode_then_decode_is_identity(spans in spans()) {
        let decoded = decode_traces(&encode_traces(&spans)).unwrap();
        prop_assert_eq!(&decoded, &spans);
        for (before, after) in spans.windows(2).zip(decoded.windows(2)) {
            let same_resource = grouped(&before[0].resource, &before[1].resource);
            let same_scope = grouped(&before[0].scope, &before[1].scope)
                && (same_resource || before[0].scope.is_none());
            prop_assert_eq!(shared(&after[0].resource, &after[1].resource), same_resource);
            prop_assert_eq!(shared(&after[0].scope, &after[1].scope), same_scope);
        }
    }

    #[test]
    fn json_round_trip_is_identity(spans in spans()) {
        let json = encode_traces_json(&spans);
        prop_assert_eq!(decode_traces_json(&json).unwrap(), spans.clone());
        // And the request the JSON holds is the one protobuf carries.
        let request = traces_request_from_json(&json).unwrap();
        prop_assert_eq!(request.encode_to_vec(), encode_traces(&spans));
    }
}

#[test]
fn shares_one_arc_per_resource() {
    let spans = spans_from_request(canonical_request());
    assert!(Arc::ptr_eq(
        spans[0].resource.as_ref().unwrap(),
        spans[1].resource.as_ref().unwrap()
    ));
}
