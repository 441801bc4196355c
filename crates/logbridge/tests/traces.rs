//! Spans from real Jaeger and Zipkin clients: jaeger-client (Thrift compact
//! over UDP, and a Thrift binary batch over HTTP built with its own Thrift
//! types) and py_zipkin (v2 JSON over HTTP) send to the `jaeger` and
//! `zipkin` sources, and what the `otlp` sink sends on (OTLP/JSON, to a
//! capture server) must carry every id, name, kind, time, tag, log and
//! service the clients sent. Needs `TEST_PYTHON` (scripts/test installs the
//! clients).

mod support;

use support::{Proc, wait_port};

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::capture::Capture;
use support::{Env, free_port, wait_for};

fn client(script: &str, args: &[&str]) -> Value {
    let python = std::env::var("TEST_PYTHON").expect("TEST_PYTHON names a python with the clients");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    let out = Command::new(python).arg(path).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// Every span in the captured OTLP/JSON requests, with its resource's
/// attributes.
fn received_spans(capture: &Capture, seen: &mut Vec<(Value, Value)>) {
    for r in capture.take() {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        for rs in body["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for span in ss["spans"].as_array().into_iter().flatten() {
                    seen.push((rs["resource"].clone(), span.clone()));
                }
            }
        }
    }
}

fn attr<'a>(list: &'a Value, key: &str) -> Option<&'a Value> {
    list.as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

fn start(env: &Env, capture: &Capture) -> (Proc, u16, u16, u16) {
    let (udp, http, zipkin) = (free_port(), free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.jaeger]
type = "jaeger"
thrift_compact_udp.address = "127.0.0.1:{udp}"
thrift_http.address = "127.0.0.1:{http}"
[sources.zipkin]
type = "zipkin"
address = "127.0.0.1:{zipkin}"
[sinks.out]
type = "otlp"
inputs = ["jaeger", "zipkin"]
protocol = "http"
encoding = "json"
compression = "none"
endpoint = "http://127.0.0.1:{port}"
batch.timeout_secs = 0.05
"#,
            port = capture.port
        ),
    );
    let p = Proc(env.spawn(&config, &["--no-admin"]));
    for port in [http, zipkin] {
        wait_port(port);
    }
    (p, udp, http, zipkin)
}

