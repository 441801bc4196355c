//! The `kafka` sink: an idempotent producer (`acks = all` by default) that
//! acknowledges a batch upstream only once the broker acknowledged every
//! record of it.
//!
//! Records that fail to be delivered for a transient reason (a broker
//! away longer than `message_timeout_ms`) are produced again with backoff
//! until they are delivered or the pipeline shuts down (then the batch is
//! reported errored, so the source reads it again). Records the broker
//! refuses for good (too large, not authorized) are counted and reported
//! rejected. Retries after a delivery timeout can reorder records of a
//! partition; within librdkafka's own retries the idempotent producer
//! keeps order and drops duplicates.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use logbridge_codec::encoding::EncodingConfig;

use crate::encoding_error;
use logbridge_codec::template::Template;
use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, ShutdownSignal, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind, Event, Path, Value};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, ClientContext, Message, Statistics};
use serde::Deserialize;
use tracing::{error, info, warn};

use logbridge_kafka::client::{self, Reporter, any_broker_up};
use logbridge_kafka::options::{OptionValue, rendered};

/// Writes events as records to Kafka topics.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// Brokers to bootstrap from: `host:port`, comma-separated.
    pub bootstrap_servers: String,
    /// The topic, a template: `logs-{{ service }}`, strftime allowed.
    pub topic: String,
    /// A field whose value becomes the record key (records with the same
    /// key go to the same partition). Without it, records have no key.
    /// `%trace_id` keys logs and spans by trace, so that a trace's records
    /// share a partition (what `tail_sample` behind a `kafka` source needs).
    #[serde(default)]
    pub key_field: Option<String>,
    /// How events are encoded into the record payload.
    pub encoding: EncodingConfig,
    /// Compression of record batches: `none` (the default), `gzip`,
    /// `snappy`, `lz4` or `zstd`.
    #[serde(default)]
    pub compression: KafkaCompression,
    /// Which acknowledgement the broker gives: `all` (the default: every
    /// in-sync replica has the record), `leader`, or `none` (nothing is
    /// confirmed; only for data you can lose).
    #[serde(default)]
    pub acks: Acks,
    /// Whether the producer is idempotent (the default): librdkafka's
    /// retries then never duplicate or reorder records. Needs `acks = "all"`.
    #[serde(default = "default_true")]
    pub idempotent: bool,
    /// Batching of records on their way to the broker.
    #[serde(default)]
    pub batch: KafkaBatchConfig,
    /// How long librdkafka tries to deliver a record before reporting it
    /// failed (logbridge then produces it again).
    #[serde(default = "default_message_timeout_ms")]
    pub message_timeout_ms: u64,
    /// librdkafka settings passed through as they are. See librdkafka's
    /// CONFIGURATION.md.
    #[serde(default)]
    pub librdkafka_options: BTreeMap<String, OptionValue>,
}

/// `batch.*`: librdkafka's batching, under Vector's names.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaBatchConfig {
    /// The most records in one request to a partition.
    #[serde(default = "default_batch_events")]
    pub max_events: u64,
    /// The most bytes in one request to a partition.
    #[serde(default = "default_batch_bytes")]
    pub max_bytes: u64,
    /// How long records wait for more to join their batch.
    #[serde(default = "default_linger_ms")]
    pub timeout_ms: u64,
}

impl Default for KafkaBatchConfig {
    fn default() -> KafkaBatchConfig {
        KafkaBatchConfig {
            max_events: default_batch_events(),
            max_bytes: default_batch_bytes(),
            timeout_ms: default_linger_ms(),
        }
    }
}

/// `compression`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KafkaCompression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// `acks`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Acks {
    #[default]
    #[serde(alias = "-1")]
    All,
    #[serde(alias = "1")]
    Leader,
    #[serde(alias = "0")]
    None,
}

fn default_true() -> bool {
    true
}

fn default_message_timeout_ms() -> u64 {
    300_000
}

fn default_batch_events() -> u64 {
    10_000
}

