//! The `jaeger` source: spans from Jaeger clients and agents, as the Jaeger
//! agent and collector take them: Thrift compact `emitBatch` over UDP
//! (6831), Thrift binary `emitBatch` over UDP (6832, off by default), and
//! a Thrift binary `Batch` over HTTP (`POST /api/traces`, 14268, answered
//! `202 Accepted` once the sinks hold it).
//!
//! UDP has no way to answer: a datagram that does not decode is counted
//! (errors and discarded events) and logged, and a slow pipeline loses the
//! datagrams the kernel cannot queue, as with the Jaeger agent itself.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use http::HeaderMap;
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, OutputDef, ShutdownSignal, Source, SourceConfig,
    SourceContext,
};
use logbridge_event::{DataKind, EventBatch};
use logbridge_trace_formats::jaeger;
use serde::Deserialize;
use tokio::net::UdpSocket;
use tracing::{info, warn};

use crate::span_push::{DecodeSpans, push_spans, span_events};
use logbridge_net::receive::census::Census;
use logbridge_net::receive::{
    AuthConfig, Charge, HttpError, PushContext, PushListener, ReceiveConfig,
};
use logbridge_net::tls::TlsServerConfig;

/// Receives Jaeger spans over UDP (Thrift compact or binary) and HTTP
/// (Thrift binary).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JaegerSourceConfig {
    /// Thrift compact `emitBatch` datagrams (what jaeger clients send).
    #[serde(default = "compact_default")]
    pub thrift_compact_udp: UdpListenerConfig,
    /// Thrift binary `emitBatch` datagrams.
    #[serde(default = "binary_default")]
    pub thrift_binary_udp: UdpListenerConfig,
    /// `POST /api/traces` with a Thrift binary `Batch`.
    #[serde(default)]
    pub thrift_http: JaegerHttpConfig,
}

/// A UDP listener.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UdpListenerConfig {
    pub address: SocketAddr,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Largest datagram read; Jaeger clients send at most 65,000 bytes.
    #[serde(default = "default_max_packet")]
    pub max_packet_bytes: usize,
}

/// The HTTP listener.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JaegerHttpConfig {
    #[serde(default = "default_http_address")]
    pub address: SocketAddr,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    #[serde(default)]
    pub receive: ReceiveConfig,
}

fn compact_default() -> UdpListenerConfig {
    UdpListenerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 6831)),
        enabled: true,
        max_packet_bytes: default_max_packet(),
    }
}
fn binary_default() -> UdpListenerConfig {
    UdpListenerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 6832)),
        enabled: false,
        max_packet_bytes: default_max_packet(),
    }
}
fn default_http_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 14268))
}
fn default_true() -> bool {
    true
}
fn default_max_packet() -> usize {
    65_000
}

impl Default for JaegerHttpConfig {
    fn default() -> Self {
        JaegerHttpConfig {
            address: default_http_address(),
            enabled: true,
            tls: None,
            auth: None,
            receive: ReceiveConfig::default(),
        }
    }
}

impl SourceConfig for JaegerSourceConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        let http = &self.thrift_http;
        if !(self.thrift_compact_udp.enabled || self.thrift_binary_udp.enabled || http.enabled) {
            return Err(BuildError::new(
                "thrift_http.enabled",
                "every listener is off; enable at least one",
            ));
        }
        for (name, udp) in [
            ("thrift_compact_udp", &self.thrift_compact_udp),
            ("thrift_binary_udp", &self.thrift_binary_udp),
        ] {
            if udp.max_packet_bytes == 0 || udp.max_packet_bytes > 65_535 {
                return Err(BuildError::new(
                    &format!("{name}.max_packet_bytes"),
                    "max_packet_bytes must be between 1 and 65535",
                ));
            }
        }
        let listener = PushListener::new(
            "jaeger thrift over http",
            "thrift_http.",
            http.address,
            http.tls.as_ref().filter(|_| http.enabled),
            http.auth.as_ref(),
            &http.receive,
        )?;
        Ok(Box::new(JaegerSource {
            config: self.clone(),
            http: listener,
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::SPAN)]
    }

    fn can_acknowledge(&self) -> bool {
        self.thrift_http.receive.acknowledgements
    }

    fn answers_requests(&self) -> bool {
        true
    }
}

