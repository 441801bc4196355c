//! Tests of the Zipkin JSON decoder on bodies shaped like py_zipkin's,
//! field by field, and on malformed input.

use std::sync::Arc;

use logbridge_event::{SpanId, SpanKind, StatusCode, Value};
use proptest::prelude::*;

use super::*;

/// Two spans of one request, as py_zipkin's v2 JSON encoder writes them.
const PY_ZIPKIN: &str = r#"[
  {"traceId": "0af7651916cd43dd8448eb211c80319c", "name": "get /cart", "parentId": null,
   "id": "b7ad6b7169203331", "kind": "SERVER", "timestamp": 1714564800123456, "duration": 2500,
   "debug": false, "shared": true,
   "localEndpoint": {"serviceName": "checkout", "ipv4": "10.0.0.7", "port": 8080},
   "remoteEndpoint": {"ipv6": "2001:db8::1", "port": 51234},
   "annotations": [{"timestamp": 1714564800124000, "value": "cache.miss"}],
   "tags": {"http.method": "GET", "http.status_code": "200", "caf\u00e9": "a\"b"}},
  {"traceId": "8448eb211c80319c", "name": "select", "parentId": "b7ad6b7169203331",
   "id": "00000000000000AB", "kind": "CLIENT", "timestamp": 1714564800124100, "duration": 800,
   "localEndpoint": {"serviceName": "checkout"},
   "remoteEndpoint": {"serviceName": "postgres", "ipv4": "10.0.0.9", "port": 5432},
   "tags": {"db.statement": "SELECT 1", "error": "connection reset"},
   "unknownField": {"nested": [1, 2, {"x": null}]}}
]"#;

fn s(v: &str) -> Value {
    Value::from(v)
}

#[test]
fn py_zipkin_body_maps_field_by_field() {
    let spans = decode_spans_json(PY_ZIPKIN.as_bytes()).unwrap();
    assert_eq!(spans.len(), 2);
    let (server, client) = (&spans[0], &spans[1]);

    assert_eq!(server.trace_id.to_hex(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(server.span_id.to_hex(), "b7ad6b7169203331");
    assert_eq!(server.parent_span_id, None);
    assert_eq!(server.name, "get /cart");
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.flags, 0);
    assert_eq!(server.start_time_unix_nano, 1_714_564_800_123_456_000);
    assert_eq!(server.end_time_unix_nano, 1_714_564_800_125_956_000);
    let a = &server.attributes;
    assert_eq!(a["http.method"], s("GET"));
    // Zipkin tags are strings, and stay strings.
    assert_eq!(a["http.status_code"], s("200"));
    assert_eq!(a["café"], s("a\"b"));
    assert_eq!(a["net.host.ip"], s("10.0.0.7"));
    assert_eq!(a["net.host.port"], Value::Integer(8080));
    assert_eq!(a["net.peer.ip"], s("2001:db8::1"));
    assert_eq!(a["net.peer.port"], Value::Integer(51234));
    assert_eq!(a["zipkin.shared"], Value::Bool(true));
    assert_eq!(a.len(), 8);
    assert_eq!(server.events.len(), 1);
    assert_eq!(server.events[0].name, "cache.miss");
    assert_eq!(server.events[0].time_unix_nano, 1_714_564_800_124_000_000);
    assert_eq!(server.status.code, StatusCode::Unset);

    assert_eq!(client.trace_id.to_hex(), "00000000000000008448eb211c80319c");
    assert_eq!(client.span_id, SpanId([0, 0, 0, 0, 0, 0, 0, 0xab]));
    assert_eq!(client.parent_span_id, Some(server.span_id));
    assert_eq!(client.kind, SpanKind::Client);
    assert_eq!(client.attributes["peer.service"], s("postgres"));
    assert_eq!(client.attributes["net.peer.ip"], s("10.0.0.9"));
    assert_eq!(client.status.code, StatusCode::Error);
    // Not "true": the tag holds the description, so it stays.
    assert_eq!(client.attributes["error"], s("connection reset"));

    let resource = server.resource.as_ref().unwrap();
    assert_eq!(resource.attributes["service.name"], s("checkout"));
    assert_eq!(resource.attributes.len(), 1);
    assert!(Arc::ptr_eq(resource, client.resource.as_ref().unwrap()));
}

#[test]
fn services_get_their_own_resource() {
    let body = r#"[
        {"traceId":"0000000000000001","id":"0000000000000001","localEndpoint":{"serviceName":"a"}},
        {"traceId":"0000000000000001","id":"0000000000000002","localEndpoint":{"serviceName":"b"}},
        {"traceId":"0000000000000001","id":"0000000000000003","localEndpoint":{"serviceName":"a"}},
        {"traceId":"0000000000000001","id":"0000000000000004"}]"#;
    let spans = decode_spans_json(body.as_bytes()).unwrap();
    let r: Vec<_> = spans.iter().map(|s| s.resource.clone().unwrap()).collect();
    assert!(Arc::ptr_eq(&r[0], &r[2]));
    assert!(!Arc::ptr_eq(&r[0], &r[1]));
    assert_eq!(r[1].attributes["service.name"], s("b"));
    assert!(r[3].attributes.is_empty());
}

