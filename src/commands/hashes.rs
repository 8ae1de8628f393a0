//! Hash commands: HSET/HMSET/HSETNX, HGET/HMGET, HDEL, HLEN, HSTRLEN,
//! HEXISTS, HKEYS/HVALS/HGETALL, HINCRBY/HINCRBYFLOAT, HRANDFIELD and HSCAN.
//!
//! Replies, errors and the dirty counter follow Redis 7.0.15. The value
//! lives in [`HashValue`] (packed `listpack` form converting to a
//! `hashtable` past `hash-max-listpack-entries` / `hash-max-listpack-value`
//! from the client's cached settings). A hash emptied by HDEL is deleted.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::protocol::reply::Reply;
use crate::storage::hash::{HashValue, Limits};
use crate::storage::keyspace::Db;
use crate::storage::notify::{GENERIC, HASH};
use crate::storage::value::Value;
use crate::util::float::hincr_by_float;
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "hset",
        arity: -4,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Sets one or more fields of a hash, creating it if needed.",
        handler: hset,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hsetnx",
        arity: 4,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Sets a hash field only when it does not exist yet.",
        handler: hsetnx,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hget",
        arity: 3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Returns the value of one hash field.",
        handler: hget,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hmget",
        arity: -3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Returns the values of several hash fields.",
        handler: hmget,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hmset",
        arity: -4,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Sets several hash fields (older form of HSET, replies OK).",
        handler: hmset,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hdel",
        arity: -3,
        flags: WRITE | FAST,
        acl: acl::WRITE | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Removes fields from a hash; the key goes away with its last field.",
        handler: hdel,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hlen",
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::READ | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Counts the fields of a hash.",
        handler: hlen,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hstrlen",
        arity: 3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "3.2.0",
        summary: "Returns the length in bytes of a hash field's value.",
        handler: hstrlen,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hexists",
        arity: 3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Tells whether a hash has a field.",
        handler: hexists,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hkeys",
        arity: 2,
        flags: READONLY,
        acl: acl::READ | acl::HASH | acl::SLOW,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Lists every field name of a hash.",
        handler: hkeys,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hvals",
        arity: 2,
        flags: READONLY,
        acl: acl::READ | acl::HASH | acl::SLOW,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Lists every value of a hash.",
        handler: hvals,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hgetall",
        arity: 2,
        flags: READONLY,
        acl: acl::READ | acl::HASH | acl::SLOW,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Returns all fields of a hash with their values.",
        handler: hgetall,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hincrby",
        arity: 4,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.0.0",
        summary: "Adds an integer to a hash field's numeric value.",
        handler: hincrby,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hincrbyfloat",
        arity: 4,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::HASH | acl::FAST,
        keys: Keys::ONE,
        group: "hash",
        since: "2.6.0",
        summary: "Adds a decimal number to a hash field's numeric value.",
        handler: hincrbyfloat,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hrandfield",
        arity: -2,
        flags: READONLY,
        acl: acl::READ | acl::HASH | acl::SLOW,
        keys: Keys::ONE,
        group: "hash",
        since: "6.2.0",
        summary: "Picks random fields of a hash, optionally with their values.",
        handler: hrandfield,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hscan",
        arity: -3,
        flags: READONLY,
        acl: acl::READ | acl::HASH | acl::SLOW,
        keys: Keys::ONE,
        group: "hash",
        since: "2.8.0",
        summary: "Walks the fields of a hash a few at a time with a cursor.",
        handler: hscan,
        ..CommandDef::DEFAULT
    },
];

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// The packed-form limits from the client's cached configuration.
fn limits(ctx: &Ctx) -> Limits {
    let s = &ctx.client.settings;
    Limits {
        max_entries: s.hash_max_listpack_entries.min(usize::MAX as u64) as usize,
        max_value: s.hash_max_listpack_value.min(usize::MAX as u64) as usize,
    }
}

/// Looks a hash up for reading (hit/miss, LRU). `Err` = not a hash; the
/// WRONGTYPE error is already written.
fn read_hash<'a>(
    db: &'a mut Db<'_>,
    out: &mut Reply,
    key: &[u8],
) -> Result<Option<&'a HashValue>, ()> {
    match db.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(h)),
            #[allow(unreachable_patterns)]
            _ => {
                out.err(WRONGTYPE);
                Err(())
            }
        },
    }
}

/// Looks a hash up for writing (LRU only). `Err` = not a hash (error
/// written).
fn write_hash<'a>(
    db: &'a mut Db<'_>,
    out: &mut Reply,
    key: &[u8],
) -> Result<Option<&'a mut HashValue>, ()> {
    match db.get_for_write(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Hash(h) => Ok(Some(h)),
            #[allow(unreachable_patterns)]
            _ => {
                out.err(WRONGTYPE);
                Err(())
            }
        },
    }
}

