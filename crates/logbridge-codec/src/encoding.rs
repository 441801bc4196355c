//! The `encoding` option shared by sinks that write lines.

use crate::encode::{Codec, Encoder};
use serde::Deserialize;

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodecName {
    /// One JSON object per line: the fields, plus `timestamp` when known.
    Json,
    /// `key=value` pairs, nested fields flattened with dots.
    Logfmt,
    /// The message only.
    Text,
    /// One OTLP/JSON export request per line, each holding one record with
    /// its resource and scope: every OpenTelemetry field is kept, and a
    /// line can be posted to any OTLP/HTTP receiver (`/v1/logs`,
    /// `/v1/metrics`, `/v1/traces` by signal). The way to archive OTLP
    /// data.
    #[cfg(feature = "otlp")]
    OtlpJson,
}

/// `encoding.codec = "json"`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodingConfig {
    /// The codec: `json`, `logfmt`, `text` or `otlp_json` (with the
    /// `otlp-grpc` feature, on by default: OTLP/JSON export requests that
    /// keep every OpenTelemetry field, the way to archive OTLP data).
    pub codec: CodecName,
}

impl EncodingConfig {
    pub fn encoder(&self) -> Encoder {
        Encoder::new(match self.codec {
            CodecName::Json => Codec::Json,
            CodecName::Logfmt => Codec::Logfmt,
            CodecName::Text => Codec::Text,
            #[cfg(feature = "otlp")]
            CodecName::OtlpJson => Codec::OtlpJson,
        })
    }
}
