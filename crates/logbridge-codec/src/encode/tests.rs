//! Tests of the output codecs: data-driven cases per codec through one
//! helper, then round trips through the parsers.

use std::sync::Arc;

use bytes::Bytes;
use logbridge_event::{
    Bucket, Event, KeyString, LogRecord, Metric, MetricKind, MetricValue, ObjectMap, Quantile,
    Resource, Scope, Span, SpanEvent, SpanId, SpanKind, SpanLink, SpanStatus, StatusCode, TraceId,
    Value,
};
use proptest::prelude::*;

use super::*;
use crate::decode::{Parser, ParserConfig};

/// Encodes every event with `codec` and compares the line (without its
/// `\n`, which must be there) with the expected one.
fn check(codec: Codec, cases: &[(&Event, &str)]) {
    let encoder = Encoder::new(codec);
    for (event, expected) in cases {
        let mut out = b"previous line\n".to_vec();
        encoder.encode(event, &mut out);
        let line = out
            .strip_prefix(&b"previous line\n"[..])
            .and_then(|l| l.strip_suffix(b"\n"))
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(line),
            *expected,
            "{codec} of {event:?}"
        );
    }
}

fn obj(pairs: &[(&str, Value)]) -> ObjectMap {
    pairs
        .iter()
        .map(|(k, v)| (KeyString::new(k), v.clone()))
        .collect()
}

/// A parsed access log: body, attributes, time.
fn access_log() -> Event {
    let mut log = LogRecord::from_line(Bytes::from_static(b"GET /api done"), 5);
    log.time_unix_nano = 1_700_000_000_123_000_000;
    log.attributes = obj(&[
        ("status", Value::Integer(200)),
        ("duration_ms", Value::Float(12.5)),
        ("cached", Value::Bool(false)),
        (
            "http",
            Value::Object(obj(&[("method", "GET".into()), ("path", "/api".into())])),
        ),
        ("tags", Value::Array(vec!["a".into(), Value::Integer(1)])),
        ("user", Value::Null),
    ]);
    Event::Log(log)
}

fn odd_log() -> Event {
    let mut log = LogRecord::from_line(Bytes::from_static(b"bad \xff utf8\nsecond line"), 0);
    log.attributes = obj(&[
        ("nan", Value::Float(f64::NAN)),
        ("inf", Value::Float(f64::INFINITY)),
        ("quote", "say \"hi\" a=b".into()),
        ("empty", "".into()),
        ("key with space", "x".into()),
        ("", "no key".into()),
        ("at", Value::Timestamp(1_700_000_000_000_000_001)),
        ("nested", Value::Object(ObjectMap::new())),
        ("ctl", "a\u{1}b\tc".into()),
    ]);
    Event::Log(log)
}

/// An attribute named `timestamp` and one named `message` (hidden by the
/// body).
fn shadowing_log() -> Event {
    let mut log = LogRecord::from_line(Bytes::from_static(b"body"), 0);
    log.time_unix_nano = 1;
    log.attributes = obj(&[
        ("timestamp", "from the app".into()),
        ("message", "hidden".into()),
    ]);
    Event::Log(log)
}

fn object_body_log() -> Event {
    Event::Log(LogRecord {
        body: Value::Object(obj(&[("k", Value::Integer(1))])),
        ..LogRecord::default()
    })
}

fn empty_log() -> Event {
    Event::Log(LogRecord::default())
}

fn counter() -> Event {
    Event::Metric(
        Metric::counter("http_requests_total", 1027.0, 1_700_000_000_123_000_000)
            .with_label("code", "200")
            .with_label("path", "/a \"b\"\n"),
    )
}

fn histogram() -> Event {
    Event::Metric(Metric {
        name: "latency_seconds".into(),
        kind: MetricKind::Histogram,
        value: MetricValue::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 0.1,
                    count: 3,
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 1,
                },
            ],
            count: 4,
            sum: Some(0.75),
            min: None,
            max: None,
        },
        unit: "s".into(),
        resource: Some(Arc::new(Resource {
            attributes: obj(&[("service.name", "api".into())]),
            ..Resource::default()
        })),
        ..Metric::default()
    })
}

