//! End-to-end tests of the Prometheus components with the real binary and
//! a real Prometheus (`PROMETHEUS`, started on a free loopback port):
//! Prometheus scrapes the `prometheus_exporter` sink; Prometheus remote-
//! writes into the `prometheus_remote_write` source; the
//! `prometheus_remote_write` sink writes into Prometheus; the
//! `prometheus_scrape` source scrapes Prometheus itself and the
//! OpenMetrics peer cases. Values are read back through Prometheus' HTTP
//! API, polled rather than slept for.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::servers::{Logbridge, Server, prometheus, wait_long};
use support::{Env, free_port, read_lines};

const OPENMETRICS_CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/peer/openmetrics"
);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts logbridge on `config` (written into `env`) and waits until its
/// admin server and `port` listen.
fn start_logbridge(env: &Env, config: &str, port: u16) -> Logbridge {
    let config = env.write("logbridge.toml", config);
    let lb = Logbridge::spawn(&config, &env.path("data"), &env.path("logbridge.log"));
    let up = wait_long(Duration::from_secs(30), "logbridge to listen", || {
        [lb.admin, port]
            .iter()
            .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
    });
    assert!(
        up,
        "logbridge did not listen on {port}:\n{}",
        lb.log_tail(30)
    );
    lb
}

/// Polls until `name` has one series per bucket (`expected` of them) and
/// returns (le, value) pairs, bounds compared as numbers (`1` and `1.0`
/// are one bound).
fn buckets(
    rt: &tokio::runtime::Runtime,
    prom: &Server,
    name: &str,
    expected: usize,
) -> Vec<(f64, f64)> {
    let mut got = Vec::new();
    let found = wait_long(Duration::from_secs(60), name, || {
        got = query(rt, prom, name)
            .into_iter()
            .filter_map(|(labels, v)| {
                let le = labels.get("le")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, v))
            })
            .collect();
        got.len() == expected
    });
    assert!(found, "{name}: {got:?}");
    got.sort_by(|a, b| a.0.total_cmp(&b.0));
    got
}

/// GET `url` as JSON.
async fn get_json(url: &str) -> Option<Value> {
    let response = reqwest::get(url).await.ok()?;
    serde_json::from_slice(&response.bytes().await.ok()?).ok()
}

/// An instant query: each result's labels and value.
fn query(
    rt: &tokio::runtime::Runtime,
    prom: &Server,
    promql: &str,
) -> Vec<(BTreeMap<String, String>, f64)> {
    let url = reqwest::Url::parse_with_params(
        &format!("http://{}/api/v1/query", prom.address()),
        &[("query", promql)],
    )
    .unwrap();
    let Some(v) = rt.block_on(get_json(url.as_str())) else {
        return Vec::new();
    };
    v["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let value = r["value"][1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            (labels, value)
        })
        .collect()
}

/// Polls `promql` until it returns exactly one series, then returns it.
fn one_series(
    rt: &tokio::runtime::Runtime,
    prom: &Server,
    promql: &str,
) -> (BTreeMap<String, String>, f64) {
    let mut last = Vec::new();
    let found = wait_long(Duration::from_secs(60), promql, || {
        last = query(rt, prom, promql);
        last.len() == 1
    });
    assert!(found, "{promql}: {last:?}");
    last.remove(0)
}

/// POSTs an OTLP/JSON metrics request; the status code.
async fn post_otlp(port: u16, body: &Value) -> u16 {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/metrics"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// An OTLP/JSON metrics request holding `metrics`.
fn otlp_request(metrics: Vec<Value>) -> Value {
    json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "e2e"}}]},
        "scopeMetrics": [{"scope": {"name": "e2e"}, "metrics": metrics}]
    }]})
}

fn attr(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

/// The metric events a `file` sink wrote as JSON lines.
fn metric_lines(dir: &Path) -> Vec<Value> {
    read_lines(dir)
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn label<'a>(m: &'a Value, name: &str) -> Option<&'a str> {
    m["labels"][name].as_str()
}

