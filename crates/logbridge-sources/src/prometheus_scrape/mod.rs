//! The `prometheus_scrape` source: pulls text expositions (Prometheus 0.0.4
//! or OpenMetrics 1.0) from HTTP targets on an interval, the way Prometheus
//! scrapes.
//!
//! Every target runs its own loop, all driven concurrently by the source's
//! task: a slow target delays nobody else. Ticks are kept on the interval
//! whatever a scrape takes (a scrape is bounded by `scrape_timeout_secs`,
//! which may not exceed the interval; a tick missed while the pipeline
//! pushes back is skipped, not bunched up). Every target is first scraped
//! when the source starts.
//!
//! What a scrape yields, as Prometheus stores it:
//! - every point of the exposition, with `job` and `instance` (the
//!   target's `host:port`) labels; a scraped `job`/`instance` label is kept
//!   as `exported_job`/`exported_instance` unless `honor_labels` is on, in
//!   which case the scraped one wins;
//! - `up` (1, or 0 when the scrape failed), `scrape_duration_seconds` and
//!   `scrape_samples_scraped` for the target;
//! - stale markers (points with no recorded value) for the series of the
//!   last scrape that this one lacks ([`super::staleness`]).
//!
//! A scrape fails as a whole (connection, HTTP status other than 2xx,
//! timeout, a body over `max_body_bytes`, or a body that does not parse):
//! then only the three target series are sent, with `up` 0, and stale
//! markers for every series of the last successful scrape.

mod staleness;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, header};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, OutputDef, Source, SourceConfig, SourceContext,
};
use logbridge_event::{
    DataKind, Event, EventBatch, KeyString, Metric, MetricValue, ObjectMap, Value,
};
use logbridge_prometheus::{Format, ParseError, parse};
use serde::Deserialize;
use tracing::{debug, warn};

use self::staleness::LastScrape;
use logbridge_component::now_nanos;
use logbridge_net::client::{auth_header, build_client, http_url, seconds};
use logbridge_net::receive::{AuthConfig, decompress};
use logbridge_net::tls::TlsClientConfig;

/// Scrapes Prometheus metrics endpoints.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusScrapeConfig {
    /// The URLs to scrape, such as `http://127.0.0.1:9100/metrics`.
    pub endpoints: Vec<String>,
    /// Seconds between two scrapes of a target.
    #[serde(default = "default_interval")]
    pub scrape_interval_secs: f64,
    /// Seconds before a scrape is given up (and the target reported down);
    /// at most `scrape_interval_secs`.
    #[serde(default = "default_timeout")]
    pub scrape_timeout_secs: f64,
    /// The `job` label; the component's id when unset.
    #[serde(default)]
    pub job: Option<String>,
    /// When a scraped point has its own `job` or `instance` label: keep it
    /// (true), or keep the target's and rename the scraped one
    /// `exported_job`/`exported_instance` (false, as Prometheus does).
    #[serde(default)]
    pub honor_labels: bool,
    /// Keep the timestamps targets give their samples (true), or stamp
    /// every sample with the scrape's time (false).
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// TLS settings for `https://` targets.
    #[serde(default)]
    pub tls: Option<TlsClientConfig>,
    /// Credentials sent to the targets.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Largest exposition accepted, in bytes (once decompressed); a larger
    /// one fails the scrape.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

fn default_interval() -> f64 {
    15.0
}
fn default_timeout() -> f64 {
    10.0
}
fn default_true() -> bool {
    true
}
fn default_max_body_bytes() -> usize {
    64 << 20
}

/// OpenMetrics first, then the 0.0.4 text format: what Prometheus asks for.
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

