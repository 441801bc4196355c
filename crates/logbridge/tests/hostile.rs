//! End-to-end tests of the receivers against hostile clients, with the
//! real binary: small compressed bodies that would build gigabytes (refused
//! before anything is built, the process' peak memory read from `/proc`),
//! clients that open connections and never finish a request (closed in
//! time, while the other endpoints keep answering), connections beyond a
//! listener's limit, and OTLP/gRPC messages that do not decode or are over
//! a limit, sent with grpcio (the protocol's statuses, counted). The gRPC
//! test needs `TEST_PYTHON`, an interpreter with `grpcio` (the OpenTelemetry
//! exporters bring it).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Env, Proc, free_port, runtime, wait_for, wait_listening, wait_port};

fn varint(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_varint(n as u64, &mut out);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// 16 MiB of `x\n`, gzipped: about 16 KB that inflate to 8 Mi log lines.
fn lines_bomb() -> Vec<u8> {
    gzip(&b"x\n".repeat(8 << 20))
}

/// An OTLP logs request of `n` empty log records, two bytes each:
/// `{resource_logs: [{scope_logs: [{log_records: [{} x n]}]}]}`.
fn empty_records(n: usize) -> Vec<u8> {
    let scope_logs = [0x12, 0x00].repeat(n);
    let mut resource_logs = vec![0x12];
    resource_logs.extend(varint(scope_logs.len()));
    resource_logs.extend(scope_logs);
    let mut request = vec![0x0a];
    request.extend(varint(resource_logs.len()));
    request.extend(resource_logs);
    request
}

/// A process' peak resident memory (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// The sum of a metric's lines for a component (and a reason), from the
/// admin server; 0 when it has none.
fn metric(admin: u16, name: &str, component: &str, reason: Option<&str>) -> u64 {
    let mut labels = vec![("component_id", component)];
    labels.extend(reason.map(|r| ("reason", r)));
    support::metric(admin, name, &labels).unwrap_or(0.0) as u64
}

/// The ports of a process with an `http` source `h` and an `otlp` source
/// `o`.
struct Receivers {
    http: u16,
    grpc: u16,
    otlp: u16,
    admin: u16,
}

/// A config of the `http` source `h` (with `h_options` added) and the
/// `otlp` source `o`, both into a blackhole, with the admin server.
fn receivers(env: &Env, h_options: &str) -> (PathBuf, Receivers) {
    let ports = Receivers {
        http: free_port(),
        grpc: free_port(),
        otlp: free_port(),
        admin: free_port(),
    };
    let Receivers {
        http,
        grpc,
        otlp,
        admin,
    } = ports;
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[admin]
address = "127.0.0.1:{admin}"
[sources.h]
type = "http"
address = "127.0.0.1:{http}"
{h_options}
[sources.o]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{otlp}"
[sinks.out]
type = "blackhole"
inputs = ["h", "o.logs", "o.metrics", "o.traces"]
"#
        ),
    );
    (config, ports)
}

const REFUSED: &str = "logbridge_component_refused_requests_total";
const RECEIVED: &str = "logbridge_component_received_events_total";

async fn post(
    client: reqwest::Client,
    url: String,
    content_type: &'static str,
    body: Vec<u8>,
    gzipped: bool,
) -> u16 {
    let mut request = client.post(url).header("content-type", content_type);
    if gzipped {
        request = request.header("content-encoding", "gzip");
    }
    request.body(body).send().await.unwrap().status().as_u16()
}