fn default_batch_bytes() -> u64 {
    1_000_000
}

fn default_linger_ms() -> u64 {
    5
}

const FIXED_OPTIONS: &[&str] = &["bootstrap.servers"];
/// The first wait before producing failed records again.
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

impl KafkaSinkConfig {
    fn producer_config(&self, cx: &BuildContext) -> Result<ClientConfig, BuildError> {
        client::validate_bootstrap(&self.bootstrap_servers)?;
        if self.idempotent && self.acks != Acks::All {
            return Err(
                BuildError::new("acks", "the idempotent producer needs acks = \"all\"")
                    .with_hint("set idempotent = false to use another acks level"),
            );
        }
        if self.batch.max_events == 0 || self.batch.max_bytes == 0 {
            return Err(BuildError::new(
                "batch",
                "`max_events` and `max_bytes` must be at least 1",
            ));
        }
        let ours = vec![
            ("bootstrap.servers", self.bootstrap_servers.clone()),
            ("client.id", format!("logbridge-{}", cx.id)),
            (
                "acks",
                match self.acks {
                    Acks::All => "all",
                    Acks::Leader => "1",
                    Acks::None => "0",
                }
                .to_owned(),
            ),
            ("enable.idempotence", self.idempotent.to_string()),
            (
                "compression.codec",
                match self.compression {
                    KafkaCompression::None => "none",
                    KafkaCompression::Gzip => "gzip",
                    KafkaCompression::Snappy => "snappy",
                    KafkaCompression::Lz4 => "lz4",
                    KafkaCompression::Zstd => "zstd",
                }
                .to_owned(),
            ),
            ("batch.num.messages", self.batch.max_events.to_string()),
            ("batch.size", self.batch.max_bytes.to_string()),
            ("linger.ms", self.batch.timeout_ms.to_string()),
            ("message.timeout.ms", self.message_timeout_ms.to_string()),
            ("statistics.interval.ms", "2000".to_owned()),
        ];
        client::client_config(&ours, &rendered(&self.librdkafka_options), FIXED_OPTIONS)
    }
}

impl SinkConfig for KafkaSinkConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        let client_config = self.producer_config(cx)?;
        let topic = Template::parse(&self.topic).map_err(|e| BuildError::new("topic", e.0))?;
        if self.topic.trim().is_empty() {
            return Err(BuildError::new("topic", "topic must not be empty"));
        }
        let key_field = match &self.key_field {
            Some(f) => Some(
                Path::parse(f)
                    .or_else(|_| Path::parse(&format!(".{f}")))
                    .map_err(|e| BuildError::new("key_field", e.to_string()))?,
            ),
            None => None,
        };
        Ok(Box::new(KafkaSink {
            client_config,
            bootstrap: self.bootstrap_servers.clone(),
            topic,
            key_field,
            encoder: self.encoding.encoder().map_err(encoding_error)?,
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }
}

struct KafkaSink {
    client_config: ClientConfig,
    bootstrap: String,
    topic: Template,
    key_field: Option<Path>,
    encoder: logbridge_codec::encode::Encoder,
}

struct SinkClient {
    reporter: Reporter,
}

impl ClientContext for SinkClient {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.reporter.log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.reporter.error(error, reason);
    }

    fn stats(&self, stats: Statistics) {
        self.reporter.brokers_up(any_broker_up(&stats));
    }
}

type Producer_ = FutureProducer<SinkClient>;

/// One record's delivery report to come.
type Delivery = std::pin::Pin<
    Box<
        dyn Future<Output = Result<OwnedDeliveryResult, futures::channel::oneshot::Canceled>>
            + Send,
    >,
>;

