//! One output file of the `file` sink, open for appending: its compressor
//! and the whole-or-nothing append of a batch's bytes.
//!
//! A write that fails part way (a full disk) is cut back to where the file
//! ended before it, so the file only ever holds whole records and a retry
//! writes the same bytes again: no torn line, no duplicate. Compressed
//! bytes are produced once per batch and kept until written, because the
//! compressor's state already includes them. It decides nothing about
//! retries, paths or acknowledgements; the sink does.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use super::Compression;

/// The compressor of an open file; `Plain` writes the bytes as they are.
enum Compressor {
    Plain,
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Compressor {
    fn new(compression: Compression) -> io::Result<Compressor> {
        Ok(match compression {
            Compression::None => Compressor::Plain,
            Compression::Gzip => Compressor::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            )),
            Compression::Zstd => {
                Compressor::Zstd(zstd::stream::write::Encoder::new(Vec::new(), 3)?)
            }
        })
    }

    /// Compresses `buf` and flushes, so that every line of it can be read
    /// back from the bytes returned.
    fn compress(&mut self, buf: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Compressor::Plain => Ok(buf.to_vec()),
            Compressor::Gzip(g) => {
                g.write_all(buf)?;
                g.flush()?;
                Ok(std::mem::take(g.get_mut()))
            }
            Compressor::Zstd(z) => {
                z.write_all(buf)?;
                z.flush()?;
                Ok(std::mem::take(z.get_mut()))
            }
        }
    }

    /// The end of the compressed stream.
    fn finish(self) -> io::Result<Vec<u8>> {
        match self {
            Compressor::Plain => Ok(Vec::new()),
            Compressor::Gzip(g) => g.finish(),
            Compressor::Zstd(z) => z.finish(),
        }
    }
}

/// An output file open for appending.
pub(super) struct OutputFile {
    file: File,
    compressor: Compressor,
    /// Compressed bytes of the batch being written, until they are.
    unwritten: Option<Vec<u8>>,
    /// Where a failed write could not be cut back to; cut before the next.
    torn_at: Option<u64>,
    pub(super) last_write: Instant,
}

impl OutputFile {
    pub(super) fn open(path: &Path, compression: Compression) -> io::Result<OutputFile> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(OutputFile {
            file,
            compressor: Compressor::new(compression)?,
            unwritten: None,
            torn_at: None,
            last_write: Instant::now(),
        })
    }

    /// Appends `buf` (compressed if the file is) whole, or returns the error
    /// with the file as it was before. Call again with the same `buf` to
    /// retry.
    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(at) = self.torn_at {
            self.file.set_len(at)?;
            self.torn_at = None;
        }
        if self.unwritten.is_none() && !matches!(self.compressor, Compressor::Plain) {
            self.unwritten = Some(self.compressor.compress(buf)?);
        }
        let bytes = self.unwritten.as_deref().unwrap_or(buf);
        append_whole(&self.file, bytes, &mut self.torn_at)?;
        self.unwritten = None;
        self.last_write = Instant::now();
        Ok(())
    }

    /// Whether the file may be closed and opened again after a failed
    /// write without losing anything: a plain file cut back to its last
    /// whole line (a compressed one keeps its stream's state).
    pub(super) fn can_reopen(&self) -> bool {
        self.torn_at.is_none() && matches!(self.compressor, Compressor::Plain)
    }

    /// Ends the compressed stream (a plain file has nothing to end).
    pub(super) fn finish(mut self) -> io::Result<()> {
        if let Some(at) = self.torn_at {
            self.file.set_len(at)?;
        }
        let mut torn_at = None;
        // The stream's checksum covers bytes compressed and not written:
        // without them its end would not match. They are not acknowledged,
        // so they may be written again after a restart (at least once).
        if let Some(unwritten) = self.unwritten.take() {
            append_whole(&self.file, &unwritten, &mut torn_at)?;
        }
        let tail = self.compressor.finish()?;
        append_whole(&self.file, &tail, &mut torn_at)
    }
}

/// Appends `bytes` to `file`; on failure cuts the file back to its length
/// before (or, if even that fails, notes in `torn_at` where to cut).
fn append_whole(mut file: &File, bytes: &[u8], torn_at: &mut Option<u64>) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let before = file.metadata()?.len();
    let Err(error) = file.write_all(bytes) else {
        return Ok(());
    };
    if file.set_len(before).is_err() {
        *torn_at = Some(before);
    }
    Err(error)
}
