//! Fuzzes the `syslog` parser: arbitrary bytes, at an arbitrary time (the
//! first eight bytes), must parse or fail cleanly; the zero-copy path must
//! agree with the copying one, and a fixed year must always win.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_codec::bytes::Bytes;
use logbridge_codec::{Parser, ParserConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(parser) = Parser::new(&ParserConfig::Syslog) else {
        return;
    };
    let (now, line) = match data.split_first_chunk::<8>() {
        Some((now, line)) => (i64::from_le_bytes(*now), line),
        None => (0, data),
    };
    let parsed = parser.parse_at(line, now);
    let shared = parser.parse_bytes(&Bytes::copy_from_slice(line), now);
    assert_eq!(parsed, shared);
    if let Ok(fields) = &parsed {
        assert!(fields.contains_key("message"));
    }
    let fixed = parser.clone().with_year(2020);
    assert_eq!(fixed.parse(line), fixed.parse_at(line, now));
    let _ = parser.parse(line).map_err(|e| e.to_string());
});
