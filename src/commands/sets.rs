//! Set commands (SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS, SPOP,
//! SRANDMEMBER, SMOVE, SINTER/SUNION/SDIFF and their STORE forms,
//! SINTERCARD, SSCAN) over [`SetValue`].
//!
//! Multi-key commands never hold two sets borrowed at once (the keyspace
//! hands out one entry at a time): they first look every key up (expiry,
//! statistics, type checks), then work one source set at a time against a
//! local result.

use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::keys::parse_cursor;
use super::{Args, CommandDef, Ctx, Keys, acl};
use crate::protocol::reply::Reply;
use crate::storage::keyspace::Db;
use crate::storage::notify::{GENERIC, SET};
use crate::storage::set::{Member, OwnedMember, SetValue};
use crate::storage::value::Value;
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;
use rand::RngExt;
use std::collections::HashSet;

const SET_ACL: u32 = acl::SET;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "sadd",
        arity: -3,
        flags: WRITE | DENYOOM | FAST,
        acl: SET_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Adds members to a set, creating it when needed.",
        handler: sadd,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "srem",
        arity: -3,
        flags: WRITE | FAST,
        acl: SET_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Removes members from a set; an emptied set is deleted.",
        handler: srem,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "scard",
        arity: 2,
        flags: READONLY | FAST,
        acl: SET_ACL | acl::READ | acl::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Counts the members of a set.",
        handler: scard,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sismember",
        arity: 3,
        flags: READONLY | FAST,
        acl: SET_ACL | acl::READ | acl::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Tells whether a value belongs to a set.",
        handler: sismember,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "smismember",
        arity: -3,
        flags: READONLY | FAST,
        acl: SET_ACL | acl::READ | acl::FAST,
        keys: Keys::ONE,
        group: "set",
        since: "6.2.0",
        summary: "Tells, for each of several values, whether it belongs to a set.",
        handler: smismember,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "smembers",
        arity: 2,
        flags: READONLY,
        acl: SET_ACL | acl::READ | acl::SLOW,
        keys: Keys::ONE,
        group: "set",
        summary: "Lists every member of a set.",
        handler: smembers,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "spop",
        arity: -2,
        flags: WRITE | FAST,
        acl: SET_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "set",
        summary: "Removes and returns one or more random members of a set.",
        handler: spop,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "srandmember",
        arity: -2,
        flags: READONLY,
        acl: SET_ACL | acl::READ | acl::SLOW,
        keys: Keys::ONE,
        group: "set",
        summary: "Returns random members of a set without removing them.",
        handler: srandmember,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "smove",
        arity: 4,
        flags: WRITE | FAST,
        acl: SET_ACL | acl::WRITE | acl::FAST,
        keys: Keys::Range {
            first: 1,
            last: 2,
            step: 1,
        },
        group: "set",
        summary: "Moves a member from one set to another.",
        handler: smove,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sinter",
        arity: -2,
        flags: READONLY,
        acl: SET_ACL | acl::READ | acl::SLOW,
        keys: Keys::ALL_ARGS,
        group: "set",
        summary: "Returns the members common to all the given sets.",
        handler: sinter,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sintercard",
        arity: -3,
        flags: READONLY,
        acl: SET_ACL | acl::READ | acl::SLOW,
        keys: Keys::Custom(sintercard_keys),
        group: "set",
        since: "7.0.0",
        summary: "Counts the members common to all the given sets, optionally up to a limit.",
        handler: sintercard,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sinterstore",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: SET_ACL | acl::WRITE | acl::SLOW,
        keys: Keys::ALL_ARGS,
        group: "set",
        summary: "Stores the intersection of sets under a key.",
        handler: sinterstore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sunion",
        arity: -2,
        flags: READONLY,
        acl: SET_ACL | acl::READ | acl::SLOW,
        keys: Keys::ALL_ARGS,
        group: "set",
        summary: "Returns the members of any of the given sets.",
        handler: sunion,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sunionstore",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: SET_ACL | acl::WRITE | acl::SLOW,
        keys: Keys::ALL_ARGS,
        group: "set",
        summary: "Stores the union of sets under a key.",
        handler: sunionstore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sdiff",
        arity: -2,
        flags: READONLY,
        acl: SET_ACL | acl::READ | acl::SLOW,
        keys: Keys::ALL_ARGS,
        group: "set",
        summary: "Returns the members of the first set found in none of the others.",
        handler: sdiff,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sdiffstore",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: SET_ACL | acl::WRITE | acl::SLOW,
        keys: Keys::ALL_ARGS,
        group: "set",
        summary: "Stores the difference of sets under a key.",
        handler: sdiffstore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sscan",
        arity: -3,
        flags: READONLY,
        acl: SET_ACL | acl::READ | acl::SLOW,
        keys: Keys::ONE,
        group: "set",
        since: "2.8.0",
        summary: "Iterates over the members of a set with a cursor.",
        handler: sscan,
        ..CommandDef::DEFAULT
    },
];

