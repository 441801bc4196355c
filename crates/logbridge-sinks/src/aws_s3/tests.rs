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

#[tokio::test]
async fn vectors_encoding_options_shape_the_lines() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "encoding": {
            "codec": "json",
            "except_fields": ["service"],
            "timestamp_format": "unix_ms",
        },
        "compression": "none",
    }));
    let h = Harness::build(&cfg);
    h.send(vec![log("x", "s")]).await;
    assert_eq!(h.finish().await, vec![BatchStatus::Delivered]);
    let objects = read_objects(dir.path());
    assert_eq!(objects.len(), 1);
    let line: serde_json::Value = serde_json::from_str(objects[0].1.trim()).unwrap();
    assert_eq!(line["message"], "x");
    assert!(line.get("service").is_none(), "{line}");
    assert_eq!(line["timestamp"], T0 / 1_000_000, "{line}");

    let parquet = config(serde_json::json!({
        "bucket": "my-logs",
        "encoding": {"codec": "parquet", "only_fields": ["message"]},
    }));
    let cx = BuildContext::detached("out", ComponentKind::Sink, "/tmp".into());
    let e = parquet.build(&cx).err().unwrap();
    assert_eq!(e.option.as_deref(), Some("encoding"));
    assert!(e.to_string().contains("only_fields"), "{e}");
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
    let settings = ok.settings(std::env::temp_dir()).unwrap();
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

