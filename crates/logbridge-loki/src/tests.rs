//! Tests across modules: decoding known requests, round trips through both
//! encodings, and hostile input.

use std::sync::Arc;

use bytes::Bytes;
use logbridge_event::{KeyString, LogRecord, ObjectMap, Resource, Value};
use proptest::prelude::*;
use prost::Message;

use crate::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};
use crate::{
    Error, LabelError, LabelSet, StructuredMetadata, decode_push_json, decode_push_protobuf,
    encode_push_json, encode_push_protobuf, group_streams, resource_labels,
};

const MAX: usize = 1 << 20;

fn snappy(message: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(message).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    LabelSet::from_pairs(pairs.iter().map(|&(n, v)| (n, v))).unwrap()
}

fn object(pairs: &[(&str, &str)]) -> ObjectMap {
    pairs
        .iter()
        .map(|&(k, v)| (KeyString::new(k), Value::from(v)))
        .collect()
}

fn log(time: i64, line: &str, attrs: &[(&str, &str)], res: &[(&str, &str)]) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        body: Value::from(line),
        attributes: object(attrs),
        resource: Some(Arc::new(Resource {
            attributes: object(res),
            ..Resource::default()
        })),
        ..LogRecord::default()
    }
}

fn sample_request() -> PushRequest {
    PushRequest {
        streams: vec![StreamAdapter {
            labels: Bytes::from_static(br#"{job="api", env="prod \"eu\""}"#),
            entries: vec![
                EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1_700_000_000,
                        nanos: 5,
                    }),
                    line: Bytes::from_static(b"GET /"),
                    structured_metadata: vec![LabelPairAdapter {
                        name: Bytes::from_static(b"trace_id"),
                        value: Bytes::from_static(b"abc"),
                    }],
                },
                EntryAdapter {
                    timestamp: None,
                    line: Bytes::from_static(b"\xffraw"),
                    structured_metadata: vec![],
                },
            ],
            hash: 0,
        }],
    }
}

#[test]
fn decodes_a_protobuf_request() {
    let body = snappy(&sample_request().encode_to_vec());
    let records = decode_push_protobuf(&body, MAX).unwrap();
    assert_eq!(records.len(), 2);
    let first = &records[0];
    assert_eq!(first.time_unix_nano, 1_700_000_000_000_000_005);
    assert_eq!(first.body.as_str(), Some("GET /"));
    assert_eq!(first.attributes, object(&[("trace_id", "abc")]));
    assert_eq!(
        first.resource().attributes,
        object(&[("env", "prod \"eu\""), ("job", "api")])
    );
    assert_eq!(records[1].time_unix_nano, 0);
    assert_eq!(records[1].body.as_bytes(), Some(&b"\xffraw"[..]));
    assert!(
        Arc::ptr_eq(
            records[0].resource.as_ref().unwrap(),
            records[1].resource.as_ref().unwrap()
        ),
        "a stream's entries share one resource"
    );
}

#[test]
fn protobuf_lines_are_slices_of_the_request() {
    let message = Bytes::from(sample_request().encode_to_vec());
    let range = message.as_ptr() as usize..message.as_ptr() as usize + message.len();
    let records = crate::decode_push_request(message.clone()).unwrap();
    let line = records[0].body.as_bytes().unwrap();
    assert!(range.contains(&(line.as_ptr() as usize)));
}

#[test]
fn decodes_a_json_request() {
    let body = br#"{"streams":[
        {"stream":{"job":"api","env":"prod"},"values":[
            ["1700000000000000005","GET /"],
            ["-3","with meta",{"trace_id":"abc","user":"x"}]
        ]},
        {"stream":{"job":"db"},"values":[[42,"int ts",null]]}
    ]}"#;
    let records = decode_push_json(body).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].time_unix_nano, 1_700_000_000_000_000_005);
    assert_eq!(records[0].body.as_str(), Some("GET /"));
    assert_eq!(
        records[0].resource().attributes,
        object(&[("env", "prod"), ("job", "api")])
    );
    assert_eq!(records[1].time_unix_nano, -3);
    assert_eq!(
        records[1].attributes,
        object(&[("trace_id", "abc"), ("user", "x")])
    );
    assert_eq!(records[2].time_unix_nano, 42);
    assert_eq!(records[2].resource().attributes, object(&[("job", "db")]));
    assert!(decode_push_json(b"{}").unwrap().is_empty());
}

