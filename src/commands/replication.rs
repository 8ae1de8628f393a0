//! Replication commands: REPLICAOF/SLAVEOF, ROLE, REPLCONF, PSYNC/SYNC and
//! WAIT. The machinery is in `crate::replication`; PSYNC and WAIT only
//! record a hand-off the connection acts on after the command (handlers
//! never block).

use super::flags::{
    ADMIN, ALLOW_BUSY, FAST, LOADING, NO_ASYNC_LOADING, NO_MULTI, NOSCRIPT, SENTINEL, STALE,
};
use super::{Args, CommandDef, Ctx, acl};
use crate::replication::{self, Handoff, ONLINE};
use crate::server::client::KIND_REPLICA;
use crate::storage::keyspace::unix_ms;
use crate::util::num::parse_i64;
use std::sync::atomic::Ordering;

const DANGER: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "replicaof",
        arity: 3,
        flags: ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        acl: DANGER,
        group: "server",
        since: "5.0.0",
        summary: "Makes this server a replica of another, or a primary again (NO ONE).",
        handler: replicaof,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "slaveof",
        arity: 3,
        flags: ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        acl: DANGER,
        group: "server",
        since: "1.0.0",
        summary: "Old name of REPLICAOF.",
        handler: replicaof,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "role",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | SENTINEL,
        acl: acl::ADMIN | acl::FAST | acl::DANGEROUS,
        group: "server",
        since: "2.8.12",
        summary: "Tells whether this server is a primary or a replica, with its peers.",
        handler: role,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "replconf",
        arity: -1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        acl: DANGER,
        group: "server",
        since: "3.0.0",
        summary: "Replication handshake options and acknowledgements (internal).",
        handler: replconf,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "psync",
        arity: -3,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        acl: DANGER,
        group: "server",
        since: "2.8.0",
        summary: "Asks for the replication stream from an offset (internal).",
        handler: psync,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sync",
        arity: 1,
        flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        acl: DANGER,
        group: "server",
        since: "1.0.0",
        summary: "Asks for a full copy of the dataset and the stream (internal).",
        handler: sync,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "wait",
        arity: 3,
        flags: NOSCRIPT,
        acl: acl::SLOW | acl::CONNECTION,
        group: "generic",
        since: "3.0.0",
        summary: "Waits until replicas acknowledged this client's writes.",
        handler: wait,
        ..CommandDef::DEFAULT
    },
];

fn replicaof(ctx: &mut Ctx, args: &Args) {
    let (host, port) = (args.get(1), args.get(2));
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        if let Some(srv) = ctx.srv.arc() {
            replication::replica_of(&srv, None);
        }
        ctx.out.ok();
        return;
    }
    if ctx.client.info.kind.load(Ordering::Relaxed) == KIND_REPLICA {
        ctx.out
            .err("ERR Command is not valid when client is a replica.");
        return;
    }
    let Some(port) = parse_i64(port).filter(|p| (0..=65535).contains(p)) else {
        ctx.out.err("ERR Invalid master port");
        return;
    };
    let host = String::from_utf8_lossy(host).into_owned();
    let port = port as u16;
    let same = ctx
        .srv
        .repl
        .master
        .lock()
        .as_ref()
        .is_some_and(|m| m.host.eq_ignore_ascii_case(&host) && m.port == port);
    if same {
        ctx.out.simple(b"OK Already connected to specified master");
        return;
    }
    let Some(srv) = ctx.srv.arc() else {
        ctx.out.err("ERR the server is not running");
        return;
    };
    replication::replica_of(&srv, Some((host, port)));
    ctx.out.ok();
}

fn role(ctx: &mut Ctx, _args: &Args) {
    let srv = ctx.srv;
    let out = &mut *ctx.out;
    let master = srv.repl.master.lock().clone();
    match master {
        Some(m) => {
            out.array(5);
            out.bulk(b"slave");
            out.bulk(m.host.as_bytes());
            out.int(m.port as i64);
            out.bulk(m.state.as_bytes());
            let off = if m.state == "connected" {
                srv.keyspace.feed.repl_offset() as i64
            } else {
                -1
            };
            out.int(off);
        }
        None => {
            out.array(3);
            out.bulk(b"master");
            out.int(srv.keyspace.feed.repl_offset() as i64);
            let reps: Vec<_> = srv
                .repl
                .replicas
                .lock()
                .iter()
                .filter(|r| r.state.load(Ordering::Relaxed) == ONLINE)
                .cloned()
                .collect();
            out.array(reps.len());
            for r in reps {
                out.array(3);
                out.bulk(r.ip.as_bytes());
                out.bulk(r.port.load(Ordering::Relaxed).to_string().as_bytes());
                out.bulk(r.ack_off.load(Ordering::Relaxed).to_string().as_bytes());
            }
        }
    }
}

