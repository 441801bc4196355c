//! The interface every logbridge component implements, and the plumbing
//! between components.
//!
//! - [`SourceConfig`], [`TransformConfig`], [`SinkConfig`]: what a config
//!   section builds; they declare the data kinds they take and emit, so the
//!   topology can reject a metrics source wired into a log-only transform.
//! - [`Source`], [`Transform`], [`Sink`]: the running components. Sources and
//!   sinks are async tasks; transforms are plain functions over batches,
//!   driven by the topology (and so testable without a runtime).
//! - [`channel`]: bounded channels, in events and in bytes, and
//!   [`WhenFull`], what any full queue does.
//! - [`Output`]: fan-out to several consumers without copying events.
//! - [`telemetry`]: the per-component counters behind `/debug/metrics`.
//! - [`api`]: the typed views components publish for the admin API
//!   (rule groups, rules, alerts), in the shapes of Prometheus' API.
//! - [`batch`]: the `batch.*` option of sinks that cut input into requests.
//! - [`storage`]: what components writing local files share when writes
//!   fail (a full disk waited out, reported on `/readyz` and in a gauge).
//!
//! This crate spawns no tasks: the topology does.

pub mod api;
pub mod batch;
pub mod channel;
mod config;
mod context;
pub mod dropped;
pub mod enrichment;
mod output;
pub mod storage;
pub mod telemetry;
mod traits;

pub use channel::WhenFull;
pub use config::{BuildContext, BuildError, OutputDef, SinkConfig, SourceConfig, TransformConfig};
pub use context::{ShutdownSignal, SinkContext, SourceContext};
pub use output::{Output, SourceOutputs, TransformOutputs};
pub use traits::{ComponentError, Sink, Source, Transform};

/// Now, in nanoseconds since the Unix epoch (0 if the clock is before
/// 1970): the time sources stamp on what they observe and sinks render
/// templates with.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The name of the output that every failing transform and decoding source
/// routes unparseable events to.
pub const DROPPED_OUTPUT: &str = "dropped";
