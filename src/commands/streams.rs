//! Stream commands: XADD, XLEN, XRANGE/XREVRANGE, XDEL, XTRIM, XSETID,
//! XREAD, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XGROUP and XINFO.
//!
//! Replies, errors and option parsing follow Redis 7.0.15's `t_stream.c`
//! (checked with the differential corpus). The data lives in
//! [`Stream`] (packed nodes under a B-tree, consumer groups with their
//! pending entries lists). An emptied stream is kept, as in Redis.
//!
//! Blocking reads: XREAD/XREADGROUP are split into parsing
//! ([`parse_read`], which resolves `$`) and serving ([`serve_read`], which
//! answers or reports "not ready" without writing anything). `BLOCK` with
//! data available answers at once; otherwise the client blocks through
//! `commands::blocking` with a [`StreamWait`], served from the one stream
//! a write made ready (XADD, or for XREADGROUP the deletion of its stream
//! or group, which releases it with an error). XREADGROUP deliveries
//! propagate as XCLAIM / XGROUP SETID, never as XREADGROUP.

use super::blocking::{self, cannot_block, reply_for};
use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::protocol::reply::{Reply, Resp};
use crate::storage::blocking::{Serve, Waiter};
use crate::storage::keyspace::Db;
use crate::storage::notify::STREAM as EV;
use crate::storage::stream::{
    ENTRIES_READ_INVALID, EntryView, Group, NodeLimits, Stream, StreamId, Trim,
};
use crate::storage::value::Value;
use crate::util::num::{parse_i64, parse_u64_lenient};

const STREAM_ACL: u32 = acl::STREAM;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "xadd",
        arity: -5,
        flags: WRITE | DENYOOM | FAST,
        acl: STREAM_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Appends an entry to a stream, optionally trimming it.",
        handler: xadd,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xlen",
        arity: 2,
        flags: READONLY | FAST,
        acl: STREAM_ACL | acl::READ | acl::FAST,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Counts the entries of a stream.",
        handler: xlen,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xrange",
        arity: -4,
        flags: READONLY,
        acl: STREAM_ACL | acl::READ | acl::SLOW,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Returns the entries between two ids, oldest first.",
        handler: xrange,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xrevrange",
        arity: -4,
        flags: READONLY,
        acl: STREAM_ACL | acl::READ | acl::SLOW,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Returns the entries between two ids, newest first.",
        handler: xrevrange,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xdel",
        arity: -3,
        flags: WRITE | FAST,
        acl: STREAM_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Deletes entries by id.",
        handler: xdel,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xtrim",
        arity: -4,
        flags: WRITE,
        acl: STREAM_ACL | acl::WRITE | acl::SLOW,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Removes the oldest entries by length or minimum id.",
        handler: xtrim,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xsetid",
        arity: -3,
        flags: WRITE | DENYOOM | FAST,
        acl: STREAM_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Sets a stream's last id (and its added/deleted counters).",
        handler: xsetid,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xread",
        arity: -4,
        flags: READONLY | BLOCKING,
        acl: STREAM_ACL | acl::READ | acl::SLOW | acl::BLOCKING,
        keys: Keys::Custom(read_keys),
        group: "stream",
        since: "5.0.0",
        summary: "Reads entries after given ids from one or more streams.",
        handler: xread,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xreadgroup",
        arity: -7,
        flags: WRITE | BLOCKING,
        acl: STREAM_ACL | acl::WRITE | acl::SLOW | acl::BLOCKING,
        keys: Keys::Custom(read_keys),
        group: "stream",
        since: "5.0.0",
        summary: "Reads entries as a consumer of a group (new ones or its pending history).",
        handler: xreadgroup,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xack",
        arity: -4,
        flags: WRITE | FAST,
        acl: STREAM_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Acknowledges pending entries of a group.",
        handler: xack,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xpending",
        arity: -3,
        flags: READONLY,
        acl: STREAM_ACL | acl::READ | acl::SLOW,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Summarises or lists a group's pending entries.",
        handler: xpending,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xclaim",
        arity: -6,
        flags: WRITE | FAST,
        acl: STREAM_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "stream",
        since: "5.0.0",
        summary: "Transfers pending entries to another consumer.",
        handler: xclaim,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xautoclaim",
        arity: -6,
        flags: WRITE | FAST,
        acl: STREAM_ACL | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "stream",
        since: "6.2.0",
        summary: "Claims idle pending entries with a cursor.",
        handler: xautoclaim,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xgroup",
        arity: -2,
        flags: 0,
        acl: acl::SLOW,
        keys: Keys::None,
        group: "stream",
        since: "5.0.0",
        summary: "Manages consumer groups and their consumers.",
        subcommands: &XGROUP_SUBCOMMANDS,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xinfo",
        arity: -2,
        flags: 0,
        acl: acl::SLOW,
        keys: Keys::None,
        group: "stream",
        since: "5.0.0",
        summary: "Describes a stream, its groups or a group's consumers.",
        subcommands: &XINFO_SUBCOMMANDS,
        ..CommandDef::DEFAULT
    },
];

const KEY2: Keys = Keys::Range {
    first: 2,
    last: 2,
    step: 1,
};

static XGROUP_SUBCOMMANDS: [CommandDef; 6] = [
    CommandDef {
        name: "xgroup|create",
        arity: -5,
        flags: WRITE | DENYOOM,
        acl: STREAM_ACL | acl::WRITE | acl::SLOW,
        keys: KEY2,
        group: "stream",
        since: "5.0.0",
        summary: "Creates a consumer group.",
        handler: xgroup,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xgroup|createconsumer",
        arity: 5,
        flags: WRITE | DENYOOM,
        acl: STREAM_ACL | acl::WRITE | acl::SLOW,
        keys: KEY2,
        group: "stream",
        since: "6.2.0",
        summary: "Creates a consumer in a group.",
        handler: xgroup,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xgroup|delconsumer",
        arity: 5,
        flags: WRITE,
        acl: STREAM_ACL | acl::WRITE | acl::SLOW,
        keys: KEY2,
        group: "stream",
        since: "5.0.0",
        summary: "Deletes a consumer and its pending entries.",
        handler: xgroup,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xgroup|destroy",
        arity: 4,
        flags: WRITE,
        acl: STREAM_ACL | acl::WRITE | acl::SLOW,
        keys: KEY2,
        group: "stream",
        since: "5.0.0",
        summary: "Deletes a consumer group.",
        handler: xgroup,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xgroup|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: STREAM_ACL | acl::SLOW,
        keys: Keys::None,
        group: "stream",
        since: "5.0.0",
        summary: "Shows XGROUP's help.",
        handler: xgroup_help,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xgroup|setid",
        arity: -5,
        flags: WRITE,
        acl: STREAM_ACL | acl::WRITE | acl::SLOW,
        keys: KEY2,
        group: "stream",
        since: "5.0.0",
        summary: "Sets a group's last delivered id.",
        handler: xgroup,
        ..CommandDef::DEFAULT
    },
];

static XINFO_SUBCOMMANDS: [CommandDef; 4] = [
    CommandDef {
        name: "xinfo|consumers",
        arity: 4,
        flags: READONLY,
        acl: STREAM_ACL | acl::READ | acl::SLOW,
        keys: KEY2,
        group: "stream",
        since: "5.0.0",
        summary: "Lists a group's consumers.",
        handler: xinfo,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xinfo|groups",
        arity: 3,
        flags: READONLY,
        acl: STREAM_ACL | acl::READ | acl::SLOW,
        keys: KEY2,
        group: "stream",
        since: "5.0.0",
        summary: "Lists a stream's consumer groups.",
        handler: xinfo,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xinfo|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: STREAM_ACL | acl::SLOW,
        keys: Keys::None,
        group: "stream",
        since: "5.0.0",
        summary: "Shows XINFO's help.",
        handler: xinfo_help,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "xinfo|stream",
        arity: -3,
        flags: READONLY,
        acl: STREAM_ACL | acl::READ | acl::SLOW,
        keys: KEY2,
        group: "stream",
        since: "5.0.0",
        summary: "Describes a stream (FULL: with entries, groups and PELs).",
        handler: xinfo,
        ..CommandDef::DEFAULT
    },
];

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

