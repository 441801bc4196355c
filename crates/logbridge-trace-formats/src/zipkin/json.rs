//! The Zipkin v2 JSON reader: serde visitors that read each span object
//! straight into a [`Span`], with tags and annotations pushed into the
//! span's own vectors (no intermediate maps) and strings borrowed from the
//! payload whenever they hold no escapes.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use logbridge_event::{KeyString, Span, SpanEvent, Value};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::mapping::{Fields, Resources};
use crate::Error;
use crate::common::{Ctx, key_str, micros_to_nanos};

/// A JSON string, borrowed from the payload unless it had escapes.
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'b> Str<'b> {
    /// The string as a value: a slice of the payload when borrowed.
    pub(crate) fn into_bytes(self, cx: &Ctx<'b>) -> Bytes {
        match self.0 {
            Cow::Borrowed(s) => cx.bytes(s.as_bytes()),
            Cow::Owned(s) => Bytes::from(s),
        }
    }

    /// The string as a key: through the payload's key cache when borrowed.
    pub(crate) fn into_key(self, cx: &mut Ctx<'b>) -> KeyString {
        match self.0 {
            Cow::Borrowed(s) => cx.key(s.as_bytes()),
            Cow::Owned(s) => key_str(&s),
        }
    }
}

/// `localEndpoint` / `remoteEndpoint`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Endpoint<'a> {
    #[serde(borrow, default)]
    pub(crate) service_name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(crate) ipv4: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub(crate) ipv6: Option<Str<'a>>,
    #[serde(default)]
    pub(crate) port: Option<i64>,
}

#[derive(Deserialize)]
struct Annotation<'a> {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(borrow, default)]
    value: Option<Str<'a>>,
}

/// What reading one body needs across spans.
pub(crate) struct State<'b> {
    pub(crate) cx: Ctx<'b>,
    pub(crate) resources: Resources,
    /// The index of the span being read, for error messages.
    pub(crate) index: usize,
    pub(crate) in_span: bool,
    /// A mapping error, which serde can only carry as text.
    pub(crate) error: Option<Error>,
}

/// The top-level array.
pub(crate) struct SpansVisitor<'s, 'b> {
    pub(crate) state: &'s mut State<'b>,
}

impl<'b> Visitor<'b> for SpansVisitor<'_, 'b> {
    type Value = Vec<Span>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of zipkin spans")
    }

    fn visit_seq<A: SeqAccess<'b>>(self, mut seq: A) -> Result<Vec<Span>, A::Error> {
        // A realistic span is several hundred bytes of JSON; reserving for
        // one per 512 bytes avoids most regrowth without overshooting much.
        let mut out = Vec::with_capacity(self.state.cx.base.len() / 512 + 1);
        loop {
            self.state.index = out.len();
            self.state.in_span = true;
            match seq.next_element_seed(SpanSeed {
                state: &mut *self.state,
            })? {
                Some(span) => out.push(span),
                None => break,
            }
        }
        self.state.in_span = false;
        Ok(out)
    }
}

struct SpanSeed<'s, 'b> {
    state: &'s mut State<'b>,
}

impl<'b> DeserializeSeed<'b> for SpanSeed<'_, 'b> {
    type Value = Span;

    fn deserialize<D: Deserializer<'b>>(self, d: D) -> Result<Span, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'b> Visitor<'b> for SpanSeed<'_, 'b> {
    type Value = Span;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a zipkin span object")
    }

    fn visit_map<A: MapAccess<'b>>(self, mut map: A) -> Result<Span, A::Error> {
        let mut f = Fields::default();
        while let Some(k) = map.next_key::<Str<'b>>()? {
            match &*k.0 {
                "traceId" => f.trace_id = map.next_value()?,
                "id" => f.id = map.next_value()?,
                "parentId" => f.parent_id = map.next_value()?,
                "name" => f.name = map.next_value()?,
                "kind" => f.kind = map.next_value()?,
                "timestamp" => f.timestamp = map.next_value()?,
                "duration" => f.duration = map.next_value()?,
                "debug" => f.debug = map.next_value::<Option<bool>>()?.unwrap_or(false),
                "shared" => f.shared = map.next_value::<Option<bool>>()?.unwrap_or(false),
                "localEndpoint" => f.local = map.next_value()?,
                "remoteEndpoint" => f.remote = map.next_value()?,
                "annotations" => map.next_value_seed(Annotations {
                    cx: &mut self.state.cx,
                    out: &mut f.events,
                })?,
                "tags" => map.next_value_seed(Tags {
                    cx: &mut self.state.cx,
                    out: &mut f.tags,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        f.into_span(&mut self.state.cx, &mut self.state.resources)
            .map_err(|(field, reason)| {
                self.state.error = Some(Error::ZipkinId {
                    index: self.state.index,
                    field,
                    reason,
                });
                de::Error::custom("invalid id")
            })
    }
}

/// `tags`: a string-to-string object, appended to the span's attributes.
struct Tags<'o, 'b> {
    cx: &'o mut Ctx<'b>,
    out: &'o mut Vec<(KeyString, Value)>,
}

impl<'b> DeserializeSeed<'b> for Tags<'_, 'b> {
    type Value = ();

    fn deserialize<D: Deserializer<'b>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'b> Visitor<'b> for Tags<'_, 'b> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string tags")
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'b>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'b>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.reserve(map.size_hint().unwrap_or(12));
        while let Some((k, v)) = map.next_entry::<Str<'b>, Str<'b>>()? {
            let value = Value::Bytes(v.into_bytes(self.cx));
            self.out.push((k.into_key(self.cx), value));
        }
        Ok(())
    }
}

/// `annotations`: appended to the span's events, the value as the name.
struct Annotations<'o, 'b> {
    cx: &'o mut Ctx<'b>,
    out: &'o mut Vec<SpanEvent>,
}

impl<'b> DeserializeSeed<'b> for Annotations<'_, 'b> {
    type Value = ();

    fn deserialize<D: Deserializer<'b>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'b> Visitor<'b> for Annotations<'_, 'b> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of annotations")
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'b>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'b>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(a) = seq.next_element::<Annotation<'b>>()? {
            self.out.push(SpanEvent {
                time_unix_nano: micros_to_nanos(a.timestamp.unwrap_or(0)),
                name: a.value.map(|v| v.into_key(self.cx)).unwrap_or_default(),
                ..SpanEvent::default()
            });
        }
        Ok(())
    }
}
