#!/usr/bin/env python3
"""Generates src/commands/introspection/facts.rs from Redis 7.0's command JSON files.

Usage:
    scripts/gen_command_facts.py [JSON_DIR] [OUT_FILE]
    scripts/gen_command_facts.py --check PORT [JSON_DIR]

Defaults: JSON_DIR = /work/shared/redis-commands,
OUT_FILE = src/commands/introspection/facts.rs (relative to the repository).

Only facts are carried over: names, arity, flags, ACL categories, key specs,
argument trees (names, types, tokens, flags, since), tips, complexity,
doc flags, since, group, deprecation versions and the versions of history
entries. Redis's prose (summaries, history descriptions, key spec notes) is
left out on purpose; Ember's summaries come from each CommandDef.

Two values are derived the way Redis 7.0 derives them at startup rather than
read from the files: the legacy (first, last, step) key range and the
`movablekeys` flag. `--check PORT` compares the derived values (and the ACL
categories with their implicit additions) against a running redis-server's
COMMAND INFO, for every command.
"""

import glob
import json
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_JSON = "/work/shared/redis-commands"
DEFAULT_OUT = os.path.join(REPO, "src/commands/introspection/facts.rs")

# Same bit order as src/commands/mod.rs (`flags` and `acl` modules).
CMD_FLAGS = [
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
    "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
    "fast", "no_auth", "may_replicate", "sentinel", "only_sentinel",
    "no_mandatory_keys", "protected", "no_async_loading", "no_multi",
    "movablekeys", "allow_busy",
]
ACL_CATS = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
    "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast",
    "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
]
# Same bit order as `KEY_FLAG_NAMES` in introspection.rs.
KEY_FLAGS = [
    "RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY",
    "INCOMPLETE", "VARIABLE_FLAGS",
]
# Flags of the files that Ember's flag set does not have (COMMAND INFO never
# shows them either); left out of the facts.
IGNORED_FLAGS = {"touches_arbitrary_keys"}
# Flags COMMAND INFO never shows.
HIDDEN_FLAGS = {"sentinel", "only_sentinel", "may_replicate", "protected"}
ARG_FLAGS = ["optional", "multiple", "multiple_token"]
DOC_FLAGS = ["DEPRECATED", "SYSCMD"]
# Group names as COMMAND DOCS shows them (the files spell a few differently).
GROUP_DISPLAY = {"sorted_set": "sorted-set"}


def bit(names, name):
    return 1 << names.index(name)


def load(json_dir):
    """Every command of a normal (non-sentinel) server, by full lowercase name."""
    cmds = {}
    for path in sorted(glob.glob(os.path.join(json_dir, "*.json"))):
        with open(path) as f:
            data = json.load(f)
        for name, c in data.items():
            if c["group"] == "sentinel":
                continue
            full = name.lower()
            if "container" in c:
                full = c["container"].lower() + "|" + full
            if full in cmds:
                raise SystemExit(f"duplicate command {full} in {path}")
            cmds[full] = c
    return cmds


def implicit_acl(flag_names, acl_names):
    """Redis adds categories implied by the flags."""
    acl = set(acl_names)
    f = set(flag_names)
    if "write" in f:
        acl.add("write")
    if "readonly" in f and "scripting" not in acl:
        acl.add("read")
    if "admin" in f:
        acl.update(["admin", "dangerous"])
    if "pubsub" in f:
        acl.add("pubsub")
    if "fast" in f:
        acl.add("fast")
    if "blocking" in f:
        acl.add("blocking")
    if "fast" not in f:
        acl.add("slow")
    return acl


def legacy_range(c):
    """(first, last, step, movable) as Redis derives them from the key specs."""
    specs = c.get("key_specs", [])
    # A getkeys function alone does not make keys movable (SET, BITFIELD).
    movable = False
    if not specs:
        return (0, 0, 0, movable)

    def simple(s):
        return "index" in s["begin_search"] and "range" in s["find_keys"]

    if len(specs) == 1 and simple(specs[0]):
        s = specs[0]
        pos = s["begin_search"]["index"]["pos"]
        rng = s["find_keys"]["range"]
        last = rng["lastkey"]
        if "INCOMPLETE" in s["flags"]:
            movable = True
        return (pos, last if last < 0 else pos + last, rng["step"], movable)

    first = None
    last = 0
    prev_last = 0
    for s in specs:
        if not simple(s):
            movable = True
            continue
        pos = s["begin_search"]["index"]["pos"]
        rng = s["find_keys"]["range"]
        if rng["step"] != 1 or (prev_last and prev_last != pos - 1):
            movable = True
            continue
        if "INCOMPLETE" in s["flags"]:
            movable = True
        first = pos if first is None else min(first, pos)
        abs_last = rng["lastkey"]
        if abs_last >= 0:
            abs_last += pos
        # Unsigned comparison: a negative (counted from the end) last wins.
        if (abs_last & 0xFFFFFFFF) > (last & 0xFFFFFFFF):
            last = abs_last
        prev_last = last
    if first is None:
        return (0, 0, 0, True)
    return (first, last, 1, movable)


