//! String commands: GET, SET and its options, the GETEX/GETDEL/GETSET
//! family, MGET/MSET/MSETNX, SETNX/SETEX/PSETEX, APPEND, STRLEN, GETRANGE,
//! SUBSTR, SETRANGE, the integer and float counters, and LCS.
//!
//! Every reply and error text follows Redis 7.0.15. Reads that Redis makes
//! with its "read" lookup go through `Db::get` (hit/miss statistics, LRU);
//! the write-side lookups (INCR, APPEND, SETRANGE, MSETNX …) use
//! [`write_lookup`], which stamps the LRU clock but leaves the hit/miss
//! counters alone, as Redis does. `Entry::raw` is kept so `OBJECT ENCODING`
//! answers `int`, `embstr` or `raw` exactly as Redis would.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::protocol::reply::Reply;
use crate::storage::keyspace::Db;
use crate::storage::notify::{GENERIC, STRING};
use crate::storage::value::{EMBSTR_MAX, Entry, NO_EXPIRE, Value, string_value};
use crate::util::float::incr_by_float;
use crate::util::num::parse_i64;
use compact_bytes::CompactBytes;

/// Keys of MGET: every argument.
const MGET_KEYS: Keys = Keys::ALL_ARGS;
/// Keys of MSET / MSETNX: every other argument from 1.
const MSET_KEYS: Keys = Keys::Range {
    first: 1,
    last: -1,
    step: 2,
};
/// Keys of LCS: arguments 1 and 2.
const LCS_KEYS: Keys = Keys::Range {
    first: 1,
    last: 2,
    step: 1,
};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "get",
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::READ | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Returns the string stored at a key.",
        handler: get,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "set",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::STRING | acl::SLOW,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Stores a string at a key, with optional expiry and conditions.",
        handler: set,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "getex",
        arity: -2,
        flags: WRITE | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "6.2.0",
        summary: "Returns a string value and changes or removes its time to live.",
        handler: getex,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "getdel",
        arity: 2,
        flags: WRITE | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "6.2.0",
        summary: "Returns a string value and deletes its key.",
        handler: getdel,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "getset",
        arity: 3,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Stores a new string and returns the one it replaced.",
        handler: getset,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "mget",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::READ | acl::STRING | acl::FAST,
        keys: MGET_KEYS,
        group: "string",
        since: "1.0.0",
        summary: "Returns the string values of several keys.",
        handler: mget,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "mset",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::STRING | acl::SLOW,
        keys: MSET_KEYS,
        group: "string",
        since: "1.0.1",
        summary: "Stores several strings at once.",
        handler: mset,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "msetnx",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::STRING | acl::SLOW,
        keys: MSET_KEYS,
        group: "string",
        since: "1.0.1",
        summary: "Stores several strings only if none of their keys exists.",
        handler: msetnx,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "setnx",
        arity: 3,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Stores a string only if the key does not exist yet.",
        handler: setnx,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "setex",
        arity: 4,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::STRING | acl::SLOW,
        keys: Keys::ONE,
        group: "string",
        since: "2.0.0",
        summary: "Stores a string with a time to live in seconds.",
        handler: setex,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "psetex",
        arity: 4,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::STRING | acl::SLOW,
        keys: Keys::ONE,
        group: "string",
        since: "2.6.0",
        summary: "Stores a string with a time to live in milliseconds.",
        handler: psetex,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "append",
        arity: 3,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "2.0.0",
        summary: "Adds bytes at the end of a string, creating it when missing.",
        handler: append,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "strlen",
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::READ | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "2.2.0",
        summary: "Returns the length in bytes of a string value.",
        handler: strlen,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "getrange",
        arity: 4,
        flags: READONLY,
        acl: acl::READ | acl::STRING | acl::SLOW,
        keys: Keys::ONE,
        group: "string",
        since: "2.4.0",
        summary: "Returns a byte range of a string value.",
        handler: getrange,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "substr",
        arity: 4,
        flags: READONLY,
        acl: acl::READ | acl::STRING | acl::SLOW,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Returns a byte range of a string value (old name of GETRANGE).",
        handler: getrange,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "setrange",
        arity: 4,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::STRING | acl::SLOW,
        keys: Keys::ONE,
        group: "string",
        since: "2.2.0",
        summary: "Overwrites part of a string from an offset, padding with zero bytes.",
        handler: setrange,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "incr",
        arity: 2,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Adds one to the integer stored at a key.",
        handler: incr,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "decr",
        arity: 2,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Subtracts one from the integer stored at a key.",
        handler: decr,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "incrby",
        arity: 3,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Adds an amount to the integer stored at a key.",
        handler: incrby,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "decrby",
        arity: 3,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "1.0.0",
        summary: "Subtracts an amount from the integer stored at a key.",
        handler: decrby,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "incrbyfloat",
        arity: 3,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::WRITE | acl::STRING | acl::FAST,
        keys: Keys::ONE,
        group: "string",
        since: "2.6.0",
        summary: "Adds a floating point amount to the number stored at a key.",
        handler: incrbyfloat,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "lcs",
        arity: -3,
        flags: READONLY,
        acl: acl::READ | acl::STRING | acl::SLOW,
        keys: LCS_KEYS,
        group: "string",
        since: "7.0.0",
        summary: "Finds the longest common subsequence of two string values.",
        handler: lcs,
        ..CommandDef::DEFAULT
    },
];

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// A write-side key lookup: expired keys are deleted and the LRU clock is
/// stamped, but hits and misses are not counted (Redis's write lookup).
#[inline]
fn write_lookup<'d>(db: &'d mut Db, key: &[u8]) -> Option<&'d mut Entry> {
    let ks = db.keyspace();
    let e = db.peek(key)?;
    e.lru = ks.touch_stamp(e.lru);
    Some(e)
}

