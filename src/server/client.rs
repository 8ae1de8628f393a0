//! Client state: [`Client`] is owned by the connection task; [`ClientInfo`]
//! is the part other threads may read or act on (CLIENT LIST, CLIENT KILL,
//! idle timeouts), shared through the server's registry.

use crate::commands::transactions::Multi;
use crate::commands::{Args, CommandDef, flags};
use crate::config::Settings;
use crate::protocol::reply::Reply;
use crate::server::shared::{Shared, SlowEntry};
use crate::storage::keyspace::unix_ms;
use crate::storage::watch::WatchFlag;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// `CLIENT REPLY` mode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Skipping the reply of the current command.
    Skip,
}

/// [`ClientInfo::blocked`]: running normally.
pub const BLOCKED_NONE: u8 = 0;
/// [`ClientInfo::blocked`]: its next command waits for a CLIENT PAUSE to end.
pub const BLOCKED_PAUSE: u8 = 1;
/// [`ClientInfo::blocked`]: blocked by a command (BLPOP …); CLIENT UNBLOCK
/// may wake it.
pub const BLOCKED_COMMAND: u8 = 2;
/// [`ClientInfo::unblock`]: end the wait as if it timed out.
pub const UNBLOCK_TIMEOUT: u8 = 1;
/// [`ClientInfo::unblock`]: end the wait with an `UNBLOCKED` error.
pub const UNBLOCK_ERROR: u8 = 2;

/// What other threads can see of a client.
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub unix_socket: bool,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    /// Last interaction, Unix ms.
    pub last_interaction_ms: AtomicI64,
    /// Id of the last command run (index into the command table), +1; 0 = none.
    pub last_cmd: AtomicUsize,
    /// Unparsed request bytes in the read buffer, and its spare capacity.
    pub qbuf: AtomicUsize,
    pub qbuf_free: AtomicUsize,
    /// Reply bytes not yet written to the socket (Pub/Sub messages still
    /// in the mailbox not included); updated when the connection stops
    /// with output pending and when it has written it all.
    pub out_pending: AtomicUsize,
    /// When the pending output was first seen above the soft limit of
    /// `client-output-buffer-limit`, Unix ms (0 = it is not).
    pub obuf_soft_since: AtomicI64,
    /// Memory of the commands queued in MULTI (CLIENT LIST `multi-mem`).
    pub multi_mem: AtomicUsize,
    pub tot_net_in: AtomicU64,
    pub tot_net_out: AtomicU64,
    pub no_evict: AtomicBool,
    /// Pub/Sub messages (and MONITOR lines) waiting to be written.
    pub mailbox: crate::server::pubsub::Mailbox,
    /// Set by MONITOR.
    pub monitor: AtomicBool,
    pub killed: AtomicBool,
    /// Channel, pattern and shard-channel subscriptions (CLIENT LIST
    /// `sub`/`psub`/`ssub`; a client with any is of type `pubsub`).
    pub sub: AtomicUsize,
    pub psub: AtomicUsize,
    pub ssub: AtomicUsize,
    /// Commands queued in MULTI, or -1 outside a transaction.
    pub multi: AtomicI64,
    /// Why the connection is waiting instead of running its next command:
    /// one of the `BLOCKED_*` constants.
    pub blocked: AtomicU8,
    /// Set by CLIENT UNBLOCK for a client blocked by a command:
    /// `UNBLOCK_TIMEOUT` or `UNBLOCK_ERROR` (0 = none); `wake` is notified.
    pub unblock: AtomicU8,
    /// Wakes a blocked connection (CLIENT UNBLOCK).
    pub wake: tokio::sync::Notify,
    /// `KIND_NORMAL`, `KIND_REPLICA` (a replica being sent the stream)
    /// or `KIND_MASTER` (this server's link to its primary).
    pub kind: AtomicU8,
    /// True once the connection closed its socket (guards `fd` reuse).
    closed: Mutex<bool>,
}

