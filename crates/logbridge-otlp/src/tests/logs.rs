//! Logs: a hand-built request checked field by field, hostile input, and
//! the round trip of generated records.

use std::sync::Arc;

use bytes::Bytes;
use logbridge_event::{KeyString, LogRecord, Resource, Scope, SpanId, TraceId, Value};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1 as proto;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use prost::Message;

use super::strategies::{
    attributes, grouped, optional_span_id, optional_trace_id, pooled, shared, time, value,
};
use super::{kv, nested_any, object, string, wrap};
use crate::{decode_logs, encode_logs, logs_from_request, logs_to_request};

/// Two resources, the first with two scopes; every field of a log record
/// set, including the odd cases a decoder has to settle.
fn sample_request() -> ExportLogsServiceRequest {
    let full = proto::LogRecord {
        time_unix_nano: 1_700_000_000_000_000_001,
        observed_time_unix_nano: 1_700_000_000_000_000_002,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(wrap(Any::KvlistValue(KeyValueList {
            values: vec![
                kv("msg", Some(string("disk full"))),
                kv(
                    "list",
                    Some(Any::ArrayValue(ArrayValue {
                        values: vec![
                            wrap(Any::BoolValue(true)),
                            wrap(Any::IntValue(-7)),
                            wrap(Any::DoubleValue(0.5)),
                            wrap(Any::BytesValue(vec![0xff, 0x00])),
                            AnyValue { value: None },
                        ],
                    })),
                ),
            ],
        }))),
        attributes: vec![
            kv("http.status", Some(Any::IntValue(507))),
            kv("dup", Some(string("first"))),
            kv("dup", Some(string("last"))),
            kv("absent", None),
            kv("profiles_only", Some(Any::StringValueStrindex(3))),
        ],
        dropped_attributes_count: 2,
        flags: 1,
        trace_id: (1..=16).collect(),
        span_id: (1..=8).collect(),
        event_name: "browser.page_view".into(),
    };
    let odd_ids = proto::LogRecord {
        // Past 2262: saturates instead of wrapping to before 1970.
        time_unix_nano: u64::MAX,
        body: Some(wrap(string("plain"))),
        trace_id: vec![0; 16],
        span_id: vec![1; 7],
        ..proto::LogRecord::default()
    };
    let bare = proto::LogRecord::default();
    ExportLogsServiceRequest {
        resource_logs: vec![
            proto::ResourceLogs {
                resource: Some(ProtoResource {
                    attributes: vec![kv("service.name", Some(string("api")))],
                    dropped_attributes_count: 1,
                    ..ProtoResource::default()
                }),
                scope_logs: vec![
                    proto::ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name: "lib".into(),
                            version: "1.2".into(),
                            attributes: vec![kv("a", Some(Any::BoolValue(false)))],
                            dropped_attributes_count: 3,
                        }),
                        log_records: vec![full, odd_ids],
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                    },
                    proto::ScopeLogs {
                        scope: None,
                        log_records: vec![bare.clone()],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
            },
            proto::ResourceLogs {
                resource: None,
                scope_logs: vec![proto::ScopeLogs {
                    scope: None,
                    log_records: vec![bare],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

#[test]
fn decodes_every_field() {
    let logs = decode_logs(&sample_request().encode_to_vec()).unwrap();
    assert_eq!(logs.len(), 4);

    let resource = Resource {
        attributes: object(&[("service.name", "api".into())]),
        dropped_attributes_count: 1,
        schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
    };
    let scope = Scope {
        name: "lib".into(),
        version: "1.2".into(),
        attributes: object(&[("a", false.into())]),
        dropped_attributes_count: 3,
        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
    };
    let full = &logs[0];
    assert_eq!(full.time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(full.observed_time_unix_nano, 1_700_000_000_000_000_002);
    assert_eq!(full.severity_number, 17);
    assert_eq!(full.severity_text.as_deref(), Some("ERROR"));
    assert_eq!(full.event_name.as_deref(), Some("browser.page_view"));
    let list = Value::Array(vec![
        true.into(),
        Value::Integer(-7),
        Value::Float(0.5),
        Value::Bytes(Bytes::from_static(&[0xff, 0x00])),
        Value::Null,
    ]);
    assert_eq!(
        full.body,
        Value::Object(object(&[("msg", "disk full".into()), ("list", list)]))
    );
    assert_eq!(
        full.attributes,
        object(&[
            ("http.status", Value::Integer(507)),
            ("dup", "last".into()),
            ("absent", Value::Null),
            ("profiles_only", Value::Null),
        ])
    );
    assert_eq!(full.dropped_attributes_count, 2);
    assert_eq!(full.flags, 1);
    let trace: Vec<u8> = (1..=16).collect();
    assert_eq!(full.trace_id, Some(TraceId(trace.try_into().unwrap())));
    assert_eq!(full.span_id, Some(SpanId([1, 2, 3, 4, 5, 6, 7, 8])));
    assert_eq!(full.resource.as_deref(), Some(&resource));
    assert_eq!(full.scope.as_deref(), Some(&scope));

    let odd = &logs[1];
    assert_eq!(odd.time_unix_nano, i64::MAX);
    assert_eq!(odd.body, Value::from("plain"));
    assert_eq!(odd.trace_id, None, "all-zero trace id");
    assert_eq!(odd.span_id, None, "7-byte span id");
    assert_eq!(odd.severity_text, None, "empty severity text");
    assert_eq!(odd.event_name, None, "empty event name");

    // One allocation per resource and per scope, shared by their records.
    assert!(Arc::ptr_eq(
        full.resource.as_ref().unwrap(),
        odd.resource.as_ref().unwrap()
    ));
    assert!(Arc::ptr_eq(
        full.scope.as_ref().unwrap(),
        odd.scope.as_ref().unwrap()
    ));
    let bare = &logs[2];
    assert!(Arc::ptr_eq(
        full.resource.as_ref().unwrap(),
        bare.resource.as_ref().unwrap()
    ));
    assert_eq!(bare.scope, None);
    assert_eq!(bare.body, Value::Null);
    assert_eq!(logs[3], LogRecord::default());
}

#[test]
fn logs_data_decodes_like_a_request() {
    let request = sample_request();
    let logs_data = proto::LogsData {
        resource_logs: request.resource_logs.clone(),
    };
    assert_eq!(
        decode_logs(&logs_data.encode_to_vec()).unwrap(),
        decode_logs(&request.encode_to_vec()).unwrap()
    );
}

#[test]
fn decoded_records_round_trip_with_their_grouping() {
    let logs = decode_logs(&sample_request().encode_to_vec()).unwrap();
    let encoded = encode_logs(&logs);
    let request = ExportLogsServiceRequest::decode(encoded.as_slice()).unwrap();
    let shape: Vec<Vec<usize>> = request
        .resource_logs
        .iter()
        .map(|rl| {
            rl.scope_logs
                .iter()
                .map(|sl| sl.log_records.len())
                .collect()
        })
        .collect();
    assert_eq!(shape, [vec![2, 1], vec![1]]);
    assert_eq!(
        request.resource_logs[0].scope_logs[0].log_records[0].event_name,
        "browser.page_view"
    );
    assert_eq!(decode_logs(&encoded).unwrap(), logs);
}

#[test]
fn empty_input_is_no_records() {
    assert_eq!(decode_logs(&[]).unwrap(), []);
    assert_eq!(encode_logs(&[]), Vec::<u8>::new());
}

#[test]
fn lossy_encodings() {
    let log = LogRecord {
        time_unix_nano: -5,
        body: Value::Timestamp(42),
        ..LogRecord::default()
    };
    let back = decode_logs(&encode_logs(&[log])).unwrap();
    assert_eq!(back[0].time_unix_nano, 0);
    assert_eq!(back[0].body, Value::Integer(42));
}

#[test]
fn garbage_is_an_error_with_a_message() {
    // Field 1, length-delimited, claims 100 bytes and has none.
    let error = decode_logs(&[0x0a, 100]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid OTLP logs protobuf: "),
        "{error}"
    );
    // A string that is not UTF-8 (severity_text of a record).
    let mut bad = sample_request().encode_to_vec();
    let at = bad.windows(5).position(|w| w == b"ERROR").unwrap();
    bad[at] = 0xff;
    assert!(decode_logs(&bad).is_err());
}

/// The bytes of a request whose one record's body is `depth` arrays.
fn nested_body(depth: usize) -> Vec<u8> {
    nested_any(
        depth,
        &[
            5 << 3 | 2, // LogRecord.body
            2 << 3 | 2, // ScopeLogs.log_records
            2 << 3 | 2, // ResourceLogs.scope_logs
            1 << 3 | 2, // ExportLogsServiceRequest.resource_logs
        ],
    )
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // The deepest body prost's recursion limit (100) lets through: the
    // record's body is at depth 4, then each array costs two levels.
    let ok = decode_logs(&nested_body(48)).unwrap();
    let mut value = &ok[0].body;
    let mut depth = 0;
    while let Value::Array(inner) = value {
        value = &inner[0];
        depth += 1;
    }
    assert_eq!((depth, value), (48, &Value::Null));
    assert_eq!(decode_logs(&encode_logs(&ok)).unwrap(), ok);

    assert!(decode_logs(&nested_body(49)).is_err());
    let error = decode_logs(&nested_body(10_000)).unwrap_err();
    assert!(error.to_string().contains("recursion limit"), "{error}");
}

fn record() -> impl Strategy<Value = LogRecord> {
    (
        (time(), time(), any::<i32>()),
        (
            option::of("[A-Za-z]{1,5}".prop_map(KeyString::from)),
            option::of("[a-z._]{1,8}".prop_map(KeyString::from)),
        ),
        value(),
        attributes(),
        any::<u32>(),
        optional_trace_id(),
        optional_span_id(),
        any::<u32>(),
    )
        .prop_map(
            |(
                (time_unix_nano, observed_time_unix_nano, severity_number),
                (severity_text, event_name),
                body,
                attributes,
                dropped_attributes_count,
                trace_id,
                span_id,
                flags,
            )| LogRecord {
                time_unix_nano,
                observed_time_unix_nano,
                severity_number,
                severity_text,
                event_name,
                body,
                attributes,
                dropped_attributes_count,
                trace_id,
                span_id,
                flags,
                ..LogRecord::default()
            },
        )
}

fn records() -> impl Strategy<Value = Vec<LogRecord>> {
    pooled(record(), |log, resource, scope| {
        log.resource = resource;
        log.scope = scope;
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode_logs(&bytes);
    }

    #[test]
    fn damaged_requests_never_panic(
        records in records(),
        edits in vec((any::<Index>(), any::<u8>()), 1..4),
        cut in any::<Index>(),
    ) {
        let mut bytes = encode_logs(&records);
        if !bytes.is_empty() {
            for (at, byte) in edits {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let _ = decode_logs(&bytes);
    }

    #[test]
    fn encode_then_decode_is_identity(records in records()) {
        let decoded = decode_logs(&encode_logs(&records)).unwrap();
        prop_assert_eq!(&decoded, &records);
        // Sharing is kept too: a run of one resource (one `Arc` or equal
        // values) decodes to one `Arc`, and a run of one scope within it
        // to one `Arc` (a scope shared across two resources is two
        // `ScopeLogs`, so two `Arc`s).
        for (before, after) in records.windows(2).zip(decoded.windows(2)) {
            let same_resource = grouped(&before[0].resource, &before[1].resource);
            let same_scope = grouped(&before[0].scope, &before[1].scope)
                && (same_resource || before[0].scope.is_none());
            prop_assert_eq!(shared(&after[0].resource, &after[1].resource), same_resource);
            prop_assert_eq!(shared(&after[0].scope, &after[1].scope), same_scope);
        }
    }
}

/// A request in the canonical form (every field set to a distinct
/// non-default value, nothing the model settles), which must come back
/// from the events equal, through protobuf and through JSON.
pub(super) fn canonical_request() -> ExportLogsServiceRequest {
    let record = proto::LogRecord {
        time_unix_nano: 11,
        observed_time_unix_nano: 12,
        severity_number: 13,
        severity_text: "WARN".into(),
        body: Some(wrap(string("body"))),
        attributes: vec![kv("k", Some(Any::DoubleValue(1.5)))],
        dropped_attributes_count: 14,
        flags: 15,
        trace_id: (1..=16).collect(),
        span_id: (1..=8).collect(),
        event_name: "ev".into(),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![proto::ResourceLogs {
            resource: Some(super::full_resource("api")),
            scope_logs: vec![proto::ScopeLogs {
                scope: Some(super::full_scope()),
                log_records: vec![record],
                schema_url: "s1".into(),
            }],
            schema_url: "s2".into(),
        }],
    }
}

#[test]
fn a_canonical_request_round_trips() {
    let request = canonical_request();
    let logs = logs_from_request(request.clone());
    assert_eq!(logs_to_request(&logs), request);
    assert_eq!(decode_logs(&encode_logs(&logs)).unwrap(), logs);
}

#[test]
fn equal_resources_behind_different_arcs_share_one_message() {
    let resource = Resource {
        schema_url: "x".into(),
        ..Resource::default()
    };
    let logs: Vec<LogRecord> = (0..2)
        .map(|_| LogRecord {
            resource: Some(Arc::new(resource.clone())),
            ..LogRecord::default()
        })
        .collect();
    let request = logs_to_request(&logs);
    assert_eq!(request.resource_logs.len(), 1);
    let back = decode_logs(&encode_logs(&logs)).unwrap();
    assert_eq!(back, logs);
    assert!(shared(&back[0].resource, &back[1].resource));
}
