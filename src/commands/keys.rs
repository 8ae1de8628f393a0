//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME(NX), MOVE, COPY,
//! KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TOUCH and
//! OBJECT.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::config::{MaxmemoryPolicy, Settings};
use crate::storage::keyspace::Key;
use crate::storage::notify::GENERIC;
use crate::storage::value::{Entry, NO_EXPIRE, Value};
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;

/// Source and destination keys at arguments 1 and 2.
const TWO_KEYS: Keys = Keys::Range {
    first: 1,
    last: 2,
    step: 1,
};

/// The key of an `OBJECT <sub> key` call.
const OBJECT_KEY: Keys = Keys::Range {
    first: 2,
    last: 2,
    step: 1,
};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "del",
        arity: -2,
        flags: WRITE,
        acl: acl::KEYSPACE | acl::WRITE | acl::SLOW,
        keys: Keys::ALL_ARGS,
        since: "1.0.0",
        summary: "Deletes keys.",
        handler: del,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "unlink",
        arity: -2,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE | acl::WRITE | acl::FAST,
        keys: Keys::ALL_ARGS,
        since: "4.0.0",
        summary: "Deletes keys, freeing their memory in the background.",
        handler: del,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "exists",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE | acl::READ | acl::FAST,
        keys: Keys::ALL_ARGS,
        since: "1.0.0",
        summary: "Counts how many of the given keys exist.",
        handler: exists,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "type",
        arity: 2,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE | acl::READ | acl::FAST,
        keys: Keys::ONE,
        since: "1.0.0",
        summary: "Names the type of the value at a key.",
        handler: type_cmd,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "rename",
        arity: 3,
        flags: WRITE,
        acl: acl::KEYSPACE | acl::WRITE | acl::SLOW,
        keys: TWO_KEYS,
        since: "1.0.0",
        summary: "Gives a key a new name, replacing any key with that name.",
        handler: rename,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "renamenx",
        arity: 3,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE | acl::WRITE | acl::FAST,
        keys: TWO_KEYS,
        since: "1.0.0",
        summary: "Gives a key a new name unless that name is taken.",
        handler: renamenx,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "move",
        arity: 3,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        since: "1.0.0",
        summary: "Moves a key to another database.",
        handler: move_cmd,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "copy",
        arity: -3,
        flags: WRITE | DENYOOM,
        acl: acl::KEYSPACE | acl::WRITE | acl::SLOW,
        keys: TWO_KEYS,
        since: "6.2.0",
        summary: "Duplicates the value of a key under another name, maybe in another database.",
        handler: copy,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "keys",
        arity: 2,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW | acl::DANGEROUS,
        keys: Keys::All,
        since: "1.0.0",
        summary: "Lists every key matching a glob pattern.",
        handler: keys,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "scan",
        arity: -2,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        keys: Keys::All,
        since: "2.8.0",
        summary: "Walks the keys of the database a few at a time with a cursor.",
        handler: scan,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "randomkey",
        arity: 1,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        keys: Keys::All,
        since: "1.0.0",
        summary: "Returns the name of a key picked at random.",
        handler: randomkey,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "dbsize",
        arity: 1,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE | acl::READ | acl::FAST,
        keys: Keys::All,
        group: "server",
        since: "1.0.0",
        summary: "Counts the keys of the selected database.",
        handler: dbsize,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "flushdb",
        arity: -1,
        flags: WRITE,
        acl: acl::KEYSPACE | acl::WRITE | acl::SLOW | acl::DANGEROUS,
        keys: Keys::All,
        group: "server",
        since: "1.0.0",
        summary: "Deletes every key of the selected database.",
        handler: flushdb,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "flushall",
        arity: -1,
        flags: WRITE,
        acl: acl::KEYSPACE | acl::WRITE | acl::SLOW | acl::DANGEROUS,
        keys: Keys::All,
        group: "server",
        since: "1.0.0",
        summary: "Deletes every key of every database.",
        handler: flushall,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "swapdb",
        arity: 3,
        flags: WRITE | FAST,
        acl: acl::KEYSPACE | acl::WRITE | acl::FAST | acl::DANGEROUS,
        keys: Keys::All,
        group: "server",
        since: "4.0.0",
        summary: "Exchanges the contents of two databases.",
        handler: swapdb,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "touch",
        arity: -2,
        flags: READONLY | FAST,
        acl: acl::KEYSPACE | acl::READ | acl::FAST,
        keys: Keys::ALL_ARGS,
        since: "3.2.1",
        summary: "Marks keys as just used and counts the ones that exist.",
        handler: touch,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "object",
        arity: -2,
        flags: 0,
        acl: acl::SLOW,
        keys: Keys::None,
        since: "2.2.3",
        summary: "Inspects how a key's value is stored.",
        subcommands: OBJECT_SUBCOMMANDS,
        ..CommandDef::DEFAULT
    },
];