#[test]
fn bad_labels_name_the_stream() {
    let mut request = sample_request();
    request.streams.push(StreamAdapter {
        labels: Bytes::from_static(br#"{job="db", job="x"}"#),
        entries: vec![],
        hash: 0,
    });
    let body = snappy(&request.encode_to_vec());
    let error = decode_push_protobuf(&body, MAX).unwrap_err();
    assert!(matches!(
        &error,
        Error::Labels { stream: 1, source: LabelError::DuplicateName(n), .. } if n == "job"
    ));
    assert_eq!(
        error.to_string(),
        r#"stream 1 `{job="db", job="x"}`: duplicate label name `job`"#
    );

    let error =
        decode_push_json(br#"{"streams":[{"stream":{"a":"b"}},{"stream":{"a":1}}]}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"stream 1 `{"a":1}`: label value of `a` is not a string"#
    );
    let error = decode_push_json(br#"{"streams":[{"stream":{"a-b":"c"}}]}"#).unwrap_err();
    assert!(matches!(error, Error::Labels { stream: 0, .. }), "{error}");
}

#[test]
fn bad_entries_are_errors() {
    let cases: &[&[u8]] = &[
        br#"{"streams":[{"stream":{"a":"b"},"values":[["x","line"]]}]}"#,
        br#"{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}"#,
        br#"{"streams":[{"stream":{"a":"b"},"values":[["1","l",{},4]]}]}"#,
        br#"{"streams":[{"stream":{"a":"b"},"values":[["1",2]]}]}"#,
        br#"{"streams":[{"stream":{"a":"b"},"values":[["1","l",{"k":1}]]}]}"#,
        br#"{"streams":[{"stream":{"a":"b"},"values":[["1","l","m"]]}]}"#,
        br#"{"streams":[{"stream":{"a":"b"},"values":[[1.5,"l"]]}]}"#,
        br#"{"streams":[{"stream":["a"],"values":[]}]}"#,
    ];
    for body in cases {
        let error = decode_push_json(body).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Entry { stream: 0, .. } | Error::Labels { stream: 0, .. }
            ),
            "{}: {error}",
            String::from_utf8_lossy(body)
        );
    }
    let mut request = sample_request();
    request.streams[0].entries[0].timestamp = Some(Timestamp {
        seconds: 0,
        nanos: 1_000_000_000,
    });
    let body = snappy(&request.encode_to_vec());
    let error = decode_push_protobuf(&body, MAX).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("entry 0: timestamp out of range"),
        "{error}"
    );
}

#[test]
fn oversize_and_malformed_bodies_are_errors() {
    let message = sample_request().encode_to_vec();
    let body = snappy(&message);
    assert!(matches!(
        decode_push_protobuf(&body, message.len() - 1),
        Err(Error::TooLarge { len, .. }) if len == message.len()
    ));
    assert!(decode_push_protobuf(&body, message.len()).is_ok());
    // A snappy header claiming 256 MiB, with nothing behind it: refused
    // before anything is allocated.
    let bomb = [0x80, 0x80, 0x80, 0x80, 0x01, 0x00];
    assert!(matches!(
        decode_push_protobuf(&bomb, MAX),
        Err(Error::TooLarge { .. })
    ));
    // A real bomb: 1 MiB of zeros compresses to a few KiB.
    let zeros = snappy(&vec![0; 1 << 20]);
    assert!(zeros.len() < 64 << 10);
    assert!(matches!(
        decode_push_protobuf(&zeros, 1 << 19),
        Err(Error::TooLarge { .. })
    ));
    // Within the limit, zeros are not a valid request (field number 0).
    assert!(matches!(
        decode_push_protobuf(&zeros, MAX),
        Err(Error::Protobuf(_))
    ));
    assert!(matches!(
        decode_push_protobuf(b"", MAX),
        Err(Error::Snappy(_))
    ));
    assert!(matches!(
        decode_push_protobuf(&message, MAX),
        Err(Error::Snappy(_) | Error::TooLarge { .. } | Error::Protobuf(_))
    ));
    let mut truncated = body.clone();
    truncated.truncate(body.len() - 3);
    assert!(decode_push_protobuf(&truncated, MAX).is_err());
    assert!(matches!(
        decode_push_json(b"{\"streams\":"),
        Err(Error::Json(_))
    ));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let body = format!(r#"{{"streams":[{{"stream":{{"a":"b"}},"values":[["1","l",{deep}]]}}]}}"#);
    assert!(decode_push_json(body.as_bytes()).is_err());
}

#[test]
fn encoding_groups_and_sorts_streams() {
    let records = vec![
        log(30, "c", &[("k", "3")], &[("job", "a")]),
        log(10, "x", &[], &[("job", "b")]),
        log(20, "b", &[], &[("job", "a")]),
        log(20, "b2", &[], &[("job", "a")]),
    ];
    let streams =
        group_streams(&records, resource_labels, &StructuredMetadata::Attributes).unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0].labels, labels(&[("job", "a")]));
    let lines: Vec<_> = streams[0].entries.iter().map(|e| e.line.clone()).collect();
    assert_eq!(lines, ["b", "b2", "c"]);
    assert_eq!(
        streams[0].entries[2].metadata,
        vec![(KeyString::new("k"), Bytes::from_static(b"3"))]
    );

    let json =
        encode_push_json(&records, resource_labels, &StructuredMetadata::Attributes).unwrap();
    assert_eq!(
        String::from_utf8(json).unwrap(),
        r#"{"streams":[{"stream":{"job":"a"},"values":[["20","b"],["20","b2"],["30","c",{"k":"3"}]]},{"stream":{"job":"b"},"values":[["10","x"]]}]}"#
    );
}

