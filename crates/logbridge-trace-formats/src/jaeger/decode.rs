//! The structs of `jaeger.thrift` (Batch, Process, Span, Tag, Log, SpanRef)
//! read straight into logbridge's model, generic over the protocol.
//!
//! Unknown fields are skipped; a known field with another type than the IDL
//! declares, or a missing required field, is an error (as in Jaeger's own
//! generated decoders).

use std::sync::Arc;

use bytes::Bytes;

use logbridge_event::{
    KeyString, ObjectMap, Resource, Span, SpanEvent, SpanId, SpanLink, TraceId, Value,
};

use super::mapping::{kind_and_status, translate_process_tags};
use crate::Error;
use crate::common::{Ctx, SERVICE_NAME, micros_to_nanos};
use crate::thrift::{Fail, RawTag, Reader, SKIP_DEPTH, Ty};

// Smallest encodings (compact protocol) of one element, to bound the
// capacity reserved for a list from its claimed length: a hostile count
// then costs no more memory than the bytes that back it.
const MIN_SPAN: usize = 17;
const MIN_TAG: usize = 5;
const MIN_LOG: usize = 5;
const MIN_REF: usize = 9;

const CHILD_OF: i32 = 0;

#[inline]
fn want<'a, R: Reader<'a>>(
    r: &mut R,
    ty: Ty,
    expected: Ty,
    strukt: &'static str,
    field: &'static str,
) -> Result<(), Fail> {
    if ty == expected {
        Ok(())
    } else {
        Err(r.fail(wrong(ty, expected, strukt, field)))
    }
}

#[cold]
fn wrong(ty: Ty, expected: Ty, strukt: &'static str, field: &'static str) -> Error {
    Error::WrongType {
        strukt,
        field,
        found: ty.name(),
        expected: expected.name(),
    }
}

#[cold]
fn missing(strukt: &'static str, field: &'static str) -> Error {
    Error::MissingField { strukt, field }
}

/// The header of a `list<struct>` field: its length, with the capacity
/// worth reserving for it.
#[inline]
fn struct_list<'a, R: Reader<'a>>(
    r: &mut R,
    ty: Ty,
    strukt: &'static str,
    field: &'static str,
    min_size: usize,
) -> Result<(usize, usize), Fail> {
    want(r, ty, Ty::List, strukt, field)?;
    let (elem, n) = r.list()?;
    if n > 0 {
        want(r, elem, Ty::Struct, strukt, field)?;
    }
    Ok((n, n.min(r.remaining() / min_size + 1)))
}

/// The argument struct of `Agent.emitBatch(1: Batch batch)`.
pub(crate) fn emit_batch_args<'a, R: Reader<'a>>(
    r: &mut R,
    cx: &mut Ctx<'a>,
) -> Result<Vec<Span>, Fail> {
    let saved = r.begin_struct();
    let mut spans = None;
    while let Some((id, ty)) = r.field()? {
        if id == 1 {
            want(r, ty, Ty::Struct, "emitBatch_args", "batch")?;
            spans = Some(batch(r, cx)?);
        } else {
            r.skip(ty, SKIP_DEPTH)?;
        }
    }
    r.end_struct(saved);
    spans.ok_or_else(|| r.fail(missing("emitBatch_args", "batch")))
}

/// `Batch { 1: Process process, 2: list<Span> spans }`: every span gets the
/// process as its resource, one `Arc` for all.
pub(crate) fn batch<'a, R: Reader<'a>>(r: &mut R, cx: &mut Ctx<'a>) -> Result<Vec<Span>, Fail> {
    let saved = r.begin_struct();
    let mut resource = None;
    let mut spans = None;
    while let Some((id, ty)) = r.field()? {
        match id {
            1 => {
                want(r, ty, Ty::Struct, "Batch", "process")?;
                resource = Some(process(r, cx)?);
            }
            2 => {
                let (n, cap) = struct_list(r, ty, "Batch", "spans", MIN_SPAN)?;
                let mut out = Vec::with_capacity(cap);
                for _ in 0..n {
                    if let Some(s) = span(r, cx)? {
                        out.push(s);
                    }
                }
                spans = Some(out);
            }
            _ => r.skip(ty, SKIP_DEPTH)?,
        }
    }
    r.end_struct(saved);
    let resource = Arc::new(resource.ok_or_else(|| r.fail(missing("Batch", "process")))?);
    let mut spans = spans.ok_or_else(|| r.fail(missing("Batch", "spans")))?;
    // The process may follow the spans on the wire, so it is attached last.
    for s in &mut spans {
        s.resource = Some(Arc::clone(&resource));
    }
    Ok(spans)
}