def rs_str(s):
    return json.dumps(s, ensure_ascii=True)


def rs_opt(s):
    return "None" if s is None else f"Some({rs_str(s)})"


def flags_expr(names, prefix):
    if not names:
        return "0"
    return " | ".join(f"{prefix}{n.upper()}" for n in names)


def gen_args(args, indent):
    """An argument tree as Rust: one line per argument, children indented."""
    pad = " " * indent
    if not args:
        return "&[]"
    out = ["&["]
    for a in args:
        fl_bits = sum(bit(ARG_FLAGS, f) for f in ARG_FLAGS if a.get(f))
        nested = a["type"] in ("oneof", "block")
        # redis-server 7.0.15 reports a few things differently from these
        # files (checked against COMMAND DOCS): tokens are uppercase (the
        # files have CLIENT KILL TYPE `normal`, GEO units `km`), argument
        # names lowercase (XADD `ID`, CLIENT TRACKING `BCAST`), and MIGRATE's
        # `""` token is the empty string.
        token = a.get("token")
        if token is not None:
            token = "" if token == '""' else token.upper()
        name = a["name"].lower()
        head = (
            f"{pad}    Arg {{ name: {rs_str(name)}, kind: {rs_str(a['type'])}, "
            f"key_spec_index: {a.get('key_spec_index', -1)}, token: {rs_opt(token)}, "
            f"since: {rs_opt(a.get('since'))}, "
            f"deprecated_since: {rs_opt(a.get('deprecated_since'))}, flags: {fl_bits}, "
            f"nested: {'true' if nested else 'false'}, args: "
        )
        sub = a.get("arguments", [])
        if sub:
            out.append(head + gen_args(sub, indent + 4) + " },")
        else:
            out.append(head + "&[] },")
    out.append(f"{pad}]")
    return "\n".join(out)


def gen_spec(s):
    fl = sum(bit(KEY_FLAGS, f) for f in s["flags"])
    bs = s["begin_search"]
    if "index" in bs:
        begin = f"BeginSearch::Index {{ pos: {bs['index']['pos']} }}"
    elif "keyword" in bs:
        kw = bs["keyword"]
        begin = (
            f"BeginSearch::Keyword {{ keyword: {rs_str(kw['keyword'])}, "
            f"startfrom: {kw['startfrom']} }}"
        )
    else:
        begin = "BeginSearch::Unknown"
    fk = s["find_keys"]
    if "range" in fk:
        r = fk["range"]
        find = (
            f"FindKeys::Range {{ lastkey: {r['lastkey']}, keystep: {r['step']}, "
            f"limit: {r['limit']} }}"
        )
    elif "keynum" in fk:
        k = fk["keynum"]
        find = (
            f"FindKeys::Keynum {{ keynumidx: {k['keynumidx']}, firstkey: {k['firstkey']}, "
            f"keystep: {k['step']} }}"
        )
    else:
        find = "FindKeys::Unknown"
    return f"KeySpec {{ flags: {fl}, begin: {begin}, find: {find} }}"


