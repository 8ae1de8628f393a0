//! `maxmemory`: evicting keys when the server uses more memory than allowed,
//! with Redis 7.0's policies and approximated algorithm, and the LFU
//! counter kept in `Entry::lru` under the LFU policies.
//!
//! The caller measures memory (a function from the server: the counting
//! allocator's live bytes minus what Redis does not count); this module
//! only chooses and deletes keys. [`Keyspace::perform_evictions`] runs
//! before a command takes any shard lock: it holds the eviction pool's
//! mutex and locks one shard at a time, never two, so it cannot deadlock
//! with commands (which lock shards in ascending order and never take the
//! pool).
//!
//! The algorithm is Redis's: each round samples `maxmemory-samples` keys
//! (from `main`, or from `expires` for the volatile policies) of every
//! database of one shard (shards in turn) into a pool of the 16 best
//! candidates seen, sorted by "idle" (LRU: seconds since the last access;
//! LFU: 255 minus the decayed counter; volatile-ttl: the sooner the expiry
//! the larger), then evicts the best candidate that still exists. The pool
//! lives across rounds and calls, as Redis's static pool does. The random
//! policies take a random key of the next (shard, database) in turn.
//!
//! An evicted key is deleted as an expired one is: WATCHers are told, the
//! `evicted` event (class `e`) is reported, `DEL` is propagated to the AOF
//! and replicas, `evicted_keys` is counted. Blocked clients are not woken
//! (Redis 7.0 does not signal them either).

use super::dict::hash_bytes;
use super::keyspace::{Key, Keyspace, SHARDS, Shard, del_command};
use super::notify;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// The LFU counter of a new key (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u32 = 5;

/// Candidates kept in the eviction pool (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    NoEviction = 0,
    AllkeysLru,
    VolatileLru,
    AllkeysLfu,
    VolatileLfu,
    AllkeysRandom,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    fn from_u8(v: u8) -> Policy {
        match v {
            1 => Policy::AllkeysLru,
            2 => Policy::VolatileLru,
            3 => Policy::AllkeysLfu,
            4 => Policy::VolatileLfu,
            5 => Policy::AllkeysRandom,
            6 => Policy::VolatileRandom,
            7 => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// True for the policies that only evict keys with a TTL.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// True for the LFU policies (entries hold LFU data).
    pub fn lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }
}

/// What [`Keyspace::perform_evictions`] achieved (Redis's `EVICT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or no limit).
    Ok,
    /// Still over, but the time limit stopped the run: commands go on and
    /// eviction continues later (the server's cron, the next command).
    Running,
    /// Over the limit and nothing can be evicted: denyoom commands are
    /// refused.
    Fail,
}

/// A key the pool may evict.
struct Candidate {
    idle: u64,
    db: usize,
    key: Key,
}

/// The pool and the round-robin cursors, behind one mutex (which also
/// serialises evictions).
#[derive(Default)]
struct PoolState {
    /// Sorted by ascending idle: the best candidate is last.
    pool: Vec<Candidate>,
    next_shard: usize,
    next_db: usize,
}

impl PoolState {
    fn offer(&mut self, c: Candidate) {
        if self.pool.iter().any(|x| x.db == c.db && x.key == c.key) {
            return;
        }
        if self.pool.len() == POOL_SIZE {
            if c.idle <= self.pool[0].idle {
                return;
            }
            self.pool.remove(0);
        }
        let at = self.pool.partition_point(|x| x.idle <= c.idle);
        self.pool.insert(at, c);
    }
}

/// The `maxmemory` settings, the pool and the eviction counters.
pub struct Evictor {
    /// `maxmemory` in bytes, 0 = no limit: the one load a command pays.
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU32,
    tenacity: AtomicU32,
    log_factor: AtomicU32,
    decay_time: AtomicU32,
    state: Mutex<PoolState>,
    evicted: AtomicU64,
    /// Set when a run stopped at its time limit still over the limit.
    running: AtomicBool,
    /// Milliseconds (Unix) since when memory has been over the limit with
    /// eviction unable to catch up; 0 when not.
    exceeded_since: AtomicU64,
    /// Sum of the finished periods of `exceeded_since`, in ms.
    exceeded_total: AtomicU64,
}

