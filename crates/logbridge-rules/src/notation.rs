//! The expanding series notation of Prometheus' test formats
//! (`promqltest` files and `promtool test rules` inputs): `1+2x3` is
//! `1 3 5 7`, `5x2` is `5 5 5`, `_` skips a step, `stale` writes a stale
//! marker.

/// One step of a series written in the notation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    Value(f64),
    Missing,
    Stale,
}

/// Why a notation could not be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NotationError {
    /// A native histogram (`{{...}}`): not supported by this engine.
    #[error("native histogram values are not supported")]
    NativeHistogram,
    #[error("invalid value {0:?}")]
    Invalid(String),
}

/// The longest expansion accepted, so a typo like `0+1x1e9` fails instead of
/// filling memory.
const MAX_STEPS: u64 = 10_000_000;

/// Expands a whitespace-separated list of items.
pub fn parse_steps(text: &str) -> Result<Vec<Step>, NotationError> {
    if text.contains("{{") {
        return Err(NotationError::NativeHistogram);
    }
    let mut steps = Vec::new();
    for item in text.split_whitespace() {
        expand_item(item, &mut steps)?;
        if steps.len() as u64 > MAX_STEPS {
            return Err(NotationError::Invalid(format!("{item}: too many values")));
        }
    }
    Ok(steps)
}

fn expand_item(item: &str, steps: &mut Vec<Step>) -> Result<(), NotationError> {
    let invalid = || NotationError::Invalid(item.to_string());
    match item {
        "_" => {
            steps.push(Step::Missing);
            return Ok(());
        }
        "stale" => {
            steps.push(Step::Stale);
            return Ok(());
        }
        _ => {}
    }
    let Some(x) = item.rfind('x') else {
        steps.push(Step::Value(parse_number(item).ok_or_else(invalid)?));
        return Ok(());
    };
    let (head, count) = (&item[..x], &item[x + 1..]);
    let count: u64 = count.parse().map_err(|_| invalid())?;
    if count > MAX_STEPS {
        return Err(invalid());
    }
    if head == "_" {
        steps.extend(std::iter::repeat_n(Step::Missing, count as usize));
        return Ok(());
    }
    if head == "stale" {
        steps.extend(std::iter::repeat_n(Step::Stale, count as usize));
        return Ok(());
    }
    // `a+bxn`/`a-bxn`: the operator is the first sign after the start that
    // is not an exponent's.
    let bytes = head.as_bytes();
    let op = (1..bytes.len())
        .find(|&i| (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
    let (start, delta) = match op {
        Some(i) => {
            let start = parse_number(&head[..i]).ok_or_else(invalid)?;
            let delta = parse_number(&head[i + 1..]).ok_or_else(invalid)?;
            (start, if bytes[i] == b'-' { -delta } else { delta })
        }
        None => (parse_number(head).ok_or_else(invalid)?, 0.0),
    };
    let mut v = start;
    steps.push(Step::Value(v));
    for _ in 0..count {
        v += delta;
        steps.push(Step::Value(v));
    }
    Ok(())
}

/// A number as Prometheus' tests write it, including `Inf` and `NaN`.
/// (`0x10` is a repetition, not hexadecimal.)
pub fn parse_number(text: &str) -> Option<f64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value = match body.to_ascii_lowercase().as_str() {
        "inf" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => {
            if body.is_empty()
                || !body.bytes().all(|b| {
                    b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_')
                })
            {
                return None;
            }
            body.replace('_', "").parse::<f64>().ok()?
        }
    };
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<Step> {
        parse_steps(text).unwrap()
    }

    #[test]
    fn expands() {
        use Step::*;
        assert_eq!(
            values("1+2x3"),
            [Value(1.0), Value(3.0), Value(5.0), Value(7.0)]
        );
        assert_eq!(values("5x2"), [Value(5.0), Value(5.0), Value(5.0)]);
        assert_eq!(
            values("-2-1x1 _ stale"),
            [Value(-2.0), Value(-3.0), Missing, Stale]
        );
        assert_eq!(values("1e3+1e-1x1"), [Value(1000.0), Value(1000.1)]);
        assert_eq!(
            values("_x2 0x2"),
            [Missing, Missing, Value(0.0), Value(0.0), Value(0.0)]
        );
        assert_eq!(
            values("Inf -Inf"),
            [Value(f64::INFINITY), Value(f64::NEG_INFINITY)]
        );
        assert!(matches!(values("NaN")[0], Value(v) if v.is_nan()));
        assert_eq!(
            parse_steps("{{schema:1}}"),
            Err(NotationError::NativeHistogram)
        );
        assert!(parse_steps("1+1x99999999999").is_err());
        assert!(parse_steps("abc").is_err());
    }
}
