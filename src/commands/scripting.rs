//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT
//! LOAD/EXISTS/FLUSH/KILL/HELP (Redis 7.0).
//!
//! The handlers parse the arguments; the interpreter, the script cache and
//! the `redis` API live in [`crate::scripting`]. EVAL is declared
//! `Keys::All`: a script runs with every shard locked, like EXEC, so no
//! other command interleaves with it (SELECT inside a script reaches any
//! database).

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::scripting::Source;
use crate::util::num::parse_i64;

const EVAL_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS;
const EVAL_RO_FLAGS: u32 = READONLY | NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "eval",
        arity: -3,
        flags: EVAL_FLAGS | MOVABLE_KEYS,
        acl: acl::SLOW | acl::SCRIPTING,
        keys: Keys::All,
        group: "scripting",
        since: "2.6.0",
        summary: "Runs a Lua script on the server.",
        handler: eval,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "evalsha",
        arity: -3,
        flags: EVAL_FLAGS | MOVABLE_KEYS,
        acl: acl::SLOW | acl::SCRIPTING,
        keys: Keys::All,
        group: "scripting",
        since: "2.6.0",
        summary: "Runs a cached Lua script named by its SHA1.",
        handler: evalsha,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "eval_ro",
        arity: -3,
        flags: EVAL_RO_FLAGS | MOVABLE_KEYS,
        acl: acl::SLOW | acl::SCRIPTING,
        keys: Keys::All,
        group: "scripting",
        since: "7.0.0",
        summary: "Runs a Lua script that may not write.",
        handler: eval_ro,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "evalsha_ro",
        arity: -3,
        flags: EVAL_RO_FLAGS | MOVABLE_KEYS,
        acl: acl::SLOW | acl::SCRIPTING,
        keys: Keys::All,
        group: "scripting",
        since: "7.0.0",
        summary: "Runs a cached Lua script that may not write.",
        handler: evalsha_ro,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "script",
        arity: -2,
        flags: 0,
        acl: acl::SLOW,
        keys: Keys::None,
        group: "scripting",
        since: "2.6.0",
        summary: "Manages the script cache.",
        subcommands: SCRIPT_SUBCOMMANDS,
        ..CommandDef::DEFAULT
    },
];

static SCRIPT_SUBCOMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "script|debug",
        arity: 3,
        flags: NOSCRIPT,
        acl: acl::SLOW | acl::SCRIPTING,
        group: "scripting",
        since: "3.2.0",
        summary: "Sets the debug mode of later scripts (only NO: no debugger).",
        handler: script_debug,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "script|exists",
        arity: -3,
        flags: NOSCRIPT,
        acl: acl::SLOW | acl::SCRIPTING,
        group: "scripting",
        since: "2.6.0",
        summary: "Tells which scripts are in the cache.",
        handler: script_exists,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "script|flush",
        arity: -2,
        flags: NOSCRIPT,
        acl: acl::SLOW | acl::SCRIPTING,
        group: "scripting",
        since: "2.6.0",
        summary: "Empties the script cache.",
        handler: script_flush,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "script|help",
        arity: 2,
        flags: LOADING | STALE,
        acl: acl::SLOW | acl::SCRIPTING,
        group: "scripting",
        since: "5.0.0",
        summary: "Lists the SCRIPT subcommands.",
        handler: script_help,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "script|kill",
        arity: 2,
        flags: NOSCRIPT | ALLOW_BUSY,
        acl: acl::SLOW | acl::SCRIPTING,
        group: "scripting",
        since: "2.6.0",
        summary: "Stops the running script if it has not written.",
        handler: script_kill,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "script|load",
        arity: 3,
        flags: NOSCRIPT | STALE,
        acl: acl::SLOW | acl::SCRIPTING,
        group: "scripting",
        since: "2.6.0",
        summary: "Compiles a script into the cache without running it.",
        handler: script_load,
        ..CommandDef::DEFAULT
    },
];

