//! Turning a generated line into events, as Vector's `framing` and
//! `decoding` options of `demo_logs` describe: the line is cut into frames
//! (kept whole by default), and each frame becomes an event as it is
//! (`bytes`) or parsed (`json`, `syslog`, `logfmt`). A frame that does not
//! parse is returned as a failure for the `dropped` output; nothing here
//! logs or counts. Events get the time they were generated at.

use bytes::Bytes;
use logbridge_codec::decode::{Parser, ParserConfig};
use logbridge_event::{Event, LogRecord};

use super::{DecodingCodec, FramingMethod};

/// Frames and decodes lines.
pub(super) struct LineDecoder {
    framing: FramingMethod,
    /// `None` for `bytes`: the frame is the message.
    parser: Option<Parser>,
}

/// A frame that did not decode, and why.
pub(super) struct Undecoded {
    pub(super) frame: Bytes,
    pub(super) reason: String,
}

impl LineDecoder {
    pub(super) fn new(framing: FramingMethod, codec: DecodingCodec) -> LineDecoder {
        let config = match codec {
            DecodingCodec::Bytes => None,
            DecodingCodec::Json => Some(ParserConfig::Json),
            DecodingCodec::Logfmt => Some(ParserConfig::Logfmt),
            DecodingCodec::Syslog => Some(ParserConfig::Syslog),
        };
        LineDecoder {
            framing,
            // These formats take no options that could be wrong.
            parser: config.and_then(|c| Parser::new(&c).ok()),
        }
    }

    /// Appends the events of `line` to `events`, and the frames that did
    /// not decode to `failed`.
    pub(super) fn decode(
        &self,
        line: Bytes,
        now: i64,
        events: &mut Vec<Event>,
        failed: &mut Vec<Undecoded>,
    ) {
        match self.framing {
            FramingMethod::Bytes => self.frame(line, now, events, failed),
            FramingMethod::NewlineDelimited => {
                let mut rest = line;
                while !rest.is_empty() {
                    let end = newline(&rest).unwrap_or(rest.len());
                    let frame = rest.split_to(end);
                    if !rest.is_empty() {
                        // The newline itself.
                        let _ = rest.split_to(1);
                    }
                    if !frame.is_empty() {
                        self.frame(frame, now, events, failed);
                    }
                }
            }
        }
    }

    /// Generated now, so the event's time is now (written as `timestamp`,
    /// as Vector's `demo_logs` events carry it), unless a parsed field of
    /// that name says otherwise.
    fn frame(&self, frame: Bytes, now: i64, events: &mut Vec<Event>, failed: &mut Vec<Undecoded>) {
        let timed = |mut log: LogRecord| {
            log.time_unix_nano = now;
            Event::Log(log)
        };
        let Some(parser) = &self.parser else {
            events.push(timed(LogRecord::from_line(frame, now)));
            return;
        };
        match parser.parse_bytes(&frame, now) {
            Ok(fields) => events.push(timed(LogRecord::from_fields(fields, now))),
            Err(e) => failed.push(Undecoded {
                frame,
                reason: e.to_string(),
            }),
        }
    }
}

fn newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framing: FramingMethod, codec: DecodingCodec, line: &str) -> (usize, usize) {
        let d = LineDecoder::new(framing, codec);
        let (mut events, mut failed) = (Vec::new(), Vec::new());
        d.decode(Bytes::from(line.to_owned()), 1, &mut events, &mut failed);
        (events.len(), failed.len())
    }

    #[test]
    fn frames_and_codecs() {
        use DecodingCodec::{Json, Logfmt, Syslog};
        use FramingMethod::NewlineDelimited;
        let whole = FramingMethod::Bytes;
        let raw = DecodingCodec::Bytes;
        assert_eq!(run(whole, raw, "a\nb"), (1, 0));
        assert_eq!(run(NewlineDelimited, raw, "a\nb\n\nc"), (3, 0));
        assert_eq!(run(whole, Json, r#"{"a":1}"#), (1, 0));
        assert_eq!(run(NewlineDelimited, Json, "{\"a\":1}\nnot json"), (1, 1));
        assert_eq!(
            run(whole, Syslog, "<13>Oct 11 22:14:15 host app: hi"),
            (1, 0)
        );
        assert_eq!(run(whole, Logfmt, "a=1 b=2"), (1, 0));
    }
}
