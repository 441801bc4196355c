//! What a connection is doing, for its timeouts: requests in flight (seen
//! by wrapping the service), bytes arriving (seen by wrapping the socket),
//! and the deadline that follows from them.
//!
//! - While a request is in flight, no deadline: its body reads and its
//!   delivery have limits of their own.
//! - A new connection must deliver a request's headers within the header
//!   timeout of connecting.
//! - After an answer, the connection may stay idle for the idle timeout;
//!   once bytes of a next request arrive, its headers must be complete
//!   within the header timeout.
//!
//! The same rules hold for HTTP/1.1 and HTTP/2, whose framing hyper reads;
//! nothing here parses. Closing is the caller's job when the deadline
//! passes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::ConnectionLimits;

/// One connection's activity.
pub(super) struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

struct State {
    in_flight: usize,
    /// Whether a request was answered yet.
    served: bool,
    /// When the connection opened or last went without a request.
    since: Instant,
    /// The first byte read since then, while no request was in flight.
    started: Option<Instant>,
}

impl Activity {
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new(State {
                in_flight: 0,
                served: false,
                since: Instant::now(),
                started: None,
            }),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes arrived.
    fn read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.started.is_none() {
            state.started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A request reached the service; in flight until the guard drops.
    fn begin(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.started = None;
        drop(state);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    /// When the connection must be closed, if nothing changes.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let state = self.state();
        if state.in_flight > 0 {
            None
        } else if !state.served {
            Some(state.since + limits.header_timeout)
        } else if let Some(started) = state.started {
            Some(started + limits.header_timeout)
        } else {
            Some(state.since + limits.idle_timeout)
        }
    }

    /// Returns once the connection is past its deadline.
    pub(super) async fn expired(&self, limits: &ConnectionLimits) {
        loop {
            // Created before the deadline is read: a change in between
            // leaves a permit, so it is not missed.
            let changed = self.changed.notified();
            match self.deadline(limits) {
                None => changed.await,
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
            }
        }
    }
}

/// A request in flight; its end starts the idle time.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.served = true;
            state.since = Instant::now();
            state.started = None;
        }
        drop(state);
        self.0.changed.notify_one();
    }
}

/// A socket that reports the bytes it reads.
pub(super) struct Tracked<I> {
    io: I,
    activity: Arc<Activity>,
}

impl<I> Tracked<I> {
    pub(super) fn new(io: I, activity: Arc<Activity>) -> Tracked<I> {
        Tracked { io, activity }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read();
        }
        result
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A service that reports the requests it has in flight.
pub(super) struct TrackedService<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> TrackedService<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>) -> TrackedService<S> {
        TrackedService { inner, activity }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> hyper::service::Service<http::Request<Incoming>> for TrackedService<S>
where
    S: hyper::service::Service<http::Request<Incoming>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.begin();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(in_flight);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 1,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_requests_and_bytes() {
        let a = Activity::new();
        let opened = Instant::now();
        // A new connection gets the header timeout, bytes or not.
        assert_eq!(
            a.deadline(&limits()),
            Some(opened + limits().header_timeout)
        );
        a.read();
        assert_eq!(
            a.deadline(&limits()),
            Some(opened + limits().header_timeout)
        );
        let request = a.begin();
        assert_eq!(a.deadline(&limits()), None);
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(request);
        // Answered: idle, until bytes of a next request arrive.
        let answered = Instant::now();
        assert_eq!(
            a.deadline(&limits()),
            Some(answered + limits().idle_timeout)
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        a.read();
        assert_eq!(
            a.deadline(&limits()),
            Some(answered + Duration::from_secs(5) + limits().header_timeout)
        );
        let started = Instant::now();
        a.expired(&limits()).await;
        assert_eq!(Instant::now(), started + limits().header_timeout);
    }
}
