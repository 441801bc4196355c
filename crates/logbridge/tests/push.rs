//! End-to-end tests of the push sources with real clients: `syslog` fed by
//! util-linux `logger` over UDP and TCP (newline and octet-counted
//! framing, RFC 5424 and 3164), and `http` fed NDJSON, JSON arrays and
//! text lines, gzip-compressed, behind basic auth.

mod support;

use support::{Proc, wait_port};

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use support::{Env, free_port, read_lines, wait_for};

fn json_lines(dir: &std::path::Path) -> Vec<Value> {
    read_lines(dir)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until `dir` holds at least `n` lines, then returns them as JSON.
fn wait_json_lines(dir: &std::path::Path, n: usize) -> Vec<Value> {
    assert!(
        wait_for(Duration::from_secs(10), || read_lines(dir).len() >= n),
        "got {:?}",
        read_lines(dir)
    );
    json_lines(dir)
}

/// The first log whose `field` is `value`.
fn find_by<'a>(logs: &'a [Value], field: &str, value: &str) -> &'a Value {
    logs.iter()
        .find(|l| l[field] == value)
        .unwrap_or_else(|| panic!("no {field} {value} in {logs:?}"))
}

fn logger(args: &[&str]) {
    let status = Command::new("logger").args(args).status().unwrap();
    assert!(status.success(), "logger {args:?}");
}

#[test]
fn syslog_from_logger_over_udp_and_tcp() {
    let env = Env::new();
    let (udp, tcp) = (free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.udp]
type = "syslog"
mode = "udp"
address = "127.0.0.1:{udp}"
max_length = 2000
[sources.tcp]
type = "syslog"
mode = "tcp"
address = "127.0.0.1:{tcp}"
[sinks.out]
type = "file"
inputs = ["udp", "tcp"]
path = "{{dir}}/out/logs.json"
encoding.codec = "json"
[sinks.bad]
type = "file"
inputs = ["udp.dropped", "tcp.dropped"]
path = "{{dir}}/bad/logs.json"
encoding.codec = "json"
"#
        ),
    );
    let _p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_port(tcp);
    let (u, t) = (udp.to_string(), tcp.to_string());
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &u,
        "-d",
        "--rfc5424",
        "-t",
        "app1",
        "-p",
        "local3.warning",
        "--msgid",
        "M1",
        "--sd-id",
        "x@1",
        "--sd-param",
        "k=\"v\"",
        "over udp 5424",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &u,
        "-d",
        "--rfc3164",
        "-t",
        "app2",
        "-p",
        "user.err",
        "over udp 3164",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &t,
        "-T",
        "--rfc5424",
        "-t",
        "app3",
        "over tcp lines",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &t,
        "-T",
        "--octet-count",
        "--rfc5424",
        "-t",
        "app4",
        "-p",
        "daemon.info",
        "over tcp octet counted",
    ]);
    // Not syslog at all: goes to `dropped`.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", tcp)).unwrap();
    s.write_all(b"hello, not syslog\n").unwrap();
    drop(s);
    // A datagram longer than max_length goes to `dropped`, not on cut.
    let long = format!("<14>1 - h app - - - {}", "x".repeat(3000));
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(long.as_bytes(), ("127.0.0.1", udp)).unwrap();
    let logs = wait_json_lines(&env.path("out"), 4);
    let find = |text: &str| find_by(&logs, "message", text);
    let a = find("over udp 5424");
    assert_eq!(a["appname"], "app1");
    assert_eq!(a["facility"], "local3");
    assert_eq!(a["severity"], "warning");
    assert_eq!(a["msgid"], "M1");
    assert_eq!(a["x@1"]["k"], "v");
    assert!(a["timestamp"].as_str().unwrap().starts_with("20"));
    let b = find("over udp 3164");
    assert_eq!(b["appname"], "app2");
    assert_eq!(b["severity"], "err");
    assert_eq!(find("over tcp lines")["appname"], "app3");
    let d = find("over tcp octet counted");
    assert_eq!(d["appname"], "app4");
    assert_eq!(d["facility"], "daemon");
    let bad = wait_json_lines(&env.path("bad"), 2);
    let reason = |reason: &str| {
        bad.iter()
            .find(|l| l["dropped"]["reason"] == reason)
            .unwrap_or_else(|| panic!("no {reason} in {bad:?}"))
    };
    assert_eq!(reason("parse_failed")["message"], "hello, not syslog");
    let overlong = reason("overlong")["message"].as_str().unwrap();
    assert_eq!(overlong.len(), 2000, "the first max_length bytes are kept");
}

