//! Sorted-set commands (ZADD, ZINCRBY, ZREM, ZCARD, ZCOUNT, ZLEXCOUNT,
//! ZSCORE, ZMSCORE, ZRANK, ZREVRANK, the ZRANGE family and ZRANGESTORE,
//! ZREMRANGEBY*, ZPOPMIN/ZPOPMAX, ZMPOP, ZRANDMEMBER, ZUNION/ZINTER/ZDIFF
//! and their STORE forms, ZINTERCARD, ZSCAN, BZPOPMIN, BZPOPMAX, BZMPOP)
//! over [`ZSetValue`].
//!
//! Range commands first turn their arguments into a span of ranks
//! (`[start, end)` in ascending order plus a direction) with O(log n)
//! bound searches, then walk that span; replies and stores share the walk.
//! Multi-key commands never hold two values borrowed at once: they copy
//! the first input and check it against the others one at a time.
//! The blocking forms (BZPOPMIN, BZPOPMAX, BZMPOP) first behave as their
//! non-blocking forms; when every key is missing they block through
//! `commands::blocking` with a [`ZSetWait`], which `serve_zset` reads when
//! a write makes one of the keys ready. They propagate as ZPOPMIN/ZPOPMAX.

use super::blocking::{self, cannot_block, parse_timeout, reply_for};
use super::flags::{BLOCKING, DENYOOM, FAST, NOSCRIPT, READONLY, WRITE};
use super::keys::parse_cursor;
use super::{Args, CommandDef, Ctx, Keys, acl};
use crate::protocol::reply::{Reply, Resp};
use crate::storage::blocking::{Serve, Waiter};
use crate::storage::keyspace::Db;
use crate::storage::notify::{GENERIC, ZSET};
use crate::storage::value::Value;
use crate::storage::zset::{Limits, ZSetValue, cmp_entry};
use crate::util::glob::glob_match;
use crate::util::num::{parse_f64_like_strtod, parse_i64};
use rand::RngExt;
use std::collections::{HashMap, HashSet};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "bzmpop",
        arity: -5,
        flags: WRITE | BLOCKING,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW | acl::BLOCKING,
        keys: Keys::Custom(numkeys_at_2),
        group: "sorted_set",
        since: "7.0.0",
        summary: "ZMPOP that waits for one of the sorted sets to have members.",
        handler: bzmpop,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "bzpopmax",
        arity: -3,
        flags: WRITE | NOSCRIPT | BLOCKING | FAST,
        acl: acl::WRITE | acl::SORTEDSET | acl::FAST | acl::BLOCKING,
        keys: Keys::Range {
            first: 1,
            last: -2,
            step: 1,
        },
        group: "sorted_set",
        since: "5.0.0",
        summary: "Pops the highest scored member of the first non-empty sorted set, waiting for one.",
        handler: bzpopmax,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "bzpopmin",
        arity: -3,
        flags: WRITE | NOSCRIPT | BLOCKING | FAST,
        acl: acl::WRITE | acl::SORTEDSET | acl::FAST | acl::BLOCKING,
        keys: Keys::Range {
            first: 1,
            last: -2,
            step: 1,
        },
        group: "sorted_set",
        since: "5.0.0",
        summary: "Pops the lowest scored member of the first non-empty sorted set, waiting for one.",
        handler: bzpopmin,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zadd",
        arity: -4,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.2.0",
        summary: "Adds members with scores to a sorted set, or updates their scores.",
        handler: zadd,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zcard",
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::READ | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.2.0",
        summary: "Counts the members of a sorted set.",
        handler: zcard,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zcount",
        arity: 4,
        flags: READONLY | FAST,
        acl: acl::READ | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.0.0",
        summary: "Counts the members whose score lies in a range.",
        handler: zcount,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zdiff",
        arity: -3,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Custom(numkeys_at_1),
        group: "sorted_set",
        since: "6.2.0",
        summary: "Returns the members of the first sorted set found in none of the others.",
        handler: zdiff,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zdiffstore",
        arity: -4,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Custom(store_keys),
        group: "sorted_set",
        since: "6.2.0",
        summary: "Stores the difference of sorted sets under a key.",
        handler: zdiffstore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zincrby",
        arity: 4,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.2.0",
        summary: "Adds to the score of a sorted set member.",
        handler: zincrby,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zinter",
        arity: -3,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Custom(numkeys_at_1),
        group: "sorted_set",
        since: "6.2.0",
        summary: "Returns the members common to all the given sorted sets, scores aggregated.",
        handler: zinter,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zintercard",
        arity: -3,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Custom(numkeys_at_1),
        group: "sorted_set",
        since: "7.0.0",
        summary: "Counts the members common to all the given sorted sets, optionally up to a limit.",
        handler: zintercard,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zinterstore",
        arity: -4,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Custom(store_keys),
        group: "sorted_set",
        since: "2.0.0",
        summary: "Stores the intersection of sorted sets under a key.",
        handler: zinterstore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zlexcount",
        arity: 4,
        flags: READONLY | FAST,
        acl: acl::READ | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.8.9",
        summary: "Counts the members in a lexicographical range.",
        handler: zlexcount,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zmpop",
        arity: -4,
        flags: WRITE,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Custom(numkeys_at_1),
        group: "sorted_set",
        since: "7.0.0",
        summary: "Removes and returns the lowest or highest scored members of the first non-empty sorted set.",
        handler: zmpop,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zmscore",
        arity: -3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "6.2.0",
        summary: "Returns the scores of several members.",
        handler: zmscore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zpopmax",
        arity: -2,
        flags: WRITE | FAST,
        acl: acl::WRITE | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "5.0.0",
        summary: "Removes and returns the highest scored members.",
        handler: zpopmax,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zpopmin",
        arity: -2,
        flags: WRITE | FAST,
        acl: acl::WRITE | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "5.0.0",
        summary: "Removes and returns the lowest scored members.",
        handler: zpopmin,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrandmember",
        arity: -2,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "6.2.0",
        summary: "Returns random members of a sorted set without removing them.",
        handler: zrandmember,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrange",
        arity: -4,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.2.0",
        summary: "Returns members by rank, score or lexicographical range.",
        handler: zrange,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrangebylex",
        arity: -4,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.8.9",
        summary: "Returns members in a lexicographical range.",
        handler: zrangebylex,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrangebyscore",
        arity: -4,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.0.5",
        summary: "Returns members in a score range.",
        handler: zrangebyscore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrangestore",
        arity: -5,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Range {
            first: 1,
            last: 2,
            step: 1,
        },
        group: "sorted_set",
        since: "6.2.0",
        summary: "Stores a range of a sorted set under a key.",
        handler: zrangestore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrank",
        arity: 3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.0.0",
        summary: "Returns the rank of a member, lowest score first.",
        handler: zrank,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrem",
        arity: -3,
        flags: WRITE | FAST,
        acl: acl::WRITE | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.2.0",
        summary: "Removes members from a sorted set; an emptied set is deleted.",
        handler: zrem,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zremrangebylex",
        arity: 4,
        flags: WRITE,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.8.9",
        summary: "Removes the members in a lexicographical range.",
        handler: zremrangebylex,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zremrangebyrank",
        arity: 4,
        flags: WRITE,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.0.0",
        summary: "Removes the members in a rank range.",
        handler: zremrangebyrank,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zremrangebyscore",
        arity: 4,
        flags: WRITE,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.2.0",
        summary: "Removes the members in a score range.",
        handler: zremrangebyscore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrevrange",
        arity: -4,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.2.0",
        summary: "Returns members by rank, highest score first.",
        handler: zrevrange,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrevrangebylex",
        arity: -4,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.8.9",
        summary: "Returns members in a lexicographical range, in reverse order.",
        handler: zrevrangebylex,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrevrangebyscore",
        arity: -4,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.2.0",
        summary: "Returns members in a score range, highest first.",
        handler: zrevrangebyscore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zrevrank",
        arity: 3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.0.0",
        summary: "Returns the rank of a member, highest score first.",
        handler: zrevrank,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zscan",
        arity: -3,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "2.8.0",
        summary: "Iterates over the members and scores of a sorted set with a cursor.",
        handler: zscan,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zscore",
        arity: 3,
        flags: READONLY | FAST,
        acl: acl::READ | acl::SORTEDSET | acl::FAST,
        keys: Keys::ONE,
        group: "sorted_set",
        since: "1.2.0",
        summary: "Returns the score of a member.",
        handler: zscore,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zunion",
        arity: -3,
        flags: READONLY,
        acl: acl::READ | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Custom(numkeys_at_1),
        group: "sorted_set",
        since: "6.2.0",
        summary: "Returns the members of any of the given sorted sets, scores aggregated.",
        handler: zunion,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "zunionstore",
        arity: -4,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::SORTEDSET | acl::SLOW,
        keys: Keys::Custom(store_keys),
        group: "sorted_set",
        since: "2.0.0",
        summary: "Stores the union of sorted sets under a key.",
        handler: zunionstore,
        ..CommandDef::DEFAULT
    },
];