/// How many spans a `Batch` holds, read from its list header without
/// decoding them (the process and other fields are skipped); a count the
/// bytes left could not hold is cut to what they could.
pub(crate) fn batch_span_count<'a, R: Reader<'a>>(r: &mut R) -> Result<usize, Fail> {
    r.begin_struct();
    while let Some((id, ty)) = r.field()? {
        if id == 2 {
            return Ok(struct_list(r, ty, "Batch", "spans", MIN_SPAN)?.1);
        }
        r.skip(ty, SKIP_DEPTH)?;
    }
    Ok(0)
}

/// `Process { 1: string serviceName, 2: list<Tag> tags }`.
fn process<'a, R: Reader<'a>>(r: &mut R, cx: &mut Ctx<'a>) -> Result<Resource, Fail> {
    let saved = r.begin_struct();
    let mut service = None;
    let mut tags = Vec::new();
    while let Some((id, ty)) = r.field()? {
        match id {
            1 => {
                want(r, ty, Ty::Binary, "Process", "serviceName")?;
                service = Some(r.binary()?);
            }
            2 => tag_list(r, ty, cx, "Process", &mut tags)?,
            _ => r.skip(ty, SKIP_DEPTH)?,
        }
    }
    r.end_struct(saved);
    let service = service.ok_or_else(|| r.fail(missing("Process", "serviceName")))?;
    let mut entries = Vec::with_capacity(tags.len() + 1);
    if !service.is_empty() {
        entries.push((
            KeyString::const_new(SERVICE_NAME),
            Value::Bytes(cx.bytes(service)),
        ));
    }
    // After the service name, so that a tag of the same key wins.
    entries.extend(tags);
    let mut attributes = ObjectMap::from_entries(entries);
    translate_process_tags(&mut attributes);
    Ok(Resource {
        attributes,
        ..Resource::default()
    })
}

/// A `list<Tag>` field, appended to `out`.
#[inline]
fn tag_list<'a, R: Reader<'a>>(
    r: &mut R,
    ty: Ty,
    cx: &mut Ctx<'a>,
    strukt: &'static str,
    out: &mut Vec<(KeyString, Value)>,
) -> Result<(), Fail> {
    let (n, cap) = struct_list(r, ty, strukt, "tags", MIN_TAG)?;
    out.reserve(cap);
    for _ in 0..n {
        let entry = match r.canonical_tag() {
            Some((k, v)) => {
                let value = match v {
                    RawTag::Str(s) | RawTag::Binary(s) => Value::Bytes(cx.bytes(s)),
                    RawTag::Double(d) => Value::Float(d),
                    RawTag::Bool(b) => Value::Bool(b),
                    RawTag::Long(l) => Value::Integer(l),
                };
                (cx.key(k), value)
            }
            None => tag(r, cx)?,
        };
        out.push(entry);
    }
    Ok(())
}

/// `Tag { 1: key, 2: vType, 3: vStr, 4: vDouble, 5: vBool, 6: vLong, 7: vBinary }`
/// as a typed attribute; `vType` picks the field that holds the value (an
/// absent one reads as the type's zero value).
#[inline]
fn tag<'a, R: Reader<'a>>(r: &mut R, cx: &mut Ctx<'a>) -> Result<(KeyString, Value), Fail> {
    let saved = r.begin_struct();
    let mut k: Option<&[u8]> = None;
    let mut v_type = None;
    let mut v_str: &[u8] = &[];
    let mut v_double = 0.0;
    let mut v_bool = false;
    let mut v_long = 0;
    let mut v_binary: &[u8] = &[];
    while let Some((id, ty)) = r.field()? {
        match id {
            1 => {
                want(r, ty, Ty::Binary, "Tag", "key")?;
                k = Some(r.binary()?);
            }
            2 => {
                want(r, ty, Ty::I32, "Tag", "vType")?;
                v_type = Some(r.i32()?);
            }
            3 => {
                want(r, ty, Ty::Binary, "Tag", "vStr")?;
                v_str = r.binary()?;
            }
            4 => {
                want(r, ty, Ty::Double, "Tag", "vDouble")?;
                v_double = r.double()?;
            }
            5 => {
                want(r, ty, Ty::Bool, "Tag", "vBool")?;
                v_bool = r.bool()?;
            }
            6 => {
                want(r, ty, Ty::I64, "Tag", "vLong")?;
                v_long = r.i64()?;
            }
            7 => {
                want(r, ty, Ty::Binary, "Tag", "vBinary")?;
                v_binary = r.binary()?;
            }
            _ => r.skip(ty, SKIP_DEPTH)?,
        }
    }
    r.end_struct(saved);
    let k = k.ok_or_else(|| r.fail(missing("Tag", "key")))?;
    let value = match v_type.ok_or_else(|| r.fail(missing("Tag", "vType")))? {
        0 => Value::Bytes(cx.bytes(v_str)),
        1 => Value::Float(v_double),
        2 => Value::Bool(v_bool),
        3 => Value::Integer(v_long),
        // logbridge has one string-or-bytes value type.
        4 => Value::Bytes(cx.bytes(v_binary)),
        other => Value::from(format!("<unknown jaeger tag type {other}>")),
    };
    Ok((cx.key(k), value))
}

