//! Builds the running pipeline from a validated [`Config`] and drives it.
//!
//! - One bounded channel feeds each transform and sink; every output of a
//!   source or transform holds a sender to each consumer.
//! - Sources, transforms and sinks each run as one task; transforms are
//!   driven here (receive, call, send what they emitted).
//! - Shutdown: sources are told to stop; their outputs close when they
//!   return, which ends their consumers' inputs in turn, so in-flight
//!   batches reach the sinks and acknowledgements reach the sources. What
//!   has not finished by the shutdown timeout is aborted.
//!
//! A component that fails or panics is reported and stopped; the rest of the
//! pipeline keeps running.

mod health;
mod run;

pub use health::{ComponentState, Health};
pub use run::{RunError, Topology};
