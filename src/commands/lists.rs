//! List commands (LPUSH/RPUSH and X forms, LPOP/RPOP, LLEN, LRANGE, LINDEX,
//! LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH, LMPOP) and the
//! blocking ones (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) over
//! [`ListValue`].
//!
//! A blocking command first behaves as its non-blocking form; when every
//! key is empty it blocks through `commands::blocking` with a [`ListWait`]
//! descriptor, which [`serve_list`] reads when a write makes one of its
//! keys ready. Inside MULTI/EXEC it never blocks: it answers the timeout
//! reply at once, as Redis does.

use super::blocking::{self, cannot_block, parse_timeout, reply_for};
use super::flags::{BLOCKING, DENYOOM, FAST, MOVABLE_KEYS, NOSCRIPT, READONLY, WRITE};
use super::{Args, CommandDef, Ctx, Keys, acl, numkeys};
use crate::protocol::reply::Reply;
use crate::storage::blocking::{Serve, Waiter};
use crate::storage::keyspace::Db;
use crate::storage::list::{End, Fill, ListValue};
use crate::storage::notify::{GENERIC, LIST as LIST_EVENTS};
use crate::storage::value::Value;
use crate::util::num::parse_i64;

const LIST: u32 = acl::LIST;
const TWO_KEYS: Keys = Keys::Range {
    first: 1,
    last: 2,
    step: 1,
};

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $acl:expr, $keys:expr, $since:literal, $summary:literal, $handler:ident) => {
        CommandDef {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: LIST | $acl,
            keys: $keys,
            group: "list",
            since: $since,
            summary: $summary,
            handler: $handler,
            ..CommandDef::DEFAULT
        }
    };
}

const W_FAST: u32 = acl::WRITE | acl::FAST;
const W_SLOW: u32 = acl::WRITE | acl::SLOW;
const R_SLOW: u32 = acl::READ | acl::SLOW;
const B_SLOW: u32 = acl::WRITE | acl::SLOW | acl::BLOCKING;

