//! End-to-end: a full disk under a disk buffer and under the file sink, on
//! a real 20 MiB tmpfs (these tests need root to mount it and skip with a
//! message when they cannot), and the exit code of a run whose components
//! failed.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Env, Proc, http_get, read_lines, tally, wait_exit, wait_for, write_numbered};

/// A tmpfs mounted for one test, unmounted when dropped (also when the
/// test fails).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a 20 MiB tmpfs on `dir`; `None` (with a message) when this
    /// machine does not let the test mount one.
    fn mount(dir: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=20m", "tmpfs"])
            .arg(dir)
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Tmpfs {
                dir: dir.to_owned(),
            }),
            Ok(out) => {
                eprintln!(
                    "skipping: cannot mount a tmpfs (needs root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(error) => {
                eprintln!("skipping: cannot run mount: {error}");
                None
            }
        }
    }

    /// Fills the tmpfs to the last byte with `filler`, then frees `leave`
    /// bytes of it.
    fn fill(&self, leave: u64) -> PathBuf {
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(leave)).unwrap();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let done = Command::new("umount").arg(&self.dir).status();
        if !done.is_ok_and(|s| s.success()) {
            // Something still holds it (a process the test could not stop):
            // detach it so that it goes once released.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Polls `/readyz` until it answers 503 with a problem containing `what`.
fn wait_not_ready(port: u16, what: &str) -> bool {
    wait_for(Duration::from_secs(20), || {
        http_get(port, "/readyz").is_some_and(|(code, body)| code == 503 && body.contains(what))
    })
}

/// The value of `logbridge_component_disk_full` for `component` and `part`.
fn disk_full_gauge(port: u16, component: &str, part: &str) -> Option<i64> {
    let labels = [("component_id", component), ("part", part)];
    support::metric(port, "logbridge_component_disk_full", &labels).map(|v| v as i64)
}

fn spawn(env: &Env, config: &Path, port: u16) -> Proc {
    Proc(env.spawn(config, &["--admin-address", &format!("127.0.0.1:{port}")]))
}

/// Waits until `/readyz` answers 200 again; the gauge of `part` is back
/// to 0.
fn wait_recovered(port: u16, part: &str) {
    assert!(wait_for(Duration::from_secs(20), || {
        http_get(port, "/readyz").is_some_and(|(code, _)| code == 200)
    }));
    assert_eq!(disk_full_gauge(port, "out", part), Some(0));
}

/// Everything the process logged, once it is killed.
fn stderr_of(process: &mut Proc) -> String {
    let _ = process.0.kill();
    let _ = process.0.wait();
    let mut stderr = String::new();
    if let Some(mut pipe) = process.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    stderr
}

/// Stops the process with SIGTERM and returns its exit code.
fn stop(process: &mut Proc, timeout: Duration) -> Option<i32> {
    support::signal(&process.0, 15);
    wait_exit(&mut process.0, timeout).and_then(|s| s.code())
}

/// The pipeline of these tests: a `file` source reading `in/*.log` and a
/// `file` sink writing `out`, with `data_dir` (both relative to the test
/// directory) and `sink_extra` options for the sink.
fn pipeline(env: &Env, data_dir: &str, out: &str, sink_extra: &str) -> PathBuf {
    env.write(
        "c.toml",
        &format!(
            r#"data_dir = "{{dir}}/{data_dir}"
shutdown_timeout_secs = 3
[sources.app]
type = "file"
include = ["{{dir}}/in/*.log"]
glob_minimum_cooldown_ms = 100
[sinks.out]
type = "file"
inputs = ["app"]
path = "{{dir}}/{out}"
encoding.codec = "text"
{sink_extra}
"#
        ),
    )
}

/// A test directory with `lines` numbered lines in `in/a.log` and a tmpfs
/// on `mnt`; `None` when no tmpfs can be mounted.
fn setup(lines: usize) -> Option<(Env, Tmpfs)> {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    write_numbered(&env.path("in/a.log"), 0, lines);
    let tmpfs = Tmpfs::mount(&env.path("mnt"))?;
    Some((env, tmpfs))
}

/// Whether `/debug/metrics` has a line starting with `prefix` (a metric
/// name and its first labels) that contains `labels` and has `value`.
fn metric_is(port: u16, prefix: &str, labels: &str, value: u64) -> bool {
    http_get(port, "/debug/metrics").is_some_and(|(_, m)| {
        m.lines().any(|l| {
            l.starts_with(prefix) && l.contains(labels) && l.ends_with(&format!(" {value}"))
        })
    })
}

/// Output lines that are not whole numbered lines.
fn torn(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| {
            let mut parts = l.split(' ');
            !(parts.next() == Some("line")
                && parts
                    .next()
                    .is_some_and(|n| n.len() == 8 && n.parse::<u64>().is_ok())
                && parts.next().is_some_and(|x| x.len() == 40)
                && parts.next().is_none())
        })
        .collect()
}