impl SourceConfig for PrometheusScrapeConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if self.endpoints.is_empty() {
            return Err(BuildError::new("endpoints", "no endpoint to scrape"));
        }
        let interval = seconds("scrape_interval_secs", self.scrape_interval_secs)?;
        let timeout = seconds("scrape_timeout_secs", self.scrape_timeout_secs)?;
        if timeout > interval {
            return Err(BuildError::new(
                "scrape_timeout_secs",
                "scrape_timeout_secs must not exceed scrape_interval_secs",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(BuildError::new(
                "max_body_bytes",
                "max_body_bytes must be above 0",
            ));
        }
        let mut targets = Vec::with_capacity(self.endpoints.len());
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            let url = http_url(
                &format!("endpoints[{i}]"),
                endpoint,
                "http://127.0.0.1:9100/metrics",
            )?;
            targets.push(Target {
                instance: instance_of(&url),
                url,
            });
        }
        let auth = auth_header(self.auth.as_ref())?;
        let client = build_client(self.tls.as_ref(), timeout)?;
        let job = self.job.clone().unwrap_or_else(|| cx.id.clone());
        if job.is_empty() {
            return Err(BuildError::new("job", "job must not be empty"));
        }
        Ok(Box::new(ScrapeSource {
            client,
            targets,
            interval,
            timeout,
            job,
            honor_labels: self.honor_labels,
            honor_timestamps: self.honor_timestamps,
            auth,
            max_body_bytes: self.max_body_bytes,
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::METRIC)]
    }
}

/// `host:port` of a URL, the port filled in from the scheme as Prometheus
/// does for its `instance` label.
fn instance_of(url: &reqwest::Url) -> String {
    // `host_str` keeps the brackets of an IPv6 address.
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

struct Target {
    url: reqwest::Url,
    instance: String,
}

struct ScrapeSource {
    client: reqwest::Client,
    targets: Vec<Target>,
    interval: Duration,
    timeout: Duration,
    job: String,
    honor_labels: bool,
    honor_timestamps: bool,
    auth: Option<HeaderValue>,
    max_body_bytes: usize,
}

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("HTTP status {0}")]
    Status(http::StatusCode),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("body over {0} bytes")]
    TooLarge(usize),
    #[error("undecodable body: {0}")]
    Encoding(String),
    #[error("invalid exposition: {0}")]
    Parse(#[from] ParseError),
    #[error("parsing was interrupted: {0}")]
    Task(String),
}

/// A successful scrape: the points and the size of the body.
struct Scraped {
    points: Vec<Metric>,
    bytes: usize,
}

#[async_trait::async_trait]
impl Source for ScrapeSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let loops = self.targets.iter().map(|t| self.run_target(t, &cx));
        futures::future::join_all(loops).await;
        Ok(())
    }
}

