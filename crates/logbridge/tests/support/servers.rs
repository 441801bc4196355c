//! Real servers for the Kafka → S3 end-to-end tests: a tansu broker and a
//! moto S3 server, started on 127.0.0.1 from the binaries named by
//! `TANSU_BROKER` and `MOTO_SERVER`, and killed by process id when their
//! guard drops (so a failing test leaks no process). Also: producing test
//! records, reading the bucket back, and running logbridge against them.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use super::{free_port, wait_for};

/// Path of a server binary from the environment; the test command always
/// sets it, so a missing one is a broken setup and must fail loudly.
fn binary(var: &str) -> String {
    match std::env::var(var) {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "{var} is not set: these tests need a real server binary (export {var}=/path/to/it)"
        ),
    }
}

/// A server process, killed with SIGKILL (by pid) on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    _dir: Arc<tempfile::TempDir>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by number (e.g. 19 SIGSTOP, 18 SIGCONT).
    pub fn signal(&self, sig: i32) {
        kill(self.child.id(), sig);
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A stopped process still dies from SIGKILL; no SIGCONT needed.
        kill(self.child.id(), 9);
        let _ = self.child.wait();
    }
}

fn kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

fn start(program: &str, args: &[String], name: &str, port: u16) -> Server {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let log = dir.path().join(format!("{name}.log"));
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    Server {
        child,
        port,
        log,
        _dir: dir,
    }
}

