//! Replication, both roles, speaking Redis 7.0's protocol so that Ember and
//! Redis replicate from each other.
//!
//! - **Primary** (`primary.rs`): a client that sends `PSYNC` (or `SYNC`)
//!   hands its connection over to a sender task: `+CONTINUE` and the stream
//!   from the backlog when the replica's replid/offset allow it (PSYNC2:
//!   our current id, or our previous one up to `second_repl_offset`),
//!   otherwise `+FULLRESYNC <replid> <offset>`, an RDB of the dataset taken
//!   at exactly that offset, then the stream. The stream is the feed's
//!   replication output (`storage::feed`, tee on): every replica reads the
//!   one backlog at its own position, and ACKs its offset once a second.
//! - **Replica** (`replica.rs`): a thread per link to the primary does the
//!   handshake, loads the full-sync payload, then applies the stream
//!   through the dispatcher with a master client while copying exactly the
//!   applied bytes into its own backlog, so its offsets are its primary's
//!   and its own replicas (and a later promotion) continue the same history.
//! - **Commands** (`commands::replication`): REPLICAOF/SLAVEOF, ROLE,
//!   REPLCONF, PSYNC/SYNC, WAIT.
//!
//! Offsets follow Redis: `master_repl_offset` is the number of stream bytes
//! ever produced (SELECT, PING, REPLCONF GETACK included), a replica's
//! PSYNC asks for `offset + 1`.

pub mod payload;
pub mod primary;
pub mod replica;

use crate::server::client::{ClientInfo, KIND_REPLICA};
use crate::server::shared::{Shared, random_hex40};
use crate::storage::keyspace::unix_ms;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};

/// What a connection does after its command ran (set in `Client::handoff`).
#[derive(Debug, Clone)]
pub enum Handoff {
    /// PSYNC `replid` `offset` (SYNC is `?` and -1 without the reply line).
    Psync {
        replid: Vec<u8>,
        offset: i64,
        legacy_sync: bool,
    },
    /// WAIT: reply how many replicas acked `target` by `deadline_ms`
    /// (0 = forever) once `num` have.
    Wait {
        target: u64,
        num: usize,
        deadline_ms: i64,
    },
}

/// What a replica told us with REPLCONF during its handshake.
#[derive(Default, Clone, Debug)]
pub struct ReplConf {
    pub port: u16,
    pub ip: Option<String>,
    /// `capa eof`: takes the diskless `$EOF:` payload form.
    pub eof: bool,
    /// `capa psync2`: understands `+CONTINUE <replid>`.
    pub psync2: bool,
}

/// Replica states as INFO shows them.
pub const WAIT_BGSAVE: u8 = 0;
pub const SEND_BULK: u8 = 1;
pub const ONLINE: u8 = 2;

/// One replica being served (primary side).
pub struct Attached {
    pub info: Arc<ClientInfo>,
    pub ip: String,
    /// `REPLCONF listening-port`.
    pub port: AtomicU64,
    pub state: AtomicU8,
    /// Last offset the replica acknowledged, and when (Unix ms).
    pub ack_off: AtomicU64,
    pub ack_ms: AtomicI64,
}

/// The link to our primary (replica side), as INFO and ROLE show it.
#[derive(Clone)]
pub struct MasterLink {
    pub host: String,
    pub port: u16,
    /// `connect`, `connecting`, `sync`, `connected` (ROLE's words).
    pub state: &'static str,
    pub last_io_ms: i64,
    pub down_since_ms: i64,
    pub sync_total: i64,
    pub sync_read: u64,
    pub sync_started_ms: i64,
}

/// Server-wide replication state (`Shared::repl`).
pub struct Replication {
    pub replicas: Mutex<Vec<Arc<Attached>>>,
    /// Notified whenever the backlog grew (replica senders wait on it).
    pub stream: tokio::sync::Notify,
    /// Notified whenever a replica acknowledged an offset (WAIT).
    pub acked: tokio::sync::Notify,
    /// Some while we are a replica.
    pub master: Mutex<Option<MasterLink>>,
    /// True while commands must be checked (replica role, or
    /// `min-replicas-to-write` set): the one load on the command path.
    pub gate: AtomicBool,
    is_replica: AtomicBool,
    /// `second_repl_offset` (-1: none).
    pub second_offset: AtomicI64,
    /// Bumped by every REPLICAOF: a link thread whose generation is not
    /// the current one ends.
    pub link_gen: AtomicU64,
    /// Held by the link thread while it applies a batch, and by a role
    /// change: no applied command straddles a promotion.
    pub apply_lock: Mutex<()>,
    /// When the last replica left (for `repl-backlog-ttl`), Unix ms; 0
    /// while replicas are attached.
    pub no_replicas_since: AtomicI64,
    /// Counts full and partial syncs served (INFO stats).
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            replicas: Mutex::new(Vec::new()),
            stream: tokio::sync::Notify::new(),
            acked: tokio::sync::Notify::new(),
            master: Mutex::new(None),
            gate: AtomicBool::new(false),
            is_replica: AtomicBool::new(false),
            second_offset: AtomicI64::new(-1),
            link_gen: AtomicU64::new(0),
            apply_lock: Mutex::new(()),
            no_replicas_since: AtomicI64::new(unix_ms()),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
        }
    }
}

