//! Fuzzes the `json` parser: arbitrary bytes must parse or fail cleanly,
//! the zero-copy path must agree with the copying one and with the generic
//! entry point (`parse_json_object`, what VRL's `parse_json` runs on), and
//! whatever parses must survive the JSON encoder unchanged (encode, parse
//! again, compare).

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_codec::bytes::Bytes;
use logbridge_codec::decode::{EventValues, parse_json_object};
use logbridge_codec::{Codec, Encoder, Parser, ParserConfig};
use logbridge_event::{Event, LogRecord};

fuzz_target!(|data: &[u8]| {
    let Ok(parser) = Parser::new(&ParserConfig::Json) else {
        return;
    };
    let parsed = parser.parse(data);
    let shared = parser.parse_bytes(&Bytes::copy_from_slice(data), 0);
    assert_eq!(parsed, shared);
    let generic = parse_json_object::<EventValues>(&Bytes::copy_from_slice(data));
    assert_eq!(parsed, generic);
    let fields = match parsed {
        Ok(fields) => fields,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let log = LogRecord {
        attributes: fields.clone(),
        ..LogRecord::default()
    };
    let mut line = Vec::new();
    Encoder::new(Codec::Json).encode(&Event::Log(log), &mut line);
    assert_eq!(line.pop(), Some(b'\n'));
    let again = parser.parse(&line);
    assert_eq!(
        again.as_ref(),
        Ok(&fields),
        "{}",
        String::from_utf8_lossy(&line)
    );
});