impl Default for Evictor {
    fn default() -> Evictor {
        Evictor {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(Policy::NoEviction as u8),
            samples: AtomicU32::new(5),
            tenacity: AtomicU32::new(10),
            log_factor: AtomicU32::new(10),
            decay_time: AtomicU32::new(1),
            state: Mutex::new(PoolState::default()),
            evicted: AtomicU64::new(0),
            running: AtomicBool::new(false),
            exceeded_since: AtomicU64::new(0),
            exceeded_total: AtomicU64::new(0),
        }
    }
}

/// Minutes elapsed since `ldt` on the 16-bit wrapping LFU clock.
fn lfu_elapsed(now: u32, ldt: u32) -> u32 {
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// The LFU counter in `stamp` after its decay: one per `decay` minutes
/// elapsed since it was last updated (Redis's `LFUDecrAndReturn`).
pub fn lfu_decayed(stamp: u32, now_min: u32, decay: u32) -> u32 {
    let ldt = stamp >> 8;
    let counter = stamp & 255;
    // No decay with lfu-decay-time 0.
    let periods = lfu_elapsed(now_min, ldt).checked_div(decay).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// The counter after one access, given a uniform `r` in [0, 1): it grows
/// with probability 1 / ((counter - 5) * factor + 1) (Redis's
/// `LFULogIncr`).
pub fn lfu_log_incr(counter: u32, factor: u32, r: f64) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * factor as f64 + 1.0);
    if r < p { counter + 1 } else { counter }
}

