//! Tests of the Jaeger decoders: payloads built with the test writer, shaped
//! like what jaeger-client-python sends, field by field; generated batches
//! against an independent statement of the mapping; malformed input.

use std::sync::Arc;

use logbridge_event::{ObjectMap, Span, SpanId, SpanKind, StatusCode, TraceId, Value};
use proptest::prelude::*;

use super::*;
use crate::thrift::writer::{
    JBatch, JLog, JRef, JSpan, JTag, JValue, Proto, WTy, Writer, encode_batch, encode_emit_batch,
    write_batch, write_span,
};

/// Decodes with every entry point that takes this payload shape.
fn decode_all(batch: &JBatch) -> Vec<Span> {
    let compact = decode_emit_batch_compact(&encode_emit_batch(batch, Proto::Compact)).unwrap();
    let binary = decode_batch_binary(&encode_batch(batch, Proto::Binary)).unwrap();
    let bare_compact = decode_batch_compact(&encode_batch(batch, Proto::Compact)).unwrap();
    let emit_binary = decode_emit_batch_binary(&encode_emit_batch(batch, Proto::Binary)).unwrap();
    assert_eq!(compact, binary);
    assert_eq!(compact, bare_compact);
    assert_eq!(compact, emit_binary);
    compact
}

/// A span as jaeger-client-python reports a Flask request.
fn python_span() -> JSpan {
    JSpan {
        low: 0x8448eb211c80319c_u64 as i64,
        high: 0,
        id: 0x0102030405060708,
        parent: 0,
        name: "GET /cart".into(),
        refs: None,
        flags: 1,
        start: 1_714_564_800_123_456,
        duration: 2_500,
        tags: Some(vec![
            JTag::str("sampler.type", "const"),
            JTag::new("sampler.param", JValue::Bool(true)),
            JTag::str("span.kind", "server"),
            JTag::str("component", "Flask"),
            JTag::str("http.method", "GET"),
            JTag::new("http.status_code", JValue::Long(200)),
            JTag::new("ratio", JValue::Double(0.25)),
            JTag::new("payload", JValue::Binary(vec![0, 159, 255])),
        ]),
        logs: Some(vec![JLog {
            timestamp: 1_714_564_800_124_000,
            fields: vec![
                JTag::str("event", "cache.miss"),
                JTag::str("key", "cart:42"),
            ],
        }]),
    }
}

fn python_batch(spans: Vec<JSpan>) -> JBatch {
    JBatch {
        service: "checkout".into(),
        process_tags: Some(vec![
            JTag::str("jaeger.version", "Python-4.8.0"),
            JTag::str("hostname", "web-1"),
            JTag::str("ip", "10.0.0.7"),
        ]),
        spans,
    }
}

fn s(v: &str) -> Value {
    Value::from(v)
}