#[test]
fn jaeger_client_spans_arrive_whole() {
    let capture = Capture::start();
    let env = Env::new();
    let (_p, udp, http, _) = start(&env, &capture);
    let sent = client("jaeger_emit.py", &[&udp.to_string()]);
    let sent = sent.as_array().unwrap();
    let mut seen = Vec::new();
    assert!(
        wait_for(Duration::from_secs(10), || {
            received_spans(&capture, &mut seen);
            seen.len() >= sent.len()
        }),
        "received {} of {} spans",
        seen.len(),
        sent.len()
    );
    for s in sent {
        let (resource, span) = seen
            .iter()
            .find(|(_, span)| span["spanId"] == s["span_id"])
            .unwrap_or_else(|| panic!("span {} missing", s["span_id"]));
        assert_eq!(span["traceId"], s["trace_id"]);
        assert_eq!(span["name"], s["name"]);
        match s["parent_id"].as_str() {
            Some(p) => assert_eq!(span["parentSpanId"], p),
            None => assert!(span.get("parentSpanId").is_none_or(|p| p == "")),
        }
        let start_ns = s["start_us"].as_i64().unwrap() * 1000;
        assert_eq!(
            span["startTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
            start_ns
        );
        assert_eq!(
            attr(&resource["attributes"], "service.name").unwrap()["stringValue"],
            "inventory"
        );
        assert_eq!(
            attr(&resource["attributes"], "region").unwrap()["stringValue"],
            "eu-1"
        );
        for (key, value) in s["tags"].as_object().unwrap() {
            match key.as_str() {
                "span.kind" => {
                    let kind = if value == "server" { 2 } else { 3 };
                    assert_eq!(span["kind"], kind, "{key}");
                }
                "error" => assert_eq!(span["status"]["code"], 2, "error tag is an error status"),
                _ => {
                    let got =
                        attr(&span["attributes"], key).unwrap_or_else(|| panic!("tag {key} lost"));
                    let got = got
                        .get("stringValue")
                        .or(got.get("boolValue"))
                        .or(got.get("doubleValue"))
                        .cloned()
                        .or_else(|| {
                            got.get("intValue")
                                .map(|v| Value::from(v.as_str().unwrap().parse::<i64>().unwrap()))
                        })
                        .unwrap();
                    assert_eq!(&got, value, "tag {key}");
                }
            }
        }
        let logs = s["logs"].as_array().unwrap();
        let events = span["events"].as_array().cloned().unwrap_or_default();
        assert_eq!(events.len(), logs.len());
        for (log, event) in logs.iter().zip(&events) {
            assert_eq!(event["name"], log["event"]);
            assert_eq!(
                attr(&event["attributes"], "key").unwrap()["stringValue"],
                log["key"]
            );
        }
    }
    println!("jaeger-client over UDP: {} spans arrived whole", sent.len());

    // A Thrift binary batch over HTTP.
    let answer = client(
        "jaeger_emit.py",
        &["http", &format!("http://127.0.0.1:{http}/api/traces")],
    );
    assert_eq!(answer["status"], 202);
    let mut seen = Vec::new();
    assert!(wait_for(Duration::from_secs(10), || {
        received_spans(&capture, &mut seen);
        !seen.is_empty()
    }));
    let (resource, span) = &seen[0];
    assert_eq!(span["traceId"], "00000000000000770000000000001234");
    assert_eq!(span["spanId"], "0000000000000042");
    assert_eq!(span["name"], "charge");
    assert_eq!(span["kind"], 2);
    assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
    assert_eq!(span["endTimeUnixNano"], "1700000000001500000");
    assert_eq!(
        attr(&span["attributes"], "amount").unwrap()["doubleValue"],
        9.99
    );
    assert_eq!(span["events"][0]["name"], "authorized");
    assert_eq!(span["events"][0]["timeUnixNano"], "1700000000000100000");
    assert_eq!(
        attr(&resource["attributes"], "service.name").unwrap()["stringValue"],
        "billing"
    );
    assert_eq!(
        attr(&resource["attributes"], "ip").unwrap()["stringValue"],
        "10.0.0.7"
    );
}

#[test]
fn py_zipkin_spans_arrive_whole() {
    let capture = Capture::start();
    let env = Env::new();
    let (_p, _, _, zipkin) = start(&env, &capture);
    let sent = client(
        "zipkin_emit.py",
        &[&format!("http://127.0.0.1:{zipkin}/api/v2/spans")],
    );
    let sent = sent.as_array().unwrap();
    assert!(sent.len() >= 2);
    let mut seen = Vec::new();
    assert!(wait_for(Duration::from_secs(10), || {
        received_spans(&capture, &mut seen);
        seen.len() >= sent.len()
    }));
    for s in sent {
        let (resource, span) = seen
            .iter()
            .find(|(_, span)| span["spanId"] == s["id"])
            .unwrap_or_else(|| panic!("span {} missing", s["id"]));
        let trace = s["traceId"].as_str().unwrap();
        assert_eq!(span["traceId"], format!("{trace:0>32}"));
        assert_eq!(span["name"], s["name"]);
        if let Some(parent) = s.get("parentId") {
            assert_eq!(span["parentSpanId"], *parent);
        }
        let kind = match s["kind"].as_str().unwrap() {
            "SERVER" => 2,
            "CLIENT" => 3,
            other => panic!("{other}"),
        };
        assert_eq!(span["kind"], kind);
        let start = s["timestamp"].as_i64().unwrap() * 1000;
        let end = start + s["duration"].as_i64().unwrap() * 1000;
        assert_eq!(
            span["startTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
            start
        );
        assert_eq!(
            span["endTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
            end
        );
        assert_eq!(
            attr(&resource["attributes"], "service.name").unwrap()["stringValue"],
            s["localEndpoint"]["serviceName"]
        );
        for (key, value) in s["tags"].as_object().unwrap() {
            assert_eq!(
                attr(&span["attributes"], key).unwrap()["stringValue"],
                *value,
                "tag {key}"
            );
        }
        for (i, a) in s["annotations"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            assert_eq!(span["events"][i]["name"], a["value"]);
            assert_eq!(
                span["events"][i]["timeUnixNano"]
                    .as_str()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap(),
                a["timestamp"].as_i64().unwrap() * 1000
            );
        }
    }
    println!("py_zipkin: {} spans arrived whole", sent.len());
}

/// A `jaeger` source whose HTTP listener cannot bind (its address is
/// taken) fails at once, instead of running on with its UDP listeners and
/// reporting the error only at shutdown; with no source left the process
/// exits 1, naming the component and the cause.
#[test]
fn regression_jaeger_http_bind_failure_fails_the_source() {
    let env = Env::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http = taken.local_addr().unwrap().port();
    let udp = free_port();
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.jaeger]
type = "jaeger"
thrift_compact_udp.address = "127.0.0.1:{udp}"
thrift_http.address = "127.0.0.1:{http}"
[sinks.out]
type = "blackhole"
inputs = ["jaeger"]
"#
        ),
    );
    let mut child = env.spawn(&config, &["--no-admin"]);
    let status = support::wait_exit(&mut child, Duration::from_secs(10))
        .expect("a source that cannot listen ends the pipeline");
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("component_id=jaeger") && stderr.contains("Address already in use"),
        "{stderr}"
    );
    drop(taken);
}
