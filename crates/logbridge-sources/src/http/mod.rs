//! The `http` source: logs pushed over HTTP as newline-delimited JSON, a
//! JSON object or array of objects, or plain text lines, optionally
//! compressed, answered once the sinks hold them.
//!
//! A body that is not what its type says (an invalid JSON document) is
//! refused with 400 and nothing from it is kept. In newline-delimited
//! bodies each line stands alone: a line that does not parse goes to the
//! `dropped` output with the reason, and the others are delivered.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use logbridge_codec::{Parser, ParserConfig};
use logbridge_component::dropped::mark_dropped;
use logbridge_component::{
    BuildContext, BuildError, DROPPED_OUTPUT, OutputDef, Source, SourceConfig,
};
use logbridge_event::{Event, KeyString, LogRecord, ObjectMap, Value};
use serde::Deserialize;

use logbridge_component::now_nanos;
use logbridge_net::receive::census::{self, Census};
use logbridge_net::receive::{
    AuthConfig, Charge, HttpError, PushContext, PushListener, ReceiveConfig, content_type,
};
use logbridge_net::tls::TlsServerConfig;

/// Receives logs over HTTP POST (or PUT).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// Listen here, such as `127.0.0.1:8088`.
    pub address: SocketAddr,
    /// Accept requests to this path.
    #[serde(default = "default_path")]
    pub path: String,
    /// Only `path` itself; when false, any path under it.
    #[serde(default = "default_true")]
    pub strict_path: bool,
    /// How bodies are read: `auto` (by `Content-Type`: `application/json`
    /// is JSON, `application/x-ndjson` newline-delimited JSON, anything
    /// else lines of text), `json`, `ndjson` or `text`.
    #[serde(default)]
    pub decoding: HttpDecoding,
    /// Lines longer than this go to `dropped`.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Request headers to keep on each log, as `%http.headers.<name>`
    /// (lower case).
    #[serde(default)]
    pub headers: Vec<String>,
    /// TLS (and mutual TLS with `ca_file`); plain text when absent.
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
    /// Credentials clients must send.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Request limits, backpressure and acknowledgements.
    #[serde(default)]
    pub receive: ReceiveConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HttpDecoding {
    #[default]
    Auto,
    Json,
    Ndjson,
    Text,
}

