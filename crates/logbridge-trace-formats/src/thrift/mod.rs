//! Hand-written Thrift readers over a byte slice: the [`Reader`] trait that
//! the Jaeger decoder is written against, and its two implementations,
//! [`compact::Compact`] and [`binary::Binary`].
//!
//! The readers decode no structs themselves: they hand out field headers,
//! scalars, container headers and string slices, check every length against
//! the bytes left before anything is allocated, and skip values of any type
//! (bounded in depth) so that unknown fields cost nothing but a walk.
//! The Jaeger decoder is generic over [`Reader`], so each protocol gets its
//! own monomorphized copy with every call inlined.

pub(crate) mod binary;
pub(crate) mod compact;

#[cfg(test)]
pub(crate) mod writer;

use crate::Error;

/// A failed read. Zero-sized, so that every `Result` the readers return
/// fits in registers; the error itself waits in the reader
/// ([`Reader::take_error`]), written once, on the cold path.
#[derive(Debug)]
pub(crate) struct Fail;

/// How deep [`Reader::skip`] follows nested containers of unknown fields.
/// Jaeger's own structs nest five levels at most, so this only bounds
/// hostile input (and the stack it could use).
pub(crate) const SKIP_DEPTH: usize = 32;

/// A Thrift value type, the same for both protocols (each maps its own
/// type codes onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
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
    Uuid,
}

impl Ty {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::I8 => "byte",
            Ty::I16 => "i16",
            Ty::I32 => "i32",
            Ty::I64 => "i64",
            Ty::Double => "double",
            Ty::Binary => "binary",
            Ty::List => "list",
            Ty::Set => "set",
            Ty::Map => "map",
            Ty::Struct => "struct",
            Ty::Uuid => "uuid",
        }
    }
}

/// A cursor over one Thrift-encoded buffer. `'a` is the buffer's lifetime:
/// strings come back as slices of it.
pub(crate) trait Reader<'a> {
    /// How many bytes are left.
    fn remaining(&self) -> usize;
    /// Records why decoding failed.
    fn fail(&mut self, error: Error) -> Fail;
    /// The error recorded by the failure being reported.
    fn take_error(&mut self) -> Error;
    /// Starts reading a struct; returns state to hand to [`Reader::end_struct`]
    /// (the compact protocol's field ids are deltas within one struct).
    fn begin_struct(&mut self) -> i16;
    fn end_struct(&mut self, saved: i16);
    /// The next field's id and type, or `None` at the struct's end.
    fn field(&mut self) -> Result<Option<(i16, Ty)>, Fail>;
    fn bool(&mut self) -> Result<bool, Fail>;
    fn i8(&mut self) -> Result<i8, Fail>;
    fn i16(&mut self) -> Result<i16, Fail>;
    fn i32(&mut self) -> Result<i32, Fail>;
    fn i64(&mut self) -> Result<i64, Fail>;
    fn double(&mut self) -> Result<f64, Fail>;
    fn binary(&mut self) -> Result<&'a [u8], Fail>;
    fn uuid(&mut self) -> Result<[u8; 16], Fail>;
    /// Element type and count of a list or set. The count is at most the
    /// number of bytes left, as every element takes at least one.
    fn list(&mut self) -> Result<(Ty, usize), Fail>;
    /// Key type, value type and count of a map (types are `None` when empty).
    fn map(&mut self) -> Result<(Option<(Ty, Ty)>, usize), Fail>;

    /// A Jaeger `Tag` struct laid out the way every client writes it (key,
    /// type and the one value field, in order, nothing else), read without
    /// the general field loop; `None`, having consumed nothing, for any
    /// other layout, which the general path then reads (or rejects).
    fn canonical_tag(&mut self) -> Option<(&'a [u8], RawTag<'a>)>;

    /// Reads past one value of type `ty`, following at most `depth` levels
    /// of nested containers.
    fn skip(&mut self, ty: Ty, depth: usize) -> Result<(), Fail> {
        match ty {
            Ty::Bool => self.bool().map(drop),
            Ty::I8 => self.i8().map(drop),
            Ty::I16 => self.i16().map(drop),
            Ty::I32 => self.i32().map(drop),
            Ty::I64 => self.i64().map(drop),
            Ty::Double => self.double().map(drop),
            Ty::Binary => self.binary().map(drop),
            Ty::Uuid => self.uuid().map(drop),
            Ty::List | Ty::Set | Ty::Map | Ty::Struct if depth == 0 => {
                Err(self.fail(Error::TooDeep { limit: SKIP_DEPTH }))
            }
            Ty::List | Ty::Set => {
                let (elem, n) = self.list()?;
                for _ in 0..n {
                    self.skip(elem, depth - 1)?;
                }
                Ok(())
            }
            Ty::Map => {
                let (types, n) = self.map()?;
                if let Some((k, v)) = types {
                    for _ in 0..n {
                        self.skip(k, depth - 1)?;
                        self.skip(v, depth - 1)?;
                    }
                }
                Ok(())
            }
            Ty::Struct => {
                let saved = self.begin_struct();
                while let Some((_, ty)) = self.field()? {
                    self.skip(ty, depth - 1)?;
                }
                self.end_struct(saved);
                Ok(())
            }
        }
    }
}

