//! Tests of the `file` source, driven through its public config on real
//! files in a temporary directory: reading, discovery, rotation,
//! acknowledgements, checkpoints across restarts and errors.
//!
//! Waits poll with a deadline rather than sleeping a fixed time; the only
//! fixed waits assert that nothing (more) arrives.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use logbridge_component::channel::{self, BatchReceiver};
use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
use logbridge_component::{
    BuildContext, ComponentError, Output, ShutdownSignal, SourceConfig, SourceContext,
    SourceOutputs,
};
use logbridge_event::{BatchStatus, EventBatch};
use tokio::task::JoinHandle;

use super::checkpoint::{CORRUPT_NAME, FILE_NAME};
use super::{FileConfig, ReadFrom};

const PATIENCE: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(400);

/// A config reading `pattern` (relative to `dir`), scanning every 50 ms.
fn config(dir: &Path, pattern: &str) -> FileConfig {
    FileConfig {
        include: vec![format!("{}/{pattern}", dir.display())],
        exclude: vec![],
        read_from: ReadFrom::Beginning,
        max_line_bytes: 102_400,
        glob_minimum_cooldown_ms: 50,
        file_key: "file".into(),
        host_key: "host".into(),
    }
}

fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data").join("files")
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

fn as_text(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn texts(batch: &EventBatch) -> impl Iterator<Item = String> + '_ {
    batch.events().iter().map(|e| {
        let log = e.as_log().expect("a log");
        log.body.as_str().expect("a UTF-8 line").to_owned()
    })
}

