//! The `otlp` sink: batches whatever reaches it (logs, metrics, spans) and
//! exports each batch as one request per signal over OTLP/gRPC or
//! OTLP/HTTP, retrying what OTLP says may be retried.
//!
//! Retryable: HTTP 429, 502, 503, 504 (waiting `Retry-After` when given)
//! and connection failures; gRPC `UNAVAILABLE`, `CANCELLED`,
//! `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `DATA_LOSS`, and
//! `RESOURCE_EXHAUSTED` when the server sent a `RetryInfo` (waiting its
//! delay). Anything else is a permanent refusal: the batch is rejected and
//! counted. A response reporting partial success is a delivery; what the
//! server says it rejected is counted as discarded and logged.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use logbridge_component::batch::{BatchConfig, BatchDefaults};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind, Event, LogRecord, Metric, Span};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use serde::Deserialize;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};
use tracing::warn;

use logbridge_net::client::{
    self, Answer, BatchLimits, Gathered, build_client, exchange, extra_headers, gather, give_up,
    gzip, http_url, seconds,
};
use logbridge_net::retry::{RetryPolicy, Settled, send_until_settled};
use logbridge_net::tls::TlsClientConfig;

use logbridge_otlp::Signal;

/// Sends logs, metrics and traces to an OTLP receiver (an OpenTelemetry
/// Collector, a vendor endpoint, another logbridge).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtlpSinkConfig {
    /// The receiver: `http://host:4317` for gRPC; for HTTP the base URL,
    /// to which `/v1/logs`, `/v1/metrics` and `/v1/traces` are appended
    /// (`http://host:4318`). `https://` uses TLS.
    pub endpoint: String,
    /// `grpc` or `http`.
    #[serde(default)]
    pub protocol: OtlpProtocol,
    /// HTTP body encoding: `protobuf` or `json`.
    #[serde(default)]
    pub encoding: OtlpEncoding,
    /// Compress requests: `gzip` or `none`.
    #[serde(default)]
    pub compression: OtlpCompression,
    /// Extra headers (gRPC metadata) on every request, such as
    /// `authorization`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub tls: Option<TlsClientConfig>,
    /// Batching: a request is sent once it holds `max_events` (or about
    /// `max_bytes`, when given), or `timeout_secs` after its first event.
    #[serde(default)]
    pub batch: BatchConfig<OtlpBatch>,
    /// Seconds before a request is abandoned (and retried).
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: f64,
    /// Longest wait between retries, in seconds (backoff doubles from
    /// 0.1 s up to this).
    #[serde(default = "default_max_backoff_secs")]
    pub retry_max_backoff_secs: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OtlpProtocol {
    #[default]
    Grpc,
    Http,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OtlpEncoding {
    #[default]
    Protobuf,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OtlpCompression {
    #[default]
    Gzip,
    None,
}

/// The sink's `batch.*` defaults.
#[derive(Debug, Clone, Copy)]
pub struct OtlpBatch;

impl BatchDefaults for OtlpBatch {
    const MAX_EVENTS: usize = 4096;
    const MAX_BYTES: Option<usize> = None;
    const TIMEOUT_SECS: f64 = 0.2;
}

fn default_request_timeout_secs() -> f64 {
    10.0
}
fn default_max_backoff_secs() -> f64 {
    30.0
}

impl SinkConfig for OtlpSinkConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        let url = http_url("endpoint", &self.endpoint, "http://127.0.0.1:4317")?;
        let limits = self.batch.limits()?;
        let request_timeout = seconds("request_timeout_secs", self.request_timeout_secs)?;
        let max_backoff = seconds("retry_max_backoff_secs", self.retry_max_backoff_secs)?;
        let headers = extra_headers(&self.headers)?;
        let tls = self.tls.clone().unwrap_or_default();
        tls.validate()?;
        let transport = match self.protocol {
            OtlpProtocol::Grpc => {
                if self.encoding == OtlpEncoding::Json {
                    return Err(BuildError::new("encoding", "gRPC always uses protobuf")
                        .with_hint("remove encoding, or use protocol = \"http\""));
                }
                let mut endpoint = Endpoint::from_shared(self.endpoint.clone())
                    .map_err(|e| BuildError::new("endpoint", e.to_string()))?
                    .timeout(request_timeout)
                    .connect_timeout(request_timeout);
                if url.scheme() == "https" {
                    endpoint = endpoint
                        .tls_config(tls.tonic_config()?)
                        .map_err(|e| BuildError::new("tls", e.to_string()))?;
                }
                // Connected in `run`: a channel needs the runtime, and
                // `validate` builds components without one.
                Transport::Grpc(Box::new(endpoint))
            }
            OtlpProtocol::Http => {
                let client = build_client(Some(&tls), request_timeout)?;
                Transport::Http {
                    client,
                    base: self.endpoint.trim_end_matches('/').to_owned(),
                    json: self.encoding == OtlpEncoding::Json,
                }
            }
        };
        Ok(Box::new(OtlpSink {
            transport,
            headers,
            gzip: self.compression == OtlpCompression::Gzip,
            limits,
            max_backoff,
            endpoint: self.endpoint.clone(),
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }
}

enum Transport {
    Grpc(Box<Endpoint>),
    Http {
        client: reqwest::Client,
        base: String,
        json: bool,
    },
}

struct OtlpSink {
    transport: Transport,
    headers: Vec<(HeaderName, HeaderValue)>,
    gzip: bool,
    limits: BatchLimits,
    max_backoff: Duration,
    /// The configured endpoint, for logs.
    endpoint: String,
}

/// How one export attempt ended; a sent one brings back how many items
/// the server refused of it, and why.
type Outcome = client::Outcome<(u64, String)>;

#[async_trait::async_trait]
impl Sink for OtlpSink {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        let refused_log = RateLimit::default();
        let channel = match &self.transport {
            Transport::Grpc(endpoint) => Some(endpoint.connect_lazy()),
            Transport::Http { .. } => None,
        };
        while let Some(Gathered {
            events,
            finalizers,
            ended,
        }) = gather(&mut cx, &self.limits).await
        {
            let status = self
                .export(&cx, channel.as_ref(), events, &refused_log)
                .await;
            finalizers.finish(status);
            if ended {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl OtlpSink {
    /// Exports one batch, one request per signal present, each retried
    /// until it succeeds, is refused, or the pipeline stops.
    async fn export(
        &self,
        cx: &SinkContext,
        channel: Option<&Channel>,
        events: Vec<Event>,
        log: &RateLimit,
    ) -> BatchStatus {
        let mut logs = Vec::new();
        let mut metrics = Vec::new();
        let mut spans = Vec::new();
        for event in events {
            match event {
                Event::Log(l) => logs.push(l),
                Event::Metric(m) => metrics.push(m),
                Event::Span(s) => spans.push(*s),
            }
        }
        let mut status = BatchStatus::Delivered;
        if !logs.is_empty() {
            status = status.max(self.send(cx, channel, Payload::Logs(logs), log).await);
        }
        if !metrics.is_empty() {
            status = status.max(self.send(cx, channel, Payload::Metrics(metrics), log).await);
        }
        if !spans.is_empty() {
            status = status.max(self.send(cx, channel, Payload::Spans(spans), log).await);
        }
        status
    }

    async fn send(
        &self,
        cx: &SinkContext,
        channel: Option<&Channel>,
        payload: Payload,
        log: &RateLimit,
    ) -> BatchStatus {
        let count = payload.len();
        let size = payload.estimated_size();
        let policy = RetryPolicy {
            max_backoff: self.max_backoff,
            max_retries: None,
            endpoint: &self.endpoint,
            problem: "export failing, retrying",
            retrying: "Export failed; retrying.",
            refused: "The receiver refused a batch; not retrying.",
            gave_up: "",
            events: count,
        };
        let settled = send_until_settled(cx, &policy, None, log, || async {
            match (&self.transport, channel) {
                (Transport::Http { client, base, json }, _) => {
                    self.attempt_http(client, base, *json, &payload).await
                }
                (Transport::Grpc(_), Some(channel)) => {
                    self.attempt_grpc(channel.clone(), &payload).await
                }
                (Transport::Grpc(_), None) => Outcome::Refused("no gRPC channel".into()),
            }
        })
        .await;
        match settled {
            Settled::Sent((rejected, message)) => {
                cx.metrics.add_sent(count, size);
                if rejected > 0 {
                    cx.metrics.add_discarded(rejected as usize, false);
                    if log.allow() {
                        warn!(message = "The receiver refused part of a batch.", rejected, reason = %message);
                    }
                }
                BatchStatus::Delivered
            }
            Settled::Refused(_) | Settled::GaveUp | Settled::Taken => {
                cx.metrics.add_discarded(count, false);
                BatchStatus::Rejected
            }
            Settled::Stopped => give_up(&cx.metrics),
        }
    }

    async fn attempt_grpc(&self, channel: Channel, payload: &Payload) -> Outcome {
        // The three services differ only in their client, request and
        // rejected-count types.
        macro_rules! export {
            ($client:ident, $request:expr, $rejected:ident) => {{
                let mut client = $client::new(channel).accept_compressed(CompressionEncoding::Gzip);
                if self.gzip {
                    client = client.send_compressed(CompressionEncoding::Gzip);
                }
                client.export(self.grpc_request($request)).await.map(|r| {
                    r.into_inner()
                        .partial_success
                        .map(|p| (p.$rejected as u64, p.error_message))
                })
            }};
        }
        let result = match payload {
            Payload::Logs(v) => export!(
                LogsServiceClient,
                logbridge_otlp::logs_to_request(v),
                rejected_log_records
            ),
            Payload::Metrics(v) => export!(
                MetricsServiceClient,
                logbridge_otlp::metrics_to_request(v),
                rejected_data_points
            ),
            Payload::Spans(v) => export!(
                TraceServiceClient,
                logbridge_otlp::spans_to_request(v),
                rejected_spans
            ),
        };
        match result {
            Ok(partial) => {
                let (rejected, message) = partial.unwrap_or_default();
                Outcome::Sent((rejected, message))
            }
            Err(status) => grpc_outcome(&status),
        }
    }

    fn grpc_request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        for (name, value) in &self.headers {
            if let Ok(value) = tonic::metadata::MetadataValue::try_from(value.as_bytes())
                && let Ok(key) = tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes())
            {
                request.metadata_mut().insert(key, value);
            }
        }
        request
    }

    async fn attempt_http(
        &self,
        client: &reqwest::Client,
        base: &str,
        json: bool,
        payload: &Payload,
    ) -> Outcome {
        let body = payload.encode(json);
        let (body, encoding) = if self.gzip {
            match gzip(&body) {
                Ok(b) => (b, Some("gzip")),
                Err(e) => return Outcome::Refused(format!("compressing failed: {e}")),
            }
        } else {
            (body, None)
        };
        let content_type = if json {
            "application/json"
        } else {
            "application/x-protobuf"
        };
        let mut request = client
            .post(format!("{base}{}", payload.signal().http_path()))
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header(http::header::CONTENT_ENCODING, encoding);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let Answer {
            status,
            retry_after,
            body,
        } = match exchange(request).await {
            Ok(answer) => answer,
            Err(reason) => {
                return Outcome::Retry {
                    after: None,
                    reason,
                };
            }
        };
        if status.is_success() {
            let (rejected, message) = payload.partial_success(&body, json);
            return Outcome::Sent((rejected, message));
        }
        let reason = format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(512)])
        );
        match status.as_u16() {
            429 | 502 | 503 | 504 => Outcome::Retry {
                after: retry_after,
                reason,
            },
            _ => Outcome::Refused(reason),
        }
    }
}

fn grpc_outcome(status: &tonic::Status) -> Outcome {
    use tonic::Code;
    let reason = format!("gRPC {:?}: {}", status.code(), status.message());
    match status.code() {
        Code::Unavailable
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => Outcome::Retry {
            after: logbridge_net::rpc::retry_delay(status.details()),
            reason,
        },
        Code::ResourceExhausted => match logbridge_net::rpc::retry_delay(status.details()) {
            Some(after) => Outcome::Retry {
                after: Some(after),
                reason,
            },
            None => Outcome::Refused(reason),
        },
        _ => Outcome::Refused(reason),
    }
}

/// The events of one request.
enum Payload {
    Logs(Vec<LogRecord>),
    Metrics(Vec<Metric>),
    Spans(Vec<Span>),
}

impl Payload {
    fn signal(&self) -> Signal {
        match self {
            Payload::Logs(_) => Signal::Logs,
            Payload::Metrics(_) => Signal::Metrics,
            Payload::Spans(_) => Signal::Traces,
        }
    }

    fn len(&self) -> usize {
        match self {
            Payload::Logs(v) => v.len(),
            Payload::Metrics(v) => v.len(),
            Payload::Spans(v) => v.len(),
        }
    }

    /// The events' estimated size, for the sent-bytes counter.
    fn estimated_size(&self) -> usize {
        match self {
            Payload::Logs(v) => v.iter().map(LogRecord::estimated_size).sum(),
            Payload::Metrics(v) => v.iter().map(Metric::estimated_size).sum(),
            Payload::Spans(v) => v.iter().map(Span::estimated_size).sum(),
        }
    }

    fn encode(&self, json: bool) -> Vec<u8> {
        match (self, json) {
            (Payload::Logs(v), false) => logbridge_otlp::encode_logs(v),
            (Payload::Logs(v), true) => logbridge_otlp::encode_logs_json(v),
            (Payload::Metrics(v), false) => logbridge_otlp::encode_metrics(v),
            (Payload::Metrics(v), true) => logbridge_otlp::encode_metrics_json(v),
            (Payload::Spans(v), false) => logbridge_otlp::encode_traces(v),
            (Payload::Spans(v), true) => logbridge_otlp::encode_traces_json(v),
        }
    }

    /// What an HTTP success response says was refused, if anything.
    fn partial_success(&self, body: &[u8], json: bool) -> (u64, String) {
        use opentelemetry_proto::tonic::collector as c;
        if body.is_empty() {
            return (0, String::new());
        }
        if json {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let p = &v["partialSuccess"];
            let field = match self {
                Payload::Logs(_) => "rejectedLogRecords",
                Payload::Metrics(_) => "rejectedDataPoints",
                Payload::Spans(_) => "rejectedSpans",
            };
            let rejected = match &p[field] {
                serde_json::Value::String(s) => s.parse().unwrap_or(0),
                other => other.as_u64().unwrap_or(0),
            };
            let message = p["errorMessage"].as_str().unwrap_or("").to_owned();
            return (rejected, message);
        }
        let body = Bytes::copy_from_slice(body);
        let partial = match self {
            Payload::Logs(_) => c::logs::v1::ExportLogsServiceResponse::decode(body)
                .ok()
                .and_then(|r| r.partial_success)
                .map(|p| (p.rejected_log_records as u64, p.error_message)),
            Payload::Metrics(_) => c::metrics::v1::ExportMetricsServiceResponse::decode(body)
                .ok()
                .and_then(|r| r.partial_success)
                .map(|p| (p.rejected_data_points as u64, p.error_message)),
            Payload::Spans(_) => c::trace::v1::ExportTraceServiceResponse::decode(body)
                .ok()
                .and_then(|r| r.partial_success)
                .map(|p| (p.rejected_spans as u64, p.error_message)),
        };
        partial.unwrap_or_default()
    }
}
