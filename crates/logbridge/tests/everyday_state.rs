//! End-to-end: the stateful everyday transforms (`sample`, `dedupe`,
//! `throttle`, `reduce`) in the real binary, from a file to files, with
//! their bounded state's evictions read from the admin metrics.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Env, read_lines, wait_exit, wait_for};

const CONFIG: &str = r#"data_dir = "{dir}/state"
[sources.app]
type = "file"
include = ["{dir}/in/*.log"]
read_from = "beginning"

[transforms.parsed]
type = "parse"
inputs = ["app"]
format = "json"

[transforms.by_kind]
type = "route"
inputs = ["parsed"]
route.sample = '.kind == "sample"'
route.dedupe = '.kind == "dedupe"'
route.throttle = '.kind == "throttle"'
route.reduce = '.kind == "reduce"'

[transforms.sampled]
type = "sample"
inputs = ["by_kind.sample"]
rate = 4

[transforms.deduped]
type = "dedupe"
inputs = ["by_kind.dedupe"]
fields.match = ["d"]
cache.num_events = 2

[transforms.throttled]
type = "throttle"
inputs = ["by_kind.throttle"]
threshold = 2
window_secs = 3600
key_field = "{{ service }}"
max_keys = 1

[transforms.reduced]
type = "reduce"
inputs = ["by_kind.reduce"]
group_by = ["request_id"]
merge_strategies.message = "concat"
ends_when = '.done == true'
max_groups = 2

[sinks.sample_out]
type = "file"
inputs = ["sampled"]
path = "{dir}/out/sample.log"
encoding.codec = "json"

[sinks.dedupe_out]
type = "file"
inputs = ["deduped"]
path = "{dir}/out/dedupe.log"
encoding.codec = "json"

[sinks.throttle_out]
type = "file"
inputs = ["throttled"]
path = "{dir}/out/throttle.log"
encoding.codec = "json"

[sinks.throttle_dropped]
type = "file"
inputs = ["throttled.dropped"]
path = "{dir}/out/throttle_dropped.log"
encoding.codec = "json"

[sinks.reduce_out]
type = "file"
inputs = ["reduced"]
path = "{dir}/out/reduce.log"
encoding.codec = "json"
"#;

fn input() -> String {
    let mut lines = Vec::new();
    for n in 0..20 {
        lines.push(format!(r#"{{"kind":"sample","n":{n},"message":"s{n}"}}"#));
    }
    // With room for two, `a` is forgotten by the time it comes back.
    for (n, d) in ["a", "a", "b", "c", "a"].iter().enumerate() {
        lines.push(format!(r#"{{"kind":"dedupe","n":{n},"d":"{d}"}}"#));
    }
    // Two per hour per service, one service tracked: `y` pushes `x` out,
    // and `x` comes back with a fresh allowance.
    for (n, s) in ["x", "x", "x", "y", "x"].iter().enumerate() {
        lines.push(format!(r#"{{"kind":"throttle","n":{n},"service":"{s}"}}"#));
    }
    // Room for two groups: r3 opening makes r1 (the stalest) go early; r2
    // ends with `done`; r3 is still open when the run stops.
    for (id, message, done) in [
        ("r1", "a", false),
        ("r2", "b", false),
        ("r1", "c", false),
        ("r2", "d", false),
        ("r3", "e", false),
        ("r2", "f", true),
        ("r3", "g", false),
    ] {
        lines.push(format!(
            r#"{{"kind":"reduce","request_id":"{id}","message":"{message}","n":1,"done":{done}}}"#
        ));
    }
    lines.join("\n") + "\n"
}

fn json_lines(env: &Env, name: &str) -> Vec<Value> {
    read_lines(&env.path("out"))
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str::<Value>(&l).unwrap())
        .filter(|v| v["kind"] == name)
        .collect()
}

fn in_file(env: &Env, file: &str) -> Vec<Value> {
    std::fs::read_to_string(env.path(&format!("out/{file}")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn sample_dedupe_throttle_and_reduce_end_to_end() {
    let env = Env::new();
    env.write("in/app.log", &input());
    let config = env.write("p.toml", CONFIG);
    let port = support::free_port();
    let mut child = env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{port}")]);
    let done = wait_for(Duration::from_secs(30), || {
        json_lines(&env, "sample").len() >= 5
            && json_lines(&env, "dedupe").len() >= 4
            && json_lines(&env, "throttle").len() >= 5
            && json_lines(&env, "reduce").len() >= 2
    });
    assert!(done, "outputs: {:?}", read_lines(&env.path("out")));
    let evictions = |component: &str, state: &str| {
        support::metric(
            port,
            "logbridge_component_evictions_total",
            &[("component_id", component), ("state", state)],
        )
    };
    assert_eq!(evictions("deduped", "cache"), Some(2.0));
    assert_eq!(evictions("throttled", "key"), Some(2.0));
    assert_eq!(evictions("reduced", "group"), Some(1.0));
    let discarded = support::metric(
        port,
        "logbridge_component_discarded_events_total",
        &[("component_id", "sampled"), ("intentional", "true")],
    );
    assert_eq!(discarded, Some(15.0));
    support::signal(&child, 15);
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("exits after SIGTERM");
    assert!(status.success(), "{status}");

    // sample: every 4th log, in order, with the rate recorded.
    let sampled = in_file(&env, "sample.log");
    let ns: Vec<_> = sampled.iter().map(|v| v["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, [0, 4, 8, 12, 16]);
    assert!(sampled.iter().all(|v| v["sample_rate"] == "4"));

    // dedupe: the repeat of `a` is dropped; `a` forgotten later passes.
    let deduped = in_file(&env, "dedupe.log");
    let ds: Vec<_> = deduped
        .iter()
        .map(|v| v["d"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ds, ["a", "b", "c", "a"]);

    // throttle: the third `x` is held back and goes to `dropped`, marked.
    let passed = in_file(&env, "throttle.log");
    let ns: Vec<_> = passed.iter().map(|v| v["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, [0, 1, 3, 4]);
    let held = in_file(&env, "throttle_dropped.log");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["n"], 2);
    assert_eq!(held[0]["dropped"]["reason"], "throttled");

    // reduce: r1 went early, r2 ended with `done`, r3 at shutdown.
    let reduced = in_file(&env, "reduce.log");
    let by_id = |id: &str| {
        reduced
            .iter()
            .find(|v| v["request_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(reduced.len(), 3, "{reduced:?}");
    assert_eq!(by_id("r1")["message"], "a c");
    assert_eq!(by_id("r1")["n"], 2);
    assert_eq!(by_id("r2")["message"], "b d f");
    assert_eq!(by_id("r2")["n"], 3);
    assert_eq!(by_id("r3")["message"], "e g");
    assert!(by_id("r2")["timestamp_end"].is_string(), "{reduced:?}");

    // Everything was acknowledged, r3 included (held by its group until
    // the end): a restart reads only what is new.
    let mut child = env.spawn(&config, &["--no-admin"]);
    std::fs::write(
        env.path("in/more.log"),
        r#"{"kind":"reduce","request_id":"r9","message":"z","n":1,"done":true}"#.to_owned() + "\n",
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(30), || {
        in_file(&env, "reduce.log").len() >= 4
    }));
    support::signal(&child, 15);
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert_eq!(in_file(&env, "sample.log").len(), 5);
    assert_eq!(in_file(&env, "dedupe.log").len(), 4);
    assert_eq!(in_file(&env, "reduce.log").len(), 4);
}
