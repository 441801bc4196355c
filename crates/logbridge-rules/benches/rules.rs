//! Steady-state cost of the rules engine at the size the product targets:
//! 1,000 alerting and recording rules over 100,000 active counter series,
//! evaluated every 15 s.
//!
//! It builds the workload (one metric per rule, 100 series per metric), fills
//! the store with a simulated hour of scrapes while evaluating every group
//! every 15 s (so recorded series, `ALERTS` and retention truncation are in
//! their steady state), then times evaluation rounds and reports:
//!
//! - time per round (all groups once, plus truncation) and rule
//!   evaluations per second, on one thread;
//! - ingest rate in samples per second;
//! - bytes per stored sample (`sample_bytes / sample_count`) at the end and
//!   over the timed rounds, and in steady state (summed over a whole chunk
//!   cycle, as a store whose series started at different times holds
//!   them), series and samples held, and the process' peak RSS.
//!
//! Goal (from the issue): a round well under one second on one core, and
//! under 2 bytes per sample in steady state.
//!
//! Run with:
//!
//! ```text
//! cargo bench -p logbridge-rules --bench rules
//! RULES_BENCH_QUICK=1 cargo bench -p logbridge-rules --bench rules   # 10x smaller
//! RULES_BENCH_KEEP_ALL=1 cargo bench -p logbridge-rules --bench rules # also store what no rule reads
//! ```
//!
//! By default the store keeps only series some rule reads; here that is the
//! 100,000 input series (no rule reads the recorded series or `ALERTS`).
//! `RULES_BENCH_KEEP_ALL=1` stores those too, as Prometheus must, to show
//! what the series written by rules cost.
//!
//! This is a plain `main` (`harness = false`): the arguments cargo passes
//! (`--bench`, filters) are ignored. With `RULES_BENCH_WRITE_RULES=FILE` it
//! only writes the generated rule file (`scripts/bench-rules` runs the same
//! rules in Prometheus to compare).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logbridge_rules::Clock;
use logbridge_rules::labels::Labels;
use logbridge_rules::promql::EngineOptions;
use logbridge_rules::rule_file::parse_rule_file;
use logbridge_rules::rules::{RuleEngine, RuleHealth, RulesConfig};

/// Evaluation interval of every group, and the scrape interval.
const INTERVAL_MS: i64 = 15_000;
/// Scrapes land this long before the evaluation step they feed.
const SCRAPE_LEAD_MS: i64 = 5_000;
/// First evaluation step: a multiple of the interval, in November 2023.
const START_MS: i64 = (1_700_000_000_000 / INTERVAL_MS + 1) * INTERVAL_MS;

const JOBS: usize = 5;
const INSTANCES: usize = 5;
const CODES: [&str; 4] = ["200", "404", "500", "503"];
/// Series per metric: every job, instance and code.
const COMBOS: usize = JOBS * INSTANCES * CODES.len();
const RULES_PER_GROUP: usize = 50;

/// How big the run is.
struct Scale {
    /// One metric per rule: even rules record, odd rules alert.
    rules: usize,
    /// Simulated time before measuring.
    warmup_steps: usize,
    /// Timed evaluation rounds. A round's cost follows how full the
    /// series' chunks are (120 samples, 30 min at 15 s), so the full run
    /// times one whole chunk cycle.
    rounds: usize,
}

impl Scale {
    fn from_env() -> Self {
        let quick = std::env::var("RULES_BENCH_QUICK").is_ok_and(|v| v == "1");
        if quick {
            // 100 rules over 10,000 series, six simulated minutes, 12 rounds.
            Self {
                rules: 100,
                warmup_steps: 24,
                rounds: 12,
            }
        } else {
            // 1,000 rules over 100,000 series, one simulated hour, 120 rounds.
            Self {
                rules: 1_000,
                warmup_steps: 240,
                rounds: 120,
            }
        }
    }

    fn series(&self) -> usize {
        self.rules * COMBOS
    }

    fn groups(&self) -> usize {
        self.rules.div_ceil(RULES_PER_GROUP)
    }
}

