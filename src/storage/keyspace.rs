//! The keyspace: a fixed set of shards, each a mutex over every database's
//! tables for the keys that hash to it, and [`Db`], the locked view a
//! command works through.
//!
//! A key's shard is the top bits of [`hash_bytes`]; the dict uses the low
//! bits for buckets, so one hash serves both. A command locks the shards of
//! its keys in ascending order (no deadlock), or all of them for commands
//! over the whole keyspace. Expired keys are deleted lazily when a command
//! touches them, and actively by [`Keyspace::active_expire_cycle`].

use super::blocking::{BlockRegistry, Waiter};
use super::dict::{Dict, hash_bytes};
use super::evict::{Evictor, LFU_INIT_VAL};
use super::feed::{Feed, Pending, encode_command};
use super::notify::{self, Notifier};
use super::snapshot::ShardSnap;
use super::value::{Entry, NO_EXPIRE, Value};
use super::watch::Watches;
use compact_bytes::CompactBytes;
use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// log2 of the number of shards.
pub const SHARD_BITS: u32 = 4;
/// Number of shards.
pub const SHARDS: usize = 1 << SHARD_BITS;

/// Active expiry samples at most this many keys per shard lock.
const EXPIRE_BATCH: usize = 200;

/// Current Unix time in milliseconds.
#[inline]
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Bit of `Keyspace::clock` set while an LFU policy is selected.
const LFU_MODE: u64 = 1 << 63;

/// Unix time in minutes, as the LFU clock counts it.
fn unix_minutes() -> u64 {
    (unix_ms() / 60_000) as u64 & 0xffff
}

/// Shard index of a key hash.
#[inline]
pub fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

/// A key as stored in the tables: 24 bytes, inline up to 23 bytes (most
/// keys, including every key `redis-benchmark` makes), one allocation
/// beyond. A lookup compares the key, so an inline key costs no pointer
/// chase: with 16-byte keys kept out of line (a 16-byte key type), GET of
/// 20-byte keys at `-P 16` ran 30% slower. The keyspace node is 72 bytes
/// (an 80-byte size class; see `value.rs`).
pub type Key = CompactBytes;

/// One database's part of one shard.
#[derive(Default)]
pub struct DbTable {
    /// Every key with its value.
    pub main: Dict<Key, Entry>,
    /// The keys that have a TTL (value = absolute expiry in Unix ms), the
    /// only place the expiry is stored (an entry just flags that it has
    /// one); sampled by active expiry.
    pub expires: Dict<Key, i64>,
}

impl DbTable {
    /// Removes a key from both tables.
    pub fn remove_hashed(&mut self, hash: u64, key: &[u8]) -> Option<Entry> {
        self.take_hashed(hash, key).map(|(e, _)| e)
    }

    /// Removes a key from both tables, returning its entry and expiry
    /// ([`NO_EXPIRE`] when it had none).
    fn take_hashed(&mut self, hash: u64, key: &[u8]) -> Option<(Entry, i64)> {
        let (_, e) = self.main.remove_hashed(hash, key)?;
        let mut at = NO_EXPIRE;
        if e.has_expire()
            && let Some((_, t)) = self.expires.remove_hashed(hash, key)
        {
            at = t;
        }
        Some((e, at))
    }

    /// Expiry of `key` (Unix ms) from the `expires` table, [`NO_EXPIRE`]
    /// when it has none. Only worth calling when the entry's
    /// [`Entry::has_expire`] is set.
    #[inline]
    pub fn expire_hashed(&self, hash: u64, key: &[u8]) -> i64 {
        self.expires
            .get_hashed(hash, key)
            .copied()
            .unwrap_or(NO_EXPIRE)
    }

    /// Expiry of the entry `e` stored under `key` (for code walking `main`):
    /// `None` without TTL; one extra lookup only for keys that have one.
    #[inline]
    pub fn expire_of(&self, key: &[u8], e: &Entry) -> Option<i64> {
        if !e.has_expire() {
            return None;
        }
        Some(self.expire_hashed(hash_bytes(key), key))
    }
}

/// Counters a shard keeps under its lock; summed for INFO.
#[derive(Default, Clone, Copy)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_stale_perc_sum: u64,
}

/// The tables of every database for the keys of one shard.
pub struct Shard {
    pub dbs: Box<[DbTable]>,
    pub stats: ShardStats,
    /// Clients blocked on keys of this shard (BLPOP …).
    pub blocked: BlockRegistry,
    /// Active expiry: which database the next cycle starts with.
    expire_db_cursor: usize,
    /// Active expiry: where in the expires table sampling resumes.
    expire_scan_cursor: u64,
    /// This shard's part of the running snapshot (BGSAVE), if any: see
    /// `storage::snapshot`.
    pub(in crate::storage) snap: Option<Box<ShardSnap>>,
}

/// A shard's lock on cache lines of its own (no false sharing between
/// threads working on different shards).
#[repr(align(128))]
struct Padded(Mutex<Shard>);

impl std::ops::Deref for Padded {
    type Target = Mutex<Shard>;
    #[inline]
    fn deref(&self) -> &Mutex<Shard> {
        &self.0
    }
}

