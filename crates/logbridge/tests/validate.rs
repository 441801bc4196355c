//! `logbridge validate`: every problem is reported at once, each with the
//! file, the line and a hint, and the exit code is 78 (EX_CONFIG).

mod support;

use support::Env;

fn stderr_of(env: &Env, name: &str, text: &str) -> (i32, String) {
    let path = env.write(name, text);
    let out = env.validate(&path);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks one broken config: exit 78 and each expected fragment present.
fn check(text: &str, expected: &[&str]) {
    let env = Env::new();
    let (code, err) = stderr_of(&env, "bad.toml", text);
    assert_eq!(code, 78, "{err}");
    for e in expected {
        assert!(err.contains(e), "expected `{e}` in:\n{err}");
    }
}

const SOURCE: &str = "[sources.app]\ntype = \"demo\"\n";

#[test]
fn valid_config_passes() {
    let env = Env::new();
    let path = env.write(
        "ok.toml",
        &format!("{SOURCE}[sinks.out]\ntype = \"blackhole\"\ninputs = [\"app\"]\n"),
    );
    let out = env.validate(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
}

#[test]
fn a_receiver_that_would_wait_out_a_tail_sample_is_warned_about() {
    let env = Env::new();
    let config = |acknowledgements: bool| {
        format!(
            r#"[sources.otel]
type = "otlp"
http.address = "127.0.0.1:14318"
grpc.address = "127.0.0.1:14317"
receive.acknowledgements = {acknowledgements}
[transforms.some]
type = "sample"
inputs = ["otel.traces"]
rate = 2
[transforms.keep]
type = "tail_sample"
inputs = ["some"]
decision_wait_secs = 10
[[transforms.keep.policies]]
name = "all"
type = "always_sample"
[sinks.out]
type = "blackhole"
inputs = ["keep"]
"#
        )
    };
    let path = env.write("held.toml", &config(true));
    let out = env.validate(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("held.toml:12: warning: `keep` holds events for up to 10 s, so `otel` answers each request only after that"),
        "{stderr}"
    );
    assert!(
        stderr.contains("receive.acknowledgements = false"),
        "{stderr}"
    );
    let path = env.write("answered.toml", &config(false));
    let out = env.validate(&path);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn unknown_component_type() {
    check(
        &format!("{SOURCE}[transforms.t]\ntype = \"fitler\"\ninputs = [\"app\"]\n"),
        &[
            "bad.toml:4:",
            "unknown transform type `fitler`",
            "did you mean `filter`?",
        ],
    );
}

#[test]
fn unknown_option() {
    check(
        "[sources.app]\ntype = \"demo\"\nintervall_secs = 1\n",
        &[
            "bad.toml:3:",
            "unknown option `intervall_secs` in demo `app`",
            "did you mean `interval_secs`?",
        ],
    );
}

#[test]
fn missing_and_unknown_inputs() {
    check(
        &format!(
            "{SOURCE}[sinks.a]\ntype = \"blackhole\"\n\n[sinks.b]\ntype = \"blackhole\"\ninputs = [\"apq\"]\n"
        ),
        &[
            "bad.toml:3:",
            "sink `a` has no `inputs`",
            "bad.toml:8:",
            "input `apq` does not exist",
            "did you mean `app`?",
        ],
    );
}

#[test]
fn cycle() {
    check(
        &format!(
            "{SOURCE}[transforms.x]\ntype = \"filter\"\ninputs = [\"app\", \"y\"]\ncondition = \"true\"\n\
             [transforms.y]\ntype = \"filter\"\ninputs = [\"x\"]\ncondition = \"true\"\n"
        ),
        &["cycle through x, y"],
    );
}

#[test]
fn sink_with_empty_inputs() {
    check(
        &format!("{SOURCE}[sinks.out]\ntype = \"blackhole\"\ninputs = []\n"),
        &["bad.toml:5:", "sink `out` has no inputs"],
    );
}

#[test]
fn output_that_does_not_exist() {
    check(
        &format!(
            "{SOURCE}[transforms.p]\ntype = \"parse\"\ninputs = [\"app\"]\nformat = \"json\"\n\
             [sinks.out]\ntype = \"blackhole\"\ninputs = [\"p.droped\"]\n"
        ),
        &[
            "bad.toml:9:",
            "`p` has no output `droped`",
            "its outputs are: p, p.dropped",
        ],
    );
}

#[test]
fn route_has_no_default_output() {
    check(
        &format!(
            "{SOURCE}[transforms.r]\ntype = \"route\"\ninputs = [\"app\"]\nroute.err = \".status >= 500\"\n\
             [sinks.out]\ntype = \"blackhole\"\ninputs = [\"r\"]\n"
        ),
        &["`r` has no default output", "r.err, r._unmatched"],
    );
}

#[test]
fn condition_that_does_not_parse() {
    check(
        &format!(
            "{SOURCE}[transforms.f]\ntype = \"filter\"\ninputs = [\"app\"]\ncondition = '.status >= '\n"
        ),
        &[
            "bad.toml:6:",
            "the VRL program does not compile: syntax error",
        ],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let env = Env::new();
    let (code, err) = stderr_of(
        &env,
        "many.toml",
        "[sources.app]\ntype = \"demo\"\nbogus = 1\n[sinks.a]\ntype = \"nope\"\ninputs = [\"app\"]\n[sinks.b]\ntype = \"file\"\ninputs = [\"app\"]\n",
    );
    assert_eq!(code, 78);
    assert!(err.contains("unknown option `bogus`"), "{err}");
    assert!(err.contains("unknown sink type `nope`"), "{err}");
    assert!(err.contains("missing field `path`"), "{err}");
    assert!(err.contains("3 errors in the configuration."), "{err}");
}

/// One component with several problems (an unknown input, an invalid
/// condition, two unknown options, a bad `inputs` beside a bad option)
/// gets every one reported in one run, not one per run.
#[test]
fn regression_every_problem_of_one_component_is_reported() {
    let env = Env::new();
    let (code, err) = stderr_of(
        &env,
        "many.toml",
        &format!(
            "{SOURCE}[transforms.f]\ntype = \"filter\"\ninputs = [\"ap\"]\ncondition = '.status >= '\n\
             [transforms.g]\ntype = \"filter\"\ninputs = [\"app\"]\ncondition = \"true\"\ncolour = 1\nshape = 2\n\
             [sinks.s]\ntype = \"file\"\ninputs = \"app\"\npath = 3\n"
        ),
    );
    assert_eq!(code, 78);
    for expected in [
        "many.toml:5:",
        "the VRL program does not compile",
        "input `ap` does not exist",
        "unknown option `colour`",
        "unknown option `shape`",
        "`inputs` must be a list",
        "at `path`",
        "6 errors in the configuration.",
    ] {
        assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
    }
}

/// Messages never repeat a credential: the password of a URL is masked,
/// and the value of an option that holds a secret is not quoted.
#[test]
fn regression_validate_does_not_echo_secrets() {
    let env = Env::new();
    let (code, err) = stderr_of(
        &env,
        "secrets.toml",
        &format!(
            "{SOURCE}[sinks.o]\ntype = \"otlp\"\ninputs = [\"app\"]\nendpoint = \"ftp://user:PASS1@x\"\nheaders.authorization = 918273\n\
             [sinks.l]\ntype = \"loki\"\ninputs = [\"app\"]\nendpoint = \"http://u:PASS2@127.0.0.1:1\"\nauth = {{ strategy = \"basic\", user = \"u\", password = 564738 }}\n"
        ),
    );
    assert_eq!(code, 78, "{err}");
    for secret in ["PASS1", "PASS2", "918273", "564738"] {
        assert!(!err.contains(secret), "`{secret}` leaked in:\n{err}");
    }
    assert!(err.contains("ftp://user:***@x"), "{err}");
    assert!(err.contains("this option holds a secret"), "{err}");
}

#[test]
fn syntax_error_names_line() {
    check(
        "[sources.app]\ntype = \"demo\"\nformat = \n",
        &["bad.toml:3:", "invalid TOML"],
    );
}

#[test]
fn missing_environment_variable() {
    check(
        "[sources.app]\ntype = \"demo\"\nformat = \"${LOGBRIDGE_TEST_SURELY_UNSET}\"\n",
        &[
            "bad.toml:3:",
            "environment variable `LOGBRIDGE_TEST_SURELY_UNSET` is not set",
            "${NAME:-default}",
        ],
    );
}

#[test]
fn environment_defaults_apply() {
    let env = Env::new();
    let path = env.write(
        "ok.toml",
        "[sources.app]\ntype = \"demo\"\nformat = \"${LOGBRIDGE_TEST_SURELY_UNSET:-logfmt}\"\n[sinks.out]\ntype = \"blackhole\"\ninputs = [\"app\"]\n",
    );
    assert!(env.validate(&path).status.success());
}

#[test]
fn yaml_errors_have_lines_too() {
    let env = Env::new();
    let (code, err) = stderr_of(
        &env,
        "bad.yaml",
        "sources:\n  app:\n    type: demo\n    formatt: json\nsinks:\n  out:\n    type: blackhole\n    inputs: [app]\n",
    );
    assert_eq!(code, 78);
    assert!(err.contains("bad.yaml:4:"), "{err}");
    assert!(err.contains("did you mean `format`?"), "{err}");
}

#[test]
fn several_files_merge_and_duplicates_are_reported() {
    let env = Env::new();
    let a = env.write("a.toml", SOURCE);
    let b = env.write(
        "b.toml",
        "[sinks.out]\ntype = \"blackhole\"\ninputs = [\"app\"]\n",
    );
    let out = std::process::Command::new(support::bin())
        .args(["validate", "-c"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = env.write("c.toml", SOURCE);
    let out = std::process::Command::new(support::bin())
        .args(["validate", "-c"])
        .arg(&a)
        .arg(&c)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("declared twice"));
}

#[test]
fn run_refuses_invalid_config_with_78() {
    let env = Env::new();
    let path = env.write("bad.toml", "[sources.app]\ntype = \"nope\"\n");
    let mut child = env.spawn(&path, &["--no-admin"]);
    let status = support::wait_exit(&mut child, std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(78));
}

#[test]
fn configuration_reference_is_current() {
    let out = std::process::Command::new(support::bin())
        .arg("config-reference")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap();
    assert!(
        generated == committed,
        "docs/configuration.md is stale: run `cargo run -- config-reference > docs/configuration.md`"
    );
}

#[test]
fn buffer_options_are_checked() {
    check(
        &format!(
            "{SOURCE}[sinks.out]\ntype = \"blackhole\"\ninputs = [\"app\"]\nbuffer.type = \"memory\"\nbuffer.max_evnts = 10\n"
        ),
        &[
            "bad.toml:7:",
            "invalid `buffer` of `out`",
            "unknown field `max_evnts`",
        ],
    );
    check(
        &format!(
            "{SOURCE}[sinks.out]\ntype = \"blackhole\"\ninputs = [\"app\"]\nbuffer.type = \"disk\"\nbuffer.max_events = 10\n"
        ),
        &["bad.toml:7:", "bounded by `max_size`"],
    );
    check(
        &format!(
            "{SOURCE}[transforms.f]\ntype = \"filter\"\ninputs = [\"app\"]\ncondition = \"true\"\nbuffer.type = \"memory\"\n"
        ),
        &["bad.toml:7:", "only sinks take a `buffer`"],
    );
}

/// Every config shipped in `examples/` is valid.
#[test]
fn shipped_examples_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        // From the repository root, where the examples say to run them
        // (their relative paths, such as rule files, start there).
        let out = std::process::Command::new(support::bin())
            .args(["validate", "-c"])
            .arg(&path)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 2, "examples found: {checked}");
}

#[test]
fn rule_files_are_checked_with_positions() {
    let env = Env::new();
    let good = env.write(
        "good.yml",
        "groups:\n  - name: ok\n    rules:\n      - record: r\n        expr: sum(up)\n",
    );
    let bad = env.write(
        "bad.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rat(x[5m]) > 0\n      \
         - alert: B\n        expr: up == 0\n        annotations:\n          summary: '{{ $labels.job '\n",
    );
    let config = format!(
        "[sources.self]\ntype = \"internal_metrics\"\n\
         [transforms.rules]\ntype = \"rules\"\ninputs = [\"self\"]\nrule_files = [{:?}, {:?}]\n\
         [sinks.out]\ntype = \"blackhole\"\ninputs = [\"rules.records\"]\n",
        good.display().to_string(),
        bad.display().to_string()
    );
    let (code, err) = stderr_of(&env, "rules.toml", &config);
    assert_eq!(code, 78, "{err}");
    for expected in [
        "bad.yml:5:15: group \"g\", rule 1 (alert \"A\"): expr: unknown function with name 'rat'",
        "bad.yml:9:20: group \"g\", rule 2 (alert \"B\"): annotation \"summary\": template: check:1:16: unclosed action",
    ] {
        assert!(err.contains(expected), "expected `{expected}` in:\n{err}");
    }
    assert!(!err.contains("good.yml"), "{err}");
}