/// The `AWS_*` variables the sink gets for moto.
fn moto_env() -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "testtesttest"),
        ("AWS_REGION", "us-east-1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
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
    let env = moto_env();

    let cfg = config(serde_json::json!({
        "bucket": "logs-bucket",
        "endpoint": endpoint,
        "key_prefix": "{{ service }}/",
        "encoding": {"codec": "text"},
        "compression": "none",
        "batch": {"max_bytes": 64 * 1024 * 1024},
    }));
    let mut settings = cfg.settings(std::env::temp_dir()).unwrap();
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

    let store = store::open(&cfg.settings(std::env::temp_dir()).unwrap().target, env).unwrap();
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

    // A refused write (no such bucket): see
    // `moto_refusal_is_rejected_without_retry`.
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
    let mut settings = cfg.settings(std::env::temp_dir()).unwrap();
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

/// `AWS_*` variables plus a HOME whose `.aws/` holds the given files.
fn env_with_aws_files(
    home: &FsPath,
    credentials: &str,
    config: &str,
    vars: &[(&str, &str)],
) -> Vec<(String, String)> {
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(home.join(".aws/credentials"), credentials).unwrap();
    std::fs::write(home.join(".aws/config"), config).unwrap();
    let mut env = vec![("HOME".to_owned(), home.display().to_string())];
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

#[test]
fn aws_profile_settings_rank_below_options_and_environment() {
    use object_store::aws::AmazonS3ConfigKey as Key;
    let home = tempfile::tempdir().unwrap();
    let credentials = "[prod]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\naws_session_token = file-token\n";
    let config = "[profile prod]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:9000\n";
    let get = |builder: &object_store::aws::AmazonS3Builder, key| builder.get_config_value(&key);

    // Files only.
    let env = env_with_aws_files(home.path(), credentials, config, &[("AWS_PROFILE", "prod")]);
    let b = store::s3_builder("logs", None, None, &env).unwrap();
    assert_eq!(get(&b, Key::AccessKeyId).as_deref(), Some("AKIDFILE"));
    assert_eq!(
        get(&b, Key::SecretAccessKey).as_deref(),
        Some("file-secret")
    );
    assert_eq!(get(&b, Key::Token).as_deref(), Some("file-token"));
    assert_eq!(get(&b, Key::Region).as_deref(), Some("eu-west-1"));
    assert_eq!(
        get(&b, Key::Endpoint).as_deref(),
        Some("http://127.0.0.1:9000")
    );

    // The environment beats the files; credentials as a whole (no file
    // token with the environment's keys).
    let env = env_with_aws_files(
        home.path(),
        credentials,
        config,
        &[
            ("AWS_PROFILE", "prod"),
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_ENDPOINT_URL", "http://localhost:4566"),
        ],
    );
    let b = store::s3_builder("logs", None, None, &env).unwrap();
    assert_eq!(get(&b, Key::AccessKeyId).as_deref(), Some("AKIDENV"));
    assert_eq!(get(&b, Key::SecretAccessKey).as_deref(), Some("env-secret"));
    assert_eq!(get(&b, Key::Token), None);
    assert_eq!(get(&b, Key::Region).as_deref(), Some("us-east-2"));
    assert_eq!(
        get(&b, Key::Endpoint).as_deref(),
        Some("http://localhost:4566")
    );

    // The sink's options beat both.
    let b = store::s3_builder("logs", Some("ap-east-1"), Some("https://s3.example"), &env).unwrap();
    assert_eq!(get(&b, Key::Region).as_deref(), Some("ap-east-1"));
    assert_eq!(
        get(&b, Key::Endpoint).as_deref(),
        Some("https://s3.example")
    );

    // A token alone in the environment is not sent with the file's keys.
    let env = env_with_aws_files(
        home.path(),
        credentials
            .replace("aws_session_token = file-token\n", "")
            .as_str(),
        config,
        &[("AWS_PROFILE", "prod"), ("AWS_SESSION_TOKEN", "stray")],
    );
    let b = store::s3_builder("logs", None, None, &env).unwrap();
    assert_eq!(get(&b, Key::AccessKeyId).as_deref(), Some("AKIDFILE"));
    assert_eq!(get(&b, Key::Token), None);
}

#[test]
fn unknown_aws_profile_is_a_configuration_error() {
    let home = tempfile::tempdir().unwrap();
    let env = env_with_aws_files(
        home.path(),
        "[a]\n",
        "[profile b]\n",
        &[("AWS_PROFILE", "c")],
    );
    let target = store::StoreTarget::S3 {
        bucket: "logs".into(),
        region: None,
        endpoint: None,
    };
    let Err(error) = store::open(&target, env) else {
        panic!("a missing profile must not open a store");
    };
    let message = error.to_string();
    assert!(
        message.contains("AWS profile `c` (from AWS_PROFILE) not found"),
        "{message}"
    );
    assert!(message.contains(".aws/credentials"), "{message}");
    assert!(message.contains(".aws/config"), "{message}");
    assert_eq!(
        store::classify(&error),
        store::Failure::Config(store::ConfigCause::Profile)
    );
}

/// A log read from partition 0 of topic `logs` at `offset`.
fn kafka_log(offset: i64) -> Event {
    let mut l = LogRecord::from_line(Bytes::from(format!("r{offset}")), T0);
    l.time_unix_nano = T0;
    let mut kafka = logbridge_event::ObjectMap::new();
    kafka.insert("topic".into(), Value::from("logs"));
    kafka.insert("partition".into(), Value::Integer(0));
    kafka.insert("offset".into(), Value::Integer(offset));
    l.metadata.insert("kafka".into(), Value::Object(kafka));
    Event::Log(l)
}

fn kafka_config(bucket: &FsPath, max_events: usize) -> S3SinkConfig {
    config(serde_json::json!({
        "bucket": format!("file://{}", bucket.display()),
        "key_prefix": "p/",
        "encoding": {"codec": "text"},
        "compression": "none",
        "batch": {"max_events": max_events},
    }))
}

fn start_in(cfg: &S3SinkConfig, data_dir: &FsPath) -> Harness {
    let cx = BuildContext::detached("out", ComponentKind::Sink, data_dir.to_path_buf());
    Harness::start(cfg.build(&cx).unwrap())
}

#[tokio::test]
async fn kafka_records_are_cut_at_recorded_offsets_after_a_crash() {
    let bucket = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    // First run: objects 0-3 and 4-7 are written, then the process dies
    // with 8-9 still open.
    let h = start_in(&kafka_config(bucket.path(), 4), state.path());
    h.send((0..10).map(kafka_log).collect()).await;
    for _ in 0..100 {
        if read_objects(bucket.path()).len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.task.abort();
    let names: Vec<String> = read_objects(bucket.path())
        .into_iter()
        .map(|o| o.0)
        .collect();
    assert_eq!(
        names,
        [
            "p/logs-0-00000000000000000000-00000000000000000003.log",
            "p/logs-0-00000000000000000004-00000000000000000007.log"
        ]
    );
    // Second run, other limits, resuming from offset 2 (the source had
    // committed up to 1): 2-3 are known written and skipped, 4-7 is cut
    // where it was before, 8-9 is new.
    let h = start_in(&kafka_config(bucket.path(), 3), state.path());
    h.send((2..5).map(kafka_log).collect()).await;
    h.send((5..10).map(kafka_log).collect()).await;
    assert!(
        h.finish()
            .await
            .iter()
            .all(|s| *s == BatchStatus::Delivered)
    );
    let objects = read_objects(bucket.path());
    let names: Vec<&str> = objects.iter().map(|o| o.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "p/logs-0-00000000000000000000-00000000000000000003.log",
            "p/logs-0-00000000000000000004-00000000000000000007.log",
            "p/logs-0-00000000000000000008-00000000000000000009.log"
        ]
    );
    let all: String = objects.iter().map(|o| o.1.as_str()).collect();
    let expected: String = (0..10).map(|i| format!("r{i}\n")).collect();
    assert_eq!(all, expected, "every record exactly once");
}

#[tokio::test]
async fn records_of_one_offset_stay_in_one_object() {
    let bucket = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let h = start_in(&kafka_config(bucket.path(), 2), state.path());
    // Offset 1 holds three records (one OTLP payload, say).
    h.send([0, 1, 1, 1, 2].into_iter().map(kafka_log).collect())
        .await;
    assert!(
        h.finish()
            .await
            .iter()
            .all(|s| *s == BatchStatus::Delivered)
    );
    let names: Vec<String> = read_objects(bucket.path())
        .into_iter()
        .map(|o| o.0)
        .collect();
    assert_eq!(
        names,
        [
            "p/logs-0-00000000000000000000-00000000000000000001.log",
            "p/logs-0-00000000000000000002-00000000000000000002.log"
        ]
    );
}

#[tokio::test]
async fn parquet_objects_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", dir.path().display()),
        "key_prefix": "{{ service }}/",
        "encoding": {"codec": "parquet"},
    }));
    let h = Harness::build(&cfg);
    h.send(vec![log("a", "one"), log("b", "one")]).await;
    assert_eq!(h.finish().await, vec![BatchStatus::Delivered]);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("one")).unwrap() {
        files.push(entry.unwrap().path());
    }
    assert_eq!(files.len(), 1);
    assert!(files[0].to_string_lossy().ends_with(".parquet"));
    let bytes = std::fs::read(&files[0]).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    let reader = ::parquet::file::reader::SerializedFileReader::new(Bytes::from(bytes)).unwrap();
    use ::parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
    let bad = config(serde_json::json!({
        "bucket": "file:///tmp/x",
        "encoding": {"codec": "parquet"},
        "compression": "gzip",
    }));
    let cx = BuildContext::detached("out", ComponentKind::Sink, "/tmp".into());
    assert_eq!(
        bad.build(&cx).err().unwrap().option.as_deref(),
        Some("compression")
    );
}

