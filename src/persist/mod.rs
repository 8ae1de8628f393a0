//! Persistence: the append-only file (`aof`), in Redis 7's multi-part
//! format. The RDB format (snapshots, the AOF's RDB preamble) lives in
//! `rdb` once it lands.

pub mod aof;

use crate::server::shared::Shared;

/// Loads the RDB preamble at the start of an AOF base file into the
/// keyspace; returns the bytes it used (the RESP tail follows).
pub fn load_rdb_preamble(_srv: &Shared, _data: &[u8]) -> Result<usize, String> {
    Err("RDB base files are not supported by this build".into())
}