// ----- helpers ---------------------------------------------------------------

/// What a key holds, as far as set commands care.
enum Found<'e> {
    Missing,
    Set(&'e mut SetValue),
    WrongType,
}

/// Looks `key` up for reading (`write` = false: hit/miss counted) or for a
/// change (`write` = true).
fn find<'e>(db: &'e mut Db, key: &[u8], write: bool) -> Found<'e> {
    let e = if write {
        db.get_for_write(key)
    } else {
        db.get(key)
    };
    match e {
        None => Found::Missing,
        Some(e) => match &mut e.value {
            Value::Set(s) => Found::Set(s),
            _ => Found::WrongType,
        },
    }
}

/// The set under `key`, already looked up (no statistics, no LRU). Panics
/// if it is not a set: callers checked that first.
fn set_at<'e>(db: &'e mut Db, key: &[u8]) -> &'e mut SetValue {
    match db.peek(key).map(|e| &mut e.value) {
        Some(Value::Set(s)) => s,
        _ => panic!("key checked to hold a set"),
    }
}

fn reply_member(out: &mut Reply, m: Member) {
    match m {
        Member::Int(n) => out.bulk_int(n),
        Member::Bytes(b) => out.bulk(b),
    }
}

fn max_intset(ctx: &Ctx) -> usize {
    usize::try_from(ctx.client.settings.set_max_intset_entries).unwrap_or(usize::MAX)
}

/// Records `n` changes to `key` (Redis adds one to `dirty` per member
/// added or removed). `counted` says whether the keyspace call that stored
/// or deleted the key already counted one.
fn changed(ctx: &mut Ctx, key: &[u8], n: usize, counted: bool) {
    if n == 0 {
        return;
    }
    if !counted {
        ctx.db.touched(key);
    }
    ctx.db.dirty += n as u64 - 1;
}

/// After removing members from the set at `key`: deletes the key if the set
/// became empty, counts `n` changes and reports `event` (then `del` if the
/// key went).
fn after_removal(ctx: &mut Ctx, key: &[u8], n: usize, event: &str) {
    if n == 0 {
        return;
    }
    let emptied = set_at(ctx.db, key).is_empty();
    if emptied {
        ctx.db.remove(key);
    }
    changed(ctx, key, n, emptied);
    ctx.notify(SET, event, key);
    if emptied {
        ctx.notify(GENERIC, "del", key);
    }
}

// ----- single-key commands ---------------------------------------------------

fn sadd(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let max = max_intset(ctx);
    let add_all = |s: &mut SetValue| {
        (2..args.len())
            .filter(|&i| s.insert(args.get(i), max))
            .count()
    };
    match find(ctx.db, key, true) {
        Found::WrongType => ctx.wrong_type(),
        Found::Set(s) => {
            let n = add_all(s);
            changed(ctx, key, n, false);
            if n > 0 {
                ctx.notify(SET, "sadd", key);
            }
            ctx.out.int(n as i64);
        }
        Found::Missing => {
            let mut s = SetValue::new();
            let n = add_all(&mut s);
            ctx.db.set(key, Value::Set(s), false);
            changed(ctx, key, n, true);
            ctx.notify(SET, "sadd", key);
            ctx.out.int(n as i64);
        }
    }
}

