//! The Thrift compact protocol reader: zigzag varints, field ids as deltas
//! from the previous field, booleans folded into field headers, small list
//! sizes folded into the element-type byte.

use super::{Cursor, Fail, RawTag, Reader, Ty};
use crate::Error;

/// First byte of every compact-protocol message.
const PROTOCOL_ID: u8 = 0x82;
const VERSION: u8 = 1;

pub(crate) struct Compact<'a> {
    cur: Cursor<'a>,
    /// Id of the previous field in the current struct.
    last_id: i16,
    /// A bool field carries its value in the header; kept until read.
    pending_bool: Option<bool>,
}

impl<'a> Compact<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Compact<'a> {
        Compact {
            cur: Cursor::new(buf),
            last_id: 0,
            pending_bool: None,
        }
    }

    /// Reads a message header; returns the message type and the method name.
    pub(crate) fn message_begin(&mut self) -> Result<(u8, &'a [u8]), Fail> {
        let bad = |reason| Error::MessageHeader {
            protocol: "compact",
            reason,
        };
        if self.cur.u8()? != PROTOCOL_ID {
            return Err(self.cur.fail(bad("bad protocol id")));
        }
        let b = self.cur.u8()?;
        if b & 0x1f != VERSION {
            return Err(self.cur.fail(bad("unsupported version")));
        }
        let kind = b >> 5;
        let _seq_id = self.i32()?;
        let name = self.binary()?;
        Ok((kind, name))
    }

    #[inline]
    fn zigzag(&mut self, max_bytes: u32) -> Result<i64, Fail> {
        let u = self.cur.varint(max_bytes)?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    #[inline]
    fn ty(&mut self, code: u8, at: usize) -> Result<Ty, Fail> {
        Ok(match code {
            1 | 2 => Ty::Bool,
            3 => Ty::I8,
            4 => Ty::I16,
            5 => Ty::I32,
            6 => Ty::I64,
            7 => Ty::Double,
            8 => Ty::Binary,
            9 => Ty::List,
            10 => Ty::Set,
            11 => Ty::Map,
            12 => Ty::Struct,
            13 => Ty::Uuid,
            _ => return Err(self.cur.fail(Error::UnknownType { code, at })),
        })
    }

    #[inline(never)]
    fn field_slow(&mut self, at: usize, code: u8, delta: u8) -> Result<(i16, Ty), Fail> {
        let id = if delta == 0 {
            let id = self.zigzag(3)?;
            i16::try_from(id).map_err(|_| self.cur.fail(Error::IntegerRange { at }))?
        } else {
            self.last_id
                .checked_add(i16::from(delta))
                .ok_or(Fail)
                .map_err(|_| self.cur.fail(Error::IntegerRange { at }))?
        };
        self.last_id = id;
        let ty = self.ty(code, at)?;
        if ty == Ty::Bool {
            self.pending_bool = Some(code == 1);
        }
        Ok((id, ty))
    }

    /// See [`Reader::canonical_tag`]: field headers are single bytes of
    /// (id delta << 4 | type).
    #[inline]
    fn canonical_tag_at(&mut self) -> Option<(&'a [u8], RawTag<'a>)> {
        let c = &mut self.cur;
        if c.try_u8()? != 0x18 {
            return None;
        }
        let n = c.try_varint()?;
        let key = c.try_take(n)?;
        if c.try_u8()? != 0x15 {
            return None;
        }
        // vType, zigzag-encoded: 0, 2, 4, 6, 8 are types 0 to 4.
        let value = match (c.try_varint()?, c.try_u8()?) {
            (0, 0x18) => {
                let n = c.try_varint()?;
                RawTag::Str(c.try_take(n)?)
            }
            (2, 0x27) => RawTag::Double(f64::from_le_bytes(c.try_array()?)),
            (4, 0x31) => RawTag::Bool(true),
            (4, 0x32) => RawTag::Bool(false),
            (6, 0x46) => {
                let u = c.try_varint()?;
                RawTag::Long((u >> 1) as i64 ^ -((u & 1) as i64))
            }
            (8, 0x58) => {
                let n = c.try_varint()?;
                RawTag::Binary(c.try_take(n)?)
            }
            _ => return None,
        };
        if c.try_u8()? != 0 {
            return None;
        }
        Some((key, value))
    }

    /// A varint size, at most the bytes left.
    #[inline]
    fn size(&mut self) -> Result<usize, Fail> {
        let at = self.cur.pos();
        let n = self.cur.varint(5)?;
        if n > i32::MAX as u64 {
            return Err(self.cur.fail(Error::IntegerRange { at }));
        }
        self.cur.count(n as i64, at)
    }
}

