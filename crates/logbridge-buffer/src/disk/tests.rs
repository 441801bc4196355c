//! Disk buffer behaviour: round trips, restarts, acknowledgements, limits,
//! torn writes and corruption, all in temporary directories. A crash is
//! simulated by forgetting the batches a dead process would have held
//! (their acknowledgements never happen) and reopening the directory.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
use logbridge_event::{BatchNotifier, BatchStatus, Event, EventBatch, Finalizers, LogRecord};

use super::*;

type Statuses = Arc<Mutex<Vec<(usize, BatchStatus)>>>;

fn metrics() -> Arc<ComponentMetrics> {
    Arc::new(ComponentMetrics::new(
        "buffered",
        ComponentKind::Sink,
        "test",
    ))
}

fn config() -> DiskBufferConfig {
    DiskBufferConfig {
        fsync_interval: Duration::from_millis(5),
        ..DiskBufferConfig::default()
    }
}

/// A one-event batch whose body is `event <i>`, reporting its status.
fn batch(i: usize, statuses: &Statuses) -> EventBatch {
    let statuses = Arc::clone(statuses);
    let notifier = BatchNotifier::new(move |s| statuses.lock().unwrap().push((i, s)));
    let log = LogRecord::from_line(Bytes::from(format!("event {i}")), i as i64);
    EventBatch::new(vec![Event::Log(log)]).with_finalizers(Finalizers::new(notifier))
}

