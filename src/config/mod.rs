//! Configuration: every redis.conf directive, parsing, CONFIG GET/SET/REWRITE.
//!
//! [`Config`] owns the current value of every directive listed in
//! [`directives`] (the one table), loads them from `redis-server` style
//! arguments and files, and answers CONFIG GET/SET/REWRITE with Redis's
//! wording. The server reads typed values through [`Settings`] snapshots:
//! `settings()` is a cheap `Arc` clone and `version()` tells a hot path when
//! its cached snapshot is stale.

mod directives;
use crate::util::glob;
mod parse;
mod rewrite;
mod value;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use directives::{
    DEPRECATED, DIRECTIVES, Directive, IMMUTABLE, Kind, MULTI_ARG, PROTECTED, idx, lookup,
};
pub use parse::split_args;
use value::Value;

/// The first line of every fatal config error, as Redis 7.0.15 prints it.
const FATAL_HEADER: &str = "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***";

/// `loglevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    Always,
    EverySec,
    No,
}

/// `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxmemoryPolicy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

/// `enable-debug-command` / `enable-protected-configs`: no, yes, or only
/// for connections from the local host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtectedAccess {
    No,
    Yes,
    Local,
}

impl ProtectedAccess {
    /// Whether a client (local or not) may use the protected feature.
    pub fn allows(self, client_is_local: bool) -> bool {
        match self {
            ProtectedAccess::No => false,
            ProtectedAccess::Yes => true,
            ProtectedAccess::Local => client_is_local,
        }
    }
}

/// One class of `client-output-buffer-limit`; zero means no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

/// Typed values the server reads; one field per directive Ember implements
/// now or soon. An immutable snapshot: a CONFIG SET makes a new one.
#[derive(Clone, Debug)]
pub struct Settings {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub unixsocket: Option<String>,
    pub unixsocketperm: u32,
    pub tcp_backlog: u32,
    pub tcp_keepalive: u64,
    pub timeout: u64,
    pub requirepass: Option<Vec<u8>>,
    pub databases: usize,
    pub maxclients: usize,
    pub daemonize: bool,
    /// `disable-thp`: turn transparent huge pages off for the process.
    pub disable_thp: bool,
    pub pidfile: Option<String>,
    pub loglevel: LogLevel,
    pub logfile: String,
    /// Absolute working directory (the process has already changed into it).
    pub dir: String,
    pub dbfilename: String,
    /// (seconds, changes) pairs; empty = no automatic snapshots.
    pub save: Vec<(u64, u64)>,
    pub appendonly: bool,
    pub appendfilename: String,
    pub appenddirname: String,
    pub appendfsync: AppendFsync,
    pub hz: u32,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: MaxmemoryPolicy,
    pub maxmemory_samples: u32,
    pub maxmemory_eviction_tenacity: u32,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// `replica-ignore-maxmemory`: a replica leaves eviction to its primary.
    pub replica_ignore_maxmemory: bool,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub latency_monitor_threshold: u64,
    pub enable_debug_command: ProtectedAccess,
    pub enable_protected_configs: ProtectedAccess,
    /// As Redis shows it in CONFIG GET (e.g. "AKE", "" when off).
    pub notify_keyspace_events: String,
    /// The same as flag bits (`storage::notify`).
    pub notify_flags: u32,
    /// normal, replica, pubsub.
    pub client_output_buffer_limit: [OutputLimit; 3],
    pub list_max_listpack_size: i64,
    pub list_compress_depth: u64,
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub stream_node_max_bytes: u64,
    pub stream_node_max_entries: u64,
    /// `hll-sparse-max-bytes`: longest sparse HyperLogLog before it turns
    /// dense.
    pub hll_sparse_max_bytes: u64,
    pub active_expire_effort: u32,
    /// `rdb-key-save-delay` (hidden, tests): microseconds a background
    /// save sleeps per key written.
    pub rdb_key_save_delay: i64,
    /// `stop-writes-on-bgsave-error`: writes answer MISCONF after a failed
    /// background save (with save points configured).
    pub stop_writes_on_bgsave_error: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    /// Redis's `io-threads` as given (accepted for compatibility).
    pub io_threads: usize,
    /// Ember's worker thread count from `server-threads`, with 0 resolved to
    /// the number of cores available to the process.
    pub server_threads: usize,
    /// Ember's `busy-poll-usecs`.
    pub busy_poll_usecs: u64,
    /// `busy-reply-threshold` (alias `lua-time-limit`), in ms.
    pub busy_reply_threshold: u64,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub aof_use_rdb_preamble: bool,
    pub aof_load_truncated: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub repl_backlog_size: u64,
    pub replicaof: Option<(String, u16)>,
    pub masterauth: Option<Vec<u8>>,
    pub replica_read_only: bool,
    pub masteruser: Option<Vec<u8>>,
    pub replica_serve_stale_data: bool,
    pub repl_backlog_ttl: u64,
    pub repl_diskless_sync: bool,
    pub repl_diskless_sync_delay: u64,
    pub repl_ping_replica_period: u64,
    pub repl_timeout: u64,
    pub min_replicas_to_write: u64,
    pub min_replicas_max_lag: u64,
    pub replica_announce_ip: Option<String>,
    pub replica_announce_port: u16,
    pub replica_priority: u64,
    pub replica_announced: bool,
}