#[test]
fn python_client_span_maps_field_by_field() {
    let spans = decode_all(&python_batch(vec![python_span()]));
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    let mut trace = [0u8; 16];
    trace[8..].copy_from_slice(&0x8448eb211c80319c_u64.to_be_bytes());
    assert_eq!(span.trace_id, TraceId(trace));
    assert_eq!(span.span_id, SpanId([1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(span.parent_span_id, None);
    assert_eq!(span.name, "GET /cart");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.flags, 1);
    assert_eq!(span.start_time_unix_nano, 1_714_564_800_123_456_000);
    assert_eq!(span.end_time_unix_nano, 1_714_564_800_125_956_000);
    let a = &span.attributes;
    assert_eq!(a.get("span.kind"), None);
    assert_eq!(a["sampler.type"], s("const"));
    assert_eq!(a["sampler.param"], Value::Bool(true));
    assert_eq!(a["http.status_code"], Value::Integer(200));
    assert_eq!(a["ratio"], Value::Float(0.25));
    assert_eq!(a["payload"], Value::Bytes(vec![0, 159, 255].into()));
    assert_eq!(a.len(), 7);
    assert_eq!(span.status.code, StatusCode::Unset);

    assert_eq!(span.events.len(), 1);
    let event = &span.events[0];
    assert_eq!(event.name, "cache.miss");
    assert_eq!(event.time_unix_nano, 1_714_564_800_124_000_000);
    assert_eq!(event.attributes.len(), 1);
    assert_eq!(event.attributes["key"], s("cart:42"));

    let resource = span.resource();
    assert_eq!(resource.attributes["service.name"], s("checkout"));
    assert_eq!(resource.attributes["host.name"], s("web-1"));
    assert_eq!(resource.attributes["ip"], s("10.0.0.7"));
    assert_eq!(
        resource.attributes["opencensus.exporterversion"],
        s("Jaeger-Python-4.8.0")
    );
    assert!(!resource.attributes.contains_key("hostname"));
    assert!(!resource.attributes.contains_key("jaeger.version"));
}

#[test]
fn spans_of_a_batch_share_one_resource() {
    let mut second = python_span();
    second.id = 9;
    let spans = decode_all(&python_batch(vec![python_span(), second]));
    let (a, b) = (
        spans[0].resource.as_ref().unwrap(),
        spans[1].resource.as_ref().unwrap(),
    );
    assert!(Arc::ptr_eq(a, b));
}

#[test]
fn trace_id_halves_are_big_endian() {
    let mut span = python_span();
    span.high = 0x1112131415161718;
    span.low = -1;
    let spans = decode_all(&python_batch(vec![span]));
    assert_eq!(
        spans[0].trace_id.to_hex(),
        "1112131415161718ffffffffffffffff"
    );
}

#[test]
fn references_become_parent_and_links() {
    let child_of = |span| JRef {
        kind: 0,
        low: 0x8448eb211c80319c_u64 as i64,
        high: 0,
        span,
    };
    let follows = JRef {
        kind: 1,
        low: 77,
        high: 66,
        span: 55,
    };
    // No parentSpanId: the CHILD_OF reference is the parent, the other a link.
    let mut span = python_span();
    span.refs = Some(vec![follows, child_of(44)]);
    let spans = decode_all(&python_batch(vec![span.clone()]));
    assert_eq!(spans[0].parent_span_id, Some(SpanId(44i64.to_be_bytes())));
    assert_eq!(spans[0].links.len(), 1);
    let link = &spans[0].links[0];
    assert_eq!(link.span_id, SpanId(55i64.to_be_bytes()));
    assert_eq!(link.trace_id.to_hex(), "0000000000000042000000000000004d");
    assert_eq!(link.attributes["opentracing.ref_type"], s("follows_from"));

    // An explicit parent wins; a CHILD_OF to another span stays a link.
    span.parent = 43;
    let spans = decode_all(&python_batch(vec![span.clone()]));
    assert_eq!(spans[0].parent_span_id, Some(SpanId(43i64.to_be_bytes())));
    assert_eq!(spans[0].links.len(), 2);
    assert_eq!(
        spans[0].links[1].attributes["opentracing.ref_type"],
        s("child_of")
    );

    // Only a FOLLOWS_FROM in the same trace: it is the parent, and a link.
    span.parent = 0;
    span.refs = Some(vec![JRef {
        kind: 1,
        ..child_of(45)
    }]);
    let spans = decode_all(&python_batch(vec![span]));
    assert_eq!(spans[0].parent_span_id, Some(SpanId(45i64.to_be_bytes())));
    assert_eq!(spans[0].links.len(), 1);
}

fn with_tags(tags: Vec<JTag>) -> Span {
    let mut span = python_span();
    span.tags = Some(tags);
    decode_all(&python_batch(vec![span])).remove(0)
}

#[test]
fn error_tag_sets_error_status() {
    let span = with_tags(vec![
        JTag::new("error", JValue::Bool(true)),
        JTag::str("otel.status_description", "boom"),
        JTag::str("http.status_message", "Bad Gateway"),
    ]);
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.status.message, "boom");
    assert_eq!(span.attributes.get("error"), None);
    assert_eq!(span.attributes.get("otel.status_description"), None);
    assert_eq!(span.attributes["http.status_message"], s("Bad Gateway"));

    let span = with_tags(vec![
        JTag::new("error", JValue::Bool(true)),
        JTag::str("http.status_message", "Bad Gateway"),
        JTag::str("otel.status_code", "OK"),
    ]);
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.status.message, "Bad Gateway");
    // Dropped even though the error tag decided.
    assert_eq!(span.attributes.get("otel.status_code"), None);

    // error=false is just an attribute.
    let span = with_tags(vec![JTag::new("error", JValue::Bool(false))]);
    assert_eq!(span.status.code, StatusCode::Unset);
    assert_eq!(span.attributes["error"], Value::Bool(false));
}

#[test]
fn otel_status_code_tag() {
    let span = with_tags(vec![
        JTag::str("otel.status_code", "ERROR"),
        JTag::str("otel.status_description", "timeout"),
    ]);
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.status.message, "timeout");
    assert!(span.attributes.is_empty());
    let span = with_tags(vec![JTag::str("otel.status_code", "ok")]);
    assert_eq!(span.status.code, StatusCode::Ok);
}

