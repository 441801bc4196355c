//! The `prometheus_remote_write` source: a Prometheus remote-write 1.0
//! receiver (`POST` of a snappy-compressed protobuf `WriteRequest`).
//!
//! A request is answered 204 once every sink holds its points (through
//! [`Receiver`]), so a Prometheus that got no success sends them again; 400
//! (counted as an error) when the body is not a remote-write request, which
//! Prometheus does not retry; 401, 413, and 429/503 with `Retry-After`
//! (which Prometheus retries) as [`crate::request`] maps them.
//!
//! Prometheus sends metadata (type, help, unit per family) in requests of
//! their own; the source remembers it (up to
//! [`Metadata::MAX_FAMILIES`] families, for as long as it runs) and gives
//! it to the series of later requests, so a counter arrives as a counter
//! with its help text. Series that arrive before their family's metadata
//! are gauges without help.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use logbridge_component::{BuildContext, BuildError, OutputDef, Source, SourceConfig};
use logbridge_event::{DataKind, Event};
use logbridge_prometheus::Metadata;
use logbridge_prometheus::remote_write::proto::WriteRequest;
use logbridge_prometheus::remote_write::{
    read_metadata, remember_metadata, request_point_copies, request_to_metrics_with,
};
use prost::Message as _;
use serde::Deserialize;

use logbridge_net::receive::census::{self, Field, Message};
use logbridge_net::receive::{
    AuthConfig, Charge, HttpError, NODE_BYTES, PushContext, PushListener, ReceiveConfig,
};
use logbridge_net::tls::TlsServerConfig;

/// Receives Prometheus remote-write 1.0 requests (`remote_write` of a
/// Prometheus, an agent, or any sender of the protocol). The metadata
/// Prometheus sends in requests of their own (type, help, unit; see its
/// `metadata_config`) is remembered and given to the series of later
/// requests.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusRemoteWriteSourceConfig {
    /// Listen here, such as `0.0.0.0:9090`.
    pub address: SocketAddr,
    /// Accept requests to this path.
    #[serde(default = "default_path")]
    pub path: String,
    /// TLS (and mutual TLS with `ca_file`); plain text when absent.
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
    /// Credentials senders must send.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Request limits, backpressure and acknowledgements.
    /// `max_decompressed_bytes` bounds the snappy-decompressed request.
    #[serde(default)]
    pub receive: ReceiveConfig,
}

fn default_path() -> String {
    "/api/v1/write".to_owned()
}

impl SourceConfig for PrometheusRemoteWriteSourceConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if !self.path.starts_with('/') {
            return Err(BuildError::new("path", "path must start with /"));
        }
        let listener = PushListener::new(
            "prometheus remote write",
            "",
            self.address,
            self.tls.as_ref(),
            self.auth.as_ref(),
            &self.receive,
        )?;
        let path = self.path.clone();
        Ok(listener.into_source(move |push, _| {
            let state = WriteState {
                push,
                metadata: Arc::new(RwLock::new(Metadata::default())),
            };
            Router::new().route(&path, post(write)).with_state(state)
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::METRIC)]
    }

    fn can_acknowledge(&self) -> bool {
        self.receive.acknowledgements
    }

    fn answers_requests(&self) -> bool {
        true
    }
}

/// What a request handler needs: the push path and the metadata
/// remembered from earlier requests.
#[derive(Clone)]
struct WriteState {
    push: PushContext,
    metadata: Arc<RwLock<Metadata>>,
}

async fn write(State(state): State<WriteState>, headers: HeaderMap, body: Body) -> Response {
    match handle(&state.push, &state.metadata, headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    push: &PushContext,
    metadata: &Arc<RwLock<Metadata>>,
    mut headers: HeaderMap,
    body: Body,
) -> Result<(), HttpError> {
    // Snappy is the protocol's framing, undone by the decoder with its own
    // size check; only other encodings are for `read_body` to undo.
    let snappy = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim().eq_ignore_ascii_case("snappy"));
    if !snappy {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "remote write bodies are snappy-compressed (Content-Encoding: snappy)",
        ));
    }
    headers.remove(header::CONTENT_ENCODING);
    let metadata = Arc::clone(metadata);
    push.push(&headers, body, None, move |body, charge| {
        decode(body, charge, &metadata)
    })
    .await
}

