//! Finding and loading rule files: paths or glob patterns, each file
//! checked with positions in its messages; templates compiled while
//! checking so that a bad one is reported where it is written.

use std::path::{Path, PathBuf};

use logbridge_rules::rule_file::{ParseOptions, RuleFile, parse_rule_file_with};
use logbridge_rules::template::Template;

/// The files a list of paths and glob patterns names, sorted, relative
/// patterns resolved against `base`. A pattern matching nothing is an
/// error (a typo should not silently disable alerts).
pub fn expand_patterns(patterns: &[String], base: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for pattern in patterns {
        let full = base.join(pattern);
        let text = full.to_string_lossy().into_owned();
        if !text.contains(['*', '?', '[', '{']) {
            files.push(full);
            continue;
        }
        let matcher = globset::GlobBuilder::new(&text)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("rule file pattern {pattern:?}: {e}"))?
            .compile_matcher();
        // Walk from the longest directory without glob characters.
        let root: PathBuf = full
            .ancestors()
            .find(|p| !p.to_string_lossy().contains(['*', '?', '[', '{']))
            .map(Path::to_path_buf)
            .unwrap_or_else(|| base.to_path_buf());
        let before = files.len();
        walk(&root, &mut |path| {
            if matcher.is_match(path) {
                files.push(path.to_path_buf());
            }
        });
        if files.len() == before {
            return Err(format!("rule file pattern {pattern:?} matches no file"));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(dir: &Path, found: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, found),
            Ok(_) => found(&path),
            Err(_) => {}
        }
    }
}

/// Checks a template's syntax (the rule-file checker's hook).
fn check_template(text: &str) -> Result<(), String> {
    Template::compile("check", text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Loads every file; on failure, every problem of every file, one per
/// line, each starting with `path:line:column:`. Files that load are not
/// lost when another fails: the caller decides.
pub fn load_rule_files(paths: &[PathBuf]) -> (Vec<RuleFile>, Vec<String>) {
    let options = ParseOptions {
        template_check: Some(check_template),
        ..ParseOptions::default()
    };
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let name = path.to_string_lossy().into_owned();
        let text = match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    // Everything before `valid_up_to` is valid UTF-8.
                    let valid =
                        String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]);
                    let line = valid.matches('\n').count() + 1;
                    let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    problems.push(format!("{name}:{line}:{column}: the file is not UTF-8"));
                    continue;
                }
            },
            Err(e) => {
                problems.push(format!("{name}: cannot read: {e}"));
                continue;
            }
        };
        match parse_rule_file_with(&name, &text, &options) {
            Ok(file) => loaded.push(file),
            Err(errors) => problems.extend(errors.iter().map(|e| e.to_string())),
        }
    }
    (loaded, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_and_must_match() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        for name in ["a.yml", "b.yml", "c.txt"] {
            std::fs::write(dir.path().join("rules").join(name), "groups: []\n").unwrap();
        }
        let files = expand_patterns(&["rules/*.yml".to_string()], dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.yml", "b.yml"]);
        assert!(expand_patterns(&["nope/*.yml".to_string()], dir.path()).is_err());
        let (loaded, problems) = load_rule_files(&files);
        assert_eq!((loaded.len(), problems.len()), (2, 0));
    }

    #[test]
    fn unreadable_and_non_utf8_files_are_problems() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("latin1.yml");
        std::fs::write(&bad, b"groups:\n  - name: caf\xe9\n").unwrap();
        let missing = dir.path().join("missing.yml");
        let (loaded, problems) = load_rule_files(&[bad.clone(), missing]);
        assert!(loaded.is_empty());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            problems[0],
            format!("{}:2:14: the file is not UTF-8", bad.display())
        );
        assert!(problems[1].contains("cannot read"), "{problems:?}");
    }

    #[test]
    fn problems_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yml");
        std::fs::write(
            &path,
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rat(x[5m]) > 1\n      - alert: B\n        expr: up == 0\n        annotations:\n          summary: '{{ $labels.x '\n",
        )
        .unwrap();
        let (loaded, problems) = load_rule_files(std::slice::from_ref(&path));
        assert!(loaded.is_empty());
        assert_eq!(problems.len(), 2, "{problems:?}");
        let name = path.to_string_lossy();
        assert!(
            problems[0].starts_with(&format!("{name}:5:")),
            "{problems:?}"
        );
        assert!(problems[0].contains("rat"), "{problems:?}");
        assert!(
            problems[1].starts_with(&format!("{name}:9:")),
            "{problems:?}"
        );
    }
}
