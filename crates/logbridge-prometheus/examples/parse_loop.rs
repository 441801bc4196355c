//! Parses a text exposition file in a loop, for profiling the parser
//! (`perf record`/`perf stat` on this binary): `parse_loop FILE
//! [openmetrics|prometheus|samples-om|samples-prom] [ITERATIONS]`.
//! Prints the average wall time per parse.

use std::time::Instant;

use bytes::Bytes;
use logbridge_prometheus::text::{Entry, Format, parse, samples};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: parse_loop FILE [MODE] [ITERATIONS]");
        return;
    };
    let body = Bytes::from(std::fs::read(path).expect("readable file"));
    let mode = args.get(2).map_or("openmetrics", String::as_str);
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let format = if mode.ends_with("prometheus") || mode.ends_with("prom") {
        Format::Prometheus
    } else {
        Format::OpenMetrics
    };
    let start = Instant::now();
    let mut points = 0;
    for _ in 0..n {
        if mode.starts_with("samples") {
            for e in samples(std::hint::black_box(&body), format) {
                if let Ok(Entry::Sample(_)) = e {
                    points += 1;
                }
            }
        } else {
            points += parse(std::hint::black_box(&body), format, 1)
                .expect("payload parses")
                .len();
        }
    }
    let per = start.elapsed() / n as u32;
    println!(
        "{mode}: {} bytes, {points} points, {per:?} per parse",
        body.len()
    );
}
