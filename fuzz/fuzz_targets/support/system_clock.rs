//! The system's monotonic clock, for the rules engine's query time limit
//! (the engine reads no clock itself).

use std::time::Instant;

#[derive(Debug)]
pub struct SystemClock;

impl logbridge_rules::Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}