// ----- helpers -------------------------------------------------------------

/// The node limits from the client's cached configuration.
fn limits(ctx: &Ctx) -> NodeLimits {
    let s = &ctx.client.settings;
    NodeLimits {
        max_bytes: s.stream_node_max_bytes,
        max_entries: s.stream_node_max_entries,
    }
}

/// Parses an id as Redis's `streamGenericParseIDOrReply`: `-`/`+` (unless
/// `strict`), `ms`, `ms-seq`, and with `seq_star` the `ms-*` form. Returns
/// the id and whether the sequence was given.
fn parse_id(s: &[u8], missing_seq: u64, strict: bool, seq_star: bool) -> Option<(StreamId, bool)> {
    // Redis copies the argument into a C string of at most 127 bytes.
    if s.len() > 127 {
        return None;
    }
    let s = match memchr::memchr(0, s) {
        Some(z) => &s[..z],
        None => s,
    };
    if s == b"-" || s == b"+" {
        if strict {
            return None;
        }
        return Some((
            if s == b"-" {
                StreamId::ZERO
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    let (ms_part, seq_part) = match memchr::memchr(b'-', s) {
        Some(d) => (&s[..d], Some(&s[d + 1..])),
        None => (s, None),
    };
    let ms = parse_u64_lenient(ms_part)?;
    match seq_part {
        None => Some((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if seq_star => Some((StreamId::new(ms, 0), false)),
        Some(q) => Some((StreamId::new(ms, parse_u64_lenient(q)?), true)),
    }
}

/// A strict id (no `-`/`+`), answering the error when invalid.
fn strict_id(ctx: &mut Ctx, s: &[u8], missing_seq: u64) -> Option<StreamId> {
    match parse_id(s, missing_seq, true, false) {
        Some((id, _)) => Some(id),
        None => {
            ctx.out.err(INVALID_ID);
            None
        }
    }
}

/// A range bound: `-`, `+`, an id, or `(id` (exclusive, strict).
fn interval_id(s: &[u8], missing_seq: u64) -> Option<(StreamId, bool)> {
    if s.len() > 1 && s[0] == b'(' {
        parse_id(&s[1..], missing_seq, true, false).map(|(id, _)| (id, true))
    } else {
        parse_id(s, missing_seq, false, false).map(|(id, _)| (id, false))
    }
}

/// Parses start/end bounds with exclusivity; errors answered.
fn parse_bounds(ctx: &mut Ctx, start: &[u8], end: &[u8]) -> Option<(StreamId, StreamId)> {
    let Some((mut s, sx)) = interval_id(start, 0) else {
        ctx.out.err(INVALID_ID);
        return None;
    };
    if sx {
        match s.incr() {
            Some(n) => s = n,
            None => {
                ctx.out.err("ERR invalid start ID for the interval");
                return None;
            }
        }
    }
    let Some((mut e, ex)) = interval_id(end, u64::MAX) else {
        ctx.out.err(INVALID_ID);
        return None;
    };
    if ex {
        match e.decr() {
            Some(n) => e = n,
            None => {
                ctx.out.err("ERR invalid end ID for the interval");
                return None;
            }
        }
    }
    Some((s, e))
}

fn reply_id(out: &mut Reply, id: StreamId) {
    out.bulk(&id.to_bytes());
}

/// `[id, [field, value, …]]`.
fn reply_entry(out: &mut Reply, e: &EntryView) {
    out.array(2);
    reply_id(out, e.id);
    out.array(e.len() * 2);
    for (f, v) in e.pairs() {
        out.bulk(f);
        out.bulk(v);
    }
}

/// Looks a stream up for reading. `Err` = wrong type (error written).
fn read_stream<'a>(
    db: &'a mut Db<'_>,
    out: &mut Reply,
    key: &[u8],
) -> Result<Option<&'a mut Stream>, ()> {
    match db.get(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => {
                out.err(WRONGTYPE);
                Err(())
            }
        },
    }
}

/// Looks a stream up for writing. `Err` = wrong type (error written).
fn write_stream<'a>(
    db: &'a mut Db<'_>,
    out: &mut Reply,
    key: &[u8],
) -> Result<Option<&'a mut Stream>, ()> {
    match db.get_for_write(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => {
                out.err(WRONGTYPE);
                Err(())
            }
        },
    }
}

fn err_nogroup_key(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    let mut m = b"NOGROUP No such key '".to_vec();
    m.extend_from_slice(key);
    m.extend_from_slice(b"' or consumer group '");
    m.extend_from_slice(group);
    m.push(b'\'');
    ctx.out.error(&m);
}