/// Writes a string value as a bulk reply. Returns false (writing nothing)
/// when the value is not a string.
#[inline]
fn reply_string(out: &mut Reply, v: &Value) -> bool {
    match v {
        Value::Str(s) => out.bulk(s),
        Value::Int(n) => out.bulk_int(*n),
        #[allow(unreachable_patterns)]
        _ => return false,
    }
    true
}

/// The bytes of a string value; integers are formatted into `buf`. `None`
/// when the value is not a string.
#[inline]
fn string_bytes<'v>(v: &'v Value, buf: &'v mut itoa::Buffer) -> Option<&'v [u8]> {
    match v {
        Value::Str(s) => Some(s),
        Value::Int(n) => Some(buf.format(*n).as_bytes()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Length of a string value, `None` when the value is not a string.
fn string_len(v: &Value) -> Option<usize> {
    let mut buf = itoa::Buffer::new();
    string_bytes(v, &mut buf).map(<[u8]>::len)
}

/// Turns a string value into modifiable bytes (an integer becomes its
/// decimal text). The caller has checked the value is a string.
fn make_bytes(v: &mut Value) -> &mut CompactBytes {
    if let Value::Int(n) = *v {
        let mut buf = itoa::Buffer::new();
        *v = Value::Str(CompactBytes::new(buf.format(n).as_bytes()));
    }
    match v {
        Value::Str(s) => s,
        _ => unreachable!("make_bytes on a non-string value"),
    }
}

/// Appends `n` zero bytes.
fn extend_zeros(s: &mut CompactBytes, mut n: usize) {
    const ZEROS: [u8; 4096] = [0; 4096];
    s.reserve(n);
    while n > 0 {
        let k = n.min(ZEROS.len());
        s.extend_from_slice(&ZEROS[..k]);
        n -= k;
    }
}

/// True when a string of `size + append` bytes fits the configured bulk
/// limit (`proto-max-bulk-len`), overflow included.
fn fits_bulk(max: u64, size: u64, append: u64) -> bool {
    size.checked_add(append).is_some_and(|total| total <= max)
}

/// The error of a string that would outgrow `proto-max-bulk-len`.
fn too_big(out: &mut Reply) {
    out.err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
}

/// How an expiry argument is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    /// EX: relative seconds.
    Ex,
    /// PX: relative milliseconds.
    Px,
    /// EXAT: absolute Unix seconds.
    ExAt,
    /// PXAT: absolute Unix milliseconds.
    PxAt,
}

impl ExpireKind {
    fn is_absolute(self) -> bool {
        matches!(self, ExpireKind::ExAt | ExpireKind::PxAt)
    }
}

/// Converts an expiry argument to an absolute Unix time in milliseconds,
/// with Redis's checks: the number must be a strict integer (`ERR value is
/// not an integer or out of range`), positive, and neither the conversion
/// to milliseconds nor the addition of the current time may overflow
/// (`ERR invalid expire time in '<cmd>' command`). On error the reply is
/// written and `None` returned.
fn expire_at_ms(ctx: &mut Ctx, kind: ExpireKind, arg: &[u8]) -> Option<i64> {
    let Some(n) = parse_i64(arg) else {
        ctx.not_integer();
        return None;
    };
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    let mut ms = n;
    let valid = n > 0 && (!seconds || n <= i64::MAX / 1000);
    if valid {
        if seconds {
            ms *= 1000;
        }
        if !kind.is_absolute() {
            ms = ms.wrapping_add(ctx.db.now());
        }
    }
    if !valid || ms <= 0 {
        invalid_expire(ctx);
        return None;
    }
    // i64::MAX means "no TTL" in the keyspace; the farthest possible expiry
    // is one millisecond earlier.
    Some(ms.min(NO_EXPIRE - 1))
}

fn invalid_expire(ctx: &mut Ctx) {
    let msg = format!("ERR invalid expire time in '{}' command", ctx.def.name);
    ctx.out.err(&msg);
}

/// Options of SET and GETEX.
#[derive(Default)]
struct StringOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a [u8])>,
}

