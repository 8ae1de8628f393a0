//! Persistence: the RDB file format (`rdb/`: a reader and a writer that know
//! nothing of the keyspace), the conversion between its neutral value model
//! and storage values (`convert`), the server-side snapshot operations
//! (`snapshot`: SAVE to a temp file + rename, loading; `bgsave`: BGSAVE from
//! a copy-on-serialise snapshot), and the append-only
//! file (`aof`), in Redis 7's multi-part format.

pub mod aof;
pub mod bgsave;
pub mod convert;
pub mod rdb;
pub mod snapshot;

use crate::server::shared::Shared;

/// Loads the RDB preamble at the start of an AOF base file into the
/// keyspace; returns the bytes it used (the RESP tail follows).
pub fn load_rdb_preamble(srv: &Shared, data: &[u8]) -> Result<usize, String> {
    let settings = srv.settings();
    let mut db = srv.keyspace.view_all(0);
    let (st, used) = snapshot::load_bytes(data, &mut db, &settings).map_err(|e| match e {
        snapshot::LoadError::NotFound => "no data".to_string(),
        snapshot::LoadError::Failed(m) => m,
    })?;
    srv.note_load(&st);
    Ok(used as usize)
}
