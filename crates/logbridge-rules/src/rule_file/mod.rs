//! Loading and checking Prometheus rule files.
//!
//! `logbridge` runs Prometheus alerting and recording rules in-stream, and
//! users bring their existing Prometheus rule files. This module reads such a
//! file (YAML), checks it the way Prometheus' `rulefmt` package does, and
//! returns either the typed groups and rules or *every* problem found, each
//! with the file, the group, the rule and a `line:column` position:
//!
//! ```text
//! rules/api.yml:14:15: group "api", rule 3 (alert "HighErrorRate"): expr: unknown function with name 'rat'
//! ```
//!
//! # Format (Prometheus 3 `rulefmt`)
//!
//! ```yaml
//! groups:
//!   - name: api                  # required, unique within the file
//!     interval: 30s              # optional Prometheus duration
//!     query_offset: 1m           # optional duration
//!     limit: 0                   # optional int, 0 = no limit
//!     labels: {team: api}        # optional group labels (Prometheus 3.x)
//!     rules:
//!       - alert: HighErrorRate   # exactly one of `alert` / `record`
//!         expr: rate(errors_total[5m]) > 1   # required; a YAML number also works
//!         for: 5m                # alerts only
//!         keep_firing_for: 1m    # alerts only
//!         labels: {severity: page}
//!         annotations: {summary: "..."}      # alerts only
//!       - record: job:errors:rate5m
//!         expr: sum by (job) (rate(errors_total[5m]))
//! ```
//!
//! # Compatibility with Prometheus
//!
//! The checks follow `rulefmt.Parse` with strict (`KnownFields`) YAML
//! decoding, and the messages stay close to Prometheus' own, so existing
//! Prometheus rule files load unchanged:
//!
//! * unknown keys and duplicate keys are errors, at every level;
//! * scalars are read the way `yaml.v3` reads them into Go strings: `expr: 1`,
//!   `alert: true` or `severity: 2` keep their source text; `~`, `null` and
//!   empty values mean "not set";
//! * anchors, aliases and `<<` merge keys work; only the first YAML document
//!   of the file is read (later ones are ignored, as in Prometheus);
//! * `for`, `keep_firing_for` and `annotations` in a recording rule are errors
//!   only when non-zero / non-empty, as in Prometheus;
//! * `interval: 0` means "use the default" (`RuleGroup::interval` is `None`),
//!   while `query_offset: 0` is kept as an explicit zero;
//! * a negative `limit` is accepted and means "no limit" (Prometheus only
//!   applies limits greater than zero).
//!
//! Known differences: expressions are checked by `promql-parser`, which does
//! not implement Prometheus' experimental, feature-flagged syntax (duration
//! expressions such as `[5m+1m]` or `step()`, the `anchored` / `smoothed`
//! modifiers); a fractional `limit` is rejected; error messages are worded
//! for people rather than copied from Go (`field "fro" not found in a rule`
//! instead of `field fro not found in type rulefmt.Rule`), and label errors
//! carry a position where Prometheus has none.
//!
//! **Names.** Prometheus 3 validates names with its configured scheme, which
//! defaults to UTF-8: any non-empty string is a valid metric or label name
//! (such names are written `{"my.metric"}` in PromQL, which `promql-parser`
//! supports). This module does the same by default
//! ([`NameValidation::Utf8`]); [`NameValidation::Legacy`] restores the
//! Prometheus 2 character sets. In both modes recording rule names containing
//! `{` or `}` are rejected (a common mistake: the selector belongs in `expr`),
//! and `__name__` cannot be set through `labels`.
//!
//! **Templates.** Label and annotation templates are not checked here; an
//! optional hook ([`ParseOptions::template_check`]) lets the template module
//! plug in, and is called for alerting rules only, like Prometheus does.
//!
//! **Positions** are 1-based lines and columns, counted in characters. An
//! error in `expr` points at the `expr` value; when the PromQL error can be
//! tied to a token of the expression (an unknown function, a bad number or
//! duration) and the value is a single-line scalar or a literal block (`|`),
//! the column (and line) of that token is reported instead.
//!
//! **Robustness.** No file content can make this module panic: YAML nesting
//! is limited to 64 levels (valid rule files need about 6), excessive aliasing
//! ("billion laughs") and deep merge-key chains are refused, and expressions
//! that make `promql-parser` 0.11.1 panic (a plain number used as a duration
//! that is NaN, infinite or at least 2^64 seconds, e.g. `x offset nan`,
//! `x[1e300]`) are rejected with an `invalid duration` error before parsing.
//! The YAML and PromQL parsers and the template hook are also called behind
//! `catch_unwind` as a last line of defence (effective with the default
//! `panic = "unwind"`); such a caught panic is reported as an "internal
//! error" for that file or expression.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use promql_parser::parser::Expr;

