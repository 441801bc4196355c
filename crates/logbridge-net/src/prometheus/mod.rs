//! The Prometheus components: pulling and pushing metrics the ways
//! Prometheus does.
//!
//! - [`scrape`]: the `prometheus_scrape` source, which scrapes targets'
//!   text expositions (0.0.4 or OpenMetrics) on an interval and adds the
//!   `job`/`instance` labels and the `up`, `scrape_duration_seconds` and
//!   `scrape_samples_scraped` series as Prometheus does, and stale markers
//!   for series that vanish ([`staleness`]).
//! - [`remote_write_source`]: the `prometheus_remote_write` source, a
//!   remote-write 1.0 receiver answering once the sinks hold the data.
//! - [`remote_write_sink`]: the `prometheus_remote_write` sink, batching
//!   points into remote-write requests, retrying 5xx and 429.
//! - [`exporter`]: the `prometheus_exporter` sink, which keeps the latest
//!   point of every series (summing deltas into totals) and serves them on
//!   `/metrics` for a Prometheus to scrape; [`store`] is its series table.
//!
//! [`client`] holds what the two HTTP clients (scraper and remote-write
//! sender) share. The formats themselves live in `logbridge-prometheus`;
//! this module is the transport.

pub mod exporter;
pub mod remote_write_sink;
pub mod remote_write_source;
pub mod scrape;
mod staleness;
pub mod store;

pub use exporter::PrometheusExporterConfig;
pub use remote_write_sink::PrometheusRemoteWriteSinkConfig;
pub use remote_write_source::PrometheusRemoteWriteSourceConfig;
pub use scrape::PrometheusScrapeConfig;
