//! The compiled condition tree and its evaluation against an event.
//!
//! This is the hot path: it must not allocate for the common forms (a path
//! compared with a literal, the string functions, `exists`) and must not
//! panic on any event. Everything that can be prepared is prepared by the
//! parser: paths are parsed, regexes compiled, substring finders built.
//! Recursion depth is bounded by the parser's nesting limit.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use logbridge_event::{Event, Path, Value};
use memchr::memmem::Finder;
use regex::bytes::Regex;

/// What a missing field reads as.
static NULL: Value = Value::Null;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Whether two values in this order satisfy the operator; `None` (no
    /// order) satisfies none of them.
    #[inline]
    fn accepts(self, ordering: Option<Ordering>) -> bool {
        use Ordering::{Equal, Greater, Less};
        matches!(
            (self, ordering),
            (CmpOp::Eq | CmpOp::Le | CmpOp::Ge, Some(Equal))
                | (CmpOp::Ne | CmpOp::Lt | CmpOp::Le, Some(Less))
                | (CmpOp::Ne | CmpOp::Gt | CmpOp::Ge, Some(Greater))
        )
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// The string functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrFunc {
    Match,
    Contains,
    StartsWith,
    EndsWith,
}

impl StrFunc {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StrFunc::Match => "match",
            StrFunc::Contains => "contains",
            StrFunc::StartsWith => "starts_with",
            StrFunc::EndsWith => "ends_with",
        }
    }
}

/// How a string function tests its subject, prepared at compile time.
// The finder is large, but a matcher only lives in a `StrTest`, which
// `Expr::Str` already boxes; boxing the finder too would add a pointer
// chase to every check.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// `match`, and every case-insensitive string function.
    Regex(Regex),
    Contains(Finder<'static>),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
}

impl Matcher {
    fn is_match(&self, haystack: &[u8]) -> bool {
        match self {
            Matcher::Regex(re) => re.is_match(haystack),
            Matcher::Contains(finder) => finder.find(haystack).is_some(),
            Matcher::StartsWith(prefix) => haystack.starts_with(prefix),
            Matcher::EndsWith(suffix) => haystack.ends_with(suffix),
        }
    }
}

/// A string function call: `contains(subject, "needle")` and friends.
#[derive(Debug, Clone)]
pub(crate) struct StrTest {
    pub(crate) func: StrFunc,
    pub(crate) subject: Expr,
    /// The literal as written (the pattern for `match`), for display.
    pub(crate) needle: Box<str>,
    pub(crate) case_sensitive: bool,
    pub(crate) matcher: Matcher,
}

/// A node of a compiled condition. Every node has both a boolean meaning
/// ([`Expr::truthy`]) and a value ([`Expr::value`]).
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Path(Path),
    Literal(Value),
    Not(Box<Expr>),
    /// Two or more operands.
    And(Vec<Expr>),
    /// Two or more operands.
    Or(Vec<Expr>),
    Compare(Box<(CmpOp, Expr, Expr)>),
    Exists(Path),
    Str(Box<StrTest>),
}

impl Expr {
    /// See [`crate::Condition::agrees_with_vrl`].
    pub(crate) fn agrees_with_vrl(&self) -> bool {
        use logbridge_event::PathRoot;
        let field = |e: &Expr| matches!(e, Expr::Path(p) if p.root == PathRoot::Event);
        let literal = |e: &Expr| {
            matches!(
                e,
                Expr::Literal(Value::Bool(_) | Value::Integer(_) | Value::Bytes(_))
            )
        };
        match self {
            Expr::Literal(Value::Bool(_)) => true,
            Expr::Exists(p) => p.root == PathRoot::Event,
            Expr::Not(inner) => inner.agrees_with_vrl(),
            Expr::And(all) | Expr::Or(all) => all.iter().all(Expr::agrees_with_vrl),
            Expr::Compare(c) => {
                let (op, a, b) = &**c;
                matches!(op, CmpOp::Eq | CmpOp::Ne)
                    && ((field(a) && literal(b)) || (literal(a) && field(b)))
            }
            _ => false,
        }
    }

    /// The condition's answer for `event`. A path or literal is true only
    /// when its value is the boolean `true`.
    pub(crate) fn truthy(&self, event: &Event) -> bool {
        match self {
            Expr::Path(path) => matches!(event.get(path).as_deref(), Some(Value::Bool(true))),
            Expr::Literal(value) => matches!(value, Value::Bool(true)),
            Expr::Not(inner) => !inner.truthy(event),
            Expr::And(items) => items.iter().all(|e| e.truthy(event)),
            Expr::Or(items) => items.iter().any(|e| e.truthy(event)),
            Expr::Compare(cmp) => {
                let (op, lhs, rhs) = &**cmp;
                compare(*op, &lhs.value(event), &rhs.value(event))
            }
            Expr::Exists(path) => event.get(path).is_some(),
            Expr::Str(test) => match &*test.subject.value(event) {
                Value::Bytes(bytes) => test.matcher.is_match(bytes),
                _ => false,
            },
        }
    }

    /// The value of this node: a path's value (`null` when missing), a
    /// literal, or the boolean answer of anything else. Borrows whenever
    /// the event does.
    #[inline]
    pub(crate) fn value<'a>(&'a self, event: &'a Event) -> Cow<'a, Value> {
        match self {
            Expr::Path(path) => event.get(path).unwrap_or(Cow::Borrowed(&NULL)),
            Expr::Literal(value) => Cow::Borrowed(value),
            other => Cow::Owned(Value::Bool(other.truthy(event))),
        }
    }
}

