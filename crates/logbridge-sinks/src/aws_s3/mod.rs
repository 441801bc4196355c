//! The `aws_s3` sink: writes batches of events as objects to an S3 bucket
//! (or any S3-compatible server), or with `bucket = "file:///path"` into a
//! local folder with the same object layout.
//!
//! Events are grouped by their rendered `key_prefix`; each group is one
//! open batch that becomes one object when it reaches `batch.max_bytes`
//! (encoded, before compression) or `batch.max_events`, when it is
//! `batch.timeout_secs` old, or when the input ends. A batch's finalizers
//! resolve `Delivered` only after its object is written. Server errors,
//! throttling and connection failures are retried with backoff until
//! shutdown and then reported `Errored`, so the source reads the data
//! again; a request the server refuses (another 4xx) is not retried and is
//! reported `Rejected`. Acknowledged data is never dropped.
//!
//! This module owns the options and their validation; `build()` does no
//! I/O (it runs for `logbridge validate`): the object store is created in
//! `run()` (`store.rs`), and the batching loop lives in `sink.rs`.

mod cuts;
pub(crate) mod parquet;
mod profile;
mod sink;
mod store;
#[cfg(test)]
mod tests;

use logbridge_component::batch::{BatchConfig, BatchDefaults};
use logbridge_component::{BuildContext, BuildError, Sink, SinkConfig};
use logbridge_event::DataKind;
use serde::Deserialize;

use self::parquet::ParquetOptions;
use crate::file::Compression;
use logbridge_codec::encode::TimestampFormat;
use logbridge_codec::encoding::{CodecName, EncodingConfig};
use logbridge_codec::template::Template;

use self::sink::{ObjectFormat, S3Sink, SinkSettings};
use self::store::StoreTarget;

/// Writes events as objects to an S3 bucket.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3SinkConfig {
    /// Bucket name, or `file:///path` to write the same object layout into
    /// a local folder (needs no server).
    pub bucket: String,
    /// Object key prefix template, strftime and `{{ field }}`, e.g.
    /// `app/service={{ service }}/date=%Y-%m-%d/`. Times come from the
    /// event's timestamp, or when it was observed.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// AWS region; else `AWS_REGION` / `AWS_DEFAULT_REGION`, else
    /// `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:9000`;
    /// else `AWS_ENDPOINT_URL`. Implies path-style addressing; `http://`
    /// is allowed.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Compression of the whole object: `none`, `gzip` (the default for
    /// line codecs, as in Vector) or `zstd`. Parquet objects compress their
    /// pages instead (`encoding.parquet.compression`) and take `none`, the
    /// default for them.
    #[serde(default)]
    pub compression: Option<Compression>,
    /// How events are encoded.
    pub encoding: S3EncodingConfig,
    /// When a batch becomes an object: once its encoded events (before
    /// compression) reach `max_bytes`, once it holds `max_events`, or once
    /// its first event has waited `timeout_secs`.
    #[serde(default)]
    pub batch: BatchConfig<S3Batch>,
    /// Object name extension without the dot; defaults to `json` (`json`,
    /// `otlp_json`), `log` or `parquet` (by codec) plus `.gz` / `.zst` (by compression). Empty for none.
    #[serde(default)]
    pub filename_extension: Option<String>,
}

/// `encoding`: a line codec, or Parquet.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3EncodingConfig {
    /// `json` (one object per line), `logfmt`, `text` (the message only),
    /// `otlp_json` (one OTLP/JSON export request per line, keeping every
    /// OpenTelemetry field: the way to archive OTLP data; with the
    /// `otlp-grpc` feature, on by default) or `parquet` (columns from the
    /// fields seen in each object, or from `encoding.parquet.schema`).
    pub codec: S3Codec,
    /// Parquet options, for `codec = "parquet"`.
    #[serde(default)]
    pub parquet: Option<ParquetOptions>,
    /// Write only these fields of a log, as in every sink's `encoding`
    /// (line codecs only).
    #[serde(default)]
    pub only_fields: Option<Vec<String>>,
    /// Leave these fields of a log out (line codecs only).
    #[serde(default)]
    pub except_fields: Option<Vec<String>>,
    /// How a log's times are written (line codecs only): `rfc3339` (the
    /// default), or since the Unix epoch as `unix` (seconds), `unix_ms`,
    /// `unix_us`, `unix_ns` or `unix_float`.
    #[serde(default)]
    pub timestamp_format: TimestampFormat,
}