/// The issue's bodies: 16 KB of gzip that inflate to 8 Mi lines for the
/// `http` source, 8 KB that inflate to 4.19 million empty OTLP log
/// records; before, one took the process from 94 MB to 3.27 GB and eight
/// of each a 24 GB machine to 23.6 GB. Now each is refused with 413 before
/// its events are built, 32 of each at once are refused (413, or 429 while
/// the memory budget is taken), the process stays under 512 MiB, the
/// refusals are counted, and the receivers keep taking good requests.
#[test]
fn regression_small_compressed_bodies_cannot_take_the_memory() {
    let env = Env::new();
    let (config, ports) = receivers(&env, "");
    let Receivers {
        http, otlp, admin, ..
    } = ports;
    let mut p = Proc(env.spawn(&config, &[]));
    wait_listening(&mut p, http);
    wait_port(otlp);
    wait_port(admin);
    let lines = lines_bomb();
    let records = gzip(&empty_records(4_190_000));
    assert!(lines.len() < 20_000 && records.len() < 10_000);
    let http_url = format!("http://127.0.0.1:{http}/");
    let otlp_url = format!("http://127.0.0.1:{otlp}/v1/logs");
    let protobuf = "application/x-protobuf";
    let client = reqwest::Client::new();
    let rt = runtime();
    rt.block_on(async {
        let one_line = post(
            client.clone(),
            http_url.clone(),
            "text/plain",
            lines.clone(),
            true,
        );
        assert_eq!(one_line.await, 413);
        let one_otlp = post(
            client.clone(),
            otlp_url.clone(),
            protobuf,
            records.clone(),
            true,
        );
        assert_eq!(one_otlp.await, 413);
        let at_once = (0..32).flat_map(|_| {
            [
                post(
                    client.clone(),
                    http_url.clone(),
                    "text/plain",
                    lines.clone(),
                    true,
                ),
                post(
                    client.clone(),
                    otlp_url.clone(),
                    protobuf,
                    records.clone(),
                    true,
                ),
            ]
        });
        let statuses = futures::future::join_all(at_once).await;
        assert!(
            statuses.iter().all(|s| [413, 429].contains(s)),
            "{statuses:?}"
        );
        assert!(statuses.contains(&413), "{statuses:?}");
    });
    let peak = peak_rss(p.0.id());
    assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);
    assert!(metric(admin, REFUSED, "h", Some("too_many_events")) >= 2);
    assert!(metric(admin, REFUSED, "o", Some("too_many_events")) >= 2);
    let refused = metric(admin, REFUSED, "h", None) + metric(admin, REFUSED, "o", None);
    assert_eq!(refused, 66, "every refusal is counted once");
    assert_eq!(metric(admin, RECEIVED, "h", None), 0);
    rt.block_on(async {
        let url = http_url.clone();
        let fine = post(client.clone(), url, "text/plain", gzip(b"a\nb\n"), true);
        assert_eq!(fine.await, 200);
        let body = b"{\"resourceLogs\":[]}".to_vec();
        let fine = post(
            client.clone(),
            otlp_url.clone(),
            "application/json",
            body,
            false,
        );
        assert_eq!(fine.await, 200);
    });
    assert_eq!(metric(admin, RECEIVED, "h", None), 2);
    // Large requests of ordinary data still fit the default budget.
    rt.block_on(async {
        let lines = ndjson_lines(30_000);
        assert!(lines.len() > 10 << 20);
        let ndjson = "application/x-ndjson";
        assert_eq!(
            post(client.clone(), http_url, ndjson, lines, false).await,
            200
        );
        let records = otlp_records(40_000);
        assert!(records.len() > 7 << 20);
        assert_eq!(post(client, otlp_url, protobuf, records, false).await, 200);
    });
    assert_eq!(metric(admin, RECEIVED, "h", None), 30_002);
    assert_eq!(metric(admin, RECEIVED, "o", None), 40_000);
}

/// `n` NDJSON lines of ten string fields each, about 360 bytes a line.
fn ndjson_lines(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let fields: Vec<String> = (0..10)
            .map(|f| format!("\"field{f}\":\"value {i} padded a bit\""))
            .collect();
        writeln!(out, "{{{}}}", fields.join(",")).unwrap();
    }
    out
}

