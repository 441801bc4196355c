//! The rules engine from the command line: `logbridge test promql` over
//! Prometheus' own PromQL test files, and over a file of our own with a
//! failing and a skipped case.

use std::process::Command;

const PEER_PROMQL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/peer/promql");

/// Runs `logbridge test promql` and returns (exit success, stdout).
fn test_promql(files: &[std::path::PathBuf]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logbridge"))
        .args(["test", "promql"])
        .args(files)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

/// The last line's counts: (passed, failed, skipped).
fn totals(stdout: &str) -> (usize, usize, usize) {
    let last = stdout.lines().last().unwrap();
    let numbers: Vec<usize> = last
        .split(", ")
        .map(|part| part.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(last.ends_with(" skipped"), "{last}");
    (numbers[0], numbers[1], numbers[2])
}

#[test]
fn promql_peer_files_pass() {
    let mut files: Vec<_> = std::fs::read_dir(PEER_PROMQL)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (_, stdout) = test_promql(&files);
    for file in &files {
        let name = file.display().to_string();
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name}: ")) && l.ends_with(" skipped")),
            "no summary line for {name}:\n{stdout}"
        );
    }
    let (passed, failed, skipped) = totals(&stdout);
    let ran = passed + failed;
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    assert!(ran > 700, "{stdout}");
    assert!(passed * 100 >= ran * 98, "{stdout}");
}

#[test]
fn promql_failures_and_skips_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("own.test");
    std::fs::write(
        &path,
        "load 1m\n  up{job=\"a\"} 1 0 1\n  h {{schema:0 count:1}}\n\n\
         eval instant at 2m up\n  up{job=\"a\"} 1\n\n\
         eval instant at 2m up\n  up{job=\"a\"} 7\n\n\
         eval instant at 2m h\n  h {{schema:0 count:1}}\n\n\
         eval range from 0 to 2m step 1m up == 0\n  up{job=\"a\"} _ 0 _\n",
    )
    .unwrap();
    let (ok, stdout) = test_promql(std::slice::from_ref(&path));
    assert!(!ok, "a failing case must fail the command");
    assert_eq!(totals(&stdout), (2, 1, 1), "{stdout}");
    assert!(stdout.contains(":8: FAILED up"), "{stdout}");
}

const PEER_PROMTOOL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/peer/promtool/unittest.yml"
);