/// [`ClientInfo::kind`]: an ordinary client.
pub const KIND_NORMAL: u8 = 0;
/// [`ClientInfo::kind`]: a replica (CLIENT LIST flag `S`, type `replica`).
pub const KIND_REPLICA: u8 = 1;
/// [`ClientInfo::kind`]: the link to our primary (flag `M`, type `master`).
pub const KIND_MASTER: u8 = 2;

impl ClientInfo {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32, unix_socket: bool) -> ClientInfo {
        let now = unix_ms();
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            unix_socket,
            created_ms: now,
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_interaction_ms: AtomicI64::new(now),
            last_cmd: AtomicUsize::new(0),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            out_pending: AtomicUsize::new(0),
            obuf_soft_since: AtomicI64::new(0),
            multi_mem: AtomicUsize::new(0),
            tot_net_in: AtomicU64::new(0),
            tot_net_out: AtomicU64::new(0),
            no_evict: AtomicBool::new(false),
            mailbox: Default::default(),
            monitor: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            ssub: AtomicUsize::new(0),
            multi: AtomicI64::new(-1),
            blocked: AtomicU8::new(BLOCKED_NONE),
            unblock: AtomicU8::new(0),
            wake: tokio::sync::Notify::new(),
            kind: AtomicU8::new(KIND_NORMAL),
            closed: Mutex::new(false),
        }
    }

    /// Asks the connection to close: marks it killed and shuts its socket
    /// down, which wakes the connection task wherever it waits.
    pub fn kill(&self) {
        let closed = self.closed.lock();
        self.killed.store(true, Ordering::Relaxed);
        if !*closed {
            // SAFETY: the fd belongs to the live connection (checked under
            // the lock the connection takes before closing it).
            unsafe {
                libc::shutdown(self.fd, libc::SHUT_RDWR);
            }
        }
    }

    /// Called by the connection before it closes the socket.
    pub fn mark_closed(&self) {
        *self.closed.lock() = true;
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    /// True for a client of type `pubsub` (any subscription).
    pub fn is_pubsub(&self) -> bool {
        self.sub.load(Ordering::Relaxed)
            + self.psub.load(Ordering::Relaxed)
            + self.ssub.load(Ordering::Relaxed)
            > 0
    }

    /// Output waiting to be written: replies plus mailbox.
    pub fn pending_output(&self) -> usize {
        self.out_pending.load(Ordering::Relaxed) + self.mailbox.len()
    }

    pub fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::Relaxed) != BLOCKED_NONE
    }
}

/// Per-connection state, owned by the connection task.
pub struct Client {
    pub id: u64,
    /// Selected database.
    pub db: usize,
    pub authenticated: bool,
    /// Close the connection once the pending replies are written (QUIT).
    pub close_after_reply: bool,
    pub reply_mode: ReplyMode,
    /// Connected from the local host (or a Unix socket).
    pub is_local: bool,
    /// Worker index for statistics.
    pub worker: usize,
    pub info: Arc<ClientInfo>,
    /// The open transaction, between MULTI and EXEC/DISCARD.
    pub multi: Option<Multi>,
    /// Set by any write to a watched key.
    pub watch_flag: WatchFlag,
    /// Watched keys: (db, key, already expired when watched).
    pub watched: Vec<(usize, Vec<u8>, bool)>,
    /// Subscribed channels, patterns and shard channels.
    pub subs: std::collections::HashSet<Vec<u8>>,
    pub psubs: std::collections::HashSet<Vec<u8>>,
    pub ssubs: std::collections::HashSet<Vec<u8>>,
    /// The configuration as of this connection's last read batch.
    pub settings: Arc<Settings>,
    settings_version: u64,
    /// Set by a blocking command that found nothing: the connection waits
    /// on it before running anything else.
    pub block: Option<crate::commands::blocking::Blocked>,
    /// Set while the connection reruns its blocked command after a
    /// server asked it to (`storage::blocking::RETRY`).
    pub block_retry: Option<Arc<crate::storage::blocking::Waiter>>,
    /// True while EXEC runs the queue (blocking commands do not block).
    pub in_exec: bool,
    /// True while a Lua script runs commands for this client (MONITOR
    /// shows them as `lua`).
    pub in_script: bool,
    /// True for the client applying our primary's stream (exempt from
    /// read-only mode, never replied to).
    pub is_master: bool,
    /// True for the AOF loader's client: no eviction, no OOM refusal
    /// (Redis does not evict while loading).
    pub no_evict: bool,
    /// Set by PSYNC/SYNC and WAIT: the connection hands itself over to
    /// replication after the command (see `replication::Handoff`).
    pub handoff: Option<crate::replication::Handoff>,
    /// REPLCONF options a replica sent during its handshake.
    pub replconf: crate::replication::ReplConf,
}

