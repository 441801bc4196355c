//! logbridge sources, one module per source type.
//!
//! Each module exposes a `*Config` (the user's options, deserialized with
//! unknown fields denied; its doc comments are the config reference) that
//! builds a running [`logbridge_component::Source`].

pub mod demo;
pub mod file;
pub mod internal_metrics;
pub mod stdin;
mod util;
