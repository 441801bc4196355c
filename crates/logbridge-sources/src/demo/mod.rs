//! The `demo` source, also registered as `demo_logs` (Vector's name, with
//! Vector's options): realistic log lines (JSON, logfmt, syslog, Apache
//! common and error logs) or lines picked from a list (`shuffle`), at a
//! fixed rate or as fast as possible, optionally a fixed number of them.
//! Used by the quickstart and the benchmarks.
//!
//! `lines.rs` makes the lines; `decode.rs` applies `framing` and
//! `decoding`. This file holds the options and the loop that sends.

mod decode;
mod lines;

use std::time::Duration;

use logbridge_component::dropped::{log_outputs_with_dropped, mark_dropped};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, DROPPED_OUTPUT, OutputDef, Source, SourceConfig,
    SourceContext, now_nanos,
};
use logbridge_event::{DataKind, Event, EventBatch, LogRecord};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Deserialize;
use tracing::warn;

use decode::{LineDecoder, Undecoded};
use lines::LineGenerator;

/// The shape of the generated lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DemoFormat {
    /// One JSON object per line: timestamp, level, service, method, path,
    /// status, duration_ms, bytes, client_ip, user_agent, message.
    Json,
    /// The same fields as `key=value` pairs.
    Logfmt,
    /// RFC 5424 syslog (`rfc5424` is accepted too).
    #[serde(alias = "rfc5424")]
    Syslog,
    /// RFC 3164 (BSD) syslog (`rfc3164` is accepted too).
    #[serde(alias = "rfc3164")]
    BsdSyslog,
    /// The Apache common log format.
    ApacheCommon,
    /// The Apache error log format.
    ApacheError,
    /// Lines picked at random from `lines`.
    Shuffle,
}

/// `decoding.codec`: what each frame becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecodingCodec {
    /// The frame is the message, as is.
    #[default]
    Bytes,
    /// A JSON object; its fields become the event's fields.
    Json,
    /// `key=value` pairs.
    Logfmt,
    /// RFC 5424 or RFC 3164 syslog, parsed into fields.
    Syslog,
}

/// `decoding`: how frames become events (Vector's option).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecodingConfig {
    /// `bytes` (the default), `json`, `logfmt` or `syslog`. A frame that
    /// does not decode goes to the `dropped` output with the reason.
    #[serde(default)]
    pub codec: DecodingCodec,
}

/// `framing.method`: how a generated line is cut into frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FramingMethod {
    /// The whole line is one frame.
    #[default]
    Bytes,
    /// One frame per `\n`-separated part (for `shuffle` lines holding
    /// newlines); empty parts are skipped.
    NewlineDelimited,
}

/// `framing`: how lines are cut into frames (Vector's option).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FramingConfig {
    /// `bytes` (the default) or `newline_delimited`.
    #[serde(default)]
    pub method: FramingMethod,
}

/// Generates log lines. Registered as `demo` and as `demo_logs`, Vector's
/// name, with Vector's options (`interval`, `count`, `format`, `lines`,
/// `sequence`, `decoding`, `framing`), so a Vector `demo_logs` source runs
/// unchanged; the lines of the built-in formats are logbridge's own.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Format of the generated lines: `json`, `logfmt`, `syslog`,
    /// `bsd_syslog`, `apache_common`, `apache_error` or `shuffle`.
    #[serde(default = "default_format")]
    pub format: DemoFormat,
    /// Seconds between two lines (a fraction is fine); 0 generates as fast
    /// as the pipeline takes them. Vector's name, `interval`, is accepted
    /// too.
    #[serde(
        default = "default_interval",
        alias = "interval",
        alias = "batch_interval"
    )]
    pub interval_secs: f64,
    /// Stop after this many lines (the pipeline then drains and exits once
    /// every source is done). Unlimited when absent.
    #[serde(default)]
    pub count: Option<u64>,
    /// Seed of the random generator, for reproducible output.
    #[serde(default)]
    pub seed: Option<u64>,
    /// For `format = "shuffle"`: the lines to pick from (required then,
    /// ignored otherwise).
    #[serde(default)]
    pub lines: Vec<String>,
    /// For `format = "shuffle"`: prefix each line with its number, counted
    /// from 0 (`0 first line`).
    #[serde(default)]
    pub sequence: bool,
    /// How frames become events.
    #[serde(default)]
    pub decoding: DecodingConfig,
    /// How lines are cut into frames.
    #[serde(default)]
    pub framing: FramingConfig,
}

fn default_format() -> DemoFormat {
    DemoFormat::Json
}

fn default_interval() -> f64 {
    1.0
}

