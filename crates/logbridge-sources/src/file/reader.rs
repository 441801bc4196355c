//! One open file being read: its position, its partial last line, and the
//! cutting of its lines into batches that each end at a known offset.
//!
//! Reads are plain positioned `std::fs::File` reads on the async task: a
//! local file is read from the page cache in microseconds (a 256 KiB read is
//! a memcpy), far less than handing each read to a blocking thread would
//! cost. This module never sends, acknowledges or decides when to close;
//! the source does.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use logbridge_codec::framing::{Frame, LineFramer};
use logbridge_event::{Event, KeyString, LogRecord, ObjectMap, Value};

use super::identity::{FileId, FileKey, read_at};

/// Bytes asked for per read.
pub(super) const CHUNK_BYTES: usize = 256 * 1024;
/// Lines per batch, at most.
pub(super) const BATCH_EVENTS: usize = 512;

/// Where to start once the file's identity is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resume {
    /// At the checkpoint if there is one, else at `otherwise` (0, or where
    /// the file ended when found at startup with `read_from = "end"`).
    Checkpoint { otherwise: u64 },
    /// At offset 0, whatever the checkpoints say (a truncated file).
    Beginning,
}

/// Lines cut from a file: a batch to send, or (with no events) a stretch of
/// skipped overlong lines, ending at file offset `end`.
#[derive(Debug)]
pub(super) struct Cut {
    pub events: Vec<Event>,
    /// Bytes of the lines, for the telemetry and the channel bound.
    pub bytes: usize,
    pub end: u64,
}

/// What one turn of reading produced.
#[derive(Debug, Default)]
pub(super) struct Turn {
    pub cuts: Vec<Cut>,
    pub bytes_read: usize,
    /// The read reached the end of the file.
    pub eof: bool,
    /// Overlong lines skipped, and the longest of them.
    pub overlong: usize,
    pub longest_overlong: usize,
    pub error: Option<io::Error>,
}

/// An open file and how far it was read.
pub(super) struct Reader {
    /// Names this generation of the file in acknowledgements; changes when
    /// the file is truncated.
    pub id: u64,
    pub file_id: FileId,
    /// `None` until the first line is complete.
    pub key: Option<FileKey>,
    pub resume: Resume,
    /// Where the file was last seen.
    pub path: PathBuf,
    pub file: File,
    /// The attributes every line gets (file path, host), shared values.
    attrs: Vec<(KeyString, Value)>,
    buf: BytesMut,
    framer: LineFramer,
    /// Offset of the next byte to read.
    read_pos: u64,
    /// Offset of `buf[0]`: the end of the last line cut.
    line_pos: u64,
    /// When bytes were last read.
    pub last_data: Instant,
    /// When a scan first missed the file at any matching path.
    pub gone_since: Option<Instant>,
    /// The file was unlinked.
    pub deleted: bool,
    /// The last read error logged, so each cause is logged once.
    pub read_error: Option<io::ErrorKind>,
    /// Rate limit of the overlong-line warning.
    pub overlong_warned_at: Option<Instant>,
    pub overlong_unreported: u64,
    pub closed: bool,
}

impl Reader {
    pub(super) fn new(
        id: u64,
        file_id: FileId,
        path: PathBuf,
        file: File,
        resume: Resume,
        attrs: Vec<(KeyString, Value)>,
        max_line_bytes: usize,
    ) -> Reader {
        Reader {
            id,
            file_id,
            key: None,
            resume,
            path,
            file,
            attrs,
            buf: BytesMut::new(),
            framer: LineFramer::new(max_line_bytes),
            read_pos: 0,
            line_pos: 0,
            last_data: Instant::now(),
            gone_since: None,
            deleted: false,
            read_error: None,
            overlong_warned_at: None,
            overlong_unreported: 0,
            closed: false,
        }
    }

    /// Offset of the next byte to read.
    pub(super) fn read_pos(&self) -> u64 {
        self.read_pos
    }

    pub(super) fn start_at(&mut self, offset: u64) {
        self.read_pos = offset;
        self.line_pos = offset;
        self.buf.clear();
        self.framer = LineFramer::new(self.framer.max_line_bytes());
    }

    /// The file now holds other content: read it again from the start as a
    /// new generation `id`, once its first line is complete.
    pub(super) fn restart(&mut self, id: u64) {
        self.id = id;
        self.key = None;
        self.resume = Resume::Beginning;
        self.start_at(0);
    }

    pub(super) fn is_gone(&self) -> bool {
        self.deleted || self.gone_since.is_some()
    }

