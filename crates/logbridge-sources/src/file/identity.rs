//! What makes a file the same file: (device, inode) plus a CRC32 of its
//! first line (at most [`FINGERPRINT_BYTES`]). The inode follows a file
//! through a rename; the checksum tells a file rewritten in place
//! (copytruncate) or a recycled inode from the file that was there before.
//!
//! Also the few platform calls the source needs (positioned reads, file ids,
//! link counts), so that the rest of the module has no `cfg`. The source is
//! written for Unix; elsewhere reads fail with `Unsupported`.

use std::fs::{File, Metadata};
use std::io;

/// How much of a first line the checksum covers.
pub(super) const FINGERPRINT_BYTES: usize = 1024;

/// A file's identity, as stored in checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FileKey {
    pub dev: u64,
    pub inode: u64,
    pub checksum: u32,
}

/// (device, inode): which open file a path leads to.
pub(super) type FileId = (u64, u64);

#[cfg(unix)]
pub(super) fn file_id(meta: &Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
pub(super) fn file_id(_meta: &Metadata) -> FileId {
    (0, 0)
}

/// Whether the file was unlinked (still readable through an open handle).
#[cfg(unix)]
pub(super) fn is_deleted(meta: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.nlink() == 0
}

#[cfg(not(unix))]
pub(super) fn is_deleted(_meta: &Metadata) -> bool {
    false
}

/// Reads at `offset` without moving the file's cursor (`pread`).
#[cfg(unix)]
pub(super) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
pub(super) fn read_at(_file: &File, _buf: &mut [u8], _offset: u64) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the file source needs a Unix system",
    ))
}

/// Fills as much of `buf` as the file holds from `offset`.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(file, &mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The checksum of the first line; `None` while that line is incomplete
/// and shorter than [`FINGERPRINT_BYTES`] (it may still be being written,
/// and an identity must not change once taken). With `partial_ok`, whatever
/// is there counts (a file that is gone will not grow its first line).
pub(super) fn fingerprint(file: &File, partial_ok: bool) -> io::Result<Option<u32>> {
    let mut head = [0u8; FINGERPRINT_BYTES];
    let n = read_full_at(file, &mut head, 0)?;
    let head = &head[..n];
    let first_line = match head.iter().position(|&b| b == b'\n') {
        Some(newline) => &head[..=newline],
        None if n == FINGERPRINT_BYTES || partial_ok => head,
        None => return Ok(None),
    };
    Ok(Some(crc32fast::hash(first_line)))
}

/// How far back [`line_start_before`] looks for a newline.
const TAIL_WINDOW: u64 = 64 * 1024;

/// The start of the line that `end` falls in: just after the last `\n`
/// before `end`, or 0 if there is none; `end` itself if the line started
/// more than 64 KiB earlier. Starting a file "at the end" there means a
/// line half-written at startup is read whole once finished.
pub(super) fn line_start_before(file: &File, end: u64) -> io::Result<u64> {
    let from = end.saturating_sub(TAIL_WINDOW);
    let mut tail = vec![0u8; (end - from) as usize];
    let n = read_full_at(file, &mut tail, from)?;
    Ok(match tail[..n].iter().rposition(|&b| b == b'\n') {
        Some(newline) => from + newline as u64 + 1,
        None if from == 0 => 0,
        None => end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(content: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        let handle = f.reopen().unwrap();
        (f, handle)
    }

    #[test]
    fn fingerprint_waits_for_a_complete_first_line() {
        let (_t, f) = file_with(b"partial");
        assert_eq!(fingerprint(&f, false).unwrap(), None);
        assert_eq!(
            fingerprint(&f, true).unwrap(),
            Some(crc32fast::hash(b"partial"))
        );
        let (_t, f) = file_with(b"first\nsecond\n");
        assert_eq!(
            fingerprint(&f, false).unwrap(),
            Some(crc32fast::hash(b"first\n"))
        );
        let (_t, empty) = file_with(b"");
        assert_eq!(fingerprint(&empty, false).unwrap(), None);
    }

    #[test]
    fn fingerprint_of_a_long_first_line_covers_its_start() {
        let long = vec![b'x'; 3000];
        let (_t, f) = file_with(&long);
        assert_eq!(
            fingerprint(&f, false).unwrap(),
            Some(crc32fast::hash(&long[..FINGERPRINT_BYTES]))
        );
    }

    #[test]
    fn line_start_before_finds_the_last_newline() {
        let (_t, f) = file_with(b"a\nbb\nhalf");
        assert_eq!(line_start_before(&f, 9).unwrap(), 5);
        assert_eq!(line_start_before(&f, 5).unwrap(), 5);
        assert_eq!(line_start_before(&f, 0).unwrap(), 0);
        let (_t, f) = file_with(b"nonewline");
        assert_eq!(line_start_before(&f, 9).unwrap(), 0);
        let mut long = vec![b'x'; 70 * 1024];
        long[10] = b'\n';
        let (_t, f) = file_with(&long);
        assert_eq!(
            line_start_before(&f, long.len() as u64).unwrap(),
            long.len() as u64
        );
    }
}