impl Client {
    pub fn new(srv: &Shared, info: Arc<ClientInfo>, worker: usize, is_local: bool) -> Client {
        let settings = srv.settings();
        Client {
            settings_version: srv.config.version(),
            authenticated: settings.requirepass.is_none(),
            settings,
            id: info.id,
            db: 0,
            multi: None,
            watch_flag: WatchFlag::default(),
            watched: Vec::new(),
            subs: Default::default(),
            psubs: Default::default(),
            ssubs: Default::default(),
            close_after_reply: false,
            reply_mode: ReplyMode::On,
            is_local,
            worker,
            info,
            block: None,
            block_retry: None,
            in_exec: false,
            in_script: false,
            is_master: false,
            no_evict: false,
            handoff: None,
            replconf: Default::default(),
        }
    }

    /// Picks up configuration changes (one atomic load when none).
    #[inline]
    pub fn refresh_settings(&mut self, srv: &Shared) {
        let v = srv.config.version();
        if v != self.settings_version {
            self.settings_version = v;
            self.settings = srv.settings();
        }
    }

    /// Opens (`Some`) or closes (`None`) a transaction, keeping the
    /// `multi=` field of CLIENT LIST in step.
    pub fn set_multi(&mut self, m: Option<Multi>) -> Option<Multi> {
        let n = m.as_ref().map_or(-1, |m| m.cmds.len() as i64);
        self.info.multi.store(n, Ordering::Relaxed);
        self.info.multi_mem.store(0, Ordering::Relaxed);
        std::mem::replace(&mut self.multi, m)
    }

    /// Forgets every watched key (EXEC, DISCARD, UNWATCH, RESET, close).
    pub fn unwatch_all(&mut self, srv: &Shared) {
        for (db, key, _) in self.watched.drain(..) {
            srv.keyspace.watches.remove(db, &key, &self.watch_flag);
        }
        self.watch_flag.store(false, Ordering::Relaxed);
    }

    /// True once the client ran MONITOR.
    #[inline]
    pub fn is_monitor(&self) -> bool {
        self.info.monitor.load(Ordering::Relaxed)
    }

    /// True while the client has any subscription (RESP2 then only takes
    /// the subscribe family, PING, QUIT and RESET).
    #[inline]
    pub fn in_pubsub(&self) -> bool {
        !(self.subs.is_empty() && self.psubs.is_empty() && self.ssubs.is_empty())
    }

    /// For a subscribed client, puts the Pub/Sub messages that arrived
    /// while a command ran (keyspace events of its own write, its own
    /// PUBLISH) before that command's reply, which starts at `mark` in
    /// `out`: Redis writes them into the output buffer as they happen.
    #[inline]
    pub fn deliver_before_reply(&self, out: &mut Reply, mark: usize) {
        if !self.in_pubsub() {
            return;
        }
        let mailbox = &self.info.mailbox;
        if mailbox.has_pending() {
            out.raw(|buf| {
                let reply = buf.split_off(mark.min(buf.len()));
                mailbox.drain_into(buf);
                buf.extend_from_slice(&reply);
            });
        }
    }

