//! The `prometheus_remote_write` sink: batches metric points into
//! remote-write 1.0 requests (snappy-compressed protobuf, with the
//! families' metadata) and posts them to a receiver: Prometheus with
//! `--web.enable-remote-write-receiver`, Mimir, Thanos, another logbridge.
//!
//! As the protocol asks: HTTP 5xx and 429 are retried (after `Retry-After`
//! when given, otherwise with a doubling backoff), as are connection
//! failures and timeouts; any other 4xx means the data would be refused
//! again, so the batch is rejected and counted. Points without a
//! timestamp are stamped with the time they are sent.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, HeaderValue, header};
use logbridge_component::batch::{BatchConfig, BatchDefaults};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind, Event, Metric};
use logbridge_prometheus::encode_write_request;
use serde::Deserialize;
use tracing::warn;

use logbridge_component::now_nanos;
use logbridge_net::client::{
    self, BatchLimits, Gathered, Outcome, auth_header, build_client, extra_headers, gather,
    give_up, http_url, seconds,
};
use logbridge_net::receive::AuthConfig;
use logbridge_net::retry::{RetryPolicy, Settled, send_until_settled};
use logbridge_net::tls::TlsClientConfig;

/// Sends metrics with Prometheus remote write 1.0.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusRemoteWriteSinkConfig {
    /// The receiver's URL, such as `http://127.0.0.1:9090/api/v1/write`.
    pub endpoint: String,
    /// Batching: a request is sent once it holds `max_events` points (or
    /// about `max_bytes`, when given), or `timeout_secs` after its first
    /// point.
    #[serde(default)]
    pub batch: BatchConfig<RemoteWriteBatch>,
    /// Credentials to send (`Authorization: Bearer` or `Basic`).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Extra headers on every request (such as `X-Scope-OrgID`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// TLS settings for `https://` (extra CA, client certificate).
    #[serde(default)]
    pub tls: Option<TlsClientConfig>,
    /// Seconds before a request is abandoned (and retried).
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: f64,
    /// Longest wait between retries, in seconds (backoff doubles from
    /// 0.1 s up to this).
    #[serde(default = "default_max_backoff_secs")]
    pub retry_max_backoff_secs: f64,
}

/// The sink's `batch.*` defaults.
#[derive(Debug, Clone, Copy)]
pub struct RemoteWriteBatch;

impl BatchDefaults for RemoteWriteBatch {
    const MAX_EVENTS: usize = 2000;
    const MAX_BYTES: Option<usize> = None;
    const TIMEOUT_SECS: f64 = 1.0;
}

fn default_request_timeout_secs() -> f64 {
    30.0
}
fn default_max_backoff_secs() -> f64 {
    30.0
}