fn err_nogroup_for_key(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    let mut m = b"NOGROUP No such consumer group '".to_vec();
    m.extend_from_slice(group);
    m.extend_from_slice(b"' for key name '");
    m.extend_from_slice(key);
    m.push(b'\'');
    ctx.out.error(&m);
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try X… HELP.`
fn sub_syntax_error(ctx: &mut Ctx, args: &Args) {
    let mut m = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    let sub = args.get(1);
    m.extend_from_slice(&sub[..sub.len().min(128)]);
    m.extend_from_slice(b"'. Try ");
    m.extend_from_slice(args.get(0).to_ascii_uppercase().as_slice());
    m.extend_from_slice(b" HELP.");
    ctx.out.error(&m);
}

/// `getLongLongFromObjectOrReply`.
fn get_i64(ctx: &mut Ctx, s: &[u8]) -> Option<i64> {
    let v = parse_i64(s);
    if v.is_none() {
        ctx.not_integer();
    }
    v
}

fn get_i64_msg(ctx: &mut Ctx, s: &[u8], msg: &str) -> Option<i64> {
    let v = parse_i64(s);
    if v.is_none() {
        ctx.out.err(&format!("ERR {msg}"));
    }
    v
}

// ----- XADD / XTRIM --------------------------------------------------------

/// Parsed XADD/XTRIM options.
struct AddTrim {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// Explicit id and whether its sequence was given (`ms-*` = false).
    id: Option<(StreamId, bool)>,
    /// Index of the first field (XADD).
    field_pos: usize,
}

/// `streamParseAddOrTrimArgsOrReply`.
fn parse_add_trim(ctx: &mut Ctx, args: &Args, xadd: bool) -> Option<AddTrim> {
    let mut r = AddTrim {
        trim: None,
        approx: false,
        limit: 0,
        nomkstream: false,
        id: None,
        field_pos: args.len() + 1,
    };
    let mut limit_given = false;
    let argc = args.len();
    let mut i = 2;
    while i < argc {
        let more = argc - 1 - i;
        let opt = args.get(i);
        if xadd && opt == b"*" {
            r.field_pos = i + 1;
            break;
        } else if (opt.eq_ignore_ascii_case(b"maxlen") || opt.eq_ignore_ascii_case(b"minid"))
            && more > 0
        {
            if r.trim.is_some() {
                ctx.out
                    .err("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
                return None;
            }
            r.approx = false;
            let next = args.get(i + 1);
            if more >= 2 && next == b"~" {
                r.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let val = args.get(i + 1);
            if opt.eq_ignore_ascii_case(b"maxlen") {
                let n = get_i64(ctx, val)?;
                if n < 0 {
                    ctx.out.err("ERR The MAXLEN argument must be >= 0.");
                    return None;
                }
                r.trim = Some(Trim::MaxLen(n as u64));
            } else {
                r.trim = Some(Trim::MinId(strict_id(ctx, val, 0)?));
            }
            i += 1;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            let n = get_i64(ctx, args.get(i + 1))?;
            if n < 0 {
                ctx.out.err("ERR The LIMIT argument must be >= 0.");
                return None;
            }
            r.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            r.nomkstream = true;
        } else if xadd {
            match parse_id(opt, 0, true, true) {
                Some(id) => r.id = Some(id),
                None => {
                    ctx.out.err(INVALID_ID);
                    return None;
                }
            }
            r.field_pos = i + 1;
            break;
        } else {
            ctx.syntax_error();
            return None;
        }
        i += 1;
    }
    if r.limit != 0 && r.trim.is_none() {
        ctx.out
            .err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return None;
    }
    if !xadd && r.trim.is_none() {
        ctx.out
            .err("ERR syntax error, XTRIM must be called with a trimming strategy");
        return None;
    }
    if limit_given {
        if !r.approx {
            ctx.out
                .err("ERR syntax error, LIMIT cannot be used without the special ~ option");
            return None;
        }
    } else if r.approx {
        let l = 100u64.saturating_mul(ctx.client.settings.stream_node_max_entries);
        r.limit = if l == 0 || l > 10000 { 10000 } else { l };
    } else {
        r.limit = 0;
    }
    Some(r)
}

fn xadd(ctx: &mut Ctx, args: &Args) {
    let Some(p) = parse_add_trim(ctx, args, true) else {
        return;
    };
    let argc = args.len();
    if p.field_pos > argc || (argc - p.field_pos) < 2 || (argc - p.field_pos) % 2 == 1 {
        ctx.out
            .err("ERR wrong number of arguments for 'xadd' command");
        return;
    }
    if let Some((id, true)) = p.id
        && id.is_zero()
    {
        ctx.out
            .err("ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    let key = args.get(1);
    let lim = limits(ctx);
    let now = ctx.db.now() as u64;
    let before = ctx.db.dirty;
    let mut fresh: Option<Box<Stream>> = None;
    let s: &mut Stream = match write_stream(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(Some(s)) => s,
        Ok(None) if p.nomkstream => return ctx.out.null(),
        Ok(None) => fresh.insert(Box::new(Stream::new())),
    };
    if s.last_id == StreamId::MAX {
        ctx.out
            .err("ERR The stream has exhausted the last possible ID, unable to add more items");
        return;
    }
    let id = match p.id {
        None => s.next_auto_id(now),
        Some((id, true)) => Some(id),
        Some((id, false)) => {
            if id.ms == s.last_id.ms {
                if s.last_id.seq == u64::MAX {
                    None
                } else {
                    Some(StreamId::new(id.ms, s.last_id.seq + 1))
                }
            } else {
                Some(id)
            }
        }
    };
    let Some(id) = id.filter(|id| *id > s.last_id) else {
        ctx.out.err(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        );
        return;
    };
    let rest = args.rest(p.field_pos);
    let total: u64 = rest.iter().map(|a| a.len() as u64).sum();
    if total > 1 << 30 {
        ctx.out.err("ERR Elements are too large to be stored");
        return;
    }
    let n = rest.len() / 2;
    let fields: Vec<&[u8]> = (0..n).map(|k| rest.get(2 * k)).collect();
    let values: Vec<&[u8]> = (0..n).map(|k| rest.get(2 * k + 1)).collect();
    s.append(id, &fields, &values, lim);
    let trimmed = p.trim.is_some_and(|t| s.trim(t, p.approx, p.limit) > 0);
    // Propagated with the id actually used, and a trim as an exact XTRIM
    // that reproduces its result (approximate trims depend on nodes).
    let trim_as = (trimmed && ctx.srv.keyspace.feed.active()).then(|| {
        if s.is_empty() {
            (&b"MAXLEN"[..], b"0".to_vec())
        } else {
            (&b"MINID"[..], s.first_id.to_bytes())
        }
    });
    match fresh {
        Some(s) => ctx.db.set(key, Value::Stream(s), false),
        None => ctx.db.touched(key),
    }
    ctx.db.dirty = before + 1;
    if ctx.propagating() {
        let idb = id.to_bytes();
        let mut prop: Vec<&[u8]> = vec![b"XADD", key, &idb];
        prop.extend(rest.iter());
        ctx.propagate_as(&prop);
        if let Some((how, v)) = &trim_as {
            ctx.propagate_as(&[b"XTRIM", key, how, b"=", v]);
        }
    }
    ctx.notify(EV, "xadd", key);
    if trimmed {
        ctx.notify(EV, "xtrim", key);
    }
    reply_id(ctx.out, id);
}

fn xtrim(ctx: &mut Ctx, args: &Args) {
    let Some(p) = parse_add_trim(ctx, args, false) else {
        return;
    };
    let key = args.get(1);
    let before = ctx.db.dirty;
    let s = match write_stream(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.int(0),
        Ok(Some(s)) => s,
    };
    let deleted = match p.trim {
        Some(t) => s.trim(t, p.approx, p.limit),
        None => 0,
    };
    if deleted > 0 {
        ctx.db.touched(key);
        ctx.db.dirty = before + deleted;
        ctx.notify(EV, "xtrim", key);
    }
    ctx.out.int(deleted as i64);
}

// ----- XLEN / XRANGE / XDEL / XSETID ---------------------------------------

fn xlen(ctx: &mut Ctx, args: &Args) {
    if let Ok(s) = read_stream(ctx.db, ctx.out, args.get(1)) {
        ctx.out.int(s.map_or(0, |s| s.len() as i64));
    }
}

fn range_generic(ctx: &mut Ctx, args: &Args, rev: bool) {
    let (a, b) = if rev {
        (args.get(3), args.get(2))
    } else {
        (args.get(2), args.get(3))
    };
    let Some((start, end)) = parse_bounds(ctx, a, b) else {
        return;
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if args.get(j).eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            let Some(c) = get_i64(ctx, args.get(j + 1)) else {
                return;
            };
            count = c.max(0);
            j += 2;
        } else {
            return ctx.syntax_error();
        }
    }
    let Ok(s) = read_stream(ctx.db, ctx.out, args.get(1)) else {
        return;
    };
    let Some(s) = s else {
        return ctx.out.array(0);
    };
    if count == 0 {
        return ctx.out.null_array();
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let d = ctx.out.begin_deferred();
    let mut n = 0;
    if rev {
        for e in s.range_rev(start, end).take(limit) {
            reply_entry(ctx.out, &e);
            n += 1;
        }
    } else {
        for e in s.range(start, end).take(limit) {
            reply_entry(ctx.out, &e);
            n += 1;
        }
    }
    ctx.out.end_deferred(d, n);
}

fn xrange(ctx: &mut Ctx, args: &Args) {
    range_generic(ctx, args, false);
}

fn xrevrange(ctx: &mut Ctx, args: &Args) {
    range_generic(ctx, args, true);
}

fn xdel(ctx: &mut Ctx, args: &Args) {
    let mut ids = Vec::with_capacity(args.len() - 2);
    for i in 2..args.len() {
        let Some(id) = strict_id(ctx, args.get(i), 0) else {
            return;
        };
        ids.push(id);
    }
    let key = args.get(1);
    let before = ctx.db.dirty;
    let s = match write_stream(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.int(0),
        Ok(Some(s)) => s,
    };
    let deleted = s.xdel(&ids);
    if deleted > 0 {
        ctx.db.touched(key);
        ctx.db.dirty = before + deleted;
        ctx.notify(EV, "xdel", key);
    }
    ctx.out.int(deleted as i64);
}

fn xsetid(ctx: &mut Ctx, args: &Args) {
    let Some(id) = strict_id(ctx, args.get(2), 0) else {
        return;
    };
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::ZERO;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"entriesadded") && more > 0 {
            let Some(n) = get_i64(ctx, args.get(i + 1)) else {
                return;
            };
            if n < 0 {
                return ctx.out.err("ERR entries_added must be positive");
            }
            entries_added = n;
        } else if opt.eq_ignore_ascii_case(b"maxdeletedid") && more > 0 {
            let Some(m) = strict_id(ctx, args.get(i + 1), 0) else {
                return;
            };
            if id < m {
                return ctx.out.err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
            max_xdel = m;
        } else {
            return ctx.syntax_error();
        }
        i += 2;
    }
    let key = args.get(1);
    let s = match write_stream(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.err("ERR no such key"),
        Ok(Some(s)) => s,
    };
    if !s.is_empty() {
        let top = s.edge_id(true).unwrap_or_default();
        if id < top {
            return ctx
                .out
                .err("ERR The ID specified in XSETID is smaller than the target stream top item");
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            return ctx.out.err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_id = max_xdel;
    }
    ctx.db.touched(key);
    ctx.notify(EV, "xsetid", key);
    ctx.out.ok();
}

// ----- XREAD / XREADGROUP --------------------------------------------------

/// Where a read starts in one stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadFrom {
    /// Entries with ids greater than this one (XREAD ids, `$` resolved at
    /// parse time; XREADGROUP history ids).
    After(StreamId),
    /// XREADGROUP `>`: entries never delivered to the group.
    New,
}

/// A parsed XREAD / XREADGROUP request: everything needed to serve it now
/// or later (when a blocked client is woken).
#[derive(Clone, Debug)]
pub struct ReadRequest {
    /// `(group, consumer)` for XREADGROUP.
    pub group: Option<(Vec<u8>, Vec<u8>)>,
    pub noack: bool,
    /// 0 = no limit.
    pub count: usize,
    /// Milliseconds to block (0 = forever), `None` without BLOCK.
    pub block: Option<i64>,
    pub streams: Vec<(Vec<u8>, ReadFrom)>,
}

/// The keys of XREAD/XREADGROUP (Redis's `xreadGetKeys`).
fn read_keys(args: &Args, out: &mut Vec<usize>) {
    let argc = args.len();
    let mut pos = 0;
    let mut i = 1;
    while i < argc {
        let a = args.get(i);
        if a.eq_ignore_ascii_case(b"block") || a.eq_ignore_ascii_case(b"count") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"group") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"noack") {
        } else if a.eq_ignore_ascii_case(b"streams") {
            pos = i;
            break;
        } else {
            break;
        }
        i += 1;
    }
    if pos == 0 {
        return;
    }
    let n = argc - pos - 1;
    if n == 0 || !n.is_multiple_of(2) {
        return;
    }
    out.extend(pos + 1..pos + 1 + n / 2);
}

/// Parses XREAD/XREADGROUP (Redis's `xreadCommand` up to serving): options,
/// then per stream the key's type, the group's existence and the id.
/// Errors are answered and give `None`.
pub fn parse_read(ctx: &mut Ctx, args: &Args, xreadgroup: bool) -> Option<ReadRequest> {
    let argc = args.len();
    let mut req = ReadRequest {
        group: None,
        noack: false,
        count: 0,
        block: None,
        streams: Vec::new(),
    };
    let mut streams_arg = 0;
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let o = args.get(i);
        if o.eq_ignore_ascii_case(b"block") && more > 0 {
            i += 1;
            let t = get_i64_msg(
                ctx,
                args.get(i),
                "timeout is not an integer or out of range",
            )?;
            if t < 0 {
                ctx.out.err("ERR timeout is negative");
                return None;
            }
            // Redis 7.0 adds the clock without an overflow check; the
            // wrapped deadline is never reached: such a wait is endless.
            let now = ctx.db.now();
            req.block = Some(if t > i64::MAX - now { 0 } else { t });
        } else if o.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            let c = get_i64(ctx, args.get(i))?;
            req.count = c.max(0) as usize;
        } else if o.eq_ignore_ascii_case(b"streams") && more > 0 {
            streams_arg = i + 1;
            let n = argc - streams_arg;
            if !n.is_multiple_of(2) {
                let (name, sym) = if xreadgroup {
                    ("xreadgroup", '>')
                } else {
                    ("xread", '$')
                };
                ctx.out.err(&format!(
                    "ERR Unbalanced '{name}' list of streams: for each stream key an ID or '{sym}' must be specified."
                ));
                return None;
            }
            break;
        } else if o.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !xreadgroup {
                ctx.out
                    .err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
                return None;
            }
            req.group = Some((args.get(i + 1).to_vec(), args.get(i + 2).to_vec()));
            i += 2;
        } else if o.eq_ignore_ascii_case(b"noack") {
            if !xreadgroup {
                ctx.out
                    .err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
                return None;
            }
            req.noack = true;
        } else {
            ctx.syntax_error();
            return None;
        }
        i += 1;
    }
    if streams_arg == 0 {
        ctx.syntax_error();
        return None;
    }
    if xreadgroup && req.group.is_none() {
        ctx.out.err("ERR Missing GROUP option for XREADGROUP");
        return None;
    }
    let n = (argc - streams_arg) / 2;
    for k in 0..n {
        let key = args.get(streams_arg + k);
        let idarg = args.get(streams_arg + n + k);
        let s = match read_stream(ctx.db, ctx.out, key) {
            Err(()) => return None,
            Ok(s) => s,
        };
        if let Some((g, _)) = &req.group
            && !s.as_ref().is_some_and(|s| s.groups.contains_key(&g[..]))
        {
            let mut m = b"NOGROUP No such key '".to_vec();
            m.extend_from_slice(key);
            m.extend_from_slice(b"' or consumer group '");
            m.extend_from_slice(g);
            m.extend_from_slice(b"' in XREADGROUP with GROUP option");
            ctx.out.error(&m);
            return None;
        }
        let from = if idarg == b"$" {
            if xreadgroup {
                ctx.out.err(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                );
                return None;
            }
            ReadFrom::After(s.map_or(StreamId::ZERO, |s| s.last_id))
        } else if idarg == b">" {
            if !xreadgroup {
                ctx.out.err(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                );
                return None;
            }
            ReadFrom::New
        } else {
            ReadFrom::After(strict_id(ctx, idarg, 0)?)
        };
        req.streams.push((key.to_vec(), from));
    }
    Some(req)
}

/// Serves a read request from the current data. Writes the whole reply and
/// returns true when at least one stream had something to answer (always,
/// for XREADGROUP history reads); writes nothing and returns false when
/// the client would have to wait.
pub fn serve_read(ctx: &mut Ctx, req: &ReadRequest) -> bool {
    serve_read_in(ctx.db, ctx.out, req, None)
}

/// [`serve_read`] over a `Db` and a reply. With `only`, just that key is
/// considered and answered (a blocked client is served from the one key a
/// write made ready, as Redis 7.0 does), and lookups count no statistics.
/// XREADGROUP deliveries are propagated as Redis does (see
/// [`propagate_delivery`]).
fn serve_read_in(db: &mut Db, out: &mut Reply, req: &ReadRequest, only: Option<&[u8]>) -> bool {
    let now = db.now();
    // First pass: which streams can be served (no reply written yet).
    let mut serve: Vec<Option<(StreamId, bool)>> = Vec::with_capacity(req.streams.len());
    let mut taken = false;
    for (key, from) in &req.streams {
        if let Some(k) = only {
            // A key named twice is served once, for its first id.
            if taken || key[..] != *k {
                serve.push(None);
                continue;
            }
            taken = true;
        }
        let e = if only.is_some() {
            db.peek(key)
        } else {
            db.get(key)
        };
        let s = match e {
            Some(e) => match &e.value {
                Value::Stream(s) => Some(&**s),
                _ => None,
            },
            None => None,
        };
        let Some(s) = s else {
            serve.push(None);
            continue;
        };
        let last_valid = s.edge_id(true);
        let decision = match (&req.group, from) {
            (Some(_), ReadFrom::After(id)) => Some((*id, true)),
            (Some((g, _)), ReadFrom::New) => {
                let glast = s.groups.get(&g[..]).map_or(StreamId::MAX, |g| g.last_id);
                match last_valid {
                    Some(max) if !s.is_empty() && max > glast => Some((glast, false)),
                    _ => None,
                }
            }
            (None, ReadFrom::After(id)) => match last_valid {
                Some(max) if !s.is_empty() && max > *id => Some((*id, false)),
                _ => None,
            },
            (None, ReadFrom::New) => None,
        };
        serve.push(decision);
    }
    let served = serve.iter().filter(|d| d.is_some()).count();
    if served == 0 {
        return false;
    }
    let resp3 = out.resp() != Resp::V2;
    if resp3 {
        out.map(served);
    } else {
        out.array(served);
    }
    for ((key, _), decision) in req.streams.iter().zip(serve) {
        let Some((after, history)) = decision else {
            continue;
        };
        if !resp3 {
            out.array(2);
        }
        out.bulk(key);
        let Some(Value::Stream(s)) = db.peek(key).map(|e| &mut e.value) else {
            out.array(0);
            continue;
        };
        let limit = if req.count == 0 {
            usize::MAX
        } else {
            req.count
        };
        match &req.group {
            None => {
                let start = after.incr().unwrap_or(StreamId::MAX);
                let d = out.begin_deferred();
                let mut n = 0;
                if after != StreamId::MAX {
                    for e in s.range(start, StreamId::MAX).take(limit) {
                        reply_entry(out, &e);
                        n += 1;
                    }
                }
                out.end_deferred(d, n);
            }
            Some((gname, cname)) => {
                let s: &mut Stream = s;
                // The consumer is created (or its seen time refreshed) when
                // served.
                let Some(g) = s.groups.get_mut(&gname[..]) else {
                    out.array(0);
                    continue;
                };
                let created = g.create_consumer(cname, now);
                if let Some(c) = g.consumers.get_mut(&cname[..]) {
                    c.seen_time = now;
                }
                if created && req.noack {
                    // With NOACK no XCLAIM will create it on a replica.
                    db.propagate_as(&[b"XGROUP", b"CREATECONSUMER", key, gname, cname]);
                }
                let Some(Value::Stream(s)) = db.peek(key).map(|e| &mut e.value) else {
                    continue;
                };
                let s: &mut Stream = s;
                let delivered = if history {
                    reply_history(out, s, gname, cname, after, limit, now);
                    None
                } else {
                    let ids = reply_new(out, s, gname, cname, after, limit, req.noack, now);
                    let g = &s.groups[&gname[..]];
                    Some((ids, g.last_id, g.entries_read))
                };
                db.dirty += 1;
                if created {
                    db.notify(EV, "xgroup-createconsumer", key);
                }
                if let Some((ids, last_id, entries_read)) = delivered {
                    let d = Delivery {
                        key,
                        group: gname,
                        consumer: cname,
                        noack: req.noack,
                        ids: &ids,
                        last_id,
                        entries_read,
                        now,
                    };
                    propagate_delivery(db, &d);
                }
            }
        }
    }
    true
}

/// What one XREADGROUP `>` read of one stream changed, for propagation.
struct Delivery<'a> {
    key: &'a [u8],
    group: &'a [u8],
    consumer: &'a [u8],
    noack: bool,
    /// Entries delivered, in order.
    ids: &'a [StreamId],
    /// The group's last id and read counter after the read.
    last_id: StreamId,
    entries_read: i64,
    now: i64,
}

/// Propagates an XREADGROUP `>` read in deterministic form, as Redis 7.0
/// does: one `XCLAIM key group consumer 0 id TIME now RETRYCOUNT 1 FORCE
/// JUSTID LASTID id` per entry added to the PEL (it creates the consumer
/// too; with NOACK the caller propagated an `XGROUP CREATECONSUMER`), and
/// an `XGROUP SETID … ENTRIESREAD`. Unlike 7.0 (like 7.2), the SETID follows
/// the XCLAIMs as well: XCLAIM's LASTID does not carry the read counter,
/// and without it a replica's `entries-read` (and lag) would drift.
fn propagate_delivery(db: &mut Db, d: &Delivery) {
    if d.ids.is_empty() {
        return;
    }
    let mut num = itoa::Buffer::new();
    let now = num.format(d.now).as_bytes().to_vec();
    if !d.noack {
        for id in d.ids {
            let id = id.to_bytes();
            db.propagate_as(&[
                b"XCLAIM",
                d.key,
                d.group,
                d.consumer,
                b"0",
                &id,
                b"TIME",
                &now,
                b"RETRYCOUNT",
                b"1",
                b"FORCE",
                b"JUSTID",
                b"LASTID",
                &id,
            ]);
        }
    }
    let last = d.last_id.to_bytes();
    let read = num.format(d.entries_read).as_bytes().to_vec();
    db.propagate_as(&[
        b"XGROUP",
        b"SETID",
        d.key,
        d.group,
        &last,
        b"ENTRIESREAD",
        &read,
    ]);
}

/// XREADGROUP with an id: the consumer's pending entries after `after`;
/// deleted entries are answered as `[id, nil]`.
fn reply_history(
    out: &mut Reply,
    s: &mut Stream,
    gname: &[u8],
    cname: &[u8],
    after: StreamId,
    limit: usize,
    now: i64,
) {
    let Some(start) = after.incr() else {
        out.array(0);
        return;
    };
    let ids: Vec<StreamId> = s.groups[gname].consumers[cname]
        .pel
        .range(start..)
        .take(limit)
        .copied()
        .collect();
    out.array(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                reply_entry(out, &e);
                if let Some(p) = s.groups.get_mut(gname).and_then(|g| g.pel.get_mut(&id)) {
                    p.delivery_time = now;
                    p.delivery_count += 1;
                }
            }
            None => {
                out.array(2);
                reply_id(out, id);
                out.null_array();
            }
        }
    }
}

