//! The running `file` source: one task that scans for files, reads them
//! round-robin, sends batches, turns acknowledgements into checkpoints, and
//! on shutdown waits for what is in flight before the last checkpoint.
//!
//! Everything happens on this one task, so no state is shared or locked;
//! the only other parties are the acknowledgement callbacks (which send
//! into an unbounded channel this task drains) and the blocking thread that
//! writes the checkpoint file.
//!
//! While the checkpoint file cannot be written for lack of space, reading
//! pauses (acknowledgements are still handled): reading on would grow what
//! a restart reads again past what was in flight.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use logbridge_component::storage::WriteHealth;
use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{ComponentError, ShutdownSignal, Source, SourceContext, SourceOutputs};
use logbridge_event::{BatchNotifier, BatchStatus, EventBatch, Finalizers, KeyString, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::acks::Tracker;
use super::checkpoint::{self, Checkpoints, Stored};
use super::config::{ReadFrom, Settings};
use super::discovery::{Cause, ErrorLog};
use super::identity::{self, FileId, FileKey, fingerprint, line_start_before};
use super::reader::{CHUNK_BYTES, Reader, Resume, Turn};
use logbridge_component::now_nanos;

/// Bytes one file may read per turn before the next file gets its turn.
const TURN_BYTES: usize = 4 * CHUNK_BYTES;
/// How long to wait when no file had anything to read.
const IDLE_SLEEP: Duration = Duration::from_millis(100);
/// Checkpoints are written at most this often. A write without fsync
/// (temporary file and rename) survives a crash of the process, so writing
/// soon after acknowledgements keeps what a restart re-sends small.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(10);
/// Checkpoints are made durable (fsync) at most this often, and at
/// shutdown: a power loss may replay up to this much acknowledged data.
const CHECKPOINT_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// How often to look whether a checkpoint write in flight has finished.
const WRITE_POLL: Duration = Duration::from_millis(5);
/// At most one overlong-line warning per file this often.
const OVERLONG_WARN_INTERVAL: Duration = Duration::from_secs(10);

pub(super) struct FileSource {
    settings: Settings,
}

impl FileSource {
    pub(super) fn new(settings: Settings) -> FileSource {
        FileSource { settings }
    }
}

#[async_trait::async_trait]
impl Source for FileSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let SourceContext {
            out,
            shutdown,
            metrics,
            data_dir,
            ..
        } = cx;
        let cx = Cx { shutdown, metrics };
        let mut state = State::new(self.settings, &cx, data_dir);
        state.run(&cx, out).await;
        Ok(())
    }
}

/// What the task needs of its context besides the output, which it drops
/// as soon as it stops reading.
struct Cx {
    shutdown: ShutdownSignal,
    metrics: Arc<ComponentMetrics>,
}

/// An acknowledgement, sent by a batch's notifier.
#[derive(Debug)]
struct Ack {
    reader: u64,
    seq: u64,
    status: BatchStatus,
}

/// Whether reading may go on.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// Shutdown, or nothing consumes the output any more.
    Stop,
}

/// The checkpoint file writer: at most one write in flight, on a blocking
/// thread, because an fsync can take tens of milliseconds on a busy disk.
struct Writer {
    dir: PathBuf,
    task: Option<JoinHandle<io::Result<()>>>,
    last_start: Option<Instant>,
    /// When the last durable (fsynced) write started.
    last_sync: Option<Instant>,
    /// After a failed write, the next one waits until then.
    retry_at: Option<Instant>,
    health: WriteHealth,
}