impl SourceConfig for DemoConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if !(self.interval_secs >= 0.0 && self.interval_secs.is_finite()) {
            return Err(
                BuildError::new("interval_secs", "interval_secs must be 0 or more")
                    .with_hint("use 0 to generate as fast as possible"),
            );
        }
        if self.format == DemoFormat::Shuffle && self.lines.is_empty() {
            return Err(BuildError::new(
                "lines",
                "format = \"shuffle\" picks from `lines`, which is empty or missing",
            )
            .with_hint("add lines = [\"a line\", \"another\"]"));
        }
        Ok(Box::new(DemoSource {
            config: self.clone(),
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        if self.decoding.codec == DecodingCodec::Bytes {
            vec![OutputDef::default_output(DataKind::LOG)]
        } else {
            log_outputs_with_dropped()
        }
    }
}

struct DemoSource {
    config: DemoConfig,
}

const BATCH_EVENTS: usize = 1024;

#[async_trait::async_trait]
impl Source for DemoSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let config = &self.config;
        let mut rng = match config.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        let mut generator = LineGenerator::new(config.format, &config.lines, config.sequence);
        let decoder = LineDecoder::new(config.framing.method, config.decoding.codec);
        let undecodable = RateLimit::new(Duration::from_secs(10));
        let limit = config.count.unwrap_or(u64::MAX);
        let interval = Duration::from_secs_f64(config.interval_secs);
        let mut ticker = (!interval.is_zero()).then(|| tokio::time::interval(interval));
        let mut produced = 0u64;
        while produced < limit && !cx.shutdown.is_triggered() {
            let now = now_nanos();
            let in_batch = if ticker.is_some() {
                1
            } else {
                BATCH_EVENTS as u64
            }
            .min(limit - produced);
            if let Some(t) = ticker.as_mut() {
                tokio::select! {
                    _ = t.tick() => {}
                    _ = cx.shutdown.wait() => break,
                }
            }
            let mut events = Vec::with_capacity(in_batch as usize);
            let mut failed = Vec::new();
            let mut bytes = 0;
            for _ in 0..in_batch {
                let line = generator.line(&mut rng, now);
                bytes += line.len();
                decoder.decode(line, now, &mut events, &mut failed);
            }
            produced += in_batch;
            cx.metrics.add_received(events.len() + failed.len(), bytes);
            if !failed.is_empty() {
                bytes -= failed.iter().map(|f| f.frame.len()).sum::<usize>();
                send_undecoded(&cx, failed, now, &undecodable).await;
            }
            if cx
                .out
                .send(EventBatch::with_size(events, bytes))
                .await
                .is_err()
            {
                break;
            }
        }
        Ok(())
    }
}

/// Sends frames that did not decode to `dropped`, counted as discarded and
/// logged at most once per interval.
async fn send_undecoded(cx: &SourceContext, failed: Vec<Undecoded>, now: i64, log: &RateLimit) {
    cx.metrics.add_discarded(failed.len(), false);
    if log.allow() {
        warn!(
            message = "Generated lines do not decode; they go to the dropped output.",
            component_id = %cx.id,
            error = %failed[0].reason,
            count = failed.len(),
        );
    }
    let events = failed
        .into_iter()
        .map(|f| {
            let mut event = Event::Log(LogRecord::from_line(f.frame, now));
            mark_dropped(&mut event, "decode_failed", &f.reason, &cx.id);
            event
        })
        .collect();
    // A dropped output nobody reads discards them; its closing is not
    // this source's end.
    let _ = cx
        .out
        .send_named(DROPPED_OUTPUT, EventBatch::new(events))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_text: &str) -> Result<DemoConfig, String> {
        toml::from_str(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn vector_options_are_accepted() {
        let c = config(
            "format = \"shuffle\"\nlines = [\"a\", \"b\"]\nsequence = true\ninterval = 0.5\ncount = 3\n\
             decoding.codec = \"json\"\nframing.method = \"newline_delimited\"\n",
        )
        .unwrap();
        assert_eq!(c.format, DemoFormat::Shuffle);
        assert_eq!(c.interval_secs, 0.5);
        assert_eq!(c.count, Some(3));
        assert_eq!(c.outputs().len(), 2);
        assert_eq!(
            config("format = \"rfc5424\"").unwrap().format,
            DemoFormat::Syslog
        );
        assert_eq!(
            config("format = \"rfc3164\"").unwrap().format,
            DemoFormat::BsdSyslog
        );
        assert_eq!(config("").unwrap().outputs().len(), 1);
    }

    #[test]
    fn shuffle_needs_lines() {
        let cx = BuildContext::detached(
            "d",
            logbridge_component::telemetry::ComponentKind::Source,
            "/tmp".into(),
        );
        let err = config("format = \"shuffle\"")
            .unwrap()
            .build(&cx)
            .err()
            .unwrap();
        assert_eq!(err.option.as_deref(), Some("lines"));
        // Vector's own example gives `lines` with another format: ignored.
        assert!(
            config("format = \"apache_common\"\nlines = [\"x\"]")
                .unwrap()
                .build(&cx)
                .is_ok()
        );
    }
}