fn body(batch: &EventBatch) -> String {
    batch.events()[0]
        .as_log()
        .and_then(|l| l.body.as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn write_n(writer: &mut BufferWriter, range: std::ops::Range<usize>, statuses: &Statuses) {
    for i in range {
        writer.write(batch(i, statuses)).await.unwrap();
    }
}

/// Reads `n` batches (holding them: not acknowledged yet).
async fn read_n(reader: &mut BufferReader, n: usize) -> Vec<EventBatch> {
    let mut out = Vec::new();
    for _ in 0..n {
        let batch = tokio::time::timeout(Duration::from_secs(5), reader.next())
            .await
            .expect("a batch in time")
            .expect("a batch");
        out.push(batch);
    }
    out
}

fn bodies(batches: &[EventBatch]) -> Vec<String> {
    batches.iter().map(body).collect()
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("event {i}")).collect()
}

/// Simulates a crash: the process dies holding these batches.
fn crash_holding(batches: Vec<EventBatch>) {
    std::mem::forget(batches);
}

#[tokio::test]
async fn write_read_ack_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    let (mut writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
        .await
        .unwrap();
    write_n(&mut writer, 0..10, &statuses).await;
    writer.flush().await.unwrap();
    let mut upstream = statuses.lock().unwrap().clone();
    upstream.sort_by_key(|(i, _)| *i);
    assert_eq!(
        upstream,
        (0..10)
            .map(|i| (i, BatchStatus::Delivered))
            .collect::<Vec<_>>()
    );
    let batches = read_n(&mut reader, 10).await;
    assert_eq!(bodies(&batches), expected(0..10));
    drop(batches);
    writer.flush().await.unwrap();
    let report = inspect(dir.path()).unwrap();
    assert_eq!(report.records_pending, 0);
    assert_eq!(report.damaged_records, 0);
    drop(writer);
    assert!(
        reader.next().await.is_none(),
        "ends once the writer is gone"
    );
}

#[tokio::test]
async fn upstream_finalizers_wait_for_the_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    let slow = DiskBufferConfig {
        fsync_interval: Duration::from_secs(3600),
        ..DiskBufferConfig::default()
    };
    let (mut writer, _reader) = open(dir.path().to_owned(), slow, metrics()).await.unwrap();
    write_n(&mut writer, 0..3, &statuses).await;
    assert!(statuses.lock().unwrap().is_empty(), "not durable yet");
    writer.flush().await.unwrap();
    assert_eq!(statuses.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn restart_resumes_after_the_last_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    {
        let (mut writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
            .await
            .unwrap();
        write_n(&mut writer, 0..10, &statuses).await;
        let mut batches = read_n(&mut reader, 10).await;
        let held = batches.split_off(4);
        drop(batches); // 0..4 acknowledged
        writer.flush().await.unwrap();
        crash_holding(held);
    }
    let (_writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
        .await
        .unwrap();
    let again = read_n(&mut reader, 6).await;
    assert_eq!(bodies(&again), expected(4..10));
}

#[tokio::test]
async fn out_of_order_acks_advance_only_the_contiguous_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    {
        let (mut writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
            .await
            .unwrap();
        write_n(&mut writer, 0..5, &statuses).await;
        let mut batches = read_n(&mut reader, 5).await;
        let third = batches.remove(3);
        drop(third); // 3 acknowledged before 0..3: nothing moves
        writer.flush().await.unwrap();
        crash_holding(batches);
    }
    let (_writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
        .await
        .unwrap();
    let again = read_n(&mut reader, 5).await;
    assert_eq!(
        bodies(&again),
        expected(0..5),
        "unacknowledged records are read again"
    );
}

#[tokio::test]
async fn errored_batches_stay_for_the_next_start_and_rejected_ones_go() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    {
        let (mut writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
            .await
            .unwrap();
        write_n(&mut writer, 0..4, &statuses).await;
        let batches = read_n(&mut reader, 4).await;
        let mut batches = batches.into_iter();
        // 0 refused for good, 1 delivered, 2 given up at shutdown, 3
        // delivered: only 2 (and what follows it) is kept.
        let give = |b: Option<EventBatch>, s: BatchStatus| b.unwrap().finalizers.finish(s);
        give(batches.next(), BatchStatus::Rejected);
        give(batches.next(), BatchStatus::Delivered);
        give(batches.next(), BatchStatus::Errored);
        give(batches.next(), BatchStatus::Delivered);
        writer.flush().await.unwrap();
    }
    let (_writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
        .await
        .unwrap();
    let again = read_n(&mut reader, 2).await;
    assert_eq!(bodies(&again), expected(2..4));
}

#[tokio::test]
async fn segments_roll_and_finished_ones_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    let small = DiskBufferConfig {
        segment_max_bytes: 64,
        ..config()
    };
    let (mut writer, mut reader) = open(dir.path().to_owned(), small, metrics()).await.unwrap();
    write_n(&mut writer, 0..12, &statuses).await;
    writer.flush().await.unwrap();
    assert!(inspect(dir.path()).unwrap().segments.len() >= 4);
    let batches = read_n(&mut reader, 12).await;
    assert_eq!(bodies(&batches), expected(0..12));
    drop(batches);
    writer.flush().await.unwrap();
    let report = inspect(dir.path()).unwrap();
    assert_eq!(report.records_pending, 0);
    assert!(report.segments.len() <= 2, "{report:?}");
}

#[tokio::test]
async fn when_full_drop_newest_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    let m = metrics();
    let frame = frame_len();
    let tight = DiskBufferConfig {
        max_size: frame * 3,
        when_full: WhenFull::DropNewest,
        ..config()
    };
    let (mut writer, mut reader) = open(dir.path().to_owned(), tight, Arc::clone(&m))
        .await
        .unwrap();
    write_n(&mut writer, 0..5, &statuses).await;
    writer.flush().await.unwrap();
    assert_eq!(m.discarded_unintentional.load(Ordering::Relaxed), 2);
    let mut s = statuses.lock().unwrap().clone();
    s.sort_by_key(|(i, _)| *i);
    assert_eq!(
        s[3..],
        [(3, BatchStatus::Errored), (4, BatchStatus::Errored)]
    );
    assert_eq!(
        s[..3]
            .iter()
            .filter(|(_, st)| *st == BatchStatus::Delivered)
            .count(),
        3
    );
    let batches = read_n(&mut reader, 3).await;
    assert_eq!(bodies(&batches), expected(0..3));
    drop(batches);
    writer.write(batch(5, &statuses)).await.unwrap();
    assert_eq!(
        body(&read_n(&mut reader, 1).await[0]),
        "event 5",
        "space came back"
    );
}

#[tokio::test]
async fn when_full_block_waits_for_acknowledgements() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    let tight = DiskBufferConfig {
        max_size: frame_len() * 2,
        ..config()
    };
    let (mut writer, mut reader) = open(dir.path().to_owned(), tight, metrics()).await.unwrap();
    write_n(&mut writer, 0..2, &statuses).await;
    let blocked = tokio::time::timeout(
        Duration::from_millis(100),
        writer.write(batch(2, &statuses)),
    )
    .await;
    assert!(blocked.is_err(), "the third write waits");
    let first = read_n(&mut reader, 1).await;
    drop(first);
    tokio::time::timeout(Duration::from_secs(5), writer.write(batch(2, &statuses)))
        .await
        .expect("space after the ack")
        .unwrap();
    let rest = read_n(&mut reader, 2).await;
    assert_eq!(bodies(&rest), expected(1..3));
}

/// The framed size of one `batch(i)` with a one-digit `i`.
fn frame_len() -> u64 {
    let mut out = Vec::new();
    let b = batch(0, &Statuses::default());
    crate::record::encode_events(b.events(), &mut out).unwrap();
    out.len() as u64 + 8
}

#[tokio::test]
async fn torn_last_record_is_dropped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    {
        let (mut writer, _reader) = open(dir.path().to_owned(), config(), metrics())
            .await
            .unwrap();
        write_n(&mut writer, 0..3, &statuses).await;
        writer.flush().await.unwrap();
    }
    let last = *format::list_segments(dir.path()).unwrap().last().unwrap();
    let path = format::segment_path(dir.path(), last);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    // Half of a record: its header promises more than is there.
    file.write_all(&[100, 0, 0, 0, 1, 2, 3, 4, 5, 6]).unwrap();
    drop(file);
    let report = inspect(dir.path()).unwrap();
    assert_eq!(
        (
            report.torn_bytes,
            report.damaged_records,
            report.records_pending
        ),
        (10, 0, 3)
    );
    let (writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
        .await
        .unwrap();
    let batches = read_n(&mut reader, 3).await;
    assert_eq!(bodies(&batches), expected(0..3));
    drop(writer);
    assert!(reader.next().await.is_none());
    assert_eq!(inspect(dir.path()).unwrap().torn_bytes, 0);
}

#[tokio::test]
async fn corrupted_record_is_quarantined_and_later_segments_still_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    let two_per_segment = DiskBufferConfig {
        segment_max_bytes: frame_len() * 2,
        ..config()
    };
    {
        let (mut writer, _reader) = open(dir.path().to_owned(), two_per_segment.clone(), metrics())
            .await
            .unwrap();
        write_n(&mut writer, 0..6, &statuses).await;
        writer.flush().await.unwrap();
    }
    let first = format::list_segments(dir.path()).unwrap()[0];
    let path = format::segment_path(dir.path(), first);
    let mut data = std::fs::read(&path).unwrap();
    data[12] ^= 0xff; // inside the first record's payload
    std::fs::write(&path, &data).unwrap();

    let report = inspect(dir.path()).unwrap();
    assert_eq!(report.damaged_records, 1);
    assert_eq!(report.segments[0].damaged_at, Some(0));
    assert_eq!(report.records_pending, 4);

    let m = metrics();
    let (writer, mut reader) = open(dir.path().to_owned(), two_per_segment, Arc::clone(&m))
        .await
        .unwrap();
    assert_eq!(m.errors.load(Ordering::Relaxed), 1);
    let batches = read_n(&mut reader, 4).await;
    assert_eq!(bodies(&batches), expected(2..6));
    drop(writer);
    assert!(reader.next().await.is_none());
    let after = inspect(dir.path()).unwrap();
    assert_eq!((after.damaged_records, after.quarantined_files), (0, 1));
    let quarantined = std::fs::read_dir(dir.path().join("quarantine"))
        .unwrap()
        .count();
    assert_eq!(quarantined, 1);
}

#[tokio::test]
async fn damage_found_while_running_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    let two_per_segment = DiskBufferConfig {
        segment_max_bytes: frame_len() * 2,
        ..config()
    };
    let m = metrics();
    let (mut writer, mut reader) = open(dir.path().to_owned(), two_per_segment, Arc::clone(&m))
        .await
        .unwrap();
    write_n(&mut writer, 0..4, &statuses).await;
    writer.flush().await.unwrap();
    let first = format::list_segments(dir.path()).unwrap()[0];
    let path = format::segment_path(dir.path(), first);
    let mut data = std::fs::read(&path).unwrap();
    data[12] ^= 0xff;
    std::fs::write(&path, &data).unwrap();
    let batches = read_n(&mut reader, 2).await;
    assert_eq!(bodies(&batches), expected(2..4));
    assert_eq!(m.errors.load(Ordering::Relaxed), 1);
}

