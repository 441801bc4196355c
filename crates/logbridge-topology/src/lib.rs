//! Builds the running pipeline from a validated [`Config`] and drives it.
//!
//! - [`plan`] decides, as plain data, what a config runs: components,
//!   channels and their limits, concurrent transforms, disk buffers.
//!   [`Topology::start`] builds and wires that; [`Topology::build`] is the
//!   two in one.
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
mod plan;
mod run;

pub use health::{ComponentState, Health};
pub use plan::{DiskBufferPlan, OutputRef, Plan, PlannedChannel, PlannedComponent, Role, plan};
pub use run::{RunError, Topology};
