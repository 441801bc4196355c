//! Syslog over TCP framing (RFC 6587): octet counting (`MSG-LEN SP
//! SYSLOG-MSG`), and the choice between it and newline framing that
//! rsyslog and syslog-ng make for every frame.
//!
//! Like [`LineFramer`], the framers here are incremental over the chunks
//! of a stream, hand out messages as zero-copy slices of the caller's
//! buffer, never buffer more than the maximum message length (plus a
//! length header still being read), and report every frame with the input
//! bytes it took, so consumed bytes add up to the input's length.

use bytes::{Buf, Bytes, BytesMut};

use super::{Frame, LineFramer};

/// The most digits a `MSG-LEN` may have. Ten digits already announce more
/// than any sane maximum; a longer run of digits is not taken for a
/// header, which bounds what is buffered while a header is read.
const MAX_LEN_DIGITS: usize = 10;

/// One frame cut from a syslog stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogFrame {
    /// A complete message: exactly `MSG-LEN` bytes when octet-counted; a
    /// line without its `\n` (and without a `\r` before it) otherwise.
    Message { message: Bytes, consumed: usize },
    /// A message longer than the maximum, skipped without being buffered.
    Overlong {
        /// The message's length: as announced by its header when
        /// octet-counted, the line's length otherwise.
        bytes: usize,
        consumed: usize,
    },
    /// Bytes at the start of a frame that are not a length header (for
    /// [`OctetCountingFramer`] only), discarded up to and including the
    /// next `\n`, where framing resumes. `bytes` does not count the `\n`
    /// nor a `\r` before it, so a stray empty line (which some senders put
    /// after every counted message) is reported with `bytes: 0`.
    Malformed { bytes: usize, consumed: usize },
    /// An octet-counted message cut short by the end of the stream.
    Truncated {
        /// The length its header announced.
        bytes: usize,
        consumed: usize,
    },
}

impl SyslogFrame {
    /// Input bytes this frame took.
    pub fn consumed(&self) -> usize {
        match self {
            SyslogFrame::Message { consumed, .. }
            | SyslogFrame::Overlong { consumed, .. }
            | SyslogFrame::Malformed { consumed, .. }
            | SyslogFrame::Truncated { consumed, .. } => *consumed,
        }
    }
}

/// Cuts an octet-counted stream (RFC 6587 section 3.4.1) into messages of
/// at most `max_frame_bytes` bytes (the header not counted).
///
/// A frame whose header announces more than the maximum is skipped as it
/// streams past and reported once, as [`SyslogFrame::Overlong`], when its
/// last byte has gone by. A frame that does not start with a header
/// (`NONZERO-DIGIT *DIGIT SP`) is reported as [`SyslogFrame::Malformed`]
/// and discarded up to the next newline: octet counting has no way to
/// resynchronize, and a newline is where a sender mixing in plain lines
/// ends one. Use [`SyslogFramer`] to take such frames as lines instead.
#[derive(Debug, Clone)]
pub struct OctetCountingFramer {
    engine: Engine,
}

impl OctetCountingFramer {
    pub fn new(max_frame_bytes: usize) -> Self {
        OctetCountingFramer {
            engine: Engine::new(max_frame_bytes, false),
        }
    }

    pub fn max_frame_bytes(&self) -> usize {
        self.engine.max
    }

    /// Takes the complete frames out of `buf` (a buffer the caller appends
    /// reads to), calling `on_frame` for each. What is left in `buf` is
    /// the start of the next frame.
    pub fn decode(&mut self, buf: &mut BytesMut, on_frame: impl FnMut(SyslogFrame)) {
        self.engine.decode(buf, on_frame);
    }

    /// At end of input: the next frame left in `buf`, ending with a
    /// [`SyslogFrame::Truncated`] for a message cut short. Call it until it
    /// returns `None`; after that the framer is ready for a new stream.
    pub fn finish(&mut self, buf: &mut BytesMut) -> Option<SyslogFrame> {
        self.engine.finish(buf)
    }
}