/// `Log { 1: i64 timestamp, 2: list<Tag> fields }` as a span event: the
/// `event` field names it.
fn log<'a, R: Reader<'a>>(r: &mut R, cx: &mut Ctx<'a>) -> Result<SpanEvent, Fail> {
    let saved = r.begin_struct();
    let mut time = None;
    let mut fields = None;
    while let Some((id, ty)) = r.field()? {
        match id {
            1 => {
                want(r, ty, Ty::I64, "Log", "timestamp")?;
                time = Some(r.i64()?);
            }
            2 => {
                let mut out = Vec::new();
                tag_list(r, ty, cx, "Log", &mut out)?;
                fields = Some(out);
            }
            _ => r.skip(ty, SKIP_DEPTH)?,
        }
    }
    r.end_struct(saved);
    let time = time.ok_or_else(|| r.fail(missing("Log", "timestamp")))?;
    let mut fields = fields.ok_or_else(|| r.fail(missing("Log", "fields")))?;
    let mut name = KeyString::default();
    if let Some(i) = fields.iter().rposition(|(k, _)| k == "event") {
        name = cx.key_of_value(&fields[i].1);
        fields.retain(|(k, _)| k != "event");
    }
    Ok(SpanEvent {
        time_unix_nano: micros_to_nanos(time),
        name,
        attributes: ObjectMap::from_entries(fields),
        dropped_attributes_count: 0,
    })
}

/// `SpanRef { 1: refType, 2: traceIdLow, 3: traceIdHigh, 4: spanId }`.
#[derive(Clone, Copy)]
struct Ref {
    kind: i32,
    low: i64,
    high: i64,
    span: i64,
}

fn span_ref<'a, R: Reader<'a>>(r: &mut R) -> Result<Ref, Fail> {
    let saved = r.begin_struct();
    let mut seen = 0u8;
    let mut out = Ref {
        kind: 0,
        low: 0,
        high: 0,
        span: 0,
    };
    while let Some((id, ty)) = r.field()? {
        match id {
            1 => {
                want(r, ty, Ty::I32, "SpanRef", "refType")?;
                out.kind = r.i32()?;
            }
            2 => {
                want(r, ty, Ty::I64, "SpanRef", "traceIdLow")?;
                out.low = r.i64()?;
            }
            3 => {
                want(r, ty, Ty::I64, "SpanRef", "traceIdHigh")?;
                out.high = r.i64()?;
            }
            4 => {
                want(r, ty, Ty::I64, "SpanRef", "spanId")?;
                out.span = r.i64()?;
            }
            _ => {
                r.skip(ty, SKIP_DEPTH)?;
                continue;
            }
        }
        seen |= 1 << id;
    }
    r.end_struct(saved);
    for (bit, name) in [
        (1, "refType"),
        (2, "traceIdLow"),
        (3, "traceIdHigh"),
        (4, "spanId"),
    ] {
        if seen & (1 << bit) == 0 {
            return Err(r.fail(missing("SpanRef", name)));
        }
    }
    Ok(out)
}

fn trace_id(high: i64, low: i64) -> TraceId {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&high.to_be_bytes());
    id[8..].copy_from_slice(&low.to_be_bytes());
    TraceId(id)
}

fn span_id(id: i64) -> SpanId {
    SpanId(id.to_be_bytes())
}

/// Names of the required fields of `Span`, by field id.
const SPAN_REQUIRED: [(u16, &str); 8] = [
    (1, "traceIdLow"),
    (2, "traceIdHigh"),
    (3, "spanId"),
    (4, "parentSpanId"),
    (5, "operationName"),
    (7, "flags"),
    (8, "startTime"),
    (9, "duration"),
];

