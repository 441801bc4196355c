//! Tests of the Thrift readers against the test writer: scalars, field-id
//! deltas, containers, skipping, and the limits on hostile input.

use proptest::prelude::*;

use super::binary::Binary;
use super::compact::Compact;
use super::writer::{Proto, WTy, Writer};
use super::{Reader, SKIP_DEPTH, Ty};
use crate::Error;

fn with_reader<T>(proto: Proto, buf: &[u8], f: impl FnOnce(&mut dyn ReadAll) -> T) -> T {
    match proto {
        Proto::Compact => f(&mut Compact::new(buf)),
        Proto::Binary => f(&mut Binary::new(buf)),
    }
}

/// One field of each scalar type.
type Scalars = (i64, i32, i16, i8, f64, Vec<u8>, bool);

/// Object-safe view of a reader for these tests.
trait ReadAll {
    fn all_scalars(&mut self) -> Result<Scalars, Error>;
    fn skip_struct(&mut self) -> Result<(), Error>;
}

impl<'a, R: Reader<'a>> ReadAll for R {
    fn all_scalars(&mut self) -> Result<Scalars, Error> {
        let mut go = || -> Result<_, super::Fail> {
            let saved = self.begin_struct();
            let mut out = (0, 0, 0, 0, 0.0, Vec::new(), false);
            while let Some((id, ty)) = self.field()? {
                match (id, ty) {
                    (1, Ty::I64) => out.0 = self.i64()?,
                    (2, Ty::I32) => out.1 = self.i32()?,
                    (300, Ty::I16) => out.2 = self.i16()?,
                    (301, Ty::I8) => out.3 = self.i8()?,
                    (-5, Ty::Double) => out.4 = self.double()?,
                    (6, Ty::Binary) => out.5 = self.binary()?.to_vec(),
                    (7, Ty::Bool) => out.6 = self.bool()?,
                    (_, ty) => self.skip(ty, SKIP_DEPTH)?,
                }
            }
            self.end_struct(saved);
            Ok(out)
        };
        go().map_err(|_| self.take_error())
    }

    fn skip_struct(&mut self) -> Result<(), Error> {
        self.skip(Ty::Struct, SKIP_DEPTH)
            .map_err(|_| self.take_error())
    }
}

fn scalars(proto: Proto, v: (i64, i32, i16, i8, f64, &[u8], bool)) -> Vec<u8> {
    let mut w = Writer::new(proto);
    w.begin_struct();
    w.field(1, WTy::I64);
    w.i64(v.0);
    w.field(2, WTy::I32);
    w.i32(v.1);
    // A long jump in ids: the compact protocol writes the id in full.
    w.field(300, WTy::I16);
    w.i16(v.2);
    w.field(301, WTy::I8);
    w.i8(v.3);
    w.field(-5, WTy::Double);
    w.double(v.4);
    w.field(6, WTy::Binary);
    w.binary(v.5);
    w.field_bool(7, v.6);
    w.end_struct();
    w.buf
}

const PROTOS: [Proto; 2] = [Proto::Compact, Proto::Binary];

#[test]
fn scalars_round_trip_at_the_limits() {
    for proto in PROTOS {
        for v in [
            (i64::MIN, i32::MIN, i16::MIN, i8::MIN, -0.5, &b""[..], false),
            (
                i64::MAX,
                i32::MAX,
                i16::MAX,
                i8::MAX,
                1e300,
                &b"x"[..],
                true,
            ),
            (0, -1, 1, 0, 0.0, &[0xff; 300][..], true),
        ] {
            let buf = scalars(proto, v);
            let got = with_reader(proto, &buf, |r| r.all_scalars()).unwrap();
            assert_eq!(
                got,
                (v.0, v.1, v.2, v.3, v.4, v.5.to_vec(), v.6),
                "{proto:?}"
            );
        }
    }
}

/// A struct holding one field of every container type, nested.
fn containers(proto: Proto) -> Vec<u8> {
    let mut w = Writer::new(proto);
    w.begin_struct();
    w.field(1, WTy::List);
    w.list(WTy::Bool, 20);
    for i in 0..20 {
        w.bool(i % 3 == 0);
    }
    w.field(2, WTy::Map);
    w.map(WTy::Binary, WTy::Struct, 2);
    for k in ["a", "b"] {
        w.binary(k.as_bytes());
        w.begin_struct();
        w.field(1, WTy::Set);
        w.list(WTy::I64, 3);
        for v in [1, -1, i64::MAX] {
            w.i64(v);
        }
        w.end_struct();
    }
    w.field(3, WTy::Map);
    w.map(WTy::I32, WTy::I32, 0);
    w.field(4, WTy::List);
    w.list(WTy::Double, 0);
    // A known field after the skipped ones still reads right.
    w.field(6, WTy::Binary);
    w.binary(b"after");
    w.end_struct();
    w.buf
}

