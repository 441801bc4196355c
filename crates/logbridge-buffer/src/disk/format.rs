//! The on-disk layout: segment file names, record framing, scanning a
//! segment for its valid prefix, the ledger file and quarantine copies.
//!
//! Pure file-format code: no shared state, no async. Scanning works on bytes
//! already read and never panics on any content.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[u32 LE payload length][u32 LE crc32 of payload]`.
pub(crate) const HEADER_LEN: u64 = 8;
pub(crate) const LEDGER_FILE: &str = "ledger.json";
pub(crate) const QUARANTINE_DIR: &str = "quarantine";
const SEGMENT_SUFFIX: &str = ".seg";

pub(crate) fn segment_name(id: u64) -> String {
    format!("{id:020}{SEGMENT_SUFFIX}")
}

pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(segment_name(id))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(SEGMENT_SUFFIX)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// The ids of the segment files in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_segment_name) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Fills in the header of a frame whose payload starts at
/// `frame[HEADER_LEN..]`. Returns `None` when the payload is too long for a
/// `u32` length.
pub(crate) fn seal_frame(frame: &mut [u8]) -> Option<()> {
    let (header, payload) = frame.split_at_mut(HEADER_LEN as usize);
    let len = u32::try_from(payload.len()).ok()?;
    header[..4].copy_from_slice(&len.to_le_bytes());
    header[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    Some(())
}

/// Parses a header: (payload length, crc).
pub(crate) fn parse_header(header: [u8; 8]) -> (u64, u32) {
    let [a, b, c, d, e, f, g, h] = header;
    (
        u64::from(u32::from_le_bytes([a, b, c, d])),
        u32::from_le_bytes([e, f, g, h]),
    )
}

/// How a segment's bytes end after its last valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Ends exactly after a valid record.
    Clean,
    /// An incomplete record (a short write cut by a crash) starts here.
    Torn { at: u64 },
    /// A complete record whose checksum or length is wrong starts here.
    Damaged { at: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Valid records from the start offset.
    pub records: u64,
    /// End of the last valid record (the start offset if none).
    pub end: u64,
    pub tail: Tail,
}

/// Walks the records of `data` from `start` and finds where the valid
/// prefix ends.
pub(crate) fn scan(data: &[u8], start: u64) -> Scan {
    let total = data.len() as u64;
    let mut pos = start.min(total);
    let mut records = 0;
    let tail = loop {
        let rest = &data[pos as usize..];
        if rest.is_empty() {
            break Tail::Clean;
        }
        let Some(header) = rest.first_chunk::<8>() else {
            break Tail::Torn { at: pos };
        };
        let (len, crc) = parse_header(*header);
        let body = &rest[HEADER_LEN as usize..];
        if len == 0 {
            // Filesystems may leave a zero-filled tail after a crash.
            if rest.iter().all(|&b| b == 0) {
                break Tail::Torn { at: pos };
            }
            break Tail::Damaged { at: pos };
        }
        let Some(payload) = body.get(..len as usize) else {
            break Tail::Torn { at: pos };
        };
        if crc32fast::hash(payload) != crc {
            break Tail::Damaged { at: pos };
        }
        records += 1;
        pos += HEADER_LEN + len;
    };
    Scan {
        records,
        end: pos,
        tail,
    }
}

/// The persisted read position: everything before (`segment`, `offset`)
/// has been acknowledged; the record there gets id `next_record_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ledger {
    pub version: u32,
    pub segment: u64,
    pub offset: u64,
    pub next_record_id: u64,
}

impl Ledger {
    pub(crate) fn new(segment: u64, offset: u64, next_record_id: u64) -> Ledger {
        Ledger {
            version: 1,
            segment,
            offset,
            next_record_id,
        }
    }
}

/// Reads the ledger; a missing or unreadable one is `None` (reading then
/// starts at the oldest segment: duplicates, never loss).
pub(crate) fn read_ledger(dir: &Path) -> io::Result<Option<Ledger>> {
    let text = match fs::read(dir.join(LEDGER_FILE)) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    match serde_json::from_slice::<Ledger>(&text) {
        Ok(ledger) if ledger.version == 1 => Ok(Some(ledger)),
        Ok(ledger) => {
            tracing::warn!(
                message = "Unknown disk buffer ledger version; replaying from the oldest segment.",
                version = ledger.version,
            );
            Ok(None)
        }
        Err(error) => {
            tracing::warn!(
                message = "Unreadable disk buffer ledger; replaying from the oldest segment.",
                %error,
            );
            Ok(None)
        }
    }
}

/// Writes the ledger atomically: a temporary file, fsync, rename, fsync of
/// the directory.
pub(crate) fn write_ledger(dir: &Path, ledger: &Ledger) -> io::Result<()> {
    let tmp = dir.join("ledger.json.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(&serde_json::to_vec(ledger).map_err(io::Error::other)?)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(LEDGER_FILE))?;
    sync_dir(dir)
}

/// Makes created, renamed and removed names in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Copies `bytes` (the damaged rest of segment `id` from `offset`) to
/// `quarantine/<segment>-<offset>.seg` and returns that path.
pub(crate) fn quarantine(dir: &Path, id: u64, offset: u64, bytes: &[u8]) -> io::Result<PathBuf> {
    let qdir = dir.join(QUARANTINE_DIR);
    fs::create_dir_all(&qdir)?;
    let path = qdir.join(format!("{id:020}-{offset}{SEGMENT_SUFFIX}"));
    let mut file = File::create(&path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    sync_dir(&qdir)?;
    Ok(path)
}

/// Cuts segment `id` at `len` bytes, durably.
pub(crate) fn truncate_segment(dir: &Path, id: u64, len: u64) -> io::Result<()> {
    let file = fs::OpenOptions::new()
        .write(true)
        .open(segment_path(dir, id))?;
    file.set_len(len)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0; 8];
        f.extend_from_slice(payload);
        seal_frame(&mut f).unwrap();
        f
    }

    #[test]
    fn scan_finds_clean_torn_and_damaged_tails() {
        let mut data = frame(b"one");
        data.extend(frame(b"two"));
        let clean = scan(&data, 0);
        assert_eq!((clean.records, clean.end, clean.tail), (2, 22, Tail::Clean));
        assert_eq!(scan(&data, 11).records, 1);
        let torn = scan(&data[..20], 0);
        assert_eq!((torn.records, torn.tail), (1, Tail::Torn { at: 11 }));
        let mut damaged = data.clone();
        damaged[9] ^= 1;
        assert_eq!(scan(&damaged, 0).tail, Tail::Damaged { at: 0 });
        let mut zeros = data.clone();
        zeros.extend([0; 16]);
        assert_eq!(scan(&zeros, 0).tail, Tail::Torn { at: 22 });
    }

    #[test]
    fn segment_names_sort_and_parse() {
        assert_eq!(segment_name(1), "00000000000000000001.seg");
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name("1.seg"), None);
        assert_eq!(parse_segment_name("ledger.json"), None);
    }
}