/// An OTLP logs request of `n` records, each with a 100-byte body and five
/// attributes.
fn otlp_records(n: usize) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use prost::Message;
    let text = |s: String| AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    };
    let log_records = (0..n)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000,
            severity_number: 9,
            body: Some(text(format!("line {i} {}", "x".repeat(100)))),
            attributes: (0..5)
                .map(|k| KeyValue {
                    key: format!("k{k}"),
                    value: Some(text(format!("v{k}"))),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// A remote-write request of one series with `n` samples, snappy-framed.
fn remote_write(n: usize) -> Vec<u8> {
    let label = [&[0x0a, 0x08][..], b"__name__", &[0x12, 0x01], b"m"].concat();
    let mut series = vec![0x0a];
    series.extend(varint(label.len()));
    series.extend(label);
    series.extend([0x12, 0x00].repeat(n));
    let mut request = vec![0x0a];
    request.extend(varint(series.len()));
    request.extend(series);
    snap::raw::Encoder::new().compress_vec(&request).unwrap()
}

/// A Thrift binary `Batch` whose span list says `n` spans, followed by
/// bytes that could hold them (the count is read before any span is).
fn jaeger_batch(n: u8) -> Vec<u8> {
    let process = [0x0c, 0x00, 0x01, 0x0b, 0x00, 0x01, 0, 0, 0, 1, b's', 0x00];
    let spans = [0x0f, 0x00, 0x02, 0x0c, 0, 0, 0, n];
    [&process[..], &spans, &[0; 100]].concat()
}

/// Every push source counts a request's events before building them: one
/// over `max_events_per_request` gets 413 and is counted, whatever the
/// source and encoding.
#[test]
fn regression_every_push_source_refuses_requests_over_max_events() {
    let env = Env::new();
    let ports: Vec<u16> = (0..9).map(|_| free_port()).collect();
    let [http, grpc, otlp, loki, zipkin, jaeger, udp, rw, admin] = ports[..] else {
        unreachable!()
    };
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[admin]
address = "127.0.0.1:{admin}"
[sources.http]
type = "http"
address = "127.0.0.1:{http}"
receive.max_events_per_request = 2
[sources.otlp]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{otlp}"
receive.max_events_per_request = 2
[sources.loki]
type = "loki"
address = "127.0.0.1:{loki}"
receive.max_events_per_request = 2
[sources.zipkin]
type = "zipkin"
address = "127.0.0.1:{zipkin}"
receive.max_events_per_request = 2
[sources.jaeger]
type = "jaeger"
thrift_compact_udp.address = "127.0.0.1:{udp}"
thrift_compact_udp.enabled = false
thrift_http.address = "127.0.0.1:{jaeger}"
thrift_http.receive.max_events_per_request = 2
[sources.rw]
type = "prometheus_remote_write"
address = "127.0.0.1:{rw}"
receive.max_events_per_request = 2
[sinks.out]
type = "blackhole"
inputs = ["http", "otlp.logs", "loki", "zipkin", "jaeger", "rw"]
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &[]));
    for port in [http, otlp, loki, zipkin, jaeger, rw, admin] {
        wait_listening(&mut p, port);
    }
    let three_records = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{},{}]}]}]}"#;
    let three_entries =
        br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"],["2","y"],["3","z"]]}]}"#;
    let requests: [(&str, u16, &str, &str, Vec<u8>); 6] = [
        (
            "http",
            http,
            "/",
            "text/plain",
            b"a
b
c
"
            .to_vec(),
        ),
        (
            "otlp",
            otlp,
            "/v1/logs",
            "application/json",
            three_records.to_vec(),
        ),
        (
            "loki",
            loki,
            "/loki/api/v1/push",
            "application/json",
            three_entries.to_vec(),
        ),
        (
            "zipkin",
            zipkin,
            "/api/v2/spans",
            "application/json",
            b"[{},{},{}]".to_vec(),
        ),
        (
            "jaeger",
            jaeger,
            "/api/traces",
            "application/x-thrift",
            jaeger_batch(3),
        ),
        (
            "rw",
            rw,
            "/api/v1/write",
            "application/x-protobuf",
            remote_write(3),
        ),
    ];
    for (source, port, path, content_type, body) in requests {
        assert_eq!(
            raw_post(port, path, content_type, &body).unwrap(),
            413,
            "{source}"
        );
        assert_eq!(
            metric(admin, REFUSED, source, Some("too_many_events")),
            1,
            "{source}"
        );
    }
    // Within the limit, the same shapes are taken.
    assert_eq!(raw_post(http, "/", "text/plain", b"a\nb\n").unwrap(), 200);
    assert_eq!(
        raw_post(
            rw,
            "/api/v1/write",
            "application/x-protobuf",
            &remote_write(2)
        )
        .unwrap(),
        204
    );
}

