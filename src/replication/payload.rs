//! The full-sync payload: an RDB of the whole dataset (`persist::snapshot`)
//! on the primary side, loaded into an emptied keyspace on the replica side.
//!
//! The primary serialises the RDB into memory while it holds every shard
//! lock (there is no copy-on-write snapshot yet), so the dataset and the
//! stream offset it is sent with are one point in time; clients wait for
//! that long.

use crate::persist::convert;
use crate::persist::snapshot::{self, LoadError};
use crate::server::shared::Shared;
use crate::storage::keyspace::Db;

/// Writes the RDB of the dataset `db` (a view over every shard).
pub fn snapshot(srv: &Shared, db: &mut Db) -> std::io::Result<Vec<u8>> {
    let s = srv.settings();
    let mut shards: Vec<_> = db.shards_mut().collect();
    snapshot::write_rdb(
        Vec::with_capacity(1 << 16),
        &mut shards,
        s.rdbcompression,
        s.rdbchecksum,
        crate::commands::server::info::memory_in_use(),
        &convert::thresholds(&s),
    )
}

/// Replaces the dataset with the RDB `data` (every database flushed first).
pub fn load(srv: &Shared, data: &[u8]) -> Result<u64, String> {
    let s = srv.settings();
    let mut db = srv.keyspace.view_all(0);
    db.flush(None);
    match snapshot::load_bytes(data, &mut db, &s) {
        Ok((st, _)) => {
            srv.note_load(&st);
            Ok(st.loaded)
        }
        Err(LoadError::NotFound) => Err("empty payload".into()),
        Err(LoadError::Failed(m)) => Err(m),
    }
}
