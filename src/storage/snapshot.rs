//! Point-in-time snapshots of the keyspace without fork and without a copy
//! of the dataset: copy-on-serialise, one key at a time.
//!
//! Starting a snapshot ([`Db::begin_snapshot`], every shard locked — the
//! cut) gives it a fresh epoch and installs a [`ShardSnap`] in every shard.
//! Then a [`Walker`] (the saver's side) visits each shard's tables in small
//! batches with the dict's SCAN cursor, locking the shard only for one
//! batch: clients run in between. Every entry carries the epoch in which it
//! was last serialised (`Entry::snap`, in the entry's padding):
//!
//! - the walker encodes an entry whose mark is not the snapshot's epoch and
//!   marks it;
//! - before anything reaches an entry that could change it — every lookup
//!   handing out `&mut Entry`, set/insert/remove/expire/persist, lazy and
//!   active expiry — `Shard::preserve` does the same first, so the value
//!   written is the value at the cut (nothing changed it before), into the
//!   shard's pre-image buffer, which the walker drains;
//! - entries created after the cut are marked at once and never written.
//!
//! The SCAN cursor visits every entry present for the whole walk even when
//! the table resizes between batches, the marks make each key appear once,
//! and a key changed or deleted before its visit was written at that moment:
//! the output is exactly the dataset at the cut. Memory beyond the dataset
//! is the encoded bytes not yet handed to the sink, never a copy of values.
//!
//! FLUSHDB/FLUSHALL during a snapshot hand the old tables to the walker
//! (`orphans`), which encodes their unmarked entries without any lock and
//! frees them; SWAPDB swaps the shard's map from table to database at the
//! cut, so records keep the database they had at the cut. The format is
//! the caller's [`Encoder`] (RDB records for BGSAVE): nothing here knows it.
//! With no snapshot running the cost is one branch on a per-shard field.

use super::dict::Dict;
use super::keyspace::{Db, DbTable, Key, Keyspace, SHARDS, Shard};
use super::value::Entry;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Encodes one key record (key, entry, expiry in Unix ms) onto a buffer.
pub type Encoder = Arc<dyn Fn(&mut Vec<u8>, &[u8], &Entry, Option<i64>) + Send + Sync>;

/// Entries a walker batch encodes at most under one lock.
const BATCH_ENTRIES: usize = 64;
/// Bytes a walker batch encodes at most under one lock.
const BATCH_BYTES: usize = 64 << 10;
/// Pre-image bytes over all shards beyond which the walker drains every
/// shard's buffers, not only the current shard's.
const DRAIN_ALL_BYTES: usize = 4 << 20;

/// Progress counters shared by the walker and the writers' pre-images.
#[derive(Default)]
pub struct Progress {
    /// Pre-image bytes waiting in shard buffers.
    pending: AtomicUsize,
    /// Keys written so far (walk and pre-images).
    pub keys: AtomicU64,
}

/// A shard's part of a running snapshot.
pub struct ShardSnap {
    pub(in crate::storage) epoch: u16,
    encoder: Encoder,
    progress: Arc<Progress>,
    /// Database at the cut of the table at each index (SWAPDB moves them).
    cut_of: Vec<usize>,
    /// Per database at the cut: the walk's SCAN cursor, and whether the
    /// walk of that table is complete.
    cursor: Vec<u64>,
    done: Vec<bool>,
    /// Per database at the cut: encoded records of keys saved ahead of the
    /// walk (changed, deleted or looked up before their visit).
    pre: Vec<Vec<u8>>,
    /// Tables flushed before their walk completed: (database at the cut,
    /// table).
    orphans: Vec<(usize, DbTable)>,
}

