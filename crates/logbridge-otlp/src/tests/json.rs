//! OTLP/JSON: the shape the encoder writes, the leniency the decoder
//! allows, malformed input, and round trips of generated logs (spans and
//! metrics have theirs in their own modules).

use logbridge_event::{LogRecord, MetricValue, Value};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use proptest::collection::vec;
use proptest::prelude::*;
use prost::Message;

use super::strategies::{attributes, pooled, value};
use crate::{
    decode_logs_json, decode_metrics_json, decode_traces_json, encode_logs, encode_logs_json,
    encode_metrics_json, logs_from_request, logs_request_from_json, logs_request_to_json,
    logs_to_request, metrics_request_from_json, traces_request_from_json,
};

fn parse(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn a_canonical_logs_request_round_trips() {
    let request = super::logs::canonical_request();
    let json = logs_request_to_json(&request);
    assert_eq!(logs_request_from_json(&json).unwrap(), request);
    let logs = logs_from_request(request.clone());
    assert_eq!(encode_logs_json(&logs), json);
    assert_eq!(decode_logs_json(&json).unwrap(), logs);
}

#[test]
fn writes_the_spec_shape() {
    let json = logs_request_to_json(&super::logs::canonical_request());
    let expected = serde_json::json!({
        "resourceLogs": [{
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "api"}}],
                "droppedAttributesCount": 1
            },
            "scopeLogs": [{
                "scope": {
                    "name": "lib",
                    "version": "1.2",
                    "attributes": [{"key": "a", "value": {"boolValue": false}}],
                    "droppedAttributesCount": 3
                },
                "logRecords": [{
                    "timeUnixNano": "11",
                    "observedTimeUnixNano": "12",
                    "severityNumber": 13,
                    "severityText": "WARN",
                    "body": {"stringValue": "body"},
                    "attributes": [{"key": "k", "value": {"doubleValue": 1.5}}],
                    "droppedAttributesCount": 14,
                    "flags": 15,
                    "traceId": "0102030405060708090a0b0c0d0e0f10",
                    "spanId": "0102030405060708",
                    "eventName": "ev"
                }],
                "schemaUrl": "s1"
            }],
            "schemaUrl": "s2"
        }]
    });
    assert_eq!(parse(&json), expected);
}

#[test]
fn a_oneof_member_is_written_even_at_its_default() {
    let log = LogRecord {
        attributes: super::object(&[
            ("zero", Value::Integer(0)),
            ("empty", Value::from("")),
            ("no", Value::Bool(false)),
            ("null", Value::Null),
            ("list", Value::Array(Vec::new())),
        ]),
        ..LogRecord::default()
    };
    let json = parse(&encode_logs_json(&[log]));
    let attributes = &json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"];
    assert_eq!(
        attributes,
        &serde_json::json!([
            {"key": "empty", "value": {"stringValue": ""}},
            {"key": "list", "value": {"arrayValue": {}}},
            {"key": "no", "value": {"boolValue": false}},
            {"key": "null", "value": {}},
            {"key": "zero", "value": {"intValue": "0"}},
        ])
    );
}