/// A journal that does not match the records (the topic was recreated, or
/// a data_dir reused): the replayed cut never completes, and its records
/// are written under their own name instead of waiting forever.
#[tokio::test(start_paused = true)]
async fn a_stale_cut_journal_does_not_stall_a_partition() {
    let bucket = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", bucket.path().display()),
        "key_prefix": "p/",
        "encoding": {"codec": "text"},
        "compression": "none",
        "batch": {"max_events": 100, "timeout_secs": 1},
    }));
    let h = start_in(&cfg, state.path());
    h.send((0..100).map(kafka_log).collect()).await;
    assert_eq!(h.finish().await, vec![BatchStatus::Delivered]);
    // The topic now holds only 10 records.
    let h = start_in(&cfg, state.path());
    h.send((0..10).map(kafka_log).collect()).await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    let mut statuses = h.statuses;
    assert_eq!(statuses.recv().await, Some(BatchStatus::Delivered));
    let names: Vec<String> = read_objects(bucket.path())
        .into_iter()
        .map(|o| o.0)
        .collect();
    assert!(
        names.contains(&"p/logs-0-00000000000000000000-00000000000000000009.log".to_owned()),
        "{names:?}"
    );
}

/// A server refusal (here 404, no such bucket) is not retried: the batch is
/// reported rejected at once and counted, and the sink goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_refusal_is_rejected_without_retry() {
    let moto = Moto::start();
    let env = moto_env();
    let cfg = config(serde_json::json!({
        "bucket": "no-such-bucket",
        "endpoint": format!("http://127.0.0.1:{}", moto.port),
        "encoding": {"codec": "text"},
        "batch": {"max_events": 1},
    }));
    let mut settings = cfg.settings(std::env::temp_dir()).unwrap();
    settings.env = Some(env);
    let h = Harness::start(Box::new(S3Sink::new(settings)));
    h.send(vec![log("a", "s")]).await;
    let metrics = Arc::clone(&h.metrics);
    let statuses = tokio::time::timeout(Duration::from_secs(30), h.finish())
        .await
        .expect("a refusal is not retried");
    assert_eq!(statuses, vec![BatchStatus::Rejected]);
    assert_eq!(metrics.discarded_unintentional.load(Ordering::Relaxed), 1);
    assert!(metrics.problem().is_some());
}

