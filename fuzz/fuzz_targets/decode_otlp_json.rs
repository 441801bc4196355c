//! Fuzzes the OTLP/JSON decoders of the three signals on the same input:
//! arbitrary bytes must decode or fail cleanly (no panic, no stack
//! overflow on deep nesting), and whatever decodes must survive the JSON
//! round trip: encoding is a fixed point after one decode. JSON bytes are
//! compared rather than events, because NaN is not equal to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_otlp::{
    decode_logs_json, decode_metrics_json, decode_traces_json, encode_logs_json,
    encode_metrics_json, encode_traces_json,
};

/// Encoding writes an absent attribute value as `{}`, a level deeper: at
/// serde_json's recursion limit that one level is too many. Nothing else
/// may fail.
fn deeper_than_allowed(error: &logbridge_otlp::JsonError) -> bool {
    error.to_string().contains("recursion limit")
}

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = decode_logs_json(data) {
        let once = encode_logs_json(&records);
        let again = match decode_logs_json(&once) {
            Ok(again) => again,
            Err(error) if deeper_than_allowed(&error) => return,
            Err(error) => panic!("encoded records do not decode: {error}"),
        };
        assert_eq!(encode_logs_json(&again), once);
    }
    if let Ok(spans) = decode_traces_json(data) {
        let once = encode_traces_json(&spans);
        let again = match decode_traces_json(&once) {
            Ok(again) => again,
            Err(error) if deeper_than_allowed(&error) => return,
            Err(error) => panic!("encoded spans do not decode: {error}"),
        };
        assert_eq!(encode_traces_json(&again), once);
    }
    match decode_metrics_json(data) {
        Ok(points) => {
            let once = encode_metrics_json(&points);
            let again = match decode_metrics_json(&once) {
                Ok(again) => again,
                Err(error) if deeper_than_allowed(&error) => return,
                Err(error) => panic!("encoded points do not decode: {error}"),
            };
            assert_eq!(encode_metrics_json(&again), once);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
