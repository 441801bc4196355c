//! Fuzzes the Loki JSON push decoder: arbitrary bytes must decode or fail
//! cleanly (no panic, no stack overflow on deep nesting). Whatever decodes
//! must survive the encoder: re-encoding with the decoder's mapping is a
//! fixed point after one decode, and the protobuf encoding of the same
//! records decodes to the same logs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_loki::{
    StructuredMetadata, decode_push_json, decode_push_protobuf, encode_push_json,
    encode_push_protobuf, resource_labels,
};

fuzz_target!(|data: &[u8]| {
    let records = match decode_push_json(data) {
        Ok(records) => records,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    // Streams without labels cannot be written back (Loki refuses them).
    if records.iter().any(|r| resource_labels(r).is_empty()) {
        return;
    }
    let metadata = StructuredMetadata::Attributes;
    let once =
        encode_push_json(&records, resource_labels, &metadata).expect("decoded records encode");
    let again = decode_push_json(&once).expect("an encoded request decodes");
    assert_eq!(again.len(), records.len());
    let twice =
        encode_push_json(&again, resource_labels, &metadata).expect("decoded records encode");
    assert_eq!(once, twice);

    let protobuf =
        encode_push_protobuf(&again, resource_labels, &metadata).expect("decoded records encode");
    let from_protobuf = decode_push_protobuf(&protobuf, usize::MAX).expect("encoded records decode");
    assert_eq!(from_protobuf, again);
});
