//! Conformance with the OpenTelemetry Python SDK: its OTLP exporters (gRPC
//! and HTTP/protobuf) send traces, metrics and logs to logbridge A, which
//! forwards them with its `otlp` sink to logbridge B, which sends them on
//! to a capture server. Every request that arrives there must equal, field
//! for field, the request the SDK's exporter sent (the client script saves
//! those with the SDK's own encoders). Needs `TEST_PYTHON`: an interpreter
//! with `opentelemetry-sdk` and the OTLP exporters (the test command
//! installs them).

mod support;

use support::{Proc, wait_port};

use std::path::Path;
use std::process::Command;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use support::capture::Capture;
use support::{Env, free_port};

fn python() -> String {
    std::env::var("TEST_PYTHON").unwrap_or_else(|_| {
        panic!("TEST_PYTHON is not set: it must name a python with the OpenTelemetry SDK (scripts/test installs it)")
    })
}

/// Attributes are maps in OTLP (keys unique, order not significant), and
/// logbridge keeps them sorted by key: compare them sorted.
fn sort_kvs(kvs: &mut [KeyValue]) {
    kvs.sort_by(|a, b| a.key.cmp(&b.key));
    for kv in kvs {
        if let Some(v) = &mut kv.value {
            sort_any(v);
        }
    }
}

fn sort_any(v: &mut AnyValue) {
    match &mut v.value {
        Some(any_value::Value::KvlistValue(list)) => sort_kvs(&mut list.values),
        Some(any_value::Value::ArrayValue(array)) => array.values.iter_mut().for_each(sort_any),
        _ => {}
    }
}

fn normalize_traces(mut r: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    for rs in &mut r.resource_spans {
        if let Some(res) = &mut rs.resource {
            sort_kvs(&mut res.attributes);
        }
        for ss in &mut rs.scope_spans {
            if let Some(scope) = &mut ss.scope {
                sort_kvs(&mut scope.attributes);
            }
            for span in &mut ss.spans {
                sort_kvs(&mut span.attributes);
                span.events
                    .iter_mut()
                    .for_each(|e| sort_kvs(&mut e.attributes));
                span.links
                    .iter_mut()
                    .for_each(|l| sort_kvs(&mut l.attributes));
            }
        }
    }
    r
}

fn normalize_logs(mut r: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
    for rl in &mut r.resource_logs {
        if let Some(res) = &mut rl.resource {
            sort_kvs(&mut res.attributes);
        }
        for sl in &mut rl.scope_logs {
            if let Some(scope) = &mut sl.scope {
                sort_kvs(&mut scope.attributes);
            }
            for log in &mut sl.log_records {
                sort_kvs(&mut log.attributes);
                if let Some(body) = &mut log.body {
                    sort_any(body);
                }
            }
        }
    }
    r
}

fn normalize_metrics(mut r: ExportMetricsServiceRequest) -> ExportMetricsServiceRequest {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    for rm in &mut r.resource_metrics {
        if let Some(res) = &mut rm.resource {
            sort_kvs(&mut res.attributes);
        }
        for sm in &mut rm.scope_metrics {
            if let Some(scope) = &mut sm.scope {
                sort_kvs(&mut scope.attributes);
            }
            for m in &mut sm.metrics {
                match &mut m.data {
                    Some(Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| {
                        sort_kvs(&mut p.attributes);
                        p.exemplars
                            .iter_mut()
                            .for_each(|e| sort_kvs(&mut e.filtered_attributes));
                    }),
                    Some(Data::Gauge(g)) => g.data_points.iter_mut().for_each(|p| {
                        sort_kvs(&mut p.attributes);
                        p.exemplars
                            .iter_mut()
                            .for_each(|e| sort_kvs(&mut e.filtered_attributes));
                    }),
                    Some(Data::Histogram(h)) => h.data_points.iter_mut().for_each(|p| {
                        sort_kvs(&mut p.attributes);
                        p.exemplars
                            .iter_mut()
                            .for_each(|e| sort_kvs(&mut e.filtered_attributes));
                    }),
                    _ => {}
                }
            }
        }
    }
    r
}

