//! A clock the tests control, for the engine's query time limit and
//! evaluation timing: each reading is one second after the one before, so
//! a limit runs out after a known number of readings, however fast or slow
//! the machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use logbridge_rules::Clock;

#[derive(Debug)]
pub struct SteppingClock {
    start: Instant,
    readings: AtomicU64,
}

impl SteppingClock {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            readings: AtomicU64::new(0),
        }
    }
}

impl Clock for SteppingClock {
    fn now(&self) -> Instant {
        self.start + Duration::from_secs(self.readings.fetch_add(1, Ordering::Relaxed))
    }
}
