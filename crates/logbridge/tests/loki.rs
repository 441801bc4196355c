//! End-to-end tests of the `loki` source and sink with the real binary: a
//! real Loki client (python-logging-loki, from the interpreter named by
//! `TEST_PYTHON`) pushing into the source; a protobuf push through two
//! logbridge processes (protobuf between them, gzipped JSON out) arriving
//! stream for stream with its tenant; bombs, garbage and a dead sink
//! answered with Loki's status codes.

mod support;

use support::{Proc, runtime, wait_listening};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::Command;

use logbridge_loki::bytes::Bytes;
use logbridge_loki::{Entry, LabelSet, Stream};
use serde_json::Value;
use support::capture::Capture;
use support::{Env, free_port, read_lines};

/// The answer to one POST: status, `Retry-After`, body.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    runtime().block_on(async {
        let mut request = reqwest::Client::new().post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Nanoseconds since the epoch of an RFC 3339 UTC time as the JSON codec
/// writes it (`2023-11-14T22:13:20.123Z`).
fn rfc3339_nanos(text: &str) -> i64 {
    let text = text.strip_suffix('Z').expect("UTC time");
    let (date, time) = text.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let c: Vec<i64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's way.
    let (y, m, day) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let nanos: i64 = format!("{fraction:0<9}").parse().unwrap();
    ((days * 86_400 + c[0] * 3600 + c[1] * 60 + c[2]) * 1_000_000_000) + nanos
}

const CLIENT: &str = r#"
import json, logging, sys
import logging_loki

url, tenant = sys.argv[1], sys.argv[2]

class Strict(logging_loki.LokiHandler):
    # The library reports a failed push (any answer but 204) to
    # handleError, which prints and carries on: fail instead.
    def handleError(self, record):
        raise

handler = Strict(url=url, tags={"app": "shop", "env": "test"}, auth=("u", "p"), version="1")
handler.emitter.session.headers["X-Scope-OrgID"] = tenant
sent = []
build = handler.emitter.build_payload
def recording(record, line):
    payload = build(record, line)
    sent.extend(payload["streams"])
    return payload
handler.emitter.build_payload = recording

log = logging.getLogger("checkout")
log.setLevel(logging.DEBUG)
log.propagate = False
log.addHandler(handler)
log.info("order placed", extra={"tags": {"order_id": "42"}})
log.warning("payment slow: %d ms", 950)
log.error("payment failed, retrying \u00fcn\u00efcode")
log.debug("done")
print(json.dumps(sent))
"#;

/// python-logging-loki (JSON pushes, basic auth, a tenant header) into the
/// `loki` source; labels moved to fields so the file sink shows them.
#[test]
fn python_logging_loki_pushes_arrive_intact() {
    let python = std::env::var("TEST_PYTHON").expect(
        "TEST_PYTHON must name a Python interpreter with python-logging-loki installed \
         (such as .cache/venv/bin/python after `pip install python-logging-loki`)",
    );
    let env = Env::new();
    let port = free_port();
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "loki"
address = "127.0.0.1:{port}"
auth.strategy = "basic"
auth.user = "u"
auth.password = "p"
[transforms.fields]
type = "modify"
inputs = ["in"]
rename = {{ "%resource.app" = ".app", "%resource.env" = ".env", "%resource.severity" = ".severity", "%resource.logger" = ".logger", "%resource.order_id" = ".order_id", "%loki.tenant" = ".tenant" }}
[sinks.out]
type = "file"
inputs = ["fields"]
path = "{{dir}}/out/logs.json"
encoding.codec = "json"
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &["--no-admin"]));
    wait_listening(&mut p, port);
    assert_eq!(
        support::http_get(port, "/ready").map(|r| r.0),
        Some(200),
        "clients probe /ready"
    );
    let output = Command::new(&python)
        .args(["-c", CLIENT])
        .arg(format!("http://127.0.0.1:{port}/loki/api/v1/push"))
        .arg("team-a")
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(
        output.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sent: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(sent.len(), 4);

    // Each push was answered once the file sink had it.
    let logs: Vec<Value> = read_lines(&env.path("out"))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logs.len(), 4, "{logs:?}");
    for (stream, log) in sent.iter().zip(&logs) {
        let value = &stream["values"][0];
        assert_eq!(log["message"], value[1], "{log}");
        let sent_nanos: i64 = value[0].as_str().unwrap().parse().unwrap();
        assert_eq!(
            rfc3339_nanos(log["timestamp"].as_str().unwrap()),
            sent_nanos,
            "{log}"
        );
        let labels = stream["stream"].as_object().unwrap();
        for (name, value) in labels {
            assert_eq!(&log[name], value, "label {name} of {log}");
        }
        assert_eq!(log["tenant"], "team-a");
    }
    assert_eq!(logs[0]["order_id"], "42");
    assert_eq!(logs[1]["message"], "payment slow: 950 ms");
    assert_eq!(logs[1]["severity"], "warning");
    assert_eq!(logs[2]["message"], "payment failed, retrying ünïcode");
    assert_eq!(logs[3]["logger"], "checkout");
    assert_eq!(logs[3]["app"], "shop");
}

