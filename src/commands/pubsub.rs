//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! PUBLISH, their shard-channel forms (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH)
//! and PUBSUB. Delivery itself lives in `server::pubsub`.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::server::pubsub::Space;
use std::collections::HashSet;

const SUB_FLAGS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;
const SUB_ACL: u32 = acl::PUBSUB | acl::SLOW;
const INTROSPECT_FLAGS: u32 = PUBSUB | LOADING | STALE;

const fn pubsub_sub(
    name: &'static str,
    arity: i32,
    since: &'static str,
    summary: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags: INTROSPECT_FLAGS,
        acl: SUB_ACL,
        keys: Keys::None,
        group: "pubsub",
        since,
        summary,
        handler,
        subcommands: &[],
    }
}

static PUBSUB_SUBCOMMANDS: [CommandDef; 6] = [
    pubsub_sub(
        "pubsub|channels",
        -2,
        "2.8.0",
        "Lists the channels that have subscribers, optionally matching a pattern.",
        pubsub_channels,
    ),
    CommandDef {
        flags: LOADING | STALE,
        acl: acl::SLOW,
        ..pubsub_sub(
            "pubsub|help",
            2,
            "6.2.0",
            "Lists the PUBSUB subcommands.",
            pubsub_help,
        )
    },
    pubsub_sub(
        "pubsub|numpat",
        2,
        "2.8.0",
        "Counts the pattern subscriptions of all clients.",
        pubsub_numpat,
    ),
    pubsub_sub(
        "pubsub|numsub",
        -2,
        "2.8.0",
        "Counts the subscribers of each given channel.",
        pubsub_numsub,
    ),
    pubsub_sub(
        "pubsub|shardchannels",
        -2,
        "7.0.0",
        "Lists the shard channels that have subscribers, optionally matching a pattern.",
        pubsub_shardchannels,
    ),
    pubsub_sub(
        "pubsub|shardnumsub",
        -2,
        "7.0.0",
        "Counts the subscribers of each given shard channel.",
        pubsub_shardnumsub,
    ),
];

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "subscribe",
        arity: -2,
        flags: SUB_FLAGS | SENTINEL,
        acl: SUB_ACL,
        group: "pubsub",
        since: "2.0.0",
        summary: "Listens for messages published to channels.",
        handler: subscribe,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "unsubscribe",
        arity: -1,
        flags: SUB_FLAGS | SENTINEL,
        acl: SUB_ACL,
        group: "pubsub",
        since: "2.0.0",
        summary: "Stops listening to channels (all of them when none is given).",
        handler: unsubscribe,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "psubscribe",
        arity: -2,
        flags: SUB_FLAGS | SENTINEL,
        acl: SUB_ACL,
        group: "pubsub",
        since: "2.0.0",
        summary: "Listens for messages published to channels matching glob patterns.",
        handler: psubscribe,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "punsubscribe",
        arity: -1,
        flags: SUB_FLAGS | SENTINEL,
        acl: SUB_ACL,
        group: "pubsub",
        since: "2.0.0",
        summary: "Stops listening to patterns (all of them when none is given).",
        handler: punsubscribe,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "publish",
        arity: 3,
        flags: PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE | SENTINEL,
        acl: acl::PUBSUB | acl::FAST,
        group: "pubsub",
        since: "2.0.0",
        summary: "Sends a message to a channel; answers how many clients received it.",
        handler: publish,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "ssubscribe",
        arity: -2,
        flags: SUB_FLAGS,
        acl: SUB_ACL,
        keys: Keys::ALL_ARGS,
        group: "pubsub",
        since: "7.0.0",
        summary: "Listens for messages published to shard channels.",
        handler: ssubscribe,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sunsubscribe",
        arity: -1,
        flags: SUB_FLAGS,
        acl: SUB_ACL,
        keys: Keys::ALL_ARGS,
        group: "pubsub",
        since: "7.0.0",
        summary: "Stops listening to shard channels (all of them when none is given).",
        handler: sunsubscribe,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "spublish",
        arity: 3,
        flags: PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        acl: acl::PUBSUB | acl::FAST,
        keys: Keys::ONE,
        group: "pubsub",
        since: "7.0.0",
        summary: "Sends a message to a shard channel; answers how many clients received it.",
        handler: spublish,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "pubsub",
        arity: -2,
        acl: acl::SLOW,
        group: "pubsub",
        since: "2.8.0",
        summary: "Inspects the Pub/Sub state.",
        subcommands: &PUBSUB_SUBCOMMANDS,
        ..CommandDef::DEFAULT
    },
];

/// Which of the client's subscription sets a command works on.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn set<'c>(self, ctx: &'c mut Ctx) -> &'c mut HashSet<Vec<u8>> {
        match self {
            Kind::Channel => &mut ctx.client.subs,
            Kind::Pattern => &mut ctx.client.psubs,
            Kind::Shard => &mut ctx.client.ssubs,
        }
    }

    /// The count Redis reports after each (un)subscription: channels plus
    /// patterns, or shard channels alone.
    fn count(self, ctx: &Ctx) -> i64 {
        match self {
            Kind::Shard => ctx.client.ssubs.len() as i64,
            _ => (ctx.client.subs.len() + ctx.client.psubs.len()) as i64,
        }
    }

    fn register(self, ctx: &Ctx, name: &[u8]) {
        let ps = &ctx.srv.pubsub;
        match self {
            Kind::Channel => ps.subscribe(Space::Plain, name, &ctx.client.info),
            Kind::Pattern => ps.psubscribe(name, &ctx.client.info),
            Kind::Shard => ps.subscribe(Space::Shard, name, &ctx.client.info),
        }
    }

    fn unregister(self, ctx: &Ctx, name: &[u8]) {
        let ps = &ctx.srv.pubsub;
        let id = ctx.client.id;
        match self {
            Kind::Channel => ps.unsubscribe(Space::Plain, name, id),
            Kind::Pattern => ps.punsubscribe(name, id),
            Kind::Shard => ps.unsubscribe(Space::Shard, name, id),
        }
    }
}