pub const COMMANDS: &[CommandDef] = &[
    cmd!(
        "lpush",
        -3,
        WRITE | DENYOOM | FAST,
        W_FAST,
        Keys::ONE,
        "1.0.0",
        "Prepends elements to a list, creating it when needed.",
        lpush
    ),
    cmd!(
        "rpush",
        -3,
        WRITE | DENYOOM | FAST,
        W_FAST,
        Keys::ONE,
        "1.0.0",
        "Appends elements to a list, creating it when needed.",
        rpush
    ),
    cmd!(
        "lpushx",
        -3,
        WRITE | DENYOOM | FAST,
        W_FAST,
        Keys::ONE,
        "2.2.0",
        "Prepends elements to a list only if it exists.",
        lpushx
    ),
    cmd!(
        "rpushx",
        -3,
        WRITE | DENYOOM | FAST,
        W_FAST,
        Keys::ONE,
        "2.2.0",
        "Appends elements to a list only if it exists.",
        rpushx
    ),
    cmd!(
        "lpop",
        -2,
        WRITE | FAST,
        W_FAST,
        Keys::ONE,
        "1.0.0",
        "Removes and returns the first elements of a list.",
        lpop
    ),
    cmd!(
        "rpop",
        -2,
        WRITE | FAST,
        W_FAST,
        Keys::ONE,
        "1.0.0",
        "Removes and returns the last elements of a list.",
        rpop
    ),
    cmd!(
        "llen",
        2,
        READONLY | FAST,
        acl::READ | acl::FAST,
        Keys::ONE,
        "1.0.0",
        "Counts the elements of a list.",
        llen
    ),
    cmd!(
        "lrange",
        4,
        READONLY,
        R_SLOW,
        Keys::ONE,
        "1.0.0",
        "Returns a range of elements of a list.",
        lrange
    ),
    cmd!(
        "lindex",
        3,
        READONLY,
        R_SLOW,
        Keys::ONE,
        "1.0.0",
        "Returns the element at an index of a list.",
        lindex
    ),
    cmd!(
        "lset",
        4,
        WRITE | DENYOOM,
        W_SLOW,
        Keys::ONE,
        "1.0.0",
        "Replaces the element at an index of a list.",
        lset
    ),
    cmd!(
        "linsert",
        5,
        WRITE | DENYOOM,
        W_SLOW,
        Keys::ONE,
        "2.2.0",
        "Inserts an element before or after another one.",
        linsert
    ),
    cmd!(
        "lrem",
        4,
        WRITE,
        W_SLOW,
        Keys::ONE,
        "1.0.0",
        "Removes occurrences of an element from a list.",
        lrem
    ),
    cmd!(
        "ltrim",
        4,
        WRITE,
        W_SLOW,
        Keys::ONE,
        "1.0.0",
        "Keeps only a range of elements of a list.",
        ltrim
    ),
    cmd!(
        "lpos",
        -3,
        READONLY,
        R_SLOW,
        Keys::ONE,
        "6.0.6",
        "Finds the positions of elements equal to a value.",
        lpos
    ),
    cmd!(
        "lmove",
        5,
        WRITE | DENYOOM,
        W_SLOW,
        TWO_KEYS,
        "6.2.0",
        "Moves an element from one end of a list to an end of another.",
        lmove
    ),
    cmd!(
        "rpoplpush",
        3,
        WRITE | DENYOOM,
        W_SLOW,
        TWO_KEYS,
        "1.2.0",
        "Moves the last element of a list to the front of another.",
        rpoplpush
    ),
    cmd!(
        "lmpop",
        -4,
        WRITE | MOVABLE_KEYS,
        W_SLOW,
        Keys::Custom(numkeys::keys_at_1),
        "7.0.0",
        "Pops elements from the first non-empty list among several keys.",
        lmpop
    ),
    cmd!(
        "blpop",
        -3,
        WRITE | NOSCRIPT | BLOCKING,
        B_SLOW,
        Keys::Range {
            first: 1,
            last: -2,
            step: 1
        },
        "2.0.0",
        "Pops the first element of the first non-empty list, waiting for one.",
        blpop
    ),
    cmd!(
        "brpop",
        -3,
        WRITE | NOSCRIPT | BLOCKING,
        B_SLOW,
        Keys::Range {
            first: 1,
            last: -2,
            step: 1
        },
        "2.0.0",
        "Pops the last element of the first non-empty list, waiting for one.",
        brpop
    ),
    cmd!(
        "blmove",
        6,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        B_SLOW,
        TWO_KEYS,
        "6.2.0",
        "LMOVE that waits for the source list to have an element.",
        blmove
    ),
    cmd!(
        "brpoplpush",
        4,
        WRITE | DENYOOM | NOSCRIPT | BLOCKING,
        B_SLOW,
        TWO_KEYS,
        "2.2.0",
        "RPOPLPUSH that waits for the source list to have an element.",
        brpoplpush
    ),
    cmd!(
        "blmpop",
        -5,
        WRITE | BLOCKING | MOVABLE_KEYS,
        B_SLOW,
        Keys::Custom(numkeys::keys_at_2),
        "7.0.0",
        "LMPOP that waits for one of the lists to have elements.",
        blmpop
    ),
];

// ----- helpers ---------------------------------------------------------------

enum Found<'e> {
    Missing,
    List(&'e mut ListValue),
    WrongType,
}

fn find<'e>(db: &'e mut Db, key: &[u8], write: bool) -> Found<'e> {
    let e = if write {
        db.get_for_write(key)
    } else {
        db.get(key)
    };
    match e {
        None => Found::Missing,
        Some(e) => match &mut e.value {
            Value::List(l) => Found::List(l),
            _ => Found::WrongType,
        },
    }
}

/// The list under `key`, already checked to exist (no statistics).
fn list_at<'e>(db: &'e mut Db, key: &[u8]) -> Option<&'e mut ListValue> {
    match db.peek(key).map(|e| &mut e.value) {
        Some(Value::List(l)) => Some(l),
        _ => None,
    }
}

fn fill(ctx: &Ctx) -> Fill {
    Fill(ctx.client.settings.list_max_listpack_size)
}

