//! Vector configs, written as Vector's documentation writes them (TOML and
//! YAML), run unchanged by the real binary wherever logbridge has the
//! components; and `validate` names what logbridge lacks (a Vector
//! component type or option) with the file, the line and a hint.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Env, Proc, free_port, http_get, read_lines, signal, wait_exit, wait_for};

/// Runs a config that ends by itself (every source has a `count`) and
/// returns the process's stdout.
fn run_to_end(env: &Env, config: &std::path::Path) -> String {
    let child = Command::new(support::bin())
        .args(["run", "--no-admin", "-c"])
        .arg(config)
        .env("LOGBRIDGE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir(env.dir.path())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json_lines(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn demo_logs_in_every_format_through_wildcard_inputs() {
    let env = Env::new();
    let config = env.write(
        "vector.toml",
        r#"
[sources.demo_common]
type = "demo_logs"
format = "apache_common"
count = 5
interval = 0.0

[sources.demo_error]
type = "demo_logs"
format = "apache_error"
count = 5
interval = 0.0

[sources.demo_bsd]
type = "demo_logs"
format = "bsd_syslog"
count = 5
interval = 0.0

[sources.demo_syslog]
type = "demo_logs"
format = "syslog"
count = 5
interval = 0.01

[sources.demo_json]
type = "demo_logs"
format = "json"
count = 5
interval = 0.0

[sources.demo_shuffle]
type = "demo_logs"
format = "shuffle"
lines = ["line one", "line two"]
sequence = true
count = 5
interval = 0.0

[sinks.out]
type = "file"
inputs = ["demo_*"]
path = "{dir}/out/demo.log"
encoding.codec = "json"
"#,
    );
    run_to_end(&env, &config);
    let events = json_lines(&read_lines(&env.path("out")));
    assert_eq!(events.len(), 30, "{events:?}");
    let messages: Vec<&str> = events
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    // Every event carries the time it was generated at, as in Vector.
    assert!(
        events.iter().all(|e| e["timestamp"].is_string()),
        "{events:?}"
    );
    let count = |pred: &dyn Fn(&str) -> bool| messages.iter().filter(|m| pred(m)).count();
    assert_eq!(count(&|m| m.contains("HTTP/1.1\" ")), 5, "apache_common");
    assert_eq!(count(&|m| m.contains("] [pid ")), 5, "apache_error");
    assert_eq!(
        count(&|m| m.starts_with('<') && m.contains(">1 ")),
        5,
        "syslog"
    );
    assert_eq!(
        count(&|m| m.starts_with('<') && !m.contains(">1 ")),
        5,
        "bsd_syslog"
    );
    assert_eq!(
        count(&|m| serde_json::from_str::<serde_json::Value>(m).is_ok()),
        5,
        "json"
    );
    let mut shuffled: Vec<&str> = messages
        .iter()
        .copied()
        .filter(|m| m.contains(" line "))
        .collect();
    shuffled.sort();
    assert_eq!(shuffled.len(), 5);
    for (n, m) in shuffled.iter().enumerate() {
        assert!(
            *m == format!("{n} line one") || *m == format!("{n} line two"),
            "{m}"
        );
    }
}

#[test]
fn yaml_file_source_filter_route_and_api() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("data")).unwrap();
    std::fs::create_dir_all(env.path("in")).unwrap();
    let lines = [
        r#"{"level":"error","status":503,"message":"upstream down"}"#,
        r#"{"level":"info","status":200,"message":"ok"}"#,
        r#"{"level":"debug","status":200,"message":"noise"}"#,
        r#"{"level":"warn","status":404,"message":"missing"}"#,
    ];
    std::fs::write(env.path("in/app.log"), lines.join("\n") + "\n").unwrap();
    let port = free_port();
    let config = env.write(
        "vector.yaml",
        &format!(
            r#"
data_dir: "{{dir}}/data"
api:
  enabled: true
  address: "127.0.0.1:{port}"
acknowledgements:
  enabled: true
sources:
  app_logs:
    type: file
    include: ["{{dir}}/in/*.log"]
    read_from: beginning
transforms:
  parsed:
    type: parse
    inputs: ["app_*"]
    format: json
  not_debug:
    type: filter
    inputs: ["parsed"]
    condition: '.level != "debug"'
  router:
    type: route
    inputs: ["not_debug"]
    route:
      errors: '.status >= 500'
      client: '.status >= 400 && .status < 500'
sinks:
  errors_out:
    type: file
    inputs: ["router.errors"]
    path: "{{dir}}/out/errors.log"
    encoding:
      codec: json
      only_fields: ["message", "status"]
    acknowledgements:
      enabled: true
    healthcheck:
      enabled: false
  all_routes:
    type: file
    inputs: ["router.*"]
    path: "{{dir}}/out/all.log"
    encoding:
      codec: logfmt
      except_fields: ["timestamp", "level", "file", "host"]
"#
        ),
    );
    let validated = env.validate(&config);
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    let mut child = Proc(env.spawn(&config, &[]));
    assert!(
        wait_for(Duration::from_secs(20), || {
            read_lines(&env.path("out")).len() >= 4
        }),
        "{:?}",
        read_lines(&env.path("out"))
    );
    // Vector's API address answers Vector's health check.
    let (code, body) = http_get(port, "/health").unwrap();
    assert_eq!((code, body.trim()), (200, r#"{"ok":true}"#));
    signal(&child.0, 15);
    let status = wait_exit(&mut child.0, Duration::from_secs(20)).unwrap();
    assert!(status.success());

    let errors = std::fs::read_to_string(env.path("out/errors.log")).unwrap();
    assert_eq!(errors, "{\"message\":\"upstream down\",\"status\":503}\n");
    let mut all: Vec<String> = std::fs::read_to_string(env.path("out/all.log"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    all.sort();
    // The debug line was filtered out; `router.*` took every route and
    // `_unmatched`.
    assert_eq!(
        all,
        [
            "message=\"upstream down\" status=503",
            "message=missing status=404",
            "message=ok status=200",
        ]
    );
}

#[test]
fn console_sink_with_encoding_options_and_decoded_demo_logs() {
    let env = Env::new();
    let config = env.write(
        "vector.toml",
        r#"
[sources.generated]
type = "demo_logs"
format = "shuffle"
lines = ['{"user":"ann","password":"hunter2","at":"x"}']
count = 3
interval = 0.0
decoding.codec = "json"

[sinks.print]
type = "console"
inputs = ["generated"]
target = "stdout"
encoding.codec = "json"
encoding.except_fields = ["password"]
encoding.timestamp_format = "unix"
"#,
    );
    let out = run_to_end(&env, &config);
    let events = json_lines(&out.lines().map(str::to_owned).collect::<Vec<_>>());
    assert_eq!(events.len(), 3, "{out}");
    for e in &events {
        assert_eq!(e["user"], "ann");
        assert!(e.get("password").is_none(), "{e}");
        assert!(e["timestamp"].as_i64().unwrap() > 1_600_000_000, "{e}");
    }
}

/// `validate` on a config: (exit code, stderr, stdout).
fn validate(text: &str, name: &str) -> (i32, String, String) {
    let env = Env::new();
    let path = env.write(name, text);
    let out = env.validate(&path);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn assert_contains(text: &str, expected: &[&str]) {
    for e in expected {
        assert!(text.contains(e), "expected `{e}` in:\n{text}");
    }
}

#[test]
fn validate_names_vector_components_logbridge_lacks() {
    let (code, err, _) = validate(
        r#"[sources.agent]
type = "datadog_agent"
address = "0.0.0.0:8080"

[sources.app]
type = "demo_logs"
format = "json"

[transforms.enrich]
type = "aws_ec2_metadata"
inputs = ["app"]

[transforms.script]
type = "lua"
inputs = ["app"]
version = "2"
source = "function process(event, emit) emit(event) end"

[sinks.out]
type = "console"
inputs = ["enrich", "script"]
encoding.codec = "json"
"#,
        "vector.toml",
    );
    assert_eq!(code, 78, "{err}");
    assert_contains(
        &err,
        &[
            "vector.toml:2:",
            "logbridge has no `datadog_agent` source",
            "vector.toml:10:",
            "in `enrich`: logbridge has no `aws_ec2_metadata` transform",
            "hint: not supported by logbridge; set static fields with the `modify` transform",
            "vector.toml:14:",
            "logbridge has no `lua` transform (a Vector transform logbridge does not have)",
            "hint: logbridge runs no scripts",
        ],
    );
    // The sink reading them is not reported again.
    assert!(!err.contains("in `out`"), "{err}");
}

#[test]
fn validate_names_vector_options_logbridge_lacks() {
    let (code, err, _) = validate(
        r#"sources:
  app:
    type: file
    include: ["/var/log/app/*.log"]
    multiline:
      start_pattern: '^\['
      mode: halt_before
      condition_pattern: '^\['
      timeout_ms: 1000
sinks:
  out:
    type: file
    inputs: ["app"]
    path: /tmp/out.log
    encoding:
      codec: csv
  printed:
    type: console
    inputs: ["app"]
    encoding:
      codec: json
      json:
        pretty: true
timezone: local
"#,
        "vector.yaml",
    );
    assert_eq!(code, 78, "{err}");
    assert_contains(
        &err,
        &[
            "vector.yaml:5:",
            "in `app`: `multiline` is a Vector option of `file` that logbridge does not support",
            "hint: not supported by logbridge: each line is one event",
            "vector.yaml:16:",
            "in `out`: logbridge has no `csv` codec",
            "hint: use json, logfmt",
            "vector.yaml:22:",
            "in `printed`: `encoding.json` is a Vector option of `console`",
            "vector.yaml:24:",
            "`timezone` is a Vector option that logbridge does not support",
            "4 errors in the configuration.",
        ],
    );
}

#[test]
fn a_wildcard_matching_nothing_is_an_error_unless_relaxed() {
    let config = r#"
[sources.app]
type = "demo_logs"
format = "json"

[sinks.out]
type = "blackhole"
inputs = ["app", "web_*"]
"#;
    let (code, err, _) = validate(config, "vector.toml");
    assert_eq!(code, 78, "{err}");
    assert_contains(
        &err,
        &[
            "vector.toml:8:",
            "in `out`: input `web_*` matches no component",
            "wildcard_matching = \"relaxed\"",
        ],
    );
    let (code, err, out) = validate(
        &format!("wildcard_matching = \"relaxed\"\n{config}"),
        "vector.toml",
    );
    assert_eq!(code, 0, "{err}");
    assert_contains(
        &err,
        &["vector.toml:9: warning: in `out`: input `web_*` matches no component; ignored"],
    );
    assert_contains(&out, &["Configuration is valid", "(1 warning)"]);
}

#[test]
fn accepted_vector_options_with_no_effect_are_warnings() {
    let (code, err, out) = validate(
        r#"[api]
enabled = true
playground = true

[acknowledgements]
enabled = false

[sources.app]
type = "demo_logs"
format = "json"

[sinks.out]
type = "blackhole"
inputs = ["app"]
healthcheck.enabled = true
"#,
        "vector.toml",
    );
    assert_eq!(code, 0, "{err}");
    assert_contains(
        &err,
        &[
            "vector.toml:3:1: warning: logbridge has no GraphQL API; `api.playground` has no effect",
            "vector.toml:6:1: warning: `acknowledgements.enabled = false` has no effect in logbridge",
            "receive.acknowledgements = false",
            "vector.toml:15:1: warning: logbridge runs no health check before starting a sink",
        ],
    );
    assert_contains(&out, &["(3 warnings)"]);
    // An unknown [api] option is an error at its line, not a parse failure.
    let (code, err, _) = validate(
        "[api]\nenabled = true\ncors = true\n[sources.app]\ntype = \"demo\"\n",
        "vector.toml",
    );
    assert_eq!(code, 78, "{err}");
    assert_contains(
        &err,
        &[
            "vector.toml:3:1: error: unknown option `cors` in [api]",
            "hint: [api] takes enabled, address, graphql and playground",
        ],
    );
}