def generate(cmds):
    out = [
        "//! Facts about Redis 7.0's commands, generated by `scripts/gen_command_facts.py`",
        "//! from Redis's command JSON files: do not edit by hand, regenerate.",
        "//!",
        "//! Prose is left out (summaries, history descriptions, key spec notes);",
        "//! only names, numbers, flags and argument structure are kept.",
        "",
        "use super::{Arg, BeginSearch, CommandFacts, FindKeys, KeySpec};",
        "use crate::commands::{acl as A, flags as F};",
        "",
        "/// Every command and subcommand of a Redis 7.0 server (not sentinel mode),",
        "/// sorted by full name (`config|get`).",
        "pub static FACTS: &[CommandFacts] = &[",
    ]
    for full in sorted(cmds):
        c = cmds[full]
        flag_names = [
            f.lower() for f in c.get("command_flags", []) if f.lower() not in IGNORED_FLAGS
        ]
        for f in flag_names:
            if f not in CMD_FLAGS:
                raise SystemExit(f"{full}: unknown flag {f}")
        acl_names = implicit_acl(flag_names, [a.lower() for a in c.get("acl_categories", [])])
        for a in acl_names:
            if a not in ACL_CATS:
                raise SystemExit(f"{full}: unknown ACL category {a}")
        acl_sorted = [a for a in ACL_CATS if a in acl_names]
        first, last, step, movable = legacy_range(c)
        doc_flags = sum(bit(DOC_FLAGS, f) for f in c.get("doc_flags", []))
        history = [h[0] for h in c.get("history", [])]
        tips = [t.lower() for t in c.get("command_tips", [])]
        subs = sorted(n for n in cmds if n.startswith(full + "|"))
        out.append("    CommandFacts {")
        out.append(f"        name: {rs_str(full)},")
        out.append(f"        arity: {c['arity']},")
        out.append(f"        flags: {flags_expr([f for f in CMD_FLAGS if f in flag_names], 'F::')},")
        out.append(f"        acl: {flags_expr(acl_sorted, 'A::')},")
        out.append(f"        movable_keys: {'true' if movable else 'false'},")
        out.append(f"        legacy_range: ({first}, {last}, {step}),")
        out.append(f"        group: {rs_str(c['group'])},")
        out.append(f"        group_display: {rs_str(GROUP_DISPLAY.get(c['group'], c['group']))},")
        out.append(f"        since: {rs_str(c['since'])},")
        out.append(f"        complexity: {rs_opt(c.get('complexity'))},")
        out.append(f"        doc_flags: {doc_flags},")
        out.append(f"        deprecated_since: {rs_opt(c.get('deprecated_since'))},")
        out.append(f"        replaced_by: {rs_opt(c.get('replaced_by'))},")
        out.append(f"        history: &[{', '.join(rs_str(h) for h in history)}],")
        out.append(f"        tips: &[{', '.join(rs_str(t) for t in tips)}],")
        specs = c.get("key_specs", [])
        if specs:
            out.append("        key_specs: &[")
            for s in specs:
                out.append(f"            {gen_spec(s)},")
            out.append("        ],")
        else:
            out.append("        key_specs: &[],")
        out.append(f"        has_getkeys_fn: {'true' if 'get_keys_function' in c else 'false'},")
        out.append(f"        has_args: {'true' if 'arguments' in c else 'false'},")
        out.append(f"        args: {gen_args(c.get('arguments', []), 8)},")
        out.append(f"        subcommands: &[{', '.join(rs_str(s) for s in subs)}],")
        out.append("    },")
    out.append("];")
    return "\n".join(out) + "\n"


# --- checking derived values against a live redis-server -------------------


def resp_read(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-"):
        return rest.decode()
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise SystemExit(f"unexpected reply {line!r}")


def check(port, cmds):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    s.sendall(b"*1\r\n$7\r\nCOMMAND\r\n")
    infos = {}

    def walk(entries):
        for e in entries:
            infos[e[0]] = e
            walk(e[9])

    walk(resp_read(f))
    bad = 0
    if set(infos) != set(cmds):
        print("name sets differ:", set(infos) ^ set(cmds))
        bad += 1
    for full, c in sorted(cmds.items()):
        e = infos.get(full)
        if e is None:
            continue
        flag_names = [x.lower() for x in c.get("command_flags", [])]
        first, last, step, movable = legacy_range(c)
        want_flags = [
            x
            for x in CMD_FLAGS
            if x not in HIDDEN_FLAGS and (x in flag_names or (x == "movablekeys" and movable))
        ]
        acl = implicit_acl(flag_names, [a.lower() for a in c.get("acl_categories", [])])
        want_acl = ["@" + a for a in ACL_CATS if a in acl]
        got = (e[1], e[2], e[3], e[4], e[5], e[6])
        want = (c["arity"], want_flags, first, last, step, want_acl)
        if got != want:
            bad += 1
            print(f"{full}: redis {got} derived {want}")
    print(f"checked {len(cmds)} commands, {bad} differences")
    return bad == 0


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--check"]:
        port = int(argv[1])
        json_dir = argv[2] if len(argv) > 2 else DEFAULT_JSON
        sys.exit(0 if check(port, load(json_dir)) else 1)
    json_dir = argv[0] if argv else DEFAULT_JSON
    out = argv[1] if len(argv) > 1 else DEFAULT_OUT
    text = generate(load(json_dir))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
