//! `${VAR}` and `${VAR:-default}` interpolation from the environment,
//! applied to the raw text of a config file before parsing (as Vector
//! does). `$$` writes a literal `$`.

/// Interpolates `text`; the errors are (1-based line, message).
pub(crate) fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<(usize, String)>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(stripped) = after.strip_prefix('$') {
                out.push('$');
                rest = stripped;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(end) = body.find('}') else {
                    errors.push((
                        n + 1,
                        "unclosed `${` in environment variable reference".into(),
                    ));
                    out.push_str(&rest[pos..]);
                    rest = "";
                    break;
                };
                let inner = &body[..end];
                let (name, default) = match inner.split_once(":-") {
                    Some((name, default)) => (name, Some(default)),
                    None => (inner, None),
                };
                let valid =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                match (
                    valid,
                    lookup(name).filter(|v| !v.is_empty() || default.is_none()),
                    default,
                ) {
                    (false, _, _) => errors.push((
                        n + 1,
                        format!("`${{{inner}}}` is not a valid environment variable reference"),
                    )),
                    (true, Some(v), _) => out.push_str(&v),
                    (true, None, Some(d)) => out.push_str(d),
                    (true, None, None) => {
                        errors.push((n + 1, format!("environment variable `{name}` is not set")))
                    }
                }
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/x".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_defaults_and_escapes() {
        assert_eq!(interpolate("a=${HOME}/b", &env).unwrap(), "a=/home/x/b");
        assert_eq!(interpolate("a=${NOPE:-d}", &env).unwrap(), "a=d");
        assert_eq!(interpolate("a=${EMPTY:-d}", &env).unwrap(), "a=d");
        assert_eq!(interpolate("a=$$HOME $x", &env).unwrap(), "a=$HOME $x");
    }

    #[test]
    fn reports_missing_and_malformed_with_lines() {
        let errs = interpolate("ok\nx=${NOPE}\ny=${bad-name}\nz=${open", &env).unwrap_err();
        assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert!(errs[0].1.contains("NOPE"));
    }
}