/// Name and value pairs, as written in the tests.
type Pairs<'a> = &'a [(&'a str, &'a str)];

fn stream(labels: Pairs<'_>, entries: &[(i64, &str, Pairs<'_>)]) -> Stream {
    Stream {
        labels: LabelSet::from_pairs(labels.iter().copied()).unwrap(),
        entries: entries
            .iter()
            .map(|&(time_unix_nano, line, metadata)| Entry {
                time_unix_nano,
                line: Bytes::copy_from_slice(line.as_bytes()),
                metadata: metadata
                    .iter()
                    .map(|&(k, v)| (k.into(), Bytes::copy_from_slice(v.as_bytes())))
                    .collect(),
            })
            .collect(),
    }
}

/// An entry in canonical form: time, line, metadata sorted by name.
type CanonicalEntry = (i64, String, Vec<(String, String)>);

/// Streams keyed by their label text, entries sorted by time then line:
/// the order Loki itself would store them in.
type Canonical = BTreeMap<String, Vec<CanonicalEntry>>;

fn canonical_streams(streams: &[Stream]) -> Canonical {
    let mut out = Canonical::new();
    for s in streams {
        let entries = out.entry(s.labels.to_string()).or_default();
        for e in &s.entries {
            let mut metadata: Vec<(String, String)> = e
                .metadata
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8(v.to_vec()).unwrap()))
                .collect();
            metadata.sort();
            entries.push((
                e.time_unix_nano,
                String::from_utf8(e.line.to_vec()).unwrap(),
                metadata,
            ));
        }
    }
    for entries in out.values_mut() {
        entries.sort();
    }
    out
}

fn canonical_records(records: &[json_push::Record]) -> Canonical {
    let mut out = Canonical::new();
    for r in records {
        out.entry(r.labels.clone())
            .or_default()
            .push((r.time, r.line.clone(), r.metadata.clone()));
    }
    for entries in out.values_mut() {
        entries.sort();
    }
    out
}

/// A JSON push read back into plain types.
mod json_push {
    pub struct Record {
        pub labels: String,
        pub time: i64,
        pub line: String,
        pub metadata: Vec<(String, String)>,
    }

    /// The entries of a JSON push body, with their stream's label text.
    pub fn read(body: &[u8]) -> Vec<Record> {
        let push: serde_json::Value = serde_json::from_slice(body).unwrap();
        let mut out = Vec::new();
        for stream in push["streams"].as_array().unwrap() {
            let labels = logbridge_loki::LabelSet::from_pairs(
                stream["stream"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap())),
            )
            .unwrap()
            .to_string();
            for value in stream["values"].as_array().unwrap() {
                let mut metadata: Vec<(String, String)> = value
                    .get(2)
                    .and_then(|m| m.as_object())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                metadata.sort();
                out.push(Record {
                    labels: labels.clone(),
                    time: value[0].as_str().unwrap().parse().unwrap(),
                    line: value[1].as_str().unwrap().to_owned(),
                    metadata,
                });
            }
        }
        out
    }
}