/// The committed offset recorded for `path`, if any.
fn checkpoint_of(data: &Path, path: &Path) -> Option<u64> {
    let bytes = fs::read(data.join(FILE_NAME)).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json["checkpoints"]
        .as_array()?
        .iter()
        .find(|e| e["path"].as_str() == path.to_str())
        .and_then(|e| e["offset"].as_u64())
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running source and the receiving end of its output.
struct Harness {
    rx: BatchReceiver,
    shutdown: ShutdownSignal,
    task: JoinHandle<Result<(), ComponentError>>,
    metrics: Arc<ComponentMetrics>,
}

fn start(config: &FileConfig, data: &Path) -> Harness {
    let bcx = BuildContext::detached("files", ComponentKind::Source, data.to_owned());
    let source = config.build(&bcx).unwrap();
    let (tx, rx) = channel::bounded(4_096, 16 * 1024 * 1024);
    let metrics = Arc::new(ComponentMetrics::new(
        "files",
        ComponentKind::Source,
        "file",
    ));
    let out = SourceOutputs::new(Output::new(None, vec![tx], metrics.clone()), vec![]);
    let shutdown = ShutdownSignal::new();
    let cx = SourceContext {
        id: "files".into(),
        out,
        shutdown: shutdown.clone(),
        metrics: metrics.clone(),
        data_dir: data.to_owned(),
    };
    Harness {
        rx,
        shutdown,
        task: tokio::spawn(source.run(cx)),
        metrics,
    }
}

impl Harness {
    /// Batches holding at least `n` lines in all, not acknowledged yet.
    async fn batches(&mut self, n: usize) -> Vec<EventBatch> {
        let mut batches = Vec::new();
        let mut got = 0;
        while got < n {
            let batch = tokio::time::timeout(PATIENCE, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out after {got} of {n} lines: {batches:?}"))
                .expect("the source stopped");
            got += batch.len();
            batches.push(batch);
        }
        batches
    }

    /// The next `n` lines (at least), acknowledged as delivered.
    async fn lines(&mut self, n: usize) -> Vec<String> {
        self.batches(n).await.iter().flat_map(texts).collect()
    }

    /// Asserts that no line arrives for a while.
    async fn assert_quiet(&mut self) {
        if let Ok(Some(batch)) = tokio::time::timeout(QUIET, self.rx.recv()).await {
            panic!("unexpected lines: {:?}", texts(&batch).collect::<Vec<_>>());
        }
    }

    fn errors(&self) -> u64 {
        self.metrics.errors.load(Ordering::Relaxed)
    }

    /// Shuts down; returns the lines that still arrived (acknowledged).
    async fn stop(mut self) -> Vec<String> {
        self.shutdown.trigger();
        let mut late = Vec::new();
        let drain = async {
            while let Some(batch) = self.rx.recv().await {
                late.extend(texts(&batch));
            }
        };
        tokio::time::timeout(PATIENCE, drain)
            .await
            .expect("the output never ended");
        let result = tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("no shutdown");
        result
            .expect("the task panicked")
            .expect("the source failed");
        late
    }

    /// Ends the task abruptly, as `kill -9` would: no final checkpoint.
    async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[tokio::test]
async fn reads_an_existing_file_from_the_beginning() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("a.log");
    append(&log, "one\ntwo\r\nthree\n");
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    let batches = h.batches(3).await;
    let lines: Vec<String> = batches.iter().flat_map(texts).collect();
    assert_eq!(lines, ["one", "two", "three"]);
    let first = batches[0].events()[0].as_log().unwrap();
    assert_eq!(first.attributes["file"].as_str(), log.to_str());
    assert!(
        first.attributes["host"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );
    assert!(first.observed_time_unix_nano > 0);
    drop(batches);
    assert_eq!(h.metrics.received_events.load(Ordering::Relaxed), 3);
    assert_eq!(h.metrics.received_bytes.load(Ordering::Relaxed), 11);
    assert!(h.stop().await.is_empty());
    assert_eq!(checkpoint_of(&data_dir(t.path()), &log), Some(15));
}

#[tokio::test]
async fn empty_keys_leave_the_attributes_out() {
    let t = tempfile::tempdir().unwrap();
    append(&t.path().join("a.log"), "one\n");
    let mut cfg = config(t.path(), "*.log");
    cfg.file_key = String::new();
    cfg.host_key = String::new();
    let mut h = start(&cfg, &data_dir(t.path()));
    let batches = h.batches(1).await;
    assert!(
        batches[0].events()[0]
            .as_log()
            .unwrap()
            .attributes
            .is_empty()
    );
    drop(batches);
    h.stop().await;
}

#[tokio::test]
async fn read_from_end_skips_existing_lines_but_not_new_files() {
    let t = tempfile::tempdir().unwrap();
    let data = data_dir(t.path());
    let old = t.path().join("old.log");
    append(&old, "old1\nold2\nhalf");
    let unready = t.path().join("unready.log");
    append(&unready, "first line in progress");
    let mut cfg = config(t.path(), "*.log");
    cfg.read_from = ReadFrom::End;
    let mut h = start(&cfg, &data);
    // Started at the beginning of the unfinished line.
    eventually("the start is checkpointed", || {
        checkpoint_of(&data, &old) == Some(10)
    })
    .await;
    append(&old, " done\nnew\n");
    assert_eq!(h.lines(2).await, ["half done", "new"]);
    // A first line unfinished at startup is read whole, with what follows.
    append(&unready, ", now done\nnext\n");
    assert_eq!(
        h.lines(2).await,
        ["first line in progress, now done", "next"]
    );
    // A file created later is read whole.
    append(&t.path().join("later.log"), "l1\nl2\n");
    assert_eq!(h.lines(2).await, ["l1", "l2"]);
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn appended_lines_and_new_files_arrive() {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a.log");
    append(&a, "a1\n");
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    assert_eq!(h.lines(1).await, ["a1"]);
    append(&a, "a2\na3\n");
    assert_eq!(h.lines(2).await, ["a2", "a3"]);
    fs::create_dir(t.path().join("sub")).unwrap();
    append(&t.path().join("sub/deep.log"), "not matched by *.log\n");
    append(&t.path().join("b.log"), "b1\n");
    assert_eq!(h.lines(1).await, ["b1"]);
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn double_star_finds_files_in_subdirectories() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir_all(t.path().join("x/y")).unwrap();
    append(&t.path().join("x/y/deep.log"), "deep\n");
    let mut h = start(&config(t.path(), "**/*.log"), &data_dir(t.path()));
    assert_eq!(h.lines(1).await, ["deep"]);
    h.stop().await;
}

#[tokio::test]
async fn a_trailing_line_waits_for_its_newline() {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a.log");
    append(&a, "a\nb");
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    assert_eq!(h.lines(1).await, ["a"]);
    h.assert_quiet().await;
    append(&a, "c\n");
    assert_eq!(h.lines(1).await, ["bc"]);
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn excluded_files_are_not_read() {
    let t = tempfile::tempdir().unwrap();
    append(&t.path().join("keep.log"), "kept\n");
    append(&t.path().join("skip.log"), "skipped\n");
    let mut cfg = config(t.path(), "*.log");
    cfg.exclude = vec![format!("{}/skip*", t.path().display())];
    let mut h = start(&cfg, &data_dir(t.path()));
    assert_eq!(h.lines(1).await, ["kept"]);
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn resumes_at_the_checkpoint_after_a_stop() {
    let t = tempfile::tempdir().unwrap();
    let (a, data) = (t.path().join("a.log"), data_dir(t.path()));
    append(&a, &as_text(&numbered("l", 0..5)));
    let cfg = config(t.path(), "*.log");
    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(5).await, numbered("l", 0..5));
    assert!(h.stop().await.is_empty());

    append(&a, &as_text(&numbered("l", 5..8)));
    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(3).await, numbered("l", 5..8));
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn resumes_at_the_checkpoint_after_a_kill() {
    let t = tempfile::tempdir().unwrap();
    let (a, data) = (t.path().join("a.log"), data_dir(t.path()));
    let first = as_text(&numbered("l", 0..5));
    append(&a, &first);
    let cfg = config(t.path(), "*.log");
    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(5).await, numbered("l", 0..5));
    let end = first.len() as u64;
    eventually("the offset is committed", || {
        checkpoint_of(&data, &a) == Some(end)
    })
    .await;
    h.kill().await;

    append(&a, &as_text(&numbered("l", 5..8)));
    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(3).await, numbered("l", 5..8));
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn refused_batches_are_read_again_after_a_restart() {
    let t = tempfile::tempdir().unwrap();
    let (a, data) = (t.path().join("a.log"), data_dir(t.path()));
    let all = numbered("line ", 0..1500);
    append(&a, &as_text(&all));
    let cfg = config(t.path(), "*.log");
    let mut h = start(&cfg, &data);
    let batches = h.batches(1500).await;
    assert_eq!(batches.iter().flat_map(texts).collect::<Vec<_>>(), all);
    let first_len = batches[0].len();
    assert!(first_len < 1500, "expected several batches");
    // The first batch is delivered, every later one refused.
    for batch in &batches[1..] {
        batch.finalizers.update_status(BatchStatus::Errored);
    }
    // Acknowledge the later ones first: order must not matter.
    let mut batches = batches;
    let first = batches.remove(0);
    drop(batches);
    drop(first);
    assert!(h.stop().await.is_empty());
    let committed = as_text(&all[..first_len]).len() as u64;
    assert_eq!(checkpoint_of(&data, &a), Some(committed));

    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(1500 - first_len).await, all[first_len..]);
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn unacknowledged_lines_are_read_again_after_a_kill() {
    let t = tempfile::tempdir().unwrap();
    let (a, data) = (t.path().join("a.log"), data_dir(t.path()));
    append(&a, "x1\nx2\n");
    let cfg = config(t.path(), "*.log");
    let mut h = start(&cfg, &data);
    let held = h.batches(2).await;
    eventually("the start is checkpointed", || {
        checkpoint_of(&data, &a) == Some(0)
    })
    .await;
    h.kill().await;
    drop(held);
    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(2).await, ["x1", "x2"]);
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn rename_rotation_loses_and_repeats_nothing() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("app.log");
    append(&log, "a1\na2\n");
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    assert_eq!(h.lines(2).await, ["a1", "a2"]);

    // The application keeps writing to its open handle across the rename.
    let mut app = OpenOptions::new().append(true).open(&log).unwrap();
    app.write_all(b"a3\n").unwrap();
    fs::rename(&log, t.path().join("app.log.1")).unwrap();
    app.write_all(b"a4\na5 without newline").unwrap();
    append(&log, "b1\nb2\n");

    let mut got = h.lines(5).await;
    h.assert_quiet().await;
    got.sort();
    assert_eq!(got, ["a3", "a4", "a5 without newline", "b1", "b2"]);
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn a_deleted_file_is_drained_then_closed() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("app.log");
    append(&log, "a1\n");
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    assert_eq!(h.lines(1).await, ["a1"]);
    let mut app = OpenOptions::new().append(true).open(&log).unwrap();
    app.write_all(b"a2\ntail").unwrap();
    fs::remove_file(&log).unwrap();
    assert_eq!(h.lines(2).await, ["a2", "tail"]);
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn copytruncate_starts_again_from_the_beginning() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("app.log");
    append(
        &log,
        "a first line that is rather long\nanother fairly long line\n",
    );
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    assert_eq!(h.lines(2).await.len(), 2);
    fs::copy(&log, t.path().join("app.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, "n1\nn2\n");
    assert_eq!(h.lines(2).await, ["n1", "n2"]);
    append(&log, "n3\n");
    assert_eq!(h.lines(1).await, ["n3"]);
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn copytruncate_with_the_same_first_line_resumes_correctly() {
    let t = tempfile::tempdir().unwrap();
    let (log, data) = (t.path().join("app.log"), data_dir(t.path()));
    append(&log, "header\nold1\nold2\n");
    let cfg = config(t.path(), "*.log");
    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(3).await, ["header", "old1", "old2"]);
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, "header\nn1\n");
    assert_eq!(h.lines(2).await, ["header", "n1"]);
    assert!(h.stop().await.is_empty());
    assert_eq!(checkpoint_of(&data, &log), Some(10));
    append(&log, "n2\n");
    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(1).await, ["n2"]);
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn copytruncate_is_seen_even_when_the_new_content_is_longer() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("app.log");
    append(&log, "old1\nold2\n");
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    assert_eq!(h.lines(2).await, ["old1", "old2"]);
    // Truncated and refilled past the old offset in one go: the size never
    // looks smaller, but the first line changed.
    let new = numbered("new content ", 0..50);
    let mut f = OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(0).unwrap();
    f.write_all(as_text(&new).as_bytes()).unwrap();
    assert_eq!(h.lines(50).await, new);
    h.assert_quiet().await;
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn overlong_lines_are_skipped_and_counted() {
    let t = tempfile::tempdir().unwrap();
    let (log, data) = (t.path().join("a.log"), data_dir(t.path()));
    let text = format!("short1\n{}\nshort2\n{}\n", "x".repeat(100), "y".repeat(17));
    append(&log, &text);
    let mut cfg = config(t.path(), "*.log");
    cfg.max_line_bytes = 16;
    let mut h = start(&cfg, &data);
    assert_eq!(h.lines(2).await, ["short1", "short2"]);
    let metrics = h.metrics.clone();
    assert!(h.stop().await.is_empty());
    assert_eq!(metrics.discarded_unintentional.load(Ordering::Relaxed), 2);
    // The skipped lines count as read: nothing is read again.
    assert_eq!(checkpoint_of(&data, &log), Some(text.len() as u64));
}

#[tokio::test]
async fn a_corrupt_checkpoint_file_is_moved_aside() {
    let t = tempfile::tempdir().unwrap();
    let (log, data) = (t.path().join("a.log"), data_dir(t.path()));
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join(FILE_NAME), b"{ this is not json").unwrap();
    append(&log, "l1\n");
    let mut h = start(&config(t.path(), "*.log"), &data);
    assert_eq!(h.lines(1).await, ["l1"]);
    assert_eq!(h.errors(), 1);
    assert!(h.stop().await.is_empty());
    assert_eq!(
        fs::read(data.join(CORRUPT_NAME)).unwrap(),
        b"{ this is not json"
    );
    assert_eq!(checkpoint_of(&data, &log), Some(3));
}

#[tokio::test]
async fn an_unreadable_file_does_not_stop_the_others() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let locked = t.path().join("locked.log");
    append(&locked, "secret\n");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    // As root (as in CI containers) permissions do not block reading.
    let is_root = fs::File::open(&locked).is_ok();
    append(&t.path().join("open.log"), "visible\n");
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    let mut expected = vec!["visible".to_owned()];
    if is_root {
        expected.push("secret".to_owned());
    }
    let mut got = h.lines(expected.len()).await;
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    if !is_root {
        // Logged and counted once, however many scans retried it.
        eventually("the error is counted", || h.errors() == 1).await;
        h.assert_quiet().await;
        assert_eq!(h.errors(), 1);
    }
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn a_missing_directory_is_reported_once_and_picked_up_later() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("later");
    let mut h = start(&config(&dir, "*.log"), &data_dir(t.path()));
    eventually("the error is counted", || h.errors() == 1).await;
    h.assert_quiet().await;
    assert_eq!(h.errors(), 1, "reported once, not once per scan");
    fs::create_dir(&dir).unwrap();
    append(&dir.join("a.log"), "finally\n");
    assert_eq!(h.lines(1).await, ["finally"]);
    assert!(h.stop().await.is_empty());
}

#[tokio::test]
async fn a_busy_file_does_not_starve_the_others() {
    let t = tempfile::tempdir().unwrap();
    let big: Vec<String> = numbered("big line with some padding to make it longer ", 0..60_000);
    append(&t.path().join("big.log"), &as_text(&big));
    append(&t.path().join("small.log"), "small\n");
    let mut h = start(&config(t.path(), "*.log"), &data_dir(t.path()));
    let lines = h.lines(big.len() + 1).await;
    let small_at = lines.iter().position(|l| l == "small").unwrap();
    assert!(
        small_at < big.len() / 2,
        "small.log waited for big.log: line {small_at}"
    );
    assert!(h.stop().await.is_empty());
}

#[test]
fn config_defaults_and_validation() {
    let cfg: FileConfig = serde_json::from_str(r#"{"include": ["/var/log/*.log"]}"#).unwrap();
    assert_eq!(cfg.read_from, ReadFrom::Beginning);
    assert_eq!(cfg.max_line_bytes, 102_400);
    assert_eq!(cfg.glob_minimum_cooldown_ms, 1_000);
    assert_eq!(
        (cfg.file_key.as_str(), cfg.host_key.as_str()),
        ("file", "host")
    );
    assert!(cfg.can_acknowledge());
    let cfg: FileConfig =
        serde_json::from_str(r#"{"include": ["/x/*"], "read_from": "end"}"#).unwrap();
    assert_eq!(cfg.read_from, ReadFrom::End);
    assert!(serde_json::from_str::<FileConfig>(r#"{"include": [], "nope": 1}"#).is_err());

    // Building validates but touches nothing: neither the globs' directories
    // nor the data directory exist.
    let bcx = BuildContext::detached("f", ComponentKind::Source, "/nonexistent/data".into());
    let t = Path::new("/nonexistent/logs");
    assert!(config(t, "*.log").build(&bcx).is_ok());
    let bad = |f: &dyn Fn(&mut FileConfig)| {
        let mut cfg = config(t, "*.log");
        f(&mut cfg);
        cfg.build(&bcx).err().and_then(|e| e.option)
    };
    assert_eq!(bad(&|c| c.include.clear()).as_deref(), Some("include"));
    assert_eq!(
        bad(&|c| c.include = vec!["/x/[".into()]).as_deref(),
        Some("include")
    );
    assert_eq!(
        bad(&|c| c.exclude = vec!["{".into()]).as_deref(),
        Some("exclude")
    );
    assert_eq!(
        bad(&|c| c.max_line_bytes = 0).as_deref(),
        Some("max_line_bytes")
    );
    assert_eq!(
        bad(&|c| c.glob_minimum_cooldown_ms = 0).as_deref(),
        Some("glob_minimum_cooldown_ms")
    );
    assert!(!Path::new("/nonexistent").exists());
}
