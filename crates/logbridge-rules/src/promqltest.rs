//! A runner for Prometheus' `promqltest` files: `load` blocks fill a store,
//! each `eval` is a case whose result is compared with the expected one.
//!
//! Cases over native histograms (a `{{...}}` value in the expectation, or
//! a selector naming a series loaded with native histogram values, or
//! converted from classic buckets by `load_with_nhcb`) are counted as
//! skipped. Annotations are checked only where an `expect` line asks;
//! their messages are compared without the trailing `(line:column)`
//! position, which the parser does not report.

use std::collections::HashMap;

use promql_parser::parser::{Expr, VectorSelector};
use regex::Regex;

use crate::labels::{Labels, METRIC_NAME};
use crate::notation::{NotationError, Step, parse_number, parse_steps};
use crate::promql::histogram::almost_equal;
use crate::promql::value::stale_marker;
use crate::promql::{Engine, EngineOptions, QueryResult, Value};
use crate::selection::Selection;
use crate::store::SeriesStore;

/// Relative tolerance of value comparisons, as promqltest's.
const EPSILON: f64 = 1e-6;

/// How one case ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// One case and how it ended.
#[derive(Clone, Debug)]
pub struct CaseReport {
    /// Where the case is written: a line number, or a path in a YAML file.
    pub location: String,
    /// What it evaluates.
    pub expr: String,
    pub outcome: Outcome,
}

/// Every case of a file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    pub cases: Vec<CaseReport>,
}

impl FileReport {
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.cases.iter().filter(|c| f(&c.outcome)).count()
    }

    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }
}

/// A line the runner could not read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// What an `eval` expects besides its result lines.
#[derive(Default)]
struct Expectations {
    fail: Option<FailExpectation>,
    ordered: bool,
    string: Option<String>,
    range_vector: Option<(i64, i64, i64)>,
    warn: AnnotationExpectation,
    info: AnnotationExpectation,
}

enum FailExpectation {
    Any,
    Message(String),
    Regex(Regex),
}

#[derive(Default)]
struct AnnotationExpectation {
    /// None: not checked; Some(empty): at least one; messages: each present.
    required: Option<Vec<String>>,
    forbidden: bool,
}

enum Query {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

struct ExpectedSeries {
    labels: Option<Labels>,
    steps: Vec<Step>,
}

/// Runs every case of a promqltest file.
pub fn run(text: &str, options: &EngineOptions) -> Result<FileReport, SyntaxError> {
    let engine = Engine::new(options.clone());
    let mut store = SeriesStore::new(usize::MAX);
    let mut native_series: Vec<Labels> = Vec::new();
    let mut report = FileReport::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let block_end = block_end(&lines, i);
        let block = &lines[i..block_end];
        match command {
            "clear" => {
                store = SeriesStore::new(usize::MAX);
                native_series.clear();
            }
            "load" | "load_with_nhcb" => {
                let interval = parse_time(rest).ok_or_else(|| SyntaxError {
                    line: line_no,
                    message: format!("invalid load interval {rest:?}"),
                })?;
                // A series defined twice in a block takes its last definition.
                let mut series: Vec<(Labels, Vec<Step>)> = Vec::new();
                for (offset, series_line) in block.iter().enumerate() {
                    let parsed = parse_series_line(
                        &mut native_series,
                        series_line,
                        command == "load_with_nhcb",
                    )
                    .map_err(|message| SyntaxError {
                        line: line_no + offset + 1,
                        message,
                    })?;
                    if let Some((labels, steps)) = parsed {
                        match series.iter_mut().find(|(l, _)| *l == labels) {
                            Some(existing) => existing.1 = steps,
                            None => series.push((labels, steps)),
                        }
                    }
                }
                load_block(&mut store, series, interval).map_err(|message| SyntaxError {
                    line: line_no,
                    message,
                })?;
                i = block_end;
            }
            "eval" | "eval_fail" | "eval_warn" | "eval_info" | "eval_ordered" => {
                let (query, expr) = parse_eval_header(rest).ok_or_else(|| SyntaxError {
                    line: line_no,
                    message: format!("invalid eval command {line:?}"),
                })?;
                let mut expectations = Expectations::default();
                match command {
                    "eval_fail" => expectations.fail = Some(FailExpectation::Any),
                    "eval_warn" => expectations.warn.required = Some(Vec::new()),
                    "eval_info" => expectations.info.required = Some(Vec::new()),
                    "eval_ordered" => expectations.ordered = true,
                    _ => {}
                }
                let mut expected = Vec::new();
                let mut native = false;
                for (offset, result_line) in block.iter().enumerate() {
                    let result_line = result_line.trim();
                    let at = line_no + offset + 1;
                    if result_line.starts_with('#') {
                        continue;
                    }
                    if let Some(expect) = result_line.strip_prefix("expect ") {
                        parse_expect(expect.trim(), &mut expectations)
                            .map_err(|message| SyntaxError { line: at, message })?;
                    } else if result_line.contains("{{") {
                        native = true;
                    } else {
                        expected.push(
                            parse_expected(result_line)
                                .map_err(|message| SyntaxError { line: at, message })?,
                        );
                    }
                }
                i = block_end;
                let outcome = if native {
                    Outcome::Skipped("native histogram in the expected result".to_string())
                } else if let Some(series) = reads_any(expr, &native_series) {
                    Outcome::Skipped(format!("reads native histogram series {series}"))
                } else {
                    run_case(&engine, &store, &query, expr, &expectations, &expected)
                };
                report.cases.push(CaseReport {
                    location: line_no.to_string(),
                    expr: expr.to_string(),
                    outcome,
                });
            }
            other => {
                return Err(SyntaxError {
                    line: line_no,
                    message: format!("unknown command {other:?}"),
                });
            }
        }
    }
    Ok(report)
}

