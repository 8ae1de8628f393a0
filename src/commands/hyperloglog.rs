//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! A sketch is an ordinary string value in Redis's byte format (see
//! [`crate::storage::hll`]); these handlers check that a string is one,
//! run the codec on its bytes and answer as Redis 7.0 does. As in Redis:
//! any command that opens an existing sketch "unshares" it, which makes
//! `OBJECT ENCODING` say `raw`; PFCOUNT of one key stores a freshly
//! computed count in the header, which is a change (WATCH, dirty count,
//! and the PFCOUNT itself is propagated to AOF and replicas); PFMERGE
//! reports a `pfadd` event.

use super::flags::{ADMIN, DENYOOM, FAST, MAY_REPLICATE, READONLY, WRITE};
use super::{Args, CommandDef, Ctx, Keys, acl};
use crate::storage::hll::{self, Corrupt, SelfTestFailure};
use crate::storage::notify::STRING;
use crate::storage::value::{Entry, Value};
use compact_bytes::CompactBytes;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "pfadd",
        arity: -2,
        flags: WRITE | DENYOOM | FAST,
        acl: acl::HYPERLOGLOG | acl::WRITE | acl::FAST,
        keys: Keys::ONE,
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Adds elements to a HyperLogLog, creating it when needed; 1 if its registers changed.",
        handler: pfadd,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "pfcount",
        arity: -2,
        flags: READONLY | MAY_REPLICATE,
        acl: acl::HYPERLOGLOG | acl::READ | acl::SLOW,
        keys: Keys::ALL_ARGS,
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Estimates the number of distinct elements of a HyperLogLog, or of the union of several.",
        handler: pfcount,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "pfmerge",
        arity: -2,
        flags: WRITE | DENYOOM,
        acl: acl::HYPERLOGLOG | acl::WRITE | acl::SLOW,
        keys: Keys::ALL_ARGS,
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Stores the union of HyperLogLogs (the destination included) in the destination.",
        handler: pfmerge,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "pfdebug",
        arity: 3,
        flags: WRITE | DENYOOM | ADMIN,
        acl: acl::HYPERLOGLOG | acl::WRITE | acl::ADMIN | acl::SLOW | acl::DANGEROUS,
        keys: Keys::Range {
            first: 2,
            last: 2,
            step: 1,
        },
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Inspects a HyperLogLog: GETREG, DECODE, ENCODING, TODENSE.",
        handler: pfdebug,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "pfselftest",
        arity: 1,
        flags: ADMIN,
        acl: acl::HYPERLOGLOG | acl::ADMIN | acl::SLOW | acl::DANGEROUS,
        keys: Keys::None,
        group: "hyperloglog",
        since: "2.8.9",
        summary: "Runs Redis's self test of the HyperLogLog registers and estimator.",
        handler: pfselftest,
        ..CommandDef::DEFAULT
    },
];

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// Why a value cannot be used as a sketch.
enum Refused {
    /// Not a string at all (the usual WRONGTYPE).
    WrongType,
    /// A string that is not a sketch.
    NotHll,
}

impl Ctx<'_, '_> {
    fn refuse(&mut self, why: Refused) {
        match why {
            Refused::WrongType => self.wrong_type(),
            Refused::NotHll => self.out.err(NOT_HLL),
        }
    }
}

/// The sketch bytes of a value (Redis's `isHLLObjectOrReply`).
fn sketch(value: &Value) -> Result<&[u8], Refused> {
    match value {
        Value::Str(s) if hll::is_valid(s.as_slice()) => Ok(s.as_slice()),
        Value::Str(_) | Value::Int(_) => Err(Refused::NotHll),
        _ => Err(Refused::WrongType),
    }
}

/// Opens an existing entry's sketch for modification: checks it and marks
/// the string `raw` (Redis unshares it). The bytes are moved out into a
/// vector; [`put_back`] returns them.
fn open(entry: &mut Entry) -> Result<Vec<u8>, Refused> {
    sketch(&entry.value)?;
    entry.raw = true;
    match &mut entry.value {
        Value::Str(s) => Ok(std::mem::take(s).into_vec()),
        _ => Err(Refused::WrongType),
    }
}

fn put_back(entry: &mut Entry, bytes: Vec<u8>) {
    entry.value = Value::Str(CompactBytes::from(bytes));
}

