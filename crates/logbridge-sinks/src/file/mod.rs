//! The `file` sink: writes events as lines to files whose path is a
//! template (strftime and `{{ field }}`), optionally gzip or zstd
//! compressed. A batch is acknowledged once its bytes are written to the
//! file (handed to the operating system, which survives a crash of the
//! process); write errors such as a full disk are retried with backoff,
//! never dropped, and reported (`/readyz`, the disk-full gauge) while they
//! last. A failed write is cut back, so files hold whole lines only
//! (`output.rs`).

mod output;

use std::collections::HashMap;
use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::time::{Duration, Instant};

use logbridge_component::storage::{WriteHealth, is_disk_full};
use logbridge_component::{
    BuildContext, BuildError, ComponentError, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind, EventBatch, Finalizers, HeldFinalizers};
use serde::Deserialize;
use tracing::error;

use logbridge_codec::encoding::EncodingConfig;

use crate::encoding_error;
use logbridge_codec::template::Template;

use output::OutputFile;

/// Compression of written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    None,
    /// gzip; each batch is flushed as a complete deflate block, so a reader
    /// sees every acknowledged line.
    Gzip,
    /// zstd, flushed per batch in the same way.
    Zstd,
}

/// Writes events to files. A write that fails (a full disk) is cut back to
/// the last whole line and retried with backoff (100 ms doubling to 5 s);
/// meanwhile `/readyz` fails and, for a full disk,
/// `logbridge_component_disk_full{part="output"}` is 1.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Path template, e.g. `/var/log/out/%Y-%m-%d.log` or
    /// `/data/{{ service }}.log`. Times come from the event's timestamp, or
    /// when it was observed.
    pub path: String,
    /// How to encode events.
    pub encoding: EncodingConfig,
    /// `none`, `gzip` or `zstd`.
    #[serde(default)]
    pub compression: Compression,
    /// Close files nothing was written to for this long.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
}

fn default_idle_timeout() -> u64 {
    30
}

impl SinkConfig for FileSinkConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        let path = Template::parse(&self.path).map_err(|e| BuildError::new("path", e.0))?;
        Ok(Box::new(FileSink {
            path,
            encoder: self.encoding.line_encoder().map_err(encoding_error)?,
            compression: self.compression,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
            files: HashMap::new(),
            spare: Vec::new(),
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }
}

struct FileSink {
    path: Template,
    encoder: logbridge_codec::encode::Encoder,
    compression: Compression,
    idle_timeout: Duration,
    files: HashMap<PathBuf, OutputFile>,
    spare: Vec<u8>,
}

/// Merge queued batches into one write of at most this many events.
const MAX_EVENTS_PER_WRITE: usize = 8192;
/// The largest encode buffer kept between writes.
const MAX_SPARE_BYTES: usize = 16 * 1024 * 1024;
/// Failed tries before a write is given up once shutdown has begun.
const TRIES_AT_SHUTDOWN: u32 = 3;

impl FileSink {
    /// Encodes the batches, grouped by rendered path.
    /// With a fixed path, encodes into `spare` (the previous write's buffer)
    /// so that steady state does not grow a buffer on every write.
    fn encode(&self, batches: &[EventBatch], spare: Vec<u8>) -> Vec<(PathBuf, Vec<u8>)> {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let mut groups: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        if !self.path.is_dynamic() {
            let mut buf = spare;
            buf.clear();
            buf.reserve(batches.iter().map(|b| b.byte_size() + b.len() * 64).sum());
            for e in batches.iter().flat_map(|b| b.events()) {
                self.encoder.encode(e, &mut buf);
            }
            groups.push((PathBuf::from(self.path.source()), buf));
            return groups;
        }
        let mut last: Option<(String, usize)> = None;
        for e in batches.iter().flat_map(|b| b.events()) {
            let rendered = self.path.render(e, now);
            let idx = match &last {
                Some((p, i)) if *p == rendered => *i,
                _ => {
                    let idx = match groups
                        .iter()
                        .position(|(p, _)| p.as_os_str() == rendered.as_str())
                    {
                        Some(i) => i,
                        None => {
                            groups.push((PathBuf::from(&rendered), Vec::new()));
                            groups.len() - 1
                        }
                    };
                    last = Some((rendered, idx));
                    idx
                }
            };
            self.encoder.encode(e, &mut groups[idx].1);
        }
        groups
    }

    fn write(&mut self, path: &FsPath, buf: &[u8]) -> io::Result<()> {
        let file = match self.files.get_mut(path) {
            Some(f) => f,
            None => {
                let file = OutputFile::open(path, self.compression)?;
                self.files.entry(path.to_owned()).or_insert(file)
            }
        };
        let result = file.write(buf);
        if let Err(error) = &result
            && !is_disk_full(error)
            && file.can_reopen()
        {
            // Reopen on the next try: the handle may be what fails (a
            // stale one, a file removed meanwhile).
            self.files.remove(path);
        }
        result
    }

    fn close_idle(&mut self) {
        let idle = self.idle_timeout;
        let stale: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(_, f)| f.last_write.elapsed() >= idle)
            .map(|(p, _)| p.clone())
            .collect();
        for p in stale {
            if let Some(f) = self.files.remove(&p)
                && let Err(error) = f.finish()
            {
                error!(message = "Failed to close file.", %error, path = %p.display());
            }
        }
    }

    fn close_all(&mut self) {
        for (p, f) in self.files.drain() {
            if let Err(error) = f.finish() {
                error!(message = "Failed to close file.", %error, path = %p.display());
            }
        }
    }
}