impl SinkConfig for PrometheusRemoteWriteSinkConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        let url = http_url(
            "endpoint",
            &self.endpoint,
            "http://127.0.0.1:9090/api/v1/write",
        )?;
        let limits = self.batch.limits()?;
        let request_timeout = seconds("request_timeout_secs", self.request_timeout_secs)?;
        let max_backoff = seconds("retry_max_backoff_secs", self.retry_max_backoff_secs)?;
        let mut headers = extra_headers(&self.headers)?;
        if let Some(value) = auth_header(self.auth.as_ref())? {
            headers.push((header::AUTHORIZATION, value));
        }
        let client = build_client(self.tls.as_ref(), request_timeout)?;
        Ok(Box::new(RemoteWriteSink {
            client,
            url,
            headers,
            limits,
            request_timeout,
            max_backoff,
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::METRIC
    }
}

struct RemoteWriteSink {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    limits: BatchLimits,
    request_timeout: Duration,
    max_backoff: Duration,
}

#[async_trait::async_trait]
impl Sink for RemoteWriteSink {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        let log = RateLimit::default();
        while let Some(Gathered {
            events,
            finalizers,
            ended,
        }) = gather(&mut cx, &self.limits).await
        {
            let metrics: Vec<Metric> = events
                .into_iter()
                .filter_map(|e| match e {
                    Event::Metric(m) => Some(m),
                    _ => None,
                })
                .collect();
            let status = if metrics.is_empty() {
                BatchStatus::Delivered
            } else {
                self.send(&cx, metrics, &log).await
            };
            finalizers.finish(status);
            if ended {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl RemoteWriteSink {
    /// Sends one batch, retrying until it is taken, refused, or the
    /// pipeline stops.
    async fn send(
        &self,
        cx: &SinkContext,
        mut metrics: Vec<Metric>,
        log: &RateLimit,
    ) -> BatchStatus {
        let now = now_nanos();
        for m in &mut metrics {
            if m.time_unix_nano == 0 {
                m.time_unix_nano = now;
            }
        }
        let count = metrics.len();
        let size: usize = metrics.iter().map(Metric::estimated_size).sum();
        // Encoding a large batch is CPU work: off the runtime's workers.
        let body = match tokio::task::spawn_blocking(move || encode_write_request(&metrics)).await {
            Ok(body) => bytes::Bytes::from(body),
            Err(e) => {
                cx.metrics.add_error();
                warn!(message = "Encoding a remote-write request failed.", error = %e);
                return BatchStatus::Errored;
            }
        };
        let policy = RetryPolicy {
            max_backoff: self.max_backoff,
            max_retries: None,
            endpoint: self.url.as_str(),
            problem: "remote write failing, retrying",
            retrying: "Remote write failed; retrying.",
            refused: "The receiver refused a batch; not retrying.",
            gave_up: "",
            events: count,
        };
        match send_until_settled(cx, &policy, None, log, || self.attempt(body.clone())).await {
            Settled::Sent(()) => {
                cx.metrics.add_sent(count, size);
                BatchStatus::Delivered
            }
            Settled::Refused(_) | Settled::GaveUp | Settled::Taken => {
                cx.metrics.add_discarded(count, false);
                BatchStatus::Rejected
            }
            Settled::Stopped => give_up(&cx.metrics),
        }
    }

    async fn attempt(&self, body: bytes::Bytes) -> Outcome {
        let mut request = self
            .client
            .post(self.url.clone())
            .timeout(self.request_timeout)
            .header(header::CONTENT_ENCODING, "snappy")
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .header(
                header::USER_AGENT,
                concat!("logbridge/", env!("CARGO_PKG_VERSION")),
            )
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        client::send(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use logbridge_component::ShutdownSignal;
    use logbridge_component::channel;
    use logbridge_component::telemetry::ComponentKind;
    use logbridge_event::{BatchNotifier, EventBatch, Finalizers};

    /// A receiver answering the statuses of `script` in turn (then 204),
    /// recording every request.
    struct Fake {
        url: String,
        requests: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    }

    use http::HeaderMap;

    async fn fake(script: Vec<(u16, Option<&'static str>)>) -> Fake {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
        let recorded = requests.clone();
        let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let recorded = recorded.clone();
            let script = script.clone();
            async move {
                recorded.lock().unwrap().push((headers, body));
                let next = {
                    let mut s = script.lock().unwrap();
                    if s.is_empty() {
                        None
                    } else {
                        Some(s.remove(0))
                    }
                };
                let (code, retry) = next.unwrap_or((204, None));
                let mut response = axum::response::Response::new(axum::body::Body::empty());
                *response.status_mut() = http::StatusCode::from_u16(code).unwrap();
                if let Some(r) = retry {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static(r));
                }
                response
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fake { url, requests }
    }

    /// Runs the sink on one batch and returns the batch's status.
    async fn run_once(config: serde_json::Value, metrics: Vec<Metric>) -> BatchStatus {
        let config: PrometheusRemoteWriteSinkConfig = serde_json::from_value(config).unwrap();
        let cx = BuildContext::detached("rw", ComponentKind::Sink, std::env::temp_dir());
        let sink = config.build(&cx).unwrap();
        let (tx, rx) = channel::bounded(16, 1 << 20);
        let (status_tx, status_rx) = tokio::sync::oneshot::channel();
        let notifier = BatchNotifier::new(move |s| {
            let _ = status_tx.send(s);
        });
        let batch = EventBatch::new(metrics.into_iter().map(Event::Metric).collect())
            .with_finalizers(Finalizers::new(notifier));
        tx.send(batch).await.unwrap();
        drop(tx);
        let sink_cx = SinkContext::new(
            "rw".into(),
            cx.metrics.clone(),
            std::env::temp_dir(),
            ShutdownSignal::new(),
            rx,
        );
        sink.run(sink_cx).await.unwrap();
        status_rx.await.unwrap()
    }

    #[tokio::test]
    async fn sends_snappy_protobuf_and_retries_what_may_be_retried() {
        let server = fake(vec![(503, None), (429, Some("0"))]).await;
        let points = vec![
            Metric::counter("requests_total", 3.0, 1_700_000_000_000_000_000).with_label("a", "b"),
            Metric::gauge("temperature", 21.5, 0),
        ];
        let status = run_once(
            serde_json::json!({
                "endpoint": server.url,
                "batch": {"timeout_secs": 0.05},
                "auth": {"strategy": "bearer", "token": "secret"},
                "headers": {"X-Scope-OrgID": "team"},
            }),
            points,
        )
        .await;
        assert_eq!(status, BatchStatus::Delivered);
        let requests = server.requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 3, "two retries, then success");
        let (headers, body) = &requests[2];
        assert_eq!(headers["content-encoding"], "snappy");
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
        assert_eq!(headers["authorization"], "Bearer secret");
        assert_eq!(headers["x-scope-orgid"], "team");
        let decoded = logbridge_prometheus::decode_write_request(body, 1 << 20).unwrap();
        assert_eq!(decoded.len(), 2);
        let counter = decoded.iter().find(|m| m.name == "requests_total").unwrap();
        assert_eq!(counter.value.as_f64(), Some(3.0));
        assert_eq!(counter.time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(counter.labels.get("a").unwrap().to_string_lossy(), "b");
        let gauge = decoded.iter().find(|m| m.name == "temperature").unwrap();
        assert!(gauge.time_unix_nano > 0, "stamped with the sending time");
        // The family metadata went along: it gives the decoded points
        // their kinds.
        assert_eq!(counter.kind, logbridge_event::MetricKind::Counter);
    }

    #[tokio::test]
    async fn other_client_errors_reject_the_batch() {
        let server = fake(vec![(400, None)]).await;
        let status = run_once(
            serde_json::json!({"endpoint": server.url, "batch": {"timeout_secs": 0.05}}),
            vec![Metric::gauge("g", 1.0, 5)],
        )
        .await;
        assert_eq!(status, BatchStatus::Rejected);
        assert_eq!(server.requests.lock().unwrap().len(), 1);
    }
}
