//! Runs Prometheus' own PromQL test files (`../shared/peer/promql`) through
//! the evaluator: at least 98% of the cases that run must pass.

use logbridge_rules::promql::EngineOptions;
use logbridge_rules::promqltest::{Outcome, run};

const PEER_CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/peer/promql");

#[test]
fn peer_promql_cases_pass() {
    let mut files: Vec<_> = std::fs::read_dir(PEER_CASES)
        .expect("peer PromQL cases")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "peer files missing");
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let report = run(&text, &EngineOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for case in &report.cases {
            if let Outcome::Failed(reason) = &case.outcome {
                println!(
                    "FAIL {}:{}: {}\n    {reason}",
                    path.display(),
                    case.location,
                    case.expr
                );
            }
        }
        println!(
            "{}: {} passed, {} failed, {} skipped",
            path.file_name().unwrap().to_string_lossy(),
            report.passed(),
            report.failed(),
            report.skipped()
        );
        passed += report.passed();
        failed += report.failed();
        skipped += report.skipped();
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    let ran = passed + failed;
    assert!(ran > 700, "too few cases ran: {ran}");
    assert!(
        passed as f64 >= 0.98 * ran as f64,
        "{passed} of {ran} cases passed (< 98%)"
    );
}