/// Stores a newly created sketch under `key` (one change; reports `new`).
fn create(ctx: &mut Ctx, key: &[u8], bytes: Vec<u8>) {
    ctx.db
        .set(key, Value::Str(CompactBytes::from(bytes)), false);
    if let Some(e) = ctx.db.peek(key) {
        e.raw = true;
    }
}

// ---------------------------------------------------------------------------
// PFADD

fn pfadd(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let max_bytes = ctx.client.settings.hll_sparse_max_bytes;
    let (mut bytes, created) = match ctx.db.get_for_write(key) {
        None => (hll::new_sparse(), true),
        Some(e) => match open(e) {
            Ok(b) => (b, false),
            Err(why) => return ctx.refuse(why),
        },
    };
    let mut updated = created as u64;
    let mut corrupt = false;
    for ele in args.iter().skip(2) {
        match hll::add(&mut bytes, ele, max_bytes) {
            Ok(true) => updated += 1,
            Ok(false) => {}
            Err(Corrupt) => {
                corrupt = true;
                break;
            }
        }
    }
    if updated > 0 && !corrupt {
        hll::invalidate_cache(&mut bytes);
    }
    if created {
        create(ctx, key, bytes);
    } else if let Some(e) = ctx.db.peek(key) {
        put_back(e, bytes);
    }
    if corrupt {
        // Registers set before the corrupt spot stay set, unannounced, as
        // in Redis.
        ctx.out.err(CORRUPT);
        return;
    }
    if updated > 0 {
        if !created {
            ctx.db.touched(key);
        }
        ctx.db.dirty += updated - 1;
        ctx.notify(STRING, "pfadd", key);
    }
    ctx.out.int((updated > 0) as i64);
}

// ---------------------------------------------------------------------------
// PFCOUNT

fn pfcount(ctx: &mut Ctx, args: &Args) {
    if args.len() > 2 {
        return pfcount_union(ctx, args);
    }
    let key = args.get(1);
    let Some(e) = ctx.db.get(key) else {
        ctx.out.int(0);
        return;
    };
    let mut bytes = match open(e) {
        Ok(b) => b,
        Err(why) => return ctx.refuse(why),
    };
    let fresh = match hll::cached_count(&bytes) {
        Some(card) => Ok((card, false)),
        None => hll::count(&bytes).map(|card| {
            hll::set_cached_count(&mut bytes, card);
            (card, true)
        }),
    };
    if let Some(e) = ctx.db.peek(key) {
        put_back(e, bytes);
    }
    match fresh {
        Err(Corrupt) => ctx.out.err(CORRUPT),
        Ok((card, stored)) => {
            if stored {
                // A read-only command that changed the value: Redis counts
                // it and propagates the command as it ran.
                ctx.db.touched(key);
                if ctx.propagating() {
                    let argv: Vec<&[u8]> = args.iter().collect();
                    ctx.propagate_as(&argv);
                }
            }
            ctx.out.int(card as i64);
        }
    }
}

/// PFCOUNT of several keys: the count of their union (no cache involved).
fn pfcount_union(ctx: &mut Ctx, args: &Args) {
    let mut max = Box::new([0u8; hll::REGISTERS]);
    for key in args.iter().skip(1) {
        let Some(e) = ctx.db.get(key) else {
            continue;
        };
        let merged = match sketch(&e.value) {
            Ok(b) => hll::merge_into(&mut max, b),
            Err(why) => return ctx.refuse(why),
        };
        if merged.is_err() {
            ctx.out.err(CORRUPT);
            return;
        }
    }
    ctx.out.int(hll::count_registers(&max) as i64);
}

// ---------------------------------------------------------------------------
// PFMERGE