/// Datagrams the kernel drops because the source's UDP receive buffer is
/// full (here: a tiny `receive_buffer_bytes` and a pipeline that stops
/// reading while its sink's endpoint is down) are counted, from the
/// kernel's own counter: what arrives plus what was dropped is what was
/// sent.
#[test]
fn regression_syslog_udp_kernel_drops_are_counted() {
    let env = Env::new();
    let (udp, admin, forward) = (free_port(), free_port(), free_port());
    let config = env.write(
        "a.toml",
        &format!(
            r#"
data_dir = "{{dir}}/a"
[admin]
address = "127.0.0.1:{admin}"
[sources.in]
type = "syslog"
mode = "udp"
address = "127.0.0.1:{udp}"
receive_buffer_bytes = 4096
[sinks.out]
type = "otlp"
inputs = ["in"]
protocol = "http"
endpoint = "http://127.0.0.1:{forward}"
batch.timeout_secs = 0.05
buffer.max_events = 1
"#
        ),
    );
    let _sender = Proc(env.spawn(&config, &[]));
    wait_port(admin);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |i: usize| {
        let line = format!("<14>1 - h app - - - message {i:05} {}", "x".repeat(200));
        socket.send_to(line.as_bytes(), ("127.0.0.1", udp)).unwrap();
    };
    // The sink holds the first, its queue the second; the source then
    // waits with a full batch and stops reading the socket.
    const SENT: usize = 3000;
    for i in 0..3 {
        send(i);
        std::thread::sleep(Duration::from_millis(300));
    }
    for i in 3..SENT {
        send(i);
    }
    // Now the endpoint comes up and everything held drains.
    let receiver = env.write(
        "b.toml",
        &format!(
            r#"
data_dir = "{{dir}}/b"
[sources.otlp]
type = "otlp"
grpc.address = "127.0.0.1:{grpc}"
http.address = "127.0.0.1:{forward}"
[sinks.out]
type = "file"
inputs = ["otlp.logs"]
path = "{{dir}}/out/logs.json"
encoding.codec = "json"
"#,
            grpc = free_port()
        ),
    );
    let _receiver = Proc(env.spawn(&receiver, &["--no-admin"]));
    let out = env.path("out");
    let dropped = || {
        support::metric(
            admin,
            "logbridge_syslog_kernel_dropped_datagrams_total",
            &[],
        )
        .unwrap_or(0.0) as usize
    };
    assert!(
        wait_for(Duration::from_secs(30), || {
            read_lines(&out).len() + dropped() == SENT
        }),
        "delivered {} + kernel drops {} != sent {SENT}",
        read_lines(&out).len(),
        dropped()
    );
    assert!(dropped() > 0, "the 4 KiB buffer overflowed");
    let discarded = support::metric(
        admin,
        "logbridge_component_discarded_events_total",
        &[("component_id", "in"), ("intentional", "false")],
    );
    assert_eq!(discarded, Some(dropped() as f64));
}

