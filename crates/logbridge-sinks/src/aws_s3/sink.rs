//! The running `aws_s3` sink: groups events by rendered key prefix into
//! open batches, turns a batch into one compressed object when a limit or
//! its timeout is reached (and at the end of the input), and writes it
//! with retries, acknowledging the contributing input batches only after
//! the write succeeded. Objects are compressed (on the blocking pool) and
//! uploaded on their own futures, one per core at most, while events keep
//! arriving.
//!
//! It must not acknowledge before the object is written, and must not drop
//! data: a write is retried until it succeeds or the pipeline shuts down
//! (then the batch is reported `Errored`, so the source reads it again).
//!
//! Logs read from Kafka (with `%kafka` metadata) are grouped per topic and
//! partition as well, and their objects are named after the first and last
//! offset they hold. Each cut is recorded in the cut journal (`cuts.rs`)
//! before the upload; records read again after a crash are cut at the
//! recorded offsets, so they overwrite the same objects, and records of an
//! object known to be written are skipped. Size limits never split the
//! records of one Kafka offset (an OTLP payload holds many).

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use logbridge_codec::encode::Encoder;
use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{ComponentError, ShutdownSignal, Sink, SinkContext};
use logbridge_event::{BatchStatus, Event, EventBatch, Finalizers};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::cuts::{Cut, CutGroup, CutJournal};
use super::parquet::{ParquetBatch, ParquetOptions};
use super::store::{self, Failure, StoreTarget};
use crate::file::Compression;
use logbridge_codec::template::{Template, event_time};

/// Objects larger than this (after compression) use a multipart upload.
pub(crate) const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// The shortest wait after an error the operator has to fix.
const RETRY_CONFIG_MIN: Duration = Duration::from_secs(10);
/// Objects compressed and uploaded at once, per core: one compressing
/// while another uploads (more only adds memory: 2 measured as fast as 4
/// on 2 cores, with 256 instead of 300 MiB peak, `scripts/bench-kafka`).
const WRITES_PER_CORE: usize = 1;
/// A write taking longer than this makes the sink report a problem.
const SLOW_WRITE: Duration = Duration::from_secs(10);
/// How much longer than the batch timeout a replayed cut waits for its
/// last record.
const REPLAY_GRACE: Duration = Duration::from_secs(60);

/// The validated options (see `S3SinkConfig`). Not `Debug`: `env` may
/// hold credentials.
pub(crate) struct SinkSettings {
    pub(crate) target: StoreTarget,
    pub(crate) key_prefix: Template,
    pub(crate) format: ObjectFormat,
    pub(crate) compression: Compression,
    pub(crate) max_bytes: usize,
    pub(crate) max_events: usize,
    pub(crate) timeout: Duration,
    /// Without the leading dot; empty for none.
    pub(crate) extension: String,
    pub(crate) multipart_threshold: usize,
    /// When the open batches together hold more encoded bytes than this,
    /// the largest is written early (many prefixes must not exhaust
    /// memory).
    pub(crate) max_buffered_bytes: usize,
    /// `AWS_*` variables to use instead of the process environment (tests).
    pub(crate) env: Option<Vec<(String, String)>>,
    /// Where the cut journal lives (`data_dir/<sink id>`).
    pub(crate) state_dir: PathBuf,
}

/// How events become an object's bytes.
pub(crate) enum ObjectFormat {
    /// One encoded event per line.
    Lines(Encoder),
    Parquet(ParquetOptions),
}

/// An object's events so far.
enum Contents {
    Lines(Vec<u8>),
    Parquet(Box<ParquetBatch>),
}

impl Contents {
    fn new(format: &ObjectFormat) -> Contents {
        match format {
            ObjectFormat::Lines(_) => Contents::Lines(Vec::new()),
            ObjectFormat::Parquet(options) => {
                Contents::Parquet(Box::new(ParquetBatch::new(options)))
            }
        }
    }