struct State {
    settings: Settings,
    /// The host attribute, shared by every line.
    host: Option<(KeyString, Value)>,
    readers: Vec<Reader>,
    /// Commit bookkeeping by reader generation; outlives closed readers
    /// until their last batch is acknowledged.
    trackers: HashMap<u64, Tracker>,
    next_id: u64,
    checkpoints: Checkpoints,
    writer: Writer,
    ack_tx: mpsc::UnboundedSender<Ack>,
    ack_rx: mpsc::UnboundedReceiver<Ack>,
    /// Batches sent and not acknowledged yet.
    in_flight: usize,
    errors: ErrorLog,
    next_scan: Instant,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl State {
    fn new(settings: Settings, cx: &Cx, data_dir: PathBuf) -> State {
        let host = settings
            .host_key
            .clone()
            .and_then(|key| match hostname::get() {
                Ok(name) => {
                    let name = Bytes::from(name.to_string_lossy().into_owned());
                    Some((key, Value::Bytes(name)))
                }
                Err(error) => {
                    warn!(message = "Cannot get the host name; lines will not carry it.", %error);
                    cx.metrics.add_error();
                    None
                }
            });
        let checkpoints = load_checkpoints(&data_dir, cx);
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        State {
            settings,
            host,
            readers: Vec::new(),
            trackers: HashMap::new(),
            next_id: 0,
            checkpoints,
            writer: Writer {
                dir: data_dir,
                task: None,
                last_start: None,
                last_sync: None,
                retry_at: None,
                health: WriteHealth::new(cx.metrics.clone(), "checkpoints"),
            },
            ack_tx,
            ack_rx,
            in_flight: 0,
            errors: ErrorLog::default(),
            next_scan: Instant::now(),
        }
    }

    async fn run(&mut self, cx: &Cx, out: SourceOutputs) {
        let mut initial = true;
        'main: loop {
            if cx.shutdown.is_triggered() {
                break;
            }
            let now = Instant::now();
            if now >= self.next_scan {
                self.scan(cx, initial);
                initial = false;
                self.next_scan = now + self.settings.scan_interval;
            }
            self.drain_acks();
            self.write_checkpoints(false).await;
            let (progress, flow) = if self.writer.health.is_disk_full() {
                (false, Flow::Continue)
            } else {
                self.read_round(cx, &out).await
            };
            if flow == Flow::Stop {
                break;
            }
            if progress {
                continue;
            }
            // Nothing to read: sleep until the next read attempt or scan,
            // handling acknowledgements and checkpoints meanwhile.
            let wake = (Instant::now() + IDLE_SLEEP).min(self.next_scan);
            loop {
                let deadline = self
                    .writer
                    .due(&self.checkpoints)
                    .map_or(wake, |d| d.min(wake));
                tokio::select! {
                    biased;
                    _ = cx.shutdown.wait() => break 'main,
                    Some(ack) = self.ack_rx.recv() => self.on_ack(ack),
                    _ = tokio::time::sleep_until(deadline.into()) => {
                        self.write_checkpoints(false).await;
                        if Instant::now() >= wake {
                            break;
                        }
                    }
                }
            }
        }
        // Downstream may hold batches until its input ends (a sink
        // flushing on close): end it before waiting for their
        // acknowledgements.
        drop(out);
        self.shut_down().await;
    }

    /// Stopped reading: wait for every batch in flight (the topology bounds
    /// this wait), then write the last checkpoint.
    async fn shut_down(&mut self) {
        debug!(
            message = "Waiting for acknowledgements before the last checkpoint.",
            in_flight = self.in_flight
        );
        while self.in_flight > 0 {
            let deadline = self
                .writer
                .due(&self.checkpoints)
                .unwrap_or_else(|| Instant::now() + IDLE_SLEEP);
            tokio::select! {
                Some(ack) = self.ack_rx.recv() => self.on_ack(ack),
                _ = tokio::time::sleep_until(deadline.into()) => self.write_checkpoints(false).await,
            }
        }
        self.write_checkpoints(true).await;
    }

    // ---- discovery ----------------------------------------------------

