//! Go's builtin template functions and Prometheus' template functions
//! (`template/template.go` and `prometheus/common/helpers/templates`).

use std::rc::Rc;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

use super::exec::Exec;
use super::format::{self, eval_args, float_v, format_float, html_escape, js_escape, query_escape};
use super::parser::strip_underscores;
use super::regexp::{replace_all, translate_regex};
use super::timefmt::Time;
use super::value::{ArgsMap, Sample, Value, label_get, label_map};

/// Maximum nesting of `args` maps (printing and dropping recurse over them).
const MAX_VALUE_DEPTH: usize = 32;
/// Compiled regexes are cached per template (across expansions); the cache is bounded.
const MAX_CACHED_REGEXES: usize = 64;

/// Parameter kinds, i.e. the Go parameter types that drive argument conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    /// `string`
    Str,
    /// `interface{}`
    Any,
    /// `reflect.Value` (Go builtins such as `eq`, `len`, `index`)
    Value,
    /// `queryResult`
    Samples,
    /// `*sample`
    Sample,
}

impl Param {
    pub fn type_name(self) -> &'static str {
        match self {
            Param::Str => "string",
            Param::Any => "interface {}",
            Param::Value => "reflect.Value",
            Param::Samples => "template.queryResult",
            Param::Sample => "*template.sample",
        }
    }
}

pub(crate) struct Sig {
    pub fixed: &'static [Param],
    pub variadic: Option<Param>,
}

macro_rules! funcs {
    ($($variant:ident => $name:literal, [$($p:ident),*], $var:expr;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func { $($variant),* }

        impl Func {
            pub fn lookup(name: &str) -> Option<Func> {
                match name { $($name => Some(Func::$variant),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $(Func::$variant => $name),* }
            }
            pub fn sig(self) -> Sig {
                match self { $(Func::$variant => Sig { fixed: &[$(Param::$p),*], variadic: $var }),* }
            }
        }
    };
}

const V: Option<Param> = Some(Param::Value);
const A: Option<Param> = Some(Param::Any);

funcs! {
    And => "and", [Value], V;
    Or => "or", [Value], V;
    Not => "not", [Value], None;
    Len => "len", [Value], None;
    Index => "index", [Value], V;
    Slice => "slice", [Value], V;
    Eq => "eq", [Value], V;
    Ne => "ne", [Value, Value], None;
    Lt => "lt", [Value, Value], None;
    Le => "le", [Value, Value], None;
    Gt => "gt", [Value, Value], None;
    Ge => "ge", [Value, Value], None;
    Print => "print", [], A;
    Printf => "printf", [Str], A;
    Println => "println", [], A;
    Html => "html", [], A;
    Js => "js", [], A;
    Urlquery => "urlquery", [], A;
    Query => "query", [Str], None;
    First => "first", [Samples], None;
    Label => "label", [Str, Sample], None;
    SampleValue => "value", [Sample], None;
    StrValue => "strvalue", [Sample], None;
    SortByLabel => "sortByLabel", [Str, Samples], None;
    Args => "args", [], A;
    ReReplaceAll => "reReplaceAll", [Str, Str, Str], None;
    Match => "match", [Str, Str], None;
    SafeHtml => "safeHtml", [Str], None;
    Title => "title", [Str], None;
    ToUpper => "toUpper", [Str], None;
    ToLower => "toLower", [Str], None;
    GraphLink => "graphLink", [Str], None;
    TableLink => "tableLink", [Str], None;
    StripPort => "stripPort", [Str], None;
    StripDomain => "stripDomain", [Str], None;
    Humanize => "humanize", [Any], None;
    Humanize1024 => "humanize1024", [Any], None;
    HumanizeDuration => "humanizeDuration", [Any], None;
    HumanizePercentage => "humanizePercentage", [Any], None;
    HumanizeTimestamp => "humanizeTimestamp", [Any], None;
    ToTime => "toTime", [Any], None;
    PathPrefix => "pathPrefix", [], None;
    ExternalURL => "externalURL", [], None;
    ParseDuration => "parseDuration", [Str], None;
}

type FResult = Result<Value, String>;

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Nil)
}

