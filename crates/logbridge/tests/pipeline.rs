//! End-to-end: the real binary on configs and files.

mod support;

use std::io::Write;
use std::time::Duration;

use support::{Env, read_lines, tally, wait_exit, wait_for, write_numbered};

fn file_pipeline(env: &Env, extra_transforms: &str, sink_input: &str) -> std::path::PathBuf {
    file_pipeline_with(env, extra_transforms, sink_input, "")
}

fn file_pipeline_with(
    env: &Env,
    extra_transforms: &str,
    sink_input: &str,
    sink_extra: &str,
) -> std::path::PathBuf {
    env.write(
        "pipeline.toml",
        &format!(
            r#"data_dir = "{{dir}}/state"
shutdown_timeout_secs = 20
[sources.app]
type = "file"
include = ["{{dir}}/in/*.log"]
read_from = "beginning"
glob_minimum_cooldown_ms = 100

{extra_transforms}

[sinks.out]
type = "file"
inputs = ["{sink_input}"]
path = "{{dir}}/out/out.log"
encoding.codec = "text"
{sink_extra}
"#
        ),
    )
}

/// `logbridge buffer inspect DIR`, parsed.
fn inspect_buffer(dir: &std::path::Path) -> serde_json::Value {
    let out = std::process::Command::new(support::bin())
        .args(["buffer", "inspect"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn parse_filter_and_dead_letters() {
    let env = Env::new();
    env.write(
        "in/app.log",
        "{\"level\":\"info\",\"status\":200,\"message\":\"fine\"}\n\
         {\"level\":\"error\",\"status\":503,\"message\":\"down\"}\n\
         not json at all\n\
         {\"level\":\"debug\",\"status\":500,\"message\":\"noise\"}\n",
    );
    let config = env.write(
        "p.toml",
        r#"data_dir = "{dir}/state"
[sources.app]
type = "file"
include = ["{dir}/in/*.log"]
[transforms.parsed]
type = "parse"
inputs = ["app"]
format = "json"
[transforms.important]
type = "filter"
inputs = ["parsed"]
condition = '.level != "debug" && .status >= 500'
[sinks.out]
type = "file"
inputs = ["important"]
path = "{dir}/out/%Y/important.log"
encoding.codec = "json"
[sinks.bad]
type = "file"
inputs = ["parsed.dropped"]
path = "{dir}/out/dropped.log"
encoding.codec = "json"
"#,
    );
    let port = support::free_port();
    let mut child = env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{port}")]);
    assert!(wait_for(Duration::from_secs(20), || read_lines(
        &env.path("out")
    )
    .len()
        >= 2));
    let (code, metrics) = support::http_get(port, "/debug/metrics").unwrap();
    assert_eq!(code, 200);
    assert!(metrics.contains("logbridge_component_discarded_events_total{component_id=\"important\",component_kind=\"transform\",component_type=\"filter\",intentional=\"true\"} 2"), "{metrics}");
    assert_eq!(support::http_get(port, "/readyz").unwrap().0, 200);
    assert_eq!(support::http_get(port, "/healthz").unwrap().0, 200);
    let topo = support::http_get(port, "/api/v1/topology").unwrap().1;
    assert!(topo.contains("\"parsed.dropped\""), "{topo}");
    support::signal(&child, 15);
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("exits after SIGTERM");
    assert!(status.success());

    let important = read_lines(&env.path("out"))
        .into_iter()
        .filter(|l| l.contains("\"status\""))
        .collect::<Vec<_>>();
    assert_eq!(important.len(), 1, "{important:?}");
    let v: serde_json::Value = serde_json::from_str(&important[0]).unwrap();
    assert_eq!(v["message"], "down");
    assert_eq!(v["status"], 503);
    assert!(v["file"].as_str().unwrap().ends_with("app.log"));
    assert!(v["host"].is_string());
    let dropped = std::fs::read_to_string(env.path("out/dropped.log")).unwrap();
    let d: serde_json::Value = serde_json::from_str(dropped.trim()).unwrap();
    assert_eq!(d["message"], "not json at all");
    assert_eq!(d["dropped"]["reason"], "parse_failed");
}

#[test]
fn stdin_to_console_ends_with_input() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[sources.in]\ntype = \"stdin\"\n[sinks.out]\ntype = \"console\"\ninputs = [\"in\"]\nencoding.codec = \"json\"\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(support::bin())
        .args(["run", "--no-admin", "--data-dir"])
        .arg(dir.path())
        .arg("-c")
        .arg(&config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\nthree")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let messages: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages, ["one", "two", "three"]);
}

#[test]
fn sigterm_commits_checkpoints_so_a_restart_sends_nothing_twice() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    write_numbered(&env.path("in/a.log"), 0, 5_000);
    let config = file_pipeline(&env, "", "app");
    let mut child = env.spawn(&config, &["--no-admin"]);
    assert!(wait_for(Duration::from_secs(30), || read_lines(
        &env.path("out")
    )
    .len()
        >= 5_000));
    support::signal(&child, 15);
    assert!(
        wait_exit(&mut child, Duration::from_secs(20))
            .unwrap()
            .success()
    );
    write_numbered(&env.path("in/a.log"), 5_000, 6_000);
    let mut child = env.spawn(&config, &["--no-admin"]);
    assert!(wait_for(Duration::from_secs(30), || read_lines(
        &env.path("out")
    )
    .len()
        >= 6_000));
    std::thread::sleep(Duration::from_millis(500));
    support::signal(&child, 15);
    assert!(
        wait_exit(&mut child, Duration::from_secs(20))
            .unwrap()
            .success()
    );
    assert_eq!(tally(&read_lines(&env.path("out")), 6_000), (0, 0));
}

/// Kills the process with SIGKILL while a file is being shipped, several
/// times, restarting it each time: every line must arrive, and duplicates
/// are limited to what was in flight at each kill.
#[test]
fn sigkill_while_shipping_loses_nothing() {
    const LINES: usize = 300_000;
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    write_numbered(&env.path("in/a.log"), 0, LINES);
    let config = file_pipeline(&env, "", "app");
    let mut kills = 0;
    let mut last_count = 0;
    for round in 0..6 {
        let mut child = env.spawn(&config, &["--no-admin"]);
        // Let it ship some, then kill it at a moment that varies per round.
        let target = (LINES / 8) * (round + 1);
        wait_for(Duration::from_secs(30), || {
            read_lines(&env.path("out")).len() >= target.min(LINES)
        });
        std::thread::sleep(Duration::from_millis(7 * round as u64));
        let _ = child.kill();
        let _ = child.wait();
        kills += 1;
        let count = read_lines(&env.path("out")).len();
        assert!(count >= last_count);
        last_count = count;
    }
    let mut child = env.spawn(&config, &["--no-admin"]);
    let complete = wait_for(Duration::from_secs(60), || {
        tally(&read_lines(&env.path("out")), LINES).0 == 0
    });
    support::signal(&child, 15);
    wait_exit(&mut child, Duration::from_secs(20));
    let (missing, dups) = tally(&read_lines(&env.path("out")), LINES);
    eprintln!("kills={kills} missing={missing} duplicates={dups}");
    assert!(complete, "missing {missing} lines after {kills} kills");
    assert_eq!(missing, 0);
    // In flight at a kill: at most a queue's worth per stage (4,096 events
    // each, three queues), the batches being transformed, the sink's write
    // merge (8,192), and what was acknowledged in the last few milliseconds
    // before the checkpoint write.
    assert!(
        dups <= kills * 40_000,
        "{dups} duplicates after {kills} kills"
    );
}

/// Starts the file pipeline on `in/app.log` holding lines 0 to 999 and
/// waits until they are all out: (the log, the config, the process).
fn ship_app_log(env: &Env) -> (std::path::PathBuf, std::path::PathBuf, std::process::Child) {
    std::fs::create_dir_all(env.path("in")).unwrap();
    let log = env.path("in/app.log");
    write_numbered(&log, 0, 1_000);
    let config = file_pipeline(env, "", "app");
    let child = env.spawn(&config, &["--no-admin"]);
    assert!(wait_for(Duration::from_secs(20), || {
        tally(&read_lines(&env.path("out")), 1_000).0 == 0
    }));
    (log, config, child)
}

#[test]
fn rotation_by_rename_and_copytruncate() {
    let env = Env::new();
    let (log, _config, mut child) = ship_app_log(&env);

    // Rename rotation: more lines land in the old file after the rename,
    // then the new file at the old path gets its own lines.
    std::fs::rename(&log, env.path("in/app.log.1")).unwrap();
    write_numbered(&env.path("in/app.log.1"), 1_000, 1_500);
    write_numbered(&log, 1_500, 2_000);
    assert!(wait_for(Duration::from_secs(20), || tally(
        &read_lines(&env.path("out")),
        2_000
    )
    .0 == 0));

    // copytruncate: copy aside, truncate in place, keep writing.
    std::fs::copy(&log, env.path("in/app.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    write_numbered(&log, 2_000, 2_600);
    assert!(wait_for(Duration::from_secs(20), || tally(
        &read_lines(&env.path("out")),
        2_600
    )
    .0 == 0));
    support::signal(&child, 15);
    assert!(
        wait_exit(&mut child, Duration::from_secs(20))
            .unwrap()
            .success()
    );
    let (missing, dups) = tally(&read_lines(&env.path("out")), 2_600);
    assert_eq!(missing, 0);
    assert_eq!(dups, 0, "rotated files must not be read twice");
}

/// A sink that cannot write (its folder's place is taken by a file) keeps
/// retrying and counting errors; once the path is fixed every line arrives.
/// Meanwhile the source has committed nothing it did not deliver.
#[test]
fn unwritable_output_is_retried_without_loss() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    write_numbered(&env.path("in/a.log"), 0, 2_000);
    // `out` is a file, so `out/out.log` cannot be created.
    std::fs::write(env.path("out"), "in the way").unwrap();
    let config = file_pipeline(&env, "", "app");
    let port = support::free_port();
    let mut child = env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{port}")]);
    let errors_counted = wait_for(Duration::from_secs(20), || {
        support::http_get(port, "/debug/metrics").is_some_and(|(_, m)| {
            m.lines().any(|l| {
                l.starts_with("logbridge_component_errors_total{component_id=\"out\"")
                    && !l.ends_with(" 0")
            })
        })
    });
    assert!(errors_counted, "write errors must be counted");
    std::fs::remove_file(env.path("out")).unwrap();
    assert!(wait_for(Duration::from_secs(30), || tally(
        &read_lines(&env.path("out")),
        2_000
    )
    .0 == 0));
    support::signal(&child, 15);
    assert!(
        wait_exit(&mut child, Duration::from_secs(20))
            .unwrap()
            .success()
    );
    assert_eq!(tally(&read_lines(&env.path("out")), 2_000), (0, 0));
}

/// The first SIGTERM drains; a second one exits at once even while the
/// drain is stuck.
#[test]
fn second_signal_exits_at_once() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    write_numbered(&env.path("in/a.log"), 0, 100);
    std::fs::write(env.path("out"), "in the way").unwrap();
    let config = file_pipeline(&env, "", "app");
    let mut child = env.spawn(&config, &["--no-admin"]);
    std::thread::sleep(Duration::from_millis(1_000));
    support::signal(&child, 15);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the drain is stuck on the unwritable sink"
    );
    support::signal(&child, 15);
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("exits at once");
    assert_eq!(status.code(), Some(130));
}

/// The same crash test through a disk buffer: every line arrives, and the
/// buffer ends empty and undamaged.
#[test]
fn sigkill_with_a_disk_buffer_loses_nothing() {
    const LINES: usize = 100_000;
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    write_numbered(&env.path("in/a.log"), 0, LINES);
    let config = file_pipeline_with(
        &env,
        "",
        "app",
        "buffer.type = \"disk\"\nbuffer.max_size = 268435456\n",
    );
    let mut kills = 0;
    for round in 0..4 {
        let mut child = env.spawn(&config, &["--no-admin"]);
        let target = (LINES / 6) * (round + 1);
        wait_for(Duration::from_secs(30), || {
            read_lines(&env.path("out")).len() >= target
        });
        std::thread::sleep(Duration::from_millis(11 * round as u64));
        let _ = child.kill();
        let _ = child.wait();
        kills += 1;
    }
    let mut child = env.spawn(&config, &["--no-admin"]);
    let complete = wait_for(Duration::from_secs(60), || {
        tally(&read_lines(&env.path("out")), LINES).0 == 0
    });
    support::signal(&child, 15);
    assert!(
        wait_exit(&mut child, Duration::from_secs(20))
            .unwrap()
            .success()
    );
    let (missing, dups) = tally(&read_lines(&env.path("out")), LINES);
    eprintln!("disk buffer: kills={kills} missing={missing} duplicates={dups}");
    assert!(
        complete && missing == 0,
        "missing {missing} lines after {kills} kills"
    );

    let report = inspect_buffer(&env.path("state/out/buffer"));
    assert_eq!(report["records_pending"], 0, "{report}");
    assert_eq!(report["damaged_records"], 0, "{report}");
}

/// A disk buffer with a damaged segment: the damage is reported by
/// `buffer inspect`, the process starts (no crash loop), quarantines the
/// damaged part, delivers everything else, and new data flows.
#[test]
fn corrupt_disk_buffer_segment_is_quarantined_and_skipped() {
    const LINES: usize = 20_000;
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    write_numbered(&env.path("in/a.log"), 0, LINES);
    // The sink cannot write yet (`out` is a file), so the lines stay in
    // the disk buffer.
    std::fs::write(env.path("out"), "in the way").unwrap();
    let config = file_pipeline_with(
        &env,
        "",
        "app",
        "buffer.type = \"disk\"\nbuffer.max_size = 268435456\n",
    );
    let port = support::free_port();
    let mut child = env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{port}")]);
    let buffered = wait_for(Duration::from_secs(30), || {
        support::http_get(port, "/debug/metrics").is_some_and(|(_, m)| {
            m.lines().any(|l| {
                l.starts_with("logbridge_component_sent_events_total{component_id=\"app\"")
                    && l.ends_with(&format!(" {LINES}"))
            })
        })
    });
    assert!(buffered, "the source read every line");
    // Past the buffer's group commit: everything sent is on disk.
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();

    let inspect = || inspect_buffer(&env.path("state/out/buffer"));
    let before = inspect();
    assert!(before["records_pending"].as_u64().unwrap() > 0, "{before}");
    assert_eq!(before["damaged_records"], 0, "{before}");

    // Flip bytes in the middle of the first segment.
    let mut segments: Vec<_> = std::fs::read_dir(env.path("state/out/buffer"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    let mut bytes = std::fs::read(&segments[0]).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0xa5;
    }
    std::fs::write(&segments[0], bytes).unwrap();
    let damaged = inspect();
    assert!(
        damaged["damaged_records"].as_u64().unwrap() >= 1,
        "{damaged}"
    );

    std::fs::remove_file(env.path("out")).unwrap();
    let mut child = env.spawn(&config, &["--admin-address", &format!("127.0.0.1:{port}")]);
    write_numbered(&env.path("in/a.log"), LINES, LINES + 1_000);
    let new_lines_arrived = wait_for(Duration::from_secs(60), || {
        let lines = read_lines(&env.path("out"));
        lines
            .iter()
            .any(|l| l.contains(&format!("line {:08} ", LINES + 999)))
    });
    assert!(new_lines_arrived, "data after the damage flows");
    let errors_counted = support::http_get(port, "/debug/metrics").is_some_and(|(_, m)| {
        m.lines().any(|l| {
            l.starts_with("logbridge_component_errors_total{component_id=\"out\"")
                && !l.ends_with(" 0")
        })
    });
    support::signal(&child, 15);
    assert!(
        wait_exit(&mut child, Duration::from_secs(20))
            .unwrap()
            .success()
    );
    let (missing, dups) = tally(&read_lines(&env.path("out")), LINES + 1_000);
    eprintln!(
        "corrupt segment: missing={missing} duplicates={dups} of {}",
        LINES + 1_000
    );
    assert!(
        missing > 0 && missing < LINES,
        "only the damaged part is lost: {missing}"
    );
    assert_eq!(dups, 0);
    assert!(errors_counted, "the damage is counted as an error");
    let after = inspect();
    assert!(after["quarantined_files"].as_u64().unwrap() >= 1, "{after}");
    assert_eq!(after["records_pending"], 0, "{after}");
}

/// A file renamed out of the pattern (`app.log` to `app.log.1`) while
/// logbridge was stopped: at the next start it is found by its identity in
/// the directory it was in and its unread tail is read, as is the new
/// `app.log`.
#[test]
fn regression_file_renamed_while_stopped_is_read_to_its_end() {
    let env = Env::new();
    let (log, config, mut child) = ship_app_log(&env);
    stop_ok(&mut child);

    // While stopped: the file grows, is rotated away, a new one starts.
    write_numbered(&log, 1_000, 1_700);
    std::fs::rename(&log, env.path("in/app.log.1")).unwrap();
    write_numbered(&log, 1_700, 2_000);

    let mut child = env.spawn(&config, &["--no-admin"]);
    let complete = wait_for(Duration::from_secs(20), || {
        tally(&read_lines(&env.path("out")), 2_000).0 == 0
    });
    stop_ok(&mut child);
    let (missing, dups) = tally(&read_lines(&env.path("out")), 2_000);
    assert!(complete, "missing {missing} lines");
    assert_eq!((missing, dups), (0, 0));
}

/// A checkpointed file that is gone at start while it still had lines not
/// read is reported (those lines cannot be read any more).
#[test]
fn regression_file_gone_with_unread_lines_is_reported() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("in")).unwrap();
    let log = env.path("in/app.log");
    write_numbered(&log, 0, 1_000);
    let size = std::fs::metadata(&log).unwrap().len();
    // Nothing can be delivered: the checkpoint stays at 0.
    std::fs::write(env.path("out"), "in the way").unwrap();
    let config = file_pipeline(&env, "", "app");
    let mut child = env.spawn(&config, &["--no-admin"]);
    let checkpointed = wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(env.path("state/app/checkpoints.json"))
            .is_ok_and(|c| c.contains(&format!("\"size\": {size}")))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(checkpointed);

    std::fs::remove_file(&log).unwrap();
    std::fs::remove_file(env.path("out")).unwrap();
    let mut child = env.spawn(&config, &["--no-admin"]);
    std::thread::sleep(Duration::from_secs(2));
    stop_ok(&mut child);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("A file with lines not read yet is gone")
            && stderr.contains(&format!("unread_bytes={size}")),
        "{stderr}"
    );
}

/// Stops a run with SIGTERM; it must exit 0.
fn stop_ok(child: &mut std::process::Child) {
    support::signal(child, 15);
    let status = wait_exit(child, Duration::from_secs(20)).expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
}
