//! keel-store-sqlite
