//! The decode stage: raw batches from the consumer thread are decoded on
//! the blocking pool, several at once (decoding is the source's heaviest
//! work, and one consumer thread would otherwise do it all), and sent on
//! in the order they were read, so each partition's batches stay in offset
//! order.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{DROPPED_OUTPUT, ShutdownSignal, SourceOutputs};
use logbridge_event::{BatchStatus, EventBatch, Finalizers};
use tokio::sync::mpsc;
use tracing::{error, warn};

use super::decode::{Decoded, PayloadDecoder, RawBatch, decode_batch};

/// A raw batch and the acknowledgement it answers to.
pub(crate) struct Job {
    pub batch: RawBatch,
    pub finalizers: Unsent,
}

/// A batch's finalizers until the batch is sent on. Dropped on any other
/// path (a closed channel, a task cancelled at shutdown) they report the
/// batch errored, so its offsets are never committed.
pub(crate) struct Unsent(Option<Finalizers>);

impl Unsent {
    pub(crate) fn new(finalizers: Finalizers) -> Unsent {
        Unsent(Some(finalizers))
    }

    fn take(mut self) -> Finalizers {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for Unsent {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f.finish(BatchStatus::Errored);
        }
    }
}

/// A batch being decoded, with its finalizers.
type Pending = std::pin::Pin<
    Box<dyn Future<Output = (Result<Decoded, tokio::task::JoinError>, Unsent)> + Send>,
>;

pub(crate) struct DecodeStage {
    pub decoder: Arc<PayloadDecoder>,
    pub out: SourceOutputs,
    pub shutdown: ShutdownSignal,
    pub metrics: Arc<ComponentMetrics>,
    pub id: Arc<str>,
    /// Batches decoded at once.
    pub parallelism: usize,
}

impl DecodeStage {
    /// Runs until the consumer thread closes `jobs` and everything taken
    /// is sent (or given up at shutdown).
    pub(crate) async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let mut decoding: FuturesOrdered<Pending> = FuturesOrdered::new();
        let mut open = true;
        loop {
            tokio::select! {
                biased;
                Some((decoded, finalizers)) = decoding.next(), if !decoding.is_empty() => {
                    if !self.send(decoded, finalizers.take()).await {
                        // Nothing consumes the output any more, or shutdown:
                        // what is left is read again (dropping an `Unsent`
                        // says so).
                        return;
                    }
                }
                job = jobs.recv(), if open && decoding.len() < self.parallelism => match job {
                    Some(Job { batch, finalizers }) => {
                        let decoder = Arc::clone(&self.decoder);
                        let id = Arc::clone(&self.id);
                        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
                        let task = tokio::task::spawn_blocking(move || {
                            decode_batch(&decoder, &batch, now, &id)
                        });
                        // The finalizers stay here, outside the decode: one
                        // that panicked must not count as delivered.
                        let pending: Pending = Box::pin(async move { (task.await, finalizers) });
                        decoding.push_back(pending);
                    }
                    None => open = false,
                },
                else => return,
            }
        }
    }

    /// Sends one decoded batch; false if the pipeline stops taking them.
    async fn send(
        &self,
        decoded: Result<Decoded, tokio::task::JoinError>,
        finalizers: Finalizers,
    ) -> bool {
        let decoded = match decoded {
            Ok(d) => d,
            Err(join) => {
                self.metrics.add_error();
                error!(message = "Decoding a batch failed; its records will be read again.", error = %join);
                finalizers.finish(BatchStatus::Errored);
                return true;
            }
        };
        let Decoded {
            events,
            dropped,
            bytes,
        } = decoded;
        self.metrics
            .add_received(events.len() + dropped.len(), bytes);
        if !dropped.is_empty() {
            self.metrics.add_discarded(dropped.len(), false);
            self.metrics.add_error();
            let batch = EventBatch::new(dropped).with_finalizers(finalizers.clone());
            if !self.send_one(batch, Some(DROPPED_OUTPUT)).await {
                return false;
            }
        }
        if events.is_empty() {
            return true;
        }
        self.send_one(
            EventBatch::with_size(events, bytes).with_finalizers(finalizers),
            None,
        )
        .await
    }

    /// Sends a batch unless shutdown comes first; a batch abandoned at
    /// shutdown is marked errored, so its offsets are not committed.
    async fn send_one(&self, batch: EventBatch, output: Option<&str>) -> bool {
        let finalizers = batch.finalizers.clone();
        tokio::select! {
            biased;
            sent = async {
                match output {
                    Some(name) => self.out.send_named(name, batch).await,
                    None => self.out.send(batch).await,
                }
            } => match sent {
                Ok(()) => true,
                Err(_) => {
                    warn!(message = "Nothing consumes this source's output any more; stopping.");
                    false
                }
            },
            _ = self.shutdown.wait() => {
                finalizers.update_status(BatchStatus::Errored);
                false
            }
        }
    }
}