/// A Prometheus scrape config for one job of static targets, every second.
fn scrape_job(job: &str, targets: &[String]) -> String {
    format!(
        "  - job_name: {job}\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: [{}]\n",
        targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Prometheus scrapes the exporter fed over OTLP: counter, gauge, the
/// histogram's buckets, sum and count, and a delta counter summed up.
#[test]
fn prometheus_scrapes_the_exporter() {
    let env = Env::new();
    let (otlp, grpc, exporter) = (free_port(), free_port(), free_port());
    let lb = start_logbridge(
        &env,
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{otlp}"
[sinks.exporter]
type = "prometheus_exporter"
inputs = ["in.metrics"]
address = "127.0.0.1:{exporter}"
"#
        ),
        otlp,
    );
    let rt = runtime();
    let t = now_ns().to_string();
    let request = otlp_request(vec![
        json!({"name": "lb_requests_total", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [{"asInt": "42", "timeUnixNano": t, "attributes": [attr("route", "/a")]}]}}),
        json!({"name": "lb_temperature", "gauge": {
            "dataPoints": [{"asDouble": 21.5, "timeUnixNano": t}]}}),
        json!({"name": "lb_latency_seconds", "histogram": {"aggregationTemporality": 2,
            "dataPoints": [{"count": "6", "sum": 3.7, "bucketCounts": ["2", "3", "1"],
                "explicitBounds": [0.1, 1.0], "timeUnixNano": t}]}}),
    ]);
    assert_eq!(rt.block_on(post_otlp(otlp, &request)), 200);
    for n in ["5", "7"] {
        let delta = otlp_request(vec![json!({"name": "lb_events_total", "sum": {
            "aggregationTemporality": 1, "isMonotonic": true,
            "dataPoints": [{"asInt": n, "timeUnixNano": now_ns().to_string()}]}})]);
        assert_eq!(rt.block_on(post_otlp(otlp, &delta)), 200);
    }

    let prom = prometheus(&format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n{}",
        scrape_job("lb", &[format!("127.0.0.1:{exporter}")])
    ));
    let (labels, value) = one_series(&rt, &prom, "lb_requests_total");
    println!("lb_requests_total: {labels:?} {value}");
    assert_eq!(value, 42.0);
    assert_eq!(labels["route"], "/a");
    assert_eq!(labels["job"], "lb");
    assert_eq!(labels["instance"], format!("127.0.0.1:{exporter}"));
    assert_eq!(one_series(&rt, &prom, "lb_temperature").1, 21.5);
    assert_eq!(one_series(&rt, &prom, "lb_events_total").1, 12.0);
    let got = buckets(&rt, &prom, "lb_latency_seconds_bucket", 3);
    println!("lb_latency_seconds_bucket (le, value): {got:?}");
    assert_eq!(got, [(0.1, 2.0), (1.0, 5.0), (f64::INFINITY, 6.0)]);
    assert_eq!(one_series(&rt, &prom, "lb_latency_seconds_sum").1, 3.7);
    assert_eq!(one_series(&rt, &prom, "lb_latency_seconds_count").1, 6.0);
    let (_, up) = one_series(&rt, &prom, "up{job=\"lb\"}");
    assert_eq!(up, 1.0);
    drop(lb);
}