/// One `[kind, name, count]` confirmation (a push in RESP3).
fn confirm(ctx: &mut Ctx, what: &[u8], name: Option<&[u8]>, count: i64) {
    ctx.out.push(3);
    ctx.out.bulk(what);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count);
}

fn do_subscribe(ctx: &mut Ctx, args: &Args, kind: Kind, what: &[u8]) {
    for name in args.iter().skip(1) {
        if kind.set(ctx).insert(name.to_vec()) {
            kind.register(ctx, name);
        }
        let n = kind.count(ctx);
        confirm(ctx, what, Some(name), n);
    }
    ctx.client.sync_sub_counts();
}

fn do_unsubscribe(ctx: &mut Ctx, args: &Args, kind: Kind, what: &[u8]) {
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args.iter().skip(1).map(|a| a.to_vec()).collect()
    } else {
        kind.set(ctx).iter().cloned().collect()
    };
    if names.is_empty() {
        let n = kind.count(ctx);
        confirm(ctx, what, None, n);
    }
    for name in &names {
        if kind.set(ctx).remove(name) {
            kind.unregister(ctx, name);
        }
        let n = kind.count(ctx);
        confirm(ctx, what, Some(name), n);
    }
    ctx.client.sync_sub_counts();
}

fn subscribe(ctx: &mut Ctx, args: &Args) {
    do_subscribe(ctx, args, Kind::Channel, b"subscribe");
}

fn unsubscribe(ctx: &mut Ctx, args: &Args) {
    do_unsubscribe(ctx, args, Kind::Channel, b"unsubscribe");
}

fn psubscribe(ctx: &mut Ctx, args: &Args) {
    do_subscribe(ctx, args, Kind::Pattern, b"psubscribe");
}

fn punsubscribe(ctx: &mut Ctx, args: &Args) {
    do_unsubscribe(ctx, args, Kind::Pattern, b"punsubscribe");
}

fn ssubscribe(ctx: &mut Ctx, args: &Args) {
    do_subscribe(ctx, args, Kind::Shard, b"ssubscribe");
}

fn sunsubscribe(ctx: &mut Ctx, args: &Args) {
    do_unsubscribe(ctx, args, Kind::Shard, b"sunsubscribe");
}

fn do_publish(ctx: &mut Ctx, args: &Args, space: Space) {
    let limit = ctx.client.settings.client_output_buffer_limit[crate::server::outlimit::PUBSUB];
    let srv = ctx.srv;
    let n = srv
        .pubsub
        .publish(srv, space, args.get(1), args.get(2), &limit);
    // A client subscribed to its own channel sees the message before the
    // count, as with Redis.
    if ctx.client.info.mailbox.has_pending() {
        let mailbox = &ctx.client.info.mailbox;
        ctx.out.raw(|buf| mailbox.drain_into(buf));
    }
    ctx.out.int(n);
}

fn publish(ctx: &mut Ctx, args: &Args) {
    do_publish(ctx, args, Space::Plain);
}

fn spublish(ctx: &mut Ctx, args: &Args) {
    do_publish(ctx, args, Space::Shard);
}

fn channels_reply(ctx: &mut Ctx, args: &Args, space: Space) {
    if args.len() > 3 {
        let msg = format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(args.get(1))
        );
        ctx.out.err(&msg);
        return;
    }
    let pattern = (args.len() == 3).then(|| args.get(2));
    let list = ctx.srv.pubsub.channels(space, pattern);
    ctx.out.array(list.len());
    for c in &list {
        ctx.out.bulk(c);
    }
}

fn numsub_reply(ctx: &mut Ctx, args: &Args, space: Space) {
    ctx.out.array((args.len() - 2) * 2);
    for ch in args.iter().skip(2) {
        ctx.out.bulk(ch);
        let n = ctx.srv.pubsub.numsub(space, ch);
        ctx.out.int(n as i64);
    }
}

fn pubsub_channels(ctx: &mut Ctx, args: &Args) {
    channels_reply(ctx, args, Space::Plain);
}

fn pubsub_shardchannels(ctx: &mut Ctx, args: &Args) {
    channels_reply(ctx, args, Space::Shard);
}

fn pubsub_numsub(ctx: &mut Ctx, args: &Args) {
    numsub_reply(ctx, args, Space::Plain);
}

fn pubsub_shardnumsub(ctx: &mut Ctx, args: &Args) {
    numsub_reply(ctx, args, Space::Shard);
}

fn pubsub_numpat(ctx: &mut Ctx, _args: &Args) {
    let n = ctx.srv.pubsub.numpat();
    ctx.out.int(n as i64);
}

fn pubsub_help(ctx: &mut Ctx, _args: &Args) {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    List the channels that have at least one subscriber, optionally only those",
        "    matching <pattern> (default: all).",
        "NUMPAT",
        "    Count the pattern subscriptions of all clients.",
        "NUMSUB [<channel> ...]",
        "    Count the subscribers of each given channel (pattern subscriptions are not",
        "    counted).",
        "SHARDCHANNELS [<pattern>]",
        "    Like CHANNELS, for shard channels.",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Like NUMSUB, for shard channels.",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l.as_bytes());
    }
}
