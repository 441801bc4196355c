//! Finding the files that match the `include` globs and not the `exclude`
//! ones, and logging the errors met on the way once per path and cause.
//!
//! Each pattern is walked from its non-glob prefix (`/var/log/app` for
//! `/var/log/app/*.log`) with `std::fs`, no deeper than the pattern can
//! match. This module only lists paths; it opens nothing for reading.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use logbridge_component::BuildError;
use logbridge_component::telemetry::ComponentMetrics;
use tracing::warn;

/// How deep a `**` pattern is followed. Symbolic links to directories are
/// followed, so this also stops a link loop.
const MAX_DEPTH: usize = 32;

/// Where one pattern's files can be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    /// A pattern without wildcards: exactly this file.
    File(PathBuf),
    /// Files at most `depth` levels below `dir` (1: directly in it).
    Dir { dir: PathBuf, depth: usize },
}

/// The compiled `include` and `exclude` patterns.
#[derive(Debug)]
pub(super) struct Discovery {
    include: GlobSet,
    exclude: GlobSet,
    roots: Vec<Root>,
}

fn compile(option: &str, patterns: &[String]) -> Result<GlobSet, BuildError> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                BuildError::new(
                    option,
                    format!("`{pattern}` is not a valid glob: {}", e.kind()),
                )
            })?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| BuildError::new(option, format!("invalid globs: {e}")))
}

fn is_glob(component: &str) -> bool {
    component.contains(['*', '?', '[', '{', '\\'])
}

/// The directory to walk for `pattern` and how deep.
fn root_of(pattern: &str) -> Root {
    let parts: Vec<&str> = pattern.split('/').collect();
    let Some(first_glob) = parts.iter().position(|p| is_glob(p)) else {
        return Root::File(PathBuf::from(pattern));
    };
    let prefix = parts[..first_glob].join("/");
    let dir = if prefix.is_empty() && pattern.starts_with('/') {
        "/".to_owned()
    } else {
        prefix
    };
    let rest = &parts[first_glob..];
    // A `/` inside `{a,b/c}` splits too, so the depth can only be
    // overestimated, which costs a deeper walk, never a missed file.
    let depth = if rest.iter().any(|p| p.contains("**")) {
        MAX_DEPTH
    } else {
        rest.len()
    };
    Root::Dir {
        dir: PathBuf::from(dir),
        depth,
    }
}

