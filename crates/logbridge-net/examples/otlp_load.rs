//! Load generator and receiver for the OTLP traces benchmarks
//! (`scripts/bench --only otlp` and `--only traces`): sends `--spans` spans
//! in requests of `--batch` over OTLP/gRPC to `--target` from
//! `--concurrency` streams at once, and listens as the downstream
//! collector on `--listen-grpc` (and OTLP/HTTP protobuf on
//! `--listen-http`), counting the spans that come out of the pipeline under
//! test. Prints one JSON line: spans received, seconds from the first send
//! to the last span received, spans per second; with `--settle-ms`, for a
//! pipeline that samples, also the spans sent per second of sending and
//! the latency percentiles of the spans received. `--rate N` paces the
//! sending at N spans per second instead of as fast as the pipeline takes
//! them, so that latency can be measured below saturation (where it is
//! the pipeline's own, not the time requests queue behind each other).
//!
//! The spans look like a web service's: about ten attributes of HTTP and
//! database conventions, an event, one resource per request; traces of
//! four spans, one in fifty with a failed span and one in a hundred slow
//! (500 ms). Every request has trace ids of its own (its index in the first
//! eight bytes), which is how the receiver knows when a span was sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::serve::ListenerExt;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;

struct Args {
    target: String,
    listen_grpc: u16,
    listen_http: u16,
    spans: u64,
    batch: usize,
    concurrency: usize,
    /// For a pipeline that samples: stop once no span came for this long
    /// after the last send, instead of waiting for every span.
    settle_ms: u64,
    /// Spans per second to offer; 0 sends as fast as the pipeline takes.
    rate: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        target: "http://127.0.0.1:4317".into(),
        listen_grpc: 0,
        listen_http: 0,
        spans: 1_000_000,
        batch: 100,
        concurrency: 16,
        settle_ms: 0,
        rate: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--target" => a.target = value,
            "--listen-grpc" => a.listen_grpc = value.parse().expect("--listen-grpc PORT"),
            "--listen-http" => a.listen_http = value.parse().expect("--listen-http PORT"),
            "--spans" => a.spans = value.parse().expect("--spans N"),
            "--batch" => a.batch = value.parse().expect("--batch N"),
            "--concurrency" => a.concurrency = value.parse().expect("--concurrency N"),
            "--settle-ms" => a.settle_ms = value.parse().expect("--settle-ms N"),
            "--rate" => a.rate = value.parse().expect("--rate SPANS_PER_SEC"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

fn request(seq: u64, batch: usize) -> ExportTraceServiceRequest {
    let spans = (0..batch as u64)
        .map(|i| {
            let n = seq * batch as u64 + i;
            let start = 1_700_000_000_000_000_000 + n * 1000;
            let trace = n / 4;
            let slow = trace.is_multiple_of(100) && n.is_multiple_of(4);
            Span {
                trace_id: (n / 4).to_be_bytes().repeat(2),
                span_id: (n + 1).to_be_bytes().to_vec(),
                parent_span_id: if n.is_multiple_of(4) {
                    vec![]
                } else {
                    (n).to_be_bytes().to_vec()
                },
                name: [
                    "GET /api/cart",
                    "SELECT carts",
                    "POST /api/pay",
                    "redis GET",
                ][(n % 4) as usize]
                    .into(),
                kind: [2, 3, 2, 3][(n % 4) as usize],
                start_time_unix_nano: start,
                end_time_unix_nano: start + if slow { 500_000_000 } else { 1_250_000 },
                attributes: vec![
                    kv("http.method", s("GET")),
                    kv("http.route", s("/api/cart/{id}")),
                    kv("http.status_code", any_value::Value::IntValue(200)),
                    kv("net.peer.name", s("10.1.2.3")),
                    kv("user_agent.original", s("Mozilla/5.0 (X11; Linux x86_64)")),
                    kv("db.system", s("postgresql")),
                    kv("db.statement", s("SELECT * FROM carts WHERE id = $1")),
                    kv("thread.id", any_value::Value::IntValue(17)),
                    kv("retry", any_value::Value::BoolValue(false)),
                    kv("cart.items", any_value::Value::IntValue((n % 9) as i64)),
                ],
                events: vec![span::Event {
                    time_unix_nano: start + 500_000,
                    name: "cache miss".into(),
                    attributes: vec![kv("key", s("cart:42"))],
                    dropped_attributes_count: 0,
                }],
                status: (trace % 50 == 7 && n % 4 == 3).then(|| Status {
                    code: 2,
                    message: "timeout".into(),
                }),
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", s("checkout")),
                    kv("service.version", s("1.4.2")),
                    kv("host.name", s("web-7")),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn count(r: &ExportTraceServiceRequest) -> u64 {
    r.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len() as u64)
        .sum()
}

/// What the receiver counts: spans, when the last came, and each span's
/// time from its request's send (microseconds).
struct Tally {
    received: AtomicU64,
    last_ns: AtomicU64,
    started: Instant,
    /// Per request: nanoseconds from `started` to its send; empty when
    /// latencies are not measured (`--settle-ms` unset).
    sent_at: Vec<AtomicU64>,
    latencies_us: std::sync::Mutex<Vec<u32>>,
}

impl Tally {
    fn record(&self, r: &ExportTraceServiceRequest) {
        let now = self.started.elapsed().as_nanos() as u64;
        self.received.fetch_add(count(r), Ordering::Relaxed);
        self.last_ns.fetch_max(now, Ordering::Relaxed);
        if self.sent_at.is_empty() {
            return;
        }
        let mut latencies = Vec::new();
        for span in r
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
        {
            let Some(index) = span.trace_id.get(..8) else {
                continue;
            };
            let index = u64::from_be_bytes(index.try_into().unwrap_or_default()) as usize;
            if let Some(sent) = self.sent_at.get(index) {
                let sent = sent.load(Ordering::Relaxed);
                latencies.push((now.saturating_sub(sent) / 1000).min(u32::MAX as u64) as u32);
            }
        }
        if let Ok(mut all) = self.latencies_us.lock() {
            all.extend(latencies);
        }
    }
}

#[derive(Clone)]
struct Counter(Arc<Tally>);

#[tonic::async_trait]
impl TraceService for Counter {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.record(request.get_ref());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Gives the request's traces ids of its own: its index in the first eight
/// bytes.
fn stamp(request: &mut ExportTraceServiceRequest, index: u64) {
    for span in request
        .resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans)
    {
        span.trace_id[..8].copy_from_slice(&index.to_be_bytes());
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = parse_args();
    let requests = args.spans.div_ceil(args.batch as u64);
    let tally = Arc::new(Tally {
        received: AtomicU64::new(0),
        last_ns: AtomicU64::new(0),
        started: Instant::now(),
        sent_at: if args.settle_ms > 0 {
            (0..requests).map(|_| AtomicU64::new(0)).collect()
        } else {
            Vec::new()
        },
        latencies_us: std::sync::Mutex::new(Vec::new()),
    });
    let grpc = tonic::service::Routes::new(
        TraceServiceServer::new(Counter(tally.clone()))
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
            .max_decoding_message_size(64 << 20),
    )
    .into_axum_router();
    let counter = tally.clone();
    let http = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let counter = counter.clone();
            async move {
                if let Ok(r) = ExportTraceServiceRequest::decode(body) {
                    counter.record(&r);
                }
                ""
            }
        }),
    );
    for (port, router) in [(args.listen_grpc, grpc), (args.listen_http, http)] {
        if port == 0 {
            continue;
        }
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .expect("bind the receiver");
        // Without TCP_NODELAY, small answers wait for delayed ACKs (40 ms).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, router).await });
    }
    let prepared: Arc<Vec<ExportTraceServiceRequest>> =
        Arc::new((0..64).map(|i| request(i, args.batch)).collect());
    let channel = tonic::transport::Endpoint::from_shared(args.target.clone())
        .expect("--target URL")
        .connect_lazy();
    let next = Arc::new(AtomicU64::new(0));
    let started = tally.started;
    // Request `i` is due `i` request intervals after the start.
    let interval =
        (args.rate > 0).then(|| Duration::from_secs_f64(args.batch as f64 / args.rate as f64));
    let mut senders = Vec::new();
    for _ in 0..args.concurrency {
        let (channel, next, prepared, tally) = (
            channel.clone(),
            next.clone(),
            prepared.clone(),
            tally.clone(),
        );
        senders.push(tokio::spawn(async move {
            let mut client = TraceServiceClient::new(channel).max_encoding_message_size(64 << 20);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return;
                }
                if let Some(interval) = interval {
                    tokio::time::sleep_until((started + interval.mul_f64(i as f64)).into()).await;
                }
                let mut request = prepared[(i % 64) as usize].clone();
                stamp(&mut request, i);
                if let Some(sent) = tally.sent_at.get(i as usize) {
                    sent.store(tally.started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                }
                // The pipeline answers "retry later" when full: do so.
                while let Err(status) = client.export(request.clone()).await {
                    if !matches!(
                        status.code(),
                        tonic::Code::Unavailable | tonic::Code::ResourceExhausted
                    ) {
                        panic!("export failed: {status}");
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    for s in senders {
        s.await.expect("sender");
    }
    let send_secs = started.elapsed().as_secs_f64();
    let expected = requests * args.batch as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = tally.received.load(Ordering::Relaxed);
        let quiet_ms = started.elapsed().as_millis().saturating_sub(u128::from(
            tally.last_ns.load(Ordering::Relaxed) / 1_000_000,
        ));
        let done = if args.settle_ms > 0 {
            got > 0 && quiet_ms >= u128::from(args.settle_ms)
        } else {
            got >= expected
        };
        if done || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let got = tally.received.load(Ordering::Relaxed);
    let secs = if args.settle_ms > 0 {
        tally.last_ns.load(Ordering::Relaxed) as f64 / 1e9
    } else {
        started.elapsed().as_secs_f64()
    };
    let mut latencies = tally
        .latencies_us
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |us| f64::from(*us) / 1000.0)
    };
    println!(
        "{{\"spans\":{got},\"expected\":{expected},\"seconds\":{secs:.3},\"spans_per_sec\":{:.0},\"sent_per_sec\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2}}}",
        got as f64 / secs,
        expected as f64 / send_secs,
        percentile(0.50),
        percentile(0.99),
    );
}
