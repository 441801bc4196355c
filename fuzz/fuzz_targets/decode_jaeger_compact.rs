//! Fuzzes the Jaeger compact-protocol decoders (`emitBatch` message and
//! bare `Batch`): arbitrary bytes must decode or fail cleanly (no panic, no
//! stack overflow, no allocation beyond the input's size), and the copying
//! and zero-copy entry points must agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_trace_formats::jaeger;

fuzz_target!(|data: &[u8]| {
    let shared = logbridge_trace_formats::bytes::Bytes::copy_from_slice(data);
    for (copy, zero_copy) in [
        (
            jaeger::decode_emit_batch_compact(data),
            jaeger::decode_emit_batch_compact_bytes(&shared),
        ),
        (
            jaeger::decode_batch_compact(data),
            jaeger::decode_batch_compact_bytes(&shared),
        ),
    ] {
        match (copy, zero_copy) {
            (Ok(a), Ok(b)) => assert_eq!(a.len(), b.len()),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("entry points disagree: {a:?} vs {b:?}"),
        }
    }
});
