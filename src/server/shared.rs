//! Server-wide state every connection and command can reach: configuration,
//! the keyspace, the command table, the client registry and statistics.
//!
//! Statistics written on every command live in per-worker blocks that only
//! their own thread updates (plain relaxed load + store, no locked
//! instructions); readers (INFO) sum them.

use crate::commands::Table;
use crate::config::{Config, Settings};
use crate::server::client::ClientInfo;
use crate::storage::keyspace::{Keyspace, unix_ms};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// A counter written by one thread only.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed)
    }
}

/// Per-command counters (`INFO commandstats`).
#[derive(Default)]
pub struct CmdStats {
    pub calls: Counter,
    pub usec: Counter,
    pub rejected: Counter,
    pub failed: Counter,
    /// Calls by duration, in the power-of-two buckets of `LATENCY
    /// HISTOGRAM` (see [`latency_bucket`]).
    pub hist: [Counter; HIST_BUCKETS],
}

/// Number of duration buckets per command: 1 µs·2^k for k in 0..21, the
/// last one also holding everything slower (Redis caps samples at 1 s).
pub const HIST_BUCKETS: usize = 21;

/// The histogram bucket of a command duration: the first `k` whose bound
/// (2^(10+k) + 2^(3+k) nanoseconds, the upper edge of Redis's
/// 2-significant-digit histogram bucket) is above `nanos`.
#[inline]
pub fn latency_bucket(nanos: u64) -> usize {
    let bound = |k: u32| (1u64 << (10 + k)) + (1u64 << (3 + k));
    if nanos < bound(0) {
        return 0;
    }
    // nanos is in [2^lg, 2^(lg+1)); bound(lg-10) is just above 2^lg.
    let lg = 63 - nanos.leading_zeros();
    let k = if nanos < bound(lg - 10) {
        lg - 10
    } else {
        lg - 9
    };
    (k as usize).min(HIST_BUCKETS - 1)
}

/// Counters of one worker thread, padded to its own cache lines.
#[repr(align(128))]
pub struct WorkerStats {
    pub commands: Counter,
    pub net_input: Counter,
    pub net_output: Counter,
    pub per_command: Box<[CmdStats]>,
    /// Error replies by code (`ERR`, `WRONGTYPE` …): `INFO errorstats`.
    pub errors: Mutex<HashMap<String, u64>>,
    pub total_errors: Counter,
}

impl WorkerStats {
    fn new(ncommands: usize) -> WorkerStats {
        WorkerStats {
            commands: Counter::default(),
            net_input: Counter::default(),
            net_output: Counter::default(),
            per_command: (0..ncommands).map(|_| CmdStats::default()).collect(),
            errors: Mutex::new(HashMap::new()),
            total_errors: Counter::default(),
        }
    }
}

/// One SLOWLOG entry.
pub struct SlowEntry {
    pub id: u64,
    pub time: i64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: Vec<u8>,
}

/// The slow log: newest first, bounded by `slowlog-max-len`.
#[derive(Default)]
pub struct SlowLog {
    pub next_id: u64,
    pub entries: VecDeque<SlowEntry>,
}

/// Samples for `instantaneous_ops_per_sec` and friends.
#[derive(Default)]
pub struct InstantMetric {
    samples: [u64; 16],
    idx: usize,
    last_time: u64,
    last_value: u64,
}

impl InstantMetric {
    /// Records the counter `value` at time `now_ms`.
    pub fn track(&mut self, now_ms: u64, value: u64) {
        let dt = now_ms.saturating_sub(self.last_time);
        if self.last_time != 0 && dt > 0 {
            let rate = value.saturating_sub(self.last_value) * 1000 / dt;
            self.samples[self.idx] = rate;
            self.idx = (self.idx + 1) % self.samples.len();
        }
        self.last_time = now_ms;
        self.last_value = value;
    }

    pub fn value(&self) -> u64 {
        self.samples.iter().sum::<u64>() / self.samples.len() as u64
    }
}

