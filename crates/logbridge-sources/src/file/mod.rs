//! The `file` source: tails files matched by glob patterns, survives
//! rotation, and checkpoints only what downstream acknowledged.
//!
//! How it fits together:
//! - [`FileConfig`] (`config.rs`) is the user's options; building validates
//!   the globs and never touches the filesystem.
//! - `discovery.rs` walks the non-glob prefix of every pattern at start and
//!   every `glob_minimum_cooldown_ms`, and rate-limits per-path error logs.
//! - `identity.rs` names a file by (device, inode) plus a checksum of its
//!   first line, so rename rotation keeps a file's identity and
//!   copytruncate makes a new one.
//! - `reader.rs` reads one open file in large chunks and cuts its lines into
//!   batches, each ending at a known file offset.
//! - `acks.rs` turns acknowledgements (in any order) into a committed offset
//!   per file: only a contiguous prefix of delivered batches counts.
//! - `checkpoint.rs` persists the committed offsets atomically in
//!   `<data_dir>/checkpoints.json`.
//! - `source.rs` is the task: scan, read round-robin, send, acknowledge,
//!   checkpoint, shut down.
//!
//! This module must not lose a line across `kill -9` and restart: an offset
//! is committed only once every line before it was delivered, and a restart
//! resumes at the committed offset (re-sending at most what was in flight).

mod acks;
mod checkpoint;
mod config;
mod discovery;
mod identity;
mod reader;
mod source;

#[cfg(test)]
mod tests;

pub use config::{FileConfig, ReadFrom};
