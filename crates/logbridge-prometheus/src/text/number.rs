//! Number tokens of the exposition formats: sample values, `le` and
//! `quantile` label values, and timestamps (seconds in OpenMetrics,
//! milliseconds in 0.0.4).
//!
//! Most values on the wire are short decimals (`0`, `17`, `0.005`,
//! `1.2e-3`), so they are decoded directly from the digits when the result
//! is exact (mantissa below 2^53, power of ten up to 22: one correctly
//! rounded multiply or divide). Anything else that matches the grammar goes
//! to the standard library's parser. Hexadecimal floats, underscores and
//! other spellings that some languages accept are rejected in both formats.

/// Exact powers of ten as `f64` (10^22 is the largest one that is exact).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The shape of a decimal token, as read by [`scan_decimal`].
struct Decimal {
    negative: bool,
    /// Up to 19 significant digits; `overflow` is set beyond that.
    mantissa: u64,
    /// Power of ten to apply to `mantissa`.
    exponent: i64,
    overflow: bool,
    has_exponent: bool,
}

/// Reads `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?` and
/// nothing else; `None` when the token does not have that shape.
#[inline]
fn scan_decimal(tok: &[u8]) -> Option<Decimal> {
    let mut i = 0;
    let mut negative = false;
    match tok.first() {
        Some(b'-') => {
            negative = true;
            i = 1;
        }
        Some(b'+') => i = 1,
        _ => {}
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut exponent: i64 = 0;
    let mut overflow = false;
    let mut seen_digit = false;
    while let Some(&c) = tok.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        seen_digit = true;
        if mantissa != 0 || d != 0 {
            if digits < 19 {
                mantissa = mantissa * 10 + u64::from(d);
                digits += 1;
            } else {
                overflow = true;
                exponent += 1;
            }
        }
        i += 1;
    }
    if tok.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = tok.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            seen_digit = true;
            if mantissa != 0 || d != 0 {
                if digits < 19 {
                    mantissa = mantissa * 10 + u64::from(d);
                    digits += 1;
                    exponent -= 1;
                } else {
                    overflow = true;
                }
            } else {
                exponent -= 1;
            }
            i += 1;
        }
    }
    if !seen_digit {
        return None;
    }
    let mut has_exponent = false;
    if let Some(b'e' | b'E') = tok.get(i) {
        has_exponent = true;
        i += 1;
        let mut exp_negative = false;
        match tok.get(i) {
            Some(b'-') => {
                exp_negative = true;
                i += 1;
            }
            Some(b'+') => i += 1,
            _ => {}
        }
        let start = i;
        let mut e: i64 = 0;
        while let Some(&c) = tok.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            // Saturate: anything this large is 0 or infinity anyway.
            e = (e * 10 + i64::from(d)).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        exponent += if exp_negative { -e } else { e };
    }
    if i != tok.len() {
        return None;
    }
    Some(Decimal {
        negative,
        mantissa,
        exponent,
        overflow,
        has_exponent,
    })
}

/// The decimal's value: exact fast path, else the standard parser.
#[inline]
fn decimal_value(tok: &[u8], d: &Decimal) -> Option<f64> {
    if !d.overflow && d.mantissa < (1 << 53) && (-22..=22).contains(&d.exponent) {
        let m = d.mantissa as f64;
        let idx = d.exponent.unsigned_abs() as usize;
        let pow = *POW10.get(idx)?;
        let v = if d.exponent < 0 { m / pow } else { m * pow };
        return Some(if d.negative { -v } else { v });
    }
    if d.mantissa == 0 && !d.overflow {
        return Some(if d.negative { -0.0 } else { 0.0 });
    }
    // The token matched the decimal grammar, so it is ASCII and the
    // standard parser accepts it.
    std::str::from_utf8(tok).ok()?.parse::<f64>().ok()
}

/// A sample value: a decimal, or NaN / infinity spelled as OpenMetrics
/// allows (case-insensitive `nan`, `inf`, `infinity`, with a sign for the
/// infinities).
#[inline]
pub(crate) fn parse_value(tok: &[u8]) -> Option<f64> {
    if let Some(d) = scan_decimal(tok) {
        return decimal_value(tok, &d);
    }
    parse_special(tok)
}

fn parse_special(tok: &[u8]) -> Option<f64> {
    let (negative, word) = match tok.first() {
        Some(b'-') => (true, tok.get(1..)?),
        Some(b'+') => (false, tok.get(1..)?),
        _ => {
            if tok.eq_ignore_ascii_case(b"nan") {
                return Some(f64::NAN);
            }
            (false, tok)
        }
    };
    if word.eq_ignore_ascii_case(b"inf") || word.eq_ignore_ascii_case(b"infinity") {
        Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        })
    } else {
        None
    }
}

/// An OpenMetrics `le` or `quantile` label value. Stricter than sample
/// values: the only infinity is `+Inf`, spelled exactly so, because these
/// values are compared as text by queries.
pub(crate) fn parse_bound(tok: &[u8], strict: bool) -> Option<f64> {
    if let Some(d) = scan_decimal(tok) {
        return decimal_value(tok, &d);
    }
    if strict {
        match tok {
            b"+Inf" => Some(f64::INFINITY),
            b"-Inf" => Some(f64::NEG_INFINITY),
            b"NaN" => Some(f64::NAN),
            _ => None,
        }
    } else {
        parse_special(tok)
    }
}

