//! The one table of every configuration directive Ember accepts: the full
//! Redis 7.0 set plus Ember's own extensions. Each row gives the canonical
//! name, an optional alias, the value kind with its bounds or allowed words,
//! the default (as text, parsed by the same code that parses user input),
//! behaviour flags and whether Ember acts on the value or only stores it.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Cannot be changed with CONFIG SET (Redis's IMMUTABLE).
pub(crate) const IMMUTABLE: u16 = 1;
/// CONFIG SET only allowed when `enable-protected-configs` permits it.
pub(crate) const PROTECTED: u16 = 2;
/// Not listed by glob patterns in CONFIG GET, only by exact name.
pub(crate) const HIDDEN: u16 = 4;
/// Takes several arguments; a single argument is split on spaces.
pub(crate) const MULTI_ARG: u16 = 8;
/// Holds a secret (passwords).
pub(crate) const SENSITIVE: u16 = 16;

/// How a numeric directive is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumFormat {
    /// Strict decimal integer.
    Plain,
    /// Byte count with optional unit suffix (`k`, `kb`, `m`, `mb`, `g`, `gb`).
    Memory,
    /// Byte count or a percentage (`50%`, stored as -50).
    MemoryPercent,
    /// Octal integer (file permissions).
    Octal,
}

/// Extra validation of a string value; `Err` is Redis's reason text.
pub(crate) type StrCheck = fn(&[u8]) -> Result<(), String>;

/// The value kind of a directive.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Bool,
    Int {
        min: i128,
        max: i128,
        fmt: NumFormat,
    },
    Str {
        /// An empty string means "not set" (shown as "" and removed on rewrite).
        null_if_empty: bool,
        check: Option<StrCheck>,
    },
    /// One word out of a list; with `flags`, several words OR-ed together.
    Enum {
        words: &'static [(&'static str, u32)],
        flags: bool,
    },
    Save,
    Bind,
    ReplicaOf,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    LatencyPercentiles,
    Dir,
}

/// One row of the table.
#[derive(Debug)]
pub(crate) struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u16,
    /// Ember acts on this value (otherwise it is stored and reported as ignored).
    pub implemented: bool,
}

impl Directive {
    pub(crate) fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

const I32_MIN: i128 = i32::MIN as i128;
const I32_MAX: i128 = i32::MAX as i128;
const I64_MAX: i128 = i64::MAX as i128;
const U32_MAX: i128 = u32::MAX as i128;
const U64_MAX: i128 = u64::MAX as i128;

const fn int(min: i128, max: i128) -> Kind {
    Kind::Int {
        min,
        max,
        fmt: NumFormat::Plain,
    }
}
const fn mem(min: i128, max: i128) -> Kind {
    Kind::Int {
        min,
        max,
        fmt: NumFormat::Memory,
    }
}
const STR: Kind = Kind::Str {
    null_if_empty: false,
    check: None,
};
const NSTR: Kind = Kind::Str {
    null_if_empty: true,
    check: None,
};
const fn one_of(words: &'static [(&'static str, u32)]) -> Kind {
    Kind::Enum {
        words,
        flags: false,
    }
}

const fn d(name: &'static str, kind: Kind, default: &'static str, flags: u16) -> Directive {
    Directive {
        name,
        alias: None,
        kind,
        default,
        flags,
        implemented: false,
    }
}
/// Same as `d` but Ember acts on the value.
const fn e(name: &'static str, kind: Kind, default: &'static str, flags: u16) -> Directive {
    Directive {
        name,
        alias: None,
        kind,
        default,
        flags,
        implemented: true,
    }
}
const fn aka(mut dir: Directive, alias: &'static str) -> Directive {
    dir.alias = Some(alias);
    dir
}

pub(crate) const LOGLEVELS: &[(&str, u32)] =
    &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