/// The index after the block of lines belonging to a command: up to the
/// next blank line or unindented command.
fn block_end(lines: &[&str], from: usize) -> usize {
    let mut i = from;
    while i < lines.len() {
        let raw = lines[i];
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            break;
        }
        if !raw.starts_with(char::is_whitespace) && !trimmed.starts_with('#') {
            break;
        }
        i += 1;
    }
    // Comment lines inside a block are skipped by the callers.
    i
}

/// The first of `series` that a selector of the expression matches.
pub(crate) fn reads_any<'s>(text: &str, series: &'s [Labels]) -> Option<&'s Labels> {
    if series.is_empty() {
        return None;
    }
    let expr = crate::promql::parse(text).ok()?;
    let selection = Selection::of([&expr]);
    series.iter().find(|labels| selection.wants(labels))
}

/// A time as the tests write it: a duration (`50m`, `1h5m`), or seconds.
fn parse_time(text: &str) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let ms = if body.bytes().all(|b| b.is_ascii_digit()) && !body.is_empty() {
        body.parse::<i64>().ok()?.checked_mul(1000)?
    } else {
        let d = crate::duration::parse_duration(body).ok()?;
        i64::try_from(d.as_millis()).ok()?
    };
    Some(if negative { -ms } else { ms })
}

fn parse_eval_header(rest: &str) -> Option<(Query, &str)> {
    let mut words = rest.splitn(2, char::is_whitespace);
    match words.next()? {
        "instant" => {
            let rest = words.next()?.trim_start().strip_prefix("at")?.trim_start();
            let (at, expr) = rest.split_once(char::is_whitespace)?;
            Some((Query::Instant(parse_time(at)?), expr.trim()))
        }
        "range" => {
            let rest = words
                .next()?
                .trim_start()
                .strip_prefix("from")?
                .trim_start();
            let (start, rest) = rest.split_once(char::is_whitespace)?;
            let rest = rest.trim_start().strip_prefix("to")?.trim_start();
            let (end, rest) = rest.split_once(char::is_whitespace)?;
            let rest = rest.trim_start().strip_prefix("step")?.trim_start();
            let (step, expr) = rest.split_once(char::is_whitespace)?;
            Some((
                Query::Range {
                    start: parse_time(start)?,
                    end: parse_time(end)?,
                    step: parse_time(step)?,
                },
                expr.trim(),
            ))
        }
        _ => None,
    }
}

