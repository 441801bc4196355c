//! Criterion benchmarks of the Prometheus codecs on ~16 KiB payloads shaped
//! like a real service's /metrics: labelled request counters (some with
//! exemplars), latency histograms, summaries, runtime gauges.
//!
//! - `text/parse/*`: full parse into `Metric`s (the 5x-of-Go target:
//!   under 5.8 µs per 16 KiB of OpenMetrics);
//! - `text/samples/*`: the zero-copy layer alone (borrowed samples);
//! - `text/model_clone_drop/*`: cloning and dropping the parsed points,
//!   what the point model costs without any parsing;
//! - `text/encode/*`: the writer;
//! - `remote_write/*`: snappy + protobuf decode and encode of ~16 KiB of
//!   uncompressed protobuf.
//!
//! Throughput is in bytes of text (or protobuf), so criterion's figures
//! convert directly to µs per 16 KiB. Uses mimalloc, like the binary.

use std::fmt::Write;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logbridge_prometheus::encode_text;
use logbridge_prometheus::remote_write::{decode_write_request, encode_write_request};
use logbridge_prometheus::text::{Entry, Format, parse, samples};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TARGET: usize = 16 * 1024;

const ROUTES: &[&str] = &[
    "/api/v1/users",
    "/api/v1/orders",
    "/api/v1/cart",
    "/healthz",
];
const METHODS: &[&str] = &["GET", "POST"];
const STATUSES: &[&str] = &["200", "404", "500"];
const BOUNDS: &[&str] = &[
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0",
];
const SUBSYSTEMS: &[&str] = &[
    "api", "grpc", "db", "cache", "queue", "auth", "search", "billing", "mail", "storage",
];

/// One block of families for `subsystem`, in the given format.
fn block(out: &mut String, sub: &str, om: bool, n: usize) {
    let ts_suffix = "";
    // Request counter with labels; a few exemplars in OpenMetrics.
    let fam = format!("{sub}_http_requests");
    let _ = writeln!(
        out,
        "# HELP {fam}{} Total HTTP requests handled.",
        if om { "" } else { "_total" }
    );
    let _ = writeln!(
        out,
        "# TYPE {fam}{} counter",
        if om { "" } else { "_total" }
    );
    let mut k = 0;
    for route in ROUTES {
        for method in METHODS {
            for status in STATUSES {
                k += 1;
                let value = 1000 + k * 37 + n;
                let _ = write!(
                    out,
                    "{fam}_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {value}{ts_suffix}"
                );
                if om && k % 7 == 0 {
                    let _ = write!(
                        out,
                        " # {{trace_id=\"4bf92f3577b34da6a3ce929d0e0e{:04x}\",span_id=\"00f067aa0ba9{:04x}\"}} 1.0 1714564800.123",
                        k, k
                    );
                }
                out.push('\n');
                if om && k % 4 == 0 {
                    let _ = writeln!(
                        out,
                        "{fam}_created{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} 1714564000.5"
                    );
                }
            }
        }
    }
    // Latency histogram per route.
    let fam = format!("{sub}_http_request_duration_seconds");
    let _ = writeln!(out, "# HELP {fam} Request latency.");
    let _ = writeln!(out, "# TYPE {fam} histogram");
    if om {
        let _ = writeln!(out, "# UNIT {fam} seconds");
    }
    for (r, route) in ROUTES.iter().enumerate().take(2) {
        let mut cum = 0;
        for (i, le) in BOUNDS.iter().enumerate() {
            cum += (i * 7 + r + n) % 50;
            let _ = write!(
                out,
                "{fam}_bucket{{method=\"GET\",route=\"{route}\",le=\"{le}\"}} {cum}"
            );
            if om && i == 3 && r == 0 {
                let _ = write!(
                    out,
                    " # {{trace_id=\"0af7651916cd43dd8448eb211c80319c\"}} 0.043"
                );
            }
            out.push('\n');
        }
        cum += 3;
        let _ = writeln!(
            out,
            "{fam}_bucket{{method=\"GET\",route=\"{route}\",le=\"+Inf\"}} {cum}"
        );
        let _ = writeln!(
            out,
            "{fam}_sum{{method=\"GET\",route=\"{route}\"}} {}.{}",
            cum * 3,
            r + 17
        );
        let _ = writeln!(out, "{fam}_count{{method=\"GET\",route=\"{route}\"}} {cum}");
    }
    // A summary.
    let fam = format!("{sub}_gc_duration_seconds");
    let _ = writeln!(out, "# HELP {fam} A summary of pause durations.");
    let _ = writeln!(out, "# TYPE {fam} summary");
    for q in ["0", "0.25", "0.5", "0.75", "1"] {
        let _ = writeln!(out, "{fam}{{quantile=\"{q}\"}} 0.0001{n}3{}", q.len());
    }
    let _ = writeln!(out, "{fam}_sum 0.0123{n}");
    let _ = writeln!(out, "{fam}_count {}", 120 + n);
    // Runtime gauges.
    for (g, help) in [
        ("goroutines", "Number of goroutines."),
        ("resident_memory_bytes", "Resident memory size in bytes."),
        ("open_fds", "Number of open file descriptors."),
    ] {
        let fam = format!("{sub}_process_{g}");
        let _ = writeln!(out, "# HELP {fam} {help}");
        let _ = writeln!(out, "# TYPE {fam} gauge");
        let _ = writeln!(out, "{fam} {}", 4.2e7 + n as f64 * 1234.5);
    }
}

