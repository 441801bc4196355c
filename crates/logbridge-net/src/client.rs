//! What the components that send over HTTP share (the `otlp`, `loki`,
//! `prometheus_remote_write` and `alertmanager` sinks, the Prometheus
//! scraper): option checks, the client built from TLS settings, the
//! credentials and extra headers, reading a server's `Retry-After`,
//! spreading retries, gzip, gathering input into requests, and what a
//! batch given up at shutdown becomes.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
pub use logbridge_component::batch::{BatchLimits, seconds};
use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{BuildError, SinkContext};
use logbridge_event::{BatchStatus, Event, Finalizers};

use crate::receive::AuthConfig;
use crate::tls::TlsClientConfig;

/// An `http://` or `https://` URL with a host; `example` is a good one,
/// for the hint.
pub fn http_url(option: &str, text: &str, example: &str) -> Result<reqwest::Url, BuildError> {
    let url: reqwest::Url = text.parse().map_err(|e| {
        BuildError::new(option, format!("invalid URL {text:?}: {e}"))
            .with_hint(format!("such as {example}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(BuildError::new(
            option,
            format!("{text:?} is not an http:// or https:// URL with a host"),
        ));
    }
    Ok(url)
}

/// An HTTP client with the TLS settings applied; `timeout` bounds
/// connecting and each whole request (a request may set a shorter one).
pub fn build_client(
    tls: Option<&TlsClientConfig>,
    timeout: Duration,
) -> Result<reqwest::Client, BuildError> {
    let tls = tls.cloned().unwrap_or_default();
    tls.validate()?;
    let builder = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout);
    tls.apply_to_reqwest(builder)?
        .build()
        .map_err(|e| BuildError::new("tls", e.to_string()))
}

/// The `Authorization` value to send, checked now.
pub fn auth_header(auth: Option<&AuthConfig>) -> Result<Option<HeaderValue>, BuildError> {
    let Some(auth) = auth else { return Ok(None) };
    auth.validate()?;
    let mut value = HeaderValue::try_from(auth.expected_header())
        .map_err(|e| BuildError::new("auth", format!("unusable credentials: {e}")))?;
    // Keeps the credentials out of debug output.
    value.set_sensitive(true);
    Ok(Some(value))
}

/// Extra request headers from a map of names to values.
pub fn extra_headers<'a>(
    headers: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<(HeaderName, HeaderValue)>, BuildError> {
    headers
        .into_iter()
        .map(|(name, value)| {
            let option = format!("headers.{name}");
            let name = HeaderName::try_from(name.to_ascii_lowercase())
                .map_err(|e| BuildError::new(&option, e.to_string()))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| BuildError::new(&option, e.to_string()))?;
            Ok((name, value))
        })
        .collect()
}

/// How long a server asked to wait with `Retry-After`: seconds, or an
/// HTTP date (a date in the past means at once).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// How one request of an HTTP sink ended; `T` is what a sent request
/// brought back (nothing, for most).
#[derive(Debug)]
pub enum Outcome<T = ()> {
    Sent(T),
    /// Worth trying again, after at least `after` if the server said.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Refused for good.
    Refused(String),
}

/// What a server answered: status, `Retry-After`, body.
pub struct Answer {
    pub status: http::StatusCode,
    pub retry_after: Option<Duration>,
    pub body: bytes::Bytes,
}

/// Sends a request and reads the whole answer; `Err` (why) when there was
/// none, which every sender takes as worth retrying.
pub async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = response.bytes().await.unwrap_or_default();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// Sends a request and reads the answer by the rule the Loki,
/// remote-write and Alertmanager APIs share: see [`classify`]; no answer
/// at all is worth retrying.
pub async fn send(request: reqwest::RequestBuilder) -> Outcome {
    match exchange(request).await {
        Ok(answer) => classify(answer.status, answer.retry_after, &answer.body),
        Err(reason) => Outcome::Retry {
            after: None,
            reason,
        },
    }
}

/// 2xx is taken; 429 and 5xx are worth retrying (after `Retry-After`);
/// anything else is refused for good, with the start of the answer as the
/// reason.
pub fn classify(status: http::StatusCode, after: Option<Duration>, body: &[u8]) -> Outcome {
    if status.is_success() {
        return Outcome::Sent(());
    }
    let reason = format!(
        "HTTP {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(512)]).trim()
    );
    if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
        Outcome::Retry { after, reason }
    } else {
        Outcome::Refused(reason)
    }
}

