//! keel-values