impl ScrapeSource {
    /// Scrapes one target every interval until shutdown.
    async fn run_target(&self, target: &Target, cx: &SourceContext) {
        let failures = RateLimit::default();
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last = LastScrape::default();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = cx.shutdown.wait() => return,
            }
            let started = Instant::now();
            let started_ns = now_nanos();
            let outcome = tokio::select! {
                r = tokio::time::timeout(self.timeout, self.scrape(target, started_ns)) => {
                    r.unwrap_or(Err(ScrapeError::Timeout(self.timeout)))
                }
                _ = cx.shutdown.wait() => return,
            };
            let duration = started.elapsed();
            let (mut events, bytes, up, samples) = match outcome {
                Ok(scraped) => {
                    let samples = scraped.points.iter().map(sample_count).sum::<usize>();
                    let points: Vec<Metric> = scraped
                        .points
                        .into_iter()
                        .map(|m| self.with_target_labels(m, target, started_ns))
                        .collect();
                    let ended = last.replace(&points, started_ns);
                    let events: Vec<Event> =
                        points.into_iter().chain(ended).map(Event::Metric).collect();
                    (events, scraped.bytes, true, samples)
                }
                Err(error) => {
                    cx.metrics.add_error();
                    if failures.allow() {
                        warn!(message = "Scrape failed; the target is reported down.", target = %target.url, %error);
                    } else {
                        debug!(message = "Scrape failed.", target = %target.url, %error);
                    }
                    let ended = last.replace(&[], started_ns);
                    (ended.into_iter().map(Event::Metric).collect(), 0, false, 0)
                }
            };
            events.extend(
                self.target_series(target, started_ns, up, duration, samples)
                    .into_iter()
                    .map(Event::Metric),
            );
            let batch = EventBatch::with_size(events, bytes);
            cx.metrics.add_received(batch.len(), batch.byte_size());
            tokio::select! {
                sent = cx.out.send(batch) => if sent.is_err() { return },
                _ = cx.shutdown.wait() => return,
            }
        }
    }

    /// One scrape: request, body within its limit, inflated, parsed.
    async fn scrape(&self, target: &Target, now_ns: i64) -> Result<Scraped, ScrapeError> {
        let mut request = self
            .client
            .get(target.url.clone())
            .header(header::ACCEPT, ACCEPT)
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(
                header::USER_AGENT,
                concat!("logbridge/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", self.timeout.as_secs_f64()),
            );
        if let Some(auth) = &self.auth {
            request = request.header(header::AUTHORIZATION, auth.clone());
        }
        let mut response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            return Err(ScrapeError::Status(status));
        }
        let headers = response.headers();
        let format = Format::from_content_type(
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        );
        let encoding = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let max = self.max_body_bytes;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(ScrapeError::TooLarge(max));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > max {
                return Err(ScrapeError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        let raw = body.freeze();
        let bytes = raw.len();
        // Inflating and parsing a large exposition is CPU work: off the
        // runtime's workers.
        let points = tokio::task::spawn_blocking(move || -> Result<Vec<Metric>, ScrapeError> {
            let body: Bytes = decompress(&encoding, raw, max).map_err(|e| {
                if e.status == http::StatusCode::PAYLOAD_TOO_LARGE {
                    ScrapeError::TooLarge(max)
                } else {
                    ScrapeError::Encoding(e.message)
                }
            })?;
            Ok(parse(&body, format, now_ns)?)
        })
        .await
        .map_err(|e| ScrapeError::Task(e.to_string()))??;
        Ok(Scraped { points, bytes })
    }

    /// Adds the target's `job` and `instance` labels to a scraped point.
    fn with_target_labels(&self, mut m: Metric, target: &Target, scrape_ns: i64) -> Metric {
        if !self.honor_timestamps {
            m.time_unix_nano = scrape_ns;
        }
        attach_label(&mut m.labels, "job", &self.job, self.honor_labels);
        attach_label(
            &mut m.labels,
            "instance",
            &target.instance,
            self.honor_labels,
        );
        m
    }

    /// `up`, `scrape_duration_seconds` and `scrape_samples_scraped`.
    fn target_series(
        &self,
        target: &Target,
        time: i64,
        up: bool,
        duration: Duration,
        samples: usize,
    ) -> Vec<Metric> {
        [
            ("up", if up { 1.0 } else { 0.0 }),
            ("scrape_duration_seconds", duration.as_secs_f64()),
            ("scrape_samples_scraped", samples as f64),
        ]
        .into_iter()
        .map(|(name, value)| {
            Metric::gauge(name, value, time)
                .with_label("job", &self.job)
                .with_label("instance", &target.instance)
        })
        .collect()
    }
}

/// Sets label `name` to `value`. A scraped label of that name is kept when
/// `honor` (and then wins), otherwise moved to `exported_<name>` (with more
/// `exported_` prefixes while that is taken, as Prometheus does).
fn attach_label(labels: &mut ObjectMap, name: &str, value: &str, honor: bool) {
    if let Some(scraped) = labels.get(name) {
        // An empty value is no label at all in Prometheus.
        let empty = scraped.as_bytes().is_some_and(<[u8]>::is_empty);
        if honor && !empty {
            return;
        }
        if let Some(scraped) = labels.remove(name)
            && !empty
        {
            let mut exported = format!("exported_{name}");
            while labels.contains_key(&exported) {
                exported.insert_str(0, "exported_");
            }
            labels.insert(KeyString::new(&exported), scraped);
        }
    }
    labels.insert(KeyString::new(name), Value::from(value));
}

