//! Keeps secrets out of config error messages: values of options that
//! carry credentials are never echoed, and the password part of any URL
//! in a message is masked.
//!
//! Error messages are printed to terminals and CI logs and pasted into
//! tickets, so they must not leak what the config protects. This module
//! only decides what to hide; it does not find or word errors.

use std::borrow::Cow;

/// What a masked secret reads as.
const MASK: &str = "***";

/// Whether an option (given by its path, such as `["auth", "password"]`)
/// holds a credential: a password, token, secret or key, an
/// `Authorization`-like header, or any value of a `headers` table (HTTP
/// headers carry API keys under many names).
pub(crate) fn is_secret_option<S: AsRef<str>>(path: &[S]) -> bool {
    const WORDS: [&str; 8] = [
        "password",
        "passwd",
        "token",
        "secret",
        "authorization",
        "api_key",
        "apikey",
        "credential",
    ];
    path.iter().enumerate().any(|(i, segment)| {
        let segment = segment.as_ref().to_ascii_lowercase();
        let under_headers = segment == "headers" && i + 1 < path.len();
        under_headers || WORDS.iter().any(|w| segment.contains(w))
    })
}

/// The values of every secret option in a component's table, as a
/// message would quote them. Error paths do not always reach the option
/// (serde reports an internally tagged enum such as `auth` as a whole),
/// so messages are masked by value too.
pub(crate) fn secret_values(options: &serde_json::Value) -> Vec<String> {
    fn walk(value: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    path.push(key.clone());
                    walk(v, path, out);
                    path.pop();
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    walk(v, path, out);
                }
            }
            serde_json::Value::String(s) if is_secret_option(path) && !s.is_empty() => {
                out.push(s.clone())
            }
            serde_json::Value::Number(n) if is_secret_option(path) => out.push(n.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(options, &mut Vec::new(), &mut out);
    out
}

/// `text` with each of `secrets` masked where it is quoted (in backticks
/// or double quotes, as serde and the components quote values).
pub(crate) fn mask_quoted(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        for (open, close) in [('`', '`'), ('"', '"')] {
            let quoted = format!("{open}{secret}{close}");
            if out.contains(&quoted) {
                out = out.replace(&quoted, &format!("{open}{MASK}{close}"));
            }
        }
    }
    out
}

/// `text` with the password of every `scheme://user:password@host` masked,
/// and a lone `scheme://userinfo@host` (often a token) masked whole.
pub(crate) fn mask_url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        // The authority ends where the path, query or fragment starts, or
        // where the URL ends in the surrounding text.
        let end = rest
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                let userinfo = &authority[..userinfo_end];
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    None => out.push_str(MASK),
                }
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_the_password_of_urls() {
        assert_eq!(
            mask_url_credentials("\"ftp://user:PASS@x\" is not an http:// URL"),
            "\"ftp://user:***@x\" is not an http:// URL"
        );
        assert_eq!(
            mask_url_credentials("`https://TOKEN@github.com/a?b` and http://h:1/p"),
            "`https://***@github.com/a?b` and http://h:1/p"
        );
        assert_eq!(
            mask_url_credentials("kafka://a:b@c:9092,d:9093"),
            "kafka://a:***@c:9092,d:9093"
        );
        assert_eq!(mask_url_credentials("no url here"), "no url here");
    }

    #[test]
    fn masks_quoted_secret_values() {
        let options = serde_json::json!({
            "endpoint": "http://x",
            "auth": {"strategy": "basic", "user": "u", "password": 564738},
            "headers": {"x-key": "abc"},
        });
        let secrets = secret_values(&options);
        assert_eq!(secrets, ["564738", "abc"]);
        assert_eq!(
            mask_quoted(
                "invalid type: integer `564738`, expected \"abc\" or `u`",
                &secrets
            ),
            "invalid type: integer `***`, expected \"***\" or `u`"
        );
    }

    #[test]
    fn knows_secret_options() {
        assert!(is_secret_option(&["auth", "password"]));
        assert!(is_secret_option(&["auth", "token"]));
        assert!(is_secret_option(&["headers", "x-goog-key"]));
        assert!(is_secret_option(&["librdkafka_options", "sasl.password"]));
        assert!(is_secret_option(&["aws_secret_access_key"]));
        assert!(!is_secret_option(&["headers"]));
        assert!(!is_secret_option(&["endpoint"]));
        assert!(!is_secret_option(&["key_field"]));
    }

    proptest! {
        /// No password survives masking, whatever surrounds the URL.
        #[test]
        fn never_leaks_a_password(
            before in "[ a-z`\"']{0,8}",
            user in "[a-z]{1,8}",
            password in "[A-Z0-9]{6,12}",
            host in "[a-z]{1,8}(:[0-9]{1,5})?",
            after in "(/[a-z]*)?[ `\"']{0,3}",
        ) {
            let text = format!("{before}https://{user}:{password}@{host}{after}");
            let masked = mask_url_credentials(&text);
            prop_assert!(!masked.contains(&password), "{masked}");
            prop_assert!(masked.contains(&host));
        }

        #[test]
        fn never_panics(text in ".{0,64}") {
            let _ = mask_url_credentials(&text);
        }
    }
}