#[async_trait::async_trait]
impl Sink for KafkaSink {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        let producer: Producer_ = self
            .client_config
            .create_with_context(SinkClient {
                reporter: Reporter::new(cx.metrics.clone(), self.bootstrap.clone()),
            })
            .map_err(|e| ComponentError::Other(format!("cannot create the Kafka producer: {e}")))?;
        let mut deliveries = tokio::task::JoinSet::new();
        let mut payload = Vec::new();
        while let Some(mut batch) = cx.recv().await {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            let pending = FuturesUnordered::new();
            let mut bytes = 0;
            for event in batch.events() {
                payload.clear();
                self.encoder.encode(event, &mut payload);
                // A line codec ends the record with `\n`; a binary one
                // (whose last byte may be 0x0a) does not.
                if !self.encoder.codec().is_binary() && payload.last() == Some(&b'\n') {
                    payload.pop();
                }
                bytes += payload.len();
                // A fixed topic is not rendered (allocated) per event.
                let rendered;
                let topic = if self.topic.is_dynamic() {
                    rendered = self.topic.render(event, now);
                    rendered.as_str()
                } else {
                    self.topic.source()
                };
                let key = self.key_field.as_ref().and_then(|p| key_of(event, p));
                let mut record = FutureRecord::to(topic).payload(payload.as_slice());
                if let Some(key) = &key {
                    record = record.key(key.as_slice());
                }
                match enqueue(&producer, record, &cx.shutdown).await {
                    Some(delivery) => pending.push(delivery),
                    None => {
                        // Shutting down with the local queue full.
                        batch.finalizers.update_status(BatchStatus::Errored);
                        break;
                    }
                }
            }
            let events = batch.len();
            let finalizers = std::mem::take(&mut batch.finalizers);
            drop(batch);
            let producer = producer.clone();
            let metrics = cx.metrics.clone();
            let shutdown = cx.shutdown.clone();
            let started = std::time::Instant::now();
            deliveries.spawn(async move {
                let status = settle(pending, &producer, &metrics, &shutdown).await;
                if status == BatchStatus::Delivered {
                    metrics.write_latency.observe(started.elapsed());
                    metrics.add_sent(events, bytes);
                }
                finalizers.finish(status);
            });
            // Reap finished deliveries so the set does not grow.
            while deliveries.try_join_next().is_some() {}
        }
        while deliveries.join_next().await.is_some() {}
        // Everything was acknowledged or given up; nothing left to flush.
        let _ = producer.flush(Duration::from_secs(1));
        info!(message = "Kafka producer stopped.");
        Ok(())
    }
}

/// The record key from a field: strings as their bytes, other values as
/// their text.
fn key_of(event: &Event, path: &Path) -> Option<Vec<u8>> {
    let value = event.get(path)?;
    match value.as_ref() {
        Value::Null => None,
        Value::Bytes(b) => Some(b.to_vec()),
        other => Some(other.to_string_lossy().into_owned().into_bytes()),
    }
}

/// Puts a record in librdkafka's queue, waiting while the queue is full;
/// `None` if shutdown comes first.
async fn enqueue(
    producer: &Producer_,
    mut record: FutureRecord<'_, [u8], [u8]>,
    shutdown: &ShutdownSignal,
) -> Option<Delivery> {
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Some(Box::pin(delivery)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                if shutdown.is_triggered() {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err((error, back)) => {
                // Refused before queueing (e.g. larger than
                // message.max.bytes): settle it like a failed delivery.
                let owned = OwnedMessage::new(
                    back.payload.map(<[u8]>::to_vec),
                    back.key.map(<[u8]>::to_vec),
                    back.topic.to_owned(),
                    rdkafka::Timestamp::NotAvailable,
                    -1,
                    -1,
                    None,
                );
                return Some(Box::pin(std::future::ready(Ok(Err((error, owned))))));
            }
        }
    }
}

