//! What a transaction read and wrote. A query's read set decides whether a later commit could
//! change its result: it re-runs exactly when a written key falls in a range it read, or a
//! document it fetched by id changed.

use std::collections::BTreeSet;

use keel_values::DocumentId;

use crate::KeyRange;
use crate::engine::IndexNumber;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadSet {
    pub ranges: Vec<(IndexNumber, KeyRange)>,
    pub documents: BTreeSet<DocumentId>,
}

impl ReadSet {
    pub(crate) fn record_range(&mut self, index: IndexNumber, range: KeyRange) {
        if !range.is_empty() && !self.ranges.iter().any(|(i, r)| *i == index && *r == range) {
            self.ranges.push((index, range));
        }
    }

    pub(crate) fn record_document(&mut self, id: DocumentId) {
        self.documents.insert(id);
    }

    /// Whether `writes` could change what was read.
    pub fn intersects(&self, writes: &WriteSet) -> bool {
        writes
            .documents
            .iter()
            .any(|id| self.documents.contains(id))
            || writes.index_writes.iter().any(|w| {
                self.ranges.iter().any(|(index, range)| {
                    *index == w.index
                        && [&w.old_key, &w.new_key]
                            .into_iter()
                            .flatten()
                            .any(|key| range.contains(key))
                })
            })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.documents.is_empty()
    }
}

/// One document's change in one index: the key it left and the key it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexWrite {
    pub index: IndexNumber,
    pub old_key: Option<Vec<u8>>,
    pub new_key: Option<Vec<u8>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSet {
    pub documents: BTreeSet<DocumentId>,
    pub index_writes: Vec<IndexWrite>,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{index_write as write, key_range as range};
    use keel_values::TableNumber;

    #[test]
    fn a_write_inside_a_read_range_intersects() {
        let mut reads = ReadSet::default();
        reads.record_range(IndexNumber(1), range(b"b", Some(b"d")));
        assert!(reads.intersects(&write(1, None, Some(b"c"))));
        assert!(
            reads.intersects(&write(1, Some(b"b"), None)),
            "start is inclusive"
        );
        assert!(
            !reads.intersects(&write(1, None, Some(b"d"))),
            "end is exclusive"
        );
        assert!(
            !reads.intersects(&write(2, None, Some(b"c"))),
            "other index"
        );
        assert!(
            reads.intersects(&write(1, Some(b"c"), Some(b"z"))),
            "moved out of range"
        );
    }

    #[test]
    fn an_unbounded_range_reaches_the_end() {
        let mut reads = ReadSet::default();
        reads.record_range(IndexNumber(1), range(b"m", None));
        assert!(reads.intersects(&write(1, None, Some(b"\xff\xff"))));
        assert!(!reads.intersects(&write(1, None, Some(b"a"))));
    }

    #[test]
    fn a_document_read_by_id_intersects_only_its_own_writes() {
        let id = keel_values::DocumentId::new_random(TableNumber(1));
        let other = keel_values::DocumentId::new_random(TableNumber(1));
        let mut reads = ReadSet::default();
        reads.record_document(id);
        let mut writes = WriteSet::default();
        writes.documents.insert(other);
        assert!(!reads.intersects(&writes));
        writes.documents.insert(id);
        assert!(reads.intersects(&writes));
    }
}
