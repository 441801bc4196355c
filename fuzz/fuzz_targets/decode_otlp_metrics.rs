//! Fuzzes the OTLP metrics decoder: arbitrary bytes must decode or fail
//! cleanly, and whatever decodes must survive re-encoding: encoding is a
//! fixed point after one decode (the first encoding may merge metrics or
//! drop empty ones, which is why the fixed point is checked from there).
//! Bytes are compared rather than points, because NaN is not equal to
//! itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_otlp::{decode_metrics, encode_metrics};

fuzz_target!(|data: &[u8]| {
    let points = match decode_metrics(data) {
        Ok(points) => points,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    let once = encode_metrics(&points);
    // Encoding writes an absent attribute value as an empty one, a level
    // deeper: at the recursion limit that one level is too many. Nothing
    // else may fail.
    let again = match decode_metrics(&once) {
        Ok(again) => again,
        Err(error) if error.to_string().contains("recursion limit") => return,
        Err(error) => panic!("encoded points do not decode: {error}"),
    };
    assert_eq!(again.len(), points.len());
    assert_eq!(encode_metrics(&again), once);
});