impl Discovery {
    pub(super) fn new(include: &[String], exclude: &[String]) -> Result<Discovery, BuildError> {
        if include.is_empty() {
            return Err(
                BuildError::new("include", "include needs at least one pattern")
                    .with_hint("for example include = [\"/var/log/app/*.log\"]"),
            );
        }
        let mut roots: Vec<Root> = Vec::new();
        for root in include.iter().map(|p| root_of(p)) {
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
        Ok(Discovery {
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
            roots,
        })
    }

    pub(super) fn matches(&self, path: &Path) -> bool {
        self.include.is_match(path) && !self.exclude.is_match(path)
    }

    /// The paths of the regular files that match now, in sorted order.
    pub(super) fn find(
        &self,
        errors: &mut ErrorLog,
        metrics: &ComponentMetrics,
    ) -> BTreeSet<PathBuf> {
        let mut found = BTreeSet::new();
        for root in &self.roots {
            match root {
                Root::File(path) => match std::fs::metadata(path) {
                    Ok(meta) if meta.is_file() && self.matches(path) => {
                        found.insert(path.clone());
                    }
                    Ok(_) => {}
                    // A named file that is not there yet is normal (it may
                    // be created later); anything else is worth a warning.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => errors.report(path, Cause::Stat, &e, metrics),
                },
                Root::Dir { dir, depth } => {
                    self.walk(dir, *depth, true, &mut found, errors, metrics);
                }
            }
        }
        found
    }

    fn walk(
        &self,
        dir: &Path,
        depth: usize,
        is_root: bool,
        found: &mut BTreeSet<PathBuf>,
        errors: &mut ErrorLog,
        metrics: &ComponentMetrics,
    ) {
        // A relative pattern such as `*.log` has an empty prefix: list the
        // working directory but keep the paths relative, as the pattern is.
        let listed = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let entries = match std::fs::read_dir(listed) {
            Ok(entries) => {
                errors.clear(dir, Cause::ListDir);
                entries
            }
            // A subdirectory that vanished between listing and walking is
            // a race, not an error; a missing root is worth one warning.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !is_root => return,
            Err(e) => {
                errors.report(dir, Cause::ListDir, &e, metrics);
                return;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let path = dir.join(entry.file_name());
            let Ok(mut file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_symlink() {
                // Follow the link; a dangling one is skipped.
                match std::fs::metadata(&path) {
                    Ok(meta) => file_type = meta.file_type(),
                    Err(_) => continue,
                }
            }
            if file_type.is_file() {
                if self.matches(&path) {
                    found.insert(path);
                }
            } else if file_type.is_dir() && depth > 1 {
                self.walk(&path, depth - 1, false, found, errors, metrics);
            }
        }
    }
}

/// What was being done when an error happened, so that each cause of each
/// path is logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Cause {
    ListDir,
    Stat,
    Open,
    Read,
}

/// Logs an error once per (path, cause) until it changes or goes away, and
/// counts each logged error. Entries not touched during a scan are
/// forgotten, so the log cannot grow with paths that vanished.
#[derive(Debug, Default)]
pub(super) struct ErrorLog {
    seen: HashMap<(PathBuf, Cause), (io::ErrorKind, u64)>,
    scan: u64,
}

impl ErrorLog {
    pub(super) fn begin_scan(&mut self) {
        self.scan += 1;
    }

    /// Forgets the errors of paths not met during this scan.
    pub(super) fn end_scan(&mut self) {
        let scan = self.scan;
        self.seen.retain(|_, (_, s)| *s == scan);
    }

    pub(super) fn report(
        &mut self,
        path: &Path,
        cause: Cause,
        error: &io::Error,
        metrics: &ComponentMetrics,
    ) {
        let scan = self.scan;
        let kind = error.kind();
        let previous = self.seen.insert((path.to_owned(), cause), (kind, scan));
        if previous.is_some_and(|(k, _)| k == kind) {
            return;
        }
        metrics.add_error();
        let p = path.display();
        match cause {
            Cause::ListDir => warn!(
                message = "Cannot list a directory to search for files; will retry at the next scan.",
                %error,
                path = %p
            ),
            Cause::Stat => warn!(
                message = "Cannot inspect a matching file; will retry at the next scan.",
                %error,
                path = %p
            ),
            Cause::Open => warn!(
                message = "Cannot open a matching file; will retry at the next scan.",
                %error,
                path = %p
            ),
            Cause::Read => warn!(
                message = "Cannot read a matching file; will retry at the next scan.",
                %error,
                path = %p
            ),
        }
    }

    pub(super) fn clear(&mut self, path: &Path, cause: Cause) {
        if !self.seen.is_empty() {
            self.seen.remove(&(path.to_owned(), cause));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(d: &str, depth: usize) -> Root {
        Root::Dir {
            dir: PathBuf::from(d),
            depth,
        }
    }

    #[test]
    fn roots_are_the_non_glob_prefix() {
        let cases = [
            ("/var/log/*.log", dir("/var/log", 1)),
            ("/var/log/app/*/x.log", dir("/var/log/app", 2)),
            ("/var/log/**/*.log", dir("/var/log", MAX_DEPTH)),
            ("/*.log", dir("/", 1)),
            ("*.log", dir("", 1)),
            ("logs/a?.txt", dir("logs", 1)),
            ("/var/{log,tmp/x}/*.log", dir("/var", 3)),
            (
                "/var/log/app.log",
                Root::File(PathBuf::from("/var/log/app.log")),
            ),
        ];
        for (pattern, expected) in cases {
            assert_eq!(root_of(pattern), expected, "{pattern}");
        }
    }

    #[test]
    fn star_does_not_cross_directories_but_double_star_does() {
        let d = Discovery::new(
            &["/l/*.log".into(), "/deep/**/*.log".into()],
            &["/l/skip*".into()],
        )
        .unwrap();
        assert!(d.matches(Path::new("/l/a.log")));
        assert!(!d.matches(Path::new("/l/sub/a.log")));
        assert!(!d.matches(Path::new("/l/skip.log")));
        assert!(d.matches(Path::new("/deep/a.log")));
        assert!(d.matches(Path::new("/deep/x/y/a.log")));
    }

    #[test]
    fn bad_patterns_are_build_errors() {
        let err = Discovery::new(&["/l/[.log".into()], &[]).unwrap_err();
        assert_eq!(err.option.as_deref(), Some("include"));
        let err = Discovery::new(&["/l/*.log".into()], &["{".into()]).unwrap_err();
        assert_eq!(err.option.as_deref(), Some("exclude"));
        assert!(Discovery::new(&[], &[]).is_err());
    }
}