/// Parses the options of SET (`for_set`) or GETEX from argument 3 / 2 on,
/// with Redis's compatibility rules: NX and XX exclude each other; GET and
/// KEEPTTL belong to SET, PERSIST to GETEX; only one kind of expiry may be
/// given (repeating the same kind is accepted, the last value wins), and
/// not together with KEEPTTL or PERSIST. Anything else is `ERR syntax
/// error` (written here; `None` returned).
fn parse_string_opts<'a>(ctx: &mut Ctx, args: &Args<'a>, for_set: bool) -> Option<StringOpts<'a>> {
    let mut o = StringOpts::default();
    let mut i = if for_set { 3 } else { 2 };
    while i < args.len() {
        let opt = args.get(i);
        let has_next = i + 1 < args.len();
        let kind = |k: ExpireKind| o.expire.is_none_or(|(have, _)| have == k);
        let expire_kind = if opt.eq_ignore_ascii_case(b"ex") {
            Some(ExpireKind::Ex)
        } else if opt.eq_ignore_ascii_case(b"px") {
            Some(ExpireKind::Px)
        } else if opt.eq_ignore_ascii_case(b"exat") {
            Some(ExpireKind::ExAt)
        } else if opt.eq_ignore_ascii_case(b"pxat") {
            Some(ExpireKind::PxAt)
        } else {
            None
        };
        if let Some(k) = expire_kind {
            if !kind(k) || o.keep_ttl || o.persist || !has_next {
                ctx.syntax_error();
                return None;
            }
            o.expire = Some((k, args.get(i + 1)));
            i += 2;
            continue;
        }
        if for_set && opt.eq_ignore_ascii_case(b"nx") && !o.xx {
            o.nx = true;
        } else if for_set && opt.eq_ignore_ascii_case(b"xx") && !o.nx {
            o.xx = true;
        } else if for_set && opt.eq_ignore_ascii_case(b"get") {
            o.get = true;
        } else if for_set && opt.eq_ignore_ascii_case(b"keepttl") && o.expire.is_none() {
            o.keep_ttl = true;
        } else if !for_set && opt.eq_ignore_ascii_case(b"persist") && o.expire.is_none() {
            o.persist = true;
        } else {
            ctx.syntax_error();
            return None;
        }
        i += 1;
    }
    Some(o)
}

