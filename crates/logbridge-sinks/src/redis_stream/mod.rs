//! The `redis_stream` sink: appends each event to a Redis stream with
//! `XADD`, to a key rendered per event, trimming with `MAXLEN ~` when
//! asked. A batch goes out as one pipeline; it is acknowledged once Redis
//! replied to every command of it.
//!
//! An event becomes the entry's field/value pairs (`fields`: each top-level
//! field of the event's JSON form, strings as they are and other values as
//! JSON) or one field holding the whole event as JSON (`json`).
//!
//! Connection failures are retried with backoff, on a new connection; a
//! command Redis refuses (a key holding another type, say) rejects the
//! batch, since sending it again would fail again. As `XADD` is not
//! idempotent, a pipeline whose reply was lost is sent again and its
//! entries may appear twice: delivery is at least once.

use std::time::Duration;

use logbridge_codec::template::Template;
use logbridge_codec::{Codec, Encoder};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind, Event};
use redis::IntoConnectionInfo;
use redis::aio::MultiplexedConnection;
use serde::Deserialize;
use tracing::warn;

use logbridge_component::now_nanos;
use logbridge_net::tls::TlsClientConfig;

/// Appends events to Redis streams (`XADD`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisStreamSinkConfig {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
    pub endpoint: String,
    /// The stream key; a template (`logs:{{ .service }}`, strftime).
    pub key: String,
    /// Trim each stream to about this many entries (`MAXLEN ~`).
    #[serde(default)]
    pub max_len: Option<u64>,
    /// `fields`: the event's top-level fields as the entry's field/value
    /// pairs. `json`: one field, `json_field`, holding the event as JSON.
    #[serde(default)]
    pub encoding: RedisEncoding,
    /// The field name for `encoding = "json"`.
    #[serde(default = "default_json_field")]
    pub json_field: String,
    /// Events per pipeline.
    #[serde(default = "default_batch_events")]
    pub batch_max_events: usize,
    /// TLS settings for `rediss://` (extra CA, client certificate).
    #[serde(default)]
    pub tls: Option<TlsClientConfig>,
    /// Seconds before a pipeline without reply is abandoned and retried.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedisEncoding {
    #[default]
    Fields,
    Json,
}

fn default_json_field() -> String {
    "event".to_owned()
}
fn default_batch_events() -> usize {
    1000
}
fn default_request_timeout_secs() -> f64 {
    10.0
}

