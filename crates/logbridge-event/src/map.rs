//! [`ObjectMap`]: the map behind objects, attributes and labels.
//!
//! A vector of entries kept sorted by key. Telemetry objects are small (a
//! handful to a few dozen keys), and for those one contiguous allocation
//! with binary search beats a B-tree on every count that matters here:
//! building (one allocation instead of nodes), lookup, iteration in key
//! order, and drop. Building from many entries at once
//! ([`ObjectMap::from_entries`]) sorts once, so large objects stay
//! O(n log n) rather than paying a shift per insert.

use std::cmp::Ordering;
use std::fmt;

use crate::value::{KeyString, Value};

#[derive(Clone, PartialEq, Default)]
pub struct ObjectMap {
    /// Sorted by key, keys unique.
    entries: Vec<(KeyString, Value)>,
}

impl ObjectMap {
    pub const fn new() -> ObjectMap {
        ObjectMap {
            entries: Vec::new(),
        }
    }

    pub fn with_capacity(n: usize) -> ObjectMap {
        ObjectMap {
            entries: Vec::with_capacity(n),
        }
    }

    /// Builds a map from entries in any order; of duplicate keys the last
    /// one wins (as in JSON objects).
    pub fn from_entries(mut entries: Vec<(KeyString, Value)>) -> ObjectMap {
        if entries
            .windows(2)
            .all(|w| cmp_key(&w[0].0, &w[1].0) == Ordering::Less)
        {
            return ObjectMap { entries };
        }
        // Stable: among equal keys the input order is kept, so keeping the
        // last of each run keeps the last occurrence. Deduplicating in place
        // keeps the caller's spare capacity for later inserts.
        entries.sort_by(|a, b| cmp_key(&a.0, &b.0));
        entries.dedup_by(|later, kept| {
            if later.0 == kept.0 {
                std::mem::swap(&mut later.1, &mut kept.1);
                true
            } else {
                false
            }
        });
        ObjectMap { entries }
    }

    /// Adds `other`'s entries; where both have a key, `other`'s value
    /// wins.
    pub fn merge(&mut self, other: ObjectMap) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = other;
            return;
        }
        let mut entries = std::mem::take(&mut self.entries);
        entries.extend(other.entries);
        *self = ObjectMap::from_entries(entries);
    }

    /// Makes room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| cmp_key(k, key))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self.find(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key`; returns the value it replaced.
    pub fn insert(&mut self, key: KeyString, value: Value) -> Option<Value> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        match self.find(key) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    pub fn entry(&mut self, key: KeyString) -> Entry<'_> {
        match self.find(&key) {
            Ok(index) => Entry::Occupied(&mut self.entries[index].1),
            Err(index) => Entry::Vacant {
                map: self,
                index,
                key,
            },
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&KeyString, &mut Value) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// Entries in key order.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&KeyString, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&KeyString, &mut Value)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &KeyString> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// Byte-wise key order. Keys are short, so an inlined loop beats a call to
/// `memcmp` (which dominated profiles of map building and lookup).
#[inline]
pub fn cmp_key(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// A place in the map, as from [`ObjectMap::entry`].
pub enum Entry<'a> {
    Occupied(&'a mut Value),
    Vacant {
        map: &'a mut ObjectMap,
        index: usize,
        key: KeyString,
    },
}

impl<'a> Entry<'a> {
    pub fn or_insert(self, value: Value) -> &'a mut Value {
        self.or_insert_with(|| value)
    }

    pub fn or_insert_with(self, make: impl FnOnce() -> Value) -> &'a mut Value {
        match self {
            Entry::Occupied(v) => v,
            Entry::Vacant { map, index, key } => {
                map.entries.insert(index, (key, make()));
                &mut map.entries[index].1
            }
        }
    }
}

impl fmt::Debug for ObjectMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for ObjectMap {
    type Output = Value;

    /// Panics when the key is missing, like `BTreeMap`'s; for tests.
    fn index(&self, key: &str) -> &Value {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no key `{key}` in the map"),
        }
    }
}

impl FromIterator<(KeyString, Value)> for ObjectMap {
    fn from_iter<I: IntoIterator<Item = (KeyString, Value)>>(iter: I) -> Self {
        ObjectMap::from_entries(iter.into_iter().collect())
    }
}

impl Extend<(KeyString, Value)> for ObjectMap {
    fn extend<I: IntoIterator<Item = (KeyString, Value)>>(&mut self, iter: I) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.extend(iter);
        *self = ObjectMap::from_entries(entries);
    }
}

impl IntoIterator for ObjectMap {
    type Item = (KeyString, Value);
    type IntoIter = std::vec::IntoIter<(KeyString, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a ObjectMap {
    type Item = (&'a KeyString, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (KeyString, Value)>,
        fn(&'a (KeyString, Value)) -> (&'a KeyString, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn last_duplicate_wins_and_order_is_sorted() {
        let m = ObjectMap::from_entries(vec![
            ("b".into(), Value::Integer(1)),
            ("a".into(), Value::Integer(2)),
            ("b".into(), Value::Integer(3)),
        ]);
        assert_eq!(m.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m["b"], Value::Integer(3));
    }

    #[test]
    fn entry_api() {
        let mut m = ObjectMap::new();
        *m.entry("x".into()).or_insert(Value::Integer(1)) = Value::Integer(5);
        m.entry("x".into()).or_insert(Value::Integer(9));
        assert_eq!(m["x"], Value::Integer(5));
        assert_eq!(m.remove("x"), Some(Value::Integer(5)));
        assert!(m.is_empty());
    }

    proptest! {
        /// Behaves like a BTreeMap under any mix of operations.
        #[test]
        fn matches_btreemap(ops in proptest::collection::vec((0u8..3, "[a-e]{1,2}", any::<i64>()), 0..64)) {
            let mut ours = ObjectMap::new();
            let mut theirs = std::collections::BTreeMap::new();
            for (op, key, v) in ops {
                match op {
                    0 => prop_assert_eq!(ours.insert(key.as_str().into(), Value::Integer(v)), theirs.insert(key.clone(), Value::Integer(v))),
                    1 => prop_assert_eq!(ours.remove(&key), theirs.remove(&key)),
                    _ => prop_assert_eq!(ours.get(&key), theirs.get(&key)),
                }
            }
            let a: Vec<_> = ours.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            let b: Vec<_> = theirs.into_iter().collect();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn from_entries_matches_sequential_inserts(entries in proptest::collection::vec(("[a-f]{1,2}", any::<i64>()), 0..64)) {
            let mut inserted = ObjectMap::new();
            for (k, v) in &entries {
                inserted.insert(k.as_str().into(), Value::Integer(*v));
            }
            let built = ObjectMap::from_entries(entries.iter().map(|(k, v)| (k.as_str().into(), Value::Integer(*v))).collect());
            prop_assert_eq!(built, inserted);
        }
    }
}
