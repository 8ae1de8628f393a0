//! The command side of blocking commands (BLPOP, BLMOVE, BLMPOP …,
//! BZPOPMIN, BZMPOP …, XREAD/XREADGROUP BLOCK): how a handler that found
//! nothing blocks its client, and how the connection ends the wait.
//!
//! A handler calls [`block`] with its keys, its timeout and a serve
//! function plus descriptor (see `storage::blocking`); it writes no reply.
//! The connection then waits (see `server::conn`) for one of: a server
//! handing it data (state SERVED, reply ready), a request to rerun its
//! command (RETRY: data came while serving needed shards the writer did not
//! hold), the deadline, CLIENT UNBLOCK, or the socket closing. Every path
//! that gives up first wins the waiter's CAS to CANCELLED, so a server can
//! no longer take data for it, then [`unregister`] removes it from its
//! keys' queues (and serves whoever waits behind it).

use super::{Args, Ctx};
use crate::protocol::reply::{Reply, Resp};
use crate::server::client::BLOCKED_COMMAND;
use crate::server::shared::Shared;
use crate::storage::blocking::{RETRY, ServeFn, WAITING, Waiter};
use crate::storage::keyspace::unix_ms;
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A client's current blocking wait.
pub struct Blocked {
    pub waiter: Arc<Waiter>,
    /// Unix ms at which it times out; 0 = never.
    pub deadline_ms: i64,
    /// The reply on timeout (null or null array, depending on the command).
    pub on_timeout: fn(&mut Reply),
    /// The command, kept to rerun it (RETRY).
    pub buf: Vec<u8>,
    pub spans: Vec<(u32, u32)>,
}

impl Blocked {
    pub fn args(&self) -> Args<'_> {
        Args::new(&self.buf, &self.spans)
    }
}

/// Parses a blocking command's timeout (seconds, decimals allowed) into
/// milliseconds; answers Redis's error and returns `None` when invalid.
pub fn parse_timeout(ctx: &mut Ctx, arg: &[u8]) -> Option<i64> {
    match crate::util::float::parse_timeout_secs_to_ms(arg) {
        None => {
            ctx.out.err("ERR timeout is not a float or out of range");
            None
        }
        Some(ms) if ms < 0 => {
            ctx.out.err("ERR timeout is negative");
            None
        }
        Some(ms) => Some(ms),
    }
}

/// True when the command must not block (inside MULTI/EXEC): it answers
/// as if it timed out at once.
pub fn cannot_block(ctx: &Ctx) -> bool {
    ctx.client.in_exec
}

/// Blocks the calling client on `keys` (all declared keys of the command,
/// so their shards are locked): registers a waiter at the end of each
/// key's queue, or, when the command is being rerun after a RETRY, keeps
/// the waiter it already has and with it its place in the queues.
pub fn block(
    ctx: &mut Ctx,
    args: &Args,
    keys: &[&[u8]],
    timeout_ms: i64,
    on_timeout: fn(&mut Reply),
    serve: ServeFn,
    spec: Box<dyn Any + Send + Sync>,
) {
    let waiter = match ctx.client.block_retry.take() {
        Some(w) if w.transition(RETRY, WAITING) => w,
        _ => {
            let mut unique: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
            for k in keys {
                if !unique.iter().any(|u| u == k) {
                    unique.push(k.to_vec());
                }
            }
            let w = Arc::new(Waiter::new(
                ctx.client.id,
                ctx.db.index,
                unique,
                ctx.out.resp() == Resp::V3,
                serve,
                spec,
            ));
            for k in &w.keys {
                ctx.db.block_on(k, w.clone());
            }
            w
        }
    };
    let mut buf = Vec::new();
    let mut spans = Vec::with_capacity(args.len());
    for a in args.iter() {
        let start = buf.len() as u32;
        buf.extend_from_slice(a);
        spans.push((start, buf.len() as u32));
    }
    let deadline_ms = if timeout_ms > 0 {
        unix_ms().saturating_add(timeout_ms)
    } else {
        0
    };
    ctx.client.block = Some(Blocked {
        waiter,
        deadline_ms,
        on_timeout,
        buf,
        spans,
    });
    ctx.client
        .info
        .blocked
        .store(BLOCKED_COMMAND, Ordering::Relaxed);
}

/// Removes a waiter that is no longer waiting (served elsewhere,
/// cancelled, or finished by a rerun) from every queue it is in, then
/// serves the keys it may have been holding up.
pub fn unregister(srv: &Shared, w: &Arc<Waiter>) {
    let mut db = srv
        .keyspace
        .view_keys(w.db, w.keys.iter().map(|k| k.as_slice()));
    db.index = w.db;
    for k in &w.keys {
        db.unblock_from(w.db, k, w);
    }
    db.serve_ready();
    if db.dirty > 0 {
        srv.add_dirty(db.dirty);
    }
}

/// Builds a reply for a waiter in its protocol version.
pub fn reply_for(w: &Waiter, f: impl FnOnce(&mut Reply)) -> Vec<u8> {
    let mut r = Reply::new(if w.resp3 { Resp::V3 } else { Resp::V2 });
    f(&mut r);
    r.bytes().to_vec()
}
