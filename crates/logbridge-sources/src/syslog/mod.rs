//! The `syslog` source: RFC 5424 and RFC 3164 messages over UDP (one per
//! datagram) or TCP (newline or octet-counted framing, detected per
//! connection; optionally TLS, as RFC 5425 syslog over TLS).
//!
//! Each message becomes a log: the message text is the body; its
//! timestamp the log's time; its severity the OpenTelemetry severity
//! (number and text); hostname, appname, procid, msgid, facility,
//! severity and structured data are attributes, as the `parse` transform's
//! `syslog` parser names them; the sender's address is `%syslog.peer`. A
//! message that is not syslog goes to `dropped` with the reason.
//!
//! Syslog has no acknowledgements, so this source cannot make a sender
//! retry: over TCP a slow pipeline slows the sender down (the socket is
//! not read); over UDP datagrams the kernel cannot queue are lost, as with
//! any UDP receiver. Those losses are counted
//! (`logbridge_syslog_kernel_dropped_datagrams_total`, from the kernel's
//! own counter, and as discarded events) and logged; `receive_buffer_bytes`
//! makes them rarer.

mod udp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use logbridge_codec::{Parser, ParserConfig, SyslogFrame, SyslogFramer};
use logbridge_component::dropped::{log_outputs_with_dropped, mark_dropped};
use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::telemetry::GaugeDef;
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, DROPPED_OUTPUT, OutputDef, ShutdownSignal, Source,
    SourceConfig, SourceContext, SourceOutputs,
};
use logbridge_event::{Event, EventBatch, KeyString, LogRecord, ObjectMap, Value};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};
use tracing::{debug, info, warn};

use logbridge_component::now_nanos;
use logbridge_net::tls::TlsServerConfig;

/// Receives syslog messages.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyslogSourceConfig {
    /// `udp` or `tcp`.
    pub mode: SyslogMode,
    /// Listen here, such as `127.0.0.1:5514`.
    pub address: SocketAddr,
    /// Longest message accepted; longer ones go to `dropped` (over UDP
    /// with the first `max_length` bytes of the datagram).
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// For `udp`: the socket's receive buffer (`SO_RCVBUF`), which holds
    /// datagrams during bursts; the kernel drops what does not fit, and
    /// caps the size at `net.core.rmem_max`. The system default when
    /// absent.
    #[serde(default)]
    pub receive_buffer_bytes: Option<usize>,
    /// TLS for `tcp` (RFC 5425); plain text when absent.
    #[serde(default)]
    pub tls: Option<TlsServerConfig>,
    /// TCP connections served at once; more wait to be accepted.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A TCP connection that sends nothing for this many seconds is closed
    /// (senders reconnect when they next have a message), so idle or dead
    /// peers cannot hold connections (and file descriptors) for ever. With
    /// TLS, the handshake must also finish within this time, at most 10
    /// seconds.
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyslogMode {
    Udp,
    Tcp,
}

fn default_max_length() -> usize {
    102_400
}
fn default_max_connections() -> usize {
    1024
}
fn default_idle_timeout_secs() -> f64 {
    300.0
}

/// The longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl SourceConfig for SyslogSourceConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if self.max_length == 0 || self.max_length > 16 << 20 {
            return Err(BuildError::new(
                "max_length",
                "max_length must be between 1 and 16 MiB",
            ));
        }
        if !(self.idle_timeout_secs > 0.0 && self.idle_timeout_secs < 86_400.0) {
            return Err(BuildError::new(
                "idle_timeout_secs",
                "idle_timeout_secs must be above 0 and under a day",
            ));
        }
        if self.max_connections == 0 {
            return Err(BuildError::new(
                "max_connections",
                "max_connections must be above 0",
            ));
        }
        if self.receive_buffer_bytes.is_some() && self.mode != SyslogMode::Udp {
            return Err(BuildError::new(
                "receive_buffer_bytes",
                "receive_buffer_bytes applies to mode = \"udp\"",
            ));
        }
        if self.receive_buffer_bytes == Some(0) {
            return Err(BuildError::new(
                "receive_buffer_bytes",
                "receive_buffer_bytes must be above 0",
            ));
        }
        let tls = match (&self.tls, self.mode) {
            (Some(_), SyslogMode::Udp) => {
                return Err(BuildError::new("tls", "TLS needs mode = \"tcp\""));
            }
            (Some(t), SyslogMode::Tcp) => {
                Some(tokio_rustls::TlsAcceptor::from(t.server_config(&[])?))
            }
            (None, _) => None,
        };
        Ok(Box::new(SyslogSource {
            config: self.clone(),
            tls,
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        log_outputs_with_dropped()
    }
}

struct SyslogSource {
    config: SyslogSourceConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Messages per batch.
const BATCH: usize = 1024;

#[async_trait::async_trait]
impl Source for SyslogSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let decoder = Arc::new(Decoder {
            parser: Parser::new(&ParserConfig::Syslog)
                .map_err(|e| ComponentError::Other(e.to_string()))?,
            id: cx.id.clone(),
            metrics: cx.metrics.clone(),
            out: cx.out.clone(),
            log_limit: RateLimit::default(),
        });
        match self.config.mode {
            SyslogMode::Udp => udp(&self.config, decoder, &cx.shutdown).await,
            SyslogMode::Tcp => tcp(&self.config, self.tls, decoder, &cx.shutdown).await,
        }
    }
}

