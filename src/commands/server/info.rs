//! `INFO [section ...]`: Redis's sections, field names and order, built from
//! the server's counters (per-worker statistics are summed here, never on
//! the command path). Memory figures come from mimalloc's process info and
//! `/proc/self/statm`, so no allocation is ever counted on the hot path.

use super::super::{Args, Ctx};
use super::latency::command_histogram;
use crate::server::REDIS_VERSION;
use crate::server::shared::{HIST_BUCKETS, Shared};
use crate::storage::keyspace::unix_ms;
use crate::storage::keyspace::{Db, ShardStats};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Sections in the order INFO prints them, and whether `default` has them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Memory figures of the process.
pub struct MemoryInfo {
    /// Bytes in live allocations as `crate::alloc` counts them (Redis's
    /// `used_memory`); mimalloc's committed bytes when nothing is counted
    /// (not running under `ember-server`'s allocator).
    pub used: u64,
    pub peak_used: u64,
    /// Bytes mimalloc has committed: live blocks plus free blocks in its
    /// pages and pages not yet purged (`allocator_active`).
    pub committed: u64,
    /// Resident set size from `/proc/self/statm`.
    pub rss: u64,
}

/// Bytes the server has allocated now (`used_memory`).
pub fn memory_in_use() -> u64 {
    memory_info().used
}

pub fn memory_info() -> MemoryInfo {
    let mut v = [0usize; 8];
    // SAFETY: every pointer is to a live usize, as mi_process_info expects.
    unsafe {
        let [a, b, c, d, e, f, g, h] = &mut v;
        libmimalloc_sys::mi_process_info(a, b, c, d, e, f, g, h);
    }
    let rss = resident_bytes();
    let committed = if v[5] > 0 { v[5] as u64 } else { rss };
    let (used, peak_used) = match crate::alloc::sample_peak() {
        Some(used) => (used, crate::alloc::peak()),
        None => (committed, (v[6] as u64).max(committed)),
    };
    MemoryInfo {
        used,
        peak_used,
        committed,
        rss,
    }
}

fn resident_bytes() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
    pages * page
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64) * (page.max(0) as u64)
}

/// Redis's human-readable byte counts (`919.11K`, `11.68M`, `0B`).
pub fn bytes_human(n: u64) -> String {
    const UNITS: &[char] = &['K', 'M', 'G', 'T', 'P', 'E'];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut d = n as f64 / 1024.0;
    for (i, u) in UNITS.iter().enumerate() {
        if d < 1024.0 || i == UNITS.len() - 1 {
            return format!("{d:.2}{u}");
        }
        d /= 1024.0;
    }
    unreachable!()
}

fn uname() -> String {
    // SAFETY: utsname is plain data; uname fills it with NUL-terminated fields.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |s: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(s.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

/// CPU times (user, system) in seconds with microsecond digits.
fn rusage(who: libc::c_int) -> (String, String) {
    // SAFETY: rusage is plain data filled by getrusage.
    let r = unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut r);
        r
    };
    let t = |tv: libc::timeval| format!("{}.{:06}", tv.tv_sec, tv.tv_usec);
    (t(r.ru_utime), t(r.ru_stime))
}

/// A stable build id for this binary (Redis prints a hash of its build).
fn build_id() -> String {
    let d = sha1_smol::Sha1::from(concat!("ember-", env!("CARGO_PKG_VERSION")))
        .digest()
        .to_string();
    d[..15].to_string()
}

/// Percentile formatted as Redis does in latencystats (`50`, `99`, `99.9`).
fn fmt_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Upper bound (µs, 3 decimals) of the bucket holding percentile `p`.
fn percentile_usec(hist: &[u64; HIST_BUCKETS], p: f64) -> f64 {
    let total: u64 = hist.iter().sum();
    let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (k, &n) in hist.iter().enumerate() {
        seen += n;
        if seen >= want {
            return ((1u64 << (10 + k)) + (1u64 << (3 + k)) - 1) as f64 / 1000.0;
        }
    }
    0.0
}