/// What a SET-like command answers when it stored the value, and when a
/// NX / XX condition stopped it.
#[derive(Clone, Copy)]
enum SetReply {
    /// `+OK`, or a null when not stored (SET, SETEX, PSETEX).
    OkOrNull,
    /// `:1` / `:0` (SETNX).
    OneOrZero,
}

/// The common part of SET, SETNX, SETEX and PSETEX. `expire_at` is the
/// already validated absolute expiry.
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    val: &[u8],
    opts: &StringOpts,
    expire_at: Option<i64>,
    reply: SetReply,
) {
    let found = if opts.get {
        // The old value is answered first (a read lookup, as GET).
        match ctx.db.get(key) {
            None => {
                ctx.out.null();
                false
            }
            Some(e) => {
                if !reply_string(ctx.out, &e.value) {
                    ctx.wrong_type();
                    return;
                }
                true
            }
        }
    } else if opts.nx || opts.xx {
        write_lookup(ctx.db, key).is_some()
    } else {
        false
    };
    if (opts.nx && found) || (opts.xx && !found) {
        if !opts.get {
            match reply {
                SetReply::OkOrNull => ctx.out.null(),
                SetReply::OneOrZero => ctx.out.int(0),
            }
        }
        return;
    }
    let value = string_value(val);
    match expire_at {
        None => ctx.db.set(key, value, opts.keep_ttl),
        Some(at) => {
            let lru = ctx.db.keyspace().new_stamp();
            let entry = Entry::new(value, lru);
            ctx.db.set_entry(key, entry, at);
            // An absolute time, so replicas and reloads agree.
            let mut buf = itoa::Buffer::new();
            ctx.propagate_as(&[b"SET", key, val, b"PXAT", buf.format(at).as_bytes()]);
        }
    }
    ctx.notify(STRING, "set", key);
    if expire_at.is_some() {
        ctx.notify(GENERIC, "expire", key);
    }
    if !opts.get {
        match reply {
            SetReply::OkOrNull => ctx.out.ok(),
            SetReply::OneOrZero => ctx.out.int(1),
        }
    }
}

// ---------------------------------------------------------------------------
// GET / SET family
// ---------------------------------------------------------------------------

fn get(ctx: &mut Ctx, args: &Args) {
    match ctx.db.get(args.get(1)) {
        None => ctx.out.null(),
        Some(e) => {
            if !reply_string(ctx.out, &e.value) {
                ctx.wrong_type();
            }
        }
    }
}

fn set(ctx: &mut Ctx, args: &Args) {
    if args.len() == 3 {
        // The hot path: no options, one hash and one table operation.
        ctx.db.set(args.get(1), string_value(args.get(2)), false);
        ctx.notify(STRING, "set", args.get(1));
        ctx.out.ok();
        return;
    }
    let Some(opts) = parse_string_opts(ctx, args, true) else {
        return;
    };
    let expire_at = match opts.expire {
        Some((kind, arg)) => match expire_at_ms(ctx, kind, arg) {
            Some(at) => Some(at),
            None => return,
        },
        None => None,
    };
    set_generic(
        ctx,
        args.get(1),
        args.get(2),
        &opts,
        expire_at,
        SetReply::OkOrNull,
    );
}

fn setnx(ctx: &mut Ctx, args: &Args) {
    let opts = StringOpts {
        nx: true,
        ..StringOpts::default()
    };
    set_generic(
        ctx,
        args.get(1),
        args.get(2),
        &opts,
        None,
        SetReply::OneOrZero,
    );
}

fn setex_generic(ctx: &mut Ctx, args: &Args, kind: ExpireKind) {
    let Some(at) = expire_at_ms(ctx, kind, args.get(2)) else {
        return;
    };
    set_generic(
        ctx,
        args.get(1),
        args.get(3),
        &StringOpts::default(),
        Some(at),
        SetReply::OkOrNull,
    );
}

fn setex(ctx: &mut Ctx, args: &Args) {
    setex_generic(ctx, args, ExpireKind::Ex);
}

fn psetex(ctx: &mut Ctx, args: &Args) {
    setex_generic(ctx, args, ExpireKind::Px);
}