/// The whole dataset.
pub struct Keyspace {
    shards: Box<[Padded]>,
    /// Keys clients WATCH; every change below signals it.
    pub watches: Watches,
    /// Number of (blocked client, key) registrations over every shard: a
    /// write checks it (one relaxed load) before looking for waiters.
    /// Changed under the key's shard lock, so a writer holding that lock
    /// sees every registration made before it.
    blocked: AtomicUsize,
    /// Keyspace notifications (`notify-keyspace-events`).
    pub notifier: Notifier,
    /// The stream of executed writes (AOF, replication).
    pub feed: Feed,
    databases: usize,
    /// The clocks stored in `Entry::lru`, packed so a lookup reads both
    /// with one load: bits 0..32 the LRU clock (seconds since start), bits
    /// 32..48 the LFU clock (Unix minutes, 16 bits as Redis's), bit 63 set
    /// while an LFU policy is selected (entries then hold Redis's LFU
    /// data: 16-bit minutes << 8 | 8-bit log counter).
    clock: AtomicU64,
    /// `maxmemory` and eviction (see `storage::evict`).
    pub evict: Evictor,
    /// Set when the last active-expiry cycle ran out of time with expired
    /// keys left: the next cycle gets a larger budget.
    expire_backlog: AtomicBool,
    /// Shard where the next active-expiry cycle starts.
    expire_shard_cursor: AtomicU32,
    /// Epoch of the last snapshot started (its low 16 bits mark entries).
    snapshot_epoch: AtomicU32,
    /// True on a replica: expiry follows the primary (see
    /// [`Keyspace::set_replica_mode`]).
    replica_mode: AtomicBool,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        let shards = (0..SHARDS)
            .map(|_| {
                Padded(Mutex::new(Shard {
                    dbs: (0..databases).map(|_| DbTable::default()).collect(),
                    stats: ShardStats::default(),
                    blocked: BlockRegistry::default(),
                    expire_db_cursor: 0,
                    expire_scan_cursor: 0,
                    snap: None,
                }))
            })
            .collect();
        Keyspace {
            shards,
            watches: Watches::default(),
            blocked: AtomicUsize::new(0),
            notifier: Notifier::default(),
            feed: Feed::default(),
            databases,
            clock: AtomicU64::new(unix_minutes() << 32),
            evict: Evictor::default(),
            expire_backlog: AtomicBool::new(false),
            expire_shard_cursor: AtomicU32::new(0),
            snapshot_epoch: AtomicU32::new(0),
            replica_mode: AtomicBool::new(false),
        }
    }

    /// A new snapshot epoch (0 when the 16-bit mark wrapped).
    pub(in crate::storage) fn next_snapshot_epoch(&self) -> u16 {
        (self.snapshot_epoch.fetch_add(1, Ordering::Relaxed) as u16).wrapping_add(1)
    }

    /// On a replica keys are never deleted for their TTL: the primary
    /// sends `DEL` when they expire there. Reads hide logically expired
    /// keys; the primary's own commands (a view with
    /// [`Db::from_master`]) still see them, as in Redis.
    pub fn set_replica_mode(&self, on: bool) {
        self.replica_mode.store(on, Ordering::SeqCst);
    }

    pub fn replica_mode(&self) -> bool {
        self.replica_mode.load(Ordering::Relaxed)
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    /// (blocked client, key) registrations over every shard.
    pub fn blocked_registrations(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }

    /// The LRU clock (seconds), advanced by the server's cron.
    #[inline]
    pub fn lru_clock(&self) -> u32 {
        self.clock.load(Ordering::Relaxed) as u32
    }

    /// Sets the LRU clock (and the LFU minutes clock from the wall clock).
    pub fn set_lru_clock(&self, secs: u32) {
        let min = unix_minutes();
        let _ = self
            .clock
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some((c & LFU_MODE) | (min << 32) | secs as u64)
            });
    }

    /// Selects what `Entry::lru` holds: LFU data (an LFU policy) or the
    /// LRU clock.
    pub fn set_lfu_mode(&self, on: bool) {
        if on {
            self.clock.fetch_or(LFU_MODE, Ordering::Relaxed);
        } else {
            self.clock.fetch_and(!LFU_MODE, Ordering::Relaxed);
        }
    }

    /// True while entries hold LFU data.
    #[inline]
    pub fn lfu_mode(&self) -> bool {
        self.clock.load(Ordering::Relaxed) & LFU_MODE != 0
    }

    /// The LFU clock: Unix minutes, 16 bits.
    #[inline]
    pub fn lfu_minutes(&self) -> u32 {
        ((self.clock.load(Ordering::Relaxed) >> 32) & 0xffff) as u32
    }

    /// `Entry::lru` of a value created now: the LRU clock, or under an
    /// LFU policy the current minute with Redis's initial counter.
    #[inline]
    pub fn new_stamp(&self) -> u32 {
        let c = self.clock.load(Ordering::Relaxed);
        if c & LFU_MODE == 0 {
            c as u32
        } else {
            ((((c >> 32) & 0xffff) as u32) << 8) | LFU_INIT_VAL
        }
    }

    /// `Entry::lru` after an access to an entry stamped `old`: the LRU
    /// clock, or under an LFU policy Redis's decayed and (logarithmically,
    /// at random) incremented counter.
    #[inline]
    pub fn touch_stamp(&self, old: u32) -> u32 {
        let c = self.clock.load(Ordering::Relaxed);
        if c & LFU_MODE == 0 {
            c as u32
        } else {
            self.evict.lfu_touch(old, ((c >> 32) & 0xffff) as u32)
        }
    }

    /// Locks one shard.
    pub fn lock_shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].lock()
    }

    /// A view with no shard locked (commands without keys).
    pub fn view_none(&self, db: usize) -> Db<'_> {
        Db::new(self, Guards::None, db)
    }

    /// A view with the shard of one key locked.
    #[inline]
    pub fn view_one(&self, db: usize, key: &[u8]) -> Db<'_> {
        let hash = hash_bytes(key);
        let s = shard_of(hash);
        let mut view = Db::new(self, Guards::One(s, self.shards[s].lock()), db);
        view.hint = (key.as_ptr() as usize, key.len(), hash);
        view
    }

    /// A view with the shards of several keys locked (ascending order).
    pub fn view_keys<'k>(&self, db: usize, keys: impl Iterator<Item = &'k [u8]>) -> Db<'_> {
        let mut mask: u64 = 0;
        for k in keys {
            mask |= 1 << shard_of(hash_bytes(k));
        }
        if mask.count_ones() == 1 {
            let s = mask.trailing_zeros() as usize;
            return Db::new(self, Guards::One(s, self.shards[s].lock()), db);
        }
        let mut guards = Vec::with_capacity(mask.count_ones() as usize);
        while mask != 0 {
            let s = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            guards.push((s, self.shards[s].lock()));
        }
        Db::new(self, Guards::Many(guards), db)
    }

    /// A view with every shard locked (whole-keyspace commands, EXEC).
    pub fn view_all(&self, db: usize) -> Db<'_> {
        let guards = (0..SHARDS).map(|s| (s, self.shards[s].lock())).collect();
        Db::new(self, Guards::Many(guards), db)
    }

    /// Sum of the shards' counters.
    pub fn stats(&self) -> ShardStats {
        let mut total = ShardStats::default();
        for s in self.shards.iter() {
            let st = s.lock().stats;
            total.expired_keys += st.expired_keys;
            total.keyspace_hits += st.keyspace_hits;
            total.keyspace_misses += st.keyspace_misses;
            total.expired_stale_perc_sum += st.expired_stale_perc_sum;
        }
        total
    }

    /// Clears the counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        self.evict.reset_stats();
        for s in self.shards.iter() {
            s.lock().stats = ShardStats::default();
        }
    }

    /// Per database: (keys, keys with TTL).
    pub fn db_sizes(&self) -> Vec<(usize, usize)> {
        let mut out = vec![(0, 0); self.databases];
        for s in self.shards.iter() {
            let g = s.lock();
            for (i, t) in g.dbs.iter().enumerate() {
                out[i].0 += t.main.len();
                out[i].1 += t.expires.len();
            }
        }
        out
    }

    /// One round of active expiry over every shard, in the spirit of
    /// Redis's `activeExpireCycle`: per shard, sample keys with a TTL and
    /// delete the expired ones, going on while more than `stale_pct`
    /// percent of the samples were expired, until `budget` elapses.
    ///
    /// A shard is locked for at most [`EXPIRE_BATCH`] sampled keys at a
    /// time, so clients wait microseconds at worst. When a cycle runs out of
    /// time with stale keys left (a mass expiry), the following cycles get
    /// four times the budget until the backlog is gone, which is how a
    /// million keys expiring together are reclaimed in seconds.
    /// Returns the number of keys deleted.
    pub fn active_expire_cycle(&self, budget: std::time::Duration, effort: u32) -> u64 {
        let start = std::time::Instant::now();
        let effort = effort.clamp(1, 10) as usize;
        let per_loop = 20 + 5 * (effort - 1);
        let stale_pct = 10 - (effort - 1);
        let budget = if self.expire_backlog.load(Ordering::Relaxed) {
            budget * 4
        } else {
            budget
        };
        let mut deleted = 0;
        let mut out_of_time = false;
        // Start at a different shard each cycle so a short budget does not
        // always favour the first shards.
        let first = self.expire_shard_cursor.fetch_add(1, Ordering::Relaxed) as usize;
        'shards: for n in 0..SHARDS {
            let shard = &self.shards[(first + n) % SHARDS];
            loop {
                let mut g = shard.lock();
                let now = unix_ms();
                let mut stale = false;
                let mut batch = 0;
                while batch < EXPIRE_BATCH {
                    let (expired, sampled) = g.expire_some(now, per_loop, 16, self);
                    deleted += expired as u64;
                    batch += sampled.max(1);
                    stale = sampled > 0 && expired * 100 > sampled * stale_pct;
                    if !stale {
                        break;
                    }
                }
                drop(g);
                if !stale {
                    break;
                }
                if start.elapsed() >= budget {
                    out_of_time = true;
                    break 'shards;
                }
            }
            if start.elapsed() >= budget {
                out_of_time = true;
                break;
            }
        }
        self.expire_backlog.store(out_of_time, Ordering::Relaxed);
        deleted
    }

    /// Deletes everything in every database.
    pub fn flush_all(&self) {
        for s in self.shards.iter() {
            let mut g = s.lock();
            for i in 0..g.dbs.len() {
                g.take_table(i);
            }
        }
    }
}

