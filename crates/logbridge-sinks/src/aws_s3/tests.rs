//! Tests of the `aws_s3` sink: against a local folder (`file://`), and
//! against a real S3-compatible server (`moto_server`, found through the
//! `MOTO_SERVER` variable).

use std::io::Read;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use logbridge_component::channel::{self, BatchSender};
use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
use logbridge_component::{BuildContext, ShutdownSignal, Sink, SinkConfig, SinkContext};
use logbridge_event::{
    BatchNotifier, BatchStatus, Event, EventBatch, Finalizers, LogRecord, Value,
};
use object_store::ObjectStoreExt;
use tokio::sync::mpsc;

use super::S3SinkConfig;
use super::sink::S3Sink;
use super::store;

const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z

fn config(json: serde_json::Value) -> S3SinkConfig {
    serde_json::from_value(json).unwrap()
}

fn log(line: &str, service: &str) -> Event {
    let mut l = LogRecord::from_line(Bytes::copy_from_slice(line.as_bytes()), T0);
    l.time_unix_nano = T0;
    l.attributes.insert("service".into(), Value::from(service));
    Event::Log(l)
}

struct Harness {
    tx: Option<BatchSender>,
    statuses: mpsc::UnboundedReceiver<BatchStatus>,
    status_tx: mpsc::UnboundedSender<BatchStatus>,
    metrics: Arc<ComponentMetrics>,
    shutdown: ShutdownSignal,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    fn start(sink: Box<dyn Sink>) -> Harness {
        let (tx, rx) = channel::bounded(100_000, 1 << 30);
        let metrics = Arc::new(ComponentMetrics::new("out", ComponentKind::Sink, "aws_s3"));
        let shutdown = ShutdownSignal::new();
        let cx = SinkContext::new(
            "out".into(),
            Arc::clone(&metrics),
            "/tmp".into(),
            shutdown.clone(),
            rx,
        );
        let task = tokio::spawn(async move { sink.run(cx).await.unwrap() });
        let (status_tx, statuses) = mpsc::unbounded_channel();
        Harness {
            tx: Some(tx),
            statuses,
            status_tx,
            metrics,
            shutdown,
            task,
        }
    }

    fn build(cfg: &S3SinkConfig) -> Harness {
        let cx = BuildContext::detached("out", ComponentKind::Sink, "/tmp".into());
        Harness::start(cfg.build(&cx).unwrap())
    }

    async fn send(&self, events: Vec<Event>) {
        let status_tx = self.status_tx.clone();
        let notifier = BatchNotifier::new(move |s| {
            let _ = status_tx.send(s);
        });
        let batch = EventBatch::new(events).with_finalizers(Finalizers::new(notifier));
        self.tx.as_ref().unwrap().send(batch).await.unwrap();
    }

    /// Ends the input and waits for the sink to finish.
    async fn finish(mut self) -> Vec<BatchStatus> {
        drop(self.tx.take());
        self.task.await.unwrap();
        drop(self.status_tx);
        let mut out = Vec::new();
        while let Some(s) = self.statuses.recv().await {
            out.push(s);
        }
        out
    }
}

/// Every file under `root`, by path relative to it, decoded by extension.
fn read_objects(root: &FsPath) -> Vec<(String, String)> {
    fn walk(dir: &FsPath, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    if root.exists() {
        walk(root, &mut files);
    }
    let mut out: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (rel.clone(), decode(&rel, std::fs::read(p).unwrap()))
        })
        .collect();
    out.sort();
    out
}

fn decode(name: &str, raw: Vec<u8>) -> String {
    let mut text = String::new();
    if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut text)
            .unwrap();
    } else if name.ends_with(".zst") {
        text = String::from_utf8(zstd::decode_all(&raw[..]).unwrap()).unwrap();
    } else {
        text = String::from_utf8(raw).unwrap();
    }
    text
}

