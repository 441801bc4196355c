//! PromQL evaluation, as Prometheus 3 evaluates it.
//!
//! Parsing is `promql-parser`'s; everything from the syntax tree on is ours,
//! because evaluating rules in-stream is logbridge's edge: the evaluator
//! reads a [`Queryable`](crate::storage::Queryable) and keeps nothing
//! between queries.
//!
//! - `eval`: the evaluator (selectors, subqueries, `offset`, `@`, range
//!   queries) and its options and errors;
//! - `binary`: arithmetic, comparison and set operators with vector
//!   matching;
//! - `aggregate`: the aggregation operators;
//! - `functions` and `range_functions`: the function library;
//! - `histogram`: `histogram_quantile` and friends over classic buckets.

pub(crate) mod aggregate;
pub(crate) mod binary;
pub(crate) mod eval;
pub(crate) mod functions;
pub(crate) mod histogram;
pub(crate) mod range_functions;
pub mod value;

use promql_parser::parser::Expr;

pub use eval::{Annotations, Engine, EngineOptions, QueryError, QueryResult};
pub use value::{Sample, Series, Value};

/// Functions `promql-parser` accepts that the evaluator does not implement
/// (experimental ones in Prometheus, behind a feature flag there). They are
/// refused when parsed, so that a rule using one fails to load with its
/// position instead of failing at every evaluation.
const UNSUPPORTED_FUNCTIONS: &[&str] = &["info", "integral", "start_timestamp"];

/// Parses a PromQL expression. Numbers that `promql-parser` would turn
/// into a panic are refused first, and a panic left in it becomes an error.
pub fn parse(text: &str) -> Result<Expr, String> {
    reject_unrepresentable_number_durations(text)?;
    let expr =
        std::panic::catch_unwind(|| promql_parser::parser::parse(text)).unwrap_or_else(|_| {
            Err("internal error: the PromQL parser failed on this expression".to_string())
        })?;
    let mut unsupported = None;
    walk(&expr, &mut |node| {
        if let Expr::Call(call) = node
            && UNSUPPORTED_FUNCTIONS.contains(&call.func.name)
        {
            unsupported.get_or_insert(call.func.name);
        }
    });
    match unsupported {
        Some(name) => Err(format!("unsupported function with name '{name}'")),
        None => Ok(expr),
    }
}

/// Calls `visit` on `expr` and every expression inside it, parents first.
pub(crate) fn walk(expr: &Expr, visit: &mut dyn FnMut(&Expr)) {
    visit(expr);
    match expr {
        Expr::Aggregate(a) => {
            walk(&a.expr, visit);
            if let Some(param) = &a.param {
                walk(param, visit);
            }
        }
        Expr::Unary(u) => walk(&u.expr, visit),
        Expr::Binary(b) => {
            walk(&b.lhs, visit);
            walk(&b.rhs, visit);
        }
        Expr::Paren(p) => walk(&p.expr, visit),
        Expr::Subquery(s) => walk(&s.expr, visit),
        Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, visit)),
        Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => {}
    }
}

/// Largest number of seconds a `std::time::Duration` built from an f64 holds.
const MAX_DURATION_SECONDS: f64 = 18_446_744_073_709_551_616.0; // 2^64

/// `promql-parser` 0.11 panics (in `Duration::from_secs_f64`) when a plain
/// number used as a duration, after `offset` or inside `[...]`, is NaN,
/// infinite or 2^64 seconds or more (`x offset nan`, `x[1e300]`). Such
/// expressions are rejected here, before the parser sees them.
fn reject_unrepresentable_number_durations(expr: &str) -> Result<(), String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut brackets = 0usize;
    // True right after `offset`, `[`, or `:` inside brackets (and a sign).
    let mut duration_expected = false;
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while chars.get(i).is_some_and(|c| *c != '\n') {
                i += 1;
            }
        } else if matches!(c, '"' | '\'' | '`') {
            i += 1;
            while let Some(&d) = chars.get(i) {
                i += if d == '\\' && c != '`' { 2 } else { 1 };
                if d == c {
                    break;
                }
            }
            duration_expected = false;
        } else if duration_expected && (c == '+' || c == '-') {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || c == '.' {
            let start = i;
            let numeric = c.is_ascii_digit() || c == '.';
            while let Some(&d) = chars.get(i) {
                let exponent_sign = numeric
                    && (d == '+' || d == '-')
                    && i.checked_sub(1)
                        .and_then(|j| chars.get(j))
                        .is_some_and(|p| matches!(p, 'e' | 'E'));
                if !(d.is_alphanumeric() || d == '_' || d == '.' || exponent_sign) {
                    break;
                }
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if duration_expected
                && number_value(&word).is_some_and(|v| !(v.is_finite() && v < MAX_DURATION_SECONDS))
            {
                return Err(format!(
                    "invalid duration {word:?}: a number used as a duration must be finite and below 2^64 seconds"
                ));
            }
            duration_expected = word.eq_ignore_ascii_case("offset");
        } else {
            match c {
                '[' => {
                    brackets += 1;
                    duration_expected = true;
                }
                ']' => {
                    brackets = brackets.saturating_sub(1);
                    duration_expected = false;
                }
                ':' if brackets > 0 => duration_expected = true,
                _ => duration_expected = false,
            }
            i += 1;
        }
    }
    Ok(())
}

/// The value of a PromQL number literal (`inf`, `nan`, hex, decimal).
fn number_value(word: &str) -> Option<f64> {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "inf" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => {
            if let Some(hex) = lower.strip_prefix("0x") {
                u128::from_str_radix(hex, 16).ok().map(|v| v as f64)
            } else if lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
                lower.parse::<f64>().ok()
            } else {
                None
            }
        }
    }
}

/// Kahan-Babuska-Neumaier summation step: adds `inc` to `sum` and carries the
/// lost low-order bits in `c`, as Prometheus does, so that sums match it.
pub(crate) fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Formats a float the way Go's `strconv.FormatFloat(f, 'f', -1, 64)` does
/// (what `count_values` writes into labels).
pub(crate) fn format_plain(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_durations_are_errors() {
        for text in [
            "h[2111111111111111111111111]",
            "h[Inf]",
            "h[5m:NaN]",
            "h offset 1e400",
            "h OFFSET -0xfffffffffffffffffff",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        for text in [
            "h[300]",
            "rate(h[5m:30])",
            "h offset -5m",
            "job:x:rate5m",
            "h{a=\"[1e400]\"}",
        ] {
            assert!(parse(text).is_ok(), "{text}");
        }
    }
}
