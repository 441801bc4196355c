//! The consumer: one thread per `kafka` source polls librdkafka, batches
//! records per partition, sends the batches down the pipeline, and turns
//! their acknowledgements into stored offsets that librdkafka commits on
//! its timer.
//!
//! A thread, not a task: librdkafka's rebalance callbacks run inside
//! `poll`, and on a revocation the callback waits (up to
//! `drain_timeout_ms`) for the revoked partitions' batches in flight, then
//! commits synchronously; blocking an async runtime's worker that long
//! would stall other components.
//!
//! Each batch holds records of one partition, so one acknowledgement moves
//! one partition's offset. Records buffered but not yet sent when their
//! partition is revoked are discarded: they were not committed, so the
//! next owner reads them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use logbridge_component::dropped::mark_dropped;
use logbridge_component::telemetry::{ComponentMetrics, GaugeDef};
use logbridge_component::{
    ComponentError, DROPPED_OUTPUT, ShutdownSignal, Source, SourceContext, SourceOutputs,
};
use logbridge_event::{BatchNotifier, BatchStatus, Event, EventBatch, Finalizers, LogRecord};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, ClientContext, Statistics, TopicPartitionList};
use tokio::runtime::Handle;
use tracing::{error, info, warn};

use super::decode::{DecodingCodec, PayloadDecoder, RecordMeta};
use super::offsets::{AckOutcome, BatchTicket, Offsets, PartitionKey};
use crate::client::{Reporter, any_broker_up};

static CONSUMER_LAG: GaugeDef = GaugeDef {
    name: "logbridge_kafka_consumer_lag",
    help: "Records of the partition after the group's committed offset (high watermark minus committed offset).",
};

static IN_FLIGHT: GaugeDef = GaugeDef {
    name: "logbridge_kafka_batches_in_flight",
    help: "Batches of the partition sent down the pipeline and not yet acknowledged.",
};

/// How long a poll waits when nothing is buffered.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long records wait in a partition's buffer for more to join them.
const LINGER: Duration = Duration::from_millis(20);

/// The validated options.
pub(crate) struct ConsumerSettings {
    pub(crate) client_config: ClientConfig,
    pub(crate) topics: Vec<String>,
    pub(crate) bootstrap: String,
    pub(crate) codec: DecodingCodec,
    pub(crate) max_batch_events: usize,
    pub(crate) drain_timeout: Duration,
}

pub(crate) struct KafkaSource {
    settings: ConsumerSettings,
}

impl KafkaSource {
    pub(crate) fn new(settings: ConsumerSettings) -> KafkaSource {
        KafkaSource { settings }
    }
}

#[async_trait::async_trait]
impl Source for KafkaSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let handle = Handle::current();
        let settings = self.settings;
        let thread = std::thread::Builder::new()
            .name(format!("kafka-{}", cx.id))
            .spawn(move || run_consumer(settings, cx, handle))?;
        // Wait without blocking a runtime worker.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(thread.join());
        });
        match rx.await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ComponentError::Other(
                "the kafka consumer thread panicked".into(),
            )),
            Err(_) => Err(ComponentError::Other(
                "the kafka consumer thread vanished".into(),
            )),
        }
    }
}

/// An acknowledgement on its way back to the consumer thread.
type Ack = (BatchTicket, BatchStatus);

/// What the consumer thread and librdkafka's callbacks (which run on the
/// same thread, inside `poll`) share.
struct Shared {
    offsets: Offsets,
    acks: mpsc::Receiver<Ack>,
}

struct SourceClient {
    shared: Mutex<Shared>,
    /// Bumped on every assignment, so the reader notices without taking
    /// the lock per record.
    epoch: AtomicU64,
    reporter: Reporter,
    metrics: Arc<ComponentMetrics>,
    drain_timeout: Duration,
}

impl SourceClient {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for SourceClient {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.reporter.log(level, fac, log_message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.reporter.error(error, reason);
    }

