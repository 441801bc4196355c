//! The clock the engine measures elapsed time with: query deadlines and
//! how long groups and rules take to evaluate. The crate reads no clock of
//! its own; the caller provides one (the pipeline the system's monotonic
//! clock, tests one they control), or none, and then queries have no time
//! limit and evaluations measure zero time.

use std::fmt;
use std::time::Instant;

/// A source of monotonic time.
pub trait Clock: fmt::Debug + Send + Sync {
    /// The current instant; never earlier than one returned before.
    fn now(&self) -> Instant;
}