/// XREADGROUP `>`: entries after the group's last id, added to the PELs
/// (unless NOACK); the group's last id and read counter advance. Returns
/// the ids delivered.
#[allow(clippy::too_many_arguments)]
fn reply_new(
    out: &mut Reply,
    s: &mut Stream,
    gname: &[u8],
    cname: &[u8],
    after: StreamId,
    limit: usize,
    noack: bool,
    now: i64,
) -> Vec<StreamId> {
    let Some(start) = after.incr() else {
        out.array(0);
        return Vec::new();
    };
    let d = out.begin_deferred();
    let mut ids = Vec::new();
    for e in s.range(start, StreamId::MAX).take(limit) {
        reply_entry(out, &e);
        ids.push(e.id);
    }
    out.end_deferred(d, ids.len());
    let mut g = s.groups.remove(gname).expect("group");
    for &id in &ids {
        s.group_delivered(&mut g, id);
        if !noack {
            let p = g.assign(id, cname, now);
            p.delivery_time = now;
            p.delivery_count = 1;
        }
    }
    s.groups.insert(gname.into(), g);
    ids
}

fn read_generic(ctx: &mut Ctx, args: &Args, xreadgroup: bool) {
    if xreadgroup {
        // XREADGROUP is never propagated as given: deliveries propagate as
        // XCLAIM/XGROUP (see `propagate_delivery`), history reads not at all;
        // several commands form one transaction, as in Redis.
        ctx.db.rewrote = true;
        ctx.db.wrap_in_multi();
    }
    let Some(req) = parse_read(ctx, args, xreadgroup) else {
        return;
    };
    if serve_read(ctx, &req) {
        return;
    }
    // Nothing to answer now: without BLOCK, or where a client may not block
    // (inside MULTI/EXEC), a null array, as Redis.
    let Some(timeout) = req.block else {
        return ctx.out.null_array();
    };
    if cannot_block(ctx) {
        return ctx.out.null_array();
    }
    let keys: Vec<Vec<u8>> = req.streams.iter().map(|(k, _)| k.clone()).collect();
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    let spec = Box::new(StreamWait { req });
    blocking::block(ctx, args, &keys, timeout, null_array, serve_stream, spec);
}