impl ShardSnap {
    /// Writes `e` (stored under `key` in the table at index `db`) to the
    /// pre-image buffer unless it is already in the snapshot, and marks it.
    fn save(&mut self, db: usize, key: &[u8], e: &mut Entry, expires: &Dict<Key, i64>) {
        if e.snap == self.epoch {
            return;
        }
        e.snap = self.epoch;
        let c = self.cut_of[db];
        let expire = if e.has_expire() {
            expires.get(key).copied()
        } else {
            None
        };
        let buf = &mut self.pre[c];
        let before = buf.len();
        (self.encoder)(buf, key, e, expire);
        self.progress
            .pending
            .fetch_add(buf.len() - before, Ordering::Relaxed);
        self.progress.keys.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the non-empty pre-image buffers.
    fn take_pre(&mut self, out: &mut Vec<(usize, Vec<u8>)>) {
        for (c, buf) in self.pre.iter_mut().enumerate() {
            if !buf.is_empty() {
                self.progress
                    .pending
                    .fetch_sub(buf.len(), Ordering::Relaxed);
                out.push((c, std::mem::take(buf)));
            }
        }
    }
}

impl Shard {
    /// Before `key` of the table at index `db` may change: puts its value
    /// at the cut into the running snapshot if it is not there yet. One
    /// branch when no snapshot runs.
    #[inline]
    pub(in crate::storage) fn preserve(&mut self, db: usize, hash: u64, key: &[u8]) {
        if self.snap.is_some() {
            self.preserve_slow(db, hash, key);
        }
    }

    #[cold]
    fn preserve_slow(&mut self, db: usize, hash: u64, key: &[u8]) {
        let Some(snap) = self.snap.as_deref_mut() else {
            return;
        };
        let t = &mut self.dbs[db];
        if let Some(e) = t.main.get_mut_hashed(hash, key) {
            snap.save(db, key, e, &t.expires);
        }
    }

    /// [`Shard::preserve`] for a key of a table borrowed apart from the
    /// shard (active expiry).
    pub(in crate::storage) fn preserve_in(
        snap: Option<&mut ShardSnap>,
        db: usize,
        hash: u64,
        key: &[u8],
        t: &mut DbTable,
    ) {
        if let Some(snap) = snap
            && let Some(e) = t.main.get_mut_hashed(hash, key)
        {
            snap.save(db, key, e, &t.expires);
        }
    }

    /// The mark a new entry gets: the running snapshot's epoch (the key
    /// did not exist at the cut), or `None` with no snapshot.
    #[inline]
    pub(in crate::storage) fn new_mark(&self) -> Option<u16> {
        self.snap.as_ref().map(|s| s.epoch)
    }

    /// Empties the table at index `db`, returning the old one unless the
    /// running snapshot still needs it (then the walker gets it).
    pub(in crate::storage) fn take_table(&mut self, db: usize) -> Option<DbTable> {
        let t = std::mem::take(&mut self.dbs[db]);
        if let Some(snap) = self.snap.as_deref_mut() {
            let c = snap.cut_of[db];
            if !snap.done[c] {
                // The new table holds only keys created after the cut.
                snap.done[c] = true;
                snap.orphans.push((c, t));
                return None;
            }
        }
        Some(t)
    }

