//! Criterion benchmarks of the Loki push decoders on a ~16 KiB request
//! (four streams of realistic access-log lines, some entries with
//! structured metadata), in both encodings. Throughput is in bytes of the
//! body as received (compressed, for protobuf).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logbridge_event::{KeyString, LogRecord, Resource, Value};
use logbridge_loki::{
    StructuredMetadata, decode_push_json, decode_push_protobuf, encode_push_json,
    encode_push_protobuf, resource_labels,
};

const LINES: &[&str] = &[
    r#"10.0.4.17 - - [01/May/2024:12:00:00 +0000] "GET /api/v1/cart/8812 HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)""#,
    r#"level=warn ts=2024-05-01T12:00:00.456Z caller=limits.go:88 msg="rate limited, retry after 2s" tenant=payments"#,
    r#"{"level":"error","service":"search","path":"/api/v2/search?q=red+shoes","status":503,"msg":"upstream timed out"}"#,
    r#"2024-05-01 12:00:01.250 INFO  [auth] o.e.s.TokenService - token refreshed for session 5f1c2a"#,
];

/// Records totalling ~16 KiB of JSON push body.
fn records() -> Vec<LogRecord> {
    let resources: Vec<Arc<Resource>> = ["checkout", "payments", "search", "auth"]
        .iter()
        .map(|app| {
            let mut attributes = logbridge_event::ObjectMap::new();
            attributes.insert("app".into(), Value::from(*app));
            attributes.insert("env".into(), "prod".into());
            attributes.insert("namespace".into(), "shop".into());
            Arc::new(Resource {
                attributes,
                ..Resource::default()
            })
        })
        .collect();
    (0..112)
        .map(|i: i64| {
            let mut record = LogRecord {
                time_unix_nano: 1_714_564_800_000_000_000 + i * 1_000_000,
                body: Value::from(LINES[i as usize % LINES.len()]),
                resource: Some(resources[i as usize % resources.len()].clone()),
                ..LogRecord::default()
            };
            if i % 3 == 0 {
                record
                    .attributes
                    .insert(KeyString::new("trace_id"), Value::from(format!("{i:032x}")));
            }
            record
        })
        .collect()
}

fn decoding(c: &mut Criterion) {
    let records = records();
    let metadata = StructuredMetadata::Attributes;
    let protobuf = encode_push_protobuf(&records, resource_labels, &metadata).unwrap();
    let json = encode_push_json(&records, resource_labels, &metadata).unwrap();
    let uncompressed = snap::raw::decompress_len(&protobuf).unwrap();
    println!(
        "{} entries; protobuf {} bytes ({} uncompressed), json {} bytes",
        records.len(),
        protobuf.len(),
        uncompressed,
        json.len()
    );
    let mut group = c.benchmark_group("loki_decode");
    group.throughput(Throughput::Bytes(protobuf.len() as u64));
    group.bench_function("protobuf_snappy", |b| {
        b.iter(|| black_box(decode_push_protobuf(black_box(&protobuf), 1 << 20).unwrap()))
    });
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("json", |b| {
        b.iter(|| black_box(decode_push_json(black_box(&json)).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("loki_encode");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("protobuf_snappy", |b| {
        b.iter(|| black_box(encode_push_protobuf(&records, resource_labels, &metadata).unwrap()))
    });
    group.bench_function("json", |b| {
        b.iter(|| black_box(encode_push_json(&records, resource_labels, &metadata).unwrap()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = decoding
}
criterion_main!(benches);