/// Which sections a request asks for (indexes into [`SECTIONS`]).
fn wanted(args: &Args) -> [bool; SECTIONS.len()] {
    let mut want = [false; SECTIONS.len()];
    if args.len() == 1 {
        for (i, s) in SECTIONS.iter().enumerate() {
            want[i] = s.1;
        }
        return want;
    }
    for a in args.iter().skip(1) {
        let a = a.to_ascii_lowercase();
        match &a[..] {
            b"default" => {
                for (i, s) in SECTIONS.iter().enumerate() {
                    want[i] |= s.1;
                }
            }
            b"all" | b"everything" => want = [true; SECTIONS.len()],
            name => {
                if let Some(i) = SECTIONS.iter().position(|s| s.0.as_bytes() == name) {
                    want[i] = true;
                }
            }
        }
    }
    want
}

pub fn info(ctx: &mut Ctx, args: &Args) {
    let want = wanted(args);
    let mut out = String::with_capacity(4096);
    for (i, (name, _)) in SECTIONS.iter().enumerate() {
        if !want[i] {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section(ctx, name, &mut out);
    }
    ctx.out.verbatim(out.as_bytes());
}

/// Appends `name:value\r\n`.
macro_rules! field {
    ($out:expr, $name:expr, $val:expr) => {
        let _ = write!($out, "{}:{}\r\n", $name, $val);
    };
}

fn section(ctx: &mut Ctx, name: &str, out: &mut String) {
    let srv: &Shared = ctx.srv;
    let st = ctx.client.settings.clone();
    let mut title = name.to_string();
    title[..1].make_ascii_uppercase();
    match name {
        "cpu" => title = "CPU".into(),
        "commandstats" => title = "Commandstats".into(),
        _ => {}
    }
    let _ = write!(out, "# {title}\r\n");
    match name {
        "server" => {
            let now_ms = unix_ms();
            let uptime = srv.uptime_secs();
            field!(out, "redis_version", REDIS_VERSION);
            field!(out, "redis_git_sha1", "00000000");
            field!(out, "redis_git_dirty", 0);
            field!(out, "redis_build_id", build_id());
            field!(out, "redis_mode", "standalone");
            field!(out, "os", uname());
            field!(out, "arch_bits", usize::BITS);
            field!(out, "monotonic_clock", "POSIX clock_gettime");
            field!(out, "multiplexing_api", "epoll");
            field!(out, "atomicvar_api", "c11-builtin");
            field!(out, "gcc_version", "0.0.0");
            field!(out, "process_id", std::process::id());
            field!(out, "process_supervised", "no");
            field!(out, "run_id", srv.run_id);
            field!(out, "tcp_port", srv.tcp_port.load(Ordering::Relaxed));
            field!(out, "server_time_usec", now_ms * 1000);
            field!(out, "uptime_in_seconds", uptime);
            field!(out, "uptime_in_days", uptime / 86400);
            field!(out, "hz", st.hz);
            field!(out, "configured_hz", st.hz);
            field!(out, "lru_clock", srv.keyspace.lru_clock());
            field!(out, "executable", srv.executable);
            let file = srv
                .config
                .config_file()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            field!(out, "config_file", file);
            field!(out, "io_threads_active", 0);
        }
        "clients" => {
            let clients = srv.client_list();
            let max_in = clients
                .iter()
                .map(|c| c.qbuf.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0);
            let max_out = clients
                .iter()
                .map(|c| crate::server::outlimit::split(c.pending_output()).2)
                .max()
                .unwrap_or(0);
            field!(
                out,
                "connected_clients",
                srv.stats.connected_clients.load(Ordering::Relaxed)
            );
            field!(out, "cluster_connections", 0);
            field!(out, "maxclients", st.maxclients);
            field!(out, "client_recent_max_input_buffer", max_in);
            field!(out, "client_recent_max_output_buffer", max_out);
            let blocked = clients
                .iter()
                .filter(|c| {
                    c.blocked.load(Ordering::Relaxed) == crate::server::client::BLOCKED_COMMAND
                })
                .count();
            field!(out, "blocked_clients", blocked);
            field!(out, "tracking_clients", 0);
            field!(out, "clients_in_timeout_table", 0);
        }
        "memory" => {
            let table_bytes = keyspace_table_bytes(ctx.db);
            memory_section(srv, &st, table_bytes, out)
        }
        "persistence" => {
            let zeros = [
                "loading",
                "async_loading",
                "current_cow_peak",
                "current_cow_size",
                "current_cow_size_age",
            ];
            for z in zeros {
                field!(out, z, 0);
            }
            field!(out, "current_fork_perc", "0.00");
            let (keys_done, keys_total, bg_running, bg_last, bg_current) = srv.bgsave.info();
            field!(out, "current_save_keys_processed", keys_done);
            field!(out, "current_save_keys_total", keys_total);
            field!(
                out,
                "rdb_changes_since_last_save",
                srv.dirty.load(Ordering::Relaxed)
            );
            // A replica's full sync counts, as Redis's replication child.
            let bg_running = bg_running.max(srv.repl.jobs.active() as u8);
            field!(out, "rdb_bgsave_in_progress", bg_running);
            field!(
                out,
                "rdb_last_save_time",
                srv.lastsave.load(Ordering::Relaxed)
            );
            let status = if srv.last_save_ok.load(Ordering::Relaxed) {
                "ok"
            } else {
                "err"
            };
            field!(out, "rdb_last_bgsave_status", status);
            field!(out, "rdb_last_bgsave_time_sec", bg_last);
            field!(out, "rdb_current_bgsave_time_sec", bg_current);
            field!(out, "rdb_saves", srv.rdb_saves.load(Ordering::Relaxed));
            field!(out, "rdb_last_cow_size", 0);
            field!(
                out,
                "rdb_last_load_keys_expired",
                srv.last_load_expired.load(Ordering::Relaxed)
            );
            field!(
                out,
                "rdb_last_load_keys_loaded",
                srv.last_load_loaded.load(Ordering::Relaxed)
            );
            let (aof_head, aof_tail) = srv.aof.info_fields();
            for (k, v) in aof_head {
                field!(out, k, v);
            }
            field!(out, "module_fork_in_progress", 0);
            field!(out, "module_fork_last_cow_size", 0);
            for (k, v) in aof_tail {
                field!(out, k, v);
            }
        }
        "stats" => {
            let ks = shard_stats(ctx.db);
            stats_section(srv, ks, out)
        }
        "replication" => {
            for (k, v) in crate::replication::info_fields(srv, &st) {
                field!(out, k, v);
            }
        }
        "cpu" => {
            let (u, s) = rusage(libc::RUSAGE_SELF);
            let (cu, cs) = rusage(libc::RUSAGE_CHILDREN);
            let (tu, ts) = rusage(libc::RUSAGE_THREAD);
            field!(out, "used_cpu_sys", s);
            field!(out, "used_cpu_user", u);
            field!(out, "used_cpu_sys_children", cs);
            field!(out, "used_cpu_user_children", cu);
            field!(out, "used_cpu_sys_main_thread", ts);
            field!(out, "used_cpu_user_main_thread", tu);
        }
        "modules" => {}
        "commandstats" => {
            for (id, def) in srv.table.all().iter().enumerate() {
                let (mut calls, mut usec, mut rejected, mut failed) = (0, 0, 0, 0);
                for w in srv.workers.iter() {
                    let c = &w.per_command[id];
                    calls += c.calls.get();
                    usec += c.usec.get();
                    rejected += c.rejected.get();
                    failed += c.failed.get();
                }
                if calls == 0 && rejected == 0 && failed == 0 {
                    continue;
                }
                let per_call = if calls == 0 {
                    0.0
                } else {
                    usec as f64 / calls as f64
                };
                let _ = write!(
                    out,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},\
                     rejected_calls={rejected},failed_calls={failed}\r\n",
                    def.name
                );
            }
        }
        "errorstats" => {
            let mut all: std::collections::BTreeMap<String, u64> = Default::default();
            for w in srv.workers.iter() {
                for (code, n) in w.errors.lock().iter() {
                    *all.entry(code.clone()).or_insert(0) += n;
                }
            }
            for (code, n) in all {
                let _ = write!(out, "errorstat_{code}:count={n}\r\n");
            }
        }
        "latencystats" => {
            for (id, def) in srv.table.all().iter().enumerate() {
                let h = command_histogram(srv, id);
                if h.iter().all(|&n| n == 0) {
                    continue;
                }
                let _ = write!(out, "latency_percentiles_usec_{}:", def.name);
                for (i, p) in [50.0, 99.0, 99.9].into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "p{}={:.3}", fmt_percentile(p), percentile_usec(&h, p));
                }
                out.push_str("\r\n");
            }
        }
        "cluster" => {
            field!(out, "cluster_enabled", 0);
        }
        "keyspace" => {
            let now = unix_ms();
            for (db, (keys, expires, avg_ttl)) in keyspace_summary(ctx.db, now).iter().enumerate() {
                if *keys > 0 {
                    let _ = write!(
                        out,
                        "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
                    );
                }
            }
        }
        _ => {}
    }
}