/// Records a write: stores a freshly created hash (if any) or signals the
/// change of the existing one, then makes the command's dirty count
/// exactly `changes` (Redis counts per field for HSET and HDEL), and
/// reports the keyspace `event`.
fn commit(
    ctx: &mut Ctx,
    key: &[u8],
    fresh: Option<HashValue>,
    before: u64,
    changes: u64,
    event: &str,
) {
    match fresh {
        Some(h) => ctx.db.set(key, Value::Hash(h), false),
        None => ctx.db.touched(key),
    }
    ctx.db.dirty = before + changes;
    ctx.notify(HASH, event, key);
}

/// HSET and HMSET: `args` after the key are field/value pairs.
fn set_pairs(ctx: &mut Ctx, args: &Args) -> Option<i64> {
    if args.len() % 2 == 1 {
        ctx.out.err(&format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.def.name
        ));
        return None;
    }
    let key = args.get(1);
    let lim = limits(ctx);
    let before = ctx.db.dirty;
    let mut fresh: Option<HashValue> = None;
    let h: &mut HashValue = match write_hash(ctx.db, ctx.out, key) {
        Err(()) => return None,
        Ok(Some(h)) => h,
        Ok(None) => fresh.insert(HashValue::new()),
    };
    h.convert_for_args(args.rest(2).iter(), lim);
    let mut created = 0;
    let mut i = 2;
    while i < args.len() {
        if h.insert(args.get(i), args.get(i + 1), lim) {
            created += 1;
        }
        i += 2;
    }
    let pairs = (args.len() as u64 - 2) / 2;
    commit(ctx, key, fresh, before, pairs, "hset");
    Some(created)
}

fn hset(ctx: &mut Ctx, args: &Args) {
    if let Some(n) = set_pairs(ctx, args) {
        ctx.out.int(n);
    }
}

fn hmset(ctx: &mut Ctx, args: &Args) {
    if set_pairs(ctx, args).is_some() {
        ctx.out.ok();
    }
}

fn hsetnx(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let lim = limits(ctx);
    let before = ctx.db.dirty;
    let mut fresh: Option<HashValue> = None;
    let h: &mut HashValue = match write_hash(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(Some(h)) => h,
        Ok(None) => fresh.insert(HashValue::new()),
    };
    if h.contains(args.get(2)) {
        ctx.out.int(0);
        return;
    }
    h.insert(args.get(2), args.get(3), lim);
    commit(ctx, key, fresh, before, 1, "hset");
    ctx.out.int(1);
}

fn hget(ctx: &mut Ctx, args: &Args) {
    match read_hash(ctx.db, ctx.out, args.get(1)) {
        Err(()) => {}
        Ok(h) => match h.and_then(|h| h.get(args.get(2))) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        },
    }
}

fn hmget(ctx: &mut Ctx, args: &Args) {
    let Ok(h) = read_hash(ctx.db, ctx.out, args.get(1)) else {
        return;
    };
    ctx.out.array(args.len() - 2);
    for i in 2..args.len() {
        match h.and_then(|h| h.get(args.get(i))) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
}

fn hdel(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let before = ctx.db.dirty;
    let h = match write_hash(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.int(0),
        Ok(Some(h)) => h,
    };
    let mut deleted = 0u64;
    for i in 2..args.len() {
        if h.remove(args.get(i)) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        let emptied = h.is_empty();
        if emptied {
            ctx.db.remove(key);
        } else {
            ctx.db.touched(key);
        }
        ctx.db.dirty = before + deleted;
        ctx.notify(HASH, "hdel", key);
        if emptied {
            ctx.notify(GENERIC, "del", key);
        }
    }
    ctx.out.int(deleted as i64);
}

fn hlen(ctx: &mut Ctx, args: &Args) {
    if let Ok(h) = read_hash(ctx.db, ctx.out, args.get(1)) {
        ctx.out.int(h.map_or(0, |h| h.len() as i64));
    }
}

fn hstrlen(ctx: &mut Ctx, args: &Args) {
    if let Ok(h) = read_hash(ctx.db, ctx.out, args.get(1)) {
        let n = h.and_then(|h| h.get(args.get(2))).map_or(0, |v| v.len());
        ctx.out.int(n as i64);
    }
}

fn hexists(ctx: &mut Ctx, args: &Args) {
    if let Ok(h) = read_hash(ctx.db, ctx.out, args.get(1)) {
        let found = h.is_some_and(|h| h.contains(args.get(2)));
        ctx.out.int(found as i64);
    }
}

/// HKEYS / HVALS / HGETALL: which parts of each pair to send.
fn get_all(ctx: &mut Ctx, args: &Args, fields: bool, values: bool) {
    let Ok(h) = read_hash(ctx.db, ctx.out, args.get(1)) else {
        return;
    };
    let n = h.map_or(0, |h| h.len());
    if fields && values {
        ctx.out.map(n);
    } else {
        ctx.out.array(n);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if fields {
                ctx.out.bulk(f);
            }
            if values {
                ctx.out.bulk(v);
            }
        }
    }
}

fn hkeys(ctx: &mut Ctx, args: &Args) {
    get_all(ctx, args, true, false);
}