/// xorshift64*: a fixed-seed generator, so every run sees the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn metric_name(rule: usize) -> String {
    format!("app_requests_total_{rule}")
}

/// Every tenth alerting rule's metric has a 5xx ratio of about 25%, so its
/// alerts fire; the others stay near 2%.
fn is_hot(rule: usize) -> bool {
    !rule.is_multiple_of(2) && (rule / 2).is_multiple_of(10)
}

/// The rule file: groups of 50 rules, each rule reading its own metric.
fn rule_file_yaml(scale: &Scale) -> String {
    let mut yaml = String::from("groups:\n");
    for group in 0..scale.groups() {
        let _ = writeln!(yaml, "  - name: app-{group}\n    interval: 15s\n    rules:");
        let first = group * RULES_PER_GROUP;
        for rule in first..(first + RULES_PER_GROUP).min(scale.rules) {
            let metric = metric_name(rule);
            if rule.is_multiple_of(2) {
                let _ = writeln!(
                    yaml,
                    "      - record: job_code:{metric}:rate5m\n        \
                     expr: 'sum by (job, code) (rate({metric}[5m]))'"
                );
            } else {
                let _ = writeln!(
                    yaml,
                    "      - alert: HighErrorRatio{rule}\n        \
                     expr: 'sum by (job) (rate({metric}{{code=\"500\"}}[5m])) \
                     / sum by (job) (rate({metric}[5m])) > 0.05'\n        \
                     for: 5m\n        \
                     labels:\n          severity: warning\n          team: app\n        \
                     annotations:\n          \
                     summary: '{{{{ $labels.job }}}}: {{{{ $value | humanizePercentage }}}} \
                     of {metric} are 5xx'"
                );
            }
        }
    }
    yaml
}

/// The system's monotonic clock, which times groups and rules (the
/// engine reads no clock itself).
#[derive(Debug)]
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

fn build_engine(scale: &Scale) -> RuleEngine {
    let yaml = rule_file_yaml(scale);
    let file = parse_rule_file("bench.rules.yml", &yaml)
        .unwrap_or_else(|errors| panic!("generated rule file is invalid: {errors:?}"));
    let config = RulesConfig {
        default_interval_ms: INTERVAL_MS,
        max_series: 2_000_000,
        keep_unread_series: std::env::var("RULES_BENCH_KEEP_ALL").is_ok_and(|v| v == "1"),
        engine: EngineOptions {
            clock: Some(Arc::new(SystemClock)),
            ..EngineOptions::default()
        },
        ..Default::default()
    };
    RuleEngine::new(&[file], config)
        .unwrap_or_else(|errors| panic!("generated rules do not build: {errors:?}"))
}

/// The input series and their counters.
struct Workload {
    labels: Vec<Labels>,
    values: Vec<f64>,
    rng: Rng,
}

impl Workload {
    fn new(scale: &Scale) -> Self {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut labels = Vec::with_capacity(scale.series());
        for rule in 0..scale.rules {
            let metric = metric_name(rule);
            for job in 0..JOBS {
                for instance in 0..INSTANCES {
                    for code in CODES {
                        labels.push(Labels::from_pairs([
                            ("__name__", metric.as_str()),
                            ("job", &format!("svc-{job}")),
                            ("instance", &format!("10.0.{job}.{instance}:8080")),
                            ("code", code),
                        ]));
                    }
                }
            }
        }
        let values = (0..labels.len())
            .map(|_| rng.below(1_000_000) as f64)
            .collect();
        Self {
            labels,
            values,
            rng,
        }
    }

    /// One scrape of every series for the evaluation at `step_ms`: counters
    /// grow by small integers, timestamps carry a few ms of jitter.
    fn scrape(&mut self, engine: &mut RuleEngine, step_ms: i64) {
        let base = step_ms - SCRAPE_LEAD_MS;
        for (i, labels) in self.labels.iter().enumerate() {
            let rule = i / COMBOS;
            let increment = match i % CODES.len() {
                0 => self.rng.below(20),
                1 => self.rng.below(3),
                2 if is_hot(rule) => self.rng.below(8),
                _ => u64::from(self.rng.below(4) == 0),
            };
            self.values[i] += increment as f64;
            let jitter = self.rng.below(5) as i64 - 2;
            engine.ingest(labels, base + jitter, self.values[i]);
        }
    }
}

