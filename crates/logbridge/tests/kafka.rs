//! End-to-end: the `kafka` source into the `aws_s3` sink, against a real
//! Kafka-compatible broker (tansu) and a real S3 server (moto), both
//! started by the tests on 127.0.0.1 (`TANSU_BROKER`, `MOTO_SERVER` name
//! the binaries) and killed by process id when a test ends.
//!
//! Record `seq` is `{"message":"m<seq>","seq":<seq>}` on partition
//! `seq % 3`, so every partition holds an increasing run and offset `o` of
//! partition `p` holds seq `3 * o + p` (the topic starts empty). The checks
//! read the bucket back and count every `seq`.
//!
//! Run: `TANSU_BROKER=... MOTO_SERVER=... cargo test -p logbridge --test
//! kafka -- --nocapture --test-threads=1`.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::XorShift;
use support::servers::{
    self, BUCKET, Bucket, Logbridge, Server, overlapping, parse_key, pipeline_config, produce,
    tally_objects, wait_long,
};

const PARTITIONS: u64 = 3;
const LAG: &str = "logbridge_kafka_consumer_lag";
const SENT: &str = "logbridge_component_sent_events_total";

/// A broker with a 3-partition `logs` topic, an S3 server with the bucket,
/// and a temporary directory for configs, data dirs and logs.
struct Setup {
    kafka: Server,
    moto: Server,
    bucket: Bucket,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let kafka = servers::tansu("logs", PARTITIONS as u32);
        let moto = servers::moto(BUCKET);
        let bucket = Bucket::new(&moto, BUCKET);
        Setup {
            kafka,
            moto,
            bucket,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn produce(&self, seqs: std::ops::Range<u64>) {
        let started = Instant::now();
        produce(&self.kafka.address(), "logs", PARTITIONS, seqs.clone());
        eprintln!("produced {seqs:?} in {:?}", started.elapsed());
    }

    /// Writes the pipeline config under `name` and returns its path.
    fn config(&self, name: &str, group: &str, prefix: &str, source: &str, sink: &str) -> String {
        let path = self.dir.path().join(name);
        let text = pipeline_config(&self.kafka, &self.moto, group, prefix, source, sink);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// Starts logbridge with data dir `data` and log `data.log`.
    fn spawn(&self, config: &str, data: &str) -> Logbridge {
        let data_dir = self.dir.path().join(data);
        std::fs::create_dir_all(&data_dir).unwrap();
        let log = self.dir.path().join(format!("{data}.log"));
        Logbridge::spawn(config.as_ref(), &data_dir, &log)
    }

    /// Polls the bucket until it holds every seq in `0..expected`.
    fn wait_all(&self, expected: u64, timeout: Duration, lb: &[&Logbridge]) {
        let mut cache = BTreeMap::new();
        let ok = wait_long(
            timeout,
            &format!("{expected} records in the bucket"),
            || {
                self.bucket.read_seqs(&mut cache);
                tally_objects(&cache, expected).0 == 0
            },
        );
        let (missing, dups) = tally_objects(&cache, expected);
        let logs: Vec<String> = lb.iter().map(|l| l.log_tail(30)).collect();
        assert!(
            ok,
            "missing={missing} duplicates={dups} after {timeout:?}; logs:\n{}",
            logs.join("\n----\n")
        );
    }

    /// Every object read afresh: seqs by key.
    fn read_bucket(&self) -> BTreeMap<String, Vec<u64>> {
        let mut cache = BTreeMap::new();
        self.bucket.read_seqs(&mut cache);
        cache
    }
}

/// Waits for `lb`'s lag gauge of every partition to read 0.
fn wait_lag_zero(lb: &Logbridge, timeout: Duration) -> bool {
    wait_long(timeout, "consumer lag 0", || {
        (0..PARTITIONS).all(|p| {
            lb.metric(LAG, &[("topic", "logs"), ("partition", &p.to_string())]) == Some(0.0)
        })
    })
}

fn sent(lb: &Logbridge) -> f64 {
    lb.metric(SENT, &[("component_id", "s3")]).unwrap_or(0.0)
}

/// The problems /readyz reports, if it answers 503.
fn problems(lb: &Logbridge) -> Option<serde_json::Map<String, serde_json::Value>> {
    let (code, body) = lb.readyz()?;
    if code != 503 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["problems"].as_object().cloned()
}

#[test]
fn kafka_to_s3_round_trip_100k() {
    const N: u64 = 100_000;
    let s = Setup::new();
    s.produce(0..N);
    let config = s.config("c.toml", "g1", "app/", "", "");
    let mut lb = s.spawn(&config, "data");
    let started = Instant::now();
    s.wait_all(N, Duration::from_secs(120), &[&lb]);
    eprintln!(
        "all {N} records in the bucket after {:?}",
        started.elapsed()
    );

    // Content: each line is exactly the produced record, and each object
    // `app/logs-<p>-<first>-<last>.json` holds offsets first..=last of
    // partition p in order, i.e. seqs 3*o+p.
    let keys = s.bucket.keys();
    let mut all = Vec::new();
    for key in &keys {
        let (topic, p, first, last) =
            parse_key(key, "app/").unwrap_or_else(|| panic!("unexpected object name {key}"));
        assert_eq!(topic, "logs", "{key}");
        assert!((0..PARTITIONS as i32).contains(&p), "{key}");
        assert!(first <= last, "{key}");
        let lines = s.bucket.lines(key);
        let expected: Vec<u64> = (first..=last).map(|o| o * PARTITIONS + p as u64).collect();
        let seqs = servers::seqs(&lines);
        assert_eq!(
            seqs, expected,
            "{key} holds other records than its name says"
        );
        for (line, seq) in lines.iter().zip(&seqs) {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            // The log's timestamp is the record's; the rest is the payload.
            let timestamp = v.as_object_mut().unwrap().remove("timestamp");
            assert!(timestamp.is_some_and(|t| t.is_string()), "{key}: {line}");
            let produced: serde_json::Value =
                serde_json::from_str(&servers::payload(*seq)).unwrap();
            assert_eq!(v, produced, "{key}");
        }
        all.extend(seqs);
    }
    assert_eq!(servers::tally(&all, N), (0, 0), "missing, duplicates");
    assert_eq!(overlapping(&keys, "app/"), vec![]);
    eprintln!("{} objects, every seq once", keys.len());

    // Offsets are committed (every second by default), so the lag reaches
    // 0 on every partition; the sink counted every event once.
    assert!(
        wait_lag_zero(&lb, Duration::from_secs(30)),
        "lag: {:?}",
        support::http_get(lb.admin, "/debug/metrics")
    );
    assert_eq!(sent(&lb), N as f64);

    let status = lb
        .terminate(Duration::from_secs(30))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", lb.log_tail(30));
}

#[test]
fn kafka_to_s3_survives_repeated_sigkill_exactly_once() {
    const N: u64 = 1_000_000;
    const KILLS: usize = 5;
    let s = Setup::new();
    s.produce(0..N);
    let config = s.config(
        "c.toml",
        "g1",
        "app/",
        "",
        "buffer = { type = \"disk\", max_size = 268435456 }",
    );
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill seed {seed}");
    let mut rng = XorShift(seed);
    let started = Instant::now();
    let mut cache = BTreeMap::new();
    for kill in 0..KILLS {
        let lb = s.spawn(&config, "data");
        // Kill while records flow: once partitions are assigned (the lag
        // gauge appears), after a random 1-6 s.
        let assigned = wait_long(Duration::from_secs(40), "partitions assigned", || {
            lb.metric(LAG, &[("topic", "logs")]).is_some()
        });
        assert!(assigned, "never assigned:\n{}", lb.log_tail(30));
        let delay = Duration::from_millis(1000 + rng.next() % 5000);
        std::thread::sleep(delay);
        lb.signal(9);
        s.bucket.read_seqs(&mut cache);
        let (missing, _) = tally_objects(&cache, N);
        eprintln!(
            "kill {}: SIGKILL {delay:?} after assignment; {} records in the bucket so far",
            kill + 1,
            N - missing
        );
        drop(lb);
    }
    let mut lb = s.spawn(&config, "data");
    s.wait_all(N, Duration::from_secs(240), &[&lb]);
    eprintln!("all records in the bucket after {:?}", started.elapsed());
    // Let the last run settle (nothing left to re-read) before counting.
    assert!(wait_lag_zero(&lb, Duration::from_secs(30)));
    let status = lb.terminate(Duration::from_secs(30)).expect("exits");
    assert!(status.success(), "{status:?}");

    let objects = s.read_bucket();
    let (missing, duplicates) = tally_objects(&objects, N);
    let keys: Vec<String> = objects.keys().cloned().collect();
    let overlaps = overlapping(&keys, "app/");
    eprintln!(
        "missing={missing} duplicates={duplicates} objects={} overlapping pairs={}",
        keys.len(),
        overlaps.len()
    );
    for (a, b) in overlaps.iter().take(20) {
        eprintln!("  overlap: {a} / {b}");
    }
    assert_eq!((missing, duplicates), (0, 0), "missing, duplicates");
    assert!(overlaps.is_empty());
}

#[test]
fn two_processes_share_partitions_in_one_group() {
    const N: u64 = 30_000;
    const MORE: u64 = 3_000;
    let s = Setup::new();
    s.produce(0..N / 3);
    let config_a = s.config("a.toml", "shared", "a/", "", "");
    let config_b = s.config("b.toml", "shared", "b/", "", "");
    let a = s.spawn(&config_a, "a");
    assert!(
        wait_long(Duration::from_secs(60), "A sends", || sent(&a) > 0.0),
        "{}",
        a.log_tail(30)
    );
    let b = s.spawn(&config_b, "b");
    // The rest trickles in while B joins and the group rebalances, so
    // partitions change hands with records in flight.
    for chunk in 0..20 {
        let from = N / 3 + chunk * (N - N / 3) / 20;
        let to = N / 3 + (chunk + 1) * (N - N / 3) / 20;
        produce(&s.kafka.address(), "logs", PARTITIONS, from..to);
        std::thread::sleep(Duration::from_millis(500));
    }
    s.wait_all(N, Duration::from_secs(120), &[&a, &b]);

    // After the rebalance B owns some partitions (its lag gauge appears);
    // the next records reach it, and nothing stalls.
    assert!(
        wait_long(Duration::from_secs(60), "B assigned", || b
            .metric(LAG, &[("topic", "logs")])
            .is_some()),
        "{}",
        b.log_tail(30)
    );
    s.produce(N..N + MORE);
    s.wait_all(N + MORE, Duration::from_secs(60), &[&a, &b]);
    let objects = s.read_bucket();
    let (missing, duplicates) = tally_objects(&objects, N + MORE);
    let (sent_a, sent_b) = (sent(&a), sent(&b));
    eprintln!("missing={missing} duplicates={duplicates} sent: A={sent_a} B={sent_b}");
    assert_eq!(missing, 0);
    assert!(sent_a > 0.0 && sent_b > 0.0, "A={sent_a} B={sent_b}");
    let under = |prefix: &str| objects.keys().filter(|k| k.starts_with(prefix)).count();
    assert!(under("a/") > 0 && under("b/") > 0);
}

#[test]
fn s3_outage_loses_nothing() {
    const N: u64 = 10_000;
    let s = Setup::new();
    s.produce(0..N);
    let config = s.config("c.toml", "g1", "app/", "", "");
    let lb = s.spawn(&config, "data");
    s.wait_all(N, Duration::from_secs(60), &[&lb]);
    assert_eq!(lb.readyz().map(|r| r.0), Some(200));

    // A hung server (accepts connections, never answers), not a refused
    // one: the harder case for noticing.
    s.moto.signal(19);
    let stopped = Instant::now();
    s.produce(N..2 * N);
    let reported = wait_long(Duration::from_secs(120), "readyz 503 for s3", || {
        problems(&lb).is_some_and(|p| p.contains_key("s3"))
    });
    eprintln!(
        "readyz reported the s3 problem: {reported} after {:?}: {:?}",
        stopped.elapsed(),
        problems(&lb)
    );
    let elapsed = stopped.elapsed();
    s.moto.signal(18);
    assert!(reported, "{}", lb.log_tail(30));
    // The sink reports a write that has not completed in 10 s (the
    // request itself fails only after the client's 60 s retry timeout);
    // plus the batch timeout and a poll.
    assert!(
        elapsed <= Duration::from_secs(30),
        "the hung S3 server was reported only after {elapsed:?}"
    );

    s.wait_all(2 * N, Duration::from_secs(120), &[&lb]);
    let (missing, duplicates) = tally_objects(&s.read_bucket(), 2 * N);
    eprintln!("missing={missing} duplicates={duplicates}");
    assert_eq!(missing, 0);
    assert!(
        wait_long(Duration::from_secs(30), "readyz 200", || lb
            .readyz()
            .is_some_and(|r| r.0 == 200)),
        "{:?}",
        lb.readyz()
    );
}

#[test]
fn unreachable_broker_is_reported_in_readyz() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the port was free a moment ago.
    let port = support::free_port();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            r#"[sources.in]
type = "kafka"
bootstrap_servers = "127.0.0.1:{port}"
topics = ["logs"]
group_id = "g1"
librdkafka_options = {{ "reconnect.backoff.max.ms" = "1000" }}
[sinks.out]
type = "aws_s3"
inputs = ["in"]
bucket = "file://{}/objects"
encoding.codec = "json"
"#,
            dir.path().display()
        ),
    )
    .unwrap();
    let lb = Logbridge::spawn(&config, dir.path(), &dir.path().join("lb.log"));
    let started = Instant::now();
    let reported = wait_long(Duration::from_secs(30), "readyz broker problem", || {
        problems(&lb).is_some_and(|p| {
            p.get("in")
                .and_then(|m| m.as_str())
                .is_some_and(|m| m.to_lowercase().contains("broker"))
        })
    });
    eprintln!(
        "reported={reported} after {:?}: {:?}",
        started.elapsed(),
        lb.readyz()
    );
    assert!(reported, "{:?}\n{}", lb.readyz(), lb.log_tail(30));
}

