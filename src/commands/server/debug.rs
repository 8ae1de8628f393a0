//! `DEBUG <subcommand>`: SLEEP, OBJECT, SET-ACTIVE-EXPIRE, DIGEST,
//! DIGEST-VALUE, CHANGE-REPL-ID, HELP. Gated by `enable-debug-command`.
//!
//! Digests follow Redis's scheme in spirit but are not bit-identical to it:
//! each key contributes SHA1(key) mixed with SHA1 of its type and value (and
//! its expiry, for DIGEST), keys are combined by XOR so their order does not
//! matter, and every non-empty database is mixed in with its index. An empty
//! dataset (or a missing key for DIGEST-VALUE) gives forty zeros, as in
//! Redis. Equal datasets give equal digests on any Ember server.

use super::super::{Args, Ctx};
use crate::server::shared::random_hex40;
use crate::storage::value::{Entry, Value};
use sha1_smol::Sha1;
use std::sync::atomic::Ordering;

type Digest = [u8; 20];

fn sha1(parts: &[&[u8]]) -> Digest {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.digest().bytes()
}

/// `acc ^= SHA1(data)`: order-independent accumulation.
fn xor_digest(acc: &mut Digest, data: &[u8]) {
    let d = sha1(&[data]);
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

/// `acc = SHA1(acc ^ SHA1(data))`: order-dependent mixing.
fn mix_digest(acc: &mut Digest, data: &[u8]) {
    xor_digest(acc, data);
    *acc = sha1(&[acc]);
}

fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of a value (type and content; not the key, not the TTL).
pub fn value_digest(e: &Entry) -> Digest {
    let mut d = [0u8; 20];
    mix_digest(&mut d, e.value.type_name().as_bytes());
    #[allow(unreachable_patterns)]
    match &e.value {
        Value::Int(n) => mix_digest(&mut d, n.to_string().as_bytes()),
        Value::Str(s) => mix_digest(&mut d, s),
        // Members are XORed in, so the digest ignores their order.
        Value::Set(set) => {
            let mut members = [0u8; 20];
            for m in set.iter() {
                m.with_bytes(|b| xor_digest(&mut members, b));
            }
            mix_digest(&mut d, &members);
        }
        Value::Hash(h) => {
            // Order-independent: each pair is digested alone, then xored in.
            for (f, v) in h.iter() {
                let mut pair = [0u8; 20];
                mix_digest(&mut pair, f);
                mix_digest(&mut pair, v);
                for (a, b) in d.iter_mut().zip(pair) {
                    *a ^= b;
                }
            }
        }
        // Entries in order (id, then each field and value), then each
        // group's name, last id and pending ids.
        Value::Stream(st) => {
            use crate::storage::stream::StreamId;
            for e in st.range(StreamId::ZERO, StreamId::MAX) {
                mix_digest(&mut d, &e.id.to_bytes());
                for (f, v) in e.pairs() {
                    mix_digest(&mut d, f);
                    mix_digest(&mut d, v);
                }
            }
            mix_digest(&mut d, &st.last_id.to_bytes());
            for (name, g) in &st.groups {
                mix_digest(&mut d, name);
                mix_digest(&mut d, &g.last_id.to_bytes());
                for id in g.pel.keys() {
                    mix_digest(&mut d, &id.to_bytes());
                }
            }
        }
        // Order matters for a list: elements are mixed in one by one.
        Value::List(l) => {
            for it in l.iter() {
                mix_digest(&mut d, it);
            }
        }
        Value::ZSet(z) => {
            // Ordered, so the entries are mixed in sequence.
            let mut buf = Vec::new();
            z.walk(0, z.len(), false, |score, m| {
                mix_digest(&mut d, m);
                buf.clear();
                crate::util::float::fmt_double(score, &mut buf);
                mix_digest(&mut d, &buf);
            });
        }
        // Types added later must extend this; until then, their type name
        // alone is mixed in.
        #[allow(unreachable_patterns)]
        _ => {}
    }
    d
}

/// Redis's `strtod` on the argument: the longest numeric prefix, 0 if none.
fn strtod_prefix(s: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(&s[..s.len().min(64)]);
    let t = s.trim_start();
    let mut best = 0.0;
    for end in 1..=t.len() {
        if t.is_char_boundary(end)
            && let Ok(v) = t[..end].parse::<f64>()
            && v.is_finite()
        {
            best = v;
        }
    }
    best
}

/// C's `atoi`: optional sign and leading digits, 0 if none.
fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    let neg = i < s.len() && s[i] == b'-';
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        i += 1;
    }
    let mut n: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        n = n.wrapping_mul(10).wrapping_add((s[i] - b'0') as i64);
        i += 1;
    }
    if neg { -n } else { n }
}