static OBJECT_SUBCOMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "object|encoding",
        arity: 3,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        keys: OBJECT_KEY,
        since: "2.2.3",
        summary: "Names the internal encoding of a key's value.",
        handler: object_encoding,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "object|freq",
        arity: 3,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        keys: OBJECT_KEY,
        since: "4.0.0",
        summary: "Returns the logarithmic access counter of a key (LFU policies only).",
        handler: object_freq,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "object|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: acl::KEYSPACE | acl::SLOW,
        keys: Keys::None,
        since: "6.2.0",
        summary: "Lists the OBJECT subcommands.",
        handler: object_help,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "object|idletime",
        arity: 3,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        keys: OBJECT_KEY,
        since: "2.2.3",
        summary: "Returns how many seconds ago a key was last used.",
        handler: object_idletime,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "object|refcount",
        arity: 3,
        flags: READONLY,
        acl: acl::KEYSPACE | acl::READ | acl::SLOW,
        keys: OBJECT_KEY,
        since: "2.2.3",
        summary: "Returns how many references the value of a key has.",
        handler: object_refcount,
        ..CommandDef::DEFAULT
    },
];

// ----- helpers -----------------------------------------------------------

/// Parses a C `int` argument as Redis's `getIntFromObjectOrReply`; on
/// error writes the reply and returns `None`.
fn parse_int_arg(ctx: &mut Ctx, arg: &[u8]) -> Option<i32> {
    match parse_i64(arg) {
        None => {
            ctx.not_integer();
            None
        }
        Some(v) => match i32::try_from(v) {
            Ok(v) => Some(v),
            Err(_) => {
                ctx.out.err(
                    "ERR value is out of range, value must between -2147483648 and 2147483647",
                );
                None
            }
        },
    }
}

/// A database number within `databases`, or `None`.
fn db_index(ctx: &Ctx, id: i32) -> Option<usize> {
    let n = ctx.db.keyspace().databases();
    (id >= 0 && (id as usize) < n).then_some(id as usize)
}

/// The TYPE name of a value; a future type is answered by its own variant.
fn type_name(e: &Entry) -> &'static str {
    e.value.type_name()
}

/// True when the active maxmemory policy is an LFU one.
fn lfu_policy(ctx: &Ctx) -> bool {
    matches!(
        ctx.client.settings.maxmemory_policy,
        MaxmemoryPolicy::AllkeysLfu | MaxmemoryPolicy::VolatileLfu
    )
}

/// True when Redis would keep this value as one of its shared integer
/// objects (0..9999), which it does unless maxmemory is set with an LRU or
/// LFU policy.
fn is_shared_integer(s: &Settings, e: &Entry) -> bool {
    let Value::Int(n) = e.value else {
        return false;
    };
    let forbidden = s.maxmemory != 0
        && matches!(
            s.maxmemory_policy,
            MaxmemoryPolicy::AllkeysLru
                | MaxmemoryPolicy::VolatileLru
                | MaxmemoryPolicy::AllkeysLfu
                | MaxmemoryPolicy::VolatileLfu
        );
    (0..10_000).contains(&n) && !forbidden
}

// ----- DEL, EXISTS, TYPE, TOUCH -------------------------------------------

fn del(ctx: &mut Ctx, args: &Args) {
    let mut n = 0;
    for k in args.iter().skip(1) {
        if ctx.db.remove(k).is_some() {
            ctx.notify(GENERIC, "del", k);
            n += 1;
        }
    }
    ctx.out.int(n);
}