impl Shard {
    /// Samples up to `per_db` keys with a TTL in each of up to `max_dbs`
    /// databases (resuming where the last call stopped) and deletes the
    /// expired ones. Returns (deleted, sampled).
    fn expire_some(
        &mut self,
        now: i64,
        per_db: usize,
        max_dbs: usize,
        ks: &Keyspace,
    ) -> (usize, usize) {
        let ndb = self.dbs.len();
        let mut expired = 0;
        let mut sampled = 0;
        let mut victims: Vec<Key> = Vec::new();
        for _ in 0..ndb.min(max_dbs) {
            let dbi = self.expire_db_cursor % ndb;
            let table = &mut self.dbs[dbi];
            if table.expires.is_empty() {
                self.expire_db_cursor = (dbi + 1) % ndb;
                self.expire_scan_cursor = 0;
                continue;
            }
            victims.clear();
            let mut cursor = self.expire_scan_cursor;
            let mut seen = 0;
            // Walk buckets from the cursor until enough keys were seen.
            loop {
                cursor = table.expires.scan(cursor, |k, &at| {
                    seen += 1;
                    if at <= now {
                        victims.push(k.clone());
                    }
                });
                if cursor == 0 || seen >= per_db {
                    break;
                }
            }
            sampled += seen;
            for k in &victims {
                let h = hash_bytes(k);
                Shard::preserve_in(self.snap.as_deref_mut(), dbi, h, k, table);
                table.remove_hashed(h, k);
                if ks.watches.active() {
                    ks.watches.touch(dbi, k);
                }
                ks.notifier.emit(notify::EXPIRED, dbi, "expired", k);
                if ks.feed.active() {
                    ks.feed.append(&vec![(dbi, del_command(k))], false);
                }
            }
            expired += victims.len();
            self.stats.expired_keys += victims.len() as u64;
            self.expire_scan_cursor = cursor;
            if cursor == 0 {
                self.expire_db_cursor = (dbi + 1) % ndb;
            }
        }
        (expired, sampled)
    }
}

enum Guards<'a> {
    None,
    One(usize, MutexGuard<'a, Shard>),
    Many(Vec<(usize, MutexGuard<'a, Shard>)>),
}

/// What a command sees: the selected database over the shards it locked.
/// Every access goes through here so lazy expiry, LRU stamps, hit/miss
/// counters and the dirty count are kept in one place.
pub struct Db<'a> {
    ks: &'a Keyspace,
    guards: Guards<'a>,
    /// The selected database.
    pub index: usize,
    /// Command time (ms), taken once per command on first use.
    now: i64,
    /// Number of changes made (Redis's `server.dirty` increment).
    pub dirty: u64,
    /// (address, length, hash) of the key the view was locked for, so the
    /// handler's lookup of that same argument does not hash it again.
    hint: (usize, usize, u64),
    /// Writes to hand to the feed when the view is released (while its
    /// shards are still locked): see [`Db::propagate_as`].
    pending: Pending,
    /// Set by [`Db::propagate_as`]: the running command chose its own
    /// propagated form.
    pub rewrote: bool,
    /// The pending commands form a transaction (EXEC).
    wrap: bool,
    /// The command comes from our primary (replica side): expired keys
    /// are still visible to it.
    pub from_master: bool,
}

impl Drop for Db<'_> {
    fn drop(&mut self) {
        // Fields (the shard guards) are dropped after this: the commands
        // reach the feed while their keys are still locked.
        if !self.pending.is_empty() {
            self.ks.feed.append(&self.pending, self.wrap);
        }
    }
}

/// `DEL key`, as propagated for a key that expired or was evicted.
pub(in crate::storage) fn del_command(key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(key.len() + 24);
    encode_command(&mut v, [&b"DEL"[..], key].into_iter());
    v
}

