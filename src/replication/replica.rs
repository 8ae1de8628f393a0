//! The replica's link to its primary: one thread per REPLICAOF, with
//! blocking sockets (reads time out every 100 ms so that the thread notices
//! a newer REPLICAOF, sends its ACK each second and enforces
//! `repl-timeout`). It reconnects after a failure (1 s apart, as Redis's
//! replication cron) and asks for a partial resync from where it is.
//!
//! Applied commands run through the dispatcher with a master client (no
//! replies; read-only mode does not apply to it; expired keys stay visible
//! to it). Exactly the bytes of each applied command (a whole transaction
//! at its EXEC) are then appended to our own backlog, so our replicas and
//! a later promotion continue our primary's offsets.

use super::{MasterLink, payload};
use crate::commands::{self, Args};
use crate::protocol::reply::{Reply, Resp};
use crate::protocol::request::{Limits, Parsed, RequestParser, Source};
use crate::server::client::{Client, ClientInfo, KIND_MASTER};
use crate::server::log;
use crate::server::shared::Shared;
use crate::storage::backlog::Backlog;
use crate::storage::keyspace::unix_ms;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Starts the link thread for generation `gen` of REPLICAOF.
pub fn spawn(srv: Arc<Shared>, host: String, port: u16, generation: u64) {
    let _ = std::thread::Builder::new()
        .name("ember-replica".into())
        .spawn(move || run(srv, host, port, generation));
}

fn current(srv: &Shared, generation: u64) -> bool {
    srv.repl.link_gen.load(Ordering::SeqCst) == generation
}

fn set_state(srv: &Shared, generation: u64, f: impl FnOnce(&mut MasterLink)) {
    if !current(srv, generation) {
        return;
    }
    if let Some(m) = srv.repl.master.lock().as_mut() {
        f(m);
    }
}

fn run(srv: Arc<Shared>, host: String, port: u16, generation: u64) {
    while current(&srv, generation) {
        set_state(&srv, generation, |m| m.state = "connecting");
        let res = session(&srv, &host, port, generation);
        let was_up = srv
            .repl
            .master
            .lock()
            .as_ref()
            .is_some_and(|m| m.state == "connected");
        set_state(&srv, generation, |m| {
            if m.state == "connected" {
                m.down_since_ms = unix_ms();
            }
            m.state = "connect";
            m.sync_total = -1;
        });
        if !current(&srv, generation) {
            return;
        }
        match res {
            Err(e) if was_up => log::notice(&format!("Connection with master lost ({e}).")),
            Err(e) => log::warning(&format!("Error condition on socket for SYNC: {e}")),
            Ok(()) => {}
        }
        // Retry once a second, as Redis's replication cron.
        for _ in 0..10 {
            if !current(&srv, generation) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A blocking connection with a read buffer.
struct Link {
    sock: TcpStream,
    buf: Vec<u8>,
}

impl Link {
    fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let mut v = Vec::new();
        crate::storage::feed::encode_command(&mut v, args.iter().copied());
        self.sock.write_all(&v)
    }

    /// Reads more bytes (waiting at most the socket timeout); Ok(false)
    /// on a timeout.
    fn fill(&mut self) -> io::Result<bool> {
        let mut tmp = [0u8; 64 * 1024];
        match self.sock.read(&mut tmp) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            )),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// One reply line (without CRLF), skipping the bare newlines a primary
    /// sends as keep-alives while it prepares the payload.
    fn line(&mut self, srv: &Shared, generation: u64, timeout: Duration) -> io::Result<String> {
        let start = Instant::now();
        loop {
            while self.buf.first() == Some(&b'\n') {
                self.buf.remove(0);
            }
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                let l: Vec<u8> = self.buf.drain(..=i).collect();
                let l = l.strip_suffix(b"\n").unwrap_or(&l);
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                return Ok(String::from_utf8_lossy(l).into_owned());
            }
            if !current(srv, generation) {
                return Err(io::Error::other("replication target changed"));
            }
            if start.elapsed() > timeout {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "Timeout connecting to the MASTER...",
                ));
            }
            self.fill()?;
        }
    }
}

