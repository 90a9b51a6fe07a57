//! The document store: tables of documents with declared indexes, read-only snapshots and
//! serializable write transactions, commit timestamps, and the read and write sets that live
//! queries are invalidated from.
//!
//! Persistence sits behind [`engine::Engine`]; this crate turns documents into index entries and
//! ranges into key intervals, so an engine only stores bytes and JSON bodies.

mod commit_order;
mod database;
mod document;
pub mod engine;
mod error;
mod feed;
mod follow;
mod health;
mod log_codec;
mod query;
mod range;
mod readset;
mod schema;
pub mod singleton;
mod tx;
mod typed;
mod union;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use database::{Commit, Database};
pub use document::Document;
pub use error::{StorageFault, StoreError};
pub use feed::Change;
pub use follow::RELISTEN_EVERY;
pub use health::RECHECK_AFTER;
pub use query::{END_CURSOR, Order, PaginationOpts, PaginationResult, Query};
pub use range::{IndexRange, KeyRange};
pub use readset::{IndexWrite, ReadSet, WriteSet};
pub use schema::{BY_CREATION_TIME, BY_ID, IndexDef, Schema, TableDef};
pub use tx::{Reader, Writer};
pub use typed::{Doc, Id, TableDocument, TsType};
pub use union::{MAX_UNION_RANGES, Union};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
