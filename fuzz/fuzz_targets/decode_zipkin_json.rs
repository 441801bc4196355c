//! Fuzzes the Zipkin v2 JSON decoder: arbitrary bytes must decode or fail
//! cleanly, the copying and zero-copy entry points must agree, and every
//! decoded span must carry valid ids and a resource.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_trace_formats::zipkin;

fuzz_target!(|data: &[u8]| {
    let copy = zipkin::decode_spans_json(data);
    let zero_copy = zipkin::decode_spans_json_bytes(&logbridge_trace_formats::bytes::Bytes::copy_from_slice(data));
    match (copy, zero_copy) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            for span in &a {
                assert!(span.trace_id.is_valid() && span.span_id.is_valid());
                assert!(span.resource.is_some());
            }
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("entry points disagree: {a:?} vs {b:?}"),
    }
});
