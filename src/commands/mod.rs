//! Command families and the dispatch table.
//!
//! Each family module (`strings`, `keys`, `connection`, `server` …) exports
//! `COMMANDS: &[CommandDef]`, declaring every command's metadata (arity,
//! flags, ACL categories, keys, summary) beside its handler. [`Table`] is
//! built from those lists; [`execute`] looks a request up, checks arity and
//! authentication, locks the shards of the command's keys and runs the
//! handler, then records statistics.

pub mod aof;
pub mod bitmaps;
pub mod blocking;
pub mod connection;
pub mod expire;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod introspection;
pub mod keys;
pub mod lists;
pub mod numkeys;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod transactions;
pub mod zsets;

use crate::protocol::reply::Reply;
use crate::server::client::Client;
use crate::server::shared::Shared;
use crate::storage::keyspace::Db;
use quanta::Instant;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Command flags (Redis's names, as `COMMAND INFO` shows them).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const MODULE: u32 = 1 << 3;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const ASKING: u32 = 1 << 12;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const MAY_REPLICATE: u32 = 1 << 15;
    pub const SENTINEL: u32 = 1 << 16;
    pub const ONLY_SENTINEL: u32 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 18;
    pub const PROTECTED: u32 = 1 << 19;
    pub const NO_ASYNC_LOADING: u32 = 1 << 20;
    pub const NO_MULTI: u32 = 1 << 21;
    pub const MOVABLE_KEYS: u32 = 1 << 22;
    pub const ALLOW_BUSY: u32 = 1 << 23;

    /// Names in the order Redis lists them in `COMMAND INFO`.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (MODULE, "module"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (ONLY_SENTINEL, "only_sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (PROTECTED, "protected"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories (`@read`, `@string` …).
pub mod acl {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;

    /// Names in Redis's order.
    pub const NAMES: &[(u32, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Which shards the dispatcher locks before calling a handler.
#[derive(Clone, Copy, Debug)]
pub enum Keys {
    /// No key: nothing locked (the handler may lock what it needs itself).
    None,
    /// Keys at `first`, `first + step` … up to `last` (negative = counted
    /// from the end, -1 = last argument). Redis's legacy (first, last, step).
    Range { first: i16, last: i16, step: i16 },
    /// Keys found by a function (`numkeys` forms and the like); it pushes
    /// argument indexes.
    Custom(fn(&Args, &mut Vec<usize>)),
    /// Like `Custom`, but the function returns true when this particular
    /// call must see the whole keyspace (SORT with BY/GET patterns, which
    /// name keys built from the data): then every shard is locked.
    CustomOrAll(fn(&Args, &mut Vec<usize>) -> bool),
    /// Every shard (whole-keyspace commands).
    All,
}

impl Keys {
    /// One key, at argument 1.
    pub const ONE: Keys = Keys::Range {
        first: 1,
        last: 1,
        step: 1,
    };
    /// Every argument from 1 on is a key.
    pub const ALL_ARGS: Keys = Keys::Range {
        first: 1,
        last: -1,
        step: 1,
    };
}

/// A command handler.
pub type Handler = fn(&mut Ctx, &Args);

/// One command (or subcommand) and everything known about it.
pub struct CommandDef {
    /// Lowercase name; subcommands are named `container|sub`.
    pub name: &'static str,
    /// Redis arity: `n` = exactly n arguments (with the name), `-n` = at
    /// least n.
    pub arity: i32,
    pub flags: u32,
    pub acl: u32,
    pub keys: Keys,
    /// Redis's command group (`string`, `generic`, `connection` …).
    pub group: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// One line in our own words.
    pub summary: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandDef],
}

fn no_handler(ctx: &mut Ctx, _: &Args) {
    ctx.out.err("ERR this command has no handler");
}

impl CommandDef {
    /// Defaults for the fields a declaration leaves out.
    pub const DEFAULT: CommandDef = CommandDef {
        name: "",
        arity: 1,
        flags: 0,
        acl: 0,
        keys: Keys::None,
        group: "generic",
        since: "1.0.0",
        summary: "",
        handler: no_handler,
        subcommands: &[],
    };

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Name of the container command for a subcommand (`config|get` → `config`).
    pub fn container(&self) -> Option<&'static str> {
        self.name.split_once('|').map(|(c, _)| c)
    }

    /// The legacy (first, last, step) of COMMAND INFO.
    pub fn key_range(&self) -> (i64, i64, i64) {
        match self.keys {
            Keys::Range { first, last, step } => (first as i64, last as i64, step as i64),
            _ => (0, 0, 0),
        }
    }
}

/// The arguments of one request: spans into a buffer, no copies.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    spans: &'a [(u32, u32)],
}

impl<'a> Args<'a> {
    pub fn new(buf: &'a [u8], spans: &'a [(u32, u32)]) -> Args<'a> {
        Args { buf, spans }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i` (0 = the command name). Panics when out of range.
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// [`Args::iter`] with a known length.
    pub fn iter_exact(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The first `n` arguments.
    pub fn first(&self, n: usize) -> Args<'a> {
        Args {
            buf: self.buf,
            spans: &self.spans[..n.min(self.spans.len())],
        }
    }

    /// Arguments from `from` on.
    pub fn rest(&self, from: usize) -> Args<'a> {
        Args {
            buf: self.buf,
            spans: &self.spans[from.min(self.spans.len())..],
        }
    }
}

/// What a handler works with.
pub struct Ctx<'a, 'k> {
    /// The selected database over the shards the dispatcher locked.
    pub db: &'a mut Db<'k>,
    /// The connection's reply buffer.
    pub out: &'a mut Reply,
    /// The calling connection's state.
    pub client: &'a mut Client,
    /// Server-wide state.
    pub srv: &'a Shared,
    /// The command being run.
    pub def: &'static CommandDef,
}

impl Ctx<'_, '_> {
    /// `ERR syntax error`.
    pub fn syntax_error(&mut self) {
        self.out.err("ERR syntax error");
    }

    /// `ERR value is not an integer or out of range`.
    pub fn not_integer(&mut self) {
        self.out.err("ERR value is not an integer or out of range");
    }

    /// Propagates `args` instead of the running command (AOF, replicas):
    /// see [`Db::propagate_as`].
    #[inline]
    pub fn propagate_as(&mut self, args: &[&[u8]]) {
        self.db.propagate_as(args);
    }

    /// True when writes are being propagated (AOF or replicas attached):
    /// handlers skip building rewritten forms otherwise.
    #[inline]
    pub fn propagating(&self) -> bool {
        self.srv.keyspace.feed.active()
    }

    /// Reports a keyspace notification (`class` from
    /// [`crate::storage::notify`], Redis's event name) on `key` of the
    /// selected database.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.db.notify(class, event, key);
    }

    /// `WRONGTYPE …`.
    pub fn wrong_type(&mut self) {
        self.out
            .err("WRONGTYPE Operation against a key holding the wrong kind of value");
    }
}

/// Every family's declarations, in the order COMMAND lists them.
pub fn all_families() -> Vec<&'static [CommandDef]> {
    vec![
        strings::COMMANDS,
        bitmaps::COMMANDS,
        keys::COMMANDS,
        expire::COMMANDS,
        connection::COMMANDS,
        server::COMMANDS,
        transactions::COMMANDS,
        pubsub::COMMANDS,
        hashes::COMMANDS,
        introspection::COMMANDS,
        sets::COMMANDS,
        streams::COMMANDS,
        lists::COMMANDS,
        zsets::COMMANDS,
        geo::COMMANDS,
        sort::COMMANDS,
        hyperloglog::COMMANDS,
        persistence::COMMANDS,
        aof::COMMANDS,
        replication::COMMANDS,
        scripting::COMMANDS,
    ]
}

/// The dispatch table: command name (lowercase) → definition. Each
/// definition (commands and subcommands) also has a dense id for per-command
/// statistics.
pub struct Table {
    by_name: HashMap<Vec<u8>, (&'static CommandDef, usize), foldhash::fast::RandomState>,
    /// The same names (those up to [`NAME_WORDS`] words long) in the index
    /// every request goes through.
    fast: NameIndex,
    /// Every definition, commands and subcommands; index = id. A command's
    /// subcommands follow it, so subcommand `k` has id `command id + 1 + k`.
    all: Vec<&'static CommandDef>,
}

impl Table {
    /// Builds the table, applying `rename-command` pairs (an empty new name
    /// disables the command).
    pub fn new(renames: &[(String, String)]) -> Table {
        let mut by_name = HashMap::with_hasher(foldhash::fast::RandomState::default());
        let mut all = Vec::new();
        for fam in all_families() {
            for def in fam {
                by_name.insert(def.name.as_bytes().to_vec(), (def, all.len()));
                all.push(def);
                for sub in def.subcommands {
                    all.push(sub);
                }
            }
        }
        for (old, new) in renames {
            if let Some(def) = by_name.remove(old.to_ascii_lowercase().as_bytes())
                && !new.is_empty()
            {
                by_name.insert(new.to_ascii_lowercase().into_bytes(), def);
            }
        }
        let fast = NameIndex::new(by_name.iter().map(|(k, v)| (k.as_slice(), *v)));
        Table { by_name, all, fast }
    }

    /// Looks a command name up, case-insensitively.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<(&'static CommandDef, usize)> {
        match NameIndex::pack(name) {
            Some(packed) => self.fast.get(&packed),
            // Only a rename can make a name this long.
            None => self.by_name.get(&name.to_ascii_lowercase()).copied(),
        }
    }

    /// The commands a client can call (after renames), by name.
    pub fn commands(&self) -> impl Iterator<Item = (&[u8], &'static CommandDef)> {
        self.by_name.iter().map(|(k, v)| (k.as_slice(), v.0))
    }

    /// Every definition including subcommands; the index is its id.
    pub fn all(&self) -> &[&'static CommandDef] {
        &self.all
    }

    /// Finds a subcommand of `def` (whose id is `id`) by name,
    /// case-insensitively; returns it with its id.
    pub fn subcommand(
        def: &'static CommandDef,
        id: usize,
        name: &[u8],
    ) -> Option<(&'static CommandDef, usize)> {
        def.subcommands.iter().enumerate().find_map(|(k, s)| {
            let sub = s.name.split_once('|').map(|(_, b)| b).unwrap_or(s.name);
            sub.as_bytes()
                .eq_ignore_ascii_case(name)
                .then_some((s, id + 1 + k))
        })
    }
}

/// Words of a name packed by [`NameIndex::pack`] (names up to 32 bytes).
const NAME_WORDS: usize = 4;

/// A command name lowercased and packed into words, zero-padded.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct PackedName {
    words: [u64; NAME_WORDS],
    len: usize,
}

/// A name with its definition and id.
type NameSlot = (PackedName, &'static CommandDef, usize);

/// Open-addressing index of command names: a lookup copies the name into
/// a fixed buffer, lowercases it, multiplies one word for the slot and
/// compares a few words, with no slice hashing and no pointer to follow
/// (the per-request cost of finding the command).
struct NameIndex {
    slots: Box<[Option<NameSlot>]>,
    shift: u32,
}

impl NameIndex {
    fn new<'a>(names: impl Iterator<Item = (&'a [u8], (&'static CommandDef, usize))>) -> Self {
        let names: Vec<_> = names
            .filter_map(|(n, v)| Some((Self::pack(n)?, v)))
            .collect();
        // At most a quarter full: probes are short.
        let bits = (names.len().max(1) * 4)
            .next_power_of_two()
            .trailing_zeros();
        let mut index = NameIndex {
            slots: vec![None; 1 << bits].into_boxed_slice(),
            shift: 64 - bits,
        };
        let mask = index.slots.len() - 1;
        for (packed, (def, id)) in names {
            let mut i = index.slot_of(&packed);
            while index.slots[i].is_some() {
                i = (i + 1) & mask;
            }
            index.slots[i] = Some((packed, def, id));
        }
        index
    }

    /// `name` lowercased and packed, or `None` when it is too long.
    #[inline]
    fn pack(name: &[u8]) -> Option<PackedName> {
        let mut buf = [0u8; NAME_WORDS * 8];
        buf.get_mut(..name.len())?.copy_from_slice(name);
        buf.make_ascii_lowercase();
        let mut words = [0u64; NAME_WORDS];
        for (w, chunk) in words.iter_mut().zip(buf.chunks_exact(8)) {
            *w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        Some(PackedName {
            words,
            len: name.len(),
        })
    }

    #[inline]
    fn slot_of(&self, p: &PackedName) -> usize {
        let h = (p.words[0] ^ p.words[1].rotate_left(21) ^ p.words[2].rotate_left(42))
            .wrapping_add(p.len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> self.shift) as usize
    }

    #[inline]
    fn get(&self, p: &PackedName) -> Option<(&'static CommandDef, usize)> {
        let mask = self.slots.len() - 1;
        let mut i = self.slot_of(p);
        loop {
            match &self.slots[i] {
                Some((q, def, id)) if q == p => return Some((def, *id)),
                Some(_) => i = (i + 1) & mask,
                None => return None,
            }
        }
    }
}

/// Appends Redis's rendering of the first arguments to an error message
/// (`'a' 'b' `), at most about 128 characters, as in unknown-command errors.
fn args_preview(args: &Args, from: usize, msg: &mut Vec<u8>) {
    let mut len = 0usize;
    for i in from..args.len() {
        if len >= 128 {
            break;
        }
        let a = args.get(i);
        let take = a.len().min(128 - len);
        msg.push(b'\'');
        msg.extend_from_slice(&a[..take]);
        msg.extend_from_slice(b"' ");
        len += take + 3;
    }
}

/// Truncates to at most `n` bytes (Redis's `%.128s`).
fn clip(s: &[u8], n: usize) -> &[u8] {
    &s[..s.len().min(n)]
}

/// Resolves the definition of a request, answering Redis's error when there
/// is none or the arity is wrong. On error the reply is written and `Err`
/// returned, with the command's id when it was found (wrong arity).
pub fn resolve(
    srv: &Shared,
    out: &mut Reply,
    args: &Args,
) -> Result<(&'static CommandDef, usize), Option<usize>> {
    let name = args.get(0);
    let Some((mut def, mut id)) = srv.table.lookup(name) else {
        let mut msg = b"ERR unknown command '".to_vec();
        msg.extend_from_slice(clip(name, 128));
        msg.extend_from_slice(b"', with args beginning with: ");
        args_preview(args, 1, &mut msg);
        out.error(&msg);
        return Err(None);
    };
    if !def.subcommands.is_empty() && args.len() >= 2 {
        match Table::subcommand(def, id, args.get(1)) {
            Some((sub, sub_id)) => (def, id) = (sub, sub_id),
            None => {
                let mut msg = b"ERR unknown subcommand '".to_vec();
                msg.extend_from_slice(clip(args.get(1), 128));
                msg.extend_from_slice(b"'. Try ");
                msg.extend_from_slice(def.name.to_ascii_uppercase().as_bytes());
                msg.extend_from_slice(b" HELP.");
                out.error(&msg);
                return Err(None);
            }
        }
    }
    let argc = args.len() as i32;
    if (def.arity > 0 && argc != def.arity) || argc < -def.arity {
        let msg = format!("ERR wrong number of arguments for '{}' command", def.name);
        out.err(&msg);
        return Err(Some(id));
    }
    Ok((def, id))
}

/// Runs one request for a client: lookup, checks, locking, the handler,
/// statistics. The reply is appended to `out`.
pub fn execute(srv: &Shared, client: &mut Client, out: &mut Reply, args: &Args) {
    let errors_before = out.error_count();
    let (def, id) = match resolve(srv, out, args) {
        Ok(found) => found,
        Err(id) => {
            client.note_rejected(srv, id, out);
            client.abort_multi();
            return;
        }
    };
    if !client.authenticated && !def.has(flags::NO_AUTH) {
        out.err("NOAUTH Authentication required.");
        client.note_rejected(srv, Some(id), out);
        client.abort_multi();
        return;
    }
    // maxmemory: one relaxed load when there is no limit.
    if srv.keyspace.evict.maxmemory() != 0
        && crate::server::maxmemory::check(srv, client, out, def, id)
    {
        return;
    }
    if srv.repl.gate.load(std::sync::atomic::Ordering::Relaxed)
        && !client.is_master
        && let Some(err) = crate::replication::refuse(srv, client, def)
    {
        out.err(err);
        client.note_rejected(srv, Some(id), out);
        client.abort_multi();
        return;
    }
    if client.in_pubsub()
        && out.resp() == crate::protocol::reply::Resp::V2
        && !matches!(
            def.name,
            "ping"
                | "subscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "quit"
                | "reset"
        )
    {
        let msg = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            def.name
        );
        out.err(&msg);
        client.note_rejected(srv, Some(id), out);
        client.abort_multi();
        return;
    }
    // A script over its busy threshold: one relaxed load otherwise.
    if srv.scripts.busy() && !def.has(flags::ALLOW_BUSY) {
        out.err(crate::scripting::busy_error());
        client.note_rejected(srv, Some(id), out);
        client.abort_multi();
        return;
    }
    if let Some(m) = &mut client.multi
        && !transactions::runs_inside_multi(def)
    {
        if def.has(flags::NO_MULTI) {
            m.aborted = true;
            out.err("ERR Command not allowed inside a transaction");
            client.note_rejected(srv, Some(id), out);
            return;
        }
        m.queue(args, def, id);
        let queued = m.cmds.len() as i64;
        let info = &client.info;
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        info.multi.store(queued, relaxed);
        // As Redis's `argv_len_sums`: argument bytes plus a pointer each.
        let mem: usize = args.iter().map(|a| a.len() + 8).sum();
        info.multi_mem.fetch_add(mem, relaxed);
        // CLIENT LIST's `cmd` is the last command queued, as in Redis.
        info.last_cmd.store(id + 1, relaxed);
        out.simple(b"QUEUED");
        return;
    }
    run(srv, client, out, args, def, id, errors_before);
}

/// Locks the shards of the command's keys, then [`call`]s it.
pub fn run(
    srv: &Shared,
    client: &mut Client,
    out: &mut Reply,
    args: &Args,
    def: &'static CommandDef,
    id: usize,
    errors_before: u64,
) {
    let ks = &srv.keyspace;
    let db_index = client.db;
    let mut db = match def.keys {
        Keys::None => ks.view_none(db_index),
        Keys::Range {
            first: 1, last: 1, ..
        } => ks.view_one(db_index, args.get(1)),
        Keys::Range { first, last, step } => {
            let argc = args.len() as i64;
            let last = if last < 0 {
                argc + last as i64
            } else {
                (last as i64).min(argc - 1)
            };
            let step = step.max(1) as usize;
            let idx = (first as usize..=last.max(0) as usize).step_by(step);
            ks.view_keys(
                db_index,
                idx.filter(|&i| i < args.len()).map(|i| args.get(i)),
            )
        }
        Keys::Custom(f) => {
            let mut idx = Vec::new();
            f(args, &mut idx);
            ks.view_keys(
                db_index,
                idx.into_iter()
                    .filter(|&i| i < args.len())
                    .map(|i| args.get(i)),
            )
        }
        Keys::CustomOrAll(f) => {
            let mut idx = Vec::new();
            if f(args, &mut idx) {
                ks.view_all(db_index)
            } else {
                ks.view_keys(
                    db_index,
                    idx.into_iter()
                        .filter(|&i| i < args.len())
                        .map(|i| args.get(i)),
                )
            }
        }
        Keys::All => ks.view_all(db_index),
    };
    call(srv, client, out, args, def, id, errors_before, &mut db);
    // Hand what this command (or transaction) pushed to blocked clients
    // before anyone else can see the keys.
    let before = db.dirty;
    db.serve_ready();
    if db.dirty > before {
        srv.add_dirty(db.dirty - before);
    }
}

/// Calls `def`'s handler over an already locked view (the shards it needs,
/// or all of them inside EXEC), catching panics, then records statistics.
#[allow(clippy::too_many_arguments)]
pub fn call(
    srv: &Shared,
    client: &mut Client,
    out: &mut Reply,
    args: &Args,
    def: &'static CommandDef,
    id: usize,
    errors_before: u64,
    db: &mut Db,
) {
    let mark = out.len();
    let start = Instant::now();
    db.index = client.db;
    let dirty_before = db.dirty;
    db.rewrote = false;
    let mut ctx = Ctx {
        db,
        out: &mut *out,
        client: &mut *client,
        srv,
        def,
    };
    let res = catch_unwind(AssertUnwindSafe(|| (def.handler)(&mut ctx, args)));
    let dirty = ctx.db.dirty - dirty_before;
    if let Err(panic) = res {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        crate::server::log::warning(&format!(
            "Internal error while running '{}': {what}",
            def.name
        ));
        out.truncate(mark);
        out.err("ERR internal error while running the command");
    }
    let elapsed = Instant::now().duration_since(start);
    if dirty > 0 {
        srv.add_dirty(dirty);
        if !db.rewrote && def.has(flags::WRITE) && srv.keyspace.feed.active() {
            db.propagate_verbatim(args.iter_exact());
        }
    }
    if srv.monitors.active() && !def.has(flags::SKIP_MONITOR | flags::ADMIN) {
        let limit = &client.settings.client_output_buffer_limit[crate::server::outlimit::NORMAL];
        let from = (!client.in_script).then_some(&*client.info);
        srv.monitors.feed(srv, client.db, from, args, limit);
    }
    client.note_call(
        srv,
        def,
        id,
        args,
        elapsed,
        out.error_count() > errors_before,
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::protocol::reply::Resp;
    use crate::server::client::ClientInfo;
    use crate::storage::value::string_value;
    use std::sync::Arc;

    #[test]
    fn table_finds_every_name_in_any_case_and_after_renames() {
        let t = Table::new(&[]);
        let mut n = 0;
        for fam in all_families() {
            for def in fam {
                let (found, id) = t.lookup(def.name.as_bytes()).expect(def.name);
                assert!(std::ptr::eq(found, def));
                assert!(std::ptr::eq(t.all()[id], def));
                let upper = def.name.to_ascii_uppercase();
                assert!(std::ptr::eq(t.lookup(upper.as_bytes()).unwrap().0, def));
                n += 1;
            }
        }
        assert!(n > 200);
        for unknown in [
            &b""[..],
            b"ge",
            b"gett",
            b"get\0",
            b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ] {
            assert!(t.lookup(unknown).is_none());
        }
        let long = "a-renamed-get-command-longer-than-thirty-two-bytes";
        let t = Table::new(&[
            ("get".into(), long.into()),
            ("set".into(), "".into()),
            ("incr".into(), "Bump".into()),
        ]);
        assert!(t.lookup(b"get").is_none() && t.lookup(b"set").is_none());
        assert_eq!(
            t.lookup(long.to_uppercase().as_bytes()).unwrap().0.name,
            "get"
        );
        assert_eq!(t.lookup(b"BUMP").unwrap().0.name, "incr");
        assert!(t.lookup(b"incr").is_none());
    }

    fn panicking(ctx: &mut Ctx, args: &Args) {
        // Change something first, then blow up with the shard locked.
        ctx.db.set(args.get(1), string_value(b"half"), false);
        ctx.out.int(1);
        panic!("boom");
    }

    static PANICS: CommandDef = CommandDef {
        name: "panics",
        arity: 2,
        keys: Keys::ONE,
        handler: panicking,
        ..CommandDef::DEFAULT
    };

    /// Runs one command line through the dispatcher; returns the reply.
    fn send(srv: &Shared, client: &mut Client, line: &[&str]) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for a in line {
            let start = buf.len() as u32;
            buf.extend_from_slice(a.as_bytes());
            spans.push((start, buf.len() as u32));
        }
        let mut out = Reply::new(Resp::V2);
        execute(srv, client, &mut out, &Args::new(&buf, &spans));
        out.bytes().to_vec()
    }

    fn resp(cmds: &[&[&str]]) -> String {
        let mut v = Vec::new();
        for c in cmds {
            crate::storage::feed::encode_command(&mut v, c.iter().map(|a| a.as_bytes()));
        }
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn writes_reach_the_feed_in_deterministic_form() {
        let srv = Shared::new(Arc::new(Config::default()), 1);
        let info = Arc::new(ClientInfo::new(
            1,
            "127.0.0.1:1".into(),
            String::new(),
            -1,
            false,
        ));
        let mut c = Client::new(&srv, info, 0, true);
        send(&srv, &mut c, &["SET", "before", "x"]);
        srv.keyspace.feed.set_active(true);
        assert_eq!(send(&srv, &mut c, &["SET", "a", "1"]), b"+OK\r\n");
        send(&srv, &mut c, &["GET", "a"]); // reads are not propagated
        send(&srv, &mut c, &["DEL", "missing"]); // nor writes that change nothing
        send(&srv, &mut c, &["INCRBYFLOAT", "f", "1.5"]);
        send(&srv, &mut c, &["HINCRBYFLOAT", "h", "x", "0.25"]);
        send(&srv, &mut c, &["SADD", "s", "only"]);
        send(&srv, &mut c, &["SPOP", "s"]);
        send(&srv, &mut c, &["RPUSH", "l", "a", "b", "c", "d"]);
        send(&srv, &mut c, &["BLPOP", "nothing", "l", "0"]);
        send(&srv, &mut c, &["LMPOP", "1", "l", "RIGHT", "COUNT", "5"]);
        send(&srv, &mut c, &["RPUSH", "l", "e"]);
        send(&srv, &mut c, &["BRPOPLPUSH", "l", "m", "0"]);
        send(&srv, &mut c, &["SELECT", "2"]);
        send(&srv, &mut c, &["MULTI"]);
        send(&srv, &mut c, &["SET", "x", "1"]);
        send(&srv, &mut c, &["INCR", "y"]);
        send(&srv, &mut c, &["GET", "x"]);
        send(&srv, &mut c, &["EXEC"]);
        let (buf, _) = srv.keyspace.feed.take();
        let want = resp(&[
            &["SELECT", "0"],
            &["SET", "a", "1"],
            &["SET", "f", "1.5", "KEEPTTL"],
            &["HSET", "h", "x", "0.25"],
            &["SADD", "s", "only"],
            &["SREM", "s", "only"],
            &["RPUSH", "l", "a", "b", "c", "d"],
            &["LPOP", "l"],
            &["RPOP", "l", "3"],
            &["RPUSH", "l", "e"],
            &["LMOVE", "l", "m", "RIGHT", "LEFT"],
            &["SELECT", "2"],
            &["MULTI"],
            &["SET", "x", "1"],
            &["INCR", "y"],
            &["EXEC"],
        ]);
        assert_eq!(String::from_utf8_lossy(&buf), want);

        // Relative expiry becomes absolute; a lazily expired key is a DEL.
        send(&srv, &mut c, &["EXPIRE", "x", "100"]);
        send(&srv, &mut c, &["SET", "t", "v", "PX", "1"]);
        std::thread::sleep(std::time::Duration::from_millis(5));
        send(&srv, &mut c, &["GET", "t"]);
        let (buf, _) = srv.keyspace.feed.take();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let parts: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(&parts[..4], &["*3", "$9", "PEXPIREAT", "$1"], "{text}");
        let at: i64 = parts[6].parse().unwrap();
        assert!((at - crate::storage::keyspace::unix_ms() - 100_000).abs() < 5_000);
        assert!(text.contains("PXAT"), "{text}");
        assert!(text.ends_with(&resp(&[&["DEL", "t"]])), "{text}");
    }

    #[test]
    fn zmpop_reaches_the_feed_as_a_single_key_pop() {
        let srv = Shared::new(Arc::new(Config::default()), 1);
        let info = Arc::new(ClientInfo::new(
            1,
            "127.0.0.1:1".into(),
            String::new(),
            -1,
            false,
        ));
        let mut c = Client::new(&srv, info, 0, true);
        srv.keyspace.feed.set_active(true);
        send(&srv, &mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        send(
            &srv,
            &mut c,
            &["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "2"],
        );
        send(&srv, &mut c, &["ZMPOP", "1", "nokey", "MIN"]);
        let (buf, _) = srv.keyspace.feed.take();
        let want = resp(&[
            &["SELECT", "0"],
            &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
            &["ZPOPMAX", "z", "2"],
        ]);
        assert_eq!(String::from_utf8_lossy(&buf), want);
    }

    #[test]
    fn xadd_propagates_the_id_used_and_an_exact_trim() {
        let srv = Shared::new(Arc::new(Config::default()), 1);
        let info = Arc::new(ClientInfo::new(
            1,
            "127.0.0.1:1".into(),
            String::new(),
            -1,
            false,
        ));
        let mut c = Client::new(&srv, info, 0, true);
        srv.keyspace.feed.set_active(true);
        send(&srv, &mut c, &["XADD", "s", "5-*", "f", "v"]);
        send(&srv, &mut c, &["XADD", "s", "MAXLEN", "1", "6-0", "f", "v"]);
        send(&srv, &mut c, &["XADD", "s", "MAXLEN", "0", "7-0", "f", "v"]);
        let (buf, _) = srv.keyspace.feed.take();
        let want = resp(&[
            &["SELECT", "0"],
            &["XADD", "s", "5-0", "f", "v"],
            &["XADD", "s", "6-0", "f", "v"],
            &["XTRIM", "s", "MINID", "=", "6-0"],
            &["XADD", "s", "7-0", "f", "v"],
            &["XTRIM", "s", "MAXLEN", "=", "0"],
        ]);
        assert_eq!(String::from_utf8_lossy(&buf), want);
    }

    fn test_client(srv: &Shared, id: u64) -> Client {
        let info = Arc::new(ClientInfo::new(
            id,
            "127.0.0.1:1".into(),
            String::new(),
            -1,
            false,
        ));
        Client::new(srv, info, 0, true)
    }

    /// The commands in a feed buffer, with the value after `TIME` (a
    /// clock reading) replaced by `T`.
    fn feed_commands(buf: &[u8]) -> Vec<Vec<String>> {
        feed_args(buf, true)
    }

    fn feed_args(buf: &[u8], mask_time: bool) -> Vec<Vec<String>> {
        let text = String::from_utf8_lossy(buf).into_owned();
        let mut lines = text.split("\r\n");
        let mut cmds = Vec::new();
        while let Some(head) = lines.next() {
            let Some(n) = head.strip_prefix('*') else {
                break;
            };
            let n: usize = n.parse().unwrap();
            let mut c: Vec<String> = Vec::new();
            for _ in 0..n {
                lines.next();
                let arg = lines.next().unwrap().to_string();
                if mask_time && c.last().is_some_and(|p| p == "TIME") {
                    c.push("T".into());
                } else {
                    c.push(arg);
                }
            }
            cmds.push(c);
        }
        cmds
    }

    fn strs(cmds: &[&[&str]]) -> Vec<Vec<String>> {
        cmds.iter()
            .map(|c| c.iter().map(|a| a.to_string()).collect())
            .collect()
    }

    #[test]
    fn blocking_zset_pops_reach_the_feed_as_zpop() {
        use crate::storage::blocking::SERVED;
        let srv = Shared::new(Arc::new(Config::default()), 1);
        let mut a = test_client(&srv, 1);
        let mut b = test_client(&srv, 2);
        srv.keyspace.feed.set_active(true);
        send(&srv, &mut b, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        send(&srv, &mut a, &["BZPOPMIN", "nokey", "z", "0"]);
        send(
            &srv,
            &mut a,
            &["BZMPOP", "0", "2", "nokey", "z", "MAX", "COUNT", "5"],
        );
        // Blocks (no reply), then served by another client's ZADD.
        assert_eq!(send(&srv, &mut a, &["BZPOPMAX", "w", "v", "0"]), b"");
        let w = a.block.as_ref().expect("blocked").waiter.clone();
        send(&srv, &mut b, &["ZADD", "v", "5", "x", "6", "y"]);
        assert_eq!(w.state(), SERVED);
        assert_eq!(
            w.take_reply().unwrap(),
            b"*3\r\n$1\r\nv\r\n$1\r\ny\r\n$1\r\n6\r\n".to_vec()
        );
        // The connection leaves its other queues (as after a wake-up).
        blocking::unregister(&srv, &w);
        assert_eq!(srv.keyspace.view_none(0).blocked_registrations(), 0);
        a.block = None;
        assert_eq!(send(&srv, &mut a, &["BZMPOP", "0", "1", "u", "MIN"]), b"");
        let w = a.block.as_ref().expect("blocked").waiter.clone();
        send(&srv, &mut b, &["ZADD", "u", "1", "m"]);
        assert_eq!(w.state(), SERVED);
        let (buf, _) = srv.keyspace.feed.take();
        let want = strs(&[
            &["SELECT", "0"],
            &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
            &["ZPOPMIN", "z"],
            &["ZPOPMAX", "z", "2"],
            &["ZADD", "v", "5", "x", "6", "y"],
            &["ZPOPMAX", "v"],
            &["ZADD", "u", "1", "m"],
            &["ZPOPMIN", "u", "1"],
        ]);
        assert_eq!(feed_commands(&buf), want);
    }

    #[test]
    fn xreadgroup_reaches_the_feed_as_xclaim_and_setid_and_replays_exactly() {
        use crate::storage::blocking::SERVED;
        let srv = Shared::new(Arc::new(Config::default()), 1);
        let mut a = test_client(&srv, 1);
        let mut b = test_client(&srv, 2);
        srv.keyspace.feed.set_active(true);
        send(&srv, &mut b, &["XADD", "s", "1-0", "f", "v"]);
        send(&srv, &mut b, &["XADD", "s", "2-0", "f", "v"]);
        send(&srv, &mut b, &["XGROUP", "CREATE", "s", "g", "0"]);
        send(
            &srv,
            &mut a,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"],
        );
        // History reads and empty reads propagate nothing.
        send(
            &srv,
            &mut a,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        );
        send(
            &srv,
            &mut a,
            &["XREADGROUP", "GROUP", "g", "dan", "STREAMS", "s", ">"],
        );
        send(&srv, &mut b, &["XADD", "s", "3-0", "f", "v"]);
        send(
            &srv,
            &mut a,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "bob",
                "NOACK",
                "STREAMS",
                "s",
                ">",
            ],
        );
        // A blocked reader served by XADD from another client.
        let blocked = [
            "XREADGROUP",
            "GROUP",
            "g",
            "carol",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ];
        assert_eq!(send(&srv, &mut a, &blocked), b"");
        let w = a.block.as_ref().expect("blocked").waiter.clone();
        send(&srv, &mut b, &["XADD", "s", "4-0", "f", "v"]);
        assert_eq!(w.state(), SERVED);
        a.block = None;
        // A consumer created by a NOACK history read.
        send(
            &srv,
            &mut a,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "erin",
                "NOACK",
                "STREAMS",
                "s",
                "0",
            ],
        );
        let (buf, _) = srv.keyspace.feed.take();
        let claim = |c: &'static str, id: &'static str| -> Vec<&'static str> {
            vec![
                "XCLAIM",
                "s",
                "g",
                c,
                "0",
                id,
                "TIME",
                "T",
                "RETRYCOUNT",
                "1",
                "FORCE",
                "JUSTID",
                "LASTID",
                id,
            ]
        };
        let (c1, c2, c4) = (
            claim("alice", "1-0"),
            claim("alice", "2-0"),
            claim("carol", "4-0"),
        );
        let want = strs(&[
            &["SELECT", "0"],
            &["XADD", "s", "1-0", "f", "v"],
            &["XADD", "s", "2-0", "f", "v"],
            &["XGROUP", "CREATE", "s", "g", "0"],
            &["MULTI"],
            &c1,
            &c2,
            &["XGROUP", "SETID", "s", "g", "2-0", "ENTRIESREAD", "2"],
            &["EXEC"],
            &["XADD", "s", "3-0", "f", "v"],
            &["MULTI"],
            &["XGROUP", "CREATECONSUMER", "s", "g", "bob"],
            &["XGROUP", "SETID", "s", "g", "3-0", "ENTRIESREAD", "3"],
            &["EXEC"],
            &["XADD", "s", "4-0", "f", "v"],
            &c4,
            &["XGROUP", "SETID", "s", "g", "4-0", "ENTRIESREAD", "4"],
            &["XGROUP", "CREATECONSUMER", "s", "g", "erin"],
        ]);
        assert_eq!(feed_commands(&buf), want);
        // Replaying the feed on another server gives the same group state.
        let replica = Shared::new(Arc::new(Config::default()), 1);
        let mut r = test_client(&replica, 1);
        for c in feed_args(&buf, false) {
            let c: Vec<&str> = c.iter().map(|s| s.as_str()).collect();
            send(&replica, &mut r, &c);
        }
        for q in [
            &["XINFO", "GROUPS", "s"][..],
            &["XPENDING", "s", "g"],
            &["XLEN", "s"],
        ] {
            assert_eq!(send(&srv, &mut b, q), send(&replica, &mut r, q), "{q:?}");
        }
    }

    #[test]
    fn xclaim_and_xautoclaim_reach_the_feed_with_absolute_times() {
        let srv = Shared::new(Arc::new(Config::default()), 1);
        let mut c = test_client(&srv, 1);
        for id in ["1-0", "2-0", "3-0"] {
            send(&srv, &mut c, &["XADD", "s", id, "f", "v"]);
        }
        send(&srv, &mut c, &["XGROUP", "CREATE", "s", "g", "0"]);
        send(
            &srv,
            &mut c,
            &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
        );
        srv.keyspace.feed.set_active(true);
        send(
            &srv,
            &mut c,
            &["XCLAIM", "s", "g", "carl", "0", "1-0", "IDLE", "5000"],
        );
        send(
            &srv,
            &mut c,
            &["XCLAIM", "s", "g", "carl", "0", "2-0", "JUSTID"],
        );
        send(
            &srv,
            &mut c,
            &["XCLAIM", "s", "g", "carl", "0", "9-0", "LASTID", "9-0"],
        );
        send(&srv, &mut c, &["XDEL", "s", "3-0"]);
        send(
            &srv,
            &mut c,
            &["XAUTOCLAIM", "s", "g", "dan", "0", "0", "COUNT", "10"],
        );
        let (buf, _) = srv.keyspace.feed.take();
        let cmds = feed_args(&buf, false);
        let now = crate::storage::keyspace::unix_ms();
        // IDLE 5000 became a TIME about five seconds ago.
        let t: i64 = cmds[1][7].parse().unwrap();
        assert!((now - 5000 - t).abs() < 2000, "{cmds:?}");
        let claim = |c: &'static str, id: &'static str, n: &'static str, last: &'static str| {
            vec![
                "XCLAIM",
                "s",
                "g",
                c,
                "0",
                id,
                "TIME",
                "T",
                "RETRYCOUNT",
                n,
                "FORCE",
                "JUSTID",
                "LASTID",
                last,
            ]
        };
        let want = strs(&[
            &["SELECT", "0"],
            &claim("carl", "1-0", "2", "3-0"),
            &claim("carl", "2-0", "1", "3-0"),
            &["XGROUP", "SETID", "s", "g", "9-0", "ENTRIESREAD", "3"],
            &["XDEL", "s", "3-0"],
            &["MULTI"],
            &claim("dan", "1-0", "3", "9-0"),
            &claim("dan", "2-0", "2", "9-0"),
            // A deleted entry leaves the PEL: propagated with its old owner.
            &claim("bob", "3-0", "1", "9-0"),
            &["EXEC"],
        ]);
        assert_eq!(feed_commands(&buf), want);
    }

    #[test]
    fn a_panicking_handler_answers_an_error_and_leaves_the_shard_usable() {
        let srv = Shared::new(Arc::new(Config::default()), 1);
        let info = Arc::new(ClientInfo::new(
            1,
            "127.0.0.1:1".into(),
            String::new(),
            -1,
            false,
        ));
        let mut client = Client::new(&srv, info, 0, true);
        let mut out = Reply::new(Resp::V2);
        let buf = b"panicsk";
        let spans = [(0u32, 6u32), (6, 7)];
        let args = Args::new(buf, &spans);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        run(&srv, &mut client, &mut out, &args, &PANICS, 0, 0);
        std::panic::set_hook(hook);
        // The partial reply is dropped and replaced by one error.
        assert_eq!(
            out.bytes(),
            b"-ERR internal error while running the command\r\n"
        );
        // The shard is not poisoned: the same key is reachable again.
        let mut db = srv.keyspace.view_one(0, b"k");
        assert!(db.get(b"k").is_some());
    }
}