/// Called after a CONFIG SET changed a directive, with the new settings; an
/// error cancels the whole CONFIG SET (every value goes back). Runs under the
/// config lock: it must not call back into [`Config`].
pub type ApplyHook = Box<dyn Fn(&Settings) -> Result<(), String> + Send + Sync>;

/// Everything behind the lock.
struct State {
    values: Vec<Value>,
    /// Directive set explicitly by the user (file or command line).
    user_set: Vec<bool>,
    file: Option<PathBuf>,
    renames: Vec<(String, String)>,
    users: Vec<Vec<String>>,
    modules: Vec<Vec<String>>,
    /// Config-file-only or deprecated directives seen, ignored by Ember.
    ignored_extra: Vec<String>,
}

/// The server's configuration, shared as `Arc<Config>`.
pub struct Config {
    state: Mutex<State>,
    snapshot: Mutex<Arc<Settings>>,
    version: AtomicU64,
    hooks: Mutex<Vec<(usize, ApplyHook)>>,
    /// Change the process working directory for `dir` (false only in tests).
    chdir: bool,
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// The C library's text for an OS error (no " (os error N)" suffix).
fn strerror(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            // SAFETY: strerror returns a valid NUL-terminated string for any code.
            let text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) };
            text.to_string_lossy().into_owned()
        }
        None => err.to_string(),
    }
}

fn default_values() -> Vec<Value> {
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    DIRECTIVES.iter().map(|d| default_value(d, &cwd)).collect()
}

fn default_value(d: &Directive, cwd: &str) -> Value {
    if let Kind::Dir = d.kind {
        return Value::Dir(cwd.to_string());
    }
    let seed = match d.kind {
        Kind::ClientOutputBufferLimit => Value::Cobl([OutputLimit::default(); 3]),
        _ => Value::Bool(false),
    };
    let args = if d.has(MULTI_ARG) {
        parse::split_spaces(d.default.as_bytes())
    } else {
        vec![d.default.as_bytes().to_vec()]
    };
    value::parse(d, &args, &seed).unwrap_or_else(|e| panic!("bad default for {}: {e}", d.name))
}

/// The defaults, parsed once.
fn defaults() -> &'static [Value] {
    static DEFAULTS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    DEFAULTS.get_or_init(|| DIRECTIVES.iter().map(|d| default_value(d, "")).collect())
}

