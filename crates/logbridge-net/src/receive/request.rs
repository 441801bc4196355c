//! The HTTP side of a receiver: authentication, reading a body within its
//! limits (as sent and once decompressed), and turning a [`Refusal`] or a
//! bad request into a response with the right status and `Retry-After`.
//!
//! Decompression bombs are stopped by inflating through a reader capped at
//! `max_decompressed_bytes + 1`: one byte over the cap refuses the request
//! without inflating the rest. The body as read and as inflated is paid
//! for in the receiver's memory budget as it grows.

use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use logbridge_component::BuildError;
use serde::Deserialize;

use super::budget::{Reservation, refusal};
use super::{RETRY_AFTER_SECS, ReceiveConfig, Refusal};

/// Who may send to a receiver.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(tag = "strategy", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token clients must send.
        token: String,
    },
    /// `Authorization: Basic <base64 user:password>`.
    Basic { user: String, password: String },
}

impl AuthConfig {
    pub fn validate(&self) -> Result<(), BuildError> {
        let empty = match self {
            AuthConfig::Bearer { token } => token.is_empty(),
            AuthConfig::Basic { user, password } => user.is_empty() || password.is_empty(),
        };
        if empty {
            return Err(BuildError::new(
                "auth",
                "auth credentials must not be empty",
            ));
        }
        Ok(())
    }

    /// The `Authorization` header value a client must send.
    pub fn expected_header(&self) -> String {
        match self {
            AuthConfig::Bearer { token } => format!("Bearer {token}"),
            AuthConfig::Basic { user, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
        }
    }
}

/// Checks `Authorization` against the expected value (`Scheme
/// credentials`): the scheme case-insensitively, as RFC 9110 reads it, and
/// the credentials in time independent of where they differ, so a token
/// cannot be guessed byte by byte.
pub fn authorized(headers: &HeaderMap, expected: &str) -> bool {
    let Some(got) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let (Some((scheme, credentials)), Some((want_scheme, want))) = (
        split_scheme(got.as_bytes()),
        split_scheme(expected.as_bytes()),
    ) else {
        return false;
    };
    scheme.eq_ignore_ascii_case(want_scheme)
        && credentials.len() == want.len()
        && credentials
            .iter()
            .zip(want)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `Scheme credentials` split at the first space (more spaces may follow).
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let credentials = value[space..].trim_ascii_start();
    Some((&value[..space], credentials))
}

/// The challenge a 401 carries (`WWW-Authenticate`), for the scheme of the
/// expected `Authorization` value.
fn challenge(expected: &str) -> &'static str {
    if expected.starts_with("Basic") {
        "Basic realm=\"logbridge\", charset=\"UTF-8\""
    } else {
        "Bearer realm=\"logbridge\""
    }
}

/// A request that cannot be taken, as a status and a message.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: bool,
    /// `WWW-Authenticate`, on a 401.
    pub challenge: Option<&'static str>,
    /// Why, as the `reason` label of the refused-requests counter.
    pub cause: &'static str,
}

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
            retry_after: false,
            challenge: None,
            cause: cause_of(status),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 413: over a size or count limit.
    pub fn too_large(message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 401 with the challenge for the credentials `expected` (the whole
    /// `Authorization` value a client must send).
    pub fn unauthorized(expected: &str) -> HttpError {
        HttpError {
            challenge: Some(challenge(expected)),
            ..HttpError::new(StatusCode::UNAUTHORIZED, "missing or wrong credentials")
        }
    }

    /// The same answer, counted under another reason.
    pub fn with_cause(self, cause: &'static str) -> HttpError {
        HttpError { cause, ..self }
    }
}

/// The counter reason of an answer given by its status alone.
fn cause_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "invalid",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::REQUEST_TIMEOUT => "body_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported",
        StatusCode::TOO_MANY_REQUESTS => "overloaded",
        _ => "other",
    }
}