static KERNEL_DROPS: GaugeDef = GaugeDef {
    name: "logbridge_syslog_kernel_dropped_datagrams_total",
    help: "UDP datagrams the kernel dropped because the socket's receive buffer was full (SO_RXQ_OVFL).",
    counter: true,
};

async fn udp(
    config: &SyslogSourceConfig,
    decoder: Arc<Decoder>,
    shutdown: &ShutdownSignal,
) -> Result<(), ComponentError> {
    let socket = udp::bind(config.address, config.receive_buffer_bytes).await?;
    info!(message = "Listening for syslog over UDP.", address = %socket.local_addr()?);
    let drops = KernelDrops::start(&socket, &decoder);
    // The counter is polled also while the source waits on a full
    // pipeline, which is when drops happen.
    let watching = async {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Some(drops) = &drops {
                drops.poll(&socket, &decoder);
            }
        }
    };
    let result = tokio::select! {
        r = receive_datagrams(&socket, config.max_length, &decoder, shutdown) => r,
        never = watching => never,
    };
    if let Some(drops) = &drops {
        drops.poll(&socket, &decoder);
    }
    result
}

async fn receive_datagrams(
    socket: &UdpSocket,
    max: usize,
    decoder: &Decoder,
    shutdown: &ShutdownSignal,
) -> Result<(), ComponentError> {
    // One byte more than accepted, to tell a datagram of exactly `max`
    // bytes from a longer one the socket cut.
    let mut buf = vec![0u8; max + 1];
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => r?,
            _ = shutdown.wait() => return Ok(()),
        };
        let mut batch = decoder.start();
        decoder.push_datagram(&mut batch, &buf[..n], peer, max);
        // Take whatever else is already queued, without waiting, so a
        // burst becomes one batch.
        while batch.len() < BATCH {
            match socket.try_recv_from(&mut buf) {
                Ok((n, peer)) => decoder.push_datagram(&mut batch, &buf[..n], peer, max),
                Err(_) => break,
            }
        }
        if !decoder.send(batch).await {
            return Ok(());
        }
    }
}

/// The kernel's drop counter of the socket: where it stood when the
/// source started, and as last counted.
struct KernelDrops {
    start: u64,
    seen: AtomicU64,
}

impl KernelDrops {
    fn start(socket: &UdpSocket, decoder: &Decoder) -> Option<KernelDrops> {
        let Some(start) = udp::kernel_drops(socket) else {
            warn!(
                message = "The kernel does not report UDP drops here; datagrams it drops are not counted."
            );
            return None;
        };
        decoder.metrics.set_gauge(&KERNEL_DROPS, &[], 0);
        Some(KernelDrops {
            start,
            seen: start.into(),
        })
    }

    fn poll(&self, socket: &UdpSocket, decoder: &Decoder) {
        let seen = self.seen.load(Ordering::Relaxed);
        if let Some(now) = udp::kernel_drops(socket).filter(|&now| now > seen) {
            self.seen.store(now, Ordering::Relaxed);
            decoder.kernel_dropped(now - seen, now - self.start);
        }
    }
}

