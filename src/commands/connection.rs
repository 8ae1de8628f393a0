//! Connection commands: PING, ECHO, SELECT, QUIT, HELLO, AUTH, RESET and
//! CLIENT with its subcommands (names, ids, LIST/INFO, KILL, PAUSE, REPLY …).
//!
//! Ember has one user, `default`: its password is `requirepass` (none means
//! any password is accepted). Client tracking is not implemented: CLIENT
//! TRACKING ON answers an error, and the tracking queries report it off.

use super::{Args, CommandDef, Ctx, Keys, acl, flags::*};
use crate::protocol::reply::Resp;
use crate::server::REDIS_VERSION;
use crate::server::client::{
    BLOCKED_COMMAND, Client, ClientInfo, ReplyMode, UNBLOCK_ERROR, UNBLOCK_TIMEOUT,
};
use crate::server::shared::Shared;
use crate::storage::keyspace::unix_ms;
use crate::util::num::parse_i64;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

/// ACL categories of the CLIENT subcommands anyone may run.
const CLIENT_ACL: u32 = acl::SLOW | acl::CONNECTION;
/// ACL categories of the administrative CLIENT subcommands.
const CLIENT_ADMIN_ACL: u32 = acl::ADMIN | acl::SLOW | acl::DANGEROUS | acl::CONNECTION;
const CLIENT_FLAGS: u32 = NOSCRIPT | LOADING | STALE | SENTINEL;
const CLIENT_ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL;

/// A CLIENT subcommand declaration.
const fn client_sub(
    name: &'static str,
    arity: i32,
    admin: bool,
    since: &'static str,
    summary: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags: if admin {
            CLIENT_ADMIN_FLAGS
        } else {
            CLIENT_FLAGS
        },
        acl: if admin { CLIENT_ADMIN_ACL } else { CLIENT_ACL },
        keys: Keys::None,
        group: "connection",
        since,
        summary,
        handler,
        subcommands: &[],
    }
}

static CLIENT_SUBCOMMANDS: [CommandDef; 16] = [
    client_sub(
        "client|caching",
        3,
        false,
        "6.0.0",
        "Tells whether the next command's keys are tracked (tracking OPTIN/OPTOUT).",
        client_caching,
    ),
    client_sub(
        "client|getname",
        2,
        false,
        "2.6.9",
        "Returns the connection's name.",
        client_getname,
    ),
    client_sub(
        "client|getredir",
        2,
        false,
        "6.0.0",
        "Returns the id tracking notifications are redirected to, or -1.",
        client_getredir,
    ),
    CommandDef {
        flags: LOADING | STALE | SENTINEL,
        ..client_sub(
            "client|help",
            2,
            false,
            "5.0.0",
            "Lists the CLIENT subcommands.",
            client_help,
        )
    },
    client_sub(
        "client|id",
        2,
        false,
        "5.0.0",
        "Returns the connection's unique id.",
        client_id,
    ),
    client_sub(
        "client|info",
        2,
        false,
        "6.2.0",
        "Describes the calling connection in CLIENT LIST's format.",
        client_info,
    ),
    client_sub(
        "client|kill",
        -3,
        true,
        "2.4.0",
        "Closes the connections matching an address or a set of filters.",
        client_kill,
    ),
    client_sub(
        "client|list",
        -2,
        true,
        "2.4.0",
        "Describes the open connections, one line each.",
        client_list,
    ),
    client_sub(
        "client|no-evict",
        3,
        true,
        "7.0.0",
        "Exempts the connection from client eviction, or not.",
        client_no_evict,
    ),
    client_sub(
        "client|pause",
        -3,
        true,
        "2.9.50",
        "Holds back every client's commands, or only writes, for some milliseconds.",
        client_pause,
    ),
    client_sub(
        "client|reply",
        3,
        false,
        "3.2.0",
        "Turns replies to this connection on, off, or off for the next command.",
        client_reply,
    ),
    client_sub(
        "client|setname",
        3,
        false,
        "2.6.9",
        "Names the connection.",
        client_setname,
    ),
    client_sub(
        "client|tracking",
        -3,
        false,
        "6.0.0",
        "Turns server-assisted client-side caching on or off.",
        client_tracking,
    ),
    client_sub(
        "client|trackinginfo",
        2,
        false,
        "6.2.0",
        "Describes the connection's client-side caching state.",
        client_trackinginfo,
    ),
    client_sub(
        "client|unblock",
        -3,
        true,
        "5.0.0",
        "Ends the wait of a client blocked in a command.",
        client_unblock,
    ),
    client_sub(
        "client|unpause",
        2,
        true,
        "6.2.0",
        "Ends a CLIENT PAUSE now.",
        client_unpause,
    ),
];

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
        name: "echo",
        arity: 2,
        flags: LOADING | STALE | FAST,
        acl: acl::FAST | acl::CONNECTION,
        keys: Keys::None,
        group: "connection",
        since: "1.0.0",
        summary: "Answers its argument.",
        handler: echo,
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
    CommandDef {
        name: "select",
        arity: 2,
        flags: LOADING | STALE | FAST,
        acl: acl::FAST | acl::CONNECTION,
        keys: Keys::None,
        group: "connection",
        since: "1.0.0",
        summary: "Switches the connection to another database.",
        handler: select,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "hello",
        arity: -1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        acl: acl::FAST | acl::CONNECTION,
        keys: Keys::None,
        group: "connection",
        since: "6.0.0",
        summary: "Picks the protocol version, optionally authenticates and names the connection, and describes the server.",
        handler: hello,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "reset",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        acl: acl::FAST | acl::CONNECTION,
        keys: Keys::None,
        group: "connection",
        since: "6.2.0",
        summary: "Returns the connection to its initial state.",
        handler: reset,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "auth",
        arity: -2,
        flags: NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        acl: acl::FAST | acl::CONNECTION,
        keys: Keys::None,
        group: "connection",
        since: "1.0.0",
        summary: "Authenticates the connection.",
        handler: auth,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "client",
        arity: -2,
        flags: SENTINEL,
        acl: acl::SLOW,
        keys: Keys::None,
        group: "connection",
        since: "2.4.0",
        summary: "Inspects and controls client connections.",
        subcommands: &CLIENT_SUBCOMMANDS,
        ..CommandDef::DEFAULT
    },
];