impl From<Refusal> for HttpError {
    fn from(r: Refusal) -> HttpError {
        let (status, retry_after, cause) = match r {
            Refusal::Overloaded => (StatusCode::TOO_MANY_REQUESTS, true, "overloaded"),
            Refusal::Backpressure => (StatusCode::SERVICE_UNAVAILABLE, true, "backpressure"),
            Refusal::Failed => (StatusCode::SERVICE_UNAVAILABLE, true, "delivery_failed"),
            Refusal::Closed => (StatusCode::SERVICE_UNAVAILABLE, true, "shutting_down"),
            Refusal::Rejected => (StatusCode::BAD_REQUEST, false, "rejected"),
        };
        HttpError {
            status,
            message: r.to_string(),
            retry_after,
            challenge: None,
            cause,
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message).into_response();
        if self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Reads a whole body as sent, refusing one over `max` bytes (before
/// reading it when `Content-Length` says so) and one that pauses longer
/// than `idle_timeout_secs` between two reads, paying for it in
/// `reservation` as it arrives (so a slow sender holds only what it sent).
pub(crate) async fn read_raw(
    headers: &HeaderMap,
    mut body: Body,
    max: usize,
    limits: &ReceiveConfig,
    reservation: &mut Reservation,
) -> Result<Bytes, HttpError> {
    let too_large = || HttpError::too_large(format!("body over {max} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let idle = Duration::from_secs_f64(limits.idle_timeout_secs);
    let mut out: Vec<u8> = Vec::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => {
                return Err(HttpError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the body paused for more than {idle:?}"),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(HttpError::bad_request(format!(
                    "reading the body failed: {e}"
                )));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len() + data.len() > max {
            return Err(too_large());
        }
        let before = out.capacity();
        out.extend_from_slice(&data);
        reservation
            .grow(out.capacity() - before)
            .await
            .map_err(|short| refusal(short, limits))?;
    }
    Ok(Bytes::from(out))
}

/// The `Content-Encoding` of a request, trimmed and lower-cased.
pub(crate) fn content_encoding(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Undoes a `Content-Encoding` (gzip, deflate, zstd) within `max` bytes.
/// CPU-bound: call it off the runtime's workers for large bodies.
pub fn decompress(encoding: &str, raw: Bytes, max: usize) -> Result<Bytes, HttpError> {
    inflate(encoding, raw, max, &mut Unmetered)
}

/// Where inflation accounts for the memory of its output.
pub(crate) trait Meter {
    /// `bytes` more are about to be allocated; an error refuses them.
    fn grow(&mut self, bytes: usize) -> Result<(), HttpError>;
    /// `bytes` were freed.
    fn shrink(&mut self, bytes: usize);
}

/// No accounting.
struct Unmetered;

impl Meter for Unmetered {
    fn grow(&mut self, _: usize) -> Result<(), HttpError> {
        Ok(())
    }
    fn shrink(&mut self, _: usize) {}
}

/// [`decompress`], accounting for every allocation of the output buffer
/// in `meter` before it is made (and for what it frees).
pub(crate) fn inflate(
    encoding: &str,
    raw: Bytes,
    max: usize,
    meter: &mut dyn Meter,
) -> Result<Bytes, HttpError> {
    match encoding {
        "" | "identity" => Ok(raw),
        "gzip" | "x-gzip" => {
            let hint = gzip_size(&raw);
            let reader = flate2::read::MultiGzDecoder::new(&raw[..]);
            inflate_from(reader, hint, max, "gzip", meter)
        }
        "deflate" => {
            let reader = flate2::read::ZlibDecoder::new(&raw[..]);
            inflate_from(reader, 0, max, "deflate", meter)
        }
        "zstd" => {
            let hint = zstd::zstd_safe::get_frame_content_size(&raw)
                .ok()
                .flatten()
                .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
            let reader = zstd::stream::read::Decoder::new(&raw[..])
                .map_err(|e| HttpError::bad_request(format!("invalid zstd body: {e}")))?;
            inflate_from(reader, hint, max, "zstd", meter)
        }
        other => Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {other:?} (use gzip, deflate, zstd or none)"),
        )),
    }
}

/// The size a gzip body says it inflates to (its trailer's `ISIZE`, which
/// is only a hint: it is the last member's, modulo 4 GiB, and unchecked
/// until the end).
fn gzip_size(raw: &[u8]) -> usize {
    match raw.len().checked_sub(4).and_then(|at| raw.get(at..)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => 0,
    }
}

/// The smallest step the output of an inflation grows by.
const INFLATE_STEP: usize = 64 * 1024;

/// Inflates through a reader capped at `max + 1` bytes into a buffer of
/// the `hint`ed size, doubled when the hint falls short. Growing copies
/// the buffer, so the old and the new one are both paid for while it
/// does; the result is trimmed to its length when doubling left much over.
fn inflate_from(
    reader: impl Read,
    hint: usize,
    max: usize,
    what: &str,
    meter: &mut dyn Meter,
) -> Result<Bytes, HttpError> {
    let mut reader = reader.take(max as u64 + 1);
    let mut out = Vec::new();
    // One byte more than the hint, so that a right hint ends the reading
    // without growing.
    let mut wanted = hint.saturating_add(1).max(INFLATE_STEP).min(max + 1);
    loop {
        if out.len() == out.capacity() {
            let held = out.capacity();
            meter.grow(wanted)?;
            out.reserve_exact(wanted - out.len());
            meter.shrink(held);
            wanted = (wanted * 2).min(max + 1);
        }
        let spare = out.capacity() - out.len();
        let n = (&mut reader)
            .take(spare as u64)
            .read_to_end(&mut out)
            .map_err(|e| HttpError::bad_request(format!("invalid {what} body: {e}")))?;
        if out.len() > max {
            return Err(HttpError::too_large(format!(
                "body over {max} bytes once decompressed"
            )));
        }
        if n == 0 {
            break;
        }
    }
    // Trimming copies the body; worth it only for what doubling left over
    // (a right hint leaves one byte).
    if out.capacity() - out.len() > out.len() / 8 {
        let held = out.capacity();
        meter.grow(out.len())?;
        out.shrink_to_fit();
        meter.shrink(held);
    }
    Ok(Bytes::from(out))
}

/// The media type of a request, without parameters, lower-cased.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn the_auth_scheme_is_case_insensitive_and_the_credentials_exact() {
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            h
        };
        let expected = "Bearer t0k";
        for ok in ["Bearer t0k", "bearer t0k", "BEARER   t0k"] {
            assert!(authorized(&with(ok), expected), "{ok}");
        }
        for wrong in [
            "Bearer t0K",
            "Bearer t0k ",
            "Basic t0k",
            "Bearert0k",
            "t0k",
            "Bearer",
        ] {
            assert!(!authorized(&with(wrong), expected), "{wrong}");
        }
        assert!(!authorized(&HeaderMap::new(), expected));
        let response = HttpError::unauthorized("Basic dTpw").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"logbridge\", charset=\"UTF-8\""
        );
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_cap() {
        let bomb = gzip(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000);
        let err = decompress("gzip", bomb.clone(), 1 << 20).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(decompress("gzip", bomb, 10 << 20).unwrap().len(), 10 << 20);
    }

    #[test]
    fn encodings() {
        assert_eq!(&decompress("gzip", gzip(b"abc"), 10).unwrap()[..], b"abc");
        let z = zstd::encode_all(&b"hello"[..], 1).unwrap();
        assert_eq!(&decompress("zstd", z.into(), 10).unwrap()[..], b"hello");
        assert_eq!(
            decompress("br", Bytes::new(), 10).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            decompress("gzip", Bytes::from_static(b"not gzip"), 10)
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn authorization_is_compared_whole() {
        let auth = AuthConfig::Basic {
            user: "u".into(),
            password: "p".into(),
        };
        let expected = auth.expected_header();
        assert_eq!(expected, "Basic dTpw");
        let mut headers = HeaderMap::new();
        assert!(!authorized(&headers, &expected));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dTpx"),
        );
        assert!(!authorized(&headers, &expected));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dTpw"),
        );
        assert!(authorized(&headers, &expected));
    }
}
