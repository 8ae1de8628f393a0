//! COMMAND and its subcommands: the command table as clients see it
//! (`COMMAND`, `COUNT`, `INFO`, `DOCS`, `LIST`, `GETKEYS`, `GETKEYSANDFLAGS`,
//! `HELP`), plus the check that every declared [`CommandDef`] agrees with
//! Redis 7.0's command facts.
//!
//! Two sources are combined. Each family's `CommandDef` is authoritative for
//! what Ember does (arity, flags, ACL categories, summary, subcommands); the
//! generated [`facts`] table (from Redis's command JSON files, see
//! `scripts/gen_command_facts.py`) supplies what Redis reports besides:
//! key specs, tips, the legacy key range, `movablekeys`, argument trees,
//! complexity, doc flags. Only commands in the server's table are listed.
//!
//! Deliberate differences from Redis: summaries are Ember's own words (from
//! the `CommandDef`); `history` entries keep their version but carry an empty
//! description, and key specs carry no `notes`, because that text is Redis's
//! prose. `COMMAND HELP` is worded by us.

#[rustfmt::skip]
#[allow(clippy::all)]
mod facts;

use super::{Args, CommandDef, Ctx, Keys, Table, acl, flags, flags::*};
use crate::protocol::reply::Reply;
use crate::util::glob::glob_match;

pub use facts::FACTS;

/// Key spec flags (bit order as in [`KEY_FLAG_NAMES`]).
pub mod key_flags {
    pub const RO: u16 = 1 << 0;
    pub const RW: u16 = 1 << 1;
    pub const OW: u16 = 1 << 2;
    pub const RM: u16 = 1 << 3;
    pub const ACCESS: u16 = 1 << 4;
    pub const UPDATE: u16 = 1 << 5;
    pub const INSERT: u16 = 1 << 6;
    pub const DELETE: u16 = 1 << 7;
    pub const NOT_KEY: u16 = 1 << 8;
    pub const INCOMPLETE: u16 = 1 << 9;
    pub const VARIABLE_FLAGS: u16 = 1 << 10;
}

/// Key spec flag names as COMMAND INFO and GETKEYSANDFLAGS show them.
pub const KEY_FLAG_NAMES: &[&str] = &[
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
];

/// Argument flags (`optional`, `multiple`, `multiple_token`), bit i = name i.
const ARG_FLAG_NAMES: &[&str] = &["optional", "multiple", "multiple_token"];
/// Documentation flags, bit i = name i.
const DOC_FLAG_NAMES: &[&str] = &["deprecated", "syscmd"];
/// Command flags COMMAND INFO never shows.
const HIDDEN_FLAGS: u32 = SENTINEL | ONLY_SENTINEL | MAY_REPLICATE | PROTECTED;

/// What Redis 7.0 knows about one command or subcommand.
#[derive(Debug)]
pub struct CommandFacts {
    /// Full lowercase name (`config|get`).
    pub name: &'static str,
    pub arity: i32,
    /// `flags::*` bits from the command's declaration (no `movablekeys`).
    pub flags: u32,
    /// `acl::*` bits including the categories implied by the flags.
    pub acl: u32,
    /// Whether Redis adds `movablekeys` (derived from the key specs).
    pub movable_keys: bool,
    /// Legacy (first, last, step), derived from the key specs as Redis does.
    pub legacy_range: (i32, i32, i32),
    /// Group as spelled in the JSON files (`sorted_set`).
    pub group: &'static str,
    /// Group as COMMAND DOCS shows it (`sorted-set`).
    pub group_display: &'static str,
    pub since: &'static str,
    pub complexity: Option<&'static str>,
    /// Bits of [`DOC_FLAG_NAMES`].
    pub doc_flags: u8,
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    /// Versions of the history entries (descriptions left out).
    pub history: &'static [&'static str],
    /// Lowercase command tips.
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    /// Redis has a key-extraction function of its own for this command.
    pub has_getkeys_fn: bool,
    pub has_args: bool,
    pub args: &'static [Arg],
    /// Full names of the subcommands, sorted.
    pub subcommands: &'static [&'static str],
}

/// Where a key spec starts looking for keys.
#[derive(Debug, Clone, Copy)]
pub enum BeginSearch {
    Index {
        pos: i32,
    },
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    Unknown,
}

/// How a key spec finds its keys once it has a start.
#[derive(Debug, Clone, Copy)]
pub enum FindKeys {
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    Unknown,
}

