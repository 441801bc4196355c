//! The `demo` source: realistic log lines (JSON, logfmt, syslog, Apache
//! common log) at a fixed rate or as fast as possible, optionally a fixed
//! number of them. Used by the quickstart and the benchmarks.

use std::fmt::Write;
use std::time::Duration;

use bytes::Bytes;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, OutputDef, Source, SourceConfig, SourceContext,
};
use logbridge_event::DataKind;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use crate::util::LineBatcher;
use logbridge_component::now_nanos;

/// The shape of the generated lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DemoFormat {
    /// One JSON object per line: timestamp, level, service, method, path,
    /// status, duration_ms, bytes, client_ip, user_agent, message.
    Json,
    /// The same fields as `key=value` pairs.
    Logfmt,
    /// RFC 5424 syslog.
    Syslog,
    /// RFC 3164 (BSD) syslog.
    BsdSyslog,
    /// The Apache common log format.
    ApacheCommon,
}

/// Generates log lines.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Format of the generated lines.
    #[serde(default = "default_format")]
    pub format: DemoFormat,
    /// Seconds between two lines; 0 generates as fast as the pipeline takes
    /// them.
    #[serde(default = "default_interval")]
    pub interval_secs: f64,
    /// Stop after this many lines (the pipeline then drains and exits once
    /// every source is done). Unlimited when absent.
    #[serde(default)]
    pub count: Option<u64>,
    /// Seed of the random generator, for reproducible output.
    #[serde(default)]
    pub seed: Option<u64>,
}

fn default_format() -> DemoFormat {
    DemoFormat::Json
}

fn default_interval() -> f64 {
    1.0
}

impl SourceConfig for DemoConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if !(self.interval_secs >= 0.0 && self.interval_secs.is_finite()) {
            return Err(
                BuildError::new("interval_secs", "interval_secs must be 0 or more")
                    .with_hint("use 0 to generate as fast as possible"),
            );
        }
        Ok(Box::new(DemoSource {
            config: self.clone(),
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::LOG)]
    }
}

struct DemoSource {
    config: DemoConfig,
}

const BATCH_EVENTS: usize = 1024;

#[async_trait::async_trait]
impl Source for DemoSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let mut rng = match self.config.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        let mut generator = LineGenerator::new(self.config.format);
        let limit = self.config.count.unwrap_or(u64::MAX);
        let interval = Duration::from_secs_f64(self.config.interval_secs);
        let mut ticker = (!interval.is_zero()).then(|| tokio::time::interval(interval));
        let mut produced = 0u64;
        while produced < limit && !cx.shutdown.is_triggered() {
            let now = now_nanos();
            let in_batch = if ticker.is_some() {
                1
            } else {
                BATCH_EVENTS as u64
            }
            .min(limit - produced);
            if let Some(t) = ticker.as_mut() {
                tokio::select! {
                    _ = t.tick() => {}
                    _ = cx.shutdown.wait() => break,
                }
            }
            let mut batcher = LineBatcher::new(in_batch as usize);
            for _ in 0..in_batch {
                batcher.push(generator.line(&mut rng, now), now);
            }
            produced += in_batch;
            let batch = batcher.take();
            cx.metrics.add_received(batch.len(), batch.byte_size());
            if cx.out.send(batch).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

const METHODS: [&str; 5] = ["GET", "GET", "GET", "POST", "PUT"];
const PATHS: [&str; 8] = [
    "/",
    "/api/v1/users",
    "/api/v1/orders",
    "/api/v1/orders/42",
    "/login",
    "/static/app.js",
    "/healthz",
    "/api/v1/search",
];
const SERVICES: [&str; 4] = ["api", "auth", "billing", "frontend"];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "curl/8.5.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Safari/605.1.15",
    "Go-http-client/1.1",
];
const LEVELS: [&str; 6] = ["debug", "info", "info", "info", "warn", "error"];
const STATUSES: [u16; 8] = [200, 200, 200, 201, 304, 404, 500, 503];

/// Builds lines; keeps a reusable buffer so a line costs one allocation.
struct LineGenerator {
    format: DemoFormat,
    buf: String,
}