fn getex(ctx: &mut Ctx, args: &Args) {
    let Some(opts) = parse_string_opts(ctx, args, false) else {
        return;
    };
    let key = args.get(1);
    match ctx.db.get(key) {
        None => {
            ctx.out.null();
            return;
        }
        Some(e) =>
        {
            #[allow(unreachable_patterns)]
            if !matches!(e.value, Value::Str(_) | Value::Int(_)) {
                ctx.wrong_type();
                return;
            }
        }
    }
    // The expiry is validated only once the key is known to be a string.
    let expire = match opts.expire {
        Some((kind, arg)) => match expire_at_ms(ctx, kind, arg) {
            Some(at) => Some((kind, at)),
            None => return,
        },
        None => None,
    };
    let Some(e) = ctx.db.peek(key) else {
        unreachable!("the key was found above under the same lock");
    };
    reply_string(ctx.out, &e.value);
    match expire {
        Some((kind, at)) if kind.is_absolute() && at <= ctx.db.now() => {
            ctx.db.remove(key);
            ctx.notify(GENERIC, "del", key);
            ctx.propagate_as(&[b"DEL", key]);
        }
        Some((_, at)) => {
            ctx.db.set_expire(key, at);
            ctx.notify(GENERIC, "expire", key);
            let mut buf = itoa::Buffer::new();
            ctx.propagate_as(&[b"PEXPIREAT", key, buf.format(at).as_bytes()]);
        }
        None if opts.persist && ctx.db.persist(key) => {
            ctx.notify(GENERIC, "persist", key);
            ctx.propagate_as(&[b"PERSIST", key]);
        }
        None => {}
    }
}

fn getdel(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    match ctx.db.get(key) {
        None => ctx.out.null(),
        Some(e) => {
            if !reply_string(ctx.out, &e.value) {
                ctx.wrong_type();
                return;
            }
            ctx.db.remove(key);
            ctx.notify(GENERIC, "del", key);
        }
    }
}

fn getset(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    match ctx.db.get(key) {
        None => ctx.out.null(),
        Some(e) => {
            if !reply_string(ctx.out, &e.value) {
                ctx.wrong_type();
                return;
            }
        }
    }
    ctx.db.set(key, string_value(args.get(2)), false);
    ctx.notify(STRING, "set", key);
}

fn mget(ctx: &mut Ctx, args: &Args) {
    ctx.out.array(args.len() - 1);
    for i in 1..args.len() {
        match ctx.db.get(args.get(i)) {
            Some(e) => {
                if !reply_string(ctx.out, &e.value) {
                    ctx.out.null();
                }
            }
            None => ctx.out.null(),
        }
    }
}

/// Answers MSET/MSETNX's arity error (an even argument count); true when
/// the count is right.
fn mset_arity_ok(ctx: &mut Ctx, args: &Args) -> bool {
    if args.len().is_multiple_of(2) {
        let msg = format!(
            "ERR wrong number of arguments for '{}' command",
            ctx.def.name
        );
        ctx.out.err(&msg);
        return false;
    }
    true
}

fn mset_all(ctx: &mut Ctx, args: &Args) {
    for i in (1..args.len()).step_by(2) {
        ctx.db
            .set(args.get(i), string_value(args.get(i + 1)), false);
        ctx.notify(STRING, "set", args.get(i));
    }
}

fn mset(ctx: &mut Ctx, args: &Args) {
    if !mset_arity_ok(ctx, args) {
        return;
    }
    mset_all(ctx, args);
    ctx.out.ok();
}

fn msetnx(ctx: &mut Ctx, args: &Args) {
    if !mset_arity_ok(ctx, args) {
        return;
    }
    for i in (1..args.len()).step_by(2) {
        if write_lookup(ctx.db, args.get(i)).is_some() {
            ctx.out.int(0);
            return;
        }
    }
    mset_all(ctx, args);
    ctx.out.int(1);
}

// ---------------------------------------------------------------------------
// APPEND, STRLEN, ranges
// ---------------------------------------------------------------------------