    /// Looks for new files and notices files that were rotated away or
    /// rewritten in place.
    fn scan(&mut self, cx: &Cx, initial: bool) {
        self.errors.begin_scan();
        let paths = self.settings.discovery.find(&mut self.errors, &cx.metrics);
        let mut seen: HashSet<FileId> = HashSet::with_capacity(paths.len());
        let mut open: HashMap<FileId, usize> = self
            .readers
            .iter()
            .enumerate()
            .map(|(i, r)| (r.file_id, i))
            .collect();
        for path in paths {
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                // Listed a moment ago and gone now: a rotation in progress.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    self.errors.report(&path, Cause::Stat, &e, &cx.metrics);
                    continue;
                }
            };
            let id = identity::file_id(&meta);
            if let Some(&i) = open.get(&id) {
                seen.insert(id);
                let reader = &mut self.readers[i];
                if reader.path != path && !path_leads_to(&reader.path, id) {
                    // Renamed to a name that still matches.
                    info!(message = "File was renamed.", from = %reader.path.display(), to = %path.display());
                    reader.path = path;
                    if let Some(key) = reader.key {
                        let offset = self.trackers.get(&reader.id).map_or(0, Tracker::committed);
                        self.checkpoints.set(key, &reader.path, offset, now_secs());
                    }
                }
                continue;
            }
            let file = match File::open(&path) {
                Ok(file) => {
                    self.errors.clear(&path, Cause::Open);
                    file
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    self.errors.report(&path, Cause::Open, &e, &cx.metrics);
                    continue;
                }
            };
            // Identify what was opened, not what the path led to a moment
            // before: a rotation may have happened in between.
            let meta = match file.metadata() {
                Ok(meta) => meta,
                Err(e) => {
                    self.errors.report(&path, Cause::Stat, &e, &cx.metrics);
                    continue;
                }
            };
            let id = identity::file_id(&meta);
            seen.insert(id);
            if open.contains_key(&id) {
                continue;
            }
            // "The end" is where the file is now, not when its identity is
            // known: lines written in between are new.
            let otherwise = if initial && self.settings.read_from == ReadFrom::End {
                match line_start_before(&file, meta.len()) {
                    Ok(offset) => offset,
                    Err(e) => {
                        self.errors.report(&path, Cause::Read, &e, &cx.metrics);
                        continue;
                    }
                }
            } else {
                0
            };
            let attrs = self.attributes(&path);
            let reader_id = self.new_id();
            debug!(message = "Found a new file.", path = %path.display());
            open.insert(id, self.readers.len());
            self.readers.push(Reader::new(
                reader_id,
                id,
                path,
                file,
                Resume::Checkpoint { otherwise },
                attrs,
                self.settings.max_line_bytes,
            ));
        }
        self.errors.end_scan();
        if initial {
            self.recover_moved(cx, &seen);
        }

        let now = Instant::now();
        for i in 0..self.readers.len() {
            let reader = &mut self.readers[i];
            if !seen.contains(&reader.file_id) {
                if reader.gone_since.is_none() {
                    info!(message = "File no longer matches; reading it to its end.", path = %reader.path.display());
                    reader.gone_since = Some(now);
                }
                continue;
            }
            reader.gone_since = None;
            // Same inode, other first line: rewritten in place (for example
            // truncated and refilled past our offset between two reads).
            if let Some(key) = reader.key
                && let Ok(Some(checksum)) = fingerprint(&reader.file, false)
                && checksum != key.checksum
            {
                self.restart(
                    i,
                    "File content was replaced; reading it again from the beginning.",
                );
            }
        }
    }

    /// At startup: the checkpointed files that no matching path leads to
    /// now. One renamed out of the patterns while logbridge was stopped
    /// (`app.log` to `app.log.1`) is found in the directory it was in by its
    /// identity (device, inode and first-line checksum) and read to its
    /// end; one that is gone with lines not read is reported, since those
    /// lines cannot be read any more.
    fn recover_moved(&mut self, cx: &Cx, seen: &HashSet<FileId>) {
        let missing: Vec<Stored> = self
            .checkpoints
            .entries()
            .into_iter()
            .filter(|e| {
                !seen.contains(&(e.key.dev, e.key.inode))
                    && self.settings.discovery.matches(&e.path)
            })
            .collect();
        let mut listed: HashMap<PathBuf, HashMap<FileId, PathBuf>> = HashMap::new();
        for entry in missing {
            let dir = entry.path.parent().unwrap_or(Path::new("")).to_owned();
            let files = listed.entry(dir).or_insert_with_key(|dir| files_by_id(dir));
            let found = match files.get(&(entry.key.dev, entry.key.inode)) {
                Some(path) => match open_same(path, entry.key) {
                    Ok(same) => same.map(|(file, size)| (path.clone(), file, size)),
                    Err(e) => {
                        // Still there, but not readable now: not gone.
                        self.errors.report(path, Cause::Open, &e, &cx.metrics);
                        continue;
                    }
                },
                None => None,
            };
            match found {
                Some((path, file, size)) if size > entry.offset => {
                    info!(
                        message = "Reading the rest of a file renamed while logbridge was stopped.",
                        from = %entry.path.display(),
                        to = %path.display(),
                        unread_bytes = size - entry.offset,
                    );
                    let attrs = self.attributes(&path);
                    let id = self.new_id();
                    let mut reader = Reader::new(
                        id,
                        (entry.key.dev, entry.key.inode),
                        path,
                        file,
                        Resume::Checkpoint { otherwise: 0 },
                        attrs,
                        self.settings.max_line_bytes,
                    );
                    reader.gone_since = Some(Instant::now());
                    self.readers.push(reader);
                }
                // Read to its end before it was renamed.
                Some(_) => {}
                None => report_gone(&entry, cx),
            }
        }
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The attributes the lines of the file at `path` get.
    fn attributes(&self, path: &Path) -> Vec<(KeyString, Value)> {
        let mut attrs = Vec::with_capacity(2);
        if let Some(key) = &self.settings.file_key {
            let path = Bytes::from(path.to_string_lossy().into_owned());
            attrs.push((key.clone(), Value::Bytes(path)));
        }
        attrs.extend(self.host.clone());
        attrs
    }

    /// Starts reader `i` over as a new generation at offset 0.
    fn restart(&mut self, i: usize, message: &'static str) {
        let id = self.new_id();
        let reader = &mut self.readers[i];
        info!(message, path = %reader.path.display());
        detach(&mut self.trackers, reader.id);
        reader.restart(id);
    }

    /// Once the first line of reader `i` is complete: its identity and
    /// where to start. False while it cannot be read yet.
    fn identify(&mut self, i: usize, cx: &Cx) -> bool {
        let reader = &mut self.readers[i];
        let checksum = match fingerprint(&reader.file, reader.is_gone()) {
            Ok(Some(checksum)) => checksum,
            Ok(None) => return false,
            Err(e) => {
                report_read_error(reader, &e, cx);
                return false;
            }
        };
        let key = FileKey {
            dev: reader.file_id.0,
            inode: reader.file_id.1,
            checksum,
        };
        let size = match reader.file.metadata() {
            Ok(meta) => meta.len(),
            Err(e) => {
                report_read_error(reader, &e, cx);
                return false;
            }
        };
        let offset = match reader.resume {
            Resume::Beginning => 0,
            Resume::Checkpoint { otherwise } => match self.checkpoints.get(&key) {
                Some(offset) if offset <= size => offset,
                Some(offset) => {
                    info!(message = "File is shorter than its checkpoint; reading it from the beginning.", path = %reader.path.display(), checkpoint = offset, size);
                    0
                }
                None if otherwise <= size => otherwise,
                // Truncated since it was found.
                None => 0,
            },
        };
        debug!(message = "Reading file.", path = %reader.path.display(), offset);
        reader.key = Some(key);
        reader.start_at(offset);
        self.trackers.insert(reader.id, Tracker::new(key, offset));
        if reader.is_gone() && self.checkpoints.get(&key).is_some() {
            // Keep the matching path it was checkpointed under: a restart
            // looks for it from there.
            self.checkpoints.set_offset(key, offset, now_secs());
        } else {
            self.checkpoints.set(key, &reader.path, offset, now_secs());
        }
        true
    }

    // ---- reading ------------------------------------------------------

    /// Gives every file one turn. Returns whether anything happened.
    async fn read_round(&mut self, cx: &Cx, out: &SourceOutputs) -> (bool, Flow) {
        let mut progress = false;
        let mut flow = Flow::Continue;
        for i in 0..self.readers.len() {
            if cx.shutdown.is_triggered() {
                flow = Flow::Stop;
                break;
            }
            if self.readers[i].key.is_none() && !self.identify(i, cx) {
                continue;
            }
            let reader = &mut self.readers[i];
            let turn = reader.read_turn(TURN_BYTES, now_nanos());
            progress |= turn.bytes_read > 0;
            let eof = turn.eof;
            if self.dispatch(i, turn, cx, out).await == Flow::Stop {
                flow = Flow::Stop;
                break;
            }
            if eof {
                let (changed, next) = self.at_end_of_file(i, cx, out).await;
                progress |= changed;
                if next == Flow::Stop {
                    flow = Flow::Stop;
                    break;
                }
            }
            self.drain_acks();
            self.write_checkpoints(false).await;
        }
        self.readers.retain(|r| !r.closed);
        (progress, flow)
    }

    /// Reader `i` read everything there is: was it truncated, and is it
    /// time to close it? Returns whether something changed.
    async fn at_end_of_file(&mut self, i: usize, cx: &Cx, out: &SourceOutputs) -> (bool, Flow) {
        let reader = &mut self.readers[i];
        let meta = match reader.file.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                report_read_error(reader, &e, cx);
                return (false, Flow::Continue);
            }
        };
        if meta.len() < reader.read_pos() {
            self.restart(
                i,
                "File was truncated; reading it again from the beginning.",
            );
            return (true, Flow::Continue);
        }
        if identity::is_deleted(&meta) && !reader.deleted {
            debug!(message = "File was deleted; closing it once read.", path = %reader.path.display());
            reader.deleted = true;
        }
        let idle_since = reader.gone_since.map(|g| g.max(reader.last_data));
        let rotated_and_quiet =
            idle_since.is_some_and(|t| t.elapsed() >= self.settings.scan_interval);
        if !(reader.deleted || rotated_and_quiet) {
            return (false, Flow::Continue);
        }
        // Nobody will finish its last line now: emit it as it is.
        let tail = reader.read_tail(now_nanos());
        info!(message = "Stopped reading a file that was rotated away or deleted.", path = %reader.path.display());
        reader.closed = true;
        let id = reader.id;
        let flow = self.dispatch(i, tail, cx, out).await;
        detach(&mut self.trackers, id);
        (true, flow)
    }

    /// Sends the batches of a turn and counts what it skipped.
    async fn dispatch(&mut self, i: usize, turn: Turn, cx: &Cx, out: &SourceOutputs) -> Flow {
        let reader = &mut self.readers[i];
        if let Some(e) = &turn.error {
            report_read_error(reader, e, cx);
        } else if turn.bytes_read > 0 {
            reader.read_error = None;
        }
        if turn.overlong > 0 {
            cx.metrics.add_discarded(turn.overlong, false);
            report_overlong(
                reader,
                turn.overlong,
                turn.longest_overlong,
                self.settings.max_line_bytes,
            );
        }
        let reader_id = reader.id;
        for cut in turn.cuts {
            let Some(tracker) = self.trackers.get_mut(&reader_id) else {
                // Cannot happen: a reader reads only once identified, which
                // creates its tracker. Sending untracked would commit nothing.
                warn!(message = "Lines read without commit tracking; skipped.", path = %reader.path.display());
                cx.metrics.add_error();
                return Flow::Continue;
            };
            if cut.events.is_empty() {
                if let Some(offset) = tracker.skip_to(cut.end) {
                    self.checkpoints.set_offset(tracker.key, offset, now_secs());
                }
                continue;
            }
            let seq = tracker.register(cut.end);
            self.in_flight += 1;
            let tx = self.ack_tx.clone();
            let notifier = BatchNotifier::new(move |status| {
                // The source is gone only when it no longer cares.
                let _ = tx.send(Ack {
                    reader: reader_id,
                    seq,
                    status,
                });
            });
            let events = cut.events.len();
            let batch = EventBatch::with_size(cut.events, cut.bytes)
                .with_finalizers(Finalizers::new(notifier));
            cx.metrics.add_received(events, cut.bytes);
            if send(cx, out, batch).await == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    // ---- acknowledgements and checkpoints -----------------------------

    fn drain_acks(&mut self) {
        while let Ok(ack) = self.ack_rx.try_recv() {
            self.on_ack(ack);
        }
    }

    fn on_ack(&mut self, ack: Ack) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let Some(tracker) = self.trackers.get_mut(&ack.reader) else {
            return;
        };
        let outcome = tracker.ack(ack.seq, ack.status);
        let (key, attached) = (tracker.key, tracker.attached);
        // A truncated file whose first line came back the same has the same
        // identity: offsets of its old content must not overwrite the new.
        let superseded = !attached
            && self
                .trackers
                .iter()
                .any(|(id, t)| *id != ack.reader && t.attached && t.key == key);
        if let Some(offset) = outcome.committed
            && !superseded
        {
            self.checkpoints.set_offset(key, offset, now_secs());
        }
        let Some(tracker) = self.trackers.get_mut(&ack.reader) else {
            return;
        };
        if outcome.newly_blocked {
            warn!(
                message = "A batch from this file was not delivered; its checkpoint stops here and the lines after it will be read again after a restart.",
                status = ?ack.status,
                committed_offset = tracker.committed(),
                path = %self.readers.iter().find(|r| r.id == ack.reader).map_or_else(String::new, |r| r.path.display().to_string()),
            );
        }
        if !tracker.attached && tracker.is_settled() {
            self.trackers.remove(&ack.reader);
        }
    }

    /// Starts a checkpoint write if the offsets changed and one is due;
    /// with `force`, writes now and waits for it (shutdown).
    async fn write_checkpoints(&mut self, force: bool) {
        if let Some(task) = self.writer.task.take_if(|t| force || t.is_finished()) {
            let result = task.await.unwrap_or_else(|e| Err(io::Error::other(e)));
            self.on_written(result);
        }
        if self.writer.task.is_some() {
            return;
        }
        if !force
            && self
                .writer
                .due(&self.checkpoints)
                .is_none_or(|due| due > Instant::now())
        {
            return;
        }
        for reader in &self.readers {
            if let Some(key) = &reader.key
                && let Ok(meta) = reader.file.metadata()
            {
                self.checkpoints.note_size(key, meta.len());
            }
        }
        let active: HashSet<FileKey> = self
            .readers
            .iter()
            .filter_map(|r| r.key)
            .chain(self.trackers.values().map(|t| t.key))
            .collect();
        let contents = self.checkpoints.serialize(now_secs(), &active);
        let dir = self.writer.dir.clone();
        let now = Instant::now();
        let durable = force
            || self
                .writer
                .last_sync
                .is_none_or(|t| now.duration_since(t) >= CHECKPOINT_SYNC_INTERVAL);
        self.writer.last_start = Some(now);
        if durable {
            self.writer.last_sync = Some(now);
        }
        let task =
            tokio::task::spawn_blocking(move || checkpoint::write_atomic(&dir, &contents, durable));
        if force {
            let result = task.await.unwrap_or_else(|e| Err(io::Error::other(e)));
            self.on_written(result);
        } else {
            self.writer.task = Some(task);
        }
    }

    /// A failed write leaves the previous file in place (writes replace
    /// it atomically) and is retried with backoff.
    fn on_written(&mut self, result: io::Result<()>) {
        let path = self.writer.dir.join(checkpoint::FILE_NAME);
        match result {
            Ok(()) => {
                self.writer.retry_at = None;
                self.writer.health.succeeded(&path);
            }
            Err(error) => {
                self.checkpoints.mark_dirty();
                let delay = self.writer.health.failed(&path, &error);
                self.writer.retry_at = Some(Instant::now() + delay);
            }
        }
    }
}

