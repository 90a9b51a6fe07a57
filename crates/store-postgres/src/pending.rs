//! Writes a transaction has made but not yet sent. Each document or index write used to be one
//! statement, a network round trip made while the transaction holds the commit lock; they
//! are kept here instead, net of each other (the last write of a key wins), and sent as at
//! most four statements (`UNNEST` of arrays) when the transaction next reads, ends a
//! mutation's savepoint, or commits. A flush before every read keeps reads seeing the
//! transaction's own writes, and one before each savepoint ends keeps a failing write with
//! the mutation that made it.

use std::collections::HashMap;

use keel_store::engine::{IndexNumber, StoredDoc};
use keel_store::{Result, StoreError};
use keel_values::DocumentId;
use sqlx::PgConnection;

use crate::fault;

#[derive(Default)]
pub(crate) struct Pending {
    /// `None`: removed.
    documents: HashMap<DocumentId, Option<StoredDoc>>,
    /// `None`: removed.
    entries: HashMap<(IndexNumber, Vec<u8>), Option<DocumentId>>,
}

impl Pending {
    pub fn put(&mut self, doc: &StoredDoc) {
        self.documents.insert(doc.id, Some(doc.clone()));
    }

    pub fn remove(&mut self, id: &DocumentId) {
        self.documents.insert(*id, None);
    }

    pub fn put_entry(&mut self, index: IndexNumber, key: &[u8], id: &DocumentId) {
        self.entries.insert((index, key.to_vec()), Some(*id));
    }

    pub fn remove_entry(&mut self, index: IndexNumber, key: &[u8]) {
        self.entries.insert((index, key.to_vec()), None);
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty() && self.entries.is_empty()
    }

    /// Forgets what was not sent (the savepoint they belong to is rolled back).
    pub fn discard(&mut self) {
        self.documents.clear();
        self.entries.clear();
    }

    /// Sends everything, leaving nothing pending (also when a statement fails: the
    /// transaction is then unusable until its savepoint rolls back).
    pub async fn flush(&mut self, conn: &mut PgConnection) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let documents = std::mem::take(&mut self.documents);
        let entries = std::mem::take(&mut self.entries);

        let (mut removed, mut ids, mut tables, mut times, mut bodies) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (id, doc) in documents {
            match doc {
                None => removed.push(id.encode()),
                Some(doc) => {
                    ids.push(doc.id.encode());
                    tables.push(doc.id.table.0 as i32);
                    times.push(doc.creation_time);
                    bodies.push(serde_json::to_string(&doc.body).map_err(StoreError::engine)?);
                }
            }
        }
        if !removed.is_empty() {
            sqlx::query("DELETE FROM keel_documents WHERE id = ANY($1)")
                .bind(&removed)
                .execute(&mut *conn)
                .await
                .map_err(fault::sqlx)?;
        }
        if !ids.is_empty() {
            sqlx::query(
                "INSERT INTO keel_documents (id, table_number, creation_time, body)
                 SELECT * FROM UNNEST($1::text[], $2::int[], $3::float8[], $4::text[])
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            )
            .bind(&ids)
            .bind(&tables)
            .bind(&times)
            .bind(&bodies)
            .execute(&mut *conn)
            .await
            .map_err(fault::sqlx)?;
        }

        let (mut gone_indexes, mut gone_keys) = (Vec::new(), Vec::new());
        let (mut indexes, mut keys, mut targets) = (Vec::new(), Vec::new(), Vec::new());
        for ((index, key), id) in entries {
            match id {
                None => {
                    gone_indexes.push(index.0 as i32);
                    gone_keys.push(key);
                }
                Some(id) => {
                    indexes.push(index.0 as i32);
                    keys.push(key);
                    targets.push(id.encode());
                }
            }
        }
        if !gone_keys.is_empty() {
            sqlx::query(
                "DELETE FROM keel_index_entries e
                 USING UNNEST($1::int[], $2::bytea[]) AS gone (index_number, key)
                 WHERE e.index_number = gone.index_number AND e.key = gone.key",
            )
            .bind(&gone_indexes)
            .bind(&gone_keys)
            .execute(&mut *conn)
            .await
            .map_err(fault::sqlx)?;
        }
        if !keys.is_empty() {
            // A key removed and written again in one transaction is one pending write: the
            // row it replaces may still be stored.
            sqlx::query(
                "INSERT INTO keel_index_entries (index_number, key, id)
                 SELECT * FROM UNNEST($1::int[], $2::bytea[], $3::text[])
                 ON CONFLICT (index_number, key) DO UPDATE SET id = excluded.id",
            )
            .bind(&indexes)
            .bind(&keys)
            .bind(&targets)
            .execute(&mut *conn)
            .await
            .map_err(fault::sqlx)?;
        }
        Ok(())
    }
}