    fn push(&mut self, event: &Event, format: &ObjectFormat) {
        match (self, format) {
            (Contents::Lines(buf), ObjectFormat::Lines(encoder)) => encoder.encode(event, buf),
            (Contents::Parquet(batch), _) => batch.push(event),
            (Contents::Lines(_), ObjectFormat::Parquet(_)) => {}
        }
    }

    /// Bytes held, for `batch.max_bytes` (encoded size for lines, the
    /// events' estimated size for Parquet).
    fn len(&self) -> usize {
        match self {
            Contents::Lines(buf) => buf.len(),
            Contents::Parquet(batch) => batch.estimated_bytes(),
        }
    }

    fn finish(self) -> Result<Vec<u8>, String> {
        match self {
            Contents::Lines(buf) => Ok(buf),
            Contents::Parquet(batch) => batch.finish().map(|o| o.bytes).map_err(|e| e.to_string()),
        }
    }
}

/// What events are grouped by: the rendered key prefix, and for Kafka
/// records their topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct GroupKey {
    prefix: String,
    /// Topic (shared with the events, not copied) and partition.
    kafka: Option<(Bytes, i32)>,
}

impl GroupKey {
    fn cut_group(&self) -> Option<CutGroup> {
        let (topic, partition) = self.kafka.as_ref()?;
        Some(CutGroup {
            prefix: self.prefix.clone(),
            topic: String::from_utf8_lossy(topic).into_owned(),
            partition: *partition,
        })
    }
}

/// The Kafka offsets an open batch holds.
struct OffsetSpan {
    first: i64,
    last: i64,
    /// The cut recorded for this batch before a crash: it must end there.
    replay: Option<Cut>,
    /// A size limit was reached: the batch closes before the next offset.
    full: bool,
}

impl OffsetSpan {
    /// Whether a record at `offset` must go into a new batch.
    fn closes_before(&self, offset: i64) -> bool {
        match self.replay {
            Some(cut) => offset > cut.last,
            None => offset < self.last || (self.full && offset != self.last),
        }
    }
}

/// Finalizers held until their object is written. Dropped without
/// [`Pending::finish`] (the task was aborted or panicked), they report
/// `Errored`, never a false `Delivered`.
#[derive(Default)]
struct Pending(Option<Finalizers>);

impl Pending {
    fn merge(&mut self, finalizers: Finalizers) {
        self.0
            .get_or_insert_with(Finalizers::default)
            .merge(finalizers);
    }

    fn finish(mut self, status: BatchStatus) {
        if let Some(f) = self.0.take() {
            f.finish(status);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f.finish(BatchStatus::Errored);
        }
    }
}

/// The events waiting to become one object.
struct OpenBatch {
    contents: Contents,
    /// Set for Kafka records.
    offsets: Option<OffsetSpan>,
    events: usize,
    first_event_millis: i64,
    opened: Instant,
    finalizers: Pending,
    /// The input batch whose finalizers were merged last.
    last_input: u64,
}

pub(crate) struct S3Sink {
    settings: SinkSettings,
    store: Option<Arc<dyn ObjectStore>>,
    open: HashMap<GroupKey, OpenBatch>,
    /// Opened on the first Kafka record; `None` before, or if it cannot be
    /// opened (objects are then still named by offsets, but a replay may
    /// cut differently).
    journal: Option<CutJournal>,
    journal_failed: bool,
    /// Encoded bytes held in `open`.
    buffered_bytes: usize,
    rng: SmallRng,
    input_seq: u64,
    /// The failure last logged; cleared once a write succeeds, so each
    /// cause is logged once per outage.
    failures: Arc<Mutex<FailureLog>>,
    /// Objects being compressed and uploaded.
    writes: FuturesUnordered<ObjectWrite>,
    /// The cuts of those, by group and first offset.
    writing: std::collections::HashSet<(GroupKey, i64)>,
    max_writes: usize,
}