fn parse_expect(text: &str, expectations: &mut Expectations) -> Result<(), String> {
    let (kind, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim();
    let message =
        |rest: &str| -> Option<String> { rest.strip_prefix("msg:").map(|m| m.trim().to_string()) };
    match kind {
        "fail" => {
            expectations.fail = Some(if let Some(m) = message(rest) {
                FailExpectation::Message(m)
            } else if let Some(r) = rest.strip_prefix("regex:") {
                FailExpectation::Regex(Regex::new(r.trim()).map_err(|e| e.to_string())?)
            } else {
                FailExpectation::Any
            });
        }
        "warn" | "info" => {
            let target = if kind == "warn" {
                &mut expectations.warn
            } else {
                &mut expectations.info
            };
            let required = target.required.get_or_insert_with(Vec::new);
            if let Some(m) = message(rest) {
                required.push(m);
            }
        }
        "no_warn" => expectations.warn.forbidden = true,
        "no_info" => expectations.info.forbidden = true,
        "ordered" => expectations.ordered = true,
        "string" => {
            let quoted = rest;
            let unquoted = quoted
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| quoted.strip_prefix('`').and_then(|s| s.strip_suffix('`')))
                .ok_or_else(|| format!("expect string needs a quoted string, got {quoted}"))?;
            expectations.string = Some(unquoted.to_string());
        }
        "range" => {
            let spec = rest
                .strip_prefix("vector from")
                .ok_or_else(|| format!("invalid expect range: {rest}"))?;
            let words: Vec<&str> = spec.split_whitespace().collect();
            match words.as_slice() {
                [from, "to", to, "step", step] => {
                    let parsed = (parse_time(from), parse_time(to), parse_time(step));
                    let (Some(from), Some(to), Some(step)) = parsed else {
                        return Err(format!("invalid expect range: {rest}"));
                    };
                    expectations.range_vector = Some((from, to, step));
                }
                _ => return Err(format!("invalid expect range: {rest}")),
            }
        }
        other => return Err(format!("unknown expectation {other:?}")),
    }
    Ok(())
}

/// Splits a line into its series descriptor and the rest.
fn split_descriptor(line: &str) -> (&str, &str) {
    let mut in_quote: Option<char> = None;
    let mut escaped = false;
    let mut depth = 0;
    for (i, c) in line.char_indices() {
        if let Some(q) = in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                in_quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' if depth > 0 => in_quote = Some(c),
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return (&line[..=i], line[i + 1..].trim());
                }
            }
            c if c.is_whitespace() && depth == 0 => return (&line[..i], line[i..].trim()),
            _ => {}
        }
    }
    (line, "")
}

/// The labels of a series descriptor: `name{a="b"}`, `{__name__="x"}`,
/// `{}`.
pub(crate) fn parse_labels(descriptor: &str) -> Result<Labels, String> {
    let compact: String = descriptor.chars().filter(|c| !c.is_whitespace()).collect();
    if compact == "{}" {
        return Ok(Labels::new());
    }
    let expr = crate::promql::parse(descriptor)
        .map_err(|e| format!("invalid series {descriptor:?}: {e}"))?;
    let Expr::VectorSelector(VectorSelector { name, matchers, .. }) = expr else {
        return Err(format!("invalid series {descriptor:?}"));
    };
    let mut labels = Labels::from_pairs(
        matchers
            .matchers
            .iter()
            .map(|m| (m.name.as_str(), m.value.as_str())),
    );
    if let Some(name) = name {
        labels.set(METRIC_NAME, &name);
    }
    Ok(labels)
}

