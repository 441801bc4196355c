//! Where each key of a config file is: dotted key path (`sources.app.include`)
//! to 1-based (line, column), so errors can point at the line to fix.

use std::collections::HashMap;

use toml::de::{DeTable, DeValue};

#[derive(Debug, Default)]
pub(crate) struct Positions {
    keys: HashMap<String, (usize, usize)>,
    line_starts: Vec<usize>,
}

impl Positions {
    fn new(text: &str) -> Positions {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Positions {
            keys: HashMap::new(),
            line_starts,
        }
    }

    /// (line, column), both 1-based, of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|s| *s <= offset).max(1);
        (line, offset - self.line_starts[line - 1] + 1)
    }

    /// The position of `path`, or of its closest ancestor that has one.
    pub(crate) fn find(&self, path: &[&str]) -> Option<(usize, usize)> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.keys.get(&path[..n].join(".")).copied())
    }

    pub(crate) fn toml(text: &str) -> Positions {
        let mut p = Positions::new(text);
        if let Ok(doc) = DeTable::parse(text) {
            let mut prefix = Vec::new();
            walk_table(&mut p, doc.get_ref(), &mut prefix);
        }
        p
    }

    /// YAML block mappings: a key's path is the keys at lower indentation
    /// above it. Flow mappings and sequences of mappings are located by
    /// their enclosing key.
    pub(crate) fn yaml(text: &str) -> Positions {
        let mut p = Positions::new(text);
        let mut stack: Vec<(usize, String)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let Some(colon) = trimmed.find(':') else {
                continue;
            };
            let after = &trimmed[colon + 1..];
            if !(after.is_empty() || after.starts_with(' ') || after.starts_with('\t')) {
                continue;
            }
            let key = trimmed[..colon]
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_owned();
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            stack.push((indent, key));
            let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
            p.keys.insert(path.join("."), (n + 1, indent + 1));
        }
        p
    }
}

fn walk_table(p: &mut Positions, table: &DeTable<'_>, prefix: &mut Vec<String>) {
    for (key, value) in table.iter() {
        prefix.push(key.get_ref().to_string());
        let pos = p.line_col(key.span().start);
        p.keys.entry(prefix.join(".")).or_insert(pos);
        walk_value(p, value.get_ref(), prefix);
        prefix.pop();
    }
}

fn walk_value(p: &mut Positions, value: &DeValue<'_>, prefix: &mut Vec<String>) {
    match value {
        DeValue::Table(t) => walk_table(p, t, prefix),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                prefix.push(i.to_string());
                let pos = p.line_col(item.span().start);
                p.keys.entry(prefix.join(".")).or_insert(pos);
                walk_value(p, item.get_ref(), prefix);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_have_lines() {
        let text = "data_dir = \"/x\"\n[sources.app]\ntype = \"file\"\ninclude = [\"a\"]\n[sinks.out]\nencoding.codec = \"json\"\n";
        let p = Positions::toml(text);
        assert_eq!(p.find(&["sources", "app", "include"]).unwrap().0, 4);
        assert_eq!(p.find(&["sinks", "out", "encoding", "codec"]).unwrap().0, 6);
        assert_eq!(p.find(&["sources", "app", "nope"]).unwrap().0, 2);
    }

    #[test]
    fn yaml_keys_have_lines() {
        let text = "sources:\n  app:\n    type: file\n    include: [a]\nsinks:\n  out:\n    encoding:\n      codec: json\n";
        let p = Positions::yaml(text);
        assert_eq!(p.find(&["sources", "app", "include"]).unwrap().0, 4);
        assert_eq!(p.find(&["sinks", "out", "encoding", "codec"]).unwrap().0, 8);
    }
}
