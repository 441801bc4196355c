//! The disk buffer: a segmented, checksummed write-ahead log of batches.
//!
//! # On disk
//!
//! In the directory the caller gives (a sink's `data_dir/<sink_id>/buffer`):
//!
//! - `00000000000000000001.seg`, `...2.seg`: segments of at most
//!   `segment_max_bytes` (a single larger record gets a segment of its own).
//!   Each record is `[u32 LE payload length][u32 LE crc32 of payload][payload]`,
//!   the payload being [`crate::record::encode_events`] of one batch.
//! - `ledger.json`: `{"version":1,"segment":S,"offset":O,"next_record_id":N}`,
//!   everything before offset `O` of segment `S` is acknowledged; replaced
//!   atomically (temporary file, fsync, rename, directory fsync).
//! - `quarantine/<segment>-<offset>.seg`: the rest of a segment from a
//!   damaged record on, copied aside before the segment is cut there.
//!
//! # Durability and acknowledgements
//!
//! Group commit: the writer appends without waiting; an internal task
//! fsyncs every `fsync_interval` (default 100 ms) if anything was written,
//! and only then releases the incoming batches' finalizers, so a source
//! commits its position only past data that survives a power cut. Rolling to
//! a new segment fsyncs the old one first. [`BufferWriter::flush`] forces a
//! commit now.
//!
//! The reader hands out records in order, each as a batch whose finalizer
//! acknowledges the record; the ledger advances over the contiguous prefix
//! of acknowledged records at the next commit, and segments wholly before it
//! are deleted. After a crash, unacknowledged records are read again
//! (at-least-once); acknowledged ones are not.
//!
//! `max_size` bounds the bytes of unacknowledged records; the files can
//! exceed it by the part of a segment already acknowledged but not yet
//! deleted (under one segment plus one commit interval of acknowledgements).
//!
//! # A full disk
//!
//! Running out of space (`ENOSPC`, `EDQUOT`) is waited out, never a
//! failure: a record write cut short is cut back to the last complete
//! record and retried with backoff (100 ms doubling to 5 s) while upstream
//! waits, or with `drop_newest` the batches that arrive meanwhile are
//! dropped and counted. The writer then starts a new segment, so the
//! reader's acknowledgements can free the old one. A ledger that cannot be
//! saved keeps the previous one (it is replaced atomically) and is retried
//! with backoff. While either fails, the sink reports the problem (parts
//! `buffer` and `buffer_ledger`: `/readyz` fails and
//! `logbridge_component_disk_full` is 1); it clears once writes work.
//! Other write errors end the buffer.
//!
//! # Recovery
//!
//! On open every segment from the ledger position on is scanned: a torn last
//! record (short write) is cut off; a record whose checksum or length is
//! wrong is counted as an error, the rest of its segment is quarantined and
//! reading goes on with the next segment. The same happens if damage
//! appears while running. Each run writes to a fresh segment.

mod buffer;
mod format;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use logbridge_component::telemetry::ComponentMetrics;
use serde::Serialize;

pub use buffer::{BufferReader, BufferWriter};

use format::Tail;

/// What the writer does when the buffer holds `max_size` bytes or its disk
/// is full: `Block` waits until the reader's acknowledgements (or whatever
/// frees the disk) make room (backpressure); `DropNewest` drops the
/// incoming batch, counts it as discarded and marks its finalizers
/// `Errored`.
pub use logbridge_component::WhenFull;

/// Settings of one disk buffer.
#[derive(Debug, Clone)]
pub struct DiskBufferConfig {
    /// Bytes of unacknowledged records (framing included) the buffer holds.
    pub max_size: u64,
    pub when_full: WhenFull,
    /// Segment files are closed once the next record would pass this size.
    pub segment_max_bytes: u64,
    /// Longest wait between a write and the fsync that acknowledges it.
    pub fsync_interval: Duration,
}