/// Starts tansu with in-memory storage and creates `topic`.
pub fn tansu(topic: &str, partitions: u32) -> Server {
    let program = binary("TANSU_BROKER");
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let args = [
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
        "--storage-engine",
        "memory://tansu/",
    ]
    .map(str::to_owned);
    let server = start(&program, &args, "tansu", port);
    assert!(
        wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "tansu did not listen on {port}: {}",
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    create_topic(&server, topic, partitions);
    server
}

/// Creates a topic on a tansu broker.
pub fn create_topic(server: &Server, topic: &str, partitions: u32) {
    let out = Command::new(binary("TANSU_BROKER"))
        .args(["topic", "create", topic, "--partitions"])
        .arg(partitions.to_string())
        .args(["--broker", &format!("tcp://{}", server.address())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "topic create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts moto's S3 server and creates `bucket`.
pub fn moto(bucket: &str) -> Server {
    let program = binary("MOTO_SERVER");
    let port = free_port();
    let args = ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
    let server = start(&program, &args, "moto", port);
    assert!(
        wait_for(Duration::from_secs(30), || {
            super::http_get(port, "/moto-api/").is_some_and(|(code, _)| code == 200)
        }),
        "moto did not answer on {port}: {}",
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    let code = http_put(port, &format!("/{bucket}"));
    assert_eq!(code, Some(200), "creating bucket {bucket}");
    server
}

fn http_put(port: u16, path: &str) -> Option<u16> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// Counts delivery reports, so a test knows every record reached the broker.
#[derive(Default)]
struct Deliveries {
    ok: AtomicUsize,
    failed: AtomicUsize,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// The payload of record `seq`: what the bucket must hold for it.
pub fn payload(seq: u64) -> String {
    format!("{{\"message\":\"m{seq}\",\"seq\":{seq}}}")
}

/// Produces records `seqs` to `topic`, record `seq` to partition
/// `seq % partitions` (so every partition holds an increasing run), and
/// panics unless every one is acknowledged by the broker.
pub fn produce(broker: &str, topic: &str, partitions: u64, seqs: Range<u64>) {
    let producer: BaseProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("linger.ms", "10")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "500000")
        .set("message.timeout.ms", "60000")
        .create_with_context(Deliveries::default())
        .unwrap();
    let count = (seqs.end - seqs.start) as usize;
    for seq in seqs {
        let body = payload(seq);
        let mut record = BaseRecord::<(), str>::to(topic)
            .payload(&body)
            .partition((seq % partitions) as i32);
        // A full local queue only means "poll and try again".
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        if seq % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    let ctx = producer.context();
    assert_eq!(ctx.failed.load(Ordering::Relaxed), 0, "failed deliveries");
    assert_eq!(ctx.ok.load(Ordering::Relaxed), count, "delivered records");
}

/// The S3 bucket, read back through `object_store`.
pub struct Bucket {
    store: object_store::aws::AmazonS3,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    pub fn new(moto: &Server, bucket: &str) -> Bucket {
        let store = AmazonS3Builder::new()
            .with_endpoint(format!("http://127.0.0.1:{}", moto.port))
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Bucket { store, runtime }
    }

    /// Every object's key, sorted.
    pub fn keys(&self) -> Vec<String> {
        use futures::TryStreamExt;
        let list = self
            .runtime
            .block_on(self.store.list(None).try_collect::<Vec<_>>())
            .unwrap();
        let mut keys: Vec<String> = list.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        keys
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        let path = object_store::path::Path::from(key);
        self.runtime
            .block_on(async { self.store.get(&path).await?.bytes().await })
            .unwrap()
            .to_vec()
    }

    /// Every object's lines.
    pub fn lines(&self, key: &str) -> Vec<String> {
        let text = String::from_utf8(self.get(key)).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    /// Adds the `seq`s of every object not yet in `cache` to it. Keys name
    /// offset ranges and a rewrite of a key holds the same records, so
    /// polling need not read an object twice (final checks start from an
    /// empty cache).
    pub fn read_seqs(&self, cache: &mut BTreeMap<String, Vec<u64>>) {
        for key in self.keys() {
            if let std::collections::btree_map::Entry::Vacant(entry) = cache.entry(key) {
                let seqs = seqs(&self.lines(entry.key()));
                entry.insert(seqs);
            }
        }
    }
}

/// The `seq` of every line (the JSON lines the sink wrote).
pub fn seqs(lines: &[String]) -> Vec<u64> {
    lines
        .iter()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            v["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("no seq: {line}"))
        })
        .collect()
}

/// (missing, duplicates) of `0..expected` among every object's seqs.
pub fn tally_objects(cache: &BTreeMap<String, Vec<u64>>, expected: u64) -> (u64, u64) {
    let all: Vec<u64> = cache.values().flatten().copied().collect();
    tally(&all, expected)
}

/// (missing, duplicates) of `0..expected` in `seqs`.
pub fn tally(seqs: &[u64], expected: u64) -> (u64, u64) {
    let mut counts = vec![0u32; expected as usize];
    let mut extra = 0;
    for &s in seqs {
        match counts.get_mut(s as usize) {
            Some(c) => *c += 1,
            None => extra += 1,
        }
    }
    let missing = counts.iter().filter(|&&c| c == 0).count() as u64;
    let dups = counts
        .iter()
        .map(|&c| c.saturating_sub(1) as u64)
        .sum::<u64>()
        + extra;
    (missing, dups)
}

/// `{prefix}{topic}-{partition}-{first:020}-{last:020}.json` split up.
pub fn parse_key(key: &str, prefix: &str) -> Option<(String, i32, u64, u64)> {
    let rest = key.strip_prefix(prefix)?.strip_suffix(".json")?;
    let mut parts = rest.rsplitn(3, '-');
    let last = parts.next()?;
    let first = parts.next()?;
    let (topic, partition) = parts.next()?.rsplit_once('-')?;
    if first.len() != 20 || last.len() != 20 {
        return None;
    }
    Some((
        topic.to_owned(),
        partition.parse().ok()?,
        first.parse().ok()?,
        last.parse().ok()?,
    ))
}

/// The config of a `kafka` → `aws_s3` pipeline; `source_extra` and
/// `sink_extra` are appended to the two tables.
pub fn pipeline_config(
    kafka: &Server,
    moto: &Server,
    group: &str,
    prefix: &str,
    source_extra: &str,
    sink_extra: &str,
) -> String {
    format!(
        r#"[sources.in]
type = "kafka"
bootstrap_servers = "{kafka}"
topics = ["logs"]
group_id = "{group}"
decoding.codec = "json"
librdkafka_options = {{ "session.timeout.ms" = "6000", "heartbeat.interval.ms" = "500" }}
{source_extra}

[sinks.s3]
type = "aws_s3"
inputs = ["in"]
bucket = "{BUCKET}"
endpoint = "http://127.0.0.1:{moto}"
region = "us-east-1"
key_prefix = "{prefix}"
encoding.codec = "json"
compression = "none"
batch = {{ max_events = 5000, timeout_secs = 1 }}
{sink_extra}
"#,
        kafka = kafka.address(),
        moto = moto.port,
    )
}

pub const BUCKET: &str = "logs-bucket";

/// A running `logbridge run` with an admin server; SIGKILLed on drop.
pub struct Logbridge {
    pub child: Child,
    pub admin: u16,
    pub log: PathBuf,
}

impl Logbridge {
    /// Starts logbridge on `config` with `data_dir`, AWS test credentials in
    /// its environment and its stderr appended to `log` (a file, not a
    /// pipe: nobody reads a pipe, and a full one would block the process).
    pub fn spawn(config: &Path, data_dir: &Path, log: &Path) -> Logbridge {
        let args = [
            "run".as_ref(),
            "-c".as_ref(),
            config.as_os_str(),
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
        ];
        Logbridge::spawn_args(&args, log)
    }

    /// Starts logbridge with `args` (a subcommand and its flags, or
    /// pipeline flags) plus an admin address.
    pub fn spawn_args(args: &[&std::ffi::OsStr], log: &Path) -> Logbridge {
        let admin = free_port();
        let child = Command::new(super::bin())
            .args(args)
            .args(["--admin-address", &format!("127.0.0.1:{admin}")])
            .env("LOGBRIDGE_LOG", "info")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            )
            .spawn()
            .unwrap();
        Logbridge {
            child,
            admin,
            log: log.to_owned(),
        }
    }

    pub fn signal(&self, sig: i32) {
        kill(self.child.id(), sig);
    }

    /// The sum of metric `name`'s samples whose labels include `labels`.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let (code, text) = super::http_get(self.admin, "/debug/metrics")?;
        if code != 200 {
            return None;
        }
        metric(&text, name, labels)
    }

    pub fn readyz(&self) -> Option<(u16, String)> {
        super::http_get(self.admin, "/readyz")
    }

    /// The last `n` lines of the log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGTERM, then the exit status (None if it did not exit in time).
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.signal(15);
        super::wait_exit(&mut self.child, timeout)
    }
}

impl Drop for Logbridge {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            kill(self.child.id(), 9);
            let _ = self.child.wait();
        }
    }
}

/// The sum of `name`'s samples in Prometheus text whose labels include
/// every pair of `labels`; None if there is none.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        // `rest` must start the labels or the value: `name_more` is another
        // metric.
        let split = match rest.strip_prefix('{') {
            Some(r) => r.rsplit_once("} "),
            None => rest.strip_prefix(' ').map(|v| ("", v)),
        };
        let Some((label_text, value)) = split else {
            continue;
        };
        if labels
            .iter()
            .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
            && let Ok(value) = value.trim().parse::<f64>()
        {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

/// Polls until `check` holds, printing progress every 10 s; false on
/// timeout.
pub fn wait_long(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut last_report = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!("  still waiting for {what} ({:?})", start.elapsed());
            last_report = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    check()
}

/// Pairs of objects (under `prefix`) whose offset ranges in the same
/// partition overlap: with offset-named objects there must be none.
pub fn overlapping(keys: &[String], prefix: &str) -> Vec<(String, String)> {
    let mut ranges: Vec<(i32, u64, u64, &String)> = keys
        .iter()
        .filter_map(|k| parse_key(k, prefix).map(|(_, p, f, l)| (p, f, l, k)))
        .collect();
    ranges.sort();
    // Sorted by (partition, first): a range overlaps an earlier one iff
    // it starts at or before the furthest end seen so far.
    let mut out = Vec::new();
    let mut furthest: Option<(i32, u64, &String)> = None;
    for (p, first, last, key) in ranges {
        match furthest {
            Some((fp, end, fkey)) if fp == p && first <= end => {
                out.push((fkey.clone(), key.clone()));
                if last > end {
                    furthest = Some((p, last, key));
                }
            }
            _ => furthest = Some((p, last, key)),
        }
    }
    out
}

/// Starts redis-server (from `REDIS_SERVER`) on a free loopback port,
/// without persistence.
pub fn redis() -> Server {
    let program = binary("REDIS_SERVER");
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--bind".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--save".to_owned(),
        String::new(),
        "--appendonly".to_owned(),
        "no".to_owned(),
        "--dir".to_owned(),
        dir.path().display().to_string(),
    ];
    let server = start(&program, &args, "redis", port);
    assert!(
        wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }),
        "redis did not listen on {port}: {}",
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    drop(dir);
    server
}

