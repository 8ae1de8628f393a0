//! Generic key commands (DEL, EXISTS, TYPE, RENAME, SCAN …) and expiry.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};

pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "del",
    arity: -2,
    flags: WRITE,
    acl: acl::KEYSPACE | acl::WRITE | acl::SLOW,
    keys: Keys::ALL_ARGS,
    group: "generic",
    since: "1.0.0",
    summary: "Deletes keys.",
    handler: del,
    ..CommandDef::DEFAULT
}];

fn del(ctx: &mut Ctx, args: &Args) {
    let mut n = 0;
    for k in args.iter().skip(1) {
        if ctx.db.remove(k).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
}
