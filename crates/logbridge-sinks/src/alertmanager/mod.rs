//! The `alertmanager` sink: posts the alerts of logbridge's rules engine to
//! Prometheus Alertmanager's API v2 (`POST <endpoint>/api/v2/alerts`, a
//! JSON array of alerts), the way Prometheus' notifier does.
//!
//! An alert is a log whose body is an object with `labels` (strings, with
//! `alertname`), and optionally `annotations` (strings), `startsAt` and
//! `endsAt` (RFC 3339 times) and `generatorURL`; other fields (`state`,
//! `value`, `activeAt`) are not sent. A log that is not such an alert can
//! never be delivered: it is counted as discarded, logged (rate-limited)
//! and its batch reported rejected, while the rest of the batch is sent.
//!
//! Every request goes to all endpoints at once (an Alertmanager cluster
//! wants each alert from each sender). It is delivered when at least one
//! endpoint took it. Per endpoint: HTTP 429, 5xx and connection failures
//! are retried with a doubling backoff (after `Retry-After` when given), up
//! to `retry_attempts` times and only while no other endpoint has taken
//! the request; any other answer is a refusal that is not retried. When no
//! endpoint took a request its alerts are counted as discarded and the
//! batch reported rejected (rejected, not errored: a disk buffer would
//! keep an errored batch until the next start). Firing alerts are meant
//! to be sent again while they fire, as Prometheus does, so holding old
//! ones back would only delay newer ones.
//!
//! This module does the transport only; it does not evaluate rules or
//! keep alert state.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind, Event, ObjectMap, Value};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use logbridge_net::client::{
    self, BatchLimits, Gathered, Outcome, auth_header, build_client, extra_headers, gather,
    give_up, http_url, seconds,
};
use logbridge_net::receive::AuthConfig;
use logbridge_net::retry::{RetryPolicy, Settled, send_until_settled};
use logbridge_net::tls::TlsClientConfig;

/// Where alerts are posted, under each endpoint's base URL.
const ALERTS_PATH: &str = "/api/v2/alerts";

/// Sends alerts to Prometheus Alertmanager.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSinkConfig {
    /// The Alertmanagers' base URLs, such as `http://127.0.0.1:9093` (a
    /// path prefix is kept: `http://host/alertmanager`); alerts are posted
    /// to `/api/v2/alerts` under each, every request to all of them.
    /// `https://` uses TLS.
    pub endpoints: Vec<String>,
    /// Alerts in one request at most (Prometheus sends 64). A request is
    /// sent as soon as input pauses, so it is often smaller.
    #[serde(default = "default_max_alerts_per_request")]
    pub max_alerts_per_request: usize,
    /// Credentials to send (`Authorization: Bearer` or `Basic`).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Extra headers on every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// TLS settings for `https://` (extra CA, client certificate).
    #[serde(default)]
    pub tls: Option<TlsClientConfig>,
    /// Seconds before a request is abandoned (and retried).
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: f64,
    /// How many times a request an endpoint failed (HTTP 429 or 5xx, no
    /// connection, timeout) is sent to it again before it is given up.
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    /// Longest wait between retries, in seconds (backoff doubles from
    /// 0.1 s up to this).
    #[serde(default = "default_max_backoff_secs")]
    pub retry_max_backoff_secs: f64,
}

fn default_max_alerts_per_request() -> usize {
    64
}
fn default_request_timeout_secs() -> f64 {
    10.0
}
fn default_retry_attempts() -> u32 {
    5
}
fn default_max_backoff_secs() -> f64 {
    30.0
}

/// Gathering stops at this age, though input that pauses ends it sooner.
const BATCH_TIMEOUT_SECS: f64 = 1.0;

