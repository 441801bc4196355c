//! End-to-end tests of the push sources with real clients: `syslog` fed by
//! util-linux `logger` over UDP and TCP (newline and octet-counted
//! framing, RFC 5424 and 3164), and `http` fed NDJSON, JSON arrays and
//! text lines, gzip-compressed, behind basic auth.

mod support;

use support::{Proc, wait_port};

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{Env, free_port, read_lines, wait_for};

fn json_lines(dir: &std::path::Path) -> Vec<Value> {
    read_lines(dir)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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
    let out = env.path("out");
    assert!(
        wait_for(Duration::from_secs(10), || read_lines(&out).len() >= 4),
        "got {:?}",
        read_lines(&out)
    );
    let logs = json_lines(&out);
    let find = |text: &str| {
        logs.iter()
            .find(|l| l["message"] == text)
            .unwrap_or_else(|| panic!("{text} not in {logs:?}"))
    };
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
    let bad = env.path("bad");
    assert!(wait_for(Duration::from_secs(10), || !read_lines(&bad).is_empty()));
    let bad = json_lines(&bad);
    assert_eq!(bad[0]["message"], "hello, not syslog");
    assert_eq!(bad[0]["dropped"]["reason"], "parse_failed");
}

fn post(port: u16, content_type: &str, body: &[u8], gzip: bool, auth: Option<&str>) -> u16 {
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
        r.body(body).send().await.unwrap().status().as_u16()
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