impl S3Sink {
    pub(crate) fn new(settings: SinkSettings) -> S3Sink {
        S3Sink {
            settings,
            store: None,
            open: HashMap::new(),
            journal: None,
            journal_failed: false,
            buffered_bytes: 0,
            rng: SmallRng::from_os_rng(),
            input_seq: 0,
            failures: Arc::default(),
            writes: FuturesUnordered::new(),
            writing: std::collections::HashSet::new(),
            max_writes: std::thread::available_parallelism()
                .map_or(2, |n| n.get() * WRITES_PER_CORE)
                .max(2),
        }
    }

    /// Adds a batch's events to the open batches, writing those that fill.
    async fn add(&mut self, mut input: EventBatch, cx: &SinkContext) {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        self.input_seq += 1;
        let seq = self.input_seq;
        let finalizers = std::mem::take(&mut input.finalizers);
        for event in input.events() {
            let prefix = self.settings.key_prefix.render(event, now);
            let position = match event {
                Event::Log(log) => log.kafka_position(),
                _ => None,
            };
            let key = GroupKey {
                prefix,
                kafka: position.map(|p| (p.topic.clone(), p.partition)),
            };
            let mut replay = None;
            if let Some(position) = position {
                let offset = position.offset;
                if self
                    .open
                    .get(&key)
                    .and_then(|b| b.offsets.as_ref())
                    .is_some_and(|o| o.closes_before(offset))
                    && let Some(batch) = self.open.remove(&key)
                {
                    self.write_batch(&key, batch, cx).await;
                }
                if !self.open.contains_key(&key) {
                    match self.recorded_cut(&key, offset) {
                        Some(cut) if cut.first == offset => replay = Some(cut),
                        // Already in the bucket (an object written before a
                        // crash), or in an object being written now (a
                        // record read twice, e.g. once from a disk buffer
                        // and again from Kafka): acknowledged by not
                        // writing it again.
                        Some(cut) if cut.done || self.is_writing(&key, cut.first) => continue,
                        _ => {}
                    }
                }
            }
            if !self.open.contains_key(&key) {
                let batch = OpenBatch {
                    contents: Contents::new(&self.settings.format),
                    offsets: position.map(|p| OffsetSpan {
                        first: p.offset,
                        last: p.offset,
                        replay,
                        full: false,
                    }),
                    events: 0,
                    first_event_millis: event_time(event, now).div_euclid(1_000_000),
                    opened: Instant::now(),
                    finalizers: Pending::default(),
                    last_input: 0,
                };
                self.open.insert(key.clone(), batch);
            }
            let Some(batch) = self.open.get_mut(&key) else {
                continue; // inserted just above
            };
            if batch.last_input != seq {
                batch.finalizers.merge(finalizers.clone());
                batch.last_input = seq;
            }
            let before = batch.contents.len();
            batch.contents.push(event, &self.settings.format);
            self.buffered_bytes += batch.contents.len() - before;
            batch.events += 1;
            let over_limit = batch.contents.len() >= self.settings.max_bytes
                || batch.events >= self.settings.max_events;
            let write_now = match (&mut batch.offsets, position) {
                (Some(span), Some(p)) => {
                    span.last = p.offset;
                    match span.replay {
                        Some(cut) => batch.events >= cut.events && p.offset >= cut.last,
                        None => {
                            // Close only between offsets: the next
                            // record decides.
                            span.full |= over_limit;
                            false
                        }
                    }
                }
                _ => over_limit,
            };
            if write_now && let Some(batch) = self.open.remove(&key) {
                self.write_batch(&key, batch, cx).await;
            }
        }
        // Events of this input that were all written (or none at all):
        // dropping the last reference here is the acknowledgement.
        drop(finalizers);
        while self.buffered_bytes > self.settings.max_buffered_bytes {
            let largest = self
                .open
                .iter()
                .filter(|(_, b)| b.offsets.as_ref().is_none_or(|o| o.replay.is_none()))
                .max_by_key(|(_, b)| b.contents.len())
                .map(|(k, _)| k.clone());
            let Some(key) = largest else { break };
            if let Some(batch) = self.open.remove(&key) {
                self.write_batch(&key, batch, cx).await;
            }
        }
    }