impl<'a> Db<'a> {
    fn new(ks: &'a Keyspace, guards: Guards<'a>, index: usize) -> Db<'a> {
        Db {
            ks,
            guards,
            index,
            now: 0,
            dirty: 0,
            hint: (0, 0, 0),
            pending: Vec::new(),
            rewrote: false,
            wrap: false,
            from_master: false,
        }
    }

    /// Hash of a key, reusing the one computed when locking if `key` is
    /// the very argument the view was locked for.
    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        if key.as_ptr() as usize == self.hint.0 && key.len() == self.hint.1 {
            self.hint.2
        } else {
            hash_bytes(key)
        }
    }

    pub fn keyspace(&self) -> &'a Keyspace {
        self.ks
    }

    /// The command's time in Unix ms (constant for the whole command).
    #[inline]
    pub fn now(&mut self) -> i64 {
        if self.now == 0 {
            self.now = unix_ms();
        }
        self.now
    }

    /// The locked shard holding `hash`. Panics if the command did not lock
    /// it (a bug in a command's key declaration, caught at dispatch).
    #[inline]
    fn shard(&mut self, hash: u64) -> &mut Shard {
        self.shard_at(shard_of(hash))
    }

    /// Locked shard number `s`. Panics if the command did not lock it.
    #[inline]
    pub fn shard_at(&mut self, s: usize) -> &mut Shard {
        match &mut self.guards {
            Guards::One(i, g) if *i == s => g,
            Guards::Many(v) => match v.iter_mut().find(|(i, _)| *i == s) {
                Some((_, g)) => g,
                None => panic!("shard {s} not locked"),
            },
            _ => panic!("shard {s} not locked"),
        }
    }

    /// Every locked shard (whole-keyspace commands).
    pub fn shards_mut(&mut self) -> impl Iterator<Item = &mut Shard> {
        let v: Vec<&mut Shard> = match &mut self.guards {
            Guards::None => Vec::new(),
            Guards::One(_, g) => vec![&mut **g],
            Guards::Many(v) => v.iter_mut().map(|(_, g)| &mut **g).collect(),
        };
        v.into_iter()
    }

    /// True when every shard is locked.
    pub fn has_all_shards(&self) -> bool {
        matches!(&self.guards, Guards::Many(v) if v.len() == SHARDS)
    }

    /// Deletes `key` in `db` if its TTL has passed; true if it did.
    #[inline]
    fn expire_if_needed(&mut self, db: usize, hash: u64, key: &[u8]) -> bool {
        let now = self.now();
        let due = {
            let t = &self.shard(hash).dbs[db];
            matches!(
                t.main.get_hashed(hash, key),
                Some(e) if e.has_expire() && t.expire_hashed(hash, key) <= now
            )
        };
        if !due {
            return false;
        }
        if self.ks.replica_mode.load(Ordering::Relaxed) {
            // Hidden from clients, left for the primary's DEL.
            return !self.from_master;
        }
        let shard = self.shard(hash);
        shard.preserve(db, hash, key);
        shard.dbs[db].remove_hashed(hash, key);
        shard.stats.expired_keys += 1;
        self.expired(db, key);
        true
    }

    /// Looks a key up for a command (lazy expiry, LRU stamp, hit/miss).
    #[inline]
    pub fn get(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.index;
        self.lookup(db, key, true, true)
    }

    /// [`Db::get`] in another database (MOVE, COPY … DB).
    #[inline]
    pub fn get_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.lookup(db, key, true, true)
    }

    /// Looks a key up counting a hit or miss but leaving its LRU stamp
    /// alone (Redis's `LOOKUP_NOTOUCH`: EXISTS, TYPE, TTL, OBJECT …).
    #[inline]
    pub fn get_notouch(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.index;
        self.lookup(db, key, false, true)
    }

    /// [`Db::get_notouch`] without the `keymiss` event (Redis's
    /// `LOOKUP_NONOTIFY`: OBJECT).
    #[inline]
    pub fn get_quiet(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.index;
        self.lookup_with(db, key, false, true, false)
    }

    /// Looks a key up for a command about to change it (Redis's
    /// `lookupKeyWrite`): lazy expiry and LRU stamp, no hit/miss counted.
    #[inline]
    pub fn get_for_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.index;
        self.lookup(db, key, true, false)
    }

    /// [`Db::get_for_write`] in another database.
    #[inline]
    pub fn get_for_write_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.lookup(db, key, true, false)
    }

    /// The lookup behind the `get*` methods: `touch` stamps the LRU clock,
    /// `stats` counts a keyspace hit or miss. One table lookup when the key
    /// has no TTL or has not expired.
    #[inline]
    fn lookup(&mut self, db: usize, key: &[u8], touch: bool, stats: bool) -> Option<&mut Entry> {
        // A read lookup that misses reports `keymiss`; a write lookup not.
        self.lookup_with(db, key, touch, stats, stats)
    }

    /// [`Db::lookup`] saying whether a miss reports `keymiss`.
    #[inline]
    fn lookup_with(
        &mut self,
        db: usize,
        key: &[u8],
        touch: bool,
        stats: bool,
        miss_event: bool,
    ) -> Option<&mut Entry> {
        let hash = self.hash(key);
        let ks = self.ks;
        let shard = self.shard(hash);
        let entry: *mut Entry = match shard.dbs[db].main.get_mut_hashed(hash, key) {
            None => {
                if stats {
                    shard.stats.keyspace_misses += 1;
                }
                if miss_event {
                    self.ks.notifier.emit(notify::KEY_MISS, db, "keymiss", key);
                }
                return None;
            }
            Some(e) => e,
        };
        // SAFETY: `entry` points into the locked shard's table, which is
        // not modified between here and the return below unless the key is
        // expired, in which case the pointer is not used again. (Reading
        // the `expires` table does not touch `main`.)
        let has_ttl = unsafe { (*entry).has_expire() };
        if has_ttl
            && self.shard(hash).dbs[db].expire_hashed(hash, key) <= self.now()
            && self.expire_if_needed(db, hash, key)
        {
            if stats {
                self.shard(hash).stats.keyspace_misses += 1;
            }
            if miss_event {
                self.ks.notifier.emit(notify::KEY_MISS, db, "keymiss", key);
            }
            return None;
        }
        let shard = self.shard(hash);
        if stats {
            shard.stats.keyspace_hits += 1;
        }
        // The caller may change the entry: a running snapshot takes its
        // value first (this only sets the entry's mark, it moves nothing).
        shard.preserve(db, hash, key);
        // SAFETY: as above; the table was not touched since.
        let e = unsafe { &mut *entry };
        if touch {
            e.lru = ks.touch_stamp(e.lru);
        }
        Some(e)
    }

    /// Looks a key up without touching LRU or hit counters (but still
    /// deleting it if expired): EXISTS-like checks, TYPE, TTL.
    pub fn peek(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let db = self.index;
        self.peek_in(db, key)
    }

    pub fn peek_in(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let hash = self.hash(key);
        // No key of this database has a TTL and no snapshot runs (the
        // common case): one probe.
        let simple = {
            let shard = self.shard(hash);
            shard.dbs[db].expires.is_empty() && shard.snap.is_none()
        };
        if simple {
            return self.shard(hash).dbs[db].main.get_mut_hashed(hash, key);
        }
        let has_ttl = self.shard(hash).dbs[db]
            .main
            .get_hashed(hash, key)?
            .has_expire();
        if has_ttl && self.expire_if_needed(db, hash, key) {
            return None;
        }
        let shard = self.shard(hash);
        shard.preserve(db, hash, key);
        shard.dbs[db].main.get_mut_hashed(hash, key)
    }

    /// Stores a value under `key`, replacing any old one. The TTL is
    /// cleared unless `keep_ttl`. Counts one change.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        let db = self.index;
        self.set_in(db, key, value, keep_ttl);
    }

    pub fn set_in(&mut self, db: usize, key: &[u8], value: Value, keep_ttl: bool) {
        let lru = self.ks.new_stamp();
        self.store(db, key, Entry::new(value, lru), NO_EXPIRE, keep_ttl);
    }

    /// Stores a whole entry (value and `raw` flag) with the absolute expiry
    /// `expire` (Unix ms, `NO_EXPIRE` for none) under `key` of the selected
    /// database, overwriting any old value in place as [`Db::set`] does
    /// (SET … EX).
    pub fn set_entry(&mut self, key: &[u8], entry: Entry, expire: i64) {
        let db = self.index;
        self.store(db, key, entry, expire, false);
    }

    /// The body of [`Db::set_in`] and [`Db::set_entry`]. An old value whose
    /// TTL has passed is first deleted as expired (Redis's write lookup), so
    /// the key counts as new.
    fn store(&mut self, db: usize, key: &[u8], fresh: Entry, expire: i64, keep_ttl: bool) {
        let hash = self.hash(key);
        let lru = fresh.lru;
        let ks = self.ks;
        // The clock is read only when an old TTL matters.
        let mut now = self.now;
        let shard = self.shard(hash);
        shard.preserve(db, hash, key);
        let mark = shard.new_mark();
        let t = &mut shard.dbs[db];
        let mut created = false;
        let mut expired = false;
        match t.main.get_mut_hashed(hash, key) {
            Some(e) => {
                let old_expire = if e.ttl {
                    t.expires
                        .get_hashed(hash, key)
                        .copied()
                        .unwrap_or(NO_EXPIRE)
                } else {
                    NO_EXPIRE
                };
                if old_expire != NO_EXPIRE && now == 0 {
                    now = unix_ms();
                }
                expired = old_expire <= now;
                let keep = keep_ttl && !expired;
                e.value = fresh.value;
                e.raw = fresh.raw;
                // Under LFU an overwritten key keeps (and bumps) its
                // counter, as Redis's dbSetValue keeps the old `lru`.
                e.lru = if ks.lfu_mode() {
                    ks.touch_stamp(e.lru)
                } else {
                    lru
                };
                if !keep {
                    e.ttl = expire != NO_EXPIRE;
                    match (old_expire != NO_EXPIRE, expire != NO_EXPIRE) {
                        (true, false) => {
                            t.expires.remove_hashed(hash, key);
                        }
                        (true, true) => {
                            if let Some(v) = t.expires.get_mut_hashed(hash, key) {
                                *v = expire;
                            }
                        }
                        (false, true) => {
                            t.expires.insert_new_hashed(hash, Key::new(key), expire);
                        }
                        (false, false) => {}
                    }
                }
                if expired {
                    shard.stats.expired_keys += 1;
                }
            }
            None => {
                let mut fresh = fresh;
                fresh.ttl = expire != NO_EXPIRE;
                if let Some(m) = mark {
                    fresh.snap = m;
                }
                t.main.insert_new_hashed(hash, Key::new(key), fresh);
                if expire != NO_EXPIRE {
                    t.expires.insert_new_hashed(hash, Key::new(key), expire);
                }
                created = true;
            }
        }
        self.now = now;
        if expired {
            self.expired(db, key);
        }
        if created || expired {
            self.ks.notifier.emit(notify::NEW, db, "new", key);
        }
        self.dirty += 1;
        self.signal(db, key);
    }

    /// What follows the removal of a key whose TTL had passed (counted by
    /// the caller in `expired_keys`): WATCHers are told, the `expired`
    /// event is reported and a `DEL` is propagated.
    fn expired(&mut self, db: usize, key: &[u8]) {
        self.signal(db, key);
        self.ks.notifier.emit(notify::EXPIRED, db, "expired", key);
        if self.ks.feed.active() {
            self.pending.push((db, del_command(key)));
        }
    }

    /// Tells WATCHers of `key` in `db` that it changed, and marks the key
    /// ready for clients blocked on it (free when nobody watches or waits).
    #[inline]
    fn signal(&mut self, db: usize, key: &[u8]) {
        if self.ks.watches.active() {
            self.ks.watches.touch(db, key);
        }
        if self.ks.blocked.load(Ordering::Relaxed) != 0 {
            let s = shard_of(self.hash(key));
            if self.holds_shard(s) {
                self.shard_at(s).blocked.mark_ready(db, key);
            }
        }
    }

    /// True when shard `s` is locked by this view.
    pub fn holds_shard(&self, s: usize) -> bool {
        match &self.guards {
            Guards::None => false,
            Guards::One(i, _) => *i == s,
            Guards::Many(v) => v.iter().any(|(i, _)| *i == s),
        }
    }

    /// True when the shard of `key` is locked by this view.
    pub fn holds(&self, key: &[u8]) -> bool {
        self.holds_shard(shard_of(self.hash(key)))
    }

    /// Queues `w` as waiting on `key` in the current database.
    pub fn block_on(&mut self, key: &[u8], w: Arc<Waiter>) {
        let db = self.index;
        let hash = self.hash(key);
        self.shard(hash).blocked.add(db, key, w);
        self.ks.blocked.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes `w` from the queue of `key` in `db` (no-op if absent).
    pub fn unblock_from(&mut self, db: usize, key: &[u8], w: &Arc<Waiter>) {
        let hash = self.hash(key);
        if self.shard(hash).blocked.remove(db, key, w) {
            self.ks.blocked.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The `i`-th waiter in the queue of `key` in `db`.
    pub fn waiter_at(&mut self, db: usize, key: &[u8], i: usize) -> Option<Arc<Waiter>> {
        let hash = self.hash(key);
        let q = self.shard(hash).blocked.queues.get(&(db, key.to_vec()))?;
        q.get(i).cloned()
    }

    /// Marks `key` in the current database ready for its waiters.
    pub fn mark_ready(&mut self, key: &[u8]) {
        let db = self.index;
        let hash = self.hash(key);
        self.shard(hash).blocked.mark_ready(db, key);
    }

    /// Serves clients blocked on the keys written by this command (see
    /// `storage::blocking`); called by the dispatcher before it unlocks.
    /// Serving writes (pops) may make more keys ready (BLMOVE into a key
    /// others wait on): loops until none is left.
    pub fn serve_ready(&mut self) {
        if self.ks.blocked.load(Ordering::Relaxed) == 0 {
            // The per-command path: no iterator (and no allocation).
            match &mut self.guards {
                Guards::None => {}
                Guards::One(_, g) => g.blocked.ready.clear(),
                Guards::Many(v) => v.iter_mut().for_each(|(_, g)| g.blocked.ready.clear()),
            }
            return;
        }
        loop {
            let mut ready = Vec::new();
            for s in self.shards_mut() {
                ready.append(&mut s.blocked.ready);
            }
            if ready.is_empty() {
                return;
            }
            for (dbi, key) in ready {
                super::blocking::serve_key(self, dbi, &key);
            }
        }
    }

    /// Registrations of blocked clients over the whole keyspace.
    pub fn blocked_registrations(&self) -> usize {
        self.ks.blocked.load(Ordering::Relaxed)
    }

    /// The entry of `key` in `db` as stored, expired or not, without any
    /// side effect.
    pub fn raw_entry_in(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        let hash = self.hash(key);
        self.shard(hash).dbs[db].main.get_hashed(hash, key)
    }

    /// Inserts a whole entry under `key` with the absolute expiry `expire`
    /// (Unix ms, [`NO_EXPIRE`] for none), replacing any old one and its TTL
    /// (RENAME, MOVE, COPY, RESTORE, SET … EX).
    pub fn insert_entry_in(&mut self, db: usize, key: &[u8], mut entry: Entry, expire: i64) {
        let hash = self.hash(key);
        let now = self.now();
        let shard = self.shard(hash);
        shard.preserve(db, hash, key);
        if let Some(m) = shard.new_mark() {
            entry.snap = m;
        }
        let t = &mut shard.dbs[db];
        entry.ttl = expire != NO_EXPIRE;
        let mut expired = false;
        // Only keys in `main` with a TTL are in `expires`.
        let old_expire = t.expires.get_hashed(hash, key).copied();
        if let Some(old) = t.main.insert_hashed(hash, Key::new(key), entry)
            && old.has_expire()
        {
            if expire == NO_EXPIRE {
                t.expires.remove_hashed(hash, key);
            }
            if old_expire.is_some_and(|at| at <= now) {
                shard.stats.expired_keys += 1;
                expired = true;
            }
        }
        if expire != NO_EXPIRE {
            t.expires.insert_hashed(hash, Key::new(key), expire);
        }
        if expired {
            // Redis's write lookup of the destination deletes it first.
            self.expired(db, key);
        }
        self.dirty += 1;
        self.signal(db, key);
        // Redis deletes the old key first and adds a new one.
        self.ks.notifier.emit(notify::NEW, db, "new", key);
    }

    /// Bulk load (RDB, AOF preamble): adds a key that must not exist yet,
    /// hashing it once; no notification, no dirty count (as Redis's
    /// loader). Returns false, changing nothing, when the key exists.
    pub fn load_entry_in(&mut self, db: usize, key: &[u8], mut entry: Entry, expire: i64) -> bool {
        let hash = hash_bytes(key);
        let shard = self.shard(hash);
        if let Some(m) = shard.new_mark() {
            // Not in a running snapshot's cut.
            entry.snap = m;
        }
        let t = &mut shard.dbs[db];
        if t.main.contains_key_hashed(hash, key) {
            return false;
        }
        entry.ttl = expire != NO_EXPIRE;
        t.main.insert_new_hashed(hash, Key::new(key), entry);
        if expire != NO_EXPIRE {
            t.expires.insert_new_hashed(hash, Key::new(key), expire);
        }
        self.signal(db, key);
        true
    }

    /// Bulk load: makes room in database `db` of every locked shard for
    /// about `keys` keys (`expires` of them with a TTL) spread evenly, so
    /// the tables do not grow and rehash while loading (the RDB's
    /// RESIZEDB hint).
    pub fn reserve_in(&mut self, db: usize, keys: u64, expires: u64) {
        let per = |n: u64| (n as usize / SHARDS) + (n as usize / SHARDS) / 8 + 1;
        let (k, e) = (per(keys.min(1 << 32)), per(expires.min(1 << 32)));
        for shard in self.shards_mut() {
            shard.dbs[db].main.reserve(k);
            if expires > 0 {
                shard.dbs[db].expires.reserve(e);
            }
        }
    }

    /// Deletes a key; returns its entry if it existed (and was not expired).
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let db = self.index;
        self.remove_in(db, key)
    }

    pub fn remove_in(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.take_in(db, key).map(|(e, _)| e)
    }

    /// [`Db::remove_in`] that also returns the key's expiry (Unix ms,
    /// [`NO_EXPIRE`] when none), for moving a key with its TTL (RENAME,
    /// MOVE): give both to [`Db::insert_entry_in`].
    pub fn take_in(&mut self, db: usize, key: &[u8]) -> Option<(Entry, i64)> {
        let hash = self.hash(key);
        let now = self.now();
        let shard = self.shard(hash);
        shard.preserve(db, hash, key);
        let (e, at) = shard.dbs[db].take_hashed(hash, key)?;
        if at <= now {
            shard.stats.expired_keys += 1;
            self.expired(db, key);
            return None;
        }
        self.dirty += 1;
        self.signal(db, key);
        Some((e, at))
    }

    /// Expiry (absolute Unix ms) of `key` in the selected database, `None`
    /// when it has no TTL or does not exist. No lazy expiry, no statistics:
    /// call it after one of the `get*` lookups.
    #[inline]
    pub fn expire_of(&mut self, key: &[u8]) -> Option<i64> {
        let db = self.index;
        self.expire_in(db, key)
    }

    /// [`Db::expire_of`] in database `db`.
    #[inline]
    pub fn expire_in(&mut self, db: usize, key: &[u8]) -> Option<i64> {
        let hash = self.hash(key);
        self.shard(hash).dbs[db]
            .expires
            .get_hashed(hash, key)
            .copied()
    }

    /// Deletes a key of the selected database even if its TTL has passed,
    /// as Redis's plain `dbDelete` does for the destination of a store
    /// command whose result is empty; true if it was in the table (so the
    /// caller reports `del`).
    pub fn remove_stored(&mut self, key: &[u8]) -> bool {
        let db = self.index;
        let hash = self.hash(key);
        let shard = self.shard(hash);
        shard.preserve(db, hash, key);
        if shard.dbs[db].remove_hashed(hash, key).is_none() {
            return false;
        }
        self.dirty += 1;
        self.signal(db, key);
        true
    }

    /// Sets the absolute expiry (ms) of an existing key. The caller has
    /// checked the key exists and the time is in the future.
    pub fn set_expire(&mut self, key: &[u8], at: i64) {
        let db = self.index;
        let hash = self.hash(key);
        let shard = self.shard(hash);
        shard.preserve(db, hash, key);
        let t = &mut shard.dbs[db];
        if let Some(e) = t.main.get_mut_hashed(hash, key) {
            e.ttl = at != NO_EXPIRE;
            match t.expires.get_mut_hashed(hash, key) {
                // The farthest time is the "no TTL" mark itself: keep the
                // expires table in step with the entry.
                Some(_) if at == NO_EXPIRE => {
                    t.expires.remove_hashed(hash, key);
                }
                Some(v) => *v = at,
                None if at == NO_EXPIRE => {}
                None => t.expires.insert_new_hashed(hash, Key::new(key), at),
            }
            self.dirty += 1;
            self.signal(db, key);
        }
    }

    /// Removes the TTL of a key; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let db = self.index;
        let hash = self.hash(key);
        let shard = self.shard(hash);
        shard.preserve(db, hash, key);
        let t = &mut shard.dbs[db];
        match t.main.get_mut_hashed(hash, key) {
            Some(e) if e.has_expire() => {
                e.ttl = false;
                t.expires.remove_hashed(hash, key);
                self.dirty += 1;
                self.signal(db, key);
                true
            }
            _ => false,
        }
    }

    /// Table of database `db` in the shard of `hash` (low-level access for
    /// whole-keyspace commands; the caller handles expiry).
    pub fn table_in(&mut self, db: usize, hash: u64) -> &mut DbTable {
        &mut self.shard(hash).dbs[db]
    }

    /// Deletes `key` from database `db` if its TTL has passed (counted as
    /// an expired key); true if it did. For commands that walk tables
    /// directly (SCAN, RANDOMKEY).
    pub fn expire_if_due(&mut self, db: usize, key: &[u8]) -> bool {
        let hash = hash_bytes(key);
        self.expire_if_needed(db, hash, key)
    }

    /// Number of keys in database `db` over the locked shards, counting
    /// expired keys not reclaimed yet (as Redis's DBSIZE).
    pub fn len_in(&mut self, db: usize) -> usize {
        self.shards_mut().map(|s| s.dbs[db].main.len()).sum()
    }

    /// Empties database `db`, or every database when `None`, over the
    /// locked shards (all of them for FLUSHDB/FLUSHALL). Returns the number
    /// of keys removed and the old tables, so the caller decides where they
    /// are freed (after the locks are released, or on another thread).
    pub fn flush(&mut self, db: Option<usize>) -> (u64, Vec<DbTable>) {
        let dbs: Vec<usize> = match db {
            Some(d) => vec![d],
            None => (0..self.ks.databases).collect(),
        };
        self.signal_existing(&dbs, false);
        let mut removed = 0u64;
        let mut old = Vec::new();
        for shard in self.shards_mut() {
            // Waiters that must hear of a deletion (XREADGROUP) look again.
            shard.blocked.mark_all_ready(&dbs);
            let range = match db {
                Some(d) => d..d + 1,
                None => 0..shard.dbs.len(),
            };
            for i in range {
                let t = &shard.dbs[i];
                if t.main.is_empty() && t.expires.is_empty() {
                    continue;
                }
                removed += t.main.len() as u64;
                // A running snapshot keeps the tables it still needs.
                old.extend(shard.take_table(i));
            }
            // The active-expiry cursor may point into a dropped table.
            shard.expire_scan_cursor = 0;
        }
        (removed, old)
    }

    /// Exchanges databases `a` and `b` in every locked shard (SWAPDB, with
    /// all shards locked).
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.signal_existing(&[a, b], true);
        for shard in self.shards_mut() {
            shard.blocked.mark_all_ready(&[a, b]);
            shard.dbs.swap(a, b);
            shard.swap_snapshot_dbs(a, b);
            shard.expire_scan_cursor = 0;
        }
    }

    /// One SCAN call over database `db` (every shard must be locked).
    /// The cursor packs the shard number in its low [`SHARD_BITS`] bits and
    /// the shard dict's reverse-binary cursor above them: shards are walked
    /// one after the other, each with the dict's guarantee (every key
    /// present for the whole scan is returned, even across resizes). Pushes
    /// keys (expired ones included: the caller filters) until at least
    /// `count` were found or `10 * count` buckets were visited; returns the
    /// next cursor, 0 when done.
    pub fn scan(&mut self, db: usize, cursor: u64, count: usize, out: &mut Vec<Key>) -> u64 {
        let mut shard = (cursor & (SHARDS as u64 - 1)) as usize;
        let mut inner = cursor >> SHARD_BITS;
        let mut steps = count.max(1).saturating_mul(10);
        let start = out.len();
        loop {
            let table = &self.shard_at(shard).dbs[db].main;
            if table.is_empty() {
                inner = 0;
            } else {
                inner = table.scan(inner, |k, _| out.push(k.clone()));
            }
            if inner == 0 {
                shard += 1;
                if shard == SHARDS {
                    return 0;
                }
            }
            steps -= 1;
            if out.len() - start >= count || steps == 0 {
                return (inner << SHARD_BITS) | shard as u64;
            }
        }
    }

    /// A random live key of database `db` (every shard must be locked);
    /// expired keys met on the way are deleted, as Redis's RANDOMKEY does.
    pub fn random_key(&mut self, db: usize) -> Option<Key> {
        let mut rng = rand::rng();
        let mut tries = 0;
        loop {
            tries += 1;
            let sizes: Vec<(usize, usize)> = (0..SHARDS)
                .map(|s| (s, self.shard_at(s).dbs[db].main.len()))
                .collect();
            let total: usize = sizes.iter().map(|&(_, n)| n).sum();
            if total == 0 {
                return None;
            }
            let mut pick = rand::RngExt::random_range(&mut rng, 0..total);
            let s = sizes
                .iter()
                .find(|&&(_, n)| {
                    if pick < n {
                        true
                    } else {
                        pick -= n;
                        false
                    }
                })
                .map(|&(s, _)| s)?;
            let (key, expired) = {
                let now = self.now();
                let t = &self.shard_at(s).dbs[db];
                let (k, e) = t.main.random_entry(&mut rng)?;
                let due = t.expire_of(k.as_slice(), e).is_some_and(|at| at <= now);
                (k.clone(), due)
            };
            // A replica does not delete expired keys: after 100 expired
            // ones it answers one anyway, as Redis does.
            if !expired || (tries >= 100 && self.ks.replica_mode()) {
                return Some(key);
            }
            self.expire_if_due(db, &key);
        }
    }

    /// Marks that a key was changed in a way not covered by the helpers
    /// above (in-place mutation through `get`): counts one change. Later
    /// issues hook WATCH and keyspace notifications here.
    #[inline]
    pub fn touched(&mut self, key: &[u8]) {
        self.dirty += 1;
        let db = self.index;
        self.signal(db, key);
    }

    /// Propagates `args` (in the selected database) instead of the running
    /// command, for AOF and replicas: handlers call it on their write path
    /// to give a deterministic form (`EXPIRE` → `PEXPIREAT`, `SPOP` →
    /// `SREM` …); several calls propagate several commands. Free while no
    /// consumer is attached.
    pub fn propagate_as(&mut self, args: &[&[u8]]) {
        self.rewrote = true;
        if self.ks.feed.active() {
            let mut v = Vec::new();
            encode_command(&mut v, args.iter().copied());
            self.pending.push((self.index, v));
        }
    }

    /// Propagates the command a dispatcher ran, as given (no rewrite).
    pub fn propagate_verbatim<'x>(&mut self, args: impl ExactSizeIterator<Item = &'x [u8]>) {
        let mut v = Vec::new();
        encode_command(&mut v, args);
        self.pending.push((self.index, v));
    }

    /// Number of commands waiting to be propagated (see
    /// [`Db::truncate_pending`]).
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Drops the commands propagated after the first `n` (a script's
    /// `redis.set_repl(redis.REPL_NONE)`).
    pub fn truncate_pending(&mut self, n: usize) {
        self.pending.truncate(n);
    }

    /// Marks the pending commands as one transaction (EXEC): more than one
    /// is wrapped in `MULTI`/`EXEC`.
    pub fn wrap_in_multi(&mut self) {
        self.wrap = true;
    }

    /// Reports a keyspace event on `key` of the selected database.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.ks.notifier.emit(class, self.index, event, key);
    }

    /// [`Db::notify`] for a key of another database.
    #[inline]
    pub fn notify_in(&self, db: usize, class: u32, event: &str, key: &[u8]) {
        self.ks.notifier.emit(class, db, event, key);
    }

    /// [`Db::touched`] for a key of another database.
    pub fn touched_in(&mut self, db: usize, key: &[u8]) {
        self.dirty += 1;
        self.signal(db, key);
    }

    /// Signals WATCHers of the watched keys of `dbs` that hold a value now,
    /// before FLUSHDB/FLUSHALL/SWAPDB change them (every shard must be
    /// locked). With `across`, a key counts if it exists in any of `dbs`
    /// (SWAPDB: the key's value is replaced by the other database's).
    fn signal_existing(&mut self, dbs: &[usize], across: bool) {
        if !self.ks.watches.active() {
            return;
        }
        let ks = self.ks;
        ks.watches.touch_existing(None, |d, key| {
            if !dbs.contains(&d) {
                return false;
            }
            let hash = hash_bytes(key);
            let shard = self.shard(hash);
            if across {
                dbs.iter()
                    .any(|&db| shard.dbs[db].main.contains_key_hashed(hash, key))
            } else {
                shard.dbs[d].main.contains_key_hashed(hash, key)
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::value::string_value;
    use std::collections::HashSet;
    use std::time::Duration;

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    /// Inserts `n` keys named by `name` into `db`, with an absolute expiry
    /// when `at` is given.
    fn fill(ks: &Keyspace, db: usize, n: usize, name: impl Fn(usize) -> Vec<u8>, at: Option<i64>) {
        let mut v = ks.view_all(db);
        for i in 0..n {
            let k = name(i);
            v.set(&k, string_value(b"v"), false);
            if let Some(at) = at {
                v.set_expire(&k, at);
            }
        }
    }

    /// Runs a full SCAN of `db`, calling `between` after each call.
    fn full_scan(
        ks: &Keyspace,
        db: usize,
        count: usize,
        mut between: impl FnMut(),
    ) -> HashSet<Vec<u8>> {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            let mut out = Vec::new();
            cursor = ks.view_all(db).scan(db, cursor, count, &mut out);
            seen.extend(out.iter().map(|k| k.as_slice().to_vec()));
            if cursor == 0 {
                return seen;
            }
            between();
        }
    }

    #[test]
    fn scan_covers_every_shard_and_keys_present_throughout() {
        let ks = Keyspace::new(2);
        fill(&ks, 0, 5000, key, None);
        let mut added = 0;
        // Grow the tables a lot while the scan runs.
        let seen = full_scan(&ks, 0, 20, || {
            let mut v = ks.view_all(0);
            for _ in 0..100 {
                if added < 20_000 {
                    v.set(format!("new:{added}").as_bytes(), string_value(b"x"), false);
                    added += 1;
                }
            }
        });
        assert!(added >= 10_000, "the scan should have taken many calls");
        for i in 0..5000 {
            assert!(seen.contains(&key(i)), "key {i} missed");
        }
        // Shrinking: delete most keys during the scan, keep every 10th.
        let ks = Keyspace::new(1);
        fill(&ks, 0, 20_000, key, None);
        let mut next = 0;
        let seen = full_scan(&ks, 0, 50, || {
            let mut v = ks.view_all(0);
            for _ in 0..500 {
                if next < 20_000 {
                    if next % 10 != 0 {
                        v.remove(&key(next));
                    }
                    next += 1;
                }
            }
        });
        for i in (0..20_000).step_by(10) {
            assert!(seen.contains(&key(i)), "kept key {i} missed");
        }
    }

    #[test]
    fn scan_on_empty_db_and_out_of_range_cursor() {
        let ks = Keyspace::new(2);
        fill(&ks, 1, 10, key, None);
        let mut out = Vec::new();
        assert_eq!(ks.view_all(0).scan(0, 0, 10, &mut out), 0);
        assert!(out.is_empty());
        // Any cursor value is accepted and eventually ends.
        let mut cursor = u64::MAX;
        for _ in 0..10_000 {
            cursor = ks.view_all(1).scan(1, cursor, 10, &mut out);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(cursor, 0);
    }

    #[test]
    fn lazy_and_active_expiry_count_expired_keys() {
        let ks = Keyspace::new(16);
        let past = unix_ms() - 1;
        fill(&ks, 0, 100, key, Some(unix_ms() + 60_000));
        {
            let mut v = ks.view_all(0);
            for i in 0..10 {
                // Force a past expiry directly (commands would delete).
                let k = key(i);
                v.set_expire(&k, past);
            }
            assert_eq!(v.len_in(0), 100, "DBSIZE counts unreclaimed keys");
            assert!(v.get(&key(0)).is_none());
            assert!(v.peek(&key(1)).is_none());
            assert!(v.get(&key(50)).is_some());
        }
        assert_eq!(ks.stats().expired_keys, 2);
        let mut total = 0;
        for _ in 0..100 {
            total += ks.active_expire_cycle(Duration::from_millis(25), 1);
        }
        assert_eq!(total, 8);
        assert_eq!(ks.stats().expired_keys, 10);
        assert_eq!(ks.db_sizes()[0], (90, 90));
    }

    #[test]
    fn active_expiry_reclaims_a_mass_expiry_in_several_dbs() {
        let ks = Keyspace::new(4);
        let at = unix_ms() + 50;
        fill(&ks, 0, 30_000, key, Some(at));
        fill(&ks, 3, 30_000, key, Some(at));
        fill(&ks, 3, 1_000, |i| format!("live:{i}").into_bytes(), None);
        fill(
            &ks,
            2,
            1_000,
            |i| format!("later:{i}").into_bytes(),
            Some(at + 3_600_000),
        );
        std::thread::sleep(Duration::from_millis(60));
        let start = std::time::Instant::now();
        let mut deleted = 0;
        while deleted < 60_000 && start.elapsed() < Duration::from_secs(20) {
            deleted += ks.active_expire_cycle(Duration::from_millis(25), 1);
        }
        assert_eq!(deleted, 60_000);
        let sizes = ks.db_sizes();
        assert_eq!(sizes, vec![(0, 0), (0, 0), (1000, 1000), (1000, 0)]);
        assert_eq!(ks.stats().expired_keys, 60_000);
    }

    #[test]
    fn flush_swap_and_random_key() {
        let ks = Keyspace::new(3);
        fill(&ks, 0, 100, key, None);
        fill(&ks, 1, 50, key, Some(unix_ms() + 60_000));
        {
            let mut v = ks.view_all(0);
            v.swap_dbs(0, 2);
            assert_eq!(v.len_in(0), 0);
            assert_eq!(v.len_in(2), 100);
            assert!(v.random_key(0).is_none());
            let k = v.random_key(2).unwrap();
            assert!(k.as_slice().starts_with(b"key:"));
            let (removed, old) = v.flush(Some(2));
            assert_eq!(removed, 100);
            assert!(!old.is_empty());
            assert_eq!(v.len_in(2), 0);
            assert_eq!(v.len_in(1), 50);
        }
        assert_eq!(ks.db_sizes(), vec![(0, 0), (50, 50), (0, 0)]);
        let (removed, _) = ks.view_all(0).flush(None);
        assert_eq!(removed, 50);
        assert_eq!(ks.db_sizes(), vec![(0, 0); 3]);
    }

    #[test]
    fn random_key_skips_and_deletes_expired_keys() {
        let ks = Keyspace::new(1);
        fill(&ks, 0, 200, key, None);
        {
            let mut v = ks.view_all(0);
            // Well in the past: the view's clock is read once, maybe
            // before this loop.
            for i in 1..200 {
                v.set_expire(&key(i), unix_ms() - 10_000);
            }
            assert_eq!(v.random_key(0).unwrap().as_slice(), b"key:0");
        }
        assert!(ks.stats().expired_keys >= 1);
    }

    #[test]
    fn lookups_count_hits_and_misses_as_redis() {
        let ks = Keyspace::new(1);
        fill(&ks, 0, 1, key, None);
        let mut v = ks.view_all(0);
        ks.set_lru_clock(100);
        assert!(v.get_notouch(&key(0)).is_some_and(|e| e.lru == 0));
        assert!(v.get_for_write(b"nokey").is_none());
        assert!(v.get_for_write(&key(0)).is_some_and(|e| e.lru == 100));
        assert!(v.get(b"nokey").is_none());
        drop(v);
        let st = ks.stats();
        assert_eq!((st.keyspace_hits, st.keyspace_misses), (1, 1));
    }

    /// One step of the TTL model test.
    #[derive(Debug, Clone)]
    enum TtlOp {
        Set(u8, bool),
        Expire(u8, u32),
        Persist(u8),
        Rename(u8, u8),
        Copy(u8, u8),
        Remove(u8),
        InsertPlain(u8),
    }

    fn ttl_op() -> impl proptest::strategy::Strategy<Value = TtlOp> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..6, any::<bool>()).prop_map(|(k, keep)| TtlOp::Set(k, keep)),
            (0u8..6, 1u32..1000).prop_map(|(k, t)| TtlOp::Expire(k, t)),
            (0u8..6).prop_map(TtlOp::Persist),
            (0u8..6, 0u8..6).prop_map(|(a, b)| TtlOp::Rename(a, b)),
            (0u8..6, 0u8..6).prop_map(|(a, b)| TtlOp::Copy(a, b)),
            (0u8..6).prop_map(TtlOp::Remove),
            (0u8..6).prop_map(TtlOp::InsertPlain),
        ]
    }

    proptest::proptest! {
        /// The expiry lives only in `expires` and the entry's flag: after
        /// any sequence of writes, flag, table and model agree.
        #[test]
        fn ttl_flag_and_expires_table_match_a_model(
            ops in proptest::collection::vec(ttl_op(), 0..120)
        ) {
            use std::collections::HashMap;
            let ks = Keyspace::new(1);
            let mut v = ks.view_all(0);
            let base = unix_ms() + 3_600_000;
            // key -> (value, expiry)
            let mut model: HashMap<u8, (i64, Option<i64>)> = HashMap::new();
            let name = |k: u8| vec![b'k', k];
            for (n, op) in ops.into_iter().enumerate() {
                let val = n as i64;
                match op {
                    TtlOp::Set(k, keep) => {
                        v.set(&name(k), Value::Int(val), keep);
                        let ttl = model.get(&k).and_then(|m| m.1).filter(|_| keep);
                        model.insert(k, (val, ttl));
                    }
                    TtlOp::Expire(k, t) => {
                        if let Some(m) = model.get_mut(&k) {
                            v.set_expire(&name(k), base + t as i64);
                            m.1 = Some(base + t as i64);
                        }
                    }
                    TtlOp::Persist(k) => {
                        let had = model.get(&k).is_some_and(|m| m.1.is_some());
                        proptest::prop_assert_eq!(v.persist(&name(k)), had);
                        if let Some(m) = model.get_mut(&k) {
                            m.1 = None;
                        }
                    }
                    TtlOp::Rename(a, b) => {
                        let got = v.take_in(0, &name(a));
                        proptest::prop_assert_eq!(got.is_some(), model.contains_key(&a));
                        if let Some((e, at)) = got {
                            let m = model.remove(&a).unwrap();
                            proptest::prop_assert_eq!(at, m.1.unwrap_or(NO_EXPIRE));
                            v.insert_entry_in(0, &name(b), e, at);
                            model.insert(b, m);
                        }
                    }
                    TtlOp::Copy(a, b) => {
                        let copied = v.get(&name(a)).map(|e| Entry::new(e.value.clone(), 0));
                        if let Some(e) = copied {
                            let at = v.expire_of(&name(a));
                            v.insert_entry_in(0, &name(b), e, at.unwrap_or(NO_EXPIRE));
                            let m = model[&a];
                            model.insert(b, m);
                        }
                    }
                    TtlOp::Remove(k) => {
                        proptest::prop_assert_eq!(
                            v.remove(&name(k)).is_some(),
                            model.remove(&k).is_some()
                        );
                    }
                    TtlOp::InsertPlain(k) => {
                        v.insert_entry_in(0, &name(k), Entry::new(Value::Int(val), 0), NO_EXPIRE);
                        model.insert(k, (val, None));
                    }
                }
                let with_ttl = model.values().filter(|m| m.1.is_some()).count();
                proptest::prop_assert_eq!(v.len_in(0), model.len());
                let expires: usize = v.shards_mut().map(|s| s.dbs[0].expires.len()).sum();
                proptest::prop_assert_eq!(expires, with_ttl);
                for k in 0u8..6 {
                    let want = model.get(&k).copied();
                    let flag = v.peek(&name(k)).map(|e| {
                        let Value::Int(x) = e.value else { unreachable!() };
                        (x, e.has_expire())
                    });
                    proptest::prop_assert_eq!(flag, want.map(|m| (m.0, m.1.is_some())));
                    proptest::prop_assert_eq!(v.expire_of(&name(k)), want.and_then(|m| m.1));
                }
            }
        }
    }

    #[test]
    fn keep_ttl_of_an_expired_key_drops_the_ttl() {
        let ks = Keyspace::new(1);
        fill(&ks, 0, 1, key, None);
        let mut v = ks.view_all(0);
        v.set_expire(&key(0), unix_ms() - 1);
        // Overwritten before lazy expiry saw it: SET … KEEPTTL of a dead
        // key must not keep the passed TTL.
        v.set(&key(0), string_value(b"new"), true);
        assert!(!v.peek(&key(0)).unwrap().has_expire());
        assert_eq!(v.expire_of(&key(0)), None);
        drop(v);
        assert_eq!(ks.db_sizes()[0], (1, 0));
    }
}

