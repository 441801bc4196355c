//! Fuzzes the line framer: the input is cut into chunks of arbitrary sizes
//! (taken from the first bytes) and fed one by one. The frames must be the
//! same as for the whole input at once, no line may exceed the maximum or
//! hold a newline, the framer may never buffer more than the maximum, and
//! the consumed bytes must add up to the input's length.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_codec::bytes::BytesMut;
use logbridge_codec::{Frame, LineFramer};

fn run(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
    let mut framer = LineFramer::new(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        framer.decode(&mut buf, |frame| frames.push(frame));
        assert!(buf.len() <= max, "buffered {} bytes, max {max}", buf.len());
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
    let max = usize::from(max);
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
    let split = run(max, &chunks);
    let whole = run(max, &[input]);
    assert_eq!(split, whole);
    let mut total = 0;
    for frame in &whole {
        total += frame.consumed();
        match frame {
            Frame::Line { line, consumed } => {
                assert!(line.len() <= max);
                assert!(!line.contains(&b'\n'));
                assert!(*consumed >= line.len() && *consumed <= line.len() + 2);
            }
            Frame::Overlong { bytes, consumed } => {
                assert!(*bytes > max);
                assert!(*consumed >= *bytes);
            }
        }
    }
    assert_eq!(total, input.len());
});
