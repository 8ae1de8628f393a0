//! Between the RDB model and storage values: [`to_storage`] builds the value
//! Redis would hold after loading (same encodings, from the configured
//! thresholds); [`write_entry`] and [`dump_payload`] write a stored value
//! in the encoding Redis 7.0 would save it in.
//!
//! Every type Redis 7.0 saves has its arm in [`to_storage`] and
//! [`write_body`]; a new value type gets one arm in each.

use crate::persist::rdb::writer::{Thresholds, Writer, finish_dump_payload};
use crate::persist::rdb::{
    RdbValue, StreamConsumer, StreamGroup, StreamId as RdbId, StreamModel, StreamPending, types,
};
use crate::storage::hash::{HashValue, Limits};
use crate::storage::list::{End, Fill, ListValue};
use crate::storage::set::SetValue;
use crate::storage::stream::{
    Consumer, ENTRIES_READ_INVALID, Group, NodeLimits, Pending, Stream, StreamId,
};
use crate::storage::value::{Entry, Value};
use crate::storage::zset::{self, ZSetValue};
use std::io::{self, Write};

/// The encoding limits storage applies (from the config).
#[derive(Clone, Copy, Debug)]
pub struct LoadLimits {
    pub set_max_intset: usize,
    pub hash: Limits,
    pub zset: zset::Limits,
    pub list_fill: Fill,
    pub stream: NodeLimits,
}

impl LoadLimits {
    pub fn from_settings(s: &crate::config::Settings) -> LoadLimits {
        let u = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        LoadLimits {
            set_max_intset: u(s.set_max_intset_entries),
            hash: Limits {
                max_entries: u(s.hash_max_listpack_entries),
                max_value: u(s.hash_max_listpack_value),
            },
            zset: zset::Limits {
                max_entries: u(s.zset_max_listpack_entries),
                max_value: u(s.zset_max_listpack_value),
            },
            list_fill: Fill(s.list_max_listpack_size),
            stream: NodeLimits {
                max_bytes: s.stream_node_max_bytes,
                max_entries: s.stream_node_max_entries,
            },
        }
    }
}

/// Writer thresholds from the config.
pub fn thresholds(s: &crate::config::Settings) -> Thresholds {
    let u = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Thresholds {
        hash_entries: u(s.hash_max_listpack_entries),
        hash_value: u(s.hash_max_listpack_value),
        zset_entries: u(s.zset_max_listpack_entries),
        zset_value: u(s.zset_max_listpack_value),
        set_intset_entries: u(s.set_max_intset_entries),
        list_node_size: s.list_max_listpack_size,
        stream_node_bytes: u(s.stream_node_max_bytes),
        stream_node_entries: u(s.stream_node_max_entries),
    }
}

/// Why a decoded value cannot become a storage value.
#[derive(Debug, PartialEq, Eq)]
pub enum ConvertError {
    /// The type has no storage (none today; kept for types to come).
    Unsupported(&'static str),
    /// The data breaks a rule of the type (duplicates …).
    Invalid(&'static str),
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvertError::Unsupported(t) => {
                write!(f, "Loading {t} values is not supported yet by Ember")
            }
            ConvertError::Invalid(m) => f.write_str(m),
        }
    }
}

/// True when a decoded collection is empty (Redis skips such keys).
pub fn is_empty_collection(v: &RdbValue) -> bool {
    match v {
        RdbValue::Str(_) | RdbValue::Stream(_) => false,
        RdbValue::List(l) => l.is_empty(),
        RdbValue::Set(s) => s.is_empty(),
        RdbValue::ZSet(z) => z.is_empty(),
        RdbValue::Hash(h) => h.is_empty(),
    }
}

