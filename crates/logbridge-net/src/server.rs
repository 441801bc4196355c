//! Serving a router on a TCP address, in plain text or TLS, for HTTP/1.1
//! and HTTP/2 (gRPC is HTTP/2, so one server carries both), until the
//! pipeline stops.
//!
//! One task per connection (hyper drives a connection as a future; a slow
//! client must not hold up the others). At shutdown the listener closes,
//! open connections finish the requests they have in flight (bounded by
//! [`DRAIN`]) and are then dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use logbridge_component::ShutdownSignal;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

/// How long open connections may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// A TLS handshake that takes longer than this is abandoned, so idle
/// half-open connections cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Server {
    /// Binds `address`; with `tls`, connections are TLS (ALPN offering
    /// HTTP/2 and HTTP/1.1).
    pub async fn bind(
        address: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(address).await?;
        Ok(Server {
            listener,
            tls: tls.map(TlsAcceptor::from),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves `router` until `shutdown` fires, then drains.
    pub async fn serve(self, router: Router, shutdown: ShutdownSignal) {
        let graceful = GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        loop {
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
            let service = TowerToHyperService::new(router.clone());
            match &self.tls {
                None => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    let conn = graceful.watch(conn.into_owned());
                    tokio::spawn(async move {
                        if let Err(error) = conn.await {
                            debug!(message = "Connection ended with an error.", %peer, %error);
                        }
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let builder = builder.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let stream =
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(error)) => {
                                    debug!(message = "TLS handshake failed.", %peer, %error);
                                    return;
                                }
                                Err(_) => return,
                            };
                        let conn =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        if let Err(error) = watcher.watch(conn.into_owned()).await {
                            debug!(message = "Connection ended with an error.", %peer, %error);
                        }
                    });
                }
            }
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
