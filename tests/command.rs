//! COMMAND introspection against the real redis-server: INFO, DOCS (all but
//! the prose: summaries, history descriptions, key spec notes), COUNT, LIST
//! filters, GETKEYS/GETKEYSANDFLAGS and errors, for the commands Ember has;
//! and the rendering of Redis's facts for every Redis command, which checks
//! the generated facts table itself. Also asserts that every declared
//! `CommandDef` agrees with Redis's facts.

mod common;

use common::{Oracle, RawConn, Server, encode_command, escape};
use ember::commands::introspection::{self, Described, FACTS};
use ember::protocol::reply::{Reply, Resp};

/// A parsed RESP3 value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    Arr(Vec<V>),
    Set(Vec<V>),
    Map(Vec<(V, V)>),
}

fn parse(buf: &[u8]) -> V {
    fn line(buf: &[u8], at: &mut usize) -> String {
        let end = *at + buf[*at..].windows(2).position(|w| w == b"\r\n").unwrap();
        let s = String::from_utf8_lossy(&buf[*at..end]).into_owned();
        *at = end + 2;
        s
    }
    fn walk(buf: &[u8], at: &mut usize) -> V {
        let t = buf[*at];
        *at += 1;
        let l = line(buf, at);
        match t {
            b'+' => V::Simple(l),
            b'-' => V::Err(l),
            b':' => V::Int(l.parse().unwrap()),
            b'_' => V::Null,
            b'$' => {
                let n: i64 = l.parse().unwrap();
                if n < 0 {
                    return V::Null;
                }
                let v = buf[*at..*at + n as usize].to_vec();
                *at += n as usize + 2;
                V::Bulk(v)
            }
            b'*' | b'~' => {
                let n: i64 = l.parse().unwrap();
                if n < 0 {
                    return V::Null;
                }
                let items = (0..n).map(|_| walk(buf, at)).collect();
                if t == b'*' {
                    V::Arr(items)
                } else {
                    V::Set(items)
                }
            }
            b'%' => {
                let n: usize = l.parse().unwrap();
                V::Map((0..n).map(|_| (walk(buf, at), walk(buf, at))).collect())
            }
            other => panic!("unexpected RESP type {}", other as char),
        }
    }
    let mut at = 0;
    let v = walk(buf, &mut at);
    assert_eq!(at, buf.len(), "trailing bytes in {}", escape(buf));
    v
}

/// Where two values first differ, for readable failures.
fn first_diff(a: &V, b: &V) -> String {
    match (a, b) {
        (V::Arr(x), V::Arr(y)) | (V::Set(x), V::Set(y)) => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    return format!("[{i}] {}", first_diff(p, q));
                }
            }
            format!("lengths {} vs {}", x.len(), y.len())
        }
        (V::Map(x), V::Map(y)) => {
            for ((k1, v1), (k2, v2)) in x.iter().zip(y) {
                if k1 != k2 {
                    return format!("key {k1:?} vs {k2:?}");
                }
                if v1 != v2 {
                    let k = match k1 {
                        V::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                        other => format!("{other:?}"),
                    };
                    return format!("{k}: {}", first_diff(v1, v2));
                }
            }
            format!("sizes {} vs {}", x.len(), y.len())
        }
        _ => format!("{a:?} vs {b:?}"),
    }
}

fn key_is(k: &V, name: &str) -> bool {
    matches!(k, V::Bulk(b) if b == name.as_bytes())
}

// Replies are compared in RESP2 (maps are flat arrays there), so the
// normalizers below lift the known shapes back into maps, drop what
// legitimately differs (prose: summary, notes, history descriptions) and
// sort what Redis emits in hash-table order (subcommands).

