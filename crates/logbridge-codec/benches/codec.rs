//! Criterion benchmarks of the codecs on realistic lines: parsing (json,
//! logfmt, syslog 5424 and 3164), encoding parsed logs (json, logfmt), and
//! framing of a 4 MiB buffer: lines, and octet-counted syslog messages
//! (with the strict and the auto-detecting framer). Throughput is per line (element), so
//! criterion reports lines per second; divide to get ns per line.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use logbridge_codec::{
    Codec, Encoder, Frame, LineFramer, OctetCountingFramer, Parser, ParserConfig, SyslogFrame,
    SyslogFramer,
};
use logbridge_event::{Event, LogRecord, Value};

/// ~200-byte JSON access logs, a few shapes so the branch predictor does
/// not learn one line.
const JSON_LINES: &[&str] = &[
    r#"{"timestamp":"2024-05-01T12:00:00.123Z","level":"info","service":"checkout","method":"GET","path":"/api/v1/cart/8812","status":200,"duration_ms":12.5,"user_agent":"Mozilla/5.0 (X11; Linux x86_64)","message":"request completed"}"#,
    r#"{"timestamp":"2024-05-01T12:00:00.456Z","level":"warn","service":"payments","method":"POST","path":"/api/v1/charge","status":429,"duration_ms":3.25,"user_agent":"okhttp/4.12.0","message":"rate limited, retry after 2s"}"#,
    r#"{"timestamp":"2024-05-01T12:00:01.001Z","level":"error","service":"search","method":"GET","path":"/api/v2/search?q=red+shoes","status":503,"duration_ms":1500,"user_agent":"curl/8.5.0","message":"upstream \"es-3\" timed out"}"#,
    r#"{"timestamp":"2024-05-01T12:00:01.250Z","level":"debug","service":"auth","method":"PUT","path":"/api/v1/session/refresh","status":204,"duration_ms":0.8,"user_agent":"Go-http-client/2.0","message":"token refreshed"}"#,
];

const LOGFMT_LINES: &[&str] = &[
    r#"ts=2024-05-01T12:00:00.123Z level=info service=checkout method=GET path=/api/v1/cart/8812 status=200 duration_ms=12.5 user_agent="Mozilla/5.0 (X11; Linux x86_64)" msg="request completed""#,
    r#"ts=2024-05-01T12:00:00.456Z level=warn service=payments method=POST path=/api/v1/charge status=429 duration_ms=3.25 user_agent=okhttp/4.12.0 msg="rate limited, retry after 2s""#,
    r#"ts=2024-05-01T12:00:01.001Z level=error service=search method=GET path=/api/v2/search status=503 duration_ms=1500 user_agent=curl/8.5.0 msg="upstream \"es-3\" timed out""#,
];

const SYSLOG_5424: &[&str] = &[
    r#"<165>1 2024-05-01T12:00:00.003Z web-01.example.com checkout 4123 ID47 [meta@32473 region="eu-west-1" zone="b"] request completed in 12ms"#,
    "<134>1 2024-05-01T12:00:01.500+02:00 db-2 postgres 998 - - connection received: host=10.0.0.7 port=51234",
];

const SYSLOG_3164: &[&str] = &[
    "<34>May  1 12:00:00 web-01 sshd[4321]: Accepted publickey for deploy from 10.0.0.9 port 52514 ssh2",
    "<13>May  1 12:00:01 web-02 CRON[777]: (root) CMD (run-parts /etc/cron.hourly)",
];

/// 2024-05-01T12:00:00Z, for year-less syslog timestamps.
const NOW: i64 = 1_714_564_800_000_000_000;

fn lines(texts: &[&str]) -> Vec<Bytes> {
    texts
        .iter()
        .map(|t| Bytes::copy_from_slice(t.as_bytes()))
        .collect()
}

fn bench_parser(c: &mut Criterion, name: &str, config: ParserConfig, texts: &[&str]) {
    let parser = Parser::new(&config).unwrap();
    let inputs = lines(texts);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            for line in &inputs {
                black_box(parser.parse_bytes(line, NOW).unwrap());
            }
        })
    });
    if name == "json" {
        group.bench_function("json_copying", |b| {
            b.iter(|| {
                for line in &inputs {
                    black_box(parser.parse(line).unwrap());
                }
            })
        });
    }
    group.finish();
}