/// Global counters updated rarely (per connection, not per command).
#[derive(Default)]
pub struct GlobalStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub connected_clients: AtomicUsize,
    pub expired_keys_active: AtomicU64,
    pub ops_per_sec: Mutex<InstantMetric>,
    pub input_kbps: Mutex<InstantMetric>,
    pub output_kbps: Mutex<InstantMetric>,
}

/// State of `CLIENT PAUSE`.
#[derive(Default, Clone, Copy)]
pub struct Pause {
    /// Unix ms when the pause ends (0 = not paused).
    pub until: i64,
    /// True for `WRITE` mode (only writes wait), false for `ALL`.
    pub write_only: bool,
}

/// Everything shared by all threads.
pub struct Shared {
    pub config: Arc<Config>,
    pub keyspace: Keyspace,
    pub table: Table,
    /// Channel and pattern subscriptions.
    pub pubsub: crate::server::pubsub::PubSub,
    /// Clients in MONITOR mode.
    pub monitors: crate::server::monitor::Monitors,
    pub clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    pub next_client_id: AtomicU64,
    pub workers: Box<[WorkerStats]>,
    pub stats: GlobalStats,
    pub started: Instant,
    pub started_unix_ms: i64,
    pub run_id: String,
    /// Changes since the last save (`rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    pub lastsave: AtomicI64,
    /// Saves attempted (`rdb_saves`).
    pub rdb_saves: AtomicU64,
    /// Outcome and time (Unix s) of the last save attempt.
    pub last_save_ok: AtomicBool,
    pub last_save_try: AtomicI64,
    /// Keys loaded / expired by the last RDB load.
    pub last_load_loaded: AtomicU64,
    pub last_load_expired: AtomicU64,
    pub slowlog: Mutex<SlowLog>,
    pub pause: Mutex<Pause>,
    /// True while a CLIENT PAUSE may be in effect: the one check on the
    /// command path (the end time is then read under `pause`).
    pub pause_flag: AtomicBool,
    /// Notified when a pause is lifted early (CLIENT UNPAUSE).
    pub unpaused: tokio::sync::Notify,
    pub active_expire_enabled: AtomicBool,
    /// Set when the server is shutting down.
    pub shutting_down: AtomicBool,
    /// Addresses the server listens on (`tcp_port` etc. for INFO).
    pub tcp_port: AtomicUsize,
    pub executable: String,
    pub threads: usize,
    /// Events over `latency-monitor-threshold` (LATENCY LATEST …).
    pub latency: Mutex<crate::commands::server::latency::LatencyMonitor>,
    /// Replication ids (`master_replid`, `master_replid2`).
    pub replid: Mutex<(String, String)>,
    /// Memory in use right after start-up (`used_memory_startup`).
    pub used_memory_startup: u64,
    /// The append-only file (`appendonly`), fed by `keyspace.feed`.
    pub aof: Arc<crate::persist::aof::Aof>,
    /// The background save (BGSAVE) state.
    pub bgsave: crate::persist::bgsave::BgSave,
    /// Replication, both roles.
    pub repl: crate::replication::Replication,
    /// The `Arc` this lives in (set at start), for work that outlives a
    /// command (REPLICAOF starts a thread).
    pub me: std::sync::OnceLock<std::sync::Weak<Shared>>,
    /// The Lua interpreter, script cache and running script (EVAL).
    pub scripts: crate::scripting::Engine,
}