    /// SWAPDB's part: the tables keep their database at the cut.
    pub(in crate::storage) fn swap_snapshot_dbs(&mut self, a: usize, b: usize) {
        if let Some(snap) = self.snap.as_deref_mut() {
            snap.cut_of.swap(a, b);
        }
    }
}

/// What a snapshot's cut saw.
pub struct Cut {
    /// Per database: (keys, keys with a TTL) at the cut.
    pub sizes: Vec<(u64, u64)>,
}

impl Cut {
    pub fn keys(&self) -> u64 {
        self.sizes.iter().map(|s| s.0).sum()
    }
}

/// Why [`Db::begin_snapshot`] refused.
#[derive(Debug, PartialEq, Eq)]
pub struct SnapshotBusy;

impl Db<'_> {
    /// Starts a snapshot of this instant (every shard must be locked):
    /// returns the walker that produces it. Only one snapshot runs at a
    /// time.
    pub fn begin_snapshot(&mut self, encoder: Encoder) -> Result<(Walker, Cut), SnapshotBusy> {
        assert!(self.has_all_shards(), "a snapshot cut needs every shard");
        if self.shards_mut().any(|s| s.snap.is_some()) {
            return Err(SnapshotBusy);
        }
        let ks = self.keyspace();
        let mut epoch = ks.next_snapshot_epoch();
        if epoch == 0 {
            // The 16-bit epoch wrapped (after 65535 snapshots): clear every
            // mark so no old one can equal a new epoch, then start over.
            for s in self.shards_mut() {
                for t in s.dbs.iter_mut() {
                    for (_, e) in t.main.iter_mut() {
                        e.snap = 0;
                    }
                }
            }
            epoch = ks.next_snapshot_epoch();
        }
        let ndb = ks.databases();
        let progress = Arc::new(Progress::default());
        let mut sizes = vec![(0u64, 0u64); ndb];
        for s in self.shards_mut() {
            for (i, t) in s.dbs.iter().enumerate() {
                sizes[i].0 += t.main.len() as u64;
                sizes[i].1 += t.expires.len() as u64;
            }
            s.snap = Some(Box::new(ShardSnap {
                epoch,
                encoder: encoder.clone(),
                progress: progress.clone(),
                cut_of: (0..ndb).collect(),
                cursor: vec![0; ndb],
                done: s.dbs.iter().map(|t| t.main.is_empty()).collect(),
                pre: vec![Vec::new(); ndb],
                orphans: Vec::new(),
            }));
        }
        let walker = Walker {
            epoch,
            encoder,
            progress,
            shard: 0,
        };
        Ok((walker, Cut { sizes }))
    }

    /// Cancels the running snapshot, if any (every shard must be locked):
    /// its walker's next step answers [`Step::Aborted`].
    pub fn abort_snapshot(&mut self) {
        let mut orphans = Vec::new();
        for s in self.shards_mut() {
            if let Some(mut snap) = s.snap.take() {
                orphans.append(&mut snap.orphans);
            }
        }
        if !orphans.is_empty() {
            // Freeing a flushed table can take a while: not under the locks.
            std::thread::spawn(move || drop(orphans));
        }
    }

    /// True while a snapshot is being walked in some locked shard.
    pub fn snapshot_running(&mut self) -> bool {
        self.shards_mut().any(|s| s.snap.is_some())
    }
}

/// What one [`Walker::step`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// More to come.
    More,
    /// The snapshot is complete: every key of the cut went to the sink.
    Done,
    /// The snapshot was cancelled ([`Db::abort_snapshot`]).
    Aborted,
}

/// The saver's side of a snapshot: produces the encoded records of every
/// key at the cut, database by database in pieces (a database can come in
/// many pieces, interleaved with others').
pub struct Walker {
    epoch: u16,
    encoder: Encoder,
    progress: Arc<Progress>,
    /// Shard being walked (shards before it are complete).
    shard: usize,
}