// ----- helpers ---------------------------------------------------------------

/// What a key holds, as far as sorted-set commands care.
enum Found<'e> {
    Missing,
    ZSet(&'e mut ZSetValue),
    WrongType,
}

/// Looks `key` up for reading (`write` = false: hit/miss counted) or for a
/// change.
fn find<'e>(db: &'e mut Db, key: &[u8], write: bool) -> Found<'e> {
    let e = if write {
        db.get_for_write(key)
    } else {
        db.get(key)
    };
    match e {
        None => Found::Missing,
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Found::ZSet(z),
            _ => Found::WrongType,
        },
    }
}

/// The sorted set under `key`, already looked up. Panics if it is not one.
fn zset_at<'e>(db: &'e mut Db, key: &[u8]) -> &'e mut ZSetValue {
    match db.peek(key).map(|e| &mut e.value) {
        Some(Value::ZSet(z)) => z,
        _ => panic!("key checked to hold a sorted set"),
    }
}

pub(crate) fn limits(ctx: &Ctx) -> Limits {
    let s = &ctx.client.settings;
    Limits {
        max_entries: s.zset_max_listpack_entries.min(usize::MAX as u64) as usize,
        max_value: s.zset_max_listpack_value.min(usize::MAX as u64) as usize,
    }
}

/// Records `n` changes to `key` (one `dirty` per member changed).
/// `counted`: the keyspace call that stored or deleted the key counted one.
fn changed(ctx: &mut Ctx, key: &[u8], n: usize, counted: bool) {
    changed_in(ctx.db, key, n, counted)
}

fn changed_in(db: &mut Db, key: &[u8], n: usize, counted: bool) {
    if n == 0 {
        return;
    }
    if !counted {
        db.touched(key);
    }
    db.dirty += n as u64 - 1;
}

/// After removing `n` members from the set at `key`: reports `event`,
/// deletes the key if it became empty (reporting `del`), counts changes.
fn after_removal(ctx: &mut Ctx, key: &[u8], n: usize, event: &str) {
    removed_from(ctx.db, key, n, event)
}

fn removed_from(db: &mut Db, key: &[u8], n: usize, event: &str) {
    if n == 0 {
        return;
    }
    db.notify(ZSET, event, key);
    if zset_at(db, key).is_empty() {
        db.remove(key);
        db.notify(GENERIC, "del", key);
        changed_in(db, key, n, true);
    } else {
        changed_in(db, key, n, false);
    }
}

/// A score argument of ZADD/ZINCRBY (`string2d`: strict, no NaN).
fn parse_score(s: &[u8]) -> Option<f64> {
    parse_f64_like_strtod(s)
}

/// C's `strtod` over the whole argument as range bounds use it: leading
/// blanks allowed, overflow gives ±inf, an empty string is 0; NaN refused.
fn parse_bound_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let t = &s[start..];
    if let Some(v) = parse_f64_like_strtod(t) {
        return Some(v);
    }
    // Out-of-range decimals (strtod gives ±inf or 0 with ERANGE).
    let v: f64 = std::str::from_utf8(t).ok()?.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A score range (`zrangespec`).
#[derive(Clone, Copy)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

fn parse_score_bound(s: &[u8]) -> Option<(f64, bool)> {
    match s.first() {
        Some(b'(') => parse_bound_f64(&s[1..]).map(|v| (v, true)),
        _ => parse_bound_f64(s).map(|v| (v, false)),
    }
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = parse_score_bound(min)?;
    let (max, maxex) = parse_score_bound(max)?;
    Some(ScoreRange {
        min,
        minex,
        max,
        maxex,
    })
}