#[test]
fn skips_every_container_type() {
    for proto in PROTOS {
        let buf = containers(proto);
        let got = with_reader(proto, &buf, |r| r.all_scalars()).unwrap();
        assert_eq!(got.5, b"after", "{proto:?}");
        with_reader(proto, &buf, |r| r.skip_struct()).unwrap();
    }
}

#[test]
fn every_truncation_fails_cleanly() {
    for proto in PROTOS {
        let full = containers(proto);
        for cut in 0..full.len() {
            let err = with_reader(proto, &full[..cut], |r| r.skip_struct()).unwrap_err();
            assert!(
                matches!(err, Error::Truncated { .. } | Error::Length { .. }),
                "{proto:?} cut at {cut}: {err}"
            );
        }
    }
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    // A list claiming 2^31-1 elements in a few bytes.
    let mut w = Writer::new(Proto::Binary);
    w.begin_struct();
    w.field(1, WTy::List);
    w.list(WTy::Struct, i32::MAX as usize);
    let err = with_reader(Proto::Binary, &w.buf, |r| r.skip_struct()).unwrap_err();
    assert!(
        matches!(err, Error::Length { len, .. } if len == i64::from(i32::MAX)),
        "{err}"
    );

    let mut w = Writer::new(Proto::Compact);
    w.begin_struct();
    w.field(1, WTy::Binary);
    w.varint(u64::from(u32::MAX));
    let err = with_reader(Proto::Compact, &w.buf, |r| r.skip_struct()).unwrap_err();
    assert!(matches!(err, Error::IntegerRange { .. }), "{err}");

    // Negative lengths in the binary protocol.
    let mut w = Writer::new(Proto::Binary);
    w.begin_struct();
    w.field(1, WTy::Binary);
    w.i32(-1);
    let err = with_reader(Proto::Binary, &w.buf, |r| r.skip_struct()).unwrap_err();
    assert!(matches!(err, Error::Length { len: -1, .. }), "{err}");
}

#[test]
fn deep_nesting_is_bounded() {
    for proto in PROTOS {
        let mut w = Writer::new(proto);
        for _ in 0..10_000 {
            w.begin_struct();
            w.field(1, WTy::Struct);
        }
        let err = with_reader(proto, &w.buf, |r| r.skip_struct()).unwrap_err();
        assert!(matches!(err, Error::TooDeep { .. }), "{proto:?}: {err}");
        let mut w = Writer::new(proto);
        w.begin_struct();
        w.field(1, WTy::List);
        for _ in 0..10_000 {
            w.list(WTy::List, 1);
        }
        let err = with_reader(proto, &w.buf, |r| r.skip_struct()).unwrap_err();
        assert!(matches!(err, Error::TooDeep { .. }), "{proto:?}: {err}");
    }
}

#[test]
fn bad_varints_and_type_codes() {
    // Eleven continuation bytes: longer than any i64.
    let mut buf = vec![0x16];
    buf.extend([0xff; 11]);
    let err = with_reader(Proto::Compact, &buf, |r| r.skip_struct()).unwrap_err();
    assert!(matches!(err, Error::Varint { .. }), "{err}");
    // Type code 14 is not defined in the compact protocol, 9 not in binary.
    let err = with_reader(Proto::Compact, &[0x1e], |r| r.skip_struct()).unwrap_err();
    assert!(matches!(err, Error::UnknownType { code: 14, .. }), "{err}");
    let err = with_reader(Proto::Binary, &[9, 0, 1], |r| r.skip_struct()).unwrap_err();
    assert!(matches!(err, Error::UnknownType { code: 9, .. }), "{err}");
    // An i32 field holding a value past i32.
    let mut w = Writer::new(Proto::Compact);
    w.begin_struct();
    w.field(2, WTy::I32);
    w.i64(i64::from(i32::MAX) + 1);
    let err = with_reader(Proto::Compact, &w.buf, |r| r.all_scalars()).unwrap_err();
    assert!(matches!(err, Error::IntegerRange { .. }), "{err}");
}

proptest! {
    #[test]
    fn scalars_round_trip(a: i64, b: i32, c: i16, d: i8, e in -1e12f64..1e12, f in proptest::collection::vec(any::<u8>(), 0..40), g: bool) {
        for proto in PROTOS {
            let buf = scalars(proto, (a, b, c, d, e, &f, g));
            let got = with_reader(proto, &buf, |r| r.all_scalars()).unwrap();
            prop_assert_eq!(got, (a, b, c, d, e, f.clone(), g));
        }
    }

    #[test]
    fn skipping_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for proto in PROTOS {
            let _ = with_reader(proto, &bytes, |r| r.skip_struct());
            let _ = with_reader(proto, &bytes, |r| r.all_scalars());
        }
    }
}