/// What `logger` sends arrives as sent: a structured-data parameter given
/// twice (RFC 5424 6.3.3) keeps both values, in order, as an array; the
/// message keeps its own leading and trailing spaces (only the one
/// separating space is syntax, in RFC 5424 and after an RFC 3164 tag); the
/// RFC 5424 PROCID is a string, as the RFC defines it.
#[test]
fn regression_syslog_keeps_what_logger_sent() {
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
[sinks.out]
type = "file"
inputs = ["tcp"]
path = "{{dir}}/out/logs.json"
encoding.codec = "json"
"#
        ),
    );
    let _p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_port(tcp);
    let t = tcp.to_string();
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &t,
        "-T",
        "--rfc5424",
        "-t",
        "app5",
        "--id=0042",
        "--sd-id",
        "dup@32473",
        "--sd-param",
        "a=\"1\"",
        "--sd-param",
        "b=\"x\"",
        "--sd-param",
        "a=\"2\"",
        "  indented 5424  ",
    ]);
    logger(&[
        "-n",
        "127.0.0.1",
        "-P",
        &t,
        "-T",
        "--rfc3164",
        "-t",
        "app3",
        "--id=77",
        "   indented 3164",
    ]);
    let logs = wait_json_lines(&env.path("out"), 2);
    let by_app = |app: &str| find_by(&logs, "appname", app);
    let a = by_app("app5");
    println!("rfc 5424: {a}");
    assert_eq!(a["message"], "  indented 5424  ");
    assert_eq!(a["dup@32473"]["a"], serde_json::json!(["1", "2"]));
    assert_eq!(a["dup@32473"]["b"], "x");
    // logger writes the id as a number (`42`); it stays the string it is.
    assert_eq!(a["procid"], "42");
    let b = by_app("app3");
    println!("rfc 3164: {b}");
    assert_eq!(b["message"], "   indented 3164");
    assert_eq!(b["procid"], 77);
}

fn post(port: u16, content_type: &str, body: &[u8], gzip: bool, auth: Option<&str>) -> u16 {
    send(port, content_type, body, gzip, auth).0
}

/// One request to the `http` source's `/logs`: status and headers.
fn send(
    port: u16,
    content_type: &str,
    body: &[u8],
    gzip: bool,
    auth: Option<&str>,
) -> (u16, HeaderMap) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/logs"))
            .header("content-type", content_type);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let body = if gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            r = r.header("content-encoding", "gzip");
            e.finish().unwrap()
        } else {
            body.to_vec()
        };
        let response = r.body(body).send().await.unwrap();
        (response.status().as_u16(), response.headers().clone())
    })
}

#[test]
fn http_source_reads_ndjson_json_and_lines() {
    let env = Env::new();
    let port = free_port();
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "http"
address = "127.0.0.1:{port}"
path = "/logs"
headers = ["X-Tenant"]
auth.strategy = "basic"
auth.user = "u"
auth.password = "p"
[transforms.tag]
type = "modify"
inputs = ["in"]
rename = {{ '%http.headers."x-tenant"' = ".tenant" }}
[sinks.out]
type = "file"
inputs = ["tag"]
path = "{{dir}}/out/logs.json"
encoding.codec = "json"
[sinks.bad]
type = "file"
inputs = ["in.dropped"]
path = "{{dir}}/bad/logs.json"
encoding.codec = "json"
"#
        ),
    );
    let _p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_port(port);
    let auth = Some("Basic dTpw");
    assert_eq!(
        post(
            port,
            "application/x-ndjson",
            b"{\"message\":\"a\"}\n",
            false,
            None
        ),
        401
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"{\"message\":\"n1\",\"k\":1}\nnot json\n{\"message\":\"n2\"}\n")
            .unwrap();
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/logs"))
            .header("content-type", "application/x-ndjson")
            .header("content-encoding", "gzip")
            .header("authorization", "Basic dTpw")
            .header("x-tenant", "blue")
            .body(e.finish().unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
    assert_eq!(
        post(
            port,
            "application/json",
            br#"[{"message":"j1"},{"message":"j2","nested":{"x":true}}]"#,
            false,
            auth
        ),
        200
    );
    assert_eq!(
        post(port, "text/plain", b"plain one\r\nplain two\n", true, auth),
        200
    );
    assert_eq!(post(port, "application/json", b"[{]", false, auth), 400);
    let logs = json_lines(&env.path("out"));
    let messages: Vec<&str> = logs
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["n1", "n2", "j1", "j2", "plain one", "plain two"]);
    assert_eq!(logs[0]["k"], 1);
    assert_eq!(logs[0]["tenant"], "blue");
    assert_eq!(logs[3]["nested"]["x"], true);
    let bad = json_lines(&env.path("bad"));
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["message"], "not json");
}