#[derive(Debug)]
pub struct KeySpec {
    /// Bits of [`key_flags`].
    pub flags: u16,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

/// One node of a command's argument tree (COMMAND DOCS).
#[derive(Debug)]
pub struct Arg {
    pub name: &'static str,
    /// Redis's type name (`key`, `string`, `oneof`, `block`, `pure-token` …).
    pub kind: &'static str,
    /// Index into the command's key specs, -1 when not a key.
    pub key_spec_index: i32,
    pub token: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    /// Bits of `optional`, `multiple`, `multiple_token`.
    pub flags: u8,
    /// A `oneof` or `block`: has an `arguments` entry even when empty.
    pub nested: bool,
    pub args: &'static [Arg],
}

/// Redis's facts for a full command name (`get`, `config|get`).
pub fn facts(name: &str) -> Option<&'static CommandFacts> {
    FACTS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FACTS[i])
}

const fn sub(
    name: &'static str,
    arity: i32,
    since: &'static str,
    summary: &'static str,
    handler: super::Handler,
) -> CommandDef {
    CommandDef {
        name,
        arity,
        flags: LOADING | STALE | SENTINEL,
        acl: acl::SLOW | acl::CONNECTION,
        keys: Keys::None,
        group: "server",
        since,
        summary,
        handler,
        subcommands: &[],
    }
}

static COMMAND_SUBCOMMANDS: &[CommandDef] = &[
    sub(
        "command|count",
        2,
        "2.8.13",
        "Tells how many commands the server has.",
        count,
    ),
    sub(
        "command|docs",
        -2,
        "7.0.0",
        "Describes commands for documentation: arguments, complexity, history versions.",
        docs,
    ),
    sub(
        "command|getkeys",
        -4,
        "2.8.13",
        "Lists the key arguments of a complete command.",
        getkeys,
    ),
    sub(
        "command|getkeysandflags",
        -4,
        "7.0.0",
        "Lists the key arguments of a complete command with their access flags.",
        getkeys_and_flags,
    ),
    sub(
        "command|help",
        2,
        "5.0.0",
        "Explains the COMMAND subcommands.",
        help,
    ),
    sub(
        "command|info",
        -2,
        "2.8.13",
        "Describes commands: arity, flags, key positions, ACL categories.",
        info,
    ),
    sub(
        "command|list",
        -2,
        "7.0.0",
        "Lists command names, optionally filtered by ACL category or pattern.",
        list,
    ),
];

pub const COMMANDS: &[CommandDef] = &[CommandDef {
    name: "command",
    arity: -1,
    flags: LOADING | STALE | SENTINEL,
    acl: acl::SLOW | acl::CONNECTION,
    keys: Keys::None,
    group: "server",
    since: "2.8.13",
    summary: "Describes the commands this server knows.",
    handler: all,
    subcommands: COMMAND_SUBCOMMANDS,
}];

// ---------------------------------------------------------------------------
// Finding commands

/// Finds a command or subcommand by full name (`get`, `config|get`), as
/// COMMAND INFO and DOCS accept them.
fn find_by_name(table: &Table, name: &[u8]) -> Option<&'static CommandDef> {
    match name.iter().position(|&b| b == b'|') {
        None => table.lookup(name).map(|(d, _)| d),
        Some(bar) => {
            let (def, id) = table.lookup(&name[..bar])?;
            Table::subcommand(def, id, &name[bar + 1..]).map(|(d, _)| d)
        }
    }
}

/// Top-level commands, sorted by name for a stable order.
fn top_level(table: &Table) -> Vec<&'static CommandDef> {
    let mut v: Vec<_> = table.commands().map(|(_, d)| d).collect();
    v.sort_by_key(|d| d.name);
    v
}

// ---------------------------------------------------------------------------
// COMMAND INFO

fn status_set(out: &mut Reply, bits: u64, names: &[&str], prefix: &str) {
    let chosen: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(chosen.len());
    for n in chosen {
        if prefix.is_empty() {
            out.simple(n.as_bytes());
        } else {
            out.simple(format!("{prefix}{n}").as_bytes());
        }
    }
}

/// Writes a set of `+flag` for `flags::*` bits, in Redis's order.
fn write_command_flags(out: &mut Reply, bits: u32) {
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.simple(n.as_bytes());
    }
}

fn write_acl(out: &mut Reply, bits: u32) {
    let names: Vec<&str> = acl::NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.simple(format!("@{n}").as_bytes());
    }
}