/// `a op b` under the documented semantics: numbers across integer and
/// float, strings bytewise, timestamps with timestamps, `==` false (and
/// `!=` true) across types, ordering false across types.
#[inline]
pub(crate) fn compare(op: CmpOp, a: &Value, b: &Value) -> bool {
    // Fast paths for what conditions compare most: a field with a literal
    // of the same type.
    match (a, b) {
        (Value::Bytes(x), Value::Bytes(y)) => match op {
            // Slice equality checks the lengths before the bytes.
            CmpOp::Eq => x[..] == y[..],
            CmpOp::Ne => x[..] != y[..],
            _ => op.accepts(Some(x[..].cmp(&y[..]))),
        },
        (Value::Integer(x), Value::Integer(y)) => op.accepts(Some(x.cmp(y))),
        _ => match op {
            CmpOp::Eq => equal(a, b),
            CmpOp::Ne => !equal(a, b),
            _ => op.accepts(order(a, b)),
        },
    }
}

/// The order of two values of comparable types; `None` for other pairs
/// and for NaN.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Integer(x), Value::Float(y)) => cmp_int_float(*x, *y),
        (Value::Float(x), Value::Integer(y)) => cmp_int_float(*y, *x).map(Ordering::reverse),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Exact comparison of an integer with a float (no rounding of large
/// integers through `f64`).
fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    // 2^63, the first float above every i64.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return None;
    }
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // In range and integral, so the cast is exact.
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => whole.partial_cmp(&f),
        other => Some(other),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && equal(vx, vy))
        }
        _ => order(a, b) == Some(Ordering::Equal),
    }
}

/// An S-expression form that shows how a condition was understood
/// (operators first, every group in parentheses); the tests of precedence
/// compare against it.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, head: &str, items: &[Expr]| {
            write!(f, "({head}")?;
            for item in items {
                write!(f, " {item}")?;
            }
            f.write_str(")")
        };
        match self {
            Expr::Path(path) => write!(f, "{path}"),
            Expr::Literal(Value::Bytes(b)) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Expr::Literal(Value::Float(x)) => write!(f, "{x:?}"),
            Expr::Literal(Value::Null) => f.write_str("null"),
            Expr::Literal(other) => f.write_str(&other.to_string_lossy()),
            Expr::Not(inner) => write!(f, "(! {inner})"),
            Expr::And(items) => list(f, "&&", items),
            Expr::Or(items) => list(f, "||", items),
            Expr::Compare(cmp) => {
                let (op, lhs, rhs) = &**cmp;
                write!(f, "({} {lhs} {rhs})", op.as_str())
            }
            Expr::Exists(path) => write!(f, "(exists {path})"),
            Expr::Str(test) => {
                write!(
                    f,
                    "({} {} {:?}",
                    test.func.name(),
                    test.subject,
                    test.needle
                )?;
                if !test.case_sensitive {
                    f.write_str(" case_sensitive: false")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_floats_compare_exactly() {
        let big = 9_007_199_254_740_993_i64; // 2^53 + 1: not a float
        assert_eq!(
            cmp_int_float(big, 9_007_199_254_740_992.0),
            Some(Ordering::Greater)
        );
        assert_eq!(cmp_int_float(1, 1.0), Some(Ordering::Equal));
        assert_eq!(cmp_int_float(1, 1.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float(-1, -1.5), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(-2, -1.5), Some(Ordering::Less));
        assert_eq!(cmp_int_float(i64::MAX, 9.3e18), Some(Ordering::Less));
        assert_eq!(
            cmp_int_float(i64::MIN, i64::MIN as f64),
            Some(Ordering::Equal)
        );
        assert_eq!(cmp_int_float(i64::MIN, -1e19), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(0, f64::INFINITY), Some(Ordering::Less));
        assert_eq!(cmp_int_float(0, f64::NEG_INFINITY), Some(Ordering::Greater));
        assert_eq!(cmp_int_float(0, f64::NAN), None);
    }

    #[test]
    fn equality_is_deep_and_numeric() {
        let a = Value::Array(vec![Value::Integer(1), Value::from("x")]);
        let b = Value::Array(vec![Value::Float(1.0), Value::from("x")]);
        assert!(compare(CmpOp::Eq, &a, &b));
        assert!(!compare(CmpOp::Lt, &a, &b));
        assert!(compare(CmpOp::Ne, &a, &Value::Array(vec![])));
        assert!(!compare(
            CmpOp::Eq,
            &Value::Float(f64::NAN),
            &Value::Float(f64::NAN)
        ));
        assert!(compare(
            CmpOp::Ne,
            &Value::Float(f64::NAN),
            &Value::Float(f64::NAN)
        ));
        assert!(compare(
            CmpOp::Le,
            &Value::Timestamp(1),
            &Value::Timestamp(1)
        ));
        assert!(!compare(
            CmpOp::Le,
            &Value::Timestamp(1),
            &Value::Integer(1)
        ));
        assert!(!compare(
            CmpOp::Eq,
            &Value::Timestamp(1),
            &Value::Integer(1)
        ));
        assert!(!compare(CmpOp::Lt, &Value::Bool(false), &Value::Bool(true)));
        assert!(!compare(CmpOp::Ge, &Value::Null, &Value::Null));
    }
}
