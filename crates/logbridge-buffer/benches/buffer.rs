//! Throughput of the disk buffer on 100,000 JSON-log-like events (1,000
//! batches of 100): the record encoding alone, and a full write, fsync, read
//! and acknowledge cycle through the segment files.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logbridge_buffer::disk::{self, DiskBufferConfig};
use logbridge_buffer::record::{decode_events, encode_events};
use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
use logbridge_event::{Event, EventBatch, KeyString, LogRecord, ObjectMap, Resource, Value};

const BATCHES: usize = 1_000;
const PER_BATCH: usize = 100;

fn batches() -> Vec<Vec<Event>> {
    let resource = Arc::new(Resource {
        attributes: ObjectMap::from_entries(vec![
            ("service.name".into(), "checkout".into()),
            ("host.name".into(), "web-17".into()),
        ]),
        ..Resource::default()
    });
    (0..BATCHES)
        .map(|b| {
            (0..PER_BATCH)
                .map(|i| {
                    let n = b * PER_BATCH + i;
                    let line = format!(
                        r#"{{"ts":"2024-05-01T12:00:{:02}.{n:06}Z","level":"info","method":"GET","path":"/api/v1/items/{n}","status":200,"duration_ms":{}.5,"user_agent":"curl/8.5.0"}}"#,
                        n % 60,
                        n % 250
                    );
                    let attributes = ObjectMap::from_entries(vec![
                        (KeyString::from("level"), "info".into()),
                        ("method".into(), "GET".into()),
                        ("path".into(), Value::from(format!("/api/v1/items/{n}").as_str())),
                        ("status".into(), Value::Integer(200)),
                        ("duration_ms".into(), Value::Float((n % 250) as f64 + 0.5)),
                        ("user_agent".into(), "curl/8.5.0".into()),
                    ]);
                    Event::Log(LogRecord {
                        time_unix_nano: 1_714_564_800_000_000_000 + n as i64,
                        observed_time_unix_nano: 1_714_564_800_000_000_000 + n as i64,
                        severity_number: 9,
                        body: Value::Bytes(Bytes::from(line)),
                        attributes,
                        resource: Some(Arc::clone(&resource)),
                        ..LogRecord::default()
                    })
                })
                .collect()
        })
        .collect()
}

fn encoding(c: &mut Criterion) {
    let input = batches();
    let mut encoded: Vec<Vec<u8>> = Vec::new();
    for b in &input {
        let mut out = Vec::new();
        encode_events(b, &mut out).unwrap();
        encoded.push(out);
    }
    let bytes: usize = encoded.iter().map(Vec::len).sum();
    eprintln!("record bytes for 100,000 events: {bytes}");
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements((BATCHES * PER_BATCH) as u64));
    group.bench_function("encode_100k", |bench| {
        let mut out = Vec::with_capacity(1 << 20);
        bench.iter(|| {
            for b in &input {
                out.clear();
                encode_events(b, &mut out).unwrap();
            }
        })
    });
    group.bench_function("decode_100k", |bench| {
        bench.iter(|| {
            for e in &encoded {
                std::hint::black_box(decode_events(e).unwrap());
            }
        })
    });
    group.finish();
}

fn disk_round_trip(c: &mut Criterion) {
    let input: Vec<EventBatch> = batches().into_iter().map(EventBatch::new).collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let metrics = Arc::new(ComponentMetrics::new("bench", ComponentKind::Sink, "bench"));
    let mut group = c.benchmark_group("disk");
    group.throughput(Throughput::Elements((BATCHES * PER_BATCH) as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("write_fsync_read_ack_100k", |bench| {
        bench.iter(|| {
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let (mut writer, mut reader) = disk::open(
                    dir.path().to_owned(),
                    DiskBufferConfig::default(),
                    Arc::clone(&metrics),
                )
                .await
                .unwrap();
                let reading = tokio::spawn(async move {
                    let mut events = 0;
                    while let Some(batch) = reader.next().await {
                        events += batch.len();
                    }
                    events
                });
                for b in &input {
                    writer.write(b.clone()).await.unwrap();
                }
                writer.flush().await.unwrap();
                drop(writer);
                assert_eq!(reading.await.unwrap(), BATCHES * PER_BATCH);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, encoding, disk_round_trip);
criterion_main!(benches);
