//! Fuzzes the syslog TCP framers (octet counting, and the auto-detecting
//! one): the input is cut into chunks of arbitrary sizes (taken from the
//! first bytes) and fed one by one. The frames must be the same as for the
//! whole input at once, no message may exceed the maximum, the framers may
//! never buffer more than the maximum (or a length header being read), and
//! the consumed bytes must add up to the input's length.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_codec::bytes::BytesMut;
use logbridge_codec::{OctetCountingFramer, SyslogFrame, SyslogFramer};

/// The longest length header the framers hold while reading it.
const HEADER_DIGITS: usize = 10;

enum Framer {
    Octet(OctetCountingFramer),
    Auto(SyslogFramer),
}

impl Framer {
    fn new(auto: bool, max: usize) -> Self {
        if auto {
            Framer::Auto(SyslogFramer::new(max))
        } else {
            Framer::Octet(OctetCountingFramer::new(max))
        }
    }

    fn decode(&mut self, buf: &mut BytesMut, frames: &mut Vec<SyslogFrame>) {
        match self {
            Framer::Octet(f) => f.decode(buf, |frame| frames.push(frame)),
            Framer::Auto(f) => f.decode(buf, |frame| frames.push(frame)),
        }
    }

    fn finish(&mut self, buf: &mut BytesMut) -> Option<SyslogFrame> {
        match self {
            Framer::Octet(f) => f.finish(buf),
            Framer::Auto(f) => f.finish(buf),
        }
    }
}

fn run(auto: bool, max: usize, chunks: &[&[u8]]) -> Vec<SyslogFrame> {
    let mut framer = Framer::new(auto, max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        framer.decode(&mut buf, &mut frames);
        assert!(
            buf.len() <= max.max(HEADER_DIGITS),
            "buffered {} bytes, max {max}",
            buf.len()
        );
    }
    while let Some(frame) = framer.finish(&mut buf) {
        frames.push(frame);
    }
    assert!(buf.is_empty());
    frames
}

fuzz_target!(|data: &[u8]| {
    let Some((&[max, a, b, c], input)) = data.split_first_chunk::<4>() else {
        return;
    };
    // The low bit picks the framer; the rest is the maximum.
    let auto = max & 1 == 1;
    let max = usize::from(max >> 1);
    let sizes = [usize::from(a) + 1, usize::from(b) + 1, usize::from(c) + 1];
    let mut chunks = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(sizes[i % sizes.len()].min(rest.len()));
        chunks.push(chunk);
        rest = tail;
        i += 1;
    }
    let split = run(auto, max, &chunks);
    let whole = run(auto, max, &[input]);
    assert_eq!(split, whole);
    let mut total = 0;
    for frame in &whole {
        total += frame.consumed();
        match frame {
            SyslogFrame::Message { message, consumed } => {
                assert!(message.len() <= max);
                assert!(*consumed >= message.len());
            }
            SyslogFrame::Overlong { bytes, .. } => assert!(*bytes > max),
            SyslogFrame::Malformed { bytes, consumed } => {
                assert!(!auto, "the auto-detecting framer takes bad headers as lines");
                assert!(*consumed >= *bytes);
            }
            SyslogFrame::Truncated { .. } => {}
        }
    }
    assert_eq!(total, input.len());
});