/// Raises this test process' open-files limit, for the connections it
/// opens itself.
fn raise_own_open_files_limit(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    }
    assert!(
        hard >= needed,
        "this test opens {needed} connections: the hard open-files limit is {hard}"
    );
}

/// Starts logbridge with a soft open-files limit of 1024, as the issue's
/// report had it.
fn spawn_with_1024_files(config: &Path) -> Proc {
    let child = Command::new("sh")
        .args(["-c", "ulimit -Sn 1024 && exec \"$0\" run -c \"$1\""])
        .arg(support::bin())
        .arg(config)
        .env("LOGBRIDGE_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proc(child)
}

/// `Max open files` of a process: (soft, hard).
fn open_files_limit(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut fields = line.split_whitespace().skip(3);
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

/// One request on a fresh connection, raw: its status code.
fn raw_post(port: u16, path: &str, content_type: &str, body: &[u8]) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {answer:?}")))
}

/// A connection that sent the start of a request and never its end.
fn slowloris(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n")
        .unwrap();
    s
}

/// Whether the server closed the connection (reading ends, or fails with
/// anything but a timeout, within `wait`).
fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

/// 2,000 connections that send incomplete headers used to be held for
/// ever and, under `ulimit -Sn 1024`, made the `http` source, OTLP/HTTP
/// and the admin `/healthz` all time out. Now the soft limit is raised to
/// the hard one at start, and with the 2,000 connections open `/healthz`,
/// a normal request to the same `http` listener and one to OTLP/HTTP each
/// answer within a second; the slow connections are closed once
/// `header_timeout_secs` is up.
#[test]
fn regression_slowloris_connections_are_closed_and_the_others_keep_answering() {
    raise_own_open_files_limit(2_200);
    let env = Env::new();
    let (config, ports) = receivers(&env, "receive.header_timeout_secs = 3");
    let Receivers {
        http, otlp, admin, ..
    } = ports;
    let mut p = spawn_with_1024_files(&config);
    wait_listening(&mut p, http);
    wait_port(otlp);
    wait_port(admin);
    let (soft, hard) = open_files_limit(p.0.id());
    assert_eq!(
        soft, hard,
        "the soft open-files limit is raised to the hard one"
    );

    let mut slow: Vec<TcpStream> = (0..2_000).map(|_| slowloris(http)).collect();
    let within_a_second = |what: &str, answer: &dyn Fn() -> Option<u16>| {
        let start = Instant::now();
        let status = answer();
        let took = start.elapsed();
        assert_eq!(status, Some(200), "{what}");
        assert!(took < Duration::from_secs(1), "{what} took {took:?}");
    };
    within_a_second("/healthz", &|| {
        support::http_get(admin, "/healthz").map(|(code, _)| code)
    });
    within_a_second("a request to the http source", &|| {
        raw_post(http, "/", "text/plain", b"hello\n").ok()
    });
    within_a_second("a request to OTLP/HTTP", &|| {
        raw_post(otlp, "/v1/logs", "application/json", b"{}").ok()
    });

    // Their time to send headers is up after 3 s: every one is closed.
    let start = Instant::now();
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(
            closed_by_server(s, Duration::from_secs(20)),
            "connection {i} still open after {:?}",
            start.elapsed()
        );
    }
}

/// Past `max_connections` a listener stops accepting: a further client
/// waits in the kernel's queue until a place frees, and is then served.
#[test]
fn regression_connections_past_max_connections_wait_for_a_place() {
    let env = Env::new();
    let (config, Receivers { http, .. }) = receivers(&env, "receive.max_connections = 4");
    let mut p = Proc(env.spawn(&config, &[]));
    wait_listening(&mut p, http);
    // wait_listening's probe held a place for a moment; let it go.
    std::thread::sleep(Duration::from_millis(200));
    let mut held: Vec<TcpStream> = (0..4).map(|_| slowloris(http)).collect();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(raw_post(http, "/", "text/plain", b"waiting\n").ok());
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "answered while every place was taken"
    );
    held.pop();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), Some(200));
}