/// Waits for every record of a batch, producing failed ones again until
/// delivered; the batch's status.
async fn settle(
    mut pending: FuturesUnordered<Delivery>,
    producer: &Producer_,
    metrics: &ComponentMetrics,
    shutdown: &ShutdownSignal,
) -> BatchStatus {
    let mut status = BatchStatus::Delivered;
    let mut delay = RETRY_MIN;
    loop {
        let mut failed: Vec<(KafkaError, OwnedMessage)> = Vec::new();
        while let Some(result) = pending.next().await {
            match result {
                Ok(Ok(_)) => {}
                Ok(Err((error, message))) => failed.push((error, message)),
                // The producer went away: only at shutdown.
                Err(_) => return BatchStatus::Errored,
            }
        }
        if failed.is_empty() {
            return status;
        }
        let mut retry = Vec::new();
        for (error, message) in failed {
            metrics.add_error();
            if is_permanent(&error) {
                metrics.add_discarded(1, false);
                error!(message = "Kafka refused a record for good.", %error, topic = message.topic());
                status = BatchStatus::Rejected;
            } else {
                retry.push((error, message));
            }
        }
        if retry.is_empty() {
            return status;
        }
        if shutdown.is_triggered() {
            warn!(
                message = "Giving up records at shutdown; they will be read again.",
                records = retry.len()
            );
            return BatchStatus::Errored;
        }
        warn!(message = "Records were not delivered; producing them again.", records = retry.len(), error = %retry[0].0);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait() => {}
        }
        delay = (delay * 2).min(RETRY_MAX);
        for (_, message) in &retry {
            let mut record =
                FutureRecord::to(message.topic()).payload(message.payload().unwrap_or_default());
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            match enqueue(producer, record, shutdown).await {
                Some(delivery) => pending.push(delivery),
                None => return BatchStatus::Errored,
            }
        }
    }
}

fn is_permanent(error: &KafkaError) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        error.rdkafka_error_code(),
        Some(
            MessageSizeTooLarge
                | InvalidMessageSize
                | InvalidMessage
                | TopicAuthorizationFailed
                | InvalidTopic
                | InvalidRecord
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::telemetry::ComponentKind;

    fn build(extra: &str) -> Result<(), BuildError> {
        let c: KafkaSinkConfig = toml::from_str(&format!(
            "bootstrap_servers = \"127.0.0.1:9092\"\ntopic = \"logs-{{{{ service }}}}\"\nencoding.codec = \"json\"\n{extra}"
        ))
        .unwrap();
        let cx = BuildContext::detached("out", ComponentKind::Sink, "/tmp".into());
        c.build(&cx).map(|_| ())
    }

    #[test]
    fn defaults_are_idempotent_and_acks_all() {
        build("").unwrap();
        build("compression = \"zstd\"\nkey_field = \"user.id\"").unwrap();
        assert_eq!(
            build("acks = \"leader\"").unwrap_err().option.as_deref(),
            Some("acks")
        );
        build("acks = \"leader\"\nidempotent = false").unwrap();
        assert_eq!(
            build("[librdkafka_options]\n\"bootstrap.servers\" = \"x:1\"")
                .unwrap_err()
                .option
                .as_deref(),
            Some("librdkafka_options")
        );
    }

    #[test]
    fn keys_come_from_the_field_as_text() {
        let mut log = logbridge_event::LogRecord::default();
        let p = Path::parse(".user").unwrap();
        log.insert(&p, Value::Integer(42)).unwrap();
        assert_eq!(key_of(&Event::Log(log), &p), Some(b"42".to_vec()));
    }

    #[test]
    fn trace_id_keys_logs_and_spans_alike() {
        let id = logbridge_event::TraceId([7; 16]);
        let p = Path::parse("%trace_id").unwrap();
        let span = logbridge_event::Span {
            trace_id: id,
            ..Default::default()
        };
        let log = logbridge_event::LogRecord {
            trace_id: Some(id),
            ..Default::default()
        };
        let hex = id.to_hex().into_bytes();
        assert_eq!(key_of(&Event::Span(Box::new(span)), &p), Some(hex.clone()));
        assert_eq!(key_of(&Event::Log(log), &p), Some(hex));
        assert_eq!(key_of(&Event::Log(Default::default()), &p), None);
    }
}