/// A payload of about 16 KiB: whole blocks while they fit.
fn payload(om: bool) -> Bytes {
    let mut text = String::new();
    for (n, sub) in SUBSYSTEMS.iter().cycle().enumerate() {
        let mut next = String::new();
        block(&mut next, &format!("{sub}{n}"), om, n);
        if text.len() + next.len() > TARGET {
            break;
        }
        text.push_str(&next);
    }
    // Top up with a filesystem gauge family, node_exporter style.
    let fam = "node_filesystem_avail_bytes";
    let _ = writeln!(text, "# HELP {fam} Filesystem space available in bytes.");
    let _ = writeln!(text, "# TYPE {fam} gauge");
    let tail = if om { "# EOF\n".len() } else { 0 };
    for i in 0.. {
        let line = format!(
            "{fam}{{device=\"/dev/sd{i}\",fstype=\"ext4\",mountpoint=\"/mnt/disk{i}\"}} {}\n",
            1.2e10 + f64::from(i) * 4096.0
        );
        if text.len() + line.len() + tail > TARGET {
            break;
        }
        text.push_str(&line);
    }
    if om {
        text.push_str("# EOF\n");
    }
    Bytes::from(text)
}

fn text_benches(c: &mut Criterion) {
    for (label, format) in [
        ("openmetrics", Format::OpenMetrics),
        ("prometheus", Format::Prometheus),
    ] {
        let body = payload(format == Format::OpenMetrics);
        let metrics = parse(&body, format, 1).expect("benchmark payload parses");
        if let Ok(dir) = std::env::var("PROM_BENCH_DUMP") {
            let _ = std::fs::write(format!("{dir}/{label}.txt"), &body);
        }
        eprintln!(
            "{label}: {} bytes, {} lines, {} points",
            body.len(),
            body.iter().filter(|&&b| b == b'\n').count(),
            metrics.len()
        );
        let mut group = c.benchmark_group("text");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("parse/{label}"), |b| {
            b.iter(|| parse(black_box(&body), format, 1).unwrap())
        });
        group.bench_function(format!("samples/{label}"), |b| {
            b.iter(|| {
                let mut sum = 0.0;
                for entry in samples(black_box(&body), format) {
                    if let Ok(Entry::Sample(s)) = entry {
                        sum += s.value;
                    }
                }
                sum
            })
        });
        // What the point model costs without any parsing: the floor of
        // `parse` (it builds and drops the same points).
        group.bench_function(format!("model_clone_drop/{label}"), |b| {
            b.iter(|| black_box(&metrics).clone())
        });
        group.bench_function(format!("encode/{label}"), |b| {
            b.iter(|| encode_text(black_box(&metrics), format))
        });
        group.finish();
    }
}

fn remote_write_benches(c: &mut Criterion) {
    let text = payload(false);
    let mut metrics = parse(&text, Format::Prometheus, 1_714_564_800_000_000_000).unwrap();
    // Trim to about 16 KiB of protobuf.
    let raw_len = |m: &[logbridge_event::Metric]| {
        use prost::Message;
        logbridge_prometheus::remote_write::metrics_to_request(m).encoded_len()
    };
    while raw_len(&metrics) > TARGET && !metrics.is_empty() {
        metrics.pop();
    }
    let raw = raw_len(&metrics);
    let body = encode_write_request(&metrics);
    let decoded = decode_write_request(&body, 1 << 20).unwrap();
    eprintln!(
        "remote write: {} points in, {raw} bytes of protobuf, {} bytes compressed, {} points out",
        metrics.len(),
        body.len(),
        decoded.len()
    );
    let mut group = c.benchmark_group("remote_write");
    group.throughput(Throughput::Bytes(raw as u64));
    group.bench_function("decode", |b| {
        b.iter(|| decode_write_request(black_box(&body), 1 << 20).unwrap())
    });
    group.bench_function("encode", |b| {
        b.iter(|| encode_write_request(black_box(&metrics)))
    });
    group.finish();
}

criterion_group!(benches, text_benches, remote_write_benches);
criterion_main!(benches);