impl Walker {
    /// Keys written so far.
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// One batch: locks the current shard, takes its pre-images and
    /// flushed tables, encodes up to a batch of unvisited entries, unlocks,
    /// then hands everything to `sink` as (database at the cut, records).
    pub fn step(
        &mut self,
        ks: &Keyspace,
        sink: &mut impl FnMut(usize, &[u8]) -> io::Result<()>,
    ) -> io::Result<Step> {
        if self.shard == SHARDS {
            return Ok(Step::Done);
        }
        let epoch = self.epoch;
        let mut pieces: Vec<(usize, Vec<u8>)> = Vec::new();
        let orphans;
        {
            let mut g = ks.lock_shard(self.shard);
            let Shard { dbs, snap, .. } = &mut *g;
            let Some(sn) = snap.as_deref_mut().filter(|s| s.epoch == epoch) else {
                return Ok(Step::Aborted);
            };
            sn.take_pre(&mut pieces);
            orphans = std::mem::take(&mut sn.orphans);
            match sn.done.iter().position(|d| !d) {
                None => {
                    // Every table visited: nothing can need saving here.
                    *snap = None;
                    self.shard += 1;
                }
                Some(c) => {
                    let i = sn.cut_of.iter().position(|&x| x == c).unwrap_or(c);
                    let DbTable { main, expires } = &mut dbs[i];
                    let mut buf = Vec::with_capacity(64 << 10);
                    let mut n = 0usize;
                    let mut cursor = sn.cursor[c];
                    let mut buckets = 0usize;
                    let enc = &sn.encoder;
                    loop {
                        cursor = main.scan_mut(cursor, |k, e| {
                            if e.snap != epoch {
                                e.snap = epoch;
                                let at = if e.has_expire() {
                                    expires.get(k.as_slice()).copied()
                                } else {
                                    None
                                };
                                enc(&mut buf, k.as_slice(), e, at);
                                n += 1;
                            }
                        });
                        buckets += 1;
                        if cursor == 0 {
                            sn.done[c] = true;
                            break;
                        }
                        if n >= BATCH_ENTRIES
                            || buf.len() >= BATCH_BYTES
                            || buckets >= BATCH_ENTRIES * 4
                        {
                            break;
                        }
                    }
                    sn.cursor[c] = cursor;
                    self.progress.keys.fetch_add(n as u64, Ordering::Relaxed);
                    if !buf.is_empty() {
                        pieces.push((c, buf));
                    }
                }
            }
        }
        for (c, bytes) in &pieces {
            sink(*c, bytes)?;
        }
        drop(pieces);
        for (c, t) in orphans {
            self.walk_orphan(c, t, sink)?;
        }
        if self.progress.pending.load(Ordering::Relaxed) > DRAIN_ALL_BYTES {
            self.drain_others(ks, sink)?;
        }
        Ok(Step::More)
    }

