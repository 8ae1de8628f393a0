//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! While a client is in MULTI the dispatcher queues its commands (copying
//! their arguments) and answers `QUEUED`; errors found while queuing (unknown
//! command, wrong arity, commands not allowed in a transaction) make EXEC
//! fail with `EXECABORT`. EXEC is declared with `Keys::All`: it holds every
//! shard while it runs the queue, so no other client, on any thread, sees
//! the transaction half done.
//!
//! WATCH registers (database, key) in the keyspace's watch registry with
//! the client's flag; every write to the key (any client, any thread,
//! expiry, FLUSHALL, SWAPDB) sets it, and EXEC then answers a null array
//! without running anything. A key that was live when watched and has
//! expired by EXEC time also fails the EXEC, as in Redis.

use super::{Args, CommandDef, Ctx, Keys, acl, call, flags::*};

/// One queued command: its arguments in one buffer plus spans.
pub struct Queued {
    pub buf: Vec<u8>,
    pub spans: Vec<(u32, u32)>,
    pub def: &'static CommandDef,
    pub id: usize,
}

/// A client's open transaction.
#[derive(Default)]
pub struct Multi {
    pub cmds: Vec<Queued>,
    /// An error while queuing: EXEC must refuse.
    pub aborted: bool,
}

impl Multi {
    pub fn queue(&mut self, args: &Args, def: &'static CommandDef, id: usize) {
        let mut buf = Vec::with_capacity(args.iter().map(|a| a.len()).sum());
        let mut spans = Vec::with_capacity(args.len());
        for a in args.iter() {
            let start = buf.len() as u32;
            buf.extend_from_slice(a);
            spans.push((start, buf.len() as u32));
        }
        self.cmds.push(Queued {
            buf,
            spans,
            def,
            id,
        });
    }
}

/// Commands that run at once even inside MULTI (Redis's list).
pub fn runs_inside_multi(def: &CommandDef) -> bool {
    matches!(
        def.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "multi",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl: acl::FAST | acl::TRANSACTION,
        keys: Keys::None,
        group: "transactions",
        since: "1.2.0",
        summary: "Starts a transaction: later commands are queued until EXEC.",
        handler: multi,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "exec",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
        acl: acl::SLOW | acl::TRANSACTION,
        keys: Keys::All,
        group: "transactions",
        since: "1.2.0",
        summary: "Runs the queued commands of a transaction atomically.",
        handler: exec,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "watch",
        arity: -2,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl: acl::FAST | acl::TRANSACTION,
        keys: Keys::ALL_ARGS,
        group: "transactions",
        since: "2.2.0",
        summary: "Makes the next EXEC fail if any of these keys changes first.",
        handler: watch,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "unwatch",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl: acl::FAST | acl::TRANSACTION,
        keys: Keys::None,
        group: "transactions",
        since: "2.2.0",
        summary: "Forgets every key this connection watches.",
        handler: unwatch,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "discard",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl: acl::FAST | acl::TRANSACTION,
        keys: Keys::None,
        group: "transactions",
        since: "2.0.0",
        summary: "Drops the queued commands of a transaction.",
        handler: discard,
        ..CommandDef::DEFAULT
    },
];

fn multi(ctx: &mut Ctx, _args: &Args) {
    if ctx.client.multi.is_some() {
        ctx.out.err("ERR MULTI calls can not be nested");
        return;
    }
    ctx.client.set_multi(Some(Multi::default()));
    ctx.out.ok();
}

fn discard(ctx: &mut Ctx, _args: &Args) {
    if ctx.client.set_multi(None).is_none() {
        ctx.out.err("ERR DISCARD without MULTI");
        return;
    }
    ctx.client.unwatch_all(ctx.srv);
    ctx.out.ok();
}

fn watch(ctx: &mut Ctx, args: &Args) {
    if ctx.client.multi.is_some() {
        ctx.out.err("ERR WATCH inside MULTI is not allowed");
        return;
    }
    let db = ctx.db.index;
    for key in args.iter().skip(1) {
        if ctx
            .client
            .watched
            .iter()
            .any(|(d, k, _)| *d == db && k == key)
        {
            continue;
        }
        // Whether the key is already logically expired (EXEC only fails
        // for keys that expire after the WATCH).
        let expired = key_is_expired(ctx, db, key);
        ctx.srv
            .keyspace
            .watches
            .add(db, key, &ctx.client.watch_flag);
        ctx.client.watched.push((db, key.to_vec(), expired));
    }
    ctx.out.ok();
}

/// True when `key` exists in `db` with a TTL that has passed.
fn key_is_expired(ctx: &mut Ctx, db: usize, key: &[u8]) -> bool {
    let now = ctx.db.now();
    ctx.db.expire_in(db, key).is_some_and(|at| at <= now)
}

fn unwatch(ctx: &mut Ctx, _args: &Args) {
    ctx.client.unwatch_all(ctx.srv);
    ctx.out.ok();
}

fn exec(ctx: &mut Ctx, _args: &Args) {
    let Some(m) = ctx.client.set_multi(None) else {
        ctx.out.err("ERR EXEC without MULTI");
        return;
    };
    if m.aborted {
        ctx.out
            .err("EXECABORT Transaction discarded because of previous errors.");
        ctx.client.unwatch_all(ctx.srv);
        return;
    }
    let mut dirty = ctx
        .client
        .watch_flag
        .load(std::sync::atomic::Ordering::Relaxed);
    if !dirty {
        let watched = std::mem::take(&mut ctx.client.watched);
        dirty = watched
            .iter()
            .any(|(db, key, was_expired)| !was_expired && key_is_expired(ctx, *db, key));
        ctx.client.watched = watched;
    }
    ctx.client.unwatch_all(ctx.srv);
    if dirty {
        ctx.out.null_array();
        return;
    }
    ctx.out.array(m.cmds.len());
    ctx.db.wrap_in_multi();
    ctx.client.in_exec = true;
    for q in &m.cmds {
        let args = Args::new(&q.buf, &q.spans);
        let errors_before = ctx.out.error_count();
        let mark = ctx.out.len();
        call(
            ctx.srv,
            ctx.client,
            ctx.out,
            &args,
            q.def,
            q.id,
            errors_before,
            ctx.db,
        );
        // Each queued command's own events precede its reply, as in Redis.
        ctx.client.deliver_before_reply(ctx.out, mark);
    }
    ctx.client.in_exec = false;
}