use super::duration::parse_duration;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// A 1-based line and column (the column counts characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number, starting at 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Whether a rule is an alerting or a recording rule, with its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `alert: <name>`.
    Alert {
        /// The alert name.
        name: String,
    },
    /// `record: <name>`.
    Record {
        /// The metric name the rule records to.
        name: String,
    },
}

impl RuleKind {
    /// The alert or record name.
    pub fn name(&self) -> &str {
        match self {
            RuleKind::Alert { name } | RuleKind::Record { name } => name,
        }
    }

    /// True for alerting rules.
    pub fn is_alert(&self) -> bool {
        matches!(self, RuleKind::Alert { .. })
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleKind::Alert { name } => write!(f, "alert {name:?}"),
            RuleKind::Record { name } => write!(f, "record {name:?}"),
        }
    }
}

/// One alerting or recording rule.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// Alert or record, with the name.
    pub kind: RuleKind,
    /// The PromQL expression as written (numbers keep their source text).
    pub expr: String,
    /// The parsed expression.
    pub expr_ast: Expr,
    /// `for` (alerts only; zero when absent).
    pub for_: Duration,
    /// `keep_firing_for` (alerts only; zero when absent).
    pub keep_firing_for: Duration,
    /// Rule labels, in file order.
    pub labels: Vec<(String, String)>,
    /// Annotations (alerts only), in file order.
    pub annotations: Vec<(String, String)>,
    /// Position of the rule (its first key).
    pub position: Position,
    /// Position of the `expr` value.
    pub expr_position: Position,
}

/// A group of rules evaluated together.
#[derive(Debug, Clone)]
pub struct RuleGroup {
    /// Group name, unique within the file.
    pub name: String,
    /// Evaluation interval; `None` means the global default (absent or `0`).
    pub interval: Option<Duration>,
    /// `query_offset`; `None` when absent (use the global default).
    pub query_offset: Option<Duration>,
    /// Maximum alerts/series per rule; 0 means no limit.
    pub limit: usize,
    /// Group labels (Prometheus 3.x), added to every rule's output.
    pub labels: Vec<(String, String)>,
    /// The rules, in file order.
    pub rules: Vec<RuleSpec>,
    /// Position of the group (its first key).
    pub position: Position,
}

/// A successfully loaded rule file.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// The path given to the loader (used in messages only).
    pub path: String,
    /// The groups, in file order.
    pub groups: Vec<RuleGroup>,
}

/// Identifies the group an error belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupRef {
    /// 1-based index of the group in the file.
    pub index: usize,
    /// The group's name; empty when it has none.
    pub name: String,
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            write!(f, "group #{}", self.index)
        } else {
            write!(f, "group {:?}", self.name)
        }
    }
}

/// Identifies the rule an error belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleRef {
    /// 1-based index of the rule in its group.
    pub index: usize,
    /// Alert or record name when the rule has one (the alert name wins when
    /// both are set, as in Prometheus).
    pub kind: Option<RuleKind>,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Some(kind) => write!(f, "rule {} ({kind})", self.index),
            None => write!(f, "rule {}", self.index),
        }
    }
}

/// One problem found in a rule file.
///
/// Displays as `path:line:col: group "g", rule N (alert "X"): message`; the
/// parts that are unknown or do not apply are left out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuleFileError {
    /// The file's path, as given to the loader.
    pub path: String,
    /// Where the problem is; `None` for problems with the file as a whole.
    pub position: Option<Position>,
    /// The group concerned, if any.
    pub group: Option<GroupRef>,
    /// The rule concerned, if any (always within `group`).
    pub rule: Option<RuleRef>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.path)?;
        if let Some(pos) = self.position {
            write!(f, "{pos}:")?;
        }
        if let Some(group) = &self.group {
            write!(f, " {group}")?;
            if let Some(rule) = &self.rule {
                write!(f, ", {rule}")?;
            }
            write!(f, ":")?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for RuleFileError {}

/// Which metric and label names are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// Prometheus 3 default: any non-empty UTF-8 string.
    #[default]
    Utf8,
    /// Prometheus 2 rules: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label
    /// names `[a-zA-Z_][a-zA-Z0-9_]*`.
    Legacy,
}

/// Checks one label or annotation template; returns the problem on failure.
pub type TemplateCheck = fn(&str) -> Result<(), String>;

/// Options for [`parse_rule_file_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    /// Name validation scheme (default: UTF-8, like Prometheus 3).
    pub name_validation: NameValidation,
    /// Called with each label and annotation value of alerting rules; errors
    /// are reported as `label "k": <error>` / `annotation "k": <error>` at
    /// the value's position. `None` (the default) skips template checks.
    pub template_check: Option<TemplateCheck>,
}

