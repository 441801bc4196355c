//! The cut journal: where the `aws_s3` sink cut Kafka records into
//! objects, recorded before each upload, so that after a crash the records
//! read again are cut at the same offsets and land in objects of the same
//! names, overwriting instead of duplicating.
//!
//! One JSON line per event in `data_dir/<sink id>/cuts.jsonl`: an `intent`
//! (fsynced before the upload starts) and a `done` once the object is
//! written. A torn last line is ignored. The journal keeps the most recent
//! [`KEEP_PER_PARTITION`] cuts of each prefix and partition (older records
//! were committed long ago); it is compacted when opened and whenever it
//! has grown to several times what it keeps.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Cuts kept per prefix and partition when the journal is compacted.
const KEEP_PER_PARTITION: usize = 1000;

/// The group of records one object may hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CutGroup {
    pub prefix: String,
    pub topic: String,
    pub partition: i32,
}

/// One cut: an object holding the group's records from `first` to `last`
/// offset, `events` events in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut {
    pub first: i64,
    pub last: i64,
    pub events: usize,
    /// The object was written.
    pub done: bool,
}

#[derive(Serialize, Deserialize)]
struct Line {
    prefix: String,
    topic: String,
    partition: i32,
    first: i64,
    last: i64,
    events: usize,
    done: bool,
}

/// The journal, in memory and on disk.
pub(crate) struct CutJournal {
    path: PathBuf,
    file: Option<File>,
    cuts: HashMap<CutGroup, BTreeMap<i64, Cut>>,
    /// Lines in the file.
    lines: usize,
}

/// The journal is compacted once it has this many lines more than it
/// keeps (and at least twice as many).
const COMPACT_SLACK: usize = 10_000;

impl CutJournal {
    /// Loads (and compacts) the journal in `dir`, creating it if needed.
    pub(crate) fn open(dir: &Path) -> io::Result<CutJournal> {
        fs::create_dir_all(dir)?;
        let path = dir.join("cuts.jsonl");
        let mut journal = CutJournal {
            path,
            file: None,
            cuts: HashMap::new(),
            lines: 0,
        };
        let mut lines = 0;
        if let Ok(file) = File::open(&journal.path) {
            for line in BufReader::new(file).lines() {
                let Ok(line) = line else { break };
                // A torn line (a crash mid-append) ends the journal.
                let Ok(l) = serde_json::from_str::<Line>(&line) else {
                    break;
                };
                lines += 1;
                let group = CutGroup {
                    prefix: l.prefix,
                    topic: l.topic,
                    partition: l.partition,
                };
                journal.insert(
                    group,
                    Cut {
                        first: l.first,
                        last: l.last,
                        events: l.events,
                        done: l.done,
                    },
                );
            }
        }
        journal.lines = lines;
        if lines > journal.kept() {
            journal.rewrite()?;
        }
        journal.reopen()?;
        Ok(journal)
    }

    fn kept(&self) -> usize {
        self.cuts.values().map(BTreeMap::len).sum()
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.file = Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        Ok(())
    }

    fn insert(&mut self, group: CutGroup, cut: Cut) {
        let cuts = self.cuts.entry(group).or_default();
        cuts.insert(cut.first, cut);
        while cuts.len() > KEEP_PER_PARTITION {
            cuts.pop_first();
        }
    }

