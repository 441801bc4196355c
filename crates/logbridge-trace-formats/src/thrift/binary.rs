//! The Thrift binary protocol reader: fixed-width big-endian integers,
//! a type byte and an `i16` id per field, `i32` lengths.

use super::{Cursor, Fail, RawTag, Reader, Ty};
use crate::Error;

/// The strict message header's version word (high half); the low byte
/// holds the message type.
const VERSION_1: u32 = 0x8001_0000;

pub(crate) struct Binary<'a> {
    cur: Cursor<'a>,
}

impl<'a> Binary<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Binary<'a> {
        Binary {
            cur: Cursor::new(buf),
        }
    }

    /// Reads a message header, strict (versioned) or old-style; returns the
    /// message type and the method name.
    pub(crate) fn message_begin(&mut self) -> Result<(u8, &'a [u8]), Fail> {
        let word = self.i32()? as u32;
        if word & 0x8000_0000 != 0 {
            if word & 0xffff_0000 != VERSION_1 {
                return Err(self.cur.fail(Error::MessageHeader {
                    protocol: "binary",
                    reason: "unsupported version",
                }));
            }
            let name = self.binary()?;
            let _seq_id = self.i32()?;
            Ok(((word & 0xff) as u8, name))
        } else {
            // Old-style header: the word is the name's length.
            let name = self.cur.take(word as usize)?;
            let kind = self.cur.u8()?;
            let _seq_id = self.i32()?;
            Ok((kind, name))
        }
    }

    /// See [`Reader::canonical_tag`]: field headers are a type byte and a
    /// big-endian `i16` id.
    #[inline]
    fn canonical_tag_at(&mut self) -> Option<(&'a [u8], RawTag<'a>)> {
        let c = &mut self.cur;
        let len = |c: &mut Cursor<'a>| -> Option<u64> {
            u64::try_from(i32::from_be_bytes(c.try_array()?)).ok()
        };
        if c.try_array()? != [11, 0, 1] {
            return None;
        }
        let n = len(c)?;
        let key = c.try_take(n)?;
        if c.try_array()? != [8, 0, 2] {
            return None;
        }
        let value = match (i32::from_be_bytes(c.try_array()?), c.try_array()?) {
            (0, [11, 0, 3]) => {
                let n = len(c)?;
                RawTag::Str(c.try_take(n)?)
            }
            (1, [4, 0, 4]) => RawTag::Double(f64::from_be_bytes(c.try_array()?)),
            (2, [2, 0, 5]) => RawTag::Bool(c.try_u8()? != 0),
            (3, [10, 0, 6]) => RawTag::Long(i64::from_be_bytes(c.try_array()?)),
            (4, [11, 0, 7]) => {
                let n = len(c)?;
                RawTag::Binary(c.try_take(n)?)
            }
            _ => return None,
        };
        if c.try_u8()? != 0 {
            return None;
        }
        Some((key, value))
    }

    #[inline]
    fn ty(&mut self, code: u8, at: usize) -> Result<Ty, Fail> {
        Ok(match code {
            2 => Ty::Bool,
            3 => Ty::I8,
            4 => Ty::Double,
            6 => Ty::I16,
            8 => Ty::I32,
            10 => Ty::I64,
            11 => Ty::Binary,
            12 => Ty::Struct,
            13 => Ty::Map,
            14 => Ty::Set,
            15 => Ty::List,
            16 => Ty::Uuid,
            _ => return Err(self.cur.fail(Error::UnknownType { code, at })),
        })
    }
}

impl<'a> Reader<'a> for Binary<'a> {
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
        0
    }

    #[inline]
    fn end_struct(&mut self, _saved: i16) {}

    #[inline]
    fn field(&mut self) -> Result<Option<(i16, Ty)>, Fail> {
        let at = self.cur.pos();
        let code = self.cur.u8()?;
        if code == 0 {
            return Ok(None);
        }
        let ty = self.ty(code, at)?;
        let id = self.i16()?;
        Ok(Some((id, ty)))
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
        Ok(self.cur.u8()? != 0)
    }

    #[inline]
    fn i8(&mut self) -> Result<i8, Fail> {
        Ok(self.cur.u8()? as i8)
    }

    #[inline]
    fn i16(&mut self) -> Result<i16, Fail> {
        Ok(i16::from_be_bytes(self.cur.array()?))
    }

    #[inline]
    fn i32(&mut self) -> Result<i32, Fail> {
        Ok(i32::from_be_bytes(self.cur.array()?))
    }

    #[inline]
    fn i64(&mut self) -> Result<i64, Fail> {
        Ok(i64::from_be_bytes(self.cur.array()?))
    }

    #[inline]
    fn double(&mut self) -> Result<f64, Fail> {
        Ok(f64::from_be_bytes(self.cur.array()?))
    }

    #[inline]
    fn binary(&mut self) -> Result<&'a [u8], Fail> {
        let at = self.cur.pos();
        let n = self.i32()?;
        if n < 0 {
            let remaining = self.cur.remaining();
            return Err(self.cur.fail(Error::Length {
                len: i64::from(n),
                at,
                remaining,
            }));
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
        let code = self.cur.u8()?;
        let ty = self.ty(code, at)?;
        let n = self.i32()?;
        Ok((ty, self.cur.count(i64::from(n), at)?))
    }

    fn map(&mut self) -> Result<(Option<(Ty, Ty)>, usize), Fail> {
        let at = self.cur.pos();
        let k = self.cur.u8()?;
        let v = self.cur.u8()?;
        let n = self.i32()?;
        let n = self.cur.count(i64::from(n), at)?;
        if n == 0 {
            // Writers put arbitrary type bytes on empty maps.
            return Ok((None, 0));
        }
        Ok((Some((self.ty(k, at)?, self.ty(v, at + 1)?)), n))
    }
}
