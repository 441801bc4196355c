//! Round trips: every test writes a batch, reads the file back with the
//! `parquet` crate's own reader and compares its schema and rows as text.

use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::schema::printer::print_schema;
use bytes::Bytes;
use logbridge_event::{
    Event, KeyString, LogRecord, Metric, ObjectMap, Span, SpanId, TraceId, Value,
};
use proptest::prelude::*;

use super::*;

/// A log with these attributes (`message` becomes the body) and time.
fn log(time: i64, fields: &[(&str, Value)]) -> Event {
    let mut log = LogRecord {
        time_unix_nano: time,
        ..LogRecord::default()
    };
    for (key, value) in fields {
        if *key == "message" {
            log.body = value.clone();
        } else {
            log.attributes.insert(KeyString::from(*key), value.clone());
        }
    }
    Event::Log(log)
}

fn object(fields: &[(&str, Value)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (KeyString::from(*k), v.clone()))
            .collect::<ObjectMap>(),
    )
}

struct Read {
    schema: String,
    rows: Vec<String>,
    row_groups: usize,
}

fn read(bytes: Vec<u8>) -> Read {
    let reader = SerializedFileReader::new(Bytes::from(bytes)).unwrap();
    let mut schema = Vec::new();
    print_schema(
        &mut schema,
        reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .root_schema(),
    );
    let row_groups = reader.metadata().num_row_groups();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| row.unwrap().to_string())
        .collect();
    Read {
        schema: String::from_utf8(schema).unwrap(),
        rows,
        row_groups,
    }
}

fn encode(options: &ParquetOptions, events: &[Event]) -> ParquetOutput {
    validate(options).unwrap();
    let mut batch = ParquetBatch::new(options);
    for event in events {
        batch.push(event);
    }
    assert_eq!(batch.len(), events.len());
    batch.finish().unwrap()
}

/// Encodes `events` and checks the schema and rows read back.
fn check(options: &ParquetOptions, events: &[Event], schema: &str, rows: &[&str]) -> u64 {
    let output = encode(options, events);
    assert_eq!(output.rows, events.len());
    let read = read(output.bytes);
    assert_eq!(
        read.schema.trim(),
        schema.trim(),
        "schema:\n{}",
        read.schema
    );
    assert_eq!(read.rows, rows, "rows:\n{}", read.rows.join("\n"));
    output.mistyped_values
}

fn struct_mode() -> ParquetOptions {
    ParquetOptions {
        nested: NestedMode::Struct,
        ..ParquetOptions::default()
    }
}

fn with_schema(columns: &[(&str, ColumnType)]) -> ParquetOptions {
    ParquetOptions {
        schema: Some(
            columns
                .iter()
                .map(|(name, r#type)| ParquetColumn {
                    name: (*name).to_owned(),
                    r#type: *r#type,
                })
                .collect(),
        ),
        ..ParquetOptions::default()
    }
}

#[test]
fn infers_types_and_fills_missing_fields_with_null() {
    let events = [
        log(
            5,
            &[
                ("message", "héllo ✓".into()),
                ("count", 1.into()),
                ("ratio", 1.into()),
                ("ok", true.into()),
                ("at", Value::Timestamp(7)),
            ],
        ),
        log(
            0,
            &[
                ("count", 2.into()),
                ("ratio", 0.5.into()),
                ("extra", "x".into()),
            ],
        ),
    ];
    let mistyped = check(
        &ParquetOptions::default(),
        &events,
        "
message schema {
  OPTIONAL INT64 timestamp (TIMESTAMP(NANOS,true));
  OPTIONAL INT64 at (TIMESTAMP(NANOS,true));
  OPTIONAL INT64 count;
  OPTIONAL BYTE_ARRAY extra (STRING);
  OPTIONAL BYTE_ARRAY message (STRING);
  OPTIONAL BOOLEAN ok;
  OPTIONAL DOUBLE ratio;
}",
        &[
            r#"{timestamp: 5, at: 7, count: 1, extra: null, message: "héllo ✓", ok: true, ratio: 1.0}"#,
            "{timestamp: null, at: null, count: 2, extra: \"x\", message: null, ok: null, ratio: 0.5}",
        ],
    );
    assert_eq!(mistyped, 0);
}

