//! The `file` source's options (the user reference) and their validation.
//!
//! Building checks the options and compiles the globs; it must not touch
//! the filesystem, because `logbridge validate` builds every component.

use std::time::Duration;

use logbridge_component::{BuildContext, BuildError, OutputDef, Source, SourceConfig};
use logbridge_event::{DataKind, KeyString};
use serde::Deserialize;

use super::discovery::Discovery;
use super::source::FileSource;

/// Reads lines from files, following them as they grow and as they are
/// rotated, and remembers how far it got (after downstream acknowledged)
/// in `checkpoints.json` under the component's data directory. A file
/// renamed while logbridge was stopped, even to a name the patterns no
/// longer match (`app.log.1`), is found again in its directory by its
/// identity and read to its end; one gone with lines not read is reported.
/// While `checkpoints.json` cannot be written for lack of space, reading
/// pauses (`logbridge_component_disk_full{part="checkpoints"}` is 1).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Glob patterns of the files to read, such as `/var/log/app/*.log`.
    /// `*` and `?` do not cross a `/`; `**` matches any number of
    /// directories (`/var/log/**/*.log`); `[abc]` and `{a,b}` work too.
    /// Patterns match the full path, so give absolute paths. The part of a
    /// pattern before its first wildcard is the directory that is searched.
    pub include: Vec<String>,
    /// Glob patterns of files to skip even when `include` matches them,
    /// such as `/var/log/app/*.gz`. They also match the full path.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Where to start reading a file that is already there when logbridge
    /// starts and that has no checkpoint: `beginning` (read everything it
    /// holds) or `end` (only lines written from now on). Files that appear
    /// later are always read from the beginning, and a file with a
    /// checkpoint always resumes where it stopped.
    #[serde(default)]
    pub read_from: ReadFrom,
    /// The longest line accepted, in bytes. A longer line is skipped (and
    /// counted as discarded) without ever being held in memory whole.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// How often to look for new, rotated and deleted files, in
    /// milliseconds. Files already open are read as soon as they grow
    /// whatever this is set to.
    #[serde(default = "default_glob_minimum_cooldown_ms")]
    pub glob_minimum_cooldown_ms: u64,
    /// The field that receives the path of the file a line came from. An
    /// empty string leaves it out.
    #[serde(default = "default_file_key")]
    pub file_key: String,
    /// The field that receives the host name of the machine. An empty
    /// string leaves it out.
    #[serde(default = "default_host_key")]
    pub host_key: String,
}

/// Where to start in a file found at startup without a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// Read the file from its first line.
    #[default]
    Beginning,
    /// Skip what the file already holds; read only what is written next.
    End,
}

fn default_max_line_bytes() -> usize {
    102_400
}

fn default_glob_minimum_cooldown_ms() -> u64 {
    1_000
}

fn default_file_key() -> String {
    "file".to_owned()
}

fn default_host_key() -> String {
    "host".to_owned()
}

/// The options once validated, in the types the source works with.
#[derive(Debug)]
pub(super) struct Settings {
    pub discovery: Discovery,
    pub read_from: ReadFrom,
    pub max_line_bytes: usize,
    pub scan_interval: Duration,
    pub file_key: Option<KeyString>,
    pub host_key: Option<KeyString>,
}

impl FileConfig {
    fn settings(&self) -> Result<Settings, BuildError> {
        if self.max_line_bytes == 0 {
            return Err(BuildError::new(
                "max_line_bytes",
                "max_line_bytes must be above 0",
            ));
        }
        if self.glob_minimum_cooldown_ms == 0 {
            return Err(BuildError::new(
                "glob_minimum_cooldown_ms",
                "glob_minimum_cooldown_ms must be above 0",
            )
            .with_hint("1000 (one scan a second) suits most setups"));
        }
        let discovery = Discovery::new(&self.include, &self.exclude)?;
        let key = |k: &str| (!k.is_empty()).then(|| KeyString::from(k));
        Ok(Settings {
            discovery,
            read_from: self.read_from,
            max_line_bytes: self.max_line_bytes,
            scan_interval: Duration::from_millis(self.glob_minimum_cooldown_ms),
            file_key: key(&self.file_key),
            host_key: key(&self.host_key),
        })
    }
}

impl SourceConfig for FileConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        Ok(Box::new(FileSource::new(self.settings()?)))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::LOG)]
    }

    fn can_acknowledge(&self) -> bool {
        true
    }
}