#[test]
fn reads_what_the_spec_allows_and_a_little_more() {
    let body = br#"{
        "resourceLogs": [{
            "unknownField": {"deep": [1, 2, {"x": null}]},
            "resource": null,
            "scopeLogs": [{
                "logRecords": [{
                    "timeUnixNano": 1544712660300000000,
                    "observedTimeUnixNano": "1544712660300000001",
                    "severityNumber": "SEVERITY_NUMBER_WARN",
                    "severityText": null,
                    "traceId": "5B8EFFF798038103D269B633813FC60C",
                    "spanId": "eee19b7ec3c1b174",
                    "flags": "1",
                    "body": {"kvlistValue": {}},
                    "attributes": [
                        {"value": {"intValue": 10}},
                        {"key": "empty", "value": {"arrayValue": {}}},
                        {"key": "nan", "value": {"doubleValue": "NaN"}},
                        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
                        {"key": "bytes", "value": {"bytesValue": "_-8"}},
                        {"key": "padded", "value": {"bytesValue": "/+8="}},
                        {"key": "none", "value": {"futureValue": 1}}
                    ]
                }]
            }]
        }]
    }"#;
    let logs = decode_logs_json(body).unwrap();
    let log = &logs[0];
    assert_eq!(log.time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(log.observed_time_unix_nano, 1_544_712_660_300_000_001);
    assert_eq!(log.severity_number, 13);
    assert_eq!(log.severity_text, None);
    assert_eq!(
        log.trace_id.unwrap().to_hex(),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(log.span_id.unwrap().to_hex(), "eee19b7ec3c1b174");
    assert_eq!(log.flags, 1);
    assert_eq!(log.body, Value::Object(Default::default()));
    assert_eq!(log.resource, None);
    let a = &log.attributes;
    assert_eq!(a[""], Value::Integer(10));
    assert_eq!(a["empty"], Value::Array(Vec::new()));
    assert!(matches!(a["nan"], Value::Float(f) if f.is_nan()));
    assert_eq!(a["inf"], Value::Float(f64::NEG_INFINITY));
    assert_eq!(a["bytes"], Value::Bytes(vec![0xff, 0xef].into()));
    assert_eq!(a["padded"], Value::Bytes(vec![0xff, 0xef].into()));
    assert_eq!(a["none"], Value::Null);
}

#[test]
fn non_finite_doubles_are_written_as_names() {
    let log = LogRecord {
        body: Value::Array(vec![
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(-0.0),
        ]),
        ..LogRecord::default()
    };
    let json = encode_logs_json(&[log]);
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(text.contains(r#"{"doubleValue":"NaN"}"#), "{text}");
    assert!(text.contains(r#"{"doubleValue":"Infinity"}"#), "{text}");
    assert!(text.contains(r#"{"doubleValue":"-Infinity"}"#), "{text}");
    let back = decode_logs_json(&json).unwrap();
    // Bytes, not values: NaN is not equal to itself.
    assert_eq!(
        encode_logs(&back),
        encode_logs(&decode_logs_json(&json).unwrap())
    );
    let Value::Array(items) = &back[0].body else {
        panic!("{:?}", back[0].body);
    };
    assert!(matches!(items[0], Value::Float(f) if f.is_nan()));
    assert_eq!(items[1], Value::Float(f64::INFINITY));
    assert!(matches!(items[3], Value::Float(f) if f == 0.0 && f.is_sign_negative()));
}

#[test]
fn metrics_read_numbers_in_every_form() {
    let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"h","histogram":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA",
         "dataPoints":[{"count":3,"sum":"1.5","bucketCounts":[1,"2"],
                        "explicitBounds":["Infinity"],"min":"-Infinity"}]}},
        {"name":"g","gauge":{"dataPoints":[{"asInt":-5},{"asInt":"-6"},{"asDouble":"NaN"}]}}
    ]}]}]}"#;
    let points = decode_metrics_json(body).unwrap();
    assert_eq!(points.len(), 4);
    let MetricValue::Histogram {
        buckets,
        count,
        sum,
        min,
        ..
    } = &points[0].value
    else {
        panic!("{:?}", points[0].value);
    };
    assert_eq!(
        (buckets.len(), *count, *sum, *min),
        (2, 3, Some(1.5), Some(f64::NEG_INFINITY))
    );
    assert_eq!(points[0].temporality, logbridge_event::Temporality::Delta);
    assert_eq!(points[1].value, MetricValue::Integer(-5));
    assert_eq!(points[2].value, MetricValue::Integer(-6));
    assert!(matches!(points[3].value, MetricValue::Scalar(f) if f.is_nan()));
    // And NaN goes out as a name.
    let text = String::from_utf8(encode_metrics_json(&points)).unwrap();
    assert!(text.contains(r#""asDouble":"NaN""#), "{text}");
}

#[test]
fn malformed_input_is_an_error_with_a_message() {
    let cases: &[&[u8]] = &[
        b"",
        b"{",
        b"[]",
        b"\"resourceSpans\"",
        b"\xff\xfe",
        br#"{"resourceSpans": {}}"#,
        br#"{"resourceSpans": [1]}"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abc"}]}]}]}"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "zz"}]}]}]}"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "-1"}]}]}]}"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": 1.5}]}]}]}"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"flags": 4294967296}]}]}]}"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "SPAN_KIND_NOPE"}]}]}]}"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 1}]}]}]}"#,
        br#"{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": {"intValue": "x"}}]}}]}"#,
        br#"{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": {"doubleValue": "inf"}}]}}]}"#,
        br#"{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": {"bytesValue": "a"}}]}}]}"#,
        br#"{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": {"bytesValue": "a*=="}}]}}]}"#,
    ];
    for case in cases {
        let error = traces_request_from_json(case).unwrap_err();
        assert!(
            error.to_string().starts_with("invalid OTLP/JSON traces: "),
            "{error}"
        );
    }
    let error = traces_request_from_json(
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abc"}]}]}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid OTLP/JSON traces: `traceId` must be an even number of hex digits"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 100_000;
    let mut body = String::from(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"#);
    for _ in 0..depth {
        body.push_str(r#"{"arrayValue":{"values":["#);
    }
    for _ in 0..depth {
        body.push_str("]}}");
    }
    body.push_str("}]}]}]}");
    let error = decode_logs_json(body.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("recursion limit"), "{error}");

    // The deepest body serde_json's limit lets through (127 levels open at
    // once): the body opens the 8th, each array three more, and the
    // innermost `{}` one.
    let nested = |depth: usize| {
        let mut body = String::from(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"#);
        body.push_str(&r#"{"arrayValue":{"values":["#.repeat(depth));
        body.push_str("{}");
        body.push_str(&"]}}".repeat(depth));
        body.push_str("}]}]}]}");
        body
    };
    assert!(decode_logs_json(nested(39).as_bytes()).is_ok());
    assert!(decode_logs_json(nested(40).as_bytes()).is_err());
}

#[test]
fn anyvalue_with_several_members_takes_the_first_of_the_proto_file() {
    let body = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":
        {"intValue":"3","stringValue":"s"}}]}]}]}"#;
    let request = logs_request_from_json(body).unwrap();
    let any = request.resource_logs[0].scope_logs[0].log_records[0]
        .body
        .clone()
        .unwrap();
    assert_eq!(any.value, Some(Any::StringValue("s".into())));
}

fn records() -> impl Strategy<Value = Vec<LogRecord>> {
    let record = (value(), attributes()).prop_map(|(body, attributes)| LogRecord {
        body,
        attributes,
        ..LogRecord::default()
    });
    pooled(record, |log, resource, scope| {
        log.resource = resource;
        log.scope = scope;
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode_logs_json(&bytes);
        let _ = decode_traces_json(&bytes);
        let _ = decode_metrics_json(&bytes);
        let _ = metrics_request_from_json(&bytes);
    }

    #[test]
    fn damaged_json_never_panics(
        records in records(),
        edits in vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut bytes = encode_logs_json(&records);
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = decode_logs_json(&bytes);
    }

    #[test]
    fn logs_json_round_trip_is_identity(records in records()) {
        let json = encode_logs_json(&records);
        prop_assert_eq!(decode_logs_json(&json).unwrap(), records.clone());
        let request = logs_request_from_json(&json).unwrap();
        prop_assert_eq!(request, logs_to_request(&records));
        prop_assert_eq!(logs_request_from_json(&json).unwrap().encode_to_vec(), encode_logs(&records));
    }
}
