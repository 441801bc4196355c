//! The `prometheus_exporter` sink: serves the metrics that flow into it on
//! `/metrics`, for a Prometheus (or anything that scrapes) to pull.
//!
//! Points are absorbed into a [`SeriesStore`] (latest point per series,
//! deltas summed into totals) and the batch is acknowledged at once: once
//! absorbed, a point is what the next scrape sees. A scrape gets the text
//! format its `Accept` header prefers (OpenMetrics 1.0 or text 0.0.4),
//! gzip-compressed when `Accept-Encoding` allows it. Series not updated for
//! `flush_period_secs` are dropped, so a source that went away stops
//! being reported.

mod store;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, ShutdownSignal, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind, Event};
use logbridge_prometheus::{Format, encode_text};
use serde::Deserialize;
use tracing::{info, warn};

use self::store::{Absorbed, SeriesStore};
use logbridge_net::client::seconds;
use logbridge_net::receive::{AuthConfig, HttpError, authorized};
use logbridge_net::server::Server;
use logbridge_net::tls::TlsServerConfig;

/// Serves the metrics it receives for Prometheus to scrape, on
/// `http://<address>/metrics`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusExporterConfig {
    /// Listen here, such as `0.0.0.0:9598`.
    #[serde(default = "default_address")]
    pub address: SocketAddr,
    /// Series not updated for this many seconds are no longer exposed.
    #[serde(default = "default_flush_period_secs")]
    pub flush_period_secs: f64,
    /// Write each point's own timestamp in the exposition. Off by default:
    /// the scraper then stamps samples with its scrape time, which is what
    /// Prometheus expects from an exporter.
    #[serde(default)]
    pub timestamps: bool,
    /// TLS (and mutual TLS with `ca_file`); plain text when absent.
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
    /// Credentials scrapers must send.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

fn default_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9598))
}
fn default_flush_period_secs() -> f64 {
    60.0
}

/// The path served.
const PATH: &str = "/metrics";

impl SinkConfig for PrometheusExporterConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        let flush_period = seconds("flush_period_secs", self.flush_period_secs)?;
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        let tls = match &self.tls {
            Some(t) => Some(t.server_config(&[b"h2", b"http/1.1"])?),
            None => None,
        };
        Ok(Box::new(PrometheusExporter {
            address: self.address,
            flush_period,
            timestamps: self.timestamps,
            tls,
            auth: self.auth.as_ref().map(|a| Arc::from(a.expected_header())),
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::METRIC
    }
}

struct PrometheusExporter {
    address: SocketAddr,
    flush_period: Duration,
    timestamps: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
    auth: Option<Arc<str>>,
}

/// What the scrape handler shares with the input loop.
#[derive(Clone)]
struct Shared {
    store: Arc<Mutex<SeriesStore>>,
    flush_period: Duration,
    timestamps: bool,
    auth: Option<Arc<str>>,
}

/// The store's lock; a panic elsewhere while holding it leaves a table
/// that is still consistent point by point, so it is used as is.
fn lock(store: &Mutex<SeriesStore>) -> MutexGuard<'_, SeriesStore> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait::async_trait]
impl Sink for PrometheusExporter {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        let shared = Shared {
            store: Arc::new(Mutex::new(SeriesStore::new())),
            flush_period: self.flush_period,
            timestamps: self.timestamps,
            auth: self.auth.clone(),
        };
        let server = Server::bind(self.address, self.tls.clone()).await?;
        info!(message = "Serving metrics for scraping.", address = %server.local_addr()?, path = PATH, tls = self.tls.is_some());
        let router = Router::new()
            .route(PATH, get(scrape))
            .with_state(shared.clone());
        // The listener lives as long as the input: it stops once every
        // upstream is done, not at the first shutdown signal, so scrapes
        // during the drain still see the last values.
        let stop = ShutdownSignal::new();
        let serving = server.serve(router, stop.clone());
        let absorbing = async {
            let unsupported = RateLimit::default();
            let mut sweep = tokio::time::interval(self.flush_period.min(Duration::from_secs(10)));
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    batch = cx.recv() => {
                        let Some(mut batch) = batch else { break };
                        let size = batch.byte_size();
                        let events = batch.take_events();
                        let count = events.len();
                        let now = Instant::now();
                        let mut refused = 0;
                        {
                            let mut store = lock(&shared.store);
                            for event in events {
                                let outcome = match event {
                                    Event::Metric(m) => store.absorb(m, now),
                                    _ => Absorbed::Unsupported,
                                };
                                if outcome == Absorbed::Unsupported {
                                    refused += 1;
                                }
                            }
                        }
                        if refused > 0 {
                            cx.metrics.add_discarded(refused, false);
                            if unsupported.allow() {
                                warn!(message = "Points without a text exposition form were dropped.", points = refused);
                            }
                        }
                        cx.metrics.add_sent(count - refused, size);
                        batch.finalizers.finish(BatchStatus::Delivered);
                    }
                    _ = sweep.tick() => {
                        lock(&shared.store).expire(Instant::now(), shared.flush_period);
                    }
                }
            }
            stop.trigger();
        };
        tokio::join!(serving, absorbing);
        Ok(())
    }
}

