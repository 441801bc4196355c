//! Fuzzes the OTLP logs decoder: arbitrary bytes must decode or fail
//! cleanly (no panic, no stack overflow on deep nesting), and whatever
//! decodes must survive re-encoding: encoding is a fixed point after one
//! decode. Bytes are compared rather than records, because a NaN float is
//! not equal to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_otlp::{decode_logs, encode_logs};

fuzz_target!(|data: &[u8]| {
    let records = match decode_logs(data) {
        Ok(records) => records,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let once = encode_logs(&records);
    let again = decode_logs(&once).expect("encoded records decode");
    assert_eq!(again.len(), records.len());
    assert_eq!(encode_logs(&again), once);
});