/// What the timed rounds saw.
#[derive(Default)]
struct Measured {
    rounds: Vec<Duration>,
    /// Time inside rule groups (the rest of a round is truncation).
    in_groups: Vec<Duration>,
    samples_out: usize,
    notifications: usize,
    /// Bytes per stored sample after each round.
    bytes_per_sample: Vec<f64>,
    /// Sample bytes and samples held, summed over the rounds.
    bytes_held: usize,
    samples_held: usize,
}

/// One evaluation step: scrape (timed into `ingest`), then evaluate all
/// due groups; returns the evaluation's time and its output.
fn step(
    engine: &mut RuleEngine,
    workload: &mut Workload,
    step_ms: i64,
    ingest: &mut Duration,
) -> (Duration, Duration, usize, usize) {
    let started = Instant::now();
    workload.scrape(engine, step_ms);
    *ingest += started.elapsed();

    let started = Instant::now();
    let evaluation = engine.evaluate_due(step_ms);
    let round = started.elapsed();
    assert_eq!(evaluation.groups_evaluated, engine.groups().len());
    let in_groups = engine.groups().iter().map(|g| g.evaluation_time).sum();
    (
        round,
        in_groups,
        evaluation.samples.len(),
        evaluation.notifications.len(),
    )
}

/// Peak resident set size in KiB, from `/proc/self/status` (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let bench_started = Instant::now();
    let scale = Scale::from_env();
    // `scripts/bench-rules` loads the same rules into Prometheus.
    if let Ok(path) = std::env::var("RULES_BENCH_WRITE_RULES") {
        std::fs::write(&path, rule_file_yaml(&scale))
            .unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        return;
    }

    let build_started = Instant::now();
    let mut engine = build_engine(&scale);
    let mut workload = Workload::new(&scale);
    let build_time = build_started.elapsed();

    let mut ingest = Duration::ZERO;
    let warmup_started = Instant::now();
    for k in 0..scale.warmup_steps {
        step(
            &mut engine,
            &mut workload,
            START_MS + k as i64 * INTERVAL_MS,
            &mut ingest,
        );
        if (k + 1).is_multiple_of(40) {
            eprintln!("warm-up: {} simulated minutes", (k + 1) / 4);
        }
    }
    let warmup_time = warmup_started.elapsed();

    let mut measured = Measured::default();
    for r in 0..scale.rounds {
        let k = scale.warmup_steps + r;
        let (round, in_groups, samples, notifications) = step(
            &mut engine,
            &mut workload,
            START_MS + k as i64 * INTERVAL_MS,
            &mut ingest,
        );
        measured.rounds.push(round);
        measured.in_groups.push(in_groups);
        measured.samples_out += samples;
        measured.notifications += notifications;
        let store = engine.store();
        let (bytes, samples) = (store.sample_bytes(), store.sample_count());
        measured
            .bytes_per_sample
            .push(bytes as f64 / samples.max(1) as f64);
        measured.bytes_held += bytes;
        measured.samples_held += samples;
    }

    let scrapes = scale.warmup_steps + scale.rounds;
    report(&scale, &engine, &measured, scrapes, ingest);
    println!(
        "time: build {:.1} s, warm-up {:.1} s ({} simulated min), total {:.1} s",
        build_time.as_secs_f64(),
        warmup_time.as_secs_f64(),
        scale.warmup_steps / 4,
        bench_started.elapsed().as_secs_f64()
    );
}