/// Spreads retries of many senders over ±20% of the wait.
pub fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.8 + rand::random::<f64>() * 0.4)
}

/// A request body, gzip-compressed (fast level: the network is rarely
/// slower than the compressor here).
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    e.write_all(data)?;
    e.finish()
}

/// A batch given up at shutdown stays unacknowledged upstream (a disk
/// buffer keeps it for the next start); its problem is no longer current.
pub fn give_up(metrics: &ComponentMetrics) -> BatchStatus {
    metrics.set_problem(None);
    BatchStatus::Errored
}

/// A sink's input gathered into one request.
pub struct Gathered {
    pub events: Vec<Event>,
    pub finalizers: Finalizers,
    /// The input ended: this is the last request.
    pub ended: bool,
}

/// Input that pauses this long closes the request early. Sources that
/// wait for acknowledgements (push receivers) send nothing more until
/// this request is out, so waiting for `timeout` would only add its
/// length to every request's latency (and cap their throughput); a source
/// reading a firehose never pauses and fills requests to their limits.
const IDLE: Duration = Duration::from_millis(1);

/// Waits for input and gathers it until a limit is reached, `timeout`
/// after the first batch, or the input pauses; `None` once the input has
/// ended and nothing is left.
pub async fn gather(cx: &mut SinkContext, limits: &BatchLimits) -> Option<Gathered> {
    let mut first = cx.recv().await?;
    let mut bytes = first.byte_size();
    let mut finalizers = std::mem::take(&mut first.finalizers);
    // Taken, not copied: the events are cloned only if another consumer
    // (a fan-out) still shares them.
    let mut events: Vec<Event> = first.take_events();
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let mut ended = false;
    while events.len() < limits.max_events && bytes < limits.max_bytes {
        let wait = deadline.min(tokio::time::Instant::now() + IDLE);
        match tokio::time::timeout_at(wait, cx.recv()).await {
            Ok(Some(mut batch)) => {
                bytes += batch.byte_size();
                finalizers.merge(std::mem::take(&mut batch.finalizers));
                events.append(&mut batch.take_events());
            }
            Ok(None) => {
                ended = true;
                break;
            }
            Err(_) => break,
        }
    }
    Some(Gathered {
        events,
        finalizers,
        ended,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        use http::StatusCode as S;
        assert!(matches!(
            classify(S::NO_CONTENT, None, b""),
            Outcome::Sent(())
        ));
        assert!(matches!(
            classify(S::TOO_MANY_REQUESTS, Some(Duration::from_secs(2)), b""),
            Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(2)
        ));
        assert!(matches!(
            classify(S::SERVICE_UNAVAILABLE, None, b""),
            Outcome::Retry { after: None, .. }
        ));
        assert!(matches!(
            classify(S::INTERNAL_SERVER_ERROR, None, b""),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(S::BAD_REQUEST, None, b"out of order sample"),
            Outcome::Refused(r) if r.contains("out of order")
        ));
        assert!(matches!(
            classify(S::UNAUTHORIZED, None, b""),
            Outcome::Refused(_)
        ));
    }

    #[test]
    fn options_are_checked() {
        assert!(seconds("x", 0.0).is_err());
        assert!(seconds("x", f64::NAN).is_err());
        assert_eq!(seconds("x", 1.5).unwrap(), Duration::from_millis(1500));
        assert!(http_url("e", "ftp://a/b", "").is_err());
        assert!(http_url("e", "not a url", "").is_err());
        assert_eq!(
            http_url("e", "https://h:1/p", "").unwrap().as_str(),
            "https://h:1/p"
        );
        let bearer = AuthConfig::Bearer { token: "t".into() };
        assert_eq!(auth_header(Some(&bearer)).unwrap().unwrap(), "Bearer t");
        assert!(auth_header(Some(&AuthConfig::Bearer { token: "".into() })).is_err());
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static(" 3 "));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        // A date in the past: at once.
        h.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        h.insert(
            http::header::RETRY_AFTER,
            HeaderValue::try_from(soon).unwrap(),
        );
        let wait = retry_after(&h).unwrap();
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