/// Redis's answer when a subcommand exists but its arguments do not fit.
fn sub_syntax_error(ctx: &mut Ctx, args: &Args) {
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    let sub = args.get(1);
    msg.extend_from_slice(&sub[..sub.len().min(128)]);
    msg.extend_from_slice(b"'. Try CLIENT HELP.");
    ctx.out.error(&msg);
}

// ---------------------------------------------------------------------------
// PING, ECHO, QUIT, SELECT

fn ping(ctx: &mut Ctx, args: &Args) {
    // A subscribed RESP2 client gets PING's answer as a message-like pair.
    if ctx.client.in_pubsub() && ctx.out.resp() == Resp::V2 && args.len() <= 2 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out
            .bulk(if args.len() == 2 { args.get(1) } else { b"" });
        return;
    }
    match args.len() {
        1 => ctx.out.simple(b"PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => ctx
            .out
            .err("ERR wrong number of arguments for 'ping' command"),
    }
}

fn echo(ctx: &mut Ctx, args: &Args) {
    ctx.out.bulk(args.get(1));
}

fn quit(ctx: &mut Ctx, _args: &Args) {
    ctx.out.ok();
    ctx.client.close_after_reply = true;
}

fn select(ctx: &mut Ctx, args: &Args) {
    let Some(index) = parse_i64(args.get(1)) else {
        return ctx.not_integer();
    };
    // Redis reads the index as a C int.
    if i32::try_from(index).is_err() {
        return ctx
            .out
            .err("ERR value is out of range, value must between -2147483648 and 2147483647");
    }
    if index < 0 || index as usize >= ctx.srv.keyspace.databases() {
        return ctx.out.err("ERR DB index is out of range");
    }
    ctx.client.select(index as usize);
    ctx.out.ok();
}

// ---------------------------------------------------------------------------
// AUTH, HELLO, RESET

/// Compares without an early exit, so the time taken does not tell how
/// much of a guess was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as usize;
    }
    diff == 0
}