fn report(
    scale: &Scale,
    engine: &RuleEngine,
    measured: &Measured,
    scrapes: usize,
    ingest: Duration,
) {
    let mut rounds = measured.rounds.clone();
    rounds.sort();
    let median = rounds[rounds.len() / 2];
    let mut in_groups = measured.in_groups.clone();
    in_groups.sort();
    let n = rounds.len();

    let rules: usize = engine.groups().iter().map(|g| g.rules.len()).sum();
    let failing = engine
        .groups()
        .iter()
        .flat_map(|g| &g.rules)
        .filter(|r| r.status().health == RuleHealth::Err)
        .count();
    let firing = engine
        .alerts()
        .filter(|(_, _, a)| a.fired_at.is_some())
        .count();

    let store = engine.store();
    let samples = store.sample_count();
    let bytes = store.sample_bytes();
    let ingested = scrapes * scale.series();

    println!(
        "rules bench: {rules} rules in {} groups, {} input series, {} s interval, one thread",
        engine.groups().len(),
        scale.series(),
        INTERVAL_MS / 1000
    );
    println!(
        "round ({n} timed): median {:.1} ms (min {:.1}, p90 {:.1}, max {:.1}); in rule groups median {:.1} ms, rest is truncation",
        ms(median),
        ms(rounds[0]),
        ms(rounds[n * 9 / 10]),
        ms(rounds[n - 1]),
        ms(in_groups[in_groups.len() / 2])
    );
    println!(
        "rule evaluations/s: {:.0} (median round)",
        rules as f64 / median.as_secs_f64()
    );
    println!(
        "output per round: {:.0} samples (recorded + ALERTS), {:.0} notifications; {firing} alerts firing, {failing} rules failing",
        measured.samples_out as f64 / n as f64,
        measured.notifications as f64 / n as f64
    );
    println!(
        "ingest: {:.2} M samples/s ({ingested} samples in {:.1} s); over the series limit {}, out of order {}, read by no rule {}",
        ingested as f64 / ingest.as_secs_f64() / 1e6,
        ingest.as_secs_f64(),
        engine.samples_over_series_limit,
        engine.samples_out_of_order,
        engine.samples_not_read
    );
    println!(
        "store: {} series, {samples} samples ({:.0} per series), retention {} s",
        store.series_count(),
        samples as f64 / store.series_count().max(1) as f64,
        engine.retention_ms() / 1000
    );
    let bps = &measured.bytes_per_sample;
    println!(
        "bytes/sample: {:.2} now ({:.1} MiB of samples); over the timed rounds mean {:.2} (min {:.2}, max {:.2})",
        bytes as f64 / samples.max(1) as f64,
        bytes as f64 / (1024.0 * 1024.0),
        bps.iter().sum::<f64>() / bps.len() as f64,
        bps.iter().copied().fold(f64::INFINITY, f64::min),
        bps.iter().copied().fold(0.0, f64::max)
    );
    // Every series here starts in the same scrape, so all chunks close
    // together and the figure above swings with the phase of the chunk
    // cycle (few samples right after a chunk is dropped, most just before).
    // Series that started at different times hold every phase at once: a
    // real store's figure is the bytes over the samples, both summed over
    // one whole cycle (which the timed rounds span).
    println!(
        "bytes/sample in steady state (series at every phase of the chunk cycle): {:.2} (sum of bytes / sum of samples over the timed rounds)",
        measured.bytes_held as f64 / measured.samples_held.max(1) as f64
    );
    // Input counters against what the rules wrote (recorded rates, ALERTS).
    let (input_n, input_b) =
        store.sample_stats(|l| l.value_of("__name__").starts_with("app_requests_total_"));
    println!(
        "bytes/sample now by kind: input counters {:.2} ({input_n} samples), series written by rules {:.2} ({} samples)",
        input_b as f64 / input_n.max(1) as f64,
        (bytes - input_b) as f64 / (samples - input_n).max(1) as f64,
        samples - input_n
    );
    match peak_rss_kib() {
        Some(kib) => println!("peak RSS: {:.0} MiB", kib as f64 / 1024.0),
        None => println!("peak RSS: unknown (no /proc/self/status)"),
    }
}
