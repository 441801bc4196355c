//! Go `regexp` compatibility on top of the `regex` crate: syntax translation and
//! `ReplaceAllString` semantics (empty-match rules and `$name` expansion).

use regex::{Captures, Regex};

/// Rewrites Go RE2 syntax where Rust's `regex` differs: ASCII-only `\d \w \s \b`,
/// `\Q...\E`, literal `{` when not a repetition, and Go's flat character classes.
pub(crate) fn translate_regex(p: &str) -> String {
    const D: &str = "0-9";
    const W: &str = "0-9A-Za-z_";
    const S: &str = "\\t\\n\\f\\r ";
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.char_indices().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some((i, c)) = chars.next() {
        let was_start = class_start;
        class_start = false;
        match c {
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match e {
                    'Q' => {
                        let rest = &p[i + 2..];
                        let lit = rest.find("\\E").map_or(rest, |j| &rest[..j]);
                        out.push_str(&regex::escape(lit));
                        let skip = lit.chars().count() + if rest.len() > lit.len() { 2 } else { 0 };
                        for _ in 0..skip {
                            chars.next();
                        }
                    }
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                        let set = match e.to_ascii_lowercase() {
                            'd' => D,
                            'w' => W,
                            _ => S,
                        };
                        let neg = e.is_ascii_uppercase();
                        match (in_class, neg) {
                            (true, false) => out.push_str(set),
                            (_, true) => out.push_str(&format!("[^{set}]")),
                            (false, false) => out.push_str(&format!("[{set}]")),
                        }
                    }
                    'b' | 'B' if !in_class => out.push_str(&format!("(?-u:\\{e})")),
                    e => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if in_class => {
                if p[i..].starts_with("[:") {
                    let end = p[i..].find(":]").map_or(p.len(), |j| i + j + 2);
                    out.push_str(&p[i..end]);
                    while chars.peek().is_some_and(|(j, _)| *j < end) {
                        chars.next();
                    }
                } else {
                    out.push_str("\\[");
                }
            }
            '[' => {
                in_class = true;
                out.push('[');
                if chars.peek().is_some_and(|(_, n)| *n == '^') {
                    chars.next();
                    out.push('^');
                }
                class_start = true;
            }
            ']' if in_class && !was_start => {
                in_class = false;
                out.push(']');
            }
            ']' if in_class => out.push_str("\\]"),
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class => {
                let rest = &p[i + 1..];
                let close = rest.find('}');
                let valid = close.is_some_and(|j| {
                    let inner = &rest[..j];
                    let (a, b) = inner.split_once(',').unwrap_or((inner, "0"));
                    !a.is_empty()
                        && a.bytes().all(|x| x.is_ascii_digit())
                        && b.bytes().all(|x| x.is_ascii_digit())
                });
                match (valid, close) {
                    (true, Some(j)) => {
                        out.push_str(&p[i..i + j + 2]);
                        for _ in 0..rest[..=j].chars().count() {
                            chars.next();
                        }
                    }
                    _ => out.push_str("\\{"),
                }
            }
            '}' if !in_class => out.push_str("\\}"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `Regexp.ReplaceAllString`, including its empty-match rules and `$` expansion.
pub(crate) fn replace_all(re: &Regex, src: &str, repl: &str) -> String {
    let names: Vec<Option<&str>> = re.capture_names().collect();
    let mut out = String::with_capacity(src.len());
    let mut last_end = 0usize;
    let mut pos = 0usize;
    while pos <= src.len() {
        let Some(caps) = re.captures_at(src, pos) else {
            break;
        };
        let Some(m) = caps.get(0) else { break };
        let (a0, a1) = (m.start(), m.end());
        out.push_str(src.get(last_end..a0).unwrap_or(""));
        if a1 > last_end || a0 == 0 {
            expand(&mut out, repl, &caps, &names);
        }
        last_end = a1;
        let width = src
            .get(pos..)
            .and_then(|s| s.chars().next())
            .map_or(0, char::len_utf8);
        if pos + width > a1 {
            pos += width;
        } else if pos + 1 > a1 {
            pos += 1;
        } else {
            pos = a1;
        }
        if width == 0 && pos > src.len() {
            break;
        }
    }
    out.push_str(src.get(last_end..).unwrap_or(""));
    out
}

fn expand(out: &mut String, mut tmpl: &str, caps: &Captures<'_>, names: &[Option<&str>]) {
    while let Some(i) = tmpl.find('$') {
        out.push_str(&tmpl[..i]);
        tmpl = &tmpl[i + 1..];
        if let Some(r) = tmpl.strip_prefix('$') {
            out.push('$');
            tmpl = r;
            continue;
        }
        let (brace, body) = match tmpl.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, tmpl),
        };
        let n = body
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(body.len(), |(j, _)| j);
        if n == 0 || (brace && !body[n..].starts_with('}')) {
            out.push('$');
            continue;
        }
        let name = &body[..n];
        tmpl = &body[n + usize::from(brace)..];
        let num = if name.bytes().all(|b| b.is_ascii_digit())
            && !(name.starts_with('0') && name.len() > 1)
        {
            name.parse::<usize>().ok()
        } else {
            None
        };
        let m = match num {
            Some(k) => caps.get(k),
            None => names
                .iter()
                .position(|x| *x == Some(name))
                .and_then(|k| caps.get(k)),
        };
        if let Some(m) = m {
            out.push_str(m.as_str());
        }
    }
    out.push_str(tmpl);
}
