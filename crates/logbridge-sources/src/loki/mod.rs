//! The `loki` source: a Loki push endpoint. `POST /loki/api/v1/push`
//! takes a snappy-compressed `PushRequest` (`application/x-protobuf`) or
//! the JSON form (`application/json`), either optionally compressed again
//! by `Content-Encoding`; `GET /ready` answers 200 for clients that probe
//! before pushing.
//!
//! Answers follow Loki's: 204 once every sink holds the data (clients such
//! as python-logging-loki treat anything else as a failure), 400 for a body
//! that does not decode (nothing from it is kept), 413 over the size
//! limits (a snappy block announcing more than
//! `receive.max_decompressed_bytes` is refused before it is inflated), and
//! 429 or 503 with `Retry-After` under backpressure.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use logbridge_component::{BuildContext, BuildError, OutputDef, Source, SourceConfig};
use logbridge_event::{DataKind, Event, KeyString, LogRecord, ObjectMap, Value};
use serde::Deserialize;
use tracing::debug;

use logbridge_component::now_nanos;
use logbridge_net::receive::census::{self, Field, Message};
use logbridge_net::receive::{
    AuthConfig, Charge, HttpError, PushContext, PushListener, ReceiveConfig, content_type,
};
use logbridge_net::tls::TlsServerConfig;

use logbridge_loki::{PUSH_PATH, TENANT_HEADER};

/// `%loki`, the metadata object the source fills.
const METADATA_ROOT: &str = "loki";

/// `%loki.tenant`: the tenant a log was pushed for.
const METADATA_TENANT: &str = "tenant";

/// Receives logs pushed with Loki's API (`/loki/api/v1/push`), from
/// Promtail, Grafana Alloy, Loki client libraries or a `loki` sink. Stream
/// labels become resource attributes (`%resource.job`), structured
/// metadata attributes, and the `X-Scope-OrgID` header `%loki.tenant`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LokiSourceConfig {
    /// Listen here, such as `0.0.0.0:3100`.
    pub address: SocketAddr,
    /// TLS (and mutual TLS with `ca_file`); plain text when absent.
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
    /// Credentials clients must send.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Request limits, backpressure and acknowledgements.
    /// `max_decompressed_bytes` also caps a protobuf body once its snappy
    /// block is inflated.
    #[serde(default)]
    pub receive: ReceiveConfig,
}

impl SourceConfig for LokiSourceConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        let listener = PushListener::new(
            "loki pushes",
            "",
            self.address,
            self.tls.as_ref(),
            self.auth.as_ref(),
            &self.receive,
        )?;
        Ok(listener.into_source(|push, _| router(push)))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::LOG)]
    }

    fn can_acknowledge(&self) -> bool {
        self.receive.acknowledgements
    }

    fn answers_requests(&self) -> bool {
        true
    }
}

fn router(shared: PushContext) -> Router {
    Router::new()
        .route(PUSH_PATH, post(push))
        .route("/ready", get(ready))
        .with_state(shared)
}

/// Readiness, as Loki answers it: the listener is up.
async fn ready() -> &'static str {
    "ready\n"
}

async fn push(State(push): State<PushContext>, headers: HeaderMap, body: Body) -> Response {
    match handle(&push, &headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            debug!(message = "Refused a Loki push.", status = %e.status, reason = %e.message);
            e.into_response()
        }
    }
}

/// How a push body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// A snappy block holding a `PushRequest`.
    Protobuf,
    Json,
}

impl Format {
    /// By `Content-Type`; Loki reads anything but JSON as protobuf, and so
    /// does this source for a missing type, but a type it does not know is
    /// refused rather than guessed at.
    fn of(headers: &HeaderMap) -> Result<Format, HttpError> {
        match content_type(headers).as_str() {
            "application/json" => Ok(Format::Json),
            "application/x-protobuf" | "" => Ok(Format::Protobuf),
            other => Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported Content-Type {other:?}: use application/x-protobuf or application/json"
                ),
            )),
        }
    }
}

async fn handle(push: &PushContext, headers: &HeaderMap, body: Body) -> Result<(), HttpError> {
    let format = Format::of(headers)?;
    let tenant = tenant(headers)?;
    push.push(headers, body, None, move |body, charge| {
        decode(format, &body, tenant.as_deref(), now_nanos(), charge)
    })
    .await
}