/// Output buffer hard limit of the `replica` class (a replica further
/// behind is dropped).
pub fn replica_hard_limit(s: &crate::config::Settings) -> u64 {
    s.client_output_buffer_limit[crate::server::outlimit::REPLICA].hard_bytes
}

impl Replication {
    #[inline]
    pub fn is_replica(&self) -> bool {
        self.is_replica.load(Ordering::Relaxed)
    }

    /// Recomputes the command-path gate from the role and settings.
    pub fn update_gate(&self, s: &crate::config::Settings) {
        let on = self.is_replica() || (s.min_replicas_to_write > 0 && s.min_replicas_max_lag > 0);
        self.gate.store(on, Ordering::Relaxed);
    }

    /// Replicas online whose last ACK is at most `max_lag` seconds old.
    pub fn good_replicas(&self, max_lag: u64) -> usize {
        let now = unix_ms();
        self.replicas
            .lock()
            .iter()
            .filter(|r| {
                r.state.load(Ordering::Relaxed) == ONLINE
                    && (now - r.ack_ms.load(Ordering::Relaxed)) / 1000 <= max_lag as i64
            })
            .count()
    }

    /// Replicas that acknowledged at least `off`.
    pub fn acked_at_least(&self, off: u64) -> usize {
        self.replicas
            .lock()
            .iter()
            .filter(|r| r.ack_off.load(Ordering::Relaxed) >= off)
            .count()
    }

    pub fn attach(&self, a: Arc<Attached>) {
        a.info.kind.store(KIND_REPLICA, Ordering::Relaxed);
        self.replicas.lock().push(a);
        self.no_replicas_since.store(0, Ordering::Relaxed);
    }

    pub fn detach(&self, id: u64) {
        let mut r = self.replicas.lock();
        r.retain(|a| a.info.id != id);
        if r.is_empty() {
            self.no_replicas_since.store(unix_ms(), Ordering::Relaxed);
        }
    }

    /// Closes every replica's connection (they reconnect and resync).
    pub fn disconnect_replicas(&self) {
        for a in self.replicas.lock().iter() {
            a.info.kill();
        }
    }
}

/// The error a command is refused with by replication state (checked
/// only while `Replication::gate` is set): too few good replicas for a
/// write, a write on a read-only replica, a stale replica.
pub fn refuse(
    srv: &Shared,
    client: &crate::server::client::Client,
    def: &crate::commands::CommandDef,
) -> Option<&'static str> {
    use crate::commands::flags;
    let s = &client.settings;
    let is_write = def.has(flags::WRITE)
        || (def.name == "exec"
            && client
                .multi
                .as_ref()
                .is_some_and(|m| m.cmds.iter().any(|q| q.def.has(flags::WRITE))));
    let repl = &srv.repl;
    if !repl.is_replica() {
        if is_write
            && s.min_replicas_to_write > 0
            && s.min_replicas_max_lag > 0
            && (repl.good_replicas(s.min_replicas_max_lag) as u64) < s.min_replicas_to_write
        {
            return Some("NOREPLICAS Not enough good replicas to write.");
        }
        return None;
    }
    if is_write && s.replica_read_only {
        return Some("READONLY You can't write against a read only replica.");
    }
    if !s.replica_serve_stale_data
        && !def.has(flags::STALE)
        && repl
            .master
            .lock()
            .as_ref()
            .is_some_and(|m| m.state != "connected")
    {
        return Some(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        );
    }
    None
}

/// Makes sure the backlog exists and, on a primary, that the feed copies
/// every write into it. Returns the current offset.
pub fn ensure_backlog(srv: &Shared) -> u64 {
    let s = srv.settings();
    let feed = &srv.keyspace.feed;
    let tee = !srv.repl.is_replica();
    let end = feed.repl_offset();
    feed.set_tee(tee, end, s.repl_backlog_size, replica_hard_limit(&s));
    feed.with_backlog(|b| {
        if b.is_none() {
            *b = Some(crate::storage::backlog::Backlog::new(
                end,
                s.repl_backlog_size,
                replica_hard_limit(&s),
            ));
        }
        b.as_ref().map(|b| b.end()).unwrap_or(end)
    })
}