fn null_array(r: &mut Reply) {
    r.null_array()
}

/// What a client blocked by XREAD/XREADGROUP waits for: its request, with
/// `$` already resolved to the stream's last id at the time it blocked.
pub struct StreamWait {
    req: ReadRequest,
}

/// Serves a waiter of XREAD/XREADGROUP from `key` (its shard is locked).
/// Readers do not consume for each other, so a waiter with nothing to read
/// lets the next one try. An XREADGROUP waiter whose stream was deleted
/// (or replaced by another type) or whose group was destroyed is released
/// with Redis's errors; an XREAD waiter keeps waiting.
fn serve_stream(db: &mut Db, key: &[u8], w: &Waiter) -> Serve {
    let Some(spec) = w.spec.downcast_ref::<StreamWait>() else {
        return Serve::Skip;
    };
    if let Some((g, _)) = &spec.req.group {
        match db.peek(key).map(|e| &e.value) {
            Some(Value::Stream(s)) if s.groups.contains_key(&g[..]) => {}
            Some(Value::Stream(_)) => {
                return Serve::Done(reply_for(w, |r| {
                    r.err("NOGROUP the consumer group this client was blocked on no longer exists")
                }));
            }
            _ => {
                return Serve::Done(reply_for(w, |r| {
                    r.err("UNBLOCKED the stream key no longer exists")
                }));
            }
        }
    }
    let mut served = false;
    let reply = reply_for(w, |r| served = serve_read_in(db, r, &spec.req, Some(key)));
    if served {
        Serve::Done(reply)
    } else {
        Serve::Skip
    }
}