fn arg_str(args: &[Value], i: usize) -> &str {
    match args.get(i) {
        Some(Value::Str(s)) => s,
        _ => "",
    }
}

impl Exec<'_, '_> {
    /// Calls `f` with already converted arguments (`and`/`or` are handled by the caller).
    pub(crate) fn call_func(&mut self, f: Func, args: Vec<Value>) -> FResult {
        let s0 = arg_str(&args, 0);
        Ok(match f {
            Func::And | Func::Or => args.last().cloned().unwrap_or(Value::Nil),
            Func::Not => Value::Bool(!arg(&args, 0).truth()),
            Func::Len => Value::Int(length(arg(&args, 0))? as i64),
            Func::Index => index(arg(&args, 0), args.get(1..).unwrap_or(&[]))?,
            Func::Slice => slice(arg(&args, 0), args.get(1..).unwrap_or(&[]))?,
            Func::Eq => Value::Bool(eq(arg(&args, 0), args.get(1..).unwrap_or(&[]))?),
            Func::Ne => Value::Bool(!eq(arg(&args, 0), args.get(1..).unwrap_or(&[]))?),
            Func::Lt => Value::Bool(lt(arg(&args, 0), arg(&args, 1))?),
            Func::Le => Value::Bool(le(arg(&args, 0), arg(&args, 1))?),
            Func::Gt => Value::Bool(!le(arg(&args, 0), arg(&args, 1))?),
            Func::Ge => Value::Bool(!lt(arg(&args, 0), arg(&args, 1))?),
            Func::Print => Value::string(format::sprint(&args)),
            Func::Println => Value::string(format::sprintln(&args)),
            Func::Printf => Value::string(format::sprintf(s0, args.get(1..).unwrap_or(&[]))),
            Func::Html => Value::string(html_escape(&eval_args(&args))),
            Func::Js => Value::string(js_escape(&eval_args(&args))),
            Func::Urlquery => Value::string(query_escape(&eval_args(&args))),
            Func::Query => {
                let res = (self.query)(s0)?;
                let samples = res
                    .into_iter()
                    .map(|q| {
                        Rc::new(Sample {
                            labels: Rc::new(label_map(&q.labels)),
                            value: q.value,
                        })
                    })
                    .collect();
                Value::Samples(Rc::new(samples))
            }
            Func::First => match arg(&args, 0) {
                Value::Samples(s) if !s.is_empty() => {
                    s.first().map_or(Value::Nil, |x| Value::Sample(x.clone()))
                }
                _ => return Err("first() called on vector with no elements".into()),
            },
            Func::Label => Value::str(label_get(&sample(arg(&args, 1))?.labels, s0).unwrap_or("")),
            Func::SampleValue => Value::Float(sample(arg(&args, 0))?.value),
            Func::StrValue => {
                Value::str(label_get(&sample(arg(&args, 0))?.labels, "__value__").unwrap_or(""))
            }
            Func::SortByLabel => match arg(&args, 1) {
                Value::Samples(s) => {
                    let mut v: Vec<Rc<Sample>> = s.as_ref().clone();
                    v.sort_by(|a, b| {
                        let x = label_get(&a.labels, s0).unwrap_or("");
                        let y = label_get(&b.labels, s0).unwrap_or("");
                        x.cmp(y)
                    });
                    Value::Samples(Rc::new(v))
                }
                other => other.clone(),
            },
            Func::Args => {
                let depth = 1 + args.iter().map(Value::depth).max().unwrap_or(0);
                if depth > MAX_VALUE_DEPTH {
                    return Err(format!("args nested deeper than {MAX_VALUE_DEPTH}"));
                }
                let mut entries: Vec<(String, Value)> = args
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (format!("arg{i}"), v))
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Map(Rc::new(ArgsMap { entries, depth }))
            }
            Func::ReReplaceAll => {
                let re = self
                    .regex(s0)
                    .map_err(|e| format!("regexp: Compile({}): {e}", backquote_or_quote(s0)))?;
                Value::string(replace_all(&re, arg_str(&args, 2), arg_str(&args, 1)))
            }
            Func::Match => Value::Bool(self.regex(s0)?.is_match(arg_str(&args, 1))),
            Func::SafeHtml => Value::str(s0),
            Func::Title => Value::string(title(s0)),
            Func::ToUpper => Value::string(s0.chars().map(simple_upper).collect()),
            Func::ToLower => Value::string(s0.chars().map(simple_lower).collect()),
            Func::GraphLink => {
                Value::string(format!("/graph?g0.expr={}&g0.tab=0", query_escape(s0)))
            }
            Func::TableLink => {
                Value::string(format!("/graph?g0.expr={}&g0.tab=1", query_escape(s0)))
            }
            Func::StripPort => Value::str(match split_host_port(s0) {
                Some((host, _)) => host,
                None => s0,
            }),
            Func::StripDomain => Value::string(strip_domain(s0)),
            Func::Humanize => Value::string(humanize(convert_to_float(arg(&args, 0))?)),
            Func::Humanize1024 => Value::string(humanize1024(convert_to_float(arg(&args, 0))?)),
            Func::HumanizeDuration => {
                Value::string(humanize_duration(convert_to_float(arg(&args, 0))?))
            }
            Func::HumanizePercentage => {
                let v = convert_to_float(arg(&args, 0))?;
                Value::string(format!("{}%", format_float(v * 100.0, 'g', 4)))
            }
            Func::HumanizeTimestamp => {
                let v = convert_to_float(arg(&args, 0))?;
                if v.is_nan() || v.is_infinite() {
                    Value::string(format_float(v, 'g', 4))
                } else {
                    Value::string(float_to_time(v)?.to_string())
                }
            }
            Func::ToTime => {
                let v = convert_to_float(arg(&args, 0))?;
                if v.is_nan() || v.is_infinite() {
                    return Err("value is NaN or Inf".into());
                }
                Value::Time(float_to_time(v)?)
            }
            Func::PathPrefix => Value::string(url_path(&self.external_url)),
            Func::ExternalURL => Value::Str(self.external_url.clone()),
            Func::ParseDuration => Value::Float(parse_duration(s0)? as f64 / 1e9),
        })
    }

    /// Compiles (or fetches from the template's cache) a Go regular expression.
    fn regex(&mut self, pattern: &str) -> Result<Arc<Regex>, String> {
        let cache = &self.tmpl.regex_cache;
        if let Some(re) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(pattern) {
            return Ok(re.clone());
        }
        let re = RegexBuilder::new(&translate_regex(pattern))
            .octal(true)
            .size_limit(4 << 20)
            .dfa_size_limit(4 << 20)
            .build()
            .map_err(|e| {
                let text = e.to_string();
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string();
                format!("error parsing regexp: {last}: `{pattern}`")
            })?;
        let re = Arc::new(re);
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() < MAX_CACHED_REGEXES {
            cache.insert(pattern.to_string(), re.clone());
        }
        Ok(re)
    }
}