fn run(protocol: &str) {
    let capture = Capture::start();
    let env = Env::new();
    let (a_grpc, a_http, b_grpc, b_http) = (free_port(), free_port(), free_port(), free_port());
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
compression = "none"
endpoint = "http://127.0.0.1:{port}"
batch.timeout_secs = 0.02
"#,
            port = capture.port
        ),
    );
    // A forwards over the other protocol, so both client paths are used.
    let forward = if protocol == "grpc" {
        format!("protocol = \"http\"\nendpoint = \"http://127.0.0.1:{b_http}\"")
    } else {
        format!("protocol = \"grpc\"\nendpoint = \"http://127.0.0.1:{b_grpc}\"")
    };
    let a = env.write(
        "a.toml",
        &format!(
            r#"
data_dir = "{{dir}}/a"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{a_grpc}"
http.address = "127.0.0.1:{a_http}"
[sinks.out]
type = "otlp"
inputs = ["in.logs", "in.metrics", "in.traces"]
{forward}
batch.timeout_secs = 0.02
"#
        ),
    );
    let _b = Proc(env.spawn(&b, &["--no-admin"]));
    let _a = Proc(env.spawn(&a, &["--no-admin"]));
    for port in [b_grpc, b_http, a_grpc, a_http] {
        wait_port(port);
    }
    let dump = env.path("dump");
    std::fs::create_dir_all(&dump).unwrap();
    let endpoint = if protocol == "grpc" {
        format!("http://127.0.0.1:{a_grpc}")
    } else {
        format!("http://127.0.0.1:{a_http}")
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/otel_export.py");
    let out = Command::new(python())
        .arg(&script)
        .args([protocol, &endpoint])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the SDK client failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "{protocol}: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );

    let mut sent: Vec<_> = std::fs::read_dir(&dump)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // `<kind>-<sequence>.pb`: in the order the SDK sent them.
    let sequence = |p: &std::path::PathBuf| {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        name.rsplit('-').next().unwrap().parse::<u32>().unwrap()
    };
    sent.sort_by_key(sequence);
    let got = capture.take();
    assert_eq!(got.len(), sent.len(), "one request out per request in");
    let (mut traces, mut metrics, mut logs) = (0, 0, 0);
    for (path, received) in sent.iter().zip(&got) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let kind = name.split('-').next().unwrap();
        assert_eq!(received.path, format!("/v1/{kind}"), "{name}");
        match kind {
            "traces" => {
                traces += 1;
                let a = normalize_traces(ExportTraceServiceRequest::decode(&bytes[..]).unwrap());
                let b = normalize_traces(
                    ExportTraceServiceRequest::decode(received.body.clone()).unwrap(),
                );
                assert_eq!(b, a, "{name} changed on the way");
            }
            "metrics" => {
                metrics += 1;
                let a = normalize_metrics(ExportMetricsServiceRequest::decode(&bytes[..]).unwrap());
                let b = normalize_metrics(
                    ExportMetricsServiceRequest::decode(received.body.clone()).unwrap(),
                );
                assert_eq!(b, a, "{name} changed on the way");
            }
            "logs" => {
                logs += 1;
                let a = normalize_logs(ExportLogsServiceRequest::decode(&bytes[..]).unwrap());
                let b = normalize_logs(
                    ExportLogsServiceRequest::decode(received.body.clone()).unwrap(),
                );
                assert_eq!(b, a, "{name} changed on the way");
            }
            other => panic!("unexpected dump {other}"),
        }
    }
    assert!(
        traces >= 2 && metrics >= 1 && logs >= 2,
        "{traces} {metrics} {logs}"
    );
    println!(
        "{protocol}: {traces} trace, {metrics} metric and {logs} log requests equal after two hops"
    );
}

#[test]
fn sdk_over_grpc_comes_out_unchanged() {
    run("grpc");
}

#[test]
fn sdk_over_http_comes_out_unchanged() {
    run("http");
}