fn srem(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    match find(ctx.db, key, true) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.int(0),
        Found::Set(s) => {
            let mut n = 0;
            for i in 2..args.len() {
                if s.remove(args.get(i)) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            after_removal(ctx, key, n, "srem");
            ctx.out.int(n as i64);
        }
    }
}

fn scard(ctx: &mut Ctx, args: &Args) {
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.int(0),
        Found::Set(s) => {
            let n = s.len() as i64;
            ctx.out.int(n)
        }
    }
}

fn sismember(ctx: &mut Ctx, args: &Args) {
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.int(0),
        Found::Set(s) => {
            let yes = s.contains(args.get(2));
            ctx.out.int(yes as i64)
        }
    }
}

fn smismember(ctx: &mut Ctx, args: &Args) {
    let set = match find(ctx.db, args.get(1), false) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => None,
        Found::Set(s) => Some(&*s),
    };
    ctx.out.array(args.len() - 2);
    for i in 2..args.len() {
        let yes = set.is_some_and(|s| s.contains(args.get(i)));
        ctx.out.int(yes as i64);
    }
}

fn smembers(ctx: &mut Ctx, args: &Args) {
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.set(0),
        Found::Set(s) => {
            ctx.out.set(s.len());
            for m in s.iter() {
                reply_member(ctx.out, m);
            }
        }
    }
}

fn spop(ctx: &mut Ctx, args: &Args) {
    if args.len() > 3 {
        return ctx.syntax_error();
    }
    if args.len() == 3 {
        return spop_count(ctx, args);
    }
    let key = args.get(1);
    match find(ctx.db, key, true) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.null(),
        Found::Set(s) => {
            let m = s.pop_random(&mut rand::rng());
            match m {
                Some(m) => {
                    reply_member(ctx.out, m.as_member());
                    after_removal(ctx, key, 1, "spop");
                    // The member chosen at random, so replicas agree.
                    if ctx.propagating() {
                        let member = m.as_member().with_bytes(|b| b.to_vec());
                        ctx.propagate_as(&[b"SREM", key, &member]);
                    }
                }
                None => ctx.out.null(),
            }
        }
    }
}

fn spop_count(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let count = match parse_i64(args.get(2)) {
        Some(n) if n >= 0 => n as u64,
        _ => return ctx.out.err("ERR value is out of range, must be positive"),
    };
    let s = match find(ctx.db, key, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.set(0),
        Found::Set(s) => s,
    };
    if count == 0 {
        return ctx.out.set(0);
    }
    let size = s.len();
    if count >= size as u64 {
        // The whole set goes.
        ctx.out.set(size);
        for m in s.iter() {
            reply_member(ctx.out, m);
        }
        ctx.db.remove(key);
        changed(ctx, key, size, true);
        ctx.notify(SET, "spop", key);
        ctx.notify(GENERIC, "del", key);
        ctx.propagate_as(&[b"DEL", key]);
        return;
    }
    let count = count as usize;
    let mut rng = rand::rng();
    let mut popped: Option<Vec<Vec<u8>>> = ctx.srv.keyspace.feed.active().then(Vec::new);
    ctx.out.set(count);
    if count * 5 > size {
        // Many of the members: choose which ones by a partial shuffle of
        // all of them rather than by repeated random probes.
        let mut all: Vec<OwnedMember> = s.iter().map(owned).collect();
        for i in 0..count {
            let j = rng.random_range(i..all.len());
            all.swap(i, j);
        }
        for m in &all[..count] {
            reply_member(ctx.out, m.as_member());
            m.as_member().with_bytes(|b| s.remove(b));
            if let Some(p) = &mut popped {
                p.push(m.as_member().with_bytes(|b| b.to_vec()));
            }
        }
    } else {
        for _ in 0..count {
            let m = s.pop_random(&mut rng).expect("count < size");
            reply_member(ctx.out, m.as_member());
            if let Some(p) = &mut popped {
                p.push(m.as_member().with_bytes(|b| b.to_vec()));
            }
        }
    }
    changed(ctx, key, count, false);
    ctx.notify(SET, "spop", key);
    // The members chosen at random, as SREMs of at most 1024 members.
    if let Some(p) = popped {
        for chunk in p.chunks(1024) {
            let mut argv: Vec<&[u8]> = vec![b"SREM", key];
            argv.extend(chunk.iter().map(|m| m.as_slice()));
            ctx.propagate_as(&argv);
        }
    }
}