#[test]
fn encoding_takes_metadata_from_the_configured_source() {
    let mut record = log(5, "l", &[("app", "web"), ("user", "u1"), ("n", "")], &[]);
    record.attributes.insert("count".into(), Value::Integer(7));
    record.attributes.insert("nothing".into(), Value::Null);
    record.body = Value::Object(object(&[("a", "b")]));
    let by_app = |r: &LogRecord| {
        LabelSet::from_attributes(&object(&[("app", r.attributes["app"].as_str().unwrap())]))
    };
    let metadata = |source: StructuredMetadata| {
        let streams = group_streams(std::slice::from_ref(&record), by_app, &source).unwrap();
        assert_eq!(
            streams[0].entries[0].line,
            Bytes::from_static(br#"{"a":"b"}"#)
        );
        streams[0].entries[0]
            .metadata
            .iter()
            .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
            .collect::<Vec<_>>()
    };
    assert!(metadata(StructuredMetadata::None).is_empty());
    assert_eq!(
        metadata(StructuredMetadata::Attributes),
        ["app=web", "count=7", "n=", "user=u1"]
    );
    assert_eq!(
        metadata(StructuredMetadata::AttributesExceptLabels),
        ["count=7", "n=", "user=u1"]
    );
    assert_eq!(
        metadata(StructuredMetadata::Only(vec![
            "user".into(),
            "missing".into()
        ])),
        ["user=u1"]
    );
}

#[test]
fn empty_label_sets_are_refused() {
    let records = vec![log(1, "a", &[], &[("job", "x")]), log(1, "b", &[], &[])];
    let error =
        encode_push_protobuf(&records, resource_labels, &StructuredMetadata::None).unwrap_err();
    assert!(matches!(
        error,
        Error::RecordLabels {
            record: 1,
            source: LabelError::Empty
        }
    ));
}

#[test]
fn observed_time_stands_in_for_a_missing_time() {
    let mut record = log(0, "a", &[], &[("job", "x")]);
    record.observed_time_unix_nano = 77;
    let body = encode_push_protobuf(&[record], resource_labels, &StructuredMetadata::None).unwrap();
    assert_eq!(
        decode_push_protobuf(&body, MAX).unwrap()[0].time_unix_nano,
        77
    );
}

/// A Loki request decoded and encoded again gives the same streams.
#[test]
fn loki_to_logbridge_to_loki_keeps_every_field() {
    let mut request = sample_request();
    // A label and a metadata pair may share a name.
    request.streams[0].entries[0]
        .structured_metadata
        .push(LabelPairAdapter {
            name: Bytes::from_static(b"job"),
            value: Bytes::from_static(b"meta"),
        });
    request.streams[0].entries.swap(0, 1); // time 0 first: sorted already
    let body = snappy(&request.encode_to_vec());
    let records = decode_push_protobuf(&body, MAX).unwrap();
    let again =
        encode_push_protobuf(&records, resource_labels, &StructuredMetadata::Attributes).unwrap();
    let decoded =
        PushRequest::decode(&snap::raw::Decoder::new().decompress_vec(&again).unwrap()[..])
            .unwrap();
    // Labels come back in Loki's canonical (sorted) form.
    request.streams[0].labels = Bytes::from_static(br#"{env="prod \"eu\"", job="api"}"#);
    // Metadata comes back sorted by name; a zero timestamp is explicit.
    request.streams[0].entries[1].structured_metadata.reverse();
    request.streams[0].entries[0].timestamp = Some(Timestamp::default());
    assert_eq!(decoded, request);
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{0,6}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
        Just("q\"u\\o\nte\t\u{1}".to_string()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,5}"
}

fn records() -> impl Strategy<Value = Vec<LogRecord>> {
    // A few label sets, so that records share streams.
    let label_sets = prop::collection::vec(prop::collection::btree_map(name(), text(), 1..4), 1..4);
    label_sets.prop_flat_map(|sets| {
        let sets: Vec<Arc<Resource>> = sets
            .into_iter()
            .map(|set| {
                Arc::new(Resource {
                    attributes: set
                        .into_iter()
                        .map(|(k, v)| (KeyString::from(k), Value::from(v)))
                        .collect(),
                    ..Resource::default()
                })
            })
            .collect();
        let n = sets.len();
        let record = (
            0..n,
            prop_oneof![Just(0i64), any::<i64>(), -5i64..5],
            text(),
            prop::collection::btree_map("[a-z.]{1,6}", text(), 0..3),
        )
            .prop_map(move |(set, time, line, attrs)| LogRecord {
                time_unix_nano: time,
                body: Value::from(line),
                attributes: attrs
                    .into_iter()
                    .map(|(k, v)| (KeyString::from(k), Value::from(v)))
                    .collect(),
                resource: Some(sets[set].clone()),
                ..LogRecord::default()
            });
        prop::collection::vec(record, 0..24)
    })
}

/// The order the decoder gives records back in: streams in order of first
/// appearance, each sorted by time (stably).
fn expected_order(records: &[LogRecord]) -> Vec<LogRecord> {
    let mut firsts: Vec<LabelSet> = Vec::new();
    let mut keyed: Vec<(usize, i64, usize)> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let set = resource_labels(r);
        let stream = firsts.iter().position(|s| *s == set).unwrap_or_else(|| {
            firsts.push(set);
            firsts.len() - 1
        });
        keyed.push((stream, r.time_unix_nano, i));
    }
    keyed.sort();
    keyed
        .into_iter()
        .map(|(_, _, i)| records[i].clone())
        .collect()
}

/// Compares the fields the mapping carries; resources by content.
fn comparable(records: &[LogRecord]) -> Vec<(i64, Value, ObjectMap, ObjectMap)> {
    records
        .iter()
        .map(|r| {
            (
                r.time_unix_nano,
                r.body.clone(),
                r.attributes.clone(),
                r.resource().attributes.clone(),
            )
        })
        .collect()
}

proptest! {
    #[test]
    fn protobuf_round_trip(records in records()) {
        let body = encode_push_protobuf(&records, resource_labels, &StructuredMetadata::Attributes).unwrap();
        let back = decode_push_protobuf(&body, 16 << 20).unwrap();
        prop_assert_eq!(comparable(&back), comparable(&expected_order(&records)));
    }

    #[test]
    fn json_round_trip(records in records()) {
        let body = encode_push_json(&records, resource_labels, &StructuredMetadata::Attributes).unwrap();
        let back = decode_push_json(&body).unwrap();
        prop_assert_eq!(comparable(&back), comparable(&expected_order(&records)));
    }

    #[test]
    fn label_text_round_trip(set in prop::collection::btree_map(name(), text(), 0..5)) {
        let set = LabelSet::from_pairs(set).unwrap();
        prop_assert_eq!(LabelSet::parse(&set.to_string()).unwrap(), set);
    }

    #[test]
    fn label_parser_never_panics(text in "[{}=,\"'`\\\\a-c0-9xuU ]{0,40}") {
        let _ = LabelSet::parse(&text);
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_push_protobuf(&bytes, 1 << 16);
        let _ = crate::decode_push_request(Bytes::from(bytes.clone()));
        let _ = decode_push_json(&bytes);
    }

    /// Mutated valid requests: closer to the decoders' paths than noise.
    #[test]
    fn mutated_requests_never_panic(
        records in records(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let message = crate::push_request(
            &group_streams(&records, resource_labels, &StructuredMetadata::Attributes).unwrap(),
        ).encode_to_vec();
        let json = encode_push_json(&records, resource_labels, &StructuredMetadata::Attributes).unwrap();
        for mut bytes in [message, json] {
            if bytes.is_empty() {
                continue;
            }
            for (at, b) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *b;
            }
            if let Ok(records) = crate::decode_push_request(Bytes::from(bytes.clone())) {
                encoding_is_a_fixed_point(&records, false);
            }
            let _ = decode_push_protobuf(&snappy(&bytes), 1 << 20);
            if let Ok(records) = decode_push_json(&bytes) {
                encoding_is_a_fixed_point(&records, true);
            }
        }
    }
}

/// What the fuzz targets check of decoded records: encoding them with the
/// decoder's mapping, decoding and encoding again gives the same bytes.
fn encoding_is_a_fixed_point(records: &[LogRecord], json: bool) {
    if records.iter().any(|r| resource_labels(r).is_empty()) {
        return;
    }
    let m = StructuredMetadata::Attributes;
    let (once, twice) = if json {
        let once = encode_push_json(records, resource_labels, &m).unwrap();
        let again = decode_push_json(&once).unwrap();
        (once, encode_push_json(&again, resource_labels, &m).unwrap())
    } else {
        let once = encode_push_protobuf(records, resource_labels, &m).unwrap();
        let again = decode_push_protobuf(&once, usize::MAX).unwrap();
        (
            once,
            encode_push_protobuf(&again, resource_labels, &m).unwrap(),
        )
    };
    assert_eq!(once, twice);
}
