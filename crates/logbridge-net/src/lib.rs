//! Network sources and sinks.
//!
//! The shared machinery of every listener and client: [`server`] (TCP or
//! TLS, HTTP/1.1 and HTTP/2, graceful shutdown), [`tls`] (rustls from PEM
//! files, mutual TLS), [`request`] (credentials, body limits, bounded
//! decompression, error responses), [`receive`] (admission under a bound,
//! handing data to the pipeline, answering after the sinks' acknowledgement),
//! [`client`] (what HTTP senders share) and [`rpc`] (`google.rpc` error
//! details). The protocol components are built on it, one module each:
//! [`otlp`], [`http_source`], [`syslog`], [`redis_stream`], [`loki`],
//! [`prometheus`], [`jaeger`], [`zipkin`], and [`alertmanager`] (alerts of
//! the rules engine to Prometheus Alertmanager's API v2).
//!
//! Protocol conversions (OTLP, ...) live in their own crates and do no I/O;
//! this crate is the transport.

pub mod alertmanager;
pub mod client;
pub mod http_source;
pub mod jaeger;
pub mod loki;
pub mod otlp;
pub mod prometheus;
pub mod receive;
pub mod redis_stream;
pub mod request;
pub mod rpc;
pub mod server;
pub mod syslog;
pub mod tls;
pub mod zipkin;

pub use alertmanager::AlertmanagerSinkConfig;
pub use http_source::HttpSourceConfig;
pub use jaeger::JaegerSourceConfig;
pub use loki::{LokiSinkConfig, LokiSourceConfig};
pub use otlp::{OtlpSinkConfig, OtlpSourceConfig};
pub use prometheus::{
    PrometheusExporterConfig, PrometheusRemoteWriteSinkConfig, PrometheusRemoteWriteSourceConfig,
    PrometheusScrapeConfig,
};
pub use redis_stream::RedisStreamSinkConfig;
pub use syslog::SyslogSourceConfig;
pub use zipkin::ZipkinSourceConfig;

/// Now, in nanoseconds since the epoch (0 if the clock is before 1970).
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