/// Writes key spec flags as GETKEYSANDFLAGS and COMMAND INFO show them.
pub fn write_key_flags(out: &mut Reply, bits: u16) {
    status_set(out, bits as u64, KEY_FLAG_NAMES, "");
}

fn write_key_spec(out: &mut Reply, spec: &KeySpec) {
    out.map(3);
    out.bulk(b"flags");
    write_key_flags(out, spec.flags);
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match spec.begin {
        BeginSearch::Index { pos } => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(pos as i64);
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.int(startfrom as i64);
        }
        BeginSearch::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match spec.find {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            out.bulk(b"range");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"lastkey");
            out.int(lastkey as i64);
            out.bulk(b"keystep");
            out.int(keystep as i64);
            out.bulk(b"limit");
            out.int(limit as i64);
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            out.bulk(b"keynum");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"keynumidx");
            out.int(keynumidx as i64);
            out.bulk(b"firstkey");
            out.int(firstkey as i64);
            out.bulk(b"keystep");
            out.int(keystep as i64);
        }
        FindKeys::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

/// A command as COMMAND INFO / DOCS describe it: Ember's declaration
/// combined with Redis's facts, or Redis's facts alone.
pub struct Described {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub acl: u32,
    pub summary: &'static str,
    pub since: &'static str,
    pub group: &'static str,
    pub legacy_range: (i64, i64, i64),
    pub facts: Option<&'static CommandFacts>,
    pub subcommands: Vec<Described>,
}

impl Described {
    /// From an Ember declaration (the command's own metadata wins).
    pub fn from_def(def: &'static CommandDef) -> Described {
        let facts = facts(def.name);
        let mut flags = def.flags;
        let movable = match facts {
            Some(f) => f.movable_keys,
            None => matches!(def.keys, Keys::Custom(_) | Keys::CustomOrAll(_)),
        };
        if movable {
            flags |= MOVABLE_KEYS;
        }
        let legacy_range = match facts {
            Some(f) => {
                let (a, b, c) = f.legacy_range;
                (a as i64, b as i64, c as i64)
            }
            None => def.key_range(),
        };
        Described {
            name: def.name,
            arity: def.arity,
            flags,
            acl: def.acl,
            summary: def.summary,
            since: facts.map_or(def.since, |f| f.since),
            group: facts.map_or(def.group, |f| f.group_display),
            legacy_range,
            facts,
            subcommands: def.subcommands.iter().map(Described::from_def).collect(),
        }
    }

    /// From Redis's facts alone (summary left empty); used to check the
    /// rendering of every Redis command, not only those Ember implements.
    pub fn from_facts(f: &'static CommandFacts) -> Described {
        let (a, b, c) = f.legacy_range;
        Described {
            name: f.name,
            arity: f.arity,
            flags: f.flags | if f.movable_keys { MOVABLE_KEYS } else { 0 },
            acl: f.acl,
            summary: "",
            since: f.since,
            group: f.group_display,
            legacy_range: (a as i64, b as i64, c as i64),
            facts: Some(f),
            subcommands: f
                .subcommands
                .iter()
                .filter_map(|s| facts(s))
                .map(Described::from_facts)
                .collect(),
        }
    }

    /// Writes the 10-element COMMAND INFO entry.
    pub fn write_info(&self, out: &mut Reply) {
        out.array(10);
        out.bulk(self.name.as_bytes());
        out.int(self.arity as i64);
        write_command_flags(out, self.flags & !HIDDEN_FLAGS);
        out.int(self.legacy_range.0);
        out.int(self.legacy_range.1);
        out.int(self.legacy_range.2);
        write_acl(out, self.acl);
        let tips = self.facts.map_or(&[][..], |f| f.tips);
        out.set(tips.len());
        for t in tips {
            out.bulk(t.as_bytes());
        }
        let specs = self.facts.map_or(&[][..], |f| f.key_specs);
        out.set(specs.len());
        for s in specs {
            write_key_spec(out, s);
        }
        // Redis answers an empty set when there are no subcommands, an
        // array otherwise.
        if self.subcommands.is_empty() {
            out.set(0);
        } else {
            out.array(self.subcommands.len());
            for s in &self.subcommands {
                s.write_info(out);
            }
        }
    }

