//! The `otlp` source: OpenTelemetry's protocol over gRPC and HTTP.
//!
//! It listens for OTLP/gRPC (default 127.0.0.1:4317) and OTLP/HTTP
//! (default 127.0.0.1:4318: `/v1/logs`, `/v1/metrics`, `/v1/traces`,
//! protobuf or JSON, optionally compressed) and puts what it receives on
//! three named outputs, `logs`, `metrics` and `traces` (`<id>.logs`, ...),
//! answering each request once the sinks hold its data. This module holds
//! the options and the run loop (either listener may be turned off);
//! `grpc` the three gRPC services, `http_routes` the HTTP routes, `decode`
//! what both do with a body.
//! Conversions live in `logbridge-otlp`.

mod decode;
mod grpc;
mod http_routes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use http::HeaderMap;

use logbridge_component::{
    BuildContext, BuildError, ComponentError, OutputDef, Source, SourceConfig, SourceContext,
};
use logbridge_event::DataKind;
use serde::Deserialize;
use tracing::info;

use logbridge_net::receive::{AuthConfig, PushContext, ReceiveConfig};
use logbridge_net::server::Server;
use logbridge_net::tls::TlsServerConfig;

use logbridge_otlp::Signal;

/// Receives OpenTelemetry logs, metrics and traces over OTLP/gRPC and
/// OTLP/HTTP (also accepted as `opentelemetry`). Events come out on the
/// named outputs `logs`, `metrics` and `traces`: use `<id>.logs` and so on
/// as inputs.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtlpSourceConfig {
    /// The OTLP/gRPC listener.
    #[serde(default)]
    pub grpc: GrpcListenerConfig,
    /// The OTLP/HTTP listener (`/v1/logs`, `/v1/metrics`, `/v1/traces`;
    /// `application/x-protobuf` or `application/json`; gzip, deflate or
    /// zstd bodies).
    #[serde(default)]
    pub http: HttpListenerConfig,
    /// Credentials clients must send (`Authorization` header, or gRPC
    /// `authorization` metadata), on both listeners.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Request limits, backpressure and acknowledgements.
    #[serde(default)]
    pub receive: ReceiveConfig,
}

/// A gRPC listener.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrpcListenerConfig {
    /// Listen here; off when `enabled = false`.
    #[serde(default = "default_grpc_address")]
    pub address: SocketAddr,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// TLS (and mutual TLS with `ca_file`); plain text when absent.
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
}

/// An HTTP listener.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpListenerConfig {
    /// Listen here; off when `enabled = false`.
    #[serde(default = "default_http_address")]
    pub address: SocketAddr,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// TLS (and mutual TLS with `ca_file`); plain text when absent.
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
}

fn default_grpc_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4317))
}
fn default_http_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4318))
}
fn default_true() -> bool {
    true
}

impl Default for GrpcListenerConfig {
    fn default() -> Self {
        GrpcListenerConfig {
            address: default_grpc_address(),
            enabled: true,
            tls: None,
        }
    }
}

impl Default for HttpListenerConfig {
    fn default() -> Self {
        HttpListenerConfig {
            address: default_http_address(),
            enabled: true,
            tls: None,
        }
    }
}

/// A router with a `POST` route for each signal at `path(signal)`, each
/// handled by `export` with its signal.
fn signal_routes<F, Fut>(shared: PushContext, path: fn(Signal) -> &'static str, export: F) -> Router
where
    F: Fn(PushContext, Signal, HeaderMap, Body) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let mut router = Router::new();
    for signal in [Signal::Logs, Signal::Metrics, Signal::Traces] {
        let export = export.clone();
        let handler = move |State(shared): State<PushContext>, headers: HeaderMap, body: Body| {
            export(shared, signal, headers, body)
        };
        router = router.route(path(signal), post(handler));
    }
    router.with_state(shared)
}

/// ALPN for a listener serving both HTTP/2 (gRPC) and HTTP/1.1.
const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

impl SourceConfig for OtlpSourceConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if !self.grpc.enabled && !self.http.enabled {
            return Err(BuildError::new(
                "grpc.enabled",
                "both the gRPC and the HTTP listener are off",
            )
            .with_hint("enable at least one of grpc and http"));
        }
        if self.grpc.enabled && self.http.enabled && self.grpc.address == self.http.address {
            return Err(BuildError::new(
                "http.address",
                "the gRPC and HTTP listeners have the same address",
            ));
        }
        self.receive.validate("receive.")?;
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        let grpc_tls = match &self.grpc.tls {
            Some(tls) if self.grpc.enabled => {
                Some(tls.server_config(ALPN).map_err(|e| prefix(e, "grpc."))?)
            }
            _ => None,
        };
        let http_tls = match &self.http.tls {
            Some(tls) if self.http.enabled => {
                Some(tls.server_config(ALPN).map_err(|e| prefix(e, "http."))?)
            }
            _ => None,
        };
        Ok(Box::new(OtlpSource {
            config: self.clone(),
            grpc_tls,
            http_tls,
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![
            OutputDef::named(Signal::Logs.output(), DataKind::LOG),
            OutputDef::named(Signal::Metrics.output(), DataKind::METRIC),
            OutputDef::named(Signal::Traces.output(), DataKind::SPAN),
        ]
    }

    fn can_acknowledge(&self) -> bool {
        self.receive.acknowledgements
    }

    fn answers_requests(&self) -> bool {
        true
    }
}

fn prefix(mut e: BuildError, prefix: &str) -> BuildError {
    e.option = e.option.map(|o| format!("{prefix}{o}"));
    e
}

struct OtlpSource {
    config: OtlpSourceConfig,
    grpc_tls: Option<Arc<rustls::ServerConfig>>,
    http_tls: Option<Arc<rustls::ServerConfig>>,
}

#[async_trait::async_trait]
impl Source for OtlpSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let shared = PushContext::new(&cx, self.config.auth.as_ref(), &self.config.receive);
        let mut servers = Vec::new();
        let limits = self.config.receive.connection_limits();
        if self.config.grpc.enabled {
            let server = Server::bind(self.config.grpc.address, self.grpc_tls.clone())
                .await?
                .with_limits(limits);
            info!(message = "Listening for OTLP/gRPC.", address = %server.local_addr()?, tls = self.grpc_tls.is_some());
            servers.push((server, grpc::router(shared.clone())));
        }
        if self.config.http.enabled {
            let server = Server::bind(self.config.http.address, self.http_tls.clone())
                .await?
                .with_limits(limits);
            info!(message = "Listening for OTLP/HTTP.", address = %server.local_addr()?, tls = self.http_tls.is_some());
            servers.push((server, http_routes::router(shared.clone())));
        }
        let serving = servers
            .into_iter()
            .map(|(server, router)| server.serve(router, cx.shutdown.clone()));
        futures::future::join_all(serving).await;
        Ok(())
    }
}