fn xread(ctx: &mut Ctx, args: &Args) {
    read_generic(ctx, args, false);
}

fn xreadgroup(ctx: &mut Ctx, args: &Args) {
    read_generic(ctx, args, true);
}

// ----- XACK / XPENDING / XCLAIM / XAUTOCLAIM -------------------------------

fn xack(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let gname = args.get(2);
    if read_stream(ctx.db, ctx.out, key).is_err() {
        return;
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for j in 3..args.len() {
        let Some(id) = strict_id(ctx, args.get(j), 0) else {
            return;
        };
        ids.push(id);
    }
    let Ok(Some(s)) = write_stream(ctx.db, ctx.out, key) else {
        return ctx.out.int(0);
    };
    let Some(g) = s.groups.get_mut(gname) else {
        return ctx.out.int(0);
    };
    let mut acked = 0;
    for id in ids {
        if g.ack(id) {
            acked += 1;
        }
    }
    ctx.db.dirty += acked as u64;
    ctx.out.int(acked);
}

fn xpending(ctx: &mut Ctx, args: &Args) {
    let argc = args.len();
    let justinfo = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return ctx.syntax_error();
    }
    let key = args.get(1);
    let gname = args.get(2);
    let mut minidle = 0i64;
    let mut count = 0i64;
    let mut bounds = (StreamId::ZERO, StreamId::MAX);
    let mut consumer: Option<&[u8]> = None;
    if argc >= 6 {
        let mut startidx = 3;
        if args.get(3).eq_ignore_ascii_case(b"idle") {
            let Some(v) = get_i64(ctx, args.get(4)) else {
                return;
            };
            minidle = v;
            if argc < 8 {
                return ctx.syntax_error();
            }
            startidx += 2;
        }
        let Some(c) = get_i64(ctx, args.get(startidx + 2)) else {
            return;
        };
        count = c.max(0);
        let Some(b) = parse_bounds(ctx, args.get(startidx), args.get(startidx + 1)) else {
            return;
        };
        bounds = b;
        if startidx + 3 < argc {
            consumer = Some(args.get(startidx + 3));
        }
    }
    let now = ctx.db.now();
    let Ok(s) = read_stream(ctx.db, ctx.out, key) else {
        return;
    };
    let Some(g) = s.and_then(|s| s.groups.get(gname)) else {
        return err_nogroup_key(ctx, key, gname);
    };
    let out = &mut *ctx.out;
    if justinfo {
        out.array(4);
        out.int(g.pel.len() as i64);
        if g.pel.is_empty() {
            out.null();
            out.null();
            out.null_array();
        } else {
            reply_id(out, *g.pel.keys().next().unwrap());
            reply_id(out, *g.pel.keys().next_back().unwrap());
            let with: Vec<_> = g
                .consumers
                .iter()
                .filter(|(_, c)| !c.pel.is_empty())
                .collect();
            out.array(with.len());
            for (name, c) in with {
                out.array(2);
                out.bulk(name);
                out.bulk_int(c.pel.len() as i64);
            }
        }
        return;
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(cn) => match g.consumers.get(cn) {
            None => return out.array(0),
            Some(c) => Box::new(c.pel.range(bounds.0..).copied()),
        },
        None => Box::new(g.pel.range(bounds.0..).map(|(k, _)| *k)),
    };
    let d = out.begin_deferred();
    let mut n = 0;
    if bounds.0 <= bounds.1 {
        for id in ids {
            if count == 0 || id > bounds.1 {
                break;
            }
            let p = &g.pel[&id];
            if minidle != 0 && now - p.delivery_time < minidle {
                continue;
            }
            count -= 1;
            n += 1;
            out.array(4);
            reply_id(out, id);
            out.bulk(&p.consumer);
            out.int((now - p.delivery_time).max(0));
            out.int(p.delivery_count as i64);
        }
    }
    out.end_deferred(d, n);
}

/// One PEL change of XCLAIM/XAUTOCLAIM to propagate: the entry's owner
/// after the change (before it, for a deleted entry dropped from the PEL),
/// its id, delivery time and count.
type Claim = (Box<[u8]>, StreamId, i64, u64);

/// Propagates XCLAIM/XAUTOCLAIM as Redis 7.0 does (never as given): one
/// `XCLAIM key group owner 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID
/// last` per entry claimed (or dropped because it was deleted), with
/// absolute times so a replica does not judge idleness by its own clock;
/// when nothing else was propagated and LASTID moved the group (`setid`:
/// its read counter), an `XGROUP SETID`.
fn propagate_claims(
    ctx: &mut Ctx,
    key: &[u8],
    group: &[u8],
    claims: &[Claim],
    last_id: StreamId,
    setid: Option<i64>,
) {
    ctx.db.rewrote = true;
    ctx.db.wrap_in_multi();
    let last = last_id.to_bytes();
    let mut num = itoa::Buffer::new();
    for (owner, id, time, count) in claims {
        let id = id.to_bytes();
        let time = num.format(*time).as_bytes().to_vec();
        let count = num.format(*count).as_bytes().to_vec();
        ctx.db.propagate_as(&[
            b"XCLAIM",
            key,
            group,
            owner,
            b"0",
            &id,
            b"TIME",
            &time,
            b"RETRYCOUNT",
            &count,
            b"FORCE",
            b"JUSTID",
            b"LASTID",
            &last,
        ]);
    }
    if claims.is_empty()
        && let Some(read) = setid
    {
        let read = num.format(read).as_bytes().to_vec();
        ctx.db.propagate_as(&[
            b"XGROUP",
            b"SETID",
            key,
            group,
            &last,
            b"ENTRIESREAD",
            &read,
        ]);
    }
}

