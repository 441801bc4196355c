//! Criterion benchmarks of the trace decoders on realistic ~16 KiB
//! payloads: spans of a web service (HTTP server spans, database and HTTP
//! client spans, 8-12 tags each, a couple of logs or annotations), one
//! process or local endpoint. Covers Jaeger Thrift compact (`emitBatch`)
//! and binary (bare `Batch`), and Zipkin v2 JSON.
//!
//! Throughput is in bytes; the time per iteration is per payload (each
//! printed with its exact size at startup). `copy` decodes from `&[u8]`
//! (one copy of the payload), `shared` from `Bytes` (none);
//! `shared_no_drop` leaves dropping the spans out of the timing, and
//! `model_clone_drop` times only cloning and dropping the decoded spans:
//! what the span model costs without any parsing. Runs with mimalloc, the
//! allocator of the logbridge binary.

use std::fmt::Write;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logbridge_trace_formats::{jaeger, zipkin};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../src/thrift/writer.rs"]
mod writer;

use writer::{JBatch, JLog, JSpan, JTag, JValue, Proto};

const TARGET: usize = 16 * 1024;
const START_US: i64 = 1_714_564_800_000_000;

/// A deterministic stream of numbers, so payloads are the same every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// Spans of one request through a web service: a server span, then
/// alternating database and downstream HTTP client spans.
fn jaeger_span(rng: &mut Lcg, i: usize, trace: i64, root: i64) -> JSpan {
    let id = (rng.next() << 20 | rng.next()) as i64 | 1;
    let start = START_US + (i as i64) * 1500;
    let mut tags = vec![
        JTag::str("component", "net/http"),
        JTag::str("internal.span.format", "jaeger"),
    ];
    let (name, kind) = match i % 3 {
        0 => {
            tags.extend([
                JTag::str("http.method", "GET"),
                JTag::str(
                    "http.url",
                    &format!(
                        "https://shop.example.com/api/v1/cart/{}",
                        rng.next() % 100000
                    ),
                ),
                JTag::str("http.route", "/api/v1/cart/{id}"),
                JTag::new("http.status_code", JValue::Long(200)),
                JTag::str("http.user_agent", "Mozilla/5.0 (X11; Linux x86_64)"),
                JTag::str("net.peer.ip", "10.1.2.3"),
                JTag::new("http.response_content_length", JValue::Long(1834)),
            ]);
            ("GET /api/v1/cart/{id}", "server")
        }
        1 => {
            tags.extend([
                JTag::str("db.system", "postgresql"),
                JTag::str("db.name", "shop"),
                JTag::str(
                    "db.statement",
                    "SELECT id, sku, qty FROM cart_items WHERE cart_id = $1",
                ),
                JTag::str("db.user", "shop_rw"),
                JTag::str("net.peer.name", "pg-primary.internal"),
                JTag::new("net.peer.port", JValue::Long(5432)),
                JTag::new("db.rows", JValue::Double(12.0)),
            ]);
            ("SELECT shop.cart_items", "client")
        }
        _ => {
            tags.extend([
                JTag::str("http.method", "POST"),
                JTag::str("http.url", "http://pricing.internal:8080/v2/quote"),
                JTag::new("http.status_code", JValue::Long(503)),
                JTag::str("peer.service", "pricing"),
                JTag::new("error", JValue::Bool(true)),
                JTag::new("retry.count", JValue::Long(2)),
            ]);
            ("POST /v2/quote", "client")
        }
    };
    tags.push(JTag::str("span.kind", kind));
    let logs = vec![
        JLog {
            timestamp: start + 120,
            fields: vec![
                JTag::str("event", "cache.miss"),
                JTag::str("cache.key", &format!("cart:{}", rng.next() % 100000)),
            ],
        },
        JLog {
            timestamp: start + 900,
            fields: vec![
                JTag::str("event", "response.sent"),
                JTag::str("level", "info"),
                JTag::new("bytes", JValue::Long(1834)),
            ],
        },
    ];
    JSpan {
        low: trace,
        high: 0x0af7651916cd43dd,
        id,
        parent: if i == 0 { 0 } else { root },
        name: name.to_owned(),
        refs: None,
        flags: 1,
        start,
        duration: 1200 + (rng.next() % 5000) as i64,
        tags: Some(tags),
        logs: Some(logs),
    }
}

fn jaeger_batch(proto: Proto, emit: bool) -> (Bytes, usize) {
    let mut rng = Lcg(7);
    let mut batch = JBatch {
        service: "checkout".to_owned(),
        process_tags: Some(vec![
            JTag::str("hostname", "checkout-7d9f8b6c5-x2x9p"),
            JTag::str("ip", "10.1.4.17"),
            JTag::str("jaeger.version", "Python-4.8.0"),
            JTag::str("client-uuid", "3f1c9b2e7a5d4c11"),
        ]),
        spans: Vec::new(),
    };
    let encode = |b: &JBatch| {
        if emit {
            writer::encode_emit_batch(b, proto)
        } else {
            writer::encode_batch(b, proto)
        }
    };
    let trace = 0x8448eb211c80319c_u64 as i64;
    let root = 0x0102030405060708;
    loop {
        let i = batch.spans.len();
        batch.spans.push(jaeger_span(&mut rng, i, trace, root));
        if encode(&batch).len() > TARGET {
            batch.spans.pop();
            break;
        }
    }
    let n = batch.spans.len();
    (Bytes::from(encode(&batch)), n)
}

