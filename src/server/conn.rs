//! One client connection: read what arrived, run every complete request in
//! it, then write all the replies with one write. Requests split across
//! reads are resumed by the parser; protocol errors are answered and the
//! connection closed where Redis closes it.

use crate::commands::{self, Args, Table, flags};
use crate::protocol::reply::{Reply, Resp, SHRINK_ABOVE};
use crate::protocol::request::{Limits, Parsed, RequestParser, Source};
use crate::replication::Handoff;
use crate::server::client::{
    BLOCKED_NONE, BLOCKED_PAUSE, Client, ClientInfo, ReplyMode, UNBLOCK_ERROR,
};
use crate::server::log;
use crate::server::outlimit;
use crate::server::shared::Shared;
use crate::storage::keyspace::unix_ms;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::{TcpStream, UnixStream};

/// A TCP or Unix-domain stream.
pub enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    pub(crate) async fn writable(&self) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.writable().await,
            Sock::Unix(s) => s.writable().await,
        }
    }

    /// Reads what is available into the spare capacity of `buf`, waiting
    /// until something is. Goes through `AsyncRead`, which remembers that a
    /// short read drained the socket, so the next call waits for readiness
    /// instead of spending a `recv` on EAGAIN.
    pub(crate) async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        match self {
            Sock::Tcp(s) => s.read_buf(buf).await,
            Sock::Unix(s) => s.read_buf(buf).await,
        }
    }

    /// Waits until the socket is readable (used while output is pending,
    /// beside [`Sock::writable`]).
    pub(crate) async fn readable(&self) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.readable().await,
            Sock::Unix(s) => s.readable().await,
        }
    }

    pub(crate) fn try_read_buf(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.try_read_buf(buf),
            Sock::Unix(s) => s.try_read_buf(buf),
        }
    }

    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.try_write(buf),
            Sock::Unix(s) => s.try_write(buf),
        }
    }
}

/// Smallest free space kept in the read buffer before a read.
const READ_CHUNK: usize = 16 * 1024;

/// `appendfsync always`: replies go out only once every write executed so
/// far (this client's, and whatever it may have read) is on disk. One
/// relaxed load when AOF is off or uses another policy.
#[inline]
async fn durable(srv: &Shared, out: &Reply) {
    if srv.aof.must_wait() && !out.is_empty() {
        srv.aof.wait_durable(srv.keyspace.feed.offset()).await;
    }
}