/// Waits (up to a minute) until every numbered line below `lines` is in
/// the files under `dir`.
fn wait_all(dir: &Path, lines: usize) -> bool {
    wait_for(Duration::from_secs(60), || {
        tally(&read_lines(dir), lines).0 == 0
    })
}

/// `lines` holds each numbered line below `expected` once, and nothing
/// torn.
fn assert_exactly_once(what: &str, lines: &[String], expected: usize) {
    let (missing, dups) = tally(lines, expected);
    let torn = torn(lines);
    eprintln!(
        "{what}: torn={} missing={missing} duplicates={dups}",
        torn.len()
    );
    assert_eq!(torn, Vec::<&String>::new());
    assert_eq!((missing, dups), (0, 0));
}

/// `file -> disk buffer -> file` with the data directory (checkpoints and
/// buffer) on a full tmpfs: the pipeline waits, reports it, and once space
/// is freed delivers every line exactly once, across restarts too (one of
/// them while the disk is still full).
#[test]
fn regression_full_disk_under_a_disk_buffer_is_waited_out() {
    const LINES: usize = 20_000;
    let Some((env, tmpfs)) = setup(LINES) else {
        return;
    };
    let config = pipeline(&env, "mnt/state", "out/out.log", "buffer.type = \"disk\"");
    let filler = tmpfs.fill(0);
    let port = support::free_port();
    let mut lb = spawn(&env, &config, port);
    assert!(
        wait_not_ready(port, "disk full"),
        "{:?}",
        http_get(port, "/readyz")
    );
    assert_eq!(disk_full_gauge(port, "out", "buffer"), Some(1));
    assert!(read_lines(&env.path("out")).is_empty());
    // Still waiting a while later: a full disk is no reason to stop.
    std::thread::sleep(Duration::from_secs(1));
    assert!(lb.0.try_wait().unwrap().is_none(), "the process waits");

    // A restart while the disk is full: the drain cannot finish (exit 1,
    // never 0), and nothing it held counts as delivered.
    assert_eq!(stop(&mut lb, Duration::from_secs(15)), Some(1));
    let mut lb = spawn(&env, &config, port);
    assert!(wait_not_ready(port, "disk full"));

    std::fs::remove_file(&filler).unwrap();
    if !wait_all(&env.path("out"), LINES) {
        let missing = tally(&read_lines(&env.path("out")), LINES);
        panic!("{missing:?} after:\n{}", stderr_of(&mut lb));
    }
    wait_recovered(port, "buffer");
    assert_eq!(stop(&mut lb, Duration::from_secs(15)), Some(0));

    // Nothing is read again after a restart.
    write_numbered(&env.path("in/a.log"), LINES, LINES + 10);
    let mut lb = spawn(&env, &config, port);
    assert!(wait_all(&env.path("out"), LINES + 10));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stop(&mut lb, Duration::from_secs(15)), Some(0));
    assert_exactly_once(
        "full disk under a disk buffer",
        &read_lines(&env.path("out")),
        LINES + 10,
    );
}

