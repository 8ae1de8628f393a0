//! The primary's side of one replica: after its PSYNC (or SYNC) the
//! connection stops running commands and becomes a sender. It answers
//! `+CONTINUE` (partial resync from the backlog) or `+FULLRESYNC`, sends the
//! RDB payload (`$<len>` or, diskless to a replica with `capa eof`, the
//! `$EOF:<mark>` form), then streams the backlog from the replica's
//! position as it grows, reading `REPLCONF ACK <offset>` in between.

use super::{Attached, ONLINE, ReplConf, SEND_BULK, WAIT_BGSAVE, payload};
use crate::commands::Args;
use crate::protocol::request::{Limits, Parsed, RequestParser, Source};
use crate::server::client::Client;
use crate::server::conn::Sock;
use crate::server::log;
use crate::server::shared::{Shared, random_hex40};
use crate::storage::keyspace::unix_ms;
use crate::util::num::parse_i64;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

/// Most bytes copied from the backlog per socket write.
const CHUNK: usize = 256 * 1024;

/// Writes all of `buf`, waiting for the socket as needed.
async fn write_all(sock: &Sock, mut buf: &[u8], srv: &Shared, client: &Client) -> io::Result<()> {
    while !buf.is_empty() {
        match sock.try_write(buf) {
            Ok(n) => {
                srv.workers[client.worker].net_output.add(n as u64);
                buf = &buf[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => sock.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Handles what the replica sent (REPLCONF ACK); bytes stay in `rbuf`
/// until a whole command is there.
fn read_acks(srv: &Shared, rbuf: &mut Vec<u8>, parser: &mut RequestParser, me: &Attached) {
    let mut pos = 0;
    loop {
        let limits = Limits {
            max_bulk_len: 1 << 20,
            unauthenticated: false,
        };
        let buf = &rbuf[pos..];
        match parser.parse(buf, limits) {
            Parsed::Request { consumed, source } => {
                let args = match source {
                    Source::Buffer => Args::new(buf, parser.spans()),
                    Source::Inline => Args::new(parser.inline_scratch(), parser.spans()),
                };
                if args.len() >= 3
                    && args.get(0).eq_ignore_ascii_case(b"replconf")
                    && args.get(1).eq_ignore_ascii_case(b"ack")
                    && let Some(off) = parse_i64(args.get(2))
                {
                    me.ack_off.fetch_max(off.max(0) as u64, Ordering::Relaxed);
                    me.ack_ms.store(unix_ms(), Ordering::Relaxed);
                    me.info
                        .last_interaction_ms
                        .store(unix_ms(), Ordering::Relaxed);
                    srv.repl.acked.notify_waiters();
                }
                pos += consumed;
                if pos == rbuf.len() {
                    break;
                }
            }
            Parsed::Incomplete { .. } => break,
            Parsed::Error(_) => {
                pos = rbuf.len();
                break;
            }
        }
    }
    rbuf.drain(..pos);
}

/// Serves a replica that sent PSYNC `replid` `offset` (or SYNC) until its
/// link closes. `rbuf` holds what it sent after the command.
pub async fn serve(
    sock: &mut Sock,
    srv: &Shared,
    client: &mut Client,
    replid: &[u8],
    offset: i64,
    legacy: bool,
    mut rbuf: Vec<u8>,
) -> io::Result<()> {
    let conf: ReplConf = client.replconf.clone();
    let ip = conf.ip.clone().unwrap_or_else(|| {
        let a = &client.info.addr;
        a.rsplit_once(':')
            .map(|(h, _)| h.trim_matches(|c| c == '[' || c == ']').to_string())
            .unwrap_or_else(|| a.clone())
    });
    let me = Arc::new(Attached {
        info: client.info.clone(),
        ip,
        port: AtomicU64::new(conf.port as u64),
        state: AtomicU8::new(WAIT_BGSAVE),
        ack_off: AtomicU64::new(0),
        ack_ms: AtomicI64::new(unix_ms()),
    });
    let id = client.id;
    let feed = &srv.keyspace.feed;
    let addr = format!("{}:{}", me.ip, conf.port);
    // Partial resync: our history (current id, or the previous one up to
    // where it ended) and the bytes still in the backlog.
    let pos = {
        let (id1, id2) = srv.replid.lock().clone();
        let second = srv.repl.second_offset.load(Ordering::SeqCst);
        let ours = replid == id1.as_bytes()
            || (replid == id2.as_bytes() && offset <= second && offset > 0);
        if !legacy && ours && offset > 0 {
            let want = offset as u64 - 1;
            feed.with_backlog(|b| {
                let b = b.as_mut()?;
                if b.covers(want) {
                    b.add_reader(id, want);
                    Some(want)
                } else {
                    None
                }
            })
        } else {
            None
        }
    };
    srv.repl.attach(me.clone());
    let res = match pos {
        Some(pos) => {
            let id1 = srv.replid.lock().0.clone();
            let line = if conf.psync2 {
                format!("+CONTINUE {id1}\r\n")
            } else {
                "+CONTINUE\r\n".to_string()
            };
            srv.repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            log::notice(&format!("Replica {addr} asks for synchronization"));
            log::notice(&format!(
                "Partial resynchronization request from {addr} accepted. Sending {} bytes of backlog starting from offset {offset}.",
                feed.repl_offset().saturating_sub(pos)
            ));
            me.state.store(ONLINE, Ordering::Relaxed);
            match write_all(sock, line.as_bytes(), srv, client).await {
                Ok(()) => stream(sock, srv, client, &me, pos, &mut rbuf).await,
                Err(e) => Err(e),
            }
        }
        None => {
            if replid != b"?" && !legacy {
                srv.repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            }
            full_sync(sock, srv, client, &me, &conf, legacy, &mut rbuf).await
        }
    };
    feed.with_backlog(|b| {
        if let Some(b) = b {
            b.remove_reader(id);
        }
    });
    srv.repl.detach(id);
    log::notice(&format!("Connection with replica {addr} lost."));
    res
}

/// `+FULLRESYNC`, the RDB, then the stream.
async fn full_sync(
    sock: &mut Sock,
    srv: &Shared,
    client: &mut Client,
    me: &Arc<Attached>,
    conf: &ReplConf,
    legacy: bool,
    rbuf: &mut Vec<u8>,
) -> io::Result<()> {
    let s = srv.settings();
    let diskless = s.repl_diskless_sync && conf.eof && !legacy;
    log::notice(&format!(
        "Replica {}:{} asks for synchronization",
        me.ip, conf.port
    ));
    if diskless && s.repl_diskless_sync_delay > 0 {
        // Redis waits for more replicas to share the transfer.
        tokio::time::sleep(Duration::from_secs(s.repl_diskless_sync_delay)).await;
        if client.info.is_killed() {
            return Ok(());
        }
    }
    srv.repl.sync_full.fetch_add(1, Ordering::Relaxed);
    // One point in time: every shard locked, so nothing reaches the feed
    // while the offset is read and the dataset serialised.
    let (rdb, off, id1) = {
        let mut db = srv.keyspace.view_all(0);
        let off = super::ensure_backlog(srv);
        srv.keyspace.feed.with_backlog(|b| {
            if let Some(b) = b {
                b.add_reader(client.id, off);
            }
        });
        // The stream to this replica starts with a SELECT.
        srv.keyspace.feed.reset_db();
        let rdb = payload::snapshot(srv, &mut db)?;
        (rdb, off, srv.replid.lock().0.clone())
    };
    log::notice(&format!(
        "Starting BGSAVE for SYNC with target: {}",
        if diskless { "replicas sockets" } else { "disk" }
    ));
    me.state.store(SEND_BULK, Ordering::Relaxed);
    let mut head = Vec::new();
    if !legacy {
        head.extend_from_slice(format!("+FULLRESYNC {id1} {off}\r\n").as_bytes());
    }
    let mark = random_hex40();
    if diskless {
        head.extend_from_slice(format!("$EOF:{mark}\r\n").as_bytes());
    } else {
        head.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
    }
    write_all(sock, &head, srv, client).await?;
    write_all(sock, &rdb, srv, client).await?;
    if diskless {
        write_all(sock, mark.as_bytes(), srv, client).await?;
    }
    drop(rdb);
    log::notice(&format!(
        "Synchronization with replica {}:{} succeeded",
        me.ip, conf.port
    ));
    me.state.store(ONLINE, Ordering::Relaxed);
    me.ack_ms.store(unix_ms(), Ordering::Relaxed);
    stream(sock, srv, client, me, off, rbuf).await
}

/// Sends the backlog from `pos` on, forever; reads ACKs meanwhile.
async fn stream(
    sock: &mut Sock,
    srv: &Shared,
    client: &mut Client,
    me: &Arc<Attached>,
    mut pos: u64,
    rbuf: &mut Vec<u8>,
) -> io::Result<()> {
    let feed = &srv.keyspace.feed;
    let mut parser = RequestParser::new();
    let mut out = Vec::with_capacity(CHUNK);
    read_acks(srv, rbuf, &mut parser, me);
    loop {
        if client.info.is_killed() {
            return Ok(());
        }
        let grew = srv.repl.stream.notified();
        tokio::pin!(grew);
        grew.as_mut().enable();
        out.clear();
        let read = feed.with_backlog(|b| {
            b.as_mut()
                .and_then(|b| b.read(client.id, pos, CHUNK, &mut out))
        });
        let Some(next) = read else {
            log::warning(&format!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                client.id, client.info.addr
            ));
            return Ok(());
        };
        pos = next;
        if !out.is_empty() {
            write_all(sock, &out, srv, client).await?;
            // ACKs that arrived meanwhile.
            loop {
                match sock.try_read_buf(rbuf) {
                    Ok(0) => return Ok(()),
                    Ok(_) => read_acks(srv, rbuf, &mut parser, me),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            continue;
        }
        tokio::select! {
            _ = &mut grew => {}
            r = sock.read_buf(rbuf) => {
                match r {
                    Ok(0) => return Ok(()),
                    Ok(n) => {
                        srv.workers[client.worker].net_input.add(n as u64);
                        read_acks(srv, rbuf, &mut parser, me);
                    }
                    Err(e) => return Err(e),
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