/// Bytes of an RDB length prefix.
fn rdb_len_bytes(n: usize) -> usize {
    match n {
        0..64 => 1,
        64..16384 => 2,
        _ if n <= u32::MAX as usize => 5,
        _ => 9,
    }
}

/// Bytes of an integer in RDB's compact integer encodings, if it fits.
fn rdb_int_bytes(n: i64) -> Option<usize> {
    if i8::try_from(n).is_ok() {
        Some(2)
    } else if i16::try_from(n).is_ok() {
        Some(3)
    } else if i32::try_from(n).is_ok() {
        Some(5)
    } else {
        None
    }
}

/// The `serializedlength` DEBUG OBJECT reports: the value's size in the
/// RDB format. Strings are counted uncompressed (Redis LZF-compresses
/// strings over 20 bytes when `rdbcompression` is on, so it reports less
/// for compressible values).
pub fn serialized_len(e: &Entry) -> usize {
    #[allow(unreachable_patterns)]
    match &e.value {
        Value::Int(n) => rdb_int_bytes(*n).unwrap_or_else(|| {
            let len = n.to_string().len();
            rdb_len_bytes(len) + len
        }),
        Value::Str(s) => {
            if s.len() <= 11
                && let Some(n) = crate::util::num::parse_i64(s)
                && let Some(b) = rdb_int_bytes(n)
            {
                return b;
            }
            rdb_len_bytes(s.len()) + s.len()
        }
        Value::Set(set) => match set {
            // An intset is saved as one string: 8 header bytes + the array.
            crate::storage::set::SetValue::Ints(i) => {
                let width = match i {
                    crate::storage::set::IntSet::W16(_) => 2,
                    crate::storage::set::IntSet::W32(_) => 4,
                    crate::storage::set::IntSet::W64(_) => 8,
                };
                let blob = 8 + width * i.len();
                rdb_len_bytes(blob) + blob
            }
            table => {
                rdb_len_bytes(table.len())
                    + table
                        .iter()
                        .map(|m| {
                            m.with_bytes(|b| {
                                if b.len() <= 11
                                    && let Some(n) = crate::util::num::parse_i64(b)
                                    && let Some(w) = rdb_int_bytes(n)
                                {
                                    return w;
                                }
                                rdb_len_bytes(b.len()) + b.len()
                            })
                        })
                        .sum::<usize>()
            }
        },
        // Counted as RDB's field/value string pairs (Redis stores a small
        // hash as one listpack blob, so its figure differs slightly).
        Value::Hash(h) => {
            rdb_len_bytes(h.len())
                + h.iter()
                    .map(|(f, v)| {
                        rdb_len_bytes(f.len()) + f.len() + rdb_len_bytes(v.len()) + v.len()
                    })
                    .sum::<usize>()
        }
        // Redis saves a stream as its listpacks plus metadata; counted as
        // the nodes' packed sizes plus a fixed header.
        Value::Stream(st) => st.heap_bytes() + 32,
        // Counted as RDB's plain list of strings (Redis saves a quicklist
        // as listpack blobs, so its figure differs).
        Value::List(l) => {
            rdb_len_bytes(l.len())
                + l.iter()
                    .map(|b| {
                        if b.len() <= 11
                            && let Some(n) = crate::util::num::parse_i64(b)
                            && let Some(w) = rdb_int_bytes(n)
                        {
                            return w;
                        }
                        rdb_len_bytes(b.len()) + b.len()
                    })
                    .sum::<usize>()
        }
        // Counted as RDB's member string + binary double pairs (Redis
        // stores a small sorted set as one listpack blob).
        Value::ZSet(z) => {
            let mut n = rdb_len_bytes(z.len());
            z.walk(0, z.len(), false, |_, m| {
                n += rdb_len_bytes(m.len()) + m.len() + 8
            });
            n
        }
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

fn help(ctx: &mut Ctx) {
    let lines: &[&str] = &[
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANGE-REPL-ID",
        "    Give the server new replication ids (for replication tests).",
        "DIGEST",
        "    A hex signature of the whole dataset (forty zeros when empty).",
        "DIGEST-VALUE <key> [<key> ...]",
        "    A hex signature of each key's value.",
        "OBJECT <key>",
        "    Internal details of the value stored at <key>.",
        "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
        "    Save the dataset to the RDB file and load it back. MERGE: keys of the file",
        "    replace existing ones; NOFLUSH: existing keys stay; NOSAVE: load only.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    0 stops deleting expired keys in the background; 1 resumes it.",
        "SLEEP <seconds>",
        "    Block this connection's worker for <seconds> (decimals allowed).",
        "HELP",
        "    Print this help.",
    ];
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l.as_bytes());
    }
}