/// One end of a lexicographical range.
#[derive(Clone)]
enum Lex {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn parse_lex_item(s: &[u8]) -> Option<Lex> {
    match s {
        [b'+'] => Some(Lex::PosInf),
        [b'-'] => Some(Lex::NegInf),
        [b'(', rest @ ..] => Some(Lex::Excl(rest.to_vec())),
        [b'[', rest @ ..] => Some(Lex::Incl(rest.to_vec())),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Option<(Lex, Lex)> {
    Some((parse_lex_item(min)?, parse_lex_item(max)?))
}

/// `[lo, hi)`: the ascending ranks of the members whose score is in `r`.
fn score_span(z: &ZSetValue, r: &ScoreRange) -> (usize, usize) {
    let lo = z.count_before_score(|s| if r.minex { s <= r.min } else { s < r.min });
    let hi = z.count_before_score(|s| if r.maxex { s < r.max } else { s <= r.max });
    (lo, hi.max(lo))
}

/// `[lo, hi)`: the ascending ranks of the members in the lex range.
fn lex_span(z: &ZSetValue, min: &Lex, max: &Lex) -> (usize, usize) {
    let lo = z.count_before(|_, m| match min {
        Lex::NegInf => false,
        Lex::PosInf => true,
        Lex::Incl(x) => m < &x[..],
        Lex::Excl(x) => m <= &x[..],
    });
    let hi = z.count_before(|_, m| match max {
        Lex::NegInf => false,
        Lex::PosInf => true,
        Lex::Incl(x) => m <= &x[..],
        Lex::Excl(x) => m < &x[..],
    });
    (lo, hi.max(lo))
}

/// Starts a reply of `n` members, with scores or not.
fn begin(out: &mut Reply, n: usize, withscores: bool) {
    if withscores && out.resp() == Resp::V2 {
        out.array(n * 2);
    } else {
        out.array(n);
    }
}

/// One member of such a reply (a pair in RESP3 with scores).
fn emit(out: &mut Reply, withscores: bool, member: &[u8], score: f64) {
    if withscores && out.resp() != Resp::V2 {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

const NOT_FLOAT: &str = "ERR value is not a valid float";
const MINMAX_NOT_FLOAT: &str = "ERR min or max is not a float";
const MINMAX_NOT_LEX: &str = "ERR min or max not valid string range item";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

// ----- ZADD / ZINCRBY ----------------------------------------------------------

#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Outcome of one `zsetAdd`.
#[allow(clippy::enum_variant_names)]
enum Added {
    Added(f64),
    Updated(f64),
    /// Unchanged but processed (same score): its score.
    Same(f64),
    Nop,
    Nan,
}

/// Redis's `zsetAdd` for one member.
fn add_one(z: &mut ZSetValue, member: &[u8], score: f64, f: AddFlags, lim: Limits) -> Added {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Added::Nop;
            }
            let mut score = score;
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return Added::Nan;
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Added::Nop;
            }
            if score != cur {
                z.insert(member, score, lim);
                Added::Updated(score)
            } else {
                Added::Same(score)
            }
        }
        None if !f.xx => {
            z.insert(member, score, lim);
            Added::Added(score)
        }
        None => Added::Nop,
    }
}

fn zadd_generic(ctx: &mut Ctx, args: &Args, mut f: AddFlags) {
    let key = args.get(1);
    let mut idx = 2;
    while idx < args.len() {
        let o = args.get(idx);
        let is = |name: &[u8]| o.eq_ignore_ascii_case(name);
        let flag = if is(b"nx") {
            &mut f.nx
        } else if is(b"xx") {
            &mut f.xx
        } else if is(b"gt") {
            &mut f.gt
        } else if is(b"lt") {
            &mut f.lt
        } else if is(b"ch") {
            &mut f.ch
        } else if is(b"incr") {
            &mut f.incr
        } else {
            break;
        };
        *flag = true;
        idx += 1;
    }
    let rest = args.len() - idx;
    if rest == 0 || !rest.is_multiple_of(2) {
        return ctx.syntax_error();
    }
    let n = rest / 2;
    if f.nx && f.xx {
        return ctx
            .out
            .err("ERR XX and NX options at the same time are not compatible");
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return ctx
            .out
            .err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && n > 1 {
        return ctx
            .out
            .err("ERR INCR option supports a single increment-element pair");
    }
    // Scores are all parsed before anything changes (a bad one fails the
    // whole command); a few fit on the stack.
    let mut small = [0f64; 8];
    let mut big = Vec::new();
    let scores: &mut [f64] = if n <= small.len() {
        &mut small[..n]
    } else {
        big.resize(n, 0.0);
        &mut big
    };
    let mut maxlen = 0;
    for (i, slot) in scores.iter_mut().enumerate() {
        match parse_score(args.get(idx + 2 * i)) {
            Some(s) => *slot = s,
            None => return ctx.out.err(NOT_FLOAT),
        }
        maxlen = maxlen.max(args.get(idx + 2 * i + 1).len());
    }
    let lim = limits(ctx);
    let (z, created) = match find(ctx.db, key, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::ZSet(z) => (z, false),
        Found::Missing => {
            if f.xx {
                return zadd_reply(ctx, f, 0, 0, None);
            }
            let z = ZSetValue::with_hint(n, maxlen, lim);
            ctx.db.set(key, Value::ZSet(Box::new(z)), false);
            (zset_at(ctx.db, key), true)
        }
    };
    let (mut added, mut updated, mut last) = (0usize, 0usize, None);
    let mut nan = false;
    for (i, &score) in scores.iter().enumerate() {
        match add_one(z, args.get(idx + 2 * i + 1), score, f, lim) {
            Added::Added(s) => {
                added += 1;
                last = Some(s);
            }
            Added::Updated(s) => {
                updated += 1;
                last = Some(s);
            }
            Added::Same(s) => last = Some(s),
            Added::Nop => {}
            Added::Nan => {
                nan = true;
                break;
            }
        }
    }
    if added + updated > 0 {
        ctx.notify(ZSET, if f.incr { "zincr" } else { "zadd" }, key);
        changed(ctx, key, added + updated, created);
    }
    if nan {
        return ctx.out.err(NAN_SCORE);
    }
    zadd_reply(ctx, f, added, updated, last);
}

fn zadd_reply(ctx: &mut Ctx, f: AddFlags, added: usize, updated: usize, last: Option<f64>) {
    if f.incr {
        match last {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out
            .int((if f.ch { added + updated } else { added }) as i64);
    }
}

fn zadd(ctx: &mut Ctx, args: &Args) {
    zadd_generic(ctx, args, AddFlags::default());
}

fn zincrby(ctx: &mut Ctx, args: &Args) {
    // ZINCRBY key increment member is ZADD key INCR increment member.
    let key = args.get(1);
    let Some(incr) = parse_score(args.get(2)) else {
        return ctx.out.err(NOT_FLOAT);
    };
    let member = args.get(3);
    let lim = limits(ctx);
    let created = match find(ctx.db, key, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::ZSet(_) => false,
        Found::Missing => {
            let z = ZSetValue::with_hint(1, member.len(), lim);
            ctx.db.set(key, Value::ZSet(Box::new(z)), false);
            true
        }
    };
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    match add_one(zset_at(ctx.db, key), member, incr, f, lim) {
        Added::Nan => ctx.out.err(NAN_SCORE),
        Added::Added(s) | Added::Updated(s) => {
            ctx.notify(ZSET, "zincr", key);
            changed(ctx, key, 1, created);
            ctx.out.double(s);
        }
        Added::Same(s) => ctx.out.double(s),
        Added::Nop => ctx.out.null(),
    }
}

// ----- single-key reads and removals ---------------------------------------

fn zrem(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    match find(ctx.db, key, true) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.int(0),
        Found::ZSet(z) => {
            let mut n = 0;
            for i in 2..args.len() {
                if z.remove(args.get(i)).is_some() {
                    n += 1;
                    if z.is_empty() {
                        break;
                    }
                }
            }
            after_removal(ctx, key, n, "zrem");
            ctx.out.int(n as i64);
        }
    }
}

fn zcard(ctx: &mut Ctx, args: &Args) {
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.int(0),
        Found::ZSet(z) => {
            let n = z.len() as i64;
            ctx.out.int(n)
        }
    }
}

fn zscore(ctx: &mut Ctx, args: &Args) {
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.null(),
        Found::ZSet(z) => match z.score(args.get(2)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        },
    }
}

