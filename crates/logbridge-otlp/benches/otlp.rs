//! Criterion benchmarks of the OTLP protobuf conversions on realistic
//! requests of about 16 KiB: spans with ten attributes and an event each
//! under one resource, and a mix of gauge, counter and histogram points.
//! Decode is bytes to events, encode events to bytes. Throughput is in
//! bytes of protobuf, so criterion's figure converts to µs per 16 KiB.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logbridge_event::{
    Bucket, KeyString, Metric, MetricKind, MetricValue, ObjectMap, Resource, Scope, Span,
    SpanEvent, SpanId, SpanKind, SpanStatus, StatusCode, Temporality, TraceId, Value,
};
use logbridge_otlp::{decode_metrics, decode_traces, encode_metrics, encode_traces};

const TARGET: usize = 16 * 1024;

fn map(entries: &[(&str, Value)]) -> ObjectMap {
    ObjectMap::from_entries(
        entries
            .iter()
            .map(|(k, v)| (KeyString::from(*k), v.clone()))
            .collect(),
    )
}

fn resource() -> Arc<Resource> {
    Arc::new(Resource {
        attributes: map(&[
            ("service.name", "checkout".into()),
            ("service.version", "2.14.1".into()),
            ("deployment.environment", "production".into()),
            ("host.name", "web-01.eu-west-1.example.com".into()),
            ("k8s.pod.name", "checkout-7d9f8b6c5-x2x9q".into()),
            ("telemetry.sdk.language", "go".into()),
        ]),
        ..Resource::default()
    })
}

fn scope() -> Arc<Scope> {
    Arc::new(Scope {
        name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp".into(),
        version: "0.49.0".into(),
        ..Scope::default()
    })
}

fn span(i: u64, resource: &Arc<Resource>, scope: &Arc<Scope>) -> Span {
    let mut trace = [0u8; 16];
    trace[..8].copy_from_slice(&(i / 8 + 1).to_be_bytes());
    let start = 1_714_564_800_000_000_000 + i as i64 * 1_000_000;
    Span {
        trace_id: TraceId(trace),
        span_id: SpanId((i + 1).to_be_bytes()),
        parent_span_id: (!i.is_multiple_of(8)).then(|| SpanId(i.to_be_bytes())),
        name: KeyString::from("GET /api/v1/cart/{id}"),
        kind: SpanKind::Server,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 12_345_678,
        attributes: map(&[
            ("http.request.method", "GET".into()),
            ("http.route", "/api/v1/cart/{id}".into()),
            ("url.path", format!("/api/v1/cart/{}", 8800 + i).into()),
            ("http.response.status_code", Value::Integer(200)),
            ("server.address", "checkout.internal".into()),
            ("server.port", Value::Integer(8080)),
            ("client.address", "10.0.12.7".into()),
            (
                "user_agent.original",
                "Mozilla/5.0 (X11; Linux x86_64)".into(),
            ),
            ("network.protocol.version", "1.1".into()),
            ("http.response.body.size", Value::Integer(1532)),
        ]),
        events: vec![SpanEvent {
            time_unix_nano: start + 5_000_000,
            name: "cache.miss".into(),
            attributes: map(&[("cache.key", format!("cart:{}", 8800 + i).into())]),
            dropped_attributes_count: 0,
        }],
        status: SpanStatus {
            code: StatusCode::Ok,
            message: String::new(),
        },
        resource: Some(resource.clone()),
        scope: Some(scope.clone()),
        ..Span::default()
    }
}

fn spans() -> Vec<Span> {
    let (resource, scope) = (resource(), scope());
    let mut spans = Vec::new();
    while encode_traces(&spans).len() < TARGET {
        spans.push(span(spans.len() as u64, &resource, &scope));
    }
    spans
}

fn metric(i: u64, resource: &Arc<Resource>, scope: &Arc<Scope>) -> Metric {
    let time = 1_714_564_800_000_000_000 + (i as i64 / 12) * 10_000_000_000;
    let route = ["/api/v1/cart", "/api/v1/charge", "/api/v2/search"][(i % 3) as usize];
    let (name, kind, value) = match (i / 3) % 4 {
        0 => (
            "http.server.active_requests",
            MetricKind::UpDownCounter,
            MetricValue::Integer(i as i64 % 17),
        ),
        1 => (
            "http.server.requests",
            MetricKind::Counter,
            MetricValue::Integer(1000 + i as i64),
        ),
        2 => (
            "process.cpu.utilization",
            MetricKind::Gauge,
            MetricValue::Scalar(0.25 + i as f64 / 1000.0),
        ),
        _ => {
            let bounds = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let mut buckets: Vec<Bucket> = bounds
                .iter()
                .enumerate()
                .map(|(b, &upper_bound)| Bucket {
                    upper_bound,
                    count: (b as u64 * 7 + i) % 50,
                })
                .collect();
            buckets.push(Bucket {
                upper_bound: f64::INFINITY,
                count: 1,
            });
            let count = buckets.iter().map(|b| b.count).sum();
            (
                "http.server.request.duration",
                MetricKind::Histogram,
                MetricValue::Histogram {
                    buckets,
                    count,
                    sum: Some(count as f64 * 0.12),
                    min: Some(0.001),
                    max: Some(7.5),
                },
            )
        }
    };
    Metric {
        name: KeyString::from(name),
        labels: map(&[
            ("http.request.method", "GET".into()),
            ("http.route", route.into()),
            ("http.response.status_code", Value::Integer(200)),
        ]),
        kind,
        temporality: Temporality::Cumulative,
        value,
        time_unix_nano: time,
        start_time_unix_nano: 1_714_564_000_000_000_000,
        unit: "s".into(),
        resource: Some(resource.clone()),
        scope: Some(scope.clone()),
        ..Metric::default()
    }
}

fn metrics() -> Vec<Metric> {
    let (resource, scope) = (resource(), scope());
    let mut metrics = Vec::new();
    while encode_metrics(&metrics).len() < TARGET {
        metrics.push(metric(metrics.len() as u64, &resource, &scope));
    }
    metrics
}

fn bench_traces(c: &mut Criterion) {
    let spans = spans();
    let bytes = encode_traces(&spans);
    let mut group = c.benchmark_group("traces");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let label = format!("{} spans, {} bytes", spans.len(), bytes.len());
    group.bench_function(format!("decode/{label}"), |b| {
        b.iter(|| black_box(decode_traces(black_box(&bytes)).unwrap()))
    });
    group.bench_function(format!("encode/{label}"), |b| {
        b.iter(|| black_box(encode_traces(black_box(&spans))))
    });
    group.finish();
}

fn bench_metrics(c: &mut Criterion) {
    let metrics = metrics();
    let bytes = encode_metrics(&metrics);
    let mut group = c.benchmark_group("metrics");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let label = format!("{} points, {} bytes", metrics.len(), bytes.len());
    group.bench_function(format!("decode/{label}"), |b| {
        b.iter(|| black_box(decode_metrics(black_box(&bytes)).unwrap()))
    });
    group.bench_function(format!("encode/{label}"), |b| {
        b.iter(|| black_box(encode_metrics(black_box(&metrics))))
    });
    group.finish();
}

criterion_group!(benches, bench_traces, bench_metrics);
criterion_main!(benches);
