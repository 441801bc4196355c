//! Fuzzes the `logfmt` parser: arbitrary bytes must parse or fail cleanly,
//! the zero-copy path must agree with the copying one, and what parses must
//! encode to one logfmt line that parses again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_codec::bytes::Bytes;
use logbridge_codec::{Codec, Encoder, Parser, ParserConfig};
use logbridge_event::{Event, LogRecord};

fuzz_target!(|data: &[u8]| {
    let Ok(parser) = Parser::new(&ParserConfig::Logfmt) else {
        return;
    };
    let parsed = parser.parse(data);
    let shared = parser.parse_bytes(&Bytes::copy_from_slice(data), 0);
    assert_eq!(parsed, shared);
    match parsed {
        Ok(fields) => {
            assert!(!fields.is_empty());
            let log = LogRecord {
                attributes: fields.clone(),
                ..LogRecord::default()
            };
            let mut line = Vec::new();
            Encoder::new(Codec::Logfmt).encode(&Event::Log(log), &mut line);
            assert_eq!(line.pop(), Some(b'\n'));
            assert!(!line.contains(&b'\n'));
            let again = parser.parse(&line);
            assert!(
                again.is_ok(),
                "{}: {again:?}",
                String::from_utf8_lossy(&line)
            );
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