#[test]
fn mixed_types_become_text() {
    let events = [
        log(1, &[("v", 1.into())]),
        log(2, &[("v", "two".into())]),
        log(3, &[("v", 3.5.into())]),
        log(4, &[("v", Value::Array(vec![1.into(), Value::Null]))]),
        log(5, &[("v", object(&[("a", true.into())]))]),
        log(6, &[("v", Value::Float(f64::NAN))]),
        log(7, &[("v", Value::Timestamp(0))]),
        log(8, &[("v", Value::Bytes(Bytes::from_static(b"\xffok")))]),
    ];
    check(
        &ParquetOptions::default(),
        &events,
        "
message schema {
  OPTIONAL INT64 timestamp (TIMESTAMP(NANOS,true));
  OPTIONAL BYTE_ARRAY v (STRING);
}",
        &[
            r#"{timestamp: 1, v: "1"}"#,
            r#"{timestamp: 2, v: "two"}"#,
            r#"{timestamp: 3, v: "3.5"}"#,
            r#"{timestamp: 4, v: "[1,null]"}"#,
            r#"{timestamp: 5, v: "{"a":true}"}"#,
            r#"{timestamp: 6, v: "NaN"}"#,
            r#"{timestamp: 7, v: "1970-01-01T00:00:00Z"}"#,
            "{timestamp: 8, v: \"\u{fffd}ok\"}",
        ],
    );
}

#[test]
fn observed_time_fills_timestamp_and_a_timestamp_field_wins() {
    let mut observed = LogRecord::from_line(Bytes::from_static(b"line"), 9);
    observed.attributes.insert("a".into(), 1.into());
    let events = [
        Event::Log(observed),
        log(3, &[("timestamp", "yesterday".into())]),
    ];
    check(
        &ParquetOptions::default(),
        &events,
        "
message schema {
  OPTIONAL BYTE_ARRAY timestamp (STRING);
  OPTIONAL INT64 a;
  OPTIONAL BYTE_ARRAY message (STRING);
}",
        &[
            r#"{timestamp: "1970-01-01T00:00:00.000000009Z", a: 1, message: "line"}"#,
            r#"{timestamp: "yesterday", a: null, message: null}"#,
        ],
    );
}

fn nested_events() -> Vec<Event> {
    vec![
        log(
            1,
            &[
                (
                    "http",
                    object(&[("status", 200.into()), ("path", "/".into())]),
                ),
                ("tags", Value::Array(vec!["a".into()])),
            ],
        ),
        log(
            2,
            &[(
                "http",
                object(&[
                    ("status", 404.into()),
                    ("client", object(&[("ip", "::1".into())])),
                ]),
            )],
        ),
        log(3, &[("http", object(&[]))]),
        log(4, &[]),
    ]
}

#[test]
fn nested_json_writes_objects_as_json_strings() {
    check(
        &ParquetOptions::default(),
        &nested_events(),
        "
message schema {
  OPTIONAL INT64 timestamp (TIMESTAMP(NANOS,true));
  OPTIONAL BYTE_ARRAY http (STRING);
  OPTIONAL BYTE_ARRAY tags (STRING);
}",
        &[
            r#"{timestamp: 1, http: "{"path":"/","status":200}", tags: "["a"]"}"#,
            r#"{timestamp: 2, http: "{"client":{"ip":"::1"},"status":404}", tags: null}"#,
            r#"{timestamp: 3, http: "{}", tags: null}"#,
            "{timestamp: 4, http: null, tags: null}",
        ],
    );
}

