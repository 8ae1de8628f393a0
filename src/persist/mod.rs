//! Persistence: the RDB file format (`rdb/`: a reader and a writer that know
//! nothing of the keyspace), the conversion between its neutral value model
//! and storage values (`convert`), and the server-side snapshot operations
//! (`snapshot`: SAVE to a temp file + rename, load at startup).

pub mod convert;
pub mod rdb;
pub mod snapshot;
