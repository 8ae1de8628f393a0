//! Server commands: INFO, CONFIG, DEBUG, SLOWLOG, LATENCY, TIME, LASTSAVE,
//! SHUTDOWN. INFO lives in `server/info.rs`, DEBUG in `server/debug.rs`,
//! the latency monitor in `server/latency.rs`.

pub mod debug;
pub mod info;
pub mod latency;

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::server::log;
use std::sync::atomic::Ordering;

/// Flags shared by the admin subcommands of CONFIG and LATENCY.
const ADMIN_SUB: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const ADMIN_ACL: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

const fn sub(
    name: &'static str,
    arity: i32,
    flags: u32,
    acl: u32,
    since: &'static str,
    summary: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags,
        acl,
        keys: Keys::None,
        group: "server",
        since,
        summary,
        handler,
        subcommands: &[],
    }
}

const CONFIG_SUBS: &[CommandDef] = &[
    sub(
        "config|get",
        -3,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.0.0",
        "Returns the configuration parameters matching glob patterns.",
        config_get,
    ),
    sub(
        "config|set",
        -4,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.0.0",
        "Changes configuration parameters at run time.",
        config_set,
    ),
    sub(
        "config|resetstat",
        2,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.0.0",
        "Zeroes the statistics INFO reports.",
        config_resetstat,
    ),
    sub(
        "config|rewrite",
        2,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.8.0",
        "Writes the running configuration back to the config file.",
        config_rewrite,
    ),
    sub(
        "config|help",
        2,
        LOADING | STALE,
        acl::SLOW,
        "5.0.0",
        "Lists the CONFIG subcommands.",
        config_help,
    ),
];

const SLOWLOG_SUBS: &[CommandDef] = &[
    sub(
        "slowlog|get",
        -2,
        ADMIN | LOADING | STALE,
        ADMIN_ACL,
        "2.2.12",
        "Returns the newest entries of the slow log.",
        slowlog_get,
    ),
    sub(
        "slowlog|len",
        2,
        ADMIN | LOADING | STALE,
        ADMIN_ACL,
        "2.2.12",
        "Returns the number of entries in the slow log.",
        slowlog_len,
    ),
    sub(
        "slowlog|reset",
        2,
        ADMIN | LOADING | STALE,
        ADMIN_ACL,
        "2.2.12",
        "Empties the slow log.",
        slowlog_reset,
    ),
    sub(
        "slowlog|help",
        2,
        LOADING | STALE,
        acl::SLOW,
        "6.2.0",
        "Lists the SLOWLOG subcommands.",
        slowlog_help,
    ),
];

