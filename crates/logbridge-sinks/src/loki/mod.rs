//! The `loki` sink: batches logs (by count, size and time), sends each
//! batch as one push per tenant to `<endpoint>/loki/api/v1/push`, and
//! retries what Loki says may be retried.
//!
//! Retryable: HTTP 429 and 5xx (waiting `Retry-After` when given) and
//! connection failures, with backoff. Any other answer is a refusal for
//! good (Loki answers 400 for out-of-order or malformed entries, which
//! would fail again): the batch is rejected, its logs counted as discarded.
//! Logs that cannot make a stream (no labels) are discarded the same way.

mod request;

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};
use logbridge_component::batch::{BatchConfig, BatchDefaults};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind};
use logbridge_loki::StructuredMetadata;
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

use self::request::{Body, Labels, Push, Rendered, RequestBuilder};
use logbridge_loki::{PUSH_PATH, TENANT_HEADER};

/// Pushes logs to Grafana Loki (or anything speaking its push API, such as
/// a `loki` source).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LokiSinkConfig {
    /// Loki's base URL, such as `http://loki:3100`; pushes go to
    /// `/loki/api/v1/push` under it. `https://` uses TLS.
    pub endpoint: String,
    /// Stream labels: label name to template (`app = "{{ .app }}"`,
    /// `job = "logbridge"`); a label whose value is missing or empty is
    /// left out. When absent, a log's resource attributes are its labels
    /// (what a `loki` source decoded, so streams pass through unchanged).
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// Structured metadata of each entry: `attributes` (every attribute),
    /// `attributes_except_labels` (those not already labels), or `none`.
    #[serde(default)]
    pub structured_metadata: MetadataMode,
    /// The tenant (`X-Scope-OrgID`), a template such as
    /// `{{ %loki.tenant }}` (what a `loki` source received). Logs are sent
    /// one request per tenant; without a tenant the header is not sent.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `protobuf` (snappy-compressed, Loki's native form) or `json`.
    #[serde(default)]
    pub encoding: LokiEncoding,
    /// `gzip` or `none`; only for `encoding = "json"` (protobuf bodies
    /// are always snappy-compressed).
    #[serde(default)]
    pub compression: LokiCompression,
    /// Batching: a push is sent once it holds `max_events` logs or about
    /// `max_bytes` (the logs' estimated in-memory size, which is above
    /// their encoded size), or `timeout_secs` after its first log.
    #[serde(default)]
    pub batch: BatchConfig<LokiBatch>,
    /// Credentials to send (`Authorization: Basic` or `Bearer`).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Extra headers on every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetadataMode {
    None,
    #[default]
    Attributes,
    AttributesExceptLabels,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LokiEncoding {
    #[default]
    Protobuf,
    Json,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LokiCompression {
    #[default]
    None,
    Gzip,
}

/// The sink's `batch.*` defaults.
#[derive(Debug, Clone, Copy)]
pub struct LokiBatch;

impl BatchDefaults for LokiBatch {
    const MAX_EVENTS: usize = 10_000;
    const MAX_BYTES: Option<usize> = Some(4 << 20);
    const TIMEOUT_SECS: f64 = 1.0;
}
fn default_request_timeout_secs() -> f64 {
    10.0
}
fn default_max_backoff_secs() -> f64 {
    30.0
}

impl SinkConfig for LokiSinkConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        http_url("endpoint", &self.endpoint, "http://127.0.0.1:3100")?;
        let limits = self.batch.limits()?;
        let request_timeout = seconds("request_timeout_secs", self.request_timeout_secs)?;
        let max_backoff = seconds("retry_max_backoff_secs", self.retry_max_backoff_secs)?;
        let body = match (self.encoding, self.compression) {
            (LokiEncoding::Protobuf, LokiCompression::None) => Body::Protobuf,
            (LokiEncoding::Protobuf, LokiCompression::Gzip) => {
                return Err(BuildError::new(
                    "compression",
                    "protobuf pushes are always snappy-compressed",
                )
                .with_hint("remove compression, or use encoding = \"json\""));
            }
            (LokiEncoding::Json, c) => Body::Json {
                gzip: c == LokiCompression::Gzip,
            },
        };
        let labels = match &self.labels {
            None => Labels::Resource,
            Some(map) if map.is_empty() => {
                return Err(BuildError::new("labels", "labels is empty")
                    .with_hint("remove it to use each log's resource attributes as labels"));
            }
            Some(map) => Labels::templates(map)?,
        };
        let tenant = self
            .tenant_id
            .as_deref()
            .map(Rendered::parse)
            .transpose()
            .map_err(|e| BuildError::new("tenant_id", e.0))?;
        let metadata = match self.structured_metadata {
            MetadataMode::None => StructuredMetadata::None,
            MetadataMode::Attributes => StructuredMetadata::Attributes,
            MetadataMode::AttributesExceptLabels => StructuredMetadata::AttributesExceptLabels,
        };
        let mut headers: HeaderMap = extra_headers(&self.headers)?.into_iter().collect();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(body.content_type()),
        );
        if let Some(encoding) = body.content_encoding() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        if let Some(value) = auth_header(self.auth.as_ref())? {
            headers.insert(header::AUTHORIZATION, value);
        }
        let client = build_client(self.tls.as_ref(), request_timeout)?;
        Ok(Box::new(LokiSink {
            builder: RequestBuilder {
                labels,
                tenant,
                metadata,
                body,
            },
            sender: Sender {
                client,
                url: format!("{}{PUSH_PATH}", self.endpoint.trim_end_matches('/')),
                headers,
                max_backoff,
            },
            limits,
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::LOG
    }
}

struct LokiSink {
    /// Holds templates (not `Sync`): used only between awaits.
    builder: RequestBuilder,
    sender: Sender,
    limits: BatchLimits,
}

/// Sends pushes and retries them; shared across awaits, so `Sync`.
struct Sender {
    client: reqwest::Client,
    url: String,
    /// Content type and encoding, credentials, the configured extras.
    headers: HeaderMap,
    max_backoff: Duration,
}

#[async_trait::async_trait]
impl Sink for LokiSink {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        let LokiSink {
            builder,
            sender,
            limits,
        } = *self;
        let log = RateLimit::default();
        while let Some(Gathered {
            events,
            finalizers,
            ended,
        }) = gather(&mut cx, &limits).await
        {
            let (pushes, unsendable) = builder.build(&events, now_nanos());
            drop(events);
            let mut status = BatchStatus::Delivered;
            if unsendable.events > 0 {
                cx.metrics.add_error();
                cx.metrics.add_discarded(unsendable.events, false);
                if log.allow() {
                    warn!(
                        message = "Logs cannot be sent to Loki; discarding them.",
                        events = unsendable.events,
                        reason = unsendable.reason.as_deref().unwrap_or(""),
                    );
                }
                status = BatchStatus::Rejected;
            }
            for push in pushes {
                status = status.max(sender.send(&cx, push, &log).await);
            }
            finalizers.finish(status);
            if ended {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl Sender {
    /// Sends one push until it is accepted, refused, or the pipeline stops.
    async fn send(&self, cx: &SinkContext, push: Push, log: &RateLimit) -> BatchStatus {
        let policy = RetryPolicy {
            max_backoff: self.max_backoff,
            max_retries: None,
            endpoint: &self.url,
            problem: "pushing to Loki failing, retrying",
            retrying: "Pushing to Loki failed; retrying.",
            refused: "Loki refused a push; not retrying.",
            gave_up: "",
            events: push.events,
        };
        match send_until_settled(cx, &policy, None, log, || self.attempt(&push)).await {
            Settled::Sent(()) => {
                cx.metrics.add_sent(push.events, push.bytes);
                BatchStatus::Delivered
            }
            Settled::Refused(_) | Settled::GaveUp | Settled::Taken => {
                cx.metrics.add_discarded(push.events, false);
                BatchStatus::Rejected
            }
            Settled::Stopped => give_up(&cx.metrics),
        }
    }

    async fn attempt(&self, push: &Push) -> Outcome {
        let mut headers = self.headers.clone();
        if let Some(tenant) = &push.tenant {
            headers.insert(TENANT_HEADER, tenant.clone());
        }
        client::send(
            self.client
                .post(&self.url)
                .headers(headers)
                .body(push.body.clone()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use super::*;
    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use http::StatusCode;
    use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
    use logbridge_component::{ShutdownSignal, channel};
    use logbridge_event::{
        BatchNotifier, Event, EventBatch, Finalizers, LogRecord, ObjectMap, Resource, Value,
    };

    fn config(toml_like: serde_json::Value) -> Result<Box<dyn Sink>, BuildError> {
        let config: LokiSinkConfig = serde_json::from_value(toml_like).unwrap();
        config.build(&BuildContext::detached(
            "loki",
            ComponentKind::Sink,
            PathBuf::new(),
        ))
    }

    #[test]
    fn options_are_checked() {
        use serde_json::json;
        assert!(config(json!({"endpoint": "http://127.0.0.1:3100"})).is_ok());
        let option = |v| config(v).err().and_then(|e| e.option);
        assert_eq!(
            option(json!({"endpoint": "ftp://x"})).as_deref(),
            Some("endpoint")
        );
        assert_eq!(
            option(json!({"endpoint": "http://x", "compression": "gzip"})).as_deref(),
            Some("compression")
        );
        assert_eq!(
            option(json!({"endpoint": "http://x", "labels": {"a.b": "x"}})).as_deref(),
            Some("labels.a.b")
        );
        assert_eq!(
            option(json!({"endpoint": "http://x", "labels": {"a": "{{ .x "}})).as_deref(),
            Some("labels.a")
        );
        assert_eq!(
            option(json!({"endpoint": "http://x", "batch": {"max_bytes": 0}})).as_deref(),
            Some("batch.max_bytes")
        );
        assert!(
            config(
                json!({"endpoint": "http://x", "encoding": "json", "compression": "gzip",
                "auth": {"strategy": "bearer", "token": "t"}, "headers": {"X-A": "b"}})
            )
            .is_ok()
        );
    }

    /// A Loki stand-in answering each request with the next status of a
    /// script (then 204), recording tenants and bodies.
    #[derive(Clone, Default)]
    struct Script {
        answers: Arc<Mutex<Vec<u16>>>,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    /// A request's tenant and body.
    type Seen = (Option<String>, bytes::Bytes);

    async fn answer(
        State(script): State<Script>,
        headers: HeaderMap,
        body: bytes::Bytes,
    ) -> Response {
        let tenant = headers
            .get(TENANT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        script.seen.lock().unwrap().push((tenant, body));
        let next = {
            let mut answers = script.answers.lock().unwrap();
            (!answers.is_empty()).then(|| answers.remove(0))
        };
        let status = StatusCode::from_u16(next.unwrap_or(204)).unwrap();
        let mut response = status.into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
        }
        response
    }

    async fn serve(script: Script) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route(PUSH_PATH, axum::routing::post(answer))
            .with_state(script);
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn batch(tenants: &[&str]) -> (EventBatch, tokio::sync::oneshot::Receiver<BatchStatus>) {
        let events = tenants
            .iter()
            .enumerate()
            .map(|(i, tenant)| {
                let mut labels = ObjectMap::new();
                labels.insert("job".into(), Value::from("api"));
                let mut record = LogRecord {
                    time_unix_nano: i as i64 + 1,
                    body: Value::from(format!("line {i}")),
                    resource: Some(Arc::new(Resource {
                        attributes: labels,
                        ..Resource::default()
                    })),
                    ..LogRecord::default()
                };
                let _ = record.insert(
                    &logbridge_event::Path::parse("%loki.tenant").unwrap(),
                    Value::from(*tenant),
                );
                Event::Log(record)
            })
            .collect();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let notifier = BatchNotifier::new(move |status| {
            let _ = tx.send(status);
        });
        let batch = EventBatch::new(events).with_finalizers(Finalizers::new(notifier));
        (batch, rx)
    }

    async fn run(script: &Script, tenants: &[&str]) -> BatchStatus {
        let addr = serve(script.clone()).await;
        let sink = config(serde_json::json!({
            "endpoint": format!("http://{addr}"),
            "tenant_id": "{{ %loki.tenant }}",
            "batch": {"timeout_secs": 0.05},
        }))
        .unwrap();
        let (tx, rx) = channel::bounded(100, 1 << 20);
        let metrics = Arc::new(ComponentMetrics::new("loki", ComponentKind::Sink, "loki"));
        let cx = SinkContext::new(
            "loki".into(),
            metrics,
            PathBuf::new(),
            ShutdownSignal::new(),
            rx,
        );
        let task = tokio::spawn(sink.run(cx));
        let (b, status) = batch(tenants);
        tx.send(b).await.unwrap();
        drop(tx);
        let status = status.await.unwrap();
        task.await.unwrap().unwrap();
        status
    }

    #[tokio::test]
    async fn retries_429_and_5xx_then_delivers_one_push_per_tenant() {
        let script = Script::default();
        script.answers.lock().unwrap().extend([429, 503]);
        let status = run(&script, &["a", "b", "a"]).await;
        assert_eq!(status, BatchStatus::Delivered);
        let seen = script.seen.lock().unwrap();
        let tenants: Vec<_> = seen.iter().map(|(t, _)| t.as_deref()).collect();
        // Tenant a tried three times, then tenant b once.
        assert_eq!(tenants, [Some("a"), Some("a"), Some("a"), Some("b")]);
        let a = logbridge_loki::decode_push_protobuf(&seen[2].1, 1 << 20).unwrap();
        assert_eq!(a.len(), 2);
    }

    #[tokio::test]
    async fn a_400_rejects_the_batch_without_retrying() {
        let script = Script::default();
        script.answers.lock().unwrap().push(400);
        let status = run(&script, &["a"]).await;
        assert_eq!(status, BatchStatus::Rejected);
        assert_eq!(script.seen.lock().unwrap().len(), 1);
    }
}