/// The disk buffer fills the disk itself while its sink cannot write:
/// once the sink can, the buffer frees its delivered segments and goes on,
/// with nothing deleted by hand.
#[test]
fn regression_a_disk_buffer_that_filled_its_disk_recovers_by_itself() {
    const LINES: usize = 100_000;
    let Some((env, tmpfs)) = setup(LINES) else {
        return;
    };
    // The sink cannot write yet: `out` is a file.
    std::fs::write(env.path("out"), "in the way").unwrap();
    let config = pipeline(&env, "mnt/state", "out/out.log", "buffer.type = \"disk\"");
    // Leave less room than the lines take in the buffer.
    tmpfs.fill(8 << 20);
    let port = support::free_port();
    let mut lb = spawn(&env, &config, port);
    assert!(wait_for(Duration::from_secs(30), || disk_full_gauge(
        port, "out", "buffer"
    ) == Some(1)));
    std::fs::remove_file(env.path("out")).unwrap();
    if !wait_all(&env.path("out"), LINES) {
        let missing = tally(&read_lines(&env.path("out")), LINES);
        panic!("{missing:?} after:\n{}", stderr_of(&mut lb));
    }
    assert_eq!(stop(&mut lb, Duration::from_secs(20)), Some(0));
    assert_exactly_once(
        "disk buffer filled its disk",
        &read_lines(&env.path("out")),
        LINES,
    );
}

/// With `when_full = "drop_newest"`, a full disk drops (and counts)
/// instead of blocking.
#[test]
fn regression_full_disk_with_drop_newest_drops_and_counts() {
    let Some((env, tmpfs)) = setup(5_000) else {
        return;
    };
    let config = pipeline(
        &env,
        "state",
        "out/out.log",
        "buffer.type = \"disk\"\nbuffer.when_full = \"drop_newest\"",
    );
    // The buffer alone is on the full disk.
    std::fs::create_dir_all(env.path("state/out")).unwrap();
    std::os::unix::fs::symlink(env.path("mnt"), env.path("state/out/buffer")).unwrap();
    tmpfs.fill(0);
    let port = support::free_port();
    let mut lb = spawn(&env, &config, port);
    let dropped = wait_for(Duration::from_secs(20), || {
        metric_is(
            port,
            "logbridge_component_discarded_events_total{component_id=\"out\"",
            "intentional=\"false\"",
            5_000,
        )
    });
    assert!(dropped, "{:?}", http_get(port, "/debug/metrics"));
    assert_eq!(disk_full_gauge(port, "out", "buffer"), Some(1));
    assert!(read_lines(&env.path("out")).is_empty());
    assert_eq!(stop(&mut lb, Duration::from_secs(20)), Some(0));
}

/// The file sink writing onto a disk that fills: the sink is reported not
/// ready while writes fail, its file holds whole lines only, and once
/// space is freed every line is there once.
#[test]
fn regression_full_disk_under_the_file_sink_tears_no_line() {
    const LINES: usize = 100_000;
    let Some((env, tmpfs)) = setup(LINES) else {
        return;
    };
    let config = pipeline(&env, "state", "mnt/out/out.log", "");
    // Room for part of the lines (they take about 5.8 MB), so that a
    // write runs out of space part way.
    let filler = tmpfs.fill((1 << 20) + 12_345);
    let port = support::free_port();
    let mut lb = spawn(&env, &config, port);
    assert!(
        wait_not_ready(port, "disk full writing"),
        "{:?}",
        http_get(port, "/readyz")
    );
    assert_eq!(disk_full_gauge(port, "out", "output"), Some(1));
    let partial = read_lines(&env.path("mnt/out"));
    assert!(
        !partial.is_empty() && partial.len() < LINES,
        "{}",
        partial.len()
    );
    assert_eq!(torn(&partial), Vec::<&String>::new());

    std::fs::remove_file(&filler).unwrap();
    assert!(wait_all(&env.path("mnt/out"), LINES));
    wait_recovered(port, "output");
    assert_eq!(stop(&mut lb, Duration::from_secs(20)), Some(0));
    assert_exactly_once(
        "full disk under the file sink",
        &read_lines(&env.path("mnt/out")),
        LINES,
    );
}

