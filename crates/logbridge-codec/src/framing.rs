//! Framing: cutting a byte stream into newline-delimited lines, and (in
//! [`octet`]) syslog's TCP framings.
//!
//! This module owns only where records begin and end; it knows nothing of
//! their format (see [`crate::decode`]). It never buffers more than the
//! maximum line length plus one read: a longer line is discarded as it
//! streams past and reported once as [`Frame::Overlong`].
//!
//! Lines are zero-copy slices of the caller's buffer. Every frame says how
//! many input bytes it consumed, so a file source can track its offset by
//! adding them up.

use bytes::{Buf, Bytes, BytesMut};

pub mod octet;

pub use octet::{OctetCountingFramer, SyslogFrame, SyslogFramer};

/// One record cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its `\n` and without a `\r` before it.
    Line {
        line: Bytes,
        /// Input bytes this line took: its length plus the `\r\n` or `\n`
        /// (no terminator for a final unterminated line).
        consumed: usize,
    },
    /// A line longer than the maximum, already discarded.
    Overlong {
        /// The line's length, without its `\n`.
        bytes: usize,
        /// Input bytes this line took, its `\n` included.
        consumed: usize,
    },
}

impl Frame {
    /// Input bytes this frame took.
    pub fn consumed(&self) -> usize {
        match self {
            Frame::Line { consumed, .. } | Frame::Overlong { consumed, .. } => *consumed,
        }
    }
}

/// Splits a byte stream into lines of at most `max_line_bytes` bytes.
///
/// The maximum counts every byte before the `\n`, a trailing `\r` included
/// (as tokio-util's `LinesCodec` does), so a buffered line never holds more
/// than `max_line_bytes` bytes.
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_line_bytes: usize,
    /// Bytes of the current overlong line discarded so far, while discarding.
    discarding: Option<usize>,
    /// Where to resume the newline search in the buffer: the bytes before
    /// it were searched already and hold no `\n`.
    scanned: usize,
}