/// True if `name` is a valid metric name under `scheme`.
pub fn is_valid_metric_name(name: &str, scheme: NameValidation) -> bool {
    match scheme {
        NameValidation::Utf8 => !name.is_empty(),
        NameValidation::Legacy => {
            let mut chars = name.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        }
    }
}

/// True if `name` is a valid label name under `scheme`.
pub fn is_valid_label_name(name: &str, scheme: NameValidation) -> bool {
    match scheme {
        NameValidation::Utf8 => !name.is_empty(),
        NameValidation::Legacy => {
            let mut chars = name.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
    }
}

/// Parses and checks a rule file with the default options (UTF-8 names, no
/// template checks). `path` is only used in messages.
///
/// Returns all problems found, sorted by position, when there is any.
pub fn parse_rule_file(path: &str, text: &str) -> Result<RuleFile, Vec<RuleFileError>> {
    parse_rule_file_with(path, text, &ParseOptions::default())
}

/// Like [`parse_rule_file`], with explicit options.
pub fn parse_rule_file_with(
    path: &str,
    text: &str,
    options: &ParseOptions,
) -> Result<RuleFile, Vec<RuleFileError>> {
    let file_error = |position: Option<Position>, message: String| RuleFileError {
        path: path.to_string(),
        position,
        group: None,
        rule: None,
        message,
    };
    let root = match catch_unwind(AssertUnwindSafe(|| yaml::load(text))) {
        Ok(Ok(root)) => root,
        Ok(Err(e)) => return Err(vec![file_error(Some(e.position), e.message)]),
        Err(_) => {
            return Err(vec![file_error(
                None,
                "internal error: the YAML parser panicked on this file".to_string(),
            )]);
        }
    };
    let mut checker = Checker {
        path,
        lines: text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect(),
        options,
        errors: Vec::new(),
    };
    let groups = checker.check_root(root.as_ref());
    if checker.errors.is_empty() {
        return Ok(RuleFile {
            path: path.to_string(),
            groups,
        });
    }
    let mut seen = HashSet::new();
    let mut errors: Vec<RuleFileError> = checker
        .errors
        .into_iter()
        .filter(|e| seen.insert(e.clone()))
        .collect();
    errors.sort_by_key(|e| e.position);
    Err(errors)
}

mod yaml;

use yaml::{Kind, Node, Style};

// ---------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------

const TOP_FIELDS: &[&str] = &["groups"];
const GROUP_FIELDS: &[&str] = &[
    "name",
    "interval",
    "query_offset",
    "limit",
    "labels",
    "rules",
];
const RULE_FIELDS: &[&str] = &[
    "record",
    "alert",
    "expr",
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
];

/// Merge keys (`<<`) may pull in mappings that themselves merge, this deep.
const MAX_MERGE_DEPTH: usize = 16;

/// A problem found before the group/rule context is known.
type Problem = (Position, String);

/// A key/value pair of a mapping, after merge keys are applied.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    key_position: Position,
    value: Node,
}

/// A string-to-string map item (labels, annotations).
struct MapItem {
    key: String,
    key_position: Position,
    value: String,
    value_position: Position,
}

/// Short description of a node for "expected X, found Y" messages.
fn describe(node: &Node) -> String {
    match &node.data.kind {
        Kind::Map(_) => "a mapping".to_string(),
        Kind::Seq(_) => "a sequence".to_string(),
        Kind::Scalar(s) if s.is_null() => "null".to_string(),
        Kind::Scalar(s) => {
            let mut text: String = s.value.chars().take(40).collect();
            if text.len() < s.value.len() {
                text.push('…');
            }
            format!("{text:?}")
        }
    }
}

/// The entries of a mapping, with `<<` merge keys applied (explicit keys win
/// over merged ones, earlier merge sources over later ones). Duplicate
/// explicit keys are problems, as in go-yaml.
fn mapping_entries(
    pairs: &[(Node, Node)],
    depth: usize,
    problems: &mut Vec<Problem>,
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut merged: Vec<Entry> = Vec::new();
    let mut merged_keys: HashSet<String> = HashSet::new();
    for (key, value) in pairs {
        let Some(k) = key.scalar() else {
            problems.push((key.position, "mapping keys must be scalars".to_string()));
            continue;
        };
        if k.is_merge_key() {
            merge_into(value, depth, problems, &mut merged, &mut merged_keys);
            continue;
        }
        let name = k.text().to_string();
        if let Some(&first) = index.get(&name) {
            problems.push((
                key.position,
                format!(
                    "mapping key {name:?} already defined at line {}",
                    entries[first].key_position.line
                ),
            ));
            continue;
        }
        index.insert(name.clone(), entries.len());
        entries.push(Entry {
            key: name,
            key_position: key.position,
            value: value.clone(),
        });
    }
    for entry in merged {
        if !index.contains_key(&entry.key) {
            index.insert(entry.key.clone(), entries.len());
            entries.push(entry);
        }
    }
    entries
}