/// A syslog TCP connection that sends nothing for `idle_timeout_secs` is
/// closed; what it sent before arrives.
#[test]
fn regression_idle_syslog_tcp_connections_are_closed() {
    let env = Env::new();
    let tcp = free_port();
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.tcp]
type = "syslog"
mode = "tcp"
address = "127.0.0.1:{tcp}"
idle_timeout_secs = 1
[sinks.out]
type = "file"
inputs = ["tcp"]
path = "{{dir}}/out/logs.json"
encoding.codec = "json"
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_listening(&mut p, tcp);
    let mut silent = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
    let mut quiet = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
    quiet
        .write_all(b"<13>1 2024-05-01T12:00:00Z web-01 app - - - before the pause\n")
        .unwrap();
    assert!(closed_by_server(&mut silent, Duration::from_secs(10)));
    assert!(closed_by_server(&mut quiet, Duration::from_secs(10)));
    let out = env.path("out");
    assert!(wait_for(Duration::from_secs(10), || {
        support::read_lines(&out)
            .iter()
            .any(|l| l.contains("before the pause"))
    }));
}

/// Calls the OTLP logs `Export` method through grpcio with each of
/// `calls` (`(file, gzip)`): the status code names.
fn grpc_calls(port: u16, dir: &Path, calls: &[(&str, bool)]) -> Vec<String> {
    let python = std::env::var("TEST_PYTHON")
        .expect("TEST_PYTHON names a python with grpcio (the OpenTelemetry exporters bring it)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/grpc_unary.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for (file, gzip) in calls {
        writeln!(
            stdin,
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export {} {}",
            dir.join(file).display(),
            if *gzip { "gzip" } else { "none" }
        )
        .unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "grpc_unary.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["code"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// A gRPC message that does not decode used to get `INTERNAL` and go
/// uncounted, and `max_request_bytes` was not enforced on gRPC (a 20 MiB
/// message was taken). Now: `INVALID_ARGUMENT`, counted as HTTP counts it;
/// a message over `max_request_bytes`, or with more events than
/// `max_events_per_request` (plain or gzipped), `RESOURCE_EXHAUSTED`,
/// counted; good messages, plain or gzipped, `OK`.
#[test]
fn regression_grpc_bad_messages_get_invalid_argument_and_limits_resource_exhausted() {
    let env = Env::new();
    let (config, ports) = receivers(&env, "");
    let Receivers { grpc, admin, .. } = ports;
    std::fs::write(env.path("good.bin"), empty_records(3)).unwrap();
    std::fs::write(env.path("garbage.bin"), b"\xff\xff\xff\xff").unwrap();
    std::fs::write(env.path("big.bin"), vec![0x0a; 20 << 20]).unwrap();
    std::fs::write(env.path("records.bin"), empty_records(4_190_000)).unwrap();
    let mut p = Proc(env.spawn(&config, &[]));
    wait_listening(&mut p, grpc);
    wait_port(admin);
    let codes = grpc_calls(
        grpc,
        env.dir.path(),
        &[
            ("good.bin", false),
            ("good.bin", true),
            ("garbage.bin", false),
            ("big.bin", false),
            ("records.bin", false),
            ("records.bin", true),
        ],
    );
    assert_eq!(
        codes,
        [
            "OK",
            "OK",
            "INVALID_ARGUMENT",
            "RESOURCE_EXHAUSTED",
            "RESOURCE_EXHAUSTED",
            "RESOURCE_EXHAUSTED"
        ]
    );
    assert_eq!(metric(admin, REFUSED, "o", Some("invalid")), 1);
    assert_eq!(metric(admin, REFUSED, "o", Some("too_large")), 1);
    assert_eq!(metric(admin, REFUSED, "o", Some("too_many_events")), 2);
    assert_eq!(
        metric(admin, "logbridge_component_errors_total", "o", None),
        4
    );
    assert_eq!(
        metric(
            admin,
            "logbridge_component_received_events_total",
            "o",
            None
        ),
        6
    );
}
