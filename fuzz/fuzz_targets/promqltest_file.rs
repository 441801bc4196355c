//! Fuzzes the promqltest runner (its file syntax, the series notation, the
//! loads and the evaluations): any text gives a report or a syntax error,
//! never a panic.

#![no_main]

#[path = "support/system_clock.rs"]
mod system_clock;

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use logbridge_rules::promql::EngineOptions;
use logbridge_rules::promqltest::run;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = EngineOptions {
        max_samples: 200_000,
        timeout: Some(Duration::from_secs(2)),
        clock: Some(std::sync::Arc::new(system_clock::SystemClock)),
        ..EngineOptions::default()
    };
    let _ = run(text, &options);
});
