//! String commands: GET, SET and friends, counters, ranges, bitmaps.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::storage::value::{Value, string_value};

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
];

fn get(ctx: &mut Ctx, args: &Args) {
    match ctx.db.get(args.get(1)).map(|e| &e.value) {
        None => ctx.out.null(),
        Some(Value::Str(s)) => ctx.out.bulk(s),
        Some(Value::Int(n)) => ctx.out.bulk_int(*n),
        #[allow(unreachable_patterns)]
        Some(_) => ctx.wrong_type(),
    }
}

fn set(ctx: &mut Ctx, args: &Args) {
    if args.len() != 3 {
        ctx.syntax_error();
        return;
    }
    ctx.db.set(args.get(1), string_value(args.get(2)), false);
    ctx.out.ok();
}
