//! Per-component counters, gauges and histograms, and their rendering in
//! the Prometheus text format for `/debug/metrics`.
//!
//! Counters are plain atomics bumped once per batch, so telemetry costs
//! nothing per event. The names are part of the API (see the README).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::api::RulesView;
use crate::channel::ChannelUsage;

/// Lets a log line through at most once per interval, so a flood of bad
/// input cannot flood the logs (the counters still count every event).
#[derive(Debug)]
pub struct RateLimit {
    interval: std::time::Duration,
    last: Mutex<Option<std::time::Instant>>,
}

impl RateLimit {
    pub fn new(interval: std::time::Duration) -> RateLimit {
        RateLimit {
            interval,
            last: Mutex::new(None),
        }
    }

    /// True when a message may be logged now.
    pub fn allow(&self) -> bool {
        let mut last = lock(&self.last);
        let now = std::time::Instant::now();
        match *last {
            Some(t) if now.duration_since(t) < self.interval => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::new(std::time::Duration::from_secs(10))
    }
}

/// Which part of the pipeline a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    Source,
    Transform,
    Sink,
}

impl ComponentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Source => "source",
            ComponentKind::Transform => "transform",
            ComponentKind::Sink => "sink",
        }
    }
}

/// Upper bounds (seconds) of the write latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A fixed-bucket histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    /// Sum in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }
}

/// The counters of one component.
#[derive(Debug)]
pub struct ComponentMetrics {
    pub id: String,
    pub kind: ComponentKind,
    pub component_type: String,
    pub received_events: AtomicU64,
    pub received_bytes: AtomicU64,
    pub sent_events: AtomicU64,
    pub sent_bytes: AtomicU64,
    /// Events dropped on purpose (a filter that did not match).
    pub discarded_intentional: AtomicU64,
    /// Events dropped because they could not be handled (too long, full
    /// buffer with `drop_newest`, ...).
    pub discarded_unintentional: AtomicU64,
    pub errors: AtomicU64,
    /// Write latency of a sink.
    pub write_latency: Histogram,
    /// Gauges with labels of their own (per-partition lag, ...).
    gauges: Mutex<BTreeMap<(&'static GaugeDef, String), i64>>,
    /// Why the component cannot do its work right now (its server is
    /// unreachable, its disk is full, ...), by the part of it that has the
    /// problem ("" for the component as a whole); `/readyz` fails while
    /// any is set.
    problems: Mutex<BTreeMap<&'static str, String>>,
}

/// A component-specific gauge's name and help text.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GaugeDef {
    pub name: &'static str,
    pub help: &'static str,
    /// Typed as a counter: the value only grows (a count since start,
    /// kept by the component), so `rate()` applies.
    pub counter: bool,
}

impl ComponentMetrics {
    pub fn new(id: &str, kind: ComponentKind, component_type: &str) -> ComponentMetrics {
        ComponentMetrics {
            id: id.to_owned(),
            kind,
            component_type: component_type.to_owned(),
            received_events: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            sent_events: AtomicU64::new(0),
            sent_bytes: AtomicU64::new(0),
            discarded_intentional: AtomicU64::new(0),
            discarded_unintentional: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            write_latency: Histogram::default(),
            gauges: Mutex::new(BTreeMap::new()),
            problems: Mutex::new(BTreeMap::new()),
        }
    }

    /// Sets a gauge for one label set (`labels` as `(name, value)` pairs).
    pub fn set_gauge(&self, def: &'static GaugeDef, labels: &[(&str, &str)], value: i64) {
        lock(&self.gauges).insert((def, render_labels(labels)), value);
    }

    /// Adds `delta` to a gauge's (or counter's) value for one label set.
    pub fn add_to_gauge(&self, def: &'static GaugeDef, labels: &[(&str, &str)], delta: i64) {
        *lock(&self.gauges)
            .entry((def, render_labels(labels)))
            .or_default() += delta;
    }

    /// Removes a gauge's label set (a partition this consumer lost).
    pub fn remove_gauge(&self, def: &'static GaugeDef, labels: &[(&str, &str)]) {
        lock(&self.gauges).remove(&(def, render_labels(labels)));
    }

    /// Reports (or, with `None`, clears) why the component cannot work.
    pub fn set_problem(&self, problem: Option<String>) {
        self.set_part_problem("", problem);
    }

    /// Reports (or clears) the problem of one part of the component (its
    /// disk buffer, its checkpoints, ...), apart from the component's own,
    /// so that one part working again does not hide another's problem.
    pub fn set_part_problem(&self, part: &'static str, problem: Option<String>) {
        let mut problems = lock(&self.problems);
        match problem {
            Some(problem) => {
                problems.insert(part, problem);
            }
            None => {
                problems.remove(part);
            }
        }
    }

    /// Every problem reported, the parts' prefixed with their names.
    pub fn problem(&self) -> Option<String> {
        let problems = lock(&self.problems);
        if problems.is_empty() {
            return None;
        }
        let all: Vec<String> = problems
            .iter()
            .map(|(part, problem)| match *part {
                "" => problem.clone(),
                part => format!("{part}: {problem}"),
            })
            .collect();
        Some(all.join("; "))
    }

