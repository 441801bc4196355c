//! End-to-end: the transforms over traces in the real binary, OTLP/HTTP
//! in. `tail_sample` into an OTLP archive: failed and slow traces are kept
//! whole, the rest dropped, and the counters say so. `span_metrics` and
//! `service_graph` into a Prometheus exporter: calls and durations per
//! series, and the calls between services.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Env, Proc, free_port, wait_for, wait_listening};

/// One span of an OTLP/JSON request.
fn span(trace: u32, id: u32, start_ms: u64, end_ms: u64, error: bool) -> Value {
    let base: u64 = 1_700_000_000_000;
    json!({
        "traceId": format!("{trace:032x}"),
        "spanId": format!("{id:016x}"),
        "name": "GET /",
        "kind": 2,
        "startTimeUnixNano": ((base + start_ms) * 1_000_000).to_string(),
        "endTimeUnixNano": ((base + end_ms) * 1_000_000).to_string(),
        "status": { "code": if error { 2 } else { 0 } },
    })
}

fn request(spans: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "resourceSpans": [{
            "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "shop" } }] },
            "scopeSpans": [{ "scope": {}, "spans": spans }],
        }]
    }))
    .unwrap()
}

/// (trace id, span id) of every span in the archive's lines.
fn archived(env: &Env) -> BTreeMap<String, BTreeSet<String>> {
    let mut traces: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in support::read_lines(&env.path("out")) {
        let request: Value = serde_json::from_str(&line).unwrap();
        for rs in request["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    traces
                        .entry(s["traceId"].as_str().unwrap().to_lowercase())
                        .or_default()
                        .insert(s["spanId"].as_str().unwrap().to_lowercase());
                }
            }
        }
    }
    traces
}

/// Posts an OTLP/JSON traces request; the HTTP status.
fn post(rt: &tokio::runtime::Runtime, http: u16, body: Vec<u8>) -> u16 {
    rt.block_on(
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{http}/v1/traces"))
            .header("content-type", "application/json")
            .body(body)
            .send(),
    )
    .unwrap()
    .status()
    .as_u16()
}