async fn scrape(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(expected) = &shared.auth
        && !authorized(&headers, expected)
    {
        return HttpError::unauthorized(expected).into_response();
    }
    let format = negotiate(
        headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    let points = {
        let mut store = lock(&shared.store);
        store.expire(Instant::now(), shared.flush_period);
        store.snapshot(shared.timestamps)
    };
    let gzip = accepts_gzip(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    // Encoding thousands of series is CPU work: off the runtime's workers.
    let body = tokio::task::spawn_blocking(move || {
        let text = encode_text(&points, format);
        if gzip { compress(&text) } else { Ok(text) }
    })
    .await;
    let body = match body {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            return HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                .into_response();
        }
        Err(e) => {
            return HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                .into_response();
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    response
}

/// The format a scraper's `Accept` prefers among the two served: the
/// OpenMetrics entry wins when its quality is at least the text one's.
fn negotiate(accept: &str) -> Format {
    let mut openmetrics: f64 = 0.0;
    let mut text: f64 = 0.0;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = quality(parts);
        match media.as_str() {
            "application/openmetrics-text" => openmetrics = openmetrics.max(q),
            "text/plain" | "text/*" | "*/*" => text = text.max(q),
            _ => {}
        }
    }
    if openmetrics > 0.0 && openmetrics >= text {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

/// The `q` parameter of an `Accept` entry (1 when absent).
fn quality<'a>(params: impl Iterator<Item = &'a str>) -> f64 {
    for p in params {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("q")
        {
            return v.trim().parse::<f64>().unwrap_or(0.0).clamp(0.0, 1.0);
        }
    }
    1.0
}

/// Whether `Accept-Encoding` allows gzip (listed without `q=0`).
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && quality(parts) > 0.0
    })
}

fn compress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    e.write_all(data)?;
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_negotiation() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(prometheus), Format::OpenMetrics);
        assert_eq!(negotiate(""), Format::Prometheus);
        assert_eq!(negotiate("*/*"), Format::Prometheus);
        assert_eq!(negotiate("text/plain;version=0.0.4"), Format::Prometheus);
        assert_eq!(
            negotiate("text/plain;q=1,application/openmetrics-text;q=0.5"),
            Format::Prometheus
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version=1.0.0"),
            Format::OpenMetrics
        );
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.8"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn options_are_checked() {
        let cx = BuildContext::detached(
            "x",
            logbridge_component::telemetry::ComponentKind::Sink,
            std::env::temp_dir(),
        );
        let parse = |toml: serde_json::Value| -> PrometheusExporterConfig {
            serde_json::from_value(toml).unwrap()
        };
        assert!(
            parse(serde_json::json!({"flush_period_secs": 0}))
                .build(&cx)
                .is_err()
        );
        let ok = parse(serde_json::json!({"address": "127.0.0.1:0"}));
        assert_eq!(ok.flush_period_secs, 60.0);
        assert!(ok.build(&cx).is_ok());
    }

    /// A loopback port free now.
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[tokio::test]
    async fn serves_what_it_absorbed() {
        use logbridge_component::channel;
        use logbridge_component::telemetry::ComponentKind;
        use logbridge_event::{BatchNotifier, EventBatch, Finalizers, Metric, Temporality};
        use std::io::Read;

        let port = free_port();
        let config: PrometheusExporterConfig = serde_json::from_value(serde_json::json!({
            "address": format!("127.0.0.1:{port}"),
            "auth": {"strategy": "basic", "user": "u", "password": "p"},
        }))
        .unwrap();
        let cx = BuildContext::detached("exp", ComponentKind::Sink, std::env::temp_dir());
        let sink = config.build(&cx).unwrap();
        let (tx, rx) = channel::bounded(16, 1 << 20);
        let sink_cx = SinkContext::new(
            "exp".into(),
            cx.metrics.clone(),
            std::env::temp_dir(),
            ShutdownSignal::new(),
            rx,
        );
        let running = tokio::spawn(sink.run(sink_cx));
        let delta = |v: f64| Metric {
            temporality: Temporality::Delta,
            ..Metric::counter("jobs_total", v, 1).with_label("q", "a")
        };
        for batch in [
            vec![delta(2.0), Metric::gauge("queue_depth", 4.0, 1)],
            vec![delta(3.0)],
        ] {
            let (status_tx, status_rx) = tokio::sync::oneshot::channel();
            let notifier = BatchNotifier::new(move |s| {
                let _ = status_tx.send(s);
            });
            let batch = EventBatch::new(batch.into_iter().map(Event::Metric).collect())
                .with_finalizers(Finalizers::new(notifier));
            tx.send(batch).await.unwrap();
            assert_eq!(status_rx.await.unwrap(), BatchStatus::Delivered);
        }
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/metrics");
        let denied = client.get(&url).send().await.unwrap();
        assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);

        let text = client
            .get(&url)
            .basic_auth("u", Some("p"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            text.headers()[header::CONTENT_TYPE],
            Format::Prometheus.content_type()
        );
        let body = text.text().await.unwrap();
        assert!(body.contains("jobs_total{q=\"a\"} 5.0\n"), "{body}");
        assert!(body.contains("queue_depth 4.0\n"), "{body}");
        assert!(!body.contains("# EOF"));

        let om = client
            .get(&url)
            .basic_auth("u", Some("p"))
            .header(
                header::ACCEPT,
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
            )
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(om.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(
            om.headers()[header::CONTENT_TYPE],
            Format::OpenMetrics.content_type()
        );
        let raw = om.bytes().await.unwrap();
        let mut body = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut body)
            .unwrap();
        assert!(body.contains("jobs_total{q=\"a\"} 5.0"), "{body}");
        assert!(body.ends_with("# EOF\n"), "{body}");

        drop(tx);
        running.await.unwrap().unwrap();
    }
}