fn exists(ctx: &mut Ctx, args: &Args) {
    let mut n = 0;
    for k in args.iter().skip(1) {
        if ctx.db.get_notouch(k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
}

fn type_cmd(ctx: &mut Ctx, args: &Args) {
    let name = ctx
        .db
        .get_notouch(args.get(1))
        .map_or("none", |e| type_name(e));
    ctx.out.simple(name.as_bytes());
}

fn touch(ctx: &mut Ctx, args: &Args) {
    let mut n = 0;
    for k in args.iter().skip(1) {
        if ctx.db.get(k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
}

// ----- RENAME, RENAMENX, MOVE, COPY ---------------------------------------

fn rename(ctx: &mut Ctx, args: &Args) {
    rename_generic(ctx, args, false);
}

fn renamenx(ctx: &mut Ctx, args: &Args) {
    rename_generic(ctx, args, true);
}

fn rename_generic(ctx: &mut Ctx, args: &Args, nx: bool) {
    let (src, dst) = (args.get(1), args.get(2));
    if ctx.db.get_for_write(src).is_none() {
        ctx.out.err("ERR no such key");
        return;
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return;
    }
    if nx && ctx.db.get_for_write(dst).is_some() {
        ctx.out.int(0);
        return;
    }
    let dirty = ctx.db.dirty;
    let db = ctx.db.index;
    let Some((entry, expire)) = ctx.db.take_in(db, src) else {
        ctx.out.err("ERR no such key");
        return;
    };
    // Replaces any old destination; the TTL travels with the entry.
    ctx.db.insert_entry_in(db, dst, entry, expire);
    ctx.db.dirty = dirty + 1;
    ctx.notify(GENERIC, "rename_from", src);
    ctx.notify(GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
}

fn move_cmd(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let Some(id) = parse_int_arg(ctx, args.get(2)) else {
        return;
    };
    let Some(dst) = db_index(ctx, id) else {
        ctx.out.err("ERR DB index is out of range");
        return;
    };
    let src = ctx.db.index;
    if src == dst {
        ctx.out
            .err("ERR source and destination objects are the same");
        return;
    }
    if ctx.db.get_for_write(key).is_none() || ctx.db.get_for_write_in(dst, key).is_some() {
        ctx.out.int(0);
        return;
    }
    let dirty = ctx.db.dirty;
    let Some((entry, expire)) = ctx.db.take_in(src, key) else {
        ctx.out.int(0);
        return;
    };
    ctx.db.insert_entry_in(dst, key, entry, expire);
    ctx.db.dirty = dirty + 1;
    ctx.db.notify_in(src, GENERIC, "move_from", key);
    ctx.db.notify_in(dst, GENERIC, "move_to", key);
    ctx.out.int(1);
}

fn copy(ctx: &mut Ctx, args: &Args) {
    let (src_key, dst_key) = (args.get(1), args.get(2));
    let src = ctx.db.index;
    let mut dst = src;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            let Some(id) = parse_int_arg(ctx, args.get(i + 1)) else {
                return;
            };
            let Some(d) = db_index(ctx, id) else {
                ctx.out.err("ERR DB index is out of range");
                return;
            };
            dst = d;
            i += 1;
        } else {
            ctx.syntax_error();
            return;
        }
        i += 1;
    }
    if src == dst && src_key == dst_key {
        ctx.out
            .err("ERR source and destination objects are the same");
        return;
    }
    let lru = ctx.db.keyspace().new_stamp();
    let Some(copied) = ctx.db.get(src_key).map(|e| {
        let mut c = Entry::new(e.value.clone(), lru);
        c.raw = e.raw;
        c
    }) else {
        ctx.out.int(0);
        return;
    };
    let expire = ctx.db.expire_of(src_key).unwrap_or(NO_EXPIRE);
    let dirty = ctx.db.dirty;
    if ctx.db.get_for_write_in(dst, dst_key).is_some() {
        if !replace {
            ctx.out.int(0);
            return;
        }
        ctx.db.remove_in(dst, dst_key);
    }
    ctx.db.insert_entry_in(dst, dst_key, copied, expire);
    ctx.db.dirty = dirty + 1;
    ctx.db.notify_in(dst, GENERIC, "copy_to", dst_key);
    ctx.out.int(1);
}

// ----- KEYS, SCAN, RANDOMKEY, DBSIZE --------------------------------------

fn keys(ctx: &mut Ctx, args: &Args) {
    let pattern = args.get(1);
    let all = pattern == b"*";
    let db = ctx.db.index;
    let now = ctx.db.now();
    let d = ctx.out.begin_deferred();
    let mut n = 0;
    let mut shards: Vec<_> = ctx.db.shards_mut().collect();
    for shard in shards.iter_mut() {
        let t = &shard.dbs[db];
        for (k, e) in t.main.iter() {
            if t.expire_of(k.as_slice(), e).is_some_and(|at| at <= now) {
                continue;
            }
            if all || glob_match(pattern, k.as_slice(), false) {
                ctx.out.bulk(k.as_slice());
                n += 1;
            }
        }
    }
    ctx.out.end_deferred(d, n);
}

/// Parses a SCAN cursor as C `strtoul` does for Redis: no leading blank,
/// optional sign (a minus wraps around), the whole text consumed, no
/// overflow; the empty string is cursor 0.
pub(crate) fn parse_cursor(s: &[u8]) -> Option<u64> {
    let (neg, digits) = match s {
        [] => return Some(0),
        [c, ..] if c.is_ascii_whitespace() || *c == 0x0b => return None,
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

fn scan(ctx: &mut Ctx, args: &Args) {
    let Some(cursor) = parse_cursor(args.get(1)) else {
        ctx.out.err("ERR invalid cursor");
        return;
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_filter: Option<&[u8]> = None;
    let mut i = 2;
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
        } else if opt.eq_ignore_ascii_case(b"type") && has_value {
            type_filter = Some(args.get(i + 1));
        } else {
            return ctx.syntax_error();
        }
        i += 2;
    }
    let db = ctx.db.index;
    let mut found = Vec::new();
    let next = ctx.db.scan(db, cursor, count, &mut found);
    let mut keep: Vec<Key> = Vec::with_capacity(found.len());
    for k in found {
        if let Some(p) = pattern
            && !glob_match(p, k.as_slice(), false)
        {
            continue;
        }
        if let Some(t) = type_filter {
            let matches = ctx
                .db
                .get_notouch(k.as_slice())
                .is_some_and(|e| type_name(e).as_bytes().eq_ignore_ascii_case(t));
            if !matches {
                continue;
            }
        }
        if ctx.db.expire_if_due(db, k.as_slice()) {
            continue;
        }
        keep.push(k);
    }
    ctx.out.array(2);
    let mut buf = itoa::Buffer::new();
    ctx.out.bulk(buf.format(next).as_bytes());
    ctx.out.array(keep.len());
    for k in &keep {
        ctx.out.bulk(k.as_slice());
    }
}

fn randomkey(ctx: &mut Ctx, _args: &Args) {
    let db = ctx.db.index;
    match ctx.db.random_key(db) {
        Some(k) => ctx.out.bulk(k.as_slice()),
        None => ctx.out.null(),
    }
}

fn dbsize(ctx: &mut Ctx, _args: &Args) {
    let db = ctx.db.index;
    let n = ctx.db.len_in(db);
    ctx.out.int(n as i64);
}

// ----- FLUSHDB, FLUSHALL, SWAPDB ------------------------------------------

/// Reads the optional ASYNC|SYNC argument: Some(true) = free in the
/// background. On error writes the reply.
fn flush_mode(ctx: &mut Ctx, args: &Args) -> Option<bool> {
    match args.len() {
        1 => Some(ctx.client.settings.lazyfree_lazy_user_flush),
        2 if args.get(1).eq_ignore_ascii_case(b"sync") => Some(false),
        2 if args.get(1).eq_ignore_ascii_case(b"async") => Some(true),
        _ => {
            ctx.syntax_error();
            None
        }
    }
}

fn flush_generic(ctx: &mut Ctx, args: &Args, db: Option<usize>) -> Option<u64> {
    let background = flush_mode(ctx, args)?;
    let (removed, old) = ctx.db.flush(db);
    if background && !old.is_empty() {
        std::thread::spawn(move || drop(old));
    } else {
        drop(old);
    }
    Some(removed)
}

fn flushdb(ctx: &mut Ctx, args: &Args) {
    let db = ctx.db.index;
    if let Some(removed) = flush_generic(ctx, args, Some(db)) {
        ctx.db.dirty += removed;
        ctx.out.ok();
    }
}

fn flushall(ctx: &mut Ctx, args: &Args) {
    if let Some(removed) = flush_generic(ctx, args, None) {
        // Redis counts the removed keys plus one for the command itself.
        ctx.db.dirty += removed + 1;
        // As Redis: a background save in progress is killed, and with save
        // points the (now empty) dataset is saved at once.
        ctx.srv.bgsave.abort(ctx.db);
        if !ctx.client.settings.save.is_empty()
            && crate::commands::persistence::save_quietly(ctx.srv, ctx.db).is_ok()
        {
            // The save zeroed the server's counter; the dispatcher adds this
            // command's `removed + 1` after it returns, where Redis leaves 0.
            ctx.srv
                .dirty
                .fetch_sub(removed + 1, std::sync::atomic::Ordering::Relaxed);
        }
        ctx.out.ok();
    }
}

fn swapdb(ctx: &mut Ctx, args: &Args) {
    let n = ctx.db.keyspace().databases();
    let parse = |a: &[u8]| parse_i64(a).and_then(|v| i32::try_from(v).ok());
    let Some(a) = parse(args.get(1)) else {
        ctx.out.err("ERR invalid first DB index");
        return;
    };
    let Some(b) = parse(args.get(2)) else {
        ctx.out.err("ERR invalid second DB index");
        return;
    };
    let in_range = |v: i32| v >= 0 && (v as usize) < n;
    if !in_range(a) || !in_range(b) {
        ctx.out.err("ERR DB index is out of range");
        return;
    }
    if a != b {
        ctx.db.swap_dbs(a as usize, b as usize);
    }
    ctx.db.dirty += 1;
    ctx.out.ok();
}

// ----- OBJECT ---------------------------------------------------------------

fn object_encoding(ctx: &mut Ctx, args: &Args) {
    match ctx.db.get_quiet(args.get(2)).map(|e| e.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
}

fn object_refcount(ctx: &mut Ctx, args: &Args) {
    let Some(e) = ctx.db.get_quiet(args.get(2)) else {
        ctx.out.null();
        return;
    };
    // Shared integers report Redis's "shared object" refcount (INT_MAX).
    let shared = is_shared_integer(&ctx.client.settings, e);
    ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
}

fn object_idletime(ctx: &mut Ctx, args: &Args) {
    let clock = ctx.db.keyspace().lru_clock();
    let Some(e) = ctx.db.get_quiet(args.get(2)) else {
        ctx.out.null();
        return;
    };
    // A shared integer keeps the clock it got when the server started.
    let lru = if is_shared_integer(&ctx.client.settings, e) {
        0
    } else {
        e.lru
    };
    if lfu_policy(ctx) {
        ctx.out.err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    ctx.out.int(clock.wrapping_sub(lru) as i64);
}

fn object_freq(ctx: &mut Ctx, args: &Args) {
    let ks = ctx.db.keyspace();
    let Some(stamp) = ctx.db.get_quiet(args.get(2)).map(|e| e.lru) else {
        ctx.out.null();
        return;
    };
    if !lfu_policy(ctx) {
        ctx.out.err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
        return;
    }
    // The decayed counter, not incremented by this lookup (as Redis).
    ctx.out
        .int(ks.evict.lfu_freq(stamp, ks.lfu_minutes()) as i64);
}

fn object_help(ctx: &mut Ctx, _args: &Args) {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Name of the internal representation of the value stored at <key>.",
        "FREQ <key>",
        "    Logarithmic access-frequency counter of <key> (LFU policies only).",
        "IDLETIME <key>",
        "    Approximate number of seconds since <key> was last read or written.",
        "REFCOUNT <key>",
        "    How many references the value stored at <key> has.",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l.as_bytes());
    }
}
