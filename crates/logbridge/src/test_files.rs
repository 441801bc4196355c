//! `logbridge test ...`: runs test files of the rules engine and reports
//! per file and in total, ending with `N passed, N failed, N skipped`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use logbridge_rules::promql::EngineOptions;
use logbridge_rules::promqltest::{self, FileReport, Outcome};
use logbridge_rules::promtool;
use logbridge_rules::rule_file::RuleFile;
use logbridge_transforms::rules::{SystemClock, load};

/// Counts of cases over all files.
#[derive(Default)]
struct Totals {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Files that could not be read or parsed.
    broken: usize,
}

impl Totals {
    fn finish(self) -> ExitCode {
        println!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        );
        if self.failed == 0 && self.broken == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// Runs promqltest files.
pub fn promql(files: &[PathBuf], verbose: bool) -> ExitCode {
    let options = engine_options();
    run_files(files, verbose, |_, text| {
        promqltest::run(text, &options).map_err(|e| e.to_string())
    })
}

/// Runs rule unit-test files.
pub fn rules(files: &[PathBuf], verbose: bool) -> ExitCode {
    run_files(files, verbose, |path, text| {
        let base = path.parent().unwrap_or(Path::new("."));
        let load = |patterns: &[String]| -> Result<Vec<RuleFile>, String> {
            let paths = load::expand_patterns(patterns, base)?;
            let (files, problems) = load::load_rule_files(&paths);
            if problems.is_empty() {
                Ok(files)
            } else {
                Err(problems.join("\n"))
            }
        };
        promtool::run(text, &load, &engine_options())
    })
}

/// The engine's default limits, its time limit measured on the system's
/// clock (the engine reads none itself).
fn engine_options() -> EngineOptions {
    EngineOptions {
        clock: Some(Arc::new(SystemClock)),
        ..EngineOptions::default()
    }
}

/// Reads and runs each file, printing failures (and skips with
/// `verbose`), a summary line per file and the totals.
fn run_files(
    files: &[PathBuf],
    verbose: bool,
    run: impl Fn(&Path, &str) -> Result<FileReport, String>,
) -> ExitCode {
    let mut totals = Totals::default();
    for path in files {
        let name = path.display();
        let report = match std::fs::read_to_string(path) {
            Err(e) => Err(format!("cannot read: {e}")),
            Ok(text) => run(path, &text),
        };
        let report = match report {
            Ok(report) => report,
            Err(e) => {
                println!("{name}: error: {e}");
                totals.broken += 1;
                continue;
            }
        };
        for case in &report.cases {
            match &case.outcome {
                Outcome::Failed(reason) => {
                    println!(
                        "{name}:{}: FAILED {}\n    {reason}",
                        case.location, case.expr
                    );
                }
                Outcome::Skipped(reason) if verbose => {
                    println!(
                        "{name}:{}: skipped {}\n    {reason}",
                        case.location, case.expr
                    );
                }
                _ => {}
            }
        }
        println!(
            "{name}: {} passed, {} failed, {} skipped",
            report.passed(),
            report.failed(),
            report.skipped()
        );
        totals.passed += report.passed();
        totals.failed += report.failed();
        totals.skipped += report.skipped();
    }
    totals.finish()
}