/// Runs `logbridge test rules` and returns (exit success, stdout).
fn test_rules(file: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logbridge"))
        .args(["test", "rules"])
        .arg(file)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

/// Prometheus' `promtool`, next to the `prometheus` binary the test command
/// installs.
fn promtool() -> std::path::PathBuf {
    let prometheus = std::env::var("PROMETHEUS").expect("PROMETHEUS is not set");
    let path = std::path::Path::new(&prometheus).with_file_name("promtool");
    assert!(path.exists(), "no promtool next to {prometheus}");
    path
}

#[test]
fn promtool_peer_file_passes() {
    let (ok, stdout) = test_rules(std::path::Path::new(PEER_PROMTOOL));
    assert!(ok, "{stdout}");
    let (passed, failed, skipped) = totals(&stdout);
    // Three cases compare native histograms.
    assert_eq!((passed, failed, skipped), (23, 0, 3), "{stdout}");
}

const OWN_RULES: &str = "groups:
  - name: api
    rules:
      - record: job:errors:rate1m
        expr: sum by (job) (rate(errors_total[2m]))
      - alert: ErrorsHigh
        expr: job:errors:rate1m > 0.5
        for: 2m
        labels:
          severity: page
        annotations:
          summary: 'errors of {{ $labels.job }} at {{ $value | humanize }}/s'
";

const OWN_TESTS: &str = "rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'errors_total{job=\"api\", instance=\"a\"}'
        values: '0+60x10 600+0x10'
      - series: 'errors_total{job=\"api\", instance=\"b\"}'
        values: '0+30x20'
    promql_expr_test:
      - expr: job:errors:rate1m
        eval_time: 5m
        exp_samples:
          - labels: 'job:errors:rate1m{job=\"api\"}'
            value: 1.5
    alert_rule_test:
      - eval_time: 2m
        alertname: ErrorsHigh
        exp_alerts: []
      - eval_time: 4m
        alertname: ErrorsHigh
        exp_alerts:
          - exp_labels: {severity: page, job: api}
            exp_annotations:
              summary: 'errors of api at 1.5/s'
      - eval_time: 15m
        alertname: ErrorsHigh
        exp_alerts: []
";

/// A rule test file of our own gives the same verdicts in logbridge and in
/// Prometheus' own promtool: all pass; with one expectation wrong, both fail.
#[test]
fn own_rule_tests_agree_with_promtool() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), OWN_RULES).unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, OWN_TESTS).unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, OWN_TESTS.replace("value: 1.5", "value: 2")).unwrap();

    let promtool_ok = |file: &std::path::Path| {
        let out = Command::new(promtool())
            .args(["test", "rules"])
            .arg(file)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, stdout) = test_rules(&good);
    let (their_ok, theirs) = promtool_ok(&good);
    assert!(their_ok, "promtool: {theirs}");
    assert!(ok, "{stdout}");
    assert_eq!(totals(&stdout), (4, 0, 0), "{stdout}");

    let (ok, stdout) = test_rules(&bad);
    let (their_ok, theirs) = promtool_ok(&bad);
    assert!(!their_ok, "promtool: {theirs}");
    assert!(!ok, "{stdout}");
    assert_eq!(totals(&stdout), (3, 1, 0), "{stdout}");
    assert!(stdout.contains("job:errors:rate1m"), "{stdout}");
}

/// The rule tests shipped with the alerting example pass in logbridge and
/// in promtool alike.
#[test]
fn shipped_example_rule_tests_pass_in_both() {
    let file = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/rules/pipeline.test.yaml"
    ));
    let (ok, stdout) = test_rules(file);
    assert!(ok, "{stdout}");
    assert_eq!(totals(&stdout), (5, 0, 0), "{stdout}");
    let out = Command::new(promtool())
        .args(["test", "rules"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The promtool peer files that must not pass, as Prometheus' own
/// `unittest_test.go` expects: a rule that fails to evaluate (a
/// many-to-many match) fails the run even with no case to carry it; a
/// `promql_expr_test` without `eval_time` runs at 0 and fails on the same
/// error; `fuzzy_compare` takes one unit in the last place as equal and
/// more as different.
#[test]
fn regression_promtool_peer_files_that_must_fail() {
    let peer = std::path::Path::new(PEER_PROMTOOL).with_file_name("");

    let (ok, stdout) = test_rules(&peer.join("bad-rules-error-test.yml"));
    println!("{stdout}");
    assert!(!ok, "{stdout}");
    let (_, failed, _) = totals(&stdout);
    assert_eq!(failed, 1, "{stdout}");
    assert!(stdout.contains("joined"), "{stdout}");
    assert!(stdout.contains("many-to-many"), "{stdout}");

    let (ok, stdout) = test_rules(&peer.join("bad-promql.yml"));
    println!("{stdout}");
    assert!(!ok, "{stdout}");
    assert_eq!(totals(&stdout), (0, 1, 0), "{stdout}");
    assert!(stdout.contains("many-to-many"), "{stdout}");

    let (ok, stdout) = test_rules(&peer.join("rules_run_fuzzy.yml"));
    println!("{stdout}");
    assert!(!ok, "{stdout}");
    assert_eq!(totals(&stdout), (2, 2, 0), "{stdout}");
    for line in stdout.lines().filter(|l| l.contains("FAILED")) {
        assert!(line.contains("wrong fuzzy match"), "{stdout}");
    }
}