fn zmscore(ctx: &mut Ctx, args: &Args) {
    let z = match find(ctx.db, args.get(1), false) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => None,
        Found::ZSet(z) => Some(&*z),
    };
    ctx.out.array(args.len() - 2);
    for i in 2..args.len() {
        match z.and_then(|z| z.score(args.get(i))) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
}

fn rank_generic(ctx: &mut Ctx, args: &Args, rev: bool) {
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.null(),
        Found::ZSet(z) => match z.rank(args.get(2)) {
            Some((r, _)) => {
                let r = if rev { z.len() - 1 - r } else { r };
                ctx.out.int(r as i64)
            }
            None => ctx.out.null(),
        },
    }
}

fn zrank(ctx: &mut Ctx, args: &Args) {
    rank_generic(ctx, args, false);
}

fn zrevrank(ctx: &mut Ctx, args: &Args) {
    rank_generic(ctx, args, true);
}

fn zcount(ctx: &mut Ctx, args: &Args) {
    let Some(r) = parse_score_range(args.get(2), args.get(3)) else {
        return ctx.out.err(MINMAX_NOT_FLOAT);
    };
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.int(0),
        Found::ZSet(z) => {
            let (lo, hi) = score_span(z, &r);
            ctx.out.int((hi - lo) as i64)
        }
    }
}

fn zlexcount(ctx: &mut Ctx, args: &Args) {
    let Some((min, max)) = parse_lex_range(args.get(2), args.get(3)) else {
        return ctx.out.err(MINMAX_NOT_LEX);
    };
    match find(ctx.db, args.get(1), false) {
        Found::WrongType => ctx.wrong_type(),
        Found::Missing => ctx.out.int(0),
        Found::ZSet(z) => {
            let (lo, hi) = lex_span(z, &min, &max);
            ctx.out.int((hi - lo) as i64)
        }
    }
}

/// Normalises a Redis rank range (negative = from the end) over `len`
/// members to `[start, end)`; `None` when empty.
fn rank_span(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize + 1))
}

enum RemBy {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(Lex, Lex),
}

fn zremrange_generic(ctx: &mut Ctx, args: &Args, kind: u8) {
    let key = args.get(1);
    let (a, b) = (args.get(2), args.get(3));
    let by = match kind {
        b'r' => match (parse_i64(a), parse_i64(b)) {
            (Some(s), Some(e)) => RemBy::Rank(s, e),
            _ => return ctx.not_integer(),
        },
        b's' => match parse_score_range(a, b) {
            Some(r) => RemBy::Score(r),
            None => return ctx.out.err(MINMAX_NOT_FLOAT),
        },
        _ => match parse_lex_range(a, b) {
            Some((min, max)) => RemBy::Lex(min, max),
            None => return ctx.out.err(MINMAX_NOT_LEX),
        },
    };
    let z = match find(ctx.db, key, true) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.int(0),
        Found::ZSet(z) => z,
    };
    let (lo, hi) = match &by {
        RemBy::Rank(s, e) => match rank_span(*s, *e, z.len()) {
            Some(span) => span,
            None => return ctx.out.int(0),
        },
        RemBy::Score(r) => score_span(z, r),
        RemBy::Lex(min, max) => lex_span(z, min, max),
    };
    let mut doomed: Vec<Vec<u8>> = Vec::with_capacity(hi - lo);
    z.walk(lo, hi, false, |_, m| doomed.push(m.to_vec()));
    for m in &doomed {
        z.remove(m);
    }
    let event = match kind {
        b'r' => "zremrangebyrank",
        b's' => "zremrangebyscore",
        _ => "zremrangebylex",
    };
    after_removal(ctx, key, doomed.len(), event);
    ctx.out.int(doomed.len() as i64);
}

fn zremrangebyrank(ctx: &mut Ctx, args: &Args) {
    zremrange_generic(ctx, args, b'r');
}

fn zremrangebyscore(ctx: &mut Ctx, args: &Args) {
    zremrange_generic(ctx, args, b's');
}

fn zremrangebylex(ctx: &mut Ctx, args: &Args) {
    zremrange_generic(ctx, args, b'l');
}