/// The same with gzip: the compressed stream stays valid (each retry
/// writes the bytes the compressor produced once) and decodes to every
/// line once.
#[test]
fn regression_full_disk_under_a_gzip_file_sink_keeps_the_stream_valid() {
    const LINES: usize = 200_000;
    let Some((env, tmpfs)) = setup(LINES) else {
        return;
    };
    let config = pipeline(&env, "state", "mnt/out.log.gz", "compression = \"gzip\"");
    let filler = tmpfs.fill(64 * 1024 + 999);
    let port = support::free_port();
    let mut lb = spawn(&env, &config, port);
    assert!(wait_not_ready(port, "disk full writing"));
    std::fs::remove_file(&filler).unwrap();
    let sent = wait_for(Duration::from_secs(60), || {
        metric_is(
            port,
            "logbridge_component_sent_events_total{component_id=\"out\"",
            "",
            LINES as u64,
        )
    });
    assert!(sent);
    assert_eq!(stop(&mut lb, Duration::from_secs(20)), Some(0));
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(
            std::fs::File::open(env.path("mnt/out.log.gz")).unwrap(),
        ),
        &mut text,
    )
    .unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_exactly_once("full disk under a gzip file sink", &lines, LINES);
}

/// A disk buffer that cannot even open (its directory's place is taken by
/// a file) fails: `/readyz` says so, the run ends with exit 1 (not 0 as
/// when a failed component went unnoticed), and what was queued for it
/// counts as not delivered, so the next start sends every line.
#[test]
fn regression_a_failed_disk_buffer_exits_1_and_loses_nothing() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    write_numbered(&env.path("in/a.log"), 0, 100);
    env.write("state/out", "in the way");
    let config = pipeline(&env, "state", "out/out.log", "buffer.type = \"disk\"");
    let port = support::free_port();
    let mut lb = spawn(&env, &config, port);
    // The source ends by itself if it was still sending when the buffer
    // failed; otherwise it keeps running beside the failed component.
    let failed = wait_for(Duration::from_secs(20), || {
        lb.0.try_wait().unwrap().is_some()
            || http_get(port, "/readyz").is_some_and(|(code, body)| {
                code == 503 && body.contains("\"out.buffer\":{\"state\":\"failed\"")
            })
    });
    assert!(failed, "{:?}", http_get(port, "/readyz"));
    if lb.0.try_wait().unwrap().is_none() {
        support::signal(&lb.0, 15);
    }
    let status = wait_exit(&mut lb.0, Duration::from_secs(20)).expect("the run ends");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut lb.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("out.buffer"), "{stderr}");

    std::fs::remove_file(env.path("state/out")).unwrap();
    let mut lb = spawn(&env, &config, port);
    assert!(wait_all(&env.path("out"), 100));
    assert_eq!(stop(&mut lb, Duration::from_secs(20)), Some(0));
    assert_exactly_once("failed disk buffer", &read_lines(&env.path("out")), 100);
}

/// Every source failing to bind its address: the run exits 1.
#[test]
fn regression_every_source_failing_to_bind_exits_1() {
    let env = Env::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = env.write(
        "c.toml",
        &format!(
            r#"data_dir = "{{dir}}/state"
[sources.one]
type = "http"
address = "127.0.0.1:{port}"
[sources.two]
type = "http"
address = "127.0.0.1:{port}"
path = "/two"
[sinks.out]
type = "blackhole"
inputs = ["one", "two"]
"#
        ),
    );
    let mut child = env.spawn(&config, &["--no-admin"]);
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("the run ends");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("component_id=one") && stderr.contains("component_id=two"),
        "{stderr}"
    );
    drop(taken);
}
