//! Transactions: MULTI, EXEC, DISCARD.
//!
//! While a client is in MULTI the dispatcher queues its commands (copying
//! their arguments) and answers `QUEUED`; errors found while queuing (unknown
//! command, wrong arity, commands not allowed in a transaction) make EXEC
//! fail with `EXECABORT`. EXEC is declared with `Keys::All`: it holds every
//! shard while it runs the queue, so no other client, on any thread, sees
//! the transaction half done.

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
        return;
    }
    ctx.out.array(m.cmds.len());
    for q in &m.cmds {
        let args = Args::new(&q.buf, &q.spans);
        let errors_before = ctx.out.error_count();
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
    }
}