// ----- the ZRANGE family -----------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis's `zrangeGenericCommand`. `src_at`: index of the source key;
/// `dst`: the destination of ZRANGESTORE.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &Args,
    src_at: usize,
    dst: Option<&[u8]>,
    mut rtype: RangeType,
    mut rev: Option<bool>,
) {
    let store = dst.is_some();
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut has_limit = false;
    let mut j = src_at + 3;
    while j < args.len() {
        let o = args.get(j).to_ascii_lowercase();
        let left = args.len() - j - 1;
        match o.as_slice() {
            b"withscores" if !store => withscores = true,
            b"limit" if left >= 2 => {
                match (parse_i64(args.get(j + 1)), parse_i64(args.get(j + 2))) {
                    (Some(o), Some(l)) => (offset, limit) = (o, l),
                    _ => return ctx.not_integer(),
                }
                has_limit = true;
                j += 2;
            }
            b"rev" if rev.is_none() => rev = Some(true),
            b"bylex" if rtype == RangeType::Auto => rtype = RangeType::Lex,
            b"byscore" if rtype == RangeType::Auto => rtype = RangeType::Score,
            _ => return ctx.syntax_error(),
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if has_limit && rtype == RangeType::Rank {
        return ctx.out.err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rtype == RangeType::Lex {
        return ctx
            .out
            .err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut min, mut max) = (args.get(src_at + 1), args.get(src_at + 2));
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    enum By {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(Lex, Lex),
    }
    let by = match rtype {
        RangeType::Score => match parse_score_range(min, max) {
            Some(r) => By::Score(r),
            None => return ctx.out.err(MINMAX_NOT_FLOAT),
        },
        RangeType::Lex => match parse_lex_range(min, max) {
            Some((a, b)) => By::Lex(a, b),
            None => return ctx.out.err(MINMAX_NOT_LEX),
        },
        _ => match (parse_i64(min), parse_i64(max)) {
            (Some(a), Some(b)) => By::Rank(a, b),
            _ => return ctx.not_integer(),
        },
    };
    let src = args.get(src_at);
    let lim = limits(ctx);
    let z = match find(ctx.db, src, store) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => {
            return match dst {
                Some(d) => store_result(ctx, d, None, "zrangestore"),
                None => ctx.out.array(0),
            };
        }
        Found::ZSet(z) => z,
    };
    // The span of ascending ranks to visit.
    let (lo, hi) = match &by {
        By::Rank(s, e) => match rank_span(*s, *e, z.len()) {
            Some((s, e)) if rev => (z.len() - e, z.len() - s),
            Some(span) => span,
            None => (0, 0),
        },
        By::Score(_) | By::Lex(..) => {
            let (lo, hi) = match &by {
                By::Score(r) => score_span(z, r),
                By::Lex(a, b) => lex_span(z, a, b),
                By::Rank(..) => unreachable!(),
            };
            if offset < 0 || (offset > 0 && offset as u64 >= z.len() as u64) {
                (0, 0)
            } else {
                let off = offset as usize;
                let n = hi - lo;
                if off >= n {
                    (0, 0)
                } else {
                    let take = if limit < 0 {
                        n - off
                    } else {
                        (limit as u64).min((n - off) as u64) as usize
                    };
                    if rev {
                        (hi - off - take, hi - off)
                    } else {
                        (lo + off, lo + off + take)
                    }
                }
            }
        }
    };
    match dst {
        Some(d) => {
            let mut out = ZSetValue::with_hint(hi - lo, 0, lim);
            z.walk(lo, hi, rev, |s, m| {
                out.insert(m, s, lim);
            });
            store_result(ctx, d, Some(out), "zrangestore");
        }
        None => {
            let out = &mut *ctx.out;
            begin(out, hi - lo, withscores);
            z.walk(lo, hi, rev, |s, m| emit(out, withscores, m, s));
        }
    }
}

/// Stores a computed sorted set under `dst` (deleting `dst` when empty)
/// and answers its size.
fn store_result(ctx: &mut Ctx, dst: &[u8], z: Option<ZSetValue>, event: &str) {
    match z.filter(|z| !z.is_empty()) {
        Some(z) => {
            let n = z.len();
            ctx.db.set(dst, Value::ZSet(Box::new(z)), false);
            ctx.notify(ZSET, event, dst);
            ctx.out.int(n as i64);
        }
        None => {
            if ctx.db.remove(dst).is_some() {
                ctx.notify(GENERIC, "del", dst);
            }
            ctx.out.int(0);
        }
    }
}

fn zrange(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, None, RangeType::Auto, None);
}

fn zrangestore(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 2, Some(args.get(1)), RangeType::Auto, None);
}

fn zrevrange(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, None, RangeType::Rank, Some(true));
}

fn zrangebyscore(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Some(false));
}

fn zrevrangebyscore(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Some(true));
}

fn zrangebylex(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Some(false));
}

fn zrevrangebylex(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Some(true));
}

// ----- pops ------------------------------------------------------------------

/// What a pop answers when every key is missing.
#[derive(Clone, Copy)]
enum OnEmpty {
    /// `*0` (ZPOPMIN/ZPOPMAX).
    EmptyArray,
    /// A null array (ZMPOP).
    Nil,
    /// Nothing: the blocking forms block or answer their timeout reply.
    Block,
}

/// How a pop reaches AOF and replicas.
#[derive(Clone, Copy, PartialEq)]
enum PopProp {
    /// As the command ran (ZPOPMIN/ZPOPMAX).
    Verbatim,
    /// As `ZPOPMIN key` / `ZPOPMAX key` (BZPOPMIN/BZPOPMAX, immediate or
    /// served).
    Single,
    /// As `ZPOPMIN key n` (ZMPOP/BZMPOP, n = members popped).
    Counted,
}

/// Redis's `genericZpopCommand` (non-blocking): pops up to `count` (-1 =
/// one, plain reply) from the first non-empty key of `keys`. Returns false
/// when every key is missing (answered as `empty` says).
#[allow(clippy::too_many_arguments)]
fn zpop_generic(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    count: i64,
    emitkey: bool,
    nested: bool,
    empty: OnEmpty,
    prop: PopProp,
) -> bool {
    let mut chosen = None;
    for &k in keys {
        match find(ctx.db, k, true) {
            Found::Missing => continue,
            Found::WrongType => {
                ctx.wrong_type();
                return true;
            }
            Found::ZSet(_) => {
                chosen = Some(k);
                break;
            }
        }
    }
    let Some(key) = chosen else {
        match empty {
            OnEmpty::EmptyArray => ctx.out.array(0),
            OnEmpty::Nil => ctx.out.null_array(),
            OnEmpty::Block => {}
        }
        return false;
    };
    if count == 0 {
        ctx.out.array(0);
        return true;
    }
    pop_from(ctx.db, ctx.out, key, max, count, emitkey, nested, prop);
    true
}

