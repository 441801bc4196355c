//! Stable 128-bit fingerprints of field values, for state keyed by what
//! events contain (dedupe's cache, reduce's groups, throttle's buckets):
//! a fingerprint takes the same 16 bytes whatever the size of the values,
//! so the memory of such state is bounded by its number of entries.
//!
//! Fingerprints tell value types apart (`"123"` is not `123`) and are the
//! same across runs and machines (xxh3). This module only hashes; what a
//! fingerprint stands for is up to its caller.

use logbridge_event::Value;
use xxhash_rust::xxh3::Xxh3;

/// Builds one fingerprint from a sequence of parts.
#[derive(Default, Clone)]
pub(crate) struct Fingerprint(Xxh3);

impl Fingerprint {
    pub(crate) fn new() -> Fingerprint {
        Fingerprint::default()
    }

    /// Adds a value that may be missing (a missing field is not `null`).
    pub(crate) fn optional(&mut self, value: Option<&Value>) {
        match value {
            None => self.0.update(&[0xff]),
            Some(v) => self.value(v),
        }
    }

    /// Adds a name, such as a field's path.
    pub(crate) fn name(&mut self, name: &str) {
        self.len(name.len());
        self.0.update(name.as_bytes());
    }

    /// Adds raw bytes.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.0.update(bytes);
    }

    pub(crate) fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.0.update(&[0]),
            Value::Bool(b) => self.0.update(&[1, u8::from(*b)]),
            Value::Integer(i) => {
                self.0.update(&[2]);
                self.0.update(&i.to_le_bytes());
            }
            Value::Float(f) => {
                self.0.update(&[3]);
                self.0.update(&f.to_bits().to_le_bytes());
            }
            Value::Bytes(b) => {
                self.0.update(&[4]);
                self.bytes(b);
            }
            Value::Timestamp(t) => {
                self.0.update(&[5]);
                self.0.update(&t.to_le_bytes());
            }
            Value::Array(items) => {
                self.0.update(&[6]);
                self.len(items.len());
                for item in items {
                    self.value(item);
                }
            }
            Value::Object(map) => {
                // Objects keep their keys sorted, so equal objects hash alike
                // whatever order their fields were set in.
                self.0.update(&[7]);
                self.len(map.len());
                for (key, item) in map.iter() {
                    self.name(key);
                    self.value(item);
                }
            }
        }
    }

    fn len(&mut self, n: usize) {
        self.0.update(&(n as u64).to_le_bytes());
    }

    pub(crate) fn finish(&self) -> u128 {
        self.0.digest128()
    }
}

/// The fingerprint of one value.
pub(crate) fn of_value(value: &Value) -> u128 {
    let mut f = Fingerprint::new();
    f.value(value);
    f.finish()
}

/// The fingerprint of a text, such as a rendered key.
pub(crate) fn of_text(text: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_event::ObjectMap;

    #[test]
    fn types_and_field_order() {
        assert_ne!(
            of_value(&Value::from("123")),
            of_value(&Value::Integer(123))
        );
        assert_ne!(of_value(&Value::Null), {
            let mut f = Fingerprint::new();
            f.optional(None);
            f.finish()
        });
        let mut a = ObjectMap::new();
        a.insert("x".into(), Value::Integer(1));
        a.insert("y".into(), Value::Integer(2));
        let mut b = ObjectMap::new();
        b.insert("y".into(), Value::Integer(2));
        b.insert("x".into(), Value::Integer(1));
        assert_eq!(of_value(&Value::Object(a)), of_value(&Value::Object(b)));
        // Parts are length-prefixed: ["ab", "c"] is not ["a", "bc"].
        let arr = |x: &str, y: &str| of_value(&Value::Array(vec![x.into(), y.into()]));
        assert_ne!(arr("ab", "c"), arr("a", "bc"));
    }
}
