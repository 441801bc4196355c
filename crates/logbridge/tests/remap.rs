//! End-to-end: the `remap` transform (VRL) in the real binary, VRL
//! conditions, enrichment tables, `validate` on programs that do not
//! compile, and `logbridge test config` on Vector's own behaviour tests.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{Env, bin, wait_exit, wait_for};

const PIPELINE: &str = r#"data_dir = "{dir}/state"

[enrichment_tables.codes]
type = "file"
file.path = "{dir}/codes.csv"
file.encoding.type = "csv"
schema.code = "integer"

[sources.app]
type = "file"
include = ["{dir}/in/*.log"]
read_from = "beginning"

[transforms.shaped]
type = "remap"
inputs = ["app"]
drop_on_error = true
reroute_dropped = true
source = '''
. = parse_json!(.message)
.status = to_int!(.status)
.service = upcase(string!(.service))
del(.secret)
row = get_enrichment_table_record("codes", { "code": .status }) ?? {}
.meaning = row.meaning
'''

[transforms.errors]
type = "filter"
inputs = ["shaped"]
condition.type = "vrl"
condition.source = '(to_int(.status) ?? 0) >= 500'

[sinks.out]
type = "file"
inputs = ["errors"]
path = "{dir}/out/errors.log"
encoding.codec = "json"