    fn stats(&self, stats: Statistics) {
        self.reporter.brokers_up(any_broker_up(&stats));
        let shared = self.lock();
        for (topic, t) in &stats.topics {
            for (&partition, p) in &t.partitions {
                let key = (topic.clone(), partition);
                if partition < 0 || !shared.offsets.is_assigned(&key) {
                    continue;
                }
                let partition = partition.to_string();
                let labels = [("topic", topic.as_str()), ("partition", partition.as_str())];
                // Before the group's first commit the lag is unknown (-1):
                // count from the low mark then.
                let lag = if p.consumer_lag >= 0 {
                    p.consumer_lag
                } else if p.hi_offset >= 0 && p.committed_offset < 0 {
                    p.hi_offset - p.lo_offset.max(0)
                } else {
                    continue;
                };
                self.metrics.set_gauge(&CONSUMER_LAG, &labels, lag.max(0));
                self.metrics
                    .set_gauge(&IN_FLIGHT, &labels, shared.offsets.in_flight(&key) as i64);
            }
        }
    }
}

impl ConsumerContext for SourceClient {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(list) = rebalance else {
            return;
        };
        let revoked = keys(list);
        // Give the revoked partitions' batches in flight a moment to be
        // acknowledged, so their offsets are committed before the next
        // owner starts.
        let deadline = Instant::now() + self.drain_timeout;
        let mut shared = self.lock();
        loop {
            apply_acks(&mut shared, consumer, &self.metrics);
            let left: usize = revoked.iter().map(|k| shared.offsets.in_flight(k)).sum();
            if left == 0 || Instant::now() >= deadline {
                if left > 0 {
                    warn!(
                        message = "Partitions revoked with batches still in flight; their records will be read again by the next owner.",
                        batches = left
                    );
                }
                break;
            }
            drop(shared);
            std::thread::sleep(Duration::from_millis(5));
            shared = self.lock();
        }
        commit_now(consumer);
        for key in &revoked {
            shared.offsets.revoke(key);
            let partition = key.1.to_string();
            let labels = [("topic", key.0.as_str()), ("partition", partition.as_str())];
            self.metrics.remove_gauge(&CONSUMER_LAG, &labels);
            self.metrics.remove_gauge(&IN_FLIGHT, &labels);
        }
        info!(message = "Partitions revoked.", partitions = %describe(&revoked));
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let assigned = keys(list);
                let mut shared = self.lock();
                for key in &assigned {
                    shared.offsets.assign(key.clone());
                }
                self.epoch.fetch_add(1, Ordering::AcqRel);
                info!(message = "Partitions assigned.", partitions = %describe(&assigned));
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => {
                self.metrics.add_error();
                error!(message = "Kafka rebalance failed.", %error);
            }
        }
    }
}

fn keys(list: &TopicPartitionList) -> Vec<PartitionKey> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

fn describe(keys: &[PartitionKey]) -> String {
    let mut parts: Vec<String> = keys.iter().map(|(t, p)| format!("{t}/{p}")).collect();
    parts.sort();
    parts.join(",")
}

/// Applies the acknowledgements that arrived: stores the offsets that
/// became safe to commit.
fn apply_acks(
    shared: &mut Shared,
    consumer: &BaseConsumer<SourceClient>,
    metrics: &ComponentMetrics,
) {
    let Shared { offsets, acks } = shared;
    while let Ok((ticket, status)) = acks.try_recv() {
        match offsets.ack(&ticket, status) {
            AckOutcome::Nothing => {}
            AckOutcome::Store(last_delivered) => {
                let (topic, partition) = &ticket.key;
                // librdkafka stores `last_delivered + 1`, the next offset to
                // read, which is what the group commits.
                if let Err(error) = consumer.store_offset(topic, *partition, last_delivered) {
                    // Only fails for a partition no longer assigned.
                    warn!(message = "Could not store an offset.", topic, partition, last_delivered, %error);
                }
            }
            AckOutcome::Blocked => {
                metrics.add_error();
                error!(
                    message = "A batch was not delivered; this partition commits no further offsets until it is assigned again, when its records are read again.",
                    topic = ticket.key.0,
                    partition = ticket.key.1,
                    ?status
                );
            }
        }
    }
}

/// Commits the stored offsets now (there may be none: not an error).
fn commit_now(consumer: &BaseConsumer<SourceClient>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        Err(e) if e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::NoOffset) => {}
        Err(error) => warn!(message = "Could not commit offsets.", %error),
    }
}

/// The buffers of one topic's partitions.
struct TopicBuffers {
    /// The topic name, shared by the `%kafka.topic` of every record.
    name: Bytes,
    partitions: HashMap<i32, PartitionBuffer>,
}

/// The records of one partition waiting to be sent as one batch.
struct PartitionBuffer {
    events: Vec<Event>,
    dropped: Vec<Event>,
    bytes: usize,
    last_offset: i64,
    started: Instant,
    generation: u64,
}