/// The tenant a push names, if any; one that is not text is refused.
fn tenant(headers: &HeaderMap) -> Result<Option<String>, HttpError> {
    let Some(value) = headers.get(TENANT_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| HttpError::bad_request("X-Scope-OrgID is not visible ASCII"))?
        .trim();
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// The logs of a push body, stamped as observed `now` and tagged with the
/// tenant, paid for with `charge` before they are built.
fn decode(
    format: Format,
    body: &Bytes,
    tenant: Option<&str>,
    now: i64,
    charge: &mut Charge,
) -> Result<Vec<Event>, HttpError> {
    let records = match format {
        Format::Protobuf => {
            let message = charge.unsnappy(body)?;
            charge.census(&census::protobuf(&message, &PUSH_REQUEST)?)?;
            logbridge_loki::decode_push_request(message)
        }
        Format::Json => {
            charge.census(&census::json(body, &[&["streams"], &["values"]])?)?;
            logbridge_loki::decode_push_json(body)
        }
    }
    .map_err(|e| HttpError::bad_request(e.to_string()))?;
    let metadata = tenant.map(tenant_metadata);
    Ok(records
        .into_iter()
        .map(|mut record: LogRecord| {
            record.observed_time_unix_nano = now;
            if let Some(metadata) = &metadata {
                record.metadata = metadata.clone();
            }
            Event::Log(record)
        })
        .collect())
}

/// The fields of Loki's `PushRequest` that build something (`push.proto`):
/// streams of labels and entries, entries of a line and metadata.
static PUSH_REQUEST: Message = Message {
    fields: &[(1, Field::Message(&STREAM))],
};
static STREAM: Message = Message {
    fields: &[(1, Field::Bytes), (2, Field::Event(&ENTRY))],
};
static ENTRY: Message = Message {
    fields: &[(2, Field::Bytes), (3, Field::Message(&LABEL_PAIR))],
};
static LABEL_PAIR: Message = Message {
    fields: &[(1, Field::Bytes), (2, Field::Bytes)],
};

/// `%loki.tenant`.
fn tenant_metadata(tenant: &str) -> ObjectMap {
    let mut loki = ObjectMap::new();
    loki.insert(KeyString::const_new(METADATA_TENANT), Value::from(tenant));
    let mut metadata = ObjectMap::new();
    metadata.insert(KeyString::const_new(METADATA_ROOT), Value::Object(loki));
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use logbridge_event::Path;
    use logbridge_loki::{Entry, LabelSet, Stream};

    fn stream(labels: &[(&str, &str)], entries: &[(i64, &str)]) -> Stream {
        Stream {
            labels: LabelSet::from_pairs(labels.iter().copied()).unwrap(),
            entries: entries
                .iter()
                .map(|&(t, line)| Entry {
                    time_unix_nano: t,
                    line: Bytes::copy_from_slice(line.as_bytes()),
                    metadata: vec![("trace_id".into(), Bytes::from_static(b"abc"))],
                })
                .collect(),
        }
    }

    fn get(event: &Event, path: &str) -> Option<String> {
        let path = Path::parse(path).unwrap();
        event.get(&path).map(|v| v.to_string_lossy().into_owned())
    }

    fn charge() -> Charge {
        Charge::standalone(&logbridge_net::receive::ReceiveConfig {
            max_decompressed_bytes: 1 << 20,
            ..Default::default()
        })
    }

    #[test]
    fn protobuf_and_json_become_logs_with_tenant() {
        let streams = [stream(&[("job", "api")], &[(2, "b"), (1, "a")])];
        let body = Bytes::from(logbridge_loki::encode_streams_protobuf(&streams).unwrap());
        let events = decode(Format::Protobuf, &body, Some("team-a"), 99, &mut charge()).unwrap();
        assert_eq!(events.len(), 2);
        let first = &events[0];
        assert_eq!(get(first, ".message").as_deref(), Some("b"));
        assert_eq!(get(first, "%resource.job").as_deref(), Some("api"));
        assert_eq!(get(first, ".trace_id").as_deref(), Some("abc"));
        assert_eq!(get(first, "%loki.tenant").as_deref(), Some("team-a"));
        let log = first.as_log().unwrap();
        assert_eq!((log.time_unix_nano, log.observed_time_unix_nano), (2, 99));

        let body = Bytes::from(logbridge_loki::encode_streams_json(&streams));
        let events = decode(Format::Json, &body, None, 5, &mut charge()).unwrap();
        assert_eq!(get(&events[1], ".message").as_deref(), Some("a"));
        assert_eq!(get(&events[1], "%loki.tenant"), None);
    }

    #[test]
    fn bad_bodies_and_bombs_are_refused() {
        let garbage = Bytes::from_static(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
        let e = decode(Format::Protobuf, &garbage, None, 0, &mut charge()).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = decode(
            Format::Json,
            &Bytes::from_static(b"{"),
            None,
            0,
            &mut charge(),
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        // A snappy header announcing 1 GiB: refused before inflating.
        let bomb = Bytes::from_static(&[0x80, 0x80, 0x80, 0x80, 0x04, 0x00]);
        let e = decode(Format::Protobuf, &bomb, None, 0, &mut charge()).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn content_types_and_tenants() {
        let mut headers = HeaderMap::new();
        assert_eq!(Format::of(&headers).unwrap(), Format::Protobuf);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(Format::of(&headers).unwrap(), Format::Json);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain"),
        );
        assert_eq!(
            Format::of(&headers).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(tenant(&headers).unwrap(), None);
        headers.insert(TENANT_HEADER, HeaderValue::from_static(" team-a "));
        assert_eq!(tenant(&headers).unwrap().as_deref(), Some("team-a"));
        headers.insert(
            TENANT_HEADER,
            HeaderValue::from_bytes(b"\xe9t\xe9").unwrap(),
        );
        assert!(tenant(&headers).is_err());
    }
}