    /// Publishes the subscription counts for CLIENT LIST.
    pub fn sync_sub_counts(&self) {
        self.info.sub.store(self.subs.len(), Ordering::Relaxed);
        self.info.psub.store(self.psubs.len(), Ordering::Relaxed);
        self.info.ssub.store(self.ssubs.len(), Ordering::Relaxed);
    }

    /// Drops every subscription (RESET, disconnect).
    pub fn unsubscribe_all(&mut self, srv: &Shared) {
        if self.in_pubsub() {
            srv.pubsub.remove_client(self.id);
            self.subs.clear();
            self.psubs.clear();
            self.ssubs.clear();
            self.sync_sub_counts();
        }
    }

    /// Marks an open transaction as failed (an error while queuing).
    #[inline]
    pub fn abort_multi(&mut self) {
        if let Some(m) = &mut self.multi {
            m.aborted = true;
        }
    }

    /// Selects a database (the caller has validated the index).
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }

    /// Records a command rejected before running (unknown, arity, auth).
    pub fn note_rejected(&mut self, srv: &Shared, id: Option<usize>, out: &Reply) {
        let w = &srv.workers[self.worker];
        if let Some(id) = id {
            w.per_command[id].rejected.add(1);
        }
        self.note_error(srv, out);
    }

    fn note_error(&mut self, srv: &Shared, out: &Reply) {
        let w = &srv.workers[self.worker];
        w.total_errors.add(1);
        let code = String::from_utf8_lossy(out.last_error_code()).into_owned();
        *w.errors.lock().entry(code).or_insert(0) += 1;
    }

    /// Records a command that ran: counters, the slow log.
    #[allow(clippy::too_many_arguments)]
    pub fn note_call(
        &mut self,
        srv: &Shared,
        def: &'static CommandDef,
        id: usize,
        args: &Args,
        elapsed: Duration,
        failed: bool,
        out: &Reply,
    ) {
        let w = &srv.workers[self.worker];
        let micros = elapsed.as_micros() as u64;
        w.commands.add(1);
        let st = &w.per_command[id];
        st.calls.add(1);
        st.usec.add(micros);
        st.hist[crate::server::shared::latency_bucket(elapsed.as_nanos() as u64)].add(1);
        self.info.last_cmd.store(id + 1, Ordering::Relaxed);
        if failed {
            st.failed.add(1);
            self.note_error(srv, out);
        }
        let threshold_ms = self.settings.latency_monitor_threshold;
        if threshold_ms > 0 && micros / 1000 >= threshold_ms {
            let event = if def.has(flags::FAST) {
                "fast-command"
            } else {
                "command"
            };
            srv.latency.lock().add_sample(event, micros / 1000);
        }
        if !def.has(flags::SKIP_SLOWLOG) {
            let threshold = self.settings.slowlog_log_slower_than;
            if threshold >= 0 && micros >= threshold as u64 {
                let max_len = self.settings.slowlog_max_len as usize;
                self.log_slow(srv, args, micros, max_len);
            }
        }
    }

    fn log_slow(&self, srv: &Shared, args: &Args, micros: u64, max_len: usize) {
        // As Redis: at most 32 arguments (the last says how many more) and
        // 128 bytes per argument (with a note of how many more).
        let argc = args.len();
        let shown = argc.min(32);
        let mut list = Vec::with_capacity(shown);
        for i in 0..shown {
            if shown < argc && i == shown - 1 {
                list.push(format!("... ({} more arguments)", argc - shown + 1).into_bytes());
                break;
            }
            let a = args.get(i);
            if a.len() > 128 {
                let mut v = a[..128].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                list.push(v);
            } else {
                list.push(a.to_vec());
            }
        }
        let mut log = srv.slowlog.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(SlowEntry {
            id,
            time: unix_ms() / 1000,
            micros,
            args: list,
            addr: self.info.addr.clone(),
            name: self.info.name.lock().clone().unwrap_or_default(),
        });
        while log.entries.len() > max_len {
            log.entries.pop_back();
        }
    }
}
