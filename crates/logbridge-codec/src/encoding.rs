//! The `encoding` option shared by sinks that write lines: the codec, and
//! Vector's `only_fields`, `except_fields` and `timestamp_format`. Vector's
//! codec names logbridge writes the same way are accepted (`raw_message`
//! is `text`, `ndjson` is `json`); the ones it has no codec for are refused
//! when the sink is built, naming the codec, rather than as a misspelling.

use logbridge_event::Path;
use serde::Deserialize;

use crate::encode::{Codec, Encoder, Shape, TimestampFormat};

/// How events are written (serialized only to name a codec in messages).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CodecName {
    /// One JSON object per line: the fields, plus `timestamp` when known
    /// (`ndjson`, Vector's former name, is accepted too).
    #[serde(alias = "ndjson")]
    Json,
    /// `key=value` pairs, nested fields flattened with dots.
    Logfmt,
    /// The message only (`raw_message`, Vector's codec that writes the
    /// message as it is, is accepted too).
    #[serde(alias = "raw_message")]
    Text,
    /// One OTLP/JSON export request per line, each holding one record with
    /// its resource and scope: every OpenTelemetry field is kept, and a
    /// line can be posted to any OTLP/HTTP receiver (`/v1/logs`,
    /// `/v1/metrics`, `/v1/traces` by signal). The way to archive OTLP
    /// data.
    #[cfg(feature = "otlp")]
    OtlpJson,
    /// Vector's codecs logbridge has no counterpart for: refused at build
    /// with a hint, not listed in the reference.
    #[schemars(skip)]
    Csv,
    #[schemars(skip)]
    Avro,
    #[schemars(skip)]
    Gelf,
    #[schemars(skip)]
    Native,
    #[schemars(skip)]
    NativeJson,
    #[schemars(skip)]
    Protobuf,
    #[schemars(skip)]
    Cef,
    /// One OTLP export request in protobuf per record, as OTLP/gRPC sends
    /// it: for sinks that write records (Kafka), not lines.
    #[cfg(feature = "otlp")]
    Otlp,
    #[cfg(not(feature = "otlp"))]
    #[schemars(skip)]
    Otlp,
}

/// `encoding.codec = "json"`, and what of each log to write.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodingConfig {
    /// The codec: `json`, `logfmt`, `text`, `otlp_json` or `otlp` (with
    /// the `otlp-grpc` feature, on by default: OTLP export requests that
    /// keep every OpenTelemetry field, as JSON lines, the way to archive
    /// OTLP data, or as protobuf records, for the `kafka` sink). Vector's
    /// `raw_message` (the same as `text`) and `ndjson` (`json`) are
    /// accepted.
    pub codec: CodecName,
    /// Write only these fields of a log (paths: `status`, `http.method`,
    /// `"odd.key"`; `message` is the body, `timestamp` the time). Metrics
    /// and spans are written whole.
    #[serde(default)]
    pub only_fields: Option<Vec<String>>,
    /// Leave these fields of a log out (paths, as for `only_fields`).
    #[serde(default)]
    pub except_fields: Option<Vec<String>>,
    /// How a log's times are written: `rfc3339` (the default), or since the
    /// Unix epoch as `unix` (seconds), `unix_ms`, `unix_us`, `unix_ns`
    /// (integers) or `unix_float` (seconds with a fraction).
    #[serde(default)]
    pub timestamp_format: TimestampFormat,
}

impl From<CodecName> for EncodingConfig {
    fn from(codec: CodecName) -> EncodingConfig {
        EncodingConfig {
            codec,
            only_fields: None,
            except_fields: None,
            timestamp_format: TimestampFormat::default(),
        }
    }
}

/// Why an `encoding` cannot make an encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodingError {
    /// The option at fault, from the sink's table: `encoding.codec`.
    pub option: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl EncodingError {
    fn new(option: &'static str, message: String) -> EncodingError {
        EncodingError {
            option,
            message,
            hint: None,
        }
    }

    fn hint(mut self, hint: &str) -> EncodingError {
        self.hint = Some(hint.to_owned());
        self
    }
}

/// The codec names, for hints.
#[cfg(feature = "otlp")]
const CODECS: &str = "json, logfmt, text, otlp_json or (for records) otlp";
#[cfg(not(feature = "otlp"))]
const CODECS: &str = "json, logfmt or text";

impl EncodingConfig {
    /// The encoder; refuses Vector codecs logbridge lacks, and field lists
    /// that do not parse or that name a field both to keep and to leave
    /// out.
    pub fn encoder(&self) -> Result<Encoder, EncodingError> {
        let codec = match self.codec {
            CodecName::Json => Codec::Json,
            CodecName::Logfmt => Codec::Logfmt,
            CodecName::Text => Codec::Text,
            #[cfg(feature = "otlp")]
            CodecName::OtlpJson => Codec::OtlpJson,
            #[cfg(feature = "otlp")]
            CodecName::Otlp => Codec::Otlp,
            other => {
                let name = serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                return Err(EncodingError::new(
                    "encoding.codec",
                    format!("logbridge has no `{name}` codec (a Vector codec it does not support)"),
                )
                .hint(&format!("use {CODECS}")));
            }
        };
        let only_fields = self
            .only_fields
            .as_deref()
            .map(|f| paths("encoding.only_fields", f))
            .transpose()?;
        let except_fields = paths(
            "encoding.except_fields",
            self.except_fields.as_deref().unwrap_or_default(),
        )?;
        if let Some(only) = &only_fields
            && let Some(both) = except_fields.iter().find(|p| only.contains(p))
        {
            return Err(EncodingError::new(
                "encoding.except_fields",
                format!("`{both}` is in both `only_fields` and `except_fields`"),
            )
            .hint("`except_fields` and `only_fields` must not name the same field"));
        }
        let shape = Shape {
            only_fields,
            except_fields,
            timestamp_format: self.timestamp_format,
        };
        #[cfg(feature = "otlp")]
        if matches!(codec, Codec::OtlpJson | Codec::Otlp) && !shape.is_identity() {
            return Err(EncodingError::new(
                "encoding.codec",
                format!(
                    "`only_fields`, `except_fields` and `timestamp_format` do not apply to \
                     `{codec}`, which keeps every OpenTelemetry field"
                ),
            )
            .hint("use json to choose fields, or remove those options"));
        }
        Ok(Encoder::new(codec).with_shape(shape))
    }
}

impl EncodingConfig {
    /// The encoder for a sink that writes lines: refuses binary codecs.
    pub fn line_encoder(&self) -> Result<Encoder, EncodingError> {
        let encoder = self.encoder()?;
        if encoder.codec().is_binary() {
            return Err(EncodingError::new(
                "encoding.codec",
                format!("`{}` writes binary records, not lines", encoder.codec()),
            )
            .hint("use otlp_json to write OTLP as lines"));
        }
        Ok(encoder)
    }
}

fn paths(option: &'static str, fields: &[String]) -> Result<Vec<Path>, EncodingError> {
    fields
        .iter()
        .map(|f| {
            Path::parse(f).map_err(|e| {
                EncodingError::new(option, format!("`{f}` is not a field path: {e}"))
                    .hint("write fields as `name`, `a.b`, `\"odd.key\"` or `list[0]`")
            })
        })
        .collect()
}
