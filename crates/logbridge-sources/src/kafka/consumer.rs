//! The consumer: one thread per `kafka` source polls librdkafka, copies
//! records into raw batches per partition, hands them to the decode stage
//! (`stage.rs`), and turns their acknowledgements into stored offsets that
//! librdkafka commits on its timer.
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
//! next owner reads them. Batches sent but unacknowledged when a
//! revocation begins are withdrawn (`BatchNotifier::withdrawable`), so a
//! component holding them (`tail_sample`) fails them rather than decide
//! on part of what the next owner reads whole.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use logbridge_component::telemetry::{ComponentMetrics, GaugeDef};
use logbridge_component::{ComponentError, ShutdownSignal, Source, SourceContext};
use logbridge_event::{BatchNotifier, BatchStatus, Finalizers};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, ClientContext, Statistics, TopicPartitionList};
use tokio::runtime::Handle;
use tracing::{error, info, warn};

use super::decode::{DecodingCodec, OtlpSignal, PayloadDecoder, RawBatchBuilder};
use super::offsets::{AckOutcome, BatchTicket, Offsets, PartitionKey};
use super::stage::{DecodeStage, Job, Unsent};
use logbridge_kafka::client::{Reporter, any_broker_up};

static CONSUMER_LAG: GaugeDef = GaugeDef {
    name: "logbridge_kafka_consumer_lag",
    help: "Records of the partition after the group's committed offset (high watermark minus committed offset).",
    counter: false,
};