    /// Writes the COMMAND DOCS map of this command (without its name).
    pub fn write_docs(&self, out: &mut Reply) {
        let f = self.facts;
        let mut fields = 3; // summary, since, group
        let complexity = f.and_then(|f| f.complexity);
        let doc_flags = f.map_or(0, |f| f.doc_flags);
        let deprecated_since = f.and_then(|f| f.deprecated_since);
        let replaced_by = f.and_then(|f| f.replaced_by);
        let history = f.map_or(&[][..], |f| f.history);
        let has_args = f.is_some_and(|f| f.has_args);
        fields += complexity.is_some() as usize
            + (doc_flags != 0) as usize
            + deprecated_since.is_some() as usize
            + replaced_by.is_some() as usize
            + !history.is_empty() as usize
            + has_args as usize
            + !self.subcommands.is_empty() as usize;
        out.map(fields);
        out.bulk(b"summary");
        out.bulk(self.summary.as_bytes());
        out.bulk(b"since");
        out.bulk(self.since.as_bytes());
        out.bulk(b"group");
        out.bulk(self.group.as_bytes());
        if let Some(c) = complexity {
            out.bulk(b"complexity");
            out.bulk(c.as_bytes());
        }
        if doc_flags != 0 {
            out.bulk(b"doc_flags");
            status_set(out, doc_flags as u64, DOC_FLAG_NAMES, "");
        }
        if let Some(v) = deprecated_since {
            out.bulk(b"deprecated_since");
            out.bulk(v.as_bytes());
        }
        if let Some(v) = replaced_by {
            out.bulk(b"replaced_by");
            out.bulk(v.as_bytes());
        }
        if !history.is_empty() {
            out.bulk(b"history");
            out.set(history.len());
            for v in history {
                out.array(2);
                out.bulk(v.as_bytes());
                out.bulk(b"");
            }
        }
        if has_args {
            out.bulk(b"arguments");
            write_args(out, f.map_or(&[][..], |f| f.args));
        }
        if !self.subcommands.is_empty() {
            out.bulk(b"subcommands");
            out.map(self.subcommands.len());
            for s in &self.subcommands {
                out.bulk(s.name.as_bytes());
                s.write_docs(out);
            }
        }
    }
}

fn write_args(out: &mut Reply, args: &[Arg]) {
    out.array(args.len());
    for a in args {
        let fields = 2
            + (a.key_spec_index >= 0) as usize
            + a.token.is_some() as usize
            + a.since.is_some() as usize
            + a.deprecated_since.is_some() as usize
            + (a.flags != 0) as usize
            + a.nested as usize;
        out.map(fields);
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.kind.as_bytes());
        if a.key_spec_index >= 0 {
            out.bulk(b"key_spec_index");
            out.int(a.key_spec_index as i64);
        }
        if let Some(t) = a.token {
            out.bulk(b"token");
            out.bulk(t.as_bytes());
        }
        if let Some(v) = a.since {
            out.bulk(b"since");
            out.bulk(v.as_bytes());
        }
        if let Some(v) = a.deprecated_since {
            out.bulk(b"deprecated_since");
            out.bulk(v.as_bytes());
        }
        if a.flags != 0 {
            out.bulk(b"flags");
            status_set(out, a.flags as u64, ARG_FLAG_NAMES, "");
        }
        if a.nested {
            out.bulk(b"arguments");
            write_args(out, a.args);
        }
    }
}

// ---------------------------------------------------------------------------
// Handlers

/// `COMMAND`: every command's INFO entry.
fn all(ctx: &mut Ctx, _args: &Args) {
    let cmds = top_level(&ctx.srv.table);
    ctx.out.array(cmds.len());
    for def in cmds {
        Described::from_def(def).write_info(ctx.out);
    }
}

fn count(ctx: &mut Ctx, _args: &Args) {
    let n = ctx.srv.table.commands().count();
    ctx.out.int(n as i64);
}

fn info(ctx: &mut Ctx, args: &Args) {
    if args.len() == 2 {
        all(ctx, args);
        return;
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match find_by_name(&ctx.srv.table, name) {
            Some(def) => Described::from_def(def).write_info(ctx.out),
            None => ctx.out.null(),
        }
    }
}

fn docs(ctx: &mut Ctx, args: &Args) {
    let defs: Vec<&'static CommandDef> = if args.len() == 2 {
        top_level(&ctx.srv.table)
    } else {
        args.iter()
            .skip(2)
            .filter_map(|n| find_by_name(&ctx.srv.table, n))
            .collect()
    };
    ctx.out.map(defs.len());
    for def in defs {
        ctx.out.bulk(def.name.as_bytes());
        Described::from_def(def).write_docs(ctx.out);
    }
}

