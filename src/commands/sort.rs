//! SORT and SORT_RO over sets and sorted sets: BY (a `*` pattern, a
//! `pattern->field` hash dereference, or a constant = no sorting), LIMIT,
//! GET (`#`, patterns), ASC/DESC, ALPHA, STORE.
//!
//! BY and GET patterns name keys built from the data being sorted, so the
//! declaration is `Keys::CustomOrAll`: a call with BY or GET locks every
//! shard; a plain SORT locks only its key (and STORE's destination).
//!
//! STORE writes the result as a list (waking clients blocked on it).

use super::flags::{DENYOOM, READONLY, WRITE};
use super::{Args, CommandDef, Ctx, Keys, acl};
use crate::storage::keyspace::Db;
use crate::storage::list::{End, Fill, ListValue};
use crate::storage::notify::{GENERIC, LIST};
use crate::storage::value::Value;
use crate::util::num::{parse_f64_like_strtod, parse_i64};
use std::cmp::Ordering;

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "sort",
        arity: -2,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::SET | acl::SORTEDSET | acl::LIST | acl::SLOW | acl::DANGEROUS,
        keys: Keys::CustomOrAll(sort_keys),
        group: "generic",
        summary: "Sorts the members of a set or sorted set, optionally by other keys' values.",
        handler: sort,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "sort_ro",
        arity: -2,
        flags: READONLY,
        acl: acl::READ | acl::SET | acl::SORTEDSET | acl::LIST | acl::SLOW | acl::DANGEROUS,
        keys: Keys::CustomOrAll(sort_keys),
        group: "generic",
        since: "7.0.0",
        summary: "SORT without STORE, safe on replicas.",
        handler: sort_ro,
        ..CommandDef::DEFAULT
    },
];

/// The key (argument 1) and STORE's destination; true (lock every shard)
/// when a BY or GET option may read other keys.
fn sort_keys(args: &Args, out: &mut Vec<usize>) -> bool {
    out.push(1);
    let mut all = false;
    let mut j = 2;
    while j < args.len() {
        let a = args.get(j);
        if j + 1 < args.len() {
            if a.eq_ignore_ascii_case(b"by") || a.eq_ignore_ascii_case(b"get") {
                all = true;
            } else if a.eq_ignore_ascii_case(b"store") {
                out.push(j + 1);
            }
        }
        j += 1;
    }
    all
}

fn sort(ctx: &mut Ctx, args: &Args) {
    sort_generic(ctx, args, false);
}

fn sort_ro(ctx: &mut Ctx, args: &Args) {
    sort_generic(ctx, args, true);
}

/// One element being sorted and what it is compared by.
struct Item {
    obj: Vec<u8>,
    score: f64,
    /// ALPHA with BY: the looked-up value (`None` when missing).
    cmp: Option<Vec<u8>>,
}

