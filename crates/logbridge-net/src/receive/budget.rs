//! The memory a receiver's requests may take at once
//! (`receive.max_memory_bytes`), and [`Charge`], what a request's decoder
//! is handed to pay for what it is about to build.
//!
//! A small body can become a lot of memory: 16 KB of gzip inflate to
//! 16 MiB of one-byte lines, each of which becomes an event of a few
//! hundred bytes. The size caps bound bytes, not what decoding builds from
//! them, so every request takes its memory from one budget per receiver,
//! as it goes: the body as it is read, the inflated body as it grows, and
//! what decoding will build, estimated from a count the decoder makes
//! first (lines, JSON tokens, protobuf messages: see [`census`]) and paid
//! before anything is built. The memory is given back once the request is
//! answered (after the sinks' acknowledgement), so it also covers the
//! events while the pipeline holds them (with acknowledgements off, once
//! the pipeline has taken them: its bounded queues hold them then).
//!
//! A request that needs more than is left waits up to `max_wait_secs` and
//! is then answered "retry later"; one that needs more than the whole
//! budget, or carries more than `max_events_per_request` events, is
//! refused as too large. This module must not allocate on a request's
//! behalf before it is paid for (it inflates bodies, paying first).
//!
//! [`census`]: super::census

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ReceiveConfig;
use super::census::Census;
use super::request::{HttpError, Meter, inflate};

/// What one event costs beyond the bytes it was decoded from: the event
/// itself (240 bytes), its slot in a vector that grows by doubling, the
/// decoder's own record of it (a prost message, a JSON object) and small
/// per-event maps (a source's metadata). Measured with empty OTLP log
/// records and one-byte lines, the worst cases, at 390 to 650 bytes.
pub const EVENT_BYTES: usize = 640;

/// What one node costs: an attribute, label, JSON value or repeated
/// protobuf message below an event, as the decoder holds it (a prost
/// `KeyValue` is 64 bytes, twice that in a vector grown by doubling) and
/// as the event model holds it (an entry of 64 bytes). Measured against
/// OTLP/JSON (a tree of values, then messages, then events) at 180 bytes.
pub const NODE_BYTES: usize = 192;

/// The budget is counted in units of this many bytes, so that a
/// semaphore's `u32` acquisitions cover terabytes.
const UNIT: usize = 1024;

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

/// One receiver's memory budget; cheap to clone.
#[derive(Clone)]
pub(crate) struct MemoryBudget {
    permits: Arc<Semaphore>,
    /// The whole budget, in units.
    total: usize,
    /// How long a request waits for room.
    wait: Duration,
}

impl MemoryBudget {
    pub(crate) fn new(config: &ReceiveConfig) -> MemoryBudget {
        let total = units(config.max_memory_bytes).min(Semaphore::MAX_PERMITS);
        MemoryBudget {
            permits: Arc::new(Semaphore::new(total)),
            total,
            wait: Duration::from_secs_f64(config.max_wait_secs),
        }
    }

    /// An empty reservation, grown as the request goes.
    pub(crate) fn reservation(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: None,
        }
    }
}

/// Why a reservation could not grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Short {
    /// More than the whole budget: the request can never fit.
    TooLarge,
    /// No room within the wait.
    Busy,
}

/// The memory one request holds; given back when dropped.
pub(crate) struct Reservation {
    budget: MemoryBudget,
    held: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    fn held_units(&self) -> usize {
        self.held.as_ref().map_or(0, |p| p.num_permits())
    }

    /// The units `bytes` more would take, or why they cannot be had.
    fn wanted(&self, bytes: usize) -> Result<u32, Short> {
        let want = units(bytes);
        if self.held_units().saturating_add(want) > self.budget.total {
            return Err(Short::TooLarge);
        }
        // Within the total, which fits the semaphore's range.
        u32::try_from(want).map_err(|_| Short::TooLarge)
    }

