//! logbridge sources, one folder per source type, named as users write
//! the type in config (`file/`, `otlp/`, `prometheus_scrape/`, ...).
//!
//! Each module exposes a `*Config` (the user's options, deserialized with
//! unknown fields denied; its doc comments are the config reference) that
//! builds a running [`logbridge_component::Source`]. What several sources
//! share lives in kit crates, never in another source: the transport kit
//! `logbridge-net` (listeners, TLS, the push path every receiver takes),
//! the Kafka client kit `logbridge-kafka`, and the pure protocol crates
//! (`logbridge-otlp`, `-prometheus`, `-loki`, `-trace-formats`).
//!
//! Sources with heavy dependencies are behind cargo features named for
//! their family (`kafka`, `otlp`, `prometheus`, `loki`, `traces`, `http`,
//! `syslog`); `demo`, `file`, `stdin` and `internal_metrics` are always
//! built.

pub mod demo;
pub mod file;
#[cfg(feature = "http")]
pub mod http;
pub mod internal_metrics;
#[cfg(feature = "traces")]
pub mod jaeger;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "loki")]
pub mod loki;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus_remote_write;
#[cfg(feature = "prometheus")]
pub mod prometheus_scrape;
#[cfg(feature = "traces")]
mod span_push;
pub mod stdin;
#[cfg(feature = "syslog")]
pub mod syslog;
mod util;
#[cfg(feature = "traces")]
pub mod zipkin;
