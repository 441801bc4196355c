//! Outputs: where a component's batches go.
//!
//! An [`Output`] fans a batch out to every downstream component. Copies
//! share the events (see `EventBatch`); only a consumer that changes them
//! pays for a copy.

use std::sync::Arc;

use logbridge_event::{BatchStatus, EventBatch};

use crate::channel::BatchSender;
use crate::telemetry::ComponentMetrics;

/// Every downstream of this output is gone; the batch was not delivered.
#[derive(Debug, thiserror::Error)]
#[error("no component consumes this output any more")]
pub struct OutputClosed;

/// One named (or the default) output of a component.
#[derive(Clone)]
pub struct Output {
    name: Option<String>,
    senders: Vec<BatchSender>,
    metrics: Arc<ComponentMetrics>,
}

impl Output {
    pub fn new(
        name: Option<String>,
        senders: Vec<BatchSender>,
        metrics: Arc<ComponentMetrics>,
    ) -> Output {
        Output {
            name,
            senders,
            metrics,
        }
    }

    /// `None` for the default output.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether anything consumes this output.
    pub fn is_connected(&self) -> bool {
        !self.senders.is_empty()
    }

    /// Sends `batch` to every consumer, waiting while any is full. A
    /// consumer that is gone gets its copy marked as errored (so its source
    /// does not commit past it); only when every consumer is gone is that an
    /// error.
    pub async fn send(&self, batch: EventBatch) -> Result<(), OutputClosed> {
        if batch.is_empty() {
            return Ok(());
        }
        let (count, bytes) = (batch.len(), batch.byte_size());
        let Some((last, rest)) = self.senders.split_last() else {
            // Nothing consumes this output: the events are dropped on purpose
            // (an unconnected `dropped` output, for example).
            self.metrics.add_sent(count, bytes);
            return Ok(());
        };
        // Counted once handed on, so a send given up while waiting for
        // room (a receiver's `max_wait_secs`) is not counted as sent.
        let mut delivered = false;
        for sender in rest {
            delivered |= deliver(sender, batch.clone()).await;
        }
        delivered |= deliver(last, batch).await;
        if delivered {
            self.metrics.add_sent(count, bytes);
            Ok(())
        } else {
            Err(OutputClosed)
        }
    }
}

async fn deliver(sender: &BatchSender, batch: EventBatch) -> bool {
    match sender.send(batch).await {
        Ok(()) => true,
        Err(e) => {
            e.0.finalizers.update_status(BatchStatus::Errored);
            false
        }
    }
}

/// The outputs of a source: the default one and any named ones.
#[derive(Clone)]
pub struct SourceOutputs {
    default: Output,
    named: Vec<Output>,
}

impl SourceOutputs {
    pub fn new(default: Output, named: Vec<Output>) -> SourceOutputs {
        SourceOutputs { default, named }
    }

    pub async fn send(&self, batch: EventBatch) -> Result<(), OutputClosed> {
        self.default.send(batch).await
    }

    /// Sends to a named output such as `dropped`; unknown names (outputs
    /// nobody declared) drop the batch.
    pub async fn send_named(&self, name: &str, batch: EventBatch) -> Result<(), OutputClosed> {
        match self.named.iter().find(|o| o.name() == Some(name)) {
            Some(o) => o.send(batch).await,
            None => Ok(()),
        }
    }
}

/// Batches a transform produced from one input batch, by output. The
/// topology drains it after every call.
#[derive(Default)]
pub struct TransformOutputs {
    names: Vec<Option<String>>,
    pending: Vec<(usize, EventBatch)>,
}

impl TransformOutputs {
    /// Outputs named as the transform's config declared them (`None` is the
    /// default output).
    pub fn new(names: Vec<Option<String>>) -> TransformOutputs {
        TransformOutputs {
            names,
            pending: Vec::new(),
        }
    }

    /// Emits on the default output.
    pub fn push(&mut self, batch: EventBatch) {
        if let Some(i) = self.names.iter().position(Option::is_none) {
            self.push_port(i, batch);
        }
    }

    /// Emits on the named output. A name the transform did not declare is
    /// a bug in the transform; the batch is dropped rather than panicking.
    pub fn push_named(&mut self, name: &str, batch: EventBatch) {
        if let Some(i) = self.names.iter().position(|n| n.as_deref() == Some(name)) {
            self.push_port(i, batch);
        }
    }

    /// Emits on the output at index `port` of the declared outputs (the
    /// order of the config's `outputs()`).
    pub fn push_port(&mut self, port: usize, batch: EventBatch) {
        if !batch.is_empty() && port < self.names.len() {
            self.pending.push((port, batch));
        }
    }

    /// Takes what was emitted, as (output index, batch).
    pub fn drain(&mut self) -> std::vec::Drain<'_, (usize, EventBatch)> {
        self.pending.drain(..)
    }

    pub fn names(&self) -> &[Option<String>] {
        &self.names
    }
}
