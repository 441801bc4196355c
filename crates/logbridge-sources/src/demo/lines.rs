//! The generated lines: one random, plausible HTTP request per line, in
//! the chosen format, or a line picked from the user's list (`shuffle`).
//! Pure: the caller passes the random generator and the time, so it never
//! reads the clock and its output is reproducible with a seed.

use std::fmt::Write;

use bytes::Bytes;
use rand::Rng;
use rand::rngs::SmallRng;

use super::DemoFormat;

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
/// Apache error log modules and what they complain about.
const APACHE_ERRORS: [(&str, &str); 4] = [
    ("core", "AH00126: Invalid URI in request"),
    (
        "authz_core",
        "AH01630: client denied by server configuration",
    ),
    ("proxy", "AH00898: Error reading from remote server"),
    ("ssl", "AH02032: Hostname provided via SNI not found"),
];

/// Builds lines; keeps a reusable buffer so a line costs one allocation.
pub(super) struct LineGenerator {
    format: DemoFormat,
    /// The lines `shuffle` picks from.
    lines: Vec<Bytes>,
    /// Whether `shuffle` prefixes each line with its number.
    sequence: bool,
    /// How many lines were made so far.
    made: u64,
    buf: String,
}

impl LineGenerator {
    pub(super) fn new(format: DemoFormat, lines: &[String], sequence: bool) -> LineGenerator {
        LineGenerator {
            format,
            lines: lines
                .iter()
                .map(|l| Bytes::copy_from_slice(l.as_bytes()))
                .collect(),
            sequence,
            made: 0,
            buf: String::with_capacity(512),
        }
    }

    /// The next line, stamped with `now_nanos` where the format has a time.
    pub(super) fn line(&mut self, rng: &mut SmallRng, now_nanos: i64) -> Bytes {
        let n = self.made;
        self.made += 1;
        if self.format == DemoFormat::Shuffle {
            return self.shuffled(rng, n);
        }
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
            DemoFormat::ApacheError => {
                let (module, complaint) = APACHE_ERRORS[rng.random_range(0..APACHE_ERRORS.len())];
                write!(
                    b,
                    "[{}] [{module}:{level}] [pid {}:tid {}] [client {}.{}.{}.{}:{}] {complaint}: {path}",
                    ts.format("%a %b %d %H:%M:%S%.6f %Y"),
                    1000 + ip[2] as u32,
                    rng.random_range(10_000..60_000u32),
                    ip[0],
                    ip[1],
                    ip[2],
                    ip[3],
                    rng.random_range(1024..65_535u32)
                )
            }
            DemoFormat::Shuffle => Ok(()),
        };
        Bytes::copy_from_slice(b.as_bytes())
    }

    /// A line of the user's list, at random; with `sequence`, prefixed by
    /// its number (`0 first line`), counted from 0 as Vector does.
    fn shuffled(&mut self, rng: &mut SmallRng, n: u64) -> Bytes {
        let Some(line) =
            (!self.lines.is_empty()).then(|| &self.lines[rng.random_range(0..self.lines.len())])
        else {
            // Refused at build; an empty line rather than a panic.
            return Bytes::new();
        };
        if !self.sequence {
            return line.clone();
        }
        self.buf.clear();
        let _ = write!(self.buf, "{n} {}", String::from_utf8_lossy(line));
        Bytes::copy_from_slice(self.buf.as_bytes())
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
    use rand::SeedableRng;

    #[test]
    fn every_format_produces_plausible_lines() {
        let mut rng = SmallRng::seed_from_u64(7);
        for format in [
            DemoFormat::Json,
            DemoFormat::Logfmt,
            DemoFormat::Syslog,
            DemoFormat::BsdSyslog,
            DemoFormat::ApacheCommon,
            DemoFormat::ApacheError,
        ] {
            let mut g = LineGenerator::new(format, &[], false);
            for _ in 0..50 {
                let line = g.line(&mut rng, 1_700_000_000_000_000_000);
                assert!(!line.contains(&b'\n'));
                assert!(!line.is_empty(), "{format:?}");
                if format == DemoFormat::Json {
                    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    assert!(v["status"].is_u64());
                }
                if format == DemoFormat::Syslog || format == DemoFormat::BsdSyslog {
                    assert_eq!(line[0], b'<');
                }
                if format == DemoFormat::ApacheError {
                    assert!(line.starts_with(b"[Tue Nov 14 22:13:20.000000 2023] ["));
                }
            }
        }
    }

    #[test]
    fn shuffle_picks_from_the_lines_and_numbers_them_from_zero() {
        let mut rng = SmallRng::seed_from_u64(1);
        let lines = ["one".to_owned(), "two".to_owned()];
        let mut plain = LineGenerator::new(DemoFormat::Shuffle, &lines, false);
        for _ in 0..20 {
            let l = plain.line(&mut rng, 0);
            assert!(l == "one" || l == "two", "{l:?}");
        }
        let mut numbered = LineGenerator::new(DemoFormat::Shuffle, &lines, true);
        for n in 0..20 {
            let l = String::from_utf8(numbered.line(&mut rng, 0).to_vec()).unwrap();
            let (number, rest) = l.split_once(' ').unwrap();
            assert_eq!(number, n.to_string());
            assert!(rest == "one" || rest == "two", "{l}");
        }
    }
}