fn pairs(v: V) -> Vec<(V, V)> {
    let V::Arr(items) = v else {
        panic!("not a flat map: {v:?}")
    };
    assert!(items.len() % 2 == 0, "odd flat map: {items:?}");
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

fn arr(v: V) -> Vec<V> {
    match v {
        V::Arr(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

fn lift_spec(v: V) -> V {
    V::Map(
        pairs(v)
            .into_iter()
            .filter(|(k, _)| !key_is(k, "notes"))
            .map(|(k, v)| {
                if key_is(&k, "begin_search") || key_is(&k, "find_keys") {
                    let inner = pairs(v)
                        .into_iter()
                        .map(|(k2, v2)| {
                            if key_is(&k2, "spec") {
                                (k2, V::Map(pairs(v2)))
                            } else {
                                (k2, v2)
                            }
                        })
                        .collect();
                    (k, V::Map(inner))
                } else {
                    (k, v)
                }
            })
            .collect(),
    )
}

/// One COMMAND INFO entry (or null).
fn lift_info(v: V) -> V {
    let V::Arr(mut items) = v else { return v };
    assert_eq!(items.len(), 10, "INFO entry: {items:?}");
    let subs = std::mem::replace(&mut items[9], V::Null);
    let mut subs: Vec<V> = arr(subs).into_iter().map(lift_info).collect();
    subs.sort();
    items[9] = V::Arr(subs);
    let specs = std::mem::replace(&mut items[8], V::Null);
    items[8] = V::Arr(arr(specs).into_iter().map(lift_spec).collect());
    V::Arr(items)
}

fn normalize_info(v: V) -> V {
    V::Arr(arr(v).into_iter().map(lift_info).collect())
}

fn lift_arg(v: V) -> V {
    V::Map(
        pairs(v)
            .into_iter()
            .map(|(k, v)| {
                if key_is(&k, "arguments") {
                    (k, V::Arr(arr(v).into_iter().map(lift_arg).collect()))
                } else {
                    (k, v)
                }
            })
            .collect(),
    )
}

fn lift_doc(v: V) -> V {
    V::Map(
        pairs(v)
            .into_iter()
            .filter(|(k, _)| !key_is(k, "summary"))
            .map(|(k, v)| {
                if key_is(&k, "history") {
                    let versions = arr(v)
                        .into_iter()
                        .map(|e| {
                            let mut p = arr(e);
                            p.truncate(1);
                            V::Arr(p)
                        })
                        .collect();
                    (k, V::Arr(versions))
                } else if key_is(&k, "arguments") {
                    (k, V::Arr(arr(v).into_iter().map(lift_arg).collect()))
                } else if key_is(&k, "subcommands") {
                    let mut subs: Vec<(V, V)> = pairs(v)
                        .into_iter()
                        .map(|(n, d)| (n, lift_doc(d)))
                        .collect();
                    subs.sort();
                    (k, V::Map(subs))
                } else {
                    (k, v)
                }
            })
            .collect(),
    )
}

/// A COMMAND DOCS reply: name → documentation.
fn normalize_docs(v: V) -> V {
    let mut docs: Vec<(V, V)> = pairs(v)
        .into_iter()
        .map(|(n, d)| (n, lift_doc(d)))
        .collect();
    docs.sort();
    V::Map(docs)
}

fn cmd(conn: &mut RawConn, line: &str) -> Vec<u8> {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    conn.cmd(&args)
}

fn start_both() -> Option<(Server, Server)> {
    let oracle = Oracle::start()?;
    let ember = Server::start(&[])?;
    Some((ember, oracle))
}

fn names(v: V) -> Vec<String> {
    match v {
        V::Arr(items) => items
            .into_iter()
            .map(|i| match i {
                V::Bulk(b) => String::from_utf8(b).unwrap(),
                other => panic!("not a name: {other:?}"),
            })
            .collect(),
        other => panic!("not a list: {other:?}"),
    }
}

/// Ember's command and subcommand names.
fn ember_names(e: &mut RawConn) -> Vec<String> {
    names(parse(&cmd(e, "COMMAND LIST")))
}

#[test]
fn declared_commands_match_redis_facts() {
    let bad = introspection::metadata_mismatches();
    assert!(bad.is_empty(), "metadata mismatches:\n{}", bad.join("\n"));
}

#[test]
fn info_matches_redis() {
    let Some((ember, oracle)) = start_both() else {
        return;
    };
    let (mut e, mut r) = (ember.raw(), oracle.raw());
    let all = ember_names(&mut e);
    assert!(all.iter().any(|n| n == "command|info"));
    for name in &all {
        let line = format!("COMMAND INFO {name}");
        let (a, b) = (cmd(&mut e, &line), cmd(&mut r, &line));
        let (x, y) = (normalize_info(parse(&a)), normalize_info(parse(&b)));
        assert!(x == y, "{line}: {}", first_diff(&x, &y));
    }
    // Several names, an unknown one, RESP2 bytes for a command without prose.
    for line in [
        "COMMAND INFO get nosuch",
        "COMMAND INFO",
        "COMMAND INFO GET Get",
    ] {
        let mut e2 = ember.raw();
        let mut r2 = oracle.raw();
        let a = cmd(&mut e2, line);
        if line == "COMMAND INFO" {
            // Every command: the count is Ember's.
            let V::Arr(items) = parse(&a) else { panic!() };
            assert_eq!(items.len(), all.iter().filter(|n| !n.contains('|')).count());
            continue;
        }
        assert_eq!(escape(&a), escape(&cmd(&mut r2, line)), "{line}");
    }
    // COMMAND without subcommand is COMMAND INFO without names.
    assert_eq!(cmd(&mut e, "COMMAND"), cmd(&mut e, "COMMAND INFO"));
}

#[test]
fn docs_match_redis_except_prose() {
    let Some((ember, oracle)) = start_both() else {
        return;
    };
    let (mut e, mut r) = (ember.raw(), oracle.raw());
    for name in ember_names(&mut e) {
        let line = format!("COMMAND DOCS {name}");
        let (a, b) = (cmd(&mut e, &line), cmd(&mut r, &line));
        let (x, y) = (normalize_docs(parse(&a)), normalize_docs(parse(&b)));
        assert!(x == y, "{line}: {}", first_diff(&x, &y));
        // Our summary is there and our own.
        let outer = pairs(parse(&a));
        let doc = pairs(outer[0].1.clone());
        assert!(key_is(&doc[0].0, "summary"));
        assert!(
            matches!(&doc[0].1, V::Bulk(s) if !s.is_empty()),
            "{name}: no summary"
        );
    }
    // Unknown names are skipped; no names = every command.
    assert_eq!(
        cmd(&mut e, "COMMAND DOCS nosuch"),
        cmd(&mut r, "COMMAND DOCS nosuch")
    );
    let every = pairs(parse(&cmd(&mut e, "COMMAND DOCS")));
    let count = match parse(&cmd(&mut e, "COMMAND COUNT")) {
        V::Int(n) => n as usize,
        other => panic!("{other:?}"),
    };
    assert_eq!(every.len(), count);
}

#[test]
fn count_and_list_filters() {
    let Some((ember, oracle)) = start_both() else {
        return;
    };
    let (mut e, mut r) = (ember.raw(), oracle.raw());
    let ours = ember_names(&mut e);
    let top = ours.iter().filter(|n| !n.contains('|')).count();
    assert_eq!(parse(&cmd(&mut e, "COMMAND COUNT")), V::Int(top as i64));
    let theirs = names(parse(&cmd(&mut r, "COMMAND LIST")));
    for n in &ours {
        assert!(theirs.contains(n), "{n} is not a Redis command");
    }
    let mut filters: Vec<String> = ember::commands::acl::NAMES
        .iter()
        .map(|(_, n)| format!("COMMAND LIST FILTERBY ACLCAT {n}"))
        .collect();
    filters.extend(
        [
            "COMMAND LIST FILTERBY aclcat READ",
            "COMMAND LIST FILTERBY aclcat nosuch",
            "COMMAND LIST FILTERBY pattern *e*",
            "COMMAND LIST FILTERBY PATTERN command|*",
            "COMMAND LIST FILTERBY pattern G?T",
            "COMMAND LIST FILTERBY pattern [ps]*",
            "COMMAND LIST FILTERBY module x",
        ]
        .map(String::from),
    );
    for line in &filters {
        let mut got = names(parse(&cmd(&mut e, line)));
        let mut want: Vec<String> = names(parse(&cmd(&mut r, line)))
            .into_iter()
            .filter(|n| ours.contains(n))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{line}");
    }
    for line in [
        "COMMAND LIST foo",
        "COMMAND LIST FILTERBY foo x",
        "COMMAND LIST FILTERBY pattern",
        "COMMAND LIST FILTERBY pattern a b",
        "COMMAND COUNT x",
        "COMMAND FOO",
        "COMMAND HELP x",
    ] {
        assert_eq!(
            escape(&cmd(&mut e, line)),
            escape(&cmd(&mut r, line)),
            "{line}"
        );
    }
}

/// Command lines for GETKEYS; those of commands Ember lacks are skipped
/// against the server (and still checked through the facts, below).
const GETKEYS_LINES: &[&str] = &[
    "get k",
    "get",
    "get a b",
    "set k v",
    "set k v get",
    "set k v EX 10 GET",
    "del a b c",
    "ping",
    "ping x",
    "quit",
    "command info",
    "nosuch a",
    "config get x",
    "config nosuch x",
    "mset a 1 b 2",
    "mset a 1 b",
    "mget a b c",
    "exists a b",
    "rename a b",
    "copy a b",
    "zunionstore d 2 a b",
    "zunionstore d 3 a b",
    "zunionstore d -1 a b",
    "zunionstore d x a b",
    "zinter 2 a b",
    "zdiff 2 a b withscores",
    "eval s 0",
    "eval s 2 a b c",
    "eval s 5 a",
    "fcall f 1 k",
    "lmpop 2 a b left",
    "blmpop 0 2 a b left",
    "sintercard 2 a b",
    "xread streams a b 0 0",
    "xread count 2 streams a 0",
    "xreadgroup group g c streams a 0",
    "georadius k 0 0 1 km store d",
    "georadius k 0 0 1 km storedist d",
    "georadius k 0 0 1 km",
    "sort k",
    "sort k store d",
    "sort k by x store d limit 0 1 get y",
    "sort_ro k by x",
    "bitfield k get u8 0",
    "bitfield k set u8 0 1",
    "bitfield k",
    "bitfield_ro k get u8 0",
    "migrate h p k 0 5",
    "migrate h p k 0 5 keys a b",
    "object encoding k",
    "memory usage k",
    "lcs a b",
    "smove a b m",
    "bitop and d a b",
    "spublish c m",
    "publish c m",
    "pfcount a b",
    "msetnx a 1 b 2",
    "blpop a b 0",
    "xadd s * f v",
    "watch a b",
    "touch a b",
];

#[test]
fn getkeys_matches_redis() {
    let Some((ember, oracle)) = start_both() else {
        return;
    };
    let (mut e, mut r) = (ember.raw(), oracle.raw());
    let mut compared = 0;
    for line in GETKEYS_LINES {
        let name = line.split(' ').next().unwrap();
        let known = !matches!(parse(&cmd(&mut e, &format!("COMMAND INFO {name}"))), V::Arr(ref a) if a[0] == V::Null);
        if !known && name != "nosuch" {
            continue;
        }
        for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let full = format!("COMMAND {sub} {line}");
            assert_eq!(
                escape(&cmd(&mut e, &full)),
                escape(&cmd(&mut r, &full)),
                "{full}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 20, "only {compared} lines compared");
    // Binary-safe arguments.
    let args: &[&[u8]] = &[b"COMMAND", b"GETKEYS", b"del", b"a\r\nb", b""];
    e.send(&encode_command(args));
    r.send(&encode_command(args));
    assert_eq!(escape(&e.read_reply()), escape(&r.read_reply()));
}

#[test]
fn help_lists_the_subcommands() {
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let mut e = ember.raw();
    let V::Arr(lines) = parse(&cmd(&mut e, "COMMAND HELP")) else {
        panic!()
    };
    let text: Vec<String> = lines
        .into_iter()
        .map(|l| match l {
            V::Simple(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(text[0].starts_with("COMMAND <subcommand>"));
    for sub in [
        "COUNT",
        "LIST",
        "INFO",
        "DOCS",
        "GETKEYS",
        "GETKEYSANDFLAGS",
        "HELP",
    ] {
        assert!(
            text.iter().any(|l| l.starts_with(sub)),
            "{sub} missing from HELP"
        );
    }
}

/// Renders Redis's facts for every Redis command and compares with the real
/// COMMAND INFO / DOCS: this checks the generated table and the renderer
/// beyond the commands Ember has today.
#[test]
fn facts_render_like_redis_for_every_command() {
    let Some(oracle) = Oracle::start() else {
        return;
    };
    let mut r = oracle.raw();
    let mut n = 0;
    for f in FACTS.iter().filter(|f| !f.name.contains('|')) {
        let d = Described::from_facts(f);
        let mut out = Reply::new(Resp::V2);
        out.array(1);
        d.write_info(&mut out);
        let want = cmd(&mut r, &format!("COMMAND INFO {}", f.name));
        let (x, y) = (
            normalize_info(parse(out.bytes())),
            normalize_info(parse(&want)),
        );
        assert!(x == y, "INFO {}: {}", f.name, first_diff(&x, &y));
        let mut out = Reply::new(Resp::V2);
        out.map(1);
        out.bulk(f.name.as_bytes());
        d.write_docs(&mut out);
        let want = cmd(&mut r, &format!("COMMAND DOCS {}", f.name));
        let (x, y) = (
            normalize_docs(parse(out.bytes())),
            normalize_docs(parse(&want)),
        );
        assert!(x == y, "DOCS {}: {}", f.name, first_diff(&x, &y));
        n += 1;
    }
    assert_eq!(n, 240);
}

/// Key extraction from the facts agrees with Redis's GETKEYSANDFLAGS for
/// every line of the corpus (Ember need not implement the command).
#[test]
fn key_extraction_from_facts_matches_redis() {
    let Some(oracle) = Oracle::start() else {
        return;
    };
    let mut r = oracle.raw();
    for line in GETKEYS_LINES {
        let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let mut name = argv[0].to_vec();
        let Some(mut f) = introspection::facts(line.split(' ').next().unwrap()) else {
            continue;
        };
        if !f.subcommands.is_empty() && argv.len() >= 2 {
            name.push(b'|');
            name.extend(argv[1].to_ascii_lowercase());
            let Some(s) = introspection::facts(std::str::from_utf8(&name).unwrap()) else {
                continue;
            };
            f = s;
        }
        let name = std::str::from_utf8(&name).unwrap();
        let want = parse(&cmd(&mut r, &format!("COMMAND GETKEYSANDFLAGS {line}")));
        let V::Arr(items) = want else { continue }; // errors: checked above
        let keys = introspection::keys_from_facts(name, f, &argv);
        let ours: Vec<V> = keys
            .iter()
            .map(|&(pos, fl)| {
                let mut out = Reply::new(Resp::V2);
                introspection::write_key_flags(&mut out, fl);
                V::Arr(vec![V::Bulk(argv[pos].to_vec()), parse(out.bytes())])
            })
            .collect();
        assert_eq!(ours, items, "{line}");
    }
}