#[async_trait::async_trait]
impl Sink for FileSink {
    async fn run(mut self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        let mut health = WriteHealth::new(cx.metrics.clone(), "output");
        let mut idle_check = tokio::time::interval(self.idle_timeout.min(Duration::from_secs(5)));
        loop {
            let first = tokio::select! {
                b = cx.recv() => b,
                _ = idle_check.tick() => {
                    self.close_idle();
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut batches = vec![first];
            let mut events = batches[0].len();
            while events < MAX_EVENTS_PER_WRITE {
                match cx.try_recv() {
                    Some(b) => {
                        events += b.len();
                        batches.push(b);
                    }
                    None => break,
                }
            }
            let started = Instant::now();
            let spare = std::mem::take(&mut self.spare);
            let mut groups = self.encode(&batches, spare);
            let mut merged = Finalizers::default();
            for b in &mut batches {
                merged.merge(std::mem::take(&mut b.finalizers));
            }
            drop(batches);
            // Aborted while a write is retried, the batch is not delivered.
            let finalizers = HeldFinalizers::new(merged);
            let mut written = 0;
            for (path, buf) in &groups {
                if !self.write_with_retry(&cx, &mut health, path, buf).await {
                    // Shutting down with the disk still failing: the source
                    // must not commit past these events.
                    finalizers.finish(BatchStatus::Errored);
                    self.close_all();
                    return Ok(());
                }
                written += buf.len();
            }
            cx.metrics.write_latency.observe(started.elapsed());
            cx.metrics.add_sent(events, written);
            finalizers.finish(BatchStatus::Delivered);
            if !self.path.is_dynamic()
                && let Some((_, buf)) = groups.pop()
                && buf.capacity() <= MAX_SPARE_BYTES
            {
                self.spare = buf;
            }
        }
        self.close_all();
        Ok(())
    }
}

impl FileSink {
    /// Writes `buf`, retrying with backoff until it succeeds (reporting the
    /// sink not ready meanwhile); false if the pipeline is shutting down and
    /// the write still fails.
    async fn write_with_retry(
        &mut self,
        cx: &SinkContext,
        health: &mut WriteHealth,
        path: &FsPath,
        buf: &[u8],
    ) -> bool {
        let mut failures = 0u32;
        loop {
            match self.write(path, buf) {
                Ok(()) => {
                    health.succeeded(path);
                    return true;
                }
                Err(error) => {
                    let delay = health.failed(path, &error);
                    failures += 1;
                    if cx.shutdown.is_triggered() && failures > TRIES_AT_SHUTDOWN {
                        error!(message = "Giving up writing at shutdown; the data will be read again.", %error, path = %path.display());
                        return false;
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use logbridge_component::ShutdownSignal;
    use logbridge_component::channel;
    use logbridge_component::telemetry::{ComponentKind, ComponentMetrics};
    use logbridge_event::{BatchNotifier, Event, LogRecord};
    use std::fs::File;
    use std::io::Read;
    use std::sync::Arc;

    async fn run_sink(cfg: serde_json::Value, lines: &[&str]) -> BatchStatus {
        let cfg: FileSinkConfig = serde_json::from_value(cfg).unwrap();
        let sink = cfg
            .build(&BuildContext::detached(
                "out",
                ComponentKind::Sink,
                "/tmp".into(),
            ))
            .unwrap();
        let (tx, rx) = channel::bounded(1000, 1 << 20);
        let metrics = Arc::new(ComponentMetrics::new("out", ComponentKind::Sink, "file"));
        let cx = SinkContext::new(
            "out".into(),
            metrics,
            "/tmp".into(),
            ShutdownSignal::new(),
            rx,
        );
        let (status_tx, status_rx) = std::sync::mpsc::channel();
        let notifier = BatchNotifier::new(move |s| status_tx.send(s).unwrap());
        let events = lines
            .iter()
            .map(|l| {
                Event::Log(LogRecord::from_line(
                    Bytes::copy_from_slice(l.as_bytes()),
                    1_704_067_200_000_000_000,
                ))
            })
            .collect();
        tx.send(EventBatch::new(events).with_finalizers(Finalizers::new(notifier)))
            .await
            .unwrap();
        drop(tx);
        sink.run(cx).await.unwrap();
        status_rx.recv().unwrap()
    }

    #[tokio::test]
    async fn writes_templated_paths_and_acknowledges() {
        let dir = tempfile::tempdir().unwrap();
        let path = format!("{}/%Y/out.log", dir.path().display());
        let status = run_sink(
            serde_json::json!({"path": path, "encoding": {"codec": "text"}}),
            &["a", "b"],
        )
        .await;
        assert_eq!(status, BatchStatus::Delivered);
        let text = std::fs::read_to_string(dir.path().join("2024/out.log")).unwrap();
        assert_eq!(text, "a\nb\n");
    }

    #[tokio::test]
    async fn gzip_output_decodes() {
        let dir = tempfile::tempdir().unwrap();
        let path = format!("{}/out.log.gz", dir.path().display());
        run_sink(
            serde_json::json!({"path": path, "encoding": {"codec": "json"}, "compression": "gzip"}),
            &["x"],
        )
        .await;
        let mut text = String::new();
        flate2::read::GzDecoder::new(File::open(&path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("\"message\":\"x\""), "{text}");
    }

    #[tokio::test]
    async fn zstd_output_decodes() {
        let dir = tempfile::tempdir().unwrap();
        let path = format!("{}/out.log.zst", dir.path().display());
        run_sink(
            serde_json::json!({"path": path, "encoding": {"codec": "text"}, "compression": "zstd"}),
            &["x", "y"],
        )
        .await;
        let bytes = zstd::decode_all(File::open(&path).unwrap()).unwrap();
        assert_eq!(bytes, b"x\ny\n");
    }
}
