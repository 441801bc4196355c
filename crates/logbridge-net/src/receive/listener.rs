//! Listening: the options checked and TLS built once at build time, the
//! address bound and served until shutdown, and [`PushListener`], the
//! skeleton of a source that is one push endpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use logbridge_component::{BuildError, ComponentError, ShutdownSignal, Source, SourceContext};

use super::{AuthConfig, PushContext, ReceiveConfig};
use crate::server::Server;
use crate::tls::TlsServerConfig;

/// Checks the options every push receiver has (limits, credentials, TLS)
/// and builds its TLS configuration; `prefix` names where they sit in the
/// component's options (`""`, `"http."`).
pub(crate) fn check_listener(
    prefix: &str,
    tls: Option<&TlsServerConfig>,
    auth: Option<&AuthConfig>,
    receive: &ReceiveConfig,
) -> Result<Option<Arc<rustls::ServerConfig>>, BuildError> {
    receive.validate(&format!("{prefix}receive."))?;
    if let Some(auth) = auth {
        auth.validate()?;
    }
    tls.map(|t| t.server_config(&[b"h2", b"http/1.1"]))
        .transpose()
        .map_err(|mut e| {
            e.option = e.option.map(|o| format!("{prefix}{o}"));
            e
        })
}

/// Binds `address` and serves `router` until `shutdown` under the
/// receiver's connection limits, saying where it listens for `what`.
pub(crate) async fn serve(
    address: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    receive: &ReceiveConfig,
    router: axum::Router,
    what: &str,
    shutdown: &ShutdownSignal,
) -> Result<(), ComponentError> {
    let secure = tls.is_some();
    let server = Server::bind(address, tls)
        .await?
        .with_limits(receive.connection_limits());
    tracing::info!(message = "Listening.", %what, address = %server.local_addr()?, tls = secure);
    server.serve(router, shutdown.clone()).await;
    Ok(())
}

/// One push endpoint, checked at build time: where it listens, its TLS,
/// credentials and limits. A source that is only this endpoint becomes a
/// whole [`Source`] with [`PushListener::into_source`]; one with more
/// listeners runs [`PushListener::serve`] beside them.
pub struct PushListener {
    what: &'static str,
    address: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    auth: Option<AuthConfig>,
    receive: ReceiveConfig,
}

impl PushListener {
    /// Checks the options (limits, credentials, TLS; `prefix` names where
    /// they sit in the component's options) and builds the TLS
    /// configuration; `what` names the endpoint in the log line that says
    /// where it listens.
    pub fn new(
        what: &'static str,
        prefix: &str,
        address: SocketAddr,
        tls: Option<&TlsServerConfig>,
        auth: Option<&AuthConfig>,
        receive: &ReceiveConfig,
    ) -> Result<PushListener, BuildError> {
        Ok(PushListener {
            what,
            address,
            tls: check_listener(prefix, tls, auth, receive)?,
            auth: auth.cloned(),
            receive: receive.clone(),
        })
    }

    /// Serves the routes `routes` makes from the push context until
    /// shutdown.
    pub async fn serve(
        &self,
        cx: &SourceContext,
        routes: impl FnOnce(PushContext) -> Router,
    ) -> Result<(), ComponentError> {
        let push = PushContext::new(cx, self.auth.as_ref(), &self.receive);
        serve(
            self.address,
            self.tls.clone(),
            &self.receive,
            routes(push),
            self.what,
            &cx.shutdown,
        )
        .await
    }

    /// The whole source: this endpoint serving `routes` until shutdown.
    pub fn into_source(
        self,
        routes: impl FnOnce(PushContext, &SourceContext) -> Router + Send + 'static,
    ) -> Box<dyn Source> {
        Box::new(PushSource {
            listener: self,
            routes: Box::new(routes),
        })
    }
}

type Routes = Box<dyn FnOnce(PushContext, &SourceContext) -> Router + Send>;

/// A source that is one push endpoint.
struct PushSource {
    listener: PushListener,
    routes: Routes,
}

#[async_trait::async_trait]
impl Source for PushSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let PushSource { listener, routes } = *self;
        listener.serve(&cx, |push| routes(push, &cx)).await
    }
}
