//! Prometheus duration strings (`30s`, `1m`, `1h30m`, `1d`, `2w`, `1y`, `0`).
//!
//! This mirrors `model.ParseDuration` from `prometheus/common`, which is what
//! Prometheus rule files use for `interval`, `query_offset`, `for` and
//! `keep_firing_for`:
//!
//! * a sequence of `<digits><unit>` terms, units `y` (365d), `w` (7d), `d`
//!   (24h), `h`, `m`, `s`, `ms`;
//! * each unit at most once, from the biggest to the smallest (`1h30m` is
//!   valid, `30m1h` and `1m1m` are not);
//! * no sign, no fractions, no spaces;
//! * the bare string `0` is allowed and means zero;
//! * the total must fit a Go `time.Duration` (at most 2^63-1 nanoseconds).
//!
//! The error messages are the ones Prometheus prints, so users recognise them.

use std::time::Duration;

/// Largest duration Prometheus can represent (Go's `time.Duration` is an i64
/// of nanoseconds).
const MAX_NANOS: u64 = i64::MAX as u64;

const NANOS_PER_MS: u64 = 1_000_000;
const NANOS_PER_S: u64 = 1_000 * NANOS_PER_MS;
const NANOS_PER_M: u64 = 60 * NANOS_PER_S;
const NANOS_PER_H: u64 = 60 * NANOS_PER_M;
const NANOS_PER_D: u64 = 24 * NANOS_PER_H;
const NANOS_PER_W: u64 = 7 * NANOS_PER_D;
const NANOS_PER_Y: u64 = 365 * NANOS_PER_D;

/// Units in the order they must appear, with their length in nanoseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", NANOS_PER_Y),
    ("w", NANOS_PER_W),
    ("d", NANOS_PER_D),
    ("h", NANOS_PER_H),
    ("m", NANOS_PER_M),
    ("s", NANOS_PER_S),
    ("ms", NANOS_PER_MS),
];

/// Parses a Prometheus duration such as `5m`, `1h30m` or `0`.
///
/// Returns the Prometheus error message on failure, e.g.
/// `not a valid duration string: "5"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    match s {
        "0" => return Ok(Duration::ZERO),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {s:?}");
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    // Index in UNITS of the last unit seen; the next one must come later.
    let mut next_unit = 0;
    while i < bytes.len() {
        let digits_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits_start {
            return Err(invalid());
        }
        // Digits only, so the only possible failure is overflow of u64.
        let value: u64 = s[digits_start..i].parse().map_err(|_| invalid())?;
        let unit_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == unit_start {
            return Err(invalid());
        }
        // Both ends are next to ASCII digits or the string's ends, so they are
        // char boundaries; `get` keeps this panic-free regardless.
        let unit = s.get(unit_start..i).ok_or_else(invalid)?;
        let Some(pos) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!("unknown unit {unit:?} in duration {s:?}"));
        };
        if pos < next_unit {
            return Err(invalid());
        }
        next_unit = pos + 1;
        let nanos = value
            .checked_mul(UNITS[pos].1)
            .ok_or_else(|| "duration out of range".to_string())?;
        total = total
            .checked_add(nanos)
            .filter(|t| *t <= MAX_NANOS)
            .ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(Duration::from_nanos(total))
}

/// Formats a duration the way Prometheus prints `model.Duration`: `0s`,
/// `1h30m`, `90d`, `1y`, `1s500ms`. Sub-millisecond parts are dropped.
/// Years and weeks are only used when they divide the rest exactly. Only
/// the tests print durations (to check that parsing round-trips).
#[cfg(test)]
fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, nanos) in UNITS {
        let mult = u128::from(nanos / NANOS_PER_MS);
        let exact_only = unit == "y" || unit == "w";
        if exact_only && !ms.is_multiple_of(mult) {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&v.to_string());
            out.push_str(unit);
            ms -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1;
    const S: u64 = 1000 * MS;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    const D: u64 = 24 * H;
    const W: u64 = 7 * D;
    const Y: u64 = 365 * D;

    #[test]
    fn valid_durations() {
        let table: &[(&str, u64)] = &[
            ("0", 0),
            ("0s", 0),
            ("00s", 0),
            ("0ms", 0),
            ("1ms", MS),
            ("30s", 30 * S),
            ("1m", M),
            ("5m", 5 * M),
            ("1h", H),
            ("1h30m", H + 30 * M),
            ("1d", D),
            ("2w", 2 * W),
            ("1y", Y),
            (
                "1y2w3d4h5m6s7ms",
                Y + 2 * W + 3 * D + 4 * H + 5 * M + 6 * S + 7 * MS,
            ),
            ("90m", 90 * M),
            ("1h0m", H),
            ("3600s", H),
            ("1s500ms", S + 500 * MS),
            ("292y", 292 * Y),
        ];
        for (input, ms) in table {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::from_millis(*ms)),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn invalid_durations() {
        let table: &[(&str, &str)] = &[
            ("", "empty duration string"),
            ("5", r#"not a valid duration string: "5""#),
            ("1", r#"not a valid duration string: "1""#),
            ("00", r#"not a valid duration string: "00""#),
            ("s", r#"not a valid duration string: "s""#),
            ("m5", r#"not a valid duration string: "m5""#),
            ("-1m", r#"not a valid duration string: "-1m""#),
            ("+1m", r#"not a valid duration string: "+1m""#),
            ("1.5h", r#"unknown unit "." in duration "1.5h""#),
            ("1 m", r#"unknown unit " m" in duration "1 m""#),
            (" 1m", r#"not a valid duration string: " 1m""#),
            ("1m ", r#"unknown unit "m " in duration "1m ""#),
            ("1x", r#"unknown unit "x" in duration "1x""#),
            ("1ns", r#"unknown unit "ns" in duration "1ns""#),
            ("1us", r#"unknown unit "us" in duration "1us""#),
            ("1M", r#"unknown unit "M" in duration "1M""#),
            ("1µs", r#"unknown unit "µs" in duration "1µs""#),
            ("30m1h", r#"not a valid duration string: "30m1h""#),
            ("1m1m", r#"not a valid duration string: "1m1m""#),
            ("1s1ms1s", r#"not a valid duration string: "1s1ms1s""#),
            ("293y", "duration out of range"),
            ("106751d23h47m16s855ms", "duration out of range"),
            (
                "99999999999999999999s",
                r#"not a valid duration string: "99999999999999999999s""#,
            ),
            ("18446744073709551615y", "duration out of range"),
        ];
        for (input, msg) in table {
            assert_eq!(
                parse_duration(input),
                Err(msg.to_string()),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn largest_duration_is_accepted() {
        // 2^63-1 ns is 106751d23h47m16s854ms and change.
        assert_eq!(
            parse_duration("106751d23h47m16s854ms"),
            Ok(Duration::from_millis(
                106_751 * D + 23 * H + 47 * M + 16 * S + 854
            ))
        );
    }

    #[test]
    fn format_round_trips() {
        let table: &[(u64, &str)] = &[
            (0, "0s"),
            (MS, "1ms"),
            (S + 500 * MS, "1s500ms"),
            (90 * M, "1h30m"),
            (D, "1d"),
            (W, "1w"),
            (8 * D, "8d"),
            (90 * D, "90d"),
            (Y, "1y"),
            (Y + D, "366d"),
        ];
        for (ms, text) in table {
            let d = Duration::from_millis(*ms);
            assert_eq!(format_duration(d), *text);
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
    }
}