/// The argument naming an end (`LEFT`/`RIGHT`), for propagated LMOVEs.
fn end_name(end: End) -> &'static [u8] {
    match end {
        End::Left => b"LEFT",
        End::Right => b"RIGHT",
    }
}

/// Propagates a pop of `n` elements (None: the single-element form) from
/// `key` as LPOP/RPOP, the deterministic form of BLPOP, BLMPOP, LMPOP and
/// served blocked pops (a replica or an AOF reload must not block).
fn propagate_pop(db: &mut Db, key: &[u8], end: End, n: Option<usize>) {
    let cmd: &[u8] = match end {
        End::Left => b"LPOP",
        End::Right => b"RPOP",
    };
    match n {
        None => db.propagate_as(&[cmd, key]),
        Some(n) => {
            let mut buf = itoa::Buffer::new();
            db.propagate_as(&[cmd, key, buf.format(n).as_bytes()]);
        }
    }
}

fn end_of(arg: &[u8]) -> Option<End> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(End::Left)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(End::Right)
    } else {
        None
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// After removing `n` elements from the list at `key`: deletes the key if
/// the list is empty (with its `del` event), and counts the change.
fn after_removal(db: &mut Db, key: &[u8], n: usize) {
    if n == 0 {
        return;
    }
    if list_at(db, key).is_some_and(|l| l.is_empty()) {
        db.remove(key);
        db.notify(GENERIC, "del", key);
    } else {
        db.touched(key);
    }
    db.dirty += n as u64 - 1;
}

/// Pops up to `count` elements from the list at `key` (known to exist).
fn pop_n(db: &mut Db, key: &[u8], end: End, count: usize) -> Vec<Vec<u8>> {
    let Some(l) = list_at(db, key) else {
        return Vec::new();
    };
    let n = count.min(l.len());
    let v: Vec<Vec<u8>> = (0..n).filter_map(|_| l.pop(end)).collect();
    if !v.is_empty() {
        db.notify(LIST_EVENTS, pop_event(end), key);
    }
    after_removal(db, key, v.len());
    v
}

/// Pushes onto the list at `key`, creating it; returns the new length.
fn push_onto(db: &mut Db, key: &[u8], end: End, items: &[&[u8]], fill: Fill) -> usize {
    match list_at(db, key) {
        Some(l) => {
            for it in items {
                l.push(end, it, fill);
            }
            let len = l.len();
            db.touched(key);
            db.dirty += items.len() as u64 - 1;
            db.notify(LIST_EVENTS, push_event(end), key);
            len
        }
        None => {
            let mut l = ListValue::new();
            for it in items {
                l.push(end, it, fill);
            }
            let len = l.len();
            db.set(key, Value::List(Box::new(l)), false);
            db.dirty += items.len() as u64 - 1;
            db.notify(LIST_EVENTS, push_event(end), key);
            len
        }
    }
}

/// What LMOVE does once both keys are known to hold lists (or `dst` to be
/// missing): pop from `src`, push onto `dst`. Returns the element.
fn move_element(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    fill: Fill,
) -> Option<Vec<u8>> {
    let v = list_at(db, src)?.pop(from)?;
    // Redis's order: the push event, the pop event, then `del`.
    push_onto(db, dst, to, &[&v], fill);
    db.notify(LIST_EVENTS, pop_event(from), src);
    if src != dst {
        after_removal(db, src, 1);
    }
    Some(v)
}

/// Normalizes Redis range indexes against `len`; `None` = empty range.
fn range_of(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if stop < 0 { len + stop } else { stop };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

// ----- push / pop ------------------------------------------------------------

fn push_generic(ctx: &mut Ctx, args: &Args, end: End, only_existing: bool) {
    let key = args.get(1);
    let f = fill(ctx);
    match find(ctx.db, key, true) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing if only_existing => ctx.out.int(0),
        Found::List(l) => {
            // The list is at hand: push without looking it up again.
            for i in 2..args.len() {
                l.push(end, args.get(i), f);
            }
            let n = l.len();
            ctx.db.touched(key);
            ctx.db.dirty += args.len() as u64 - 3;
            ctx.db.notify(LIST_EVENTS, push_event(end), key);
            ctx.out.int(n as i64);
        }
        Found::Missing => {
            let items: Vec<&[u8]> = (2..args.len()).map(|i| args.get(i)).collect();
            let n = push_onto(ctx.db, key, end, &items, f);
            ctx.out.int(n as i64);
        }
    }
}

fn lpush(ctx: &mut Ctx, args: &Args) {
    push_generic(ctx, args, End::Left, false)
}

fn rpush(ctx: &mut Ctx, args: &Args) {
    push_generic(ctx, args, End::Right, false)
}

fn lpushx(ctx: &mut Ctx, args: &Args) {
    push_generic(ctx, args, End::Left, true)
}

fn rpushx(ctx: &mut Ctx, args: &Args) {
    push_generic(ctx, args, End::Right, true)
}

fn pop_generic(ctx: &mut Ctx, args: &Args, end: End) {
    if args.len() > 3 {
        let msg = format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.def.name
        );
        return ctx.out.err(&msg);
    }
    let count = if args.len() == 3 {
        match parse_i64(args.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.out.err("ERR value is out of range, must be positive"),
        }
    } else {
        None
    };
    let key = args.get(1);
    match find(ctx.db, key, true) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        },
        Found::List(l) => match count {
            None => {
                // The element goes straight into the reply: no copy.
                let out = &mut *ctx.out;
                l.pop_with(end, |v| out.bulk(v));
                let empty = l.is_empty();
                ctx.db.notify(LIST_EVENTS, pop_event(end), key);
                if empty {
                    ctx.db.remove(key);
                    ctx.db.notify(GENERIC, "del", key);
                } else {
                    ctx.db.touched(key);
                }
            }
            Some(n) => {
                let v = pop_n(ctx.db, key, end, n);
                ctx.out.array(v.len());
                for it in &v {
                    ctx.out.bulk(it);
                }
            }
        },
    }
}