/// Prometheus remote-writes its own metrics into the source; the file
/// sink gets them with their labels.
#[test]
fn prometheus_remote_writes_into_the_source() {
    let env = Env::new();
    let port = free_port();
    let lb = start_logbridge(
        &env,
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.rw]
type = "prometheus_remote_write"
address = "127.0.0.1:{port}"
[sinks.out]
type = "file"
inputs = ["rw"]
path = "{{dir}}/out/metrics.log"
encoding.codec = "json"
"#
        ),
        port,
    );
    let prom = prometheus(&format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n{}remote_write:\n  - url: http://127.0.0.1:{port}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n    metadata_config:\n      send_interval: 1s\n",
        scrape_job("prometheus", &["{self}".to_owned()])
    ));
    let instance = prom.address();
    let out = env.path("out");
    let arrived = |name: &str| {
        metric_lines(&out)
            .into_iter()
            .find(|m| m["name"] == name && label(m, "job") == Some("prometheus"))
    };
    let mut build_info = None;
    let found = wait_long(Duration::from_secs(60), "prometheus_build_info", || {
        build_info = arrived("prometheus_build_info");
        build_info.is_some()
    });
    assert!(found, "nothing arrived:\n{}", lb.log_tail(30));
    let build_info = build_info.unwrap();
    println!("prometheus_build_info: {build_info}");
    assert_eq!(label(&build_info, "instance"), Some(instance.as_str()));
    assert!(label(&build_info, "version").is_some_and(|v| v.starts_with("2.")));
    assert_eq!(build_info["value"], 1.0);
    let mut up = None;
    assert!(wait_long(Duration::from_secs(30), "up", || {
        up = arrived("up");
        up.is_some()
    }));
    let up = up.unwrap();
    println!("up: {up}");
    assert_eq!(label(&up, "instance"), Some(instance.as_str()));
    assert_eq!(up["value"], 1.0);
    // Nothing was refused along the way.
    assert_eq!(
        lb.metric(
            "logbridge_component_errors_total",
            &[("component_id", "rw")]
        ),
        Some(0.0)
    );
    // A body that is not a remote-write request: 400, counted.
    let rt = runtime();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/api/v1/write"))
            .header("content-encoding", "snappy")
            .header("content-type", "application/x-protobuf")
            .body("not a snappy block")
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(status.ok(), Some(400));
    assert_eq!(
        lb.metric(
            "logbridge_component_errors_total",
            &[("component_id", "rw")]
        ),
        Some(1.0)
    );
}

/// GET the exporter's `/metrics` in the 0.0.4 text format.
fn scrape_text(rt: &tokio::runtime::Runtime, port: u16) -> String {
    rt.block_on(async {
        let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .ok()?;
        response.text().await.ok()
    })
    .unwrap_or_default()
}

/// Prometheus sends its metadata in requests of their own: the source
/// remembers it and the series of later requests get their family's type,
/// help and unit, so the exporter writes a counter as a counter (it wrote
/// `# TYPE prometheus_http_requests_total gauge`) with its help text.
#[test]
fn regression_remote_write_metadata_types_the_series() {
    let env = Env::new();
    let (port, exporter) = (free_port(), free_port());
    let lb = start_logbridge(
        &env,
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.rw]
type = "prometheus_remote_write"
address = "127.0.0.1:{port}"
[sinks.out]
type = "file"
inputs = ["rw"]
path = "{{dir}}/out/metrics.log"
encoding.codec = "json"
[sinks.exporter]
type = "prometheus_exporter"
inputs = ["rw"]
address = "127.0.0.1:{exporter}"
"#
        ),
        port,
    );
    let _prom = prometheus(&format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n{}remote_write:\n  - url: http://127.0.0.1:{port}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n    metadata_config:\n      send_interval: 1s\n",
        scrape_job("prometheus", &["{self}".to_owned()])
    ));
    let rt = runtime();
    let mut text = String::new();
    let typed = wait_long(Duration::from_secs(60), "a typed counter", || {
        text = scrape_text(&rt, exporter);
        text.contains("# TYPE prometheus_http_requests_total counter")
    });
    let shown: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("prometheus_http_requests_total"))
        .take(3)
        .collect();
    println!("exporter: {shown:#?}");
    assert!(typed, "{shown:#?}\n{}", lb.log_tail(30));
    assert!(
        text.contains("# HELP prometheus_http_requests_total Counter of HTTP requests."),
        "{shown:#?}"
    );
    // The JSON lines carry the kind and help as well; a histogram's series
    // are counters with the family's help and unit.
    let lines = metric_lines(&env.path("out"));
    let counter = lines
        .iter()
        .rev()
        .find(|m| m["name"] == "prometheus_http_requests_total")
        .expect("prometheus_http_requests_total arrived");
    println!("json: {counter}");
    assert_eq!(counter["kind"], "counter");
    assert_eq!(counter["description"], "Counter of HTTP requests.");
    let bucket = lines
        .iter()
        .rev()
        .find(|m| m["name"] == "prometheus_http_request_duration_seconds_bucket")
        .expect("histogram buckets arrived");
    assert_eq!(bucket["kind"], "counter");
    assert_eq!(
        bucket["description"],
        "Histogram of latencies for HTTP requests."
    );
    let metadata_families = lines
        .iter()
        .filter(|m| m["description"] != Value::Null)
        .count();
    println!(
        "{} of {} points with help text",
        metadata_families,
        lines.len()
    );
}

