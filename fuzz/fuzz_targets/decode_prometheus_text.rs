//! Fuzzes the Prometheus text parsers (0.0.4 and OpenMetrics) and the
//! zero-copy sample iterator: arbitrary bytes must parse or fail cleanly,
//! and whatever parses must survive the writer: writing is a fixed point
//! after one parse (compared as bytes, since NaN is not equal to itself).

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_prometheus::encode_text;
use logbridge_prometheus::text::{Format, parse_slice, samples};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Prometheus, Format::OpenMetrics] {
        for entry in samples(data, format) {
            if let Err(error) = entry {
                let _ = error.to_string();
            }
        }
        let metrics = match parse_slice(data, format, 0) {
            Ok(metrics) => metrics,
            Err(error) => {
                let _ = error.to_string();
                continue;
            }
        };
        let once = encode_text(&metrics, format);
        let again = parse_slice(&once, format, 0).expect("written text parses");
        assert_eq!(encode_text(&again, format), once);
    }
});