/// Pops up to `count` (-1 = one) members from the sorted set at `key`
/// (checked to exist) and answers them in the shape asked for; reports,
/// deletes the emptied key, counts changes and propagates as `prop` says.
/// Shared by the commands and by serving blocked clients.
#[allow(clippy::too_many_arguments)]
fn pop_from(
    db: &mut Db,
    out: &mut Reply,
    key: &[u8],
    max: bool,
    count: i64,
    emitkey: bool,
    nested: bool,
    prop: PopProp,
) {
    let count = if count == -1 { 1 } else { count as u64 };
    let z = zset_at(db, key);
    let n = (count.min(z.len() as u64)) as usize;
    match (nested, emitkey) {
        (false, false) => out.array(n * 2),
        (true, false) => out.array(n),
        (false, true) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    for _ in 0..n {
        let rank = if max { z.len() - 1 } else { 0 };
        let (s, m) = z.get(rank).expect("non-empty");
        let m = m.to_vec();
        if nested {
            out.array(2);
        }
        out.bulk(&m);
        out.double(s);
        z.remove(&m);
    }
    removed_from(db, key, n, if max { "zpopmax" } else { "zpopmin" });
    if prop == PopProp::Verbatim {
        return;
    }
    // The blocking and multi-key forms reach AOF and replicas as the
    // equivalent single-key pop (a replica must never block).
    let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    if prop == PopProp::Single {
        db.propagate_as(&[name, key]);
    } else {
        let mut buf = itoa::Buffer::new();
        db.propagate_as(&[name, key, buf.format(n).as_bytes()]);
    }
}

fn zpop_minmax(ctx: &mut Ctx, args: &Args, max: bool) {
    if args.len() > 3 {
        return ctx.syntax_error();
    }
    let mut count = -1;
    if args.len() == 3 {
        match parse_i64(args.get(2)) {
            Some(c) if c >= 0 => count = c,
            _ => return ctx.out.err("ERR value is out of range, must be positive"),
        }
    }
    let nested = ctx.out.resp() != Resp::V2 && count != -1;
    let key = args.get(1);
    zpop_generic(
        ctx,
        &[key],
        max,
        count,
        false,
        nested,
        OnEmpty::EmptyArray,
        PopProp::Verbatim,
    );
}

fn zpopmin(ctx: &mut Ctx, args: &Args) {
    zpop_minmax(ctx, args, false);
}

fn zpopmax(ctx: &mut Ctx, args: &Args) {
    zpop_minmax(ctx, args, true);
}

/// `numkeys` at argument 1 (at least 1; keys follow it).
fn numkeys_at_1(args: &Args, out: &mut Vec<usize>) {
    numkeys_at(args, 1, out)
}

/// `numkeys` at argument 2 (BZMPOP, after the timeout).
fn numkeys_at_2(args: &Args, out: &mut Vec<usize>) {
    if args.len() > 2 {
        numkeys_at(args, 2, out)
    }
}

fn numkeys_at(args: &Args, at: usize, out: &mut Vec<usize>) {
    if let Some(n) = parse_i64(args.get(at))
        && n >= 1
        && n as u64 <= (args.len() - at - 1) as u64
    {
        out.extend(at + 1..at + 1 + n as usize);
    }
}

/// Destination at 1, `numkeys` at 2, keys after it.
fn store_keys(args: &Args, out: &mut Vec<usize>) {
    out.push(1);
    if args.len() > 2
        && let Some(n) = parse_i64(args.get(2))
        && n >= 1
        && n as u64 <= (args.len() - 3) as u64
    {
        out.extend(3..3 + n as usize);
    }
}

/// A parsed ZMPOP/BZMPOP: the keys' argument range, the end, the count.
struct Mpop {
    keys: std::ops::Range<usize>,
    max: bool,
    count: i64,
}

/// Parses `numkeys key… MIN|MAX [COUNT n]` with `numkeys` at `at`
/// (Redis's `zmpopGenericCommand`); answers the error and gives `None`.
fn parse_mpop(ctx: &mut Ctx, args: &Args, at: usize) -> Option<Mpop> {
    let numkeys = match parse_i64(args.get(at)) {
        Some(n) if n >= 1 => n as u64,
        _ => {
            ctx.out.err("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_at = at as u64 + numkeys + 1;
    if where_at >= args.len() as u64 {
        ctx.syntax_error();
        return None;
    }
    let where_at = where_at as usize;
    let max = match args.get(where_at).to_ascii_lowercase().as_slice() {
        b"min" => false,
        b"max" => true,
        _ => {
            ctx.syntax_error();
            return None;
        }
    };
    let mut count = -1i64;
    let mut j = where_at + 1;
    while j < args.len() {
        if count == -1 && args.get(j).eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(c) if c >= 1 => count = c,
                _ => {
                    ctx.out.err("ERR count should be greater than 0");
                    return None;
                }
            }
        } else {
            ctx.syntax_error();
            return None;
        }
        j += 1;
    }
    Some(Mpop {
        keys: at + 1..where_at,
        max,
        count: if count == -1 { 1 } else { count },
    })
}

fn zmpop(ctx: &mut Ctx, args: &Args) {
    let Some(m) = parse_mpop(ctx, args, 1) else {
        return;
    };
    let keys: Vec<&[u8]> = m.keys.map(|i| args.get(i)).collect();
    zpop_generic(
        ctx,
        &keys,
        m.max,
        m.count,
        true,
        true,
        OnEmpty::Nil,
        PopProp::Counted,
    );
}

// ----- blocking pops ---------------------------------------------------------

/// What a client blocked by BZPOPMIN/BZPOPMAX (`count` = None: reply
/// `[key, member, score]`) or BZMPOP (`Some(n)`: `[key, [[member,
/// score]…]]`) waits to do.
pub struct ZSetWait {
    max: bool,
    count: Option<i64>,
}

/// Serves a waiter of a sorted-set command from `key` (its shard is
/// locked). A key holding another type is left to the waiters of that
/// type.
fn serve_zset(db: &mut Db, key: &[u8], w: &Waiter) -> Serve {
    let Some(spec) = w.spec.downcast_ref::<ZSetWait>() else {
        return Serve::Skip;
    };
    match db.peek(key).map(|e| &e.value) {
        None => return Serve::Empty,
        Some(Value::ZSet(z)) if !z.is_empty() => {}
        Some(Value::ZSet(_)) => return Serve::Empty,
        Some(_) => return Serve::Skip,
    }
    Serve::Done(reply_for(w, |r| match spec.count {
        None => pop_from(db, r, key, spec.max, -1, true, false, PopProp::Single),
        Some(n) => pop_from(db, r, key, spec.max, n, true, true, PopProp::Counted),
    }))
}

fn null_array(r: &mut Reply) {
    r.null_array()
}

/// BZPOPMIN/BZPOPMAX: pops from the first non-empty key, or blocks.
fn bzpop_minmax(ctx: &mut Ctx, args: &Args, max: bool) {
    let Some(timeout) = parse_timeout(ctx, args.get(args.len() - 1)) else {
        return;
    };
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    if zpop_generic(
        ctx,
        &keys,
        max,
        -1,
        true,
        false,
        OnEmpty::Block,
        PopProp::Single,
    ) {
        return;
    }
    if cannot_block(ctx) {
        return ctx.out.null_array();
    }
    let spec = Box::new(ZSetWait { max, count: None });
    blocking::block(ctx, args, &keys, timeout, null_array, serve_zset, spec);
}

fn bzpopmin(ctx: &mut Ctx, args: &Args) {
    bzpop_minmax(ctx, args, false);
}

fn bzpopmax(ctx: &mut Ctx, args: &Args) {
    bzpop_minmax(ctx, args, true);
}

/// BZMPOP: as ZMPOP, or blocks (the timeout is checked after the other
/// arguments, as Redis does).
fn bzmpop(ctx: &mut Ctx, args: &Args) {
    let Some(m) = parse_mpop(ctx, args, 2) else {
        return;
    };
    let Some(timeout) = parse_timeout(ctx, args.get(1)) else {
        return;
    };
    let keys: Vec<&[u8]> = m.keys.map(|i| args.get(i)).collect();
    if zpop_generic(
        ctx,
        &keys,
        m.max,
        m.count,
        true,
        true,
        OnEmpty::Block,
        PopProp::Counted,
    ) {
        return;
    }
    if cannot_block(ctx) {
        return ctx.out.null_array();
    }
    let spec = Box::new(ZSetWait {
        max: m.max,
        count: Some(m.count),
    });
    blocking::block(ctx, args, &keys, timeout, null_array, serve_zset, spec);
}

// ----- ZRANDMEMBER -------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    if args.len() == 2 {
        match find(ctx.db, key, false) {
            Found::WrongType => ctx.wrong_type(),
            Found::Missing => ctx.out.null(),
            Found::ZSet(z) => {
                let r = rand::rng().random_range(0..z.len());
                let (_, m) = z.get(r).expect("rank in range");
                ctx.out.bulk(m);
            }
        }
        return;
    }
    let l = match parse_i64(args.get(2)) {
        None => return ctx.not_integer(),
        Some(i64::MIN) => {
            return ctx.out.err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            );
        }
        Some(n) => n,
    };
    let withscores = match args.len() {
        3 => false,
        4 if args.get(3).eq_ignore_ascii_case(b"withscores") => true,
        _ => return ctx.syntax_error(),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return ctx.out.err("ERR value is out of range");
    }
    let z = match find(ctx.db, key, false) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => return ctx.out.array(0),
        Found::ZSet(z) => &*z,
    };
    let out = &mut *ctx.out;
    let size = z.len();
    let mut rng = rand::rng();
    if l == 0 {
        return out.array(0);
    }
    if l < 0 {
        let n = l.unsigned_abs() as usize;
        begin(out, n, withscores);
        for _ in 0..n {
            let (s, m) = z.get(rng.random_range(0..size)).expect("rank in range");
            emit(out, withscores, m, s);
        }
        return;
    }
    let count = l as u64;
    if count >= size as u64 {
        begin(out, size, withscores);
        z.walk(0, size, false, |s, m| emit(out, withscores, m, s));
        return;
    }
    let count = count as usize;
    let ranks: Vec<usize> = if count * 3 > size {
        let mut all: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = rng.random_range(i..size);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = HashSet::with_capacity(count);
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            let r = rng.random_range(0..size);
            if seen.insert(r) {
                v.push(r);
            }
        }
        v
    };
    begin(out, count, withscores);
    for r in ranks {
        let (s, m) = z.get(r).expect("rank in range");
        emit(out, withscores, m, s);
    }
}