/// The same shape of spans as py_zipkin sends them.
fn zipkin_body() -> (Bytes, usize) {
    let mut rng = Lcg(11);
    let mut spans: Vec<String> = Vec::new();
    let mut body = String::new();
    loop {
        let i = spans.len();
        let id = rng.next() << 20 | rng.next() | 1;
        let start = START_US + (i as i64) * 1500;
        let (name, kind, tags) = match i % 3 {
            0 => (
                "get /api/v1/cart/{id}",
                "SERVER",
                format!(
                    r#""http.method":"GET","http.path":"/api/v1/cart/{}","http.route":"/api/v1/cart/{{id}}","http.status_code":"200","http.user_agent":"Mozilla/5.0 (X11; Linux x86_64)","http.response_content_length":"1834","component":"flask","net.peer.ip":"10.1.2.3""#,
                    rng.next() % 100000
                ),
            ),
            1 => (
                "select shop.cart_items",
                "CLIENT",
                r#""db.system":"postgresql","db.name":"shop","db.statement":"SELECT id, sku, qty FROM cart_items WHERE cart_id = $1","db.user":"shop_rw","net.peer.name":"pg-primary.internal","net.peer.port":"5432","component":"sqlalchemy","db.rows":"12""#.to_owned(),
            ),
            _ => (
                "post /v2/quote",
                "CLIENT",
                r#""http.method":"POST","http.url":"http://pricing.internal:8080/v2/quote","http.status_code":"503","error":"upstream unavailable","retry.count":"2","component":"requests","peer.service":"pricing""#.to_owned(),
            ),
        };
        let mut s = String::new();
        let _ = write!(
            s,
            r#"{{"traceId":"0af7651916cd43dd8448eb211c80319c","parentId":"0102030405060708","id":"{id:016x}","kind":"{kind}","name":"{name}","timestamp":{start},"duration":{dur},"debug":false,"shared":false,"localEndpoint":{{"serviceName":"checkout","ipv4":"10.1.4.17","port":8080}},"remoteEndpoint":{{"serviceName":"pricing","ipv4":"10.1.9.40","port":8080}},"annotations":[{{"timestamp":{a1},"value":"cache.miss"}},{{"timestamp":{a2},"value":"response.sent"}}],"tags":{{{tags}}}}}"#,
            dur = 1200 + rng.next() % 5000,
            a1 = start + 120,
            a2 = start + 900,
        );
        spans.push(s);
        let next = format!("[{}]", spans.join(","));
        if next.len() > TARGET {
            spans.pop();
            break;
        }
        body = next;
    }
    (Bytes::from(body), spans.len())
}

type Decode = fn(&[u8]) -> Result<Vec<logbridge_event::Span>, logbridge_trace_formats::Error>;
type DecodeShared =
    fn(&Bytes) -> Result<Vec<logbridge_event::Span>, logbridge_trace_formats::Error>;

fn bench_one(
    c: &mut Criterion,
    name: &str,
    payload: &Bytes,
    spans: usize,
    copy: Decode,
    shared: DecodeShared,
) {
    let decoded = copy(payload).unwrap();
    assert_eq!(decoded.len(), spans);
    eprintln!("{name}: {} bytes, {spans} spans", payload.len());
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("copy", |b| {
        b.iter(|| black_box(copy(black_box(payload)).unwrap()))
    });
    group.bench_function("shared", |b| {
        b.iter(|| black_box(shared(black_box(payload)).unwrap()))
    });
    // The same, with dropping the spans left out of the timing.
    group.bench_function("shared_no_drop", |b| {
        b.iter_with_large_drop(|| shared(black_box(payload)).unwrap())
    });
    // The floor that the span model sets: cloning and dropping the decoded
    // spans (allocations, reference counts, copies), with no parsing.
    group.bench_function("model_clone_drop", |b| {
        b.iter(|| black_box(decoded.clone()))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let (compact, n) = jaeger_batch(Proto::Compact, true);
    bench_one(
        c,
        "jaeger_compact_emit_batch",
        &compact,
        n,
        jaeger::decode_emit_batch_compact,
        jaeger::decode_emit_batch_compact_bytes,
    );
    let (binary, n) = jaeger_batch(Proto::Binary, false);
    bench_one(
        c,
        "jaeger_binary_batch",
        &binary,
        n,
        jaeger::decode_batch_binary,
        jaeger::decode_batch_binary_bytes,
    );
    let (json, n) = zipkin_body();
    bench_one(
        c,
        "zipkin_json",
        &json,
        n,
        zipkin::decode_spans_json,
        zipkin::decode_spans_json_bytes,
    );
}

criterion_group!(trace_formats, benches);
criterion_main!(trace_formats);