fn parsing(c: &mut Criterion) {
    bench_parser(c, "json", ParserConfig::Json, JSON_LINES);
    bench_parser(c, "logfmt", ParserConfig::Logfmt, LOGFMT_LINES);
    bench_parser(c, "syslog_5424", ParserConfig::Syslog, SYSLOG_5424);
    bench_parser(c, "syslog_3164", ParserConfig::Syslog, SYSLOG_3164);
}

/// Parsed JSON lines as logs: fields as attributes, `message` as the body.
fn parsed_logs() -> Vec<Event> {
    let parser = Parser::new(&ParserConfig::Json).unwrap();
    lines(JSON_LINES)
        .iter()
        .map(|line| {
            let mut attributes = parser.parse_bytes(line, NOW).unwrap();
            let body = attributes.remove("message").unwrap_or(Value::Null);
            Event::Log(LogRecord {
                time_unix_nano: NOW,
                body,
                attributes,
                ..LogRecord::default()
            })
        })
        .collect()
}

fn encoding(c: &mut Criterion) {
    let events = parsed_logs();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(events.len() as u64));
    for codec in [Codec::Json, Codec::Logfmt] {
        let encoder = Encoder::new(codec);
        let mut out = Vec::with_capacity(64 * 1024);
        group.bench_function(codec.as_str(), |b| {
            b.iter(|| {
                out.clear();
                for event in &events {
                    encoder.encode(event, &mut out);
                }
                black_box(out.len())
            })
        });
    }
    group.finish();
}

fn framing(c: &mut Criterion) {
    let mut input = Vec::with_capacity(4 << 20);
    let mut count = 0u64;
    'fill: loop {
        for line in JSON_LINES {
            if input.len() + line.len() + 1 > 4 << 20 {
                break 'fill;
            }
            input.extend_from_slice(line.as_bytes());
            input.push(b'\n');
            count += 1;
        }
    }
    let mut group = c.benchmark_group("framing");
    group.throughput(Throughput::Elements(count));
    group.bench_function("lines_4mib", |b| {
        b.iter_batched(
            || BytesMut::from(&input[..]),
            |mut buf| {
                let mut framer = LineFramer::new(64 * 1024);
                let mut n = 0usize;
                framer.decode(&mut buf, |frame| {
                    if let Frame::Line { line, .. } = frame {
                        n += line.len();
                    }
                });
                black_box(n)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// 4 MiB of RFC 6587 octet-counted syslog messages (`MSG-LEN SP MSG`), as
/// syslog senders write them over TCP.
fn octet_counting(c: &mut Criterion) {
    let mut input = Vec::with_capacity(4 << 20);
    let mut count = 0u64;
    'fill: loop {
        for message in SYSLOG_5424.iter().chain(SYSLOG_3164) {
            let header = format!("{} ", message.len());
            if input.len() + header.len() + message.len() > 4 << 20 {
                break 'fill;
            }
            input.extend_from_slice(header.as_bytes());
            input.extend_from_slice(message.as_bytes());
            count += 1;
        }
    }
    let mut group = c.benchmark_group("framing");
    group.throughput(Throughput::Elements(count));
    group.bench_function("octet_counted_4mib", |b| {
        b.iter_batched(
            || BytesMut::from(&input[..]),
            |mut buf| {
                let mut framer = OctetCountingFramer::new(64 * 1024);
                let mut n = 0usize;
                framer.decode(&mut buf, |frame| {
                    if let SyslogFrame::Message { message, .. } = frame {
                        n += message.len();
                    }
                });
                black_box(n)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("syslog_auto_4mib", |b| {
        b.iter_batched(
            || BytesMut::from(&input[..]),
            |mut buf| {
                let mut framer = SyslogFramer::new(64 * 1024);
                let mut n = 0usize;
                framer.decode(&mut buf, |frame| {
                    if let SyslogFrame::Message { message, .. } = frame {
                        n += message.len();
                    }
                });
                black_box(n)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = parsing, encoding, framing, octet_counting
}
criterion_main!(benches);
