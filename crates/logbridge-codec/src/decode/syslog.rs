//! The `syslog` parser: RFC 5424 and RFC 3164 through `syslog_loose`.
//!
//! A record must start with a `<PRI>` (0 to 191); anything else is not
//! syslog and is rejected, although `syslog_loose` alone would accept it as
//! a bare message. Bytes that are not UTF-8 are replaced with U+FFFD.
//!
//! Fields (absent or NILVALUE `-` parts are left out): `message` (always),
//! `hostname`, `appname`, `procid`, `msgid`, `facility` and `severity`
//! (names: `auth`, `err`), `timestamp` (`Value::Timestamp`), `version`
//! (5424 only), and one object per structured-data element, named by its
//! SD-ID, at the top level as Vector puts it (`exampleSDID@32473.iut`); the
//! standard fields win a name clash.
//!
//! What is kept as sent:
//! - `procid` of RFC 5424 is a string, as the RFC defines PROCID (`0042`
//!   stays `"0042"`); the pid in an RFC 3164 tag (`sshd[4321]:`) is an
//!   integer, as Vector gives it;
//! - a parameter name repeated within an element (RFC 5424 6.3.3 allows
//!   it: `[dup@32473 a="1" a="2"]`) becomes an array of its values in
//!   order (`{"a": ["1", "2"]}`); a name given once stays a string;
//! - the message from its first byte after the one separating space
//!   (RFC 5424's `SP MSG`, and the space after an RFC 3164 tag's `:`):
//!   further leading spaces, and trailing ones, are part of the message.
//!   Other RFC 3164 headers end at the message whatever the spaces, since
//!   padding there is common. Only line ends (`\r`, `\n`) and NULs at the
//!   end of a record are cut.
//!
//! Timestamps without a zone (RFC 3164) are read as UTC; for one without a
//! year, see [`super::Parser::parse_at`]. The clock is never read here.

use std::borrow::Cow;
use std::cell::Cell;

use chrono::Datelike;
use logbridge_event::{KeyString, ObjectMap, Value};
use syslog_loose::{IncompleteDate, ProcId, Protocol, Variant};

use super::{ParseError, Text, YearHint};

/// The highest valid PRI: facility 23 (local7), severity 7 (debug).
const MAX_PRI: u32 = 191;

pub(super) fn parse(text: Text<'_>, year: YearHint) -> Result<ObjectMap, ParseError> {
    let utf8 = String::from_utf8_lossy(text.input);
    let trimmed = utf8.trim_start().trim_end_matches(['\r', '\n', '\0']);
    if trimmed.trim_end().is_empty() {
        return Err(ParseError::Empty);
    }
    check_pri(trimmed)?;

    // `syslog_loose` asks for a year only for a timestamp that has none.
    let year_missing = Cell::new(false);
    let get_year = |(month, ..): IncompleteDate| {
        year_missing.set(true);
        match year {
            YearHint::Fixed(year) => year,
            YearHint::Now(now) => {
                let now = chrono::DateTime::from_timestamp_nanos(now);
                if now.month() == 1 && month == 12 {
                    now.year() - 1
                } else {
                    now.year()
                }
            }
            // A leap year, so that `Feb 29` is still a valid date; the
            // timestamp is dropped below.
            YearHint::Unknown => 2000,
        }
    };
    let msg = syslog_loose::parse_message_with_year_exact_tz(
        trimmed,
        get_year,
        Some(chrono::Utc),
        Variant::Either,
    )
    .map_err(|_| ParseError::InvalidSyslog("unrecognized header"))?;

    // Shared with the input only when it was valid UTF-8 (borrowed).
    let share = |s: &str| match &utf8 {
        Cow::Borrowed(_) => Value::Bytes(text.share(s.as_bytes())),
        Cow::Owned(_) => Value::from(s),
    };

    let mut out = ObjectMap::new();
    for element in &msg.structured_data {
        let Value::Object(params) = out
            .entry(KeyString::new(element.id))
            .or_insert_with(|| Value::Object(ObjectMap::new()))
        else {
            continue;
        };
        for (name, value) in element.params() {
            add_param(params, name, Value::from(value));
        }
    }
    let mut put = |name: &'static str, value: Value| {
        out.insert(KeyString::const_new(name), value);
    };
    put("message", share(message_text(trimmed, &msg)));
    if let Some(host) = msg.hostname {
        put("hostname", share(host));
    }
    if let Some(app) = msg.appname {
        put("appname", share(app));
    }
    match (msg.procid, &msg.protocol) {
        (Some(ProcId::PID(pid)), Protocol::RFC5424(_)) => put(
            "procid",
            procid_text(trimmed, pid).map_or_else(|| Value::from(pid.to_string()), share),
        ),
        (Some(ProcId::PID(pid)), Protocol::RFC3164) => put("procid", Value::Integer(pid.into())),
        (Some(ProcId::Name(name)), _) => put("procid", share(name)),
        (None, _) => {}
    }
    if let Some(id) = msg.msgid {
        put("msgid", share(id));
    }
    if let Some(facility) = msg.facility {
        put("facility", Value::from(facility.as_str()));
    }
    if let Some(severity) = msg.severity {
        put("severity", Value::from(severity.as_str()));
    }
    let keep_timestamp = !(year_missing.get() && matches!(year, YearHint::Unknown));
    if let Some(ns) = msg.timestamp.and_then(|t| t.timestamp_nanos_opt())
        && keep_timestamp
    {
        put("timestamp", Value::Timestamp(ns));
    }
    if let Protocol::RFC5424(version) = msg.protocol {
        put("version", Value::Integer(version.into()));
    }
    Ok(out)
}