fn pfmerge(ctx: &mut Ctx, args: &Args) {
    let mut max = Box::new([0u8; hll::REGISTERS]);
    let mut use_dense = false;
    for key in args.iter().skip(1) {
        let Some(e) = ctx.db.get(key) else {
            continue;
        };
        let merged = match sketch(&e.value) {
            Ok(b) => {
                use_dense |= hll::encoding(b) == hll::DENSE;
                hll::merge_into(&mut max, b)
            }
            Err(why) => return ctx.refuse(why),
        };
        if merged.is_err() {
            ctx.out.err(CORRUPT);
            return;
        }
    }
    let dest = args.get(1);
    let max_bytes = ctx.client.settings.hll_sparse_max_bytes;
    let (mut bytes, created) = match ctx.db.get_for_write(dest) {
        None => (hll::new_sparse(), true),
        Some(e) => match open(e) {
            Ok(b) => (b, false),
            Err(why) => return ctx.refuse(why),
        },
    };
    // The destination was checked as a source: conversion cannot fail.
    let converted = !use_dense || hll::to_dense(&mut bytes).is_ok();
    if converted {
        for (i, &v) in max.iter().enumerate() {
            if v != 0 {
                let _ = hll::set_register(&mut bytes, i, v, max_bytes);
            }
        }
        hll::invalidate_cache(&mut bytes);
    }
    if created {
        create(ctx, dest, bytes);
    } else if let Some(e) = ctx.db.peek(dest) {
        put_back(e, bytes);
    }
    if !converted {
        ctx.out.err(CORRUPT);
        return;
    }
    if !created {
        ctx.db.touched(dest);
    }
    // Redis reports the merge as a mass PFADD.
    ctx.notify(STRING, "pfadd", dest);
    ctx.out.ok();
}

// ---------------------------------------------------------------------------
// PFDEBUG

fn pfdebug(ctx: &mut Ctx, args: &Args) {
    let sub = args.get(1);
    let key = args.get(2);
    let Some(e) = ctx.db.get_for_write(key) else {
        ctx.out.err("ERR The specified key does not exist");
        return;
    };
    let mut bytes = match open(e) {
        Ok(b) => b,
        Err(why) => return ctx.refuse(why),
    };
    let sparse = hll::encoding(&bytes) == hll::SPARSE;
    let lower = sub.to_ascii_lowercase();
    // Conversion first (GETREG, TODENSE), then the bytes go back before
    // anything is answered.
    let converted = match lower.as_slice() {
        b"getreg" | b"todense" if sparse => Some(hll::to_dense(&mut bytes)),
        _ => None,
    };
    let regs = match (lower.as_slice(), converted) {
        (b"getreg", None | Some(Ok(()))) => hll::registers(&bytes).ok(),
        _ => None,
    };
    let decoded = (lower.as_slice() == b"decode" && sparse).then(|| hll::decode_sparse(&bytes));
    if let Some(e) = ctx.db.peek(key) {
        put_back(e, bytes);
    }
    if converted == Some(Err(Corrupt)) {
        ctx.out.err(CORRUPT);
        return;
    }
    if converted.is_some() {
        // Redis forces the conversion out to AOF and replicas.
        ctx.db.dirty += 1;
    }
    match lower.as_slice() {
        b"getreg" => {
            let regs = regs.unwrap_or_default();
            ctx.out.array(regs.len());
            for r in regs {
                ctx.out.int(r as i64);
            }
        }
        b"decode" => match decoded {
            Some(text) => ctx.out.bulk(text.as_bytes()),
            None => ctx.out.err("ERR HLL encoding is not sparse"),
        },
        b"encoding" => ctx.out.simple(if sparse { b"sparse" } else { b"dense" }),
        b"todense" => ctx.out.int(converted.is_some() as i64),
        _ => ctx.out.err(&format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )),
    }
}

// ---------------------------------------------------------------------------
// PFSELFTEST

fn pfselftest(ctx: &mut Ctx, _args: &Args) {
    use rand::RngExt;
    let mut rng = rand::rng();
    let max_bytes = ctx.client.settings.hll_sparse_max_bytes;
    match hll::self_test(max_bytes, || rng.random::<u32>() & 0x7fff_ffff) {
        Ok(()) => ctx.out.ok(),
        Err(f) => ctx.out.err(&match f {
            SelfTestFailure::Register {
                index,
                expected,
                got,
            } => format!("ERR TESTFAILED Register {index} should be {expected} but is {got}"),
            SelfTestFailure::SparseNotUsed => "ERR TESTFAILED sparse encoding not used".into(),
            SelfTestFailure::Disagree => "ERR TESTFAILED dense/sparse disagree".into(),
            SelfTestFailure::TooBigError { card, abserr } => {
                format!("ERR TESTFAILED Too big error. card:{card} abserr:{abserr}")
            }
        }),
    }
}
