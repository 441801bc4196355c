//! The running disk buffer: recovery on open, the writer, the reader, the
//! acknowledgement bookkeeping and the group-commit task.
//!
//! File I/O here is plain blocking `std::fs`: appends and reads of one
//! record hit the page cache and take microseconds, less than a hop to the
//! blocking pool would. What can take milliseconds (fsync, the ledger,
//! recovery, deleting segments, rolling to a new segment) runs on
//! `spawn_blocking` or in the group-commit task.
//!
//! A full disk is waited out: a record write that finds no space is cut
//! back to the last complete record and retried with backoff (or, with
//! `drop_newest`, the batch is dropped), the writer moves on to a fresh
//! segment so that acknowledged ones can be deleted to make room, and a
//! ledger that cannot be saved keeps the previous one and is retried.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use logbridge_component::storage::{WriteHealth, is_disk_full};
use logbridge_component::telemetry::{ComponentMetrics, RateLimit};
use logbridge_event::{BatchNotifier, BatchStatus, EventBatch, Finalizers, HeldFinalizers};
use tokio::sync::Notify;

use super::format::{self, HEADER_LEN, Ledger, Tail};
use super::{DiskBufferConfig, WhenFull};
use crate::record;

pub(crate) struct Shared {
    dir: PathBuf,
    config: DiskBufferConfig,
    metrics: Arc<ComponentMetrics>,
    state: Mutex<State>,
    /// Serializes commits (the task's, `flush`'s, the final one): they
    /// share the ledger's temporary file.
    commit_lock: Mutex<()>,
    /// Writer to reader: a record was written or the writer closed.
    data_ready: Notify,
    /// Acknowledgements to writer: space was freed.
    space_freed: Notify,
    log_limit: RateLimit,
    ledger: Mutex<LedgerWrites>,
}

/// How saving the ledger goes; taken under `commit_lock`.
struct LedgerWrites {
    health: WriteHealth,
    /// After a failed save, the next one waits until then.
    retry_at: Option<Instant>,
}

struct State {
    /// Segments on disk and the bytes of complete records in each.
    segments: BTreeMap<u64, u64>,
    write_segment: u64,
    write_file: Arc<File>,
    /// Start a new segment before the next write (after a failed write).
    force_roll: bool,
    /// Sequence number of the next record written (group commit only).
    next_write_seq: u64,
    /// Incoming finalizers waiting for an fsync, by write sequence number.
    unsynced: VecDeque<(u64, Finalizers)>,
    /// Records written since the last fsync.
    dirty: bool,
    writer_closed: bool,
    /// Records handed out and not yet acknowledged, oldest first.
    in_flight: VecDeque<InFlight>,
    /// The contiguous acknowledged position.
    acked: Ledger,
    ack_dirty: bool,
    /// Bytes of records written and not yet acknowledged.
    unacked_bytes: u64,
}