/// Adds a structured-data parameter; a name seen before in the element
/// turns into an array of every value, in order.
fn add_param(params: &mut ObjectMap, name: &str, value: Value) {
    match params.get_mut(name) {
        None => {
            params.insert(KeyString::new(name), value);
        }
        Some(Value::Array(values)) => values.push(value),
        Some(first) => {
            let first = std::mem::replace(first, Value::Null);
            if let Some(slot) = params.get_mut(name) {
                *slot = Value::Array(vec![first, value]);
            }
        }
    }
}

/// The message as sent: `syslog_loose` skips every space before it, and
/// the end of the record past its own trim; only the one separating space
/// is syntax (see the module doc). `input` is what was parsed.
fn message_text<'a>(input: &'a str, msg: &syslog_loose::Message<&'a str>) -> &'a str {
    let Some(head) = offset_in(input, msg.msg).and_then(|offset| input.get(..offset)) else {
        return msg.msg;
    };
    let header = head.trim_end_matches([' ', '\t']);
    let after = input.get(header.len()..).unwrap_or(msg.msg);
    let one_separator = match msg.protocol {
        Protocol::RFC5424(_) => true,
        Protocol::RFC3164 => header.ends_with(':'),
    };
    if one_separator {
        after.strip_prefix([' ', '\t']).unwrap_or(after)
    } else {
        after.trim_start_matches([' ', '\t'])
    }
}

/// Where `inner`, a slice of `outer`, starts in it.
fn offset_in(outer: &str, inner: &str) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start.checked_add(inner.len())? <= outer.len()).then_some(start)
}

/// The RFC 5424 PROCID token as written (`syslog_loose` gives numeric ones
/// as integers, which loses `0042`): the fifth field of the header.
fn procid_text(input: &str, pid: i32) -> Option<&str> {
    input
        .split_ascii_whitespace()
        .nth(4)
        .filter(|token| token.parse::<i32>() == Ok(pid))
}

/// Checks that `text` starts with `<N>`, N a PRI of 1 to 3 digits.
fn check_pri(text: &str) -> Result<(), ParseError> {
    let missing = ParseError::InvalidSyslog("missing <PRI> at the start");
    let rest = text.strip_prefix('<').ok_or(missing.clone())?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=3).contains(&digits) || rest.as_bytes().get(digits) != Some(&b'>') {
        return Err(missing);
    }
    let pri: u32 = rest[..digits].parse().map_err(|_| missing)?;
    if pri > MAX_PRI {
        return Err(ParseError::InvalidSyslog("priority over 191"));
    }
    Ok(())
}