static IN_FLIGHT: GaugeDef = GaugeDef {
    name: "logbridge_kafka_batches_in_flight",
    help: "Batches of the partition sent down the pipeline and not yet acknowledged.",
    counter: false,
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
    /// For `otlp`: the signals to try, in order.
    pub(crate) signals: Vec<OtlpSignal>,
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
        let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (jobs_tx, jobs_rx) = tokio::sync::mpsc::channel(parallelism * 2);
        let stage = DecodeStage {
            decoder: Arc::new(PayloadDecoder::new(
                settings.codec,
                settings.signals.clone(),
            )),
            out: cx.out,
            shutdown: cx.shutdown.clone(),
            metrics: cx.metrics.clone(),
            id: Arc::from(cx.id.as_str()),
            parallelism,
        };
        let thread_cx = ThreadContext {
            shutdown: cx.shutdown,
            metrics: cx.metrics,
            jobs: jobs_tx,
            handle,
        };
        // The thread reports how it ended (a panic caught as such) over a
        // channel, so the task waits for it without blocking a runtime
        // worker and without a second thread to join it.
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("kafka-{}", cx.id))
            .spawn(move || {
                let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_consumer(settings, thread_cx)
                }));
                let _ = tx.send(ended);
            })?;
        let ((), joined) = tokio::join!(stage.run(jobs_rx), rx);
        match joined {
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

/// What the consumer thread needs of the source's context.
struct ThreadContext {
    shutdown: ShutdownSignal,
    metrics: Arc<ComponentMetrics>,
    jobs: tokio::sync::mpsc::Sender<Job>,
    handle: Handle,
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
        // owner starts. They are withdrawn first: nothing more of these
        // partitions will be read here, so a component holding their
        // records to decide on a whole (`tail_sample`) must not decide now.
        let deadline = Instant::now() + self.drain_timeout;
        let mut shared = self.lock();
        for key in &revoked {
            shared.offsets.withdraw(key);
        }
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
    records: RawBatchBuilder,
    started: Instant,
    generation: u64,
}

fn run_consumer(settings: ConsumerSettings, cx: ThreadContext) -> Result<(), ComponentError> {
    let (ack_tx, ack_rx) = mpsc::channel::<Ack>();
    let metrics = cx.metrics.clone();
    let client = SourceClient {
        shared: Mutex::new(Shared {
            offsets: Offsets::default(),
            acks: ack_rx,
        }),
        epoch: AtomicU64::new(0),
        reporter: Reporter::new(metrics.clone(), settings.bootstrap.clone()),
        metrics: metrics.clone(),
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

    let mut reader = Reader {
        max_batch_events: settings.max_batch_events,
        topics: HashMap::new(),
        seen_epoch: 0,
        ack_tx,
        cx,
    };
    let result = reader.poll_until_shutdown(&consumer);
    // Closing the way to the decode stage (and so, once it is done, the
    // output) lets the sinks flush what they hold, which is what
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
    max_batch_events: usize,
    /// Buffers by topic, then partition: looked up by the record's `&str`
    /// topic without allocating.
    topics: HashMap<String, TopicBuffers>,
    /// The assignment epoch the buffers belong to.
    seen_epoch: u64,
    ack_tx: mpsc::Sender<Ack>,
    cx: ThreadContext,
}

/// Whether to go on.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// A partition's batch is sent once its payloads reach this size.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// The most records taken from librdkafka's queue in one round, between
/// acknowledgement and linger checks.
const ROUND_RECORDS: usize = 4096;

impl Reader {
    fn poll_until_shutdown(
        &mut self,
        consumer: &BaseConsumer<SourceClient>,
    ) -> Result<(), ComponentError> {
        let mut saw_records = false;
        while !self.cx.shutdown.is_triggered() {
            {
                let mut shared = consumer.context().lock();
                apply_acks(&mut shared, consumer, &self.cx.metrics);
            }
            let oldest = self.buffers().map(|(_, _, b)| b.started).min();
            let timeout = match oldest {
                Some(t) => LINGER.saturating_sub(t.elapsed()),
                None => IDLE_POLL,
            };
            // One waiting poll, then whatever is already queued.
            let mut next = consumer.poll(timeout);
            let mut taken = 0;
            while let Some(polled) = next {
                match polled {
                    Ok(message) => {
                        taken += 1;
                        if self.add(consumer, &message)
                            && self
                                .flush(consumer, &(message.topic().to_owned(), message.partition()))
                                == Flow::Stop
                        {
                            return Ok(());
                        }
                    }
                    Err(error) => {
                        self.cx.metrics.add_error();
                        warn!(message = "Kafka consumer error.", %error);
                    }
                }
                if taken >= ROUND_RECORDS {
                    break;
                }
                next = consumer.poll(Duration::ZERO);
            }
            if taken > 0 && !saw_records {
                saw_records = true;
                self.cx.metrics.set_problem(None);
            }
            if self.flush_due(consumer) == Flow::Stop {
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

    /// Sends the buffers that waited `LINGER`.
    fn flush_due(&mut self, consumer: &BaseConsumer<SourceClient>) -> Flow {
        let keys: Vec<PartitionKey> = self
            .buffers()
            .filter(|(_, _, b)| b.started.elapsed() >= LINGER)
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

    /// Copies a record into its partition's buffer; true once the buffer
    /// is full. Records of partitions not (or no longer) assigned here are
    /// skipped.
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
                    records: RawBatchBuilder::new(),
                    started: Instant::now(),
                    generation,
                })
            }
        };
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_owned(), h.value.map(Bytes::copy_from_slice)))
                    .collect()
            })
            .unwrap_or_default();
        buffer.records.push(
            message.offset(),
            message.payload().unwrap_or_default(),
            message.key(),
            message.timestamp().to_millis(),
            headers,
        );
        buffer.records.len() >= self.max_batch_events || buffer.records.bytes() >= MAX_BATCH_BYTES
    }

    /// Hands a partition's buffer to the decode stage as one batch.
    fn flush(&mut self, consumer: &BaseConsumer<SourceClient>, key: &PartitionKey) -> Flow {
        let Some((name, buffer)) = self.topics.get_mut(&key.0).and_then(|t| {
            let buffer = t.partitions.remove(&key.1)?;
            Some((t.name.clone(), buffer))
        }) else {
            return Flow::Continue;
        };
        let Some(last_offset) = buffer.records.last_offset() else {
            return Flow::Continue;
        };
        let ticket = {
            let mut shared = consumer.context().lock();
            if shared.offsets.generation(key) != Some(buffer.generation) {
                return Flow::Continue; // revoked meanwhile
            }
            let withdrawal = shared.offsets.withdrawal(key);
            shared.offsets.register(key, last_offset).zip(withdrawal)
        };
        let Some((ticket, withdrawal)) = ticket else {
            return Flow::Continue;
        };
        let acks = self.ack_tx.clone();
        let finalizers = Finalizers::new(BatchNotifier::withdrawable(withdrawal, move |status| {
            let _ = acks.send((ticket, status));
        }));
        let job = Job {
            batch: buffer.records.build(name, key.1),
            finalizers: Unsent::new(finalizers),
        };
        let cx = &self.cx;
        cx.handle.block_on(async {
            tokio::select! {
                biased;
                // A refused job drops its `Unsent`: reported errored.
                sent = cx.jobs.send(job) => if sent.is_ok() { Flow::Continue } else { Flow::Stop },
                _ = cx.shutdown.wait() => Flow::Stop,
            }
        })
    }
}