/// One `Span`; `None` for an all-zero span, which the collector drops too.
fn span<'a, R: Reader<'a>>(r: &mut R, cx: &mut Ctx<'a>) -> Result<Option<Span>, Fail> {
    let saved = r.begin_struct();
    let mut seen = 0u16;
    let (mut low, mut high, mut id, mut parent) = (0i64, 0i64, 0i64, 0i64);
    let mut name: &[u8] = &[];
    let mut refs: Vec<Ref> = Vec::new();
    let (mut flags, mut start, mut duration) = (0i32, 0i64, 0i64);
    let mut tags = Vec::new();
    let mut events = Vec::new();
    while let Some((field, ty)) = r.field()? {
        match field {
            1 => {
                want(r, ty, Ty::I64, "Span", "traceIdLow")?;
                low = r.i64()?;
            }
            2 => {
                want(r, ty, Ty::I64, "Span", "traceIdHigh")?;
                high = r.i64()?;
            }
            3 => {
                want(r, ty, Ty::I64, "Span", "spanId")?;
                id = r.i64()?;
            }
            4 => {
                want(r, ty, Ty::I64, "Span", "parentSpanId")?;
                parent = r.i64()?;
            }
            5 => {
                want(r, ty, Ty::Binary, "Span", "operationName")?;
                name = r.binary()?;
            }
            6 => {
                let (n, cap) = struct_list(r, ty, "Span", "references", MIN_REF)?;
                refs.reserve(cap);
                for _ in 0..n {
                    refs.push(span_ref(r)?);
                }
            }
            7 => {
                want(r, ty, Ty::I32, "Span", "flags")?;
                flags = r.i32()?;
            }
            8 => {
                want(r, ty, Ty::I64, "Span", "startTime")?;
                start = r.i64()?;
            }
            9 => {
                want(r, ty, Ty::I64, "Span", "duration")?;
                duration = r.i64()?;
            }
            10 => tag_list(r, ty, cx, "Span", &mut tags)?,
            11 => {
                let (n, cap) = struct_list(r, ty, "Span", "logs", MIN_LOG)?;
                events.reserve(cap);
                for _ in 0..n {
                    events.push(log(r, cx)?);
                }
            }
            _ => {
                r.skip(ty, SKIP_DEPTH)?;
                continue;
            }
        }
        if (1..16).contains(&field) {
            seen |= 1 << field;
        }
    }
    r.end_struct(saved);
    for (bit, field) in SPAN_REQUIRED {
        if seen & (1 << bit) == 0 {
            return Err(r.fail(missing("Span", field)));
        }
    }
    if low == 0
        && high == 0
        && id == 0
        && parent == 0
        && name.is_empty()
        && refs.is_empty()
        && flags == 0
        && start == 0
        && duration == 0
        && tags.is_empty()
        && events.is_empty()
    {
        return Ok(None);
    }

    let parent = parent_id(parent, high, low, &refs);
    let links = links(&refs, parent);
    let (kind, status) = kind_and_status(&mut tags);
    Ok(Some(Span {
        trace_id: trace_id(high, low),
        span_id: span_id(id),
        parent_span_id: (parent != 0).then(|| span_id(parent)),
        // Jaeger's sampled (1) and debug (2, implies sampled) bits become
        // W3C's sampled bit.
        flags: u32::from(flags & 0b11 != 0),
        name: cx.key(name),
        kind,
        start_time_unix_nano: micros_to_nanos(start),
        end_time_unix_nano: micros_to_nanos(start.saturating_add(duration)),
        attributes: ObjectMap::from_entries(tags),
        events,
        links,
        status,
        ..Span::default()
    }))
}

/// The parent: the explicit `parentSpanId`, else the first CHILD_OF
/// reference within the same trace, else the first other reference within
/// it (as Jaeger itself infers it).
fn parent_id(explicit: i64, high: i64, low: i64, refs: &[Ref]) -> i64 {
    if explicit != 0 {
        return explicit;
    }
    let same_trace = || refs.iter().filter(|r| r.high == high && r.low == low);
    same_trace()
        .find(|r| r.kind == CHILD_OF)
        .or_else(|| same_trace().next())
        .map_or(0, |r| r.span)
}

/// Every reference but the CHILD_OF one that names the parent becomes a
/// link, its type kept as `opentracing.ref_type`.
fn links(refs: &[Ref], parent: i64) -> Vec<SpanLink> {
    refs.iter()
        .filter(|r| !(r.kind == CHILD_OF && r.span == parent))
        .map(|r| {
            let ref_type = if r.kind == CHILD_OF {
                "child_of"
            } else {
                "follows_from"
            };
            let mut attributes = ObjectMap::with_capacity(1);
            attributes.insert(
                "opentracing.ref_type".into(),
                Value::Bytes(Bytes::from_static(ref_type.as_bytes())),
            );
            SpanLink {
                trace_id: trace_id(r.high, r.low),
                span_id: span_id(r.span),
                attributes,
                ..SpanLink::default()
            }
        })
        .collect()
}