struct InFlight {
    id: u64,
    segment: u64,
    end: u64,
    bytes: u64,
    done: bool,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Appends batches to the buffer. Dropping it closes the buffer for
/// writing; the reader then ends after the last record.
pub struct BufferWriter {
    shared: Arc<Shared>,
    frame: Vec<u8>,
    health: WriteHealth,
    /// With `drop_newest` on a full disk: batches are dropped without a
    /// try until then.
    drop_until: Option<Instant>,
}

/// Reads batches back in order. Each batch carries a finalizer that
/// acknowledges its record when the batch is finished.
pub struct BufferReader {
    shared: Arc<Shared>,
    segment: u64,
    offset: u64,
    file: Option<File>,
    next_id: u64,
}

/// Opens (or creates) the buffer in `dir`, recovering from whatever state a
/// crash left, and starts its group-commit task.
pub(crate) async fn open(
    dir: PathBuf,
    config: DiskBufferConfig,
    metrics: Arc<ComponentMetrics>,
) -> io::Result<(BufferWriter, BufferReader)> {
    let interval = config.fsync_interval;
    let (shared, start) = tokio::task::spawn_blocking(move || recover(dir, config, metrics))
        .await
        .map_err(io::Error::other)??;
    let shared = Arc::new(shared);
    tokio::spawn(group_commit(Arc::downgrade(&shared), interval));
    let reader = BufferReader {
        shared: Arc::clone(&shared),
        segment: start.segment,
        offset: start.offset,
        file: None,
        next_id: start.next_record_id,
    };
    let writer = BufferWriter {
        health: WriteHealth::new(Arc::clone(&shared.metrics), "buffer"),
        shared,
        frame: Vec::new(),
        drop_until: None,
    };
    Ok((writer, reader))
}

fn recover(
    dir: PathBuf,
    config: DiskBufferConfig,
    metrics: Arc<ComponentMetrics>,
) -> io::Result<(Shared, Ledger)> {
    fs::create_dir_all(&dir)?;
    let ids = format::list_segments(&dir)?;
    let ledger = format::read_ledger(&dir)?;
    let start = ledger.unwrap_or_else(|| Ledger::new(ids.first().copied().unwrap_or(1), 0, 1));
    let last = ids.last().copied();
    let mut segments = BTreeMap::new();
    let mut unacked_bytes = 0;
    let mut start_offset = start.offset;
    for &id in &ids {
        let path = format::segment_path(&dir, id);
        if id < start.segment {
            // Fully acknowledged; its deletion was cut short.
            fs::remove_file(&path)?;
            continue;
        }
        let data = fs::read(&path)?;
        let from = if id == start.segment {
            // A ledger past the data (acknowledged but not yet fsynced when
            // the machine died) resumes at the end of what survived.
            start_offset = start.offset.min(data.len() as u64);
            start_offset
        } else {
            0
        };
        let scan = format::scan(&data, from);
        match scan.tail {
            Tail::Clean => {}
            Tail::Torn { at } if Some(id) == last => {
                tracing::info!(
                    message = "Dropping a torn last record of the disk buffer.",
                    segment = id,
                    offset = at,
                    bytes = data.len() as u64 - at,
                );
                format::truncate_segment(&dir, id, at)?;
            }
            Tail::Torn { at } | Tail::Damaged { at } => {
                metrics.add_error();
                let copy = format::quarantine(&dir, id, at, &data[at as usize..])?;
                tracing::error!(
                    message = "Damaged disk buffer record; the rest of its segment was quarantined.",
                    segment = id,
                    offset = at,
                    quarantine = %copy.display(),
                );
                format::truncate_segment(&dir, id, at)?;
            }
        }
        if scan.end == 0 {
            fs::remove_file(&path)?;
            continue;
        }
        unacked_bytes += scan.end - from;
        segments.insert(id, scan.end);
    }
    // A new segment for this run: never append after bytes we did not write.
    let write_segment = match last {
        Some(last) => last.max(start.segment) + 1,
        None if start.offset == 0 => start.segment,
        None => start.segment + 1,
    };
    let write_file = create_segment(&dir, write_segment)?;
    segments.insert(write_segment, 0);
    let acked = Ledger::new(start.segment, start_offset, start.next_record_id);
    let state = State {
        segments,
        write_segment,
        write_file: Arc::new(write_file),
        force_roll: false,
        next_write_seq: 0,
        unsynced: VecDeque::new(),
        dirty: false,
        writer_closed: false,
        in_flight: VecDeque::new(),
        acked,
        ack_dirty: false,
        unacked_bytes,
    };
    let ledger = LedgerWrites {
        health: WriteHealth::new(Arc::clone(&metrics), "buffer_ledger"),
        retry_at: None,
    };
    let shared = Shared {
        dir,
        config,
        metrics,
        ledger: Mutex::new(ledger),
        state: Mutex::new(state),
        commit_lock: Mutex::new(()),
        data_ready: Notify::new(),
        space_freed: Notify::new(),
        log_limit: RateLimit::default(),
    };
    Ok((shared, acked))
}

/// Creates segment `id` for appending. Appending (rather than writing at
/// a cursor) lets a torn write be cut off with `set_len` alone.
fn create_segment(dir: &std::path::Path, id: u64) -> io::Result<File> {
    let path = format::segment_path(dir, id);
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)?;
    if let Err(error) = format::sync_dir(dir) {
        // Not ours yet: the next try creates it again.
        let _ = fs::remove_file(&path);
        return Err(error);
    }
    Ok(file)
}

