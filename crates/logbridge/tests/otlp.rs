//! End-to-end tests of the `otlp` source and sink with the real binary:
//! OTLP/JSON examples from the OpenTelemetry specification through two
//! logbridge processes (HTTP in, gRPC between them, HTTP/JSON out) come
//! out field for field; TLS, mutual TLS and credentials on the listeners
//! and the client; backpressure and bad input answered with the protocol's
//! status codes.

mod support;

use support::{Proc, runtime, wait_listening};

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::capture::Capture;
use support::pki::Pki;
use support::{Env, free_port, wait_for};

const PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/peer/otlp-json"
);

/// Equal up to what OTLP/JSON leaves to the encoder: fields holding their
/// default value may be omitted, a number may be written as `5` or `5.0`,
/// hex ids in either case, and attributes (a map: keys are unique) in any
/// order. Attribute lists are sorted by key here; every other list keeps
/// its order.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("traceId" | "spanId" | "parentSpanId", Value::String(s)) => {
                            Value::String(s.to_ascii_lowercase())
                        }
                        _ => normalize(v),
                    };
                    (k.clone(), v)
                })
                .filter(|(_, v)| !is_default(v))
                .collect(),
        ),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalize).collect();
            if items
                .iter()
                .all(|i| i.get("key").is_some() && i.get("value").is_some())
            {
                items.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
            }
            Value::Array(items)
        }
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        other => other.clone(),
    }
}

fn is_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

async fn post(
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    gzip: bool,
) -> (u16, Option<String>, String) {
    let client = reqwest::Client::new();
    let mut request = client.post(url).header("content-type", content_type);
    let body = if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&body).unwrap();
        request = request.header("content-encoding", "gzip");
        e.finish().unwrap()
    } else {
        body
    };
    let response = request.body(body).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
    (status, retry_after, text)
}

#[test]
fn peer_examples_survive_two_processes_field_for_field() {
    let capture = Capture::start();
    let env = Env::new();
    let (a_grpc, a_http, b_grpc, b_http) = (free_port(), free_port(), free_port(), free_port());
    // B: gRPC in, OTLP/HTTP JSON out to the capture server.
    let b = env.write(
        "b.toml",
        &format!(
            r#"
data_dir = "{{dir}}/b"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{b_grpc}"
http.address = "127.0.0.1:{b_http}"
[sinks.out]
type = "otlp"
inputs = ["in.logs", "in.metrics", "in.traces"]
protocol = "http"
encoding = "json"
compression = "none"
endpoint = "http://127.0.0.1:{port}"
batch.timeout_secs = 0.05
"#,
            port = capture.port
        ),
    );
    // A: OTLP/HTTP in (Vector's name for the source), gRPC out to B.
    let a = env.write(
        "a.toml",
        &format!(
            r#"
data_dir = "{{dir}}/a"
[sources.in]
type = "opentelemetry"
grpc.address = "127.0.0.1:{a_grpc}"
http.address = "127.0.0.1:{a_http}"
[sinks.out]
type = "otlp"
inputs = ["in.logs", "in.metrics", "in.traces"]
endpoint = "http://127.0.0.1:{b_grpc}"
batch.timeout_secs = 0.05
"#
        ),
    );
    let mut b = Proc(env.spawn(&b, &["--no-admin"]));
    let mut a = Proc(env.spawn(&a, &["--no-admin"]));
    wait_listening(&mut b, b_grpc);
    wait_listening(&mut a, a_http);
    let rt = runtime();
    for (file, path) in [
        ("logs.json", "/v1/logs"),
        ("events.json", "/v1/logs"),
        ("trace.json", "/v1/traces"),
        ("metrics.json", "/v1/metrics"),
    ] {
        let sent = std::fs::read(Path::new(PEER).join(file)).unwrap();
        let started = Instant::now();
        // The answer comes once B's sink delivered: the capture server
        // already holds the request.
        let (status, _, body) = rt.block_on(post(
            &format!("http://127.0.0.1:{a_http}{path}"),
            "application/json",
            sent.clone(),
            file == "metrics.json",
        ));
        assert_eq!(status, 200, "{file}: {body}");
        let got = capture.take();
        assert_eq!(got.len(), 1, "{file}: one request out");
        assert_eq!(got[0].path, path);
        let sent: Value = serde_json::from_slice(&sent).unwrap();
        let out: Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(
            normalize(&out),
            normalize(&sent),
            "{file} changed on the way"
        );
        println!(
            "{file}: equal after two hops, answered in {:?}",
            started.elapsed()
        );
    }
}

