//! End-to-end: metrics made from logs, with the real binary. JSON lines in
//! a file are parsed and turned into metrics by `log_to_metric`, served by
//! the `prometheus_exporter`, written back as logs by `metric_to_log`, and
//! summed per interval by `aggregate`.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Env, Proc, read_lines, wait_exit, wait_for};

/// The file source reading `in/*.log` and a JSON parse, as TOML.
const READ_AND_PARSE: &str = r#"data_dir = "{dir}/state"
[sources.app]
type = "file"
include = ["{dir}/in/*.log"]
read_from = "beginning"
glob_minimum_cooldown_ms = 100
[transforms.parsed]
type = "parse"
inputs = ["app"]
format = "json"
"#;

/// The config: the file source and parse, then `rest` (with `{dir}`).
fn pipeline(env: &Env, rest: &str) -> std::path::PathBuf {
    env.write("p.toml", &format!("{READ_AND_PARSE}\n{rest}"))
}

/// A `file` sink writing `input` as JSON lines into the folder `dir`.
fn json_file_sink(name: &str, input: &str, dir: &str) -> String {
    format!(
        "[sinks.{name}]\ntype = \"file\"\ninputs = [\"{input}\"]\n\
         path = \"{{dir}}/{dir}/out.log\"\nencoding.codec = \"json\"\n"
    )
}

/// Runs `config` until the JSON lines in `dir` satisfy `done`, then stops
/// it with SIGTERM and returns them.
fn run_until(
    env: &Env,
    config: &std::path::Path,
    dir: &str,
    mut done: impl FnMut(&[Value]) -> bool,
) -> Vec<Value> {
    let mut process = Proc(env.spawn(config, &["--no-admin"]));
    assert!(
        wait_for(Duration::from_secs(20), || done(&json_lines(env, dir))),
        "{:?}",
        json_lines(env, dir)
    );
    stop_ok(&mut process);
    json_lines(env, dir)
}