/// Writes as much of `out` as the socket takes now, without waiting, and
/// publishes what is left for CLIENT LIST and the Pub/Sub limit check.
fn write_some(sock: &Sock, out: &mut Reply, client: &Client, srv: &Shared) -> io::Result<()> {
    let w = &srv.workers[client.worker];
    while !out.is_empty() {
        match sock.try_write(out.bytes()) {
            Ok(n) => {
                out.consume(n);
                w.net_output.add(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    client.info.out_pending.store(out.len(), Ordering::Relaxed);
    Ok(())
}

/// Writes everything in `out` to the socket, waiting as long as it takes
/// (before closing the connection, or before a CLIENT PAUSE wait).
async fn flush(sock: &Sock, out: &mut Reply, client: &Client, srv: &Shared) -> io::Result<()> {
    durable(srv, out).await;
    loop {
        write_some(sock, out, client, srv)?;
        if out.is_empty() {
            return Ok(());
        }
        sock.writable().await?;
    }
}

/// Applies `client-output-buffer-limit` of the client's class to its
/// pending output (replies plus mailbox); true when it was disconnected.
fn over_output_limit(srv: &Shared, client: &Client, out: &Reply) -> bool {
    let info = &client.info;
    if out.is_empty() {
        // Everything written: a later excess starts a new soft period.
        if info.obuf_soft_since.load(Ordering::Relaxed) != 0 {
            info.obuf_soft_since.store(0, Ordering::Relaxed);
        }
        if !info.mailbox.has_pending() {
            return false;
        }
    }
    let limit = &client.settings.client_output_buffer_limit[outlimit::class_of(info)];
    let pending = out.len() + info.mailbox.len();
    if outlimit::exceeded(info, pending, limit) {
        // The log line shows what was pending.
        info.out_pending.store(out.len(), Ordering::Relaxed);
        outlimit::close(srv, info, true);
        return true;
    }
    false
}

/// What woke a connection that has output pending or listens for messages.
enum Wake {
    /// `read_buf` already read (the socket had nothing pending to write).
    Read(io::Result<usize>),
    Readable(io::Result<()>),
    Writable(io::Result<()>),
    /// Pub/Sub messages or MONITOR lines arrived.
    Mail,
}

/// What a client outside the loopback interface reads before being
/// disconnected in protected mode (Redis's text).
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Protected mode (on, and no password for the default user) accepts
/// clients from the loopback interface and Unix sockets only.
fn refused_by_protected_mode(client: &Client) -> bool {
    let s = &client.settings;
    s.protected_mode && s.requirepass.is_none() && !client.is_local
}

/// Serves one connection until it closes.
pub async fn serve(mut sock: Sock, srv: Arc<Shared>, info: Arc<ClientInfo>, worker: usize) {
    let is_local = info.unix_socket
        || info.addr.starts_with("127.")
        || info.addr.starts_with("[::1]")
        || info.addr.starts_with("::1");
    // Unregisters the client however the task ends (even by a panic, which
    // tokio contains to this task). Dropped before `sock`, so the fd is
    // marked closed before it is released (see ClientInfo::kill).
    let _registration = Registration {
        srv: srv.clone(),
        info: info.clone(),
    };
    let mut client = Client::new(&srv, info.clone(), worker, is_local);
    if refused_by_protected_mode(&client) {
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        // Best effort, as Redis: one write, then close.
        if sock.writable().await.is_ok() {
            let _ = sock.try_write(PROTECTED_MODE_DENIED);
        }
    } else {
        let _ = serve_loop(&mut sock, &srv, &mut client).await;
    }
    client.unwatch_all(&srv);
    client.unsubscribe_all(&srv);
}

/// A connection's entry in the client registry, removed on drop.
struct Registration {
    srv: Arc<Shared>,
    info: Arc<ClientInfo>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.info.mark_closed();
        if self.info.is_pubsub() {
            self.srv.pubsub.remove_client(self.info.id);
        }
        if self.info.monitor.load(Ordering::Relaxed) {
            self.srv.monitors.remove(self.info.id);
        }
        self.srv.clients.lock().remove(&self.info.id);
        self.srv
            .stats
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve_loop(sock: &mut Sock, srv: &Shared, client: &mut Client) -> io::Result<()> {
    let mut rbuf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut pos = 0usize;
    let mut parser = RequestParser::new();
    let mut out = Reply::new(Resp::V2);
    // Set after a blocking command ended with requests still buffered:
    // they run before the socket is read again.
    let mut resume = false;
    loop {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        let listens = client.in_pubsub() || client.is_monitor();
        let read = if std::mem::take(&mut resume) {
            // Requests left in the buffer by a blocking command run now.
            Ok(usize::MAX)
        } else if out.is_empty() && !listens {
            // The common case: nothing to write, wait for requests.
            sock.read_buf(&mut rbuf).await
        } else {
            // As Redis, requests keep being read and run while replies wait
            // for the socket: the output buffer limit bounds what piles up.
            let wake = if out.is_empty() {
                tokio::select! {
                    r = sock.read_buf(&mut rbuf) => Wake::Read(r),
                    _ = client.info.mailbox.notify.notified() => Wake::Mail,
                }
            } else {
                tokio::select! {
                    r = sock.readable() => Wake::Readable(r),
                    r = sock.writable() => Wake::Writable(r),
                    _ = client.info.mailbox.notify.notified(), if listens => Wake::Mail,
                }
            };
            match wake {
                Wake::Read(r) => r,
                Wake::Readable(Err(e)) | Wake::Writable(Err(e)) => return Err(e),
                Wake::Readable(Ok(())) => match sock.try_read_buf(&mut rbuf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    r => r,
                },
                Wake::Writable(Ok(())) | Wake::Mail => {
                    deliver_messages(client, &mut out);
                    write_some(sock, &mut out, client, srv)?;
                    if over_output_limit(srv, client, &out) || client.info.is_killed() {
                        return Ok(());
                    }
                    continue;
                }
            }
        };
        let n = match read {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        if client.info.is_killed() {
            return Ok(());
        }
        if n != usize::MAX {
            srv.workers[client.worker].net_input.add(n as u64);
        }
        client.refresh_settings(srv);
        crate::server::spin::active(client.settings.busy_poll_usecs);
        let info = &client.info;
        info.last_interaction_ms.store(unix_ms(), Ordering::Relaxed);
        info.qbuf.store(rbuf.len(), Ordering::Relaxed);
        info.qbuf_free
            .store(rbuf.capacity() - rbuf.len(), Ordering::Relaxed);
        let mut close = false;
        // Pending output at which the limit needs a closer look.
        let trigger = outlimit::Trigger::of(&client.settings, &client.info).at;
        loop {
            let limits = Limits {
                max_bulk_len: client.settings.proto_max_bulk_len,
                unauthenticated: !client.authenticated,
            };
            let buf = &rbuf[pos..];
            match parser.parse(buf, limits) {
                Parsed::Request { consumed, source } => {
                    let args = match source {
                        Source::Buffer => Args::new(buf, parser.spans()),
                        Source::Inline => Args::new(parser.inline_scratch(), parser.spans()),
                    };
                    if !args.is_empty() {
                        if srv.pause_flag.load(Ordering::Relaxed)
                            && pause_applies(srv, client, &args)
                        {
                            // Replies so far go out first, as Redis does
                            // when it postpones a client.
                            flush(sock, &mut out, client, srv).await?;
                            wait_for_unpause(srv, client, &args).await;
                            if client.info.is_killed() {
                                return Ok(());
                            }
                        }
                        let mark = out.len();
                        run_one(srv, client, &mut out, &args);
                        client.deliver_before_reply(&mut out, mark);
                        if let Some(h) = client.handoff.take() {
                            pos += consumed;
                            match h {
                                Handoff::Psync {
                                    replid,
                                    offset,
                                    legacy_sync,
                                } => {
                                    // The connection becomes a replica's
                                    // stream until it closes.
                                    flush(sock, &mut out, client, srv).await?;
                                    let rest = rbuf[pos..].to_vec();
                                    return crate::replication::primary::serve(
                                        sock,
                                        srv,
                                        client,
                                        &replid,
                                        offset,
                                        legacy_sync,
                                        rest,
                                    )
                                    .await;
                                }
                                Handoff::Wait {
                                    target,
                                    num,
                                    deadline_ms,
                                } => {
                                    flush(sock, &mut out, client, srv).await?;
                                    let n = wait_acks(srv, client, target, num, deadline_ms).await;
                                    out.int(n as i64);
                                }
                            }
                            if pos == rbuf.len() {
                                break;
                            }
                            continue;
                        }
                        if out.len() >= trigger && over_output_limit(srv, client, &out) {
                            return Ok(());
                        }
                    }
                    pos += consumed;
                    if client.block.is_some() {
                        // Nothing more runs until the wait ends.
                        break;
                    }
                    if client.close_after_reply {
                        close = true;
                        break;
                    }
                    if pos == rbuf.len() {
                        break;
                    }
                }
                Parsed::Incomplete { want } => {
                    if want > rbuf.len() - pos {
                        rbuf.reserve(want - (rbuf.len() - pos));
                    }
                    break;
                }
                Parsed::Error(msg) => {
                    let mut line = Vec::with_capacity(msg.len() + 4);
                    line.extend_from_slice(b"ERR ");
                    line.extend_from_slice(msg.as_bytes());
                    out.error(&line);
                    log::verbose(&format!(
                        "Protocol error ({msg}) from client: id={} addr={}",
                        client.id, client.info.addr
                    ));
                    close = true;
                    break;
                }
            }
        }
        // Keep only the unparsed tail; give back the memory of a big
        // request once it is done.
        if pos == rbuf.len() {
            rbuf.clear();
            pos = 0;
            if rbuf.capacity() > SHRINK_ABOVE {
                rbuf = Vec::with_capacity(READ_CHUNK);
            }
        } else if pos > 0 {
            rbuf.drain(..pos);
            pos = 0;
        }
        client.info.qbuf.store(rbuf.len(), Ordering::Relaxed);
        client
            .info
            .qbuf_free
            .store(rbuf.capacity() - rbuf.len(), Ordering::Relaxed);
        if rbuf.len() as u64 > client.settings.client_query_buffer_limit {
            log::warning(&format!(
                "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                client.id,
                client.info.addr,
                String::from_utf8_lossy(&rbuf[..rbuf.len().min(64)])
            ));
            return Ok(());
        }
        deliver_messages(client, &mut out);
        if close {
            flush(sock, &mut out, client, srv).await?;
            return Ok(());
        }
        durable(srv, &out).await;
        write_some(sock, &mut out, client, srv)?;
        if (!out.is_empty() || client.info.obuf_soft_since.load(Ordering::Relaxed) != 0)
            && over_output_limit(srv, client, &out)
        {
            return Ok(());
        }
        if client.info.is_killed() {
            return Ok(());
        }
        if client.block.is_some() {
            // The replies before the blocking command go out first.
            flush(sock, &mut out, client, srv).await?;
            if !wait_blocked(sock, srv, client, &mut out, &mut rbuf).await? {
                return Ok(());
            }
            deliver_messages(client, &mut out);
            durable(srv, &out).await;
            write_some(sock, &mut out, client, srv)?;
            resume = !rbuf.is_empty();
        }
    }
}

/// Waits for the outcome of the blocking command the client just ran
/// (`client.block`): served by a writer, rerun requested, deadline,
/// CLIENT UNBLOCK, or the socket closing. Bytes arriving meanwhile are
/// kept in `rbuf` and not run (as Redis). Writes the command's reply to
/// `out`; returns false when the connection must close.
async fn wait_blocked(
    sock: &mut Sock,
    srv: &Shared,
    client: &mut Client,
    out: &mut Reply,
    rbuf: &mut Vec<u8>,
) -> io::Result<bool> {
    use crate::commands::blocking::unregister;
    use crate::storage::blocking::{CANCELLED, CLAIMED, RETRY, SERVED, WAITING};
    let keep_open = loop {
        let Some(b) = client.block.as_ref() else {
            break true;
        };
        let w = b.waiter.clone();
        let deadline = b.deadline_ms;
        match w.state() {
            SERVED => {
                if let Some(r) = w.take_reply() {
                    out.raw(|buf| buf.extend_from_slice(&r));
                }
                unregister(srv, &w);
                break true;
            }
            RETRY => {
                // Rerun the command in place, keeping the waiter (and so
                // its place in the queues) if it blocks again.
                let b = client.block.take().expect("checked above");
                client.block_retry = Some(w.clone());
                client.info.blocked.store(BLOCKED_NONE, Ordering::Relaxed);
                let args = b.args();
                commands::execute(srv, client, out, &args);
                if let Some(again) = client.block.as_mut() {
                    again.deadline_ms = deadline;
                    continue;
                }
                // Finished (served itself, or failed): leave the queues.
                client.block_retry = None;
                w.transition(RETRY, CANCELLED);
                unregister(srv, &w);
                break true;
            }
            CLAIMED => {
                // A writer is serving it under its shard lock right now.
                tokio::task::yield_now().await;
                continue;
            }
            _ => {}
        }
        let reason = client.info.unblock.swap(0, Ordering::Relaxed);
        let timed_out = deadline != 0 && unix_ms() >= deadline;
        if reason != 0 || timed_out {
            if !w.transition(WAITING, CANCELLED) {
                continue;
            }
            if reason == UNBLOCK_ERROR {
                out.err("UNBLOCKED client unblocked via CLIENT UNBLOCK");
            } else {
                (b.on_timeout)(out);
            }
            unregister(srv, &w);
            break true;
        }
        let nap = if deadline == 0 {
            Duration::from_secs(3600)
        } else {
            Duration::from_millis((deadline - unix_ms()).clamp(0, 3_600_000) as u64)
        };
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            _ = w.notify.notified() => {}
            _ = client.info.wake.notified() => {}
            _ = tokio::time::sleep(nap) => {}
            r = sock.read_buf(rbuf) => {
                let gone = match r {
                    Ok(0) | Err(_) => true,
                    Ok(n) => {
                        srv.workers[client.worker].net_input.add(n as u64);
                        rbuf.len() as u64 > client.settings.client_query_buffer_limit
                    }
                };
                if gone || client.info.is_killed() {
                    if w.transition(WAITING, CANCELLED) || w.transition(RETRY, CANCELLED) {
                        unregister(srv, &w);
                    } else {
                        // Served (or being served) as it left: wait for the
                        // server to finish, then clean up.
                        while w.state() == CLAIMED {
                            tokio::task::yield_now().await;
                        }
                        unregister(srv, &w);
                    }
                    break false;
                }
            }
        }
    };
    client.block = None;
    client.block_retry = None;
    client.info.blocked.store(BLOCKED_NONE, Ordering::Relaxed);
    client.info.unblock.store(0, Ordering::Relaxed);
    Ok(keep_open)
}

/// True when a CLIENT PAUSE in effect holds this request back: every
/// command in ALL mode, writes (and commands that may replicate) in WRITE
/// mode. Requests that fail before running (unknown command, arity, NOAUTH)
/// are answered at once, as in Redis.
fn pause_applies(srv: &Shared, client: &Client, args: &Args) -> bool {
    held_back(srv, client, args).is_some()
}

/// The command id of a request a CLIENT PAUSE holds back, if it does.
fn held_back(srv: &Shared, client: &Client, args: &Args) -> Option<usize> {
    let pause = srv.current_pause()?;
    let (mut def, mut id) = srv.table.lookup(args.get(0))?;
    if !def.subcommands.is_empty() && args.len() >= 2 {
        (def, id) = Table::subcommand(def, id, args.get(1))?;
    }
    let argc = args.len() as i32;
    if (def.arity > 0 && argc != def.arity) || argc < -def.arity {
        return None;
    }
    if !client.authenticated && !def.has(flags::NO_AUTH) {
        return None;
    }
    let writes = def.has(flags::WRITE | flags::MAY_REPLICATE)
        || (def.name == "exec"
            && client.multi.as_ref().is_some_and(|m| {
                m.cmds
                    .iter()
                    .any(|q| q.def.has(flags::WRITE | flags::MAY_REPLICATE))
            }));
    (!pause.write_only || writes).then_some(id)
}

/// Waits (without holding any lock) until the pause no longer holds this
/// request back or the client is killed.
async fn wait_for_unpause(srv: &Shared, client: &Client, args: &Args<'_>) {
    client.info.blocked.store(BLOCKED_PAUSE, Ordering::Relaxed);
    // CLIENT LIST shows the command that waits.
    if let Some(id) = held_back(srv, client, args) {
        client.info.last_cmd.store(id + 1, Ordering::Relaxed);
    }
    loop {
        let unpaused = srv.unpaused.notified();
        tokio::pin!(unpaused);
        unpaused.as_mut().enable();
        if client.info.is_killed() || !pause_applies(srv, client, args) {
            break;
        }
        // Wake at the end of the pause, on UNPAUSE, or every 100 ms to
        // notice a kill.
        let left = srv.pause.lock().until - unix_ms();
        let nap = Duration::from_millis(left.clamp(1, 100) as u64);
        tokio::select! {
            _ = &mut unpaused => {}
            _ = tokio::time::sleep(nap) => {}
        }
    }
    client.info.blocked.store(BLOCKED_NONE, Ordering::Relaxed);
}

/// WAIT: waits until `num` replicas acknowledged `target` (or the
/// deadline, or the client is killed); returns how many did.
async fn wait_acks(
    srv: &Shared,
    client: &Client,
    target: u64,
    num: usize,
    deadline_ms: i64,
) -> usize {
    client
        .info
        .blocked
        .store(crate::server::client::BLOCKED_COMMAND, Ordering::Relaxed);
    let n = loop {
        let acked = srv.repl.acked.notified();
        tokio::pin!(acked);
        acked.as_mut().enable();
        let n = srv.repl.acked_at_least(target);
        let now = unix_ms();
        if n >= num || (deadline_ms != 0 && now >= deadline_ms) || client.info.is_killed() {
            break n;
        }
        let nap = if deadline_ms == 0 {
            1000
        } else {
            (deadline_ms - now).clamp(1, 1000)
        };
        tokio::select! {
            _ = &mut acked => {}
            _ = client.info.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(nap as u64)) => {}
        }
        if client.info.unblock.swap(0, Ordering::Relaxed) != 0 {
            break srv.repl.acked_at_least(target);
        }
    };
    client.info.blocked.store(BLOCKED_NONE, Ordering::Relaxed);
    n
}

/// Moves Pub/Sub messages waiting in the client's mailbox to its replies.
#[inline]
fn deliver_messages(client: &Client, out: &mut Reply) {
    let mailbox = &client.info.mailbox;
    if mailbox.has_pending() {
        out.raw(|buf| mailbox.drain_into(buf));
    }
}

/// Runs one request, honouring `CLIENT REPLY OFF|SKIP`.
#[inline]
fn run_one(srv: &Shared, client: &mut Client, out: &mut Reply, args: &Args) {
    if client.reply_mode == ReplyMode::On {
        commands::execute(srv, client, out, args);
        return;
    }
    let mark = out.len();
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skip;
    }
    commands::execute(srv, client, out, args);
    match client.reply_mode {
        ReplyMode::Off => out.truncate(mark),
        ReplyMode::Skip => {
            out.truncate(mark);
            client.reply_mode = ReplyMode::On;
        }
        // The command itself changed the mode (CLIENT REPLY ON/SKIP).
        _ => {}
    }
}
