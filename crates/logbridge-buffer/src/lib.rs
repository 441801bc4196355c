//! Buffers that sit in front of a sink.
//!
//! [`record`] is the versioned binary encoding of a batch's events; [`disk`]
//! is a segmented, checksummed write-ahead log of such records with a
//! persisted read position (the ledger) and recovery from torn writes and
//! corruption. Nothing here spawns component tasks: the disk buffer runs one
//! internal group-commit task per open buffer.
//!
//! This crate must not lose acknowledged data: an incoming batch's
//! finalizers are released only once its record is fsynced, and a record is
//! forgotten only after the batch read back from it was acknowledged.

#![forbid(unsafe_code)]

pub mod disk;
pub mod record;