enum ListFilter<'a> {
    All,
    Module,
    AclCat(u32),
    Pattern(&'a [u8]),
}

fn list(ctx: &mut Ctx, args: &Args) {
    let filter = match args.len() {
        2 => ListFilter::All,
        5 if args.get(2).eq_ignore_ascii_case(b"filterby") => {
            let kind = args.get(3);
            let arg = args.get(4);
            if kind.eq_ignore_ascii_case(b"module") {
                ListFilter::Module
            } else if kind.eq_ignore_ascii_case(b"aclcat") {
                let cat = acl::NAMES
                    .iter()
                    .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(arg))
                    .map_or(0, |(b, _)| *b);
                ListFilter::AclCat(cat)
            } else if kind.eq_ignore_ascii_case(b"pattern") {
                ListFilter::Pattern(arg)
            } else {
                ctx.syntax_error();
                return;
            }
        }
        _ => {
            ctx.syntax_error();
            return;
        }
    };
    let keep = |def: &CommandDef| match filter {
        ListFilter::All => true,
        // Ember has no modules.
        ListFilter::Module => false,
        ListFilter::AclCat(cat) => cat != 0 && def.acl & cat != 0,
        ListFilter::Pattern(p) => glob_match(p, def.name.as_bytes(), true),
    };
    let mut names: Vec<&str> = Vec::new();
    for def in top_level(&ctx.srv.table) {
        if keep(def) {
            names.push(def.name);
        }
        for sub in def.subcommands {
            if keep(sub) {
                names.push(sub.name);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
}

fn getkeys(ctx: &mut Ctx, args: &Args) {
    getkeys_reply(ctx, args, false);
}

fn getkeys_and_flags(ctx: &mut Ctx, args: &Args) {
    getkeys_reply(ctx, args, true);
}

fn getkeys_reply(ctx: &mut Ctx, args: &Args, with_flags: bool) {
    let argv: Vec<&[u8]> = args.iter().skip(2).collect();
    let Some((mut def, id)) = ctx.srv.table.lookup(argv[0]) else {
        ctx.out.err("ERR Invalid command specified");
        return;
    };
    if !def.subcommands.is_empty() && argv.len() >= 2 {
        match Table::subcommand(def, id, argv[1]) {
            Some((s, _)) => def = s,
            None => {
                ctx.out.err("ERR Invalid command specified");
                return;
            }
        }
    }
    let source = KeySource::of(def);
    if !source.has_keys() {
        ctx.out.err("ERR The command has no key arguments");
        return;
    }
    let argc = argv.len() as i32;
    if (def.arity > 0 && def.arity != argc) || argc < -def.arity {
        ctx.out
            .err("ERR Invalid number of arguments specified for command");
        return;
    }
    let keys = source.keys(&argv);
    if keys.is_empty() {
        if def.has(NO_MANDATORY_KEYS) {
            ctx.out.array(0);
        } else {
            ctx.out.err("ERR Invalid arguments specified for command");
        }
        return;
    }
    ctx.out.array(keys.len());
    for (pos, fl) in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(argv[pos]);
            write_key_flags(ctx.out, fl);
        } else {
            ctx.out.bulk(argv[pos]);
        }
    }
}

fn help(ctx: &mut Ctx, _args: &Args) {
    const LINES: &[&str] = &[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Describe every command of this server (same as INFO without names).",
        "COUNT",
        "    Number of commands this server has.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Names of the commands and subcommands, optionally only those of a",
        "    module, of an ACL category or matching a glob-style pattern.",
        "INFO [<command-name> ...]",
        "    Arity, flags, key positions, ACL categories, tips, key specs and",
        "    subcommands of the named commands, or of all commands.",
        "DOCS [<command-name> ...]",
        "    Documentation of the named commands, or of all commands: summary,",
        "    version, group, complexity, arguments.",
        "GETKEYS <full-command>",
        "    The key arguments of a complete command line.",
        "GETKEYSANDFLAGS <full-command>",
        "    The key arguments of a complete command line, each with its access flags.",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.simple(l.as_bytes());
    }
}

// ---------------------------------------------------------------------------
// Key extraction (GETKEYS)