    /// Whether the object of the cut starting at `first` is being written.
    fn is_writing(&self, key: &GroupKey, first: i64) -> bool {
        self.writing.contains(&(key.clone(), first))
    }

    /// The cut recorded before a crash that holds `offset` of a Kafka
    /// group.
    fn recorded_cut(&mut self, key: &GroupKey, offset: i64) -> Option<Cut> {
        let group = key.cut_group()?;
        self.journal()?.find(&group, offset)
    }

    fn journal(&mut self) -> Option<&mut CutJournal> {
        if self.journal.is_none() && !self.journal_failed {
            match CutJournal::open(&self.settings.state_dir) {
                Ok(journal) => self.journal = Some(journal),
                Err(error) => {
                    self.journal_failed = true;
                    error!(
                        message = "Cannot open the cut journal; Kafka records read again after a crash may be written twice.",
                        %error,
                        dir = %self.settings.state_dir.display()
                    );
                }
            }
        }
        self.journal.as_mut()
    }

    /// Writes the batches whose timeout has passed.
    async fn flush_expired(&mut self, cx: &SinkContext) {
        let timeout = self.settings.timeout;
        let now = Instant::now();
        let mut expired: Vec<GroupKey> = self
            .open
            .iter()
            .filter(|(_, b)| b.opened + timeout <= now)
            .map(|(k, _)| k.clone())
            .collect();
        expired.sort();
        for key in expired {
            let Some(batch) = self.open.remove(&key) else {
                continue;
            };
            if batch.offsets.as_ref().is_some_and(|o| o.replay.is_some())
                && batch.opened + timeout + REPLAY_GRACE > now
            {
                // A replayed cut waits for its last record, which a
                // restarted source reads again soon after the first.
                self.open.insert(key, batch);
                continue;
            }
            if batch.offsets.as_ref().is_some_and(|o| o.replay.is_some()) {
                // The rest never came: the journal does not match the
                // topic (recreated, or a reused data_dir) or the partition
                // moved to another process. Write what is here, under its
                // own name (its last offset differs), so nothing is lost.
                warn!(
                    message = "A replayed object's remaining records did not arrive; writing the records that did.",
                    prefix = %key.prefix
                );
            }
            self.write_batch(&key, batch, cx).await;
        }
    }

    async fn flush_all(&mut self, cx: &SinkContext) {
        self.buffered_bytes = 0;
        let mut all: Vec<(GroupKey, OpenBatch)> = self.open.drain().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, batch) in all {
            if batch.offsets.as_ref().is_some_and(|o| o.replay.is_some()) {
                // Incomplete replayed cut: read again next time.
                batch.finalizers.finish(BatchStatus::Errored);
                continue;
            }
            self.write_batch(&key, batch, cx).await;
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.open
            .values()
            .map(|b| {
                let grace = match &b.offsets {
                    Some(OffsetSpan {
                        replay: Some(_), ..
                    }) => REPLAY_GRACE,
                    _ => Duration::ZERO,
                };
                b.opened + self.settings.timeout + grace
            })
            .min()
    }