// ----- ZSCAN -------------------------------------------------------------------

fn zscan(ctx: &mut Ctx, args: &Args) {
    let Some(cursor) = parse_cursor(args.get(2)) else {
        return ctx.out.err("ERR invalid cursor");
    };
    let z = match find(ctx.db, args.get(1), false) {
        Found::WrongType => return ctx.wrong_type(),
        Found::Missing => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            ctx.out.array(0);
            return;
        }
        Found::ZSet(z) => &*z,
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
    let packed = z.is_packed();
    let mut found: Vec<(&[u8], f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            found.push((m, s));
        }
    });
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(found.len() * 2);
    let mut buf = Vec::new();
    for (m, s) in found {
        out.bulk(m);
        buf.clear();
        scan_score_text(s, packed, &mut buf);
        out.bulk(&buf);
    }
}

/// The score text ZSCAN returns: a listpack keeps integral scores as
/// integers (`double2ll`), everything else is `%.17g`.
fn scan_score_text(s: f64, packed: bool, buf: &mut Vec<u8>) {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if packed && s.fract() == 0.0 && (-HALF..=HALF).contains(&s) {
        crate::util::num::fmt_i64(s as i64, buf);
    } else {
        crate::util::float::fmt_double(s, buf);
    }
}

// ----- union, intersection, difference ---------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

