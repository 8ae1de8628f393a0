//! Server commands: INFO, CONFIG, COMMAND, DEBUG, SLOWLOG, TIME, SHUTDOWN …

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};

pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "shutdown",
    arity: -1,
    flags: ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY,
    acl: acl::ADMIN | acl::SLOW | acl::DANGEROUS,
    keys: Keys::None,
    group: "server",
    since: "1.0.0",
    summary: "Stops the server.",
    handler: shutdown,
    ..CommandDef::DEFAULT
}];

fn shutdown(ctx: &mut Ctx, _args: &Args) {
    crate::server::shutdown_and_exit(ctx.srv, false);
}
