//! logbridge transforms, one folder per transform type, named as users
//! write the type in config.
//!
//! Transforms are synchronous functions over batches (see
//! [`logbridge_component::Transform`]); a transform that can fail on an
//! event sends it to its `dropped` output with the reason attached. The
//! `rules` transform (Prometheus rules evaluated over the metrics that flow
//! through it) is behind the `rules` cargo feature; the engine itself is
//! the pure crate `logbridge-rules`.

pub mod aggregate;
pub mod condition;
pub mod dedupe;
mod duration_histogram;
pub mod evictions;
pub mod filter;
mod fingerprint;
pub mod log_to_metric;
pub mod metric_to_log;
pub mod modify;
pub mod parse;
pub mod reduce;
#[cfg(feature = "vrl")]
pub mod remap;
mod retain;
pub mod route;
#[cfg(feature = "rules")]
pub mod rules;
pub mod sample;
pub mod service_graph;
pub mod span_metrics;
pub mod tail_sample;
pub mod throttle;

#[cfg(test)]
mod testing;

pub use logbridge_component::dropped::mark_dropped;