/// The points of a remote-write body, paid for before they are built:
/// the inflated request, a census of its messages, and once it is read
/// what every sample copies of its series (labels, help, unit).
fn decode(
    body: Bytes,
    charge: &mut Charge,
    metadata: &RwLock<Metadata>,
) -> Result<Vec<Event>, HttpError> {
    let message = charge.unsnappy(&body)?;
    charge.census(&census::protobuf(&message, &WRITE_REQUEST)?)?;
    let request = WriteRequest::decode(message)
        .map_err(|e| HttpError::bad_request(format!("invalid protobuf: {e}")))?;
    remember_metadata(&request, metadata);
    // Not held while paying: paying may wait for room, and a request with
    // new metadata must not wait behind that for the write lock.
    let (entries, bytes) = request_point_copies(&request, &read_metadata(metadata));
    charge.memory(entries.saturating_mul(NODE_BYTES).saturating_add(bytes))?;
    let metrics = request_to_metrics_with(&request, &read_metadata(metadata))
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    Ok(metrics.into_iter().map(Event::Metric).collect())
}

/// The fields of a `WriteRequest` that build something (`remote.proto`,
/// `types.proto`): series of labels, samples (the events) and exemplars,
/// and metadata.
static WRITE_REQUEST: Message = Message {
    fields: &[
        (1, Field::Message(&TIME_SERIES)),
        (3, Field::Message(&METADATA)),
    ],
};
static TIME_SERIES: Message = Message {
    fields: &[
        (1, Field::Message(&LABEL)),
        (2, Field::Event(&SAMPLE)),
        (3, Field::Message(&EXEMPLAR)),
    ],
};
static LABEL: Message = Message {
    fields: &[(1, Field::Bytes), (2, Field::Bytes)],
};
static SAMPLE: Message = Message { fields: &[] };
static EXEMPLAR: Message = Message {
    fields: &[(1, Field::Message(&LABEL))],
};
static METADATA: Message = Message {
    fields: &[(2, Field::Bytes), (4, Field::Bytes), (5, Field::Bytes)],
};

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
    use logbridge_component::{Output, ShutdownSignal, SourceContext, SourceOutputs, channel};
    use logbridge_event::{BatchStatus, Metric};
    use std::sync::Arc;

    #[tokio::test]
    async fn answers_after_the_sinks_and_refuses_bad_bodies() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config: PrometheusRemoteWriteSourceConfig = serde_json::from_value(serde_json::json!({
            "address": format!("127.0.0.1:{port}"),
            "auth": {"strategy": "bearer", "token": "t"},
        }))
        .unwrap();
        let cx = BuildContext::detached("rw", ComponentKind::Source, std::env::temp_dir());
        let source = config.build(&cx).unwrap();
        let (tx, mut rx) = channel::bounded(16, 1 << 20);
        let metrics = Arc::new(ComponentMetrics::new("rw", ComponentKind::Source, ""));
        let shutdown = ShutdownSignal::new();
        let running = tokio::spawn(source.run(SourceContext {
            id: "rw".into(),
            out: SourceOutputs::new(Output::new(None, vec![tx], metrics.clone()), vec![]),
            shutdown: shutdown.clone(),
            metrics: metrics.clone(),
            data_dir: std::env::temp_dir(),
        }));
        // The sink side: takes each batch and acknowledges it.
        let sink = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(mut batch) = rx.recv().await {
                got.extend(batch.take_events());
                batch.finalizers.finish(BatchStatus::Delivered);
            }
            got
        });
        let url = format!("http://127.0.0.1:{port}/api/v1/write");
        let client = reqwest::Client::new();
        let body = logbridge_prometheus::encode_write_request(&[Metric::gauge(
            "g",
            2.5,
            1_700_000_000_000_000_000,
        )
        .with_label("a", "b")]);
        let post = |body: Vec<u8>, token: &'static str| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let mut last = None;
                // The listener may not be bound yet.
                for _ in 0..50 {
                    match client
                        .post(&url)
                        .bearer_auth(token)
                        .header(header::CONTENT_ENCODING, "snappy")
                        .header(header::CONTENT_TYPE, "application/x-protobuf")
                        .body(body.clone())
                        .send()
                        .await
                    {
                        Ok(r) => return r.status(),
                        Err(e) => last = Some(e),
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                panic!("no answer: {last:?}");
            }
        };
        assert_eq!(post(body.clone(), "t").await, StatusCode::NO_CONTENT);
        assert_eq!(post(body, "wrong").await, StatusCode::UNAUTHORIZED);
        assert_eq!(
            post(b"not snappy".to_vec(), "t").await,
            StatusCode::BAD_REQUEST
        );
        // The refused credentials and the undecodable body.
        assert_eq!(metrics.errors.load(std::sync::atomic::Ordering::Relaxed), 2);
        shutdown.trigger();
        running.await.unwrap().unwrap();
        let got = sink.await.unwrap();
        assert_eq!(got.len(), 1);
        let Event::Metric(m) = &got[0] else {
            panic!("not a metric")
        };
        assert_eq!((m.name.as_str(), m.value.as_f64()), ("g", Some(2.5)));
        assert_eq!(m.labels.get("a").unwrap().to_string_lossy(), "b");
    }
}