/// The storage value for a decoded one.
pub fn to_storage(v: RdbValue, lim: LoadLimits) -> Result<Value, ConvertError> {
    match v {
        RdbValue::Str(s) => Ok(crate::storage::value::string_value(&s)),
        RdbValue::Set(members) => {
            let mut s = SetValue::new();
            for m in &members {
                if !s.insert(m, lim.set_max_intset) {
                    return Err(ConvertError::Invalid("Duplicate set members detected"));
                }
            }
            Ok(Value::Set(s))
        }
        RdbValue::Hash(pairs) => {
            let mut h = HashValue::new();
            for (f, val) in &pairs {
                if !h.insert(f, val, lim.hash) {
                    return Err(ConvertError::Invalid("Duplicate hash fields detected"));
                }
            }
            Ok(Value::Hash(h))
        }
        RdbValue::List(items) => {
            let mut l = ListValue::new();
            for i in &items {
                l.push(End::Right, i, lim.list_fill);
            }
            Ok(Value::List(Box::new(l)))
        }
        RdbValue::ZSet(pairs) => {
            let longest = pairs.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let mut z = ZSetValue::with_hint(pairs.len(), longest, lim.zset);
            for (m, score) in &pairs {
                if z.insert(m, *score, lim.zset).is_some() {
                    return Err(ConvertError::Invalid("Duplicate zset fields detected"));
                }
            }
            Ok(Value::ZSet(Box::new(z)))
        }
        RdbValue::Stream(m) => {
            stream_from_model(*m, lim.stream).map(|s| Value::Stream(Box::new(s)))
        }
    }
}

fn sid(id: RdbId) -> StreamId {
    StreamId::new(id.ms, id.seq)
}

fn rid(id: StreamId) -> RdbId {
    RdbId {
        ms: id.ms,
        seq: id.seq,
    }
}

/// A stored stream from the model: entries appended in order (nodes cut by
/// the configured limits), then the metadata and consumer groups.
fn stream_from_model(m: StreamModel, lim: NodeLimits) -> Result<Stream, ConvertError> {
    let mut s = Stream::new();
    let mut prev: Option<RdbId> = None;
    for e in &m.entries {
        if prev.is_some_and(|p| p >= e.id) {
            return Err(ConvertError::Invalid("Stream entries are not in ID order"));
        }
        prev = Some(e.id);
        let fields: Vec<&[u8]> = e.fields.iter().map(|(f, _)| &f[..]).collect();
        let values: Vec<&[u8]> = e.fields.iter().map(|(_, v)| &v[..]).collect();
        s.append(sid(e.id), &fields, &values, lim);
    }
    s.last_id = sid(m.last_id);
    s.first_id = sid(m.first_id);
    s.max_deleted_id = sid(m.max_deleted_id);
    s.entries_added = m.entries_added;
    for g in m.groups {
        let mut grp = Group::new(
            sid(g.last_id),
            g.entries_read.map_or(ENTRIES_READ_INVALID, |n| n as i64),
        );
        for c in &g.consumers {
            grp.consumers.insert(
                c.name.clone().into_boxed_slice(),
                Consumer {
                    seen_time: c.seen_time,
                    pel: c.pending.iter().map(|&i| sid(i)).collect(),
                },
            );
        }
        for p in g.pending {
            if p.consumer.is_empty() {
                return Err(ConvertError::Invalid("Stream PEL entry without a consumer"));
            }
            grp.pel.insert(
                sid(p.id),
                Pending {
                    delivery_time: p.delivery_time,
                    delivery_count: p.delivery_count,
                    consumer: p.consumer.into_boxed_slice(),
                },
            );
        }
        if s.groups.insert(g.name.into_boxed_slice(), grp).is_some() {
            return Err(ConvertError::Invalid("Duplicated consumer group name"));
        }
    }
    Ok(s)
}

