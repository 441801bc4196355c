//! The one retry loop of HTTP senders (the `otlp`, `loki`,
//! `prometheus_remote_write` and `alertmanager` sinks): an attempt is made
//! until it is sent, refused for good, the retries are spent, another
//! sender took the data, or the pipeline stops.
//!
//! Waits double from 100 ms up to `max_backoff`, spread by ±20% so that
//! many senders do not retry in step; a server's `Retry-After` is honoured
//! as given (not spread), capped at the larger of `max_backoff` and the
//! current wait. Every failed attempt is an error in the component's
//! counters; while retrying, the component reports its problem (shown on
//! `/readyz`), cleared by the next success.
//!
//! The loop counts and logs failures but not what a refusal discards: a
//! sender that tries several endpoints discards only when none took it.

use std::future::Future;
use std::time::Duration;

use logbridge_component::SinkContext;
use logbridge_component::telemetry::RateLimit;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::client::{Outcome, jitter};

/// How a sender retries, and how it describes its failures.
pub struct RetryPolicy<'a> {
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Give up after this many retries; `None`: until the pipeline stops.
    pub max_retries: Option<u32>,
    /// Where the data goes (an endpoint's name), logged with failures.
    pub endpoint: &'a str,
    /// The component's problem while retrying; `: <reason>` is appended.
    pub problem: &'a str,
    /// The log line of a failed attempt that will be retried.
    pub retrying: &'a str,
    /// The log line of a refusal for good.
    pub refused: &'a str,
    /// The log line when the retries are spent (unused without
    /// `max_retries`).
    pub gave_up: &'a str,
    /// Events in the data, logged with a refusal.
    pub events: usize,
}

/// How sending settled.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled<T> {
    Sent(T),
    /// Refused for good, with the server's reason.
    Refused(String),
    /// Failing after `max_retries` retries.
    GaveUp,
    /// Another sender took the data (the `taken` token was cancelled).
    Taken,
    /// The pipeline is stopping.
    Stopped,
}

/// The doubling, capped wait between attempts.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Backoff {
        Backoff {
            next: Duration::from_millis(100),
            max,
        }
    }

    /// The wait before the next attempt: the server's `after` when given
    /// (capped), else the current backoff spread; the backoff then doubles.
    pub fn wait(&mut self, after: Option<Duration>) -> Duration {
        let wait = match after {
            Some(after) => after.min(self.max.max(self.next)),
            None => jitter(self.next),
        };
        self.next = (self.next * 2).min(self.max);
        wait
    }
}

/// Makes `attempt` until it settles; see the module doc. `taken`, when
/// given, ends the loop early once cancelled by another sender.
pub async fn send_until_settled<T, F, Fut>(
    cx: &SinkContext,
    policy: &RetryPolicy<'_>,
    taken: Option<&CancellationToken>,
    log: &RateLimit,
    mut attempt: F,
) -> Settled<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let mut backoff = Backoff::new(policy.max_backoff);
    let mut retries = 0;
    let never = CancellationToken::new();
    let taken = taken.unwrap_or(&never);
    loop {
        let (after, reason) = match attempt().await {
            Outcome::Sent(sent) => {
                cx.metrics.set_problem(None);
                return Settled::Sent(sent);
            }
            Outcome::Refused(reason) => {
                cx.metrics.add_error();
                if log.allow() {
                    warn!(message = policy.refused, endpoint = policy.endpoint, events = policy.events, %reason);
                }
                return Settled::Refused(reason);
            }
            Outcome::Retry { after, reason } => (after, reason),
        };
        cx.metrics.add_error();
        if taken.is_cancelled() {
            return Settled::Taken;
        }
        if policy.max_retries == Some(retries) {
            if log.allow() {
                warn!(message = policy.gave_up, endpoint = policy.endpoint, retries, %reason);
            }
            return Settled::GaveUp;
        }
        cx.metrics
            .set_problem(Some(format!("{}: {reason}", policy.problem)));
        if log.allow() {
            warn!(message = policy.retrying, endpoint = policy.endpoint, %reason);
        }
        retries += 1;
        tokio::select! {
            _ = tokio::time::sleep(backoff.wait(after)) => {}
            _ = taken.cancelled() => return Settled::Taken,
            _ = cx.shutdown.wait() => return Settled::Stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_honours_retry_after() {
        let mut backoff = Backoff::new(Duration::from_millis(500));
        let first = backoff.wait(None);
        assert!(
            first >= Duration::from_millis(80) && first <= Duration::from_millis(120),
            "{first:?}"
        );
        // A server's wait is taken as given while under the cap.
        assert_eq!(
            backoff.wait(Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        backoff.wait(None);
        backoff.wait(None);
        // Capped at max_backoff from here on, Retry-After included.
        assert_eq!(
            backoff.wait(Some(Duration::from_secs(60))),
            Duration::from_millis(500)
        );
        let spread = backoff.wait(None);
        assert!(spread <= Duration::from_millis(600), "{spread:?}");
    }
}