    fn add(&mut self, permit: OwnedSemaphorePermit) {
        match &mut self.held {
            Some(held) => held.merge(permit),
            None => self.held = Some(permit),
        }
    }

    /// Takes `bytes` more, waiting up to the budget's wait for room.
    pub(crate) async fn grow(&mut self, bytes: usize) -> Result<(), Short> {
        let want = self.wanted(bytes)?;
        if want == 0 {
            return Ok(());
        }
        let permits = self.budget.permits.clone();
        let permit = match permits.clone().try_acquire_many_owned(want) {
            Ok(p) => p,
            Err(_) => tokio::time::timeout(self.budget.wait, permits.acquire_many_owned(want))
                .await
                .map_err(|_| Short::Busy)?
                .map_err(|_| Short::Busy)?,
        };
        self.add(permit);
        Ok(())
    }

    /// [`Reservation::grow`] from a blocking-pool thread (without a
    /// runtime handle, only if there is room at once).
    fn grow_blocking(
        &mut self,
        handle: Option<&tokio::runtime::Handle>,
        bytes: usize,
    ) -> Result<(), Short> {
        let want = self.wanted(bytes)?;
        match self.budget.permits.clone().try_acquire_many_owned(want) {
            Ok(permit) => {
                self.add(permit);
                Ok(())
            }
            Err(_) => match handle {
                Some(handle) => handle.block_on(self.grow(bytes)),
                None => Err(Short::Busy),
            },
        }
    }

    /// Gives back `bytes` (what a body no longer needed held).
    fn shrink(&mut self, bytes: usize) {
        let give = units(bytes).min(self.held_units());
        if let Some(held) = &mut self.held {
            drop(held.split(give));
        }
    }
}

/// What a decoder pays with before it builds: handed to it on the
/// blocking pool with the request's reservation. Every method refuses the
/// request (with the answer to give) when the budget or
/// `max_events_per_request` does not allow what it asks for.
pub struct Charge {
    reservation: Reservation,
    /// To wait for room from the blocking pool; without it, no waiting.
    handle: Option<tokio::runtime::Handle>,
    limits: Arc<ReceiveConfig>,
}

impl Charge {
    pub(crate) fn new(
        reservation: Reservation,
        handle: tokio::runtime::Handle,
        limits: Arc<ReceiveConfig>,
    ) -> Charge {
        Charge {
            reservation,
            handle: Some(handle),
            limits,
        }
    }

    /// A charge against a budget of its own, which never waits: for
    /// decoding a body outside a receiver (tests, tools) under the same
    /// limits.
    pub fn standalone(limits: &ReceiveConfig) -> Charge {
        Charge {
            reservation: MemoryBudget::new(limits).reservation(),
            handle: None,
            limits: Arc::new(limits.clone()),
        }
    }

    pub(crate) fn into_reservation(self) -> Reservation {
        self.reservation
    }

    /// Pays for `bytes` more memory.
    pub fn memory(&mut self, bytes: usize) -> Result<(), HttpError> {
        self.reservation
            .grow_blocking(self.handle.as_ref(), bytes)
            .map_err(|short| refusal(short, &self.limits))
    }

    /// Pays for `n` events, refusing more than `max_events_per_request`.
    pub fn events(&mut self, n: usize) -> Result<(), HttpError> {
        let max = self.limits.max_events_per_request;
        if n > max {
            return Err(HttpError::too_large(format!(
                "{n} events in one request, over the limit of {max}"
            ))
            .with_cause("too_many_events"));
        }
        self.memory(n.saturating_mul(EVENT_BYTES))
    }

    /// Pays for what a [`Census`] found: its events, its nodes and the
    /// bytes decoding copies.
    pub fn census(&mut self, census: &Census) -> Result<(), HttpError> {
        self.events(census.events)?;
        self.memory(
            census
                .nodes
                .saturating_mul(NODE_BYTES)
                .saturating_add(census.copied),
        )
    }

