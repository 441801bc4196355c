//! Wildcards in `inputs` (`app_*`, `router.*`, `*`), expanded as Vector
//! expands them: a glob (`*`, `?`, `[...]`, `{a,b}`) over every output of
//! every source and transform, written `id` for a default output and
//! `id.name` for a named one, in declaration order, leaving out the
//! consumer's own outputs. A wildcard that matches nothing is an error, as
//! in Vector, or a warning and ignored with Vector's global
//! `wildcard_matching = "relaxed"`. A pattern that is not a valid glob is
//! left as written, so the graph check reports it as a missing input.
//!
//! Only rewrites `inputs`; whether the inputs exist and fit is `graph`'s
//! job, after this.

use std::collections::HashSet;

use crate::error::ConfigError;
use crate::graph::BrokenConsumer;
use crate::model::{Config, Origin};
use crate::vector::WildcardMatching;

/// Whether an input is a pattern rather than a name.
fn is_wildcard(input: &str) -> bool {
    input.contains(['*', '?', '[', '{'])
}

/// Every input a wildcard may match. Invalid components (`broken`) are
/// offered by name only: their outputs are unknown.
fn candidates(config: &Config, broken: &HashSet<String>, broken_sinks: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for id in config.sources.keys().chain(config.transforms.keys()) {
        for o in config.outputs_of(id).unwrap_or_default() {
            out.push(match o.name {
                Some(name) => format!("{id}.{name}"),
                None => id.clone(),
            });
        }
    }
    let mut invalid: Vec<&String> = broken
        .iter()
        .filter(|id| !broken_sinks.contains(&id.as_str()))
        .collect();
    invalid.sort();
    out.extend(invalid.into_iter().cloned());
    out
}

/// Expands the wildcards in the inputs of every transform and sink, valid
/// or not.
pub(crate) fn expand(
    config: &mut Config,
    broken: &HashSet<String>,
    broken_consumers: &mut [BrokenConsumer],
    matching: WildcardMatching,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) {
    let broken_sinks: Vec<&str> = broken_consumers
        .iter()
        .filter(|c| c.what == "sink")
        .map(|c| c.id.as_str())
        .collect();
    let candidates = candidates(config, broken, &broken_sinks);
    let mut cx = Expansion {
        candidates: &candidates,
        matching,
        errors,
        warnings,
    };
    for (id, t) in config.transforms.iter_mut() {
        cx.expand_inputs(id, &mut t.inputs, &t.origin);
    }
    for (id, s) in config.sinks.iter_mut() {
        cx.expand_inputs(id, &mut s.inputs, &s.origin);
    }
    for c in broken_consumers.iter_mut() {
        cx.expand_inputs(&c.id, &mut c.inputs, &c.origin);
    }
}

struct Expansion<'a> {
    candidates: &'a [String],
    matching: WildcardMatching,
    errors: &'a mut Vec<ConfigError>,
    warnings: &'a mut Vec<ConfigError>,
}

impl Expansion<'_> {
    fn expand_inputs(&mut self, id: &str, inputs: &mut Vec<String>, origin: &Origin) {
        if !inputs.iter().any(|i| is_wildcard(i)) {
            return;
        }
        let own_output = format!("{id}.");
        let written = std::mem::take(inputs);
        // Names written out stay as they are (a repeat is still reported);
        // a wildcard adds only what is not listed yet.
        let named: HashSet<&String> = written.iter().filter(|i| !is_wildcard(i)).collect();
        let mut added: HashSet<&str> = HashSet::new();
        for input in &written {
            if !is_wildcard(input) {
                inputs.push(input.clone());
                continue;
            }
            let Ok(glob) = globset::Glob::new(input) else {
                inputs.push(input.clone());
                continue;
            };
            let glob = glob.compile_matcher();
            let matches: Vec<&String> = self
                .candidates
                .iter()
                .filter(|c| *c != id && !c.starts_with(&own_output) && glob.is_match(c.as_str()))
                .collect();
            if matches.is_empty() {
                self.unmatched(id, input, origin);
                continue;
            }
            for m in matches {
                if !named.contains(m) && added.insert(m) {
                    inputs.push(m.clone());
                }
            }
        }
    }

    fn unmatched(&mut self, id: &str, input: &str, origin: &Origin) {
        let line = origin.inputs_line.or(origin.line);
        let message = format!("in `{id}`: input `{input}` matches no component");
        let known = if self.candidates.is_empty() {
            "there are no sources or transforms".to_owned()
        } else {
            format!("the inputs there are: {}", self.candidates.join(", "))
        };
        match self.matching {
            WildcardMatching::Strict => self.errors.push(
                ConfigError::new(&origin.file, line, message)
                    .hint(format!("{known}; or set wildcard_matching = \"relaxed\" to allow wildcards that match nothing")),
            ),
            WildcardMatching::Relaxed => self.warnings.push(
                ConfigError::new(&origin.file, line, format!("{message}; ignored"))
                    .hint(known)
                    .warning(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(candidates: &[&str], id: &str, inputs: &[&str]) -> (Vec<String>, usize) {
        let candidates: Vec<String> = candidates.iter().map(|s| (*s).to_owned()).collect();
        let (mut errors, mut warnings) = (Vec::new(), Vec::new());
        let mut cx = Expansion {
            candidates: &candidates,
            matching: WildcardMatching::Strict,
            errors: &mut errors,
            warnings: &mut warnings,
        };
        let mut inputs: Vec<String> = inputs.iter().map(|s| (*s).to_owned()).collect();
        let origin = Origin {
            file: "p.toml".into(),
            line: Some(1),
            inputs_line: Some(2),
        };
        cx.expand_inputs(id, &mut inputs, &origin);
        (inputs, errors.len())
    }

    #[test]
    fn globs_over_outputs_in_declaration_order() {
        let all = [
            "app_1",
            "app_2",
            "other",
            "r.a",
            "r._unmatched",
            "t",
            "t.dropped",
        ];
        assert_eq!(expanded(&all, "out", &["app_*"]).0, ["app_1", "app_2"]);
        assert_eq!(expanded(&all, "out", &["r.*"]).0, ["r.a", "r._unmatched"]);
        assert_eq!(
            expanded(&all, "out", &["app_?", "other"]).0,
            ["app_1", "app_2", "other"]
        );
        // Its own outputs are left out; a name also written is not repeated.
        assert_eq!(
            expanded(&all, "t", &["*"]).0,
            ["app_1", "app_2", "other", "r.a", "r._unmatched"]
        );
        assert_eq!(
            expanded(&all, "out", &["app_1", "app_*"]).0,
            ["app_1", "app_2"]
        );
        assert_eq!(expanded(&all, "out", &["{other,t}"]).0, ["other", "t"]);
    }

    #[test]
    fn a_wildcard_matching_nothing_is_an_error() {
        assert_eq!(expanded(&["a"], "out", &["b*"]), (vec![], 1));
        // Not a valid glob: left for the graph check to report.
        assert_eq!(expanded(&["a"], "out", &["a["]), (vec!["a[".to_owned()], 0));
    }
}
