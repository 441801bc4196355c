//! Fuzzes the Loki protobuf push decoder: arbitrary bytes, taken as a
//! snappy body and as an uncompressed `PushRequest`, must decode or fail
//! cleanly (no panic, no allocation beyond the limit). Whatever decodes
//! must survive the encoder: re-encoding with the decoder's mapping is a
//! fixed point after one decode.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_loki::bytes::Bytes;
use logbridge_loki::{
    StructuredMetadata, decode_push_protobuf, decode_push_request, encode_push_protobuf,
    resource_labels,
};

const MAX: usize = 1 << 20;

fn check(records: Vec<logbridge_event::LogRecord>) {
    // Streams without labels cannot be written back (Loki refuses them).
    if records.iter().any(|r| resource_labels(r).is_empty()) {
        return;
    }
    let metadata = StructuredMetadata::Attributes;
    let once = encode_push_protobuf(&records, resource_labels, &metadata)
        .expect("decoded records encode");
    let again = decode_push_protobuf(&once, usize::MAX).expect("an encoded request decodes");
    assert_eq!(again.len(), records.len());
    let twice =
        encode_push_protobuf(&again, resource_labels, &metadata).expect("decoded records encode");
    assert_eq!(once, twice);
}

fuzz_target!(|data: &[u8]| {
    match decode_push_protobuf(data, MAX) {
        Ok(records) => check(records),
        Err(error) => {
            let _ = error.to_string();
        }
    }
    match decode_push_request(Bytes::copy_from_slice(data)) {
        Ok(records) => check(records),
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
