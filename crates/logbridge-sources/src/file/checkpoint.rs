//! The committed offsets, in memory and in `<data_dir>/checkpoints.json`.
//!
//! The file is replaced atomically (temporary file, rename), so a crash
//! leaves either the old or the new version; durable writes also fsync the
//! file and the directory, so a power loss does too.
//! Each entry also keeps the file's size when it was last written, so that
//! a file gone at the next start with lines not read can be reported.
//! Entries of files not seen for [`PRUNE_AFTER_SECS`] are dropped. Loading
//! reports a corrupt file to the caller, which moves it aside; nothing here
//! panics on what it reads.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::identity::FileKey;

pub(super) const FILE_NAME: &str = "checkpoints.json";
const TMP_NAME: &str = "checkpoints.json.tmp";
pub(super) const CORRUPT_NAME: &str = "checkpoints.json.corrupt";
const VERSION: u32 = 1;

/// Checkpoints of files gone for this long are forgotten (7 days).
pub(super) const PRUNE_AFTER_SECS: i64 = 7 * 24 * 3600;

/// What `checkpoints.json` holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFile {
    version: u32,
    checkpoints: Vec<StoredEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredEntry {
    dev: u64,
    inode: u64,
    /// CRC32 of the file's first line.
    checksum: u32,
    /// Where the file was last seen; for people reading the file.
    path: String,
    /// Every line before this byte offset was delivered.
    offset: u64,
    /// The file's size when the entry was last written: past `offset`,
    /// lines not read yet (reported if the file is gone at the next start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// When the entry last changed or its file was last open.
    updated_unix_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    path: String,
    offset: u64,
    size: Option<u64>,
    updated_unix_secs: i64,
}

/// A stored checkpoint, as [`Checkpoints::entries`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stored {
    pub key: FileKey,
    pub path: PathBuf,
    pub offset: u64,
    pub size: Option<u64>,
}

/// The checkpoint file could not be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum LoadError {
    #[error("cannot read the checkpoint file: {0}")]
    Read(#[from] io::Error),
    #[error("the checkpoint file is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the checkpoint file has version {0}, this logbridge reads version {VERSION}")]
    Version(u32),
}

#[derive(Debug, Default)]
pub(super) struct Checkpoints {
    entries: HashMap<FileKey, Entry>,
    dirty: bool,
}

impl Checkpoints {
    /// Reads `dir/checkpoints.json`; no file is an empty set.
    pub(super) fn load(dir: &Path) -> Result<Checkpoints, LoadError> {
        let bytes = match std::fs::read(dir.join(FILE_NAME)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Checkpoints::default()),
            Err(e) => return Err(e.into()),
        };
        let stored: StoredFile = serde_json::from_slice(&bytes)?;
        if stored.version != VERSION {
            return Err(LoadError::Version(stored.version));
        }
        let entries = stored
            .checkpoints
            .into_iter()
            .map(|e| {
                let key = FileKey {
                    dev: e.dev,
                    inode: e.inode,
                    checksum: e.checksum,
                };
                let entry = Entry {
                    path: e.path,
                    offset: e.offset,
                    size: e.size,
                    updated_unix_secs: e.updated_unix_secs,
                };
                (key, entry)
            })
            .collect();
        Ok(Checkpoints {
            entries,
            dirty: false,
        })
    }

    pub(super) fn get(&self, key: &FileKey) -> Option<u64> {
        self.entries.get(key).map(|e| e.offset)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every checkpoint, in no particular order.
    pub(super) fn entries(&self) -> Vec<Stored> {
        self.entries
            .iter()
            .map(|(key, e)| Stored {
                key: *key,
                path: PathBuf::from(&e.path),
                offset: e.offset,
                size: e.size,
            })
            .collect()
    }

    /// Notes how big `key`'s file is now, for the next write; alone, this
    /// is no reason to write.
    pub(super) fn note_size(&mut self, key: &FileKey, size: u64) {
        if let Some(e) = self.entries.get_mut(key) {
            e.size = Some(size);
        }
    }

    /// Records that `key`, at `path`, is committed up to `offset`.
    pub(super) fn set(&mut self, key: FileKey, path: &Path, offset: u64, now_secs: i64) {
        let path = path.to_string_lossy();
        match self.entries.get_mut(&key) {
            Some(e) if e.offset == offset && e.path == path => {}
            Some(e) => {
                e.offset = offset;
                if e.path != path {
                    e.path = path.into_owned();
                }
                e.updated_unix_secs = now_secs;
                self.dirty = true;
            }
            None => {
                let entry = Entry {
                    path: path.into_owned(),
                    offset,
                    size: None,
                    updated_unix_secs: now_secs,
                };
                self.entries.insert(key, entry);
                self.dirty = true;
            }
        }
    }

    /// Moves `key`'s offset, keeping its path.
    pub(super) fn set_offset(&mut self, key: FileKey, offset: u64, now_secs: i64) {
        if let Some(e) = self.entries.get_mut(&key)
            && e.offset != offset
        {
            e.offset = offset;
            e.updated_unix_secs = now_secs;
            self.dirty = true;
        }
    }

    pub(super) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// A write failed: the next one must happen anyway.
    pub(super) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// The file's contents, now. Refreshes the time of the `active` files
    /// (open now) and drops the others once they are older than
    /// [`PRUNE_AFTER_SECS`].
    pub(super) fn serialize(&mut self, now_secs: i64, active: &HashSet<FileKey>) -> Vec<u8> {
        self.entries.retain(|key, e| {
            if active.contains(key) {
                e.updated_unix_secs = now_secs;
            }
            now_secs - e.updated_unix_secs < PRUNE_AFTER_SECS
        });
        self.dirty = false;
        let mut checkpoints: Vec<StoredEntry> = self
            .entries
            .iter()
            .map(|(key, e)| StoredEntry {
                dev: key.dev,
                inode: key.inode,
                checksum: key.checksum,
                path: e.path.clone(),
                offset: e.offset,
                size: e.size,
                updated_unix_secs: e.updated_unix_secs,
            })
            .collect();
        checkpoints.sort_by(|a, b| a.path.cmp(&b.path).then(a.inode.cmp(&b.inode)));
        // Serializing plain structs of numbers and strings cannot fail.
        serde_json::to_vec_pretty(&StoredFile {
            version: VERSION,
            checkpoints,
        })
        .unwrap_or_default()
    }
}