impl SinkConfig for AlertmanagerSinkConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        if self.endpoints.is_empty() {
            return Err(BuildError::new("endpoints", "no endpoint to send to")
                .with_hint("such as endpoints = [\"http://127.0.0.1:9093\"]"));
        }
        let mut endpoints = Vec::with_capacity(self.endpoints.len());
        for (i, text) in self.endpoints.iter().enumerate() {
            let url = http_url(&format!("endpoints[{i}]"), text, "http://127.0.0.1:9093")?;
            endpoints.push(Endpoint::new(url));
        }
        if self.max_alerts_per_request == 0 {
            return Err(BuildError::new(
                "max_alerts_per_request",
                "max_alerts_per_request must be above 0",
            ));
        }
        let limits = BatchLimits {
            max_events: self.max_alerts_per_request,
            max_bytes: usize::MAX,
            timeout: Duration::from_secs_f64(BATCH_TIMEOUT_SECS),
        };
        let request_timeout = seconds("request_timeout_secs", self.request_timeout_secs)?;
        let max_backoff = seconds("retry_max_backoff_secs", self.retry_max_backoff_secs)?;
        let mut headers: HeaderMap = extra_headers(&self.headers)?.into_iter().collect();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("logbridge/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(value) = auth_header(self.auth.as_ref())? {
            headers.insert(header::AUTHORIZATION, value);
        }
        Ok(Box::new(AlertmanagerSink {
            client: build_client(self.tls.as_ref(), request_timeout)?,
            endpoints,
            headers,
            limits,
            retry_attempts: self.retry_attempts,
            max_backoff,
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::LOG
    }
}

/// One Alertmanager.
struct Endpoint {
    /// `<base>/api/v2/alerts`.
    url: reqwest::Url,
    /// The URL without credentials, for logs and problems.
    name: String,
}

impl Endpoint {
    fn new(mut url: reqwest::Url) -> Endpoint {
        let path = format!("{}{ALERTS_PATH}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        Endpoint {
            name: shown.to_string(),
            url,
        }
    }
}

struct AlertmanagerSink {
    client: reqwest::Client,
    endpoints: Vec<Endpoint>,
    /// Content type, user agent, credentials, the configured extras.
    headers: HeaderMap,
    /// `max_events` is `max_alerts_per_request`.
    limits: BatchLimits,
    retry_attempts: u32,
    max_backoff: Duration,
}

/// One request's alerts: the JSON body and what it stands for.
struct Request {
    body: bytes::Bytes,
    alerts: usize,
    /// The alerts' estimated size, for the sent-bytes counter.
    bytes: usize,
}

/// How sending one request to one endpoint ended.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Sent,
    /// Refused, or failing after every retry (or when another endpoint
    /// took the request first).
    Failed,
    /// The pipeline is stopping.
    Stopped,
}