    pub fn add_received(&self, events: usize, bytes: usize) {
        self.received_events
            .fetch_add(events as u64, Ordering::Relaxed);
        self.received_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn add_sent(&self, events: usize, bytes: usize) {
        self.sent_events.fetch_add(events as u64, Ordering::Relaxed);
        self.sent_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn add_discarded(&self, events: usize, intentional: bool) {
        let c = if intentional {
            &self.discarded_intentional
        } else {
            &self.discarded_unintentional
        };
        c.fetch_add(events as u64, Ordering::Relaxed);
    }

    pub fn add_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    fn labels(&self) -> String {
        format!(
            "component_id=\"{}\",component_kind=\"{}\",component_type=\"{}\"",
            escape(&self.id),
            self.kind.as_str(),
            escape(&self.component_type)
        )
    }
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in labels {
        let _ = write!(out, ",{name}=\"{}\"", escape(value));
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A channel feeding a component, for the fill gauges.
struct ChannelGauge {
    component_id: String,
    usage: ChannelUsage,
}

/// Every component's metrics, registered by the topology, and the API
/// views components publish.
#[derive(Default)]
pub struct Registry {
    components: Mutex<Vec<Arc<ComponentMetrics>>>,
    channels: Mutex<Vec<ChannelGauge>>,
    rules_views: Mutex<Vec<Arc<dyn RulesView>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("components", &lock(&self.components).len())
            .field("rules_views", &lock(&self.rules_views).len())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Arc<Registry> {
        Arc::new(Registry::default())
    }

    pub fn register(
        &self,
        id: &str,
        kind: ComponentKind,
        component_type: &str,
    ) -> Arc<ComponentMetrics> {
        let m = Arc::new(ComponentMetrics::new(id, kind, component_type));
        lock(&self.components).push(m.clone());
        m
    }

    pub fn register_channel(&self, component_id: &str, usage: ChannelUsage) {
        lock(&self.channels).push(ChannelGauge {
            component_id: component_id.to_owned(),
            usage,
        });
    }

    pub fn components(&self) -> Vec<Arc<ComponentMetrics>> {
        lock(&self.components).clone()
    }

    /// Publishes a rules engine's state for `/api/v1/rules` and
    /// `/api/v1/alerts`.
    pub fn register_rules_view(&self, view: Arc<dyn RulesView>) {
        lock(&self.rules_views).push(view);
    }

    pub fn rules_views(&self) -> Vec<Arc<dyn RulesView>> {
        lock(&self.rules_views).clone()
    }

    /// The metrics in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let components = self.components();
        let mut out = String::with_capacity(4096);
        type Getter = fn(&ComponentMetrics) -> u64;
        let counters: [(&str, &str, Getter); 5] = [
            (
                "logbridge_component_received_events_total",
                "Events received by the component.",
                |m| m.received_events.load(Ordering::Relaxed),
            ),
            (
                "logbridge_component_received_bytes_total",
                "Bytes received by the component.",
                |m| m.received_bytes.load(Ordering::Relaxed),
            ),
            (
                "logbridge_component_sent_events_total",
                "Events sent on by the component.",
                |m| m.sent_events.load(Ordering::Relaxed),
            ),
            (
                "logbridge_component_sent_bytes_total",
                "Bytes sent on by the component.",
                |m| m.sent_bytes.load(Ordering::Relaxed),
            ),
            (
                "logbridge_component_errors_total",
                "Errors met by the component.",
                |m| m.errors.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, get) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for m in &components {
                let _ = writeln!(out, "{name}{{{}}} {}", m.labels(), get(m));
            }
        }
        // The discarded counter is split by whether the drop was intended.
        let name = "logbridge_component_discarded_events_total";
        let _ = writeln!(
            out,
            "# HELP {name} Events the component did not pass on.\n# TYPE {name} counter"
        );
        for m in &components {
            for (intentional, c) in [
                ("true", &m.discarded_intentional),
                ("false", &m.discarded_unintentional),
            ] {
                let _ = writeln!(
                    out,
                    "{name}{{{},intentional=\"{intentional}\"}} {}",
                    m.labels(),
                    c.load(Ordering::Relaxed)
                );
            }
        }

        let channels = lock(&self.channels);
        for (name, help, get) in [
            (
                "logbridge_buffer_events",
                "Events queued in front of the component.",
                ChannelUsage::events as fn(&ChannelUsage) -> usize,
            ),
            (
                "logbridge_buffer_bytes",
                "Bytes queued in front of the component.",
                ChannelUsage::bytes,
            ),
            (
                "logbridge_buffer_max_events",
                "Capacity of the queue in events.",
                ChannelUsage::max_events,
            ),
            (
                "logbridge_buffer_max_bytes",
                "Capacity of the queue in bytes.",
                ChannelUsage::max_bytes,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for c in channels.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{component_id=\"{}\"}} {}",
                    escape(&c.component_id),
                    get(&c.usage)
                );
            }
        }
        let name = "logbridge_buffer_discarded_events_total";
        let _ = writeln!(
            out,
            "# HELP {name} Events a full queue refused (when_full = \"drop_newest\").\n# TYPE {name} counter"
        );
        for c in channels.iter() {
            let _ = writeln!(
                out,
                "{name}{{component_id=\"{}\"}} {}",
                escape(&c.component_id),
                c.usage.dropped_events()
            );
        }
        drop(channels);

        let name = "logbridge_component_write_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time a sink took to write a batch.\n# TYPE {name} histogram"
        );
        for m in components.iter().filter(|m| m.kind == ComponentKind::Sink) {
            let labels = m.labels();
            let h = &m.write_latency;
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let count = h.count.load(Ordering::Relaxed);
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        }
        render_gauges(&components, &mut out);
        out
    }

    /// Components reporting a problem, as `(id, problem)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        self.components()
            .iter()
            .filter_map(|m| Some((m.id.clone(), m.problem()?)))
            .collect()
    }
}

/// The component-specific gauges, one `# HELP` block per name.
fn render_gauges(components: &[Arc<ComponentMetrics>], out: &mut String) {
    let mut by_def: BTreeMap<&'static GaugeDef, Vec<String>> = BTreeMap::new();
    for m in components {
        let base = m.labels();
        for ((def, labels), value) in lock(&m.gauges).iter() {
            by_def
                .entry(def)
                .or_default()
                .push(format!("{}{{{base}{labels}}} {value}", def.name));
        }
    }
    for (def, lines) in by_def {
        let _ = writeln!(
            out,
            "# HELP {} {}\n# TYPE {} {}",
            def.name,
            def.help,
            def.name,
            if def.counter { "counter" } else { "gauge" }
        );
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it:
/// the registry only ever appends, so its state stays consistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_lets_one_through_per_interval() {
        let r = RateLimit::new(std::time::Duration::from_secs(3600));
        assert!(r.allow());
        assert!(!r.allow());
        assert!(RateLimit::new(std::time::Duration::ZERO).allow());
    }

    #[test]
    fn renders_every_counter_with_labels() {
        let r = Registry::new();
        let m = r.register("app", ComponentKind::Source, "file");
        m.add_received(3, 30);
        m.add_discarded(2, false);
        let s = r.register("out", ComponentKind::Sink, "file");
        s.write_latency.observe(std::time::Duration::from_millis(3));
        let text = r.render();
        assert!(text.contains(
            "logbridge_component_received_events_total{component_id=\"app\",component_kind=\"source\",component_type=\"file\"} 3"
        ));
        assert!(text.contains("intentional=\"false\"} 2"));
        assert!(text.contains("logbridge_component_write_duration_seconds_bucket{component_id=\"out\",component_kind=\"sink\",component_type=\"file\",le=\"0.005\"} 1"));
        assert!(text.contains("logbridge_component_write_duration_seconds_count{component_id=\"out\",component_kind=\"sink\",component_type=\"file\"} 1"));
    }

    #[test]
    fn renders_labeled_gauges_and_problems() {
        static LAG: GaugeDef = GaugeDef {
            name: "logbridge_test_lag",
            help: "Lag.",
            counter: false,
        };
        let r = Registry::new();
        let m = r.register("in", ComponentKind::Source, "kafka");
        m.set_gauge(&LAG, &[("topic", "logs"), ("partition", "0")], 5);
        m.set_gauge(&LAG, &[("topic", "logs"), ("partition", "1")], 7);
        m.remove_gauge(&LAG, &[("topic", "logs"), ("partition", "1")]);
        let text = r.render();
        assert_eq!(text.matches("# TYPE logbridge_test_lag gauge").count(), 1);
        assert!(text.contains("logbridge_test_lag{component_id=\"in\",component_kind=\"source\",component_type=\"kafka\",topic=\"logs\",partition=\"0\"} 5"));
        assert!(!text.contains("partition=\"1\""));
        assert!(r.problems().is_empty());
        m.set_problem(Some("broker unreachable".into()));
        assert_eq!(
            r.problems(),
            vec![("in".to_owned(), "broker unreachable".to_owned())]
        );
        m.set_part_problem("buffer", Some("disk full".into()));
        m.set_problem(None);
        assert_eq!(
            r.problems(),
            vec![("in".to_owned(), "buffer: disk full".to_owned())]
        );
        m.set_part_problem("buffer", None);
        assert!(r.problems().is_empty());
    }

    #[test]
    fn counter_defs_are_typed_counter() {
        static MISSED: GaugeDef = GaugeDef {
            name: "logbridge_test_missed_total",
            help: "Missed.",
            counter: true,
        };
        let r = Registry::new();
        let m = r.register("rules", ComponentKind::Transform, "rules");
        m.set_gauge(&MISSED, &[("group", "g")], 2);
        m.add_to_gauge(&MISSED, &[("group", "g")], 3);
        m.add_to_gauge(&MISSED, &[("group", "h")], 1);
        let text = r.render();
        assert!(text.contains("# TYPE logbridge_test_missed_total counter\n"));
        assert!(text.contains("group=\"g\"} 5"));
        assert!(text.contains("group=\"h\"} 1"));
    }
}