struct JaegerSource {
    config: JaegerSourceConfig,
    http: PushListener,
}

#[async_trait::async_trait]
impl Source for JaegerSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let mut tasks: Vec<futures::future::BoxFuture<'_, Result<(), ComponentError>>> = Vec::new();
        let udp: [(&UdpListenerConfig, DecodeSpans, &str); 2] = [
            (
                &self.config.thrift_compact_udp,
                jaeger::decode_emit_batch_compact_bytes,
                "compact",
            ),
            (
                &self.config.thrift_binary_udp,
                jaeger::decode_emit_batch_binary_bytes,
                "binary",
            ),
        ];
        for (listener, decode, protocol) in udp {
            if listener.enabled {
                tasks.push(Box::pin(udp_loop(
                    listener,
                    decode,
                    protocol,
                    &cx,
                    &cx.shutdown,
                )));
            }
        }
        if self.config.thrift_http.enabled {
            let serving = self.http.serve(&cx, |push| {
                Router::new()
                    .route("/api/traces", post(traces))
                    .with_state(push)
            });
            tasks.push(Box::pin(serving));
        }
        // The first listener to fail (an address in use) fails the source at
        // once, so that it shows as failed instead of running on without it.
        futures::future::try_join_all(tasks).await?;
        Ok(())
    }
}

async fn udp_loop(
    listener: &UdpListenerConfig,
    decode: DecodeSpans,
    protocol: &str,
    cx: &SourceContext,
    shutdown: &ShutdownSignal,
) -> Result<(), ComponentError> {
    let socket = UdpSocket::bind(listener.address).await?;
    info!(message = "Listening for Jaeger Thrift over UDP.", %protocol, address = %socket.local_addr()?);
    let mut buf = vec![0u8; listener.max_packet_bytes];
    let bad_log = RateLimit::default();
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => r?,
            _ = shutdown.wait() => return Ok(()),
        };
        let datagram = Bytes::copy_from_slice(&buf[..n]);
        match decode(&datagram) {
            Ok(spans) if spans.is_empty() => {}
            Ok(spans) => {
                let events = span_events(spans);
                let batch = EventBatch::with_size(events, n);
                cx.metrics.add_received(batch.len(), batch.byte_size());
                if cx.out.send(batch).await.is_err() {
                    return Ok(());
                }
            }
            Err(error) => {
                cx.metrics.add_error();
                cx.metrics.add_discarded(1, false);
                if bad_log.allow() {
                    warn!(message = "Dropped a Jaeger datagram that does not decode.", %protocol, %peer, bytes = n, %error);
                }
            }
        }
    }
}

async fn traces(State(push): State<PushContext>, headers: HeaderMap, body: Body) -> Response {
    push_spans(
        &push,
        &headers,
        body,
        pay,
        jaeger::decode_batch_binary_bytes,
    )
    .await
}

/// Bytes of a Thrift binary batch per node (a tag, a log, a reference) at
/// the least: a tag is a key and a type, 15 bytes with their headers.
const BYTES_PER_NODE: usize = 15;

/// One event a span, as the batch's list header counts them, and a node
/// for every few bytes (tags decode straight into the span, without a copy
/// of their strings).
fn pay(body: &Bytes, charge: &mut Charge) -> Result<(), HttpError> {
    let spans =
        jaeger::batch_binary_span_count(body).map_err(|e| HttpError::bad_request(e.to_string()))?;
    charge.census(&Census {
        events: spans,
        nodes: body.len() / BYTES_PER_NODE,
        copied: 0,
    })
}
