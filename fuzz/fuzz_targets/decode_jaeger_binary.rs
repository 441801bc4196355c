//! Fuzzes the Jaeger binary-protocol decoders (bare `Batch`, as in HTTP
//! `/api/traces` bodies, and the `emitBatch` message): arbitrary bytes must
//! decode or fail cleanly, and the copying and zero-copy entry points must
//! agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_trace_formats::jaeger;

fuzz_target!(|data: &[u8]| {
    let shared = logbridge_trace_formats::bytes::Bytes::copy_from_slice(data);
    for (copy, zero_copy) in [
        (
            jaeger::decode_batch_binary(data),
            jaeger::decode_batch_binary_bytes(&shared),
        ),
        (
            jaeger::decode_emit_batch_binary(data),
            jaeger::decode_emit_batch_binary_bytes(&shared),
        ),
    ] {
        match (copy, zero_copy) {
            (Ok(a), Ok(b)) => assert_eq!(a.len(), b.len()),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("entry points disagree: {a:?} vs {b:?}"),
        }
    }
});
