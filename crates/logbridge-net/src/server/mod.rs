//! Serving a router on a TCP address, in plain text or TLS, for HTTP/1.1
//! and HTTP/2 (gRPC is HTTP/2, so one server carries both), until the
//! pipeline stops.
//!
//! One task per connection (hyper drives a connection as a future; a slow
//! client must not hold up the others), and at most
//! [`ConnectionLimits::max_connections`] of them: past that the listener
//! stops accepting, so further connections wait in the kernel's accept
//! queue (rather than being closed at once: a burst of clients is delayed,
//! not failed, and the timeouts below free places within seconds). A
//! connection that sends no complete request headers in time, or stays
//! without a request for too long, is closed (`activity`), so idle or
//! slow clients cannot hold places, or file descriptors, for ever. At
//! shutdown the listener closes, open connections finish the requests they
//! have in flight (bounded by [`DRAIN`]) and are then dropped.

mod activity;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use logbridge_component::ShutdownSignal;
use logbridge_component::telemetry::RateLimit;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use activity::{Activity, Tracked, TrackedService};

/// How long open connections may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// How many connections a listener serves at once and how long it waits
/// for clients.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// From connecting (or from the first byte of a later request) to a
    /// request's complete headers, TLS handshake included.
    pub header_timeout: Duration,
    /// Without a request in flight, after the last answer.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        crate::receive::ReceiveConfig::default().connection_limits()
    }
}

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
}

impl Server {
    /// Binds `address`; with `tls`, connections are TLS (ALPN offering
    /// HTTP/2 and HTTP/1.1). Serves with the default limits unless
    /// [`Server::with_limits`] says otherwise.
    pub async fn bind(
        address: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(address).await?;
        Ok(Server {
            listener,
            tls: tls.map(TlsAcceptor::from),
            limits: ConnectionLimits::default(),
        })
    }

    pub fn with_limits(self, limits: ConnectionLimits) -> Server {
        Server { limits, ..self }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `router` until `shutdown` fires, then drains.
    pub async fn serve(self, router: Router, shutdown: ShutdownSignal) {
        let graceful = GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        let places = Arc::new(Semaphore::new(self.limits.max_connections));
        let full = RateLimit::default();
        loop {
            let place = match places.clone().try_acquire_owned() {
                Ok(place) => place,
                Err(_) => {
                    if full.allow() {
                        warn!(
                            message =
                                "Connection limit reached; new connections wait to be accepted.",
                            max_connections = self.limits.max_connections
                        );
                    }
                    tokio::select! {
                        place = places.clone().acquire_owned() => match place {
                            Ok(place) => place,
                            Err(_) => break,
                        },
                        _ = shutdown.wait() => break,
                    }
                }
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(error) => {
                        // Out of file descriptors and the like: wait a
                        // little instead of spinning.
                        warn!(message = "Accepting a connection failed.", %error);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.wait() => break,
            };
            let _ = stream.set_nodelay(true);
            let connection = Connection {
                peer,
                builder: builder.clone(),
                router: router.clone(),
                limits: self.limits,
                watcher: graceful.watcher(),
                _place: place,
            };
            tokio::spawn(connection.run(stream, self.tls.clone()));
        }
        drop(self.listener);
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            warn!(
                message = "Connections still open after the shutdown grace period; closing them."
            );
        }
    }
}

/// One accepted connection and what serving it takes.
struct Connection {
    peer: SocketAddr,
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    limits: ConnectionLimits,
    watcher: Watcher,
    /// Its place under `max_connections`, given back when it ends.
    _place: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        let activity = Activity::new();
        let Some(acceptor) = tls else {
            return self.serve(stream, activity).await;
        };
        // The handshake counts against the time to send headers, so idle
        // half-open connections cannot pile up.
        match tokio::time::timeout(self.limits.header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => self.serve(stream, activity).await,
            Ok(Err(error)) => debug!(message = "TLS handshake failed.", peer = %self.peer, %error),
            Err(_) => debug!(message = "TLS handshake timed out.", peer = %self.peer),
        }
    }

    async fn serve<I>(self, io: I, activity: Arc<Activity>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(Tracked::new(io, activity.clone()));
        let service = TrackedService::new(TowerToHyperService::new(self.router), activity.clone());
        let conn = self.builder.serve_connection_with_upgrades(io, service);
        let conn = self.watcher.watch(conn.into_owned());
        tokio::select! {
            result = conn => if let Err(error) = result {
                debug!(message = "Connection ended with an error.", peer = %self.peer, %error);
            },
            () = activity.expired(&self.limits) => {
                debug!(message = "Closed a connection that sent no request in time.", peer = %self.peer);
            }
        }
    }
}