impl<'a> Reader<'a> for Compact<'a> {
    #[inline]
    fn remaining(&self) -> usize {
        self.cur.remaining()
    }

    fn fail(&mut self, error: Error) -> Fail {
        self.cur.fail(error)
    }

    fn take_error(&mut self) -> Error {
        self.cur.take_error()
    }

    #[inline]
    fn begin_struct(&mut self) -> i16 {
        std::mem::replace(&mut self.last_id, 0)
    }

    #[inline]
    fn end_struct(&mut self, saved: i16) {
        self.last_id = saved;
    }

    #[inline]
    fn field(&mut self) -> Result<Option<(i16, Ty)>, Fail> {
        let at = self.cur.pos();
        let b = self.cur.u8()?;
        if b == 0 {
            return Ok(None);
        }
        let code = b & 0x0f;
        let delta = b >> 4;
        // The usual case, a small step to a field of a non-bool type, is
        // handled inline; the rest out of line.
        if delta != 0
            && (3..=12).contains(&code)
            && let Some(id) = self.last_id.checked_add(i16::from(delta))
        {
            self.last_id = id;
            let ty = match code {
                3 => Ty::I8,
                4 => Ty::I16,
                5 => Ty::I32,
                6 => Ty::I64,
                7 => Ty::Double,
                8 => Ty::Binary,
                9 => Ty::List,
                10 => Ty::Set,
                11 => Ty::Map,
                _ => Ty::Struct,
            };
            return Ok(Some((id, ty)));
        }
        self.field_slow(at, code, delta).map(Some)
    }

    #[inline]
    fn canonical_tag(&mut self) -> Option<(&'a [u8], RawTag<'a>)> {
        let start = self.cur.pos();
        let tag = self.canonical_tag_at();
        if tag.is_none() {
            self.cur.set_pos(start);
        }
        tag
    }

    #[inline]
    fn bool(&mut self) -> Result<bool, Fail> {
        match self.pending_bool.take() {
            Some(b) => Ok(b),
            // Inside a container: one byte, 1 for true (writers differ on
            // false, 0 or 2).
            None => Ok(self.cur.u8()? == 1),
        }
    }

    #[inline]
    fn i8(&mut self) -> Result<i8, Fail> {
        Ok(self.cur.u8()? as i8)
    }

    #[inline]
    fn i16(&mut self) -> Result<i16, Fail> {
        let at = self.cur.pos();
        i16::try_from(self.zigzag(3)?).map_err(|_| self.cur.fail(Error::IntegerRange { at }))
    }

    #[inline]
    fn i32(&mut self) -> Result<i32, Fail> {
        let at = self.cur.pos();
        i32::try_from(self.zigzag(5)?).map_err(|_| self.cur.fail(Error::IntegerRange { at }))
    }

    #[inline]
    fn i64(&mut self) -> Result<i64, Fail> {
        self.zigzag(10)
    }

    #[inline]
    fn double(&mut self) -> Result<f64, Fail> {
        Ok(f64::from_le_bytes(self.cur.array()?))
    }

    #[inline]
    fn binary(&mut self) -> Result<&'a [u8], Fail> {
        let at = self.cur.pos();
        let n = self.cur.varint(5)?;
        if n > i32::MAX as u64 {
            return Err(self.cur.fail(Error::IntegerRange { at }));
        }
        self.cur.take(n as usize)
    }

    #[inline]
    fn uuid(&mut self) -> Result<[u8; 16], Fail> {
        self.cur.array()
    }

    #[inline]
    fn list(&mut self) -> Result<(Ty, usize), Fail> {
        let at = self.cur.pos();
        let b = self.cur.u8()?;
        let ty = self.ty(b & 0x0f, at)?;
        let n = match b >> 4 {
            15 => self.size()?,
            n => self.cur.count(i64::from(n), at)?,
        };
        Ok((ty, n))
    }

    fn map(&mut self) -> Result<(Option<(Ty, Ty)>, usize), Fail> {
        let n = self.size()?;
        if n == 0 {
            return Ok((None, 0));
        }
        let at = self.cur.pos();
        let b = self.cur.u8()?;
        let k = self.ty(b >> 4, at)?;
        let v = self.ty(b & 0x0f, at)?;
        Ok((Some((k, v)), n))
    }
}