fn owned(m: Member) -> OwnedMember {
    match m {
        Member::Int(n) => OwnedMember::Int(n),
        Member::Bytes(b) => OwnedMember::Bytes(compact_bytes::CompactBytes::new(b)),
    }
}

fn srandmember(ctx: &mut Ctx, args: &Args) {
    if args.len() > 3 {
        return ctx.syntax_error();
    }
    let key = args.get(1);
    if args.len() == 2 {
        match find(ctx.db, key, false) {
            Found::WrongType => ctx.wrong_type(),
            Found::Missing => ctx.out.null(),
            Found::Set(s) => match s.random(&mut rand::rng()) {
                Some(m) => reply_member(ctx.out, m),
                None => ctx.out.null(),
            },
        }
        return;
    }
    let count = match parse_i64(args.get(2)) {
        None => return ctx.not_integer(),
        Some(i64::MIN) => {
            return ctx.out.err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
        }
        Some(n) => n,
    };
    let s = match find(ctx.db, key, false) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.array(0),
        Found::Set(s) => &*s,
    };
    let size = s.len();
    let mut rng = rand::rng();
    if count < 0 {
        // Repetitions allowed: independent draws.
        let n = count.unsigned_abs() as usize;
        ctx.out.array(n);
        for _ in 0..n {
            let m = s.random(&mut rng).expect("sets are never empty");
            reply_member(ctx.out, m);
        }
        return;
    }
    let count = count as u64;
    if count >= size as u64 {
        ctx.out.array(size);
        for m in s.iter() {
            reply_member(ctx.out, m);
        }
        return;
    }
    let count = count as usize;
    ctx.out.array(count);
    if count * 3 > size {
        let mut all: Vec<Member> = s.iter().collect();
        for i in 0..count {
            let j = rng.random_range(i..all.len());
            all.swap(i, j);
        }
        for &m in &all[..count] {
            reply_member(ctx.out, m);
        }
    } else {
        let mut seen: HashSet<Member> = HashSet::with_capacity(count);
        while seen.len() < count {
            let m = s.random(&mut rng).expect("sets are never empty");
            if seen.insert(m) {
                reply_member(ctx.out, m);
            }
        }
    }
}

fn smove(ctx: &mut Ctx, args: &Args) {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let src_state = match find(ctx.db, src, true) {
        Found::Missing => 0,
        Found::WrongType => 1,
        Found::Set(_) => 2,
    };
    let dst_state = match find(ctx.db, dst, true) {
        Found::Missing => 0,
        Found::WrongType => 1,
        Found::Set(_) => 2,
    };
    if src_state == 0 {
        return ctx.out.int(0);
    }
    if src_state == 1 || dst_state == 1 {
        return ctx.wrong_type();
    }
    if src == dst {
        let yes = set_at(ctx.db, src).contains(member);
        return ctx.out.int(yes as i64);
    }
    if !set_at(ctx.db, src).remove(member) {
        return ctx.out.int(0);
    }
    after_removal(ctx, src, 1, "srem");
    let max = max_intset(ctx);
    if dst_state == 0 {
        let mut s = SetValue::new();
        s.insert(member, max);
        ctx.db.set(dst, Value::Set(s), false);
        ctx.notify(SET, "sadd", dst);
    } else if set_at(ctx.db, dst).insert(member, max) {
        ctx.db.touched(dst);
        ctx.notify(SET, "sadd", dst);
    }
    ctx.out.int(1);
}

// ----- multi-key algebra -----------------------------------------------------

/// Looks every key of `keys` up. `Err` after writing WRONGTYPE; otherwise
/// each key's set size, `None` for a missing key.
fn sizes(ctx: &mut Ctx, keys: &[&[u8]], write: bool) -> Result<Vec<Option<usize>>, ()> {
    let mut out = Vec::with_capacity(keys.len());
    let mut wrong = false;
    for k in keys {
        match find(ctx.db, k, write) {
            Found::Missing => out.push(None),
            Found::Set(s) => out.push(Some(s.len())),
            Found::WrongType => wrong = true,
        }
    }
    if wrong {
        ctx.wrong_type();
        return Err(());
    }
    Ok(out)
}