/// Frames a syslog TCP connection that may use either framing, as rsyslog
/// and syslog-ng accept: a frame starting with a length header
/// (`NONZERO-DIGIT *DIGIT SP`) is octet-counted, any other is a line.
///
/// The choice is made at the start of every frame, so one framer serves
/// one connection whatever its sender does, and a frame whose header is
/// malformed degrades to a line instead of losing the stream. A syslog
/// message starts with `<`, so a line is never mistaken for a header.
///
/// Empty lines are frames (empty messages), as with [`LineFramer`]: a
/// sender that ends every counted message with a newline outside the count
/// yields one after each message, which callers skip like any empty line.
#[derive(Debug, Clone)]
pub struct SyslogFramer {
    engine: Engine,
}

impl SyslogFramer {
    pub fn new(max_frame_bytes: usize) -> Self {
        SyslogFramer {
            engine: Engine::new(max_frame_bytes, true),
        }
    }

    pub fn max_frame_bytes(&self) -> usize {
        self.engine.max
    }

    /// As [`OctetCountingFramer::decode`]; never yields `Malformed`.
    pub fn decode(&mut self, buf: &mut BytesMut, on_frame: impl FnMut(SyslogFrame)) {
        self.engine.decode(buf, on_frame);
    }

    /// As [`OctetCountingFramer::finish`]; a final line needs no newline.
    pub fn finish(&mut self, buf: &mut BytesMut) -> Option<SyslogFrame> {
        self.engine.finish(buf)
    }
}

/// Where the framer is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the first byte of a frame.
    Start,
    /// After a header (already taken out of the buffer), waiting for the
    /// message's `len` bytes.
    Body { len: usize, header: usize },
    /// Skipping an overlong message.
    Skip {
        declared: u64,
        remaining: u64,
        header: usize,
    },
    /// Discarding a malformed frame up to its newline: `bytes` discarded
    /// so far, `cr` whether the last of them was `\r`.
    Discard { bytes: usize, cr: bool },
    /// Inside a newline-framed line, which the line framer cuts.
    Line,
}

/// What the start of a frame is.
enum Header {
    /// `len` announced in `header` bytes (digits and the space).
    Valid {
        len: u64,
        header: usize,
    },
    Invalid,
    /// Digits so far; the next bytes decide.
    Incomplete,
}

fn read_header(buf: &[u8], eof: bool) -> Header {
    match buf.first() {
        None => return Header::Incomplete,
        Some(b'1'..=b'9') => {}
        Some(_) => return Header::Invalid,
    }
    let mut len: u64 = 0;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'0'..=b'9' if i < MAX_LEN_DIGITS => len = len * 10 + u64::from(b - b'0'),
            b' ' => {
                return Header::Valid { len, header: i + 1 };
            }
            _ => return Header::Invalid,
        }
    }
    if eof {
        Header::Invalid
    } else {
        Header::Incomplete
    }
}

/// The state machine both framers share; `lines` is where frames without a
/// header go when they are taken as lines.
#[derive(Debug, Clone)]
struct Engine {
    max: usize,
    state: State,
    lines: Option<LineFramer>,
}

impl Engine {
    fn new(max: usize, accept_lines: bool) -> Self {
        Engine {
            max,
            state: State::Start,
            lines: accept_lines.then(|| LineFramer::new(max)),
        }
    }

    fn decode(&mut self, buf: &mut BytesMut, mut on_frame: impl FnMut(SyslogFrame)) {
        while let Some(frame) = self.next_frame(buf, false) {
            on_frame(frame);
        }
    }

    fn finish(&mut self, buf: &mut BytesMut) -> Option<SyslogFrame> {
        let frame = self.next_frame(buf, true);
        if frame.is_none() {
            *self = Engine::new(self.max, self.lines.is_some());
        }
        frame
    }