/// NaN, the infinities and -0 come through remote write and out of the
/// `json` codec as they went in (as Prometheus' JSON API writes them:
/// strings for what JSON numbers cannot hold), where they were `null` and
/// 0: OTLP in, remote write out to logbridge's own receiver, JSON lines.
#[test]
fn regression_remote_write_json_keeps_nan_infinities_and_negative_zero() {
    let env = Env::new();
    let (otlp, grpc, rw) = (free_port(), free_port(), free_port());
    let _lb = start_logbridge(
        &env,
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{otlp}"
[sinks.rw_out]
type = "prometheus_remote_write"
inputs = ["in.metrics"]
endpoint = "http://127.0.0.1:{rw}/api/v1/write"
batch.timeout_secs = 0.1
[sources.rw_in]
type = "prometheus_remote_write"
address = "127.0.0.1:{rw}"
[sinks.out]
type = "file"
inputs = ["rw_in"]
path = "{{dir}}/out/metrics.log"
encoding.codec = "json"
"#
        ),
        rw,
    );
    let rt = runtime();
    let t = now_ns().to_string();
    let gauge = |name: &str, value: Value| json!({"name": name, "gauge": {"dataPoints": [{"asDouble": value, "timeUnixNano": t}]}});
    let request = otlp_request(vec![
        gauge("special_nan", json!("NaN")),
        gauge("special_inf", json!("Infinity")),
        gauge("special_minus_inf", json!("-Infinity")),
        gauge("special_minus_zero", json!(-0.0)),
    ]);
    assert_eq!(rt.block_on(post_otlp(otlp, &request)), 200);
    let out = env.path("out");
    let mut lines = Vec::new();
    assert!(wait_long(Duration::from_secs(30), "4 points", || {
        lines = read_lines(&out);
        lines.len() >= 4
    }));
    let raw = |name: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("\"name\":\"{name}\"")))
            .unwrap_or_else(|| panic!("{name} not in {lines:#?}"))
            .clone()
    };
    for (name, written) in [
        ("special_nan", r#""value":"NaN""#),
        ("special_inf", r#""value":"+Inf""#),
        ("special_minus_inf", r#""value":"-Inf""#),
        ("special_minus_zero", r#""value":-0.0"#),
    ] {
        let line = raw(name);
        println!("{line}");
        assert!(line.contains(written), "{name}: {line}");
    }
    let zero: Value = serde_json::from_str(&raw("special_minus_zero")).unwrap();
    let zero = zero["value"].as_f64().unwrap();
    assert!(zero == 0.0 && zero.is_sign_negative());
}

/// The remote-write sink writes into Prometheus: values and labels come
/// back from a query; a sample Prometheus refuses (too old) is not retried.
#[test]
fn remote_write_sink_writes_into_prometheus() {
    let env = Env::new();
    let prom = prometheus("global:\n  scrape_interval: 15s\n");
    let (otlp, grpc) = (free_port(), free_port());
    let lb = start_logbridge(
        &env,
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{otlp}"
[sinks.rw]
type = "prometheus_remote_write"
inputs = ["in.metrics"]
endpoint = "http://{prom}/api/v1/write"
batch.timeout_secs = 0.1
"#,
            prom = prom.address()
        ),
        otlp,
    );
    let rt = runtime();
    let t = now_ns().to_string();
    let request = otlp_request(vec![
        json!({"name": "rw_requests_total", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [{"asInt": "17", "timeUnixNano": t,
                "attributes": [attr("site", "x"), attr("code", "200")]}]}}),
        // No timestamp: stamped when sent.
        json!({"name": "rw_temperature", "gauge": {
            "dataPoints": [{"asDouble": 3.25, "attributes": [attr("room", "lab")]}]}}),
        json!({"name": "rw_latency_seconds", "histogram": {"aggregationTemporality": 2,
            "dataPoints": [{"count": "4", "sum": 1.5, "bucketCounts": ["1", "3"],
                "explicitBounds": [0.5], "timeUnixNano": t}]}}),
    ]);
    // The OTLP source answers once the sink's request was taken.
    assert_eq!(rt.block_on(post_otlp(otlp, &request)), 200);
    let (labels, value) = one_series(&rt, &prom, "rw_requests_total");
    println!("rw_requests_total: {labels:?} {value}");
    assert_eq!(value, 17.0);
    assert_eq!(labels["site"], "x");
    assert_eq!(labels["code"], "200");
    let (labels, value) = one_series(&rt, &prom, "rw_temperature");
    println!("rw_temperature: {labels:?} {value}");
    assert_eq!((labels["room"].as_str(), value), ("lab", 3.25));
    let got = buckets(&rt, &prom, "rw_latency_seconds_bucket", 2);
    println!("rw_latency_seconds_bucket (le, value): {got:?}");
    assert_eq!(got, [(0.5, 1.0), (f64::INFINITY, 4.0)]);
    assert_eq!(one_series(&rt, &prom, "rw_latency_seconds_sum").1, 1.5);
    assert_eq!(one_series(&rt, &prom, "rw_latency_seconds_count").1, 4.0);

    // Prometheus answers 400 to a sample far out of its time bounds: the
    // batch is rejected at once (no retry), which the OTLP source passes
    // back as its own 400.
    let old = otlp_request(vec![json!({"name": "rw_old", "gauge": {
        "dataPoints": [{"asDouble": 1.0, "timeUnixNano": "946684800000000000"}]}})]);
    let started = std::time::Instant::now();
    assert_eq!(rt.block_on(post_otlp(otlp, &old)), 400);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        lb.metric(
            "logbridge_component_discarded_events_total",
            &[("component_id", "rw")]
        ),
        Some(1.0)
    );
}

