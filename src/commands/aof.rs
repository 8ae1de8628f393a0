//! Commands of the append-only file: `BGREWRITEAOF`. The AOF itself is
//! `persist::aof`.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};

pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "bgrewriteaof",
    arity: 1,
    flags: ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
    acl: acl::ADMIN | acl::SLOW | acl::DANGEROUS,
    keys: Keys::None,
    group: "server",
    since: "1.0.0",
    summary: "Asynchronously rewrites the append-only file to disk.",
    handler: bgrewriteaof,
    ..CommandDef::DEFAULT
}];

/// BGREWRITEAOF: a new base from the dataset and a new incremental file,
/// on a background thread (see `persist::aof`).
fn bgrewriteaof(ctx: &mut Ctx, _args: &Args) {
    use crate::persist::aof::Rewrite;
    match ctx.srv.aof.bgrewrite(ctx.client.in_exec) {
        Ok(Rewrite::Started) => ctx
            .out
            .simple(b"Background append only file rewriting started"),
        Ok(Rewrite::Scheduled) => ctx
            .out
            .simple(b"Background append only file rewriting scheduled"),
        Err(e) => ctx.out.err(e),
    }
}
