//! logbridge sinks, one folder per sink type, named as users write the
//! type in config (`file/`, `aws_s3/`, `prometheus_remote_write/`, ...).
//!
//! Each module exposes a `*Config` that builds a running
//! [`logbridge_component::Sink`]. What several sinks share lives in kit
//! crates, never in another sink: path and key templates and the
//! `encoding` option in `logbridge-codec`, HTTP sending (client, retries,
//! batching) in the transport kit `logbridge-net`, the Kafka client in
//! `logbridge-kafka`, and the pure protocol crates.
//!
//! Sinks with heavy dependencies are behind cargo features named for their
//! family (`s3` with Parquet, `kafka`, `otlp`, `loki`, `prometheus`,
//! `redis`, `alertmanager`); `blackhole`, `console` and `file` are always
//! built.

#[cfg(feature = "alertmanager")]
pub mod alertmanager;
#[cfg(feature = "s3")]
pub mod aws_s3;
pub mod blackhole;
pub mod console;
pub mod file;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "loki")]
pub mod loki;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus_exporter;
#[cfg(feature = "prometheus")]
pub mod prometheus_remote_write;
#[cfg(feature = "redis")]
pub mod redis_stream;

/// A sink's `encoding` that makes no encoder, as a build error pointing at
/// the option.
fn encoding_error(e: logbridge_codec::encoding::EncodingError) -> logbridge_component::BuildError {
    let err = logbridge_component::BuildError::new(e.option, e.message);
    match e.hint {
        Some(hint) => err.with_hint(hint),
        None => err,
    }
}