fn xclaim(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let gname = args.get(2);
    let cname = args.get(3);
    let now = ctx.db.now();
    {
        let Ok(s) = read_stream(ctx.db, ctx.out, key) else {
            return;
        };
        if !s.is_some_and(|s| s.groups.contains_key(gname)) {
            return err_nogroup_key(ctx, key, gname);
        }
    }
    let Some(minidle) = get_i64_msg(
        ctx,
        args.get(4),
        "Invalid min-idle-time argument for XCLAIM",
    ) else {
        return;
    };
    let minidle = minidle.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(args.get(j), 0, true, false) {
            Some((id, _)) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let mut force = false;
    let mut justid = false;
    let mut deliverytime: i64 = -1;
    let mut retrycount: i64 = -1;
    let mut last_id = StreamId::ZERO;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.get(j);
        if opt.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && more > 0 {
            j += 1;
            let Some(v) = get_i64_msg(ctx, args.get(j), "Invalid IDLE option argument for XCLAIM")
            else {
                return;
            };
            deliverytime = now.wrapping_sub(v);
        } else if opt.eq_ignore_ascii_case(b"time") && more > 0 {
            j += 1;
            let Some(v) = get_i64_msg(ctx, args.get(j), "Invalid TIME option argument for XCLAIM")
            else {
                return;
            };
            deliverytime = v;
        } else if opt.eq_ignore_ascii_case(b"retrycount") && more > 0 {
            j += 1;
            let Some(v) = get_i64_msg(
                ctx,
                args.get(j),
                "Invalid RETRYCOUNT option argument for XCLAIM",
            ) else {
                return;
            };
            retrycount = v;
        } else if opt.eq_ignore_ascii_case(b"lastid") && more > 0 {
            j += 1;
            let Some(id) = strict_id(ctx, args.get(j), 0) else {
                return;
            };
            last_id = id;
        } else {
            let mut m = b"ERR Unrecognized XCLAIM option '".to_vec();
            m.extend_from_slice(opt);
            m.push(b'\'');
            return ctx.out.error(&m);
        }
        j += 1;
    }
    if deliverytime != -1 {
        if deliverytime < 0 || deliverytime > now {
            deliverytime = now;
        }
    } else {
        deliverytime = now;
    }
    let Ok(Some(s)) = write_stream(ctx.db, ctx.out, key) else {
        return;
    };
    let mut g = s.groups.remove(gname).expect("group");
    let mut created = false;
    let mut changed = 0u64;
    let mut claims: Vec<Claim> = Vec::new();
    let moved = last_id > g.last_id;
    if moved {
        g.last_id = last_id;
        changed += 1;
    }
    let out = &mut *ctx.out;
    let d = out.begin_deferred();
    let mut n = 0;
    for id in ids {
        let exists = s.contains(id);
        if !exists {
            if let Some(p) = g.pel.get(&id) {
                claims.push((p.consumer.clone(), id, p.delivery_time, p.delivery_count));
            }
            if g.ack(id) {
                changed += 1;
            }
            continue;
        }
        let pending = g.pel.get(&id);
        if pending.is_none() && !force {
            continue;
        }
        if let Some(p) = pending
            && minidle != 0
            && now - p.delivery_time < minidle
        {
            continue;
        }
        if g.create_consumer(cname, now) {
            created = true;
        }
        if let Some(c) = g.consumers.get_mut(cname) {
            c.seen_time = now;
        }
        let p = g.assign(id, cname, now);
        p.delivery_time = deliverytime;
        if retrycount >= 0 {
            p.delivery_count = retrycount as u64;
        } else if !justid {
            p.delivery_count += 1;
        }
        claims.push((cname.into(), id, p.delivery_time, p.delivery_count));
        if justid {
            reply_id(out, id);
        } else {
            match s.get(id) {
                Some(e) => reply_entry(out, &e),
                None => out.null(),
            }
        }
        n += 1;
        changed += 1;
    }
    out.end_deferred(d, n);
    let (glast, gread) = (g.last_id, g.entries_read);
    s.groups.insert(gname.into(), g);
    ctx.db.dirty += changed;
    if created {
        ctx.notify(EV, "xgroup-createconsumer", key);
    }
    propagate_claims(ctx, key, gname, &claims, glast, moved.then_some(gread));
}

fn xautoclaim(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let gname = args.get(2);
    let cname = args.get(3);
    let Some(minidle) = get_i64_msg(
        ctx,
        args.get(4),
        "Invalid min-idle-time argument for XAUTOCLAIM",
    ) else {
        return;
    };
    let minidle = minidle.max(0);
    let Some((mut start, ex)) = interval_id(args.get(5), 0) else {
        return ctx.out.err(INVALID_ID);
    };
    if ex {
        match start.incr() {
            Some(s) => start = s,
            None => return ctx.out.err("ERR invalid start ID for the interval"),
        }
    }
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.get(j);
        if opt.eq_ignore_ascii_case(b"count") && more > 0 {
            let max = i64::MAX / 16;
            match parse_i64(args.get(j + 1)) {
                Some(c) if (1..=max).contains(&c) => count = c,
                _ => return ctx.out.err("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    let now = ctx.db.now();
    {
        let Ok(s) = read_stream(ctx.db, ctx.out, key) else {
            return;
        };
        if !s.is_some_and(|s| s.groups.contains_key(gname)) {
            return err_nogroup_key(ctx, key, gname);
        }
    }
    let Ok(Some(s)) = write_stream(ctx.db, ctx.out, key) else {
        return;
    };
    let mut g = s.groups.remove(gname).expect("group");
    let mut created = false;
    let mut attempts = count.saturating_mul(10);
    let mut deleted = Vec::new();
    let mut claimed: Vec<StreamId> = Vec::new();
    let mut claims: Vec<Claim> = Vec::new();
    let mut cursor = Some(start);
    let mut changed = 0u64;
    while attempts > 0 && count > 0 {
        let Some(from) = cursor else { break };
        let Some((&id, p)) = g.pel.range(from..).next() else {
            cursor = None;
            break;
        };
        attempts -= 1;
        cursor = id.incr();
        if !s.contains(id) {
            claims.push((p.consumer.clone(), id, p.delivery_time, p.delivery_count));
            g.ack(id);
            deleted.push(id);
            count -= 1;
            changed += 1;
            continue;
        }
        if minidle != 0 && now - p.delivery_time < minidle {
            continue;
        }
        if g.create_consumer(cname, now) {
            created = true;
        }
        if let Some(c) = g.consumers.get_mut(cname) {
            c.seen_time = now;
        }
        let p = g.assign(id, cname, now);
        p.delivery_time = now;
        if !justid {
            p.delivery_count += 1;
        }
        claims.push((cname.into(), id, p.delivery_time, p.delivery_count));
        claimed.push(id);
        count -= 1;
        changed += 1;
    }
    let next = cursor
        .and_then(|c| g.pel.range(c..).next().map(|(k, _)| *k))
        .unwrap_or(StreamId::ZERO);
    let out = &mut *ctx.out;
    out.array(3);
    reply_id(out, next);
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            reply_id(out, *id);
        } else {
            match s.get(*id) {
                Some(e) => reply_entry(out, &e),
                None => out.null(),
            }
        }
    }
    out.array(deleted.len());
    for id in deleted {
        reply_id(out, id);
    }
    let glast = g.last_id;
    s.groups.insert(gname.into(), g);
    ctx.db.dirty += changed;
    if created {
        ctx.notify(EV, "xgroup-createconsumer", key);
    }
    propagate_claims(ctx, key, gname, &claims, glast, None);
}

// ----- XGROUP --------------------------------------------------------------

fn xgroup_help(ctx: &mut Ctx, _args: &Args) {
    let lines: &[&str] = &[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l.as_bytes());
    }
}

/// Parses `ENTRIESREAD n`'s value.
fn entries_read_arg(ctx: &mut Ctx, s: &[u8]) -> Option<i64> {
    let n = get_i64(ctx, s)?;
    if n < 0 && n != ENTRIES_READ_INVALID {
        ctx.out
            .err("ERR value for ENTRIESREAD must be positive or -1");
        return None;
    }
    Some(n)
}

