//! logbridge transforms, one module per transform type.
//!
//! Transforms are synchronous functions over batches (see
//! [`logbridge_component::Transform`]); a transform that can fail on an
//! event sends it to its `dropped` output with the reason attached.

pub mod filter;
pub mod modify;
pub mod parse;
pub mod route;

pub use logbridge_component::dropped::mark_dropped;