/// `encoding.codec` of the `aws_s3` sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum S3Codec {
    Json,
    Logfmt,
    Text,
    #[cfg(feature = "otlp")]
    OtlpJson,
    Parquet,
}

/// The sink's `batch.*` defaults.
#[derive(Debug, Clone, Copy)]
pub struct S3Batch;

impl BatchDefaults for S3Batch {
    const MAX_EVENTS: usize = 100_000;
    const MAX_BYTES: Option<usize> = Some(10 * 1024 * 1024);
    const TIMEOUT_SECS: f64 = 300.0;
}

/// The least the open batches of one sink may hold together before the
/// largest is written early.
const MIN_BUFFERED_BYTES: usize = 64 * 1024 * 1024;

fn default_key_prefix() -> String {
    "date=%F/".to_owned()
}

impl S3SinkConfig {
    /// Validates the options and builds the sink without any I/O.
    fn settings(&self, state_dir: std::path::PathBuf) -> Result<SinkSettings, BuildError> {
        let key_prefix =
            Template::parse(&self.key_prefix).map_err(|e| BuildError::new("key_prefix", e.0))?;
        if self.key_prefix.starts_with('/') {
            return Err(BuildError::new(
                "key_prefix",
                "object keys must not start with `/`",
            ));
        }
        let target = match self.bucket.strip_prefix("file://") {
            Some(path) => {
                if !path.starts_with('/') || path.trim_matches('/').is_empty() {
                    return Err(BuildError::new(
                        "bucket",
                        format!("`{}` is not a local folder URL", self.bucket),
                    )
                    .with_hint("write an absolute path: `file:///var/lib/logbridge/objects`"));
                }
                StoreTarget::Local(path.into())
            }
            None => {
                validate_bucket_name(&self.bucket)?;
                if let Some(endpoint) = &self.endpoint {
                    validate_endpoint(endpoint)?;
                }
                if let Some(region) = &self.region
                    && (region.is_empty() || region.contains(char::is_whitespace))
                {
                    return Err(BuildError::new(
                        "region",
                        format!("`{region}` is not a region"),
                    ));
                }
                StoreTarget::S3 {
                    bucket: self.bucket.clone(),
                    region: self.region.clone(),
                    endpoint: self.endpoint.clone(),
                }
            }
        };
        if self.batch.max_bytes == Some(0)
            || self.batch.max_events == 0
            || self.batch.timeout_secs <= 0.0
        {
            return Err(BuildError::new(
                "batch",
                "`max_bytes`, `max_events` and `timeout_secs` must be at least 1",
            ));
        }
        let batch = self.batch.limits()?;
        let (format, compression) = self.format()?;
        let extension = match &self.filename_extension {
            Some(ext) => ext.trim_start_matches('.').to_owned(),
            None => default_extension(self.encoding.codec, compression),
        };
        if extension.contains('/') {
            return Err(BuildError::new(
                "filename_extension",
                "the extension must not contain `/`",
            ));
        }
        Ok(SinkSettings {
            target,
            key_prefix,
            format,
            compression,
            max_bytes: batch.max_bytes,
            max_events: batch.max_events,
            timeout: batch.timeout,
            extension,
            multipart_threshold: sink::MULTIPART_THRESHOLD,
            max_buffered_bytes: batch.max_bytes.saturating_mul(2).max(MIN_BUFFERED_BYTES),
            env: None,
            state_dir,
        })
    }