/// Keys with a TTL looked at per shard and database to estimate `avg_ttl`
/// (Redis also reports an estimate, from its expiry sampling).
const TTL_SAMPLE: usize = 64;

/// Per database: (keys, keys with a TTL, average remaining TTL in ms over
/// a bounded sample of the keys with a TTL).
/// Every shard must be locked (INFO is declared with `Keys::All`, so it
/// also works inside EXEC, which holds them all).
pub fn keyspace_summary(db: &mut Db, now: i64) -> Vec<(usize, usize, i64)> {
    let ndb = db.keyspace().databases();
    let mut out = vec![(0usize, 0usize, 0i64); ndb];
    let mut ttl_sum = vec![(0i128, 0i64); ndb];
    for g in db.shards_mut() {
        for (db, t) in g.dbs.iter().enumerate() {
            out[db].0 += t.main.len();
            out[db].1 += t.expires.len();
            if t.expires.is_empty() {
                continue;
            }
            let mut cursor = 0;
            let mut seen = 0;
            loop {
                cursor = t.expires.scan(cursor, |_, &at| {
                    if seen < TTL_SAMPLE {
                        seen += 1;
                        if at > now {
                            ttl_sum[db].0 += (at - now) as i128;
                            ttl_sum[db].1 += 1;
                        }
                    }
                });
                if cursor == 0 || seen >= TTL_SAMPLE {
                    break;
                }
            }
        }
    }
    for (db, (sum, n)) in ttl_sum.into_iter().enumerate() {
        if n > 0 {
            out[db].2 = (sum / n as i128) as i64;
        }
    }
    out
}