/// Checks the name `{prefix}{millis}-{16 hex}.{ext}` and returns the prefix.
fn prefix_of(name: &str, ext: &str) -> String {
    let (prefix, file) = name.rsplit_once('/').unwrap();
    let stem = file.strip_suffix(&format!(".{ext}")).unwrap();
    let (millis, random) = stem.split_once('-').unwrap();
    assert_eq!(millis, (T0 / 1_000_000).to_string(), "{name}");
    assert_eq!(random.len(), 16, "{name}");
    assert!(random.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    format!("{prefix}/")
}

#[tokio::test]
async fn local_objects_land_under_rendered_prefixes_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "key_prefix": "app/service={{ service }}/date=%Y-%m-%d/",
        "encoding": {"codec": "text"},
    }));
    let h = Harness::build(&cfg);
    h.send(vec![log("a1", "api"), log("w1", "web"), log("a2", "api")])
        .await;
    h.send(vec![log("w2", "web")]).await;
    let metrics = Arc::clone(&h.metrics);
    assert_eq!(
        h.finish().await,
        vec![BatchStatus::Delivered, BatchStatus::Delivered]
    );
    let objects = read_objects(dir.path());
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert_eq!(
        prefix_of(&objects[0].0, "log.gz"),
        "app/service=api/date=2024-01-01/"
    );
    assert_eq!(objects[0].1, "a1\na2\n");
    assert_eq!(
        prefix_of(&objects[1].0, "log.gz"),
        "app/service=web/date=2024-01-01/"
    );
    assert_eq!(objects[1].1, "w1\nw2\n");
    assert_eq!(metrics.sent_events.load(Ordering::Relaxed), 4);
    assert!(metrics.sent_bytes.load(Ordering::Relaxed) > 0);
}

#[tokio::test]
async fn zstd_json_objects_decode() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "encoding": {"codec": "json"},
        "compression": "zstd",
    }));
    let h = Harness::build(&cfg);
    h.send(vec![log("x", "s"), log("y", "s")]).await;
    assert_eq!(h.finish().await, vec![BatchStatus::Delivered]);
    let objects = read_objects(dir.path());
    assert_eq!(objects.len(), 1);
    assert_eq!(prefix_of(&objects[0].0, "json.zst"), "date=2024-01-01/");
    let lines: Vec<&str> = objects[0].1.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("\"message\":\"x\""), "{lines:?}");
    assert!(lines[1].contains("\"message\":\"y\""), "{lines:?}");
}

#[tokio::test(start_paused = true)]
async fn timeout_flushes_a_partial_batch_and_acknowledges_only_after_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "key_prefix": "logs/",
        "encoding": {"codec": "text"},
        "compression": "none",
        "batch": {"timeout_secs": 60},
    }));
    let mut h = Harness::build(&cfg);
    let started = tokio::time::Instant::now();
    h.send(vec![log("a", "s")]).await;
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert!(
        h.statuses.try_recv().is_err(),
        "acknowledged before the write"
    );
    assert!(read_objects(dir.path()).is_empty());
    // The input stays open: only the timeout can write the object.
    let status = h.statuses.recv().await.unwrap();
    assert_eq!(status, BatchStatus::Delivered);
    assert!(started.elapsed() >= Duration::from_secs(60));
    let objects = read_objects(dir.path());
    assert_eq!(objects.len(), 1, "written before it was acknowledged");
    assert_eq!(objects[0].1, "a\n");
    assert!(h.finish().await.is_empty());
}

#[tokio::test]
async fn batch_limits_split_objects() {
    // max_events
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "key_prefix": "logs/",
        "encoding": {"codec": "text"},
        "compression": "none",
        "batch": {"max_events": 3},
    }));
    let h = Harness::build(&cfg);
    let events = (0..7).map(|i| log(&format!("e{i}"), "s")).collect();
    h.send(events).await;
    assert_eq!(h.finish().await, vec![BatchStatus::Delivered]);
    let mut bodies: Vec<String> = read_objects(dir.path()).into_iter().map(|o| o.1).collect();
    bodies.sort_by_key(|b| std::cmp::Reverse(b.len()));
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    let mut all: Vec<&str> = bodies.iter().flat_map(|b| b.lines()).collect();
    all.sort();
    assert_eq!(all, ["e0", "e1", "e2", "e3", "e4", "e5", "e6"]);
    assert_eq!(
        bodies.iter().map(|b| b.lines().count()).collect::<Vec<_>>(),
        [3, 3, 1]
    );

    // max_bytes: 10 bytes per line, a batch is written at 25 or more.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "key_prefix": "logs/",
        "encoding": {"codec": "text"},
        "compression": "gzip",
        "batch": {"max_bytes": 25},
    }));
    let h = Harness::build(&cfg);
    for i in 0..5 {
        h.send(vec![log(&format!("line-{i:04}"), "s")]).await;
    }
    assert_eq!(h.finish().await, vec![BatchStatus::Delivered; 5]);
    let objects = read_objects(dir.path());
    let counts: Vec<usize> = objects.iter().map(|o| o.1.lines().count()).collect();
    assert_eq!(counts.iter().sum::<usize>(), 5);
    assert_eq!(objects.len(), 2, "{objects:?}");
}