[sinks.dead]
type = "file"
inputs = ["shaped.dropped"]
path = "{dir}/out/dropped.log"
encoding.codec = "json"
"#;

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn remap_parses_edits_enriches_and_reroutes_failures() {
    let env = Env::new();
    env.write(
        "codes.csv",
        "code,meaning\n200,OK\n503,Service Unavailable\n",
    );
    env.write(
        "in/app.log",
        concat!(
            r#"{"status":"200","service":"api","secret":"x"}"#,
            "\n",
            r#"{"status":"503","service":"db","secret":"y"}"#,
            "\n",
            "not json\n",
            r#"{"status":"500","service":"web"}"#,
            "\n",
        ),
    );
    let config = env.write("logbridge.toml", PIPELINE);
    let out = env.validate(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = env.spawn(&config, &[]);
    let (errors, dropped) = (env.path("out/errors.log"), env.path("out/dropped.log"));
    let done = wait_for(Duration::from_secs(20), || {
        lines(&errors).len() == 2 && lines(&dropped).len() == 1
    });
    support::signal(&child, 15);
    wait_exit(&mut child, Duration::from_secs(10));
    assert!(
        done,
        "errors: {:?}\ndropped: {:?}",
        lines(&errors),
        lines(&dropped)
    );

    let errors = lines(&errors);
    assert_eq!(errors[0]["status"], 503);
    assert_eq!(errors[0]["service"], "DB");
    assert_eq!(errors[0]["meaning"], "Service Unavailable");
    assert!(errors[0].get("secret").is_none());
    assert_eq!(errors[1]["status"], 500);
    assert_eq!(
        errors[1]["meaning"],
        Value::Null,
        "no row: `?? {{}}` leaves null"
    );

    let dropped = &lines(&dropped)[0];
    assert_eq!(dropped["message"], "not json", "the event as it came");
    let info = &dropped["metadata"]["dropped"];
    assert_eq!(info["reason"], "error");
    assert_eq!(info["component_id"], "shaped");
    assert_eq!(info["component_type"], "remap");
    assert_eq!(info["component_kind"], "transform");
    assert!(
        info["message"].as_str().unwrap().contains("parse_json"),
        "{info}"
    );
}

#[test]
fn validate_shows_vrls_diagnostic_at_the_program() {
    let env = Env::new();
    let config = env.write(
        "logbridge.toml",
        r#"data_dir = "{dir}/state"
[sources.app]
type = "stdin"

[transforms.shaped]
type = "remap"
inputs = ["app"]
source = '''
.a = 1
.b = parse_json(.message)
'''

[sinks.out]
type = "console"
inputs = ["shaped"]
encoding.codec = "json"
"#,
    );
    let out = env.validate(&config);
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    // Line 8: where the program starts (`source = '''`).
    assert!(
        text.contains("logbridge.toml:8"),
        "names the file and line: {text}"
    );
    assert!(text.contains("line 2 of the program"), "{text}");
    assert!(text.contains("unhandled fallible assignment"), "{text}");
    assert!(text.contains("^^^^"), "VRL's caret: {text}");
}

#[test]
fn a_table_declared_in_a_later_file_serves_a_program_in_an_earlier_one() {
    let env = Env::new();
    env.write("codes.csv", "code,meaning\n404,not found\n");
    let program = env.write(
        "pipeline.toml",
        r#"[sources.app]
type = "stdin"
[transforms.shaped]
type = "remap"
inputs = ["app"]
source = '.meaning = get_enrichment_table_record!("codes", { "code": "404" }).meaning'
[sinks.out]
type = "console"
inputs = ["shaped"]
encoding.codec = "json"
"#,
    );
    let tables = env.write(
        "tables.toml",
        r#"data_dir = "{dir}/state"
[enrichment_tables.codes]
type = "file"
file.path = "{dir}/codes.csv"
file.encoding.type = "csv"
"#,
    );
    let out = Command::new(bin())
        .arg("validate")
        .args([
            "-c",
            program.to_str().unwrap(),
            "-c",
            tables.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn test_config(files: &[&Path]) -> (bool, String) {
    let out = Command::new(bin())
        .args(["test", "config", "--verbose"])
        .args(files)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The totals line: (passed, failed, skipped).
fn totals(stdout: &str) -> (usize, usize, usize) {
    let last = stdout.lines().last().unwrap_or_default();
    let n: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    (n[0], n[1], n[2])
}

#[test]
fn vectors_behaviour_tests_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer/vector-tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6);
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (ok, stdout) = test_config(&paths);
    println!("{stdout}");
    let (passed, failed, skipped) = totals(&stdout);
    assert!(ok);
    assert_eq!((failed, skipped), (0, 0));
    assert!(passed >= 17, "{stdout}");
}

#[test]
fn a_test_needing_a_missing_transform_is_skipped_and_a_wrong_one_fails() {
    let env = Env::new();
    let config = env.write(
        "tests.toml",
        r#"
[transforms.script]
type = "lua"
inputs = []
version = "2"
source = "function process(e, emit) emit(e) end"

[transforms.tag]
type = "remap"
inputs = []
source = '.tagged = true'

[transforms.broken]
type = "remap"
inputs = []
source = '.a = parse_json(.message)'

[[tests]]
name = "needs lua"
[[tests.inputs]]
insert_at = "script"
value = "x"
[[tests.outputs]]
extract_from = "script"
[[tests.outputs.conditions]]
type = "vrl"
source = "true"

# Older Vector configs: one `input`, conditions of type `remap`.
[[tests]]
name = "tags"
[tests.input]
insert_at = "tag"
type = "log"
log_fields.message = "x"
[[tests.outputs]]
extract_from = "tag"
[[tests.outputs.conditions]]
type = "remap"
source = ".tagged == true"

[[tests]]
name = "uses a program that does not compile"
[[tests.inputs]]
insert_at = "broken"
value = "{}"

[[tests]]
name = "expects the wrong thing"
[[tests.inputs]]
insert_at = "tag"
value = "x"
[[tests.outputs]]
extract_from = "tag"
[[tests.outputs.conditions]]
type = "vrl"
source = 'assert_eq!(.message, "y")'
"#,
    );
    let (ok, stdout) = test_config(&[&config]);
    println!("{stdout}");
    assert!(!ok, "a failed test fails the run");
    assert_eq!(
        totals(&stdout),
        (1, 2, 1),
        "a broken transform fails only its tests"
    );
    assert!(stdout.contains("unhandled fallible assignment"), "{stdout}");
    assert!(
        stdout.contains("logbridge has no `lua` transform"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expects the wrong thing\": FAILED"),
        "{stdout}"
    );
}