    /// Reads up to about `budget` bytes (stopping at the end of the file)
    /// and cuts the complete lines into batches. A last line without its
    /// newline stays buffered: it may still be being written.
    pub(super) fn read_turn(&mut self, budget: usize, observed: i64) -> Turn {
        let mut turn = Turn::default();
        let mut cutter = Cutter::new(self.line_pos, &self.attrs, observed);
        while turn.bytes_read < budget {
            let start = self.buf.len();
            // Zeroing is the price of not using `unsafe` for uninitialised
            // memory; it is small next to framing the same bytes.
            self.buf.resize(start + CHUNK_BYTES, 0);
            let result = read_at(&self.file, &mut self.buf[start..], self.read_pos);
            let n = *result.as_ref().unwrap_or(&0);
            self.buf.truncate(start + n);
            match result {
                Ok(0) => {
                    turn.eof = true;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    turn.error = Some(e);
                    break;
                }
            }
            self.read_pos += n as u64;
            turn.bytes_read += n;
            self.framer
                .decode(&mut self.buf, |frame| cutter.push(frame));
        }
        self.line_pos = cutter.finish(&mut turn);
        if turn.bytes_read > 0 {
            self.last_data = Instant::now();
        }
        turn
    }

    /// The file is done with: cuts the last line even without its newline.
    pub(super) fn read_tail(&mut self, observed: i64) -> Turn {
        let mut turn = Turn::default();
        let mut cutter = Cutter::new(self.line_pos, &self.attrs, observed);
        while let Some(frame) = self.framer.finish(&mut self.buf) {
            cutter.push(frame);
        }
        self.line_pos = cutter.finish(&mut turn);
        turn
    }
}

/// Collects frames into batches, tracking the file offset.
struct Cutter<'a> {
    pos: u64,
    last_cut: u64,
    events: Vec<Event>,
    bytes: usize,
    cuts: Vec<Cut>,
    overlong: usize,
    longest_overlong: usize,
    attrs: &'a [(KeyString, Value)],
    /// This batch's own copies of `attrs`, made at its first line.
    batch_attrs: ObjectMap,
    observed: i64,
}

/// A copy of `value` that shares no reference count with other batches.
fn fresh(value: &Value) -> Value {
    match value {
        Value::Bytes(b) => Value::Bytes(Bytes::copy_from_slice(b)),
        other => other.clone(),
    }
}

impl<'a> Cutter<'a> {
    fn new(pos: u64, attrs: &'a [(KeyString, Value)], observed: i64) -> Cutter<'a> {
        Cutter {
            pos,
            last_cut: pos,
            events: Vec::new(),
            bytes: 0,
            cuts: Vec::new(),
            overlong: 0,
            longest_overlong: 0,
            attrs,
            batch_attrs: ObjectMap::new(),
            observed,
        }
    }

    fn push(&mut self, frame: Frame) {
        match frame {
            Frame::Line { line, consumed } => {
                self.pos += consumed as u64;
                self.bytes += line.len();
                if self.events.is_empty() && !self.attrs.is_empty() {
                    // Every line of a batch shares one copy of each value
                    // (cloning a `Bytes` is a reference count increment).
                    // One copy per batch, not per file: the sink drops a
                    // batch while the next is being filled, and a count
                    // shared by both would bounce between their cores.
                    self.batch_attrs = self
                        .attrs
                        .iter()
                        .map(|(k, v)| (k.clone(), fresh(v)))
                        .collect();
                }
                let mut record = LogRecord::from_line(line, self.observed);
                // One allocation of the right size, already sorted.
                record.attributes = self.batch_attrs.clone();
                self.events.push(Event::Log(record));
                if self.events.len() >= BATCH_EVENTS {
                    self.cut();
                }
            }
            Frame::Overlong { bytes, consumed } => {
                self.pos += consumed as u64;
                self.overlong += 1;
                self.longest_overlong = self.longest_overlong.max(bytes);
            }
        }
    }

    fn cut(&mut self) {
        if self.events.is_empty() && self.pos == self.last_cut {
            return;
        }
        // After a full batch the next one is likely full too: allocate it
        // whole instead of growing it.
        let capacity = if self.events.len() >= BATCH_EVENTS {
            BATCH_EVENTS
        } else {
            0
        };
        let events = std::mem::replace(&mut self.events, Vec::with_capacity(capacity));
        let bytes = std::mem::take(&mut self.bytes);
        self.cuts.push(Cut {
            events,
            bytes,
            end: self.pos,
        });
        self.last_cut = self.pos;
    }

    /// Cuts what is left into `turn`; returns the offset reached.
    fn finish(mut self, turn: &mut Turn) -> u64 {
        self.cut();
        turn.cuts = self.cuts;
        turn.overlong = self.overlong;
        turn.longest_overlong = self.longest_overlong;
        self.pos
    }
}
