//! A runner for rule unit tests in the `promtool test rules` format: input
//! series in the expanding notation, the rule files evaluated every
//! `evaluation_interval` from time 0, then the firing alerts
//! (`alert_rule_test`) and query results (`promql_expr_test`) compared with
//! the expected ones.
//!
//! Every `alert_rule_test` and `promql_expr_test` entry is a case. Cases over
//! native histograms (a `histogram` expectation, or a query or rule reading a
//! series given with `{{...}}` values) are skipped. Reading the rule files
//! is the caller's: this module does no I/O.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use crate::duration::parse_duration;
use crate::labels::Labels;
use crate::notation::{NotationError, Step, parse_steps};
use crate::promql::EngineOptions;
use crate::promql::Value;
use crate::promql::value::stale_marker;
use crate::promqltest::{CaseReport, FileReport, Outcome, parse_labels, reads_any};
use crate::rule_file::RuleFile;
use crate::rules::{AlertState, RuleEngine, RulesConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<String>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    fuzzy_compare: bool,
    #[serde(default)]
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    external_labels: HashMap<String, String>,
    #[serde(default)]
    external_url: Option<String>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    #[serde(default)]
    values: Scalar,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    /// Absent is 0, as in promtool.
    #[serde(default)]
    eval_time: Scalar,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpectedAlert {
    #[serde(default)]
    exp_labels: HashMap<String, String>,
    #[serde(default)]
    exp_annotations: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    /// Absent is 0, as in promtool.
    #[serde(default)]
    eval_time: Scalar,
    #[serde(default)]
    exp_samples: Vec<ExpectedSample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedSample {
    #[serde(default)]
    labels: String,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    histogram: Option<String>,
}

/// A YAML scalar read as text, whatever its YAML type (`values: 1`,
/// `eval_time: 0`).
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
    #[default]
    Missing,
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Integer(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Missing => String::new(),
        }
    }

    /// A time as written, `0` when absent.
    fn time_text(&self) -> String {
        match self {
            Scalar::Missing => "0".to_string(),
            other => other.text(),
        }
    }

    /// A time: a Prometheus duration, or a number of seconds; absent is 0.
    fn millis(&self) -> Result<i64, String> {
        if let Scalar::Missing = self {
            return Ok(0);
        }
        let text = self.text();
        if let Ok(seconds) = text.parse::<f64>() {
            return Ok((seconds * 1000.0).round() as i64);
        }
        parse_duration(&text).map(duration_ms)
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Reads the rule files a test file names (relative to it; globs are the
/// caller's to expand).
pub type LoadRules<'a> = &'a dyn Fn(&[String]) -> Result<Vec<RuleFile>, String>;

/// Runs a unit-test file; `engine` sets the query limits (and the clock
/// its time limit is measured with).
pub fn run(
    text: &str,
    load_rules: LoadRules<'_>,
    engine: &EngineOptions,
) -> Result<FileReport, String> {
    let file: TestFile = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let evaluation_interval = match &file.evaluation_interval {
        Some(text) => duration_ms(parse_duration(text)?),
        None => 60_000,
    };
    if evaluation_interval <= 0 {
        return Err("evaluation_interval must be positive".to_string());
    }
    let rule_files = load_rules(&file.rule_files)?;
    let mut report = FileReport::default();
    for (index, group) in file.tests.iter().enumerate() {
        let name = group
            .name
            .clone()
            .unwrap_or_else(|| format!("tests[{index}]"));
        run_group(
            &file,
            group,
            &name,
            evaluation_interval,
            &rule_files,
            engine,
            &mut report,
        )?;
    }
    Ok(report)
}

/// A case waiting for its evaluation time.
struct PendingAlertCase<'a> {
    location: String,
    at: i64,
    test: &'a AlertTest,
}

impl PendingAlertCase<'_> {
    fn report(&self, outcome: Outcome) -> CaseReport {
        CaseReport {
            location: self.location.clone(),
            expr: format!(
                "alert {} at {}",
                self.test.alertname,
                self.test.eval_time.time_text()
            ),
            outcome,
        }
    }
}

fn run_group(
    file: &TestFile,
    group: &TestGroup,
    name: &str,
    evaluation_interval: i64,
    rule_files: &[RuleFile],
    engine: &EngineOptions,
    report: &mut FileReport,
) -> Result<(), String> {
    let interval = match &group.interval {
        Some(text) => duration_ms(parse_duration(text)?),
        None => evaluation_interval,
    };
    let mut external_labels: Vec<(String, String)> = group
        .external_labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    external_labels.sort();
    let config = RulesConfig {
        default_interval_ms: evaluation_interval,
        max_series: usize::MAX,
        keep_unread_series: true,
        external_labels,
        external_url: group.external_url.clone().unwrap_or_default(),
        engine: engine.clone(),
        ..RulesConfig::default()
    };
    let mut engine = RuleEngine::new(rule_files, config).map_err(|errors| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;

    let mut native_series: Vec<Labels> = Vec::new();
    for input in &group.input_series {
        let labels = parse_labels(&input.series)?;
        let steps = match parse_steps(&input.values.text()) {
            Ok(steps) => steps,
            Err(NotationError::NativeHistogram) => {
                native_series.push(labels);
                continue;
            }
            Err(e) => return Err(format!("{name}: series {}: {e}", input.series)),
        };
        for (i, step) in steps.into_iter().enumerate() {
            let t = i as i64 * interval;
            match step {
                Step::Value(v) => engine.ingest(&labels, t, v),
                Step::Stale => engine.ingest(&labels, t, stale_marker()),
                Step::Missing => {}
            }
        }
    }

    let order = group_order(&engine, &file.group_eval_order)?;
    let mut alert_cases = Vec::new();
    for (i, test) in group.alert_rule_test.iter().enumerate() {
        alert_cases.push(PendingAlertCase {
            location: format!("{name}.alert_rule_test[{i}]"),
            at: test.eval_time.millis()?,
            test,
        });
    }
    alert_cases.sort_by_key(|c| c.at);
    let mut expr_times = Vec::new();
    for test in &group.promql_expr_test {
        expr_times.push(test.eval_time.millis()?);
    }
    let max_time = alert_cases
        .iter()
        .map(|c| c.at)
        .chain(expr_times.iter().copied())
        .max()
        .unwrap_or(0);

    let mut next_case = 0;
    let mut failure: Option<String> = None;
    let mut ts = 0;
    while ts <= max_time {
        for &g in &order {
            engine.evaluate_group(g, ts);
        }
        if let Some(error) = first_rule_error(&engine, ts) {
            failure = Some(error);
            break;
        }
        while next_case < alert_cases.len()
            && alert_cases[next_case].at >= ts
            && alert_cases[next_case].at < ts + evaluation_interval
        {
            let case = &alert_cases[next_case];
            let outcome = check_alerts(&engine, case.test, &native_series);
            report.cases.push(case.report(outcome));
            next_case += 1;
        }
        ts += evaluation_interval;
    }
    for case in &alert_cases[next_case..] {
        let error = failure.clone();
        report.cases.push(case.report(Outcome::Failed(
            error.unwrap_or_else(|| "never evaluated".to_string()),
        )));
    }
    // A rule that failed fails the group even when no case is left to carry
    // the error (a group with input series only), as promtool's run does.
    if let Some(error) = &failure
        && next_case == alert_cases.len()
        && group.promql_expr_test.is_empty()
    {
        report.cases.push(CaseReport {
            location: name.to_string(),
            expr: "rule evaluation".to_string(),
            outcome: Outcome::Failed(error.clone()),
        });
    }
    for (i, (test, at)) in group.promql_expr_test.iter().zip(expr_times).enumerate() {
        let outcome = match &failure {
            Some(error) => Outcome::Failed(error.clone()),
            None => check_expr(&engine, test, at, &native_series, file.fuzzy_compare),
        };
        report.cases.push(CaseReport {
            location: format!("{name}.promql_expr_test[{i}]"),
            expr: format!("{} at {}", test.expr, test.eval_time.time_text()),
            outcome,
        });
    }
    Ok(())
}

/// The order groups are evaluated in: `group_eval_order` first, then the
/// others as loaded.
fn group_order(engine: &RuleEngine, wanted: &[String]) -> Result<Vec<usize>, String> {
    let mut order = Vec::new();
    for name in wanted {
        let index = engine
            .groups()
            .iter()
            .position(|g| &g.name == name)
            .ok_or_else(|| format!("group_eval_order names an unknown group {name:?}"))?;
        order.push(index);
    }
    for i in 0..engine.groups().len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    Ok(order)
}

/// A rule that failed when evaluated at `ts` ends the test group, as in
/// promtool.
fn first_rule_error(engine: &RuleEngine, ts: i64) -> Option<String> {
    engine
        .groups()
        .iter()
        .flat_map(|g| &g.rules)
        .find_map(|rule| {
            let status = rule.status();
            let error = status.last_error.as_ref()?;
            (status.last_evaluation == Some(ts))
                .then(|| format!("rule {}, time {}ms: {error}", rule.name(), ts))
        })
}

fn check_alerts(engine: &RuleEngine, test: &AlertTest, native_series: &[Labels]) -> Outcome {
    let rule_reads_native = engine
        .groups()
        .iter()
        .flat_map(|g| &g.rules)
        .any(|r| match r {
            crate::rules::Rule::Alerting(a) if a.name == test.alertname => {
                reads_any(&a.expr_text, native_series).is_some()
            }
            _ => false,
        });
    if rule_reads_native {
        return Outcome::Skipped("the alert's rule reads native histogram series".to_string());
    }
    let mut got: Vec<(Labels, Labels)> = engine
        .alerts()
        .filter(|(_, rule, alert)| rule.name == test.alertname && alert.state == AlertState::Firing)
        .map(|(_, _, alert)| {
            (
                alert.labels.clone(),
                Labels::from_pairs(
                    alert
                        .annotations
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                ),
            )
        })
        .collect();
    let mut expected: Vec<(Labels, Labels)> = test
        .exp_alerts
        .iter()
        .map(|a| {
            let mut labels = Labels::from_pairs(a.exp_labels.iter());
            labels.set("alertname", &test.alertname);
            (labels, Labels::from_pairs(a.exp_annotations.iter()))
        })
        .collect();
    got.sort();
    expected.sort();
    if got == expected {
        Outcome::Passed
    } else {
        Outcome::Failed(format!(
            "expected alerts {}, got {}",
            describe_alerts(&expected),
            describe_alerts(&got)
        ))
    }
}

fn describe_alerts(alerts: &[(Labels, Labels)]) -> String {
    let parts: Vec<String> = alerts
        .iter()
        .map(|(l, a)| format!("{} {}", l.to_braced_string(), a.to_braced_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

fn check_expr(
    engine: &RuleEngine,
    test: &ExprTest,
    at: i64,
    native_series: &[Labels],
    fuzzy: bool,
) -> Outcome {
    if test.exp_samples.iter().any(|s| s.histogram.is_some()) {
        return Outcome::Skipped("native histogram in the expected result".to_string());
    }
    if let Some(series) = reads_any(&test.expr, native_series) {
        return Outcome::Skipped(format!("reads native histogram series {series}"));
    }
    let result = match engine.query(&test.expr, at) {
        Ok(result) => result,
        Err(e) => return Outcome::Failed(format!("query failed: {e}")),
    };
    let mut got: Vec<(Labels, f64)> = match result.value {
        Value::Vector(samples) => samples.into_iter().map(|s| (s.labels, s.v)).collect(),
        Value::Scalar(v) => vec![(Labels::new(), v)],
        other => return Outcome::Failed(format!("query returned a {}", other.type_name())),
    };
    let mut expected = Vec::new();
    for sample in &test.exp_samples {
        let labels = if sample.labels.trim().is_empty() {
            Labels::new()
        } else {
            match parse_labels(&sample.labels) {
                Ok(labels) => labels,
                Err(e) => return Outcome::Failed(e),
            }
        };
        expected.push((labels, sample.value.unwrap_or(0.0)));
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    // promtool's `fuzzy_compare` takes a value one unit in the last place
    // away (either side) as equal, nothing further.
    let same = |want: f64, have: f64| {
        want == have
            || (want.is_nan() && have.is_nan())
            || (fuzzy && (want.next_up() == have || want.next_down() == have))
    };
    let equal = got.len() == expected.len()
        && got
            .iter()
            .zip(&expected)
            .all(|(g, e)| g.0 == e.0 && same(e.1, g.1));
    if equal {
        Outcome::Passed
    } else {
        let show = |samples: &[(Labels, f64)]| {
            samples
                .iter()
                .map(|(l, v)| format!("{} {v}", l.to_braced_string()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Outcome::Failed(format!(
            "expected [{}], got [{}]",
            show(&expected),
            show(&got)
        ))
    }
}
