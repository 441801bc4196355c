//! Fuzzes PromQL evaluation: any text that parses is evaluated, as an
//! instant and a range query, over a small fixed store; it must give a value
//! or an error, never a panic.

#![no_main]

#[path = "support/system_clock.rs"]
mod system_clock;

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use logbridge_rules::labels::Labels;
use logbridge_rules::promql::{Engine, EngineOptions, parse};
use logbridge_rules::store::SeriesStore;

fn store() -> &'static SeriesStore {
    static STORE: OnceLock<SeriesStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut store = SeriesStore::new(1000);
        for (i, le) in ["0.1", "1", "+Inf"].iter().enumerate() {
            let bucket = Labels::from_pairs([("__name__", "h_bucket"), ("le", le), ("job", "a")]);
            let counter = Labels::from_pairs([("__name__", "c_total"), ("i", &i.to_string())]);
            for t in 0..40 {
                store.append(&bucket, t * 15_000, (t * (i as i64 + 1)) as f64).unwrap();
                store.append(&counter, t * 15_000, (t % 7) as f64).unwrap();
            }
        }
        store
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = parse(text) else {
        return;
    };
    let engine = Engine::new(EngineOptions {
        max_samples: 200_000,
        timeout: Some(Duration::from_secs(2)),
        clock: Some(std::sync::Arc::new(system_clock::SystemClock)),
        ..EngineOptions::default()
    });
    let _ = engine.instant(store(), &expr, 300_000);
    let _ = engine.range(store(), &expr, 0, 600_000, 60_000);
});