impl Writer {
    /// When the next checkpoint write should start; `None` if none is
    /// needed.
    fn due(&self, checkpoints: &Checkpoints) -> Option<Instant> {
        if !checkpoints.is_dirty() {
            return None;
        }
        let after_last = self.last_start.map(|t| t + CHECKPOINT_INTERVAL);
        // While a write is in flight, look again shortly (not in a loop).
        let in_flight = self.task.as_ref().map(|_| Instant::now() + WRITE_POLL);
        [after_last, self.retry_at, in_flight]
            .into_iter()
            .flatten()
            .max()
            .or_else(|| Some(Instant::now()))
    }
}

/// Sends a batch unless shutdown comes first. A batch abandoned at shutdown
/// is marked errored, so its offset is never committed.
async fn send(cx: &Cx, out: &SourceOutputs, batch: EventBatch) -> Flow {
    let finalizers = batch.finalizers.clone();
    tokio::select! {
        biased;
        sent = out.send(batch) => match sent {
            Ok(()) => Flow::Continue,
            // The output marked the batch errored already.
            Err(_) => {
                warn!(message = "Nothing consumes this source's output any more; stopping.");
                Flow::Stop
            }
        },
        _ = cx.shutdown.wait() => {
            finalizers.update_status(BatchStatus::Errored);
            Flow::Stop
        }
    }
}