fn summary() -> Event {
    Event::Metric(Metric {
        name: "rpc".into(),
        kind: MetricKind::Summary,
        value: MetricValue::Summary {
            quantiles: vec![Quantile {
                quantile: 0.5,
                value: 1.5,
            }],
            count: 2,
            sum: 3.0,
        },
        time_unix_nano: 2_000_000,
        ..Metric::default()
    })
}

fn gauge_nan() -> Event {
    Event::Metric(Metric::gauge("temp", f64::NAN, 0))
}

fn span() -> Event {
    Event::Span(Box::new(Span {
        trace_id: TraceId([0xab; 16]),
        span_id: SpanId([1, 2, 3, 4, 5, 6, 7, 8]),
        parent_span_id: Some(SpanId([9; 8])),
        name: "GET /api".into(),
        kind: SpanKind::Server,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_012_345_678,
        attributes: obj(&[("http.status_code", Value::Integer(500))]),
        events: vec![SpanEvent {
            time_unix_nano: 1_700_000_000_001_000_000,
            name: "exception".into(),
            attributes: obj(&[("type", "Timeout".into())]),
            dropped_attributes_count: 0,
        }],
        links: vec![SpanLink {
            trace_id: TraceId([1; 16]),
            span_id: SpanId([2; 8]),
            ..SpanLink::default()
        }],
        status: SpanStatus {
            code: StatusCode::Error,
            message: "timeout".into(),
        },
        scope: Some(Arc::new(Scope {
            name: "tracer".into(),
            version: "1.0".into(),
            ..Scope::default()
        })),
        ..Span::default()
    }))
}

