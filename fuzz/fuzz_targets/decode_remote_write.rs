//! Fuzzes the remote-write decoder: arbitrary bytes (as a snappy body, and
//! as the protobuf inside one) must decode or fail
//! cleanly within the size cap, and whatever decodes must survive
//! re-encoding: decoding is a fixed point after one round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_prometheus::remote_write::{
    decode_uncompressed, decode_write_request, encode_write_request,
};

const MAX: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    for compressed in [true, false] {
        let decoded = if compressed {
            decode_write_request(data, MAX)
        } else {
            decode_uncompressed(data)
        };
        let metrics = match decoded {
            Ok(metrics) => metrics,
            Err(error) => {
                let _ = error.to_string();
                continue;
            }
        };
        let once = encode_write_request(&metrics);
        let again = decode_write_request(&once, usize::MAX).expect("encoded request decodes");
        assert_eq!(encode_write_request(&again), once);
    }
});