fn lpop(ctx: &mut Ctx, args: &Args) {
    pop_generic(ctx, args, End::Left)
}

fn rpop(ctx: &mut Ctx, args: &Args) {
    pop_generic(ctx, args, End::Right)
}

// ----- reads -----------------------------------------------------------------

fn llen(ctx: &mut Ctx, args: &Args) {
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.int(0),
        Found::List(l) => {
            let n = l.len() as i64;
            ctx.out.int(n)
        }
    }
}

fn lrange(ctx: &mut Ctx, args: &Args) {
    let (Some(start), Some(stop)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.not_integer();
    };
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.array(0),
        Found::List(l) => match range_of(start, stop, l.len()) {
            None => ctx.out.array(0),
            Some((s, e)) => {
                ctx.out.array(e - s + 1);
                let out = &mut *ctx.out;
                l.for_range(s, e, |it| out.bulk(it));
            }
        },
    }
}

fn lindex(ctx: &mut Ctx, args: &Args) {
    let l = match find(ctx.db, args.get(1), false) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.null(),
        Found::List(l) => l,
    };
    let Some(i) = parse_i64(args.get(2)) else {
        return ctx.not_integer();
    };
    let len = l.len() as i64;
    let i = if i < 0 { len + i } else { i };
    match (i >= 0 && i < len).then(|| l.get(i as usize)).flatten() {
        Some(v) => {
            let v = v.to_vec();
            ctx.out.bulk(&v)
        }
        None => ctx.out.null(),
    }
}