/// Bytes of the keyspace's hash tables (part of `used_memory_overhead`).
fn keyspace_table_bytes(db: &mut Db) -> u64 {
    let mut n = 0;
    for g in db.shards_mut() {
        for t in g.dbs.iter() {
            n += (t.main.heap_bytes() + t.expires.heap_bytes()) as u64;
        }
    }
    n
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "0.00".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

fn memory_section(srv: &Shared, st: &crate::config::Settings, table_bytes: u64, out: &mut String) {
    let m = memory_info();
    let used = m.used;
    let peak = m.peak_used.max(used);
    let startup = srv.used_memory_startup.min(used);
    let clients_mem: u64 = srv
        .client_list()
        .iter()
        .map(|c| (c.qbuf.load(Ordering::Relaxed) + c.pending_output()) as u64)
        .sum();
    let overhead = (startup + table_bytes + clients_mem).min(used);
    let dataset = used - overhead;
    let net = used.saturating_sub(startup);
    // SAFETY: mi_version has no preconditions.
    let version = unsafe { libmimalloc_sys::mi_version() };
    let sys = total_system_memory();
    field!(out, "used_memory", used);
    field!(out, "used_memory_human", bytes_human(used));
    field!(out, "used_memory_rss", m.rss);
    field!(out, "used_memory_rss_human", bytes_human(m.rss));
    field!(out, "used_memory_peak", peak);
    field!(out, "used_memory_peak_human", bytes_human(peak));
    field!(
        out,
        "used_memory_peak_perc",
        format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64)
    );
    field!(out, "used_memory_overhead", overhead);
    field!(out, "used_memory_startup", startup);
    field!(out, "used_memory_dataset", dataset);
    field!(
        out,
        "used_memory_dataset_perc",
        format!("{:.2}%", dataset as f64 * 100.0 / net.max(1) as f64)
    );
    field!(out, "allocator_allocated", used);
    field!(out, "allocator_active", m.committed);
    field!(out, "allocator_resident", m.rss);
    field!(out, "total_system_memory", sys);
    field!(out, "total_system_memory_human", bytes_human(sys));
    // The Lua interpreter of EVAL (no functions engine).
    let lua = srv.scripts.lua_memory();
    let scripts = srv.scripts.cached_bytes();
    field!(out, "used_memory_lua", lua);
    field!(out, "used_memory_vm_eval", lua);
    field!(out, "used_memory_lua_human", bytes_human(lua as u64));
    field!(out, "used_memory_scripts_eval", scripts);
    field!(out, "number_of_cached_scripts", srv.scripts.cached());
    for z in [
        "number_of_functions",
        "number_of_libraries",
        "used_memory_vm_functions",
    ] {
        field!(out, z, 0);
    }
    field!(out, "used_memory_vm_total", lua);
    field!(out, "used_memory_vm_total_human", bytes_human(lua as u64));
    field!(out, "used_memory_functions", 0);
    field!(out, "used_memory_scripts", scripts);
    field!(
        out,
        "used_memory_scripts_human",
        bytes_human(scripts as u64)
    );
    field!(out, "maxmemory", st.maxmemory);
    field!(out, "maxmemory_human", bytes_human(st.maxmemory));
    field!(out, "maxmemory_policy", policy_name(srv));
    field!(out, "allocator_frag_ratio", ratio(m.committed, used));
    field!(
        out,
        "allocator_frag_bytes",
        m.committed as i64 - used as i64
    );
    field!(out, "allocator_rss_ratio", ratio(m.rss, m.committed));
    field!(
        out,
        "allocator_rss_bytes",
        m.rss as i64 - m.committed as i64
    );
    field!(out, "rss_overhead_ratio", "1.00");
    field!(out, "rss_overhead_bytes", 0);
    field!(out, "mem_fragmentation_ratio", ratio(m.rss, used));
    field!(out, "mem_fragmentation_bytes", m.rss as i64 - used as i64);
    field!(
        out,
        "mem_not_counted_for_evict",
        srv.keyspace.feed.uncounted_bytes()
    );
    field!(out, "mem_replication_backlog", 0);
    field!(out, "mem_total_replication_buffers", 0);
    field!(out, "mem_clients_slaves", 0);
    field!(out, "mem_clients_normal", clients_mem);
    field!(out, "mem_cluster_links", 0);
    field!(out, "mem_aof_buffer", srv.keyspace.feed.aof_buffer_bytes());
    // mimalloc 3 numbers versions as major*10000 + minor*100 + patch,
    // older ones as major*100 + minor*10 + patch.
    let (major, minor, patch) = if version >= 10000 {
        (version / 10000, (version / 100) % 100, version % 100)
    } else {
        (version / 100, (version / 10) % 10, version % 10)
    };
    field!(
        out,
        "mem_allocator",
        format!("mimalloc-{major}.{minor}.{patch}")
    );
    field!(out, "active_defrag_running", 0);
    field!(out, "lazyfree_pending_objects", 0);
    field!(out, "lazyfreed_objects", 0);
}