/// Kafka to Kafka from pipeline flags alone: every record reaches the
/// output topic once, as JSON with its fields, and the producer's
/// acknowledgements let the source commit (the lag drains to 0).
#[test]
fn kafka_to_kafka_from_flags() {
    use rdkafka::Message;
    use rdkafka::consumer::{BaseConsumer, Consumer};

    const N: u64 = 20_000;
    let kafka = servers::tansu("logs", PARTITIONS as u32);
    servers::create_topic(&kafka, "copy", 2);
    produce(&kafka.address(), "logs", PARTITIONS, 0..N);
    let dir = tempfile::tempdir().unwrap();
    let brokers = kafka.address();
    let args: Vec<std::ffi::OsString> = vec![
        format!("--input-kafka={brokers}").into(),
        "--kafka-topic=logs".into(),
        "--kafka-group=copier".into(),
        "--decoding=json".into(),
        format!("--output-kafka={brokers}").into(),
        "--output-kafka-topic=copy".into(),
        "--data-dir".into(),
        dir.path().as_os_str().into(),
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let mut lb = Logbridge::spawn_args(&args, &dir.path().join("lb.log"));

    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "checker")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .create()
        .unwrap();
    consumer.subscribe(&["copy"]).unwrap();
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let started = Instant::now();
    while (seen.len() as u64) < N && started.elapsed() < Duration::from_secs(120) {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let record: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap_or_default()).unwrap();
        let seq = record["seq"].as_u64().unwrap();
        assert_eq!(record["message"], format!("m{seq}"), "{record}");
        *seen.entry(seq).or_default() += 1;
    }
    let missing = N - seen.len() as u64;
    let duplicates: u32 = seen.values().map(|c| c - 1).sum();
    eprintln!(
        "kafka to kafka: missing={missing} duplicates={duplicates} in {:?}",
        started.elapsed()
    );
    assert_eq!(missing, 0, "{}", lb.log_tail(30));
    assert_eq!(duplicates, 0);
    assert!(wait_lag_zero(&lb, Duration::from_secs(30)));
    assert!(lb.terminate(Duration::from_secs(30)).unwrap().success());
}
