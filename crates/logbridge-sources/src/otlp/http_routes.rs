//! OTLP/HTTP: `POST /v1/{logs,metrics,traces}` with a protobuf or JSON
//! body, answered with the matching (empty) export response in the same
//! encoding, or a `google.rpc.Status` and the status code the OTLP spec
//! gives each failure (400 bad data, 401, 413, 415, 429 and 503 with
//! `Retry-After`).

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use prost::Message;

use logbridge_net::receive::{HttpError, PushContext, content_type};
use logbridge_net::rpc::RpcStatus;

use logbridge_otlp::Signal;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

pub(super) fn router(shared: PushContext) -> Router {
    super::signal_routes(shared, Signal::http_path, export)
}

async fn export(shared: PushContext, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    let json = match content_type(&headers).as_str() {
        PROTOBUF => false,
        JSON => true,
        other => {
            let e = HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {other:?}: use {PROTOBUF} or {JSON}"),
            );
            return error(e, false);
        }
    };
    let result = shared
        .push(
            &headers,
            body,
            Some(signal.output()),
            move |body, charge| super::decode::decode(signal, &body, json, charge),
        )
        .await;
    match result {
        Ok(()) => success(json),
        Err(e) => error(e, json),
    }
}

/// An empty `Export*ServiceResponse`: no partial success to report. The
/// three responses have the same shape, so one encoding serves all.
fn success(json: bool) -> Response {
    let (content_type, body) = if json {
        (JSON, b"{}".to_vec())
    } else {
        (PROTOBUF, Vec::new())
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn error(e: HttpError, json: bool) -> Response {
    // gRPC codes for the status body, as OTLP/HTTP asks.
    let code = match e.status {
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => 3,
        StatusCode::UNAUTHORIZED => 16,
        StatusCode::PAYLOAD_TOO_LARGE => 8,
        StatusCode::TOO_MANY_REQUESTS => 8,
        _ => 14,
    };
    let retry_after = e.retry_after;
    let status = e.status;
    let (content_type, body) = if json {
        let v = serde_json::json!({"code": code, "message": e.message});
        (JSON, v.to_string().into_bytes())
    } else {
        let s = RpcStatus {
            code,
            message: e.message,
            details: Vec::new(),
        };
        (PROTOBUF, s.encode_to_vec())
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if retry_after {
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from(logbridge_net::receive::RETRY_AFTER_SECS),
        );
    }
    response
}