fn default_path() -> String {
    "/".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_max_line_bytes() -> usize {
    102_400
}

impl SourceConfig for HttpSourceConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if !self.path.starts_with('/') {
            return Err(BuildError::new("path", "path must start with /"));
        }
        if self.max_line_bytes == 0 {
            return Err(BuildError::new(
                "max_line_bytes",
                "max_line_bytes must be above 0",
            ));
        }
        let listener = PushListener::new(
            "http",
            "",
            self.address,
            self.tls.as_ref(),
            self.auth.as_ref(),
            &self.receive,
        )?;
        let headers: Arc<[http::HeaderName]> = self
            .headers
            .iter()
            .map(|h| {
                http::HeaderName::try_from(h.to_ascii_lowercase())
                    .map_err(|e| BuildError::new("headers", format!("{h:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let config = Arc::new(self.clone());
        Ok(listener.into_source(move |push, cx| {
            let shared = Shared {
                push,
                config,
                headers,
                id: Arc::from(cx.id.as_str()),
            };
            Router::new().fallback(receive).with_state(shared)
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        logbridge_component::dropped::log_outputs_with_dropped()
    }

    fn can_acknowledge(&self) -> bool {
        self.receive.acknowledgements
    }

    fn answers_requests(&self) -> bool {
        true
    }
}

#[derive(Clone)]
struct Shared {
    push: PushContext,
    config: Arc<HttpSourceConfig>,
    headers: Arc<[http::HeaderName]>,
    id: Arc<str>,
}

async fn receive(
    State(shared): State<Shared>,
    uri: http::Uri,
    method: http::Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path();
    let config = &shared.config;
    let path_ok = if config.strict_path {
        path == config.path
    } else {
        path.starts_with(&config.path)
    };
    if !path_ok {
        return HttpError::new(StatusCode::NOT_FOUND, "no such path").into_response();
    }
    if method != http::Method::POST && method != http::Method::PUT {
        return HttpError::new(StatusCode::METHOD_NOT_ALLOWED, "use POST or PUT").into_response();
    }
    match handle(&shared, path, &headers, body).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    shared: &Shared,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), HttpError> {
    let decoding = match shared.config.decoding {
        HttpDecoding::Auto => match content_type(headers).as_str() {
            "application/json" => HttpDecoding::Json,
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonlines"
            | "application/x-jsonlines" => HttpDecoding::Ndjson,
            _ => HttpDecoding::Text,
        },
        d => d,
    };
    let metadata = request_metadata(path, headers, &shared.headers);
    let max_line = shared.config.max_line_bytes;
    let id = shared.id.clone();
    let push = &shared.push;
    let decoded = push
        .decode(headers, body, move |body, charge| {
            pay(decoding, &body, charge)?;
            decode(decoding, body, max_line, &metadata, &id).map_err(HttpError::bad_request)
        })
        .await?;
    let (good, dropped) = decoded.value;
    if !dropped.is_empty() {
        push.receiver.metrics().add_error();
        push.deliver(Some(DROPPED_OUTPUT), dropped, 0).await?;
    }
    push.deliver(None, good, decoded.size).await
}

/// Pays for what decoding a body builds, before it is built: one event a
/// line (or JSON array element), and for JSON one node every two tokens
/// (the parser makes one map entry of a key and its value, or one value of
/// an array element and its comma).
fn pay(decoding: HttpDecoding, body: &[u8], charge: &mut Charge) -> Result<(), HttpError> {
    let census = match decoding {
        HttpDecoding::Json => census::json(body, &[])?,
        HttpDecoding::Ndjson => Census {
            events: census::lines(body),
            nodes: census::json_tokens(body),
            copied: body.len(),
        },
        HttpDecoding::Text | HttpDecoding::Auto => return charge.events(census::lines(body)),
    };
    charge.census(&Census {
        nodes: census.nodes / 2,
        ..census
    })
}

/// `%http.path` and the configured headers as `%http.headers.<name>`.
fn request_metadata(path: &str, headers: &HeaderMap, keep: &[http::HeaderName]) -> ObjectMap {
    let mut http = ObjectMap::new();
    http.insert(KeyString::const_new("path"), Value::from(path));
    if !keep.is_empty() {
        let mut kept = ObjectMap::new();
        for name in keep {
            if let Some(v) = headers.get(name) {
                kept.insert(
                    KeyString::new(name.as_str()),
                    Value::Bytes(Bytes::copy_from_slice(v.as_bytes())),
                );
            }
        }
        http.insert(KeyString::const_new("headers"), Value::Object(kept));
    }
    let mut metadata = ObjectMap::new();
    metadata.insert(KeyString::const_new("http"), Value::Object(http));
    metadata
}

/// The logs in a body, and the lines that could not be read (marked for
/// `dropped`); an error when the body as a whole is invalid.
fn decode(
    decoding: HttpDecoding,
    body: Bytes,
    max_line: usize,
    metadata: &ObjectMap,
    component_id: &str,
) -> Result<(Vec<Event>, Vec<Event>), String> {
    let now = now_nanos();
    let mut good = Vec::new();
    let mut dropped = Vec::new();
    let with_metadata = |mut log: LogRecord| {
        log.metadata = metadata.clone();
        Event::Log(log)
    };
    let json = Parser::new(&ParserConfig::Json).map_err(|e| e.to_string())?;
    match decoding {
        HttpDecoding::Json => {
            let trimmed = body.trim_ascii_start();
            if trimmed.first() == Some(&b'[') {
                let items: Vec<&serde_json::value::RawValue> =
                    serde_json::from_slice(&body).map_err(|e| format!("invalid JSON: {e}"))?;
                for item in items {
                    let slice = body.slice_ref(item.get().as_bytes());
                    let fields = json
                        .parse_bytes(&slice, now)
                        .map_err(|e| format!("invalid JSON array element: {e}"))?;
                    good.push(with_metadata(LogRecord::from_fields(fields, now)));
                }
            } else {
                let fields = json
                    .parse_bytes(&body, now)
                    .map_err(|e| format!("invalid JSON: {e}"))?;
                good.push(with_metadata(LogRecord::from_fields(fields, now)));
            }
        }
        HttpDecoding::Ndjson | HttpDecoding::Text | HttpDecoding::Auto => {
            for line in lines(&body) {
                let mut event = if line.len() > max_line {
                    let mut e = with_metadata(LogRecord::from_line(
                        line.slice(..max_line.min(line.len())),
                        now,
                    ));
                    mark_dropped(
                        &mut e,
                        "overlong_line",
                        &format!("line of {} bytes over max_line_bytes", line.len()),
                        component_id,
                    );
                    dropped.push(e);
                    continue;
                } else if decoding == HttpDecoding::Ndjson {
                    match json.parse_bytes(&line, now) {
                        Ok(fields) => with_metadata(LogRecord::from_fields(fields, now)),
                        Err(error) => {
                            let mut e = with_metadata(LogRecord::from_line(line, now));
                            mark_dropped(&mut e, "parse_failed", &error.to_string(), component_id);
                            dropped.push(e);
                            continue;
                        }
                    }
                } else {
                    with_metadata(LogRecord::from_line(line, now))
                };
                if let Event::Log(log) = &mut event {
                    log.observed_time_unix_nano = now;
                }
                good.push(event);
            }
        }
    }
    Ok((good, dropped))
}

/// Non-empty lines of a body, without `\r\n` / `\n`, as slices of it.
fn lines(body: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    body.split(|&b| b == b'\n').filter_map(move |line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (!line.is_empty()).then(|| body.slice_ref(line))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| e.as_log().unwrap().body.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn decodings() {
        let meta = ObjectMap::new();
        let (good, dropped) = decode(
            HttpDecoding::Json,
            Bytes::from_static(br#" [{"message":"a","n":1},{"message":"b"}]"#),
            100,
            &meta,
            "h",
        )
        .unwrap();
        assert_eq!(bodies(&good), ["a", "b"]);
        assert!(dropped.is_empty());
        let (good, _) = decode(
            HttpDecoding::Json,
            Bytes::from_static(br#"{"message":"one"}"#),
            100,
            &meta,
            "h",
        )
        .unwrap();
        assert_eq!(bodies(&good), ["one"]);
        assert!(
            decode(
                HttpDecoding::Json,
                Bytes::from_static(b"[{]"),
                100,
                &meta,
                "h"
            )
            .is_err()
        );
        assert!(
            decode(
                HttpDecoding::Json,
                Bytes::from_static(b"[1]"),
                100,
                &meta,
                "h"
            )
            .is_err()
        );

        let (good, dropped) = decode(
            HttpDecoding::Ndjson,
            Bytes::from_static(b"{\"message\":\"x\"}\r\nnot json\n\n{\"message\":\"y\"}"),
            100,
            &meta,
            "h",
        )
        .unwrap();
        assert_eq!(bodies(&good), ["x", "y"]);
        assert_eq!(dropped.len(), 1);
        let reason = dropped[0]
            .as_log()
            .unwrap()
            .attributes
            .get("dropped")
            .unwrap();
        assert!(reason.to_string_lossy().contains("parse_failed"));

        let (good, dropped) = decode(
            HttpDecoding::Text,
            Bytes::from_static(b"first\nsecond line that is long\n"),
            10,
            &meta,
            "h",
        )
        .unwrap();
        assert_eq!(bodies(&good), ["first"]);
        assert_eq!(dropped.len(), 1);
    }
}