/// Serves `body` as OpenMetrics on a loopback port of its own (the port
/// tells targets apart: `instance` is host:port); returns the port.
async fn serve_openmetrics(body: Vec<u8>) -> u16 {
    use axum::Router;
    use axum::http::header;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                [(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                body,
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// The peer cases: (name, should parse, exposition).
fn openmetrics_cases() -> Vec<(String, bool, Vec<u8>)> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(OPENMETRICS_CASES).unwrap() {
        let dir: PathBuf = entry.unwrap().path();
        let spec: Value =
            serde_json::from_slice(&std::fs::read(dir.join("test.json")).unwrap()).unwrap();
        let file = spec["file"].as_str().unwrap_or("metrics");
        cases.push((
            dir.file_name().unwrap().to_string_lossy().into_owned(),
            spec["shouldParse"].as_bool().unwrap(),
            std::fs::read(dir.join(file)).unwrap(),
        ));
    }
    cases.sort();
    cases
}

/// The scrape source scrapes Prometheus' own `/metrics` and every
/// OpenMetrics peer case: `up` follows the suite's verdict; `honor_labels`
/// both ways.
#[test]
fn scrape_source_scrapes_prometheus_and_the_peer_cases() {
    let env = Env::new();
    let prom = prometheus("global:\n  scrape_interval: 15s\n");
    let rt = runtime();
    let cases = openmetrics_cases();
    assert!(cases.len() > 100, "peer cases missing");
    let ports: Vec<u16> = cases
        .iter()
        .map(|(_, _, body)| rt.block_on(serve_openmetrics(body.clone())))
        .collect();
    let labelled = rt.block_on(serve_openmetrics(
        b"# TYPE t gauge\nt{job=\"inner\",instance=\"elsewhere\"} 1\n# EOF\n".to_vec(),
    ));
    let endpoints = |ports: &[u16]| {
        ports
            .iter()
            .map(|p| format!("\"http://127.0.0.1:{p}/metrics\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lb = start_logbridge(
        &env,
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.cases]
type = "prometheus_scrape"
endpoints = [{cases}]
scrape_interval_secs = 2
scrape_timeout_secs = 2
job = "peer"
[sources.prom]
type = "prometheus_scrape"
endpoints = ["http://{prom}/metrics"]
scrape_interval_secs = 1
scrape_timeout_secs = 1
[sources.renamed]
type = "prometheus_scrape"
endpoints = [{labelled}]
scrape_interval_secs = 1
scrape_timeout_secs = 1
job = "outer"
[sources.honored]
type = "prometheus_scrape"
endpoints = [{labelled}]
scrape_interval_secs = 1
scrape_timeout_secs = 1
honor_labels = true
job = "outer"
[sinks.out]
type = "file"
inputs = ["cases", "prom", "renamed", "honored"]
path = "{{dir}}/out/metrics.log"
encoding.codec = "json"
"#,
            cases = endpoints(&ports),
            labelled = endpoints(&[labelled]),
            prom = prom.address(),
        ),
        prom.port,
    );
    let out = env.path("out");
    // `up` per instance, once every target was scraped at least once.
    let mut up: BTreeMap<String, f64> = BTreeMap::new();
    let all = wait_long(Duration::from_secs(60), "a scrape of every target", || {
        up = metric_lines(&out)
            .iter()
            .filter(|m| m["name"] == "up")
            .filter_map(|m| Some((label(m, "instance")?.to_owned(), m["value"].as_f64()?)))
            .collect();
        up.len() >= cases.len() + 2
    });
    assert!(
        all,
        "only {} targets reported:\n{}",
        up.len(),
        lb.log_tail(30)
    );

    let mut wrong = Vec::new();
    for ((name, should_parse, _), port) in cases.iter().zip(&ports) {
        let got = up[&format!("127.0.0.1:{port}")];
        if got != if *should_parse { 1.0 } else { 0.0 } {
            wrong.push(format!("{name}: up {got}, shouldParse {should_parse}"));
        }
    }
    let parsed = cases.iter().filter(|c| c.1).count();
    println!(
        "peer cases: {} scraped, {parsed} up 1 expected, {} up 0 expected, {} wrong",
        cases.len(),
        cases.len() - parsed,
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");

    let lines = metric_lines(&out);
    let prom_instance = prom.address();
    assert_eq!(up[&prom_instance], 1.0);
    // A peer case (openmetrics/roundtrip) carries its own
    // `prometheus_build_info`, so the series is picked by its instance.
    let build_info = lines
        .iter()
        .find(|m| {
            m["name"] == "prometheus_build_info"
                && label(m, "instance") == Some(prom_instance.as_str())
        })
        .expect("prometheus_build_info scraped");
    println!("prometheus_build_info: {build_info}");
    assert_eq!(label(build_info, "job"), Some("prom"));
    assert_eq!(label(build_info, "instance"), Some(prom_instance.as_str()));
    assert!(lines.iter().any(|m| m["name"] == "scrape_samples_scraped"
        && label(m, "instance") == Some(prom_instance.as_str())
        && m["value"].as_f64().is_some_and(|v| v > 100.0)));

    let t: Vec<&Value> = lines.iter().filter(|m| m["name"] == "t").collect();
    let renamed = t
        .iter()
        .find(|m| label(m, "job") == Some("outer"))
        .expect("t with the target's job");
    println!("honor_labels = false: {}", renamed["labels"]);
    assert_eq!(label(renamed, "exported_job"), Some("inner"));
    assert_eq!(label(renamed, "exported_instance"), Some("elsewhere"));
    assert_eq!(
        label(renamed, "instance"),
        Some(format!("127.0.0.1:{labelled}").as_str())
    );
    let honored = t
        .iter()
        .find(|m| label(m, "job") == Some("inner"))
        .expect("t with its own job");
    println!("honor_labels = true: {}", honored["labels"]);
    assert_eq!(label(honored, "instance"), Some("elsewhere"));
    assert_eq!(label(honored, "exported_job"), None);
}