fn lpos(ctx: &mut Ctx, args: &Args) {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        let more = j + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"rank") && more {
            j += 1;
            match parse_i64(args.get(j)) {
                None => return ctx.not_integer(),
                // Redis negates the rank, which leaves LLONG_MIN negative
                // and makes it match from the tail like -1.
                Some(i64::MIN) => rank = -1,
                Some(0) => {
                    return ctx.out.err(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    );
                }
                Some(r) => rank = r,
            }
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(n) if n >= 0 => count = Some(n as usize),
                _ => return ctx.out.err("ERR COUNT can't be negative"),
            }
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(n) if n >= 0 => maxlen = n as usize,
                _ => return ctx.out.err("ERR MAXLEN can't be negative"),
            }
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    let l = match find(ctx.db, args.get(1), false) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => {
            return match count {
                Some(_) => ctx.out.array(0),
                None => ctx.out.null(),
            };
        }
        Found::List(l) => l,
    };
    let want = args.get(2);
    let limit = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let scan = if maxlen == 0 { usize::MAX } else { maxlen };
    let len = l.len();
    let mut skip = rank.unsigned_abs() - 1;
    let mut found: Vec<usize> = Vec::new();
    let mut check = |i: usize, it: &[u8]| -> bool {
        if it == want {
            if skip > 0 {
                skip -= 1;
            } else {
                found.push(i);
                if found.len() >= limit {
                    return true;
                }
            }
        }
        false
    };
    if rank > 0 {
        for (i, it) in l.iter().enumerate().take(scan) {
            if check(i, it) {
                break;
            }
        }
    } else {
        for (k, it) in l.iter().rev().enumerate().take(scan) {
            if check(len - 1 - k, it) {
                break;
            }
        }
    }
    match count {
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
    }
}

// ----- in-place changes ------------------------------------------------------

fn lset(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let f = fill(ctx);
    let l = match find(ctx.db, key, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.err("ERR no such key"),
        Found::List(l) => l,
    };
    let Some(i) = parse_i64(args.get(2)) else {
        return ctx.not_integer();
    };
    let len = l.len() as i64;
    let i = if i < 0 { len + i } else { i };
    if i < 0 || i >= len {
        return ctx.out.err("ERR index out of range");
    }
    l.set(i as usize, args.get(3), f);
    ctx.db.touched(key);
    ctx.notify(LIST_EVENTS, "lset", key);
    ctx.out.ok();
}

fn linsert(ctx: &mut Ctx, args: &Args) {
    let after = if args.get(2).eq_ignore_ascii_case(b"after") {
        true
    } else if args.get(2).eq_ignore_ascii_case(b"before") {
        false
    } else {
        return ctx.syntax_error();
    };
    let key = args.get(1);
    let f = fill(ctx);
    let l = match find(ctx.db, key, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.int(0),
        Found::List(l) => l,
    };
    let pivot = args.get(3);
    let Some(pos) = l.iter().position(|it| it == pivot) else {
        return ctx.out.int(-1);
    };
    l.insert(pos + after as usize, args.get(4), f);
    let n = l.len() as i64;
    ctx.db.touched(key);
    ctx.notify(LIST_EVENTS, "linsert", key);
    ctx.out.int(n);
}

fn lrem(ctx: &mut Ctx, args: &Args) {
    let Some(count) = parse_i64(args.get(2)) else {
        return ctx.not_integer();
    };
    let key = args.get(1);
    let f = fill(ctx);
    let l = match find(ctx.db, key, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.int(0),
        Found::List(l) => l,
    };
    let from = if count < 0 { End::Right } else { End::Left };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let n = l.remove_value(args.get(3), limit, from, f);
    if n > 0 {
        // Redis counts one change per LREM that removed something.
        ctx.notify(LIST_EVENTS, "lrem", key);
        after_removal(ctx.db, key, 1);
    }
    ctx.out.int(n as i64);
}

fn ltrim(ctx: &mut Ctx, args: &Args) {
    let (Some(start), Some(stop)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.not_integer();
    };
    let key = args.get(1);
    let f = fill(ctx);
    let l = match find(ctx.db, key, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.ok(),
        Found::List(l) => l,
    };
    let before = l.len();
    match range_of(start, stop, before) {
        None => l.trim(1, 0, f),
        Some((s, e)) => l.trim(s, e, f),
    }
    let removed = before - l.len();
    // LTRIM counts (and signals) a change even when nothing went.
    let emptied = l.is_empty();
    ctx.notify(LIST_EVENTS, "ltrim", key);
    if emptied {
        ctx.db.remove(key);
        ctx.notify(GENERIC, "del", key);
    } else {
        ctx.db.touched(key);
    }
    ctx.db.dirty += removed.saturating_sub(1) as u64;
    ctx.out.ok();
}

// ----- moves -----------------------------------------------------------------