fn sample(v: &Value) -> Result<&Sample, String> {
    match v {
        Value::Sample(s) => Ok(s),
        _ => Err("runtime error: invalid memory address or nil pointer dereference".into()),
    }
}

// ---------------------------------------------------------------------------
// Go builtins: len, index, slice, comparisons

fn length(v: &Value) -> Result<usize, String> {
    match v {
        Value::Str(s) => Ok(s.len()),
        Value::Labels(m) => Ok(m.len()),
        Value::Map(m) => Ok(m.entries.len()),
        Value::Samples(s) => Ok(s.len()),
        Value::Nil => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::Sample(_) => Err("len of type template.sample".into()),
        Value::Time(_) => Err("len of type time.Time".into()),
        other => Err(format!("len of type {}", other.type_name())),
    }
}

fn index_arg(idx: &Value, cap: usize) -> Result<usize, String> {
    match idx {
        Value::Int(x) => match usize::try_from(*x) {
            Ok(u) if u <= cap => Ok(u),
            _ => Err(format!("index out of range: {x}")),
        },
        Value::Nil => Err("cannot index slice/array with nil".into()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

fn map_key(idx: &Value) -> Result<&str, String> {
    match idx {
        Value::Str(s) => Ok(s),
        Value::Nil => Err("value is nil; should be of type string".into()),
        other => Err(format!(
            "value has type {}; should be string",
            other.type_name()
        )),
    }
}

fn index(item: &Value, idxs: &[Value]) -> FResult {
    let mut item = item.clone();
    if let Value::Nil = item {
        return Err("index of untyped nil".into());
    }
    for idx in idxs {
        item = match &item {
            Value::Str(s) => {
                let x = index_arg(idx, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Value::Int(i64::from(*b)),
                    None => return Err("reflect: string index out of range".into()),
                }
            }
            Value::Samples(v) => {
                let x = index_arg(idx, v.len())?;
                match v.get(x) {
                    Some(s) => Value::Sample(s.clone()),
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            Value::Labels(m) => Value::str(label_get(m, map_key(idx)?).unwrap_or("")),
            Value::Map(m) => {
                let k = map_key(idx)?;
                m.entries
                    .iter()
                    .find(|(key, _)| key == k)
                    .map_or(Value::Nil, |(_, v)| v.clone())
            }
            Value::Nil => return Err("index of nil pointer".into()),
            Value::Sample(_) => return Err("can't index item of type template.sample".into()),
            Value::Time(_) => return Err("can't index item of type time.Time".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, idxs: &[Value]) -> FResult {
    if idxs.len() > 3 {
        return Err(format!("too many slice indexes: {}", idxs.len()));
    }
    let len = match item {
        Value::Str(s) => {
            if idxs.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::Samples(v) => v.len(),
        Value::Nil => return Err("slice of untyped nil".into()),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0usize, len, len];
    for (i, x) in idxs.iter().enumerate() {
        idx[i] = index_arg(x, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if idxs.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::Str(s) => {
            let b = s.as_bytes().get(idx[0]..idx[1]).unwrap_or(&[]);
            Value::string(String::from_utf8_lossy(b).into_owned())
        }
        Value::Samples(v) => Value::Samples(Rc::new(v.get(idx[0]..idx[1]).unwrap_or(&[]).to_vec())),
        _ => Value::Nil,
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
}

fn basic_kind(v: &Value) -> Option<Kind> {
    match v {
        Value::Bool(_) => Some(Kind::Bool),
        Value::Int(_) => Some(Kind::Int),
        Value::Float(_) => Some(Kind::Float),
        Value::Str(_) => Some(Kind::Str),
        _ => None,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a);
    for b in others {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            if !matches!(a, Value::Nil) && !matches!(b, Value::Nil) {
                return Err(BAD_COMPARISON.into());
            }
            false
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                (Value::Nil, _) | (_, Value::Nil) => {
                    matches!(a, Value::Nil) && matches!(b, Value::Nil)
                }
                _ if reflect_kind(a) != reflect_kind(b) => {
                    return Err(format!(
                        "non-comparable types {}: {}, {}: {}",
                        format::sprintf("%s", std::slice::from_ref(a)),
                        a.type_name(),
                        b.type_name(),
                        format::sprint_value(b)
                    ));
                }
                // Pointers compare by identity (values of different types are unequal).
                (Value::Sample(x), Value::Sample(y)) => Rc::ptr_eq(x, y),
                (Value::Time(x), Value::Time(y)) => x == y,
                (Value::Sample(_) | Value::Time(_), _) => false,
                _ => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        format::sprintf("%s", std::slice::from_ref(b)),
                        b.type_name()
                    ));
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `reflect.Kind` grouping of the non-basic values.
fn reflect_kind(v: &Value) -> u8 {
    match v {
        Value::Labels(_) | Value::Map(_) => 1,
        Value::Samples(_) => 2,
        Value::Sample(_) | Value::Time(_) => 3,
        Value::Data(_) => 4,
        _ => 0,
    }
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let k1 = basic_kind(a).ok_or(BAD_COMPARISON_TYPE)?;
    let k2 = basic_kind(b).ok_or(BAD_COMPARISON_TYPE)?;
    if k1 != k2 {
        return Err(BAD_COMPARISON.into());
    }
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        _ => Err(BAD_COMPARISON_TYPE.into()),
    }
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

// ---------------------------------------------------------------------------
// Numbers

/// Go's `strconv.ParseFloat(s, 64)`, with its error message.
pub(crate) fn go_parse_float(s: &str) -> Result<f64, String> {
    let syntax = || {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            format::quote(s, false)
        )
    };
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(sign * f64::INFINITY);
    }
    if lower == "nan" && body.len() == s.len() {
        return Ok(f64::NAN);
    }
    let clean = strip_underscores(body).ok_or_else(syntax)?;
    let v = if let Some(h) = clean
        .strip_prefix("0x")
        .or_else(|| clean.strip_prefix("0X"))
    {
        parse_hex_mantissa(h).ok_or_else(syntax)?
    } else {
        let ok = clean.bytes().any(|b| b.is_ascii_digit())
            && clean
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
        if !ok {
            return Err(syntax());
        }
        clean.parse::<f64>().map_err(|_| syntax())?
    };
    if v.is_infinite() {
        return Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            format::quote(s, false)
        ));
    }
    Ok(sign * v)
}

fn parse_hex_mantissa(h: &str) -> Option<f64> {
    let i = h.find(['p', 'P'])?;
    let exp: i32 = h.get(i + 1..)?.parse().ok()?;
    let mant = h.get(..i)?;
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in ip.chars().chain(fp.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    Some(v * 2f64.powi(exp.saturating_sub(4i32.saturating_mul(fp.len() as i32))))
}

/// `ConvertToFloat` from prometheus/common.
fn convert_to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => go_parse_float(s),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn g4(v: f64) -> String {
    format_float(v, 'g', 4)
}

pub(crate) fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

pub(crate) fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

pub(crate) fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        let d = go_f64_to_i64(v);
        let (seconds, minutes, hours, days) = (d % 60, d / 60 % 60, d / 3600 % 24, d / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Go's `int64(f)` as compiled for amd64: out-of-range values and NaN become
/// `math.MinInt64` (Rust's `as` would saturate instead).
fn go_f64_to_i64(f: f64) -> i64 {
    if f.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// `FloatToTime`: seconds to a UTC time, truncated to milliseconds.
fn float_to_time(v: f64) -> Result<Time, String> {
    let ts = v * 1e9;
    // Go compares against float64(math.MaxInt64), which is 2^63.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO_63..=TWO_63).contains(&ts) {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            float_v(v)
        ));
    }
    Ok(Time::from_unix_nanos_ms(go_f64_to_i64(ts)))
}

/// `model.ParseDuration`; returns nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<u64, String> {
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", format::quote(s, false));
    const MS: u64 = 1_000_000;
    let units: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3600 * 1000 * MS),
        ("w", 7 * 24 * 3600 * 1000 * MS),
        ("d", 24 * 3600 * 1000 * MS),
        ("h", 3600 * 1000 * MS),
        ("m", 60 * 1000 * MS),
        ("s", 1000 * MS),
        ("ms", MS),
    ];
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_pos = 0usize;
    while !rest.is_empty() {
        let nd = rest.bytes().take_while(u8::is_ascii_digit).count();
        if nd == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..nd].parse().map_err(|_| invalid())?;
        rest = &rest[nd..];
        let nu = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if nu == 0 {
            return Err(invalid());
        }
        let unit = &rest[..nu];
        rest = &rest[nu..];
        let Some(pos) = units.iter().position(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown unit {} in duration {}",
                format::quote(unit, false),
                format::quote(s, false)
            ));
        };
        let pos = pos + 1;
        if pos <= last_pos {
            return Err(invalid());
        }
        last_pos = pos;
        let mult = units[pos - 1].1;
        if n > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        total = total.saturating_add(n * mult);
        if total > i64::MAX as u64 {
            return Err("duration out of range".into());
        }
    }
    Ok(total)
}

// ---------------------------------------------------------------------------
// Strings

fn backquote_or_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c != '`' && (c == '\t' || !c.is_control()))
    {
        format!("`{s}`")
    } else {
        format::quote(s, false)
    }
}

