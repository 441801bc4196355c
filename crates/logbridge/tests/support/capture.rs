//! A tiny HTTP server that records every request (path, headers, body) and
//! answers 200, standing in for the far end of a sink in tests that check
//! what a sink sends byte for byte.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::serve::ListenerExt;

#[derive(Debug, Clone)]
pub struct Captured {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Capture {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Captured>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Capture {
    /// Starts the server on a free loopback port, on its own runtime.
    pub fn start() -> Capture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new().fallback(record).with_state(requests.clone());
        // Without TCP_NODELAY, small answers wait for delayed ACKs (40 ms).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        runtime.spawn(async move { axum::serve(listener, app).await });
        Capture {
            port,
            requests,
            _runtime: runtime,
        }
    }

    pub fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

async fn record(
    State(requests): State<Arc<Mutex<Vec<Captured>>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    requests.lock().unwrap().push(Captured {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    StatusCode::OK
}