#[async_trait::async_trait]
impl Sink for AlertmanagerSink {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        let delivery_log = RateLimit::default();
        let input_log = RateLimit::default();
        while let Some(Gathered {
            events,
            finalizers,
            ended,
        }) = gather(&mut cx, &self.limits).await
        {
            let mut alerts = Vec::with_capacity(events.len());
            let mut unsendable = 0;
            for event in &events {
                match alert_json(event) {
                    Ok(json) => alerts.push((json, event.estimated_size())),
                    Err(reason) => {
                        unsendable += 1;
                        if input_log.allow() {
                            warn!(message = "A log is not an alert; discarding it.", %reason);
                        }
                    }
                }
            }
            drop(events);
            let mut status = BatchStatus::Delivered;
            if unsendable > 0 {
                cx.metrics.add_error();
                cx.metrics.add_discarded(unsendable, false);
                status = BatchStatus::Rejected;
            }
            // A gathered batch may hold more than one request's worth.
            for chunk in alerts.chunks(self.limits.max_events) {
                let request = Request {
                    body: json_array(chunk.iter().map(|(json, _)| json.as_str())),
                    alerts: chunk.len(),
                    bytes: chunk.iter().map(|(_, size)| size).sum(),
                };
                status = status.max(self.send(&cx, &request, &delivery_log).await);
            }
            finalizers.finish(status);
            if ended {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl AlertmanagerSink {
    /// Sends one request to every endpoint at once; delivered when one
    /// took it.
    async fn send(&self, cx: &SinkContext, request: &Request, log: &RateLimit) -> BatchStatus {
        let taken = CancellationToken::new();
        let deliveries = futures::future::join_all(
            self.endpoints
                .iter()
                .map(|endpoint| self.send_to(cx, endpoint, request, &taken, log)),
        )
        .await;
        if deliveries.contains(&Delivery::Sent) {
            cx.metrics.add_sent(request.alerts, request.bytes);
            cx.metrics.set_problem(None);
            return BatchStatus::Delivered;
        }
        if deliveries.contains(&Delivery::Stopped) {
            return give_up(&cx.metrics);
        }
        cx.metrics.add_discarded(request.alerts, false);
        if log.allow() {
            warn!(
                message = "No Alertmanager took the alerts; discarding them.",
                alerts = request.alerts
            );
        }
        BatchStatus::Rejected
    }

    /// Sends one request to one endpoint until it is taken, refused, the
    /// retries are spent, another endpoint took it, or the pipeline stops.
    async fn send_to(
        &self,
        cx: &SinkContext,
        endpoint: &Endpoint,
        request: &Request,
        taken: &CancellationToken,
        log: &RateLimit,
    ) -> Delivery {
        let problem = format!("sending alerts to {} failing, retrying", endpoint.name);
        let policy = RetryPolicy {
            max_backoff: self.max_backoff,
            max_retries: Some(self.retry_attempts),
            endpoint: &endpoint.name,
            problem: &problem,
            retrying: "Sending alerts to Alertmanager failed; retrying.",
            refused: "Alertmanager refused alerts; not retrying.",
            gave_up: "Sending alerts to Alertmanager failed; giving up.",
            events: request.alerts,
        };
        let attempt = || self.attempt(endpoint, request.body.clone());
        match send_until_settled(cx, &policy, Some(taken), log, attempt).await {
            Settled::Sent(()) => {
                taken.cancel();
                Delivery::Sent
            }
            Settled::Refused(_) | Settled::GaveUp | Settled::Taken => Delivery::Failed,
            Settled::Stopped => Delivery::Stopped,
        }
    }

    async fn attempt(&self, endpoint: &Endpoint, body: bytes::Bytes) -> Outcome {
        client::send(
            self.client
                .post(endpoint.url.clone())
                .headers(self.headers.clone())
                .body(body),
        )
        .await
    }
}

/// `[a,b,...]` from JSON texts.
fn json_array<'a>(items: impl Iterator<Item = &'a str>) -> bytes::Bytes {
    let mut body = Vec::from(*b"[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.as_bytes());
    }
    body.push(b']');
    body.into()
}

/// One alert as API v2 takes it (JSON text), or why the event is not one.
/// Alertmanager answers 400 to a request holding one alert it cannot
/// take, failing the others with it, so such alerts are caught here.
fn alert_json(event: &Event) -> Result<String, String> {
    let Event::Log(log) = event else {
        return Err("not a log".to_owned());
    };
    let Value::Object(alert) = &log.body else {
        return Err(format!(
            "the body is {}, not an object",
            log.body.kind_name()
        ));
    };
    let labels = match present(alert, "labels") {
        Some(Value::Object(labels)) => strings("labels", labels)?,
        Some(other) => return Err(format!("labels is {}, not an object", other.kind_name())),
        None => return Err("no labels".to_owned()),
    };
    if labels
        .get("alertname")
        .is_none_or(|name| name.as_str().is_none_or(str::is_empty))
    {
        return Err("no alertname label".to_owned());
    }
    let mut out = serde_json::Map::new();
    out.insert("labels".to_owned(), serde_json::Value::Object(labels));
    match present(alert, "annotations") {
        Some(Value::Object(annotations)) => {
            let annotations = strings("annotations", annotations)?;
            out.insert(
                "annotations".to_owned(),
                serde_json::Value::Object(annotations),
            );
        }
        Some(other) => {
            return Err(format!(
                "annotations is {}, not an object",
                other.kind_name()
            ));
        }
        None => {}
    }
    for field in ["startsAt", "endsAt"] {
        if let Some(value) = present(alert, field) {
            out.insert(
                field.to_owned(),
                serde_json::Value::String(time(field, value)?),
            );
        }
    }
    if let Some(url) = present(alert, "generatorURL") {
        let url = text("generatorURL", url)?;
        out.insert("generatorURL".to_owned(), serde_json::Value::String(url));
    }
    Ok(serde_json::Value::Object(out).to_string())
}

/// A field of the alert; null counts as absent.
fn present<'a>(alert: &'a ObjectMap, field: &str) -> Option<&'a Value> {
    alert.get(field).filter(|v| !matches!(v, Value::Null))
}

