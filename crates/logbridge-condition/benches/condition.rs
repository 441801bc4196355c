//! `Condition::check` on a batch of parsed JSON access logs: the typical
//! `filter` condition (a string inequality and a numeric comparison), a
//! regex `match`, and a case-insensitive `contains`; and, for reference,
//! the bare field lookups of the first. Throughput is in events, so
//! criterion's time per element is the cost per event.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logbridge_condition::Condition;
use logbridge_event::{Event, LogRecord, Path, Value};

const BATCH: usize = 1024;

/// A deterministic batch of access logs, decoded from JSON the way the
/// JSON codec does (into `Value`, then into the log's fields).
fn events() -> Vec<Event> {
    const LEVELS: &[&str] = &["debug", "debug", "info", "info", "info", "warn", "error"];
    const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    const PATHS: &[&str] = &[
        "/api/v1/users/42",
        "/api/v2/orders/1337/items",
        "/healthz",
        "/static/app.3f9a1c.js",
        "/api/v1/login",
    ];
    const AGENTS: &[&str] = &[
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
        "curl/8.5.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "kube-probe/1.30",
    ];
    const STATUSES: &[i64] = &[200, 200, 200, 200, 201, 204, 301, 404, 500, 502, 503];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        // xorshift64: deterministic, no dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    (0..BATCH)
        .map(|i| {
            let (status, level) = (STATUSES[next(STATUSES.len())], LEVELS[next(LEVELS.len())]);
            let (method, path) = (METHODS[next(METHODS.len())], PATHS[next(PATHS.len())]);
            let line = serde_json::json!({
                "status": status,
                "level": level,
                "method": method,
                "path": path,
                "duration_ms": next(5000) as f64 / 10.0,
                "user_agent": AGENTS[next(AGENTS.len())],
                "message": format!("{method} {path} {status} request {i} handled"),
            })
            .to_string();
            let fields: Value = serde_json::from_str(&line).expect("valid JSON");
            let mut log = LogRecord::from_line(Bytes::from(line), 0);
            log.insert(&Path::parse(".").expect("root path"), fields)
                .expect("an object at the root");
            Event::Log(log)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(events.len() as u64));
    for (name, source) in [
        ("compare", r#".level != "debug" && .status >= 500"#),
        ("match", r"match(.path, r'^/api/v[0-9]+/users/\d+$')"),
        (
            "contains_case_insensitive",
            r#"contains(.user_agent, "BOT", case_sensitive: false)"#,
        ),
    ] {
        let condition = Condition::compile(source).expect("valid condition");
        let matched = events.iter().filter(|e| condition.check(e)).count();
        assert!(
            matched > 0 && matched < events.len(),
            "{name} matched {matched}"
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(&events)
                    .iter()
                    .filter(|e| condition.check(e))
                    .count()
            })
        });
    }
    // The floor: the two field lookups of the `compare` condition alone.
    let (level, status) = (
        Path::parse(".level").expect("a path"),
        Path::parse(".status").expect("a path"),
    );
    group.bench_function("lookups_only", |b| {
        b.iter(|| {
            black_box(&events)
                .iter()
                .filter(|e| e.get(&level).is_some() && e.get(&status).is_some())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