/// The tracker of reader generation `id` gets no more batches; it goes once
/// settled.
fn detach(trackers: &mut HashMap<u64, Tracker>, id: u64) {
    if let Some(tracker) = trackers.get_mut(&id) {
        tracker.attached = false;
        if tracker.is_settled() {
            trackers.remove(&id);
        }
    }
}

/// Logs a read error once per file and cause, and counts it.
fn report_read_error(reader: &mut Reader, error: &io::Error, cx: &Cx) {
    if reader.read_error == Some(error.kind()) {
        return;
    }
    reader.read_error = Some(error.kind());
    cx.metrics.add_error();
    warn!(message = "Cannot read a file; will retry.", %error, path = %reader.path.display());
}

/// Warns about skipped overlong lines at most every 10 s per file.
fn report_overlong(reader: &mut Reader, count: usize, longest: usize, max_line_bytes: usize) {
    reader.overlong_unreported += count as u64;
    if reader
        .overlong_warned_at
        .is_some_and(|t| t.elapsed() < OVERLONG_WARN_INTERVAL)
    {
        return;
    }
    warn!(
        message = "Skipped lines longer than max_line_bytes.",
        skipped = reader.overlong_unreported,
        longest_bytes = longest,
        max_line_bytes,
        path = %reader.path.display()
    );
    reader.overlong_unreported = 0;
    reader.overlong_warned_at = Some(Instant::now());
}

