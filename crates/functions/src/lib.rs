//! keel-functions