fn append(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let extra = args.get(2);
    let Some(e) = write_lookup(ctx.db, key) else {
        ctx.db.set(key, string_value(extra), false);
        ctx.notify(STRING, "append", key);
        ctx.out.int(extra.len() as i64);
        return;
    };
    let Some(len) = string_len(&e.value) else {
        ctx.wrong_type();
        return;
    };
    if !fits_bulk(
        ctx.client.settings.proto_max_bulk_len,
        len as u64,
        extra.len() as u64,
    ) {
        too_big(ctx.out);
        return;
    }
    let s = make_bytes(&mut e.value);
    s.extend_from_slice(extra);
    let total = s.len();
    // A string grown in place is no longer an embedded one.
    e.raw = true;
    ctx.db.touched(key);
    ctx.notify(STRING, "append", key);
    ctx.out.int(total as i64);
}

fn strlen(ctx: &mut Ctx, args: &Args) {
    match ctx.db.get(args.get(1)) {
        None => ctx.out.int(0),
        Some(e) => match string_len(&e.value) {
            Some(n) => ctx.out.int(n as i64),
            None => ctx.wrong_type(),
        },
    }
}

/// GETRANGE and SUBSTR.
fn getrange(ctx: &mut Ctx, args: &Args) {
    let (Some(start), Some(end)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        ctx.not_integer();
        return;
    };
    let Some(e) = ctx.db.get(args.get(1)) else {
        ctx.out.bulk(b"");
        return;
    };
    let mut buf = itoa::Buffer::new();
    let Some(s) = string_bytes(&e.value, &mut buf) else {
        ctx.wrong_type();
        return;
    };
    match byte_range(s.len(), start, end) {
        Some((from, to)) => ctx.out.bulk(&s[from..=to]),
        None => ctx.out.bulk(b""),
    }
}

/// The inclusive byte range GETRANGE answers for a string of `len` bytes,
/// or `None` when it is empty. Negative indexes count from the end and are
/// clamped to the start; an end past the string is clamped to its last
/// byte; two negative indexes in the wrong order give nothing.
fn byte_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if len == 0 || (start < 0 && end < 0 && start > end) {
        return None;
    }
    let len = len as i64;
    let resolve = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let start = resolve(start);
    let end = resolve(end).min(len - 1);
    (start <= end).then_some((start as usize, end as usize))
}

fn setrange(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let patch = args.get(3);
    let Some(offset) = parse_i64(args.get(2)) else {
        ctx.not_integer();
        return;
    };
    if offset < 0 {
        ctx.out.err("ERR offset is out of range");
        return;
    }
    let fits = fits_bulk(
        ctx.client.settings.proto_max_bulk_len,
        offset as u64,
        patch.len() as u64,
    );
    let Some(e) = write_lookup(ctx.db, key) else {
        if patch.is_empty() {
            ctx.out.int(0);
            return;
        }
        if !fits {
            too_big(ctx.out);
            return;
        }
        let mut s = CompactBytes::with_capacity(offset as usize + patch.len());
        extend_zeros(&mut s, offset as usize);
        s.extend_from_slice(patch);
        let total = s.len();
        let lru = ctx.db.keyspace().new_stamp();
        let mut entry = Entry::new(Value::Str(s), lru);
        // A string built by SETRANGE is never an embedded one.
        entry.raw = true;
        let db = ctx.db.index;
        ctx.db.insert_entry_in(db, key, entry, NO_EXPIRE);
        ctx.notify(STRING, "setrange", key);
        ctx.out.int(total as i64);
        return;
    };
    let Some(len) = string_len(&e.value) else {
        ctx.wrong_type();
        return;
    };
    if patch.is_empty() {
        ctx.out.int(len as i64);
        return;
    }
    if !fits {
        too_big(ctx.out);
        return;
    }
    let offset = offset as usize;
    let s = make_bytes(&mut e.value);
    if s.len() < offset + patch.len() {
        extend_zeros(s, offset + patch.len() - s.len());
    }
    s[offset..offset + patch.len()].copy_from_slice(patch);
    let total = s.len();
    e.raw = true;
    ctx.db.touched(key);
    ctx.notify(STRING, "setrange", key);
    ctx.out.int(total as i64);
}

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