/// Where the keys of a command are described.
pub enum KeySource {
    /// Redis's key specs (plus its own extraction function when the specs
    /// are not enough).
    Facts(&'static str, &'static CommandFacts),
    /// A command Redis does not have: its declaration's `keys`.
    Decl(&'static CommandDef),
}

impl KeySource {
    pub fn of(def: &'static CommandDef) -> KeySource {
        match facts(def.name) {
            Some(f) => KeySource::Facts(def.name, f),
            None => KeySource::Decl(def),
        }
    }

    /// Whether the command takes key arguments at all.
    pub fn has_keys(&self) -> bool {
        match self {
            KeySource::Facts(_, f) => {
                f.has_getkeys_fn
                    || f.key_specs
                        .iter()
                        .any(|s| s.flags & key_flags::NOT_KEY == 0)
            }
            KeySource::Decl(def) => match def.keys {
                Keys::Range { first, .. } => first > 0,
                Keys::Custom(_) | Keys::CustomOrAll(_) => true,
                Keys::None | Keys::All => false,
            },
        }
    }

    /// Key positions in `argv` (argv[0] = the command name) with their key
    /// spec flags; empty when the arguments do not make sense.
    pub fn keys(&self, argv: &[&[u8]]) -> Vec<(usize, u16)> {
        match self {
            KeySource::Facts(name, f) => keys_from_facts(name, f, argv),
            KeySource::Decl(def) => {
                let mut idx = Vec::new();
                match def.keys {
                    Keys::Range { first, last, step } => {
                        let argc = argv.len() as i64;
                        let last = if last < 0 {
                            argc + last as i64
                        } else {
                            last as i64
                        };
                        let mut i = first as i64;
                        while i <= last && i < argc {
                            idx.push(i as usize);
                            i += step.max(1) as i64;
                        }
                    }
                    Keys::Custom(find) => {
                        let spans = spans_of(argv);
                        let buf: Vec<u8> = argv.concat();
                        find(&Args::new(&buf, &spans), &mut idx);
                    }
                    Keys::CustomOrAll(find) => {
                        let spans = spans_of(argv);
                        let buf: Vec<u8> = argv.concat();
                        find(&Args::new(&buf, &spans), &mut idx);
                    }
                    Keys::None | Keys::All => {}
                }
                idx.into_iter()
                    .filter(|&i| i < argv.len())
                    .map(|i| (i, key_flags::RW | key_flags::ACCESS | key_flags::UPDATE))
                    .collect()
            }
        }
    }
}

fn spans_of(argv: &[&[u8]]) -> Vec<(u32, u32)> {
    let mut at = 0u32;
    argv.iter()
        .map(|a| {
            let s = (at, at + a.len() as u32);
            at += a.len() as u32;
            s
        })
        .collect()
}

/// Keys of a Redis command: its key specs, or Redis's dedicated extraction
/// where the specs cannot tell (variable flags, incomplete or unknown specs).
pub fn keys_from_facts(name: &str, f: &CommandFacts, argv: &[&[u8]]) -> Vec<(usize, u16)> {
    let all_flags = f.key_specs.iter().fold(0, |a, s| a | s.flags);
    let has_real_spec = f
        .key_specs
        .iter()
        .any(|s| s.flags & key_flags::NOT_KEY == 0);
    if has_real_spec
        && all_flags & key_flags::VARIABLE_FLAGS == 0
        && let Some(keys) = keys_from_specs(f.key_specs, f.arity, argv)
    {
        return keys;
    }
    if f.has_getkeys_fn {
        return dedicated_keys(name, argv);
    }
    Vec::new()
}

fn arg_is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

/// Interprets key specs generically; `None` when a spec cannot be applied
/// to these arguments (out of range, bad key count, unknown or incomplete).
pub fn keys_from_specs(specs: &[KeySpec], arity: i32, argv: &[&[u8]]) -> Option<Vec<(usize, u16)>> {
    let argc = argv.len() as i64;
    let mut keys = Vec::new();
    for spec in specs {
        if spec.flags & key_flags::NOT_KEY != 0 {
            continue;
        }
        let mut first: i64 = match spec.begin {
            BeginSearch::Index { pos } => pos as i64,
            BeginSearch::Keyword { keyword, startfrom } => {
                let start = if startfrom > 0 {
                    startfrom as i64
                } else {
                    argc + startfrom as i64
                };
                let forward = startfrom > 0;
                let mut found = 0;
                let mut i = start;
                while i >= 1 && i < argc {
                    if arg_is(argv[i as usize], keyword) {
                        found = i + 1;
                        break;
                    }
                    i += if forward { 1 } else { -1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            BeginSearch::Unknown => return None,
        };
        let (last, step) = match spec.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey as i64
                } else if limit == 0 {
                    argc + lastkey as i64
                } else {
                    first + ((argc - first) / limit as i64 + lastkey as i64)
                };
                (last, keystep as i64)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = first + keynumidx as i64;
                if at >= argc {
                    return None;
                }
                let n = std::str::from_utf8(argv[at as usize])
                    .ok()
                    .and_then(|s| crate::util::num::parse_i64(s.as_bytes()))
                    .filter(|&n| n >= 0)?;
                first += firstkey as i64;
                (first + n - 1, keystep as i64)
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            if i >= argc {
                // Only variadic commands can get here; keys stop at the end.
                if arity < 0 {
                    i += step.max(1);
                    continue;
                }
                return None;
            }
            keys.push((i as usize, spec.flags));
            i += step.max(1);
        }
        if spec.flags & key_flags::INCOMPLETE != 0 {
            return None;
        }
    }
    Some(keys)
}

/// Redis's own key extraction for the commands whose key specs are not
/// enough. Commands not listed fall back to "no keys", which is what Redis's
/// functions answer whenever the specs failed for them.
fn dedicated_keys(name: &str, argv: &[&[u8]]) -> Vec<(usize, u16)> {
    use key_flags::*;
    let argc = argv.len();
    match name {
        "set" => {
            let get = argv.iter().skip(3).any(|a| arg_is(a, "get"));
            let fl = if get {
                RW | ACCESS | UPDATE
            } else {
                OW | UPDATE
            };
            vec![(1, fl)]
        }
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < argc {
                let rest = argc - i - 1;
                let a = argv[i];
                if arg_is(a, "get") && rest >= 2 {
                    i += 2;
                } else if (arg_is(a, "set") || arg_is(a, "incrby")) && rest >= 3 {
                    readonly = false;
                    break;
                } else if arg_is(a, "overflow") && rest >= 1 {
                    i += 1;
                } else {
                    readonly = false;
                    break;
                }
                i += 1;
            }
            let fl = if readonly {
                RO | ACCESS
            } else {
                RW | ACCESS | UPDATE
            };
            vec![(1, fl)]
        }
        "sort" | "sort_ro" => {
            let mut keys = vec![(1, RO | ACCESS)];
            if name == "sort" {
                let mut store = None;
                let mut i = 2;
                while i < argc {
                    let a = argv[i];
                    if arg_is(a, "limit") {
                        i += 2;
                    } else if arg_is(a, "get") || arg_is(a, "by") {
                        i += 1;
                    } else if arg_is(a, "store") && i + 1 < argc {
                        store = Some(i + 1);
                        i += 1;
                    }
                    i += 1;
                }
                if let Some(s) = store {
                    keys.push((s, OW | UPDATE));
                }
            }
            keys
        }
        "migrate" => {
            let fl = RW | ACCESS | DELETE;
            let (mut first, mut num) = (3, 1);
            let mut i = 6;
            while i < argc {
                let a = argv[i];
                if arg_is(a, "auth") {
                    i += 1;
                } else if arg_is(a, "auth2") {
                    i += 2;
                } else if arg_is(a, "keys") {
                    if !argv[3].is_empty() {
                        return Vec::new();
                    }
                    first = i + 1;
                    num = argc - first;
                    break;
                }
                i += 1;
            }
            (first..first + num)
                .filter(|&k| k < argc)
                .map(|k| (k, fl))
                .collect()
        }
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// Metadata check

fn legacy_of(keys: &Keys) -> Option<(i64, i64, i64)> {
    match *keys {
        Keys::Range { first, last, step } => Some((first as i64, last as i64, step as i64)),
        _ => None,
    }
}

/// Compares one declaration (and its subcommands) with Redis's facts;
/// returns a description of every disagreement.
pub fn check_def(def: &CommandDef) -> Vec<String> {
    let mut bad = Vec::new();
    let name = def.name;
    let Some(f) = facts(name) else {
        bad.push(format!("{name}: Redis 7.0 has no command of this name"));
        return bad;
    };
    if def.arity != f.arity {
        bad.push(format!("{name}: arity {} (Redis: {})", def.arity, f.arity));
    }
    let flags = def.flags & !MOVABLE_KEYS;
    if flags != f.flags {
        bad.push(format!(
            "{name}: flags {:?} (Redis: {:?})",
            flag_names(flags, flags::NAMES),
            flag_names(f.flags, flags::NAMES)
        ));
    }
    if def.acl != f.acl {
        bad.push(format!(
            "{name}: ACL categories {:?} (Redis, with the implied ones: {:?})",
            flag_names(def.acl, acl::NAMES),
            flag_names(f.acl, acl::NAMES)
        ));
    }
    if def.group != f.group && def.group != f.group_display {
        bad.push(format!(
            "{name}: group {:?} (Redis: {:?})",
            def.group, f.group
        ));
    }
    if def.since != f.since {
        bad.push(format!(
            "{name}: since {:?} (Redis: {:?})",
            def.since, f.since
        ));
    }
    let (a, b, c) = f.legacy_range;
    let legacy = (a as i64, b as i64, c as i64);
    let has_key_specs = !f.key_specs.is_empty();
    let only_fake_keys = f
        .key_specs
        .iter()
        .all(|s| s.flags & key_flags::NOT_KEY != 0);
    let keys_ok = match def.keys {
        Keys::Range { .. } => !f.movable_keys && legacy_of(&def.keys) == Some(legacy),
        Keys::Custom(_) | Keys::CustomOrAll(_) => f.movable_keys,
        Keys::All => f.movable_keys || !has_key_specs,
        Keys::None => !has_key_specs || only_fake_keys,
    };
    if !keys_ok {
        bad.push(format!(
            "{name}: keys {:?} do not fit Redis's key specs (legacy range {legacy:?}, movablekeys {})",
            def.keys, f.movable_keys
        ));
    }
    for s in def.subcommands {
        if s.container() != Some(name) {
            bad.push(format!(
                "{name}: subcommand {} is not named {name}|…",
                s.name
            ));
        }
        bad.extend(check_def(s));
    }
    bad
}

fn flag_names(bits: u32, names: &[(u32, &'static str)]) -> Vec<&'static str> {
    names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Every disagreement between Ember's declared commands and Redis's facts.
pub fn metadata_mismatches() -> Vec<String> {
    super::all_families()
        .into_iter()
        .flatten()
        .flat_map(check_def)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_sorted_and_found() {
        assert!(FACTS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(facts("get").unwrap().arity, 2);
        assert_eq!(facts("config|get").unwrap().arity, -3);
        assert!(facts("nosuch").is_none());
    }

    #[test]
    fn declared_commands_match_redis_facts() {
        let bad = metadata_mismatches();
        assert!(bad.is_empty(), "metadata mismatches:\n{}", bad.join("\n"));
    }

    #[test]
    fn check_catches_wrong_declarations() {
        let wrong = CommandDef {
            name: "get",
            arity: -2,
            flags: READONLY,
            acl: acl::READ | acl::STRING,
            keys: Keys::None,
            group: "generic",
            since: "1.0.1",
            ..CommandDef::DEFAULT
        };
        let bad = check_def(&wrong);
        assert_eq!(bad.len(), 6, "{bad:#?}");
        let unknown = CommandDef {
            name: "frobnicate",
            ..CommandDef::DEFAULT
        };
        assert_eq!(check_def(&unknown).len(), 1);
    }

    fn keys(name: &str, line: &str) -> Vec<(usize, u16)> {
        let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        keys_from_facts(name, facts(name).unwrap(), &argv)
    }

    #[test]
    fn key_specs_are_interpreted() {
        use key_flags::*;
        assert_eq!(keys("get", "get k"), vec![(1, RO | ACCESS)]);
        assert_eq!(
            keys("mset", "mset a 1 b 2"),
            vec![(1, OW | UPDATE), (3, OW | UPDATE)]
        );
        assert_eq!(
            keys("zunionstore", "zunionstore d 2 a b"),
            vec![(1, OW | UPDATE), (3, RO | ACCESS), (4, RO | ACCESS)]
        );
        assert!(keys("zunionstore", "zunionstore d 3 a b").is_empty());
        assert_eq!(
            keys("xread", "xread count 2 streams a b 0 0"),
            vec![(4, RO | ACCESS), (5, RO | ACCESS)]
        );
        assert_eq!(keys("set", "set k v"), vec![(1, OW | UPDATE)]);
        assert_eq!(keys("set", "set k v get"), vec![(1, RW | ACCESS | UPDATE)]);
        assert_eq!(
            keys("sort", "sort k by x store d"),
            vec![(1, RO | ACCESS), (5, OW | UPDATE)]
        );
    }
}
