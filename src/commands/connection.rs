//! Connection commands: PING, ECHO, SELECT, QUIT, HELLO, AUTH, RESET, CLIENT.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "ping",
        arity: -1,
        flags: FAST | SENTINEL,
        acl: acl::FAST | acl::CONNECTION,
        keys: Keys::None,
        group: "connection",
        since: "1.0.0",
        summary: "Answers PONG, or echoes the argument.",
        handler: ping,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "quit",
        arity: -1,
        flags: ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        acl: acl::FAST | acl::CONNECTION,
        keys: Keys::None,
        group: "connection",
        since: "1.0.0",
        summary: "Closes the connection after replying OK.",
        handler: quit,
        ..CommandDef::DEFAULT
    },
];

fn ping(ctx: &mut Ctx, args: &Args) {
    match args.len() {
        1 => ctx.out.simple(b"PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => ctx
            .out
            .err("ERR wrong number of arguments for 'ping' command"),
    }
}

fn quit(ctx: &mut Ctx, _args: &Args) {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
}