fn policy_name(srv: &Shared) -> String {
    srv.config
        .get(&[b"maxmemory-policy"])
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// Sum of the locked shards' counters.
fn shard_stats(db: &mut Db) -> ShardStats {
    let mut total = ShardStats::default();
    for g in db.shards_mut() {
        total.expired_keys += g.stats.expired_keys;
        total.keyspace_hits += g.stats.keyspace_hits;
        total.keyspace_misses += g.stats.keyspace_misses;
        total.expired_stale_perc_sum += g.stats.expired_stale_perc_sum;
    }
    total
}

fn stats_section(srv: &Shared, ks: ShardStats, out: &mut String) {
    let sum = |f: fn(&crate::server::shared::WorkerStats) -> u64| -> u64 {
        srv.workers.iter().map(f).sum()
    };
    let kbps = |m: &parking_lot::Mutex<crate::server::shared::InstantMetric>| {
        format!("{:.2}", m.lock().value() as f64 / 1024.0)
    };
    field!(
        out,
        "total_connections_received",
        srv.stats.connections_received.load(Ordering::Relaxed)
    );
    field!(out, "total_commands_processed", srv.total_commands());
    field!(
        out,
        "instantaneous_ops_per_sec",
        srv.stats.ops_per_sec.lock().value()
    );
    field!(out, "total_net_input_bytes", sum(|w| w.net_input.get()));
    field!(out, "total_net_output_bytes", sum(|w| w.net_output.get()));
    field!(out, "total_net_repl_input_bytes", 0);
    field!(out, "total_net_repl_output_bytes", 0);
    field!(out, "instantaneous_input_kbps", kbps(&srv.stats.input_kbps));
    field!(
        out,
        "instantaneous_output_kbps",
        kbps(&srv.stats.output_kbps)
    );
    field!(out, "instantaneous_input_repl_kbps", "0.00");
    field!(out, "instantaneous_output_repl_kbps", "0.00");
    field!(
        out,
        "rejected_connections",
        srv.stats.rejected_connections.load(Ordering::Relaxed)
    );
    let r = &srv.repl;
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    field!(out, "sync_full", r.sync_full.load(relaxed));
    field!(out, "sync_partial_ok", r.sync_partial_ok.load(relaxed));
    field!(out, "sync_partial_err", r.sync_partial_err.load(relaxed));
    field!(out, "expired_keys", ks.expired_keys);
    field!(out, "expired_stale_perc", "0.00");
    field!(out, "expired_time_cap_reached_count", 0);
    field!(out, "expire_cycle_cpu_milliseconds", 0);
    let ev = &srv.keyspace.evict;
    field!(out, "evicted_keys", ev.evicted_keys());
    field!(out, "evicted_clients", 0);
    let (total, current) = ev.exceeded_times(crate::storage::keyspace::unix_ms() as u64);
    field!(out, "total_eviction_exceeded_time", total);
    field!(out, "current_eviction_exceeded_time", current);
    field!(out, "keyspace_hits", ks.keyspace_hits);
    field!(out, "keyspace_misses", ks.keyspace_misses);
    for z in [
        "pubsub_channels",
        "pubsub_patterns",
        "pubsubshard_channels",
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
        "tracking_total_keys",
        "tracking_total_items",
        "tracking_total_prefixes",
        "unexpected_error_replies",
    ] {
        field!(out, z, 0);
    }
    field!(out, "total_error_replies", sum(|w| w.total_errors.get()));
    field!(out, "dump_payload_sanitizations", 0);
    field!(out, "io_threaded_reads_processed", 0);
    field!(out, "io_threaded_writes_processed", 0);
    field!(out, "reply_buffer_shrinks", 0);
    field!(out, "reply_buffer_expands", 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_as_redis() {
        assert_eq!(bytes_human(0), "0B");
        assert_eq!(bytes_human(1023), "1023B");
        assert_eq!(bytes_human(941168), "919.11K");
        assert_eq!(bytes_human(12247040), "11.68M");
        assert_eq!(bytes_human(25276514304), "23.54G");
    }

    #[test]
    fn percentiles() {
        assert_eq!(fmt_percentile(50.0), "50");
        assert_eq!(fmt_percentile(99.9), "99.9");
        let mut h = [0u64; HIST_BUCKETS];
        h[3] = 99; // ≤ 8 µs
        h[10] = 1; // ≤ 1056 µs
        assert_eq!(percentile_usec(&h, 50.0), 8.255);
        assert_eq!(percentile_usec(&h, 99.0), 8.255);
        assert_eq!(percentile_usec(&h, 99.9), 1056.767);
    }

    #[test]
    fn memory_is_measured() {
        let m = memory_info();
        assert!(m.rss > 0);
        assert!(memory_in_use() > 0);
    }
}
