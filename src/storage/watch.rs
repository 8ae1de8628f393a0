//! WATCH bookkeeping: which clients watch which (database, key), so a write
//! can mark their transactions dirty.
//!
//! Writers check [`Watches::active`] (one relaxed load) and only then take
//! the registry lock, so the hot path pays nothing while nobody watches.
//! Ordering comes from the shard locks: WATCH registers a key while holding
//! that key's shard, and every write signals while holding it too, so a
//! write after the WATCH always sees the registration.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Set when a watched key changes; EXEC refuses to run when it is.
pub type WatchFlag = Arc<AtomicBool>;

/// Watchers of each (database, key).
type WatchMap = HashMap<(usize, Vec<u8>), Vec<WatchFlag>>;

#[derive(Default)]
pub struct Watches {
    /// Number of (client, key) registrations.
    count: AtomicUsize,
    map: Mutex<WatchMap>,
}

impl Watches {
    /// True when at least one key is watched.
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Registers `flag` as watching `key` in `db` (once per flag and key).
    pub fn add(&self, db: usize, key: &[u8], flag: &WatchFlag) -> bool {
        let mut map = self.map.lock();
        let list = map.entry((db, key.to_vec())).or_default();
        if list.iter().any(|f| Arc::ptr_eq(f, flag)) {
            return false;
        }
        list.push(flag.clone());
        self.count.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes `flag` from `key` in `db`.
    pub fn remove(&self, db: usize, key: &[u8], flag: &WatchFlag) {
        let mut map = self.map.lock();
        let k = (db, key.to_vec());
        if let Some(list) = map.get_mut(&k) {
            let before = list.len();
            list.retain(|f| !Arc::ptr_eq(f, flag));
            self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
            if list.is_empty() {
                map.remove(&k);
            }
        }
    }

    /// Marks every client watching `key` in `db`.
    pub fn touch(&self, db: usize, key: &[u8]) {
        let map = self.map.lock();
        // A borrowed lookup would need the tuple key; watched sets are small.
        if let Some(list) = map.get(&(db, key.to_vec())) {
            for f in list {
                f.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Marks the watchers of every key of `db` (or of any database when
    /// `db` is `None`) for which `exists(db, key)` is true: FLUSHDB,
    /// FLUSHALL and SWAPDB touch only keys that held a value, as Redis.
    pub fn touch_existing(&self, db: Option<usize>, mut exists: impl FnMut(usize, &[u8]) -> bool) {
        let map = self.map.lock();
        for ((d, key), list) in map.iter() {
            if db.is_some_and(|want| want != *d) {
                continue;
            }
            if exists(*d, key) {
                for f in list {
                    f.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// The watched (db, key) pairs (for callers that must check each).
    pub fn keys(&self) -> Vec<(usize, Vec<u8>)> {
        self.map.lock().keys().cloned().collect()
    }
}