fn syntax(ctx: &mut Ctx, sub: &[u8]) {
    let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    msg.extend_from_slice(&sub[..sub.len().min(128)]);
    msg.extend_from_slice(b"'. Try DEBUG HELP.");
    ctx.out.error(&msg);
}

pub fn debug(ctx: &mut Ctx, args: &Args) {
    if !ctx
        .client
        .settings
        .enable_debug_command
        .allows(ctx.client.is_local)
    {
        ctx.out.err(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", \
             you can run it from a local connection, otherwise you need to set this option in the \
             configuration file, and then restart the server.",
        );
        return;
    }
    let sub = args.get(1);
    let lower = sub.to_ascii_lowercase();
    let argc = args.len();
    match (&lower[..], argc) {
        (b"help", 2) => help(ctx),
        (b"sleep", 3) => {
            let secs = strtod_prefix(args.get(2));
            if secs > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(1e9)));
            }
            ctx.out.ok();
        }
        (b"set-active-expire", 3) => {
            ctx.srv
                .active_expire_enabled
                .store(atoi(args.get(2)) != 0, Ordering::Relaxed);
            ctx.out.ok();
        }
        (b"change-repl-id", 2) => {
            *ctx.srv.replid.lock() = (random_hex40(), "0".repeat(40));
            crate::server::log::notice(
                "Changing replication IDs after receiving DEBUG change-repl-id",
            );
            ctx.out.ok();
        }
        (b"object", 3) => object(ctx, args.get(2)),
        (b"digest", 2) => digest(ctx),
        (b"digest-value", _) => digest_value(ctx, args),
        (b"reload", _) => crate::commands::persistence::debug_reload(ctx, args),
        _ => syntax(ctx, sub),
    }
}