#[test]
fn json() {
    check(
        Codec::Json,
        &[
            (
                &access_log(),
                concat!(
                    r#"{"cached":false,"duration_ms":12.5,"http":{"method":"GET","path":"/api"},"#,
                    r#""message":"GET /api done","status":200,"tags":["a",1],"#,
                    r#""timestamp":"2023-11-14T22:13:20.123Z","user":null}"#
                ),
            ),
            (
                &odd_log(),
                concat!(
                    r#"{"":"no key","at":"2023-11-14T22:13:20.000000001Z","ctl":"a\u0001b\tc","#,
                    r#""empty":"","inf":"+Inf","key with space":"x","message":"bad � utf8\nsecond line","#,
                    r#""nan":"NaN","nested":{},"quote":"say \"hi\" a=b"}"#
                ),
            ),
            (
                &shadowing_log(),
                r#"{"message":"body","timestamp":"from the app"}"#,
            ),
            (&object_body_log(), r#"{"message":{"k":1}}"#),
            (&empty_log(), "{}"),
            (
                &counter(),
                concat!(
                    r#"{"kind":"counter","labels":{"code":"200","path":"/a \"b\"\n"},"#,
                    r#""name":"http_requests_total","temporality":"cumulative","#,
                    r#""timestamp":"2023-11-14T22:13:20.123Z","value":1027.0}"#
                ),
            ),
            (
                &histogram(),
                concat!(
                    r#"{"buckets":[{"count":3,"upper_bound":0.1},{"count":1,"upper_bound":"+Inf"}],"#,
                    r#""count":4,"kind":"histogram","labels":{},"name":"latency_seconds","#,
                    r#""resource":{"service.name":"api"},"sum":0.75,"temporality":"cumulative","unit":"s"}"#
                ),
            ),
            (
                &summary(),
                concat!(
                    r#"{"count":2,"kind":"summary","labels":{},"name":"rpc","#,
                    r#""quantiles":[{"quantile":0.5,"value":1.5}],"sum":3.0,"#,
                    r#""timestamp":"1970-01-01T00:00:00.002Z"}"#
                ),
            ),
            (
                &gauge_nan(),
                r#"{"kind":"gauge","labels":{},"name":"temp","value":"NaN"}"#,
            ),
            (
                &span(),
                concat!(
                    r#"{"attributes":{"http.status_code":500},"duration_ns":12345678,"#,
                    r#""end_timestamp":"2023-11-14T22:13:20.012345678Z","#,
                    r#""events":[{"attributes":{"type":"Timeout"},"name":"exception","timestamp":"2023-11-14T22:13:20.001Z"}],"#,
                    r#""kind":"server","links":[{"span_id":"0202020202020202","trace_id":"01010101010101010101010101010101"}],"#,
                    r#""name":"GET /api","parent_span_id":"0909090909090909","scope":{"name":"tracer","version":"1.0"},"#,
                    r#""span_id":"0102030405060708","start_timestamp":"2023-11-14T22:13:20Z","status":"error","#,
                    r#""status_message":"timeout","trace_id":"abababababababababababababababab"}"#
                ),
            ),
        ],
    );
}

#[test]
fn logfmt() {
    check(
        Codec::Logfmt,
        &[
            (
                &access_log(),
                concat!(
                    r#"cached=false duration_ms=12.5 http.method=GET http.path=/api "#,
                    r#"message="GET /api done" status=200 tags[0]=a tags[1]=1 "#,
                    r#"timestamp=2023-11-14T22:13:20.123Z user="#
                ),
            ),
            (
                &odd_log(),
                concat!(
                    r#"_="no key" at=2023-11-14T22:13:20.000000001Z ctl="a\u0001b\tc" empty="" inf=inf "#,
                    r#"key_with_space=x message="bad � utf8\nsecond line" nan=NaN nested={} "#,
                    r#"quote="say \"hi\" a=b""#
                ),
            ),
            (&shadowing_log(), r#"message=body timestamp="from the app""#),
            (&object_body_log(), "message.k=1"),
            (&empty_log(), ""),
            (
                &counter(),
                concat!(
                    r#"kind=counter labels.code=200 labels.path="/a \"b\"\n" name=http_requests_total "#,
                    r#"temporality=cumulative timestamp=2023-11-14T22:13:20.123Z value=1027.0"#
                ),
            ),
        ],
    );
}

#[test]
fn text() {
    check(
        Codec::Text,
        &[
            (&access_log(), "GET /api done"),
            (&odd_log(), "bad \u{fffd} utf8\nsecond line"),
            (&object_body_log(), r#"{"k":1}"#),
            (&empty_log(), ""),
            (
                &counter(),
                r#"http_requests_total{code="200",path="/a \"b\"\n"} 1027 1700000000123"#,
            ),
            (
                &histogram(),
                "latency_seconds count=4 sum=0.75 le=0.1:3,+Inf:1",
            ),
            (&summary(), "rpc count=2 sum=3 q=0.5:1.5 2"),
            (&gauge_nan(), "temp NaN"),
            (
                &span(),
                "GET /api abababababababababababababababab 0102030405060708 12.346ms",
            ),
        ],
    );
}

#[test]
fn text_writes_string_bodies_byte_for_byte() {
    let event = Event::Log(LogRecord::from_line(Bytes::from_static(b"a\xffb"), 0));
    let mut out = Vec::new();
    Encoder::new(Codec::Text).encode(&event, &mut out);
    assert_eq!(out, b"a\xffb\n");
}

/// An encoder from an `encoding` table, as a sink builds it.
fn configured(encoding: serde_json::Value) -> Result<Encoder, crate::encoding::EncodingError> {
    serde_json::from_value::<crate::encoding::EncodingConfig>(encoding)
        .unwrap()
        .encoder()
}

fn line(encoder: &Encoder, event: &Event) -> String {
    let mut out = Vec::new();
    encoder.encode(event, &mut out);
    String::from_utf8(out).unwrap().trim_end().to_owned()
}

#[test]
fn only_and_except_fields_and_timestamp_formats() {
    let log = access_log();
    let cases: &[(serde_json::Value, &str)] = &[
        (
            serde_json::json!({"codec": "json", "only_fields": ["status", "http.method", "timestamp"]}),
            r#"{"http":{"method":"GET"},"status":200,"timestamp":"2023-11-14T22:13:20.123Z"}"#,
        ),
        (
            serde_json::json!({"codec": "json", "except_fields": ["http", "tags", "user", "timestamp", "message"]}),
            r#"{"cached":false,"duration_ms":12.5,"status":200}"#,
        ),
        (
            serde_json::json!({"codec": "json", "only_fields": ["status", "timestamp"], "timestamp_format": "unix"}),
            r#"{"status":200,"timestamp":1700000000}"#,
        ),
        (
            serde_json::json!({"codec": "json", "only_fields": ["timestamp"], "timestamp_format": "unix_ms"}),
            r#"{"timestamp":1700000000123}"#,
        ),
        (
            serde_json::json!({"codec": "logfmt", "only_fields": ["timestamp"], "timestamp_format": "unix_float"}),
            "timestamp=1700000000.123",
        ),
        (
            serde_json::json!({"codec": "raw_message", "except_fields": ["status"]}),
            "GET /api done",
        ),
        (
            serde_json::json!({"codec": "ndjson", "only_fields": ["message"]}),
            r#"{"message":"GET /api done"}"#,
        ),
    ];
    for (encoding, expected) in cases {
        let encoder = configured(encoding.clone()).unwrap();
        assert_eq!(line(&encoder, &log), *expected, "{encoding}");
    }
    // The event itself is not changed, and metrics are written whole.
    let encoder = configured(serde_json::json!({"codec": "json", "only_fields": ["x"]})).unwrap();
    assert_eq!(line(&encoder, &log), "{}");
    assert_eq!(
        line(&encoder, &counter()),
        line(&Encoder::new(Codec::Json), &counter())
    );
    assert!(line(&Encoder::new(Codec::Json), &log).contains("\"status\":200"));
}

#[test]
fn times_inside_fields_follow_the_timestamp_format() {
    let log = LogRecord {
        attributes: obj(&[("seen", Value::Array(vec![Value::Timestamp(-1_500_000_000)]))]),
        ..LogRecord::default()
    };
    let encoder =
        configured(serde_json::json!({"codec": "json", "timestamp_format": "unix"})).unwrap();
    // Seconds are floored, as chrono counts them.
    assert_eq!(line(&encoder, &Event::Log(log)), r#"{"seen":[-2]}"#);
}

#[test]
fn encodings_logbridge_cannot_write_are_refused() {
    let err = configured(serde_json::json!({"codec": "csv"})).unwrap_err();
    assert_eq!(err.option, "encoding.codec");
    assert!(err.message.contains("no `csv` codec"), "{err:?}");
    let err = configured(
        serde_json::json!({"codec": "json", "only_fields": ["a"], "except_fields": ["a"]}),
    )
    .unwrap_err();
    assert_eq!(err.option, "encoding.except_fields");
    let err =
        configured(serde_json::json!({"codec": "json", "except_fields": ["a["]})).unwrap_err();
    assert!(err.message.contains("not a field path"), "{err:?}");
}

#[test]
fn codec_names() {
    for codec in [
        Codec::Json,
        Codec::Logfmt,
        Codec::Text,
        #[cfg(feature = "otlp")]
        Codec::OtlpJson,
        #[cfg(feature = "otlp")]
        Codec::Otlp,
    ] {
        assert_eq!(codec.to_string().parse::<Codec>(), Ok(codec));
        let from_config: Codec = serde_json::from_str(&format!("\"{codec}\"")).unwrap();
        assert_eq!(from_config, codec);
    }
    let error = "yaml".parse::<Codec>().unwrap_err().to_string();
    assert!(
        error.starts_with("unknown codec `yaml`, expected one of json, logfmt, text"),
        "{error}"
    );
}

fn encode(codec: Codec, event: &Event) -> Vec<u8> {
    let mut out = Vec::new();
    Encoder::new(codec).encode(event, &mut out);
    assert_eq!(out.pop(), Some(b'\n'));
    assert!(!out.contains(&b'\n'), "one line only");
    out
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::from),
        any::<i64>().prop_map(Value::Integer),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
    ]
}

proptest! {
    #[test]
    fn json_encode_then_parse_round_trips(
        attributes in prop::collection::btree_map(any::<String>(), scalar(), 0..8),
        body in prop::option::of(any::<String>()),
        time in any::<i64>(),
    ) {
        let log = LogRecord {
            attributes: attributes.into_iter().map(|(k, v)| (KeyString::from(k), v)).collect(),
            body: body.map(Value::from).unwrap_or_default(),
            time_unix_nano: time,
            ..LogRecord::default()
        };
        let line = encode(Codec::Json, &Event::Log(log.clone()));
        let parsed = Parser::new(&ParserConfig::Json).unwrap().parse(&line).unwrap();
        let mut expected = log.fields_object();
        if time != 0 && !expected.contains_key("timestamp") {
            expected.insert(
                "timestamp".into(),
                Value::Timestamp(time).to_string_lossy().into_owned().into(),
            );
        }
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn logfmt_encode_then_parse_round_trips(
        attributes in prop::collection::btree_map(
            "[a-zA-Z0-9_.@/-]{1,12}",
            any::<String>(),
            1..8,
        ),
    ) {
        let log = LogRecord {
            attributes: attributes
                .iter()
                .map(|(k, v)| (KeyString::new(k), Value::from(v.as_str())))
                .collect(),
            ..LogRecord::default()
        };
        let line = encode(Codec::Logfmt, &Event::Log(log.clone()));
        let parsed = Parser::new(&ParserConfig::Logfmt).unwrap().parse(&line).unwrap();
        prop_assert_eq!(parsed, log.attributes);
    }

    #[test]
    fn every_codec_writes_one_line(
        attributes in prop::collection::btree_map(any::<String>(), scalar(), 0..8),
    ) {
        let log = LogRecord {
            attributes: attributes.into_iter().map(|(k, v)| (KeyString::from(k), v)).collect(),
            ..LogRecord::default()
        };
        let event = Event::Log(log);
        // `encode` checks there is exactly one line.
        let _ = encode(Codec::Json, &event);
        let _ = encode(Codec::Logfmt, &event);
    }
}

/// Every OpenTelemetry field of a log, a metric and a span survives an
/// `otlp_json` line: decoded again, the events are equal; the line is one
/// export request with the spec's encodings (hex ids, 64-bit integers as
/// strings, enums as integers).
#[cfg(feature = "otlp")]
#[test]
fn regression_otlp_json_keeps_every_field() {
    let resource = Arc::new(Resource {
        attributes: obj(&[("service.name", "api".into())]),
        dropped_attributes_count: 2,
        schema_url: "https://opentelemetry.io/schemas/1.24.0".into(),
    });
    let scope = Arc::new(Scope {
        name: "lib".into(),
        version: "1.2".into(),
        attributes: obj(&[("s", "v".into())]),
        dropped_attributes_count: 1,
        schema_url: "https://opentelemetry.io/schemas/1.25.0".into(),
    });
    let log = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_001,
        observed_time_unix_nano: 1_700_000_000_000_000_002,
        severity_number: 17,
        severity_text: Some("ERROR".into()),
        event_name: Some("browser.page_view".into()),
        body: Value::from("boom"),
        attributes: obj(&[("big", Value::Integer(i64::MAX)), ("f", Value::Float(-0.0))]),
        dropped_attributes_count: 3,
        trace_id: Some(TraceId([0xab; 16])),
        span_id: Some(SpanId([0xcd; 8])),
        flags: 1,
        resource: Some(resource.clone()),
        scope: Some(scope.clone()),
        ..LogRecord::default()
    };
    let encoder = Encoder::new(Codec::OtlpJson);
    let mut out = Vec::new();
    encoder.encode(&Event::Log(log.clone()), &mut out);
    let line = out.strip_suffix(b"\n").unwrap();
    assert!(!line.contains(&b'\n'));
    let text = std::str::from_utf8(line).unwrap();
    for wire in [
        r#""traceId":"abababababababababababababababab""#,
        r#""spanId":"cdcdcdcdcdcdcdcd""#,
        r#""timeUnixNano":"1700000000000000001""#,
        r#""intValue":"9223372036854775807""#,
        r#""severityNumber":17"#,
        r#""eventName":"browser.page_view""#,
        r#""schemaUrl":"https://opentelemetry.io/schemas/1.24.0""#,
    ] {
        assert!(text.contains(wire), "{wire} not in {text}");
    }
    assert_eq!(logbridge_otlp::decode_logs_json(line).unwrap(), vec![log]);

    let Event::Metric(mut metric) = histogram() else {
        unreachable!()
    };
    metric.scope = Some(scope);
    metric.start_time_unix_nano = 5;
    metric.time_unix_nano = 9;
    let mut out = Vec::new();
    encoder.encode(&Event::Metric(metric.clone()), &mut out);
    let back = logbridge_otlp::decode_metrics_json(out.strip_suffix(b"\n").unwrap()).unwrap();
    assert_eq!(back, vec![metric]);

    let Event::Span(span) = span() else {
        unreachable!()
    };
    let mut out = Vec::new();
    encoder.encode(&Event::Span(span.clone()), &mut out);
    let back = logbridge_otlp::decode_traces_json(out.strip_suffix(b"\n").unwrap()).unwrap();
    assert_eq!(back, vec![*span]);
}

/// `otlp` writes the protobuf export request of each event, with no line
/// end after it, and it decodes back to the same record.
#[cfg(feature = "otlp")]
#[test]
fn otlp_records_are_protobuf_requests_without_a_line_end() {
    let encoder = Encoder::new(Codec::Otlp);
    assert!(Codec::Otlp.is_binary() && !Codec::OtlpJson.is_binary());
    let Event::Span(span) = span() else {
        unreachable!()
    };
    let mut out = Vec::new();
    encoder.encode(&Event::Span(span.clone()), &mut out);
    assert_eq!(logbridge_otlp::decode_traces(&out).unwrap(), vec![*span]);
    let log = LogRecord::from_line(bytes::Bytes::from_static(b"hi"), 7);
    let mut out = Vec::new();
    encoder.encode(&Event::Log(log.clone()), &mut out);
    assert_eq!(logbridge_otlp::decode_logs(&out).unwrap(), vec![log]);
    let Event::Metric(metric) = histogram() else {
        unreachable!()
    };
    let mut out = Vec::new();
    encoder.encode(&Event::Metric(metric.clone()), &mut out);
    assert_eq!(logbridge_otlp::decode_metrics(&out).unwrap(), vec![metric]);
    // Files and consoles write lines: they refuse it.
    let config: crate::encoding::EncodingConfig =
        serde_json::from_value(serde_json::json!({"codec": "otlp"})).unwrap();
    assert!(config.encoder().is_ok());
    let err = config.line_encoder().unwrap_err();
    assert!(err.message.contains("binary records"), "{err:?}");
}

/// The `json` view of metrics and spans keeps the schema URLs of their
/// resource and scope, and the scope's attributes.
#[test]
fn regression_json_keeps_schema_urls() {
    let resource = Arc::new(Resource {
        schema_url: "https://example.com/r".into(),
        ..Resource::default()
    });
    let scope = Arc::new(Scope {
        name: "lib".into(),
        attributes: obj(&[("k", "v".into())]),
        schema_url: "https://example.com/s".into(),
        ..Scope::default()
    });
    let mut metric = Metric::gauge("g", 1.0, 0);
    metric.resource = Some(resource.clone());
    metric.scope = Some(scope.clone());
    let Event::Span(mut span) = span() else {
        unreachable!()
    };
    span.resource = Some(resource);
    span.scope = Some(scope);
    for event in [Event::Metric(metric), Event::Span(span)] {
        let mut out = Vec::new();
        Encoder::new(Codec::Json).encode(&event, &mut out);
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.contains(r#""resource_schema_url":"https://example.com/r""#),
            "{line}"
        );
        assert!(
            line.contains(r#""scope":{"attributes":{"k":"v"},"name":"lib","schema_url":"https://example.com/s"}"#),
            "{line}"
        );
    }
}