fn xgroup(ctx: &mut Ctx, args: &Args) {
    let sub = args.get(1).to_ascii_lowercase();
    let argc = args.len();
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_INVALID;
    if sub == b"create" {
        let mut i = 5;
        while i < argc {
            let a = args.get(i);
            if a.eq_ignore_ascii_case(b"mkstream") {
                mkstream = true;
                i += 1;
            } else if a.eq_ignore_ascii_case(b"entriesread") && i + 1 < argc {
                let Some(n) = entries_read_arg(ctx, args.get(i + 1)) else {
                    return;
                };
                entries_read = n;
                i += 2;
            } else {
                return sub_syntax_error(ctx, args);
            }
        }
    }
    if sub == b"setid" && argc > 5 {
        let mut i = 5;
        if args.get(i).eq_ignore_ascii_case(b"entriesread") && i + 1 < argc {
            let Some(n) = entries_read_arg(ctx, args.get(i + 1)) else {
                return;
            };
            entries_read = n;
            i += 2;
        }
        if i < argc {
            return sub_syntax_error(ctx, args);
        }
    }
    let key = args.get(2);
    let gname = args.get(3);
    let exists = match write_stream(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(s) => s.map(|s| s.groups.contains_key(gname)),
    };
    if !mkstream {
        let Some(has_group) = exists else {
            return ctx.out.err(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            );
        };
        if !has_group && matches!(&sub[..], b"setid" | b"createconsumer" | b"delconsumer") {
            return err_nogroup_for_key(ctx, key, gname);
        }
    }
    let now = ctx.db.now();
    match &sub[..] {
        b"create" if (5..=8).contains(&argc) => {
            let idarg = args.get(4);
            let id = if idarg == b"$" {
                None
            } else {
                let Some(id) = strict_id(ctx, idarg, 0) else {
                    return;
                };
                Some(id)
            };
            if exists.is_none() {
                ctx.db.set(key, Value::Stream(Box::default()), false);
            }
            let Ok(Some(s)) = write_stream(ctx.db, ctx.out, key) else {
                return;
            };
            let id = id.unwrap_or(s.last_id);
            if s.groups.contains_key(gname) {
                return ctx.out.err("BUSYGROUP Consumer Group name already exists");
            }
            s.groups.insert(gname.into(), Group::new(id, entries_read));
            ctx.db.touched(key);
            ctx.notify(EV, "xgroup-create", key);
            ctx.out.ok();
        }
        b"setid" if argc == 5 || argc == 7 => {
            let idarg = args.get(4);
            let Ok(Some(s)) = write_stream(ctx.db, ctx.out, key) else {
                return;
            };
            let id = if idarg == b"$" {
                s.last_id
            } else {
                match parse_id(idarg, 0, false, false) {
                    Some((id, _)) => id,
                    None => return ctx.out.err(INVALID_ID),
                }
            };
            if let Some(g) = s.groups.get_mut(gname) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            ctx.db.touched(key);
            ctx.notify(EV, "xgroup-setid", key);
            ctx.out.ok();
        }
        b"destroy" if argc == 4 => {
            let Ok(Some(s)) = write_stream(ctx.db, ctx.out, key) else {
                return;
            };
            if s.groups.remove(gname).is_some() {
                ctx.db.touched(key);
                ctx.notify(EV, "xgroup-destroy", key);
                ctx.out.int(1);
            } else {
                ctx.out.int(0);
            }
        }
        b"createconsumer" if argc == 5 => {
            let Ok(Some(s)) = write_stream(ctx.db, ctx.out, key) else {
                return;
            };
            let created = s
                .groups
                .get_mut(gname)
                .is_some_and(|g| g.create_consumer(args.get(4), now));
            if created {
                ctx.db.touched(key);
                ctx.notify(EV, "xgroup-createconsumer", key);
            }
            ctx.out.int(created as i64);
        }
        b"delconsumer" if argc == 5 => {
            let Ok(Some(s)) = write_stream(ctx.db, ctx.out, key) else {
                return;
            };
            let pending = s
                .groups
                .get_mut(gname)
                .and_then(|g| g.delete_consumer(args.get(4)));
            if pending.is_some() {
                ctx.db.touched(key);
            }
            ctx.notify(EV, "xgroup-delconsumer", key);
            ctx.out.int(pending.unwrap_or(0) as i64);
        }
        _ => sub_syntax_error(ctx, args),
    }
}

// ----- XINFO ---------------------------------------------------------------

fn xinfo_help(ctx: &mut Ctx, _args: &Args) {
    let lines: &[&str] = &[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l.as_bytes());
    }
}

fn opt_int(out: &mut Reply, v: Option<i64>) {
    match v {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

/// XINFO STREAM's `[FULL [COUNT n]]`: (full, count), or Err(true) for a
/// syntax error, Err(false) for a bad integer.
fn stream_opts(args: &Args) -> Result<(bool, i64), bool> {
    let argc = args.len();
    if argc <= 3 {
        return Ok((false, 10));
    }
    if !args.get(3).eq_ignore_ascii_case(b"full") {
        return Err(true);
    }
    if argc == 6 && args.get(4).eq_ignore_ascii_case(b"count") {
        let c = parse_i64(args.get(5)).ok_or(false)?;
        return Ok((true, if c < 0 { 10 } else { c }));
    }
    if argc > 4 {
        return Err(true);
    }
    Ok((true, 10))
}

fn xinfo(ctx: &mut Ctx, args: &Args) {
    let sub = args.get(1).to_ascii_lowercase();
    let key = args.get(2);
    let now = ctx.db.now();
    let full_opts = stream_opts(args);
    let s = match read_stream(ctx.db, ctx.out, key) {
        Err(()) => return,
        Ok(None) => return ctx.out.err("ERR no such key"),
        Ok(Some(s)) => &*s,
    };
    match &sub[..] {
        b"consumers" => {
            let gname = args.get(3);
            let Some(g) = s.groups.get(gname) else {
                return err_nogroup_for_key(ctx, key, gname);
            };
            let out = &mut *ctx.out;
            out.array(g.consumers.len());
            for (name, c) in &g.consumers {
                out.map(3);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"pending");
                out.int(c.pel.len() as i64);
                out.bulk(b"idle");
                out.int((now - c.seen_time).max(0));
            }
        }
        b"groups" => {
            let out = &mut *ctx.out;
            out.array(s.groups.len());
            for (name, g) in &s.groups {
                out.map(6);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"consumers");
                out.int(g.consumers.len() as i64);
                out.bulk(b"pending");
                out.int(g.pel.len() as i64);
                out.bulk(b"last-delivered-id");
                reply_id(out, g.last_id);
                out.bulk(b"entries-read");
                opt_int(
                    out,
                    (g.entries_read != ENTRIES_READ_INVALID).then_some(g.entries_read),
                );
                out.bulk(b"lag");
                opt_int(out, s.group_lag(g));
            }
        }
        _ => {
            let (full, count) = match full_opts {
                Ok(v) => v,
                Err(true) => return sub_syntax_error(ctx, args),
                Err(false) => return ctx.not_integer(),
            };
            let out = &mut *ctx.out;
            out.map(if full { 9 } else { 10 });
            out.bulk(b"length");
            out.int(s.len() as i64);
            out.bulk(b"radix-tree-keys");
            out.int(s.node_count() as i64);
            out.bulk(b"radix-tree-nodes");
            out.int(s.radix_tree_nodes() as i64);
            out.bulk(b"last-generated-id");
            reply_id(out, s.last_id);
            out.bulk(b"max-deleted-entry-id");
            reply_id(out, s.max_deleted_id);
            out.bulk(b"entries-added");
            out.int(s.entries_added as i64);
            out.bulk(b"recorded-first-entry-id");
            reply_id(out, s.first_id);
            if !full {
                out.bulk(b"groups");
                out.int(s.groups.len() as i64);
                out.bulk(b"first-entry");
                match s.range(StreamId::ZERO, StreamId::MAX).next() {
                    Some(e) => reply_entry(out, &e),
                    None => out.null(),
                }
                out.bulk(b"last-entry");
                match s.range_rev(StreamId::ZERO, StreamId::MAX).next() {
                    Some(e) => reply_entry(out, &e),
                    None => out.null(),
                }
                return;
            }
            let limit = if count == 0 {
                usize::MAX
            } else {
                count as usize
            };
            out.bulk(b"entries");
            let d = out.begin_deferred();
            let mut n = 0;
            for e in s.range(StreamId::ZERO, StreamId::MAX).take(limit) {
                reply_entry(out, &e);
                n += 1;
            }
            out.end_deferred(d, n);
            out.bulk(b"groups");
            out.array(s.groups.len());
            for (name, g) in &s.groups {
                out.map(7);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"last-delivered-id");
                reply_id(out, g.last_id);
                out.bulk(b"entries-read");
                opt_int(
                    out,
                    (g.entries_read != ENTRIES_READ_INVALID).then_some(g.entries_read),
                );
                out.bulk(b"lag");
                opt_int(out, s.group_lag(g));
                out.bulk(b"pel-count");
                out.int(g.pel.len() as i64);
                out.bulk(b"pending");
                let pel: Vec<_> = g.pel.iter().take(limit).collect();
                out.array(pel.len());
                for (id, p) in pel {
                    out.array(4);
                    reply_id(out, *id);
                    out.bulk(&p.consumer);
                    out.int(p.delivery_time);
                    out.int(p.delivery_count as i64);
                }
                out.bulk(b"consumers");
                out.array(g.consumers.len());
                for (cname, c) in &g.consumers {
                    out.map(4);
                    out.bulk(b"name");
                    out.bulk(cname);
                    out.bulk(b"seen-time");
                    out.int(c.seen_time);
                    out.bulk(b"pel-count");
                    out.int(c.pel.len() as i64);
                    out.bulk(b"pending");
                    let ids: Vec<_> = c.pel.iter().take(limit).collect();
                    out.array(ids.len());
                    for id in ids {
                        let p = &g.pel[id];
                        out.array(3);
                        reply_id(out, *id);
                        out.int(p.delivery_time);
                        out.int(p.delivery_count as i64);
                    }
                }
            }
        }
    }
}
