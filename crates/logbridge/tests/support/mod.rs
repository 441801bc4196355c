//! Shared helpers for the end-to-end tests: run the real binary in a fresh
//! temporary directory, wait for conditions by polling, pick free ports.

#![allow(dead_code)]

pub mod capture;
pub mod pki;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logbridge")
}

/// A temporary directory with a config in it.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` to `name`, replacing `{dir}` with the directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(
            &p,
            text.replace("{dir}", &self.dir.path().display().to_string()),
        )
        .unwrap();
        p
    }

    pub fn validate(&self, config: &Path) -> Output {
        Command::new(bin())
            .args(["validate", "-c"])
            .arg(config)
            .output()
            .unwrap()
    }

    /// Starts `logbridge run` without the admin server unless the config
    /// asks for it.
    pub fn spawn(&self, config: &Path, extra: &[&str]) -> Child {
        Command::new(bin())
            .args(["run", "-c"])
            .arg(config)
            .args(extra)
            .env("LOGBRIDGE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Polls `check` every 50 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

/// Lines of every file under `dir` (recursively), concatenated.
pub fn read_lines(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            out.extend(read_lines(&p));
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            out.extend(text.lines().map(str::to_owned));
        }
    }
    out
}

/// Appends lines `line <n> xxx...` for `n` in `from..to` to `path`.
pub fn write_numbered(path: &Path, from: usize, to: usize) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut buf = String::new();
    for i in from..to {
        buf.push_str(&format!("line {i:08} {}\n", "x".repeat(40)));
    }
    f.write_all(buf.as_bytes()).unwrap();
}

/// Counts each numbered line (from [`write_numbered`]) in the output:
/// (missing, duplicated).
pub fn tally(lines: &[String], expected: usize) -> (usize, usize) {
    let mut seen: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for l in lines {
        if let Some(n) = l.split_whitespace().nth(1).and_then(|n| n.parse().ok()) {
            *seen.entry(n).or_default() += 1;
        }
    }
    let missing = (0..expected).filter(|i| !seen.contains_key(i)).count();
    let dups = seen.values().map(|c| c - 1).sum();
    (missing, dups)
}

/// A loopback port nobody listens on, never the same twice in one test
/// binary (the OS may hand a just-released port out again, and tests run
/// in parallel).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Sends a signal to a child by process id.
pub fn signal(child: &Child, sig: i32) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the child to exit; kills it if it does not within `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((code, body))
}

/// The sum of the lines of metric `name` carrying every one of `labels`,
/// from the admin server at `port`; `None` when no line matches (or the
/// server does not answer).
pub fn metric(port: u16, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let (_, text) = http_get(port, "/debug/metrics")?;
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// A spawned logbridge, killed (by process id) when dropped, so a failing
/// test leaks no process.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `process` accepts connections on `port`; shows its errors
/// if it exits instead.
pub fn wait_listening(process: &mut Proc, port: u16) {
    let up = wait_for(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            || process.0.try_wait().unwrap().is_some()
    });
    if process.0.try_wait().unwrap().is_some() || !up {
        let _ = process.0.kill();
        let mut stderr = String::new();
        use std::io::Read;
        if let Some(mut err) = process.0.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        panic!("nothing listening on {port}: {stderr}");
    }
}

/// Waits until something accepts connections on `port`.
pub fn wait_port(port: u16) {
    assert!(
        wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "nothing listening on {port}"
    );
}

/// A single-threaded runtime for a test's async clients.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// xorshift64: enough randomness for test data and kill moments,
/// reproducible by seed.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