fn build_settings(values: &[Value]) -> Settings {
    let int = |name: &str| match &values[idx(name)] {
        Value::Int(n) => *n,
        other => unreachable!("{name} is not an integer: {other:?}"),
    };
    let u64v = |name: &str| u64::try_from(int(name)).unwrap_or(0);
    let boolean = |name: &str| matches!(values[idx(name)], Value::Bool(true));
    let bytes = |name: &str| match &values[idx(name)] {
        Value::Str(s) => s.clone(),
        other => unreachable!("{name} is not a string: {other:?}"),
    };
    let text = |name: &str| bytes(name).map(|b| lossy(&b));
    let word = |name: &str| match &values[idx(name)] {
        Value::Enum(e) => *e,
        other => unreachable!("{name} is not an enum: {other:?}"),
    };
    let access = |name: &str| match word(name) {
        1 => ProtectedAccess::Yes,
        2 => ProtectedAccess::Local,
        _ => ProtectedAccess::No,
    };
    let threads = u64v("server-threads") as usize;
    let server_threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    Settings {
        port: int("port") as u16,
        bind: match &values[idx("bind")] {
            Value::Bind(b) => b.clone(),
            _ => unreachable!(),
        },
        protected_mode: boolean("protected-mode"),
        unixsocket: text("unixsocket"),
        unixsocketperm: int("unixsocketperm") as u32,
        tcp_backlog: int("tcp-backlog") as u32,
        tcp_keepalive: u64v("tcp-keepalive"),
        timeout: u64v("timeout"),
        requirepass: bytes("requirepass"),
        databases: int("databases") as usize,
        maxclients: int("maxclients") as usize,
        daemonize: boolean("daemonize"),
        disable_thp: boolean("disable-thp"),
        pidfile: text("pidfile"),
        loglevel: match word("loglevel") {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            2 => LogLevel::Notice,
            _ => LogLevel::Warning,
        },
        logfile: text("logfile").unwrap_or_default(),
        dir: match &values[idx("dir")] {
            Value::Dir(d) => d.clone(),
            _ => unreachable!(),
        },
        dbfilename: text("dbfilename").unwrap_or_default(),
        save: match &values[idx("save")] {
            Value::Save(s) => s.clone(),
            _ => unreachable!(),
        },
        appendonly: boolean("appendonly"),
        appendfilename: text("appendfilename").unwrap_or_default(),
        appenddirname: text("appenddirname").unwrap_or_default(),
        appendfsync: match word("appendfsync") {
            0 => AppendFsync::Always,
            1 => AppendFsync::EverySec,
            _ => AppendFsync::No,
        },
        hz: int("hz") as u32,
        proto_max_bulk_len: u64v("proto-max-bulk-len"),
        client_query_buffer_limit: u64v("client-query-buffer-limit"),
        maxmemory: u64v("maxmemory"),
        maxmemory_policy: match word("maxmemory-policy") {
            0 => MaxmemoryPolicy::VolatileLru,
            1 => MaxmemoryPolicy::VolatileLfu,
            2 => MaxmemoryPolicy::VolatileRandom,
            3 => MaxmemoryPolicy::VolatileTtl,
            4 => MaxmemoryPolicy::AllkeysLru,
            5 => MaxmemoryPolicy::AllkeysLfu,
            6 => MaxmemoryPolicy::AllkeysRandom,
            _ => MaxmemoryPolicy::NoEviction,
        },
        maxmemory_samples: int("maxmemory-samples") as u32,
        maxmemory_eviction_tenacity: int("maxmemory-eviction-tenacity") as u32,
        lfu_log_factor: int("lfu-log-factor") as u32,
        lfu_decay_time: int("lfu-decay-time") as u32,
        replica_ignore_maxmemory: boolean("replica-ignore-maxmemory"),
        slowlog_log_slower_than: int("slowlog-log-slower-than") as i64,
        slowlog_max_len: u64v("slowlog-max-len"),
        latency_monitor_threshold: u64v("latency-monitor-threshold"),
        enable_debug_command: access("enable-debug-command"),
        enable_protected_configs: access("enable-protected-configs"),
        notify_keyspace_events: match &values[idx("notify-keyspace-events")] {
            Value::Events(e) => value::format_events(*e),
            _ => unreachable!(),
        },
        notify_flags: match &values[idx("notify-keyspace-events")] {
            Value::Events(e) => *e,
            _ => unreachable!(),
        },
        client_output_buffer_limit: match &values[idx("client-output-buffer-limit")] {
            Value::Cobl(c) => *c,
            _ => unreachable!(),
        },
        list_max_listpack_size: int("list-max-listpack-size") as i64,
        list_compress_depth: u64v("list-compress-depth"),
        hash_max_listpack_entries: u64v("hash-max-listpack-entries"),
        hash_max_listpack_value: u64v("hash-max-listpack-value"),
        set_max_intset_entries: u64v("set-max-intset-entries"),
        zset_max_listpack_entries: u64v("zset-max-listpack-entries"),
        zset_max_listpack_value: u64v("zset-max-listpack-value"),
        stream_node_max_bytes: u64v("stream-node-max-bytes"),
        stream_node_max_entries: u64v("stream-node-max-entries"),
        hll_sparse_max_bytes: u64v("hll-sparse-max-bytes"),
        active_expire_effort: int("active-expire-effort") as u32,
        rdb_key_save_delay: int("rdb-key-save-delay") as i64,
        stop_writes_on_bgsave_error: boolean("stop-writes-on-bgsave-error"),
        lazyfree_lazy_user_del: boolean("lazyfree-lazy-user-del"),
        lazyfree_lazy_user_flush: boolean("lazyfree-lazy-user-flush"),
        io_threads: int("io-threads") as usize,
        server_threads,
        busy_poll_usecs: u64v("busy-poll-usecs"),
        busy_reply_threshold: u64v("busy-reply-threshold"),
        rdbcompression: boolean("rdbcompression"),
        rdbchecksum: boolean("rdbchecksum"),
        aof_use_rdb_preamble: boolean("aof-use-rdb-preamble"),
        aof_load_truncated: boolean("aof-load-truncated"),
        auto_aof_rewrite_percentage: u64v("auto-aof-rewrite-percentage"),
        auto_aof_rewrite_min_size: u64v("auto-aof-rewrite-min-size"),
        repl_backlog_size: u64v("repl-backlog-size"),
        replicaof: match &values[idx("replicaof")] {
            Value::ReplicaOf(r) => r.clone(),
            _ => unreachable!(),
        },
        masterauth: bytes("masterauth"),
        replica_read_only: boolean("replica-read-only"),
        masteruser: bytes("masteruser"),
        replica_serve_stale_data: boolean("replica-serve-stale-data"),
        repl_backlog_ttl: u64v("repl-backlog-ttl"),
        repl_diskless_sync: boolean("repl-diskless-sync"),
        repl_diskless_sync_delay: u64v("repl-diskless-sync-delay"),
        repl_ping_replica_period: u64v("repl-ping-replica-period"),
        repl_timeout: u64v("repl-timeout"),
        min_replicas_to_write: u64v("min-replicas-to-write"),
        min_replicas_max_lag: u64v("min-replicas-max-lag"),
        replica_announce_ip: bytes("replica-announce-ip")
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        replica_announce_port: u64v("replica-announce-port") as u16,
        replica_priority: u64v("replica-priority"),
        replica_announced: boolean("replica-announced"),
    }
}

