//! Admission and delivery: at most `max_concurrent_requests` requests in
//! flight (past it, "retry later" at once: queueing is what the bound
//! prevents), the receiver's memory budget, events handed to the pipeline
//! within `max_wait_secs`, the sinks' acknowledgement awaited within
//! `ack_timeout_secs`, and every refused request counted (by reason) and
//! logged (once per reason per interval).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use logbridge_component::SourceOutputs;
use logbridge_component::telemetry::{ComponentMetrics, GaugeDef, RateLimit};
use logbridge_event::{BatchNotifier, BatchStatus, Event, EventBatch, Finalizers};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::budget::MemoryBudget;
use super::{HttpError, ReceiveConfig};

/// Requests a receiver answered with anything but success, by `reason`.
static REFUSED: GaugeDef = GaugeDef {
    name: "logbridge_component_refused_requests_total",
    help: "Requests the receiver refused, by reason.",
    counter: true,
};

/// Why a request's data was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Too many requests at once: the client should retry later.
    #[error("too busy, retry later")]
    Overloaded,
    /// The pipeline did not take the data within `max_wait_secs`: the
    /// client should retry later.
    #[error("the pipeline is not taking data, retry later")]
    Backpressure,
    /// A sink failed to deliver the data (or did not answer in time).
    #[error("delivery failed, retry later")]
    Failed,
    /// A sink refused the data for good (it would fail again).
    #[error("the data was rejected by a sink")]
    Rejected,
    /// The pipeline is stopping.
    #[error("shutting down")]
    Closed,
}

/// Seconds a refused client should wait, for `Retry-After`.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Admission and delivery for one receiver; cheap to clone.
#[derive(Clone)]
pub struct Receiver {
    out: SourceOutputs,
    metrics: Arc<ComponentMetrics>,
    permits: Arc<Semaphore>,
    pub(crate) budget: MemoryBudget,
    /// One log line per reason per interval.
    logged: Arc<Mutex<HashMap<&'static str, RateLimit>>>,
    acknowledgements: bool,
    max_wait: Duration,
    ack_timeout: Duration,
}

/// Held while a request is handled; released when dropped.
pub struct Admission(#[allow(dead_code)] OwnedSemaphorePermit);

impl Receiver {
    pub fn new(out: SourceOutputs, metrics: Arc<ComponentMetrics>, config: &ReceiveConfig) -> Self {
        Receiver {
            out,
            metrics,
            permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
            budget: MemoryBudget::new(config),
            logged: Arc::default(),
            acknowledgements: config.acknowledgements,
            max_wait: Duration::from_secs_f64(config.max_wait_secs),
            ack_timeout: Duration::from_secs_f64(config.ack_timeout_secs),
        }
    }

    pub fn metrics(&self) -> &ComponentMetrics {
        &self.metrics
    }

    /// A slot for one request, or [`Refusal::Overloaded`] when all are
    /// taken (answered at once: queueing is what the bound prevents).
    pub fn admit(&self) -> Result<Admission, Refusal> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map(Admission)
            .map_err(|_| Refusal::Overloaded)
    }

    /// Counts a request answered with `error`: in the refused-requests
    /// counter by its reason, and as an error of the receiver unless a
    /// sink's outcome caused it (sinks count their own); and logs it, once
    /// per reason per interval.
    pub fn refused(&self, error: &HttpError) {
        let cause = error.cause;
        self.metrics.add_to_gauge(&REFUSED, &[("reason", cause)], 1);
        if matches!(cause, "delivery_failed" | "rejected" | "shutting_down") {
            return;
        }
        self.metrics.add_error();
        let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        if logged.entry(cause).or_default().allow() {
            tracing::warn!(
                message = "Refused a request.",
                component_id = %self.metrics.id,
                reason = cause,
                status = error.status.as_u16(),
                detail = %error.message,
            );
        }
    }

    /// Sends `events` to the default output (or the named one) and, with
    /// acknowledgements on, waits until every sink settled them.
    pub async fn deliver(
        &self,
        output: Option<&str>,
        events: Vec<Event>,
        byte_size: usize,
    ) -> Result<(), Refusal> {
        if events.is_empty() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        let mut batch = EventBatch::with_size(events, byte_size);
        if self.acknowledgements {
            let notifier = BatchNotifier::new(move |status| {
                let _ = tx.send(status);
            });
            batch = batch.with_finalizers(Finalizers::new(notifier));
        }
        let (count, bytes) = (batch.len(), batch.byte_size());
        let send = async {
            match output {
                None => self.out.send(batch).await,
                Some(name) => self.out.send_named(name, batch).await,
            }
        };
        // Counted once handed on: a request refused here is retried by
        // its client and would be counted twice.
        match tokio::time::timeout(self.max_wait, send).await {
            Ok(Ok(())) => self.metrics.add_received(count, bytes),
            Ok(Err(_)) => return Err(Refusal::Closed),
            Err(_) => return Err(Refusal::Backpressure),
        }
        if !self.acknowledgements {
            return Ok(());
        }
        match tokio::time::timeout(self.ack_timeout, rx).await {
            Ok(Ok(BatchStatus::Delivered)) => Ok(()),
            Ok(Ok(BatchStatus::Rejected)) => Err(Refusal::Rejected),
            Ok(Ok(BatchStatus::Errored)) | Ok(Err(_)) => Err(Refusal::Failed),
            Err(_) => Err(Refusal::Failed),
        }
    }
}