fn replconf(ctx: &mut Ctx, args: &Args) {
    if args.len().is_multiple_of(2) {
        ctx.out.err("ERR syntax error");
        return;
    }
    let mut i = 1;
    while i < args.len() {
        let opt = args.get(i).to_ascii_lowercase();
        let val = args.get(i + 1);
        match &opt[..] {
            b"listening-port" => match parse_i64(val) {
                Some(p) => ctx.client.replconf.port = p as u16,
                None => {
                    ctx.out.err("ERR value is not an integer or out of range");
                    return;
                }
            },
            b"ip-address" => {
                ctx.client.replconf.ip = Some(String::from_utf8_lossy(val).into_owned())
            }
            b"capa" => {
                if val.eq_ignore_ascii_case(b"eof") {
                    ctx.client.replconf.eof = true;
                } else if val.eq_ignore_ascii_case(b"psync2") {
                    ctx.client.replconf.psync2 = true;
                }
            }
            // Only meaningful on a replica's link (handled by its sender):
            // no reply, as Redis.
            b"ack" | b"fack" => return,
            b"getack" => {
                // Our link answers its primary's GETACK itself.
                return;
            }
            b"rdb-only" | b"rdb-filter-only" => {}
            _ => {
                let msg = format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(args.get(i))
                );
                ctx.out.err(&msg);
                return;
            }
        }
        i += 2;
    }
    ctx.out.ok();
}

/// PSYNC and SYNC from a client that is already a replica are ignored.
fn can_sync(ctx: &mut Ctx) -> bool {
    if ctx.client.info.kind.load(Ordering::Relaxed) == KIND_REPLICA {
        return false;
    }
    let srv = ctx.srv;
    if srv.repl.is_replica()
        && srv
            .repl
            .master
            .lock()
            .as_ref()
            .is_none_or(|m| m.state != "connected")
    {
        ctx.out
            .err("NOMASTERLINK Can't SYNC while not connected with my master");
        return false;
    }
    true
}

fn psync(ctx: &mut Ctx, args: &Args) {
    if !can_sync(ctx) {
        return;
    }
    let offset = parse_i64(args.get(2)).unwrap_or(-1);
    ctx.client.handoff = Some(Handoff::Psync {
        replid: args.get(1).to_vec(),
        offset,
        legacy_sync: false,
    });
}

fn sync(ctx: &mut Ctx, _args: &Args) {
    if !can_sync(ctx) {
        return;
    }
    ctx.client.handoff = Some(Handoff::Psync {
        replid: b"?".to_vec(),
        offset: -1,
        legacy_sync: true,
    });
}

fn wait(ctx: &mut Ctx, args: &Args) {
    let srv = ctx.srv;
    if srv.repl.is_replica() {
        ctx.out.err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
        return;
    }
    let Some(num) = parse_i64(args.get(1)) else {
        ctx.out.err("ERR value is not an integer or out of range");
        return;
    };
    let Some(timeout) = parse_i64(args.get(2)) else {
        ctx.out.err("ERR timeout is not an integer or out of range");
        return;
    };
    if timeout < 0 {
        ctx.out.err("ERR timeout is negative");
        return;
    }
    let target = srv.keyspace.feed.repl_offset();
    let acked = srv.repl.acked_at_least(target);
    if acked as i64 >= num || ctx.client.in_exec || ctx.client.multi.is_some() {
        ctx.out.int(acked as i64);
        return;
    }
    // Ask the replicas for an ACK now rather than at their next second.
    srv.keyspace
        .feed
        .push_repl(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
    ctx.client.handoff = Some(Handoff::Wait {
        target,
        num: num.max(0) as usize,
        deadline_ms: if timeout == 0 { 0 } else { unix_ms() + timeout },
    });
}