/// Enter `dir` (or, without chdir, check it is a directory) and return the
/// absolute path to store.
fn enter_dir(path: &str, chdir: bool) -> Result<String, String> {
    if chdir {
        std::env::set_current_dir(path).map_err(|e| strerror(&e))?;
        let cwd = std::env::current_dir().map_err(|e| strerror(&e))?;
        Ok(cwd.to_string_lossy().into_owned())
    } else {
        let meta = std::fs::metadata(path).map_err(|e| strerror(&e))?;
        if !meta.is_dir() {
            return Err(strerror(&std::io::Error::from_raw_os_error(libc::ENOTDIR)));
        }
        let abs = std::fs::canonicalize(path).map_err(|e| strerror(&e))?;
        Ok(abs.to_string_lossy().into_owned())
    }
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "Fatal error, can't open config file '{path}': {}",
            strerror(&e)
        )
    })
}

/// Loads config text into a state, line by line, as redis-server does.
struct Loader<'a> {
    state: &'a mut State,
    chdir: bool,
    save_seen: bool,
    depth: usize,
}

impl Loader<'_> {
    fn load_text(&mut self, text: &[u8]) -> Result<(), String> {
        for (n, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = parse::trim_line(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            self.load_line(line).map_err(|reason| {
                if reason.starts_with("Fatal error") || reason.starts_with('\n') {
                    // Already a complete message from an included file.
                    reason
                } else {
                    format!(
                        "\n{FATAL_HEADER}\nReading the configuration file, at line {}\n>>> '{}'\n{reason}",
                        n + 1,
                        lossy(line)
                    )
                }
            })?;
        }
        Ok(())
    }

    fn load_line(&mut self, line: &[u8]) -> Result<(), String> {
        let argv = split_args(line).ok_or("Unbalanced quotes in configuration line")?;
        if argv.is_empty() {
            return Ok(());
        }
        let name = lossy(&argv[0]).to_ascii_lowercase();
        let argc = argv.len();
        if let Some(i) = lookup(&name) {
            let dir = &DIRECTIVES[i];
            let args = if dir.has(MULTI_ARG) {
                if argc == 2 && !argv[1].is_empty() {
                    parse::split_spaces(&argv[1])
                } else {
                    argv[1..].to_vec()
                }
            } else {
                if argc != 2 {
                    return Err("wrong number of arguments".into());
                }
                vec![argv[1].clone()]
            };
            let mut new = value::parse(dir, &args, &self.state.values[i])?;
            match (&mut new, &self.state.values[i]) {
                (Value::Save(list), Value::Save(old)) if self.save_seen && !list.is_empty() => {
                    let mut all = old.clone();
                    all.append(list);
                    *list = all;
                }
                (Value::Dir(path), _) => *path = enter_dir(path, self.chdir)?,
                _ => {}
            }
            if let Value::Save(_) = new {
                self.save_seen = true;
            }
            self.state.values[i] = new;
            self.state.user_set[i] = true;
            return Ok(());
        }
        if DEPRECATED.iter().any(|(n, c)| *n == name && *c == argc) {
            self.note_ignored(&name);
            return Ok(());
        }
        let strs = || argv[1..].iter().map(|a| lossy(a)).collect::<Vec<_>>();
        match name.as_str() {
            "include" if argc == 2 => self.include(&lossy(&argv[1])),
            "rename-command" if argc == 3 => {
                self.state.renames.push((lossy(&argv[1]), lossy(&argv[2])));
                Ok(())
            }
            "user" if argc >= 2 => {
                self.state.users.push(strs());
                self.note_ignored("user");
                Ok(())
            }
            "loadmodule" if argc >= 2 => {
                self.state.modules.push(strs());
                self.note_ignored("loadmodule");
                Ok(())
            }
            "sentinel" => Err("sentinel directive while not in sentinel mode".into()),
            _ => Err("Bad directive or wrong number of arguments".into()),
        }
    }

    fn note_ignored(&mut self, name: &str) {
        if !self.state.ignored_extra.iter().any(|n| n == name) {
            self.state.ignored_extra.push(name.to_string());
        }
    }

    fn include(&mut self, path: &str) -> Result<(), String> {
        if self.depth > 32 {
            return Err("Too many nested include directives".into());
        }
        let files = if path.contains(['*', '?', '[']) {
            let p = Path::new(path);
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let pattern = p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut found: Vec<String> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter(|e| {
                            glob::glob_match(
                                pattern.as_bytes(),
                                e.file_name().as_encoded_bytes(),
                                false,
                            )
                        })
                        .map(|e| e.path().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            found
        } else {
            vec![path.to_string()]
        };
        for file in files {
            let text = read_file(&file)?;
            self.depth += 1;
            let result = self.load_text(&text);
            self.depth -= 1;
            result?;
        }
        Ok(())
    }
}

impl Default for Config {
    /// Every directive at its default; `dir` is the current directory.
    fn default() -> Config {
        Config::from_state(Config::empty_state(), true)
    }
}

impl Config {
    fn empty_state() -> State {
        State {
            values: default_values(),
            user_set: vec![false; DIRECTIVES.len()],
            file: None,
            renames: Vec::new(),
            users: Vec::new(),
            modules: Vec::new(),
            ignored_extra: Vec::new(),
        }
    }

    fn from_state(state: State, chdir: bool) -> Config {
        let settings = Arc::new(build_settings(&state.values));
        Config {
            state: Mutex::new(state),
            snapshot: Mutex::new(settings),
            version: AtomicU64::new(1),
            hooks: Mutex::new(Vec::new()),
            chdir,
        }
    }

    /// Build from argv without the program name, as redis-server gets it:
    /// an optional config file (`-` or a trailing `-` reads stdin too), then
    /// `--name value...` overrides. `Err` is the complete message to print
    /// on stderr before exiting with status 1.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        Config::load(args, true, None)
    }

    /// The loader behind [`Config::from_args`]; `stdin` replaces the real
    /// standard input, `chdir` = false leaves the working directory alone.
    fn load(args: &[String], chdir: bool, stdin: Option<&[u8]>) -> Result<Config, String> {
        let cl = parse::parse_command_line(args);
        let mut state = Config::empty_state();
        let mut text = Vec::new();
        if let Some(file) = &cl.file {
            text = read_file(file)?;
            // Keep an absolute path: `dir` may change the working directory.
            let abs = std::fs::canonicalize(file).unwrap_or_else(|_| PathBuf::from(file));
            state.file = Some(abs);
        }
        if cl.stdin {
            match stdin {
                Some(data) => text.extend_from_slice(data),
                None => {
                    std::io::stdin().read_to_end(&mut text).map_err(|e| {
                        format!("Failed reading config from stdin: {}", strerror(&e))
                    })?;
                }
            }
        }
        text.push(b'\n');
        text.extend_from_slice(cl.options.as_bytes());
        let mut loader = Loader {
            state: &mut state,
            chdir,
            save_seen: false,
            depth: 0,
        };
        loader.load_text(&text)?;
        Ok(Config::from_state(state, chdir))
    }

    /// The current typed settings (an `Arc` clone; never blocks for long).
    pub fn settings(&self) -> Arc<Settings> {
        self.snapshot.lock().clone()
    }

    /// Bumped on every successful change, so callers can cache `settings()`.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The absolute path of the config file the server started with.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.state.lock().file.clone()
    }

    /// `rename-command old new` lines from the config, in order (`new` may
    /// be empty: the command is disabled).
    pub fn renamed_commands(&self) -> Vec<(String, String)> {
        self.state.lock().renames.clone()
    }

    /// Directives the user set that Ember stores but does not act on
    /// (canonical names, table order, then file-only ones like `user`).
    pub fn ignored_in_use(&self) -> Vec<String> {
        let state = self.state.lock();
        let mut out: Vec<String> = DIRECTIVES
            .iter()
            .zip(&state.user_set)
            .filter(|(d, set)| **set && !d.implemented)
            .map(|(d, _)| d.name.to_string())
            .collect();
        out.extend(state.ignored_extra.iter().cloned());
        out
    }

    /// Register a hook run when CONFIG SET changes the directive `name`
    /// (canonical name or alias). Panics on an unknown name.
    pub fn on_change(&self, name: &str, hook: ApplyHook) {
        let i = lookup(name).unwrap_or_else(|| panic!("no directive named {name}"));
        self.hooks.lock().push((i, hook));
    }

    /// CONFIG GET: (name, value) pairs for every directive or alias matching
    /// one of the glob patterns (case-insensitive). A pattern without glob
    /// characters is an exact lookup that also finds hidden directives and
    /// answers with the name as given. Names are de-duplicated.
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let state = self.state.lock();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut push = |name: String, i: usize, out: &mut Vec<(String, String)>| {
            if seen.insert(name.to_ascii_lowercase()) {
                out.push((name, value::format(&DIRECTIVES[i], &state.values[i])));
            }
        };
        for pat in patterns {
            if !pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
                if let Some(i) = lookup(&lossy(pat)) {
                    push(lossy(pat), i, &mut out);
                }
                continue;
            }
            for (i, d) in DIRECTIVES.iter().enumerate() {
                if d.has(directives::HIDDEN) {
                    continue;
                }
                for name in std::iter::once(d.name).chain(d.alias) {
                    if glob::glob_match(pat, name.as_bytes(), true) {
                        push(name.to_string(), i, &mut out);
                    }
                }
            }
        }
        out
    }

    /// CONFIG SET for a client that is not local (protected directives are
    /// refused unless `enable-protected-configs yes`).
    pub fn set(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
        self.set_for_client(pairs, false)
    }

    /// CONFIG SET with several name/value pairs: every name and value is
    /// checked first, then all are applied at once; if applying one fails
    /// (e.g. `dir` cannot be entered, or a hook refuses) nothing changes.
    /// `Err` is Redis's error text without the leading '-'.
    pub fn set_for_client(
        &self,
        pairs: &[(&[u8], &[u8])],
        client_is_local: bool,
    ) -> Result<(), String> {
        let mut state = self.state.lock();
        let protected_ok = self
            .settings()
            .enable_protected_configs
            .allows(client_is_local);
        let fail = |name: &str, reason: &str| {
            Err(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
            ))
        };
        let mut targets = Vec::with_capacity(pairs.len());
        let mut names_seen: Vec<String> = Vec::new();
        for (name, _) in pairs {
            let given = lossy(name);
            let lower = given.to_ascii_lowercase();
            let Some(i) = lookup(&lower) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{given}'"
                ));
            };
            let dir = &DIRECTIVES[i];
            if dir.has(IMMUTABLE) {
                return fail(&given, "can't set immutable config");
            }
            if dir.has(PROTECTED) && !protected_ok {
                return fail(&given, "can't set protected config");
            }
            if names_seen.contains(&lower) {
                return fail(&given, "duplicate parameter");
            }
            names_seen.push(lower);
            targets.push(i);
        }
        let old_values = state.values.clone();
        let mut new_values = old_values.clone();
        for ((&i, (_, raw)), lower) in targets.iter().zip(pairs).zip(&names_seen) {
            let dir = &DIRECTIVES[i];
            let args = if dir.has(MULTI_ARG) {
                parse::split_spaces(raw)
            } else {
                vec![raw.to_vec()]
            };
            match value::parse(dir, &args, &new_values[i]) {
                Ok(v) => new_values[i] = v,
                Err(reason) => return fail(lower, &reason),
            }
        }
        // Apply side effects; undo the ones done if a later one fails.
        let dir_i = idx("dir");
        let mut old_cwd = None;
        let new_settings = {
            if let Some(pos) = targets.iter().position(|&i| i == dir_i)
                && new_values[dir_i] != old_values[dir_i]
            {
                let Value::Dir(path) = &new_values[dir_i] else {
                    unreachable!()
                };
                match enter_dir(path, self.chdir) {
                    Ok(abs) => {
                        old_cwd = Some(old_values[dir_i].clone());
                        new_values[dir_i] = Value::Dir(abs);
                    }
                    Err(reason) => return fail(&names_seen[pos], &reason),
                }
            }
            build_settings(&new_values)
        };
        let undo_dir = |old: &Option<Value>| {
            if let Some(Value::Dir(path)) = old {
                let _ = enter_dir(path, self.chdir);
            }
        };
        let hooks = self.hooks.lock();
        let mut done: Vec<usize> = Vec::new();
        for (pos, &i) in targets.iter().enumerate() {
            if new_values[i] == old_values[i] {
                continue;
            }
            for (h, (hi, hook)) in hooks.iter().enumerate() {
                if *hi != i || done.contains(&h) {
                    continue;
                }
                if let Err(reason) = hook(&new_settings) {
                    let old_settings = self.settings();
                    for &undo in &done {
                        let _ = (hooks[undo].1)(&old_settings);
                    }
                    undo_dir(&old_cwd);
                    return fail(&names_seen[pos], &reason);
                }
                done.push(h);
            }
        }
        drop(hooks);
        state.values = new_values;
        *self.snapshot.lock() = Arc::new(new_settings);
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// CONFIG REWRITE: update the file the server started with in place,
    /// keeping comments, order and lines Ember does not own.
    pub fn rewrite(&self) -> Result<(), String> {
        let state = self.state.lock();
        let Some(path) = state.file.clone() else {
            return Err("ERR The server is running without a config file".into());
        };
        rewrite::rewrite_file(&path, &state.values, defaults())
            .map_err(|e| format!("ERR Rewriting config file: {}", strerror(&e)))
    }
}