/// The model of a stored stream (for the writer).
fn stream_to_model(s: &Stream) -> StreamModel {
    let entries = s
        .range(StreamId::new(0, 0), StreamId::new(u64::MAX, u64::MAX))
        .map(|e| crate::persist::rdb::StreamEntry {
            id: rid(e.id),
            fields: e.pairs().map(|(f, v)| (f.to_vec(), v.to_vec())).collect(),
        })
        .collect();
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| StreamGroup {
            name: name.to_vec(),
            last_id: rid(g.last_id),
            entries_read: (g.entries_read >= 0).then_some(g.entries_read as u64),
            pending: g
                .pel
                .iter()
                .map(|(id, p)| StreamPending {
                    id: rid(*id),
                    delivery_time: p.delivery_time,
                    delivery_count: p.delivery_count,
                    consumer: p.consumer.to_vec(),
                })
                .collect(),
            consumers: g
                .consumers
                .iter()
                .map(|(n, c)| StreamConsumer {
                    name: n.to_vec(),
                    seen_time: c.seen_time,
                    active_time: c.seen_time,
                    pending: c.pel.iter().map(|&i| rid(i)).collect(),
                })
                .collect(),
        })
        .collect();
    StreamModel {
        entries,
        length: s.len(),
        last_id: rid(s.last_id),
        first_id: rid(s.first_id),
        max_deleted_id: rid(s.max_deleted_id),
        entries_added: s.entries_added,
        groups,
    }
}

/// The RDB type byte of a stored value.
fn rdb_type(v: &Value) -> u8 {
    match v {
        Value::Int(_) | Value::Str(_) => types::STRING,
        Value::Set(s) => match s {
            SetValue::Ints(_) => types::SET_INTSET,
            SetValue::Table(_) => types::SET,
        },
        Value::Hash(h) => {
            if h.is_packed() {
                types::HASH_LISTPACK
            } else {
                types::HASH
            }
        }
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::ZSet(z) => {
            if z.is_packed() {
                types::ZSET_LISTPACK
            } else {
                types::ZSET_2
            }
        }
        Value::Stream(_) => types::STREAM_LISTPACKS_2,
    }
}

/// Writes the body of a stored value (after its type byte).
fn write_body<W: Write>(w: &mut Writer<W>, v: &Value, th: &Thresholds) -> io::Result<()> {
    match v {
        Value::Int(n) => w.int_string(*n),
        Value::Str(s) => w.string(s),
        Value::Set(s) => match s {
            SetValue::Ints(i) => {
                let v: Vec<i64> = i.iter().collect();
                w.intset_body(&v)
            }
            SetValue::Table(_) => {
                let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
                w.strings_body(members.len(), members.iter().map(|m| &m[..]))
            }
        },
        Value::Hash(h) => {
            if h.is_packed() {
                w.listpack_body(h.iter().flat_map(|(f, v)| [f, v]))
            } else {
                w.hash_body(h.len(), h.iter())
            }
        }
        Value::List(l) => w.quicklist2_body(l.iter(), th.list_node_size),
        Value::ZSet(z) => {
            let mut pairs: Vec<(&[u8], f64)> = Vec::with_capacity(z.len());
            // Packed: rank order; skiplist: from the highest rank down, as
            // Redis writes it.
            z.walk(0, z.len(), !z.is_packed(), |s, m| pairs.push((m, s)));
            if z.is_packed() {
                let scores: Vec<Vec<u8>> = pairs
                    .iter()
                    .map(|(_, s)| {
                        let mut b = Vec::new();
                        crate::util::float::fmt_double(*s, &mut b);
                        b
                    })
                    .collect();
                w.listpack_body(
                    pairs
                        .iter()
                        .zip(&scores)
                        .flat_map(|((m, _), s)| [*m, &s[..]]),
                )
            } else {
                w.zset2_body(pairs.len(), pairs.into_iter())
            }
        }
        Value::Stream(s) => w.stream_body(&stream_to_model(s), th),
    }
}

/// Writes one key record (expiry, type, key, value).
pub fn write_entry<W: Write>(
    w: &mut Writer<W>,
    key: &[u8],
    e: &Entry,
    expire: Option<i64>,
    th: &Thresholds,
) -> io::Result<()> {
    w.key_header(rdb_type(&e.value), key, expire)?;
    write_body(w, &e.value, th)
}

/// The DUMP payload of a stored value: type, body, RDB version, CRC-64.
pub fn dump_payload(v: &Value, compress: bool, th: &Thresholds) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), compress, true);
    // Writing to a Vec cannot fail.
    let _ = w.byte(rdb_type(v));
    let _ = write_body(&mut w, v, th);
    finish_dump_payload(w.into_inner())
}
