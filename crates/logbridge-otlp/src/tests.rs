//! Tests of the OTLP conversions: hand-built requests checked field by
//! field, hostile input (deep nesting, arbitrary and mutated bytes), and
//! the round trip of generated records.

use std::sync::Arc;

use bytes::Bytes;
use logbridge_event::{KeyString, LogRecord, ObjectMap, Resource, Scope, SpanId, TraceId, Value};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1 as proto;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use prost::Message;

use crate::{decode_logs, encode_logs};

fn wrap(value: Any) -> AnyValue {
    AnyValue { value: Some(value) }
}

fn kv(key: &str, value: Option<Any>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: value.map(wrap),
        ..KeyValue::default()
    }
}

fn string(s: &str) -> Any {
    Any::StringValue(s.to_owned())
}

fn object(entries: &[(&str, Value)]) -> ObjectMap {
    ObjectMap::from_entries(
        entries
            .iter()
            .map(|(k, v)| (KeyString::from(*k), v.clone()))
            .collect(),
    )
}

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
        event_name: "not carried".into(),
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
    // Only what logbridge does not carry is gone.
    assert_eq!(
        request.resource_logs[0].scope_logs[0].log_records[0].event_name,
        ""
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

/// The bytes of a request whose one record's body is `depth` arrays, each
/// holding the next, built by hand (inside out in lengths, outside in in
/// bytes) so that the test itself neither recurses nor copies per level.
fn nested_body(depth: usize) -> Vec<u8> {
    const ANY_ARRAY: u8 = 5 << 3 | 2; // AnyValue.array_value
    const ARRAY_VALUES: u8 = 1 << 3 | 2; // ArrayValue.values
    let mut tags = Vec::with_capacity(2 * depth + 4);
    for _ in 0..depth {
        tags.extend([ARRAY_VALUES, ANY_ARRAY]);
    }
    tags.extend([
        5 << 3 | 2, // LogRecord.body
        2 << 3 | 2, // ScopeLogs.log_records
        2 << 3 | 2, // ResourceLogs.scope_logs
        1 << 3 | 2, // ExportLogsServiceRequest.resource_logs
    ]);
    let mut lengths = Vec::with_capacity(tags.len());
    let mut len = 0; // the innermost AnyValue is empty: null
    for _ in &tags {
        lengths.push(len);
        len += 1 + prost::encoding::encoded_len_varint(len as u64);
    }
    let mut out = Vec::with_capacity(len);
    for (tag, len) in tags.iter().zip(&lengths).rev() {
        out.push(*tag);
        prost::encoding::encode_varint(*len as u64, &mut out);
    }
    out
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

fn key() -> impl Strategy<Value = KeyString> {
    "[a-z._é]{0,6}".prop_map(KeyString::from)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        // NaN is not equal to itself, so it would fail the comparison, not
        // the round trip.
        any::<f64>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(Value::Float),
        // Arbitrary bytes: invalid UTF-8 must survive as `bytes_value`.
        vec(any::<u8>(), 0..8).prop_map(|b| Value::Bytes(b.into())),
        "[a-z é]{0,8}".prop_map(Value::from),
    ];
    // Shallow enough for prost's recursion limit (see `encode_logs`).
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            map_of(inner).prop_map(Value::Object),
        ]
    })
}

fn map_of(values: impl Strategy<Value = Value>) -> impl Strategy<Value = ObjectMap> {
    vec((key(), values), 0..5).prop_map(ObjectMap::from_entries)
}

fn resource() -> impl Strategy<Value = Resource> {
    (map_of(value()), any::<u32>(), "[a-z:/.]{0,8}").prop_map(
        |(attributes, dropped_attributes_count, schema_url)| Resource {
            attributes,
            dropped_attributes_count,
            schema_url,
        },
    )
}

fn scope() -> impl Strategy<Value = Scope> {
    (
        "[a-z]{0,4}",
        "[0-9.]{0,4}",
        map_of(value()),
        any::<u32>(),
        "[a-z:/.]{0,8}",
    )
        .prop_map(
            |(name, version, attributes, dropped_attributes_count, schema_url)| Scope {
                name,
                version,
                attributes,
                dropped_attributes_count,
                schema_url,
            },
        )
}

fn record() -> impl Strategy<Value = LogRecord> {
    (
        (0..=i64::MAX, 0..=i64::MAX, any::<i32>()),
        option::of("[A-Za-z]{1,5}".prop_map(KeyString::from)),
        value(),
        map_of(value()),
        any::<u32>(),
        option::of(any::<[u8; 16]>().prop_map(TraceId))
            .prop_filter("valid", |t| t.is_none_or(|t| t.is_valid())),
        option::of(any::<[u8; 8]>().prop_map(SpanId))
            .prop_filter("valid", |s| s.is_none_or(|s| s.is_valid())),
        any::<u32>(),
    )
        .prop_map(
            |(
                (time_unix_nano, observed_time_unix_nano, severity_number),
                severity_text,
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

/// Records drawing their resource and scope from small pools, so that
/// runs of shared `Arc`s (and of `None`) occur.
fn records() -> impl Strategy<Value = Vec<LogRecord>> {
    (
        vec(option::of(resource().prop_map(Arc::new)), 1..3),
        vec(option::of(scope().prop_map(Arc::new)), 1..3),
        vec((record(), any::<Index>(), any::<Index>()), 0..8),
    )
        .prop_map(|(resources, scopes, records)| {
            records
                .into_iter()
                .map(|(mut log, r, s)| {
                    log.resource = r.get(&resources).clone();
                    log.scope = s.get(&scopes).clone();
                    log
                })
                .collect()
        })
}

fn shared<T>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
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
        // Sharing is kept too: a run of one resource decodes to one `Arc`,
        // and a run of one scope within it to one `Arc` (a scope shared
        // across two resources is two `ScopeLogs`, so two `Arc`s).
        for (before, after) in records.windows(2).zip(decoded.windows(2)) {
            let same_resource = shared(&before[0].resource, &before[1].resource);
            let same_scope = shared(&before[0].scope, &before[1].scope)
                && (same_resource || before[0].scope.is_none());
            prop_assert_eq!(shared(&after[0].resource, &after[1].resource), same_resource);
            prop_assert_eq!(shared(&after[0].scope, &after[1].scope), same_scope);
        }
    }
}