const LATENCY_SUBS: &[CommandDef] = &[
    sub(
        "latency|latest",
        2,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.8.13",
        "Returns the latest sample of every latency event.",
        latency::latest,
    ),
    sub(
        "latency|history",
        3,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.8.13",
        "Returns the samples recorded for one latency event.",
        latency::history,
    ),
    sub(
        "latency|reset",
        -2,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.8.13",
        "Forgets the samples of some or all latency events.",
        latency::reset,
    ),
    sub(
        "latency|doctor",
        2,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.8.13",
        "Returns a readable analysis of the recorded latency events.",
        latency::doctor,
    ),
    sub(
        "latency|graph",
        3,
        ADMIN_SUB,
        ADMIN_ACL,
        "2.8.13",
        "Draws the samples of one latency event as text.",
        latency::graph,
    ),
    sub(
        "latency|histogram",
        -2,
        ADMIN_SUB,
        ADMIN_ACL,
        "7.0.0",
        "Returns per-command latency distributions.",
        latency::histogram,
    ),
    sub(
        "latency|help",
        2,
        LOADING | STALE,
        acl::SLOW,
        "2.8.13",
        "Lists the LATENCY subcommands.",
        latency_help,
    ),
];

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "monitor",
        arity: 1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        acl: ADMIN_ACL,
        keys: Keys::None,
        group: "server",
        since: "1.0.0",
        summary: "Streams every command the server runs to this connection.",
        handler: monitor,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "info",
        arity: -1,
        flags: LOADING | STALE | SENTINEL,
        acl: acl::SLOW | acl::DANGEROUS,
        // The keyspace and stats sections read every shard through the
        // locked view (which also makes INFO work inside EXEC).
        keys: Keys::All,
        group: "server",
        since: "1.0.0",
        summary: "Reports server state and statistics, by section.",
        handler: info::info,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "config",
        arity: -2,
        flags: 0,
        acl: acl::SLOW,
        keys: Keys::None,
        group: "server",
        since: "2.0.0",
        summary: "Reads, changes or saves the configuration.",
        subcommands: CONFIG_SUBS,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "debug",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED,
        acl: ADMIN_ACL,
        // Whole keyspace: DIGEST and OBJECT read through the locked view
        // (also inside EXEC), and DEBUG SLEEP stalls key access as in Redis.
        keys: Keys::All,
        group: "server",
        since: "1.0.0",
        summary: "Internal tools for testing and troubleshooting.",
        handler: debug::debug,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "slowlog",
        arity: -2,
        flags: 0,
        acl: acl::SLOW,
        keys: Keys::None,
        group: "server",
        since: "2.2.12",
        summary: "Reads or clears the log of slow commands.",
        subcommands: SLOWLOG_SUBS,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "latency",
        arity: -2,
        flags: 0,
        acl: acl::SLOW,
        keys: Keys::None,
        group: "server",
        since: "2.8.13",
        summary: "Reports on latency spikes and per-command latencies.",
        subcommands: LATENCY_SUBS,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "time",
        arity: 1,
        flags: LOADING | STALE | FAST,
        acl: acl::FAST,
        keys: Keys::None,
        group: "server",
        since: "2.6.0",
        summary: "Returns the server's clock: Unix seconds and microseconds.",
        handler: time,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "lastsave",
        arity: 1,
        flags: LOADING | STALE | FAST,
        acl: acl::ADMIN | acl::FAST | acl::DANGEROUS,
        keys: Keys::None,
        group: "server",
        since: "1.0.0",
        summary: "Returns the Unix time of the last successful save.",
        handler: lastsave,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "shutdown",
        arity: -1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY,
        acl: acl::ADMIN | acl::SLOW | acl::DANGEROUS,
        keys: Keys::All,
        group: "server",
        since: "1.0.0",
        summary: "Stops the server.",
        handler: shutdown,
        ..CommandDef::DEFAULT
    },
];

/// Replies with help lines as an array of simple strings.
fn help_reply(ctx: &mut Ctx, lines: &[&str]) {
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l.as_bytes());
    }
}

fn config_help(ctx: &mut Ctx, _args: &Args) {
    help_reply(
        ctx,
        &[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Show every parameter whose name matches the glob <pattern>, with its value.",
            "SET <directive> <value>",
            "    Give <directive> a new value (several pairs may be given at once).",
            "RESETSTAT",
            "    Zero the counters INFO reports.",
            "REWRITE",
            "    Save the running configuration into the config file.",
            "HELP",
            "    Print this help.",
        ],
    );
}

fn config_get(ctx: &mut Ctx, args: &Args) {
    let patterns: Vec<&[u8]> = args.iter().skip(2).collect();
    let pairs = ctx.srv.config.get(&patterns);
    ctx.out.map(pairs.len());
    for (name, value) in &pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
}

fn config_set(ctx: &mut Ctx, args: &Args) {
    if !args.len().is_multiple_of(2) {
        return ctx.syntax_error();
    }
    let pairs: Vec<(&[u8], &[u8])> = (2..args.len())
        .step_by(2)
        .map(|i| (args.get(i), args.get(i + 1)))
        .collect();
    match ctx.srv.config.set_for_client(&pairs, ctx.client.is_local) {
        Ok(()) => {
            ctx.client.refresh_settings(ctx.srv);
            ctx.out.ok();
        }
        Err(e) => ctx.out.err(&e),
    }
}

fn config_resetstat(ctx: &mut Ctx, _args: &Args) {
    ctx.srv.reset_stats();
    ctx.out.ok();
}

fn config_rewrite(ctx: &mut Ctx, _args: &Args) {
    match ctx.srv.config.rewrite() {
        Ok(()) => {
            log::notice("CONFIG REWRITE executed with success.");
            ctx.out.ok();
        }
        Err(e) => {
            log::warning(&format!("CONFIG REWRITE failed: {e}"));
            ctx.out.err(&e);
        }
    }
}