/// Every `fsync_interval`: fsync what was written and release the
/// writers' finalizers, persist the acknowledged position, delete finished
/// segments. Ends once the buffer is gone (its last step runs in `Drop`).
async fn group_commit(shared: Weak<Shared>, interval: std::time::Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if !shared.needs_commit() {
            continue;
        }
        let done = tokio::task::spawn_blocking(move || {
            if let Err(error) = shared.commit(false)
                && shared.log_limit.allow()
            {
                tracing::error!(message = "Disk buffer fsync failed; retrying.", %error);
            }
        })
        .await;
        if let Err(error) = done {
            tracing::error!(message = "Disk buffer commit task failed.", %error);
        }
    }
}

impl Shared {
    /// Group commit: one fsync covers every record written before it; then
    /// the acknowledged position is saved (`persist_ledger` reports and
    /// retries its own failures; the result is the fsync's). `force` saves
    /// the ledger even within a retry backoff.
    fn commit(&self, force: bool) -> io::Result<()> {
        let _serial = self
            .commit_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let synced = self.sync_data();
        self.persist_ledger(force);
        synced
    }

    fn needs_commit(&self) -> bool {
        let st = lock(&self.state);
        st.dirty || st.ack_dirty
    }

    fn sync_data(&self) -> io::Result<()> {
        let (file, target) = {
            let mut st = lock(&self.state);
            if !st.dirty {
                return Ok(());
            }
            st.dirty = false;
            (Arc::clone(&st.write_file), st.next_write_seq)
        };
        if let Err(error) = file.sync_data() {
            lock(&self.state).dirty = true;
            return Err(error);
        }
        let released: Vec<Finalizers> = {
            let mut st = lock(&self.state);
            let n = st.unsynced.partition_point(|(seq, _)| *seq < target);
            st.unsynced.drain(..n).map(|(_, f)| f).collect()
        };
        // Dropping the references outside the lock runs the callbacks:
        // the data is durable, so the batches count as delivered.
        drop(released);
        Ok(())
    }

    /// Saves the acknowledged position and deletes the segments wholly
    /// before it. A failed save keeps the previous ledger (the write is
    /// atomic) and is retried with backoff; on a full disk the finished
    /// segments are deleted first, which is safe (their records are
    /// acknowledged, and a restart skips segments that are gone) and frees
    /// the space the ledger needs.
    fn persist_ledger(&self, force: bool) {
        let mut writes = self
            .ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !force && writes.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let (ledger, finished) = {
            let mut st = lock(&self.state);
            if !st.ack_dirty {
                return;
            }
            st.ack_dirty = false;
            let acked = st.acked;
            let whole = st.segments.get(&acked.segment).copied();
            let through = if whole == Some(acked.offset) && acked.segment < st.write_segment {
                acked.segment + 1
            } else {
                acked.segment
            };
            let finished: Vec<u64> = st.segments.range(..through).map(|(&id, _)| id).collect();
            (acked, finished)
        };
        let mut saved = format::write_ledger(&self.dir, &ledger);
        if saved.as_ref().is_err_and(is_disk_full) && !finished.is_empty() {
            self.delete_segments(&finished);
            saved = format::write_ledger(&self.dir, &ledger);
        }
        let path = self.dir.join(format::LEDGER_FILE);
        match saved {
            Ok(()) => {
                writes.health.succeeded(&path);
                writes.retry_at = None;
            }
            Err(error) => {
                lock(&self.state).ack_dirty = true;
                let delay = writes.health.failed(&path, &error);
                writes.retry_at = Some(Instant::now() + delay);
                return;
            }
        }
        drop(writes);
        self.delete_segments(&finished);
    }

