//! The `zipkin` source: Zipkin v2 JSON spans over HTTP (`POST
//! /api/v2/spans`, the Zipkin collector's API, default port 9411), into
//! the span model, answered `202 Accepted` once the sinks hold them.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use logbridge_component::{BuildContext, BuildError, OutputDef, Source, SourceConfig};
use logbridge_event::DataKind;
use serde::Deserialize;

use crate::span_push::push_spans;
use logbridge_net::receive::census;
use logbridge_net::receive::{
    AuthConfig, Charge, HttpError, PushContext, PushListener, ReceiveConfig, content_type,
};
use logbridge_net::tls::TlsServerConfig;

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
        let listener = PushListener::new(
            "zipkin spans",
            "",
            self.address,
            self.tls.as_ref(),
            self.auth.as_ref(),
            &self.receive,
        )?;
        Ok(listener.into_source(|push, _| {
            Router::new()
                .route("/api/v2/spans", post(spans))
                .with_state(push)
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::SPAN)]
    }

    fn can_acknowledge(&self) -> bool {
        self.receive.acknowledgements
    }

    fn answers_requests(&self) -> bool {
        true
    }
}

async fn spans(State(push): State<PushContext>, headers: HeaderMap, body: Body) -> Response {
    let media = content_type(&headers);
    if !(media.is_empty() || media == "application/json") {
        return HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {media:?}: Zipkin v2 JSON is application/json"),
        )
        .into_response();
    }
    let decode = logbridge_trace_formats::zipkin::decode_spans_json_bytes;
    push_spans(&push, &headers, body, pay, decode).await
}

/// One event a span (an element of the top-level array), one node a JSON
/// token.
fn pay(body: &Bytes, charge: &mut Charge) -> Result<(), HttpError> {
    charge.census(&census::json(body, &[])?)
}
