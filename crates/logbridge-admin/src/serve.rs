//! Serving the admin router: HTTP/1.1, one task per connection, with a
//! header timeout, so that clients which connect and never finish a
//! request (or keep an idle connection) cannot pile up and keep the
//! endpoints from answering; connections end at shutdown.
//!
//! A hand-made loop rather than `axum::serve`, which has no timeouts.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use logbridge_component::ShutdownSignal;
use tokio::net::TcpListener;

/// A client must send a request's headers within this time of connecting
/// or of its previous answer (so it is also how long an idle connection
/// stays open).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long open connections may take to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(5);

pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    stop: ShutdownSignal,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little
                    // instead of spinning.
                    tracing::warn!(message = "Admin server: accepting a connection failed.", %error);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.wait() => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(error) = conn.await {
                tracing::debug!(message = "Admin connection ended with an error.", %error);
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
    Ok(())
}