/// Redis's `evictionTimeLimitUs`: the time one run may take, `None` for
/// no limit (tenacity 100).
fn time_limit_us(tenacity: u32) -> Option<u64> {
    match tenacity {
        0..=10 => Some(50 * tenacity as u64),
        11..=99 => Some((500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64),
        _ => None,
    }
}

impl Evictor {
    /// `maxmemory` (0 = none); one relaxed load.
    #[inline]
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Applies the settings (at start and on CONFIG SET). The caller also
    /// switches the keyspace's LFU mode with the policy.
    #[allow(clippy::too_many_arguments)]
    pub fn configure(
        &self,
        maxmemory: u64,
        policy: Policy,
        samples: u32,
        tenacity: u32,
        log_factor: u32,
        decay_time: u32,
    ) {
        let old = self.policy();
        self.policy.store(policy as u8, Ordering::Relaxed);
        self.samples.store(samples.max(1), Ordering::Relaxed);
        self.tenacity.store(tenacity, Ordering::Relaxed);
        self.log_factor.store(log_factor, Ordering::Relaxed);
        self.decay_time.store(decay_time, Ordering::Relaxed);
        self.maxmemory.store(maxmemory, Ordering::Relaxed);
        if old != policy {
            // Idle values of another policy mean nothing.
            self.state.lock().pool.clear();
        }
    }

    /// `evicted_keys`.
    pub fn evicted_keys(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// (`total_eviction_exceeded_time`, `current_eviction_exceeded_time`)
    /// in ms.
    pub fn exceeded_times(&self, now_ms: u64) -> (u64, u64) {
        let since = self.exceeded_since.load(Ordering::Relaxed);
        let current = if since == 0 {
            0
        } else {
            now_ms.saturating_sub(since)
        };
        (
            self.exceeded_total.load(Ordering::Relaxed) + current,
            current,
        )
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.evicted.store(0, Ordering::Relaxed);
        self.exceeded_total.store(0, Ordering::Relaxed);
    }

    /// True when a run stopped at its time limit over the limit: the cron
    /// should call [`Keyspace::perform_evictions`] again.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// The LFU stamp after an access to an entry stamped `old`.
    pub fn lfu_touch(&self, old: u32, now_min: u32) -> u32 {
        let counter = lfu_decayed(old, now_min, self.decay_time.load(Ordering::Relaxed));
        let counter = lfu_log_incr(
            counter,
            self.log_factor.load(Ordering::Relaxed),
            rand::random::<f64>(),
        );
        (now_min << 8) | counter
    }

    /// The decayed LFU counter of an entry stamped `stamp` (OBJECT FREQ).
    pub fn lfu_freq(&self, stamp: u32, now_min: u32) -> u32 {
        lfu_decayed(stamp, now_min, self.decay_time.load(Ordering::Relaxed))
    }

    fn track_exceeded(&self, over: bool) {
        let now = super::keyspace::unix_ms() as u64;
        let since = self.exceeded_since.load(Ordering::Relaxed);
        if over {
            if since == 0 {
                self.exceeded_since.store(now.max(1), Ordering::Relaxed);
            }
        } else if since != 0 {
            self.exceeded_since.store(0, Ordering::Relaxed);
            self.exceeded_total
                .fetch_add(now.saturating_sub(since), Ordering::Relaxed);
        }
    }
}

impl Shard {
    /// Evicts `key` of database `db` if it is still there (with a TTL, for
    /// a volatile policy); true if it was.
    fn evict_key(&mut self, ks: &Keyspace, db: usize, key: &[u8], volatile: bool) -> bool {
        let hash = hash_bytes(key);
        let t = &mut self.dbs[db];
        let present = if volatile {
            t.expires.contains_key_hashed(hash, key)
        } else {
            t.main.contains_key_hashed(hash, key)
        };
        if !present {
            return false;
        }
        if ks.feed.active() {
            ks.feed.append(&vec![(db, del_command(key))], false);
        }
        Shard::preserve_in(self.snap.as_deref_mut(), db, hash, key, t);
        // Dropped here: the memory is back before the next measurement.
        drop(t.remove_hashed(hash, key));
        if ks.watches.active() {
            ks.watches.touch(db, key);
        }
        ks.notifier.emit(notify::EVICTED, db, "evicted", key);
        ks.evict.evicted.fetch_add(1, Ordering::Relaxed);
        true
    }
}

impl Keyspace {
    /// Redis's `performEvictions`: with a `maxmemory` and `used()` over
    /// it, evicts keys by the policy until under it, nothing is left to
    /// evict ([`Outcome::Fail`]) or the run's time limit
    /// (`maxmemory-eviction-tenacity`) is reached ([`Outcome::Running`]).
    /// The caller holds no shard lock.
    pub fn perform_evictions(&self, used: &dyn Fn() -> u64) -> Outcome {
        let ev = &self.evict;
        let max = ev.maxmemory();
        if max == 0 || used() <= max {
            ev.running.store(false, Ordering::Relaxed);
            ev.track_exceeded(false);
            return Outcome::Ok;
        }
        let policy = ev.policy();
        if policy == Policy::NoEviction {
            ev.track_exceeded(true);
            return Outcome::Fail;
        }
        let mut st = ev.state.lock();
        let start = Instant::now();
        let limit = time_limit_us(ev.tenacity.load(Ordering::Relaxed));
        let mut freed = 0u64;
        let outcome = loop {
            // Measured again each time: another thread may have freed (or
            // evicted) meanwhile.
            if used() <= max {
                break Outcome::Ok;
            }
            if !self.evict_one(&mut st, policy) {
                break Outcome::Fail;
            }
            freed += 1;
            if freed.is_multiple_of(16)
                && let Some(us) = limit
                && start.elapsed().as_micros() as u64 > us
            {
                break if used() <= max {
                    Outcome::Ok
                } else {
                    Outcome::Running
                };
            }
        };
        drop(st);
        ev.running
            .store(outcome == Outcome::Running, Ordering::Relaxed);
        ev.track_exceeded(outcome != Outcome::Ok);
        outcome
    }

    /// Evicts one key by `policy`; false when there is none to evict.
    fn evict_one(&self, st: &mut PoolState, policy: Policy) -> bool {
        let volatile = policy.volatile();
        if matches!(policy, Policy::AllkeysRandom | Policy::VolatileRandom) {
            return self.evict_random(st, volatile);
        }
        let samples = self.evict.samples.load(Ordering::Relaxed) as usize;
        let mut empty_run = 0;
        // Bounded: a candidate can vanish between sampling and eviction
        // (another client deleted it), never forever.
        for _ in 0..SHARDS * 8 {
            let s = st.next_shard;
            st.next_shard = (s + 1) % SHARDS;
            let found = self.populate(st, s, policy, samples);
            if found == 0 {
                empty_run += 1;
                if st.pool.is_empty() {
                    if empty_run >= SHARDS {
                        return false;
                    }
                    continue;
                }
            } else {
                empty_run = 0;
            }
            while let Some(c) = st.pool.pop() {
                let shard = super::keyspace::shard_of(hash_bytes(&c.key));
                let mut g = self.lock_shard(shard);
                if g.evict_key(self, c.db, &c.key, volatile) {
                    return true;
                }
            }
        }
        false
    }

    /// Samples keys of every database of shard `s` into the pool; returns
    /// the number of keys the policy could evict there.
    fn populate(&self, st: &mut PoolState, s: usize, policy: Policy, samples: usize) -> usize {
        let clock = self.lru_clock();
        let now_min = self.lfu_minutes();
        let decay = self.evict.decay_time.load(Ordering::Relaxed);
        let mut rng = rand::rng();
        let g = self.lock_shard(s);
        let mut total = 0;
        for (db, t) in g.dbs.iter().enumerate() {
            let idle_of = |stamp: u32| -> u64 {
                if policy.lfu() {
                    255 - lfu_decayed(stamp, now_min, decay) as u64
                } else {
                    clock.wrapping_sub(stamp) as u64
                }
            };
            if policy.volatile() {
                total += t.expires.len();
                t.expires.sample(samples, &mut rng, |k, &at| {
                    let idle = if policy == Policy::VolatileTtl {
                        u64::MAX - at.max(0) as u64
                    } else {
                        match t.main.get(k) {
                            Some(e) => idle_of(e.lru),
                            None => return,
                        }
                    };
                    st.offer(Candidate {
                        idle,
                        db,
                        key: k.clone(),
                    });
                });
            } else {
                total += t.main.len();
                t.main.sample(samples, &mut rng, |k, e| {
                    st.offer(Candidate {
                        idle: idle_of(e.lru),
                        db,
                        key: k.clone(),
                    });
                });
            }
        }
        total
    }

    /// allkeys-random / volatile-random: a random key of the next
    /// (shard, database) that has one.
    fn evict_random(&self, st: &mut PoolState, volatile: bool) -> bool {
        let mut rng = rand::rng();
        let ndb = self.databases();
        for _ in 0..SHARDS * ndb {
            let s = st.next_shard;
            let db = st.next_db;
            st.next_db = (db + 1) % ndb;
            if st.next_db == 0 {
                st.next_shard = (s + 1) % SHARDS;
            }
            let mut g = self.lock_shard(s);
            let t = &g.dbs[db];
            let key = if volatile {
                t.expires.random_entry(&mut rng).map(|(k, _)| k.clone())
            } else {
                t.main.random_entry(&mut rng).map(|(k, _)| k.clone())
            };
            if let Some(k) = key
                && g.evict_key(self, db, &k, volatile)
            {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::value::string_value;
    use std::sync::atomic::AtomicI64;

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        // From the initial value, the first increments are certain.
        assert_eq!(lfu_log_incr(5, 10, 0.99), 6);
        assert_eq!(lfu_log_incr(0, 10, 0.99), 1);
        assert_eq!(lfu_log_incr(255, 10, 0.0), 255);
        // At 105 with factor 10: p = 1/1001.
        assert_eq!(lfu_log_incr(105, 10, 0.002), 105);
        assert_eq!(lfu_log_incr(105, 10, 0.0005), 106);
        // One per decay period, on the wrapping minute clock.
        let stamp = (100 << 8) | 20;
        assert_eq!(lfu_decayed(stamp, 100, 1), 20);
        assert_eq!(lfu_decayed(stamp, 103, 1), 17);
        assert_eq!(lfu_decayed(stamp, 103, 2), 19);
        assert_eq!(lfu_decayed(stamp, 200, 1), 0);
        assert_eq!(lfu_decayed(stamp, 200, 0), 20);
        assert_eq!(lfu_decayed((65530 << 8) | 20, 4, 1), 11);
        assert_eq!(time_limit_us(10), Some(500));
        assert_eq!(time_limit_us(0), Some(0));
        assert_eq!(time_limit_us(100), None);
    }

    /// A fake memory gauge: one unit per key.
    fn gauge(ks: &Keyspace) -> impl Fn() -> u64 + '_ {
        move || ks.db_sizes().iter().map(|&(n, _)| n as u64).sum()
    }

    fn fill(ks: &Keyspace, n: usize, prefix: &str, ttl: Option<i64>) {
        let mut v = ks.view_all(0);
        for i in 0..n {
            let k = format!("{prefix}{i}");
            v.set(k.as_bytes(), string_value(b"v"), false);
            if let Some(at) = ttl {
                v.set_expire(k.as_bytes(), at + i as i64);
            }
        }
    }

    #[test]
    fn every_policy_evicts_down_to_the_limit_or_fails() {
        let far = super::super::keyspace::unix_ms() + 3_600_000;
        for policy in [
            Policy::AllkeysLru,
            Policy::VolatileLru,
            Policy::AllkeysLfu,
            Policy::VolatileLfu,
            Policy::AllkeysRandom,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
            Policy::NoEviction,
        ] {
            let ks = Keyspace::new(2);
            ks.evict.configure(500, policy, 5, 100, 10, 1);
            ks.set_lfu_mode(policy.lfu());
            fill(&ks, 400, "plain:", None);
            fill(&ks, 400, "ttl:", Some(far));
            let used = gauge(&ks);
            let got = ks.perform_evictions(&used);
            if policy == Policy::NoEviction {
                assert_eq!(got, Outcome::Fail);
                continue;
            }
            assert_eq!(got, Outcome::Ok, "{policy:?}");
            assert_eq!(used(), 500, "{policy:?}");
            assert_eq!(ks.evict.evicted_keys(), 300);
            let sizes = ks.db_sizes();
            if policy.volatile() {
                // Only keys with a TTL went.
                assert_eq!(sizes[0], (500, 100), "{policy:?}");
                // Nothing left to evict once they are all gone.
                ks.evict.configure(300, policy, 5, 100, 10, 1);
                assert_eq!(ks.perform_evictions(&used), Outcome::Fail);
                assert_eq!(ks.db_sizes()[0], (400, 0));
            }
        }
    }

    #[test]
    fn volatile_ttl_evicts_the_soonest_expiring_first() {
        let ks = Keyspace::new(1);
        let base = super::super::keyspace::unix_ms() + 3_600_000;
        fill(&ks, 2000, "k", Some(base));
        ks.evict.configure(1000, Policy::VolatileTtl, 5, 100, 10, 1);
        assert_eq!(ks.perform_evictions(&gauge(&ks)), Outcome::Ok);
        // Key i expires at base + i: most survivors are the later half.
        let mut v = ks.view_all(0);
        let late = (1000..2000)
            .filter(|i| v.peek(format!("k{i}").as_bytes()).is_some())
            .count();
        assert!(late > 800, "{late} of the latest 1000 survived");
    }

    #[test]
    fn time_limit_stops_a_run_as_running() {
        let ks = Keyspace::new(1);
        fill(&ks, 5000, "k", None);
        ks.evict.configure(10, Policy::AllkeysRandom, 5, 0, 10, 1);
        // Tenacity 0: at most 16 keys per run.
        assert_eq!(ks.perform_evictions(&gauge(&ks)), Outcome::Running);
        assert!(ks.evict.running());
        assert_eq!(ks.evict.evicted_keys(), 16);
        let calls = AtomicI64::new(0);
        let counted = || {
            calls.fetch_add(1, Ordering::Relaxed);
            gauge(&ks)()
        };
        ks.evict.configure(10, Policy::AllkeysRandom, 5, 100, 10, 1);
        assert_eq!(ks.perform_evictions(&counted), Outcome::Ok);
        assert!(!ks.evict.running());
        assert_eq!(ks.db_sizes()[0].0, 10);
    }
}