/// A map of names to strings (labels, annotations) as JSON.
fn strings(
    field: &str,
    map: &ObjectMap,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    map.iter()
        .map(|(name, value)| {
            let value = text(&format!("{field}.{name}"), value)?;
            Ok((name.to_string(), serde_json::Value::String(value)))
        })
        .collect()
}

fn text(field: &str, value: &Value) -> Result<String, String> {
    match value.as_str() {
        Some(s) => Ok(s.to_owned()),
        None if matches!(value, Value::Bytes(_)) => Err(format!("{field} is not UTF-8")),
        None => Err(format!("{field} is {}, not a string", value.kind_name())),
    }
}

/// `startsAt` or `endsAt`: an RFC 3339 string, sent as it is, or a
/// timestamp, sent in RFC 3339.
fn time(field: &str, value: &Value) -> Result<String, String> {
    if let Value::Timestamp(nanos) = value {
        let at = chrono::DateTime::from_timestamp_nanos(*nanos);
        return Ok(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    let text = text(field, value)?;
    match chrono::DateTime::parse_from_rfc3339(&text) {
        Ok(_) => Ok(text),
        Err(e) => Err(format!("{field} {text:?} is not an RFC 3339 time: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use axum::extract::State;
    use axum::response::IntoResponse;
    use http::StatusCode;
    use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
    use logbridge_component::{ShutdownSignal, channel};
    use logbridge_event::{BatchNotifier, EventBatch, Finalizers, LogRecord};
    use serde_json::json;

    use super::*;

    fn config(options: serde_json::Value) -> Result<Box<dyn Sink>, BuildError> {
        let config: AlertmanagerSinkConfig = serde_json::from_value(options).unwrap();
        config.build(&BuildContext::detached(
            "am",
            ComponentKind::Sink,
            PathBuf::new(),
        ))
    }

    #[test]
    fn options_are_checked() {
        assert!(config(json!({"endpoints": ["http://127.0.0.1:9093"]})).is_ok());
        let option = |v| config(v).err().and_then(|e| e.option);
        assert_eq!(
            option(json!({"endpoints": []})).as_deref(),
            Some("endpoints")
        );
        assert_eq!(
            option(json!({"endpoints": ["http://a:9093", "not a url"]})).as_deref(),
            Some("endpoints[1]")
        );
        assert_eq!(
            option(json!({"endpoints": ["ftp://a"]})).as_deref(),
            Some("endpoints[0]")
        );
        assert_eq!(
            option(json!({"endpoints": ["http://a"], "max_alerts_per_request": 0})).as_deref(),
            Some("max_alerts_per_request")
        );
        assert_eq!(
            option(json!({"endpoints": ["http://a"], "request_timeout_secs": 0})).as_deref(),
            Some("request_timeout_secs")
        );
        assert!(
            serde_json::from_value::<AlertmanagerSinkConfig>(
                json!({"endpoints": ["http://a"], "endpoint": "http://b"})
            )
            .is_err()
        );
        assert!(
            config(json!({"endpoints": ["https://a/prefix"],
                "auth": {"strategy": "basic", "user": "u", "password": "p"},
                "headers": {"X-Scope-OrgID": "team"}}))
            .is_ok()
        );
    }

    #[test]
    fn endpoints_keep_their_path_prefix() {
        for (base, url) in [
            ("http://h:9093", "http://h:9093/api/v2/alerts"),
            ("http://h:9093/", "http://h:9093/api/v2/alerts"),
            ("https://h/am/", "https://h/am/api/v2/alerts"),
            ("http://u:p@h/am", "http://u:p@h/am/api/v2/alerts"),
        ] {
            let endpoint = Endpoint::new(base.parse().unwrap());
            assert_eq!(endpoint.url.as_str(), url);
            assert!(!endpoint.name.contains("u:p"), "{}", endpoint.name);
        }
    }

    /// A log whose body is `body` (JSON).
    fn log(body: serde_json::Value) -> Event {
        Event::Log(LogRecord {
            body: serde_json::from_value(body).unwrap(),
            ..LogRecord::default()
        })
    }

    /// An alert as the rules engine makes it.
    fn alert(name: &str) -> serde_json::Value {
        json!({
            "labels": {"alertname": name, "severity": "page"},
            "annotations": {"summary": "it broke"},
            "state": "firing",
            "value": 3.5,
            "activeAt": "2026-11-22T19:59:00Z",
            "startsAt": "2026-11-22T20:00:00.123Z",
            "endsAt": "2026-11-22T20:04:00Z",
            "generatorURL": "http://logbridge/rules",
        })
    }

    #[test]
    fn what_is_not_an_alert_is_named() {
        let check = |body: serde_json::Value, reason: &str| {
            let error = alert_json(&log(body.clone())).unwrap_err();
            assert!(error.contains(reason), "{body}: {error}");
        };
        check(json!("a line"), "the body is string");
        check(json!({"annotations": {}}), "no labels");
        check(json!({"labels": "x"}), "labels is string");
        check(json!({"labels": {"severity": "page"}}), "no alertname");
        check(json!({"labels": {"alertname": ""}}), "no alertname");
        check(
            json!({"labels": {"alertname": 1}}),
            "labels.alertname is integer",
        );
        check(
            json!({"labels": {"alertname": "A", "n": 2}}),
            "labels.n is integer",
        );
        check(
            json!({"labels": {"alertname": "A"}, "annotations": {"s": true}}),
            "annotations.s is boolean",
        );
        check(
            json!({"labels": {"alertname": "A"}, "startsAt": "yesterday"}),
            "startsAt \"yesterday\" is not an RFC 3339 time",
        );
        check(
            json!({"labels": {"alertname": "A"}, "endsAt": 5}),
            "endsAt is integer",
        );
        check(
            json!({"labels": {"alertname": "A"}, "generatorURL": []}),
            "generatorURL is array",
        );
        // Null fields are absent; timestamps are written in RFC 3339.
        let mut body = ObjectMap::new();
        body.insert("labels".into(), json_value(json!({"alertname": "A"})));
        body.insert("annotations".into(), Value::Null);
        body.insert(
            "startsAt".into(),
            Value::Timestamp(1_500_000_000_123_000_000),
        );
        let event = Event::Log(LogRecord {
            body: Value::Object(body),
            ..LogRecord::default()
        });
        let sent: serde_json::Value = serde_json::from_str(&alert_json(&event).unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({"labels": {"alertname": "A"}, "startsAt": "2017-07-14T02:40:00.123Z"})
        );
    }

    fn json_value(v: serde_json::Value) -> Value {
        serde_json::from_value(v).unwrap()
    }

    /// An Alertmanager stand-in answering each request with the next
    /// status of its script (then 200), recording the requests.
    #[derive(Clone, Default)]
    struct Capture {
        answers: Arc<Mutex<Vec<u16>>>,
        /// `Retry-After` on answers other than 200.
        retry_after: Option<&'static str>,
        /// How long it takes to answer.
        delay: Duration,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    #[derive(Debug, Clone)]
    struct Seen {
        path: String,
        content_type: String,
        body: serde_json::Value,
    }

    impl Capture {
        fn answering(answers: &[u16]) -> Capture {
            let capture = Capture::default();
            capture.answers.lock().unwrap().extend(answers);
            capture
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }

        /// Serves on 127.0.0.1 and returns the base URL.
        async fn serve(&self) -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = axum::Router::new()
                .fallback(answer)
                .with_state(self.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            format!("http://{addr}")
        }
    }

    async fn answer(
        State(capture): State<Capture>,
        uri: http::Uri,
        headers: HeaderMap,
        body: bytes::Bytes,
    ) -> axum::response::Response {
        capture.seen.lock().unwrap().push(Seen {
            path: uri.path().to_owned(),
            content_type: headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body: serde_json::from_slice(&body).unwrap_or_default(),
        });
        let next = {
            let mut answers = capture.answers.lock().unwrap();
            (!answers.is_empty()).then(|| answers.remove(0))
        };
        tokio::time::sleep(capture.delay).await;
        let status = StatusCode::from_u16(next.unwrap_or(200)).unwrap();
        let mut response = status.into_response();
        if let (false, Some(after)) = (status == StatusCode::OK, capture.retry_after) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(after));
        }
        response
    }

    /// A base URL nothing listens on.
    async fn closed_port() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}")
    }

    /// Runs the sink on one batch of `events`; the batch's status and the
    /// sink's counters.
    async fn run(
        options: serde_json::Value,
        events: Vec<Event>,
    ) -> (BatchStatus, Arc<ComponentMetrics>) {
        let sink = config(options).unwrap();
        let (tx, rx) = channel::bounded(16, 1 << 20);
        let (status_tx, status_rx) = tokio::sync::oneshot::channel();
        let notifier = BatchNotifier::new(move |s| {
            let _ = status_tx.send(s);
        });
        let batch = EventBatch::new(events).with_finalizers(Finalizers::new(notifier));
        tx.send(batch).await.unwrap();
        drop(tx);
        let metrics = Arc::new(ComponentMetrics::new(
            "am",
            ComponentKind::Sink,
            "alertmanager",
        ));
        let cx = SinkContext::new(
            "am".into(),
            metrics.clone(),
            PathBuf::new(),
            ShutdownSignal::new(),
            rx,
        );
        sink.run(cx).await.unwrap();
        (status_rx.await.unwrap(), metrics)
    }

    fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
        counter.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[tokio::test]
    async fn posts_alerts_as_api_v2_json() {
        let am = Capture::default();
        let base = am.serve().await;
        let bare = json!({"labels": {"alertname": "Bare"}, "state": "pending"});
        let (status, metrics) = run(
            json!({"endpoints": [format!("{base}/prefix/")]}),
            vec![log(alert("HighLatency")), log(bare)],
        )
        .await;
        assert_eq!(status, BatchStatus::Delivered);
        let seen = am.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].path, "/prefix/api/v2/alerts");
        assert_eq!(seen[0].content_type, "application/json");
        assert_eq!(
            seen[0].body,
            json!([
                {
                    "labels": {"alertname": "HighLatency", "severity": "page"},
                    "annotations": {"summary": "it broke"},
                    "startsAt": "2026-11-22T20:00:00.123Z",
                    "endsAt": "2026-11-22T20:04:00Z",
                    "generatorURL": "http://logbridge/rules",
                },
                {"labels": {"alertname": "Bare"}},
            ])
        );
        assert_eq!(count(&metrics.sent_events), 2);
        assert!(count(&metrics.sent_bytes) > 0);
        assert_eq!(count(&metrics.errors), 0);
    }

    #[tokio::test]
    async fn requests_hold_max_alerts_per_request() {
        let am = Capture::default();
        let base = am.serve().await;
        let events = ["A", "B", "C"].map(|name| log(alert(name))).to_vec();
        let (status, _) = run(
            json!({"endpoints": [base], "max_alerts_per_request": 2}),
            events,
        )
        .await;
        assert_eq!(status, BatchStatus::Delivered);
        let sizes: Vec<_> = am
            .seen()
            .iter()
            .map(|s| s.body.as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, [2, 1]);
    }

    #[tokio::test]
    async fn a_500_is_retried_then_delivered() {
        let am = Capture::answering(&[500]);
        let base = am.serve().await;
        let (status, metrics) = run(json!({"endpoints": [base]}), vec![log(alert("A"))]).await;
        assert_eq!(status, BatchStatus::Delivered);
        let seen = am.seen();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].body, seen[1].body);
        assert_eq!(count(&metrics.sent_events), 1);
        assert_eq!(count(&metrics.errors), 1);
        assert_eq!(metrics.problem(), None);
    }

    #[tokio::test]
    async fn retry_after_is_honoured() {
        let am = Capture {
            retry_after: Some("1"),
            ..Capture::answering(&[503])
        };
        let base = am.serve().await;
        let start = std::time::Instant::now();
        let (status, _) = run(json!({"endpoints": [base]}), vec![log(alert("A"))]).await;
        assert_eq!(status, BatchStatus::Delivered);
        assert_eq!(am.seen().len(), 2);
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn retries_end_at_retry_attempts() {
        let am = Capture::answering(&[503, 429, 500, 500]);
        let base = am.serve().await;
        let (status, metrics) = run(
            json!({"endpoints": [base], "retry_attempts": 2}),
            vec![log(alert("A"))],
        )
        .await;
        assert_eq!(status, BatchStatus::Rejected);
        assert_eq!(am.seen().len(), 3);
        assert_eq!(count(&metrics.sent_events), 0);
        assert_eq!(count(&metrics.discarded_unintentional), 1);
        assert_eq!(count(&metrics.errors), 3);
    }

    #[tokio::test]
    async fn a_400_is_not_retried() {
        let am = Capture::answering(&[400]);
        let base = am.serve().await;
        let (status, metrics) = run(json!({"endpoints": [base]}), vec![log(alert("A"))]).await;
        assert_eq!(status, BatchStatus::Rejected);
        assert_eq!(am.seen().len(), 1);
        assert_eq!(count(&metrics.sent_events), 0);
        assert_eq!(count(&metrics.discarded_unintentional), 1);
        assert_eq!(count(&metrics.errors), 1);
    }

    #[tokio::test]
    async fn one_endpoint_taking_the_alerts_is_enough() {
        let am = Capture::default();
        let up = am.serve().await;
        let down = closed_port().await;
        let (status, metrics) = run(
            json!({"endpoints": [down, up], "retry_attempts": 2}),
            vec![log(alert("A"))],
        )
        .await;
        assert_eq!(status, BatchStatus::Delivered);
        assert_eq!(am.seen().len(), 1);
        assert_eq!(count(&metrics.sent_events), 1);
        assert!(count(&metrics.errors) >= 1);
    }

    #[tokio::test]
    async fn every_endpoint_gets_every_request() {
        let a = Capture {
            delay: Duration::from_millis(200),
            ..Capture::default()
        };
        let b = Capture {
            retry_after: Some("30"),
            ..Capture::answering(&[503])
        };
        let endpoints = [a.serve().await, b.serve().await];
        let start = std::time::Instant::now();
        let (status, _) = run(json!({"endpoints": endpoints}), vec![log(alert("A"))]).await;
        assert_eq!(status, BatchStatus::Delivered);
        assert_eq!(a.seen().len(), 1);
        assert_eq!(b.seen().len(), 1);
        assert_eq!(a.seen()[0].body, b.seen()[0].body);
        // b's wait before its retry ended when a took the alerts.
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_log_that_is_not_an_alert_is_discarded_and_the_rest_sent() {
        let am = Capture::default();
        let base = am.serve().await;
        let no_alertname = json!({"labels": {"severity": "page"}});
        let (status, metrics) = run(
            json!({"endpoints": [base]}),
            vec![log(no_alertname), log(alert("A"))],
        )
        .await;
        // The batch cannot be delivered whole.
        assert_eq!(status, BatchStatus::Rejected);
        let seen = am.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].body[0]["labels"]["alertname"], "A");
        assert_eq!(seen[0].body.as_array().map(Vec::len), Some(1));
        assert_eq!(count(&metrics.sent_events), 1);
        assert_eq!(count(&metrics.discarded_unintentional), 1);
        assert_eq!(count(&metrics.errors), 1);
    }
}