    /// The first `encoding` option set that only line codecs take.
    fn line_only_option(&self) -> Option<&'static str> {
        let e = &self.encoding;
        [
            ("only_fields", e.only_fields.is_some()),
            ("except_fields", e.except_fields.is_some()),
            (
                "timestamp_format",
                e.timestamp_format != TimestampFormat::default(),
            ),
        ]
        .into_iter()
        .find_map(|(name, set)| set.then_some(name))
    }

    /// The object format and whole-object compression.
    fn format(&self) -> Result<(ObjectFormat, Compression), BuildError> {
        let line_codec = match self.encoding.codec {
            S3Codec::Json => CodecName::Json,
            S3Codec::Logfmt => CodecName::Logfmt,
            S3Codec::Text => CodecName::Text,
            #[cfg(feature = "otlp")]
            S3Codec::OtlpJson => CodecName::OtlpJson,
            S3Codec::Parquet => {
                if let Some(option) = self.line_only_option() {
                    return Err(BuildError::new(
                        "encoding",
                        format!("`encoding.{option}` applies to line codecs, not Parquet"),
                    )
                    .with_hint("choose the columns with `encoding.parquet.schema`"));
                }
                let options = self.encoding.parquet.clone().unwrap_or_default();
                parquet::validate(&options)
                    .map_err(|e| BuildError::new("encoding", format!("parquet: {e}")))?;
                let compression = match self.compression {
                    None | Some(Compression::None) => Compression::None,
                    Some(_) => {
                        return Err(BuildError::new(
                            "compression",
                            "Parquet objects are compressed page by page, not as a whole",
                        )
                        .with_hint(
                            "remove `compression`; set `encoding.parquet.compression` instead",
                        ));
                    }
                };
                return Ok((ObjectFormat::Parquet(options), compression));
            }
        };
        if self.encoding.parquet.is_some() {
            return Err(BuildError::new(
                "encoding",
                "`encoding.parquet` applies to `codec = \"parquet\"` only",
            ));
        }
        let encoder = EncodingConfig {
            codec: line_codec,
            only_fields: self.encoding.only_fields.clone(),
            except_fields: self.encoding.except_fields.clone(),
            timestamp_format: self.encoding.timestamp_format,
        }
        .encoder()
        .map_err(crate::encoding_error)?;
        Ok((
            ObjectFormat::Lines(encoder),
            self.compression.unwrap_or(Compression::Gzip),
        ))
    }
}

impl SinkConfig for S3SinkConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        Ok(Box::new(S3Sink::new(self.settings(cx.component_dir())?)))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }
}

fn default_extension(codec: S3Codec, compression: Compression) -> String {
    let base = match codec {
        S3Codec::Json => "json",
        #[cfg(feature = "otlp")]
        S3Codec::OtlpJson => "json",
        S3Codec::Logfmt | S3Codec::Text => "log",
        S3Codec::Parquet => "parquet",
    };
    match compression {
        Compression::None => base.to_owned(),
        Compression::Gzip => format!("{base}.gz"),
        Compression::Zstd => format!("{base}.zst"),
    }
}

/// S3's bucket naming rules (3-63 lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit).
fn validate_bucket_name(bucket: &str) -> Result<(), BuildError> {
    let valid_chars = bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let ends_ok = bucket
        .bytes()
        .next()
        .zip(bucket.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if (3..=63).contains(&bucket.len()) && valid_chars && ends_ok {
        return Ok(());
    }
    Err(
        BuildError::new("bucket", format!("`{bucket}` is not a valid bucket name")).with_hint(
            "3-63 lowercase letters, digits, `.` and `-`; or `file:///path` for a local folder",
        ),
    )
}

fn validate_endpoint(endpoint: &str) -> Result<(), BuildError> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match host {
        Some(h) if !h.is_empty() && !endpoint.contains(char::is_whitespace) => Ok(()),
        _ => Err(BuildError::new(
            "endpoint",
            format!("`{endpoint}` is not an http:// or https:// URL"),
        )
        .with_hint("e.g. `http://127.0.0.1:9000`")),
    }
}
