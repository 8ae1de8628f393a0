//! One client connection: read what arrived, run every complete request in
//! it, then write all the replies with one write. Requests split across
//! reads are resumed by the parser; protocol errors are answered and the
//! connection closed where Redis closes it.

use crate::commands::{self, Args};
use crate::protocol::reply::{Reply, Resp};
use crate::protocol::request::{Limits, Parsed, RequestParser, Source};
use crate::server::client::{Client, ClientInfo, ReplyMode};
use crate::server::log;
use crate::server::shared::Shared;
use crate::storage::keyspace::unix_ms;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::{TcpStream, UnixStream};

/// A TCP or Unix-domain stream.
pub enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    async fn writable(&self) -> io::Result<()> {
        match self {
            Sock::Tcp(s) => s.writable().await,
            Sock::Unix(s) => s.writable().await,
        }
    }

    /// Reads what is available into the spare capacity of `buf`, waiting
    /// until something is. Goes through `AsyncRead`, which remembers that a
    /// short read drained the socket, so the next call waits for readiness
    /// instead of spending a `recv` on EAGAIN.
    async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        match self {
            Sock::Tcp(s) => s.read_buf(buf).await,
            Sock::Unix(s) => s.read_buf(buf).await,
        }
    }

    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.try_write(buf),
            Sock::Unix(s) => s.try_write(buf),
        }
    }
}

/// Smallest free space kept in the read buffer before a read.
const READ_CHUNK: usize = 16 * 1024;

/// Writes everything in `out` to the socket.
async fn flush(sock: &Sock, out: &mut Reply, client: &Client, srv: &Shared) -> io::Result<()> {
    let w = &srv.workers[client.worker];
    while !out.is_empty() {
        match sock.try_write(out.bytes()) {
            Ok(n) => {
                out.consume(n);
                w.net_output.add(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                client.info.omem.store(out.len(), Ordering::Relaxed);
                sock.writable().await?;
            }
            Err(e) => return Err(e),
        }
    }
    client.info.omem.store(0, Ordering::Relaxed);
    Ok(())
}

/// Serves one connection until it closes.
pub async fn serve(mut sock: Sock, srv: Arc<Shared>, info: Arc<ClientInfo>, worker: usize) {
    let is_local = info.unix_socket
        || info.addr.starts_with("127.")
        || info.addr.starts_with("[::1]")
        || info.addr.starts_with("::1");
    let mut client = Client::new(&srv, info.clone(), worker, is_local);
    let _ = serve_loop(&mut sock, &srv, &mut client).await;
    info.mark_closed();
    srv.clients.lock().remove(&info.id);
    srv.stats.connected_clients.fetch_sub(1, Ordering::Relaxed);
    drop(sock);
}

async fn serve_loop(sock: &mut Sock, srv: &Shared, client: &mut Client) -> io::Result<()> {
    let mut rbuf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut pos = 0usize;
    let mut parser = RequestParser::new();
    let mut out = Reply::new(Resp::V2);
    loop {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        let n = match sock.read_buf(&mut rbuf).await {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        if client.info.is_killed() {
            return Ok(());
        }
        srv.workers[client.worker].net_input.add(n as u64);
        client.refresh_settings(srv);
        client
            .info
            .last_interaction_ms
            .store(unix_ms(), Ordering::Relaxed);
        let mut close = false;
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
                        run_one(srv, client, &mut out, &args);
                    }
                    pos += consumed;
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
        // Keep only the unparsed tail.
        if pos == rbuf.len() {
            rbuf.clear();
            pos = 0;
        } else if pos > 0 {
            rbuf.drain(..pos);
            pos = 0;
        }
        if rbuf.len() as u64 > client.settings.client_query_buffer_limit {
            log::warning(&format!(
                "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                client.id,
                client.info.addr,
                String::from_utf8_lossy(&rbuf[..rbuf.len().min(64)])
            ));
            return Ok(());
        }
        flush(sock, &mut out, client, srv).await?;
        if close || client.info.is_killed() {
            return Ok(());
        }
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