fn merge_into(
    source: &Node,
    depth: usize,
    problems: &mut Vec<Problem>,
    merged: &mut Vec<Entry>,
    merged_keys: &mut HashSet<String>,
) {
    if depth >= MAX_MERGE_DEPTH {
        problems.push((
            source.position,
            "merge keys (<<) nested too deeply".to_string(),
        ));
        return;
    }
    let mut add = |pairs: &[(Node, Node)], problems: &mut Vec<Problem>| {
        for entry in mapping_entries(pairs, depth + 1, problems) {
            if merged_keys.insert(entry.key.clone()) {
                merged.push(entry);
            }
        }
    };
    match &source.data.kind {
        Kind::Map(pairs) => add(pairs, problems),
        Kind::Seq(items) => {
            for item in items {
                match &item.data.kind {
                    Kind::Map(pairs) => add(pairs, problems),
                    _ => problems.push((
                        item.position,
                        format!("merge key (<<) needs mappings, found {}", describe(item)),
                    )),
                }
            }
        }
        Kind::Scalar(_) => problems.push((
            source.position,
            format!(
                "merge key (<<) needs a mapping or a sequence of mappings, found {}",
                describe(source)
            ),
        )),
    }
}

/// The fields of a struct-like mapping (top level, group, rule). Unknown
/// fields are problems, as with go-yaml's `KnownFields(true)`. `None` when
/// the node is not a mapping (also a problem). Null counts as empty.
fn struct_fields(
    node: &Node,
    what: &str,
    allowed: &'static [&'static str],
    problems: &mut Vec<Problem>,
) -> Option<HashMap<&'static str, Entry>> {
    let mut fields = HashMap::new();
    match &node.data.kind {
        Kind::Map(pairs) => {
            for entry in mapping_entries(pairs, 0, problems) {
                match allowed.iter().find(|f| **f == entry.key) {
                    Some(field) => {
                        fields.insert(*field, entry);
                    }
                    None => problems.push((
                        entry.key_position,
                        format!(
                            "field {:?} not found in {what} (valid fields: {})",
                            entry.key,
                            allowed.join(", ")
                        ),
                    )),
                }
            }
            Some(fields)
        }
        Kind::Scalar(s) if s.is_null() => Some(fields),
        _ => {
            problems.push((
                node.position,
                format!("expected {what} to be a mapping, found {}", describe(node)),
            ));
            None
        }
    }
}

/// A string field: the scalar's text (empty for null); `None` if it is not a
/// scalar (reported).
fn string_field(entry: &Entry, problems: &mut Vec<Problem>) -> Option<String> {
    match entry.value.scalar() {
        Some(s) => Some(s.text().to_string()),
        None => {
            problems.push((
                entry.value.position,
                format!(
                    "{}: expected a string, found {}",
                    entry.key,
                    describe(&entry.value)
                ),
            ));
            None
        }
    }
}

/// A duration field; `Ok(None)` when null, `Err(())` when invalid (reported).
fn duration_field(entry: &Entry, problems: &mut Vec<Problem>) -> Result<Option<Duration>, ()> {
    let Some(s) = entry.value.scalar() else {
        problems.push((
            entry.value.position,
            format!(
                "{}: expected a duration such as 5m, found {}",
                entry.key,
                describe(&entry.value)
            ),
        ));
        return Err(());
    };
    if s.is_null() {
        return Ok(None);
    }
    match parse_duration(&s.value) {
        Ok(d) => Ok(Some(d)),
        Err(e) => {
            problems.push((entry.value.position, format!("{}: {e}", entry.key)));
            Err(())
        }
    }
}

/// Reads a YAML integer the way go-yaml resolves one (plain scalars or
/// `!!int`: decimal, `0x`, `0o`, `0b`, leading-zero octal, `_` separators).
/// Integral floats (`1e3`, `10.0`) are accepted too.
fn yaml_int(s: &yaml::Scalar) -> Option<i128> {
    let resolvable = match &s.tag {
        None => s.style == Style::Plain,
        Some(yaml::Tag::Core(t)) => t == "int" || t == "float",
        Some(yaml::Tag::Other) => false,
    };
    if !resolvable {
        return None;
    }
    let text: String = s.value.chars().filter(|c| *c != '_').collect();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text.as_str()),
    };
    let parse = |radix: u32, t: &str| {
        if t.is_empty() || !t.chars().all(|c| c.is_digit(radix)) {
            None
        } else {
            i128::from_str_radix(t, radix).ok()
        }
    };
    let magnitude = if let Some(t) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        parse(16, t)
    } else if let Some(t) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        parse(8, t)
    } else if let Some(t) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        parse(2, t)
    } else if digits.len() > 1 && digits.starts_with('0') {
        parse(8, &digits[1..])
    } else {
        parse(10, digits)
    };
    let magnitude = magnitude.or_else(|| {
        // YAML-style float (no inf/nan) with an integral value.
        let looks_like_float = !digits.is_empty()
            && digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
            && digits
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '.');
        let f: f64 = if looks_like_float {
            digits.parse().ok()?
        } else {
            return None;
        };
        (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128)
    })?;
    Some(if negative { -magnitude } else { magnitude })
}

