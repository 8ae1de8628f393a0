//! The RDB format: constants shared by the reader and the writer, the
//! neutral value model ([`RdbValue`]) both speak, and the small packed
//! encodings (ziplist, listpack, zipmap, intset) in `packed.rs`.
//!
//! Nothing here knows the keyspace: the loader and SAVE map between
//! [`RdbValue`] and storage values in `persist::convert`.

pub mod packed;
pub mod reader;
pub mod writer;

/// The RDB version Ember writes (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;
/// The newest version the reader accepts (Redis 7.2's, for listpack sets
/// and stream v3).
pub const RDB_VERSION_MAX: u16 = 11;

/// Value types (the byte before a key).
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Opcodes (bytes that are not value types).
pub mod opcodes {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// A stream ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

/// One stream entry (deleted entries are not part of the model).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEntry {
    pub id: StreamId,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A pending entry of a consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamPending {
    pub id: StreamId,
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    /// The consumer owning it (filled from the consumers' PEL).
    pub consumer: Vec<u8>,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    /// Unix ms last seen.
    pub seen_time: i64,
    /// Unix ms last active (RDB 11; equal to `seen_time` before).
    pub active_time: i64,
    /// IDs of its pending entries, ascending.
    pub pending: Vec<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    pub last_id: StreamId,
    /// Entries read (`None` = unknown, Redis's SCG_INVALID_ENTRIES_READ).
    pub entries_read: Option<u64>,
    pub pending: Vec<StreamPending>,
    pub consumers: Vec<StreamConsumer>,
}

/// A whole stream.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StreamModel {
    pub entries: Vec<StreamEntry>,
    /// Number of entries (as stored; equals `entries.len()` in valid files).
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: Vec<StreamGroup>,
}

/// A value as the RDB format sees it, whatever its encoding in the file.
#[derive(Clone, Debug, PartialEq)]
pub enum RdbValue {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(Box<StreamModel>),
}

impl RdbValue {
    /// The `TYPE` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            RdbValue::Str(_) => "string",
            RdbValue::List(_) => "list",
            RdbValue::Set(_) => "set",
            RdbValue::ZSet(_) => "zset",
            RdbValue::Hash(_) => "hash",
            RdbValue::Stream(_) => "stream",
        }
    }
}

/// The CRC-64 Redis uses (Jones polynomial, reflected).
pub const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// A decoding error: what went wrong and at which byte of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RdbError {
    pub offset: u64,
    pub msg: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset {})", self.msg, self.offset)
    }
}

impl std::error::Error for RdbError {}