fn json_lines(env: &Env, dir: &str) -> Vec<Value> {
    read_lines(&env.path(dir))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn append(env: &Env, lines: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(env.path("in/app.log"))
        .unwrap();
    f.write_all(lines.as_bytes()).unwrap();
}

/// Stops a run with SIGTERM; it must exit 0.
fn stop_ok(process: &mut Proc) {
    support::signal(&process.0, 15);
    let status = wait_exit(&mut process.0, Duration::from_secs(20)).expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn log_to_metric_feeds_the_prometheus_exporter() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    append(
        &env,
        "{\"status\":200,\"service\":\"shop\",\"duration\":0.2}\n\
         {\"status\":200,\"service\":\"shop\",\"duration\":0.7}\n\
         {\"status\":503,\"service\":\"shop\",\"duration\":3}\n\
         {\"service\":\"shop\",\"duration\":0.1}\n\
         {\"status\":200,\"service\":\"shop\",\"duration\":\"slow\"}\n",
    );
    let port = support::free_port();
    let config = pipeline(
        &env,
        &format!(
            r#"[transforms.metrics]
type = "log_to_metric"
inputs = ["parsed"]
[[transforms.metrics.metrics]]
type = "counter"
field = "status"
name = "responses_total"
namespace = "{{{{ service }}}}"
tags.status = "{{{{ status }}}}"
[[transforms.metrics.metrics]]
type = "histogram"
field = "duration"
name = "duration_seconds"
buckets = [0.5, 1.0]

[sinks.exporter]
type = "prometheus_exporter"
inputs = ["metrics"]
address = "127.0.0.1:{port}"

{}"#,
            json_file_sink("unusable", "metrics.dropped", "dropped")
        ),
    );
    let mut process = Proc(env.spawn(&config, &["--no-admin"]));
    let mut text = String::new();
    let served = wait_for(Duration::from_secs(20), || {
        text = support::http_get(port, "/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default();
        support::servers::metric(&text, "duration_seconds_count", &[]) == Some(3.0)
    });
    assert!(served, "{text}");
    let value = |name, labels: &[(&str, &str)]| support::servers::metric(&text, name, labels);
    // Every log gives all its metrics or none (the one without `status`
    // and the one whose duration is not a number give none).
    assert_eq!(
        value("shop_responses_total", &[("status", "200")]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value("shop_responses_total", &[("status", "503")]),
        Some(1.0)
    );
    assert_eq!(
        value("duration_seconds_bucket", &[("le", "0.5")]),
        Some(1.0)
    );
    assert_eq!(
        value("duration_seconds_bucket", &[("le", "1.0")]),
        Some(2.0)
    );
    assert_eq!(
        value("duration_seconds_bucket", &[("le", "+Inf")]),
        Some(3.0)
    );
    let sum = value("duration_seconds_sum", &[]).unwrap();
    assert!((sum - 3.9).abs() < 1e-9, "{sum}");
    assert!(
        text.contains("# TYPE shop_responses_total counter"),
        "{text}"
    );
    assert!(text.contains("# TYPE duration_seconds histogram"), "{text}");

    assert!(wait_for(Duration::from_secs(10), || json_lines(
        &env, "dropped"
    )
    .len()
        == 2));
    stop_ok(&mut process);
    let reasons: Vec<Value> = json_lines(&env, "dropped")
        .iter()
        .map(|d| d["dropped"]["reason"].clone())
        .collect();
    assert_eq!(reasons, ["field_not_found", "not_a_number"]);
}

#[test]
fn metric_to_log_writes_metrics_as_vector_shaped_logs() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    append(
        &env,
        "{\"temperature\":21.5,\"host\":\"h1\",\"site\":\"a\"}\n\
         {\"temperature\":\"19\",\"host\":\"h2\",\"site\":\"b\"}\n",
    );
    let config = pipeline(
        &env,
        &format!(
            r#"[transforms.metrics]
type = "log_to_metric"
inputs = ["parsed"]
metrics = [
  {{ type = "gauge", field = "temperature", tags = {{ host = "{{{{ host }}}}", site = "{{{{ site }}}}" }} }},
  {{ type = "counter", field = "site", name = "readings_total" }},
]

[transforms.logs]
type = "metric_to_log"
inputs = ["metrics"]
host_tag = "host"

{}"#,
            json_file_sink("out", "logs", "out")
        ),
    );
    let logs = run_until(&env, &config, "out", |logs| logs.len() >= 4);
    assert_eq!(logs.len(), 4, "{logs:?}");
    let gauges: Vec<&Value> = logs.iter().filter(|l| l["name"] == "temperature").collect();
    assert_eq!(gauges.len(), 2);
    let first = gauges.iter().find(|l| l["host"] == "h1").unwrap();
    assert_eq!(first["kind"], "absolute");
    assert_eq!(first["gauge"]["value"], 21.5);
    assert_eq!(first["tags"], serde_json::json!({"site": "a"}));
    // RFC 3339 in UTC, as Vector writes it.
    let time = first["timestamp"].as_str().unwrap();
    assert!(time.starts_with("20") && time.ends_with('Z'), "{time}");
    let second = gauges.iter().find(|l| l["host"] == "h2").unwrap();
    assert_eq!(second["gauge"]["value"], 19.0);
    let counters: Vec<&Value> = logs
        .iter()
        .filter(|l| l["name"] == "readings_total")
        .collect();
    assert_eq!(counters.len(), 2);
    assert!(counters.iter().all(|c| c["kind"] == "incremental"
        && c["counter"]["value"] == 1.0
        && c.get("tags").is_none()));
}

/// The sum of the `value`s of the points named `name` written as JSON.
fn total(points: &[Value], name: &str) -> f64 {
    points
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| p["value"].as_f64().unwrap())
        .sum()
}

#[test]
fn aggregate_sums_counters_per_interval_and_commits_what_it_sent() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    let lines = |n: usize, bytes: u64| {
        (0..n)
            .map(|_| format!("{{\"path\":\"/a\",\"bytes\":{bytes}}}\n"))
            .collect::<String>()
    };
    append(&env, &lines(50, 10));
    let config = pipeline(
        &env,
        &format!(
            r#"[transforms.metrics]
type = "log_to_metric"
inputs = ["parsed"]
metrics = [
  {{ type = "counter", field = "path", name = "requests_total" }},
  {{ type = "counter", field = "bytes", name = "bytes_total", increment_by_value = true }},
]

[transforms.summed]
type = "aggregate"
inputs = ["metrics"]
interval_ms = 300

{}"#,
            json_file_sink("out", "summed", "out")
        ),
    );
    let points = run_until(&env, &config, "out", |p| total(p, "requests_total") >= 50.0);
    assert_eq!(total(&points, "requests_total"), 50.0);
    assert_eq!(total(&points, "bytes_total"), 500.0);
    // Summed: far fewer points than logs.
    let requests: Vec<&Value> = points
        .iter()
        .filter(|p| p["name"] == "requests_total")
        .collect();
    assert!(requests.len() < 50, "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|p| p["kind"] == "counter" && p["temporality"] == "delta")
    );

    // What was summed was acknowledged, so the source committed it: a
    // restart reads only the new lines.
    append(&env, &lines(20, 1));
    let points = run_until(&env, &config, "out", |p| total(p, "requests_total") >= 70.0);
    assert_eq!(total(&points, "requests_total"), 70.0);
    assert_eq!(total(&points, "bytes_total"), 520.0);
}