    /// Writes the compacted journal and swaps it in.
    fn rewrite(&mut self) -> io::Result<()> {
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        let mut groups: Vec<_> = self.cuts.iter().collect();
        groups.sort_by(|a, b| a.0.cmp(b.0));
        for (group, cuts) in groups {
            for cut in cuts.values() {
                write_line(&mut out, group, cut)?;
            }
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        self.lines = self.kept();
        Ok(())
    }

    /// The recorded cut holding `offset`, if any.
    pub(crate) fn find(&self, group: &CutGroup, offset: i64) -> Option<Cut> {
        let (_, cut) = self.cuts.get(group)?.range(..=offset).next_back()?;
        (offset <= cut.last).then_some(*cut)
    }

    /// Records a cut before its object is written; durable on return.
    pub(crate) fn record_intent(&mut self, group: &CutGroup, cut: Cut) -> io::Result<()> {
        self.append(group, &cut, true)?;
        self.insert(group.clone(), cut);
        Ok(())
    }

    /// Records that a cut's object was written. Not synced: losing it
    /// only means a replay writes the object again.
    pub(crate) fn record_done(&mut self, group: &CutGroup, mut cut: Cut) -> io::Result<()> {
        cut.done = true;
        self.append(group, &cut, false)?;
        self.insert(group.clone(), cut);
        Ok(())
    }

    fn append(&mut self, group: &CutGroup, cut: &Cut, sync: bool) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("the cut journal is not open"));
        };
        let mut line = Vec::with_capacity(128);
        write_line(&mut line, group, cut)?;
        file.write_all(&line)?;
        if sync {
            file.sync_data()?;
        }
        self.lines += 1;
        let kept = self.kept();
        if self.lines > (kept * 2).max(kept + COMPACT_SLACK) {
            self.rewrite()?;
            self.reopen()?;
        }
        Ok(())
    }
}

fn write_line(out: &mut impl Write, group: &CutGroup, cut: &Cut) -> io::Result<()> {
    let line = Line {
        prefix: group.prefix.clone(),
        topic: group.topic.clone(),
        partition: group.partition,
        first: cut.first,
        last: cut.last,
        events: cut.events,
        done: cut.done,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> CutGroup {
        CutGroup {
            prefix: "app/".into(),
            topic: "logs".into(),
            partition: 1,
        }
    }

    fn cut(first: i64, last: i64) -> Cut {
        Cut {
            first,
            last,
            events: (last - first + 1) as usize,
            done: false,
        }
    }

    #[test]
    fn cuts_survive_a_restart_and_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = CutJournal::open(dir.path()).unwrap();
        j.record_intent(&group(), cut(0, 99)).unwrap();
        j.record_done(&group(), cut(0, 99)).unwrap();
        j.record_intent(&group(), cut(100, 149)).unwrap();
        drop(j);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("cuts.jsonl"))
            .unwrap();
        f.write_all(b"{\"prefix\":\"app/\",\"top").unwrap();
        let j = CutJournal::open(dir.path()).unwrap();
        assert_eq!(j.find(&group(), 0).unwrap().last, 99);
        assert!(j.find(&group(), 50).unwrap().done);
        let open = j.find(&group(), 120).unwrap();
        assert_eq!((open.first, open.last, open.done), (100, 149, false));
        assert!(j.find(&group(), 150).is_none());
        let other = CutGroup {
            partition: 2,
            ..group()
        };
        assert!(j.find(&other, 0).is_none());
    }

    #[test]
    fn a_long_running_journal_is_compacted_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = CutJournal::open(dir.path()).unwrap();
        let n = (KEEP_PER_PARTITION + COMPACT_SLACK) as i64;
        for i in 0..n {
            // Two lines per cut, as intent and done write (`done` alone
            // skips the fsync, to keep the test fast).
            j.record_done(&group(), cut(i * 10, i * 10 + 9)).unwrap();
            j.record_done(&group(), cut(i * 10, i * 10 + 9)).unwrap();
        }
        let text = fs::read_to_string(dir.path().join("cuts.jsonl")).unwrap();
        assert!(
            text.lines().count() < 2 * n as usize,
            "{}",
            text.lines().count()
        );
        assert!(j.find(&group(), (n - 1) * 10).unwrap().done);
        drop(j);
        let j = CutJournal::open(dir.path()).unwrap();
        assert!(j.find(&group(), (n - 1) * 10 + 5).unwrap().done);
    }

    #[test]
    fn old_cuts_are_compacted_away() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = CutJournal::open(dir.path()).unwrap();
        for i in 0..(KEEP_PER_PARTITION as i64 + 10) {
            j.record_intent(&group(), cut(i * 10, i * 10 + 9)).unwrap();
        }
        drop(j);
        let j = CutJournal::open(dir.path()).unwrap();
        assert!(j.find(&group(), 0).is_none());
        assert!(j.find(&group(), 10_050).is_some());
        let text = fs::read_to_string(dir.path().join("cuts.jsonl")).unwrap();
        assert_eq!(text.lines().count(), KEEP_PER_PARTITION);
    }
}