#[test]
fn status_kind_and_tracestate_tags() {
    let body = r#"[{"traceId":"0000000000000001","id":"0000000000000002","parentId":"0000000000000002",
        "tags":{"otel.status_code":"STATUS_CODE_ERROR","otel.status_description":"boom","error":"true",
                "span.kind":"internal","w3c.tracestate":"vendor=1","keep":"x"}}]"#;
    let span = &decode_spans_json(body.as_bytes()).unwrap()[0];
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.status.message, "boom");
    assert_eq!(span.kind, SpanKind::Internal);
    assert_eq!(span.trace_state, "vendor=1");
    // A span naming itself as parent is a root.
    assert_eq!(span.parent_span_id, None);
    // No timestamp: starts at zero, and says so.
    assert_eq!(span.start_time_unix_nano, 0);
    assert_eq!(
        span.attributes["otel.zipkin.absentField.startTime"],
        Value::Bool(true)
    );
    assert_eq!(span.attributes["keep"], s("x"));
    assert_eq!(span.attributes.len(), 2);

    let body = r#"[{"traceId":"0000000000000001","id":"0000000000000002","kind":"PRODUCER","debug":true,
        "parentId":"0000000000000000","tags":{"otel.status_code":"Ok","span.kind":"client"}}]"#;
    let span = &decode_spans_json(body.as_bytes()).unwrap()[0];
    assert_eq!(span.status.code, StatusCode::Ok);
    assert_eq!(span.kind, SpanKind::Producer);
    assert_eq!(span.flags, 1);
    assert_eq!(span.parent_span_id, None);
    // The explicit kind won, so the tag stays.
    assert_eq!(span.attributes["span.kind"], s("client"));
}

#[test]
fn empty_and_null_fields() {
    assert!(decode_spans_json(b" [ ] ").unwrap().is_empty());
    let body = r#"[{"traceId":"0000000000000001","id":"0000000000000002","name":null,
        "annotations":null,"tags":null,"localEndpoint":null,"kind":null}]"#;
    let span = &decode_spans_json(body.as_bytes()).unwrap()[0];
    assert_eq!(span.name, "");
    assert!(span.events.is_empty());
}

#[test]
fn invalid_ids_name_the_span() {
    let cases = [
        (
            r#"{"id":"0000000000000002"}"#,
            "span 1: invalid traceId: missing",
        ),
        (
            r#"{"traceId":"00000000000000001","id":"0000000000000002"}"#,
            "span 1: invalid traceId: wrong length",
        ),
        (
            r#"{"traceId":"000000000000000g","id":"0000000000000002"}"#,
            "span 1: invalid traceId: not hex",
        ),
        (
            r#"{"traceId":"0000000000000000","id":"0000000000000002"}"#,
            "span 1: invalid traceId: all zeroes",
        ),
        (
            r#"{"traceId":"0000000000000001","id":"02"}"#,
            "span 1: invalid id: wrong length",
        ),
        (
            r#"{"traceId":"0000000000000001","id":"0000000000000000"}"#,
            "span 1: invalid id: all zeroes",
        ),
        (
            r#"{"traceId":"0000000000000001","id":"0000000000000002","parentId":"xyz"}"#,
            "span 1: invalid parentId: wrong length",
        ),
    ];
    for (span, message) in cases {
        let body = format!(r#"[{{"traceId":"0000000000000001","id":"0000000000000001"}},{span}]"#);
        let err = decode_spans_json(body.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), message, "{span}");
    }
}

#[test]
fn malformed_json_fails() {
    for body in [
        "",
        "{}",
        "[",
        "[1]",
        r#"[{"traceId":"0000000000000001","id":"0000000000000001","tags":{"n":1}}]"#,
        r#"[{"traceId":"0000000000000001","id":"0000000000000001","timestamp":"now"}]"#,
        r#"[{"traceId":"0000000000000001","id":"0000000000000001"}] x"#,
        r#"[{"traceId":"0000000000000001","id":"0000000000000001","annotations":{}}]"#,
    ] {
        let err = decode_spans_json(body.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{body}: {err}");
    }
    let err = decode_spans_json(
        br#"[{"traceId":"0000000000000001","id":"0000000000000001"},{"tags":{"n":true}}]"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid zipkin json in span 1: "),
        "{err}"
    );
    // Deep nesting in an ignored field is skipped without recursion (so
    // without risk to the stack); unbalanced, it fails.
    let deep = |open: usize, close: usize| {
        format!(
            r#"[{{"traceId":"0000000000000001","id":"0000000000000001","x":{}{}}}]"#,
            "[".repeat(open),
            "]".repeat(close)
        )
    };
    assert!(decode_spans_json(deep(100_000, 100_000).as_bytes()).is_ok());
    assert!(decode_spans_json(deep(100_000, 99_999).as_bytes()).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_spans_json(&bytes);
    }

    #[test]
    fn mutated_bodies_never_panic(at in any::<prop::sample::Index>(), byte: u8) {
        let mut body = PY_ZIPKIN.as_bytes().to_vec();
        let i = at.index(body.len());
        body[i] = byte;
        let _ = decode_spans_json(&body);
    }

    #[test]
    fn generated_tags_and_ids_round_trip(
        trace in "[0-9a-f]{31}[1-9a-f]",
        id in "[0-9a-f]{15}[1-9a-f]",
        tags in proptest::collection::btree_map("[a-z]{1,3}\\.[a-z]{1,12}", "[ -~]{0,20}", 0..10),
        ts in 1..i64::MAX / 2000,
    ) {
        let tags_json = serde_json::to_string(&tags).unwrap();
        let body = format!(r#"[{{"traceId":"{trace}","id":"{id}","timestamp":{ts},"tags":{tags_json}}}]"#);
        let span = decode_spans_json(body.as_bytes()).unwrap().remove(0);
        prop_assert_eq!(span.trace_id.to_hex(), trace);
        prop_assert_eq!(span.span_id.to_hex(), id);
        prop_assert_eq!(span.start_time_unix_nano, ts * 1000);
        prop_assert_eq!(span.attributes.len(), tags.len());
        for (k, v) in &tags {
            prop_assert_eq!(span.attributes[k.as_str()].as_str(), Some(v.as_str()));
        }
    }
}
