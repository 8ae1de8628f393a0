//! Values stored in the keyspace and the per-key metadata around them.
//!
//! A string whose text is a canonical 64-bit integer is kept as `Int` (Redis's
//! `int` encoding); other strings as bytes with an `embstr`/`raw` hint so
//! `OBJECT ENCODING` answers as Redis does. Collection types are added by the
//! issues that bring them; every variant other than the scalars is boxed so
//! an entry stays small.

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
    /// A set (`intset` or `hashtable`).
    Set(Box<SetValue>),
    /// A hash (`listpack` or `hashtable`).
    Hash(Box<HashValue>),
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

/// One key's value and metadata.
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds, [`NO_EXPIRE`] when none.
    pub expire: i64,
    /// Last access, in seconds of the server's LRU clock.
    pub lru: u32,
    /// For `Str`: true when Redis would report `raw` rather than `embstr`
    /// (long strings, and strings modified in place by APPEND, SETRANGE …).
    pub raw: bool,
}

impl Entry {
    /// A new entry without TTL; `raw` computed as Redis does for a fresh
    /// string object.
    #[inline]
    pub fn new(value: Value, lru: u32) -> Entry {
        let raw = matches!(&value, Value::Str(s) if s.len() > EMBSTR_MAX);
        Entry {
            value,
            expire: NO_EXPIRE,
            lru,
            raw,
        }
    }

    #[inline]
    pub fn has_expire(&self) -> bool {
        self.expire != NO_EXPIRE
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