impl SinkConfig for RedisStreamSinkConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        let info = self.endpoint.as_str().into_connection_info().map_err(|e| {
            BuildError::new("endpoint", format!("invalid Redis URL: {e}"))
                .with_hint("such as redis://127.0.0.1:6379/0")
        })?;
        let client = match &self.tls {
            None => redis::Client::open(info),
            Some(tls) => {
                tls.validate()?;
                let read = |p: &Option<std::path::PathBuf>,
                            option: &str|
                 -> Result<Option<Vec<u8>>, BuildError> {
                    p.as_ref()
                        .map(|p| {
                            std::fs::read(p).map_err(|e| {
                                BuildError::new(option, format!("{}: {e}", p.display()))
                            })
                        })
                        .transpose()
                };
                let client_tls = match (
                    read(&tls.crt_file, "tls.crt_file")?,
                    read(&tls.key_file, "tls.key_file")?,
                ) {
                    (Some(client_cert), Some(client_key)) => Some(redis::ClientTlsConfig {
                        client_cert,
                        client_key,
                    }),
                    _ => None,
                };
                if !tls.verify_certificate {
                    return Err(BuildError::new(
                        "tls.verify_certificate",
                        "turning verification off is done in the URL for Redis",
                    )
                    .with_hint("append #insecure to a rediss:// endpoint"));
                }
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls,
                        root_cert: read(&tls.ca_file, "tls.ca_file")?,
                    },
                )
            }
        }
        .map_err(|e| BuildError::new("endpoint", e.to_string()))?;
        let key = Template::parse(&self.key).map_err(|e| BuildError::new("key", e.0))?;
        if self.batch_max_events == 0 {
            return Err(BuildError::new(
                "batch_max_events",
                "batch_max_events must be above 0",
            ));
        }
        if self.json_field.is_empty() {
            return Err(BuildError::new(
                "json_field",
                "json_field must not be empty",
            ));
        }
        if !(self.request_timeout_secs > 0.0 && self.request_timeout_secs < 86_400.0) {
            return Err(BuildError::new(
                "request_timeout_secs",
                "request_timeout_secs must be above 0 and under a day",
            ));
        }
        Ok(Box::new(RedisStreamSink {
            client,
            key,
            max_len: self.max_len,
            encoding: self.encoding,
            json_field: self.json_field.clone(),
            batch_max_events: self.batch_max_events,
            timeout: Duration::from_secs_f64(self.request_timeout_secs),
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }
}

struct RedisStreamSink {
    client: redis::Client,
    key: Template,
    max_len: Option<u64>,
    encoding: RedisEncoding,
    json_field: String,
    batch_max_events: usize,
    timeout: Duration,
}

/// Why a pipeline failed.
enum Failure {
    /// The connection broke or timed out: try again on a new one.
    Transient(String),
    /// Redis refused this many of the commands (the others were applied:
    /// a pipeline is not a transaction), the first for this reason.
    Refused(usize, String),
}

#[async_trait::async_trait]
impl Sink for RedisStreamSink {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        // The key template caches in a RefCell, so it is not Sync: owned
        // here, never borrowed across an await.
        let RedisStreamSink {
            client,
            key: key_template,
            max_len,
            encoding,
            json_field,
            batch_max_events,
            timeout,
        } = *self;
        let fields = FieldWriter {
            encoding,
            json_field,
        };
        let encoder = Encoder::new(Codec::Json);
        let log_limit = RateLimit::default();
        let mut connection: Option<MultiplexedConnection> = None;
        while let Some(first) = cx.recv().await {
            let mut batches = vec![first];
            let mut events = batches[0].len();
            while events < batch_max_events {
                match cx.try_recv() {
                    Some(b) => {
                        events += b.len();
                        batches.push(b);
                    }
                    None => break,
                }
            }
            let now = now_nanos();
            let mut pipe = redis::pipe();
            // Each command's own result: one refused entry must not hide
            // that the others were written.
            pipe.ignore_errors();
            let mut bytes = 0;
            for batch in &batches {
                for event in batch.events() {
                    let key = key_template.render(event, now);
                    let mut cmd = redis::cmd("XADD");
                    cmd.arg(&key);
                    if let Some(n) = max_len {
                        cmd.arg("MAXLEN").arg("~").arg(n);
                    }
                    cmd.arg("*");
                    bytes += fields.add(&mut cmd, event, &encoder);
                    pipe.add_command(cmd);
                }
            }
            let mut backoff = Duration::from_millis(100);
            let status = loop {
                match send(&client, timeout, &mut connection, &pipe).await {
                    Ok(()) => {
                        cx.metrics.add_sent(events, bytes);
                        cx.metrics.set_problem(None);
                        break BatchStatus::Delivered;
                    }
                    Err(Failure::Refused(refused, reason)) => {
                        cx.metrics.add_error();
                        cx.metrics.add_sent(events - refused, bytes);
                        cx.metrics.add_discarded(refused, false);
                        if log_limit.allow() {
                            warn!(message = "Redis refused entries; not retrying them.", %reason, refused, events);
                        }
                        break BatchStatus::Rejected;
                    }
                    Err(Failure::Transient(reason)) => {
                        connection = None;
                        cx.metrics.add_error();
                        cx.metrics
                            .set_problem(Some(format!("Redis unreachable, retrying: {reason}")));
                        if log_limit.allow() {
                            warn!(message = "Writing to Redis failed; retrying.", %reason);
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = cx.shutdown.wait() => break BatchStatus::Errored,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            };
            for batch in batches {
                batch.finalizers.finish(status);
            }
        }
        Ok(())
    }
}

/// How an event becomes an entry's field/value pairs.
struct FieldWriter {
    encoding: RedisEncoding,
    json_field: String,
}

impl FieldWriter {
    /// Adds the entry's field/value pairs; returns their size in bytes.
    fn add(&self, cmd: &mut redis::Cmd, event: &Event, encoder: &Encoder) -> usize {
        let mut json = Vec::with_capacity(256);
        encoder.encode(event, &mut json);
        if json.last() == Some(&b'\n') {
            json.pop();
        }
        if self.encoding == RedisEncoding::Json {
            cmd.arg(&self.json_field).arg(&json);
            return json.len();
        }
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&json).unwrap_or_default();
        if object.is_empty() {
            // XADD needs at least one pair.
            cmd.arg(&self.json_field).arg(&json);
            return json.len();
        }
        let mut size = 0;
        for (k, v) in object {
            let value = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            size += k.len() + value.len();
            cmd.arg(k).arg(value);
        }
        size
    }
}

/// Sends a pipeline, connecting first if needed.
async fn send(
    client: &redis::Client,
    timeout: Duration,
    connection: &mut Option<MultiplexedConnection>,
    pipe: &redis::Pipeline,
) -> Result<(), Failure> {
    let attempt = async {
        if connection.is_none() {
            *connection = Some(
                client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| Failure::Transient(e.to_string()))?,
            );
        }
        let Some(conn) = connection.as_mut() else {
            return Err(Failure::Transient("no connection".into()));
        };
        let replies: Vec<redis::RedisResult<redis::Value>> = pipe
            .query_async(conn)
            .await
            .map_err(|e| Failure::Transient(e.to_string()))?;
        let mut refused = replies.iter().filter_map(|r| r.as_ref().err());
        match refused.next() {
            None => Ok(()),
            Some(first) => Err(Failure::Refused(1 + refused.count(), first.to_string())),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Transient("no reply in time".into())),
    }
}