async fn tcp(
    config: &SyslogSourceConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
    decoder: Arc<Decoder>,
    shutdown: &ShutdownSignal,
) -> Result<(), ComponentError> {
    let listener = TcpListener::bind(config.address).await?;
    info!(message = "Listening for syslog over TCP.", address = %listener.local_addr()?, tls = tls.is_some());
    let permits = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.map_err(|e| ComponentError::Other(e.to_string()))?,
            _ = shutdown.wait() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(a) => a,
                Err(error) => {
                    warn!(message = "Accepting a connection failed.", %error);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        // Finished connections are reaped as new ones arrive.
        while connections.try_join_next().is_some() {}
        let decoder = decoder.clone();
        let shutdown = shutdown.clone();
        let tls = tls.clone();
        let limits = StreamLimits {
            max_length: config.max_length,
            idle: Duration::from_secs_f64(config.idle_timeout_secs),
        };
        connections.spawn(async move {
            let _permit = permit;
            let handshake = limits.idle.min(HANDSHAKE_TIMEOUT);
            let result = match tls {
                None => read_stream(stream, peer, limits, &decoder, &shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => read_stream(s, peer, limits, &decoder, &shutdown).await,
                        Ok(Err(error)) => Err(error),
                        Err(_) => Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "TLS handshake timed out",
                        )),
                    }
                }
            };
            if let Err(error) = result {
                warn!(message = "Syslog connection ended with an error.", %peer, %error);
            }
        });
    }
    // Connections stop reading at shutdown and send what they framed.
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// What one TCP connection may do.
#[derive(Clone, Copy)]
struct StreamLimits {
    max_length: usize,
    /// The longest pause between two reads.
    idle: Duration,
}

async fn read_stream(
    mut stream: impl AsyncRead + Unpin,
    peer: SocketAddr,
    limits: StreamLimits,
    decoder: &Decoder,
    shutdown: &ShutdownSignal,
) -> std::io::Result<()> {
    let mut framer = SyslogFramer::new(limits.max_length);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        buf.reserve(64 * 1024);
        // A connection idle past the limit ends as if closed: what it
        // framed is sent, a message cut short goes to `dropped`.
        let n = tokio::select! {
            r = tokio::time::timeout(limits.idle, stream.read_buf(&mut buf)) => match r {
                Ok(read) => read?,
                Err(_) => {
                    debug!(message = "Closing an idle syslog connection.", %peer);
                    0
                }
            },
            _ = shutdown.wait() => 0,
        };
        let mut batch = decoder.start();
        let mut frames = Vec::new();
        if n == 0 {
            frames.extend(framer.finish(&mut buf));
        } else {
            framer.decode(&mut buf, |f| frames.push(f));
        }
        for frame in frames {
            match frame {
                // Some senders end counted messages with a newline too.
                SyslogFrame::Message { message, .. } if message.trim_ascii().is_empty() => {}
                SyslogFrame::Message { message, .. } => decoder.push(&mut batch, message, peer),
                SyslogFrame::Overlong { bytes, .. } => decoder.reject(
                    &mut batch,
                    Bytes::new(),
                    peer,
                    "overlong",
                    &format!("message of {bytes} bytes over max_length"),
                ),
                SyslogFrame::Truncated { bytes, .. } => decoder.reject(
                    &mut batch,
                    Bytes::new(),
                    peer,
                    "truncated",
                    &format!("connection closed inside a message of {bytes} bytes"),
                ),
                // Stray empty lines between counted messages are noise,
                // not data.
                SyslogFrame::Malformed { bytes: 0, .. } => {}
                SyslogFrame::Malformed { bytes, .. } => decoder.reject(
                    &mut batch,
                    Bytes::new(),
                    peer,
                    "malformed_frame",
                    &format!("{bytes} bytes that are not an octet-counted frame"),
                ),
            }
        }
        if !decoder.send(batch).await || n == 0 {
            return Ok(());
        }
    }
}

/// Turns messages into logs and sends them on.
struct Decoder {
    parser: Parser,
    id: String,
    metrics: Arc<ComponentMetrics>,
    out: SourceOutputs,
    log_limit: RateLimit,
}

/// Logs of one read, and the messages that could not be read.
struct Pending {
    good: Vec<Event>,
    dropped: Vec<Event>,
    bytes: usize,
    now: i64,
}

impl Pending {
    fn len(&self) -> usize {
        self.good.len() + self.dropped.len()
    }
}

impl Decoder {
    fn start(&self) -> Pending {
        Pending {
            good: Vec::new(),
            dropped: Vec::new(),
            bytes: 0,
            now: now_nanos(),
        }
    }

    fn push(&self, batch: &mut Pending, message: Bytes, peer: SocketAddr) {
        batch.bytes += message.len();
        match self.parser.parse_bytes(&message, batch.now) {
            Ok(fields) => batch.good.push(Event::Log(to_log(fields, batch.now, peer))),
            Err(error) => {
                let reason = error.to_string();
                self.reject(batch, message, peer, "parse_failed", &reason);
            }
        }
    }