/// LMOVE's checks and work; `Err(())` = a wrong type answered.
fn lmove_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> Result<(), ()> {
    let f = fill(ctx);
    match find(ctx.db, src, true) {
        Found::WrongType => {
            ctx.wrong_type();
            return Err(());
        }
        Found::Missing => {
            ctx.out.null();
            return Ok(());
        }
        Found::List(_) => {}
    }
    if let Found::WrongType = find(ctx.db, dst, true) {
        ctx.wrong_type();
        return Err(());
    }
    match move_element(ctx.db, src, dst, from, to, f) {
        Some(v) => {
            ctx.out.bulk(&v);
            ctx.propagate_as(&[b"LMOVE", src, dst, end_name(from), end_name(to)]);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn lmove(ctx: &mut Ctx, args: &Args) {
    let (Some(from), Some(to)) = (end_of(args.get(3)), end_of(args.get(4))) else {
        return ctx.syntax_error();
    };
    let _ = lmove_generic(ctx, args.get(1), args.get(2), from, to);
}

fn rpoplpush(ctx: &mut Ctx, args: &Args) {
    let _ = lmove_generic(ctx, args.get(1), args.get(2), End::Right, End::Left);
}

// ----- LMPOP -----------------------------------------------------------------

/// LMPOP/BLMPOP arguments after the numkeys position.
type Mpop = numkeys::MultiPop<End>;

fn parse_mpop(args: &Args, numkeys_at: usize) -> Result<Mpop, &'static str> {
    numkeys::multi_pop(args, numkeys_at, end_of)
}

/// Pops from the first non-empty list among the keys and answers
/// `[key, [elements]]`; `Ok(false)` when every list is empty (nothing
/// answered).
fn mpop_once(ctx: &mut Ctx, args: &Args, m: &Mpop) -> Result<bool, ()> {
    for i in m.keys.clone() {
        let key = args.get(i);
        match find(ctx.db, key, true) {
            Found::WrongType => {
                ctx.wrong_type();
                return Err(());
            }
            Found::Missing => continue,
            Found::List(_) => {
                let v = pop_n(ctx.db, key, m.from, m.count);
                reply_key_elems(ctx.out, key, &v);
                propagate_pop(ctx.db, key, m.from, Some(v.len()));
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn reply_key_elems(out: &mut Reply, key: &[u8], v: &[Vec<u8>]) {
    out.array(2);
    out.bulk(key);
    out.array(v.len());
    for it in v {
        out.bulk(it);
    }
}

fn lmpop(ctx: &mut Ctx, args: &Args) {
    let m = match parse_mpop(args, 1) {
        Ok(m) => m,
        Err(e) => return ctx.out.err(e),
    };
    if let Ok(false) = mpop_once(ctx, args, &m) {
        ctx.out.null_array();
    }
}

// ----- blocking forms --------------------------------------------------------

/// What a client blocked by a list command waits to do.
pub enum ListWait {
    /// BLPOP/BRPOP (`count` = None: reply `[key, element]`) or BLMPOP
    /// (`Some(n)`: reply `[key, [elements]]`).
    Pop { end: End, count: Option<usize> },
    /// BLMOVE/BRPOPLPUSH.
    Move {
        dst: Vec<u8>,
        from: End,
        to: End,
        fill: Fill,
    },
}

/// Serves a waiter of a list command from `key` (its shard is locked).
fn serve_list(db: &mut Db, key: &[u8], w: &Waiter) -> Serve {
    let Some(spec) = w.spec.downcast_ref::<ListWait>() else {
        return Serve::Skip;
    };
    match db.peek(key).map(|e| &e.value) {
        Some(Value::List(l)) if !l.is_empty() => {}
        // Another type: leave it to the waiters of that type behind.
        Some(v) if !matches!(v, Value::List(_)) => return Serve::Skip,
        _ => return Serve::Empty,
    }
    match spec {
        ListWait::Pop { end, count } => {
            let v = pop_n(db, key, *end, count.unwrap_or(1));
            propagate_pop(db, key, *end, count.map(|_| v.len()));
            Serve::Done(reply_for(w, |r| match count {
                None => {
                    r.array(2);
                    r.bulk(key);
                    r.bulk(&v[0]);
                }
                Some(_) => reply_key_elems(r, key, &v),
            }))
        }
        ListWait::Move {
            dst,
            from,
            to,
            fill,
        } => {
            if !db.holds(dst) {
                return Serve::Retry;
            }
            if db
                .peek(dst)
                .is_some_and(|e| !matches!(e.value, Value::List(_)))
            {
                return Serve::Done(reply_for(w, |r| {
                    r.err("WRONGTYPE Operation against a key holding the wrong kind of value")
                }));
            }
            match move_element(db, key, dst, *from, *to, *fill) {
                Some(v) => {
                    db.propagate_as(&[b"LMOVE", key, dst, end_name(*from), end_name(*to)]);
                    Serve::Done(reply_for(w, |r| r.bulk(&v)))
                }
                None => Serve::Empty,
            }
        }
    }
}

fn null_array(r: &mut Reply) {
    r.null_array()
}

fn bpop_generic(ctx: &mut Ctx, args: &Args, end: End) {
    let Some(timeout) = parse_timeout(ctx, args.get(args.len() - 1)) else {
        return;
    };
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    for key in &keys {
        match find(ctx.db, key, true) {
            Found::WrongType => return ctx.wrong_type(),
            Found::Missing => continue,
            Found::List(_) => {
                let v = pop_n(ctx.db, key, end, 1);
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.bulk(&v[0]);
                propagate_pop(ctx.db, key, end, None);
                return;
            }
        }
    }
    if cannot_block(ctx) {
        return ctx.out.null_array();
    }
    let spec = Box::new(ListWait::Pop { end, count: None });
    blocking::block(ctx, args, &keys, timeout, null_array, serve_list, spec);
}

fn blpop(ctx: &mut Ctx, args: &Args) {
    bpop_generic(ctx, args, End::Left)
}

fn brpop(ctx: &mut Ctx, args: &Args) {
    bpop_generic(ctx, args, End::Right)
}

fn bmove_generic(ctx: &mut Ctx, args: &Args, from: End, to: End, timeout: i64) {
    let (src, dst) = (args.get(1), args.get(2));
    match find(ctx.db, src, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::List(_) => {
            let _ = lmove_generic(ctx, src, dst, from, to);
            return;
        }
        Found::Missing => {}
    }
    if cannot_block(ctx) {
        return ctx.out.null();
    }
    let spec = Box::new(ListWait::Move {
        dst: dst.to_vec(),
        from,
        to,
        fill: fill(ctx),
    });
    // Redis 7.0 answers a timed-out BLMOVE with a null array.
    blocking::block(ctx, args, &[src], timeout, null_array, serve_list, spec);
}

fn blmove(ctx: &mut Ctx, args: &Args) {
    let (Some(from), Some(to)) = (end_of(args.get(3)), end_of(args.get(4))) else {
        return ctx.syntax_error();
    };
    let Some(timeout) = parse_timeout(ctx, args.get(5)) else {
        return;
    };
    bmove_generic(ctx, args, from, to, timeout)
}

fn brpoplpush(ctx: &mut Ctx, args: &Args) {
    let Some(timeout) = parse_timeout(ctx, args.get(3)) else {
        return;
    };
    bmove_generic(ctx, args, End::Right, End::Left, timeout)
}

fn blmpop(ctx: &mut Ctx, args: &Args) {
    let Some(timeout) = parse_timeout(ctx, args.get(1)) else {
        return;
    };
    let m = match parse_mpop(args, 2) {
        Ok(m) => m,
        Err(e) => return ctx.out.err(e),
    };
    match mpop_once(ctx, args, &m) {
        Err(()) | Ok(true) => {}
        Ok(false) => {
            if cannot_block(ctx) {
                return ctx.out.null_array();
            }
            let keys: Vec<&[u8]> = m.keys.clone().map(|i| args.get(i)).collect();
            let spec = Box::new(ListWait::Pop {
                end: m.from,
                count: Some(m.count),
            });
            blocking::block(ctx, args, &keys, timeout, null_array, serve_list, spec);
        }
    }
}