    /// Starts writing one batch: records its cut (for Kafka records), then
    /// compresses and uploads it on its own future, so that several objects
    /// are compressed (on the blocking pool) and uploaded at once while
    /// events keep arriving. Waits only while `max_writes` are under way.
    /// `batch` must already be out of `open`.
    async fn write_batch(&mut self, key: &GroupKey, batch: OpenBatch, cx: &SinkContext) {
        let started = std::time::Instant::now();
        self.buffered_bytes = self.buffered_bytes.saturating_sub(batch.contents.len());
        let OpenBatch {
            contents,
            offsets,
            events,
            first_event_millis,
            finalizers,
            ..
        } = batch;
        let encoded = match contents.finish() {
            Ok(encoded) => encoded,
            Err(error) => {
                cx.metrics.add_error();
                error!(message = "Failed to encode object.", %error);
                finalizers.finish(BatchStatus::Errored);
                return;
            }
        };
        let cut = offsets.map(|o| Cut {
            first: o.first,
            last: o.last,
            events,
            done: false,
        });
        let first_offset = cut.map(|c| c.first);
        let (object, cut) = match (cut, key.cut_group()) {
            (Some(cut), Some(group)) => {
                let object = offset_object_key(&group, &cut, &self.settings.extension);
                if let Some(journal) = self.journal()
                    && let Err(error) = journal.record_intent(&group, cut)
                {
                    cx.metrics.add_error();
                    error!(message = "Cannot record a cut; the records will be read again.", %error);
                    finalizers.finish(BatchStatus::Errored);
                    return;
                }
                (object, Some((group, cut)))
            }
            _ => (
                object_key(
                    &key.prefix,
                    first_event_millis,
                    self.rng.random(),
                    &self.settings.extension,
                ),
                None,
            ),
        };
        let Some(store) = self.store_or_wait(cx).await else {
            finalizers.finish(BatchStatus::Errored);
            return;
        };
        let writer = ObjectWriter {
            store,
            multipart_threshold: self.settings.multipart_threshold,
            metrics: Arc::clone(&cx.metrics),
            shutdown: cx.shutdown.clone(),
            failures: Arc::clone(&self.failures),
        };
        let compression = self.settings.compression;
        let writing = first_offset.map(|first| (key.clone(), first));
        if let Some(entry) = &writing {
            self.writing.insert(entry.clone());
        }
        let write: ObjectWrite = Box::pin(async move {
            let compressed = tokio::task::spawn_blocking(move || compress(encoded, compression))
                .await
                .map_err(io::Error::other)
                .and_then(|r| r);
            let (status, size) = match compressed {
                Ok(data) => {
                    let size = data.len();
                    (writer.write_with_retry(&object, data).await, size)
                }
                // Compressing into memory does not fail short of running
                // out of it; the source reads these events again.
                Err(error) => {
                    writer.metrics.add_error();
                    error!(message = "Failed to compress object.", %error);
                    (BatchStatus::Errored, 0)
                }
            };
            WriteDone {
                status,
                finalizers,
                events,
                size,
                started,
                cut,
                writing,
            }
        });
        self.writes.push(write);
        while self.writes.len() >= self.max_writes {
            if let Some(done) = self.writes.next().await {
                self.complete(done, cx);
            }
        }
    }

    /// Settles a finished write: counters, the journal, the finalizers.
    fn complete(&mut self, done: WriteDone, cx: &SinkContext) {
        let WriteDone {
            status,
            finalizers,
            events,
            size,
            started,
            cut,
            writing,
        } = done;
        if let Some(entry) = writing {
            self.writing.remove(&entry);
        }
        match status {
            BatchStatus::Delivered => {
                cx.metrics.write_latency.observe(started.elapsed());
                cx.metrics.add_sent(events, size);
                if let Some((group, cut)) = cut
                    && let Some(journal) = self.journal()
                    && let Err(error) = journal.record_done(&group, cut)
                {
                    warn!(message = "Cannot record a written cut.", %error);
                }
            }
            BatchStatus::Rejected => cx.metrics.add_discarded(events, false),
            BatchStatus::Errored => {}
        }
        finalizers.finish(status);
    }

    /// Waits for every write under way.
    async fn finish_writes(&mut self, cx: &SinkContext) {
        while let Some(done) = self.writes.next().await {
            self.complete(done, cx);
        }
    }

