//! Values stored in the keyspace and the per-key metadata around them.
//!
//! A string whose text is a canonical 64-bit integer is kept as `Int` (Redis's
//! `int` encoding); other strings as bytes with an `embstr`/`raw` hint so
//! `OBJECT ENCODING` answers as Redis does. Collection types are added by the
//! issues that bring them; every variant other than the scalars, the hash
//! and the set (whose small forms are 24-byte handles on one exact-size
//! buffer, their large forms boxed) is boxed so an entry stays small.
//!
//! Memory layout (issue 3's memory goal): a `Value` is 32 bytes and an
//! [`Entry`] 40; the TTL is not stored in the entry but only in the
//! database's `expires` table (as Redis does), with a flag in the entry
//! saying whether to look there. With a 24-byte key (inline up to 23
//! bytes), a keyspace dict node (next pointer + key + entry) is 72 bytes;
//! `entry_layout_sizes` below pins these sizes.

use crate::storage::hash::HashValue;
use crate::storage::list::ListValue;
use crate::storage::set::SetValue;
use crate::storage::stream::Stream;
use crate::storage::zset::ZSetValue;
use compact_bytes::CompactBytes;

/// Redis creates `embstr` strings up to this length, `raw` above it.
pub const EMBSTR_MAX: usize = 44;

/// Expiry time of a key without a TTL (never reached by `now`).
pub const NO_EXPIRE: i64 = i64::MAX;

/// A stored value.
#[derive(Clone)]
pub enum Value {
    /// A string holding a canonical integer (`OBJECT ENCODING` = `int`).
    Int(i64),
    /// Any other string.
    Str(CompactBytes),
    /// A set (`intset` or `hashtable`); 24 bytes, its small form needs no
    /// box of its own.
    Set(SetValue),
    /// A hash (`listpack` or `hashtable`); 24 bytes, its small form needs
    /// no box of its own.
    Hash(HashValue),
    /// A stream.
    Stream(Box<Stream>),
    /// A list (`quicklist`).
    List(Box<ListValue>),
    /// A sorted set (`listpack` or `skiplist`).
    ZSet(Box<ZSetValue>),
}

/// The type names `TYPE` answers.
impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) => "string",
            Value::Set(_) => "set",
            Value::Hash(_) => "hash",
            Value::Stream(_) => "stream",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
        }
    }
}

/// One key's value and metadata. The expiry time itself lives in the
/// database's `expires` table (read it through `Db::expire_of` and
/// friends); the entry only says whether there is one.
pub struct Entry {
    pub value: Value,
    /// Last access, in seconds of the server's LRU clock.
    pub lru: u32,
    /// For `Str`: true when Redis would report `raw` rather than `embstr`
    /// (long strings, and strings modified in place by APPEND, SETRANGE …).
    pub raw: bool,
    /// True when the key has an entry in the `expires` table. Kept in sync
    /// by the keyspace alone (set_expire, persist, set, insert_entry_in).
    pub(in crate::storage) ttl: bool,
    /// Snapshot epoch in which this entry was last serialised (or created
    /// during that snapshot): equal to the running snapshot's epoch means
    /// "already in the snapshot" (see `storage::snapshot`). Fits in the
    /// padding after the flags, so the entry stays 40 bytes.
    pub(in crate::storage) snap: u16,
}

impl Entry {
    /// A new entry without TTL; `raw` computed as Redis does for a fresh
    /// string object.
    #[inline]
    pub fn new(value: Value, lru: u32) -> Entry {
        let raw = matches!(&value, Value::Str(s) if s.len() > EMBSTR_MAX);
        Entry {
            value,
            lru,
            raw,
            ttl: false,
            snap: 0,
        }
    }

    /// True when the key has a TTL.
    #[inline]
    pub fn has_expire(&self) -> bool {
        self.ttl
    }

    /// `OBJECT ENCODING` of this value.
    pub fn encoding(&self) -> &'static str {
        match &self.value {
            Value::Int(_) => "int",
            Value::Str(_) if self.raw => "raw",
            Value::Str(_) => "embstr",
            Value::Set(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Stream(_) => "stream",
            Value::List(l) => l.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }
}

/// Builds the value Redis would store for a string argument of SET and
/// friends: an integer when the text is a canonical integer of at most 20
/// characters, bytes otherwise.
#[inline]
pub fn string_value(bytes: &[u8]) -> Value {
    if bytes.len() <= 20
        && !bytes.is_empty()
        && let Some(n) = crate::util::num::parse_i64(bytes)
    {
        return Value::Int(n);
    }
    Value::Str(CompactBytes::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// The sizes the memory budget is built on (see the module comment):
    /// a change here moves every key's cost.
    #[test]
    fn entry_layout_sizes() {
        assert_eq!(size_of::<HashValue>(), 24);
        assert_eq!(size_of::<SetValue>(), 24);
        assert_eq!(size_of::<Value>(), 32);
        assert_eq!(size_of::<Entry>(), 40);
        assert_eq!(size_of::<crate::storage::keyspace::Key>(), 24);
    }
}