/// The value a pattern points to for `subst` (Redis's
/// `lookupKeyByPattern`): `#` is the element itself; the first `*` is
/// replaced by it; `key->field` reads a hash field. Only strings and hash
/// fields count.
fn lookup_by_pattern(db: &mut Db, pattern: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(subst.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let field = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&i| i + 2 < after.len())
        .map(|i| (star + 1 + i, &after[i + 2..]));
    let key_end = field.map_or(pattern.len(), |(at, _)| at);
    let mut key = Vec::with_capacity(key_end + subst.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let e = db.get(&key)?;
    match (field, &e.value) {
        (Some((_, f)), Value::Hash(h)) => h.get(f).map(<[u8]>::to_vec),
        (None, Value::Int(n)) => Some(n.to_string().into_bytes()),
        (None, Value::Str(s)) => Some(s.to_vec()),
        _ => None,
    }
}

/// SORT's numeric reading of a value: C `strtod` over the whole string
/// (leading blanks and an empty string allowed; overflow and NaN refused).
fn sort_score(v: &[u8]) -> Option<f64> {
    if v.is_empty() {
        return Some(0.0);
    }
    let start = v
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    parse_f64_like_strtod(&v[start..])
}

/// C `strcoll` in the C locale: bytes up to the first NUL.
fn collate(a: &[u8], b: &[u8]) -> Ordering {
    let cut = |s: &[u8]| -> usize { s.iter().position(|&c| c == 0).unwrap_or(s.len()) };
    a[..cut(a)].cmp(&b[..cut(b)])
}

/// The elements of the value to sort: `Err` for a wrong type. A missing
/// key is empty. `dontsort_zset`: a sorted set in its own order.
fn input_of(db: &mut Db, key: &[u8], zset_in_order: bool) -> Result<(Vec<Vec<u8>>, bool), ()> {
    match db.get(key).map(|e| &e.value) {
        None => Ok((Vec::new(), false)),
        Some(Value::Set(s)) => Ok((s.iter().map(|m| m.to_vec()).collect(), false)),
        Some(Value::List(l)) => Ok((l.iter().map(|m| m.to_vec()).collect(), zset_in_order)),
        Some(Value::ZSet(z)) => {
            let mut v = Vec::with_capacity(z.len());
            z.walk(0, z.len(), false, |_, m| v.push(m.to_vec()));
            Ok((v, zset_in_order))
        }
        Some(_) => Err(()),
    }
}

/// Stores the result of SORT … STORE as a list under `dst` (replacing
/// any value); an empty result deletes `dst`, as Redis does.
fn store_list(ctx: &mut Ctx, dst: &[u8], items: Vec<Vec<u8>>) {
    if items.is_empty() {
        if ctx.db.remove(dst).is_some() {
            ctx.notify(GENERIC, "del", dst);
        }
        return ctx.out.int(0);
    }
    let fill = Fill(ctx.client.settings.list_max_listpack_size);
    let mut list = ListValue::new();
    for it in &items {
        list.push(End::Right, it, fill);
    }
    ctx.db.set(dst, Value::List(Box::new(list)), false);
    ctx.notify(LIST, "sortstore", dst);
    ctx.out.int(items.len() as i64);
}

fn sort_generic(ctx: &mut Ctx, args: &Args, readonly: bool) {
    let mut desc = false;
    let mut alpha = false;
    let (mut limit_start, mut limit_count) = (0i64, -1i64);
    let mut store: Option<&[u8]> = None;
    let mut sortby: Option<&[u8]> = None;
    let mut dontsort = false;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let o = args.get(j).to_ascii_lowercase();
        match o.as_slice() {
            b"asc" => desc = false,
            b"desc" => desc = true,
            b"alpha" => alpha = true,
            b"limit" if left >= 2 => {
                match (parse_i64(args.get(j + 1)), parse_i64(args.get(j + 2))) {
                    (Some(s), Some(c)) => (limit_start, limit_count) = (s, c),
                    _ => return ctx.not_integer(),
                }
                j += 2;
            }
            b"store" if !readonly && left >= 1 => {
                store = Some(args.get(j + 1));
                j += 1;
            }
            b"by" if left >= 1 => {
                let p = args.get(j + 1);
                sortby = Some(p);
                dontsort = !p.contains(&b'*');
                j += 1;
            }
            b"get" if left >= 1 => {
                gets.push(args.get(j + 1));
                j += 1;
            }
            _ => return ctx.syntax_error(),
        }
        j += 1;
    }
    let key = args.get(1);
    let Ok((mut elems, zset_in_order)) = input_of(ctx.db, key, dontsort) else {
        return ctx.wrong_type();
    };
    let is_set = matches!(ctx.db.peek(key).map(|e| &e.value), Some(Value::Set(_)));
    if dontsort && is_set && store.is_some() {
        // A set's own order is arbitrary: STORE sorts it alphabetically
        // so the stored result is deterministic.
        dontsort = false;
        alpha = true;
        sortby = None;
    }
    let len = elems.len() as i64;
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(limit_count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    if zset_in_order && desc {
        elems.reverse();
    }
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|obj| Item {
            obj,
            score: 0.0,
            cmp: None,
        })
        .collect();
    let mut conversion_error = false;
    if !dontsort {
        for it in items.iter_mut() {
            let byval = match sortby {
                Some(p) => match lookup_by_pattern(ctx.db, p, &it.obj) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.obj.clone(),
            };
            if alpha {
                if sortby.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match sort_score(&byval) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        let by_pattern = sortby.is_some();
        let storing = store.is_some();
        items.sort_by(|a, b| {
            let c = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.obj.cmp(&b.obj))
            } else if by_pattern {
                match (&a.cmp, &b.cmp) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) if storing => x.cmp(y),
                    (Some(x), Some(y)) => collate(x, y),
                }
            } else if storing {
                a.obj.cmp(&b.obj)
            } else {
                collate(&a.obj, &b.obj)
            };
            if desc { c.reverse() } else { c }
        });
    }
    if conversion_error {
        return ctx
            .out
            .err("ERR One or more scores can't be converted into double");
    }
    let range: &[Item] = if start <= end && start >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let mut output: Vec<Option<Vec<u8>>> = Vec::with_capacity(range.len() * gets.len().max(1));
    for it in range {
        if gets.is_empty() {
            output.push(Some(it.obj.clone()));
        }
        for p in &gets {
            output.push(lookup_by_pattern(ctx.db, p, &it.obj));
        }
    }
    match store {
        Some(dst) => {
            // A missing GET value is stored as an empty string.
            let list = output.into_iter().map(Option::unwrap_or_default).collect();
            store_list(ctx, dst, list);
        }
        None => {
            ctx.out.array(output.len());
            for v in &output {
                match v {
                    Some(b) => ctx.out.bulk(b),
                    None => ctx.out.null(),
                }
            }
        }
    }
}