fn hvals(ctx: &mut Ctx, args: &Args) {
    get_all(ctx, args, false, true);
}

fn hgetall(ctx: &mut Ctx, args: &Args) {
    get_all(ctx, args, true, true);
}

fn hincrby(ctx: &mut Ctx, args: &Args) {
    let Some(incr) = parse_i64(args.get(3)) else {
        return ctx.not_integer();
    };
    let key = args.get(1);
    let field = args.get(2);
    let lim = limits(ctx);
    let before = ctx.db.dirty;
    let mut fresh: Option<HashValue> = None;
    let h: &mut HashValue = match write_hash(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(Some(h)) => h,
        Ok(None) => fresh.insert(HashValue::new()),
    };
    let old = match h.get(field) {
        None => 0,
        Some(v) => match parse_i64(v) {
            Some(n) => n,
            None => return ctx.out.err("ERR hash value is not an integer"),
        },
    };
    let Some(new) = old.checked_add(incr) else {
        return ctx.out.err("ERR increment or decrement would overflow");
    };
    let mut buf = itoa::Buffer::new();
    h.insert(field, buf.format(new).as_bytes(), lim);
    commit(ctx, key, fresh, before, 1, "hincrby");
    ctx.out.int(new);
}

fn hincrbyfloat(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let field = args.get(2);
    let incr = args.get(3);
    // The increment is validated before the key is looked at.
    if let Err(e) = hincr_by_float(Some(b"0"), incr) {
        return ctx.out.err(&format!("ERR {}", e.hincrbyfloat_message()));
    }
    let lim = limits(ctx);
    let before = ctx.db.dirty;
    let mut fresh: Option<HashValue> = None;
    let h: &mut HashValue = match write_hash(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(Some(h)) => h,
        Ok(None) => fresh.insert(HashValue::new()),
    };
    let new = match hincr_by_float(h.get(field), incr) {
        Ok(v) => v,
        Err(e) => return ctx.out.err(&format!("ERR {}", e.hincrbyfloat_message())),
    };
    h.insert(field, &new, lim);
    commit(ctx, key, fresh, before, 1, "hincrbyfloat");
    // The resulting text, so rounding cannot differ on a replica or reload.
    ctx.propagate_as(&[b"HSET", key, field, &new]);
    ctx.out.bulk(&new);
}

fn hrandfield(ctx: &mut Ctx, args: &Args) {
    if args.len() == 2 {
        let Ok(h) = read_hash(ctx.db, ctx.out, args.get(1)) else {
            return;
        };
        match h.and_then(|h| h.random(&mut rand::rng())) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return;
    }
    let Some(l) = parse_i64(args.get(2)) else {
        return ctx.not_integer();
    };
    if l == i64::MIN {
        return ctx.out.err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        );
    }
    let withvalues = match args.len() {
        3 => false,
        4 if args.get(3).eq_ignore_ascii_case(b"withvalues") => true,
        _ => return ctx.syntax_error(),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return ctx.out.err("ERR value is out of range");
    }
    let Ok(h) = read_hash(ctx.db, ctx.out, args.get(1)) else {
        return;
    };
    let Some(h) = h else {
        return ctx.out.array(0);
    };
    let count = l.unsigned_abs() as usize;
    if count == 0 {
        return ctx.out.array(0);
    }
    let resp3 = ctx.out.resp() != crate::protocol::reply::Resp::V2;
    let out = &mut *ctx.out;
    let header = |out: &mut Reply, n: usize| {
        if withvalues && !resp3 {
            out.array(n * 2);
        } else {
            out.array(n);
        }
    };
    let emit = |out: &mut Reply, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let mut rng = rand::rng();
    if l < 0 || count == 1 {
        header(out, count);
        h.random_with_repeats(count, &mut rng, |f, v| emit(out, f, v));
        return;
    }
    let picked = h.random_distinct(count, &mut rng);
    header(out, picked.len());
    for (f, v) in picked {
        emit(out, f, v);
    }
}

fn hscan(ctx: &mut Ctx, args: &Args) {
    let Some(cursor) = super::keys::parse_cursor(args.get(2)) else {
        return ctx.out.err("ERR invalid cursor");
    };
    let Ok(h) = read_hash(ctx.db, ctx.out, args.get(1)) else {
        return;
    };
    let Some(h) = h else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return;
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        let has_value = i + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"count") && has_value {
            match parse_i64(args.get(i + 1)) {
                None => return ctx.not_integer(),
                Some(c) if c < 1 => return ctx.syntax_error(),
                Some(c) => count = c as usize,
            }
        } else if opt.eq_ignore_ascii_case(b"match") && has_value {
            let p = args.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else {
            return ctx.syntax_error();
        }
        i += 2;
    }
    let mut found: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        if pattern.is_none_or(|p| glob_match(p, f, false)) {
            found.push((f, v));
        }
    });
    ctx.out.array(2);
    let mut buf = itoa::Buffer::new();
    ctx.out.bulk(buf.format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    for (f, v) in found {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
}
