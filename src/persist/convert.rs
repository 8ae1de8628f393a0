//! Between the RDB model and storage values: [`to_storage`] builds the value
//! Redis would hold after loading (same encodings, from the configured
//! thresholds); [`write_entry`] and [`dump_payload`] write a stored value
//! in the encoding Redis 7.0 would save it in.
//!
//! Types storage does not have yet (lists, sorted sets, streams) are
//! refused in ONE place each way: the `unsupported` arms below.

use crate::persist::rdb::writer::{Thresholds, Writer, finish_dump_payload};
use crate::persist::rdb::{RdbValue, types};
use crate::storage::hash::{HashValue, Limits};
use crate::storage::set::SetValue;
use crate::storage::value::{Entry, Value};
use std::io::{self, Write};

/// The encoding limits storage applies (from the config).
#[derive(Clone, Copy, Debug)]
pub struct LoadLimits {
    pub set_max_intset: usize,
    pub hash: Limits,
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
        ..Thresholds::default()
    }
}

/// Why a decoded value cannot become a storage value.
#[derive(Debug, PartialEq, Eq)]
pub enum ConvertError {
    /// The type has no storage yet.
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
            Ok(Value::Set(Box::new(s)))
        }
        RdbValue::Hash(pairs) => {
            let mut h = HashValue::new();
            for (f, val) in &pairs {
                if !h.insert(f, val, lim.hash) {
                    return Err(ConvertError::Invalid("Duplicate hash fields detected"));
                }
            }
            Ok(Value::Hash(Box::new(h)))
        }
        // Types storage does not have yet: add their arms here.
        RdbValue::List(_) => Err(ConvertError::Unsupported("list")),
        RdbValue::ZSet(_) => Err(ConvertError::Unsupported("zset")),
        RdbValue::Stream(_) => Err(ConvertError::Unsupported("stream")),
    }
}

/// The RDB type byte of a stored value.
fn rdb_type(v: &Value) -> u8 {
    match v {
        Value::Int(_) | Value::Str(_) => types::STRING,
        Value::Set(s) => match **s {
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
    }
}

/// Writes the body of a stored value (after its type byte).
fn write_body<W: Write>(w: &mut Writer<W>, v: &Value) -> io::Result<()> {
    match v {
        Value::Int(n) => w.int_string(*n),
        Value::Str(s) => w.string(s),
        Value::Set(s) => match &**s {
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
    }
}

/// Writes one key record (expiry, type, key, value).
pub fn write_entry<W: Write>(w: &mut Writer<W>, key: &[u8], e: &Entry) -> io::Result<()> {
    let expire = e.has_expire().then_some(e.expire);
    w.key_header(rdb_type(&e.value), key, expire)?;
    write_body(w, &e.value)
}

/// The DUMP payload of a stored value: type, body, RDB version, CRC-64.
pub fn dump_payload(v: &Value, compress: bool) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), compress, true);
    // Writing to a Vec cannot fail.
    let _ = w.byte(rdb_type(v));
    let _ = write_body(&mut w, v);
    finish_dump_payload(w.into_inner())
}
