//! Zipkin v2 conventions to OpenTelemetry: ids, kind, status, endpoints
//! and the resource each service's spans share.

use std::sync::Arc;

use logbridge_event::{
    KeyString, ObjectMap, Resource, Span, SpanEvent, SpanId, SpanKind, SpanStatus, StatusCode,
    TraceId, Value,
};

use super::json::{Endpoint, Str};
use crate::common::{
    Ctx, ERROR, OTEL_STATUS_CODE, OTEL_STATUS_DESCRIPTION, SERVICE_NAME, SPAN_KIND,
    micros_to_nanos, str_of,
};

const W3C_TRACESTATE: &str = "w3c.tracestate";
const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";

/// One resource per local service name, shared by that service's spans.
/// Bodies hold one service, or a few: a linear search beats hashing.
#[derive(Default)]
pub(crate) struct Resources {
    by_service: Vec<(Box<str>, Arc<Resource>)>,
}

impl Resources {
    fn get(&mut self, service: &str) -> Arc<Resource> {
        if let Some((_, r)) = self.by_service.iter().find(|(s, _)| &**s == service) {
            return Arc::clone(r);
        }
        let mut attributes = ObjectMap::new();
        if !service.is_empty() {
            attributes.insert(KeyString::const_new(SERVICE_NAME), Value::from(service));
        }
        let r = Arc::new(Resource {
            attributes,
            ..Resource::default()
        });
        self.by_service.push((service.into(), Arc::clone(&r)));
        r
    }
}

/// The fields of one span object as read.
#[derive(Default)]
pub(crate) struct Fields<'a> {
    pub(crate) trace_id: Option<Str<'a>>,
    pub(crate) id: Option<Str<'a>>,
    pub(crate) parent_id: Option<Str<'a>>,
    pub(crate) name: Option<Str<'a>>,
    pub(crate) kind: Option<Str<'a>>,
    pub(crate) timestamp: Option<i64>,
    pub(crate) duration: Option<i64>,
    pub(crate) debug: bool,
    pub(crate) shared: bool,
    pub(crate) local: Option<Endpoint<'a>>,
    pub(crate) remote: Option<Endpoint<'a>>,
    pub(crate) tags: Vec<(KeyString, Value)>,
    pub(crate) events: Vec<SpanEvent>,
}

/// Why an id was rejected: the field and the reason.
pub(crate) type IdError = (&'static str, &'static str);

fn hex<const N: usize>(text: &str, field: &'static str) -> Result<[u8; N], IdError> {
    let text = text.as_bytes();
    if text.len() != N * 2 {
        return Err((field, "wrong length"));
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let hi = nibble(pair[0]).ok_or((field, "not hex"))?;
        let lo = nibble(pair[1]).ok_or((field, "not hex"))?;
        *o = hi << 4 | lo;
    }
    Ok(out)
}

#[inline]
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// 16 or 32 hex digits; a 64-bit id is left-padded with zeroes.
fn trace_id(text: Option<&Str<'_>>) -> Result<TraceId, IdError> {
    const F: &str = "traceId";
    let text = &text.ok_or((F, "missing"))?.0;
    let id = match text.len() {
        16 => {
            let mut id = [0u8; 16];
            id[8..].copy_from_slice(&hex::<8>(text, F)?);
            id
        }
        _ => hex::<16>(text, F)?,
    };
    let id = TraceId(id);
    if !id.is_valid() {
        return Err((F, "all zeroes"));
    }
    Ok(id)
}

fn span_id(text: &str, field: &'static str) -> Result<SpanId, IdError> {
    Ok(SpanId(hex::<8>(text, field)?))
}

impl<'a> Fields<'a> {
    pub(crate) fn into_span(
        self,
        cx: &mut Ctx<'a>,
        resources: &mut Resources,
    ) -> Result<Span, IdError> {
        let trace_id = trace_id(self.trace_id.as_ref())?;
        let id = span_id(&self.id.as_ref().ok_or(("id", "missing"))?.0, "id")?;
        if !id.is_valid() {
            return Err(("id", "all zeroes"));
        }
        let parent = match &self.parent_id {
            Some(p) => Some(span_id(&p.0, "parentId")?),
            None => None,
        }
        // A zero parent is how some clients say "root"; a span that names
        // itself as parent is a root too.
        .filter(|p| p.is_valid() && *p != id);

        let mut tags = self.tags;
        let special = Special::find(&tags);
        let kind = match self.kind.as_ref().map(|k| &*k.0) {
            Some("CLIENT") => SpanKind::Client,
            Some("SERVER") => SpanKind::Server,
            Some("PRODUCER") => SpanKind::Producer,
            Some("CONSUMER") => SpanKind::Consumer,
            _ => match special.kind {
                Some(i) if str_of(&tags[i].1) == "internal" => SpanKind::Internal,
                _ => SpanKind::Unspecified,
            },
        };
        let drop_kind = kind == SpanKind::Unspecified || kind == SpanKind::Internal;
        let (status, drop) = special.status(&tags);
        let trace_state = special
            .trace_state
            .map(|i| str_of(&tags[i].1).to_owned())
            .unwrap_or_default();
        let drop = Drop {
            kind: drop_kind && special.kind.is_some(),
            trace_state: special.trace_state.is_some(),
            ..drop
        };
        drop.apply(&mut tags);

        add_endpoints(&mut tags, self.local.as_ref(), self.remote.as_ref(), cx);
        if self.shared {
            tags.push((KeyString::const_new("zipkin.shared"), Value::Bool(true)));
        }
        let duration = self.duration.unwrap_or(0);
        let start = match self.timestamp {
            Some(t) if t != 0 => t,
            _ => {
                tags.push((KeyString::const_new(START_TIME_ABSENT), Value::Bool(true)));
                0
            }
        };
        let service = self
            .local
            .as_ref()
            .and_then(|e| e.service_name.as_ref())
            .map_or("", |s| &*s.0);
        Ok(Span {
            trace_id,
            span_id: id,
            parent_span_id: parent,
            trace_state,
            // B3's debug implies sampled.
            flags: u32::from(self.debug),
            name: self.name.map(|n| n.into_key(cx)).unwrap_or_default(),
            kind,
            start_time_unix_nano: micros_to_nanos(start),
            end_time_unix_nano: micros_to_nanos(start.saturating_add(duration)),
            attributes: ObjectMap::from_entries(tags),
            events: self.events,
            status,
            resource: Some(resources.get(service)),
            ..Span::default()
        })
    }
}