fn slowlog_help(ctx: &mut Ctx, _args: &Args) {
    help_reply(
        ctx,
        &[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    The newest <count> entries (10 by default, -1 for all). Each entry holds:",
            "    id, Unix time, duration in microseconds, the arguments, the client's",
            "    address and the client's name.",
            "LEN",
            "    Number of entries in the slow log.",
            "RESET",
            "    Delete every entry.",
            "HELP",
            "    Print this help.",
        ],
    );
}

fn slowlog_get(ctx: &mut Ctx, args: &Args) {
    if args.len() > 3 {
        let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        msg.extend_from_slice(args.get(1));
        msg.extend_from_slice(b"'. Try SLOWLOG HELP.");
        ctx.out.error(&msg);
        return;
    }
    let count = if args.len() == 3 {
        match crate::util::num::parse_i64(args.get(2)) {
            Some(n) if n >= -1 => n,
            _ => {
                ctx.out
                    .err("ERR count should be greater than or equal to -1");
                return;
            }
        }
    } else {
        10
    };
    let log = ctx.srv.slowlog.lock();
    let n = if count < 0 {
        log.entries.len()
    } else {
        log.entries.len().min(count as usize)
    };
    ctx.out.array(n);
    for e in log.entries.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.micros as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(&e.name);
    }
}

fn slowlog_len(ctx: &mut Ctx, _args: &Args) {
    let n = ctx.srv.slowlog.lock().entries.len();
    ctx.out.int(n as i64);
}

fn slowlog_reset(ctx: &mut Ctx, _args: &Args) {
    ctx.srv.slowlog.lock().entries.clear();
    ctx.out.ok();
}

fn latency_help(ctx: &mut Ctx, _args: &Args) {
    help_reply(
        ctx,
        &[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    A readable analysis of the latency events recorded.",
            "GRAPH <event>",
            "    The samples of <event> drawn as a text chart.",
            "HISTORY <event>",
            "    The (time, latency) samples of <event>.",
            "LATEST",
            "    The latest sample of every event.",
            "RESET [<event> ...]",
            "    Forget the samples of the given events",
            "    (of every event when none is given).",
            "HISTOGRAM [COMMAND ...]",
            "    Cumulative latency distribution of the given commands,",
            "    or of every command that ran when none is given.",
            "HELP",
            "    Print this help.",
        ],
    );
}

fn time(ctx: &mut Ctx, _args: &Args) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
}

fn lastsave(ctx: &mut Ctx, _args: &Args) {
    ctx.out.int(ctx.srv.lastsave.load(Ordering::Relaxed));
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT].
///
/// Saves first when asked to (SAVE) or when save points are configured
/// (unless NOSAVE); a failed save keeps the server running unless FORCE.
/// Shutdown is immediate (there are no replicas to wait for), so NOW only
/// matters for its syntax and ABORT always finds nothing to abort.
fn shutdown(ctx: &mut Ctx, args: &Args) {
    let (mut save, mut nosave, mut now, mut force, mut abort) = (false, false, false, false, false);
    for a in args.iter().skip(1) {
        match &a.to_ascii_lowercase()[..] {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" => now = true,
            b"force" => force = true,
            b"abort" => abort = true,
            _ => return ctx.syntax_error(),
        }
    }
    if (abort && (save || nosave || now || force)) || (save && nosave) {
        return ctx.syntax_error();
    }
    if abort {
        ctx.out.err("ERR No shutdown in progress.");
        return;
    }
    let _ = now;
    log::warning("User requested shutdown...");
    crate::commands::persistence::kill_bgsave(ctx.srv, ctx.db);
    if !nosave
        && (save || !ctx.client.settings.save.is_empty())
        && crate::commands::persistence::final_save(ctx.srv, ctx.db).is_err()
        && !force
    {
        log::warning("Error trying to save the DB, can't exit.");
        ctx.out.err("ERR Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    crate::server::shutdown_and_exit(ctx.srv, false);
}

/// MONITOR: from now on this connection receives every command others run.
fn monitor(ctx: &mut Ctx, _args: &Args) {
    if ctx.client.multi.is_some() {
        // As Redis: MONITOR inside MULTI is ignored.
        return;
    }
    ctx.client
        .info
        .monitor
        .store(true, std::sync::atomic::Ordering::Relaxed);
    ctx.srv.monitors.add(&ctx.client.info);
    ctx.out.ok();
}
