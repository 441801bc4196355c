//! A small Thrift writer (compact and binary protocols) and a model of
//! `jaeger.thrift` to encode with it: builds payloads for the tests and the
//! benchmarks. Self-contained (std only) so the benchmarks can include it.

#![allow(dead_code)]

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Compact,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WTy {
    Bool,
    I8,
    I16,
    I32,
    I64,
    Double,
    Binary,
    List,
    Set,
    Map,
    Struct,
}

impl WTy {
    fn compact(self) -> u8 {
        match self {
            WTy::Bool => 1,
            WTy::I8 => 3,
            WTy::I16 => 4,
            WTy::I32 => 5,
            WTy::I64 => 6,
            WTy::Double => 7,
            WTy::Binary => 8,
            WTy::List => 9,
            WTy::Set => 10,
            WTy::Map => 11,
            WTy::Struct => 12,
        }
    }

    fn binary(self) -> u8 {
        match self {
            WTy::Bool => 2,
            WTy::I8 => 3,
            WTy::Double => 4,
            WTy::I16 => 6,
            WTy::I32 => 8,
            WTy::I64 => 10,
            WTy::Binary => 11,
            WTy::Struct => 12,
            WTy::Map => 13,
            WTy::Set => 14,
            WTy::List => 15,
        }
    }
}

pub struct Writer {
    pub buf: Vec<u8>,
    proto: Proto,
    last_id: i16,
    stack: Vec<i16>,
}

impl Writer {
    pub fn new(proto: Proto) -> Writer {
        Writer {
            buf: Vec::new(),
            proto,
            last_id: 0,
            stack: Vec::new(),
        }
    }

    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A message header calling `name` (type 4: oneway).
    pub fn message(&mut self, name: &str, kind: u8, seq: i32) {
        match self.proto {
            Proto::Compact => {
                self.buf.push(0x82);
                self.buf.push((kind << 5) | 1);
                self.zigzag(i64::from(seq));
                self.binary(name.as_bytes());
            }
            Proto::Binary => {
                self.i32((0x8001_0000u32 | u32::from(kind)) as i32);
                self.binary(name.as_bytes());
                self.i32(seq);
            }
        }
    }

    pub fn begin_struct(&mut self) {
        self.stack.push(self.last_id);
        self.last_id = 0;
    }

    pub fn end_struct(&mut self) {
        self.buf.push(0);
        self.last_id = self.stack.pop().unwrap_or(0);
    }

    fn header(&mut self, id: i16, code: u8) {
        match self.proto {
            Proto::Compact => {
                let delta = i32::from(id) - i32::from(self.last_id);
                if (1..=15).contains(&delta) {
                    self.buf.push(((delta as u8) << 4) | code);
                } else {
                    self.buf.push(code);
                    self.zigzag(i64::from(id));
                }
                self.last_id = id;
            }
            Proto::Binary => {
                self.buf.push(code);
                self.buf.extend_from_slice(&id.to_be_bytes());
            }
        }
    }

    /// A field header for a value of `ty` other than bool.
    pub fn field(&mut self, id: i16, ty: WTy) {
        let code = match self.proto {
            Proto::Compact => ty.compact(),
            Proto::Binary => ty.binary(),
        };
        self.header(id, code);
    }

    /// A whole bool field (the compact protocol folds it into the header).
    pub fn field_bool(&mut self, id: i16, v: bool) {
        match self.proto {
            Proto::Compact => self.header(id, if v { 1 } else { 2 }),
            Proto::Binary => {
                self.header(id, WTy::Bool.binary());
                self.buf.push(u8::from(v));
            }
        }
    }

    /// A bool inside a container.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(match (self.proto, v) {
            (_, true) => 1,
            (Proto::Compact, false) => 2,
            (Proto::Binary, false) => 0,
        });
    }

    pub fn i8(&mut self, v: i8) {
        self.buf.push(v as u8);
    }

    pub fn i16(&mut self, v: i16) {
        match self.proto {
            Proto::Compact => self.zigzag(i64::from(v)),
            Proto::Binary => self.buf.extend_from_slice(&v.to_be_bytes()),
        }
    }

    pub fn i32(&mut self, v: i32) {
        match self.proto {
            Proto::Compact => self.zigzag(i64::from(v)),
            Proto::Binary => self.buf.extend_from_slice(&v.to_be_bytes()),
        }
    }

    pub fn i64(&mut self, v: i64) {
        match self.proto {
            Proto::Compact => self.zigzag(v),
            Proto::Binary => self.buf.extend_from_slice(&v.to_be_bytes()),
        }
    }

    pub fn double(&mut self, v: f64) {
        match self.proto {
            Proto::Compact => self.buf.extend_from_slice(&v.to_le_bytes()),
            Proto::Binary => self.buf.extend_from_slice(&v.to_be_bytes()),
        }
    }

    pub fn binary(&mut self, v: &[u8]) {
        match self.proto {
            Proto::Compact => self.varint(v.len() as u64),
            Proto::Binary => self.buf.extend_from_slice(&(v.len() as i32).to_be_bytes()),
        }
        self.buf.extend_from_slice(v);
    }

    pub fn list(&mut self, elem: WTy, n: usize) {
        match self.proto {
            Proto::Compact => {
                let code = elem.compact();
                if n < 15 {
                    self.buf.push(((n as u8) << 4) | code);
                } else {
                    self.buf.push(0xf0 | code);
                    self.varint(n as u64);
                }
            }
            Proto::Binary => {
                self.buf.push(elem.binary());
                self.buf.extend_from_slice(&(n as i32).to_be_bytes());
            }
        }
    }

    pub fn map(&mut self, k: WTy, v: WTy, n: usize) {
        match self.proto {
            Proto::Compact => {
                self.varint(n as u64);
                if n > 0 {
                    self.buf.push((k.compact() << 4) | v.compact());
                }
            }
            Proto::Binary => {
                self.buf.push(k.binary());
                self.buf.push(v.binary());
                self.buf.extend_from_slice(&(n as i32).to_be_bytes());
            }
        }
    }
}