/// Replaces `dir/checkpoints.json` with `contents` atomically; with
/// `durable`, also fsyncs it so that it survives a power loss (without, it
/// survives a crash of the process, which is what frequent writes need).
pub(super) fn write_atomic(dir: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(TMP_NAME);
    let mut file = File::create(&tmp)?;
    file.write_all(contents)?;
    if durable {
        file.sync_all()?;
    }
    drop(file);
    std::fs::rename(&tmp, dir.join(FILE_NAME))?;
    // Make the rename itself durable. Some filesystems cannot sync a
    // directory; the rename still happened, so that is not an error.
    if durable && let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Moves an unusable checkpoint file out of the way (replacing an older
/// one), so that the next write does not destroy the evidence.
pub(super) fn move_aside(dir: &Path) -> io::Result<PathBuf> {
    let to = dir.join(CORRUPT_NAME);
    std::fs::rename(dir.join(FILE_NAME), &to)?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(inode: u64) -> FileKey {
        FileKey {
            dev: 1,
            inode,
            checksum: 7,
        }
    }

    #[test]
    fn round_trips_and_prunes_old_inactive_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Checkpoints::default();
        c.set(key(1), Path::new("/l/a.log"), 10, 1_000);
        c.set(key(2), Path::new("/l/b.log"), 20, 1_000);
        c.set(key(3), Path::new("/l/c.log"), 30, 1_000);
        assert!(c.is_dirty());
        let later = 1_000 + PRUNE_AFTER_SECS;
        let active = HashSet::from([key(2)]);
        c.set_offset(key(3), 31, later - 1);
        write_atomic(dir.path(), &c.serialize(later, &active), true).unwrap();
        assert!(!c.is_dirty());

        let loaded = Checkpoints::load(dir.path()).unwrap();
        assert_eq!(loaded.get(&key(1)), None, "old and inactive: pruned");
        assert_eq!(loaded.get(&key(2)), Some(20), "active: kept");
        assert_eq!(loaded.get(&key(3)), Some(31), "recently updated: kept");
        assert_eq!(loaded.len(), 2);
    }

    #[test]
    fn sizes_are_kept_and_files_without_them_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Checkpoints::default();
        c.set(key(1), Path::new("/l/a.log"), 10, 1_000);
        c.note_size(&key(1), 25);
        c.note_size(&key(9), 5);
        write_atomic(dir.path(), &c.serialize(1_000, &HashSet::new()), false).unwrap();
        let loaded = Checkpoints::load(dir.path()).unwrap();
        let entries = loaded.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].offset, entries[0].size),
            (10, Some(25)),
            "{entries:?}"
        );
        // Written before sizes were kept.
        std::fs::write(
            dir.path().join(FILE_NAME),
            br#"{"version":1,"checkpoints":[{"dev":1,"inode":2,"checksum":7,"path":"/l/b.log","offset":3,"updated_unix_secs":1000}]}"#,
        )
        .unwrap();
        let loaded = Checkpoints::load(dir.path()).unwrap();
        assert_eq!(loaded.entries()[0].size, None);
        assert_eq!(loaded.get(&key(2)), Some(3));
    }

    #[test]
    fn unchanged_values_do_not_dirty() {
        let mut c = Checkpoints::default();
        c.set(key(1), Path::new("/a"), 5, 1);
        let _ = c.serialize(1, &HashSet::new());
        c.set(key(1), Path::new("/a"), 5, 2);
        c.set_offset(key(1), 5, 3);
        c.set_offset(key(9), 5, 3);
        assert!(!c.is_dirty());
    }

    #[test]
    fn a_missing_file_is_empty_and_a_corrupt_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Checkpoints::load(dir.path()).unwrap().len(), 0);
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        assert!(matches!(
            Checkpoints::load(dir.path()),
            Err(LoadError::Parse(_))
        ));
        std::fs::write(
            dir.path().join(FILE_NAME),
            br#"{"version":99,"checkpoints":[]}"#,
        )
        .unwrap();
        assert!(matches!(
            Checkpoints::load(dir.path()),
            Err(LoadError::Version(99))
        ));
        move_aside(dir.path()).unwrap();
        assert!(dir.path().join(CORRUPT_NAME).exists());
        assert!(!dir.path().join(FILE_NAME).exists());
    }
}