/// Endpoint attributes, after the tags so that they win over a tag of the
/// same key: the local address as `net.host.*`, the remote service as
/// `peer.service` and its address as `net.peer.*`.
fn add_endpoints(
    tags: &mut Vec<(KeyString, Value)>,
    local: Option<&Endpoint<'_>>,
    remote: Option<&Endpoint<'_>>,
    cx: &Ctx<'_>,
) {
    let text = |s: &Str<'_>| Value::Bytes(cx.bytes(s.0.as_bytes()));
    let mut address = |e: &Endpoint<'_>, ip: &'static str, port: &'static str| {
        // IPv6 is set after IPv4, so it wins when both are given.
        for addr in [&e.ipv4, &e.ipv6].into_iter().flatten() {
            tags.push((KeyString::const_new(ip), text(addr)));
        }
        if let Some(p) = e.port.filter(|p| *p > 0) {
            tags.push((KeyString::const_new(port), Value::Integer(p)));
        }
    };
    if let Some(e) = local {
        address(e, "net.host.ip", "net.host.port");
    }
    if let Some(e) = remote {
        address(e, "net.peer.ip", "net.peer.port");
        if let Some(s) = e.service_name.as_ref().filter(|s| !s.0.is_empty()) {
            tags.push((KeyString::const_new("peer.service"), text(s)));
        }
    }
}

/// Where the tags with a mapping meaning are (last occurrence of each).
#[derive(Default)]
struct Special {
    kind: Option<usize>,
    error: Option<usize>,
    code: Option<usize>,
    desc: Option<usize>,
    trace_state: Option<usize>,
}

/// Which of those tags the mapping used up.
#[derive(Default, Clone, Copy)]
struct Drop {
    kind: bool,
    error: bool,
    code: bool,
    desc: bool,
    trace_state: bool,
}

impl Special {
    fn find(tags: &[(KeyString, Value)]) -> Special {
        let mut s = Special::default();
        for (i, (k, _)) in tags.iter().enumerate() {
            match k.as_str() {
                SPAN_KIND => s.kind = Some(i),
                ERROR => s.error = Some(i),
                OTEL_STATUS_CODE => s.code = Some(i),
                OTEL_STATUS_DESCRIPTION => s.desc = Some(i),
                W3C_TRACESTATE => s.trace_state = Some(i),
                _ => {}
            }
        }
        s
    }

    /// `otel.status_code` (with `otel.status_description`) sets the status;
    /// an `error` tag makes it Error whatever its value, and is removed
    /// only when it is just `"true"` (otherwise it carries a message).
    fn status(&self, tags: &[(KeyString, Value)]) -> (SpanStatus, Drop) {
        let mut status = SpanStatus::default();
        let mut drop = Drop::default();
        if let Some(i) = self.code {
            drop.code = true;
            status.code = match str_of(&tags[i].1) {
                "STATUS_CODE_OK" | "Ok" => StatusCode::Ok,
                "STATUS_CODE_ERROR" | "Error" => StatusCode::Error,
                _ => StatusCode::Unset,
            };
            if let Some(d) = self.desc {
                drop.desc = true;
                status.message = str_of(&tags[d].1).to_owned();
            }
        }
        if let Some(i) = self.error {
            status.code = StatusCode::Error;
            drop.error = str_of(&tags[i].1) == "true";
        }
        (status, drop)
    }
}

impl Drop {
    fn apply(self, tags: &mut Vec<(KeyString, Value)>) {
        if !(self.kind || self.error || self.code || self.desc || self.trace_state) {
            return;
        }
        tags.retain(|(k, _)| {
            let k = k.as_str();
            !((self.kind && k == SPAN_KIND)
                || (self.error && k == ERROR)
                || (self.code && k == OTEL_STATUS_CODE)
                || (self.desc && k == OTEL_STATUS_DESCRIPTION)
                || (self.trace_state && k == W3C_TRACESTATE))
        });
    }
}