/// The value of a Jaeger `Tag`, by its `vType`.
pub(crate) enum RawTag<'a> {
    Str(&'a [u8]),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(&'a [u8]),
}

/// A bounds-checked cursor shared by both protocols.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    error: Option<Error>,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            error: None,
        }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, Fail> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(1)),
        }
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Fail> {
        match self.buf.get(self.pos..self.pos + N) {
            Some(s) => {
                self.pos += N;
                let mut out = [0u8; N];
                out.copy_from_slice(s);
                Ok(out)
            }
            None => Err(self.truncated(N)),
        }
    }

    /// `len` bytes as a slice of the input; the length was checked against
    /// what is left, so a hostile length cannot make us allocate.
    #[inline]
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], Fail> {
        if len > self.remaining() {
            return Err(self.fail(Error::Length {
                len: len as i64,
                at: self.pos,
                remaining: self.remaining(),
            }));
        }
        let s = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(s)
    }

    /// Checks an element count read at `at` against the bytes left (every
    /// element of every type takes at least one byte).
    #[inline]
    pub(crate) fn count(&mut self, n: i64, at: usize) -> Result<usize, Fail> {
        if n < 0 || n as u64 > self.remaining() as u64 {
            let remaining = self.remaining();
            return Err(self.fail(Error::Length {
                len: n,
                at,
                remaining,
            }));
        }
        Ok(n as usize)
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    // The `try_` readers serve speculative fast paths: they fail quietly,
    // recording nothing, and the caller rewinds.

    #[inline]
    pub(crate) fn try_u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    pub(crate) fn try_array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.buf.get(self.pos..)?.first_chunk::<N>()?;
        self.pos += N;
        Some(*s)
    }

    #[inline]
    pub(crate) fn try_take(&mut self, len: u64) -> Option<&'a [u8]> {
        let len = usize::try_from(len).ok()?;
        let end = self.pos.checked_add(len)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    #[inline]
    pub(crate) fn try_varint(&mut self) -> Option<u64> {
        let mut out = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.try_u8()?;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(out);
            }
        }
        None
    }

    /// A LEB128 varint of at most `max_bytes` bytes.
    #[inline]
    pub(crate) fn varint(&mut self, max_bytes: u32) -> Result<u64, Fail> {
        let start = self.pos;
        let mut out = 0u64;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.truncated(1));
            };
            self.pos += 1;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
            shift += 7;
            if shift >= max_bytes * 7 {
                return Err(self.fail(Error::Varint { at: start }));
            }
        }
    }

    #[cold]
    fn truncated(&mut self, needed: usize) -> Fail {
        let e = Error::Truncated {
            at: self.pos,
            needed: needed - self.remaining().min(needed),
        };
        self.fail(e)
    }

    #[cold]
    pub(crate) fn fail(&mut self, error: Error) -> Fail {
        self.error = Some(error);
        Fail
    }

    #[cold]
    pub(crate) fn take_error(&mut self) -> Error {
        // Every `Fail` is made by `fail`, so the slot is full; the fallback
        // only keeps this total.
        self.error.take().unwrap_or(Error::Truncated {
            at: self.pos,
            needed: 0,
        })
    }
}

#[cfg(test)]
mod tests;