/// The samples (exposition lines) a point came from, as Prometheus counts
/// them for `scrape_samples_scraped` (`_created` lines, which it does not
/// store, are not counted).
fn sample_count(m: &Metric) -> usize {
    match &m.value {
        MetricValue::Scalar(_) | MetricValue::Integer(_) => 1,
        MetricValue::Histogram { buckets, sum, .. } => {
            let inf = buckets.iter().any(|b| b.upper_bound == f64::INFINITY);
            buckets.len() + usize::from(!inf) + 1 + usize::from(sum.is_some())
        }
        MetricValue::Summary { quantiles, .. } => quantiles.len() + 2,
        MetricValue::ExponentialHistogram(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;

    use axum::Router;
    use axum::routing::get;
    use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
    use logbridge_component::{Output, ShutdownSignal, SourceOutputs, channel};

    #[test]
    fn target_labels() {
        let mut labels = ObjectMap::new();
        labels.insert("job".into(), Value::from("theirs"));
        labels.insert("exported_job".into(), Value::from("taken"));
        let mut renamed = labels.clone();
        attach_label(&mut renamed, "job", "mine", false);
        assert_eq!(renamed.get("job").unwrap().to_string_lossy(), "mine");
        assert_eq!(
            renamed
                .get("exported_exported_job")
                .unwrap()
                .to_string_lossy(),
            "theirs"
        );
        let mut honored = labels.clone();
        attach_label(&mut honored, "job", "mine", true);
        assert_eq!(honored.get("job").unwrap().to_string_lossy(), "theirs");
        let mut empty = ObjectMap::new();
        empty.insert("instance".into(), Value::from(""));
        attach_label(&mut empty, "instance", "h:1", true);
        assert_eq!(empty.get("instance").unwrap().to_string_lossy(), "h:1");
        assert_eq!(empty.len(), 1);

        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert_eq!(
            instance_of(&url("http://a.example/metrics")),
            "a.example:80"
        );
        assert_eq!(instance_of(&url("https://a.example/m")), "a.example:443");
        assert_eq!(instance_of(&url("http://[::1]:9090/m")), "[::1]:9090");
    }

    #[test]
    fn options_are_checked() {
        let cx = BuildContext::detached("s", ComponentKind::Source, std::env::temp_dir());
        let build = |v: serde_json::Value| {
            serde_json::from_value::<PrometheusScrapeConfig>(v)
                .unwrap()
                .build(&cx)
                .map(|_| ())
        };
        assert!(build(serde_json::json!({"endpoints": []})).is_err());
        assert!(build(serde_json::json!({"endpoints": ["nope"]})).is_err());
        let e = build(serde_json::json!({
            "endpoints": ["http://127.0.0.1:1/metrics"],
            "scrape_interval_secs": 1, "scrape_timeout_secs": 2
        }))
        .unwrap_err();
        assert_eq!(e.option.as_deref(), Some("scrape_timeout_secs"));
        assert!(build(serde_json::json!({"endpoints": ["http://127.0.0.1:1/metrics"]})).is_ok());
    }

    const OPENMETRICS: &str = "# TYPE rpc counter\nrpc_total{job=\"theirs\"} 5 1700000000.5\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 3\nlat_sum 4.5\nlat_count 3\n# EOF\n";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A target serving `/good` (gzip OpenMetrics when asked), `/bad` (an
    /// invalid exposition) and `/missing` (404).
    async fn target() -> String {
        let app = Router::new()
            .route(
                "/good",
                get(|headers: http::HeaderMap| async move {
                    let accept = headers[header::ACCEPT].to_str().unwrap().to_owned();
                    assert!(accept.starts_with("application/openmetrics-text"));
                    assert_eq!(headers[header::ACCEPT_ENCODING], "gzip");
                    (
                        [
                            (
                                header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            ),
                            (header::CONTENT_ENCODING, "gzip"),
                        ],
                        gzip(OPENMETRICS.as_bytes()),
                    )
                }),
            )
            .route(
                "/bad",
                get(|| async {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0",
                        )],
                        "# TYPE a counter\na_total 1\n",
                    )
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    /// Runs the source until every target was scraped once; returns the
    /// points.
    async fn scrape_once(config: serde_json::Value, targets: usize) -> Vec<Metric> {
        let config: PrometheusScrapeConfig = serde_json::from_value(config).unwrap();
        let cx = BuildContext::detached("scraper", ComponentKind::Source, std::env::temp_dir());
        let source = config.build(&cx).unwrap();
        let (tx, mut rx) = channel::bounded(1000, 1 << 24);
        let metrics = Arc::new(ComponentMetrics::new("scraper", ComponentKind::Source, ""));
        let shutdown = ShutdownSignal::new();
        let source_cx = SourceContext {
            id: "scraper".into(),
            out: SourceOutputs::new(Output::new(None, vec![tx], metrics.clone()), vec![]),
            shutdown: shutdown.clone(),
            metrics,
            data_dir: std::env::temp_dir(),
        };
        let running = tokio::spawn(source.run(source_cx));
        let mut points = Vec::new();
        for _ in 0..targets {
            let batch = rx.recv().await.unwrap();
            points.extend(batch.events().iter().filter_map(|e| match e {
                Event::Metric(m) => Some(m.clone()),
                _ => None,
            }));
        }
        shutdown.trigger();
        running.await.unwrap().unwrap();
        points
    }

    fn find<'a>(points: &'a [Metric], name: &str) -> Vec<&'a Metric> {
        points.iter().filter(|m| m.name == name).collect()
    }

    #[tokio::test]
    async fn scrapes_label_and_report_targets() {
        let base = target().await;
        let points = scrape_once(
            serde_json::json!({
                "endpoints": [format!("{base}/good")],
                "scrape_interval_secs": 60,
                "job": "node",
            }),
            1,
        )
        .await;
        let instance = base.trim_start_matches("http://");
        let rpc = find(&points, "rpc_total");
        assert_eq!(rpc.len(), 1);
        let l = &rpc[0].labels;
        assert_eq!(l.get("job").unwrap().to_string_lossy(), "node");
        assert_eq!(l.get("exported_job").unwrap().to_string_lossy(), "theirs");
        assert_eq!(l.get("instance").unwrap().to_string_lossy(), instance);
        assert_eq!(rpc[0].time_unix_nano, 1_700_000_000_500_000_000);
        let up = find(&points, "up");
        assert_eq!(up[0].value.as_f64(), Some(1.0));
        assert_eq!(
            find(&points, "scrape_samples_scraped")[0].value.as_f64(),
            Some(5.0)
        );
        assert_eq!(find(&points, "scrape_duration_seconds").len(), 1);
    }

    #[tokio::test]
    async fn series_that_vanish_get_stale_markers() {
        // Two series, then one, then a failed scrape.
        let scrapes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let app = Router::new().route(
            "/flip",
            get(move || {
                let n = scrapes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    match n {
                        0 => (http::StatusCode::OK, "a 1\nb 1\n"),
                        1 => (http::StatusCode::OK, "a 2\n"),
                        _ => (http::StatusCode::INTERNAL_SERVER_ERROR, ""),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let points = scrape_once(
            serde_json::json!({
                "endpoints": [format!("{base}/flip")],
                "scrape_interval_secs": 0.05,
                "scrape_timeout_secs": 0.05,
            }),
            3,
        )
        .await;
        let stale: Vec<(&str, i64)> = points
            .iter()
            .filter(|m| m.flags & logbridge_event::FLAG_NO_RECORDED_VALUE != 0)
            .map(|m| (m.name.as_str(), m.time_unix_nano))
            .collect();
        let up_times: Vec<i64> = find(&points, "up")
            .iter()
            .map(|m| m.time_unix_nano)
            .collect();
        assert_eq!(
            stale,
            [("b", up_times[1]), ("a", up_times[2])],
            "b when it vanished, a when the scrape failed"
        );
    }

    #[tokio::test]
    async fn failed_scrapes_report_the_target_down() {
        let base = target().await;
        let points = scrape_once(
            serde_json::json!({
                "endpoints": [format!("{base}/bad"), format!("{base}/missing")],
                "scrape_interval_secs": 60,
                "honor_timestamps": false,
            }),
            2,
        )
        .await;
        let names: Vec<&str> = points.iter().map(|m| m.name.as_str()).collect();
        assert!(!names.contains(&"a_total"), "nothing from a failed scrape");
        let up = find(&points, "up");
        assert_eq!(up.len(), 2);
        assert!(up.iter().all(|m| m.value.as_f64() == Some(0.0)));
        assert!(
            up.iter()
                .all(|m| m.labels.get("job").unwrap().to_string_lossy() == "scraper")
        );
    }
}