impl Default for DiskBufferConfig {
    fn default() -> Self {
        DiskBufferConfig {
            max_size: 256 << 20,
            when_full: WhenFull::Block,
            segment_max_bytes: 32 << 20,
            fsync_interval: Duration::from_millis(100),
        }
    }
}

/// Opens (or creates) the buffer in `dir`, recovering from whatever state a
/// crash left; starts the buffer's group-commit task, so it needs a tokio
/// runtime. Only one buffer may be open on a directory at a time.
pub async fn open(
    dir: PathBuf,
    config: DiskBufferConfig,
    metrics: Arc<ComponentMetrics>,
) -> io::Result<(BufferWriter, BufferReader)> {
    buffer::open(dir, config, metrics).await
}

/// What is in a buffer directory, for `logbridge buffer inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BufferReport {
    pub segments: Vec<SegmentReport>,
    /// Bytes in segment files.
    pub total_bytes: u64,
    /// Readable records not yet acknowledged.
    pub records_pending: u64,
    /// Id of the oldest pending record (ids count up from 1 over the
    /// buffer's life).
    pub first_pending_id: Option<u64>,
    pub last_pending_id: Option<u64>,
    /// Records found damaged (each hides the rest of its segment).
    pub damaged_records: u64,
    /// Bytes of a torn last record, cut off at the next open.
    pub torn_bytes: u64,
    /// Files in `quarantine/`.
    pub quarantined_files: u64,
    /// Whether `ledger.json` was present and readable.
    pub ledger_found: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentReport {
    pub id: u64,
    pub bytes: u64,
    pub records_pending: u64,
    /// Offset of a damaged record, if any.
    pub damaged_at: Option<u64>,
}

/// Reads a buffer directory without changing it. Run it on a buffer that is
/// not open, or accept a snapshot that may be a write behind.
pub fn inspect(dir: &Path) -> io::Result<BufferReport> {
    let ledger = format::read_ledger(dir)?;
    let ids = format::list_segments(dir)?;
    let last = ids.last().copied();
    let start =
        ledger.unwrap_or_else(|| format::Ledger::new(ids.first().copied().unwrap_or(1), 0, 1));
    let mut report = BufferReport {
        segments: Vec::new(),
        total_bytes: 0,
        records_pending: 0,
        first_pending_id: None,
        last_pending_id: None,
        damaged_records: 0,
        torn_bytes: 0,
        quarantined_files: 0,
        ledger_found: ledger.is_some(),
    };
    for id in ids {
        let data = std::fs::read(format::segment_path(dir, id))?;
        report.total_bytes += data.len() as u64;
        let from = match id.cmp(&start.segment) {
            std::cmp::Ordering::Less => data.len() as u64,
            std::cmp::Ordering::Equal => start.offset,
            std::cmp::Ordering::Greater => 0,
        };
        let scan = format::scan(&data, from);
        let damaged_at = match scan.tail {
            Tail::Clean => None,
            Tail::Torn { at } if Some(id) == last => {
                report.torn_bytes += data.len() as u64 - at;
                None
            }
            Tail::Torn { at } | Tail::Damaged { at } => {
                report.damaged_records += 1;
                Some(at)
            }
        };
        report.records_pending += scan.records;
        report.segments.push(SegmentReport {
            id,
            bytes: data.len() as u64,
            records_pending: scan.records,
            damaged_at,
        });
    }
    if report.records_pending > 0 {
        report.first_pending_id = Some(start.next_record_id);
        report.last_pending_id = Some(start.next_record_id + report.records_pending - 1);
    }
    report.quarantined_files = match std::fs::read_dir(dir.join(format::QUARANTINE_DIR)) {
        Ok(entries) => entries.count() as u64,
        Err(error) if error.kind() == io::ErrorKind::NotFound => 0,
        Err(error) => return Err(error),
    };
    Ok(report)
}

#[cfg(test)]
mod tests;