    fn next_frame(&mut self, buf: &mut BytesMut, eof: bool) -> Option<SyslogFrame> {
        loop {
            match self.state {
                State::Start => match read_header(buf, eof) {
                    Header::Incomplete => return None,
                    Header::Valid { len, header } => {
                        buf.advance(header);
                        self.state = match usize::try_from(len) {
                            Ok(len) if len <= self.max => State::Body { len, header },
                            _ => State::Skip {
                                declared: len,
                                remaining: len,
                                header,
                            },
                        };
                    }
                    Header::Invalid if self.lines.is_some() => self.state = State::Line,
                    Header::Invalid => {
                        self.state = State::Discard {
                            bytes: 0,
                            cr: false,
                        }
                    }
                },
                State::Body { len, header } => {
                    if buf.len() >= len {
                        self.state = State::Start;
                        return Some(SyslogFrame::Message {
                            message: buf.split_to(len).freeze(),
                            consumed: header + len,
                        });
                    }
                    if !eof {
                        return None;
                    }
                    self.state = State::Start;
                    let got = buf.len();
                    buf.clear();
                    return Some(SyslogFrame::Truncated {
                        bytes: len,
                        consumed: header + got,
                    });
                }
                State::Skip {
                    declared,
                    remaining,
                    header,
                } => {
                    // `remaining` may exceed usize only where usize is
                    // narrower than u64; then the buffer is the smaller.
                    let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
                    buf.advance(n);
                    let remaining = remaining - n as u64;
                    let seen = to_usize(declared - remaining).saturating_add(header);
                    if remaining == 0 {
                        self.state = State::Start;
                        return Some(SyslogFrame::Overlong {
                            bytes: to_usize(declared),
                            consumed: seen,
                        });
                    }
                    if eof {
                        self.state = State::Start;
                        return Some(SyslogFrame::Truncated {
                            bytes: to_usize(declared),
                            consumed: seen,
                        });
                    }
                    self.state = State::Skip {
                        declared,
                        remaining,
                        header,
                    };
                    return None;
                }
                State::Discard { bytes, cr } => return self.discard(buf, eof, bytes, cr),
                State::Line => {
                    let lines = self.lines.as_mut()?;
                    let frame = lines.next_frame(buf, eof);
                    if frame.is_some() || eof {
                        self.state = State::Start;
                    }
                    return frame.map(|frame| match frame {
                        Frame::Line { line, consumed } => SyslogFrame::Message {
                            message: line,
                            consumed,
                        },
                        Frame::Overlong { bytes, consumed } => {
                            SyslogFrame::Overlong { bytes, consumed }
                        }
                    });
                }
            }
        }
    }

    /// Discards a malformed frame's bytes up to and including its newline,
    /// without buffering them.
    fn discard(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
        bytes: usize,
        cr: bool,
    ) -> Option<SyslogFrame> {
        let malformed = |content: usize, cr: bool, terminator: usize| SyslogFrame::Malformed {
            bytes: content - usize::from(cr),
            consumed: content + terminator,
        };
        if let Some(pos) = memchr::memchr(b'\n', buf) {
            let cr = match pos {
                0 => cr,
                _ => buf[pos - 1] == b'\r',
            };
            buf.advance(pos + 1);
            self.state = State::Start;
            return Some(malformed(bytes + pos, cr, 1));
        }
        let cr = buf.last().map_or(cr, |&b| b == b'\r');
        let bytes = bytes + buf.len();
        buf.clear();
        if eof {
            self.state = State::Start;
            return Some(malformed(bytes, cr, 0));
        }
        self.state = State::Discard { bytes, cr };
        None
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(syslog: bool, max: usize, chunks: &[&[u8]]) -> Vec<SyslogFrame> {
        let mut engine = Engine::new(max, syslog);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            engine.decode(&mut buf, |f| out.push(f));
            assert!(
                buf.len() <= max.max(MAX_LEN_DIGITS),
                "buffered {} bytes, max {max}",
                buf.len()
            );
        }
        while let Some(f) = engine.finish(&mut buf) {
            out.push(f);
        }
        assert!(buf.is_empty());
        assert_eq!(engine.state, State::Start);
        out
    }

    fn octet(max: usize, chunks: &[&[u8]]) -> Vec<SyslogFrame> {
        run(false, max, chunks)
    }

    fn syslog(max: usize, chunks: &[&[u8]]) -> Vec<SyslogFrame> {
        run(true, max, chunks)
    }

    fn msg(s: &str, consumed: usize) -> SyslogFrame {
        SyslogFrame::Message {
            message: Bytes::copy_from_slice(s.as_bytes()),
            consumed,
        }
    }

