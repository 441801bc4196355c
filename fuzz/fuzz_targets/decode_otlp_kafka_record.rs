//! Fuzzes what the `kafka` source does with an `otlp` record: decode a
//! protobuf export request of any signal (logs, metrics, traces, tried in
//! Vector's order). Arbitrary bytes must decode or fail cleanly, and the
//! events of a record that decodes must all be of one signal.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_event::Event;
use logbridge_otlp::{Signal, decode_any};

const ALL: [Signal; 3] = [Signal::Logs, Signal::Metrics, Signal::Traces];

fuzz_target!(|data: &[u8]| {
    let events = match decode_any(data, &ALL) {
        Ok(events) => events,
        Err(reason) => {
            assert!(reason.starts_with("not an OTLP export request"));
            return;
        }
    };
    let kind = |e: &Event| match e {
        Event::Log(_) => 0,
        Event::Metric(_) => 1,
        Event::Span(_) => 2,
    };
    if let Some(first) = events.first() {
        assert!(events.iter().all(|e| kind(e) == kind(first)));
    }
});
