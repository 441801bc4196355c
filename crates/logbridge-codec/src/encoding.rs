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
}

/// `encoding.codec = "json"`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodingConfig {
    /// The codec: `json`, `logfmt` or `text`.
    pub codec: CodecName,
}

impl EncodingConfig {
    pub fn encoder(&self) -> Encoder {
        Encoder::new(match self.codec {
            CodecName::Json => Codec::Json,
            CodecName::Logfmt => Codec::Logfmt,
            CodecName::Text => Codec::Text,
        })
    }
}