/// Adds `delta` to the integer at `key` (0 when missing), keeping its TTL,
/// and answers the new value.
fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) {
    let Some(e) = write_lookup(ctx.db, key) else {
        ctx.db.set(key, Value::Int(delta), false);
        ctx.notify(STRING, "incrby", key);
        ctx.out.int(delta);
        return;
    };
    let current = match &e.value {
        Value::Int(n) => *n,
        Value::Str(s) => match parse_i64(s) {
            Some(n) => n,
            None => {
                ctx.not_integer();
                return;
            }
        },
        #[allow(unreachable_patterns)]
        _ => {
            ctx.wrong_type();
            return;
        }
    };
    let Some(new) = current.checked_add(delta) else {
        ctx.out.err("ERR increment or decrement would overflow");
        return;
    };
    e.value = Value::Int(new);
    e.raw = false;
    ctx.db.touched(key);
    ctx.notify(STRING, "incrby", key);
    ctx.out.int(new);
}

fn incr(ctx: &mut Ctx, args: &Args) {
    incr_by(ctx, args.get(1), 1);
}

fn decr(ctx: &mut Ctx, args: &Args) {
    incr_by(ctx, args.get(1), -1);
}

fn incrby(ctx: &mut Ctx, args: &Args) {
    match parse_i64(args.get(2)) {
        Some(n) => incr_by(ctx, args.get(1), n),
        None => ctx.not_integer(),
    }
}

fn decrby(ctx: &mut Ctx, args: &Args) {
    match parse_i64(args.get(2)) {
        Some(i64::MIN) => ctx.out.err("ERR decrement would overflow"),
        Some(n) => incr_by(ctx, args.get(1), -n),
        None => ctx.not_integer(),
    }
}

fn incrbyfloat(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let ks = ctx.db.keyspace();
    let e = ctx.db.peek(key);
    let mut buf = itoa::Buffer::new();
    let current: &[u8] = match &e {
        None => b"0",
        Some(e) => match string_bytes(&e.value, &mut buf) {
            Some(s) => s,
            None => {
                ctx.wrong_type();
                return;
            }
        },
    };
    let sum = match incr_by_float(current, args.get(2)) {
        Ok(sum) => sum,
        Err(err) => {
            let msg = format!("ERR {}", err.incrbyfloat_message());
            ctx.out.err(&msg);
            return;
        }
    };
    // The result is stored as text (`embstr` or `raw`), never as `int`.
    let value = Value::Str(CompactBytes::new(&sum));
    match e {
        Some(e) => {
            e.value = value;
            e.raw = sum.len() > EMBSTR_MAX;
            e.lru = ks.touch_stamp(e.lru);
            ctx.db.touched(key);
        }
        None => {
            let entry = Entry::new(value, ks.new_stamp());
            let db = ctx.db.index;
            ctx.db.insert_entry_in(db, key, entry, NO_EXPIRE);
        }
    }
    ctx.notify(STRING, "incrbyfloat", key);
    // The text of the result, not the increment: floating-point rounding
    // must not differ on a replica or on reload.
    ctx.propagate_as(&[b"SET", key, &sum, b"KEEPTTL"]);
    ctx.out.bulk(&sum);
}

// ---------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------

/// One matching stretch found by LCS IDX: inclusive ranges in each string.
struct LcsMatch {
    a: (u32, u32),
    b: (u32, u32),
}

/// Reads a string value for LCS: `Ok(None)` for a missing key, `Err` when
/// the key holds another type.
fn lcs_operand(db: &mut Db, key: &[u8]) -> Result<Vec<u8>, ()> {
    match db.get(key) {
        None => Ok(Vec::new()),
        Some(e) => {
            let mut buf = itoa::Buffer::new();
            string_bytes(&e.value, &mut buf)
                .map(<[u8]>::to_vec)
                .ok_or(())
        }
    }
}

