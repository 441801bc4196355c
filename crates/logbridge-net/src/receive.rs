//! What every push receiver (OTLP, Loki, HTTP, remote write, ...) does
//! between a request arriving and its answer: admission under a bound on
//! requests in flight, handing the events to the pipeline, and waiting for
//! the sinks' acknowledgement before answering success.
//!
//! Answering only after the sinks (or a disk buffer) hold the data is what
//! makes a push receiver lose nothing: a client that got no success
//! retries. A receiver never queues without bound: past
//! `max_concurrent_requests`, or when the pipeline does not take a batch
//! within `max_wait_secs`, it answers with the protocol's own "retry
//! later" ([`Refusal::Overloaded`]).

use std::sync::Arc;
use std::time::Duration;

use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{BuildError, SourceOutputs};
use logbridge_event::{BatchNotifier, BatchStatus, Event, EventBatch, Finalizers};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Request limits and acknowledgement behaviour of a receiver.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveConfig {
    /// Largest request body accepted, in bytes, as sent (compressed).
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Largest body after decompression, in bytes; a larger one is refused
    /// (HTTP 413) without being inflated further.
    #[serde(default = "default_max_decompressed_bytes")]
    pub max_decompressed_bytes: usize,
    /// Requests handled at once; more are answered "retry later" (HTTP 429
    /// with `Retry-After`, gRPC `RESOURCE_EXHAUSTED`).
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// Answer success only once every sink has the data (or a disk buffer
    /// holds it). Off: answer once the pipeline has taken the data.
    #[serde(default = "default_true")]
    pub acknowledgements: bool,
    /// How long a request may wait for the pipeline to take its data
    /// before it is answered "retry later" (HTTP 503, gRPC `UNAVAILABLE`).
    #[serde(default = "default_max_wait_secs")]
    pub max_wait_secs: f64,
    /// How long a request waits for the sinks' acknowledgement before it
    /// is answered "retry later"; the data may still be delivered, so a
    /// retry can duplicate it.
    #[serde(default = "default_ack_timeout_secs")]
    pub ack_timeout_secs: f64,
}

fn default_max_request_bytes() -> usize {
    16 << 20
}
fn default_max_decompressed_bytes() -> usize {
    64 << 20
}
fn default_max_concurrent_requests() -> usize {
    256
}
fn default_true() -> bool {
    true
}
fn default_max_wait_secs() -> f64 {
    5.0
}
fn default_ack_timeout_secs() -> f64 {
    30.0
}

impl Default for ReceiveConfig {
    fn default() -> Self {
        ReceiveConfig {
            max_request_bytes: default_max_request_bytes(),
            max_decompressed_bytes: default_max_decompressed_bytes(),
            max_concurrent_requests: default_max_concurrent_requests(),
            acknowledgements: true,
            max_wait_secs: default_max_wait_secs(),
            ack_timeout_secs: default_ack_timeout_secs(),
        }
    }
}

impl ReceiveConfig {
    pub fn validate(&self, prefix: &str) -> Result<(), BuildError> {
        let option = |name: &str| format!("{prefix}{name}");
        if self.max_request_bytes == 0 {
            return Err(BuildError::new(
                &option("max_request_bytes"),
                "max_request_bytes must be above 0",
            ));
        }
        if self.max_decompressed_bytes < self.max_request_bytes {
            return Err(BuildError::new(
                &option("max_decompressed_bytes"),
                "max_decompressed_bytes must be at least max_request_bytes",
            ));
        }
        if self.max_concurrent_requests == 0 {
            return Err(BuildError::new(
                &option("max_concurrent_requests"),
                "max_concurrent_requests must be above 0",
            ));
        }
        for (name, v) in [
            ("max_wait_secs", self.max_wait_secs),
            ("ack_timeout_secs", self.ack_timeout_secs),
        ] {
            if !(v > 0.0 && v < 86_400.0) {
                return Err(BuildError::new(
                    &option(name),
                    format!("{name} must be above 0 and under a day"),
                ));
            }
        }
        Ok(())
    }
}

/// Why a request's data was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Too many requests at once, or the pipeline is not taking data:
    /// the client should retry later.
    #[error("too busy, retry later")]
    Overloaded,
    /// A sink failed to deliver the data (or did not answer in time).
    #[error("delivery failed, retry later")]
    Failed,
    /// A sink refused the data for good (it would fail again).
    #[error("the data was rejected by a sink")]
    Rejected,
    /// The pipeline is stopping.
    #[error("shutting down")]
    Closed,
}

/// Seconds a refused client should wait, for `Retry-After`.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Admission and delivery for one receiver; cheap to clone.
#[derive(Clone)]
pub struct Receiver {
    out: SourceOutputs,
    metrics: Arc<ComponentMetrics>,
    permits: Arc<Semaphore>,
    acknowledgements: bool,
    max_wait: Duration,
    ack_timeout: Duration,
}