#[cfg(test)]
mod lookup_bench {
    use super::*;
    use crate::storage::value::string_value;

    /// Microbenchmark of the GET path (view + lookup) on 100k keys of two
    /// lengths; run with `cargo test --release --lib lookup_bench --
    /// --ignored --nocapture`. Compares layouts, asserts nothing.
    #[test]
    #[ignore]
    fn lookup_bench() {
        for (label, fmt) in [
            ("10-byte keys", 0),
            ("16-byte keys", 1),
            ("22-byte keys", 2),
        ] {
            let ks = Keyspace::new(1);
            let name = |i: usize| match fmt {
                0 => format!("key:{i:06}").into_bytes(),
                1 => format!("key:{i:012}").into_bytes(),
                _ => format!("user:{i:012}:name").into_bytes(),
            };
            let keys: Vec<Vec<u8>> = (0..100_000).map(name).collect();
            let t = std::time::Instant::now();
            for k in &keys {
                ks.view_one(0, k).set(k, string_value(b"xxx"), false);
            }
            let set = t.elapsed() / keys.len() as u32;
            let mut order: Vec<usize> = (0..keys.len()).collect();
            let mut x: u64 = 88172645463325252;
            for i in (1..order.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut best = std::time::Duration::MAX;
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let mut hits = 0;
                for &i in &order {
                    if ks.view_one(0, &keys[i]).get(&keys[i]).is_some() {
                        hits += 1;
                    }
                }
                assert_eq!(hits, keys.len());
                best = best.min(t.elapsed() / keys.len() as u32);
            }
            println!("{label}: SET {set:?}/op, GET best {best:?}/op");
        }
    }
}
