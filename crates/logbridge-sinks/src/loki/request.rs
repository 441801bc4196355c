//! What the `loki` sink sends for a batch of logs: each log's tenant and
//! stream labels, rendered from templates or taken from its resource, and
//! one push body per tenant (Loki files a request under one tenant, so
//! tenants never share a request).
//!
//! Pure and synchronous: templates cache their last rendering in a
//! `RefCell`, so this runs in the sink's task and is never held across an
//! await.

use bytes::Bytes;

use http::HeaderValue;
use logbridge_codec::template::{Template, TemplateError};
use logbridge_component::BuildError;
use logbridge_event::{Event, KeyString, LogRecord, Path};
use logbridge_loki::{LabelSet, StructuredMetadata, is_valid_label_name};
use logbridge_net::client::gzip;

/// A per-log value from a config template.
#[derive(Debug)]
pub enum Rendered {
    /// The template is one field (`{{ .app }}`, `{{ %loki.tenant }}`): its
    /// value as it is (a path keeps its `/`), nothing when the field is
    /// missing or null, so a log without it gets no label or no tenant
    /// rather than a placeholder.
    Field(Path),
    /// Anything else: text, strftime specifiers, several fields.
    Template(Template),
}

impl Rendered {
    pub fn parse(text: &str) -> Result<Rendered, TemplateError> {
        if let Some(inner) = text
            .trim()
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            && !inner.contains("{{")
            && !inner.contains("}}")
        {
            let inner = inner.trim();
            return Path::parse(inner)
                .map(Rendered::Field)
                .map_err(|e| TemplateError(format!("invalid field `{inner}`: {e}")));
        }
        Template::parse(text).map(Rendered::Template)
    }

    /// The value for `event`; `None` when there is none or it is empty.
    pub fn render(&self, event: &Event, now: i64) -> Option<String> {
        let text = match self {
            Rendered::Field(path) => {
                let value = event.get(path)?;
                if value.is_null() {
                    return None;
                }
                value.to_string_lossy().into_owned()
            }
            Rendered::Template(template) => template.render(event, now),
        };
        (!text.is_empty()).then_some(text)
    }
}

/// Where a log's stream labels come from.
#[derive(Debug)]
pub enum Labels {
    /// The resource attributes (what the `loki` source decoded).
    Resource,
    /// Label name and template pairs; a label whose value renders empty
    /// is left out, as Loki drops empty labels.
    Templates(Vec<(KeyString, Rendered)>),
}

impl Labels {
    /// Checks the names and compiles the templates of a `labels` option.
    pub fn templates<'a>(
        pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<Labels, BuildError> {
        let mut out = Vec::new();
        for (name, template) in pairs {
            let option = format!("labels.{name}");
            if !is_valid_label_name(name) {
                return Err(BuildError::new(
                    &option,
                    format!("`{name}` is not a valid label name"),
                )
                .with_hint("label names match [a-zA-Z_][a-zA-Z0-9_]*"));
            }
            let rendered = Rendered::parse(template).map_err(|e| BuildError::new(&option, e.0))?;
            out.push((KeyString::new(name), rendered));
        }
        Ok(Labels::Templates(out))
    }

    fn of(&self, event: &Event, log: &LogRecord, now: i64) -> LabelSet {
        match self {
            Labels::Resource => logbridge_loki::resource_labels(log),
            Labels::Templates(templates) => {
                let mut set = LabelSet::new();
                for (name, template) in templates {
                    if let Some(value) = template.render(event, now) {
                        // Names were checked when the sink was built.
                        let _ = set.insert(name.clone(), value);
                    }
                }
                set
            }
        }
    }
}

/// The body format of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Snappy-compressed protobuf.
    Protobuf,
    /// JSON, gzip-compressed when `gzip`.
    Json { gzip: bool },
}

impl Body {
    pub fn content_type(self) -> &'static str {
        match self {
            Body::Protobuf => "application/x-protobuf",
            Body::Json { .. } => "application/json",
        }
    }

    pub fn content_encoding(self) -> Option<&'static str> {
        matches!(self, Body::Json { gzip: true }).then_some("gzip")
    }
}