/// Checks a user name and password against the one user Ember has.
fn credentials_ok(client: &Client, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &client.settings.requirepass {
        None => true,
        Some(expected) => same_secret(expected, pass),
    }
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(ctx: &mut Ctx, args: &Args) {
    let (user, pass) = match args.len() {
        2 => {
            if ctx.client.settings.requirepass.is_none() {
                return ctx.out.err(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                );
            }
            (&b"default"[..], args.get(1))
        }
        3 => (args.get(1), args.get(2)),
        _ => return ctx.syntax_error(),
    };
    if credentials_ok(ctx.client, user, pass) {
        ctx.client.authenticated = true;
        ctx.out.ok();
    } else {
        ctx.out.err(WRONGPASS);
    }
}

/// Redis accepts names made of the printable ASCII characters `!` to `~`.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

fn set_name(client: &Client, name: &[u8]) {
    *client.info.name.lock() = (!name.is_empty()).then(|| name.to_vec());
}

fn set_protocol(ctx: &mut Ctx, resp: Resp) {
    ctx.out.set_resp(resp);
    let v = if resp == Resp::V3 { 3 } else { 2 };
    ctx.client.info.resp.store(v, Ordering::Relaxed);
}

fn hello(ctx: &mut Ctx, args: &Args) {
    let mut next = 1;
    let mut version = if ctx.out.resp() == Resp::V3 { 3 } else { 2 };
    if args.len() >= 2 {
        let Some(v) = parse_i64(args.get(1)) else {
            return ctx
                .out
                .err("ERR Protocol version is not an integer or out of range");
        };
        if !(2..=3).contains(&v) {
            return ctx.out.err("NOPROTO unsupported protocol version");
        }
        version = v;
        next = 2;
    }
    let mut creds = None;
    let mut name = None;
    let mut j = next;
    while j < args.len() {
        let opt = args.get(j);
        let more = args.len() - 1 - j;
        if opt.eq_ignore_ascii_case(b"auth") && more >= 2 {
            creds = Some((args.get(j + 1), args.get(j + 2)));
            j += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") && more >= 1 {
            let n = args.get(j + 1);
            if !valid_client_name(n) {
                return ctx.out.err(BAD_NAME);
            }
            name = Some(n);
            j += 2;
        } else {
            let mut msg = b"ERR Syntax error in HELLO option '".to_vec();
            msg.extend_from_slice(opt);
            msg.push(b'\'');
            return ctx.out.error(&msg);
        }
    }
    if let Some((user, pass)) = creds {
        if !credentials_ok(ctx.client, user, pass) {
            return ctx.out.err(WRONGPASS);
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return ctx.out.err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(n) = name {
        set_name(ctx.client, n);
    }
    set_protocol(ctx, if version == 3 { Resp::V3 } else { Resp::V2 });
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(version);
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

fn reset(ctx: &mut Ctx, _args: &Args) {
    // Tracking is reset by its owner
    // once they exist; here the state this module keeps.
    let client = &mut *ctx.client;
    client.set_multi(None);
    client.unwatch_all(ctx.srv);
    client.unsubscribe_all(ctx.srv);
    if client.is_monitor() {
        client.info.monitor.store(false, Ordering::Relaxed);
        ctx.srv.monitors.remove(client.id);
    }
    client.select(0);
    set_name(client, b"");
    // A reply being skipped (CLIENT REPLY SKIP) stays skipped, as in Redis.
    if client.reply_mode != ReplyMode::Skip {
        client.reply_mode = ReplyMode::On;
    }
    client.authenticated = client.settings.requirepass.is_none();
    set_protocol(ctx, Resp::V2);
    ctx.out.simple(b"RESET");
}

// ---------------------------------------------------------------------------
// CLIENT: names, ids, reply modes, no-evict, tracking, help

fn client_id(ctx: &mut Ctx, _args: &Args) {
    ctx.out.int(ctx.client.id as i64);
}

fn client_setname(ctx: &mut Ctx, args: &Args) {
    let name = args.get(2);
    if !valid_client_name(name) {
        return ctx.out.err(BAD_NAME);
    }
    set_name(ctx.client, name);
    ctx.out.ok();
}

fn client_getname(ctx: &mut Ctx, _args: &Args) {
    let name = ctx.client.info.name.lock().clone();
    match name {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
}

fn client_reply(ctx: &mut Ctx, args: &Args) {
    let mode = args.get(2);
    if mode.eq_ignore_ascii_case(b"on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if mode.eq_ignore_ascii_case(b"off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if mode.eq_ignore_ascii_case(b"skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        ctx.syntax_error();
    }
}

fn client_no_evict(ctx: &mut Ctx, args: &Args) {
    let v = args.get(2);
    let on = if v.eq_ignore_ascii_case(b"on") {
        true
    } else if v.eq_ignore_ascii_case(b"off") {
        false
    } else {
        return ctx.syntax_error();
    };
    ctx.client.info.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
}

fn client_tracking(ctx: &mut Ctx, args: &Args) {
    // Options are checked as Redis does, then: OFF is what every client
    // already is; ON is not available.
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        let more = args.len() - 1 - j;
        if (opt.eq_ignore_ascii_case(b"redirect") || opt.eq_ignore_ascii_case(b"prefix"))
            && more >= 1
        {
            j += 2;
        } else if opt.eq_ignore_ascii_case(b"bcast")
            || opt.eq_ignore_ascii_case(b"optin")
            || opt.eq_ignore_ascii_case(b"optout")
            || opt.eq_ignore_ascii_case(b"noloop")
        {
            j += 1;
        } else {
            return ctx.syntax_error();
        }
    }
    let mode = args.get(2);
    if mode.eq_ignore_ascii_case(b"on") {
        ctx.out
            .err("ERR client-side caching (CLIENT TRACKING) is not supported by this server");
    } else if mode.eq_ignore_ascii_case(b"off") {
        ctx.out.ok();
    } else {
        ctx.syntax_error();
    }
}

fn client_getredir(ctx: &mut Ctx, _args: &Args) {
    // Tracking is never on, so there is no redirection.
    ctx.out.int(-1);
}

fn client_trackinginfo(ctx: &mut Ctx, _args: &Args) {
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(1);
    out.bulk(b"off");
    out.bulk(b"redirect");
    out.int(-1);
    out.bulk(b"prefixes");
    out.array(0);
}

fn client_caching(ctx: &mut Ctx, _args: &Args) {
    ctx.out.err(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    );
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    With tracking in OPTIN/OPTOUT mode, whether the next command's keys are tracked.",
    "GETREDIR",
    "    The id of the client receiving this connection's tracking messages, or -1.",
    "GETNAME",
    "    The name of this connection.",
    "ID",
    "    The id of this connection.",
    "INFO",
    "    This connection, described as one CLIENT LIST line.",
    "KILL <ip:port>",
    "    Close the connection coming from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Close every connection matching all the options given:",
    "    * ID <client-id>",
    "      The connection with this id.",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Connections coming from this address.",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Connections made to this local address.",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Connections of this type.",
    "    * USER <username>",
    "      Connections authenticated as this user.",
    "    * SKIPME (YES|NO)",
    "      Whether to spare this connection (yes unless told otherwise).",
    "    * MAXAGE <seconds>",
    "      Connections older than this.",
    "LIST [options ...]",
    "    One line per connection. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Only connections of this type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Only these connections.",
    "UNPAUSE",
    "    End a CLIENT PAUSE now.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Hold back the commands of all clients, or only writes, for <timeout> ms.",
    "REPLY (ON|OFF|SKIP)",
    "    Send replies to this connection, none, or none for the next command.",
    "SETNAME <name>",
    "    Name this connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    End the wait of a client blocked in a command.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Server-assisted client-side caching (not available in Ember).",
    "TRACKINGINFO",
    "    This connection's client-side caching state.",
    "NO-EVICT (ON|OFF)",
    "    Exempt this connection from client eviction, or not.",
    "HELP",
    "    Print this help.",
];

fn client_help(ctx: &mut Ctx, _args: &Args) {
    ctx.out.array(CLIENT_HELP.len());
    for line in CLIENT_HELP {
        ctx.out.simple(line.as_bytes());
    }
}

// ---------------------------------------------------------------------------
// CLIENT LIST / INFO

/// Client types of CLIENT LIST TYPE and CLIENT KILL TYPE.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

fn client_type_by_name(name: &[u8]) -> Option<ClientType> {
    let n = name.to_ascii_lowercase();
    match &n[..] {
        b"normal" => Some(ClientType::Normal),
        b"slave" | b"replica" => Some(ClientType::Replica),
        b"pubsub" => Some(ClientType::PubSub),
        b"master" => Some(ClientType::Master),
        _ => None,
    }
}

fn client_type_of(info: &ClientInfo) -> ClientType {
    match info.kind.load(Ordering::Relaxed) {
        crate::server::client::KIND_REPLICA => return ClientType::Replica,
        crate::server::client::KIND_MASTER => return ClientType::Master,
        _ => {}
    }
    if info.is_pubsub() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

fn unknown_type(ctx: &mut Ctx, name: &[u8]) {
    let mut msg = b"ERR Unknown client type '".to_vec();
    msg.extend_from_slice(name);
    msg.push(b'\'');
    ctx.out.error(&msg);
}

/// What is known only about the client running the command.
pub(crate) struct Caller<'a> {
    cmd: &'static str,
    args: &'a Args<'a>,
    close_after_reply: bool,
}

/// Appends one CLIENT LIST line (without the newline); `caller` gives the
/// details only known for the client running the command. Also used for
/// the log line of a client closed for its output buffer limit.
pub(crate) fn describe(out: &mut String, srv: &Shared, info: &ClientInfo, caller: Option<&Caller>) {
    let now = unix_ms();
    let age = (now - info.created_ms).max(0) / 1000;
    let idle = (now - info.last_interaction_ms.load(Ordering::Relaxed)).max(0) / 1000;
    let mut flags = String::new();
    match info.kind.load(Ordering::Relaxed) {
        crate::server::client::KIND_REPLICA => flags.push('S'),
        crate::server::client::KIND_MASTER => flags.push('M'),
        _ => {}
    }
    if info.monitor.load(Ordering::Relaxed) {
        flags.push('O');
    }
    if info.is_pubsub() {
        flags.push('P');
    }
    let multi = info.multi.load(Ordering::Relaxed);
    if multi >= 0 {
        flags.push('x');
    }
    if info.is_blocked() {
        flags.push('b');
    }
    if caller.is_some_and(|c| c.close_after_reply) {
        flags.push('c');
    }
    if info.unix_socket {
        flags.push('U');
    }
    if info.no_evict.load(Ordering::Relaxed) {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let cmd = match caller {
        Some(c) => c.cmd,
        None => match info.last_cmd.load(Ordering::Relaxed) {
            0 => "NULL",
            id => srv.table.all().get(id - 1).map_or("NULL", |d| d.name),
        },
    };
    let argv_mem: usize = caller.map_or(0, |c| c.args.iter().map(|a| a.len()).sum());
    let qbuf = info.qbuf.load(Ordering::Relaxed);
    let qbuf_free = info.qbuf_free.load(Ordering::Relaxed);
    let multi_mem = info.multi_mem.load(Ordering::Relaxed);
    let pending = info.pending_output();
    let (obl, oll, omem) = crate::server::outlimit::split(pending);
    // The reply buffer of a connection starts at (and shrinks back to)
    // Redis's static reply buffer size.
    let rbs = crate::protocol::reply::REPLY_CHUNK;
    let tot_mem = std::mem::size_of::<Client>()
        + std::mem::size_of::<ClientInfo>()
        + qbuf
        + qbuf_free
        + argv_mem
        + multi_mem
        + rbs
        + omem;
    let events = if pending > 0 { "rw" } else { "r" };
    let name = info.name.lock().clone().unwrap_or_default();
    let _ = write!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={age} idle={idle} flags={flags} db={} \
         sub={} psub={} ssub={} multi={multi} qbuf={qbuf} qbuf-free={qbuf_free} \
         argv-mem={argv_mem} multi-mem={multi_mem} rbs={rbs} rbp={obl} obl={obl} oll={oll} \
         omem={omem} tot-mem={tot_mem} events={events} cmd={cmd} user=default redir=-1 resp={}",
        info.id,
        info.addr,
        info.laddr,
        info.fd,
        String::from_utf8_lossy(&name),
        info.db.load(Ordering::Relaxed),
        info.sub.load(Ordering::Relaxed),
        info.psub.load(Ordering::Relaxed),
        info.ssub.load(Ordering::Relaxed),
        info.resp.load(Ordering::Relaxed),
    );
}

/// Appends a client's line plus `\n`, with the caller's own details when it
/// is the caller.
fn describe_line(out: &mut String, ctx: &Ctx, args: &Args, info: &ClientInfo) {
    let caller = (info.id == ctx.client.id).then_some(Caller {
        cmd: ctx.def.name,
        args,
        close_after_reply: ctx.client.close_after_reply,
    });
    describe(out, ctx.srv, info, caller.as_ref());
    out.push('\n');
}

/// The registered clients minus those already killed (their tasks may not
/// have unregistered yet; for Redis they are gone at once).
fn live_clients(srv: &Shared) -> Vec<std::sync::Arc<ClientInfo>> {
    let mut v = srv.client_list();
    v.retain(|c| !c.is_killed());
    v
}

/// A live client by id.
fn live_client(srv: &Shared, id: u64) -> Option<std::sync::Arc<ClientInfo>> {
    let c = srv.clients.lock().get(&id).cloned()?;
    (!c.is_killed()).then_some(c)
}

fn client_info(ctx: &mut Ctx, args: &Args) {
    let mut s = String::new();
    let info = ctx.client.info.clone();
    describe_line(&mut s, ctx, args, &info);
    ctx.out.verbatim(s.as_bytes());
}

fn client_list(ctx: &mut Ctx, args: &Args) {
    let mut s = String::new();
    if args.len() == 4 && args.get(2).eq_ignore_ascii_case(b"type") {
        let Some(t) = client_type_by_name(args.get(3)) else {
            return unknown_type(ctx, args.get(3));
        };
        for info in live_clients(ctx.srv) {
            if client_type_of(&info) == t {
                describe_line(&mut s, ctx, args, &info);
            }
        }
    } else if args.len() > 3 && args.get(2).eq_ignore_ascii_case(b"id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for i in 3..args.len() {
            match parse_i64(args.get(i)) {
                Some(id) => ids.push(id),
                None => return ctx.out.err("ERR Invalid client ID"),
            }
        }
        for id in ids {
            let Ok(id) = u64::try_from(id) else { continue };
            if let Some(info) = live_client(ctx.srv, id) {
                describe_line(&mut s, ctx, args, &info);
            }
        }
    } else if args.len() != 2 {
        return ctx.syntax_error();
    } else {
        for info in live_clients(ctx.srv) {
            describe_line(&mut s, ctx, args, &info);
        }
    }
    ctx.out.verbatim(s.as_bytes());
}

// ---------------------------------------------------------------------------
// CLIENT KILL, PAUSE, UNPAUSE, UNBLOCK

/// The filters of CLIENT KILL; a client must match all that are given.
#[derive(Default)]
struct KillFilter<'a> {
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    client_type: Option<ClientType>,
    id: Option<u64>,
    /// Only the `default` user exists: `Some(())` filters on it.
    user: Option<()>,
    max_age: Option<i64>,
    skip_me: bool,
}

impl KillFilter<'_> {
    fn matches(&self, info: &ClientInfo, me: u64, now: i64) -> bool {
        self.addr.is_none_or(|a| a == info.addr.as_bytes())
            && self.laddr.is_none_or(|a| a == info.laddr.as_bytes())
            && self.client_type.is_none_or(|t| t == client_type_of(info))
            && self.id.is_none_or(|id| id == info.id)
            && self
                .max_age
                .is_none_or(|m| (now - info.created_ms) / 1000 > m)
            && !(self.skip_me && info.id == me)
    }
}

fn client_kill(ctx: &mut Ctx, args: &Args) {
    let old_form = args.len() == 3;
    let mut f = KillFilter {
        skip_me: !old_form,
        ..KillFilter::default()
    };
    if old_form {
        // CLIENT KILL addr: a client may kill itself this way.
        f.addr = Some(args.get(2));
    } else {
        let mut i = 2;
        while i < args.len() {
            let opt = args.get(i).to_ascii_lowercase();
            if i + 1 >= args.len() {
                return ctx.syntax_error();
            }
            let val = args.get(i + 1);
            match &opt[..] {
                b"id" => match parse_i64(val) {
                    Some(id) if id >= 1 => f.id = Some(id as u64),
                    _ => return ctx.out.err("ERR client-id should be greater than 0"),
                },
                b"type" => match client_type_by_name(val) {
                    Some(t) => f.client_type = Some(t),
                    None => return unknown_type(ctx, val),
                },
                b"addr" => f.addr = Some(val),
                b"laddr" => f.laddr = Some(val),
                b"user" => {
                    if val != b"default" {
                        let mut msg = b"ERR No such user '".to_vec();
                        msg.extend_from_slice(val);
                        msg.push(b'\'');
                        return ctx.out.error(&msg);
                    }
                    f.user = Some(());
                }
                b"skipme" => {
                    if val.eq_ignore_ascii_case(b"yes") {
                        f.skip_me = true;
                    } else if val.eq_ignore_ascii_case(b"no") {
                        f.skip_me = false;
                    } else {
                        return ctx.syntax_error();
                    }
                }
                // Not in Redis 7.0 (added in 7.4): clients older than this
                // many seconds; 0 means no age filter.
                b"maxage" => match parse_i64(val) {
                    Some(secs) => f.max_age = (secs != 0).then_some(secs),
                    None => {
                        return ctx.out.err("ERR maxage is not an integer or out of range");
                    }
                },
                _ => return ctx.syntax_error(),
            }
            i += 2;
        }
    }
    let me = ctx.client.id;
    let now = unix_ms();
    let mut killed = 0i64;
    for info in live_clients(ctx.srv) {
        if !f.matches(&info, me, now) {
            continue;
        }
        if info.id == me {
            // Closed once this reply is written.
            ctx.client.close_after_reply = true;
        } else {
            info.kill();
        }
        killed += 1;
    }
    if old_form {
        if killed == 0 {
            ctx.out.err("ERR No such client");
        } else {
            ctx.out.ok();
        }
    } else {
        ctx.out.int(killed);
    }
}

fn client_pause(ctx: &mut Ctx, args: &Args) {
    if args.len() > 4 {
        return sub_syntax_error(ctx, args);
    }
    let mut write_only = false;
    if args.len() == 4 {
        let mode = args.get(3);
        if mode.eq_ignore_ascii_case(b"write") {
            write_only = true;
        } else if !mode.eq_ignore_ascii_case(b"all") {
            return ctx.out.err("ERR CLIENT PAUSE mode must be WRITE or ALL");
        }
    }
    let Some(ms) = parse_i64(args.get(2)) else {
        return ctx.out.err("ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return ctx.out.err("ERR timeout is negative");
    }
    // A zero timeout pauses until a moment already past: no effect. Like
    // Redis 7.0, an end time beyond the i64 range wraps into the past.
    let until = if ms > 0 {
        unix_ms().wrapping_add(ms)
    } else {
        0
    };
    ctx.srv.pause_clients(until, write_only);
    ctx.out.ok();
}

fn client_unpause(ctx: &mut Ctx, _args: &Args) {
    ctx.srv.unpause_clients();
    ctx.out.ok();
}

fn client_unblock(ctx: &mut Ctx, args: &Args) {
    if args.len() > 4 {
        return sub_syntax_error(ctx, args);
    }
    let Some(id) = parse_i64(args.get(2)) else {
        return ctx.not_integer();
    };
    let mut reason = UNBLOCK_TIMEOUT;
    if args.len() == 4 {
        let r = args.get(3);
        if r.eq_ignore_ascii_case(b"error") {
            reason = UNBLOCK_ERROR;
        } else if !r.eq_ignore_ascii_case(b"timeout") {
            return ctx
                .out
                .err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    }
    // Only clients blocked by a command can be woken; one waiting for a
    // CLIENT PAUSE to end cannot.
    let target = u64::try_from(id)
        .ok()
        .and_then(|id| live_client(ctx.srv, id));
    match target {
        Some(t) if t.blocked.load(Ordering::Relaxed) == BLOCKED_COMMAND => {
            t.unblock.store(reason, Ordering::Relaxed);
            t.wake.notify_one();
            ctx.out.int(1);
        }
        _ => ctx.out.int(0),
    }
}
