//! Which subscriptions a commit touches, found without looking at every subscription.
//!
//! Every key inside a range `[start, end)` begins with the longest common prefix of `start`
//! and `end` (byte strings ordered lexicographically), so a range is filed under that prefix.
//! A written key then only needs one hash lookup per distinct prefix length in use on its index
//! (typically one or two: `eq` on a field gives ranges whose start and end share all but the
//! last byte). Unbounded ranges share the empty prefix. Candidates are confirmed with
//! [`KeyRange::contains`], so the answer is exactly what [`ReadSet::intersects`] would give.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

use keel_store::engine::IndexNumber;
use keel_store::{KeyRange, ReadSet, WriteSet};
use keel_values::DocumentId;

pub(crate) struct ReadIndex<K> {
    indexes: HashMap<IndexNumber, IndexRanges<K>>,
    documents: HashMap<DocumentId, Vec<K>>,
}

struct IndexRanges<K> {
    /// Prefix lengths in use, with how many ranges are filed under each.
    lengths: BTreeMap<usize, usize>,
    buckets: HashMap<Vec<u8>, Vec<(KeyRange, K)>>,
}

impl<K> Default for ReadIndex<K> {
    fn default() -> Self {
        ReadIndex {
            indexes: HashMap::new(),
            documents: HashMap::new(),
        }
    }
}

fn bucket_prefix(range: &KeyRange) -> &[u8] {
    let Some(end) = range.end.as_deref() else {
        return &[];
    };
    let common = range
        .start
        .iter()
        .zip(end)
        .take_while(|(a, b)| a == b)
        .count();
    &range.start[..common]
}

impl<K: Clone + Eq + Hash> ReadIndex<K> {
    pub fn insert(&mut self, key: &K, reads: &ReadSet) {
        for (index, range) in &reads.ranges {
            let ranges = self.indexes.entry(*index).or_insert_with(|| IndexRanges {
                lengths: BTreeMap::new(),
                buckets: HashMap::new(),
            });
            let prefix = bucket_prefix(range);
            *ranges.lengths.entry(prefix.len()).or_default() += 1;
            ranges
                .buckets
                .entry(prefix.to_vec())
                .or_default()
                .push((range.clone(), key.clone()));
        }
        for id in &reads.documents {
            self.documents.entry(*id).or_default().push(key.clone());
        }
    }

    /// Undoes [`Self::insert`] of the same `reads`.
    pub fn remove(&mut self, key: &K, reads: &ReadSet) {
        for (index, range) in &reads.ranges {
            let Some(ranges) = self.indexes.get_mut(index) else {
                continue;
            };
            let prefix = bucket_prefix(range);
            let Some(bucket) = ranges.buckets.get_mut(prefix) else {
                continue;
            };
            let Some(at) = bucket.iter().position(|(r, k)| k == key && r == range) else {
                continue;
            };
            bucket.swap_remove(at);
            if bucket.is_empty() {
                ranges.buckets.remove(prefix);
            }
            if let Some(count) = ranges.lengths.get_mut(&prefix.len()) {
                *count -= 1;
                if *count == 0 {
                    ranges.lengths.remove(&prefix.len());
                }
            }
            if ranges.lengths.is_empty() {
                self.indexes.remove(index);
            }
        }
        for id in &reads.documents {
            if let Some(keys) = self.documents.get_mut(id) {
                if let Some(at) = keys.iter().position(|k| k == key) {
                    keys.swap_remove(at);
                }
                if keys.is_empty() {
                    self.documents.remove(id);
                }
            }
        }
    }

    /// Every key whose read set intersects `writes`.
    pub fn touched(&self, writes: &WriteSet) -> HashSet<K> {
        let mut touched = HashSet::new();
        for id in &writes.documents {
            if let Some(keys) = self.documents.get(id) {
                touched.extend(keys.iter().cloned());
            }
        }
        for write in &writes.index_writes {
            let Some(ranges) = self.indexes.get(&write.index) else {
                continue;
            };
            for written in [&write.old_key, &write.new_key].into_iter().flatten() {
                for &len in ranges.lengths.keys() {
                    let Some(prefix) = written.get(..len) else {
                        break; // lengths are ascending
                    };
                    let Some(bucket) = ranges.buckets.get(prefix) else {
                        continue;
                    };
                    touched.extend(
                        bucket
                            .iter()
                            .filter(|(range, _)| range.contains(written))
                            .map(|(_, key)| key.clone()),
                    );
                }
            }
        }
        touched
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.indexes.is_empty() && self.documents.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_store::testing::{index_write as write, key_range as range};
    use keel_values::TableNumber;

    fn reads(ranges: &[(u32, KeyRange)]) -> ReadSet {
        ReadSet {
            ranges: ranges
                .iter()
                .map(|(i, r)| (IndexNumber(*i), r.clone()))
                .collect(),
            documents: Default::default(),
        }
    }

    /// The index answers exactly what checking every read set would.
    #[test]
    fn agrees_with_checking_every_read_set() {
        let sets = [
            reads(&[(1, range(b"ab\x00", Some(b"ab\x01")))]),
            reads(&[(1, range(b"ac\x00", Some(b"ac\x01")))]),
            reads(&[(1, range(b"", None))]),
            reads(&[(1, range(b"b", Some(b"d")))]),
            reads(&[(2, range(b"ab", Some(b"ab\xff")))]),
            reads(&[(1, range(b"m", None)), (2, range(b"a", Some(b"b")))]),
        ];
        let mut index = ReadIndex::default();
        for (key, set) in sets.iter().enumerate() {
            index.insert(&key, set);
        }
        let keys: [&[u8]; 9] = [
            b"", b"a", b"ab", b"ab\x00", b"ab\x00z", b"ac\x00", b"c", b"m", b"zz",
        ];
        for idx in [1, 2, 3] {
            for old in keys.iter().map(|k| Some(*k)).chain([None]) {
                for new in keys.iter().map(|k| Some(*k)).chain([None]) {
                    let writes = write(idx, old, new);
                    let expected: HashSet<usize> = sets
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.intersects(&writes))
                        .map(|(k, _)| k)
                        .collect();
                    assert_eq!(index.touched(&writes), expected, "{writes:?}");
                }
            }
        }
        for (key, set) in sets.iter().enumerate() {
            index.remove(&key, set);
        }
        assert!(index.is_empty());
    }

    #[test]
    fn documents_read_by_id_are_found_by_id() {
        let id = DocumentId::new_random(TableNumber(1));
        let mut set = ReadSet::default();
        set.documents.insert(id);
        let mut index = ReadIndex::default();
        index.insert(&7, &set);
        let mut writes = WriteSet::default();
        writes
            .documents
            .insert(DocumentId::new_random(TableNumber(1)));
        assert!(index.touched(&writes).is_empty());
        writes.documents.insert(id);
        assert_eq!(index.touched(&writes), HashSet::from([7]));
        index.remove(&7, &set);
        assert!(index.is_empty());
    }
}