fn session(srv: &Arc<Shared>, host: &str, port: u16, generation: u64) -> io::Result<()> {
    let s = srv.settings();
    let timeout = Duration::from_secs(s.repl_timeout.max(1));
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("cannot resolve the master's address"))?;
    let sock = TcpStream::connect_timeout(&addr, timeout)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    log::notice("MASTER <-> REPLICA sync started");
    let mut link = Link {
        sock,
        buf: Vec::new(),
    };
    // Handshake.
    link.send(&[b"PING"])?;
    let pong = link.line(srv, generation, timeout)?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(io::Error::other(format!(
            "Error reply to PING from master: '{pong}'"
        )));
    }
    log::notice("Master replied to PING, replication can continue...");
    if let Some(pass) = &s.masterauth {
        match &s.masteruser {
            Some(user) => link.send(&[b"AUTH", user, pass])?,
            None => link.send(&[b"AUTH", pass])?,
        }
        let r = link.line(srv, generation, timeout)?;
        if r.starts_with('-') {
            return Err(io::Error::other(format!("Unable to AUTH to MASTER: {r}")));
        }
    }
    let my_port = if s.replica_announce_port != 0 {
        s.replica_announce_port
    } else {
        srv.tcp_port.load(Ordering::Relaxed) as u16
    };
    link.send(&[
        b"REPLCONF",
        b"listening-port",
        my_port.to_string().as_bytes(),
    ])?;
    let _ = link.line(srv, generation, timeout)?;
    if let Some(ip) = &s.replica_announce_ip {
        link.send(&[b"REPLCONF", b"ip-address", ip.as_bytes()])?;
        let _ = link.line(srv, generation, timeout)?;
    }
    link.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    let _ = link.line(srv, generation, timeout)?;
    // PSYNC from our own history if we have one.
    let has_history = srv.keyspace.feed.with_backlog(|b| b.is_some());
    let (myid, myoff) = if has_history {
        (
            srv.replid.lock().0.clone(),
            (srv.keyspace.feed.repl_offset() + 1).to_string(),
        )
    } else {
        ("?".to_string(), "-1".to_string())
    };
    link.send(&[b"PSYNC", myid.as_bytes(), myoff.as_bytes()])?;
    let reply = link.line(srv, generation, timeout)?;
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut it = rest.split(' ');
        let id = it.next().unwrap_or_default().to_string();
        let off: u64 = it.next().and_then(|o| o.parse().ok()).unwrap_or(0);
        log::notice(&format!("Full resync from master: {id}:{off}"));
        full_sync(srv, &mut link, generation, timeout, &id, off)?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let newid = rest.trim();
        log::notice("Successful partial resynchronization with master.");
        let _g = srv.repl.apply_lock.lock();
        if !current(srv, generation) {
            return Ok(());
        }
        let mut ids = srv.replid.lock();
        if !newid.is_empty() && newid != ids.0 {
            // The primary's history changed (it was promoted): ours
            // continues as its new id, the old one valid up to here.
            ids.1 = std::mem::replace(&mut ids.0, newid.to_string());
            let off = srv.keyspace.feed.repl_offset() as i64;
            srv.repl.second_offset.store(off + 1, Ordering::SeqCst);
            drop(ids);
            srv.repl.disconnect_replicas();
        }
    } else {
        return Err(io::Error::other(format!(
            "Unexpected reply to PSYNC from master: {reply}"
        )));
    }
    stream(srv, link, generation, timeout)
}

/// Reads the RDB payload and replaces the dataset with it.
fn full_sync(
    srv: &Arc<Shared>,
    link: &mut Link,
    generation: u64,
    timeout: Duration,
    id: &str,
    off: u64,
) -> io::Result<()> {
    set_state(srv, generation, |m| {
        m.state = "sync";
        m.sync_started_ms = unix_ms();
        m.sync_read = 0;
    });
    let head = link.line(srv, generation, timeout)?;
    let Some(head) = head.strip_prefix('$') else {
        return Err(io::Error::other(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{head}'), are you sure the host and port are right?"
        )));
    };
    let mut last_io = Instant::now();
    let data = if let Some(mark) = head.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        log::notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk");
        loop {
            if link.buf.len() >= mark.len() && link.buf.ends_with(&mark) {
                let n = link.buf.len() - mark.len();
                let mut d = std::mem::take(&mut link.buf);
                d.truncate(n);
                break d;
            }
            if !current(srv, generation) {
                return Ok(());
            }
            if link.fill()? {
                last_io = Instant::now();
                let n = link.buf.len() as u64;
                set_state(srv, generation, |m| m.sync_read = n);
            } else if last_io.elapsed() > timeout {
                return Err(io::Error::other("Timeout receiving bulk data from MASTER"));
            }
        }
    } else {
        let len: usize = head
            .parse()
            .map_err(|_| io::Error::other("Bad payload length from MASTER"))?;
        set_state(srv, generation, |m| m.sync_total = len as i64);
        log::notice(&format!(
            "MASTER <-> REPLICA sync: receiving {len} bytes from master to disk"
        ));
        while link.buf.len() < len {
            if !current(srv, generation) {
                return Ok(());
            }
            if link.fill()? {
                last_io = Instant::now();
                let n = link.buf.len().min(len) as u64;
                set_state(srv, generation, |m| m.sync_read = n);
            } else if last_io.elapsed() > timeout {
                return Err(io::Error::other("Timeout receiving bulk data from MASTER"));
            }
        }
        let rest = link.buf.split_off(len);
        std::mem::replace(&mut link.buf, rest)
    };
    let _g = srv.repl.apply_lock.lock();
    if !current(srv, generation) {
        return Ok(());
    }
    log::notice("MASTER <-> REPLICA sync: Flushing old data");
    log::notice("MASTER <-> REPLICA sync: Loading DB in memory");
    payload::load(srv, &data).map_err(|e| {
        io::Error::other(format!(
            "Failed trying to load the MASTER synchronization DB from socket: {e}"
        ))
    })?;
    // Our history is now the primary's, from `off`.
    *srv.replid.lock() = (id.to_string(), "0".repeat(40));
    srv.repl.second_offset.store(-1, Ordering::SeqCst);
    let st = srv.settings();
    let hard = super::replica_hard_limit(&st);
    srv.keyspace
        .feed
        .with_backlog(|b| *b = Some(Backlog::new(off, st.repl_backlog_size, hard)));
    srv.keyspace
        .feed
        .set_tee(false, off, st.repl_backlog_size, hard);
    srv.repl.disconnect_replicas();
    log::notice("MASTER <-> REPLICA sync: Finished with success");
    if srv.aof.enabled() {
        let _ = srv.aof.bgrewrite();
    }
    Ok(())
}