/// A request's records, one per entry, each with its resource and scope
/// (schema URLs included) and, for metrics, one data point: what an
/// `otlp_json` line holds. Normalized as [`normalize`] does.
fn records(request: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for (resources, scopes, items) in [
        ("resourceLogs", "scopeLogs", "logRecords"),
        ("resourceSpans", "scopeSpans", "spans"),
        ("resourceMetrics", "scopeMetrics", "metrics"),
    ] {
        for resource in request[resources].as_array().into_iter().flatten() {
            for scope in resource[scopes].as_array().into_iter().flatten() {
                for item in scope[items].as_array().into_iter().flatten() {
                    for item in data_points(item) {
                        out.push(normalize(&serde_json::json!({
                            "resource": resource["resource"],
                            "resourceSchemaUrl": resource["schemaUrl"],
                            "scope": scope["scope"],
                            "scopeSchemaUrl": scope["schemaUrl"],
                            "item": item,
                        })));
                    }
                }
            }
        }
    }
    out
}

/// A metric as one copy per data point; anything else as it is.
fn data_points(item: &Value) -> Vec<Value> {
    for kind in [
        "gauge",
        "sum",
        "histogram",
        "exponentialHistogram",
        "summary",
    ] {
        if let Some(points) = item[kind]["dataPoints"].as_array() {
            return points
                .iter()
                .map(|point| {
                    let mut one = item.clone();
                    one[kind]["dataPoints"] = Value::Array(vec![point.clone()]);
                    one
                })
                .collect();
        }
    }
    vec![item.clone()]
}

/// The OTLP path of a request line, by its signal.
fn signal_path(request: &Value) -> &'static str {
    if request.get("resourceLogs").is_some() {
        "/v1/logs"
    } else if request.get("resourceSpans").is_some() {
        "/v1/traces"
    } else {
        "/v1/metrics"
    }
}