    #[test]
    fn cuts_octet_counted_messages() {
        assert_eq!(
            octet(64, &[b"5 hello11 <13>1 a\nb c2 \n\n"]),
            vec![msg("hello", 7), msg("<13>1 a\nb c", 14), msg("\n\n", 4)]
        );
        // Byte by byte, the header split from its message.
        let input = b"3 abc10 0123456789";
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            octet(64, &chunks),
            vec![msg("abc", 5), msg("0123456789", 13)]
        );
    }

    #[test]
    fn messages_are_slices_of_the_buffer() {
        let mut framer = OctetCountingFramer::new(16);
        let mut buf = BytesMut::from(&b"2 ab"[..]);
        let start = buf.as_ptr() as usize;
        let mut frames = Vec::new();
        framer.decode(&mut buf, |f| frames.push(f));
        let [SyslogFrame::Message { message, .. }] = &frames[..] else {
            panic!("{frames:?}");
        };
        assert_eq!(message.as_ptr() as usize, start + 2);
    }

    #[test]
    fn overlong_messages_are_skipped_unbuffered() {
        assert_eq!(
            octet(4, &[b"4 abcd5 ab", b"cde1 x"]),
            vec![
                msg("abcd", 6),
                SyslogFrame::Overlong {
                    bytes: 5,
                    consumed: 7
                },
                msg("x", 3),
            ]
        );
        // A huge announced length is skipped as it streams, not allocated.
        let mut framer = OctetCountingFramer::new(8);
        let mut buf = BytesMut::from(&b"9999999999 "[..]);
        let mut frames = Vec::new();
        for _ in 0..4 {
            buf.extend_from_slice(&[b'x'; 1000]);
            framer.decode(&mut buf, |f| frames.push(f));
            assert!(buf.is_empty());
        }
        assert!(frames.is_empty());
        assert_eq!(
            framer.finish(&mut buf),
            Some(SyslogFrame::Truncated {
                bytes: 9_999_999_999,
                consumed: 4011
            })
        );
        assert_eq!(framer.finish(&mut buf), None);
    }

    #[test]
    fn truncated_at_end_of_stream() {
        assert_eq!(
            octet(16, &[b"2 ok5 ab"]),
            vec![
                msg("ok", 4),
                SyslogFrame::Truncated {
                    bytes: 5,
                    consumed: 4
                }
            ]
        );
        // Digits without their space at the end are not a header.
        assert_eq!(
            octet(16, &[b"12"]),
            vec![SyslogFrame::Malformed {
                bytes: 2,
                consumed: 2
            }]
        );
    }

    #[test]
    fn malformed_frames_are_discarded_to_the_newline() {
        assert_eq!(
            octet(16, &[b"<13>hi\r\n", b"\n3 abc0 x\n12345678901 y\n2 ok"]),
            vec![
                SyslogFrame::Malformed {
                    bytes: 6,
                    consumed: 8
                },
                SyslogFrame::Malformed {
                    bytes: 0,
                    consumed: 1
                },
                msg("abc", 5),
                SyslogFrame::Malformed {
                    bytes: 3,
                    consumed: 4
                },
                SyslogFrame::Malformed {
                    bytes: 13,
                    consumed: 14
                },
                msg("ok", 4),
            ]
        );
        // A `\r` at the end of one chunk and the `\n` at the start of the next.
        assert_eq!(
            octet(16, &[b"bad\r", b"\n"]),
            vec![SyslogFrame::Malformed {
                bytes: 3,
                consumed: 5
            }]
        );
    }

    #[test]
    fn syslog_framer_mixes_both_framings() {
        let input: &[u8] = b"<13>plain line\r\n11 <14>counted<15>next\n\n10x\n3 abc";
        assert_eq!(
            syslog(32, &[input]),
            vec![
                msg("<13>plain line", 16),
                msg("<14>counted", 14),
                msg("<15>next", 9),
                msg("", 1),
                msg("10x", 4),
                msg("abc", 5),
            ]
        );
        // A final unterminated line, and digits alone at the end.
        assert_eq!(syslog(32, &[b"tail"]), vec![msg("tail", 4)]);
        assert_eq!(syslog(32, &[b"12"]), vec![msg("12", 2)]);
    }

    #[test]
    fn syslog_framer_overlong_in_either_framing() {
        assert_eq!(
            syslog(3, &[b"toolong\n4 abcd", b"ok\n"]),
            vec![
                SyslogFrame::Overlong {
                    bytes: 7,
                    consumed: 8
                },
                SyslogFrame::Overlong {
                    bytes: 4,
                    consumed: 6
                },
                msg("ok", 3),
            ]
        );
    }

    #[test]
    fn public_framers_delegate() {
        let mut octet = OctetCountingFramer::new(10);
        let mut auto = SyslogFramer::new(10);
        assert_eq!((octet.max_frame_bytes(), auto.max_frame_bytes()), (10, 10));
        let mut buf = BytesMut::from(&b"x\n"[..]);
        let mut frames = Vec::new();
        auto.decode(&mut buf, |f| frames.push(f));
        assert_eq!(frames, vec![msg("x", 2)]);
        let mut buf = BytesMut::from(&b"x\n"[..]);
        octet.decode(&mut buf, |f| frames.push(f));
        assert_eq!(
            frames[1],
            SyslogFrame::Malformed {
                bytes: 1,
                consumed: 2
            }
        );
        assert_eq!(octet.finish(&mut buf), None);
        assert_eq!(auto.finish(&mut buf), None);
    }

    fn input_strategy() -> impl Strategy<Value = Vec<u8>> {
        // Octet-counted frames (some with lying lengths), lines and noise.
        let piece = prop_oneof![
            prop::collection::vec(prop::sample::select(vec![b'a', b'\n', b'\r', b'<']), 0..12)
                .prop_map(|m| {
                    let mut v = format!("{} ", m.len()).into_bytes();
                    v.extend(m);
                    v
                }),
            (1usize..30).prop_map(|n| format!("{n} ").into_bytes()),
            prop::collection::vec(
                prop::sample::select(vec![b'a', b'1', b'0', b' ', b'\r', b'\n', 0xff]),
                0..16
            ),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    fn split<'a>(input: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(&input[last..p]);
            last = p;
        }
        chunks.push(&input[last..]);
        chunks
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_frames(
            input in input_strategy(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            max in 0usize..24,
            auto in any::<bool>(),
        ) {
            let chunks = split(&input, &cuts);
            let whole = run(auto, max, &[&input]);
            let split = run(auto, max, &chunks);
            prop_assert_eq!(&whole, &split);
            let total: usize = whole.iter().map(SyslogFrame::consumed).sum();
            prop_assert_eq!(total, input.len());
            for f in &whole {
                match f {
                    SyslogFrame::Message { message, consumed } => {
                        prop_assert!(message.len() <= max);
                        prop_assert!(*consumed > message.len() || (auto && *consumed == message.len()));
                    }
                    SyslogFrame::Malformed { .. } => prop_assert!(!auto),
                    _ => {}
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            input in prop::collection::vec(any::<u8>(), 0..512),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            max in 0usize..64,
            auto in any::<bool>(),
        ) {
            let frames = run(auto, max, &split(&input, &cuts));
            let total: usize = frames.iter().map(SyslogFrame::consumed).sum();
            prop_assert_eq!(total, input.len());
        }

        /// Octet counting gives back exactly the messages written.
        #[test]
        fn counted_messages_round_trip(
            messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..16),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            auto in any::<bool>(),
        ) {
            let mut input = Vec::new();
            let mut expected = Vec::new();
            for m in &messages {
                if m.is_empty() {
                    continue; // MSG-LEN has no zero
                }
                input.extend_from_slice(format!("{} ", m.len()).as_bytes());
                input.extend_from_slice(m);
                expected.push(Bytes::copy_from_slice(m));
            }
            let got: Vec<Bytes> = run(auto, 40, &split(&input, &cuts))
                .into_iter()
                .map(|f| match f {
                    SyslogFrame::Message { message, .. } => message,
                    other => Bytes::from(format!("{other:?}")),
                })
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