    /// One datagram; one longer than `max` (the socket read one byte
    /// more) goes to `dropped` with its first `max` bytes.
    fn push_datagram(&self, batch: &mut Pending, datagram: &[u8], peer: SocketAddr, max: usize) {
        if datagram.len() > max {
            let kept = Bytes::copy_from_slice(&datagram[..max]);
            let detail = format!("datagram over max_length ({max} bytes)");
            self.reject(batch, kept, peer, "overlong", &detail);
        } else {
            self.push(batch, Bytes::copy_from_slice(datagram), peer);
        }
    }

    /// Counts datagrams the kernel dropped: they are lost events.
    fn kernel_dropped(&self, new: u64, total: u64) {
        self.metrics
            .set_gauge(&KERNEL_DROPS, &[], i64::try_from(total).unwrap_or(i64::MAX));
        self.metrics
            .add_discarded(usize::try_from(new).unwrap_or(usize::MAX), false);
        if self.log_limit.allow() {
            warn!(
                message = "The kernel dropped syslog datagrams: the UDP receive buffer was full. Raise receive_buffer_bytes, or send over TCP.",
                dropped = new,
                total,
            );
        }
    }

    fn reject(
        &self,
        batch: &mut Pending,
        raw: Bytes,
        peer: SocketAddr,
        reason: &str,
        message: &str,
    ) {
        let mut log = LogRecord::from_line(raw, batch.now);
        log.metadata = peer_metadata(peer);
        let mut event = Event::Log(log);
        mark_dropped(&mut event, reason, message, &self.id);
        batch.dropped.push(event);
        if self.log_limit.allow() {
            warn!(message = "Dropped a syslog message.", %reason, detail = %message, %peer);
        }
    }

    /// Sends both parts; false once nothing consumes the default output.
    async fn send(&self, batch: Pending) -> bool {
        if !batch.dropped.is_empty() {
            self.metrics.add_discarded(batch.dropped.len(), false);
            self.metrics.add_error();
            let dropped = EventBatch::new(batch.dropped);
            let _ = self.out.send_named(DROPPED_OUTPUT, dropped).await;
        }
        if batch.good.is_empty() {
            return true;
        }
        let good = EventBatch::with_size(batch.good, batch.bytes);
        self.metrics.add_received(good.len(), good.byte_size());
        self.out.send(good).await.is_ok()
    }
}

fn peer_metadata(peer: SocketAddr) -> ObjectMap {
    let mut syslog = ObjectMap::new();
    syslog.insert(
        KeyString::const_new("peer"),
        Value::from(peer.to_string().as_str()),
    );
    let mut metadata = ObjectMap::new();
    metadata.insert(KeyString::const_new("syslog"), Value::Object(syslog));
    metadata
}

/// A parsed message as a log, with OpenTelemetry's time and severity.
fn to_log(mut fields: ObjectMap, now: i64, peer: SocketAddr) -> LogRecord {
    let time = match fields.get("timestamp") {
        Some(Value::Timestamp(t)) => *t,
        _ => 0,
    };
    if time != 0 {
        fields.remove("timestamp");
    }
    let severity = fields
        .get("severity")
        .map(|s| s.to_string_lossy().into_owned());
    let mut log = LogRecord::from_fields(fields, now);
    log.time_unix_nano = time;
    if let Some(severity) = severity {
        // RFC 5424 severities on OpenTelemetry's scale.
        log.severity_number = match severity.as_str() {
            "emerg" | "alert" | "crit" => 21,
            "err" => 17,
            "warning" => 13,
            "notice" => 10,
            "info" => 9,
            "debug" => 5,
            _ => 0,
        };
        log.severity_text = Some(KeyString::from(severity.as_str()));
    }
    log.metadata = peer_metadata(peer);
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_time_and_attributes() {
        let parser = Parser::new(&ParserConfig::Syslog).unwrap();
        let line = b"<165>1 2024-05-01T12:00:00.003Z web-01 checkout 4123 ID47 [meta@32473 zone=\"b\"] request done";
        let fields = parser.parse_at(line, 0).unwrap();
        let log = to_log(fields, 7, "127.0.0.1:9".parse().unwrap());
        assert_eq!(log.body.to_string_lossy(), "request done");
        assert_eq!(log.time_unix_nano, 1_714_564_800_003_000_000);
        assert_eq!(log.severity_number, 10);
        assert_eq!(log.severity_text.as_deref(), Some("notice"));
        assert_eq!(
            log.attributes.get("hostname").unwrap().to_string_lossy(),
            "web-01"
        );
        assert_eq!(
            log.attributes.get("facility").unwrap().to_string_lossy(),
            "local4"
        );
        assert!(log.attributes.get("timestamp").is_none());
        assert!(log.attributes.get("meta@32473").is_some());
        assert_eq!(log.observed_time_unix_nano, 7);
    }
}
