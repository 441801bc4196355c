//! End-to-end: tail sampling scaled out over Kafka, as README's "Scaling
//! tail sampling out" lays it out. A receiver takes OTLP/HTTP and writes
//! each span to a 6-partition topic as an OTLP record keyed by trace id;
//! three samplers in one consumer group tail-sample the partitions they
//! own into their own archives. While spans flow, one sampler is killed
//! with SIGKILL and a fourth joins. Every trace in the archives must be
//! complete, and the traces kept must be exactly those that one sampler
//! alone (in a group of its own) keeps reading the same spans as they
//! come.
//!
//! Needs a tansu broker (`TANSU_BROKER`); run with `--test-threads=1`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::servers::{self, Logbridge, Server, wait_long};
use support::{XorShift, free_port};

const PARTITIONS: u32 = 6;
const TRACES: u32 = 20_000;

struct SentSpan {
    trace: u32,
    span: u32,
    start_ms: u64,
    end_ms: u64,
    error: bool,
    /// When it is sent, in requests from the start.
    slot: u32,
}

/// 20,000 traces of 1 to 50 spans: one in ten has a failed span, one in
/// ten lasts 1.5 s; each trace's spans are spread over four consecutive
/// requests, about fifty traces starting per request.
fn traces() -> Vec<SentSpan> {
    let mut rng = XorShift(0x5eed_1234_abcd);
    let mut spans = Vec::new();
    let mut next_span = 1;
    for trace in 1..=TRACES {
        let n = 1 + (rng.next() % 50) as u32;
        let failed = rng.next().is_multiple_of(10);
        let slow = rng.next().is_multiple_of(10);
        for i in 0..n {
            let end = if slow && i == 0 {
                1500
            } else {
                5 + rng.next() % 200
            };
            spans.push(SentSpan {
                trace,
                span: next_span,
                start_ms: i as u64,
                end_ms: end,
                error: failed && i == n - 1,
                slot: trace / 50 + i % 4,
            });
            next_span += 1;
        }
    }
    spans.sort_by_key(|s| (s.slot, s.trace, s.span));
    spans
}

fn request(spans: &[&SentSpan]) -> Vec<u8> {
    let base: u64 = 1_700_000_000_000;
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            json!({
                "traceId": format!("{:032x}", s.trace),
                "spanId": format!("{:016x}", s.span),
                "name": "op",
                "kind": 2,
                "startTimeUnixNano": ((base + s.start_ms) * 1_000_000).to_string(),
                "endTimeUnixNano": ((base + s.end_ms) * 1_000_000).to_string(),
                "status": { "code": if s.error { 2 } else { 0 } },
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "resourceSpans": [{
            "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "shop" } }] },
            "scopeSpans": [{ "scope": {}, "spans": spans }],
        }]
    }))
    .unwrap()
}

fn receiver_config(kafka: &Server, http: u16, grpc: u16) -> String {
    format!(
        r#"[sources.otel]
type = "otlp"
http.address = "127.0.0.1:{http}"
grpc.address = "127.0.0.1:{grpc}"

[sinks.spans]
type = "kafka"
inputs = ["otel.traces"]
bootstrap_servers = "{kafka}"
topic = "spans"
key_field = "%trace_id"
encoding.codec = "otlp"
"#,
        kafka = kafka.address()
    )
}

fn sampler_config(kafka: &Server, group: &str, out: &Path) -> String {
    format!(
        r#"[sources.spans]
type = "kafka"
bootstrap_servers = "{kafka}"
topics = ["spans"]
group_id = "{group}"
decoding.codec = "otlp"
decoding.signal_types = ["traces"]
drain_timeout_ms = 1000
librdkafka_options = {{ "session.timeout.ms" = "6000", "heartbeat.interval.ms" = "500" }}

[transforms.keep]
type = "tail_sample"
inputs = ["spans"]
decision_wait_secs = 2

[[transforms.keep.policies]]
name = "errors"
type = "status_code"
status_code.status_codes = ["ERROR"]

[[transforms.keep.policies]]
name = "slow"
type = "latency"
latency.threshold_ms = 1000

[[transforms.keep.policies]]
name = "some"
type = "probabilistic"
probabilistic.sampling_percentage = 20

[sinks.archive]
type = "file"
inputs = ["keep"]
path = "{out}/spans.jsonl"
encoding.codec = "otlp_json"
"#,
        kafka = kafka.address(),
        out = out.display()
    )
}

/// Span ids by trace id, over every archive line that parses (a sampler
/// killed mid-write may leave a torn last line).
fn archived(dirs: &[&Path]) -> BTreeMap<u32, BTreeSet<u32>> {
    let mut traces: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for dir in dirs {
        for line in support::read_lines(dir) {
            let Ok(request) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            for rs in request["resourceSpans"].as_array().into_iter().flatten() {
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    for s in ss["spans"].as_array().into_iter().flatten() {
                        let hex = |k: &str| {
                            u128::from_str_radix(s[k].as_str().unwrap_or_default(), 16)
                                .map_or(0, |n| n as u32)
                        };
                        traces
                            .entry(hex("traceId"))
                            .or_default()
                            .insert(hex("spanId"));
                    }
                }
            }
        }
    }
    traces
}

struct Sampler {
    process: Logbridge,
    out: std::path::PathBuf,
}

