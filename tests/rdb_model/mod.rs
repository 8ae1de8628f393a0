//! Prints what the RDB reader decoded in the canonical form of
//! /work/shared/tools/keyspace_dump.py (Python `repr` of
//! `(db, key, type, expiry, value)`), so reader output can be compared with
//! `expected.txt` and with a dump of redis-server after loading a file.

#![allow(dead_code)]

use ember::persist::rdb::reader::{Item, read_all};
use ember::persist::rdb::{RdbValue, StreamId};

/// Python's repr of a bytes object.
pub fn py_bytes(b: &[u8]) -> String {
    let dq = b.contains(&b'\'') && !b.contains(&b'"');
    let q = if dq { '"' } else { '\'' };
    let mut s = String::from("b");
    s.push(q);
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\'' if !dq => s.push_str("\\'"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(q);
    s
}

/// Python's repr of a float (shortest round trip, as Rust's Debug).
pub fn py_float(f: f64) -> String {
    let s = format!("{f:?}");
    if let Some((m, e)) = s.split_once('e') {
        let (sign, digits) = e.strip_prefix('-').map(|d| ('-', d)).unwrap_or(('+', e));
        let m = m.strip_suffix(".0").unwrap_or(m);
        return format!("{m}e{sign}{digits:0>2}");
    }
    s
}

fn py_id(id: StreamId) -> String {
    py_bytes(format!("{}-{}", id.ms, id.seq).as_bytes())
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

/// The canonical value string of keyspace_dump.py.
pub fn py_value(v: &RdbValue) -> String {
    match v {
        RdbValue::Str(s) => py_bytes(s),
        RdbValue::List(l) => list(l.iter().map(|x| py_bytes(x))),
        RdbValue::Set(s) => {
            let mut s = s.clone();
            s.sort();
            list(s.iter().map(|x| py_bytes(x)))
        }
        RdbValue::Hash(h) => {
            let mut h = h.clone();
            h.sort();
            list(
                h.iter()
                    .map(|(f, v)| format!("({}, {})", py_bytes(f), py_bytes(v))),
            )
        }
        RdbValue::ZSet(z) => {
            let mut z = z.clone();
            z.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            list(
                z.iter()
                    .map(|(m, s)| format!("({}, {})", py_bytes(m), py_float(*s))),
            )
        }
        RdbValue::Stream(s) => {
            let entries = list(s.entries.iter().map(|e| {
                format!(
                    "({}, {})",
                    py_id(e.id),
                    list(
                        e.fields
                            .iter()
                            .flat_map(|(f, v)| [py_bytes(f), py_bytes(v)])
                    )
                )
            }));
            let mut groups: Vec<_> = s
                .groups
                .iter()
                .map(|g| {
                    let mut cons: Vec<_> = g.consumers.iter().map(|c| c.name.clone()).collect();
                    cons.sort();
                    (
                        g.name.clone(),
                        format!(
                            "({}, {}, {}, {})",
                            py_bytes(&g.name),
                            py_id(g.last_id),
                            list(g.pending.iter().map(|p| format!(
                                "({}, {}, {})",
                                py_id(p.id),
                                py_bytes(&p.consumer),
                                p.delivery_count
                            ))),
                            list(cons.iter().map(|c| py_bytes(c)))
                        ),
                    )
                })
                .collect();
            groups.sort();
            format!(
                "{{'entries': {}, 'last_id': {}, 'groups': {}}}",
                entries,
                py_id(s.last_id),
                list(groups.into_iter().map(|(_, g)| g))
            )
        }
    }
}

/// Every key of an RDB file as keyspace_dump.py lines, sorted. Keys that
/// expired before `now_ms` and empty collections are left out, as a loading
/// server would.
pub fn dump_lines(bytes: &[u8], now_ms: i64) -> Vec<String> {
    let mut db = 0;
    let mut out = Vec::new();
    for it in read_all(bytes).expect("file decodes") {
        match it {
            Item::SelectDb(n) => db = n,
            Item::Key(k) => {
                if k.expire_ms.is_some_and(|e| e <= now_ms) {
                    continue;
                }
                let empty = match &k.value {
                    RdbValue::List(l) => l.is_empty(),
                    RdbValue::Set(l) => l.is_empty(),
                    RdbValue::Hash(l) => l.is_empty(),
                    RdbValue::ZSet(l) => l.is_empty(),
                    _ => false,
                };
                if empty {
                    continue;
                }
                out.push((
                    db,
                    k.key.clone(),
                    format!(
                        "({}, {}, '{}', {}, {})",
                        db,
                        py_bytes(&k.key),
                        k.value.type_name(),
                        k.expire_ms.unwrap_or(-1),
                        py_value(&k.value)
                    ),
                ));
            }
            _ => {}
        }
    }
    out.sort();
    out.into_iter().map(|(_, _, l)| l).collect()
}