/// A local folder whose writes wait until the test opens the gate, so
/// that an object is still being written while more records arrive.
#[derive(Debug)]
struct GatedStore {
    inner: object_store::local::LocalFileSystem,
    gate: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Display for GatedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GatedStore({})", self.inner)
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for GatedStore {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        payload: object_store::PutPayload,
        options: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        let _open = self.gate.acquire().await.unwrap();
        self.inner.put_opts(location, payload, options).await
    }

    async fn put_multipart_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, options).await
    }

    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<
            'static,
            object_store::Result<object_store::path::Path>,
        >,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &object_store::path::Path,
        to: &object_store::path::Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// Records read twice (once from a disk buffer, again from Kafka after a
/// restart) that arrive while the object holding them is still being
/// written are that object's: they are acknowledged without being written
/// into a second object.
#[tokio::test]
async fn records_arriving_while_their_object_is_written_are_not_written_again() {
    let bucket = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let store = GatedStore {
        inner: object_store::local::LocalFileSystem::new_with_prefix(bucket.path()).unwrap(),
        gate: Arc::clone(&gate),
    };
    let cfg = config(serde_json::json!({
        "bucket": format!("file://{}", bucket.path().display()),
        "key_prefix": "p/",
        "encoding": {"codec": "text"},
        "compression": "none",
        "batch": {"max_events": 100, "timeout_secs": 1},
    }));
    let sink =
        S3Sink::new(cfg.settings(state.path().join("out")).unwrap()).with_store(Arc::new(store));
    let h = Harness::start(Box::new(sink));
    // 0-9 are cut into an object after the batch timeout; its write now
    // waits at the gate.
    h.send((0..10).map(kafka_log).collect()).await;
    let journal = state.path().join("out/cuts.jsonl");
    wait_until("the cut recorded", || {
        std::fs::read_to_string(&journal).is_ok_and(|j| !j.is_empty())
    })
    .await;
    // 5-9 arrive again while 0-9 is in flight: they are in it already.
    h.send((5..10).map(kafka_log).collect()).await;
    h.send((10..15).map(kafka_log).collect()).await;
    // The sink takes 10-14 only once it is done with 5-9: then the gate
    // opens, with 0-9 still unwritten when 5-9 were looked at.
    let metrics = Arc::clone(&h.metrics);
    wait_until("all input taken", || {
        metrics.received_events.load(Ordering::Relaxed) == 20
    })
    .await;
    gate.add_permits(100);
    let statuses = h.finish().await;
    assert_eq!(statuses, [BatchStatus::Delivered; 3]);
    let objects = read_objects(bucket.path());
    let names: Vec<&str> = objects.iter().map(|o| o.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "p/logs-0-00000000000000000000-00000000000000000009.log",
            "p/logs-0-00000000000000000010-00000000000000000014.log"
        ]
    );
    let all: String = objects.iter().map(|o| o.1.as_str()).collect();
    let expected: String = (0..15).map(|i| format!("r{i}\n")).collect();
    assert_eq!(all, expected, "every record exactly once");
}