/// A tag value, by Jaeger's `TagType`.
#[derive(Debug, Clone, PartialEq)]
pub enum JValue {
    Str(String),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct JTag {
    pub key: String,
    pub value: JValue,
}

impl JTag {
    pub fn new(key: &str, value: JValue) -> JTag {
        JTag {
            key: key.to_owned(),
            value,
        }
    }

    pub fn str(key: &str, value: &str) -> JTag {
        JTag::new(key, JValue::Str(value.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct JLog {
    pub timestamp: i64,
    pub fields: Vec<JTag>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JRef {
    pub kind: i32,
    pub low: i64,
    pub high: i64,
    pub span: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct JSpan {
    pub low: i64,
    pub high: i64,
    pub id: i64,
    pub parent: i64,
    pub name: String,
    pub refs: Option<Vec<JRef>>,
    pub flags: i32,
    pub start: i64,
    pub duration: i64,
    pub tags: Option<Vec<JTag>>,
    pub logs: Option<Vec<JLog>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JBatch {
    pub service: String,
    pub process_tags: Option<Vec<JTag>>,
    pub spans: Vec<JSpan>,
}

pub fn write_tag(w: &mut Writer, t: &JTag) {
    w.begin_struct();
    w.field(1, WTy::Binary);
    w.binary(t.key.as_bytes());
    w.field(2, WTy::I32);
    match &t.value {
        JValue::Str(s) => {
            w.i32(0);
            w.field(3, WTy::Binary);
            w.binary(s.as_bytes());
        }
        JValue::Double(d) => {
            w.i32(1);
            w.field(4, WTy::Double);
            w.double(*d);
        }
        JValue::Bool(b) => {
            w.i32(2);
            w.field_bool(5, *b);
        }
        JValue::Long(l) => {
            w.i32(3);
            w.field(6, WTy::I64);
            w.i64(*l);
        }
        JValue::Binary(b) => {
            w.i32(4);
            w.field(7, WTy::Binary);
            w.binary(b);
        }
    }
    w.end_struct();
}

pub fn write_tags(w: &mut Writer, id: i16, tags: &[JTag]) {
    w.field(id, WTy::List);
    w.list(WTy::Struct, tags.len());
    for t in tags {
        write_tag(w, t);
    }
}

pub fn write_span(w: &mut Writer, s: &JSpan) {
    w.begin_struct();
    for (id, v) in [(1, s.low), (2, s.high), (3, s.id), (4, s.parent)] {
        w.field(id, WTy::I64);
        w.i64(v);
    }
    w.field(5, WTy::Binary);
    w.binary(s.name.as_bytes());
    if let Some(refs) = &s.refs {
        w.field(6, WTy::List);
        w.list(WTy::Struct, refs.len());
        for r in refs {
            w.begin_struct();
            w.field(1, WTy::I32);
            w.i32(r.kind);
            for (id, v) in [(2, r.low), (3, r.high), (4, r.span)] {
                w.field(id, WTy::I64);
                w.i64(v);
            }
            w.end_struct();
        }
    }
    w.field(7, WTy::I32);
    w.i32(s.flags);
    w.field(8, WTy::I64);
    w.i64(s.start);
    w.field(9, WTy::I64);
    w.i64(s.duration);
    if let Some(tags) = &s.tags {
        write_tags(w, 10, tags);
    }
    if let Some(logs) = &s.logs {
        w.field(11, WTy::List);
        w.list(WTy::Struct, logs.len());
        for l in logs {
            w.begin_struct();
            w.field(1, WTy::I64);
            w.i64(l.timestamp);
            write_tags(w, 2, &l.fields);
            w.end_struct();
        }
    }
    w.end_struct();
}

pub fn write_batch(w: &mut Writer, b: &JBatch) {
    w.begin_struct();
    w.field(1, WTy::Struct);
    w.begin_struct();
    w.field(1, WTy::Binary);
    w.binary(b.service.as_bytes());
    if let Some(tags) = &b.process_tags {
        write_tags(w, 2, tags);
    }
    w.end_struct();
    w.field(2, WTy::List);
    w.list(WTy::Struct, b.spans.len());
    for s in &b.spans {
        write_span(w, s);
    }
    w.end_struct();
}

/// A bare `Batch` struct.
pub fn encode_batch(b: &JBatch, proto: Proto) -> Vec<u8> {
    let mut w = Writer::new(proto);
    write_batch(&mut w, b);
    w.buf
}

/// A oneway `Agent.emitBatch(batch)` message.
pub fn encode_emit_batch(b: &JBatch, proto: Proto) -> Vec<u8> {
    let mut w = Writer::new(proto);
    w.message("emitBatch", 4, 1);
    w.begin_struct();
    w.field(1, WTy::Struct);
    write_batch(&mut w, b);
    w.end_struct();
    w.buf
}