fn lcs(ctx: &mut Ctx, args: &Args) {
    let a = lcs_operand(ctx.db, args.get(1));
    let b = lcs_operand(ctx.db, args.get(2));
    let (Ok(a), Ok(b)) = (a, b) else {
        ctx.out
            .err("ERR The specified keys must contain string values");
        return;
    };
    let (mut want_idx, mut want_len, mut with_len) = (false, false, false);
    let mut min_len: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"idx") {
            want_idx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            want_len = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            with_len = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && i + 1 < args.len() {
            let Some(n) = parse_i64(args.get(i + 1)) else {
                ctx.not_integer();
                return;
            };
            min_len = n.max(0);
            i += 1;
        } else {
            ctx.syntax_error();
            return;
        }
        i += 1;
    }
    if want_idx && want_len {
        ctx.out
            .err("ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        ctx.out.err("ERR String too long for LCS");
        return;
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    let bytes = cells.checked_mul(4);
    if bytes.is_some_and(|n| n > ctx.client.settings.proto_max_bulk_len) {
        ctx.out
            .err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    let Some(table) = bytes.and_then(|_| lcs_table(&a, &b)) else {
        ctx.out
            .err("ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    };
    let width = b.len() + 1;
    let total = table[a.len() * width + b.len()];
    if want_len {
        ctx.out.int(total as i64);
        return;
    }
    let (text, matches) = lcs_walk(&a, &b, &table, total as usize);
    if !want_idx {
        ctx.out.bulk(&text);
        return;
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    let shown: Vec<&LcsMatch> = matches
        .iter()
        .filter(|m| min_len == 0 || (m.a.1 - m.a.0 + 1) as i64 >= min_len)
        .collect();
    ctx.out.array(shown.len());
    for m in shown {
        ctx.out.array(if with_len { 3 } else { 2 });
        ctx.out.array(2);
        ctx.out.int(m.a.0 as i64);
        ctx.out.int(m.a.1 as i64);
        ctx.out.array(2);
        ctx.out.int(m.b.0 as i64);
        ctx.out.int(m.b.1 as i64);
        if with_len {
            ctx.out.int((m.a.1 - m.a.0 + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
}

/// The dynamic-programming table of LCS lengths: cell `(i, j)` (row-major,
/// `b.len() + 1` columns) is the LCS length of `a[..i]` and `b[..j]`.
/// `None` when the table cannot be allocated.
fn lcs_table(a: &[u8], b: &[u8]) -> Option<Vec<u32>> {
    let width = b.len() + 1;
    let cells = (a.len() + 1).checked_mul(width)?;
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact(cells).ok()?;
    t.resize(cells, 0);
    for i in 1..=a.len() {
        let (done, row) = t.split_at_mut(i * width);
        let prev = &done[(i - 1) * width..];
        let row = &mut row[..width];
        for j in 1..width {
            row[j] = if a[i - 1] == b[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(row[j - 1])
            };
        }
    }
    Some(t)
}

/// Walks the table back from the end, as Redis does, collecting the common
/// subsequence and the matching stretches (last stretch first). On a
/// mismatch the walk moves up in `a` when that keeps a strictly longer LCS,
/// left in `b` otherwise; this tie-break decides which of several equally
/// long answers is reported.
fn lcs_walk(a: &[u8], b: &[u8], t: &[u32], total: usize) -> (Vec<u8>, Vec<LcsMatch>) {
    let width = b.len() + 1;
    let mut text = vec![0u8; total];
    let mut left = total;
    let mut matches = Vec::new();
    // The stretch being extended backwards: (a range, b range).
    let mut open: Option<LcsMatch> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            left -= 1;
            text[left] = a[i - 1];
            let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
            match &mut open {
                Some(m) if m.a.0 == ai + 1 && m.b.0 == bj + 1 => {
                    m.a.0 = ai;
                    m.b.0 = bj;
                }
                Some(_) => {
                    matches.extend(open.take());
                    open = Some(LcsMatch {
                        a: (ai, ai),
                        b: (bj, bj),
                    });
                }
                None => {
                    open = Some(LcsMatch {
                        a: (ai, ai),
                        b: (bj, bj),
                    })
                }
            }
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * width + j] > t[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            matches.extend(open.take());
        }
    }
    matches.extend(open.take());
    (text, matches)
}