/// The master client, registered so CLIENT LIST shows it and CLIENT KILL
/// TYPE master closes the link.
struct MasterClient {
    srv: Arc<Shared>,
    client: Client,
}

impl Drop for MasterClient {
    fn drop(&mut self) {
        self.client.info.mark_closed();
        self.srv.clients.lock().remove(&self.client.info.id);
    }
}

fn stream(srv: &Arc<Shared>, mut link: Link, generation: u64, timeout: Duration) -> io::Result<()> {
    let peer = link
        .sock
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let local = link
        .sock
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let id = srv.next_client_id.fetch_add(1, Ordering::Relaxed);
    let info = Arc::new(ClientInfo::new(
        id,
        peer,
        local,
        link.sock.as_raw_fd(),
        false,
    ));
    info.kind.store(KIND_MASTER, Ordering::Relaxed);
    srv.clients.lock().insert(id, info.clone());
    let mut client = Client::new(srv, info.clone(), srv.workers.len() - 1, true);
    client.authenticated = true;
    client.is_master = true;
    let mut mc = MasterClient {
        srv: srv.clone(),
        client,
    };
    set_state(srv, generation, |m| {
        m.state = "connected";
        m.last_io_ms = unix_ms();
    });
    log::notice(
        "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished a full one; streaming.",
    );
    let mut parser = RequestParser::new();
    let mut out = Reply::new(Resp::V2);
    // Bytes of applied commands not yet in our backlog (a transaction in
    // progress), and where parsing resumes.
    let mut pos = 0usize;
    let mut last_ack = Instant::now() - Duration::from_secs(2);
    let mut last_io = Instant::now();
    loop {
        if !current(srv, generation) || info.is_killed() {
            return Err(io::Error::other("link closed"));
        }
        let mut ack_now = false;
        if pos < link.buf.len() || link.fill()? {
            last_io = Instant::now();
            let _g = srv.repl.apply_lock.lock();
            if !current(srv, generation) {
                return Ok(());
            }
            let mut applied = 0usize;
            loop {
                let limits = Limits {
                    max_bulk_len: u64::MAX / 2,
                    unauthenticated: false,
                };
                let buf = &link.buf[pos..];
                match parser.parse(buf, limits) {
                    Parsed::Request { consumed, source } => {
                        let args = match source {
                            Source::Buffer => Args::new(buf, parser.spans()),
                            Source::Inline => Args::new(parser.inline_scratch(), parser.spans()),
                        };
                        let client = &mut mc.client;
                        if !args.is_empty() {
                            let name = args.get(0);
                            if name.eq_ignore_ascii_case(b"replconf") {
                                if args.len() >= 2 && args.get(1).eq_ignore_ascii_case(b"getack") {
                                    ack_now = true;
                                }
                            } else if !name.eq_ignore_ascii_case(b"ping") {
                                commands::execute(srv, client, &mut out, &args);
                                out.truncate(0);
                            }
                        }
                        pos += consumed;
                        if client.multi.is_none() {
                            srv.keyspace.feed.push_repl(&link.buf[applied..pos]);
                            applied = pos;
                        }
                        if pos == link.buf.len() {
                            break;
                        }
                    }
                    Parsed::Incomplete { .. } => break,
                    Parsed::Error(msg) => {
                        return Err(io::Error::other(format!(
                            "Protocol error from master: {msg}"
                        )));
                    }
                }
            }
            link.buf.drain(..applied);
            pos -= applied;
            set_state(srv, generation, |m| m.last_io_ms = unix_ms());
        } else if last_io.elapsed() > timeout {
            return Err(io::Error::other(
                "MASTER timeout: no data nor PING received...",
            ));
        }
        if ack_now || last_ack.elapsed() >= Duration::from_secs(1) {
            let off = srv.keyspace.feed.repl_offset().to_string();
            link.send(&[b"REPLCONF", b"ACK", off.as_bytes()])?;
            last_ack = Instant::now();
        }
    }
}