#[test]
fn http_status_code_fallback() {
    let code = |kind: &str, status: i64| {
        with_tags(vec![
            JTag::str("span.kind", kind),
            JTag::new("http.status_code", JValue::Long(status)),
            JTag::str("http.status_message", "msg"),
        ])
        .status
    };
    assert_eq!(code("server", 500).code, StatusCode::Error);
    assert_eq!(code("server", 500).message, "msg");
    assert_eq!(code("server", 404).code, StatusCode::Unset);
    assert_eq!(code("client", 404).code, StatusCode::Error);
    assert_eq!(code("client", 200).code, StatusCode::Unset);
    let span = with_tags(vec![JTag::str("http.status_code", "503")]);
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.attributes["http.status_code"], s("503"));
}

#[test]
fn span_kind_values() {
    for (text, kind) in [
        ("client", SpanKind::Client),
        ("server", SpanKind::Server),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
        ("other", SpanKind::Unspecified),
    ] {
        let span = with_tags(vec![JTag::str("span.kind", text)]);
        assert_eq!(span.kind, kind, "{text}");
        assert!(span.attributes.is_empty());
    }
}

#[test]
fn duplicate_tags_last_wins() {
    let span = with_tags(vec![
        JTag::str("k", "first"),
        JTag::str("span.kind", "client"),
        JTag::str("k", "second"),
        JTag::str("span.kind", "producer"),
    ]);
    assert_eq!(span.attributes["k"], s("second"));
    assert_eq!(span.kind, SpanKind::Producer);
    assert_eq!(span.attributes.len(), 1);
}

#[test]
fn log_without_event_has_no_name() {
    let mut span = python_span();
    span.logs = Some(vec![JLog {
        timestamp: 5,
        fields: vec![
            JTag::str("message", "hello"),
            JTag::new("event", JValue::Long(3)),
        ],
    }]);
    let spans = decode_all(&python_batch(vec![span]));
    let event = &spans[0].events[0];
    assert_eq!(event.name, "");
    assert_eq!(event.time_unix_nano, 5000);
    assert_eq!(event.attributes.len(), 1);
}

#[test]
fn unknown_fields_and_empty_process_are_fine() {
    let batch = JBatch {
        service: String::new(),
        process_tags: None,
        spans: vec![python_span()],
    };
    // Batch.seqNo (3) and an unknown struct (9) after the known fields.
    for proto in [Proto::Compact, Proto::Binary] {
        let mut buf = encode_batch(&batch, proto);
        buf.pop();
        let mut w = Writer::new(proto);
        w.begin_struct();
        w.field(2, WTy::Binary); // Moves the compact delta base to 2.
        let skip = w.buf.len();
        w.field(3, WTy::I64);
        w.i64(7);
        w.field(9, WTy::Struct);
        w.begin_struct();
        w.field(1, WTy::Map);
        w.map(WTy::Binary, WTy::Double, 1);
        w.binary(b"x");
        w.double(1.0);
        w.end_struct();
        w.end_struct();
        buf.extend(&w.buf[skip..]);
        let decode = match proto {
            Proto::Compact => decode_batch_compact,
            Proto::Binary => decode_batch_binary,
        };
        let spans = decode(&buf).unwrap();
        assert_eq!(spans.len(), 1);
        assert!(spans[0].resource().attributes.is_empty());
    }
}

/// Tags in another layout than the usual one go the general way, with the
/// same result.
#[test]
fn tags_in_any_field_order_decode_alike() {
    for proto in [Proto::Compact, Proto::Binary] {
        let mut w = Writer::new(proto);
        w.begin_struct();
        w.field(1, WTy::Struct);
        w.begin_struct();
        w.field(1, WTy::Binary);
        w.binary(b"svc");
        w.field(2, WTy::List);
        w.list(WTy::Struct, 3);
        // Value first, then type, then key.
        w.begin_struct();
        w.field(6, WTy::I64);
        w.i64(-5);
        w.field(2, WTy::I32);
        w.i32(3);
        w.field(1, WTy::Binary);
        w.binary(b"long");
        w.end_struct();
        // An unknown field after the value.
        w.begin_struct();
        w.field(1, WTy::Binary);
        w.binary(b"str");
        w.field(2, WTy::I32);
        w.i32(0);
        w.field(3, WTy::Binary);
        w.binary(b"v");
        w.field(20, WTy::I16);
        w.i16(1);
        w.end_struct();
        // A string tag without its value field.
        w.begin_struct();
        w.field(1, WTy::Binary);
        w.binary(b"empty");
        w.field(2, WTy::I32);
        w.i32(0);
        w.end_struct();
        w.end_struct();
        w.field(2, WTy::List);
        w.list(WTy::Struct, 1);
        write_span(&mut w, &python_span());
        w.end_struct();
        let decode = match proto {
            Proto::Compact => decode_batch_compact,
            Proto::Binary => decode_batch_binary,
        };
        let spans = decode(&w.buf).unwrap();
        let r = &spans[0].resource().attributes;
        assert_eq!(r["long"], Value::Integer(-5), "{proto:?}");
        assert_eq!(r["str"], s("v"));
        assert_eq!(r["empty"], s(""));
    }
}

