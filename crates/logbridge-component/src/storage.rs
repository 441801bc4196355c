//! What components that write local files share when those writes fail: a
//! full disk told apart from other errors, the failing part reported (a
//! problem on `/readyz`, the `logbridge_component_disk_full` gauge, one log
//! line per cause and one on recovery), and the backoff between retries.
//!
//! It keeps no files and retries nothing itself: the component decides
//! what to retry and sleeps for the delay it is given.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::telemetry::{ComponentMetrics, GaugeDef};

/// 1 while writes of a part of a component fail because the disk (or the
/// quota) is full, 0 otherwise; labelled `part`.
pub static DISK_FULL: GaugeDef = GaugeDef {
    name: "logbridge_component_disk_full",
    help: "1 while writes of this part of the component fail because its disk or quota is full.",
    counter: false,
};

/// First wait after a failed write; it doubles up to [`RETRY_MAX`].
pub const RETRY_MIN: Duration = Duration::from_millis(100);
/// Longest wait between two tries, so a freed disk is noticed soon.
pub const RETRY_MAX: Duration = Duration::from_secs(5);

/// Whether `error` means there is no space left to write: a condition to
/// wait out, not a failure.
pub fn is_disk_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// The write health of one part of a component (`buffer`, `checkpoints`,
/// `output`).
#[derive(Debug)]
pub struct WriteHealth {
    metrics: Arc<ComponentMetrics>,
    part: &'static str,
    /// The cause of the failures going on, if writes fail.
    failing: Option<io::ErrorKind>,
    failures: u64,
    delay: Duration,
}

impl WriteHealth {
    /// Starts healthy, with the gauge at 0 so that it is there to alert on.
    pub fn new(metrics: Arc<ComponentMetrics>, part: &'static str) -> WriteHealth {
        metrics.set_gauge(&DISK_FULL, &[("part", part)], 0);
        WriteHealth {
            metrics,
            part,
            failing: None,
            failures: 0,
            delay: RETRY_MIN,
        }
    }

    /// A write to `path` failed: counts an error, reports the problem (and
    /// logs it when its cause changes), and returns how long to wait before
    /// trying again.
    pub fn failed(&mut self, path: &Path, error: &io::Error) -> Duration {
        self.metrics.add_error();
        self.failures += 1;
        let full = is_disk_full(error);
        if self.failing != Some(error.kind()) {
            self.failing = Some(error.kind());
            let part = self.part;
            if full {
                tracing::warn!(
                    message = "Disk full; waiting for space and retrying the write.",
                    part,
                    path = %path.display(),
                    %error,
                );
            } else {
                tracing::error!(
                    message = "Writing fails; retrying.",
                    part,
                    path = %path.display(),
                    %error,
                );
            }
            let problem = if full {
                format!("disk full writing {}: {error}", path.display())
            } else {
                format!("cannot write {}: {error}", path.display())
            };
            self.metrics.set_part_problem(self.part, Some(problem));
            self.metrics
                .set_gauge(&DISK_FULL, &[("part", self.part)], i64::from(full));
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(RETRY_MAX);
        delay
    }

    /// A write worked: clears the problem and the gauge.
    pub fn succeeded(&mut self, path: &Path) {
        if self.failing.take().is_none() {
            return;
        }
        tracing::info!(
            message = "Writing works again.",
            part = self.part,
            path = %path.display(),
            failures = self.failures,
        );
        self.failures = 0;
        self.delay = RETRY_MIN;
        self.metrics.set_part_problem(self.part, None);
        self.metrics
            .set_gauge(&DISK_FULL, &[("part", self.part)], 0);
    }

    /// Whether the last write failed.
    pub fn is_failing(&self) -> bool {
        self.failing.is_some()
    }

    /// Whether the last write failed for lack of space.
    pub fn is_disk_full(&self) -> bool {
        matches!(
            self.failing,
            Some(io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{ComponentKind, Registry};

    #[test]
    fn reports_a_full_disk_until_a_write_works() {
        let registry = Registry::new();
        let metrics = registry.register("out", ComponentKind::Sink, "file");
        let mut health = WriteHealth::new(metrics.clone(), "output");
        let gauge = |v: u8| {
            format!(
                "logbridge_component_disk_full{{component_id=\"out\",component_kind=\"sink\",component_type=\"file\",part=\"output\"}} {v}"
            )
        };
        assert!(registry.render().contains(&gauge(0)));
        let full = io::Error::from(io::ErrorKind::StorageFull);
        let path = Path::new("/data/out.log");
        let delays: Vec<Duration> = (0..8).map(|_| health.failed(path, &full)).collect();
        assert_eq!(delays[0], RETRY_MIN);
        assert_eq!(delays[1], RETRY_MIN * 2);
        assert_eq!(delays[7], RETRY_MAX);
        assert!(health.is_disk_full());
        assert!(registry.render().contains(&gauge(1)));
        let (_, problem) = registry.problems().pop().unwrap();
        assert!(
            problem.starts_with("output: disk full writing /data/out.log"),
            "{problem}"
        );
        assert_eq!(metrics.errors.load(std::sync::atomic::Ordering::Relaxed), 8);

        health.succeeded(path);
        assert!(!health.is_failing());
        assert!(registry.problems().is_empty());
        assert!(registry.render().contains(&gauge(0)));
        assert_eq!(health.failed(path, &full), RETRY_MIN, "backoff starts over");

        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        health.failed(path, &denied);
        assert!(health.is_failing() && !health.is_disk_full());
        assert!(registry.render().contains(&gauge(0)));
    }
}
