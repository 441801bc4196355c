//! The `kafka` source: a consumer group member that reads records, decodes
//! them into logs with `%kafka.*` metadata, and commits an offset only once
//! every sink acknowledged the records before it.
//!
//! This module holds the options and their validation (`build()` does no
//! I/O: it also runs for `logbridge validate`); the consumer thread is in
//! `consumer.rs`, the acknowledgement bookkeeping in `offsets.rs`.

mod consumer;
mod decode;
mod offsets;
mod stage;

use std::collections::BTreeMap;
use std::time::Duration;

use logbridge_component::{
    BuildContext, BuildError, DROPPED_OUTPUT, OutputDef, Source, SourceConfig,
};
use logbridge_event::DataKind;
use serde::Deserialize;

use self::consumer::{ConsumerSettings, KafkaSource};
pub use self::decode::{DecodingCodec, DecodingConfig, OtlpSignal};
use logbridge_kafka::client;
use logbridge_kafka::options::{OptionValue, rendered};

/// Reads records from Kafka topics as a member of a consumer group.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// Brokers to bootstrap from: `host:port`, comma-separated.
    pub bootstrap_servers: String,
    /// Topics to read. An entry starting with `^` is a regular expression
    /// matched against every topic name (new matching topics are picked up
    /// as they appear).
    pub topics: Vec<String>,
    /// The consumer group: processes with the same group share the
    /// partitions, and the group's committed offsets say where to resume.
    pub group_id: String,
    /// Where a group without a committed offset starts: `earliest` (the
    /// default, so that records produced before the group first joined are
    /// read) or `latest`.
    #[serde(default)]
    pub auto_offset_reset: OffsetReset,
    /// How the record payloads are decoded.
    #[serde(default)]
    pub decoding: DecodingConfig,
    /// How long the group coordinator waits for a silent member before
    /// giving its partitions to others.
    #[serde(default = "default_session_timeout_ms")]
    pub session_timeout_ms: u64,
    /// How often acknowledged offsets are committed.
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// When partitions are taken away (a rebalance), how long to wait for
    /// their records in flight to be acknowledged before giving them up
    /// (the next owner then reads them again). At shutdown the source
    /// waits for every acknowledgement, within `shutdown_timeout_secs`.
    #[serde(default = "default_drain_timeout_ms")]
    pub drain_timeout_ms: u64,
    /// The most records in one batch sent down the pipeline.
    #[serde(default = "default_max_batch_events")]
    pub max_batch_events: usize,
    /// librdkafka settings passed through as they are, e.g.
    /// `"fetch.wait.max.ms" = 50`. See librdkafka's CONFIGURATION.md.
    /// `enable.auto.offset.store` and `enable.auto.commit` are set by
    /// logbridge.
    #[serde(default)]
    pub librdkafka_options: BTreeMap<String, OptionValue>,
}

/// `auto_offset_reset`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    #[default]
    #[serde(alias = "smallest", alias = "beginning")]
    Earliest,
    #[serde(alias = "largest", alias = "end")]
    Latest,
}

fn default_session_timeout_ms() -> u64 {
    10_000
}

fn default_commit_interval_ms() -> u64 {
    1_000
}

fn default_drain_timeout_ms() -> u64 {
    5_000
}

fn default_max_batch_events() -> usize {
    1_000
}

/// Options logbridge sets itself: offsets are stored only after
/// acknowledgement, and committed by librdkafka's timer.
const FIXED_OPTIONS: &[&str] = &[
    "enable.auto.offset.store",
    "enable.auto.commit",
    "bootstrap.servers",
    "group.id",
];