/// Starts Prometheus (from `PROMETHEUS`) with `config_yaml` (`{self}`
/// becomes its own address), remote-write receiving on, and waits until it
/// is ready.
pub fn prometheus(config_yaml: &str) -> Server {
    let port = free_port();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        config_yaml.replace("{self}", &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver".to_owned(),
        "--log.level=warn".to_owned(),
    ];
    start_ready("PROMETHEUS", &args, port, dir)
}

/// Starts Alertmanager (from `ALERTMANAGER`) with `config_yaml`, without
/// clustering, and waits until it is ready.
pub fn alertmanager(config_yaml: &str) -> Server {
    let port = free_port();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(&config, config_yaml).unwrap();
    let args = [
        format!("--config.file={}", config.display()),
        format!("--storage.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_owned(),
        "--log.level=warn".to_owned(),
    ];
    start_ready("ALERTMANAGER", &args, port, dir)
}

/// Starts the server named by the environment variable `program` and waits
/// until its `/-/ready` answers 200 (Prometheus and Alertmanager both have
/// it).
fn start_ready(program: &str, args: &[String], port: u16, dir: Arc<tempfile::TempDir>) -> Server {
    let binary = binary(program);
    let log = dir.path().join("server.log");
    let child = Command::new(&binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let server = Server {
        child,
        port,
        log,
        _dir: dir,
    };
    assert!(
        wait_for(Duration::from_secs(30), || {
            super::http_get(port, "/-/ready").is_some_and(|(code, _)| code == 200)
        }),
        "{binary} did not get ready on {port}: {}",
        std::fs::read_to_string(&server.log).unwrap_or_default()
    );
    server
}
