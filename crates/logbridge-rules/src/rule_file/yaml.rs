//! A small YAML tree with positions, built from saphyr-parser events: what
//! the rule-file checker walks to report `line:column` for every key and
//! value.

use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle};

use super::Position;

/// Deepest nesting accepted (a valid rule file needs about 6 levels).
pub(super) const MAX_DEPTH: usize = 64;
/// Aliases may expand the document to this many nodes before the ratio
/// check below applies.
const ALIAS_FREE_NODES: usize = 10_000;
/// Past `ALIAS_FREE_NODES`, aliases may add at most this many nodes per
/// node actually written in the file.
const ALIAS_RATIO: usize = 10;

/// A node and where it was written. A node reached through an alias has
/// the alias's position and shares the anchored node's data.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub position: Position,
    pub aliased: bool,
    pub data: Rc<Data>,
}

#[derive(Debug)]
pub(super) struct Data {
    pub kind: Kind,
    /// Number of nodes once aliases are expanded (saturating).
    pub size: usize,
    /// Nesting height once aliases are expanded (scalars are 1).
    pub height: usize,
}

#[derive(Debug)]
pub(super) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// A scalar's tag, reduced to what matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tag {
    /// `!!suffix` (YAML core schema), e.g. `str`, `int`, `null`, `merge`.
    Core(String),
    /// Any other tag.
    Other,
}

#[derive(Debug)]
pub(super) struct Scalar {
    pub value: String,
    pub style: Style,
    pub tag: Option<Tag>,
    /// The scalar has an anchor or a tag before it.
    pub has_properties: bool,
    /// Start line (1-based) and column (0-based, chars) of the span.
    pub start: (usize, usize),
    /// End (exclusive) line and column of the span.
    pub end: (usize, usize),
}

impl Scalar {
    /// Null in the YAML core schema (`~`, `null`, empty, or `!!null`).
    pub fn is_null(&self) -> bool {
        match &self.tag {
            Some(Tag::Core(t)) => t == "null",
            Some(Tag::Other) => false,
            None => {
                self.style == Style::Plain
                    && matches!(self.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
        }
    }

    /// `<<` written as a merge key.
    pub fn is_merge_key(&self) -> bool {
        match &self.tag {
            Some(Tag::Core(t)) => t == "merge",
            Some(Tag::Other) => false,
            None => self.style == Style::Plain && self.value == "<<",
        }
    }

    /// The text a Go string field would receive: empty for null.
    pub fn text(&self) -> &str {
        if self.is_null() { "" } else { &self.value }
    }
}

impl Node {
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.data.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

pub(super) struct LoadError {
    pub position: Position,
    pub message: String,
}

fn position(m: &Marker) -> Position {
    Position {
        line: m.line().max(1),
        column: m.col() + 1,
    }
}

struct Frame {
    position: Position,
    anchor: usize,
    is_map: bool,
    items: Vec<Node>,
}

fn collection(frame: Frame) -> Result<Node, LoadError> {
    let size = frame
        .items
        .iter()
        .fold(1usize, |acc, n| acc.saturating_add(n.data.size));
    let height = 1 + frame.items.iter().map(|n| n.data.height).max().unwrap_or(0);
    if height > MAX_DEPTH {
        return Err(LoadError {
            position: frame.position,
            message: format!("YAML nesting deeper than {MAX_DEPTH} levels is not supported"),
        });
    }
    let kind = if frame.is_map {
        if !frame.items.len().is_multiple_of(2) {
            return Err(LoadError {
                position: frame.position,
                message: "YAML mapping with a key but no value".to_string(),
            });
        }
        let mut pairs = Vec::with_capacity(frame.items.len() / 2);
        let mut items = frame.items.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            pairs.push((k, v));
        }
        Kind::Map(pairs)
    } else {
        Kind::Seq(frame.items)
    };
    Ok(Node {
        position: frame.position,
        aliased: false,
        data: Rc::new(Data { kind, size, height }),
    })
}

/// Parses the first YAML document of `text` into a tree. `Ok(None)` for a
/// stream without documents (empty or comments only).
pub(super) fn load(text: &str) -> Result<Option<Node>, LoadError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut written_nodes: usize = 0;
    let mut alias_nodes: usize = 0;
    while let Some(item) = parser.next_event() {
        let (event, span) = item.map_err(|e| LoadError {
            position: position(e.marker()),
            message: format!("YAML syntax error: {}", e.info()),
        })?;
        let at = position(&span.start);
        let node = match event {
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => continue,
            // Like Prometheus (go-yaml's Decode), only the first document
            // is read; the rest of the stream is not even parsed.
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(LoadError {
                        position: at,
                        message: "alias to an anchor that is not defined before it \
                                  (recursive aliases are not supported)"
                            .to_string(),
                    });
                };
                alias_nodes = alias_nodes.saturating_add(target.data.size);
                if alias_nodes > ALIAS_FREE_NODES && alias_nodes / ALIAS_RATIO > written_nodes {
                    return Err(LoadError {
                        position: at,
                        message: "document contains excessive aliasing".to_string(),
                    });
                }
                Node {
                    position: at,
                    aliased: true,
                    data: Rc::clone(&target.data),
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                written_nodes += 1;
                let tag = tag.map(|t| {
                    if t.is_yaml_core_schema() {
                        Tag::Core(t.suffix.clone())
                    } else {
                        Tag::Other
                    }
                });
                let node = Node {
                    position: at,
                    aliased: false,
                    data: Rc::new(Data {
                        kind: Kind::Scalar(Scalar {
                            value: value.into_owned(),
                            style: match style {
                                ScalarStyle::Plain => Style::Plain,
                                ScalarStyle::SingleQuoted => Style::SingleQuoted,
                                ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                                ScalarStyle::Literal => Style::Literal,
                                ScalarStyle::Folded => Style::Folded,
                            },
                            has_properties: anchor != 0 || tag.is_some(),
                            tag,
                            start: (span.start.line(), span.start.col()),
                            end: (span.end.line(), span.end.col()),
                        }),
                        size: 1,
                        height: 1,
                    }),
                };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                written_nodes += 1;
                if stack.len() >= MAX_DEPTH {
                    return Err(LoadError {
                        position: at,
                        message: format!(
                            "YAML nesting deeper than {MAX_DEPTH} levels is not supported"
                        ),
                    });
                }
                stack.push(Frame {
                    position: at,
                    anchor,
                    is_map: matches!(event, Event::MappingStart(..)),
                    items: Vec::new(),
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else {
                    return Err(LoadError {
                        position: at,
                        message: "YAML syntax error: unbalanced collection end".to_string(),
                    });
                };
                let anchor = frame.anchor;
                let node = collection(frame)?;
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
        };
        match stack.last_mut() {
            Some(frame) => frame.items.push(node),
            None => root = Some(node),
        }
    }
    if let Some(frame) = stack.last() {
        return Err(LoadError {
            position: frame.position,
            message: "YAML syntax error: unexpected end of document".to_string(),
        });
    }
    Ok(root)
}
