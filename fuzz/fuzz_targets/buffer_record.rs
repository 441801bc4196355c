//! Fuzzes the disk buffer's record decoder: arbitrary bytes must decode or
//! fail cleanly (no panic, no huge allocation), and whatever decodes must
//! survive re-encoding: encoding is a fixed point after one decode.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_buffer::record::{decode_events, encode_events};

fuzz_target!(|data: &[u8]| {
    let events = match decode_events(data) {
        Ok(events) => events,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let mut once = Vec::new();
    encode_events(&events, &mut once).expect("decoded events are within the depth limit");
    let again = decode_events(&once).expect("an encoded record decodes");
    let mut twice = Vec::new();
    encode_events(&again, &mut twice).expect("decoded events are within the depth limit");
    assert_eq!(once, twice);
});