/// Reads one series line of a `load` block: its labels and steps, or
/// `None` for a comment or a native histogram series (noted in
/// `native_series`).
fn parse_series_line(
    native_series: &mut Vec<Labels>,
    line: &str,
    with_nhcb: bool,
) -> Result<Option<(Labels, Vec<Step>)>, String> {
    let line = line.trim();
    if line.starts_with('#') {
        return Ok(None);
    }
    let (descriptor, values) = split_descriptor(line);
    let labels = parse_labels(descriptor)?;
    if with_nhcb {
        // The same buckets also become a native histogram under the base
        // name; cases reading that are skipped.
        if let Some(base) = labels.value_of(METRIC_NAME).strip_suffix("_bucket") {
            let mut native = labels.clone();
            native.set(METRIC_NAME, base);
            native.remove("le");
            native_series.push(native);
        }
    }
    match parse_steps(values) {
        Ok(steps) => Ok(Some((labels, steps))),
        Err(NotationError::NativeHistogram) => {
            native_series.push(labels);
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Appends a `load` block's series, each step `interval` after the one
/// before, from time 0.
fn load_block(
    store: &mut SeriesStore,
    series: Vec<(Labels, Vec<Step>)>,
    interval: i64,
) -> Result<(), String> {
    for (labels, steps) in series {
        for (i, step) in steps.into_iter().enumerate() {
            let t = i as i64 * interval;
            let v = match step {
                Step::Value(v) => v,
                Step::Stale => stale_marker(),
                Step::Missing => continue,
            };
            store
                .append(&labels, t, v)
                .map_err(|e| format!("cannot load {labels}: {e}"))?;
        }
    }
    Ok(())
}

fn parse_expected(line: &str) -> Result<ExpectedSeries, String> {
    let (descriptor, values) = split_descriptor(line);
    if values.is_empty() {
        // A scalar result: the value alone.
        let v = parse_number(descriptor).ok_or_else(|| format!("invalid result line {line:?}"))?;
        return Ok(ExpectedSeries {
            labels: None,
            steps: vec![Step::Value(v)],
        });
    }
    Ok(ExpectedSeries {
        labels: Some(parse_labels(descriptor)?),
        steps: parse_steps(values).map_err(|e| e.to_string())?,
    })
}

fn run_case(
    engine: &Engine,
    store: &SeriesStore,
    query: &Query,
    text: &str,
    expectations: &Expectations,
    expected: &[ExpectedSeries],
) -> Outcome {
    let result = crate::promql::parse(text)
        .map_err(|e| format!("parse error: {e}"))
        .and_then(|expr| {
            match query {
                Query::Instant(t) => engine.instant(store, &expr, *t),
                Query::Range { start, end, step } => {
                    engine.range(store, &expr, *start, *end, *step)
                }
            }
            .map_err(|e| e.to_string())
        });
    match (&expectations.fail, result) {
        (Some(fail), Err(message)) => match fail {
            FailExpectation::Any => Outcome::Passed,
            FailExpectation::Message(m) if message.ends_with(m.as_str()) => Outcome::Passed,
            FailExpectation::Regex(r) if r.is_match(&message) => Outcome::Passed,
            _ => Outcome::Failed(format!("failed with {message:?}, not the expected error")),
        },
        (Some(_), Ok(_)) => Outcome::Failed("expected an error, got a result".to_string()),
        (None, Err(message)) => Outcome::Failed(format!("unexpected error: {message}")),
        (None, Ok(result)) => match check_annotations(&result, expectations) {
            Err(reason) => Outcome::Failed(reason),
            Ok(()) => match compare(query, &result.value, expectations, expected) {
                Ok(()) => Outcome::Passed,
                Err(reason) => Outcome::Failed(reason),
            },
        },
    }
}

fn without_position(message: &str) -> &str {
    match message.rfind(" (") {
        Some(at)
            if message.ends_with(')')
                && message[at + 2..message.len() - 1]
                    .split(':')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            &message[..at]
        }
        _ => message,
    }
}

fn check_annotations(result: &QueryResult, expectations: &Expectations) -> Result<(), String> {
    let checks = [
        ("warning", &expectations.warn, &result.annotations.warnings),
        ("info", &expectations.info, &result.annotations.infos),
    ];
    for (kind, expectation, actual) in checks {
        if expectation.forbidden && !actual.is_empty() {
            return Err(format!("unexpected {kind}: {actual:?}"));
        }
        if let Some(required) = &expectation.required {
            if actual.is_empty() {
                return Err(format!("expected a {kind}, got none"));
            }
            for message in required {
                let wanted = without_position(message);
                if !actual.iter().any(|a| without_position(a) == wanted) {
                    return Err(format!("expected {kind} {message:?}, got {actual:?}"));
                }
            }
        }
    }
    Ok(())
}

fn same_value(expected: f64, actual: f64) -> bool {
    almost_equal(expected, actual, EPSILON)
}

fn compare(
    query: &Query,
    value: &Value,
    expectations: &Expectations,
    expected: &[ExpectedSeries],
) -> Result<(), String> {
    match value {
        Value::String(s) => match &expectations.string {
            Some(want) if want == s => Ok(()),
            Some(want) => Err(format!("expected string {want:?}, got {s:?}")),
            None => Err(format!("got string {s:?}, expected no string")),
        },
        Value::Scalar(v) => match expected {
            [
                ExpectedSeries {
                    labels: None,
                    steps,
                },
            ] => match steps.as_slice() {
                [Step::Value(want)] if same_value(*want, *v) => Ok(()),
                _ => Err(format!("expected scalar {steps:?}, got {v}")),
            },
            _ => Err(format!(
                "got scalar {v}, expected {} series",
                expected.len()
            )),
        },
        Value::Vector(samples) => {
            if expected.len() != samples.len() {
                return Err(format!(
                    "expected {} samples, got {}: {}",
                    expected.len(),
                    samples.len(),
                    describe_vector(samples)
                ));
            }
            for (i, want) in expected.iter().enumerate() {
                let labels = want.labels.clone().unwrap_or_default();
                let [Step::Value(want_v)] = want.steps.as_slice() else {
                    return Err(format!("expected one value for {labels}"));
                };
                let found = if expectations.ordered {
                    samples.get(i).filter(|s| s.labels == labels)
                } else {
                    samples.iter().find(|s| s.labels == labels)
                };
                match found {
                    Some(s) if same_value(*want_v, s.v) => {}
                    Some(s) => return Err(format!("{labels}: expected {want_v}, got {}", s.v)),
                    None => {
                        return Err(format!(
                            "expected {labels} {}, got {}",
                            want_v,
                            describe_vector(samples)
                        ));
                    }
                }
            }
            Ok(())
        }
        Value::Matrix(series) => {
            let (start, step) = match (query, expectations.range_vector) {
                (Query::Range { start, step, .. }, _) => (*start, *step),
                (Query::Instant(_), Some((from, _, step))) => (from, step),
                (Query::Instant(_), None) => {
                    return Err(
                        "got a range vector; the case has no `expect range vector`".to_string()
                    );
                }
            };
            let mut by_labels: HashMap<&Labels, &Vec<(i64, f64)>> =
                series.iter().map(|s| (&s.labels, &s.points)).collect();
            for want in expected {
                let labels = want.labels.clone().unwrap_or_default();
                let Some(points) = by_labels.remove(&labels) else {
                    return Err(format!("expected series {labels}, not in the result"));
                };
                let mut want_points = Vec::new();
                for (i, step_value) in want.steps.iter().enumerate() {
                    let t = start + i as i64 * step;
                    match step_value {
                        Step::Value(v) => want_points.push((t, *v)),
                        Step::Missing => {}
                        Step::Stale => return Err("stale in an expected result".to_string()),
                    }
                }
                let equal = want_points.len() == points.len()
                    && want_points
                        .iter()
                        .zip(points.iter())
                        .all(|(w, g)| w.0 == g.0 && same_value(w.1, g.1));
                if !equal {
                    return Err(format!(
                        "{labels}: expected {want_points:?}, got {points:?}"
                    ));
                }
            }
            if let Some((labels, _)) = by_labels.into_iter().next() {
                return Err(format!("unexpected series {labels} in the result"));
            }
            Ok(())
        }
    }
}

fn describe_vector(samples: &[crate::promql::Sample]) -> String {
    let parts: Vec<String> = samples
        .iter()
        .take(10)
        .map(|s| format!("{} {}", s.labels, s.v))
        .collect();
    format!("[{}]", parts.join(", "))
}