#[test]
fn all_zero_spans_are_dropped() {
    let spans = decode_all(&python_batch(vec![JSpan::default(), python_span()]));
    assert_eq!(spans.len(), 1);
}

#[test]
fn method_and_header_are_checked() {
    let mut w = Writer::new(Proto::Compact);
    w.message("emitZipkinBatch", 4, 1);
    w.begin_struct();
    w.end_struct();
    let err = decode_emit_batch_compact(&w.buf).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unexpected thrift method \"emitZipkinBatch\", expected \"emitBatch\""
    );
    let err = decode_emit_batch_compact(b"\x80\x01\x00\x04").unwrap_err();
    assert!(matches!(err, Error::MessageHeader { .. }), "{err}");
    // A reply is not a call.
    let mut w = Writer::new(Proto::Compact);
    w.message("emitBatch", 2, 1);
    let err = decode_emit_batch_compact(&w.buf).unwrap_err();
    assert!(matches!(err, Error::MessageHeader { .. }), "{err}");
}

#[test]
fn missing_required_fields_and_wrong_types_fail() {
    // A span without an operation name.
    let mut w = Writer::new(Proto::Binary);
    w.begin_struct();
    w.field(2, WTy::List);
    w.list(WTy::Struct, 1);
    w.begin_struct();
    w.field(1, WTy::I64);
    w.i64(1);
    w.end_struct();
    w.end_struct();
    let err = decode_batch_binary(&w.buf).unwrap_err();
    assert!(
        matches!(err, Error::MissingField { strukt: "Span", .. }),
        "{err}"
    );

    // A batch without spans.
    let mut w = Writer::new(Proto::Binary);
    w.begin_struct();
    w.field(1, WTy::Struct);
    w.begin_struct();
    w.field(1, WTy::Binary);
    w.binary(b"svc");
    w.end_struct();
    w.end_struct();
    let err = decode_batch_binary(&w.buf).unwrap_err();
    assert_eq!(err.to_string(), "missing required field spans of Batch");

    // The service name as an i32.
    let mut w = Writer::new(Proto::Compact);
    w.begin_struct();
    w.field(1, WTy::Struct);
    w.begin_struct();
    w.field(1, WTy::I32);
    w.i32(5);
    w.end_struct();
    w.end_struct();
    let err = decode_batch_compact(&w.buf).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field serviceName of Process has thrift type i32, expected binary"
    );
}

#[test]
fn truncations_and_huge_counts_fail() {
    let batch = python_batch(vec![python_span(), python_span()]);
    for proto in [Proto::Compact, Proto::Binary] {
        let full = encode_emit_batch(&batch, proto);
        for cut in 0..full.len() {
            let r = match proto {
                Proto::Compact => decode_emit_batch_compact(&full[..cut]),
                Proto::Binary => decode_emit_batch_binary(&full[..cut]),
            };
            assert!(r.is_err(), "{proto:?} cut at {cut}");
        }
        // A span list claiming a billion entries.
        let mut w = Writer::new(proto);
        w.begin_struct();
        w.field(2, WTy::List);
        w.list(WTy::Struct, 1 << 30);
        let r = match proto {
            Proto::Compact => decode_batch_compact(&w.buf),
            Proto::Binary => decode_batch_binary(&w.buf),
        };
        assert!(matches!(r, Err(Error::Length { .. })), "{proto:?}: {r:?}");
    }
}

#[test]
fn deep_unknown_nesting_fails() {
    let mut w = Writer::new(Proto::Compact);
    w.begin_struct();
    for _ in 0..1000 {
        w.field(9, WTy::Struct);
        w.begin_struct();
    }
    let err = decode_batch_compact(&w.buf).unwrap_err();
    assert!(matches!(err, Error::TooDeep { .. }), "{err}");
}

// ---- generated batches --------------------------------------------------

fn tag_value() -> impl Strategy<Value = JValue> {
    prop_oneof![
        "[a-z0-9 /._-]{0,24}".prop_map(JValue::Str),
        (-1e9f64..1e9).prop_map(JValue::Double),
        any::<bool>().prop_map(JValue::Bool),
        any::<i64>().prop_map(JValue::Long),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(JValue::Binary),
    ]
}