    /// Deletes the segments `ids`, all acknowledged; one that cannot be
    /// deleted stays listed and is tried again at the next commit.
    fn delete_segments(&self, ids: &[u64]) {
        for &id in ids {
            match fs::remove_file(format::segment_path(&self.dir, id)) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    lock(&self.state).ack_dirty = true;
                    if self.log_limit.allow() {
                        tracing::error!(message = "Cannot delete an acknowledged disk buffer segment.", segment = id, %error);
                    }
                    return;
                }
            }
            lock(&self.state).segments.remove(&id);
        }
    }

    /// The callback of a batch handed out by the reader.
    fn acknowledge(&self, id: u64, status: BatchStatus) {
        match status {
            BatchStatus::Delivered => {}
            BatchStatus::Errored => {
                // The sink gave up for now (at shutdown): the record stays,
                // and is read again at the next start, with what follows.
                self.metrics.add_error();
                if self.log_limit.allow() {
                    tracing::warn!(
                        message = "Batch read from the disk buffer was not delivered; it is kept for the next start.",
                        record_id = id,
                    );
                }
                return;
            }
            BatchStatus::Rejected => {
                // Refused for good: the buffer cannot do better than the
                // sink, so the record is released like a delivered one.
                self.metrics.add_error();
                if self.log_limit.allow() {
                    tracing::warn!(
                        message = "Batch read from the disk buffer was rejected by the sink; releasing it.",
                        record_id = id,
                    );
                }
            }
        }
        let mut st = lock(&self.state);
        // Ids are handed out in ascending order.
        if let Ok(i) = st.in_flight.binary_search_by_key(&id, |e| e.id) {
            st.in_flight[i].done = true;
        }
        let mut advanced = false;
        while st.in_flight.front().is_some_and(|e| e.done) {
            let Some(e) = st.in_flight.pop_front() else {
                break;
            };
            st.acked = Ledger::new(e.segment, e.end, e.id + 1);
            st.unacked_bytes = st.unacked_bytes.saturating_sub(e.bytes);
            advanced = true;
        }
        if advanced {
            st.ack_dirty = true;
            drop(st);
            self.space_freed.notify_one();
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Err(error) = self.commit(true) {
            tracing::error!(message = "Final disk buffer commit failed.", %error);
        }
        if lock(&self.state).ack_dirty {
            tracing::error!(
                message = "Could not save the disk buffer's read position; records delivered since it was last saved will be sent again at the next start.",
                dir = %self.dir.display(),
            );
        }
        // Whatever could not be fsynced is not delivered.
        let st = lock(&self.state);
        for (_, finalizers) in &st.unsynced {
            finalizers.update_status(BatchStatus::Errored);
        }
    }
}

impl BufferWriter {
    /// Appends `batch` as one record. Its finalizers are released (as
    /// delivered) once the record is covered by an fsync. With
    /// `when_full = drop_newest`, or for a batch larger than `max_size`, a
    /// batch that does not fit is dropped, counted as discarded and its
    /// finalizers marked `Errored`; with `block` this waits for space.
    /// A full disk is waited out the same way (retrying with backoff), or
    /// with `drop_newest` drops batches until a retry finds space. Other
    /// write errors are returned.
    pub async fn write(&mut self, mut batch: EventBatch) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        self.frame.clear();
        self.frame.resize(HEADER_LEN as usize, 0);
        let encoded = record::encode_events(batch.events(), &mut self.frame)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                format::seal_frame(&mut self.frame).ok_or_else(|| "batch too large".to_owned())
            });
        if let Err(error) = encoded {
            shared.metrics.add_discarded(batch.len(), false);
            shared.metrics.add_error();
            tracing::error!(message = "Batch cannot be stored in the disk buffer; dropped.", %error);
            batch.finalizers.update_status(BatchStatus::Rejected);
            return Ok(());
        }
        let len = self.frame.len() as u64;
        let drop_newest = shared.config.when_full == WhenFull::DropNewest;
        loop {
            {
                let st = lock(&shared.state);
                if st.unacked_bytes + len <= shared.config.max_size {
                    break;
                }
                if drop_newest || len > shared.config.max_size {
                    drop(st);
                    self.drop_newest(batch, "Disk buffer full; dropping the newest batch.");
                    return Ok(());
                }
            }
            shared.space_freed.notified().await;
        }
        // Should this task be dropped while it waits for disk space, the
        // batch must not count as delivered.
        let finalizers = HeldFinalizers::new(std::mem::take(&mut batch.finalizers));
        loop {
            if drop_newest && self.drop_until.is_some_and(|t| Instant::now() < t) {
                self.drop_newest(batch, "Disk full; dropping the newest batch.");
                finalizers.finish(BatchStatus::Errored);
                return Ok(());
            }
            let error = match self.append(&shared).await {
                Ok(()) => break,
                Err(error) => error,
            };
            if !is_disk_full(&error) {
                return Err(error);
            }
            let delay = self.health.failed(&shared.dir, &error);
            if drop_newest {
                self.drop_until = Some(Instant::now() + delay);
            } else {
                tokio::time::sleep(delay).await;
            }
        }
        self.health.succeeded(&shared.dir);
        self.drop_until = None;
        let finalizers = finalizers.release();
        {
            let mut st = lock(&shared.state);
            let seg = st.write_segment;
            if let Some(size) = st.segments.get_mut(&seg) {
                *size += len;
            }
            st.unacked_bytes += len;
            let seq = st.next_write_seq;
            st.next_write_seq += 1;
            st.dirty = true;
            if !finalizers.is_empty() {
                st.unsynced.push_back((seq, finalizers));
            }
        }
        shared.data_ready.notify_one();
        Ok(())
    }

    /// Drops `batch` (`drop_newest`): counted as discarded, its finalizers
    /// (if it still has them) marked `Errored`.
    fn drop_newest(&self, batch: EventBatch, message: &'static str) {
        let shared = &self.shared;
        shared.metrics.add_discarded(batch.len(), false);
        if shared.log_limit.allow() {
            tracing::warn!(message, events = batch.len(), bytes = self.frame.len());
        }
        batch.finalizers.update_status(BatchStatus::Errored);
    }

    /// Writes the sealed frame at the end of the write segment (rolling to
    /// a new one first if due). On failure the segment is cut back to its
    /// last complete record; on a full disk the next try starts a new
    /// segment, so that this one can be deleted once it is read and
    /// acknowledged, freeing space while the writer waits.
    async fn append(&mut self, shared: &Shared) -> io::Result<()> {
        let (file, roll, size) = {
            let st = lock(&shared.state);
            let size = st.segments.get(&st.write_segment).copied().unwrap_or(0);
            let roll = st.force_roll
                || (size > 0 && size + self.frame.len() as u64 > shared.config.segment_max_bytes);
            (Arc::clone(&st.write_file), roll, size)
        };
        let (file, size) = if roll {
            (roll_segment(shared, file).await?, 0)
        } else {
            (file, size)
        };
        let Err(error) = (&*file).write_all(&self.frame) else {
            return Ok(());
        };
        let cut = file.set_len(size);
        if cut.is_err() || (size > 0 && is_disk_full(&error)) {
            // Bytes past the last complete record may be junk (recovery
            // quarantines them), or the segment should be closed.
            lock(&shared.state).force_roll = true;
        }
        Err(error)
    }
}