    /// The object store, created on first use. A local setting that stops
    /// it from being created (an unknown `AWS_PROFILE`) is retried slowly
    /// until fixed; `None` at shutdown.
    async fn store_or_wait(&mut self, cx: &SinkContext) -> Option<Arc<dyn ObjectStore>> {
        let mut logged = false;
        loop {
            let error = match self.store() {
                Ok(store) => return Some(store),
                Err(error) => error,
            };
            cx.metrics.add_error();
            cx.metrics
                .set_problem(Some(format!("cannot set up the object store: {error}")));
            if !logged {
                logged = true;
                let hint = match store::classify(&error) {
                    Failure::Config(cause) => cause.hint(),
                    Failure::Transient => "",
                };
                error!(message = "Cannot set up the object store; retrying slowly until the configuration is fixed.", %error, hint);
            }
            if cx.shutdown.is_triggered() {
                return None;
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY_CONFIG_MIN) => {}
                _ = cx.shutdown.wait() => {}
            }
        }
    }

    /// A sink writing to `store` instead of the one its settings name.
    #[cfg(test)]
    pub(crate) fn with_store(mut self, store: Arc<dyn ObjectStore>) -> S3Sink {
        self.store = Some(store);
        self
    }

    fn store(&mut self) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
        if let Some(store) = &self.store {
            return Ok(Arc::clone(store));
        }
        let env = match &self.settings.env {
            Some(env) => env.clone(),
            None => std::env::vars().collect(),
        };
        let store = store::open(&self.settings.target, env)?;
        self.store = Some(Arc::clone(&store));
        Ok(store)
    }
}

/// What one object write needs, owned by its future.
struct ObjectWriter {
    store: Arc<dyn ObjectStore>,
    multipart_threshold: usize,
    metrics: Arc<ComponentMetrics>,
    shutdown: ShutdownSignal,
    failures: Arc<Mutex<FailureLog>>,
}

/// Shared by the writes under way, so each cause of failure is logged
/// once per outage and the problem is cleared by the next success.
#[derive(Default)]
struct FailureLog {
    last: Option<Failure>,
    /// A write took longer than [`SLOW_WRITE`] (reported as a problem).
    slow: bool,
}

/// A finished write, to be settled by the sink.
struct WriteDone {
    status: BatchStatus,
    finalizers: Pending,
    events: usize,
    size: usize,
    started: std::time::Instant,
    cut: Option<(CutGroup, Cut)>,
    /// Its entry in `writing`.
    writing: Option<(GroupKey, i64)>,
}

type ObjectWrite = std::pin::Pin<Box<dyn Future<Output = WriteDone> + Send>>;