impl KafkaSourceConfig {
    fn settings(&self, cx: &BuildContext) -> Result<ConsumerSettings, BuildError> {
        client::validate_bootstrap(&self.bootstrap_servers)?;
        if self.topics.is_empty() {
            return Err(BuildError::new("topics", "name at least one topic")
                .with_hint("e.g. topics = [\"logs\"], or a regex: [\"^logs-.*\"]"));
        }
        for topic in &self.topics {
            if let Some(pattern) = topic.strip_prefix('^') {
                regex::Regex::new(pattern).map_err(|e| {
                    BuildError::new("topics", format!("`{topic}` is not a valid regex: {e}"))
                })?;
            } else if !valid_topic_name(topic) {
                return Err(BuildError::new(
                    "topics",
                    format!("`{topic}` is not a valid topic name"),
                )
                .with_hint("1-249 of letters, digits, `.`, `_`, `-`; start with `^` for a regex"));
            }
        }
        if self.group_id.trim().is_empty() {
            return Err(BuildError::new("group_id", "group_id must not be empty"));
        }
        if self.max_batch_events == 0 {
            return Err(BuildError::new(
                "max_batch_events",
                "max_batch_events must be at least 1",
            ));
        }
        let ours = vec![
            ("bootstrap.servers", self.bootstrap_servers.clone()),
            ("group.id", self.group_id.clone()),
            ("client.id", format!("logbridge-{}", cx.id)),
            ("enable.auto.offset.store", "false".to_owned()),
            ("enable.auto.commit", "true".to_owned()),
            (
                "auto.commit.interval.ms",
                self.commit_interval_ms.to_string(),
            ),
            (
                "auto.offset.reset",
                match self.auto_offset_reset {
                    OffsetReset::Earliest => "earliest",
                    OffsetReset::Latest => "latest",
                }
                .to_owned(),
            ),
            ("session.timeout.ms", self.session_timeout_ms.to_string()),
            ("enable.partition.eof", "false".to_owned()),
            // For per-partition lag and broker reachability.
            ("statistics.interval.ms", "2000".to_owned()),
            // librdkafka prefetches up to 64 MiB per consumer by default;
            // the pipeline's own queues bound memory, so keep this small.
            ("queued.max.messages.kbytes", "16384".to_owned()),
            // Once its prefetch queue is full, librdkafka waits this long
            // before fetching again (1 s by default): with a consumer that
            // drains the queue in a fraction of that, the default idles
            // the source most of the time (measured: 2.5x the throughput
            // from a local broker with 20 ms).
            ("fetch.queue.backoff.ms", "20".to_owned()),
        ];
        let client_config =
            client::client_config(&ours, &rendered(&self.librdkafka_options), FIXED_OPTIONS)?;
        Ok(ConsumerSettings {
            client_config,
            topics: self.topics.clone(),
            bootstrap: self.bootstrap_servers.clone(),
            codec: self.decoding.codec,
            signals: self
                .decoding
                .signals()
                .map_err(|e| BuildError::new("decoding", e))?,
            max_batch_events: self.max_batch_events,
            drain_timeout: Duration::from_millis(self.drain_timeout_ms),
        })
    }
}

/// Kafka's topic name rules.
fn valid_topic_name(name: &str) -> bool {
    (1..=249).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl SourceConfig for KafkaSourceConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        let settings = self.settings(cx)?;
        Ok(Box::new(KafkaSource::new(settings)))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        // What does not decode goes to `dropped` as a log of the payload.
        vec![
            OutputDef::default_output(self.decoding.kinds()),
            OutputDef::named(DROPPED_OUTPUT, DataKind::LOG),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::telemetry::ComponentKind;

    fn config(extra: &str) -> Result<KafkaSourceConfig, String> {
        toml::from_str(&format!(
            "bootstrap_servers = \"127.0.0.1:9092\"\ntopics = [\"logs\"]\ngroup_id = \"g\"\n{extra}"
        ))
        .map_err(|e| e.to_string())
    }

    fn build(c: &KafkaSourceConfig) -> Result<(), BuildError> {
        let cx = BuildContext::detached("in", ComponentKind::Source, "/tmp".into());
        c.build(&cx).map(|_| ())
    }

    #[test]
    fn accepts_options_as_users_write_them() {
        let c = config(
            "decoding.codec = \"json\"\nauto_offset_reset = \"latest\"\n[librdkafka_options]\n\"fetch.wait.max.ms\" = 50\n\"check.crcs\" = true\n",
        )
        .unwrap();
        build(&c).unwrap();
        assert_eq!(c.decoding.codec, DecodingCodec::Json);
    }

    #[test]
    fn refuses_what_would_break_delivery_or_cannot_work() {
        let c = config("[librdkafka_options]\n\"enable.auto.offset.store\" = true\n").unwrap();
        assert_eq!(
            build(&c).unwrap_err().option.as_deref(),
            Some("librdkafka_options")
        );
        let mut c = config("").unwrap();
        c.topics = vec!["^(".into()];
        assert_eq!(build(&c).unwrap_err().option.as_deref(), Some("topics"));
        c.topics = vec!["bad topic".into()];
        assert_eq!(build(&c).unwrap_err().option.as_deref(), Some("topics"));
        c.topics = vec![];
        assert_eq!(build(&c).unwrap_err().option.as_deref(), Some("topics"));
        let mut c = config("").unwrap();
        c.bootstrap_servers = "localhost".into();
        assert_eq!(
            build(&c).unwrap_err().option.as_deref(),
            Some("bootstrap_servers")
        );
        assert!(
            config("topic = \"x\"").is_err(),
            "unknown options are refused"
        );
    }
}