#[test]
fn nested_struct_writes_objects_as_groups() {
    check(
        &struct_mode(),
        &nested_events(),
        "
message schema {
  OPTIONAL INT64 timestamp (TIMESTAMP(NANOS,true));
  OPTIONAL group http {
    OPTIONAL group client {
      OPTIONAL BYTE_ARRAY ip (STRING);
    }
    OPTIONAL BYTE_ARRAY path (STRING);
    OPTIONAL INT64 status;
  }
  OPTIONAL BYTE_ARRAY tags (STRING);
}",
        &[
            r#"{timestamp: 1, http: {client: null, path: "/", status: 200}, tags: "["a"]"}"#,
            r#"{timestamp: 2, http: {client: {ip: "::1"}, path: null, status: 404}, tags: null}"#,
            "{timestamp: 3, http: {client: null, path: null, status: null}, tags: null}",
            "{timestamp: 4, http: null, tags: null}",
        ],
    );
}

#[test]
fn struct_mode_falls_back_to_text_for_mixed_and_empty_objects() {
    let events = [
        log(1, &[("m", object(&[("a", 1.into())])), ("e", object(&[]))]),
        log(2, &[("m", "flat".into())]),
    ];
    check(
        &struct_mode(),
        &events,
        "
message schema {
  OPTIONAL INT64 timestamp (TIMESTAMP(NANOS,true));
  OPTIONAL BYTE_ARRAY e (STRING);
  OPTIONAL BYTE_ARRAY m (STRING);
}",
        &[
            r#"{timestamp: 1, e: "{}", m: "{"a":1}"}"#,
            r#"{timestamp: 2, e: null, m: "flat"}"#,
        ],
    );
}

