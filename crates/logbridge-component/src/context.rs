//! What a running source or sink is handed: its outputs or input, its
//! telemetry, its shutdown signal and its state directory.

use std::path::PathBuf;
use std::sync::Arc;

use logbridge_event::EventBatch;
use tokio_util::sync::CancellationToken;

use crate::channel::BatchReceiver;
use crate::output::SourceOutputs;
use crate::telemetry::ComponentMetrics;

/// Resolves when the pipeline is asked to stop.
#[derive(Clone, Default)]
pub struct ShutdownSignal(CancellationToken);

impl ShutdownSignal {
    pub fn new() -> ShutdownSignal {
        ShutdownSignal(CancellationToken::new())
    }

    pub fn trigger(&self) {
        self.0.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    pub async fn wait(&self) {
        self.0.cancelled().await
    }
}

pub struct SourceContext {
    pub id: String,
    pub out: SourceOutputs,
    /// Stop producing when this fires; wait for outstanding acknowledgements
    /// (bounded by the shutdown timeout) and return.
    pub shutdown: ShutdownSignal,
    pub metrics: Arc<ComponentMetrics>,
    /// This component's own state directory (`data_dir/<id>`), not yet
    /// created.
    pub data_dir: PathBuf,
}

pub struct SinkContext {
    pub id: String,
    pub metrics: Arc<ComponentMetrics>,
    pub data_dir: PathBuf,
    /// Fires when the pipeline stops. Sinks keep draining their input (it
    /// ends once upstream is done); this tells retry loops to give up.
    pub shutdown: ShutdownSignal,
    input: BatchReceiver,
}

impl SinkContext {
    pub fn new(
        id: String,
        metrics: Arc<ComponentMetrics>,
        data_dir: PathBuf,
        shutdown: ShutdownSignal,
        input: BatchReceiver,
    ) -> SinkContext {
        SinkContext {
            id,
            metrics,
            data_dir,
            shutdown,
            input,
        }
    }

    /// The next input batch (counted as received); `None` when every
    /// upstream is done.
    pub async fn recv(&mut self) -> Option<EventBatch> {
        let batch = self.input.recv().await?;
        self.metrics.add_received(batch.len(), batch.byte_size());
        Some(batch)
    }

    /// A batch if one is queued now (counted as received).
    pub fn try_recv(&mut self) -> Option<EventBatch> {
        let batch = self.input.try_recv()?;
        self.metrics.add_received(batch.len(), batch.byte_size());
        Some(batch)
    }
}