impl Shared {
    pub fn new(config: Arc<Config>, threads: usize) -> Shared {
        let settings = config.settings();
        let table = Table::new(&config.renamed_commands());
        let ncmd = table.all().len();
        let run_id = random_hex40();
        let now = unix_ms();
        Shared {
            keyspace: Keyspace::new(settings.databases),
            table,
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(1),
            workers: (0..threads.max(1) + 1)
                .map(|_| WorkerStats::new(ncmd))
                .collect(),
            stats: GlobalStats::default(),
            started: Instant::now(),
            started_unix_ms: now,
            run_id,
            dirty: AtomicU64::new(0),
            lastsave: AtomicI64::new(now / 1000),
            rdb_saves: AtomicU64::new(0),
            last_save_ok: AtomicBool::new(true),
            last_save_try: AtomicI64::new(0),
            last_load_loaded: AtomicU64::new(0),
            last_load_expired: AtomicU64::new(0),
            slowlog: Mutex::new(SlowLog::default()),
            pubsub: Default::default(),
            monitors: Default::default(),
            pause: Mutex::new(Pause::default()),
            pause_flag: AtomicBool::new(false),
            unpaused: tokio::sync::Notify::new(),
            active_expire_enabled: AtomicBool::new(true),
            shutting_down: AtomicBool::new(false),
            tcp_port: AtomicUsize::new(settings.port as usize),
            executable: std::env::current_exe()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            threads,
            config,
            latency: Mutex::new(Default::default()),
            replid: Mutex::new((random_hex40(), "0".repeat(40))),
            used_memory_startup: crate::commands::server::info::memory_in_use(),
            aof: Default::default(),
            bgsave: Default::default(),
            repl: Default::default(),
            me: std::sync::OnceLock::new(),
            scripts: Default::default(),
        }
    }

    /// The `Arc` holding this server (None before start, in unit tests).
    pub fn arc(&self) -> Option<Arc<Shared>> {
        self.me.get().and_then(|w| w.upgrade())
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.config.settings()
    }

    /// Records the outcome of an RDB load for INFO.
    pub fn note_load(&self, st: &crate::persist::snapshot::LoadStats) {
        self.last_load_loaded.store(st.loaded, Ordering::Relaxed);
        self.last_load_expired.store(st.expired, Ordering::Relaxed);
    }

    #[inline]
    pub fn add_dirty(&self, n: u64) {
        self.dirty.fetch_add(n, Ordering::Relaxed);
    }

    /// Total commands processed over all workers.
    pub fn total_commands(&self) -> u64 {
        self.workers.iter().map(|w| w.commands.get()).sum()
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Resets the counters CONFIG RESETSTAT clears.
    pub fn reset_stats(&self) {
        for w in self.workers.iter() {
            w.commands.reset();
            w.net_input.reset();
            w.net_output.reset();
            w.total_errors.reset();
            w.errors.lock().clear();
            for c in w.per_command.iter() {
                c.calls.reset();
                c.usec.reset();
                c.rejected.reset();
                c.failed.reset();
                for h in c.hist.iter() {
                    h.reset();
                }
            }
        }
        self.stats.connections_received.store(0, Ordering::Relaxed);
        self.stats.rejected_connections.store(0, Ordering::Relaxed);
        self.stats.expired_keys_active.store(0, Ordering::Relaxed);
        self.keyspace.reset_stats();
    }

    /// Starts or extends a client pause until `until` (Unix ms). A pause is
    /// never shortened, and ALL wins over WRITE while both are in effect.
    pub fn pause_clients(&self, until: i64, write_only: bool) {
        let mut p = self.pause.lock();
        let active = p.until > unix_ms();
        if active {
            p.write_only &= write_only;
            p.until = p.until.max(until);
        } else {
            *p = Pause { until, write_only };
        }
        self.pause_flag.store(true, Ordering::SeqCst);
    }

    /// Ends any client pause now and wakes the waiting connections.
    pub fn unpause_clients(&self) {
        let mut p = self.pause.lock();
        *p = Pause::default();
        self.pause_flag.store(false, Ordering::SeqCst);
        drop(p);
        self.unpaused.notify_waiters();
    }

    /// The pause in effect now, if any (clears the flag once it is over).
    pub fn current_pause(&self) -> Option<Pause> {
        if !self.pause_flag.load(Ordering::Relaxed) {
            return None;
        }
        let p = self.pause.lock();
        if p.until > unix_ms() {
            Some(*p)
        } else {
            self.pause_flag.store(false, Ordering::SeqCst);
            None
        }
    }

    /// The clients registered now (a snapshot).
    pub fn client_list(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }
}

/// 40 random hex digits (run id, replication id).
pub fn random_hex40() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap())
        .collect()
}