/// Starts OTLP/HTTP in, a transform `t` (its type and options in
/// `transform`, taking `in.traces`) and a Prometheus exporter; the process,
/// the OTLP/HTTP port and the exporter's.
fn into_exporter(env: &Env, transform: &str) -> (Proc, u16, u16) {
    let (http, grpc, prom) = (free_port(), free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"data_dir = "{{dir}}/data"
[sources.in]
type = "otlp"
http.address = "127.0.0.1:{http}"
grpc.address = "127.0.0.1:{grpc}"
receive.acknowledgements = false

[transforms.t]
inputs = ["in.traces"]
metrics_flush_interval_secs = 0.2
{transform}

[sinks.prom]
type = "prometheus_exporter"
inputs = ["t"]
address = "127.0.0.1:{prom}"
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_listening(&mut p, http);
    (p, http, prom)
}

fn scrape(prom: u16) -> String {
    support::http_get(prom, "/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default()
}

#[test]
fn failed_and_slow_traces_are_kept_whole() {
    let env = Env::new();
    let (http, grpc, admin) = (free_port(), free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"data_dir = "{{dir}}/data"
[sources.in]
type = "otlp"
http.address = "127.0.0.1:{http}"
grpc.address = "127.0.0.1:{grpc}"
receive.acknowledgements = false

[transforms.keep]
type = "tail_sample"
inputs = ["in.traces"]
decision_wait_secs = 1.0

[[transforms.keep.policies]]
name = "errors"
type = "status_code"
status_code.status_codes = ["ERROR"]

[[transforms.keep.policies]]
name = "slow"
type = "latency"
latency.threshold_ms = 500

[sinks.out]
type = "file"
inputs = ["keep"]
path = "{{dir}}/out/spans.jsonl"
encoding.codec = "otlp_json"
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{admin}")]));
    wait_listening(&mut p, http);
    // Traces 1 to 30: every third has an error in its second request,
    // every fifth is slow, the rest fine. Each trace comes in two
    // requests, its spans split across them.
    let mut expected = BTreeMap::new();
    let rt = support::runtime();
    for half in 0..2u32 {
        let mut spans = Vec::new();
        for t in 1..=30u32 {
            for i in 0..3u32 {
                let id = t * 10 + half * 3 + i + 1;
                let error = t % 3 == 0 && half == 1 && i == 0;
                let end = if t % 5 == 0 { 800 } else { 20 };
                spans.push(span(t, id, i as u64, end, error));
                if t % 3 == 0 || t % 5 == 0 {
                    expected
                        .entry(format!("{t:032x}"))
                        .or_insert_with(BTreeSet::new)
                        .insert(format!("{id:016x}"));
                }
            }
        }
        assert_eq!(post(&rt, http, request(spans)), 200);
    }
    assert!(
        wait_for(Duration::from_secs(15), || archived(&env).len()
            == expected.len()
            && archived(&env) == expected),
        "kept: {:?}\nexpected: {:?}",
        archived(&env).keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    let sampled = support::metric(
        admin,
        "logbridge_tail_sample_traces_total",
        &[("decision", "sampled")],
    );
    let not_sampled = support::metric(
        admin,
        "logbridge_tail_sample_traces_total",
        &[("decision", "not_sampled")],
    );
    assert_eq!(sampled, Some(expected.len() as f64));
    assert_eq!(not_sampled, Some((30 - expected.len()) as f64));
    let errors_voted = support::metric(
        admin,
        "logbridge_tail_sample_policy_traces_total",
        &[("policy", "errors"), ("decision", "sampled")],
    );
    assert_eq!(errors_voted, Some(10.0));
}

#[test]
fn span_metrics_are_scraped_from_a_prometheus_exporter() {
    let env = Env::new();
    let (_p, http, prom) = into_exporter(
        &env,
        r#"type = "span_metrics"
dimensions = [{ name = "http.route", default = "none" }]"#,
    );
    let mut spans = Vec::new();
    for i in 0..10u32 {
        let mut s = span(1, i + 1, 0, if i < 7 { 20 } else { 300 }, i == 9);
        if i < 4 {
            s["attributes"] = json!([{ "key": "http.route", "value": { "stringValue": "/cart" } }]);
        }
        spans.push(s);
    }
    assert_eq!(post(&support::runtime(), http, request(spans)), 200);
    let value = |text: &str, series: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    let cart = r#"traces_span_metrics_calls{http_route="/cart",service_name="shop",span_kind="SPAN_KIND_SERVER",span_name="GET /",status_code="STATUS_CODE_UNSET"}"#;
    let other = r#"traces_span_metrics_calls{http_route="none",service_name="shop",span_kind="SPAN_KIND_SERVER",span_name="GET /",status_code="STATUS_CODE_UNSET"}"#;
    let failed = r#"traces_span_metrics_calls{http_route="none",service_name="shop",span_kind="SPAN_KIND_SERVER",span_name="GET /",status_code="STATUS_CODE_ERROR"}"#;
    assert!(
        wait_for(Duration::from_secs(10), || value(&scrape(prom), failed)
            == Some(1.0)),
        "{}",
        scrape(prom)
    );
    let text = scrape(prom);
    assert_eq!(value(&text, cart), Some(4.0), "{text}");
    assert_eq!(value(&text, other), Some(5.0), "{text}");
    // Seven spans of 20 ms are under 50 ms; the three of 300 ms are not.
    let bucket = r#"traces_span_metrics_duration_bucket{http_route="none",service_name="shop",span_kind="SPAN_KIND_SERVER",span_name="GET /",status_code="STATUS_CODE_UNSET",le="50.0"}"#;
    assert_eq!(value(&text, bucket), Some(3.0), "{text}");
}

#[test]
fn service_graph_edges_are_scraped_from_a_prometheus_exporter() {
    let env = Env::new();
    let (_p, http, prom) = into_exporter(&env, r#"type = "service_graph""#);
    let side = |service: &str, trace: u32, id: u32, parent: Option<u32>, kind: u32| {
        let mut s = span(trace, id, 0, 40, false);
        s["kind"] = json!(kind);
        if let Some(parent) = parent {
            s["parentSpanId"] = json!(format!("{parent:016x}"));
        }
        json!({
            "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": service } }] },
            "scopeSpans": [{ "scope": {}, "spans": [s] }],
        })
    };
    // Three calls from web (client, kind 3) to cart (server, kind 2).
    let mut resource_spans = Vec::new();
    for t in 1..=3 {
        resource_spans.push(side("web", t, 1, None, 3));
        resource_spans.push(side("cart", t, 2, Some(1), 2));
    }
    let body = serde_json::to_vec(&json!({ "resourceSpans": resource_spans })).unwrap();
    assert_eq!(post(&support::runtime(), http, body), 200);
    let series =
        r#"traces_service_graph_request_total{client="web",failed="false",server="cart"} 3"#;
    assert!(
        wait_for(Duration::from_secs(10), || scrape(prom)
            .lines()
            .any(|l| l == series)),
        "{}",
        scrape(prom)
    );
    let text = scrape(prom);
    assert!(
        text.lines().any(
            |l| l.starts_with("traces_service_graph_request_server_count{") && l.ends_with(" 3")
        ),
        "{text}"
    );
}