/// Wires replication into the server at start-up: the backlog waker, the
/// config hooks, and `replicaof` from the configuration.
pub fn start(srv: &Arc<Shared>) {
    let weak = Arc::downgrade(srv);
    srv.keyspace.feed.set_repl_waker(Box::new(move || {
        if let Some(s) = weak.upgrade() {
            s.repl.stream.notify_waiters();
        }
    }));
    for name in [
        "min-replicas-to-write",
        "min-replicas-max-lag",
        "repl-backlog-size",
        "client-output-buffer-limit",
    ] {
        let weak = Arc::downgrade(srv);
        srv.config.on_change(
            name,
            Box::new(move |st| {
                if let Some(s) = weak.upgrade() {
                    s.repl.update_gate(st);
                    let hard = replica_hard_limit(st);
                    s.keyspace.feed.with_backlog(|b| {
                        if let Some(b) = b {
                            b.set_limits(st.repl_backlog_size, hard);
                        }
                    });
                }
                Ok(())
            }),
        );
    }
    let s = srv.settings();
    srv.repl.update_gate(&s);
    if let Some((host, port)) = s.replicaof.clone() {
        replica_of(srv, Some((host, port)));
    }
}

/// REPLICAOF: `Some((host, port))` starts (or redirects) the link to a
/// primary; `None` (NO ONE) promotes this server.
pub fn replica_of(srv: &Arc<Shared>, target: Option<(String, u16)>) {
    let repl = &srv.repl;
    let _applying = repl.apply_lock.lock();
    let generation = repl.link_gen.fetch_add(1, Ordering::SeqCst) + 1;
    // The old link (if any) ends: kill its master client.
    for c in srv.client_list() {
        if c.kind.load(Ordering::Relaxed) == crate::server::client::KIND_MASTER {
            c.kill();
        }
    }
    match target {
        None => {
            if !repl.is_replica() {
                return;
            }
            *repl.master.lock() = None;
            repl.is_replica.store(false, Ordering::SeqCst);
            srv.keyspace.set_replica_mode(false);
            // PSYNC2: keep serving partial resyncs of the old history.
            shift_replid(srv);
            let s = srv.settings();
            let end = srv.keyspace.feed.repl_offset();
            srv.keyspace
                .feed
                .set_tee(true, end, s.repl_backlog_size, replica_hard_limit(&s));
            repl.update_gate(&s);
            crate::server::log::notice(
                "MASTER MODE enabled (user request from 'id=0 addr= laddr= fd=-1')",
            );
        }
        Some((host, port)) => {
            if !repl.is_replica() {
                // Our own history, so that we can PSYNC to the new primary
                // from where we are (Redis's cached master from ourselves).
                ensure_backlog(srv);
                srv.keyspace.feed.set_tee(false, 0, 1, 0);
            }
            repl.is_replica.store(true, Ordering::SeqCst);
            srv.keyspace.set_replica_mode(true);
            *repl.master.lock() = Some(MasterLink {
                host: host.clone(),
                port,
                state: "connect",
                last_io_ms: 0,
                down_since_ms: unix_ms(),
                sync_total: -1,
                sync_read: 0,
                sync_started_ms: 0,
            });
            repl.update_gate(&srv.settings());
            // Our replicas must learn the new history.
            repl.disconnect_replicas();
            crate::server::log::notice(&format!("Connecting to MASTER {host}:{port}"));
            replica::spawn(srv.clone(), host, port, generation);
        }
    }
}

/// Starts a new history: the current id becomes `master_replid2`, valid
/// up to the current offset (`second_repl_offset` = offset + 1).
pub fn shift_replid(srv: &Shared) {
    let mut ids = srv.replid.lock();
    ids.1 = std::mem::replace(&mut ids.0, random_hex40());
    let off = srv.keyspace.feed.repl_offset() as i64;
    srv.repl.second_offset.store(off + 1, Ordering::SeqCst);
}