pub(crate) const POLICIES: &[(&str, u32)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
pub(crate) const FSYNC: &[(&str, u32)] = &[("always", 0), ("everysec", 1), ("no", 2)];
pub(crate) const PROTECTED_ACTION: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("local", 2)];
const SUPERVISED: &[(&str, u32)] = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
const SYSLOG_FACILITY: &[(&str, u32)] = &[
    ("user", 0),
    ("local0", 1),
    ("local1", 2),
    ("local2", 3),
    ("local3", 4),
    ("local4", 5),
    ("local5", 6),
    ("local6", 7),
    ("local7", 8),
];
const DISKLESS_LOAD: &[(&str, u32)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const OOM_ADJ: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const PUBSUB_DEFAULT: &[(&str, u32)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
const ENDPOINT: &[(&str, u32)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const TLS_AUTH: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("optional", 2)];
/// Bit flags: `save` and `nosave` exclude each other.
const SHUTDOWN: &[(&str, u32)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];
const PROPAGATION_ERR: &[(&str, u32)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];

fn check_filename(name: &str, what: &str, v: &[u8]) -> Result<(), String> {
    if v.contains(&b'/') {
        Err(format!("{name} can't be a path, just a {what}"))
    } else {
        Ok(())
    }
}
fn check_dbfilename(v: &[u8]) -> Result<(), String> {
    check_filename("dbfilename", "filename", v)
}
fn check_appendfilename(v: &[u8]) -> Result<(), String> {
    check_filename("appendfilename", "filename", v)
}
fn check_appenddirname(v: &[u8]) -> Result<(), String> {
    check_filename("appenddirname", "dirname", v)
}
fn check_hostname(v: &[u8]) -> Result<(), String> {
    if v.iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
    {
        Ok(())
    } else {
        Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into())
    }
}
/// A process title template may only use known `{variables}` and must not be empty.
fn check_title_template(v: &[u8]) -> Result<(), String> {
    const VARS: &[&[u8]] = &[
        b"title",
        b"listen-addr",
        b"server-mode",
        b"port",
        b"tls-port",
        b"unixsocket",
        b"config-file",
    ];
    let bad = || Err("template format is invalid or contains unknown variables".to_string());
    if v.is_empty() {
        return bad();
    }
    let mut rest = v;
    while let Some(open) = rest.iter().position(|&c| c == b'{' || c == b'}') {
        if rest[open] == b'}' {
            return bad();
        }
        let after = &rest[open + 1..];
        let Some(close) = after.iter().position(|&c| c == b'}') else {
            return bad();
        };
        if !VARS.contains(&&after[..close]) {
            return bad();
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

const fn checked(null_if_empty: bool, check: StrCheck) -> Kind {
    Kind::Str {
        null_if_empty,
        check: Some(check),
    }
}

const M: u16 = 0;
const IM: u16 = IMMUTABLE;

/// Every directive. Order is the order of CONFIG GET output and of lines
/// appended by CONFIG REWRITE.
pub(crate) static DIRECTIVES: &[Directive] = &[
    // yes/no
    e("rdbchecksum", Kind::Bool, "yes", IM),
    e("daemonize", Kind::Bool, "no", IM),
    d("io-threads-do-reads", Kind::Bool, "no", IM),
    d("always-show-logo", Kind::Bool, "no", IM),
    e("protected-mode", Kind::Bool, "yes", M),
    e("rdbcompression", Kind::Bool, "yes", M),
    d("rdb-del-sync-files", Kind::Bool, "no", M),
    d("activerehashing", Kind::Bool, "yes", M),
    e("stop-writes-on-bgsave-error", Kind::Bool, "yes", M),
    d("set-proc-title", Kind::Bool, "yes", IM),
    d("dynamic-hz", Kind::Bool, "yes", M),
    d("lazyfree-lazy-eviction", Kind::Bool, "no", M),
    d("lazyfree-lazy-expire", Kind::Bool, "no", M),
    d("lazyfree-lazy-server-del", Kind::Bool, "no", M),
    d("lazyfree-lazy-user-del", Kind::Bool, "no", M),
    e("lazyfree-lazy-user-flush", Kind::Bool, "no", M),
    d("repl-disable-tcp-nodelay", Kind::Bool, "no", M),
    e("repl-diskless-sync", Kind::Bool, "yes", M),
    d("aof-rewrite-incremental-fsync", Kind::Bool, "yes", M),
    d("no-appendfsync-on-rewrite", Kind::Bool, "no", M),
    d("cluster-require-full-coverage", Kind::Bool, "yes", M),
    d("rdb-save-incremental-fsync", Kind::Bool, "yes", M),
    e("aof-load-truncated", Kind::Bool, "yes", M),
    e("aof-use-rdb-preamble", Kind::Bool, "yes", M),
    d("aof-timestamp-enabled", Kind::Bool, "no", M),
    aka(
        d("cluster-replica-no-failover", Kind::Bool, "no", M),
        "cluster-slave-no-failover",
    ),
    aka(
        d("replica-lazy-flush", Kind::Bool, "no", M),
        "slave-lazy-flush",
    ),
    aka(
        d("replica-serve-stale-data", Kind::Bool, "yes", M),
        "slave-serve-stale-data",
    ),
    aka(
        d("replica-read-only", Kind::Bool, "yes", M),
        "slave-read-only",
    ),
    aka(
        e("replica-ignore-maxmemory", Kind::Bool, "yes", M),
        "slave-ignore-maxmemory",
    ),
    d("jemalloc-bg-thread", Kind::Bool, "yes", M),
    d("activedefrag", Kind::Bool, "no", M),
    d("syslog-enabled", Kind::Bool, "no", IM),
    d("cluster-enabled", Kind::Bool, "no", IM),
    e("appendonly", Kind::Bool, "no", M),
    d("cluster-allow-reads-when-down", Kind::Bool, "no", M),
    d("cluster-allow-pubsubshard-when-down", Kind::Bool, "yes", M),
    d("crash-log-enabled", Kind::Bool, "yes", M),
    d("crash-memcheck-enabled", Kind::Bool, "yes", M),
    d("use-exit-on-panic", Kind::Bool, "no", HIDDEN),
    e("disable-thp", Kind::Bool, "yes", M),
    d("cluster-allow-replica-migration", Kind::Bool, "yes", M),
    d("replica-announced", Kind::Bool, "yes", M),
    d("latency-tracking", Kind::Bool, "yes", M),
    d("aof-disable-auto-gc", Kind::Bool, "no", M),
    d("replica-ignore-disk-write-errors", Kind::Bool, "no", M),
    // strings
    d("aclfile", STR, "", IM),
    e("unixsocket", NSTR, "", IM),
    e("pidfile", NSTR, "", IM),
    aka(d("replica-announce-ip", NSTR, "", M), "slave-announce-ip"),
    d("masteruser", NSTR, "", SENSITIVE),
    d("cluster-announce-ip", NSTR, "", M),
    d("cluster-config-file", STR, "nodes.conf", IM),
    d(
        "cluster-announce-hostname",
        checked(true, check_hostname),
        "",
        M,
    ),
    d("syslog-ident", STR, "redis", IM),
    e(
        "dbfilename",
        checked(false, check_dbfilename),
        "dump.rdb",
        PROTECTED,
    ),
    e(
        "appendfilename",
        checked(false, check_appendfilename),
        "appendonly.aof",
        IM,
    ),
    e(
        "appenddirname",
        checked(false, check_appenddirname),
        "appendonlydir",
        IM,
    ),
    d("server_cpulist", NSTR, "", IM),
    d("bio_cpulist", NSTR, "", IM),
    d("aof_rewrite_cpulist", NSTR, "", IM),
    d("bgsave_cpulist", NSTR, "", IM),
    d("ignore-warnings", STR, "", M),
    d(
        "proc-title-template",
        checked(false, check_title_template),
        "{title} {listen-addr} {server-mode}",
        M,
    ),
    d("bind-source-addr", NSTR, "", M),
    e("logfile", STR, "", IM),
    d("masterauth", NSTR, "", SENSITIVE),
    e("requirepass", NSTR, "", SENSITIVE),
    // enums
    d("supervised", one_of(SUPERVISED), "no", IM),
    d("syslog-facility", one_of(SYSLOG_FACILITY), "local0", IM),
    d("repl-diskless-load", one_of(DISKLESS_LOAD), "disabled", M),
    e("loglevel", one_of(LOGLEVELS), "notice", M),
    e("maxmemory-policy", one_of(POLICIES), "noeviction", M),
    e("appendfsync", one_of(FSYNC), "everysec", M),
    d("oom-score-adj", one_of(OOM_ADJ), "no", M),
    d(
        "acl-pubsub-default",
        one_of(PUBSUB_DEFAULT),
        "resetchannels",
        M,
    ),
    d("sanitize-dump-payload", one_of(SANITIZE), "no", M),
    e(
        "enable-protected-configs",
        one_of(PROTECTED_ACTION),
        "no",
        IM,
    ),
    e("enable-debug-command", one_of(PROTECTED_ACTION), "no", IM),
    d("enable-module-command", one_of(PROTECTED_ACTION), "no", IM),
    d("cluster-preferred-endpoint-type", one_of(ENDPOINT), "ip", M),
    d(
        "propagation-error-behavior",
        one_of(PROPAGATION_ERR),
        "ignore",
        M,
    ),
    d(
        "shutdown-on-sigint",
        Kind::Enum {
            words: SHUTDOWN,
            flags: true,
        },
        "default",
        MULTI_ARG,
    ),
    d(
        "shutdown-on-sigterm",
        Kind::Enum {
            words: SHUTDOWN,
            flags: true,
        },
        "default",
        MULTI_ARG,
    ),
    // integers
    e("databases", int(1, I32_MAX), "16", IM),
    e("port", int(0, 65535), "6379", M),
    d("io-threads", int(1, 128), "1", IM),
    e("auto-aof-rewrite-percentage", int(0, I32_MAX), "100", M),
    aka(
        d("cluster-replica-validity-factor", int(0, I32_MAX), "10", M),
        "cluster-slave-validity-factor",
    ),
    aka(
        e("list-max-listpack-size", int(I32_MIN, I32_MAX), "-2", M),
        "list-max-ziplist-size",
    ),
    e("tcp-keepalive", int(0, I32_MAX), "300", M),
    d("cluster-migration-barrier", int(0, I32_MAX), "1", M),
    d("active-defrag-cycle-min", int(1, 99), "1", M),
    d("active-defrag-cycle-max", int(1, 99), "25", M),
    d("active-defrag-threshold-lower", int(0, 1000), "10", M),
    d("active-defrag-threshold-upper", int(0, 1000), "100", M),
    e("lfu-log-factor", int(0, I32_MAX), "10", M),
    e("lfu-decay-time", int(0, I32_MAX), "1", M),
    aka(
        d("replica-priority", int(0, I32_MAX), "100", M),
        "slave-priority",
    ),
    e("repl-diskless-sync-delay", int(0, I32_MAX), "5", M),
    e("maxmemory-samples", int(1, I32_MAX), "5", M),
    e("maxmemory-eviction-tenacity", int(0, 100), "10", M),
    e("timeout", int(0, I32_MAX), "0", M),
    aka(
        d("replica-announce-port", int(0, 65535), "0", M),
        "slave-announce-port",
    ),
    e("tcp-backlog", int(0, I32_MAX), "511", IM),
    d("cluster-port", int(0, 65535), "0", IM),
    d("cluster-announce-bus-port", int(0, 65535), "0", M),
    d("cluster-announce-port", int(0, 65535), "0", M),
    d("cluster-announce-tls-port", int(0, 65535), "0", M),
    d("repl-timeout", int(1, I32_MAX), "60", M),
    aka(
        d("repl-ping-replica-period", int(1, I32_MAX), "10", M),
        "repl-ping-slave-period",
    ),
    d("list-compress-depth", int(0, I32_MAX), "0", M),
    e("rdb-key-save-delay", int(I32_MIN, I32_MAX), "0", HIDDEN),
    d("key-load-delay", int(I32_MIN, I32_MAX), "0", HIDDEN),
    e("active-expire-effort", int(1, 10), "1", M),
    e("hz", int(0, I32_MAX), "10", M),
    aka(
        d("min-replicas-to-write", int(0, I32_MAX), "0", M),
        "min-slaves-to-write",
    ),
    aka(
        d("min-replicas-max-lag", int(0, I32_MAX), "10", M),
        "min-slaves-max-lag",
    ),
    d("watchdog-period", int(0, I32_MAX), "0", HIDDEN),
    d("shutdown-timeout", int(0, I32_MAX), "10", M),
    d("repl-diskless-sync-max-replicas", int(0, I32_MAX), "0", M),
    e("maxclients", int(1, U32_MAX), "10000", M),
    e(
        "unixsocketperm",
        Kind::Int {
            min: 0,
            max: 0o777,
            fmt: NumFormat::Octal,
        },
        "0",
        IM,
    ),
    d("socket-mark-id", int(0, U32_MAX), "0", IM),
    d("active-defrag-max-scan-fields", int(1, I64_MAX), "1000", M),
    e("slowlog-max-len", int(0, I64_MAX), "128", M),
    d("acllog-max-len", int(0, I64_MAX), "128", M),
    aka(
        d("busy-reply-threshold", int(0, I64_MAX), "5000", M),
        "lua-time-limit",
    ),
    d("cluster-node-timeout", int(0, I64_MAX), "15000", M),
    e("slowlog-log-slower-than", int(-1, I64_MAX), "10000", M),
    e("latency-monitor-threshold", int(0, I64_MAX), "0", M),
    e("proto-max-bulk-len", mem(1024 * 1024, I64_MAX), "512mb", M),
    e("stream-node-max-entries", int(0, I64_MAX), "100", M),
    d("repl-backlog-size", mem(1, I64_MAX), "1mb", M),
    e("maxmemory", mem(0, U64_MAX), "0", M),
    d("cluster-link-sendbuf-limit", mem(0, U64_MAX), "0", M),
    aka(
        e("hash-max-listpack-entries", int(0, I64_MAX), "512", M),
        "hash-max-ziplist-entries",
    ),
    e("set-max-intset-entries", int(0, I64_MAX), "512", M),
    aka(
        e("zset-max-listpack-entries", int(0, I64_MAX), "128", M),
        "zset-max-ziplist-entries",
    ),
    d("active-defrag-ignore-bytes", mem(1, I64_MAX), "100mb", M),
    aka(
        e("hash-max-listpack-value", mem(0, I64_MAX), "64", M),
        "hash-max-ziplist-value",
    ),
    e("stream-node-max-bytes", mem(0, I64_MAX), "4096", M),
    aka(
        e("zset-max-listpack-value", mem(0, I64_MAX), "64", M),
        "zset-max-ziplist-value",
    ),
    d("hll-sparse-max-bytes", mem(0, I64_MAX), "3000", M),
    d("tracking-table-max-keys", int(0, I64_MAX), "1000000", M),
    e(
        "client-query-buffer-limit",
        mem(1024 * 1024, I64_MAX),
        "1gb",
        M,
    ),
    d(
        "maxmemory-clients",
        Kind::Int {
            min: -100,
            max: I64_MAX,
            fmt: NumFormat::MemoryPercent,
        },
        "0",
        M,
    ),
    d("repl-backlog-ttl", int(0, I64_MAX), "3600", M),
    e("auto-aof-rewrite-min-size", mem(0, I64_MAX), "64mb", M),
    d(
        "loading-process-events-interval-bytes",
        int(1024, I32_MAX),
        "2097152",
        HIDDEN,
    ),
    // TLS (stored only)
    d("tls-port", int(0, 65535), "0", M),
    d("tls-session-cache-size", int(0, I32_MAX), "20480", M),
    d("tls-session-cache-timeout", int(0, I32_MAX), "300", M),
    d("tls-cluster", Kind::Bool, "no", M),
    d("tls-replication", Kind::Bool, "no", M),
    d("tls-auth-clients", one_of(TLS_AUTH), "yes", M),
    d("tls-prefer-server-ciphers", Kind::Bool, "no", M),
    d("tls-session-caching", Kind::Bool, "yes", M),
    d("tls-cert-file", NSTR, "", M),
    d("tls-key-file", NSTR, "", M),
    d("tls-key-file-pass", NSTR, "", M),
    d("tls-client-cert-file", NSTR, "", M),
    d("tls-client-key-file", NSTR, "", M),
    d("tls-client-key-file-pass", NSTR, "", M),
    d("tls-dh-params-file", NSTR, "", M),
    d("tls-ca-cert-file", NSTR, "", M),
    d("tls-ca-cert-dir", NSTR, "", M),
    d("tls-protocols", NSTR, "", M),
    d("tls-ciphers", NSTR, "", M),
    d("tls-ciphersuites", NSTR, "", M),
    // special syntax
    e("dir", Kind::Dir, "", PROTECTED),
    e("save", Kind::Save, "3600 1 300 100 60 10000", MULTI_ARG),
    e(
        "client-output-buffer-limit",
        Kind::ClientOutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        MULTI_ARG,
    ),
    d(
        "oom-score-adj-values",
        Kind::OomScoreAdjValues,
        "0 200 800",
        MULTI_ARG,
    ),
    e("notify-keyspace-events", Kind::NotifyKeyspaceEvents, "", M),
    e("bind", Kind::Bind, "* -::*", MULTI_ARG),
    aka(
        d("replicaof", Kind::ReplicaOf, "no one", IM | MULTI_ARG),
        "slaveof",
    ),
    d(
        "latency-tracking-info-percentiles",
        Kind::LatencyPercentiles,
        "50 99 99.9",
        MULTI_ARG,
    ),
    // Ember extension: worker threads, 0 = one per available core.
    e("server-threads", int(0, 1024), "0", IM),
    // Ember extension: microseconds a busy worker keeps polling its sockets
    // after a request before it sleeps; 0 = never poll.
    e("busy-poll-usecs", int(0, 1_000_000), "200", M),
];

/// Directives that Redis 7.0 still accepts in a file and silently ignores
/// (name, exact argument count including the name).
pub(crate) const DEPRECATED: &[(&str, usize)] = &[
    ("list-max-ziplist-entries", 2),
    ("list-max-ziplist-value", 2),
    ("lua-replicate-commands", 2),
];

/// Index of a directive by canonical name or alias (lowercase).
pub(crate) fn lookup(name: &str) -> Option<usize> {
    static INDEX: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut map = HashMap::new();
        for (i, dir) in DIRECTIVES.iter().enumerate() {
            map.insert(dir.name, i);
            if let Some(alias) = dir.alias {
                map.insert(alias, i);
            }
        }
        map
    });
    if name.bytes().any(|c| c.is_ascii_uppercase()) {
        index.get(name.to_ascii_lowercase().as_str()).copied()
    } else {
        index.get(name).copied()
    }
}

/// Index of a directive by its canonical name; panics on a typo in Ember's code.
pub(crate) fn idx(name: &str) -> usize {
    lookup(name).unwrap_or_else(|| panic!("no directive named {name}"))
}
