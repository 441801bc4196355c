//! The `zipkin` source: Zipkin v2 JSON spans over HTTP (`POST
//! /api/v2/spans`, the Zipkin collector's API, default port 9411), into
//! the span model, answered `202 Accepted` once the sinks hold them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use logbridge_component::{
    BuildContext, BuildError, ComponentError, OutputDef, Source, SourceConfig, SourceContext,
};
use logbridge_event::{DataKind, Event};
use serde::Deserialize;
use tracing::info;

use crate::receive::{ReceiveConfig, Receiver};
use crate::request::{AuthConfig, HttpError, content_type, receive_push};
use crate::server::Server;
use crate::tls::TlsServerConfig;

/// Receives Zipkin v2 JSON spans.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZipkinSourceConfig {
    /// Listen here.
    #[serde(default = "default_address")]
    pub address: SocketAddr,
    /// TLS (and mutual TLS with `ca_file`); plain text when absent.
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
    /// Credentials clients must send.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Request limits, backpressure and acknowledgements.
    #[serde(default)]
    pub receive: ReceiveConfig,
}

fn default_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9411))
}

impl SourceConfig for ZipkinSourceConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        self.receive.validate("receive.")?;
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        let tls = match &self.tls {
            Some(t) => Some(t.server_config(&[b"h2", b"http/1.1"])?),
            None => None,
        };
        Ok(Box::new(ZipkinSource {
            config: self.clone(),
            tls,
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::SPAN)]
    }

    fn can_acknowledge(&self) -> bool {
        self.receive.acknowledgements
    }
}

struct ZipkinSource {
    config: ZipkinSourceConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
}

#[derive(Clone)]
struct Shared {
    receiver: Receiver,
    auth: Option<Arc<str>>,
    limits: Arc<ReceiveConfig>,
}

#[async_trait::async_trait]
impl Source for ZipkinSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let shared = Shared {
            receiver: Receiver::new(cx.out.clone(), cx.metrics.clone(), &self.config.receive),
            auth: self
                .config
                .auth
                .as_ref()
                .map(|a| Arc::from(a.expected_header())),
            limits: Arc::new(self.config.receive.clone()),
        };
        let server = Server::bind(self.config.address, self.tls.clone()).await?;
        info!(message = "Listening for Zipkin spans.", address = %server.local_addr()?, tls = self.tls.is_some());
        let router = Router::new()
            .route("/api/v2/spans", post(spans))
            .with_state(shared);
        server.serve(router, cx.shutdown.clone()).await;
        Ok(())
    }
}

async fn spans(State(shared): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let media = content_type(&headers);
    if !(media.is_empty() || media == "application/json") {
        return HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {media:?}: Zipkin v2 JSON is application/json"),
        )
        .into_response();
    }
    let result = receive_push(
        &shared.receiver,
        shared.auth.as_deref(),
        &shared.limits,
        &headers,
        body,
        None,
        |body| {
            logbridge_trace_formats::zipkin::decode_spans_json_bytes(&body)
                .map(|spans| {
                    spans
                        .into_iter()
                        .map(|s| Event::Span(Box::new(s)))
                        .collect()
                })
                .map_err(|e| e.to_string())
        },
    )
    .await;
    match result {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_response(),
    }
}