/// A crash can cut the last segment anywhere: every cut opens, and what is
/// read back is exactly the records wholly before the cut.
#[tokio::test]
async fn any_cut_of_the_last_segment_recovers_the_whole_records_before_it() {
    let source = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    {
        let (mut writer, _reader) = open(source.path().to_owned(), config(), metrics())
            .await
            .unwrap();
        write_n(&mut writer, 0..4, &statuses).await;
        writer.flush().await.unwrap();
    }
    let segment = format::list_segments(source.path()).unwrap()[0];
    let data = std::fs::read(format::segment_path(source.path(), segment)).unwrap();
    let frame = frame_len() as usize;
    for cut in 0..=data.len() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(format::segment_path(dir.path(), segment), &data[..cut]).unwrap();
        let (writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
            .await
            .unwrap();
        drop(writer);
        let mut got = Vec::new();
        while let Some(batch) = reader.next().await {
            got.push(body(&batch));
        }
        assert_eq!(got, expected(0..cut / frame), "cut at {cut}");
    }
}

#[tokio::test]
async fn unreadable_ledger_replays_from_the_oldest_segment() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    {
        let (mut writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
            .await
            .unwrap();
        write_n(&mut writer, 0..3, &statuses).await;
        drop(read_n(&mut reader, 1).await);
        writer.flush().await.unwrap();
    }
    let ledger = std::fs::read_to_string(dir.path().join("ledger.json")).unwrap();
    assert!(ledger.contains("\"next_record_id\":2"), "{ledger}");
    std::fs::write(dir.path().join("ledger.json"), b"{not json").unwrap();
    let (_writer, mut reader) = open(dir.path().to_owned(), config(), metrics())
        .await
        .unwrap();
    assert_eq!(bodies(&read_n(&mut reader, 3).await), expected(0..3));
}

/// Regression: `flush` racing the group-commit task on the ledger's
/// temporary file made one of them fail with "not found".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let statuses = Statuses::default();
    let eager = DiskBufferConfig {
        fsync_interval: Duration::from_millis(1),
        ..DiskBufferConfig::default()
    };
    let (mut writer, mut reader) = open(dir.path().to_owned(), eager, metrics()).await.unwrap();
    let reading = tokio::spawn(async move {
        let mut n = 0;
        while reader.next().await.is_some() {
            n += 1;
        }
        n
    });
    for i in 0..300 {
        writer.write(batch(i, &statuses)).await.unwrap();
        writer.flush().await.unwrap();
    }
    drop(writer);
    assert_eq!(reading.await.unwrap(), 300);
}