/// The regular files directly in `dir`, by identity. A directory that
/// cannot be listed has none (its files count as gone).
fn files_by_id(dir: &Path) -> HashMap<FileId, PathBuf> {
    let listed = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let entries = match std::fs::read_dir(listed) {
        Ok(entries) => entries,
        Err(error) => {
            debug!(message = "Cannot list the directory of checkpointed files.", %error, path = %dir.display());
            return HashMap::new();
        }
    };
    entries
        .flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some((identity::file_id(&meta), dir.join(e.file_name())))
        })
        .collect()
}

/// Opens `path` if it is still the file `key` names (same device, inode
/// and first-line checksum), with its size; `None` if another file has
/// taken its inode.
fn open_same(path: &Path, key: FileKey) -> io::Result<Option<(File, u64)>> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    let same = identity::file_id(&meta) == (key.dev, key.inode)
        && fingerprint(&file, true)? == Some(key.checksum);
    Ok(same.then_some((file, meta.len())))
}

/// A checkpointed file is gone: if it still had lines not read when its
/// checkpoint was last written, they are lost, which is worth an error.
fn report_gone(entry: &Stored, cx: &Cx) {
    let Some(size) = entry.size.filter(|&size| size > entry.offset) else {
        return;
    };
    cx.metrics.add_error();
    warn!(
        message = "A file with lines not read yet is gone; those lines cannot be read.",
        path = %entry.path.display(),
        checkpoint_offset = entry.offset,
        unread_bytes = size - entry.offset,
    );
}

/// Whether `path` still leads to the file `id`.
fn path_leads_to(path: &Path, id: FileId) -> bool {
    std::fs::metadata(path).is_ok_and(|m| identity::file_id(&m) == id)
}

/// The stored checkpoints; an unusable file is logged, moved aside and
/// replaced by an empty set, never a reason to stop.
fn load_checkpoints(dir: &Path, cx: &Cx) -> Checkpoints {
    match Checkpoints::load(dir) {
        Ok(checkpoints) => {
            debug!(message = "Loaded checkpoints.", files = checkpoints.len());
            checkpoints
        }
        Err(error) => {
            cx.metrics.add_error();
            let path = dir.join(checkpoint::FILE_NAME);
            match checkpoint::move_aside(dir) {
                Ok(to) => warn!(
                    message = "Checkpoint file is unusable; moved it aside and starting without checkpoints.",
                    %error,
                    path = %path.display(),
                    moved_to = %to.display()
                ),
                Err(rename_error) => warn!(
                    message = "Checkpoint file is unusable and could not be moved aside; starting without checkpoints.",
                    %error,
                    %rename_error,
                    path = %path.display()
                ),
            }
            Checkpoints::default()
        }
    }
}