/// Cron (every `1000/hz` ms, `tick` counts): keep-alive PINGs, the
/// backlog's TTL.
pub fn cron(srv: &Shared, s: &crate::config::Settings, tick: u64, hz: u64) {
    if !tick.is_multiple_of(hz) {
        return;
    }
    let secs = tick / hz;
    let repl = &srv.repl;
    if !repl.is_replica() && !repl.replicas.lock().is_empty() {
        let period = s.repl_ping_replica_period.max(1);
        if secs.is_multiple_of(period) {
            srv.keyspace.feed.push_repl(b"*1\r\n$4\r\nPING\r\n");
        }
    }
    // The backlog of a primary without replicas is freed after
    // repl-backlog-ttl (never on a replica: it may be promoted).
    let since = repl.no_replicas_since.load(Ordering::Relaxed);
    if !repl.is_replica()
        && since != 0
        && s.repl_backlog_ttl > 0
        && (unix_ms() - since) / 1000 > s.repl_backlog_ttl as i64
        && srv.keyspace.feed.with_backlog(|b| b.is_some())
    {
        let end = srv.keyspace.feed.repl_offset();
        srv.keyspace.feed.set_tee(false, end, 1, 0);
        srv.keyspace.feed.with_backlog(|b| *b = None);
        // A new history starts when the backlog returns.
        *srv.replid.lock() = (random_hex40(), "0".repeat(40));
        repl.second_offset.store(-1, Ordering::SeqCst);
        crate::server::log::notice(&format!(
            "Replication backlog freed after {} seconds without connected replicas.",
            s.repl_backlog_ttl
        ));
    }
}

/// `INFO replication`: Redis 7.0's fields, names and order.
pub fn info_fields(srv: &Shared, s: &crate::config::Settings) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: String| f.push((k.to_string(), v));
    let repl = &srv.repl;
    let offset = srv.keyspace.feed.repl_offset();
    let master = repl.master.lock().clone();
    match &master {
        None => add("role", "master".into()),
        Some(m) => {
            let now = unix_ms();
            add("role", "slave".into());
            add("master_host", m.host.clone());
            add("master_port", m.port.to_string());
            let up = m.state == "connected";
            add("master_link_status", if up { "up" } else { "down" }.into());
            let io = if m.last_io_ms == 0 {
                -1
            } else {
                (now - m.last_io_ms) / 1000
            };
            add(
                "master_last_io_seconds_ago",
                if up { io } else { -1 }.to_string(),
            );
            let syncing = m.state == "sync";
            add("master_sync_in_progress", (syncing as u8).to_string());
            add("slave_read_repl_offset", offset.to_string());
            add("slave_repl_offset", offset.to_string());
            if syncing {
                add("master_sync_total_bytes", m.sync_total.to_string());
                add("master_sync_read_bytes", m.sync_read.to_string());
                let left = if m.sync_total >= 0 {
                    m.sync_total - m.sync_read as i64
                } else {
                    -1
                };
                add("master_sync_left_bytes", left.to_string());
                let perc = if m.sync_total > 0 {
                    m.sync_read as f64 * 100.0 / m.sync_total as f64
                } else {
                    0.0
                };
                add("master_sync_perc", format!("{perc:.2}"));
                add(
                    "master_sync_last_io_seconds_ago",
                    ((now - m.last_io_ms.max(m.sync_started_ms)) / 1000).to_string(),
                );
            }
            if !up {
                add(
                    "master_link_down_since_seconds",
                    ((now - m.down_since_ms) / 1000).to_string(),
                );
            }
            add("slave_priority", s.replica_priority.to_string());
            add("slave_read_only", (s.replica_read_only as u8).to_string());
            add("replica_announced", (s.replica_announced as u8).to_string());
        }
    }
    let reps = repl.replicas.lock().clone();
    add("connected_slaves", reps.len().to_string());
    if master.is_none() && s.min_replicas_to_write > 0 && s.min_replicas_max_lag > 0 {
        add(
            "min_slaves_good_slaves",
            repl.good_replicas(s.min_replicas_max_lag).to_string(),
        );
    }
    let now = unix_ms();
    for (i, r) in reps.iter().enumerate() {
        let state = match r.state.load(Ordering::Relaxed) {
            WAIT_BGSAVE => "wait_bgsave",
            SEND_BULK => "send_bulk",
            _ => "online",
        };
        add(
            &format!("slave{i}"),
            format!(
                "ip={},port={},state={state},offset={},lag={}",
                r.ip,
                r.port.load(Ordering::Relaxed),
                r.ack_off.load(Ordering::Relaxed),
                (now - r.ack_ms.load(Ordering::Relaxed)) / 1000
            ),
        );
    }
    add("master_failover_state", "no-failover".into());
    let (id1, id2) = srv.replid.lock().clone();
    add("master_replid", id1);
    add("master_replid2", id2);
    add("master_repl_offset", offset.to_string());
    add(
        "second_repl_offset",
        repl.second_offset.load(Ordering::Relaxed).to_string(),
    );
    let (active, first, hist) = srv.keyspace.feed.with_backlog(|b| match b {
        Some(b) => (1, b.start() + 1, b.histlen()),
        None => (0, 0, 0),
    });
    add("repl_backlog_active", active.to_string());
    add("repl_backlog_size", s.repl_backlog_size.to_string());
    add("repl_backlog_first_byte_offset", first.to_string());
    add("repl_backlog_histlen", hist.to_string());
    f
}