/// The intersection of the sets at `keys` (all present), in the iteration
/// order of the smallest one.
fn intersection(db: &mut Db, keys: &[&[u8]], sizes: &[usize]) -> Vec<OwnedMember> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let mut acc: Vec<OwnedMember> = set_at(db, keys[order[0]]).iter().map(owned).collect();
    for &i in &order[1..] {
        if acc.is_empty() {
            break;
        }
        let s = set_at(db, keys[i]);
        acc.retain(|m| m.as_member().with_bytes(|b| s.contains(b)));
    }
    acc
}

/// Which set operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Computes `op` over the sets at `keys` (missing ones are empty). `Err`
/// after writing WRONGTYPE.
fn compute(ctx: &mut Ctx, op: Op, keys: &[&[u8]], write: bool) -> Result<SetValue, ()> {
    let sizes = sizes(ctx, keys, write)?;
    let max = max_intset(ctx);
    let mut result = SetValue::new();
    match op {
        Op::Inter => {
            if sizes.iter().all(Option::is_some) {
                let sizes: Vec<usize> = sizes.iter().map(|s| s.unwrap_or(0)).collect();
                for m in intersection(ctx.db, keys, &sizes) {
                    m.as_member().with_bytes(|b| result.insert(b, max));
                }
            }
        }
        Op::Union => {
            for (k, size) in keys.iter().zip(&sizes) {
                if size.is_some() {
                    let s = set_at(ctx.db, k);
                    for m in s.iter() {
                        m.with_bytes(|b| result.insert(b, max));
                    }
                }
            }
        }
        Op::Diff => {
            let Some(first) = sizes[0] else {
                return Ok(result);
            };
            // The same key given again as a later operand empties the result.
            if keys[1..].contains(&keys[0]) {
                return Ok(result);
            }
            // Redis picks between two algorithms (which decides the
            // encoding of intermediate results); do the same.
            let (mut one, mut two) = (0usize, 0usize);
            for s in sizes.iter().flatten() {
                one += first;
                two += s;
            }
            if one / 2 <= two {
                let mut acc: Vec<OwnedMember> = set_at(ctx.db, keys[0]).iter().map(owned).collect();
                for (k, size) in keys[1..].iter().zip(&sizes[1..]) {
                    if size.is_some() && !acc.is_empty() {
                        let s = set_at(ctx.db, k);
                        acc.retain(|m| !m.as_member().with_bytes(|b| s.contains(b)));
                    }
                }
                for m in acc {
                    m.as_member().with_bytes(|b| result.insert(b, max));
                }
            } else {
                for m in set_at(ctx.db, keys[0]).iter() {
                    m.with_bytes(|b| result.insert(b, max));
                }
                for (k, size) in keys[1..].iter().zip(&sizes[1..]) {
                    if size.is_some() {
                        let s = set_at(ctx.db, k);
                        for m in s.iter() {
                            m.with_bytes(|b| result.remove(b));
                        }
                        if result.is_empty() {
                            break;
                        }
                    }
                }
            }
        }
    }
    Ok(result)
}

fn key_list<'a>(args: &Args<'a>, from: usize) -> Vec<&'a [u8]> {
    (from..args.len()).map(|i| args.get(i)).collect()
}

fn reply_set(ctx: &mut Ctx, s: &SetValue) {
    ctx.out.set(s.len());
    for m in s.iter() {
        reply_member(ctx.out, m);
    }
}

fn op_reply(ctx: &mut Ctx, args: &Args, op: Op) {
    let keys = key_list(args, 1);
    if op == Op::Inter {
        // The intersection is replied in the smallest set's order, without
        // building a set.
        let Ok(sizes) = sizes(ctx, &keys, false) else {
            return;
        };
        let Some(sizes) = sizes.into_iter().collect::<Option<Vec<usize>>>() else {
            return ctx.out.set(0);
        };
        let found = intersection(ctx.db, &keys, &sizes);
        ctx.out.set(found.len());
        for m in &found {
            reply_member(ctx.out, m.as_member());
        }
        return;
    }
    if let Ok(s) = compute(ctx, op, &keys, false) {
        reply_set(ctx, &s);
    }
}