/// Turns batches of events into push requests.
#[derive(Debug)]
pub struct RequestBuilder {
    pub labels: Labels,
    pub tenant: Option<Rendered>,
    pub metadata: StructuredMetadata,
    pub body: Body,
}

/// One push: the logs of one tenant.
#[derive(Debug)]
pub struct Push {
    /// `X-Scope-OrgID`, when the logs have a tenant.
    pub tenant: Option<HeaderValue>,
    pub body: Bytes,
    pub events: usize,
    /// The logs' estimated size, for the sent-bytes counter.
    pub bytes: usize,
}

/// Logs that cannot be sent, whatever Loki says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unsendable {
    pub events: usize,
    /// Why the first of them could not be sent.
    pub reason: Option<String>,
}

impl Unsendable {
    fn add(&mut self, events: usize, reason: impl FnOnce() -> String) {
        self.events += events;
        if self.reason.is_none() {
            self.reason = Some(reason());
        }
    }
}

/// The logs of one tenant, with their labels in the same order.
struct Group {
    tenant: Option<String>,
    records: Vec<LogRecord>,
    labels: Vec<LabelSet>,
    bytes: usize,
}

impl RequestBuilder {
    /// One push per tenant present in `events` (in the order tenants first
    /// appear), and what could not be put in any.
    pub fn build(&self, events: &[Event], now: i64) -> (Vec<Push>, Unsendable) {
        let mut unsendable = Unsendable::default();
        let mut groups: Vec<Group> = Vec::new();
        for event in events {
            let Event::Log(log) = event else {
                unsendable.add(1, || "only logs can be sent to Loki".to_owned());
                continue;
            };
            let tenant = self.tenant.as_ref().and_then(|t| t.render(event, now));
            let labels = self.labels.of(event, log, now);
            if labels.is_empty() {
                unsendable.add(1, || {
                    "a log has no labels (set `labels`, or send logs whose resource has attributes)"
                        .to_owned()
                });
                continue;
            }
            // Few tenants per batch: a linear search beats hashing.
            let group = match groups.iter().position(|g| g.tenant == tenant) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push(Group {
                        tenant,
                        records: Vec::new(),
                        labels: Vec::new(),
                        bytes: 0,
                    });
                    let last = groups.len() - 1;
                    &mut groups[last]
                }
            };
            group.bytes += log.estimated_size();
            group.records.push(log.clone());
            group.labels.push(labels);
        }
        let mut pushes = Vec::with_capacity(groups.len());
        for group in groups {
            let events = group.records.len();
            match self.encode(group) {
                Ok(push) => pushes.push(push),
                Err(reason) => unsendable.add(events, || reason),
            }
        }
        (pushes, unsendable)
    }

    fn encode(&self, group: Group) -> Result<Push, String> {
        let tenant = match &group.tenant {
            None => None,
            Some(t) => Some(
                HeaderValue::try_from(t.as_str())
                    .map_err(|_| format!("tenant {t:?} cannot be sent as a header"))?,
            ),
        };
        // `group_streams` asks for each record's labels once, in order:
        // hand it the sets computed above.
        let mut labels = group.labels.into_iter();
        let streams = logbridge_loki::group_streams(
            &group.records,
            |_| labels.next().unwrap_or_default(),
            &self.metadata,
        )
        .map_err(|e| e.to_string())?;
        let body = match self.body {
            Body::Protobuf => {
                logbridge_loki::encode_streams_protobuf(&streams).map_err(|e| e.to_string())?
            }
            Body::Json { gzip: false } => logbridge_loki::encode_streams_json(&streams),
            Body::Json { gzip: true } => gzip(&logbridge_loki::encode_streams_json(&streams))
                .map_err(|e| format!("compressing failed: {e}"))?,
        };
        Ok(Push {
            tenant,
            body: Bytes::from(body),
            events: group.records.len(),
            bytes: group.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use logbridge_event::{ObjectMap, Resource, Value};

    fn log(line: &str, time: i64, resource: &[(&str, &str)], attrs: &[(&str, &str)]) -> Event {
        let map = |pairs: &[(&str, &str)]| {
            let mut m = ObjectMap::new();
            for &(k, v) in pairs {
                m.insert(k.into(), Value::from(v));
            }
            m
        };
        Event::Log(LogRecord {
            time_unix_nano: time,
            body: Value::from(line),
            attributes: map(attrs),
            resource: (!resource.is_empty()).then(|| {
                Arc::new(Resource {
                    attributes: map(resource),
                    ..Resource::default()
                })
            }),
            ..LogRecord::default()
        })
    }

    fn decode(push: &Push) -> Vec<LogRecord> {
        logbridge_loki::decode_push_protobuf(&push.body, 1 << 20).unwrap()
    }

    #[test]
    fn rendered_fields_keep_their_value_or_are_absent() {
        let event = log("x", 0, &[("path", "/var/log/a")], &[("app", "api")]);
        let field = Rendered::parse("{{ %resource.path }}").unwrap();
        assert!(matches!(field, Rendered::Field(_)));
        assert_eq!(field.render(&event, 0).as_deref(), Some("/var/log/a"));
        assert_eq!(
            Rendered::parse("{{ .missing }}").unwrap().render(&event, 0),
            None
        );
        let template = Rendered::parse("app-{{ .app }}").unwrap();
        assert_eq!(template.render(&event, 0).as_deref(), Some("app-api"));
        assert!(Rendered::parse("{{ .a }}{{ .b }}").is_ok());
        assert!(Rendered::parse("{{ ..bad }}").is_err());
    }

    #[test]
    fn one_push_per_tenant_labels_from_the_resource() {
        let builder = RequestBuilder {
            labels: Labels::Resource,
            tenant: Some(Rendered::parse("{{ .tenant }}").unwrap()),
            metadata: StructuredMetadata::Attributes,
            body: Body::Protobuf,
        };
        let events = [
            log("a2", 2, &[("job", "a")], &[("tenant", "t1")]),
            log("b1", 1, &[("job", "b")], &[("tenant", "t2")]),
            log("a1", 1, &[("job", "a")], &[("tenant", "t1")]),
            log("none", 1, &[("job", "a")], &[]),
            log("unlabelled", 1, &[], &[("tenant", "t1")]),
        ];
        let (pushes, unsendable) = builder.build(&events, 0);
        assert_eq!(unsendable.events, 1);
        assert!(unsendable.reason.unwrap().contains("no labels"));
        let tenants: Vec<_> = pushes
            .iter()
            .map(|p| p.tenant.as_ref().map(|t| t.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            tenants,
            [Some("t1".to_owned()), Some("t2".to_owned()), None]
        );
        let t1 = decode(&pushes[0]);
        let lines: Vec<_> = t1.iter().map(|r| r.body.to_string_lossy()).collect();
        assert_eq!(lines, ["a1", "a2"], "sorted within the stream");
        assert_eq!(
            t1[0].resource().attributes.get("job"),
            Some(&Value::from("a"))
        );
        assert_eq!(pushes[0].events, 2);
    }

    #[test]
    fn label_templates_and_metadata_except_labels() {
        let labels = [
            ("app".to_owned(), "{{ .app }}".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ];
        let builder = RequestBuilder {
            labels: Labels::templates(labels.iter().map(|(a, b)| (a, b))).unwrap(),
            tenant: None,
            metadata: StructuredMetadata::AttributesExceptLabels,
            body: Body::Json { gzip: true },
        };
        let events = [log("l", 5, &[], &[("app", "api"), ("user", "u1")])];
        let (pushes, unsendable) = builder.build(&events, 0);
        assert_eq!(unsendable, Unsendable::default());
        let json =
            logbridge_net::receive::decompress("gzip", pushes[0].body.clone(), 1 << 20).unwrap();
        let records = logbridge_loki::decode_push_json(&json).unwrap();
        let resource = &records[0].resource().attributes;
        assert_eq!(resource.get("app"), Some(&Value::from("api")));
        assert_eq!(resource.get("env"), Some(&Value::from("prod")));
        assert_eq!(records[0].attributes.len(), 1);
        assert_eq!(records[0].attributes.get("user"), Some(&Value::from("u1")));

        let bad = [("a-b".to_owned(), "x".to_owned())];
        assert!(Labels::templates(bad.iter().map(|(a, b)| (a, b))).is_err());
    }
}
