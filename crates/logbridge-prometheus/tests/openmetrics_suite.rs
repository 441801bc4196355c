//! Runs the OpenMetrics conformance cases from the peer suite
//! (`shared/peer/openmetrics/*/{metrics,test.json}`): every case must be
//! accepted or rejected as its `test.json` says, except those in `SKIP`.

use std::path::PathBuf;

use bytes::Bytes;
use logbridge_prometheus::text::{Format, parse};

/// Cases where our choice differs from the suite, with the reason.
const SKIP: &[(&str, &str)] = &[];

fn suite_dir() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // crates/logbridge-prometheus -> the checkout; shared/ sits beside it.
    let root = manifest.parent()?.parent()?;
    [
        root.join("shared/peer/openmetrics"),
        root.parent()?.join("shared/peer/openmetrics"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

#[test]
fn openmetrics_peer_suite() {
    let Some(dir) = suite_dir() else {
        panic!("peer suite not found beside the checkout (shared/peer/openmetrics)");
    };
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("test.json").is_file())
        .collect();
    cases.sort();
    let (mut passed, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("test.json")).unwrap()).unwrap();
        let file = spec["file"].as_str().unwrap_or("metrics");
        let should_parse = spec["shouldParse"].as_bool().unwrap();
        if SKIP.iter().any(|(n, _)| *n == name) {
            skipped += 1;
            continue;
        }
        let body = Bytes::from(std::fs::read(case.join(file)).unwrap());
        let result = parse(&body, Format::OpenMetrics, 0);
        if result.is_ok() == should_parse {
            passed += 1;
        } else {
            failures.push(format!(
                "{name}: expected {}, got {:?}",
                if should_parse { "accept" } else { "reject" },
                result.map(|m| m.len())
            ));
        }
    }
    println!(
        "openmetrics suite: {} cases, {passed} passed, {} failed, {skipped} skipped",
        cases.len(),
        failures.len()
    );
    assert!(cases.len() > 100, "suite looks incomplete: {}", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
