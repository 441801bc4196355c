//! [`ConditionError`]: why a condition did not compile, and where.
//!
//! Only compilation fails; evaluation has no errors. An error carries a byte
//! offset into the source so that config loading can show the user the
//! exact spot ([`ConditionError::render`]).

use std::fmt;

/// A condition that does not compile: what is wrong, where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// Byte offset in the source where the problem is (the source's length
    /// when the condition ends too early).
    pub offset: usize,
    /// What is wrong, as a lower-case fragment.
    pub message: String,
    /// How to fix it, when there is an obvious fix.
    pub hint: Option<String>,
}

impl ConditionError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> ConditionError {
        ConditionError {
            offset,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> ConditionError {
        self.hint = Some(hint.into());
        self
    }

    /// A multi-line report: the message with its line and column, the
    /// source line with a caret under the offending spot, and the hint.
    ///
    /// ```text
    /// expected a value after `>=` at line 1, column 12
    ///   .status >=
    ///              ^
    ///   hint: a value is a path such as `.status`, ...
    /// ```
    ///
    /// `source` should be the text that was compiled; any other text gives a
    /// report that points at the wrong place, but never panics.
    pub fn render(&self, source: &str) -> String {
        let mut offset = self.offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let (before, after) = source.split_at(offset);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = after.find('\n').map_or(source.len(), |i| offset + i);
        let line_no = before.matches('\n').count() + 1;
        let line = source[line_start..line_end].trim_end_matches('\r');
        let lead = &source[line_start..offset];
        let column = lead.chars().count() + 1;
        // Keep tabs so that the caret lines up under tab-indented text.
        let pad: String = lead
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let mut out = format!(
            "{} at line {line_no}, column {column}\n  {line}\n  {pad}^",
            self.message
        );
        if let Some(hint) = &self.hint {
            for (i, text) in hint.lines().enumerate() {
                out.push_str(if i == 0 { "\n  hint: " } else { "\n        " });
                out.push_str(text);
            }
        }
        out
    }
}

/// `message at column N`, where the column is the byte offset plus one
/// (the same as the character column for the usual one-line ASCII
/// condition). [`ConditionError::render`] gives the line, the exact column
/// and the hint.
impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at column {}",
            self.message,
            self.offset.saturating_add(1)
        )
    }
}

impl std::error::Error for ConditionError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_uses_one_based_columns() {
        let e = ConditionError::new(13, "expected a value after `>=`");
        assert_eq!(e.to_string(), "expected a value after `>=` at column 14");
    }

    #[test]
    fn render_points_at_the_offset_on_its_line() {
        let e = ConditionError::new(17, "expected a value after `>=`").hint("write a number");
        assert_eq!(
            e.render(".a == 1 &&\n\t.b >="),
            "expected a value after `>=` at line 2, column 7\n  \t.b >=\n  \t     ^\n  hint: write a number"
        );
    }

    #[test]
    fn render_never_panics_on_a_foreign_offset() {
        let e = ConditionError::new(2, "x").hint("a\nb");
        assert_eq!(
            e.render("é"),
            "x at line 1, column 2\n  é\n   ^\n  hint: a\n        b"
        );
        assert_eq!(
            e.render(""),
            "x at line 1, column 1\n  \n  ^\n  hint: a\n        b"
        );
        let far = ConditionError::new(usize::MAX, "x");
        assert_eq!(far.to_string(), format!("x at column {}", usize::MAX));
        assert_eq!(far.render("ab\r\n"), "x at line 2, column 1\n  \n  ^");
    }
}