fn eval(ctx: &mut Ctx, args: &Args) {
    run(ctx, args, false, false);
}

fn evalsha(ctx: &mut Ctx, args: &Args) {
    run(ctx, args, true, false);
}

fn eval_ro(ctx: &mut Ctx, args: &Args) {
    run(ctx, args, false, true);
}

fn evalsha_ro(ctx: &mut Ctx, args: &Args) {
    run(ctx, args, true, true);
}

/// `<script|sha> numkeys key... arg...`.
fn run(ctx: &mut Ctx, args: &Args, by_sha: bool, readonly: bool) {
    // MONITOR shows the EVAL itself before the commands it runs (it is
    // `skip_monitor` for the dispatcher, which feeds monitors afterwards).
    if ctx.srv.monitors.active() {
        let limit =
            &ctx.client.settings.client_output_buffer_limit[crate::server::outlimit::NORMAL];
        ctx.srv
            .monitors
            .feed(ctx.srv, ctx.client.db, Some(&ctx.client.info), args, limit);
    }
    let Some(numkeys) = parse_i64(args.get(2)) else {
        return ctx.not_integer();
    };
    if numkeys > args.len() as i64 - 3 {
        return ctx
            .out
            .err("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return ctx.out.err("ERR Number of keys can't be negative");
    }
    let split = 3 + numkeys as usize;
    let keys = args.rest(3).first(numkeys as usize);
    let argv = args.rest(split);
    let source = if by_sha {
        Source::Sha(args.get(1))
    } else {
        Source::Body(args.get(1))
    };
    let srv = ctx.srv;
    srv.scripts.eval(ctx, source, readonly, keys, argv);
}

fn script_exists(ctx: &mut Ctx, args: &Args) {
    ctx.out.array(args.len() - 2);
    for sha in args.iter().skip(2) {
        let found = ctx.srv.scripts.exists(sha);
        ctx.out.int(found as i64);
    }
}

fn script_flush(ctx: &mut Ctx, args: &Args) {
    if args.len() > 3
        || (args.len() == 3
            && !args.get(2).eq_ignore_ascii_case(b"sync")
            && !args.get(2).eq_ignore_ascii_case(b"async"))
    {
        return ctx
            .out
            .err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    ctx.srv.scripts.flush();
    ctx.out.ok();
}

/// SCRIPT DEBUG: NO is what every client already is; the Lua debugger
/// (YES, SYNC) is not available.
fn script_debug(ctx: &mut Ctx, args: &Args) {
    if ctx.client.in_exec {
        return ctx
            .out
            .err("ERR SCRIPT DEBUG must be called outside a pipeline");
    }
    let mode = args.get(2);
    if mode.eq_ignore_ascii_case(b"no") {
        ctx.out.ok();
    } else if mode.eq_ignore_ascii_case(b"yes") || mode.eq_ignore_ascii_case(b"sync") {
        ctx.out
            .err("ERR the Lua debugger (SCRIPT DEBUG YES|SYNC) is not supported by this server");
    } else {
        ctx.out.err("ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

fn script_kill(ctx: &mut Ctx, _args: &Args) {
    ctx.srv.scripts.kill(ctx.out);
}

fn script_load(ctx: &mut Ctx, args: &Args) {
    match ctx.srv.scripts.load(args.get(2)) {
        Ok(sha) => ctx.out.bulk(sha.as_bytes()),
        Err(e) => ctx.out.err(&e),
    }
}

fn script_help(ctx: &mut Ctx, _args: &Args) {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Debug mode of later scripts: only NO (no debugger) is available.",
        "EXISTS <sha1> [<sha1> ...]",
        "    For each SHA1, 1 when that script is in the script cache, else 0.",
        "FLUSH [ASYNC|SYNC]",
        "    Empty the script cache (dangerous on replicas, which rely on it).",
        "KILL",
        "    Stop the running script, unless it has already written to the dataset.",
        "LOAD <script>",
        "    Compile a script into the cache and return its SHA1, without running it.",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l.as_bytes());
    }
}