/// Keys without a mapping meaning, so the expected attributes are plain.
fn tags() -> impl Strategy<Value = Vec<JTag>> {
    proptest::collection::vec(
        ("[a-z]{1,3}(\\.[a-z_]{1,30})?", tag_value()).prop_map(|(key, value)| JTag { key, value }),
        0..12,
    )
}

fn span() -> impl Strategy<Value = JSpan> {
    (
        (any::<i64>(), any::<i64>(), 1..i64::MAX, any::<i64>()),
        "[A-Za-z /{}]{0,40}",
        0..3i32,
        (0..4_000_000_000_000_000i64, 0..1_000_000_000i64),
        tags(),
        proptest::collection::vec((0..i64::MAX / 2000, tags()), 0..3),
    )
        .prop_map(
            |((low, high, id, parent), name, flags, (start, duration), tags, logs)| JSpan {
                low,
                high,
                id,
                parent,
                name,
                refs: None,
                flags,
                start,
                duration,
                tags: Some(tags),
                logs: Some(
                    logs.into_iter()
                        .map(|(timestamp, fields)| JLog { timestamp, fields })
                        .collect(),
                ),
            },
        )
}

fn plain(v: &JValue) -> Value {
    match v {
        JValue::Str(s) => Value::from(s.as_str()),
        JValue::Double(d) => Value::Float(*d),
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Long(l) => Value::Integer(*l),
        JValue::Binary(b) => Value::Bytes(b.clone().into()),
    }
}

fn map(tags: &[JTag]) -> ObjectMap {
    tags.iter()
        .map(|t| (t.key.as_str().into(), plain(&t.value)))
        .collect()
}

/// The mapping, stated independently for spans without special tags.
fn expected(b: &JSpan) -> Span {
    let mut trace = [0u8; 16];
    trace[..8].copy_from_slice(&b.high.to_be_bytes());
    trace[8..].copy_from_slice(&b.low.to_be_bytes());
    Span {
        trace_id: TraceId(trace),
        span_id: SpanId(b.id.to_be_bytes()),
        parent_span_id: (b.parent != 0).then(|| SpanId(b.parent.to_be_bytes())),
        flags: u32::from(b.flags != 0),
        name: b.name.as_str().into(),
        start_time_unix_nano: b.start * 1000,
        end_time_unix_nano: (b.start + b.duration) * 1000,
        attributes: map(b.tags.as_deref().unwrap_or_default()),
        events: b
            .logs
            .iter()
            .flatten()
            .map(|l| logbridge_event::SpanEvent {
                time_unix_nano: l.timestamp * 1000,
                attributes: map(&l.fields),
                ..Default::default()
            })
            .collect(),
        ..Span::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_batches_decode_to_expected_spans(service in "[a-z-]{1,16}", spans in proptest::collection::vec(span(), 0..6)) {
        let batch = JBatch { service: service.clone(), process_tags: None, spans };
        let got = decode_all(&batch);
        prop_assert_eq!(got.len(), batch.spans.len());
        let count = batch_binary_span_count(&encode_batch(&batch, Proto::Binary)).unwrap();
        prop_assert_eq!(count, batch.spans.len());
        for (g, b) in got.iter().zip(&batch.spans) {
            prop_assert_eq!(g.resource().attributes["service.name"].as_str(), Some(service.as_str()));
            let g = Span { resource: None, ..g.clone() };
            prop_assert_eq!(g, expected(b));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_emit_batch_compact(&bytes);
        let _ = decode_batch_compact(&bytes);
        let _ = decode_batch_binary(&bytes);
        let _ = decode_emit_batch_binary(&bytes);
        let _ = batch_binary_span_count(&bytes);
    }

    /// Corrupting one byte of a valid payload: decodes or fails, no panic.
    #[test]
    fn mutated_payloads_never_panic(at in any::<prop::sample::Index>(), byte: u8) {
        let batch = python_batch(vec![python_span()]);
        for proto in [Proto::Compact, Proto::Binary] {
            let mut buf = encode_emit_batch(&batch, proto);
            let i = at.index(buf.len());
            buf[i] = byte;
            let _ = decode_emit_batch_compact(&buf);
            let _ = decode_emit_batch_binary(&buf);
            let mut w = Writer::new(proto);
            write_batch(&mut w, &batch);
            let i = at.index(w.buf.len());
            w.buf[i] = byte;
            let _ = decode_batch_binary(&w.buf);
            let _ = decode_batch_compact(&w.buf);
        }
    }
}