fn object(ctx: &mut Ctx, key: &[u8]) {
    let db = &mut *ctx.db;
    let clock = db.keyspace().lru_clock();
    let shared_ints = {
        let st = &ctx.client.settings;
        // Redis shares the integers 0..9999 unless an LRU/LFU policy needs
        // per-object access times.
        st.maxmemory == 0
            || !matches!(
                st.maxmemory_policy,
                crate::config::MaxmemoryPolicy::VolatileLru
                    | crate::config::MaxmemoryPolicy::VolatileLfu
                    | crate::config::MaxmemoryPolicy::AllkeysLru
                    | crate::config::MaxmemoryPolicy::AllkeysLfu
            )
    };
    let Some(e) = db.peek(key) else {
        ctx.out.err("ERR no such key");
        return;
    };
    let refcount: i64 = match e.value {
        Value::Int(n) if shared_ints && (0..10000).contains(&n) => i32::MAX as i64,
        _ => 1,
    };
    let mut line = format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        &*e as *const Entry,
        e.encoding(),
        serialized_len(e),
        e.lru,
        clock.wrapping_sub(e.lru)
    );
    if let Value::List(l) = &e.value {
        // Redis's quicklist details (compression is not implemented).
        let nodes = l.node_count();
        let avg = if nodes == 0 {
            0.0
        } else {
            l.len() as f64 / nodes as f64
        };
        line.push_str(&format!(
            " ql_nodes:{nodes} ql_avg_node:{avg:.2} ql_listpack_max:{} ql_compressed:0 ql_uncompressed_size:{}",
            ctx.client.settings.list_max_listpack_size,
            l.node_bytes()
        ));
    }
    ctx.out.simple(line.as_bytes());
}

fn digest(ctx: &mut Ctx) {
    let ndb = ctx.db.keyspace().databases();
    let mut per_db = vec![[0u8; 20]; ndb];
    let mut nonempty = vec![false; ndb];
    for g in ctx.db.shards_mut() {
        for (i, t) in g.dbs.iter().enumerate() {
            for (k, e) in t.main.iter() {
                nonempty[i] = true;
                let mut d = [0u8; 20];
                mix_digest(&mut d, k);
                let v = value_digest(e);
                mix_digest(&mut d, &v);
                if let Some(at) = t.expire_of(k.as_slice(), e) {
                    mix_digest(&mut d, b"!!expire!!");
                    mix_digest(&mut d, at.to_string().as_bytes());
                }
                for (a, b) in per_db[i].iter_mut().zip(d) {
                    *a ^= b;
                }
            }
        }
    }
    let mut fin = [0u8; 20];
    for i in 0..ndb {
        if nonempty[i] {
            mix_digest(&mut fin, &(i as u32).to_le_bytes());
            for (a, b) in fin.iter_mut().zip(per_db[i]) {
                *a ^= b;
            }
        }
    }
    ctx.out.simple(hex(&fin).as_bytes());
}

fn digest_value(ctx: &mut Ctx, args: &Args) {
    let keys: Vec<&[u8]> = args.iter().skip(2).collect();
    let db = &mut *ctx.db;
    let digests: Vec<Digest> = keys
        .iter()
        .map(|k| db.peek(k).map(|e| value_digest(e)).unwrap_or([0; 20]))
        .collect();
    ctx.out.array(digests.len());
    for d in &digests {
        ctx.out.simple(hex(d).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_number_prefixes() {
        assert_eq!(strtod_prefix(b"0.5"), 0.5);
        assert_eq!(strtod_prefix(b"abc"), 0.0);
        assert_eq!(strtod_prefix(b" 2xyz"), 2.0);
        assert_eq!(strtod_prefix(b"1e-3s"), 0.001);
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"-12x"), -12);
    }

    #[test]
    fn serialized_lengths_as_redis() {
        let e = |v: Value| Entry::new(v, 0);
        assert_eq!(serialized_len(&e(Value::Int(12345))), 3);
        assert_eq!(serialized_len(&e(Value::Int(5))), 2);
        assert_eq!(serialized_len(&e(Value::Int(1 << 40))), 14);
        assert_eq!(
            serialized_len(&e(Value::Str(compact_bytes::CompactBytes::new(b"hello")))),
            6
        );
    }

    #[test]
    fn value_digest_ignores_encoding() {
        let a = Entry::new(Value::Int(42), 0);
        let b = Entry::new(Value::Str(compact_bytes::CompactBytes::new(b"42")), 0);
        let c = Entry::new(Value::Str(compact_bytes::CompactBytes::new(b"43")), 0);
        assert_eq!(value_digest(&a), value_digest(&b));
        assert_ne!(value_digest(&a), value_digest(&c));
        assert_eq!(hex(&value_digest(&a)).len(), 40);
    }
}