fn spawn_sampler(dir: &Path, kafka: &Server, group: &str, name: &str) -> Sampler {
    let out = dir.join(format!("out-{name}"));
    std::fs::create_dir_all(&out).unwrap();
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, sampler_config(kafka, group, &out)).unwrap();
    let data = dir.join(format!("data-{name}"));
    std::fs::create_dir_all(&data).unwrap();
    let process = Logbridge::spawn(&config, &data, &dir.join(format!("{name}.log")));
    Sampler { process, out }
}

/// Whether a sampler has read all it owns and holds no trace.
fn settled(sampler: &Sampler) -> bool {
    let p = &sampler.process;
    let held = p.metric("logbridge_tail_sample_held_traces", &[]);
    let lag = p.metric("logbridge_kafka_consumer_lag", &[]);
    held == Some(0.0) && lag.is_none_or(|l| l == 0.0)
}

#[test]
fn samplers_in_a_group_keep_whole_traces_through_a_kill_and_a_join() {
    let kafka = servers::tansu("spans", PARTITIONS);
    let dir = tempfile::tempdir().unwrap();
    let (http, grpc) = (free_port(), free_port());
    let receiver_toml = dir.path().join("receiver.toml");
    std::fs::write(&receiver_toml, receiver_config(&kafka, http, grpc)).unwrap();
    std::fs::create_dir_all(dir.path().join("data-receiver")).unwrap();
    let receiver = Logbridge::spawn(
        &receiver_toml,
        &dir.path().join("data-receiver"),
        &dir.path().join("receiver.log"),
    );
    support::wait_port(http);

    let mut samplers: Vec<Sampler> = (1..=3)
        .map(|i| spawn_sampler(dir.path(), &kafka, "samplers", &format!("s{i}")))
        .collect();
    // One sampler alone in its own group, reading the same spans as they
    // come: the reference.
    let reference = spawn_sampler(dir.path(), &kafka, "reference", "ref");

    let spans = traces();
    let mut sent: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for s in &spans {
        sent.entry(s.trace).or_default().insert(s.span);
    }
    let slots = spans.last().unwrap().slot + 1;
    let rt = support::runtime();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut killed = None;
    let mut at = 0;
    for slot in 0..slots {
        let end = spans[at..]
            .iter()
            .position(|s| s.slot != slot)
            .map_or(spans.len(), |n| at + n);
        let batch: Vec<&SentSpan> = spans[at..end].iter().collect();
        at = end;
        if batch.is_empty() {
            continue;
        }
        let status = rt
            .block_on(
                client
                    .post(format!("http://127.0.0.1:{http}/v1/traces"))
                    .header("content-type", "application/json")
                    .body(request(&batch))
                    .send(),
            )
            .map(|r| r.status().as_u16());
        assert_eq!(status.ok(), Some(200), "{}", receiver.log_tail(20));
        if slot == slots / 3 {
            let victim = samplers.remove(1);
            victim.process.signal(9);
            killed = Some(victim);
        }
        if slot == 2 * slots / 3 {
            samplers.push(spawn_sampler(dir.path(), &kafka, "samplers", "s4"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "sent {} spans of {TRACES} traces in {:?}",
        spans.len(),
        started.elapsed()
    );

    let live = &samplers;
    assert!(
        wait_long(Duration::from_secs(120), "samplers settled", || {
            std::thread::sleep(Duration::from_secs(1));
            live.iter().chain([&reference]).all(settled)
        }),
        "{}",
        live.iter()
            .chain([&reference])
            .map(|s| s.process.log_tail(20))
            .collect::<Vec<_>>()
            .join("\n----\n")
    );
    let mut outs: Vec<&Path> = live.iter().map(|s| s.out.as_path()).collect();
    let killed = killed.unwrap();
    outs.push(&killed.out);
    let kept = archived(&outs);
    let alone = archived(&[reference.out.as_path()]);
    // The killed sampler had kept traces before it died, and the one that
    // joined was given partitions and kept some too.
    let joined = samplers.last().unwrap();
    let withdrawn: f64 = live
        .iter()
        .filter_map(|s| {
            s.process
                .metric("logbridge_tail_sample_withdrawn_traces_total", &[])
        })
        .sum();
    eprintln!(
        "killed sampler kept {} traces, joined sampler {}; {withdrawn} traces withdrawn in rebalances",
        archived(&[killed.out.as_path()]).len(),
        archived(&[joined.out.as_path()]).len()
    );
    assert!(!archived(&[killed.out.as_path()]).is_empty());
    assert!(!archived(&[joined.out.as_path()]).is_empty());

    let mut partial = 0;
    for (who, traces) in [("group", &kept), ("alone", &alone)] {
        for (trace, spans) in traces {
            let whole = sent.get(trace).map_or(0, BTreeSet::len);
            if Some(spans) != sent.get(trace) {
                eprintln!(
                    "{who}: trace {trace} has {} of its {whole} spans",
                    spans.len()
                );
                partial += 1;
            }
        }
    }
    let kept_ids: BTreeSet<u32> = kept.keys().copied().collect();
    let alone_ids: BTreeSet<u32> = alone.keys().copied().collect();
    eprintln!(
        "kept {} traces in the group, {} alone; {} partial",
        kept_ids.len(),
        alone_ids.len(),
        partial
    );
    assert_eq!(partial, 0, "every trace kept is complete");
    assert!(
        (TRACES as usize / 5..TRACES as usize / 2).contains(&alone_ids.len()),
        "about 35% kept: {}",
        alone_ids.len()
    );
    assert_eq!(
        kept_ids.symmetric_difference(&alone_ids).count(),
        0,
        "the group keeps what one sampler keeps"
    );
    drop(receiver);
}