/// One input: its key, size (0 = missing) and weight.
struct Input<'a> {
    key: &'a [u8],
    len: usize,
    present: bool,
    weight: f64,
}

/// Every (member, score) of the sorted set or set at `key` (sets score 1).
fn entries_of(db: &mut Db, key: &[u8]) -> Vec<(Vec<u8>, f64)> {
    match db.peek(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => {
            let mut v = Vec::with_capacity(z.len());
            z.walk(0, z.len(), false, |s, m| v.push((m.to_vec(), s)));
            v
        }
        Some(Value::Set(s)) => s.iter().map(|m| (m.to_vec(), 1.0)).collect(),
        _ => Vec::new(),
    }
}

/// The score of `member` in the sorted set or set at `key`.
fn score_in(db: &mut Db, key: &[u8], member: &[u8]) -> Option<f64> {
    match db.peek(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => z.score(member),
        Some(Value::Set(s)) => s.contains(member).then_some(1.0),
        _ => None,
    }
}

/// Redis's `zunionInterDiffGenericCommand`. `numkeys_at`: index of
/// numkeys; `dst`: destination of the STORE forms; `card`: ZINTERCARD.
fn setop_generic(
    ctx: &mut Ctx,
    args: &Args,
    numkeys_at: usize,
    dst: Option<&[u8]>,
    op: Op,
    card: bool,
) {
    let Some(setnum) = parse_i64(args.get(numkeys_at)) else {
        return ctx.not_integer();
    };
    if setnum < 1 {
        let msg = format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.def.name
        );
        return ctx.out.err(&msg);
    }
    if setnum as u64 > (args.len() - numkeys_at - 1) as u64 {
        return ctx.syntax_error();
    }
    let setnum = setnum as usize;
    let mut inputs = Vec::with_capacity(setnum);
    for i in 0..setnum {
        let key = args.get(numkeys_at + 1 + i);
        let e = if dst.is_some() {
            ctx.db.get_for_write(key)
        } else {
            ctx.db.get(key)
        };
        let (len, present) = match e.map(|e| &e.value) {
            None => (0, false),
            Some(Value::ZSet(z)) => (z.len(), true),
            Some(Value::Set(s)) => (s.len(), true),
            Some(_) => return ctx.wrong_type(),
        };
        inputs.push(Input {
            key,
            len,
            present,
            weight: 1.0,
        });
    }
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = numkeys_at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let o = args.get(j).to_ascii_lowercase();
        if op != Op::Diff && !card && remaining > setnum && o == b"weights" {
            j += 1;
            for inp in inputs.iter_mut() {
                match parse_score(args.get(j)) {
                    Some(w) => inp.weight = w,
                    None => return ctx.out.err("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if op != Op::Diff && !card && remaining >= 2 && o == b"aggregate" {
            agg = match args.get(j + 1).to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return ctx.syntax_error(),
            };
            j += 2;
        } else if dst.is_none() && !card && o == b"withscores" {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && o == b"limit" {
            match parse_i64(args.get(j + 1)) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return ctx.out.err("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.syntax_error();
        }
    }
    if op != Op::Diff {
        inputs.sort_by_key(|i| i.len);
    }
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        Op::Inter => {
            if inputs[0].len > 0 {
                let w0 = inputs[0].weight;
                let mut acc: Vec<(Vec<u8>, f64)> = entries_of(ctx.db, inputs[0].key)
                    .into_iter()
                    .map(|(m, s)| {
                        let v = w0 * s;
                        (m, if v.is_nan() { 0.0 } else { v })
                    })
                    .collect();
                for inp in &inputs[1..] {
                    acc.retain_mut(|(m, score)| match score_in(ctx.db, inp.key, m) {
                        Some(v) => {
                            aggregate(score, v * inp.weight, agg);
                            true
                        }
                        None => false,
                    });
                    if acc.is_empty() {
                        break;
                    }
                }
                if card {
                    let mut n = acc.len();
                    if limit > 0 {
                        n = n.min(limit);
                    }
                    return ctx.out.int(n as i64);
                }
                result = acc;
            } else if card {
                return ctx.out.int(0);
            }
        }
        Op::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for inp in &inputs {
                if inp.len == 0 {
                    continue;
                }
                for (m, s) in entries_of(ctx.db, inp.key) {
                    let mut v = inp.weight * s;
                    if v.is_nan() {
                        v = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, v, agg),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        Op::Diff => {
            if inputs[0].present && inputs[0].len > 0 {
                let mut acc = entries_of(ctx.db, inputs[0].key);
                for inp in &inputs[1..] {
                    if inp.len == 0 {
                        continue;
                    }
                    acc.retain(|(m, _)| score_in(ctx.db, inp.key, m).is_none());
                    if acc.is_empty() {
                        break;
                    }
                }
                result = acc;
            }
        }
    }
    result.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    match dst {
        Some(d) => {
            let lim = limits(ctx);
            let mut z = ZSetValue::with_hint(usize::MAX, usize::MAX, lim);
            for (m, s) in &result {
                z.insert(m, *s, lim);
            }
            z.shrink_if_fits(lim);
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            store_result(ctx, d, Some(z), event);
        }
        None => {
            let out = &mut *ctx.out;
            begin(out, result.len(), withscores);
            for (m, s) in &result {
                emit(out, withscores, m, *s);
            }
        }
    }
}

fn zunion(ctx: &mut Ctx, args: &Args) {
    setop_generic(ctx, args, 1, None, Op::Union, false);
}

fn zinter(ctx: &mut Ctx, args: &Args) {
    setop_generic(ctx, args, 1, None, Op::Inter, false);
}

fn zdiff(ctx: &mut Ctx, args: &Args) {
    setop_generic(ctx, args, 1, None, Op::Diff, false);
}

fn zintercard(ctx: &mut Ctx, args: &Args) {
    setop_generic(ctx, args, 1, None, Op::Inter, true);
}

fn zunionstore(ctx: &mut Ctx, args: &Args) {
    setop_generic(ctx, args, 2, Some(args.get(1)), Op::Union, false);
}

fn zinterstore(ctx: &mut Ctx, args: &Args) {
    setop_generic(ctx, args, 2, Some(args.get(1)), Op::Inter, false);
}

fn zdiffstore(ctx: &mut Ctx, args: &Args) {
    setop_generic(ctx, args, 2, Some(args.get(1)), Op::Diff, false);
}