impl ObjectWriter {
    fn failures(&self) -> std::sync::MutexGuard<'_, FailureLog> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `data` at `key`, retrying server errors, throttling and
    /// connection failures with backoff until it succeeds or the pipeline
    /// shuts down (`Errored`: read again). A request the server refuses
    /// (4xx other than throttling) is not retried: `Rejected`.
    async fn write_with_retry(&self, key: &ObjectPath, data: Bytes) -> BatchStatus {
        let mut delay = RETRY_MIN;
        loop {
            let result = {
                let write =
                    store::write_object(&*self.store, key, data.clone(), self.multipart_threshold);
                tokio::pin!(write);
                tokio::select! {
                    result = &mut write => result,
                    // A server that hangs fails a write only when the
                    // client's retry timeout runs out; say so sooner.
                    _ = tokio::time::sleep(SLOW_WRITE) => {
                        self.failures().slow = true;
                        self.metrics.set_problem(Some(format!(
                            "an object write has not completed in {} s",
                            SLOW_WRITE.as_secs()
                        )));
                        write.await
                    }
                }
            };
            let error = match result {
                Ok(()) => {
                    let mut failures = self.failures();
                    if failures.last.take().is_some() || std::mem::take(&mut failures.slow) {
                        self.metrics.set_problem(None);
                        info!(message = "Writing objects works again.", %key);
                    }
                    return BatchStatus::Delivered;
                }
                Err(error) => error,
            };
            self.metrics.add_error();
            self.metrics
                .set_problem(Some(format!("writing objects fails: {error}")));
            let failure = store::classify(&error);
            if let Failure::Config(cause) = failure
                && cause.is_refusal()
            {
                self.failures().last = Some(failure);
                // Logged every time: each refusal is data not written.
                error!(
                    message = "The server refused an object; not retrying. Its events are reported rejected.",
                    %error,
                    hint = cause.hint(),
                    %key,
                );
                return BatchStatus::Rejected;
            }
            let first_of_its_kind = {
                let mut failures = self.failures();
                let new = failures.last != Some(failure);
                failures.last = Some(failure);
                new
            };
            if first_of_its_kind {
                match failure {
                    Failure::Transient => {
                        warn!(message = "Failed to write object; retrying.", %error, %key);
                    }
                    Failure::Config(cause) => {
                        error!(
                            message = "Cannot write objects; retrying slowly until the configuration is fixed.",
                            %error,
                            hint = cause.hint(),
                            %key,
                        );
                    }
                }
            }
            if self.shutdown.is_triggered() {
                error!(message = "Giving up writing an object at shutdown; the data will be read again.", %error, %key);
                return BatchStatus::Errored;
            }
            let wait = match failure {
                Failure::Transient => delay,
                Failure::Config(_) => delay.max(RETRY_CONFIG_MIN),
            };
            delay = (delay * 2).min(RETRY_MAX);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.shutdown.wait() => {}
            }
        }
    }
}

#[async_trait::async_trait]
impl Sink for S3Sink {
    async fn run(mut self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        loop {
            let deadline = self.next_deadline();
            let next = tokio::select! {
                Some(done) = self.writes.next(), if !self.writes.is_empty() => {
                    self.complete(done, &cx);
                    continue;
                }
                batch = cx.recv() => Some(batch),
                _ = sleep_until(deadline) => None,
            };
            match next {
                Some(Some(batch)) => self.add(batch, &cx).await,
                Some(None) => break,
                None => self.flush_expired(&cx).await,
            }
        }
        self.flush_all(&cx).await;
        self.finish_writes(&cx).await;
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The key of an object of Kafka records:
/// `{prefix}{topic}-{partition}-{first offset}-{last offset}.{ext}`, offsets
/// zero-padded to 20 digits so that names sort by offset.
pub(crate) fn offset_object_key(group: &CutGroup, cut: &Cut, extension: &str) -> ObjectPath {
    let mut key = format!(
        "{}{}-{}-{:020}-{:020}",
        group.prefix, group.topic, group.partition, cut.first, cut.last
    );
    if !extension.is_empty() {
        key.push('.');
        key.push_str(extension);
    }
    ObjectPath::from(key)
}

/// The object's key: `{prefix}{unix-millis-of-first-event}-{16 hex}.{ext}`.
pub(crate) fn object_key(
    prefix: &str,
    first_event_millis: i64,
    random: u64,
    extension: &str,
) -> ObjectPath {
    let mut key = format!("{prefix}{first_event_millis}-{random:016x}");
    if !extension.is_empty() {
        key.push('.');
        key.push_str(extension);
    }
    // `Path::from` drops empty segments and escapes what S3 and local
    // folders cannot hold (`..` as a segment, control characters).
    ObjectPath::from(key)
}

fn compress(buf: Vec<u8>, compression: Compression) -> io::Result<Bytes> {
    Ok(match compression {
        Compression::None => Bytes::from(buf),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(buf.len() / 4),
                flate2::Compression::default(),
            );
            enc.write_all(&buf)?;
            Bytes::from(enc.finish()?)
        }
        Compression::Zstd => Bytes::from(zstd::bulk::compress(&buf, 3)?),
    })
}
