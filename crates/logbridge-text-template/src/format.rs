//! A port of the parts of Go's `fmt` and `strconv` that templates reach:
//! `FormatFloat`, `Sprint`/`Sprintln`/`Sprintf` (verbs, flags, width, precision,
//! argument indexes and the `%!v(...)` error forms), `Quote`, and the
//! `html`/`js`/`urlquery` escapers.

use std::fmt::Write as _;

use super::value::{LabelMap, Sample, Value};

/// Go rejects widths and precisions above this (`%!(BADWIDTH)`).
const TOO_LARGE: usize = 1_000_000;

// ---------------------------------------------------------------------------
// strconv.FormatFloat

/// Decimal digits of a float: value = 0.d1d2d3... × 10^dp. Empty `d` means zero.
struct Digits {
    d: Vec<u8>,
    dp: i64,
}

fn parse_exp_repr(s: &str) -> Digits {
    // `s` is Rust's `{:e}` output for a finite non-negative value, e.g. "1.25e-7".
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    if d.iter().all(|&c| c == b'0') {
        return Digits {
            d: Vec::new(),
            dp: 0,
        };
    }
    Digits { d, dp: exp + 1 }
}

fn shortest_digits(v: f64) -> Digits {
    parse_exp_repr(&format!("{:e}", v.abs()))
}

/// A double's exact decimal expansion has at most 767 significant digits and
/// 1074 fractional digits, so formatting more digits than these only appends
/// zeros; capping keeps Rust's `u16` precision limit out of reach.
const MAX_SIG_DIGITS: usize = 800;
const MAX_FRAC_DIGITS: usize = 1100;

/// `n` significant digits, correctly rounded, trailing zeros trimmed.
fn fixed_digits(v: f64, n: usize) -> Digits {
    let n = n.min(MAX_SIG_DIGITS);
    let mut d = parse_exp_repr(&format!("{:.*e}", n.saturating_sub(1), v.abs()));
    while d.d.last() == Some(&b'0') {
        d.d.pop();
    }
    d
}

fn fmt_e(out: &mut String, d: &Digits, prec: i64, e: char) {
    out.push(d.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        let mut i = 1usize;
        let m = d.d.len().min(prec as usize + 1);
        if i < m {
            out.extend(d.d[i..m].iter().map(|&c| c as char));
            i = m;
        }
        while (i as i64) <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(e);
    let mut exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    let _ = write!(out, "{exp}");
}

fn fmt_f(out: &mut String, d: &Digits, prec: i64) {
    if d.dp > 0 {
        let m = d.d.len().min(d.dp as usize);
        out.extend(d.d[..m].iter().map(|&c| c as char));
        for _ in m as i64..d.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            let c = if j >= 0 && (j as usize) < d.d.len() {
                d.d[j as usize] as char
            } else {
                '0'
            };
            out.push(c);
        }
    }
}

/// Mantissa and binary exponent as strconv decomposes a finite float64.
fn float_bits(v: f64) -> (u64, i64) {
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1 << 52) - 1);
    let exp = if biased == 0 {
        1 - 1023
    } else {
        mant |= 1 << 52;
        biased - 1023
    };
    (mant, exp)
}

/// strconv's `%b`: `-ddddp±ddd` (mantissa times a power of two).
fn fmt_b(out: &mut String, v: f64) {
    let (mant, exp) = float_bits(v);
    let exp = exp - 52;
    let _ = write!(out, "{mant}p{}{exp}", if exp >= 0 { "+" } else { "" });
}