/// OTLP archived by the `file` sink with the `otlp_json` codec keeps every
/// field (severity, observed time, ids, flags, event names, dropped counts,
/// resource and scope with their schema URLs, every data point): the
/// specification's examples come out record for record, and the archive's
/// lines posted back to logbridge's own OTLP/HTTP receiver are archived
/// again unchanged.
#[test]
fn regression_otlp_json_file_archive_keeps_every_field() {
    let env = Env::new();
    let (grpc, http, again_grpc, again_http) = (free_port(), free_port(), free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{http}"
[sources.again]
type = "otlp"
grpc.address = "127.0.0.1:{again_grpc}"
http.address = "127.0.0.1:{again_http}"
[sinks.archive]
type = "file"
inputs = ["in.logs", "in.metrics", "in.traces"]
path = "{{dir}}/archive/otlp.jsonl"
encoding.codec = "otlp_json"
[sinks.rearchive]
type = "file"
inputs = ["again.logs", "again.metrics", "again.traces"]
path = "{{dir}}/again/otlp.jsonl"
encoding.codec = "otlp_json"
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_listening(&mut p, http);
    wait_listening(&mut p, again_http);
    let rt = runtime();
    let mut sent = Vec::new();
    for (file, path) in [
        ("logs.json", "/v1/logs"),
        ("events.json", "/v1/logs"),
        ("trace.json", "/v1/traces"),
        ("metrics.json", "/v1/metrics"),
    ] {
        let body = std::fs::read(Path::new(PEER).join(file)).unwrap();
        let (status, _, answer) = rt.block_on(post(
            &format!("http://127.0.0.1:{http}{path}"),
            "application/json",
            body.clone(),
            false,
        ));
        // Answered once the file sink wrote the lines.
        assert_eq!(status, 200, "{file}: {answer}");
        sent.extend(records(&serde_json::from_slice(&body).unwrap()));
    }
    let lines = support::read_lines(&env.path("archive"));
    let archived: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    println!(
        "{} records sent, {} lines archived; first: {}",
        sent.len(),
        archived.len(),
        lines[0]
    );
    assert_eq!(archived.len(), sent.len(), "one line per record");
    let got: Vec<Value> = archived.iter().flat_map(records).collect();
    for (i, (got, sent)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(got, sent, "record {i} changed in the archive");
    }
    assert_eq!(got.len(), sent.len());

    // Each line is an OTLP/HTTP JSON request as it is.
    for (line, request) in lines.iter().zip(&archived) {
        let (status, _, answer) = rt.block_on(post(
            &format!("http://127.0.0.1:{again_http}{}", signal_path(request)),
            "application/json",
            line.clone().into_bytes(),
            false,
        ));
        assert_eq!(status, 200, "{answer}: {line}");
    }
    let again = support::read_lines(&env.path("again"));
    assert_eq!(again, lines, "archived again, byte for byte");
}

/// Bad input gets the protocol's answer and the receiver keeps working.
#[test]
fn bad_requests_get_protocol_errors() {
    let env = Env::new();
    let (grpc, http, admin) = (free_port(), free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{http}"
receive.max_request_bytes = 100000
receive.max_decompressed_bytes = 1000000
[sinks.out]
type = "file"
inputs = ["in.logs", "in.metrics", "in.traces"]
path = "{{dir}}/out.json"
encoding.codec = "json"
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{admin}")]));
    wait_listening(&mut p, http);
    let rt = runtime();
    let url = format!("http://127.0.0.1:{http}/v1/logs");
    let proto = "application/x-protobuf";
    // Not protobuf.
    let (status, _, _) = rt.block_on(post(&url, proto, b"\xff\xff\xff\xff".to_vec(), false));
    assert_eq!(status, 400);
    // Truncated: a length prefix promising more than there is.
    let (status, _, _) = rt.block_on(post(&url, proto, vec![0x0a, 0xff, 0x01, 0x0a], false));
    assert_eq!(status, 400);
    // Wrong media type.
    let (status, _, _) = rt.block_on(post(&url, "text/plain", b"hi".to_vec(), false));
    assert_eq!(status, 415);
    // Over the size limit as sent.
    let (status, _, _) = rt.block_on(post(&url, proto, vec![0; 200_000], false));
    assert_eq!(status, 413);
    // A gzip bomb: 50 MB of zeros in ~50 kB, refused at the 1 MB cap.
    let (status, _, _) = rt.block_on(post(&url, proto, vec![0; 50_000_000], true));
    assert_eq!(status, 413);
    // Unknown path.
    let (status, _, _) = rt.block_on(post(
        &format!("http://127.0.0.1:{http}/v1/other"),
        proto,
        vec![],
        false,
    ));
    assert_eq!(status, 404);
    // Still serving.
    let logs = std::fs::read(Path::new(PEER).join("logs.json")).unwrap();
    let (status, _, _) = rt.block_on(post(&url, "application/json", logs, false));
    assert_eq!(status, 200);
    let metrics = support::http_get(admin, "/debug/metrics").unwrap().1;
    let errors = metrics
        .lines()
        .find(|l| {
            l.starts_with("logbridge_component_errors_total") && l.contains("component_id=\"in\"")
        })
        .unwrap_or_default()
        .to_owned();
    // Two undecodable bodies and two too large; the 415 and the 404 never
    // reached a decoder.
    assert!(errors.ends_with(" 4"), "four bad bodies counted: {errors}");
}

/// Requests beyond `max_concurrent_requests` get 429 with Retry-After, and
/// a pipeline that cannot deliver gets 503 with Retry-After: nothing is
/// queued without bound.
#[test]
fn overload_is_answered_with_retry_after() {
    let env = Env::new();
    let (grpc, http, dead) = (free_port(), free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{http}"
receive.max_concurrent_requests = 1
receive.ack_timeout_secs = 2
[sinks.out]
type = "otlp"
inputs = ["in.logs"]
protocol = "http"
endpoint = "http://127.0.0.1:{dead}"
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_listening(&mut p, http);
    let rt = runtime();
    let url = format!("http://127.0.0.1:{http}/v1/logs");
    let logs = std::fs::read(Path::new(PEER).join("logs.json")).unwrap();
    rt.block_on(async {
        let first = tokio::spawn(post_owned(url.clone(), logs.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (status, retry_after, _) = post(&url, "application/json", logs.clone(), false).await;
        assert_eq!(status, 429);
        assert_eq!(retry_after.as_deref(), Some("1"));
        let (status, retry_after, _) = first.await.unwrap();
        assert_eq!(status, 503, "the sink cannot deliver: retry later");
        assert_eq!(retry_after.as_deref(), Some("1"));
    });
}

async fn post_owned(url: String, body: Vec<u8>) -> (u16, Option<String>, String) {
    post(&url, "application/json", body, false).await
}

/// TLS with client certificates and a bearer token on the receiver; the
/// sink presents both and trusts the test CA.
#[test]
fn mutual_tls_and_credentials() {
    let env = Env::new();
    let pki = Pki::new(env.dir.path());
    let (grpc, http, relay_grpc, relay_http) = (free_port(), free_port(), free_port(), free_port());
    let secure = env.write(
        "secure.toml",
        &format!(
            r#"
data_dir = "{{dir}}/secure"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
grpc.tls.crt_file = "{crt}"
grpc.tls.key_file = "{key}"
grpc.tls.ca_file = "{ca}"
http.address = "127.0.0.1:{http}"
http.tls.crt_file = "{crt}"
http.tls.key_file = "{key}"
http.tls.ca_file = "{ca}"
auth.strategy = "bearer"
auth.token = "s3cret"
[sinks.out]
type = "file"
inputs = ["in.logs"]
path = "{{dir}}/out/logs.json"
encoding.codec = "json"
"#,
            crt = pki.server_crt.display(),
            key = pki.server_key.display(),
            ca = pki.ca.display(),
        ),
    );
    let relay = env.write(
        "relay.toml",
        &format!(
            r#"
data_dir = "{{dir}}/relay"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{relay_grpc}"
http.address = "127.0.0.1:{relay_http}"
[sinks.out]
type = "otlp"
inputs = ["in.logs"]
endpoint = "https://127.0.0.1:{grpc}"
headers.authorization = "Bearer s3cret"
tls.ca_file = "{ca}"
tls.crt_file = "{ccrt}"
tls.key_file = "{ckey}"
batch.timeout_secs = 0.05
"#,
            ca = pki.ca.display(),
            ccrt = pki.client_crt.display(),
            ckey = pki.client_key.display(),
        ),
    );
    let mut s = Proc(env.spawn(&secure, &["--no-admin"]));
    let mut r = Proc(env.spawn(&relay, &["--no-admin"]));
    wait_listening(&mut s, http);
    wait_listening(&mut r, relay_http);
    let rt = runtime();
    let logs = std::fs::read(Path::new(PEER).join("logs.json")).unwrap();
    // Through the relay: gRPC over mutual TLS with the token.
    let (status, _, body) = rt.block_on(post(
        &format!("http://127.0.0.1:{relay_http}/v1/logs"),
        "application/json",
        logs.clone(),
        false,
    ));
    assert_eq!(status, 200, "{body}");
    assert!(wait_for(Duration::from_secs(5), || support::read_lines(
        &env.path("out")
    )
    .iter()
    .any(|l| l.contains("Example log record"))));

    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca).unwrap()).unwrap();
    let mut identity_pem = std::fs::read(&pki.client_crt).unwrap();
    identity_pem.extend(std::fs::read(&pki.client_key).unwrap());
    let identity = reqwest::Identity::from_pem(&identity_pem).unwrap();
    let url = format!("https://127.0.0.1:{http}/v1/logs");
    rt.block_on(async {
        // No client certificate: the handshake fails.
        let anonymous = reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .build()
            .unwrap();
        let r = anonymous
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", "Bearer s3cret")
            .body(logs.clone())
            .send()
            .await;
        assert!(r.is_err(), "served without a client certificate");
        let client = reqwest::Client::builder()
            .add_root_certificate(ca)
            .identity(identity)
            .build()
            .unwrap();
        // A certificate but the wrong token.
        let r = client
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", "Bearer wrong")
            .body(logs.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        // Both.
        let r = client
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", "Bearer s3cret")
            .body(logs.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    });
}