/// Go's `unicode.ToUpper` (simple case mapping) for one rune.
fn simple_upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn simple_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum WordCat {
    Letter,
    Mid,
    Break,
}

fn word_cat(c: char) -> WordCat {
    match c {
        '\''
        | '.'
        | ':'
        | '^'
        | '`'
        | '\u{a8}'
        | '\u{ad}'
        | '\u{af}'
        | '\u{b4}'
        | '\u{b7}'
        | '\u{b8}'
        | '\u{300}'..='\u{36f}'
        | '\u{387}'
        | '\u{5f4}'
        | '\u{2018}'
        | '\u{2019}'
        | '\u{2024}'
        | '\u{2027}'
        | '\u{fe13}'
        | '\u{fe52}'
        | '\u{fe55}'
        | '\u{ff07}'
        | '\u{ff0e}'
        | '\u{ff1a}' => WordCat::Mid,
        '_'
        | '\u{203f}'
        | '\u{2040}'
        | '\u{2054}'
        | '\u{fe33}'
        | '\u{fe34}'
        | '\u{fe4d}'..='\u{fe4f}'
        | '\u{ff3f}' => WordCat::Letter,
        c if c.is_alphanumeric() => WordCat::Letter,
        _ => WordCat::Break,
    }
}

fn push_title(out: &mut String, c: char) {
    match c {
        '\u{1c4}'..='\u{1c6}' => out.push('\u{1c5}'),
        '\u{1c7}'..='\u{1c9}' => out.push('\u{1c8}'),
        '\u{1ca}'..='\u{1cc}' => out.push('\u{1cb}'),
        '\u{1f1}'..='\u{1f3}' => out.push('\u{1f2}'),
        'ß' => out.push_str("Ss"),
        '\u{fb00}' => out.push_str("Ff"),
        '\u{fb01}' => out.push_str("Fi"),
        '\u{fb02}' => out.push_str("Fl"),
        '\u{fb03}' => out.push_str("Ffi"),
        '\u{fb04}' => out.push_str("Ffl"),
        '\u{fb05}' | '\u{fb06}' => out.push_str("St"),
        c => out.extend(c.to_uppercase()),
    }
}