/// Checks state: the file's lines (for positions inside scalars), the
/// options and the errors found so far.
struct Checker<'a> {
    path: &'a str,
    lines: Vec<&'a str>,
    options: &'a ParseOptions,
    errors: Vec<RuleFileError>,
}

impl Checker<'_> {
    fn error(
        &mut self,
        position: Position,
        group: Option<&GroupRef>,
        rule: Option<&RuleRef>,
        message: impl Into<String>,
    ) {
        self.errors.push(RuleFileError {
            path: self.path.to_string(),
            position: Some(position),
            group: group.cloned(),
            rule: rule.cloned(),
            message: message.into(),
        });
    }

    fn flush(&mut self, problems: Vec<Problem>, group: Option<&GroupRef>, rule: Option<&RuleRef>) {
        for (position, message) in problems {
            self.error(position, group, rule, message);
        }
    }

    fn check_root(&mut self, root: Option<&Node>) -> Vec<RuleGroup> {
        let Some(root) = root else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        let fields = match &root.data.kind {
            Kind::Map(_) => struct_fields(root, "the rule file", TOP_FIELDS, &mut problems),
            Kind::Scalar(s) if s.is_null() => None,
            _ => {
                problems.push((
                    root.position,
                    format!(
                        "expected a mapping with a \"groups\" key at the top level, found {}",
                        describe(root)
                    ),
                ));
                None
            }
        };
        self.flush(problems, None, None);
        let Some(groups) = fields.as_ref().and_then(|f| f.get("groups")) else {
            return Vec::new();
        };
        let items = match &groups.value.data.kind {
            Kind::Seq(items) => items.as_slice(),
            Kind::Scalar(s) if s.is_null() => &[],
            _ => {
                let message = format!(
                    "groups: expected a sequence of rule groups, found {}",
                    describe(&groups.value)
                );
                self.error(groups.value.position, None, None, message);
                return Vec::new();
            }
        };
        let mut seen_names: HashMap<String, Position> = HashMap::new();
        let mut out = Vec::new();
        for (i, node) in items.iter().enumerate() {
            if let Some(group) = self.check_group(i + 1, node, &mut seen_names) {
                out.push(group);
            }
        }
        out
    }

    fn check_group(
        &mut self,
        index: usize,
        node: &Node,
        seen_names: &mut HashMap<String, Position>,
    ) -> Option<RuleGroup> {
        let errors_before = self.errors.len();
        let mut problems = Vec::new();
        let fields = struct_fields(node, "a rule group", GROUP_FIELDS, &mut problems);
        let Some(fields) = fields else {
            let group = GroupRef {
                index,
                name: String::new(),
            };
            self.flush(problems, Some(&group), None);
            return None;
        };
        let name = fields
            .get("name")
            .and_then(|e| string_field(e, &mut problems))
            .unwrap_or_default();
        let group = GroupRef {
            index,
            name: name.clone(),
        };
        let name_position = fields
            .get("name")
            .map_or(node.position, |e| e.value.position);
        if name.is_empty() {
            if fields
                .get("name")
                .is_none_or(|e| e.value.scalar().is_some())
            {
                problems.push((name_position, "group name must not be empty".to_string()));
            }
        } else if let Some(first) = seen_names.get(&name) {
            problems.push((
                name_position,
                format!(
                    "group name {name:?} is repeated in the same file (first defined at line {})",
                    first.line
                ),
            ));
        } else {
            seen_names.insert(name.clone(), name_position);
        }

        let interval = fields
            .get("interval")
            .and_then(|e| duration_field(e, &mut problems).ok().flatten())
            .filter(|d| !d.is_zero());
        let query_offset = fields
            .get("query_offset")
            .and_then(|e| duration_field(e, &mut problems).ok().flatten());
        let limit = fields
            .get("limit")
            .map_or(0, |e| self.limit_field(e, &mut problems));
        let labels = fields
            .get("labels")
            .map_or_else(Vec::new, |e| self.string_map(e, "labels", &mut problems));
        for item in &labels {
            if let Some(problem) = self.label_name_problem(&item.key) {
                problems.push((item.key_position, problem));
            }
        }
        self.flush(problems, Some(&group), None);

        let mut rules = Vec::new();
        if let Some(entry) = fields.get("rules") {
            match &entry.value.data.kind {
                Kind::Seq(items) => {
                    for (i, rule) in items.iter().enumerate() {
                        if let Some(rule) = self.check_rule(&group, i + 1, rule) {
                            rules.push(rule);
                        }
                    }
                }
                Kind::Scalar(s) if s.is_null() => {}
                _ => {
                    let message = format!(
                        "rules: expected a sequence of rules, found {}",
                        describe(&entry.value)
                    );
                    self.error(entry.value.position, Some(&group), None, message);
                }
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(RuleGroup {
            name,
            interval,
            query_offset,
            limit,
            labels: labels.into_iter().map(|i| (i.key, i.value)).collect(),
            rules,
            position: node.position,
        })
    }

    fn limit_field(&self, entry: &Entry, problems: &mut Vec<Problem>) -> usize {
        let value = &entry.value;
        let Some(s) = value.scalar() else {
            problems.push((
                value.position,
                format!("limit: expected an integer, found {}", describe(value)),
            ));
            return 0;
        };
        if s.is_null() {
            return 0;
        }
        match yaml_int(s) {
            // Prometheus only applies limits greater than zero.
            Some(n) if n <= 0 => 0,
            Some(n) if n <= i128::from(i64::MAX) => usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => {
                problems.push((value.position, "limit: value out of range".to_string()));
                0
            }
            None => {
                problems.push((
                    value.position,
                    format!("limit: expected an integer, found {}", describe(value)),
                ));
                0
            }
        }
    }

    /// A map of strings (labels, annotations). Problems for non-mappings and
    /// non-scalar values; null means empty.
    fn string_map(&self, entry: &Entry, what: &str, problems: &mut Vec<Problem>) -> Vec<MapItem> {
        let pairs = match &entry.value.data.kind {
            Kind::Map(pairs) => pairs,
            Kind::Scalar(s) if s.is_null() => return Vec::new(),
            _ => {
                problems.push((
                    entry.value.position,
                    format!(
                        "{what}: expected a mapping of names to strings, found {}",
                        describe(&entry.value)
                    ),
                ));
                return Vec::new();
            }
        };
        let mut items = Vec::new();
        for e in mapping_entries(pairs, 0, problems) {
            match e.value.scalar() {
                Some(s) => items.push(MapItem {
                    key: e.key,
                    key_position: e.key_position,
                    value: s.text().to_string(),
                    value_position: e.value.position,
                }),
                None => problems.push((
                    e.value.position,
                    format!(
                        "{what}: value of {:?} must be a string, found {}",
                        e.key,
                        describe(&e.value)
                    ),
                )),
            }
        }
        items
    }

    fn label_name_problem(&self, name: &str) -> Option<String> {
        if name == "__name__" {
            return Some(
                "invalid label name: \"__name__\" (the metric name cannot be set as a label)"
                    .to_string(),
            );
        }
        if is_valid_label_name(name, self.options.name_validation) {
            return None;
        }
        Some(if name.is_empty() {
            "invalid label name: \"\" (must not be empty)".to_string()
        } else {
            format!("invalid label name: {name:?} (must match [a-zA-Z_][a-zA-Z0-9_]*)")
        })
    }

    fn check_rule(&mut self, group: &GroupRef, index: usize, node: &Node) -> Option<RuleSpec> {
        let errors_before = self.errors.len();
        let mut problems = Vec::new();
        let Some(fields) = struct_fields(node, "a rule", RULE_FIELDS, &mut problems) else {
            let rule = RuleRef { index, kind: None };
            self.flush(problems, Some(group), Some(&rule));
            return None;
        };
        let record = fields
            .get("record")
            .and_then(|e| string_field(e, &mut problems));
        let alert = fields
            .get("alert")
            .and_then(|e| string_field(e, &mut problems));
        let record = record.unwrap_or_default();
        let alert = alert.unwrap_or_default();
        let kind = if !alert.is_empty() {
            Some(RuleKind::Alert {
                name: alert.clone(),
            })
        } else if !record.is_empty() {
            Some(RuleKind::Record {
                name: record.clone(),
            })
        } else {
            None
        };
        let key_position = |key: &str| fields.get(key).map(|e| e.key_position);
        let value_position = |key: &str| fields.get(key).map(|e| e.value.position);

        if !record.is_empty() && !alert.is_empty() {
            let at = key_position("record").max(key_position("alert"));
            problems.push((
                at.unwrap_or(node.position),
                "only one of 'record' and 'alert' must be set".to_string(),
            ));
        }
        let record_or_alert_bad_type = ["record", "alert"]
            .iter()
            .any(|k| fields.get(k).is_some_and(|e| e.value.scalar().is_none()));
        if record.is_empty() && alert.is_empty() && !record_or_alert_bad_type {
            problems.push((
                node.position,
                "one of 'record' or 'alert' must be set".to_string(),
            ));
        }

        // expr
        let mut expr_ok = None;
        match fields.get("expr") {
            None => problems.push((
                node.position,
                "field 'expr' must be set in rule".to_string(),
            )),
            Some(entry) => {
                if let Some(expr) = string_field(entry, &mut problems) {
                    if expr.is_empty() {
                        problems.push((
                            entry.value.position,
                            "field 'expr' must be set in rule".to_string(),
                        ));
                    } else {
                        match parse_expr(&expr) {
                            Ok(ast) => expr_ok = Some((expr, ast, entry.value.position)),
                            Err(message) => {
                                let at = locate_expr_error(&expr, &message)
                                    .map_or(entry.value.position, |offset| {
                                        self.scalar_position(&entry.value, offset)
                                    });
                                problems.push((at, format!("expr: {message}")));
                            }
                        }
                    }
                }
            }
        }

        let for_ = fields.get("for").map(|e| duration_field(e, &mut problems));
        let keep_firing_for = fields
            .get("keep_firing_for")
            .map(|e| duration_field(e, &mut problems));
        let labels = fields
            .get("labels")
            .map_or_else(Vec::new, |e| self.string_map(e, "labels", &mut problems));
        let annotations = fields.get("annotations").map_or_else(Vec::new, |e| {
            self.string_map(e, "annotations", &mut problems)
        });

        if !record.is_empty() {
            if !annotations.is_empty() {
                problems.push((
                    key_position("annotations").unwrap_or(node.position),
                    "invalid field 'annotations' in recording rule".to_string(),
                ));
            }
            if let Some(Ok(Some(d))) = for_
                && !d.is_zero()
            {
                problems.push((
                    key_position("for").unwrap_or(node.position),
                    "invalid field 'for' in recording rule".to_string(),
                ));
            }
            if let Some(Ok(Some(d))) = keep_firing_for
                && !d.is_zero()
            {
                problems.push((
                    key_position("keep_firing_for").unwrap_or(node.position),
                    "invalid field 'keep_firing_for' in recording rule".to_string(),
                ));
            }
            let at = value_position("record").unwrap_or(node.position);
            if !is_valid_metric_name(&record, self.options.name_validation) {
                problems.push((
                    at,
                    format!(
                        "invalid recording rule name: {record:?} (must match [a-zA-Z_:][a-zA-Z0-9_:]*)"
                    ),
                ));
            }
            if record.contains('{') || record.contains('}') {
                problems.push((
                    at,
                    format!(
                        "braces present in the recording rule name; should it be in expr?: {record:?}"
                    ),
                ));
            }
        }

        for item in &labels {
            if let Some(problem) = self.label_name_problem(&item.key) {
                problems.push((item.key_position, problem));
            }
        }
        for item in &annotations {
            if !is_valid_label_name(&item.key, self.options.name_validation) {
                problems.push((
                    item.key_position,
                    format!("invalid annotation name: {:?}", item.key),
                ));
            }
        }

        // Template hook: alerting rules only, like Prometheus.
        if let (Some(check), false) = (self.options.template_check, alert.is_empty()) {
            for (what, items) in [("label", &labels), ("annotation", &annotations)] {
                for item in items {
                    if let Err(e) = check_template(check, &item.value) {
                        problems.push((item.value_position, format!("{what} {:?}: {e}", item.key)));
                    }
                }
            }
        }

        let rule = RuleRef {
            index,
            kind: kind.clone(),
        };
        self.flush(problems, Some(group), Some(&rule));
        if self.errors.len() > errors_before {
            return None;
        }
        let (expr, expr_ast, expr_position) = expr_ok?;
        let duration = |d: Option<Result<Option<Duration>, ()>>| d.and_then(|r| r.ok().flatten());
        Some(RuleSpec {
            kind: kind?,
            expr,
            expr_ast,
            for_: duration(for_).unwrap_or_default(),
            keep_firing_for: duration(keep_firing_for).unwrap_or_default(),
            labels: labels.into_iter().map(|i| (i.key, i.value)).collect(),
            annotations: annotations.into_iter().map(|i| (i.key, i.value)).collect(),
            position: node.position,
            expr_position,
        })
    }

    /// Source line `line` (1-based), without its line break.
    fn line(&self, line: usize) -> Option<&str> {
        self.lines.get(line.checked_sub(1)?).copied()
    }

    /// Position of the character at `offset` (in chars) of a scalar's value,
    /// when the value can be mapped back onto the source text exactly:
    /// single-line plain or quoted scalars without escapes, and literal
    /// blocks. Otherwise the scalar's own position.
    fn scalar_position(&self, node: &Node, offset: usize) -> Position {
        let fallback = node.position;
        let Some(s) = node.scalar() else {
            return fallback;
        };
        if node.aliased {
            return fallback;
        }
        let value: Vec<char> = s.value.chars().collect();
        let single_line = s.start.0 == s.end.0 && !s.value.contains('\n');
        match s.style {
            Style::Plain if single_line => {
                let Some(line) = self.line(s.start.0) else {
                    return fallback;
                };
                let n = value.len();
                let Some(begin) = s.end.1.checked_sub(n) else {
                    return fallback;
                };
                let source: Vec<char> = line.chars().skip(begin).take(n).collect();
                if begin < s.start.1 || source != value || offset > n {
                    return fallback;
                }
                Position {
                    line: s.start.0,
                    column: begin + offset + 1,
                }
            }
            Style::SingleQuoted | Style::DoubleQuoted if single_line && !s.has_properties => {
                let Some(line) = self.line(s.start.0) else {
                    return fallback;
                };
                // Exact as long as no escape sequence comes before `offset`.
                let begin = s.start.1 + 1;
                let inner_len = s.end.1.saturating_sub(begin + 1);
                let source: Vec<char> = line.chars().skip(begin).take(inner_len).collect();
                let exact = offset <= value.len()
                    && offset <= source.len()
                    && source[..offset] == value[..offset];
                let column = if exact { begin + offset + 1 } else { begin + 1 };
                Position {
                    line: s.start.0,
                    column,
                }
            }
            Style::Literal => {
                let before: String = value.iter().take(offset).collect();
                let target_line = before.matches('\n').count();
                let column_in_line = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
                let indent = s.start.1;
                for (i, value_line) in s.value.split('\n').take(target_line + 1).enumerate() {
                    let Some(source) = self.line(s.start.0 + i) else {
                        return fallback;
                    };
                    let rest: String = source.chars().skip(indent).collect();
                    let blank = source.trim().is_empty();
                    if rest != value_line && !(value_line.is_empty() && blank) {
                        return fallback;
                    }
                }
                Position {
                    line: s.start.0 + target_line,
                    column: indent + column_in_line + 1,
                }
            }
            _ => fallback,
        }
    }
}

/// Parses a PromQL expression; a panic in the parser becomes an error.
fn parse_expr(expr: &str) -> Result<Expr, String> {
    crate::promql::parse(expr)
}

fn check_template(check: TemplateCheck, text: &str) -> Result<(), String> {
    catch_unwind(|| check(text))
        .unwrap_or_else(|_| Err("internal error: the template check panicked".to_string()))
}

/// Best effort: the character offset in `expr` of the token a PromQL error
/// message is about. `promql-parser` reports no positions, so this only
/// handles messages that name a token which can be found unambiguously.
fn locate_expr_error(expr: &str, message: &str) -> Option<usize> {
    if let Some(rest) = message
        .strip_prefix("unknown function with name '")
        .or_else(|| message.strip_prefix("unsupported function with name '"))
    {
        let name = rest.strip_suffix('\'')?;
        return find_code_token(expr, name, true);
    }
    if let Some(token) = message.strip_prefix("bad number or duration syntax: ") {
        return find_code_token(expr, token, false);
    }
    if let Some(rest) = message.strip_prefix("invalid duration \"") {
        let token = rest.split('"').next()?;
        return find_code_token(expr, token, false);
    }
    None
}

/// Offset (in chars) of the first occurrence of `token` in `expr` outside
/// string literals and comments, starting at an identifier boundary; with
/// `call`, it must also end at one and be followed by `(`.
fn find_code_token(expr: &str, token: &str, call: bool) -> Option<usize> {
    if token.is_empty() {
        return None;
    }
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let mut prev: Option<char> = None;
    let mut in_string: Option<char> = None;
    let mut escaped = false;
    let mut in_comment = false;
    for (chars_before, (byte, c)) in expr.char_indices().enumerate() {
        if in_comment {
            in_comment = c != '\n';
        } else if let Some(quote) = in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' && quote != '`' {
                escaped = true;
            } else if c == quote {
                in_string = None;
            }
        } else if matches!(c, '"' | '\'' | '`') {
            in_string = Some(c);
        } else if c == '#' {
            in_comment = true;
        } else if !prev.is_some_and(is_ident) && expr[byte..].starts_with(token) {
            let after = &expr[byte + token.len()..];
            let whole = !call || !after.chars().next().is_some_and(is_ident);
            if whole && (!call || after.trim_start().starts_with('(')) {
                return Some(chars_before);
            }
        }
        prev = Some(c);
    }
    None
}

#[cfg(test)]
mod tests;