/// Held while a request is handled; released when dropped.
pub struct Admission(#[allow(dead_code)] OwnedSemaphorePermit);

impl Receiver {
    pub fn new(out: SourceOutputs, metrics: Arc<ComponentMetrics>, config: &ReceiveConfig) -> Self {
        Receiver {
            out,
            metrics,
            permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            acknowledgements: config.acknowledgements,
            max_wait: Duration::from_secs_f64(config.max_wait_secs),
            ack_timeout: Duration::from_secs_f64(config.ack_timeout_secs),
        }
    }

    pub fn metrics(&self) -> &ComponentMetrics {
        &self.metrics
    }

    /// A slot for one request, or [`Refusal::Overloaded`] when all are
    /// taken (answered at once: queueing is what the bound prevents).
    pub fn admit(&self) -> Result<Admission, Refusal> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map(Admission)
            .map_err(|_| {
                self.metrics.add_error();
                Refusal::Overloaded
            })
    }

    /// Sends `events` to the default output (or the named one) and, with
    /// acknowledgements on, waits until every sink settled them.
    pub async fn deliver(
        &self,
        output: Option<&str>,
        events: Vec<Event>,
        byte_size: usize,
    ) -> Result<(), Refusal> {
        if events.is_empty() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        let mut batch = EventBatch::with_size(events, byte_size);
        if self.acknowledgements {
            let notifier = BatchNotifier::new(move |status| {
                let _ = tx.send(status);
            });
            batch = batch.with_finalizers(Finalizers::new(notifier));
        }
        self.metrics.add_received(batch.len(), batch.byte_size());
        let send = async {
            match output {
                None => self.out.send(batch).await,
                Some(name) => self.out.send_named(name, batch).await,
            }
        };
        match tokio::time::timeout(self.max_wait, send).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Refusal::Closed),
            Err(_) => {
                self.metrics.add_error();
                return Err(Refusal::Overloaded);
            }
        }
        if !self.acknowledgements {
            return Ok(());
        }
        match tokio::time::timeout(self.ack_timeout, rx).await {
            Ok(Ok(BatchStatus::Delivered)) => Ok(()),
            Ok(Ok(BatchStatus::Rejected)) => Err(Refusal::Rejected),
            Ok(Ok(BatchStatus::Errored)) | Ok(Err(_)) => Err(Refusal::Failed),
            Err(_) => Err(Refusal::Failed),
        }
    }
}

/// What the request handlers of one push receiver share: delivery, the
/// exact `Authorization` value required (if any), and the limits. Cheap
/// to clone (one per request).
#[derive(Clone)]
pub struct PushContext {
    pub receiver: Receiver,
    pub auth: Option<Arc<str>>,
    pub limits: Arc<ReceiveConfig>,
}

impl PushContext {
    pub fn new(
        cx: &logbridge_component::SourceContext,
        auth: Option<&crate::request::AuthConfig>,
        receive: &ReceiveConfig,
    ) -> PushContext {
        PushContext {
            receiver: Receiver::new(cx.out.clone(), cx.metrics.clone(), receive),
            auth: auth.map(|a| Arc::from(a.expected_header())),
            limits: Arc::new(receive.clone()),
        }
    }

    /// Takes one request's body to the pipeline; see
    /// [`crate::request::receive_push`].
    pub async fn push(
        &self,
        headers: &http::HeaderMap,
        body: axum::body::Body,
        output: Option<&str>,
        decode: impl FnOnce(bytes::Bytes) -> Result<Vec<Event>, crate::request::HttpError>
        + Send
        + 'static,
    ) -> Result<(), crate::request::HttpError> {
        crate::request::receive_push(
            &self.receiver,
            self.auth.as_deref(),
            &self.limits,
            headers,
            body,
            output,
            decode,
        )
        .await
    }
}

/// Checks the options every push receiver has (limits, credentials, TLS)
/// and builds its TLS configuration; `prefix` names where they sit in the
/// component's options (`""`, `"http."`).
pub fn check_listener(
    prefix: &str,
    tls: Option<&crate::tls::TlsServerConfig>,
    auth: Option<&crate::request::AuthConfig>,
    receive: &ReceiveConfig,
) -> Result<Option<Arc<rustls::ServerConfig>>, BuildError> {
    receive.validate(&format!("{prefix}receive."))?;
    if let Some(auth) = auth {
        auth.validate()?;
    }
    tls.map(|t| t.server_config(&[b"h2", b"http/1.1"]))
        .transpose()
        .map_err(|mut e| {
            e.option = e.option.map(|o| format!("{prefix}{o}"));
            e
        })
}

/// Binds `address` and serves `router` until `shutdown`, saying where it
/// listens for `what`.
pub async fn serve(
    address: std::net::SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: axum::Router,
    what: &str,
    shutdown: &logbridge_component::ShutdownSignal,
) -> Result<(), logbridge_component::ComponentError> {
    let secure = tls.is_some();
    let server = crate::server::Server::bind(address, tls).await?;
    tracing::info!(message = "Listening.", %what, address = %server.local_addr()?, tls = secure);
    server.serve(router, shutdown.clone()).await;
    Ok(())
}