impl LineGenerator {
    fn new(format: DemoFormat) -> LineGenerator {
        LineGenerator {
            format,
            buf: String::with_capacity(512),
        }
    }

    fn line(&mut self, rng: &mut SmallRng, now_nanos: i64) -> Bytes {
        let b = &mut self.buf;
        b.clear();
        let method = METHODS[rng.random_range(0..METHODS.len())];
        let path = PATHS[rng.random_range(0..PATHS.len())];
        let status = STATUSES[rng.random_range(0..STATUSES.len())];
        let level = if status >= 500 {
            "error"
        } else {
            LEVELS[rng.random_range(0..LEVELS.len())]
        };
        let service = SERVICES[rng.random_range(0..SERVICES.len())];
        let agent = AGENTS[rng.random_range(0..AGENTS.len())];
        let duration_ms = rng.random_range(1..2500) as f64 / 10.0;
        let bytes = rng.random_range(100..50_000);
        let ip = [
            10,
            rng.random_range(0..255u8),
            rng.random_range(0..255u8),
            rng.random_range(1..255u8),
        ];
        let ts = chrono::DateTime::from_timestamp_nanos(now_nanos);
        let rfc3339 = ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let _ = match self.format {
            DemoFormat::Json => write!(
                b,
                r#"{{"timestamp":"{rfc3339}","level":"{level}","service":"{service}","method":"{method}","path":"{path}","status":{status},"duration_ms":{duration_ms},"bytes":{bytes},"client_ip":"{}.{}.{}.{}","user_agent":"{agent}","message":"{method} {path} {status}"}}"#,
                ip[0], ip[1], ip[2], ip[3]
            ),
            DemoFormat::Logfmt => write!(
                b,
                r#"timestamp={rfc3339} level={level} service={service} method={method} path={path} status={status} duration_ms={duration_ms} bytes={bytes} client_ip={}.{}.{}.{} user_agent="{agent}" msg="{method} {path} {status}""#,
                ip[0], ip[1], ip[2], ip[3]
            ),
            DemoFormat::Syslog => write!(
                b,
                r#"<{}>1 {rfc3339} host-{} {service} {} - [request@32473 method="{method}" status="{status}"] {method} {path} {status} {duration_ms}ms"#,
                16 * 8 + syslog_severity(level),
                ip[3] % 8,
                1000 + ip[2] as u32
            ),
            DemoFormat::BsdSyslog => write!(
                b,
                "<{}>{} host-{} {service}[{}]: {method} {path} {status} {duration_ms}ms",
                16 * 8 + syslog_severity(level),
                ts.format("%b %e %H:%M:%S"),
                ip[3] % 8,
                1000 + ip[2] as u32
            ),
            DemoFormat::ApacheCommon => write!(
                b,
                "{}.{}.{}.{} - - [{}] \"{method} {path} HTTP/1.1\" {status} {bytes}",
                ip[0],
                ip[1],
                ip[2],
                ip[3],
                ts.format("%d/%b/%Y:%H:%M:%S %z")
            ),
        };
        Bytes::copy_from_slice(b.as_bytes())
    }
}

fn syslog_severity(level: &str) -> u8 {
    match level {
        "error" => 3,
        "warn" => 4,
        "info" => 6,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_produces_plausible_lines() {
        let mut rng = SmallRng::seed_from_u64(7);
        for format in [
            DemoFormat::Json,
            DemoFormat::Logfmt,
            DemoFormat::Syslog,
            DemoFormat::BsdSyslog,
            DemoFormat::ApacheCommon,
        ] {
            let mut g = LineGenerator::new(format);
            for _ in 0..50 {
                let line = g.line(&mut rng, 1_700_000_000_000_000_000);
                assert!(!line.contains(&b'\n'));
                if format == DemoFormat::Json {
                    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    assert!(v["status"].is_u64());
                }
                if format == DemoFormat::Syslog || format == DemoFormat::BsdSyslog {
                    assert_eq!(line[0], b'<');
                }
            }
        }
    }
}
