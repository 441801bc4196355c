//! The peer suite's OTLP/JSON examples (`shared/peer/otlp-json`, from
//! opentelemetry-proto): every file must decode, come back out of the
//! events as the same JSON, and its request must round-trip through
//! protobuf (to the same events, and to the same request up to the order
//! of key-value lists).
//!
//! "The same JSON" is compared after a normalisation that only removes
//! what JSON lets two encoders write differently for one message:
//! - members at their default (`null`, `""`, `0`, `false`, `[]`) are
//!   dropped, since proto3 JSON may write or leave out a default; empty
//!   objects are kept, because an empty message is not an absent one;
//! - numbers compare as doubles (`5` and `5.0` are one double);
//! - trace and span ids compare in lower case (hex is case-insensitive);
//! - key-value lists (attributes, `kvlistValue`s) compare sorted by key:
//!   OTLP defines them as maps, whose order means nothing, and logbridge
//!   keeps them as sorted maps.
//!
//! Nothing else is normalised: a 64-bit integer written as a string stays
//! a string, so a number where the spec wants a string would fail.

use std::path::PathBuf;

use prost::Message;
use serde_json::Value;

use crate::{
    decode_logs, decode_metrics, decode_traces, encode_logs, encode_logs_json, encode_metrics,
    encode_metrics_json, encode_traces, encode_traces_json, logs_from_request,
    logs_request_from_json, logs_request_to_json, logs_to_request, metrics_from_request,
    metrics_request_from_json, metrics_request_to_json, metrics_to_request, spans_from_request,
    spans_to_request, traces_request_from_json, traces_request_to_json,
};

fn peer_dir() -> PathBuf {
    // Canonical first: the crate may be reached through a symlink.
    let manifest = std::fs::canonicalize(env!("CARGO_MANIFEST_DIR")).unwrap();
    manifest.join("../../../shared/peer/otlp-json")
}

fn normalise(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !is_default(v))
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) if k.ends_with("Id") => {
                            Value::String(s.to_ascii_lowercase())
                        }
                        v => normalise(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(normalise).collect();
            if items
                .iter()
                .all(|item| item.get("key").is_some_and(Value::is_string))
            {
                items.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
            }
            Value::Array(items)
        }
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        other => other,
    }
}

fn is_default(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(_) => false,
    }
}

fn assert_same_json(file: &str, original: &[u8], encoded: &[u8]) {
    let original = normalise(serde_json::from_slice(original).unwrap());
    let encoded = normalise(serde_json::from_slice(encoded).unwrap());
    assert_eq!(
        encoded,
        original,
        "{file}: encoded\n{}\n!= original\n{}",
        serde_json::to_string_pretty(&encoded).unwrap(),
        serde_json::to_string_pretty(&original).unwrap()
    );
}

fn check_logs(file: &str, body: &[u8]) -> usize {
    let request = logs_request_from_json(body).unwrap();
    let logs = logs_from_request(request.clone());
    assert_same_json(file, body, &encode_logs_json(&logs));
    let bytes = request.encode_to_vec();
    let decoded = decode_logs(&bytes).unwrap();
    assert_eq!(decoded, logs, "{file}");
    // The request comes back the same but for the order of key-value
    // lists (see the module docs), and from then on byte for byte.
    let again = encode_logs(&decoded);
    assert_same_json(
        file,
        &logs_request_to_json(&request),
        &logs_request_to_json(&logs_to_request(&decoded)),
    );
    assert_eq!(decode_logs(&again).unwrap(), decoded, "{file}");
    assert_eq!(encode_logs(&decode_logs(&again).unwrap()), again, "{file}");
    logs.len()
}

fn check_traces(file: &str, body: &[u8]) -> usize {
    let request = traces_request_from_json(body).unwrap();
    let spans = spans_from_request(request.clone());
    assert_same_json(file, body, &encode_traces_json(&spans));
    let bytes = request.encode_to_vec();
    let decoded = decode_traces(&bytes).unwrap();
    assert_eq!(decoded, spans, "{file}");
    // The request comes back the same but for the order of key-value
    // lists (see the module docs), and from then on byte for byte.
    let again = encode_traces(&decoded);
    assert_same_json(
        file,
        &traces_request_to_json(&request),
        &traces_request_to_json(&spans_to_request(&decoded)),
    );
    assert_eq!(decode_traces(&again).unwrap(), decoded, "{file}");
    assert_eq!(
        encode_traces(&decode_traces(&again).unwrap()),
        again,
        "{file}"
    );
    spans.len()
}

fn check_metrics(file: &str, body: &[u8]) -> usize {
    let request = metrics_request_from_json(body).unwrap();
    let points = metrics_from_request(request.clone());
    assert_same_json(file, body, &encode_metrics_json(&points));
    let bytes = request.encode_to_vec();
    let decoded = decode_metrics(&bytes).unwrap();
    assert_eq!(decoded, points, "{file}");
    // The request comes back the same but for the order of key-value
    // lists (see the module docs), and from then on byte for byte.
    let again = encode_metrics(&decoded);
    assert_same_json(
        file,
        &metrics_request_to_json(&request),
        &metrics_request_to_json(&metrics_to_request(&decoded)),
    );
    assert_eq!(decode_metrics(&again).unwrap(), decoded, "{file}");
    assert_eq!(
        encode_metrics(&decode_metrics(&again).unwrap()),
        again,
        "{file}"
    );
    points.len()
}

#[test]
fn every_peer_example_round_trips() {
    let mut files: Vec<_> = std::fs::read_dir(peer_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut counts = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(path).unwrap();
        let events = match name.as_str() {
            "logs.json" | "events.json" => check_logs(&name, &body),
            "trace.json" => check_traces(&name, &body),
            "metrics.json" => check_metrics(&name, &body),
            // A new example must be given its signal here, not skipped.
            other => panic!("no signal known for peer example {other}"),
        };
        counts.push((name, events));
    }
    let counts: Vec<_> = counts.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    assert_eq!(
        counts,
        [
            ("events.json", 1),
            ("logs.json", 1),
            ("metrics.json", 4),
            ("trace.json", 1)
        ]
    );
}

#[test]
fn normalisation_only_forgives_representation() {
    let a = br#"{"a": 5, "b": "", "id": "X", "traceId": "AB", "m": {},
        "kv": [{"key": "y"}, {"key": "x", "value": {}}]}"#;
    let b = br#"{"a": 5.0, "traceId": "ab", "id": "X", "m": {},
        "kv": [{"key": "x", "value": {}}, {"key": "y"}]}"#;
    assert_same_json("same", a, b);
    let kv = r#""kv": [{"key": "x", "value": {}}, {"key": "y"}]"#;
    let differs = [
        format!(r#"{{"a": 6, "id": "X", "traceId": "ab", "m": {{}}, {kv}}}"#),
        format!(r#"{{"a": 5, "id": "x", "traceId": "ab", "m": {{}}, {kv}}}"#),
        format!(r#"{{"a": 5, "id": "X", "traceId": "ab", {kv}}}"#),
        format!(r#"{{"a": "5", "id": "X", "traceId": "ab", "m": {{}}, {kv}}}"#),
        r#"{"a": 5, "id": "X", "traceId": "ab", "m": {}, "kv": [{"key": "x"}, {"key": "y"}]}"#
            .to_owned(),
    ];
    for other in differs {
        let a = normalise(serde_json::from_slice(a).unwrap());
        let other = normalise(serde_json::from_str(&other).unwrap());
        assert_ne!(a, other);
    }
}