fn op_store(ctx: &mut Ctx, args: &Args, op: Op) {
    let dst = args.get(1);
    let keys = key_list(args, 2);
    // Redis reads the sources with read lookups (keymiss, hit/miss counted).
    let Ok(s) = compute(ctx, op, &keys, false) else {
        return;
    };
    let n = s.len();
    if n > 0 {
        ctx.db.set(dst, Value::Set(s), false);
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        ctx.notify(SET, event, dst);
    } else if ctx.db.remove_stored(dst) {
        ctx.notify(GENERIC, "del", dst);
    }
    ctx.out.int(n as i64);
}

fn sinter(ctx: &mut Ctx, args: &Args) {
    op_reply(ctx, args, Op::Inter);
}

fn sunion(ctx: &mut Ctx, args: &Args) {
    op_reply(ctx, args, Op::Union);
}

fn sdiff(ctx: &mut Ctx, args: &Args) {
    op_reply(ctx, args, Op::Diff);
}

fn sinterstore(ctx: &mut Ctx, args: &Args) {
    op_store(ctx, args, Op::Inter);
}

fn sunionstore(ctx: &mut Ctx, args: &Args) {
    op_store(ctx, args, Op::Union);
}

fn sdiffstore(ctx: &mut Ctx, args: &Args) {
    op_store(ctx, args, Op::Diff);
}

/// `numkeys` of SINTERCARD when valid (at least 1, at most the arguments
/// left).
fn sintercard_numkeys(args: &Args) -> Result<usize, &'static str> {
    let n = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err("ERR numkeys should be greater than 0"),
    };
    if n > (args.len() - 2) as u64 {
        return Err("ERR Number of keys can't be greater than number of args");
    }
    Ok(n as usize)
}

fn sintercard_keys(args: &Args, out: &mut Vec<usize>) {
    if let Ok(n) = sintercard_numkeys(args) {
        out.extend(2..2 + n);
    }
}

fn sintercard(ctx: &mut Ctx, args: &Args) {
    let n = match sintercard_numkeys(args) {
        Ok(n) => n,
        Err(msg) => return ctx.out.err(msg),
    };
    let mut limit = 0usize;
    let mut i = 2 + n;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"limit") && i + 1 < args.len() {
            match parse_i64(args.get(i + 1)) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return ctx.out.err("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return ctx.syntax_error();
        }
    }
    let keys: Vec<&[u8]> = (2..2 + n).map(|i| args.get(i)).collect();
    let Ok(sizes) = sizes(ctx, &keys, false) else {
        return;
    };
    let Some(sizes) = sizes.into_iter().collect::<Option<Vec<usize>>>() else {
        return ctx.out.int(0);
    };
    let mut card = intersection(ctx.db, &keys, &sizes).len();
    if limit > 0 {
        card = card.min(limit);
    }
    ctx.out.int(card as i64);
}

fn sscan(ctx: &mut Ctx, args: &Args) {
    let Some(cursor) = parse_cursor(args.get(2)) else {
        return ctx.out.err("ERR invalid cursor");
    };
    let s = match find(ctx.db, args.get(1), false) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            ctx.out.array(0);
            return;
        }
        Found::Set(s) => &*s,
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
                Some(c) => count = usize::try_from(c).unwrap_or(usize::MAX),
            }
        } else if opt.eq_ignore_ascii_case(b"match") && has_value {
            let p = args.get(i + 1);
            pattern = (p != b"*").then_some(p);
        } else {
            return ctx.syntax_error();
        }
        i += 2;
    }
    let mut found: Vec<Member> = Vec::new();
    let next = s.scan(cursor, count, |m| {
        let keep = pattern.is_none_or(|p| m.with_bytes(|b| glob_match(p, b, false)));
        if keep {
            found.push(m);
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for m in found {
        reply_member(ctx.out, m);
    }
}