/// An NDJSON request to the `http` source: status and headers.
fn post_with(port: u16, authorization: Option<&str>, body: &[u8]) -> (u16, HeaderMap) {
    send(port, "application/x-ndjson", body, false, authorization)
}

/// A 401 says how to authenticate (`WWW-Authenticate`), and the scheme of
/// `Authorization` is matched case-insensitively, as HTTP defines it,
/// while the token itself must match exactly.
#[test]
fn regression_401_has_www_authenticate_and_the_auth_scheme_is_case_insensitive() {
    let env = Env::new();
    let port = free_port();
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "http"
address = "127.0.0.1:{port}"
path = "/logs"
auth.strategy = "bearer"
auth.token = "s3cret"
[sinks.out]
type = "file"
inputs = ["in"]
path = "{{dir}}/out/logs.json"
encoding.codec = "json"
"#
        ),
    );
    let _p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_port(port);
    let body = b"{\"message\":\"a\"}\n";
    for refused in [
        None,
        Some("Bearer wrong"),
        Some("Basic czNjcmV0"),
        Some("Bearer"),
    ] {
        let (status, headers) = post_with(port, refused, body);
        assert_eq!(status, 401, "{refused:?}");
        assert_eq!(
            headers.get("www-authenticate").map(|v| v.to_str().unwrap()),
            Some("Bearer realm=\"logbridge\""),
            "{refused:?}"
        );
    }
    for taken in ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret"] {
        let (status, headers) = post_with(port, Some(taken), body);
        assert_eq!(status, 200, "{taken}");
        assert!(headers.get("www-authenticate").is_none());
    }
    let out = env.path("out");
    assert!(wait_for(Duration::from_secs(10), || read_lines(&out).len() == 3));
}

/// A request whose events the pipeline does not take within
/// `receive.max_wait_secs` is answered 503 with `Retry-After` (as the
/// README says), and is counted neither as received nor as sent by the
/// source: its client sends it again, and counting it twice would make
/// the counters disagree with what was delivered.
#[test]
fn regression_max_wait_gives_503_and_refused_requests_are_not_counted() {
    let env = Env::new();
    let (port, admin, dead) = (free_port(), free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[admin]
address = "127.0.0.1:{admin}"
[sources.in]
type = "http"
address = "127.0.0.1:{port}"
path = "/logs"
receive.max_wait_secs = 0.5
receive.ack_timeout_secs = 3
[sinks.out]
type = "otlp"
inputs = ["in"]
protocol = "http"
endpoint = "http://127.0.0.1:{dead}"
buffer.max_events = 1
"#
        ),
    );
    let _p = Proc(env.spawn(&config, &[]));
    wait_port(port);
    wait_port(admin);
    let body = b"{\"message\":\"a\"}\n";
    // The sink holds the first event (retrying a dead endpoint), its queue
    // the second; the third finds no room.
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let waiter = std::thread::spawn(move || post_with(port, None, body).0);
            std::thread::sleep(Duration::from_millis(400));
            waiter
        })
        .collect();
    let (status, headers) = post_with(port, None, body);
    assert_eq!(
        status, 503,
        "the pipeline took no more within max_wait_secs"
    );
    assert_eq!(
        headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    for waiter in waiting {
        // Handed on but never delivered: 503 once the acknowledgement
        // times out.
        assert_eq!(waiter.join().unwrap(), 503);
    }
    let value = |name: &str| support::metric(admin, name, &[("component_id", "in")]);
    assert_eq!(
        value("logbridge_component_received_events_total"),
        Some(2.0)
    );
    assert_eq!(value("logbridge_component_sent_events_total"), Some(2.0));
}
