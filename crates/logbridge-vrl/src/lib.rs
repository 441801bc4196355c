//! The Vector Remap Language (VRL, from the `vrl` crate) over logbridge
//! events: the conversion between logbridge's values and VRL's
//! ([`value`]), the view of an event a program reads and writes
//! ([`target`]), compiling and running programs ([`program`]),
//! enrichment tables ([`enrichment`]), Vector's secret functions
//! ([`secrets`]) and a faster `parse_json` ([`json`]).
//!
//! This crate defines no components; the `remap` transform and VRL
//! conditions are built on it.

pub mod enrichment;
pub mod json;
pub mod program;
pub mod secrets;
pub mod target;
pub mod value;

pub use enrichment::Tables;
pub use program::{CompileError, CompileOptions, Failure, FailureReason, Program, ProgramRuntime};