/// An OpenMetrics timestamp (seconds, possibly fractional or with an
/// exponent) in nanoseconds. Plain `secs.fraction` is converted from the
/// digits without going through a float, so nanoseconds survive; values
/// beyond the `i64` range saturate.
pub(crate) fn parse_seconds(tok: &[u8]) -> Option<i64> {
    let d = scan_decimal(tok)?;
    if !d.has_exponent {
        let (negative, body) = match tok.first() {
            Some(b'-') => (true, tok.get(1..)?),
            Some(b'+') => (false, tok.get(1..)?),
            _ => (false, tok),
        };
        let (int, frac) = match memchr::memchr(b'.', body) {
            Some(dot) => (body.get(..dot)?, body.get(dot + 1..)?),
            None => (body, &b""[..]),
        };
        let mut secs: i64 = 0;
        let mut exact = true;
        for &c in int {
            match secs
                .checked_mul(10)
                .and_then(|s| s.checked_add(i64::from(c - b'0')))
            {
                Some(s) => secs = s,
                None => {
                    exact = false;
                    break;
                }
            }
        }
        if exact {
            let mut nanos: i64 = 0;
            for i in 0..9 {
                let digit = frac.get(i).map_or(0, |c| i64::from(c - b'0'));
                nanos = nanos * 10 + digit;
            }
            if let Some(total) = secs
                .checked_mul(1_000_000_000)
                .and_then(|s| s.checked_add(nanos))
            {
                return Some(if negative { -total } else { total });
            }
        }
    }
    let v = decimal_value(tok, &d)?;
    // `as` saturates at the i64 range, which is what a far-future stamp
    // should become.
    Some((v * 1e9).round() as i64)
}

/// A 0.0.4 timestamp: integer milliseconds (a fractional or exponent form
/// is tolerated), in nanoseconds, saturating.
pub(crate) fn parse_millis(tok: &[u8]) -> Option<i64> {
    // An integer, as Prometheus reads it: a fraction of a millisecond could
    // not be written back in this format, and Prometheus refuses one too.
    let d = scan_decimal(tok)?;
    if d.has_exponent || d.overflow || memchr::memchr(b'.', tok).is_some() {
        return None;
    }
    let ms = i64::try_from(d.mantissa).ok()?;
    let ms = if d.negative { -ms } else { ms };
    // The mantissa drops leading zeros and keeps every digit here.
    let ms = ms.checked_mul(10i64.checked_pow(u32::try_from(d.exponent).ok()?)?)?;
    Some(ms.saturating_mul(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let cases: &[(&str, f64)] = &[
            ("0", 0.0),
            ("17", 17.0),
            ("-1", -1.0),
            ("+1.5", 1.5),
            ("0.005", 0.005),
            ("1.2e-3", 1.2e-3),
            ("1e+06", 1e6),
            ("1.", 1.0),
            (".5", 0.5),
            ("0000000000000000000000000000000000000000001.2e-1", 0.12),
            ("9223372036854775808", 9223372036854775808.0),
            ("0.013300656000000001", 0.013300656000000001),
            ("1.55555555555552e+06", 1.55555555555552e+06),
            ("2.478268416e+09", 2.478268416e+09),
            ("1e300", 1e300),
            ("+Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("inf", f64::INFINITY),
        ];
        for (tok, want) in cases {
            assert_eq!(parse_value(tok.as_bytes()), Some(*want), "{tok}");
        }
        assert!(parse_value(b"NaN").unwrap().is_nan());
        for bad in [
            "", "a", "0x1", "0X1", "0x1p-3", "1_2", "0b1", "0o1", "1 ", "1e", ".", "-", "1.1.1",
        ] {
            assert_eq!(parse_value(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn bounds_are_strict_about_infinity() {
        assert_eq!(parse_bound(b"+Inf", true), Some(f64::INFINITY));
        assert_eq!(parse_bound(b"+INF", true), None);
        assert_eq!(parse_bound(b"+INF", false), Some(f64::INFINITY));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_seconds(b"000"), Some(0));
        assert_eq!(parse_seconds(b"1.1"), Some(1_100_000_000));
        assert_eq!(parse_seconds(b"0.0000000010"), Some(1));
        assert_eq!(parse_seconds(b"-1.5"), Some(-1_500_000_000));
        assert_eq!(parse_seconds(b"1.5e3"), Some(1_500_000_000_000));
        assert_eq!(
            parse_seconds(b"12345678901234567890.1234567890"),
            Some(i64::MAX)
        );
        assert_eq!(parse_seconds(b"NaN"), None);
        assert_eq!(parse_seconds(b"Inf"), None);
        assert_eq!(parse_seconds(b"1z"), None);
        assert_eq!(
            parse_millis(b"1395066363000"),
            Some(1_395_066_363_000_000_000)
        );
        assert_eq!(parse_millis(b"-5"), Some(-5_000_000));
        assert_eq!(parse_millis(b"100"), Some(100_000_000));
        assert_eq!(parse_millis(b".1"), None);
        assert_eq!(parse_millis(b"1.5"), None);
        assert_eq!(parse_millis(b"1e3"), None);
    }
}