    /// Encodes the unmarked entries of a flushed table (owned now: no
    /// lock) and frees it.
    fn walk_orphan(
        &self,
        c: usize,
        t: DbTable,
        sink: &mut impl FnMut(usize, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut buf = Vec::with_capacity(64 << 10);
        let mut n = 0u64;
        for (k, e) in t.main.iter() {
            if e.snap == self.epoch {
                continue;
            }
            let at = if e.has_expire() {
                t.expires.get(k.as_slice()).copied()
            } else {
                None
            };
            (self.encoder)(&mut buf, k.as_slice(), e, at);
            n += 1;
            if buf.len() >= BATCH_BYTES {
                sink(c, &buf)?;
                buf.clear();
            }
        }
        if !buf.is_empty() {
            sink(c, &buf)?;
        }
        self.progress.keys.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Takes the pre-images and flushed tables of the shards not walked
    /// yet (a write-heavy load filling their buffers).
    fn drain_others(
        &self,
        ks: &Keyspace,
        sink: &mut impl FnMut(usize, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        for s in self.shard..SHARDS {
            let mut pieces = Vec::new();
            let orphans = {
                let mut g = ks.lock_shard(s);
                match g.snap.as_deref_mut().filter(|x| x.epoch == self.epoch) {
                    Some(sn) => {
                        sn.take_pre(&mut pieces);
                        std::mem::take(&mut sn.orphans)
                    }
                    None => Vec::new(),
                }
            };
            for (c, bytes) in &pieces {
                sink(*c, bytes)?;
            }
            for (c, t) in orphans {
                self.walk_orphan(c, t, sink)?;
            }
        }
        Ok(())
    }

    /// Gives up (the sink failed): removes the snapshot from every shard
    /// still holding it, one shard lock at a time.
    pub fn cancel(&mut self, ks: &Keyspace) {
        for s in self.shard..SHARDS {
            let mut g = ks.lock_shard(s);
            if g.snap.as_ref().is_some_and(|x| x.epoch == self.epoch) {
                g.snap = None;
            }
        }
        self.shard = SHARDS;
    }

    /// Runs the walk to the end.
    pub fn run(
        &mut self,
        ks: &Keyspace,
        sink: &mut impl FnMut(usize, &[u8]) -> io::Result<()>,
    ) -> io::Result<Step> {
        loop {
            match self.step(ks, sink)? {
                Step::More => {}
                other => return Ok(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::keyspace::unix_ms;
    use crate::storage::value::{NO_EXPIRE, Value};
    use std::collections::BTreeMap;

    /// (db, key) → (value, expiry).
    type Model = BTreeMap<(usize, Vec<u8>), (i64, Option<i64>)>;

    /// Test format: key length, key, integer value, expiry (-1 for none).
    fn encoder() -> Encoder {
        Arc::new(
            |buf: &mut Vec<u8>, key: &[u8], e: &Entry, at: Option<i64>| {
                let Value::Int(v) = e.value else {
                    panic!("test values are integers")
                };
                buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
                buf.extend_from_slice(key);
                buf.extend_from_slice(&v.to_le_bytes());
                buf.extend_from_slice(&at.unwrap_or(-1).to_le_bytes());
            },
        )
    }

    fn decode(db: usize, mut b: &[u8], out: &mut Model) {
        while !b.is_empty() {
            let n = u32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
            let key = b[4..4 + n].to_vec();
            let v = i64::from_le_bytes(b[4 + n..12 + n].try_into().unwrap());
            let at = i64::from_le_bytes(b[12 + n..20 + n].try_into().unwrap());
            let prev = out.insert((db, key.clone()), (v, (at >= 0).then_some(at)));
            assert!(prev.is_none(), "key {key:?} of db {db} written twice");
            b = &b[20 + n..];
        }
    }

    /// The dataset as a model (every shard locked by `v`).
    fn model_of(ks: &Keyspace) -> Model {
        let mut m = Model::new();
        let mut v = ks.view_all(0);
        for s in v.shards_mut() {
            for (db, t) in s.dbs.iter().enumerate() {
                for (k, e) in t.main.iter() {
                    let Value::Int(x) = e.value else { panic!() };
                    m.insert((db, k.as_slice().to_vec()), (x, t.expire_of(k, e)));
                }
            }
        }
        m
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u16),
        Incr(u16),
        Del(u16),
        Expire(u16, bool),
        Persist(u16),
        Rename(u16, u16),
        Move(u16),
        FlushDb(u8),
        Swap,
        ActiveExpire,
        Steps(u8),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let k = 0u16..400;
        prop_oneof![
            4 => (0u8..2, k.clone()).prop_map(|(d, k)| Op::Set(d, k)),
            4 => k.clone().prop_map(Op::Incr),
            2 => k.clone().prop_map(Op::Del),
            2 => (k.clone(), any::<bool>()).prop_map(|(k, past)| Op::Expire(k, past)),
            1 => k.clone().prop_map(Op::Persist),
            1 => (k.clone(), k.clone()).prop_map(|(a, b)| Op::Rename(a, b)),
            1 => k.clone().prop_map(Op::Move),
            1 => (0u8..20).prop_map(Op::FlushDb),
            1 => Just(Op::Swap),
            1 => Just(Op::ActiveExpire),
            6 => (1u8..8).prop_map(Op::Steps),
        ]
    }

    fn name(k: u16) -> Vec<u8> {
        format!("k{k}").into_bytes()
    }

    fn apply(ks: &Keyspace, op: &Op, n: i64) {
        let mut v = ks.view_all(0);
        let later = unix_ms() + 3_600_000;
        match *op {
            Op::Set(db, k) => v.set_in(db as usize, &name(k), Value::Int(n), false),
            Op::Incr(k) => {
                if let Some(e) = v.get_for_write(&name(k)) {
                    if let Value::Int(x) = &mut e.value {
                        *x += 1;
                    }
                    v.touched(&name(k));
                }
            }
            Op::Del(k) => {
                v.remove(&name(k));
            }
            Op::Expire(k, past) => {
                if v.get_for_write(&name(k)).is_some() {
                    v.set_expire(&name(k), if past { unix_ms() - 1 } else { later });
                }
            }
            Op::Persist(k) => {
                v.persist(&name(k));
            }
            Op::Rename(a, b) => {
                if let Some((e, at)) = v.take_in(0, &name(a)) {
                    v.insert_entry_in(0, &name(b), e, at);
                }
            }
            Op::Move(k) => {
                if v.get_for_write_in(1, &name(k)).is_none()
                    && let Some((e, at)) = v.take_in(0, &name(k))
                {
                    v.insert_entry_in(1, &name(k), e, at);
                }
            }
            Op::FlushDb(d) => {
                // Rare: flushing often would leave little to check.
                if d == 0 {
                    v.flush(Some(0));
                } else if d == 1 {
                    v.flush(None);
                }
            }
            Op::Swap => v.swap_dbs(0, 1),
            Op::ActiveExpire => {
                drop(v);
                ks.active_expire_cycle(std::time::Duration::from_millis(5), 1);
            }
            Op::Steps(_) => {}
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever writes run between the walker's batches, the snapshot
        /// holds every key exactly once with its value and expiry at the
        /// cut.
        #[test]
        fn snapshot_is_the_dataset_at_the_cut(
            fill in 0usize..3000,
            before in proptest::collection::vec(op(), 0..40),
            during in proptest::collection::vec(op(), 0..300),
        ) {
            let ks = Keyspace::new(3);
            {
                let mut v = ks.view_all(0);
                for i in 0..fill {
                    v.set_in(i % 3, &name(i as u16 % 1000), Value::Int(i as i64), false);
                    if i % 7 == 0 {
                        v.set_in(0, &name(i as u16 % 1000), Value::Int(-(i as i64)), false);
                        v.set_expire(&name(i as u16 % 1000), unix_ms() + 3_600_000);
                    }
                }
            }
            for (n, o) in before.iter().enumerate() {
                apply(&ks, o, n as i64);
            }
            let (mut walker, cut) = ks.view_all(0).begin_snapshot(encoder()).unwrap();
            let want = model_of(&ks);
            proptest::prop_assert_eq!(cut.keys(), want.len() as u64);
            let mut got = Model::new();
            let mut sink = |db: usize, b: &[u8]| {
                decode(db, b, &mut got);
                Ok(())
            };
            let mut done = false;
            for (n, o) in during.iter().enumerate() {
                if let Op::Steps(k) = o {
                    for _ in 0..*k {
                        if walker.step(&ks, &mut sink).unwrap() == Step::Done {
                            done = true;
                        }
                    }
                } else {
                    apply(&ks, o, 1_000_000 + n as i64);
                }
            }
            if !done {
                proptest::prop_assert_eq!(walker.run(&ks, &mut sink).unwrap(), Step::Done);
            }
            proptest::prop_assert_eq!(got, want);
            // Nothing is left behind in the shards.
            proptest::prop_assert!(!ks.view_all(0).snapshot_running());
        }
    }

    #[test]
    fn abort_and_busy() {
        let ks = Keyspace::new(1);
        ks.view_all(0).set(b"a", Value::Int(1), false);
        let (mut w, _) = ks.view_all(0).begin_snapshot(encoder()).unwrap();
        assert_eq!(
            ks.view_all(0).begin_snapshot(encoder()).err(),
            Some(SnapshotBusy)
        );
        ks.view_all(0).abort_snapshot();
        let mut sink = |_: usize, _: &[u8]| Ok(());
        assert_eq!(w.step(&ks, &mut sink).unwrap(), Step::Aborted);
        // A new snapshot after an abort sees every key again.
        let (mut w, cut) = ks.view_all(0).begin_snapshot(encoder()).unwrap();
        assert_eq!(cut.keys(), 1);
        let mut got = Model::new();
        let mut sink = |db: usize, b: &[u8]| {
            decode(db, b, &mut got);
            Ok(())
        };
        assert_eq!(w.run(&ks, &mut sink).unwrap(), Step::Done);
        assert_eq!(got.len(), 1);
        let _ = NO_EXPIRE;
    }
}