    /// Undoes a `Content-Encoding` within `max_decompressed_bytes`, paying
    /// for the inflated body as it grows and giving back the compressed
    /// one's share once it is done with.
    pub(crate) fn inflate(&mut self, encoding: &str, raw: Bytes) -> Result<Bytes, HttpError> {
        if matches!(encoding, "" | "identity") {
            return Ok(raw);
        }
        let raw_len = raw.len();
        let inflated = inflate(encoding, raw, self.limits.max_decompressed_bytes, self)?;
        self.reservation.shrink(raw_len);
        Ok(inflated)
    }

    /// Inflates a raw snappy block (the framing of Loki pushes and remote
    /// write), refusing one that announces more than
    /// `max_decompressed_bytes` before allocating for it.
    pub fn unsnappy(&mut self, block: &[u8]) -> Result<Bytes, HttpError> {
        let max = self.limits.max_decompressed_bytes;
        let len = snap::raw::decompress_len(block)
            .map_err(|e| HttpError::bad_request(format!("invalid snappy block: {e}")))?;
        if len > max {
            return Err(HttpError::too_large(format!(
                "body of {len} bytes once decompressed, over the limit of {max}"
            )));
        }
        self.memory(len)?;
        let mut out = vec![0; len];
        let written = snap::raw::Decoder::new()
            .decompress(block, &mut out)
            .map_err(|e| HttpError::bad_request(format!("invalid snappy block: {e}")))?;
        out.truncate(written);
        Ok(Bytes::from(out))
    }
}

impl Meter for Charge {
    fn grow(&mut self, bytes: usize) -> Result<(), HttpError> {
        self.memory(bytes)
    }

    fn shrink(&mut self, bytes: usize) {
        self.reservation.shrink(bytes);
    }
}

/// The answer to a request the budget cannot take.
pub(crate) fn refusal(short: Short, limits: &ReceiveConfig) -> HttpError {
    match short {
        Short::TooLarge => HttpError::too_large(format!(
            "the request needs more memory than the receiver's budget of {} bytes",
            limits.max_memory_bytes
        ))
        .with_cause("over_memory_budget"),
        Short::Busy => HttpError {
            message: format!(
                "no room in the receiver's memory budget within {} s, retry later",
                limits.max_wait_secs
            ),
            ..HttpError::from(super::Refusal::Overloaded).with_cause("memory_busy")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_memory_bytes: usize) -> ReceiveConfig {
        ReceiveConfig {
            max_memory_bytes,
            max_wait_secs: 0.05,
            ..ReceiveConfig::default()
        }
    }

    #[tokio::test]
    async fn a_reservation_waits_then_gives_up_and_returns_what_it_held() {
        let budget = MemoryBudget::new(&config(10 * UNIT));
        let mut a = budget.reservation();
        a.grow(6 * UNIT).await.unwrap();
        let mut b = budget.reservation();
        assert_eq!(b.grow(6 * UNIT).await, Err(Short::Busy));
        assert_eq!(b.grow(11 * UNIT).await, Err(Short::TooLarge));
        a.shrink(2 * UNIT);
        b.grow(6 * UNIT).await.unwrap();
        drop(a);
        drop(b);
        let mut c = budget.reservation();
        c.grow(10 * UNIT).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_charge_refuses_too_many_events_and_more_than_the_budget() {
        let limits = Arc::new(ReceiveConfig {
            max_events_per_request: 10,
            ..config(64 << 20)
        });
        let budget = MemoryBudget::new(&limits);
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            let mut charge = Charge::new(budget.reservation(), handle, limits);
            let many = charge.events(11).unwrap_err();
            let huge = charge.memory(65 << 20).unwrap_err();
            charge.events(10).unwrap();
            (many, huge)
        })
        .await
        .unwrap();
        assert_eq!(result.0.status, http::StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(result.0.cause, "too_many_events");
        assert_eq!(result.1.status, http::StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(result.1.cause, "over_memory_budget");
    }
}