impl LineFramer {
    pub fn new(max_line_bytes: usize) -> Self {
        LineFramer {
            max_line_bytes,
            discarding: None,
            scanned: 0,
        }
    }

    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Takes the complete lines out of `buf` (a buffer the caller appends
    /// reads to), calling `on_frame` for each. What is left in `buf` is the
    /// start of the next, unterminated line.
    ///
    /// Lines longer than the maximum are not buffered: the framer discards
    /// bytes until the next newline and reports [`Frame::Overlong`] once
    /// per such line, when its end is seen.
    pub fn decode(&mut self, buf: &mut BytesMut, mut on_frame: impl FnMut(Frame)) {
        while let Some(frame) = self.next_frame(buf, false) {
            on_frame(frame);
        }
    }

    /// At end of input: the next frame left in `buf`, ending with the last,
    /// unterminated line (or its `Overlong` report). Call it until it
    /// returns `None`; after that the framer is ready for a new stream.
    pub fn finish(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        let frame = self.next_frame(buf, true);
        if frame.is_none() {
            self.discarding = None;
            self.scanned = 0;
        }
        frame
    }

    fn next_frame(&mut self, buf: &mut BytesMut, eof: bool) -> Option<Frame> {
        // `scanned` is only ever a position inside the current `buf`; a
        // caller that handed in another buffer gets a fresh search.
        let from = self.scanned.min(buf.len());
        match memchr::memchr(b'\n', &buf[from..]) {
            Some(pos) => {
                let end = from + pos;
                self.scanned = 0;
                Some(match self.discarding.take() {
                    Some(skipped) => {
                        buf.advance(end + 1);
                        overlong(skipped + end, 1)
                    }
                    None if end > self.max_line_bytes => {
                        buf.advance(end + 1);
                        overlong(end, 1)
                    }
                    None => {
                        let mut line = buf.split_to(end + 1).freeze();
                        line.truncate(strip_cr(&line[..end]));
                        Frame::Line {
                            line,
                            consumed: end + 1,
                        }
                    }
                })
            }
            None if eof => self.take_tail(buf),
            None => {
                if self.discarding.is_some() || buf.len() > self.max_line_bytes {
                    *self.discarding.get_or_insert(0) += buf.len();
                    buf.clear();
                    self.scanned = 0;
                } else {
                    self.scanned = buf.len();
                }
                None
            }
        }
    }

    /// The final line, which has no `\n`.
    fn take_tail(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        self.scanned = 0;
        let len = buf.len();
        if let Some(skipped) = self.discarding.take() {
            buf.clear();
            return Some(overlong(skipped + len, 0));
        }
        if len == 0 {
            return None;
        }
        if len > self.max_line_bytes {
            buf.clear();
            return Some(overlong(len, 0));
        }
        let mut line = buf.split_to(len).freeze();
        line.truncate(strip_cr(&line));
        Some(Frame::Line {
            line,
            consumed: len,
        })
    }
}

fn overlong(bytes: usize, terminator: usize) -> Frame {
    Frame::Overlong {
        bytes,
        consumed: bytes + terminator,
    }
}

/// The length of `line` without one trailing `\r`.
fn strip_cr(line: &[u8]) -> usize {
    match line.last() {
        Some(b'\r') => line.len() - 1,
        _ => line.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `chunks` one after another and then finishes.
    fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut framer = LineFramer::new(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            framer.decode(&mut buf, |f| out.push(f));
            assert!(buf.len() <= max, "buffered more than the maximum");
        }
        while let Some(f) = framer.finish(&mut buf) {
            out.push(f);
        }
        assert!(buf.is_empty());
        out
    }

    fn line(s: &str, consumed: usize) -> Frame {
        Frame::Line {
            line: Bytes::copy_from_slice(s.as_bytes()),
            consumed,
        }
    }

    #[test]
    fn splits_lines_and_strips_cr() {
        let cases: &[(&str, Vec<Frame>)] = &[
            ("", vec![]),
            ("a\nbb\n", vec![line("a", 2), line("bb", 3)]),
            ("a\r\nb", vec![line("a", 3), line("b", 1)]),
            ("\n\n", vec![line("", 1), line("", 1)]),
            ("tail\r", vec![line("tail", 5)]),
            ("a\rb\n", vec![line("a\rb", 4)]),
        ];
        for (input, expected) in cases {
            assert_eq!(&frames(16, &[input.as_bytes()]), expected, "{input:?}");
        }
    }

    #[test]
    fn overlong_lines_are_reported_once_and_skipped() {
        let got = frames(4, &[b"ok\n0123456", b"789\nfine\n", b"toolongtail"]);
        assert_eq!(
            got,
            vec![
                line("ok", 3),
                Frame::Overlong {
                    bytes: 10,
                    consumed: 11
                },
                line("fine", 5),
                Frame::Overlong {
                    bytes: 11,
                    consumed: 11
                },
            ]
        );
        // Exactly the maximum is fine; the `\r` counts.
        assert_eq!(frames(4, &[b"abcd\n"]), vec![line("abcd", 5)]);
        assert_eq!(
            frames(4, &[b"abcd\r\n"]),
            vec![Frame::Overlong {
                bytes: 5,
                consumed: 6
            }]
        );
    }

    #[test]
    fn finish_drains_complete_lines_first() {
        let mut framer = LineFramer::new(8);
        let mut buf = BytesMut::from(&b"a\nb"[..]);
        assert_eq!(framer.finish(&mut buf), Some(line("a", 2)));
        assert_eq!(framer.finish(&mut buf), Some(line("b", 1)));
        assert_eq!(framer.finish(&mut buf), None);
    }

    #[test]
    fn zero_maximum_keeps_only_empty_lines() {
        assert_eq!(
            frames(0, &[b"\nx\n"]),
            vec![
                line("", 1),
                Frame::Overlong {
                    bytes: 1,
                    consumed: 2
                }
            ]
        );
    }

    fn input_strategy() -> impl Strategy<Value = Vec<u8>> {
        // Few distinct bytes, so that newlines, `\r` and long lines are common.
        prop::collection::vec(
            prop::sample::select(vec![b'a', b'b', b'\r', b'\n', 0xff]),
            0..400,
        )
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_frames(
            input in input_strategy(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            max in 0usize..24,
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points {
                chunks.push(&input[last..p]);
                last = p;
            }
            chunks.push(&input[last..]);
            let whole = frames(max, &[&input]);
            let split = frames(max, &chunks);
            prop_assert_eq!(&whole, &split);
            let total: usize = whole.iter().map(Frame::consumed).sum();
            prop_assert_eq!(total, input.len());
            for f in &whole {
                if let Frame::Line { line, .. } = f {
                    prop_assert!(line.len() <= max);
                    prop_assert!(!line.contains(&b'\n'));
                }
            }
        }
    }
}
