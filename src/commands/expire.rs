//! Expiry commands: the EXPIRE family (relative or absolute, seconds or
//! milliseconds, with NX|XX|GT|LT), the TTL family and PERSIST.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::storage::notify::GENERIC;
use crate::util::num::parse_i64;

const fn expire_def(
    name: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity: -3,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "generic",
        since,
        summary,
        handler,
        ..CommandDef::DEFAULT
    }
}

const fn ttl_def(
    name: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE | acl::READ | acl::FAST,
        keys: Keys::ONE,
        group: "generic",
        since,
        summary,
        handler,
        ..CommandDef::DEFAULT
    }
}

pub const COMMANDS: &[CommandDef] = &[
    expire_def(
        "expire",
        "1.0.0",
        "Gives a key a time to live in seconds.",
        expire,
    ),
    expire_def(
        "pexpire",
        "2.6.0",
        "Gives a key a time to live in milliseconds.",
        pexpire,
    ),
    expire_def(
        "expireat",
        "1.2.0",
        "Makes a key expire at a Unix time given in seconds.",
        expireat,
    ),
    expire_def(
        "pexpireat",
        "2.6.0",
        "Makes a key expire at a Unix time given in milliseconds.",
        pexpireat,
    ),
    ttl_def(
        "ttl",
        "1.0.0",
        "Tells how many seconds a key has left to live.",
        ttl,
    ),
    ttl_def(
        "pttl",
        "2.6.0",
        "Tells how many milliseconds a key has left to live.",
        pttl,
    ),
    ttl_def(
        "expiretime",
        "7.0.0",
        "Tells the Unix time, in seconds, at which a key expires.",
        expiretime,
    ),
    ttl_def(
        "pexpiretime",
        "7.0.0",
        "Tells the Unix time, in milliseconds, at which a key expires.",
        pexpiretime,
    ),
    CommandDef {
        name: "persist",
        arity: 2,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "generic",
        since: "2.2.0",
        summary: "Removes the time to live of a key.",
        handler: persist,
        ..CommandDef::DEFAULT
    },
];

const NX: u8 = 1;
const XX: u8 = 2;
const GT: u8 = 4;
const LT: u8 = 8;

fn expire(ctx: &mut Ctx, args: &Args) {
    expire_generic(ctx, args, false, true);
}

fn pexpire(ctx: &mut Ctx, args: &Args) {
    expire_generic(ctx, args, false, false);
}

fn expireat(ctx: &mut Ctx, args: &Args) {
    expire_generic(ctx, args, true, true);
}

fn pexpireat(ctx: &mut Ctx, args: &Args) {
    expire_generic(ctx, args, true, false);
}

/// Reads the NX|XX|GT|LT options after the time; on error writes the reply.
fn parse_conditions(ctx: &mut Ctx, args: &Args) -> Option<u8> {
    let mut flags = 0u8;
    for opt in args.iter().skip(3) {
        flags |= if opt.eq_ignore_ascii_case(b"nx") {
            NX
        } else if opt.eq_ignore_ascii_case(b"xx") {
            XX
        } else if opt.eq_ignore_ascii_case(b"gt") {
            GT
        } else if opt.eq_ignore_ascii_case(b"lt") {
            LT
        } else {
            let mut msg = b"ERR Unsupported option ".to_vec();
            msg.extend_from_slice(opt);
            ctx.out.error(&msg);
            return None;
        };
    }
    if flags & NX != 0 && flags & (XX | GT | LT) != 0 {
        ctx.out
            .err("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if flags & GT != 0 && flags & LT != 0 {
        ctx.out
            .err("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(flags)
}

fn invalid_time(ctx: &mut Ctx) {
    let msg = format!("ERR invalid expire time in '{}' command", ctx.def.name);
    ctx.out.err(&msg);
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: `absolute` = the time is a Unix
/// time rather than a delay, `seconds` = the unit is the second.
fn expire_generic(ctx: &mut Ctx, args: &Args, absolute: bool, seconds: bool) {
    let Some(cond) = parse_conditions(ctx, args) else {
        return;
    };
    let Some(mut when) = parse_i64(args.get(2)) else {
        ctx.not_integer();
        return;
    };
    if seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return invalid_time(ctx),
        }
    }
    if !absolute {
        match when.checked_add(ctx.db.now()) {
            Some(at) => when = at,
            None => return invalid_time(ctx),
        }
    }
    let key = args.get(1);
    let Some(entry) = ctx.db.get_for_write(key) else {
        ctx.out.int(0);
        return;
    };
    let current = if entry.has_expire() {
        ctx.db.expire_of(key)
    } else {
        None
    };
    let refused = (cond & NX != 0 && current.is_some())
        || (cond & XX != 0 && current.is_none())
        || (cond & GT != 0 && current.is_none_or(|c| when <= c))
        || (cond & LT != 0 && current.is_some_and(|c| when >= c));
    if refused {
        ctx.out.int(0);
        return;
    }
    if when <= ctx.db.now() {
        // Already in the past: the key goes now, as an ordinary delete.
        ctx.db.remove(key);
        ctx.notify(GENERIC, "del", key);
        ctx.propagate_as(&[b"DEL", key]);
    } else {
        ctx.db.set_expire(key, when);
        ctx.notify(GENERIC, "expire", key);
        // Relative times would expire later on a replica or on reload.
        let mut buf = itoa::Buffer::new();
        ctx.propagate_as(&[b"PEXPIREAT", key, buf.format(when).as_bytes()]);
    }
    ctx.out.int(1);
}

fn ttl(ctx: &mut Ctx, args: &Args) {
    ttl_generic(ctx, args, false, false);
}

fn pttl(ctx: &mut Ctx, args: &Args) {
    ttl_generic(ctx, args, false, true);
}

fn expiretime(ctx: &mut Ctx, args: &Args) {
    ttl_generic(ctx, args, true, false);
}

fn pexpiretime(ctx: &mut Ctx, args: &Args) {
    ttl_generic(ctx, args, true, true);
}

/// TTL family: -2 for a missing key, -1 without expiry, else the time left
/// (or the absolute expiry), seconds rounded to the nearest.
fn ttl_generic(ctx: &mut Ctx, args: &Args, absolute: bool, millis: bool) {
    let Some(entry) = ctx.db.get_notouch(args.get(1)) else {
        ctx.out.int(-2);
        return;
    };
    let has_ttl = entry.has_expire();
    let Some(at) = ctx.db.expire_of(args.get(1)).filter(|_| has_ttl) else {
        ctx.out.int(-1);
        return;
    };
    let ms = if absolute {
        at
    } else {
        (at - ctx.db.now()).max(0)
    };
    ctx.out.int(if millis { ms } else { (ms + 500) / 1000 });
}

fn persist(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    if ctx.db.get_for_write(key).is_none() {
        ctx.out.int(0);
        return;
    }
    let removed = ctx.db.persist(key);
    if removed {
        ctx.notify(GENERIC, "persist", key);
    }
    ctx.out.int(removed as i64);
}