/// A protobuf push (several streams, structured metadata, entries out of
/// order, a metadata name equal to a label name) and a gzipped JSON push
/// for another tenant go through logbridge A (`loki` -> `loki` protobuf)
/// and logbridge B (`loki` -> `loki` gzipped JSON) to a capture server,
/// and arrive stream for stream, one request per tenant.
#[test]
fn pushes_survive_two_processes_stream_for_stream() {
    let env = Env::new();
    let capture = Capture::start();
    let (a, b) = (free_port(), free_port());
    let config_a = env.write(
        "a.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data-a"
[sources.in]
type = "loki"
address = "127.0.0.1:{a}"
[sinks.out]
type = "loki"
inputs = ["in"]
endpoint = "http://127.0.0.1:{b}"
tenant_id = "{{{{ %loki.tenant }}}}"
auth.strategy = "bearer"
auth.token = "s3cret"
batch.timeout_secs = 0.05
"#
        ),
    );
    let config_b = env.write(
        "b.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data-b"
[sources.in]
type = "loki"
address = "127.0.0.1:{b}"
auth.strategy = "bearer"
auth.token = "s3cret"
[sinks.out]
type = "loki"
inputs = ["in"]
endpoint = "http://127.0.0.1:{port}/"
encoding = "json"
compression = "gzip"
tenant_id = "{{{{ %loki.tenant }}}}"
headers.x-extra = "yes"
batch.timeout_secs = 0.05
"#,
            port = capture.port
        ),
    );
    let mut pa = Proc(env.spawn(&config_a, &["--no-admin"]));
    let mut pb = Proc(env.spawn(&config_b, &["--no-admin"]));
    wait_listening(&mut pa, a);
    wait_listening(&mut pb, b);

    let t = 1_700_000_000_000_000_000;
    let team_a = vec![
        stream(
            &[("app", "api"), ("env", "prod")],
            &[
                (t + 300, "third", &[]),
                (t + 100, "first", &[("trace_id", "abc123")]),
                (t + 200, "second", &[("user", "u1"), ("app", "shadow")]),
            ],
        ),
        stream(
            &[("app", "web"), ("env", "prod"), ("pod", "web-1")],
            &[
                (t + 50, "GET / 200", &[("status", "200")]),
                (t + 10, "multi\nline ü \"quoted\"", &[]),
            ],
        ),
        stream(&[("job", "batch")], &[(t + 999_999_999, "late", &[])]),
    ];
    let team_b = vec![stream(
        &[("app", "api"), ("env", "dev")],
        &[
            (t + 500, "b-line", &[("k", "v")]),
            (t + 400, "b-early", &[]),
        ],
    )];

    let url = format!("http://127.0.0.1:{a}/loki/api/v1/push");
    let proto = logbridge_loki::encode_streams_protobuf(&team_a).unwrap();
    let answer = post(
        &url,
        &[
            ("content-type", "application/x-protobuf"),
            ("x-scope-orgid", "team-a"),
        ],
        proto,
    );
    assert_eq!(answer.status, 204, "{}", answer.body);
    let json = gzip(&logbridge_loki::encode_streams_json(&team_b));
    let answer = post(
        &url,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
            ("x-scope-orgid", "team-b"),
        ],
        json,
    );
    assert_eq!(answer.status, 204, "{}", answer.body);
    // B wants credentials; A sent them.
    let answer = post(
        &format!("http://127.0.0.1:{b}/loki/api/v1/push"),
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    );
    assert_eq!(answer.status, 401);

    // 204 means every process downstream acknowledged: B's pushes are in.
    let mut by_tenant: BTreeMap<String, Vec<json_push::Record>> = BTreeMap::new();
    for request in capture.take() {
        assert_eq!(request.path, "/loki/api/v1/push");
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(header("content-type").as_deref(), Some("application/json"));
        assert_eq!(header("content-encoding").as_deref(), Some("gzip"));
        assert_eq!(header("x-extra").as_deref(), Some("yes"));
        let tenant = header("x-scope-orgid").expect("the tenant header");
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(&request.body[..])
            .read_to_end(&mut body)
            .unwrap();
        by_tenant
            .entry(tenant)
            .or_default()
            .extend(json_push::read(&body));
    }
    assert_eq!(
        by_tenant.keys().collect::<Vec<_>>(),
        ["team-a", "team-b"],
        "one request per tenant"
    );
    assert_eq!(
        canonical_records(&by_tenant["team-a"]),
        canonical_streams(&team_a)
    );
    assert_eq!(
        canonical_records(&by_tenant["team-b"]),
        canonical_streams(&team_b)
    );
}