#[test]
fn struct_mode_caps_the_depth() {
    let mut deep = Value::from("leaf");
    for _ in 0..40 {
        deep = object(&[("d", deep)]);
    }
    let output = encode(&struct_mode(), &[log(1, &[("deep", deep)])]);
    let read = read(output.bytes);
    assert_eq!(read.rows.len(), 1);
    // `deep` and 14 `d` groups, then at the 16th level the rest as one
    // JSON string.
    assert_eq!(
        read.schema.matches("group d {").count(),
        MAX_STRUCT_DEPTH - 2
    );
    assert_eq!(read.schema.matches("BYTE_ARRAY d (STRING)").count(), 1);
    assert!(read.rows[0].contains(r#"d: "{"d":"#), "{}", read.rows[0]);
}

#[test]
fn schema_writes_its_columns_and_counts_mistyped_values() {
    let options = with_schema(&[
        ("timestamp", ColumnType::Timestamp),
        ("n", ColumnType::Int64),
        ("x", ColumnType::Double),
        ("b", ColumnType::Boolean),
        ("s", ColumnType::String),
        ("j", ColumnType::Json),
        ("at", ColumnType::Timestamp),
    ]);
    let events = [
        log(
            1,
            &[
                ("n", 2.0.into()),
                ("x", 3.into()),
                ("b", false.into()),
                ("s", 4.into()),
                ("j", "text".into()),
                ("at", "2024-05-01T12:00:00.5Z".into()),
                ("ignored", 1.into()),
            ],
        ),
        log(
            0,
            &[
                ("n", "2".into()),
                ("x", "3".into()),
                ("b", 1.into()),
                ("s", object(&[("k", 1.into())])),
                ("j", object(&[("k", Value::Float(f64::INFINITY))])),
                ("at", 5.into()),
            ],
        ),
        log(2, &[("n", 0.5.into()), ("at", "not a time".into())]),
        log(3, &[("n", Value::Float(1e300))]),
    ];
    let mistyped = check(
        &options,
        &events,
        "
message schema {
  OPTIONAL INT64 timestamp (TIMESTAMP(NANOS,true));
  OPTIONAL INT64 n;
  OPTIONAL DOUBLE x;
  OPTIONAL BOOLEAN b;
  OPTIONAL BYTE_ARRAY s (STRING);
  OPTIONAL BYTE_ARRAY j (STRING);
  OPTIONAL INT64 at (TIMESTAMP(NANOS,true));
}",
        &[
            r#"{timestamp: 1, n: 2, x: 3.0, b: false, s: "4", j: ""text"", at: 1714564800500000000}"#,
            r#"{timestamp: null, n: null, x: null, b: null, s: null, j: "{"k":null}", at: null}"#,
            "{timestamp: 2, n: null, x: null, b: null, s: null, j: null, at: null}",
            "{timestamp: 3, n: null, x: null, b: null, s: null, j: null, at: null}",
        ],
    );
    // Row 2: n, x, b, s, at; row 3: n, at; row 4: n.
    assert_eq!(mistyped, 8);
}

#[test]
fn empty_batch_is_a_valid_file_with_no_rows() {
    check(
        &ParquetOptions::default(),
        &[],
        "
message schema {
  OPTIONAL INT64 timestamp (TIMESTAMP(NANOS,true));
}",
        &[],
    );
    check(
        &with_schema(&[("a", ColumnType::String)]),
        &[],
        "
message schema {
  OPTIONAL BYTE_ARRAY a (STRING);
}",
        &[],
    );
}

#[test]
fn events_without_fields_still_count_as_rows() {
    let events = [
        Event::Log(LogRecord::default()),
        Event::Log(LogRecord::default()),
    ];
    check(
        &ParquetOptions::default(),
        &events,
        "
message schema {
  OPTIONAL INT64 timestamp (TIMESTAMP(NANOS,true));
}",
        &["{timestamp: null}", "{timestamp: null}"],
    );
}

#[test]
fn large_batches_span_several_row_groups() {
    let options = ParquetOptions {
        row_group_max_rows: 3,
        compression: ParquetCompression::Zstd,
        ..ParquetOptions::default()
    };
    let events: Vec<Event> = (0..10).map(|i| log(i + 1, &[("i", i.into())])).collect();
    let read = read(encode(&options, &events).bytes);
    assert_eq!(read.row_groups, 4);
    assert_eq!(read.rows.len(), 10);
    assert_eq!(read.rows[9], "{timestamp: 10, i: 9}");
}

#[test]
fn every_compression_reads_back() {
    for compression in [
        ParquetCompression::None,
        ParquetCompression::Snappy,
        ParquetCompression::Zstd,
        ParquetCompression::Gzip,
    ] {
        let options = ParquetOptions {
            compression,
            ..ParquetOptions::default()
        };
        let events: Vec<Event> = (0..100)
            .map(|i| log(i + 1, &[("message", format!("line {i}").into())]))
            .collect();
        let read = read(encode(&options, &events).bytes);
        assert_eq!(read.rows.len(), 100, "{compression:?}");
        assert_eq!(read.rows[42], r#"{timestamp: 43, message: "line 42"}"#);
    }
}

#[test]
fn metrics_and_spans_are_written_as_their_json_fields() {
    let metric = Metric::counter("requests", f64::NAN, 1_000).with_label("host", "a");
    let span = Span {
        trace_id: TraceId([1; 16]),
        span_id: SpanId([2; 8]),
        name: "GET /".into(),
        start_time_unix_nano: 10,
        end_time_unix_nano: 25,
        ..Span::default()
    };
    let events = [Event::Metric(metric), Event::Span(Box::new(span))];
    let read = read(encode(&ParquetOptions::default(), &events).bytes);
    assert!(
        read.schema.contains("OPTIONAL DOUBLE value;"),
        "{}",
        read.schema
    );
    assert!(
        read.schema
            .contains("OPTIONAL INT64 start_timestamp (TIMESTAMP(NANOS,true));")
    );
    assert!(
        read.rows[0].starts_with("{timestamp: 1000,"),
        "{}",
        read.rows[0]
    );
    assert!(read.rows[0].contains(r#"labels: "{"host":"a"}""#));
    assert!(read.rows[0].contains(r#"name: "requests""#));
    assert!(read.rows[0].contains("value: NaN"), "{}", read.rows[0]);
    assert!(
        read.rows[1].starts_with("{timestamp: 10,"),
        "{}",
        read.rows[1]
    );
    assert!(read.rows[1].contains("duration_ns: 15"), "{}", read.rows[1]);
    assert!(read.rows[1].contains("end_timestamp: 25"));
    assert!(read.rows[1].contains(&format!(r#"trace_id: "{}""#, "01".repeat(16))));
}

#[test]
fn batches_move_between_tasks() {
    fn send_and_sync<T: Send + Sync + 'static>() {}
    send_and_sync::<ParquetBatch>();
    send_and_sync::<ParquetError>();
}

#[test]
fn estimated_bytes_grow_with_events() {
    let mut batch = ParquetBatch::new(&ParquetOptions::default());
    assert!(batch.is_empty());
    assert_eq!(batch.estimated_bytes(), 0);
    let event = log(1, &[("message", "x".repeat(1000).into())]);
    batch.push(&event);
    assert_eq!(batch.estimated_bytes(), event.estimated_size());
    assert!(batch.estimated_bytes() >= 1000);
}

#[test]
fn validate_rejects_what_serde_cannot() {
    assert_eq!(validate(&ParquetOptions::default()), Ok(()));
    let duplicate = with_schema(&[("a", ColumnType::String), ("a", ColumnType::Int64)]);
    assert_eq!(
        validate(&duplicate),
        Err("schema names the column `a` twice".into())
    );
    assert!(validate(&with_schema(&[])).is_err());
    assert!(validate(&with_schema(&[("", ColumnType::Json)])).is_err());
    let zero = ParquetOptions {
        row_group_max_rows: 0,
        ..ParquetOptions::default()
    };
    assert!(validate(&zero).is_err());
    // `finish` checks too, rather than writing a broken file.
    let error = ParquetBatch::new(&duplicate).finish().unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid parquet options: schema names the column `a` twice"
    );
}

#[test]
fn options_deserialize_with_defaults_and_reject_unknown_fields() {
    let options: ParquetOptions = serde_json::from_str("{}").unwrap();
    assert_eq!(options, ParquetOptions::default());
    assert_eq!(options.compression, ParquetCompression::Snappy);
    assert_eq!(options.nested, NestedMode::Json);
    let options: ParquetOptions = serde_json::from_str(
        r#"{"schema": [{"name": "a", "type": "int64"}], "nested": "struct", "compression": "zstd"}"#,
    )
    .unwrap();
    assert_eq!(
        options.schema,
        Some(vec![ParquetColumn {
            name: "a".into(),
            r#type: ColumnType::Int64
        }])
    );
    assert!(serde_json::from_str::<ParquetOptions>(r#"{"codec": "x"}"#).is_err());
    assert!(
        serde_json::from_str::<ParquetOptions>(r#"{"schema": [{"name": "a", "type": "int"}]}"#)
            .is_err()
    );
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Float),
        any::<i64>().prop_map(Value::Timestamp),
        ".{0,12}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Bytes(b.into())),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-c]{1,2}", inner), 0..4).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (KeyString::from(k), v))
                        .collect(),
                )
            }),
        ]
    })
}

fn arb_fields() -> impl Strategy<Value = Vec<(String, Value)>> {
    proptest::collection::vec(("(timestamp|message|[a-d]|.{0,6})", arb_value()), 0..6)
}

proptest! {
    #[test]
    fn random_fields_never_panic_and_always_read_back(
        rows in proptest::collection::vec((any::<i64>(), arb_fields()), 0..12),
        structs in any::<bool>(),
        schema in any::<bool>(),
    ) {
        let mut options = if schema {
            with_schema(&[
                ("timestamp", ColumnType::Timestamp),
                ("a", ColumnType::Int64),
                ("b", ColumnType::Double),
                ("c", ColumnType::Boolean),
                ("d", ColumnType::String),
                ("message", ColumnType::Json),
            ])
        } else {
            ParquetOptions::default()
        };
        if structs {
            options.nested = NestedMode::Struct;
        }
        options.row_group_max_rows = 5;
        let events: Vec<Event> = rows
            .iter()
            .map(|(time, fields)| {
                let fields: Vec<(&str, Value)> =
                    fields.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                log(*time, &fields)
            })
            .collect();
        let output = encode(&options, &events);
        prop_assert_eq!(output.rows, events.len());
        let read = read(output.bytes);
        prop_assert_eq!(read.rows.len(), events.len());
    }
}
