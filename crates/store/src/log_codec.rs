//! A write set as bytes, for an engine's commit log: what another process needs to find the
//! live queries a commit touched, and nothing else (no document bodies). Engines store the
//! bytes as they are; only this module reads them.
//!
//! Version 1: `1`, then the documents (count, then each id's table number and 16 internal
//! bytes), then the index writes (count, then each index number, a flags byte and the keys
//! it flags). Numbers are LEB128. A key unchanged by a write (the document's content
//! changed, not its place in the index) is written once.

use keel_values::{DocumentId, TableNumber};

use crate::engine::IndexNumber;
use crate::readset::{IndexWrite, WriteSet};
use crate::{Result, StoreError};

const VERSION: u8 = 1;
const OLD: u8 = 1;
const NEW: u8 = 2;
/// The new key equals the old one and is not repeated.
const SAME: u8 = 4;

pub fn encode(writes: &WriteSet) -> Vec<u8> {
    let keys: usize = writes
        .index_writes
        .iter()
        .map(|w| w.old_key.as_ref().map_or(0, Vec::len) + w.new_key.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = Vec::with_capacity(8 + writes.documents.len() * 20 + keys);
    out.push(VERSION);
    put_number(&mut out, writes.documents.len() as u64);
    for id in &writes.documents {
        put_number(&mut out, u64::from(id.table.0));
        out.extend_from_slice(&id.internal);
    }
    put_number(&mut out, writes.index_writes.len() as u64);
    for write in &writes.index_writes {
        put_number(&mut out, u64::from(write.index.0));
        let same = write.old_key.is_some() && write.old_key == write.new_key;
        let mut flags = 0;
        if write.old_key.is_some() {
            flags |= OLD;
        }
        if write.new_key.is_some() {
            flags |= NEW;
        }
        if same {
            flags |= SAME;
        }
        out.push(flags);
        if let Some(key) = &write.old_key {
            put_bytes(&mut out, key);
        }
        if let (Some(key), false) = (&write.new_key, same) {
            put_bytes(&mut out, key);
        }
    }
    out
}

pub fn decode(bytes: &[u8]) -> Result<WriteSet> {
    let mut input = Input(bytes);
    let version = input.byte()?;
    if version != VERSION {
        return Err(malformed(format!("unknown version {version}")));
    }
    let mut writes = WriteSet::default();
    for _ in 0..input.count()? {
        let table = TableNumber(input.number_u32()?);
        let internal: [u8; 16] = input.take(16)?.try_into().expect("took 16 bytes");
        writes.documents.insert(DocumentId { table, internal });
    }
    let count = input.count()?;
    writes.index_writes.reserve(count);
    for _ in 0..count {
        let index = IndexNumber(input.number_u32()?);
        let flags = input.byte()?;
        if flags & !(OLD | NEW | SAME) != 0 || (flags & SAME != 0 && flags != OLD | NEW | SAME) {
            return Err(malformed(format!("bad flags {flags:#x}")));
        }
        let old_key = (flags & OLD != 0).then(|| input.bytes()).transpose()?;
        let new_key = if flags & SAME != 0 {
            old_key.clone()
        } else {
            (flags & NEW != 0).then(|| input.bytes()).transpose()?
        };
        writes.index_writes.push(IndexWrite {
            index,
            old_key,
            new_key,
        });
    }
    if !input.0.is_empty() {
        return Err(malformed("trailing bytes".into()));
    }
    Ok(writes)
}

fn malformed(detail: String) -> StoreError {
    StoreError::Engine(format!("malformed commit log entry: {detail}"))
}

fn put_number(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_number(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(malformed("truncated".into()));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn number(&mut self) -> Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(malformed("number too long".into()))
    }

    fn number_u32(&mut self) -> Result<u32> {
        u32::try_from(self.number()?).map_err(|_| malformed("number out of range".into()))
    }

    /// A count of items, each at least one byte: never more than the bytes left, so a
    /// corrupt count cannot make the decoder reserve memory for nothing.
    fn count(&mut self) -> Result<usize> {
        let n = self.number()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.0.len())
            .ok_or_else(|| malformed(format!("count {n} past the end")))
    }

    fn bytes(&mut self) -> Result<Vec<u8>> {
        let len = self.count()?;
        Ok(self.take(len)?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WriteSet {
        let mut writes = WriteSet::default();
        writes
            .documents
            .insert(DocumentId::new_random(TableNumber(3)));
        writes
            .documents
            .insert(DocumentId::new_random(TableNumber(70_000)));
        writes.index_writes = vec![
            IndexWrite {
                index: IndexNumber(1),
                old_key: None,
                new_key: Some(b"new".to_vec()),
            },
            IndexWrite {
                index: IndexNumber(200),
                old_key: Some(b"old".to_vec()),
                new_key: None,
            },
            IndexWrite {
                index: IndexNumber(2),
                old_key: Some(vec![0; 300]),
                new_key: Some(vec![0; 300]),
            },
            IndexWrite {
                index: IndexNumber(2),
                old_key: Some(b"a".to_vec()),
                new_key: Some(b"b".to_vec()),
            },
            IndexWrite {
                index: IndexNumber(4),
                old_key: Some(Vec::new()),
                new_key: Some(Vec::new()),
            },
        ];
        writes
    }

    #[test]
    fn write_sets_round_trip() {
        let writes = sample();
        assert_eq!(decode(&encode(&writes)).unwrap(), writes);
        let empty = WriteSet::default();
        assert_eq!(decode(&encode(&empty)).unwrap(), empty);
    }

    #[test]
    fn an_unchanged_key_is_written_once() {
        let mut writes = WriteSet::default();
        writes.index_writes.push(IndexWrite {
            index: IndexNumber(1),
            old_key: Some(vec![7; 100]),
            new_key: Some(vec![7; 100]),
        });
        assert!(encode(&writes).len() < 110, "{}", encode(&writes).len());
    }

    #[test]
    fn damaged_entries_are_errors_not_panics() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut version = bytes.clone();
        version[0] = 2;
        assert!(decode(&version).is_err());
        // A count far past the end.
        assert!(decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        for (i, byte) in bytes.iter().enumerate() {
            let mut flipped = bytes.clone();
            flipped[i] = !byte;
            let _ = decode(&flipped); // may decode to something else; must not panic
        }
    }
}