/// A snappy block of `1 + 64 * copies` bytes: one literal byte, then
/// copies of the previous 64 bytes, three bytes each.
fn snappy_bomb(copies: usize) -> Vec<u8> {
    let mut len = 1 + 64 * copies;
    let mut out = Vec::new();
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(&[0x00, b'a']);
    for _ in 0..copies {
        // Copy with a 2-byte offset: length 64, offset 1.
        out.extend_from_slice(&[(63 << 2) | 0b10, 0x01, 0x00]);
    }
    out
}

/// Bombs get 413 without being inflated, garbage 400 (counted), and with
/// the sink's endpoint down a push gets 503 with `Retry-After` once the
/// acknowledgement does not come.
#[test]
fn bombs_garbage_and_a_dead_sink_get_loki_answers() {
    let env = Env::new();
    let (port, admin, dead) = (free_port(), free_port(), free_port());
    let config = env.write(
        "c.toml",
        &format!(
            r#"
data_dir = "{{dir}}/data"
[sources.in]
type = "loki"
address = "127.0.0.1:{port}"
receive.max_request_bytes = 100000
receive.max_decompressed_bytes = 1000000
receive.ack_timeout_secs = 1
[sinks.out]
type = "loki"
inputs = ["in"]
endpoint = "http://127.0.0.1:{dead}"
"#
        ),
    );
    let mut p = Proc(env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{admin}")]));
    wait_listening(&mut p, port);
    let url = format!("http://127.0.0.1:{port}/loki/api/v1/push");
    let proto = [("content-type", "application/x-protobuf")];
    let json = [("content-type", "application/json")];

    // ~93 kB that inflate to ~2 MB: a real snappy block, as the decoder
    // shows when allowed to inflate it.
    let bomb = snappy_bomb(31_000);
    assert!(bomb.len() < 100_000);
    assert!(matches!(
        logbridge_loki::decode_push_protobuf(&bomb, 10_000_000),
        Err(logbridge_loki::Error::Protobuf(_))
    ));
    let answer = post(&url, &proto, bomb);
    assert_eq!(answer.status, 413, "{}", answer.body);
    // A gzip bomb of JSON: refused at the decompressed cap.
    let answer = post(
        &url,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        gzip(&vec![b' '; 20_000_000]),
    );
    assert_eq!(answer.status, 413, "{}", answer.body);
    // Over the size limit as sent.
    assert_eq!(post(&url, &proto, vec![0; 200_000]).status, 413);
    // Garbage.
    let answer = post(
        &url,
        &proto,
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffjunk".to_vec(),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    let answer = post(
        &url,
        &json,
        br#"{"streams":[{"stream":{"a":"b"},"values":[["x"]]}]}"#.to_vec(),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        post(&url, &[("content-type", "text/plain")], b"hi".to_vec()).status,
        415
    );
    let metrics = support::http_get(admin, "/debug/metrics").unwrap().1;
    let errors = metrics
        .lines()
        .find(|l| {
            l.starts_with("logbridge_component_errors_total") && l.contains("component_id=\"in\"")
        })
        .unwrap_or_default()
        .to_owned();
    // The three bombs and oversized bodies and the two undecodable ones.
    assert!(errors.ends_with(" 5"), "five bad bodies counted: {errors}");

    // A good push the sink cannot deliver.
    let streams = [stream(
        &[("job", "x")],
        &[(1_700_000_000_000_000_000, "l", &[])],
    )];
    let answer = post(
        &url,
        &proto,
        logbridge_loki::encode_streams_protobuf(&streams).unwrap(),
    );
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
}