/// `cases.Title(language.AmericanEnglish, cases.NoLower).String`: x/text's
/// approximation of Unicode word breaking; only word-initial letters change.
pub(crate) fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut mid_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let cat = word_cat(c);
        let cased = c.is_lowercase()
            || c.is_uppercase()
            || matches!(c, '\u{1c5}' | '\u{1c8}' | '\u{1cb}' | '\u{1f2}');
        if cased {
            if mid_word {
                out.push(c);
            } else {
                push_title(&mut out, c);
                mid_word = true;
            }
        } else {
            out.push(c);
            if cat == WordCat::Break {
                mid_word = false;
            }
        }
        if cat == WordCat::Mid
            && !cased
            && chars.peek().is_some_and(|n| word_cat(*n) == WordCat::Mid)
        {
            mid_word = false;
        }
    }
    out
}

/// Go's `net.SplitHostPort`; `None` on error.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    let i = hp.rfind(':')?;
    let (host, j, k) = if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&hp[1..end], 1, end + 1)
    } else {
        let host = &hp[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host, &hp[i + 1..]))
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("");
    if port.is_empty() {
        host.to_string()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The decoded path of a URL, like Go's `url.URL.Path`.
fn url_path(u: &str) -> String {
    let u = u.split('#').next().unwrap_or("");
    let mut rest = u;
    if let Some(i) = u.find(':') {
        let scheme = &u[..i];
        let valid = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if valid {
            rest = &u[i + 1..];
            if !rest.starts_with('/') {
                return String::new();
            }
        }
    }
    let rest = rest.split('?').next().unwrap_or("");
    let path = match rest.strip_prefix("//") {
        Some(r) => r.find('/').map_or("", |i| &r[i..]),
        None => rest,
    };
    percent_decode(path)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