fn run_consumer(
    settings: ConsumerSettings,
    cx: SourceContext,
    handle: Handle,
) -> Result<(), ComponentError> {
    let (ack_tx, ack_rx) = mpsc::channel::<Ack>();
    let client = SourceClient {
        shared: Mutex::new(Shared {
            offsets: Offsets::default(),
            acks: ack_rx,
        }),
        epoch: AtomicU64::new(0),
        reporter: Reporter::new(cx.metrics.clone(), settings.bootstrap.clone()),
        metrics: cx.metrics.clone(),
        drain_timeout: settings.drain_timeout,
    };
    let consumer: BaseConsumer<SourceClient> =
        settings
            .client_config
            .create_with_context(client)
            .map_err(|e| ComponentError::Other(format!("cannot create the Kafka consumer: {e}")))?;
    let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| ComponentError::Other(format!("cannot subscribe to {topics:?}: {e}")))?;
    info!(message = "Kafka consumer started.", topics = ?topics);

    let SourceContext {
        id,
        out,
        shutdown,
        metrics,
        ..
    } = cx;
    let mut reader = Reader {
        decoder: PayloadDecoder::new(settings.codec),
        max_batch_events: settings.max_batch_events,
        topics: HashMap::new(),
        seen_epoch: 0,
        ack_tx,
        out,
        shutdown,
        metrics: metrics.clone(),
        id,
        handle,
        decoded: Vec::new(),
    };
    let result = reader.poll_until_shutdown(&consumer);
    // Closing the output lets the sinks flush what they hold, which is what
    // acknowledges the batches still in flight.
    drop(reader);

    // Store the offsets of what is acknowledged until nothing is in flight;
    // the topology bounds this wait by its shutdown timeout.
    let mut last_report = Instant::now();
    loop {
        let mut shared = consumer.context().lock();
        apply_acks(&mut shared, &consumer, &metrics);
        let left = shared.offsets.total_in_flight();
        drop(shared);
        if left == 0 {
            break;
        }
        if last_report.elapsed() >= settings.drain_timeout {
            last_report = Instant::now();
            info!(
                message = "Waiting for batches in flight before the last commit.",
                batches = left
            );
            commit_now(&consumer);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    commit_now(&consumer);
    consumer.unsubscribe();
    info!(message = "Kafka consumer stopped.");
    result
}

struct Reader {
    decoder: PayloadDecoder,
    max_batch_events: usize,
    /// Buffers by topic, then partition: looked up by the record's `&str`
    /// topic without allocating.
    topics: HashMap<String, TopicBuffers>,
    /// The assignment epoch the buffers belong to.
    seen_epoch: u64,
    ack_tx: mpsc::Sender<Ack>,
    out: SourceOutputs,
    shutdown: ShutdownSignal,
    metrics: Arc<ComponentMetrics>,
    id: String,
    handle: Handle,
    /// Scratch space for one payload's events.
    decoded: Vec<LogRecord>,
}

/// Whether to go on.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl Reader {
    fn poll_until_shutdown(
        &mut self,
        consumer: &BaseConsumer<SourceClient>,
    ) -> Result<(), ComponentError> {
        let mut polls_with_records = false;
        while !self.shutdown.is_triggered() {
            {
                let mut shared = consumer.context().lock();
                apply_acks(&mut shared, consumer, &self.metrics);
            }
            let oldest = self.buffers().map(|(_, _, b)| b.started).min();
            let timeout = match oldest {
                Some(t) => LINGER.saturating_sub(t.elapsed()),
                None => IDLE_POLL,
            };
            match consumer.poll(timeout) {
                Some(Ok(message)) => {
                    if !polls_with_records {
                        polls_with_records = true;
                        self.metrics.set_problem(None);
                    }
                    if self.add(consumer, &message)
                        && self.flush_if(consumer, |b, max| b.events.len() + b.dropped.len() >= max)
                            == Flow::Stop
                    {
                        return Ok(());
                    }
                }
                Some(Err(error)) => {
                    self.metrics.add_error();
                    warn!(message = "Kafka consumer error.", %error);
                }
                None => {}
            }
            if self.flush_if(consumer, |b, _| b.started.elapsed() >= LINGER) == Flow::Stop {
                return Ok(());
            }
        }
        Ok(())
    }

    fn buffers(&self) -> impl Iterator<Item = (&str, i32, &PartitionBuffer)> {
        self.topics.iter().flat_map(|(topic, t)| {
            t.partitions
                .iter()
                .map(move |(p, b)| (topic.as_str(), *p, b))
        })
    }

    /// Sends the buffers for which `due(buffer, max_batch_events)` holds.
    fn flush_if(
        &mut self,
        consumer: &BaseConsumer<SourceClient>,
        due: impl Fn(&PartitionBuffer, usize) -> bool,
    ) -> Flow {
        let keys: Vec<PartitionKey> = self
            .buffers()
            .filter(|(_, _, b)| due(b, self.max_batch_events))
            .map(|(t, p, _)| (t.to_owned(), p))
            .collect();
        for key in keys {
            if self.flush(consumer, &key) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// After a rebalance: forgets buffered records of partitions revoked
    /// (or revoked and assigned again) since they were read; they were not
    /// committed, so they are read again.
    fn drop_stale_buffers(&mut self, consumer: &BaseConsumer<SourceClient>) {
        let shared = consumer.context().lock();
        for (topic, t) in &mut self.topics {
            t.partitions.retain(|p, b| {
                shared.offsets.generation(&(topic.clone(), *p)) == Some(b.generation)
            });
        }
    }

    /// Decodes a record into its partition's buffer; false if the
    /// partition is not (or no longer) assigned here.
    fn add(
        &mut self,
        consumer: &BaseConsumer<SourceClient>,
        message: &rdkafka::message::BorrowedMessage<'_>,
    ) -> bool {
        let epoch = consumer.context().epoch.load(Ordering::Acquire);
        if epoch != self.seen_epoch {
            self.drop_stale_buffers(consumer);
            self.seen_epoch = epoch;
        }
        let partition = message.partition();
        if !self.topics.contains_key(message.topic()) {
            self.topics.insert(
                message.topic().to_owned(),
                TopicBuffers {
                    name: Bytes::copy_from_slice(message.topic().as_bytes()),
                    partitions: HashMap::new(),
                },
            );
        }
        let Some(topic_buffers) = self.topics.get_mut(message.topic()) else {
            return false;
        };
        let buffer = match topic_buffers.partitions.entry(partition) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let key = (message.topic().to_owned(), partition);
                let Some(generation) = consumer.context().lock().offsets.generation(&key) else {
                    return false;
                };
                e.insert(PartitionBuffer {
                    events: Vec::with_capacity(64),
                    dropped: Vec::new(),
                    bytes: 0,
                    last_offset: -1,
                    started: Instant::now(),
                    generation,
                })
            }
        };
        let topic = &topic_buffers.name;
        let payload = message.payload().unwrap_or_default();
        let headers = message
            .headers()
            .map(|h| h.iter().map(|h| (h.key, h.value)).collect())
            .unwrap_or_default();
        let meta = RecordMeta {
            topic,
            partition,
            offset: message.offset(),
            key: message.key(),
            timestamp_millis: message.timestamp().to_millis(),
            headers,
        };
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        buffer.bytes += payload.len();
        buffer.last_offset = message.offset();
        self.decoded.clear();
        match self.decoder.decode(payload, now, &mut self.decoded) {
            Ok(()) => {
                for mut log in self.decoded.drain(..) {
                    meta.apply(&mut log);
                    buffer.events.push(Event::Log(log));
                }
            }
            Err(reason) => {
                let mut log = LogRecord::from_line(Bytes::copy_from_slice(payload), now);
                meta.apply(&mut log);
                let mut event = Event::Log(log);
                mark_dropped(&mut event, "decode_failed", &reason, &self.id);
                buffer.dropped.push(event);
            }
        }
        true
    }

    /// Sends a partition's buffer as one batch (plus its undecodable
    /// records to `dropped`), acknowledged together.
    fn flush(&mut self, consumer: &BaseConsumer<SourceClient>, key: &PartitionKey) -> Flow {
        let Some(buffer) = self
            .topics
            .get_mut(&key.0)
            .and_then(|t| t.partitions.remove(&key.1))
        else {
            return Flow::Continue;
        };
        let ticket = {
            let mut shared = consumer.context().lock();
            if shared.offsets.generation(key) != Some(buffer.generation) {
                return Flow::Continue; // revoked meanwhile
            }
            shared.offsets.register(key, buffer.last_offset)
        };
        let Some(ticket) = ticket else {
            return Flow::Continue;
        };
        let acks = self.ack_tx.clone();
        let finalizers = Finalizers::new(BatchNotifier::new(move |status| {
            let _ = acks.send((ticket, status));
        }));
        let PartitionBuffer {
            events,
            dropped,
            bytes,
            ..
        } = buffer;
        self.metrics
            .add_received(events.len() + dropped.len(), bytes);
        if !dropped.is_empty() {
            self.metrics.add_discarded(dropped.len(), false);
            self.metrics.add_error();
            let batch = EventBatch::new(dropped).with_finalizers(finalizers.clone());
            if self.send(batch, Some(DROPPED_OUTPUT)) == Flow::Stop {
                return Flow::Stop;
            }
        }
        if events.is_empty() {
            return Flow::Continue;
        }
        self.send(
            EventBatch::with_size(events, bytes).with_finalizers(finalizers),
            None,
        )
    }

    /// Sends a batch unless shutdown comes first; a batch abandoned at
    /// shutdown is marked errored, so its offsets are not committed.
    fn send(&self, batch: EventBatch, output: Option<&str>) -> Flow {
        let finalizers = batch.finalizers.clone();
        self.handle.block_on(async {
            tokio::select! {
                biased;
                sent = async {
                    match output {
                        Some(name) => self.out.send_named(name, batch).await,
                        None => self.out.send(batch).await,
                    }
                } => match sent {
                    Ok(()) => Flow::Continue,
                    Err(_) => {
                        warn!(message = "Nothing consumes this source's output any more; stopping.");
                        Flow::Stop
                    }
                },
                _ = self.shutdown.wait() => {
                    finalizers.update_status(BatchStatus::Errored);
                    Flow::Stop
                }
            }
        })
    }
}