/// Seals the current segment (fsync) and starts the next one.
async fn roll_segment(shared: &Shared, old: Arc<File>) -> io::Result<Arc<File>> {
    let next = lock(&shared.state).write_segment + 1;
    let dir = shared.dir.clone();
    let file = tokio::task::spawn_blocking(move || {
        old.sync_data()?;
        create_segment(&dir, next)
    })
    .await
    .map_err(io::Error::other)??;
    let file = Arc::new(file);
    let mut st = lock(&shared.state);
    st.write_segment = next;
    st.write_file = Arc::clone(&file);
    st.segments.insert(next, 0);
    st.force_roll = false;
    drop(st);
    // A reader waiting at the end of the old segment moves on and closes
    // it now, not at the next record: on a full disk there may be none
    // until the old segment, once delivered and deleted, frees its space,
    // which it does only once no handle holds it open.
    shared.data_ready.notify_one();
    // Records of the old segment are durable; `dirty` stays set so the next
    // commit releases their finalizers.
    Ok(file)
}

impl BufferWriter {
    /// Fsyncs everything written so far, releases its finalizers and
    /// persists the acknowledged position (a failure to save the position
    /// is reported and retried, not returned).
    pub async fn flush(&mut self) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.commit(true))
            .await
            .map_err(io::Error::other)?
    }
}

impl Drop for BufferWriter {
    fn drop(&mut self) {
        lock(&self.shared.state).writer_closed = true;
        self.shared.data_ready.notify_one();
    }
}

enum Step {
    Read { size: u64 },
    Move(u64),
    Wait,
    End,
}

enum ReadError {
    Damaged,
    Io(io::Error),
}