#[tokio::test]
async fn shutdown_flushes_open_batches() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "key_prefix": "{{ service }}/",
        "encoding": {"codec": "text"},
        "filename_extension": "txt.gz",
    }));
    let h = Harness::build(&cfg);
    h.send(vec![log("a", "one"), log("b", "two")]).await;
    h.shutdown.trigger();
    assert_eq!(h.finish().await, vec![BatchStatus::Delivered]);
    let objects = read_objects(dir.path());
    assert_eq!(objects.len(), 2);
    assert_eq!(prefix_of(&objects[0].0, "txt.gz"), "one/");
    assert_eq!(objects[0].1, "a\n");
    assert_eq!(objects[1].1, "b\n");
}

#[tokio::test]
async fn failing_store_reports_errored_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}/sub", blocker.display()),
        "encoding": {"codec": "text"},
    }));
    let mut h = Harness::build(&cfg);
    h.send(vec![log("a", "s")]).await;
    drop(h.tx.take()); // input ends: the sink keeps retrying
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.statuses.try_recv().is_err(), "gave up before shutdown");
    assert!(h.metrics.errors.load(Ordering::Relaxed) >= 1);
    h.shutdown.trigger();
    assert_eq!(h.finish().await, vec![BatchStatus::Errored]);
}

#[test]
fn build_validates_options_without_io() {
    let cx = BuildContext::detached("out", ComponentKind::Sink, "/tmp".into());
    let err = |json: serde_json::Value| config(json).build(&cx).err().unwrap();
    let base = |extra: serde_json::Value| {
        let mut v = serde_json::json!({"bucket": "my-logs", "encoding": {"codec": "json"}});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    let e = err(base(serde_json::json!({"bucket": "My_Bucket"})));
    assert_eq!(e.option.as_deref(), Some("bucket"));
    let e = err(base(serde_json::json!({"bucket": "file://relative/path"})));
    assert_eq!(e.option.as_deref(), Some("bucket"));
    let e = err(base(serde_json::json!({"endpoint": "127.0.0.1:9000"})));
    assert_eq!(e.option.as_deref(), Some("endpoint"));
    let e = err(base(serde_json::json!({"key_prefix": "{{ service"})));
    assert_eq!(e.option.as_deref(), Some("key_prefix"));
    let e = err(base(serde_json::json!({"batch": {"max_events": 0}})));
    assert_eq!(e.option.as_deref(), Some("batch"));
    assert!(
        serde_json::from_value::<S3SinkConfig>(base(serde_json::json!({"bukket": "x"}))).is_err()
    );

    let ok = config(base(
        serde_json::json!({"endpoint": "http://127.0.0.1:9000"}),
    ));
    assert!(ok.build(&cx).is_ok());
    let settings = ok.settings().unwrap();
    assert_eq!(settings.extension, "json.gz");
    assert_eq!(settings.max_bytes, 10 * 1024 * 1024);
    assert_eq!(settings.max_events, 100_000);
    assert_eq!(settings.timeout, Duration::from_secs(300));

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-yet");
    let local = config(base(
        serde_json::json!({"bucket": format!("file://{}", missing.display())}),
    ));
    assert!(local.build(&cx).is_ok());
    assert!(!missing.exists(), "build touched the filesystem");
}

/// A `moto_server` on a free loopback port, stopped (by pid) on drop.
struct Moto {
    child: std::process::Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let bin = std::env::var("MOTO_SERVER").unwrap_or_else(|_| {
            panic!(
                "MOTO_SERVER is not set: install `pip install 'moto[server]'` and set \
                 MOTO_SERVER to the path of its `moto_server` binary (not a pyenv shim)"
            )
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start MOTO_SERVER={bin}: {e}"));
        let moto = Moto { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !moto
            .request("GET", "/moto-api/")
            .starts_with("HTTP/1.1 200")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "moto_server not ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// A plain unsigned HTTP request; the response head, or "" if none.
    fn request(&self, method: &str, path: &str) -> String {
        use std::io::Write;
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_err() {
            return String::new();
        }
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        resp
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_s3_single_and_multipart_objects() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let moto = Moto::start();
    let created = moto.request("PUT", "/logs-bucket");
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let env: Vec<(String, String)> = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "testtesttest"),
        ("AWS_REGION", "us-east-1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();

    let cfg = config(serde_json::json!({
        "bucket": "logs-bucket",
        "endpoint": endpoint,
        "key_prefix": "{{ service }}/",
        "encoding": {"codec": "text"},
        "compression": "none",
        "batch": {"max_bytes": 64 * 1024 * 1024},
    }));
    let mut settings = cfg.settings().unwrap();
    settings.env = Some(env.clone());
    let h = Harness::start(Box::new(S3Sink::new(settings)));
    // "big": about 12 MiB uncompressed, over the 8 MiB multipart threshold.
    let line = "x".repeat(1023);
    for _ in 0..12 {
        h.send((0..1024).map(|_| log(&line, "big")).collect()).await;
    }
    h.send(vec![log("small-1", "small"), log("small-2", "small")])
        .await;
    let errors = Arc::clone(&h.metrics);
    let statuses = tokio::time::timeout(Duration::from_secs(120), h.finish())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the sink did not finish; {} write errors",
                errors.errors.load(Ordering::Relaxed)
            )
        });
    assert_eq!(statuses, vec![BatchStatus::Delivered; 13]);

    let store = store::open(&cfg.settings().unwrap().target, env.clone()).unwrap();
    for (prefix, expect_lines, expect_first) in
        [("big", 12 * 1024, line.as_str()), ("small", 2, "small-1")]
    {
        let listed = store
            .list_with_delimiter(Some(&prefix.into()))
            .await
            .unwrap();
        assert_eq!(listed.objects.len(), 1, "{listed:?}");
        let meta = &listed.objects[0];
        let name = meta.location.to_string();
        prefix_of(&name, "log");
        if prefix == "big" {
            // A multipart upload's ETag ends in `-<parts>`.
            let etag = meta.e_tag.clone().unwrap_or_default();
            assert!(
                etag.trim_matches('"').contains('-'),
                "not multipart: {etag}"
            );
        }
        let body = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(text.lines().count(), expect_lines);
        assert_eq!(text.lines().next(), Some(expect_first));
    }

    // A missing bucket: counted as errors, retried, never acknowledged;
    // at shutdown the batch is reported `Errored` so it is read again.
    let cfg = config(serde_json::json!({
        "bucket": "missing-bucket",
        "endpoint": format!("http://127.0.0.1:{}", moto.port),
        "encoding": {"codec": "text"},
    }));
    let mut settings = cfg.settings().unwrap();
    settings.env = Some(env);
    let mut h = Harness::start(Box::new(S3Sink::new(settings)));
    h.send(vec![log("kept", "s")]).await;
    drop(h.tx.take());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while h.metrics.errors.load(Ordering::Relaxed) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no write error counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        h.statuses.try_recv().is_err(),
        "acknowledged a failed write"
    );
    h.shutdown.trigger();
    assert_eq!(h.finish().await, vec![BatchStatus::Errored]);
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn open_batches_are_bounded_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "key_prefix": "{{ service }}/",
        "encoding": {"codec": "text"},
        "compression": "none",
    }));
    let mut settings = cfg.settings().unwrap();
    settings.max_buffered_bytes = 30;
    let h = Harness::start(Box::new(S3Sink::new(settings)));
    // 10 bytes per line: 40 bytes held in two prefixes is over the limit.
    h.send(vec![
        log("x-line-01", "x"),
        log("x-line-02", "x"),
        log("x-line-03", "x"),
        log("y-line-01", "y"),
    ])
    .await;
    // The input is still open and no limit or timeout was reached: only
    // the memory bound can have written the larger batch.
    wait_until("the largest batch is written early", || {
        !read_objects(dir.path()).is_empty()
    })
    .await;
    let objects = read_objects(dir.path());
    assert_eq!(objects.len(), 1);
    assert_eq!(prefix_of(&objects[0].0, "log"), "x/");
    assert_eq!(h.finish().await, vec![BatchStatus::Delivered]);
    assert_eq!(read_objects(dir.path()).len(), 2);
}

#[tokio::test]
async fn aborted_sink_reports_errored_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "encoding": {"codec": "text"},
    }));
    let mut h = Harness::build(&cfg);
    h.send(vec![log("a", "s")]).await;
    let metrics = Arc::clone(&h.metrics);
    wait_until("the sink took the batch", || {
        metrics.received_events.load(Ordering::Relaxed) == 1
    })
    .await;
    h.task.abort();
    assert_eq!(h.statuses.recv().await, Some(BatchStatus::Errored));
    assert!(read_objects(dir.path()).is_empty());
}
