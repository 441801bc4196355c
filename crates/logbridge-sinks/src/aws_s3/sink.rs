//! The running `aws_s3` sink: groups events by rendered key prefix into
//! open batches, turns a batch into one compressed object when a limit or
//! its timeout is reached (and at the end of the input), and writes it
//! with retries, acknowledging the contributing input batches only after
//! the write succeeded.
//!
//! It must not acknowledge before the object is written, and must not drop
//! data: a write is retried until it succeeds or the pipeline shuts down
//! (then the batch is reported `Errored`, so the source reads it again).

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use logbridge_codec::encode::Encoder;
use logbridge_component::{ComponentError, Sink, SinkContext};
use logbridge_event::{BatchStatus, EventBatch, Finalizers};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::store::{self, Failure, StoreTarget};
use crate::file::Compression;
use crate::template::{Template, event_time};

/// Objects larger than this (after compression) use a multipart upload.
pub(crate) const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// The shortest wait after an error the operator has to fix.
const RETRY_CONFIG_MIN: Duration = Duration::from_secs(10);

/// The validated options (see `S3SinkConfig`). Not `Debug`: `env` may
/// hold credentials.
pub(crate) struct SinkSettings {
    pub(crate) target: StoreTarget,
    pub(crate) key_prefix: Template,
    pub(crate) encoder: Encoder,
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
    buf: Vec<u8>,
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
    open: HashMap<String, OpenBatch>,
    /// Encoded bytes held in `open`.
    buffered_bytes: usize,
    rng: SmallRng,
    input_seq: u64,
    /// The failure last logged; cleared once a write succeeds, so each
    /// cause is logged once per outage.
    last_failure: Option<Failure>,
}

impl S3Sink {
    pub(crate) fn new(settings: SinkSettings) -> S3Sink {
        S3Sink {
            settings,
            store: None,
            open: HashMap::new(),
            buffered_bytes: 0,
            rng: SmallRng::from_os_rng(),
            input_seq: 0,
            last_failure: None,
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
            if !self.open.contains_key(&prefix) {
                let batch = OpenBatch {
                    buf: Vec::new(),
                    events: 0,
                    first_event_millis: event_time(event, now).div_euclid(1_000_000),
                    opened: Instant::now(),
                    finalizers: Pending::default(),
                    last_input: 0,
                };
                self.open.insert(prefix.clone(), batch);
            }
            let Some(batch) = self.open.get_mut(&prefix) else {
                continue; // inserted just above
            };
            if batch.last_input != seq {
                batch.finalizers.merge(finalizers.clone());
                batch.last_input = seq;
            }
            let before = batch.buf.len();
            self.settings.encoder.encode(event, &mut batch.buf);
            self.buffered_bytes += batch.buf.len() - before;
            batch.events += 1;
            let full = batch.buf.len() >= self.settings.max_bytes
                || batch.events >= self.settings.max_events;
            if full && let Some(batch) = self.open.remove(&prefix) {
                self.write_batch(&prefix, batch, cx).await;
            }
        }
        // Events of this input that were all written (or none at all):
        // dropping the last reference here is the acknowledgement.
        drop(finalizers);
        while self.buffered_bytes > self.settings.max_buffered_bytes {
            let largest = self
                .open
                .iter()
                .max_by_key(|(_, b)| b.buf.len())
                .map(|(p, _)| p.clone());
            let Some(prefix) = largest else { break };
            if let Some(batch) = self.open.remove(&prefix) {
                self.write_batch(&prefix, batch, cx).await;
            }
        }
    }

    /// Writes the batches whose timeout has passed.
    async fn flush_expired(&mut self, cx: &SinkContext) {
        let timeout = self.settings.timeout;
        let now = Instant::now();
        let mut expired: Vec<String> = self
            .open
            .iter()
            .filter(|(_, b)| b.opened + timeout <= now)
            .map(|(p, _)| p.clone())
            .collect();
        expired.sort();
        for prefix in expired {
            if let Some(batch) = self.open.remove(&prefix) {
                self.write_batch(&prefix, batch, cx).await;
            }
        }
    }

    async fn flush_all(&mut self, cx: &SinkContext) {
        self.buffered_bytes = 0;
        let mut all: Vec<(String, OpenBatch)> = self.open.drain().collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (prefix, batch) in all {
            self.write_batch(&prefix, batch, cx).await;
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.open
            .values()
            .map(|b| b.opened + self.settings.timeout)
            .min()
    }

    /// Compresses and writes one batch, then resolves its finalizers.
    /// `batch` must already be out of `open`.
    async fn write_batch(&mut self, prefix: &str, batch: OpenBatch, cx: &SinkContext) {
        let started = std::time::Instant::now();
        self.buffered_bytes = self.buffered_bytes.saturating_sub(batch.buf.len());
        let OpenBatch {
            buf,
            events,
            first_event_millis,
            finalizers,
            ..
        } = batch;
        let data = match compress(buf, self.settings.compression) {
            Ok(data) => data,
            Err(error) => {
                // Compressing into memory does not fail short of running
                // out of it; the source reads these events again.
                cx.metrics.add_error();
                error!(message = "Failed to compress object.", %error);
                finalizers.finish(BatchStatus::Errored);
                return;
            }
        };
        let key = object_key(
            prefix,
            first_event_millis,
            self.rng.random(),
            &self.settings.extension,
        );
        let size = data.len();
        if self.write_with_retry(cx, &key, data).await {
            cx.metrics.write_latency.observe(started.elapsed());
            cx.metrics.add_sent(events, size);
            finalizers.finish(BatchStatus::Delivered);
        } else {
            finalizers.finish(BatchStatus::Errored);
        }
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

    /// Writes `data` at `key`, retrying with backoff until it succeeds;
    /// false if the pipeline is shutting down and the write still fails.
    async fn write_with_retry(&mut self, cx: &SinkContext, key: &ObjectPath, data: Bytes) -> bool {
        let mut delay = RETRY_MIN;
        loop {
            let result = match self.store() {
                Ok(store) => {
                    store::write_object(
                        &*store,
                        key,
                        data.clone(),
                        self.settings.multipart_threshold,
                    )
                    .await
                }
                Err(error) => Err(error),
            };
            let error = match result {
                Ok(()) => {
                    if self.last_failure.take().is_some() {
                        info!(message = "Writing objects works again.", %key);
                    }
                    return true;
                }
                Err(error) => error,
            };
            cx.metrics.add_error();
            let failure = store::classify(&error);
            if self.last_failure != Some(failure) {
                self.last_failure = Some(failure);
                match failure {
                    Failure::Transient => {
                        warn!(message = "Failed to write object; retrying.", %error, %key);
                    }
                    Failure::Config(cause) => {
                        error!(
                            message = "Object write refused; retrying slowly until the configuration is fixed.",
                            %error,
                            hint = cause.hint(),
                            %key,
                        );
                    }
                }
            }
            if cx.shutdown.is_triggered() {
                error!(message = "Giving up writing an object at shutdown; the data will be read again.", %error, %key);
                return false;
            }
            let wait = match failure {
                Failure::Transient => delay,
                Failure::Config(_) => delay.max(RETRY_CONFIG_MIN),
            };
            delay = (delay * 2).min(RETRY_MAX);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cx.shutdown.wait() => {}
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
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The object's key: `{prefix}{unix-millis-of-first-event}-{16 hex}.{ext}`.
/// The one place that names objects.
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