impl BufferReader {
    /// The next batch, in write order; `None` once the writer is dropped and
    /// everything is read, or on an I/O error reading the segments.
    pub async fn next(&mut self) -> Option<EventBatch> {
        loop {
            let step = {
                let st = lock(&self.shared.state);
                match st.segments.get(&self.segment) {
                    Some(&size) if self.offset < size => Step::Read { size },
                    _ => match st.segments.range(self.segment + 1..).next() {
                        Some((&next, _)) => Step::Move(next),
                        None if st.writer_closed => Step::End,
                        None => Step::Wait,
                    },
                }
            };
            match step {
                Step::End => return None,
                Step::Wait => self.shared.data_ready.notified().await,
                Step::Move(next) => {
                    self.segment = next;
                    self.offset = 0;
                    self.file = None;
                }
                Step::Read { size } => match self.read_record(size) {
                    Ok(payload) => {
                        let end = self.offset + HEADER_LEN + payload.len() as u64;
                        let bytes = end - self.offset;
                        match record::decode_events(&payload) {
                            Ok(events) => return Some(self.hand_out(events, end, bytes)),
                            Err(error) => {
                                // The checksum held, so framing is intact:
                                // skip just this record.
                                self.shared.metrics.add_error();
                                if self.shared.log_limit.allow() {
                                    tracing::error!(
                                        message = "Undecodable disk buffer record skipped.",
                                        %error,
                                        segment = self.segment,
                                        offset = self.offset,
                                    );
                                }
                                self.skip(end, bytes);
                            }
                        }
                    }
                    Err(ReadError::Damaged) => self.quarantine_rest(size),
                    Err(ReadError::Io(error)) => {
                        self.shared.metrics.add_error();
                        tracing::error!(message = "Reading the disk buffer failed.", %error);
                        return None;
                    }
                },
            }
        }
    }

    fn read_record(&mut self, size: u64) -> Result<Vec<u8>, ReadError> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let path = format::segment_path(&self.shared.dir, self.segment);
                self.file.insert(File::open(path).map_err(ReadError::Io)?)
            }
        };
        file.seek(SeekFrom::Start(self.offset))
            .map_err(ReadError::Io)?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header).map_err(ReadError::Io)?;
        let (len, crc) = format::parse_header(header);
        if len == 0 || self.offset + HEADER_LEN + len > size {
            return Err(ReadError::Damaged);
        }
        // `len` is bounded by bytes known to be in the file.
        let mut payload = vec![0u8; len as usize];
        file.read_exact(&mut payload).map_err(ReadError::Io)?;
        if crc32fast::hash(&payload) != crc {
            return Err(ReadError::Damaged);
        }
        Ok(payload)
    }

    fn hand_out(
        &mut self,
        events: Vec<logbridge_event::Event>,
        end: u64,
        bytes: u64,
    ) -> EventBatch {
        let id = self.track(end, bytes);
        let shared = Arc::clone(&self.shared);
        let notifier = BatchNotifier::new(move |status| shared.acknowledge(id, status));
        EventBatch::new(events).with_finalizers(Finalizers::new(notifier))
    }

    /// Passes over bytes that will never be handed out, keeping them in the
    /// acknowledgement order so the ledger can move past them.
    fn skip(&mut self, end: u64, bytes: u64) {
        let id = self.track(end, bytes);
        self.shared.acknowledge(id, BatchStatus::Delivered);
    }

    /// Puts the record ending at `end` in the acknowledgement order and
    /// moves past it; returns its id.
    fn track(&mut self, end: u64, bytes: u64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        lock(&self.shared.state).in_flight.push_back(InFlight {
            id,
            segment: self.segment,
            end,
            bytes,
            done: false,
        });
        self.offset = end;
        id
    }

    fn quarantine_rest(&mut self, size: u64) {
        let shared = &self.shared;
        shared.metrics.add_error();
        let path = format::segment_path(&shared.dir, self.segment);
        let copied = fs::read(&path).and_then(|data| {
            let rest = data
                .get(self.offset as usize..(size as usize).min(data.len()))
                .unwrap_or_default();
            format::quarantine(&shared.dir, self.segment, self.offset, rest)
        });
        match copied {
            Ok(copy) => tracing::error!(
                message = "Damaged disk buffer record; the rest of its segment was quarantined.",
                segment = self.segment,
                offset = self.offset,
                quarantine = %copy.display(),
            ),
            Err(error) => tracing::error!(
                message = "Damaged disk buffer record; quarantining the rest of its segment failed.",
                segment = self.segment,
                offset = self.offset,
                %error,
            ),
        }
        let bytes = size - self.offset;
        self.skip(size, bytes);
    }
}
