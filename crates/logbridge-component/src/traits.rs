//! The running components: [`Source`], [`Transform`], [`Sink`].

use std::time::Duration;

use logbridge_event::EventBatch;

use crate::context::{SinkContext, SourceContext};
use crate::output::TransformOutputs;

/// Why a component stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// Produces batches until shut down (or, for finite inputs, until done).
#[async_trait::async_trait]
pub trait Source: Send {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError>;
}

/// Turns batches into batches. Transforms are synchronous so that the hot
/// path has no await points and tests need no runtime; the topology drives
/// them and sends what they emit.
pub trait Transform: Send {
    fn transform(&mut self, batch: EventBatch, out: &mut TransformOutputs);

    /// How often [`Transform::tick`] should run, for transforms with
    /// windows or timers.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// Runs every [`Transform::tick_interval`].
    fn tick(&mut self, _out: &mut TransformOutputs) {}

    /// Runs once when the input has ended, to emit what is held back.
    fn finish(&mut self, _out: &mut TransformOutputs) {}
}

/// Consumes batches until its input ends, resolving each batch's finalizers
/// once the data is durably written.
#[async_trait::async_trait]
pub trait Sink: Send {
    async fn run(self: Box<Self>, cx: SinkContext) -> Result<(), ComponentError>;
}