/// strconv's `%x`/`%X`: `-0x1.yyyyp±dd`.
fn fmt_x(out: &mut String, v: f64, prec: i64, upper: bool) {
    let (mut mant, mut exp) = float_bits(v);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.push('0');
    out.push(if upper { 'X' } else { 'x' });
    out.push(if (mant >> 60) & 1 == 1 { '1' } else { '0' });
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    out.push(if upper { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.abs());
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)` for `fmt` in `bxXeEfFgG`.
pub(crate) fn format_float(v: f64, fmt: char, prec: i64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    match fmt {
        'b' => {
            fmt_b(&mut out, v);
            return out;
        }
        'x' | 'X' => {
            fmt_x(&mut out, v, prec.min(TOO_LARGE as i64), fmt == 'X');
            return out;
        }
        _ => {}
    }
    let shortest = prec < 0;
    let prec = prec.min(TOO_LARGE as i64);
    match fmt {
        'f' | 'F' if !shortest => {
            let p = prec as usize;
            let _ = write!(out, "{:.*}", p.min(MAX_FRAC_DIGITS), v.abs());
            out.extend(std::iter::repeat_n('0', p.saturating_sub(MAX_FRAC_DIGITS)));
        }
        'f' | 'F' => {
            let d = shortest_digits(v);
            let p = (d.d.len() as i64 - d.dp).max(0);
            fmt_f(&mut out, &d, p);
        }
        'e' | 'E' => {
            let (d, p) = if shortest {
                let d = shortest_digits(v);
                let p = (d.d.len() as i64 - 1).max(0);
                (d, p)
            } else {
                (fixed_digits(v, prec as usize + 1), prec)
            };
            fmt_e(&mut out, &d, p, fmt);
        }
        _ => {
            let e = if fmt == 'G' { 'E' } else { 'e' };
            let (d, mut p) = if shortest {
                let d = shortest_digits(v);
                let n = d.d.len() as i64;
                (d, n)
            } else {
                let p = prec.max(1);
                (fixed_digits(v, p as usize), p)
            };
            let nd = d.d.len() as i64;
            let mut eprec = p;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(&mut out, &d, p - 1, e);
            } else {
                if p > d.dp {
                    p = nd;
                }
                fmt_f(&mut out, &d, (p - d.dp).max(0));
            }
        }
    }
    out
}

/// `fmt.Sprint(v)` for a float64, i.e. `%v`.
pub(crate) fn float_v(v: f64) -> String {
    format_float(v, 'g', -1)
}

// ---------------------------------------------------------------------------
// strconv.Quote and friends

/// Approximation of Go's `strconv.IsPrint`.
pub(crate) fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{e000}'..='\u{f8ff}'
            | '\u{f0000}'..='\u{10ffff}'))
}

fn escaped_rune(out: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        out.push('\\');
        out.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && is_print(r) {
            out.push(r);
            return;
        }
    } else if is_print(r) {
        out.push(r);
        return;
    }
    match r {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        r if r < ' ' || r == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", r as u32);
        }
        r if (r as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", r as u32);
        }
        r => {
            let _ = write!(out, "\\U{:08x}", r as u32);
        }
    }
}

/// Go's `strconv.Quote` (or `QuoteToASCII`).
pub(crate) fn quote(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escaped_rune(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

fn quote_rune(r: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    escaped_rune(&mut out, r, '\'', ascii_only);
    out.push('\'');
    out
}

fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{feff}' && (c == '\t' || !(c < ' ' || c == '\x7f')))
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c if c.is_ascii() || is_print(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// fmt printer

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    sharp_v: bool,
    plus_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid.filter(|w| *w > 0) else {
            self.buf.push_str(s);
            return;
        };
        let width = wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    fn pad_no_zero(&mut self, s: &str) {
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(s);
        self.f.zero = old;
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => s.char_indices().nth(p).map_or(s, |(i, _)| &s[..i]),
            None => s,
        }
    }

    fn fmt_integer(&mut self, v: i64, base: u32, verb: char) {
        let negative = v < 0;
        let u = v.unsigned_abs();
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let w = self.f.wid.unwrap_or(0);
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(w);
                self.f.zero = old;
                return;
            }
        } else if let (true, false, Some(w)) = (self.f.zero, self.f.minus, self.f.wid) {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut digits = match (base, verb) {
            (16, 'X') => format!("{u:X}"),
            (16, _) => format!("{u:x}"),
            (8, _) => format!("{u:o}"),
            (2, _) => format!("{u:b}"),
            _ => u.to_string(),
        };
        if digits.len() < prec {
            digits = "0".repeat(prec - digits.len()) + &digits;
        }
        let mut prefix = String::new();
        if self.f.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if !digits.starts_with('0') => prefix.push('0'),
                16 => prefix.push_str(if verb == 'X' { "0X" } else { "0x" }),
                _ => {}
            }
        }
        if verb == 'O' {
            prefix.insert_str(0, "0o");
        }
        if negative {
            prefix.insert(0, '-');
        } else if self.f.plus {
            prefix.insert(0, '+');
        } else if self.f.space {
            prefix.insert(0, ' ');
        }
        self.pad_no_zero(&(prefix + &digits));
    }

    fn fmt_unicode(&mut self, v: i64) {
        let u = v as u64;
        let hex = format!("{u:X}");
        let width = self.f.prec.unwrap_or(4).max(4);
        let mut s = String::from("U+");
        s.extend(std::iter::repeat_n('0', width.saturating_sub(hex.len())));
        s.push_str(&hex);
        if self.f.sharp
            && let Some(c) = u32::try_from(u)
                .ok()
                .and_then(char::from_u32)
                .filter(|c| is_print(*c))
        {
            s.push_str(&format!(" '{c}'"));
        }
        self.pad_no_zero(&s);
    }

    fn fmt_float(&mut self, v: f64, verb: char, default_prec: i64) {
        let prec = self.f.prec.map_or(default_prec, |p| p as i64);
        let body = format_float(v, verb, prec);
        let mut num = if body.starts_with('-') || body.starts_with('+') {
            body
        } else {
            format!("+{body}")
        };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        if num[1..].starts_with('I') || num[1..].starts_with('N') {
            if num[1..].starts_with('N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad_no_zero(&num);
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = match verb {
                'v' | 'g' | 'G' | 'x' => {
                    if prec == -1 {
                        6
                    } else {
                        prec
                    }
                }
                _ => 0,
            };
            let hexa = matches!(verb, 'x' | 'X');
            let split = num
                .char_indices()
                .skip(1)
                .find(|(_, c)| matches!(c, 'p' | 'P') || (!hexa && matches!(c, 'e' | 'E')))
                .map(|(i, _)| i);
            let (body, tail) = match split {
                Some(i) => (num[..i].to_string(), num[i..].to_string()),
                None => (num.clone(), String::new()),
            };
            let mut body = body;
            let mut saw_nonzero = false;
            for c in body[1..].chars() {
                if c == '.' {
                    continue;
                }
                if c != '0' {
                    saw_nonzero = true;
                }
                if saw_nonzero {
                    digits -= 1;
                }
            }
            if !body.contains('.') {
                if body.len() == 2 && body.ends_with('0') {
                    digits -= 1;
                }
                body.push('.');
            }
            while digits > 0 {
                body.push('0');
                digits -= 1;
            }
            num = body + &tail;
        }
        if self.f.plus || !num.starts_with('+') {
            if let (true, false, Some(w)) = (self.f.zero, self.f.minus, self.f.wid)
                && w > num.len()
            {
                let (sign, rest) = num.split_at(1);
                self.buf.push_str(sign);
                self.write_padding(w - num.len());
                self.buf.push_str(rest);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let bytes = s.as_bytes();
        let length = self.f.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
        let mut width = 2 * length;
        if width == 0 {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        if self.f.space {
            if self.f.sharp {
                width *= 2;
            }
            width += length - 1;
        } else if self.f.sharp {
            width += 2;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        let x = if upper { "0X" } else { "0x" };
        if self.f.sharp {
            self.buf.push_str(x);
        }
        for (i, b) in bytes.iter().take(length).enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push_str(x);
                }
            }
            let _ = if upper {
                write!(self.buf, "{b:02X}")
            } else {
                write!(self.buf, "{b:02x}")
            };
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => {
                let t = self.truncate(s);
                self.pad(t);
            }
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, &Value::str(s)),
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
        } else {
            let q = quote(s, self.f.plus);
            self.pad(&q);
        }
    }

    fn bad_verb(&mut self, verb: char, v: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if let Value::Nil = v {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(v.type_name());
            self.buf.push('=');
            self.print_value(v, 'v', 0);
        }
        self.buf.push(')');
    }

    fn print_labels(&mut self, m: &LabelMap, verb: char) {
        self.buf.push_str("map[");
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                self.buf.push(' ');
            }
            self.fmt_string(k, verb);
            self.buf.push(':');
            self.fmt_string(v, verb);
        }
        self.buf.push(']');
    }

    /// A `sample` struct: `{map[..] 1}`, or `{Labels:map[..] Value:1}` for `%+v`.
    fn print_sample_struct(&mut self, s: &Sample, verb: char, depth: usize) {
        let names = self.f.plus_v || self.f.sharp_v;
        self.buf.push('{');
        if names {
            self.buf.push_str("Labels:");
        }
        self.print_labels(&s.labels, verb);
        self.buf.push(' ');
        if names {
            self.buf.push_str("Value:");
        }
        self.print_value(&Value::Float(s.value), verb, depth + 1);
        self.buf.push('}');
    }

    /// Go's `printArg` (depth 0) and `printValue` (nested) for our value types.
    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        if depth == 0 {
            match (v, verb) {
                (Value::Nil, 'T' | 'v') => return self.pad("<nil>"),
                (Value::Nil, _) => return self.bad_verb(verb, v),
                (_, 'T') => {
                    let t = self.truncate(v.type_name()).to_string();
                    return self.pad(&t);
                }
                (_, 'p') => return self.bad_verb(verb, v),
                _ => {}
            }
        }
        match v {
            Value::Nil => self.buf.push_str("<nil>"),
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) => match verb {
                'v' | 'd' => self.fmt_integer(*i, 10, verb),
                'b' => self.fmt_integer(*i, 2, verb),
                'o' | 'O' => self.fmt_integer(*i, 8, verb),
                'x' | 'X' => self.fmt_integer(*i, 16, verb),
                'c' => {
                    let c = u32::try_from(*i)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{fffd}');
                    self.pad(c.encode_utf8(&mut [0; 4]));
                }
                'q' => {
                    let c = u32::try_from(*i)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{fffd}');
                    let q = quote_rune(c, self.f.plus);
                    self.pad(&q);
                }
                'U' => self.fmt_unicode(*i),
                _ => self.bad_verb(verb, v),
            },
            Value::Float(f) => match verb {
                'v' => self.fmt_float(*f, 'g', -1),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*f, verb, -1),
                'e' | 'E' | 'f' => self.fmt_float(*f, verb, 6),
                'F' => self.fmt_float(*f, 'f', 6),
                _ => self.bad_verb(verb, v),
            },
            Value::Str(s) => self.fmt_string(s, verb),
            Value::Time(t) => match verb {
                'v' | 's' | 'x' | 'X' | 'q' => self.fmt_string(&t.to_string(), verb),
                _ => self.bad_verb(verb, v),
            },
            Value::Labels(m) => self.print_labels(m, verb),
            Value::Map(m) => {
                self.buf.push_str("map[");
                for (i, (k, val)) in m.entries.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.fmt_string(k, verb);
                    self.buf.push(':');
                    self.print_value(val, verb, depth + 1);
                }
                self.buf.push(']');
            }
            // Go prints nested pointers via fmtPointer: only v/p/b/o/d/x/X apply.
            Value::Sample(_) if depth > 0 && !"vpbodxX".contains(verb) => self.bad_verb(verb, v),
            Value::Sample(s) => {
                self.buf.push('&');
                self.print_sample_struct(s, verb, depth);
            }
            Value::Samples(list) => {
                self.buf.push('[');
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.print_value(&Value::Sample(s.clone()), verb, depth + 1);
                }
                self.buf.push(']');
            }
            Value::Data(d) => {
                let names = self.f.plus_v || self.f.sharp_v;
                let field = |p: &mut Self, name: &str| {
                    if names {
                        p.buf.push_str(name);
                        p.buf.push(':');
                    }
                };
                self.buf.push('{');
                field(self, "Labels");
                self.print_labels(&d.labels, verb);
                self.buf.push(' ');
                field(self, "ExternalLabels");
                self.print_labels(&d.external_labels, verb);
                self.buf.push(' ');
                field(self, "ExternalURL");
                self.fmt_string(&d.external_url, verb);
                self.buf.push(' ');
                field(self, "Value");
                self.print_value(&Value::Float(d.value), verb, depth + 1);
                self.buf.push('}');
            }
        }
    }
}

/// `fmt.Sprint(v)`: the default `%v` rendering.
pub(crate) fn sprint_value(v: &Value) -> String {
    let mut p = Printer::default();
    p.print_value(v, 'v', 0);
    p.buf
}

/// How `{{ pipeline }}` prints a value: like `fmt.Sprint`, but a top-level
/// pointer is dereferenced first (`text/template`'s `printableValue`).
pub(crate) fn print_action_value(v: &Value) -> String {
    match v {
        Value::Sample(s) => {
            let mut p = Printer::default();
            p.print_sample_struct(s, 'v', 0);
            p.buf
        }
        other => sprint_value(other),
    }
}

/// `text/template`'s `evalArgs` (used by `html`, `js`, `urlquery`): a lone
/// string as is, else `fmt.Sprint` of the values after `printableValue`.
pub(crate) fn eval_args(args: &[Value]) -> String {
    if let [Value::Str(s)] = args {
        return s.to_string();
    }
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let (text, is_string) = match a {
            Value::Nil => ("<no value>".to_string(), true),
            Value::Str(s) => (s.to_string(), true),
            other => (print_action_value(other), false),
        };
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        out.push_str(&text);
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprint(args...)`: spaces between operands when neither is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_value(a, 'v', 0);
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln(args...)`.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_value(a, 'v', 0);
    }
    p.buf.push('\n');
    p.buf
}

fn parse_num(s: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let mut num = 0usize;
    let mut found = false;
    while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        if num > TOO_LARGE {
            return (None, s.len());
        }
        num = num * 10 + usize::from(c - b'0');
        found = true;
        i += 1;
    }
    (found.then_some(num), i)
}

/// Parses `[n]` at `i`: returns (index if valid and in range, new i, found).
fn arg_number(
    s: &[u8],
    i: usize,
    arg_num: usize,
    nargs: usize,
    good: &mut bool,
) -> (usize, usize, bool) {
    if s.get(i) != Some(&b'[') {
        return (arg_num, i, false);
    }
    let Some(close) = s[i..].iter().position(|&c| c == b']') else {
        *good = false;
        return (arg_num, i + 1, false);
    };
    let (n, end) = parse_num(s, i + 1);
    if close < 2 || end != i + close {
        *good = false;
        return (arg_num, i + close + 1, false);
    }
    match n {
        Some(n) if n >= 1 && n - 1 < nargs => (n - 1, i + close + 1, true),
        _ => {
            *good = false;
            (arg_num, i + close + 1, true)
        }
    }
}

fn int_from_arg(args: &[Value], arg_num: usize) -> (Option<i64>, usize) {
    match args.get(arg_num) {
        Some(Value::Int(n)) if n.unsigned_abs() <= TOO_LARGE as u64 => (Some(*n), arg_num + 1),
        Some(_) => (None, arg_num + 1),
        None => (None, arg_num),
    }
}

/// `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    let s = format.as_bytes();
    let end = s.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    while i < end {
        let mut good = true;
        let last = i;
        while i < end && s[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.buf.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            match s[i] {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                _ => break,
            }
            i += 1;
        }
        let (n, ni, mut after_index) = arg_number(s, i, arg_num, args.len(), &mut good);
        reordered |= ni != i;
        arg_num = n;
        i = ni;
        if s.get(i) == Some(&b'*') {
            i += 1;
            let (w, n) = int_from_arg(args, arg_num);
            arg_num = n;
            match w {
                Some(w) if w < 0 => {
                    p.f.wid = Some(w.unsigned_abs() as usize);
                    p.f.minus = true;
                    p.f.zero = false;
                }
                Some(w) => p.f.wid = Some(w as usize),
                None => p.buf.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (w, ni) = parse_num(s, i);
            p.f.wid = w;
            i = ni;
            if after_index && w.is_some() {
                good = false;
            }
        }
        if i + 1 < end && s[i] == b'.' {
            i += 1;
            if after_index {
                good = false;
            }
            let (n, ni, ai) = arg_number(s, i, arg_num, args.len(), &mut good);
            reordered |= ni != i;
            arg_num = n;
            i = ni;
            after_index = ai;
            if s.get(i) == Some(&b'*') {
                i += 1;
                let (pr, n) = int_from_arg(args, arg_num);
                arg_num = n;
                match pr {
                    Some(pr) if pr >= 0 => p.f.prec = Some(pr as usize),
                    _ => {
                        p.f.prec = None;
                        p.buf.push_str("%!(BADPREC)");
                    }
                }
                after_index = false;
            } else {
                let (pr, ni) = parse_num(s, i);
                i = ni;
                p.f.prec = Some(pr.unwrap_or(0));
            }
        }
        if !after_index {
            let (n, ni, _) = arg_number(s, i, arg_num, args.len(), &mut good);
            reordered |= ni != i;
            arg_num = n;
            i = ni;
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        if verb == '%' {
            p.buf.push('%');
            continue;
        }
        if !good {
            let _ = write!(p.buf, "%!{verb}(BADINDEX)");
            continue;
        }
        let Some(arg) = args.get(arg_num) else {
            let _ = write!(p.buf, "%!{verb}(MISSING)");
            continue;
        };
        if verb == 'v' {
            p.f.sharp_v = p.f.sharp;
            p.f.sharp = false;
            p.f.plus_v = p.f.plus;
            p.f.plus = false;
        }
        p.print_value(arg, verb, 0);
        arg_num += 1;
    }
    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            if let Value::Nil = a {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(a.type_name());
                p.buf.push('=');
                p.print_value(a, 'v', 0);
            }
        }
        p.buf.push(')');
    }
    p.buf
}
