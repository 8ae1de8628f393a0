//! Decodes an RDB byte stream (any version from 1 to 11, every encoding)
//! into [`Item`]s carrying the neutral [`RdbValue`] model.
//!
//! Robustness: every length read from the input is checked before use; when
//! the total size is known (files, DUMP payloads) lengths larger than what
//! remains are rejected at once, and otherwise buffers grow only as bytes
//! actually arrive, so a corrupt length cannot make the reader allocate
//! more than a small bounded amount ahead of the data. Errors name the byte
//! offset where the bad item starts. The reader never panics on any input.

use super::packed::{self, Elem};
use super::{
    CRC64, RDB_VERSION_MAX, RdbError, RdbValue, StreamConsumer, StreamEntry, StreamGroup, StreamId,
    StreamModel, StreamPending, opcodes, types,
};
use std::io::Read;

/// Largest pre-allocation made from a length read from the input.
const PREALLOC_MAX: usize = 4096;

/// One record of the file.
#[derive(Debug, PartialEq)]
pub enum Item {
    /// An auxiliary field (`redis-ver`, `ctime`, …).
    Aux { key: Vec<u8>, value: Vec<u8> },
    /// Following keys belong to this database.
    SelectDb(u64),
    /// Size hints of the current database.
    ResizeDb { keys: u64, expires: u64 },
    /// A function library's source (RDB_OPCODE_FUNCTION2).
    Function(Vec<u8>),
    /// A key with its value and metadata.
    Key(KeyRecord),
    /// The end of the data (the checksum, if any, has been verified).
    Eof,
}

/// A key read from the file.
#[derive(Debug, PartialEq)]
pub struct KeyRecord {
    pub key: Vec<u8>,
    pub value: RdbValue,
    /// Absolute expiry, Unix ms.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds.
    pub idle: Option<u64>,
    /// LFU frequency counter.
    pub freq: Option<u8>,
}

/// Name of a value type, as redis-check-rdb prints it.
pub fn type_name(t: u8) -> &'static str {
    match t {
        types::STRING => "string",
        types::LIST => "list-linked",
        types::SET => "set-hashtable",
        types::ZSET => "zset-v1",
        types::HASH => "hash-hashtable",
        types::ZSET_2 => "zset-v2",
        types::MODULE_PRE_GA | types::MODULE_2 => "module-value",
        types::HASH_ZIPMAP => "hash-zipmap",
        types::LIST_ZIPLIST => "list-ziplist",
        types::SET_INTSET => "set-intset",
        types::ZSET_ZIPLIST => "zset-ziplist",
        types::HASH_ZIPLIST => "hash-ziplist",
        types::LIST_QUICKLIST => "quicklist",
        types::STREAM_LISTPACKS => "stream",
        types::HASH_LISTPACK => "hash-listpack",
        types::ZSET_LISTPACK => "zset-listpack",
        types::LIST_QUICKLIST_2 => "quicklist-v2",
        types::STREAM_LISTPACKS_2 => "stream-v2",
        types::SET_LISTPACK => "set-listpack",
        types::STREAM_LISTPACKS_3 => "stream-v3",
        _ => "unknown",
    }
}

/// A length or a special string encoding.
enum Len {
    Plain(u64),
    Encoded(u8),
}

/// The decoder. `R` is read sequentially; the CRC-64 of everything read is
/// kept for the trailer check.
pub struct Reader<R: Read> {
    r: R,
    offset: u64,
    /// Total input size when known: lengths beyond it fail early.
    limit: Option<u64>,
    digest: crc::Digest<'static, u64>,
    version: u16,
    done: bool,
}

static CRC: crc::Crc<u64> = CRC64;

impl<R: Read> Reader<R> {
    /// Reads and checks the `REDIS0xyz` header. `size` is the input's total
    /// length when known.
    pub fn new(r: R, size: Option<u64>) -> Result<Reader<R>, RdbError> {
        let mut rd = Reader {
            r,
            offset: 0,
            limit: size,
            digest: CRC.digest(),
            version: 0,
            done: false,
        };
        let mut magic = [0u8; 9];
        rd.read_exact(&mut magic)?;
        if &magic[..5] != b"REDIS" {
            return Err(rd.error_at(0, "Wrong signature trying to load DB from file"));
        }
        let v = std::str::from_utf8(&magic[5..])
            .ok()
            .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse::<u16>().ok());
        match v {
            Some(v) if (1..=RDB_VERSION_MAX).contains(&v) => rd.version = v,
            _ => {
                return Err(rd.error_at(
                    5,
                    &format!(
                        "Can't handle RDB format version {}",
                        String::from_utf8_lossy(&magic[5..])
                    ),
                ));
            }
        }
        Ok(rd)
    }

    /// A reader for a bare value (a DUMP payload body): no header.
    pub fn bare(r: R, size: Option<u64>, version: u16) -> Reader<R> {
        Reader {
            r,
            offset: 0,
            limit: size,
            digest: CRC.digest(),
            version,
            done: false,
        }
    }

    /// The file's RDB version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn error_at(&self, offset: u64, msg: &str) -> RdbError {
        RdbError {
            offset,
            msg: msg.to_string(),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), RdbError> {
        if let Err(e) = self.r.read_exact(buf) {
            let msg = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "Unexpected EOF reading RDB file".to_string()
            } else {
                format!("Error reading RDB file: {e}")
            };
            return Err(self.error_at(self.offset, &msg));
        }
        self.digest.update(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    /// Reads `n` bytes, refusing lengths beyond the known input size and
    /// growing the buffer only as data arrives.
    fn read_bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        let start = self.offset;
        if let Some(limit) = self.limit
            && n > limit.saturating_sub(self.offset)
        {
            return Err(self.error_at(start, "Unexpected EOF reading RDB file"));
        }
        let mut buf = Vec::with_capacity((n as usize).min(1 << 20));
        let got = (&mut self.r)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|e| self.error_at(start, &format!("Error reading RDB file: {e}")))?;
        self.digest.update(&buf);
        self.offset += got as u64;
        if (got as u64) < n {
            return Err(self.error_at(self.offset, "Unexpected EOF reading RDB file"));
        }
        Ok(buf)
    }

    fn u8(&mut self) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn u64_le(&mut self) -> Result<u64, RdbError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_len_enc(&mut self) -> Result<Len, RdbError> {
        let start = self.offset;
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3F) as u64),
            1 => Len::Plain((((b & 0x3F) as u64) << 8) | self.u8()? as u64),
            3 => Len::Encoded(b & 0x3F),
            _ => match b {
                0x80 => {
                    let mut x = [0u8; 4];
                    self.read_exact(&mut x)?;
                    Len::Plain(u32::from_be_bytes(x) as u64)
                }
                0x81 => {
                    let mut x = [0u8; 8];
                    self.read_exact(&mut x)?;
                    Len::Plain(u64::from_be_bytes(x))
                }
                _ => return Err(self.error_at(start, &format!("Unknown length encoding {b}"))),
            },
        })
    }

    /// A plain length.
    pub fn read_len(&mut self) -> Result<u64, RdbError> {
        let start = self.offset;
        match self.read_len_enc()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(self.error_at(start, "Unexpected string encoding for a length")),
        }
    }

    /// A string in any of its encodings (plain, integer, LZF).
    pub fn read_string(&mut self) -> Result<Vec<u8>, RdbError> {
        let start = self.offset;
        match self.read_len_enc()? {
            Len::Plain(n) => self.read_bytes(n),
            Len::Encoded(e) => match e {
                0 => Ok((self.u8()? as i8).to_string().into_bytes()),
                1 => {
                    let mut b = [0u8; 2];
                    self.read_exact(&mut b)?;
                    Ok(i16::from_le_bytes(b).to_string().into_bytes())
                }
                2 => {
                    let mut b = [0u8; 4];
                    self.read_exact(&mut b)?;
                    Ok(i32::from_le_bytes(b).to_string().into_bytes())
                }
                3 => {
                    let clen = self.read_len()?;
                    let len = self.read_len()?;
                    // LZF expands at most ~88x (a 3-byte back reference
                    // yields 264 bytes): anything larger is corrupt.
                    if len == 0 || len > clen.saturating_mul(100).saturating_add(64) {
                        return Err(self.error_at(start, "Invalid LZF compressed string"));
                    }
                    let data = self.read_bytes(clen)?;
                    match lzf_rust::decompress_into_vec(&data, len as usize) {
                        Ok(v) if v.len() as u64 == len => Ok(v),
                        _ => Err(self.error_at(start, "Invalid LZF compressed string")),
                    }
                }
                _ => Err(self.error_at(start, &format!("Unknown RDB string encoding type {e}"))),
            },
        }
    }

    /// An old-style (RDB_TYPE_ZSET) string double.
    fn read_ascii_double(&mut self) -> Result<f64, RdbError> {
        let start = self.offset;
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let b = self.read_bytes(n as u64)?;
                crate::util::num::parse_f64_like_strtod(&b)
                    .ok_or_else(|| self.error_at(start, "Invalid double value"))
            }
        }
    }

    fn read_binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_bits(self.u64_le()?))
    }

    /// A count used to size a collection: at most [`PREALLOC_MAX`] slots
    /// are reserved up front.
    fn cap(n: u64) -> usize {
        (n as usize).min(PREALLOC_MAX)
    }

    /// Reads a string holding a packed blob and decodes it with `f`,
    /// mapping blob-relative errors to file offsets.
    fn blob<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&[u8]) -> Result<T, packed::BlobError>,
    ) -> Result<T, RdbError> {
        let start = self.offset;
        let b = self.read_string()?;
        f(&b).map_err(|(at, m)| {
            self.error_at(
                start,
                &format!("{what} integrity check failed: {m} (blob byte {at})"),
            )
        })
    }

    /// Reads the next record.
    pub fn next_item(&mut self) -> Result<Item, RdbError> {
        if self.done {
            return Ok(Item::Eof);
        }
        let mut expire_ms = None;
        let mut idle = None;
        let mut freq = None;
        loop {
            let at = self.offset;
            let t = self.u8()?;
            match t {
                opcodes::EXPIRETIME => {
                    let mut b = [0u8; 4];
                    self.read_exact(&mut b)?;
                    expire_ms = Some(i32::from_le_bytes(b) as i64 * 1000);
                }
                opcodes::EXPIRETIME_MS => expire_ms = Some(self.u64_le()? as i64),
                opcodes::FREQ => freq = Some(self.u8()?),
                opcodes::IDLE => idle = Some(self.read_len()?),
                opcodes::EOF => {
                    self.done = true;
                    self.check_trailer()?;
                    return Ok(Item::Eof);
                }
                opcodes::SELECTDB => return Ok(Item::SelectDb(self.read_len()?)),
                opcodes::RESIZEDB => {
                    let keys = self.read_len()?;
                    let expires = self.read_len()?;
                    return Ok(Item::ResizeDb { keys, expires });
                }
                opcodes::AUX => {
                    let key = self.read_string()?;
                    let value = self.read_string()?;
                    return Ok(Item::Aux { key, value });
                }
                opcodes::MODULE_AUX => {
                    let id = self.read_len()?;
                    return Err(self.error_at(
                        at,
                        &format!(
                            "The RDB file contains AUX module data I can't load: no matching module '{}'",
                            module_name(id)
                        ),
                    ));
                }
                opcodes::FUNCTION_PRE_GA => {
                    return Err(self.error_at(at, "Pre-release function format not supported."));
                }
                opcodes::FUNCTION2 => return Ok(Item::Function(self.read_string()?)),
                _ => {
                    if type_name(t) == "unknown" {
                        return Err(self.error_at(at, &format!("Unknown RDB encoding type {t}")));
                    }
                    let key = self.read_string()?;
                    let value = self.read_value(t).map_err(|mut e| {
                        e.msg = format!(
                            "{} (reading key '{}', type {} ({}))",
                            e.msg,
                            String::from_utf8_lossy(&key),
                            t,
                            type_name(t)
                        );
                        e
                    })?;
                    return Ok(Item::Key(KeyRecord {
                        key,
                        value,
                        expire_ms,
                        idle,
                        freq,
                    }));
                }
            }
        }
    }

    /// Checks the CRC-64 trailer (RDB ≥ 5); a stored zero means the writer
    /// had `rdbchecksum no`.
    fn check_trailer(&mut self) -> Result<(), RdbError> {
        if self.version < 5 {
            return Ok(());
        }
        let computed = self.digest.clone().finalize();
        let at = self.offset;
        let stored = self.u64_le()?;
        if stored != 0 && stored != computed {
            return Err(self.error_at(at, "Wrong RDB checksum. Aborting now."));
        }
        Ok(())
    }

    /// Decodes a value of type `t`.
    pub fn read_value(&mut self, t: u8) -> Result<RdbValue, RdbError> {
        let start = self.offset;
        Ok(match t {
            types::STRING => RdbValue::Str(self.read_string()?),
            types::LIST | types::SET => {
                let n = self.read_len()?;
                let mut v = Vec::with_capacity(Self::cap(n));
                for _ in 0..n {
                    v.push(self.read_string()?);
                }
                if t == types::LIST {
                    RdbValue::List(v)
                } else {
                    RdbValue::Set(v)
                }
            }
            types::ZSET | types::ZSET_2 => {
                let n = self.read_len()?;
                let mut v = Vec::with_capacity(Self::cap(n));
                for _ in 0..n {
                    let m = self.read_string()?;
                    let at = self.offset;
                    let s = if t == types::ZSET {
                        self.read_ascii_double()?
                    } else {
                        self.read_binary_double()?
                    };
                    if s.is_nan() {
                        return Err(self.error_at(at, "Zset with NAN score detected"));
                    }
                    v.push((m, s));
                }
                RdbValue::ZSet(v)
            }
            types::HASH => {
                let n = self.read_len()?;
                let mut v = Vec::with_capacity(Self::cap(n));
                for _ in 0..n {
                    let f = self.read_string()?;
                    let val = self.read_string()?;
                    v.push((f, val));
                }
                RdbValue::Hash(v)
            }
            types::HASH_ZIPMAP => self.blob("Zipmap", |b| {
                Ok(RdbValue::Hash(
                    packed::zipmap(b)?
                        .into_iter()
                        .map(|(f, v)| (f.to_vec(), v.to_vec()))
                        .collect(),
                ))
            })?,
            types::LIST_ZIPLIST => self.blob("List ziplist", |b| {
                Ok(RdbValue::List(
                    packed::ziplist(b)?
                        .into_iter()
                        .map(Elem::to_bytes)
                        .collect(),
                ))
            })?,
            types::SET_INTSET => self.blob("Intset", |b| {
                Ok(RdbValue::Set(
                    packed::intset(b)?
                        .into_iter()
                        .map(|n| n.to_string().into_bytes())
                        .collect(),
                ))
            })?,
            types::SET_LISTPACK => self.blob("Set listpack", |b| {
                Ok(RdbValue::Set(
                    packed::listpack(b)?
                        .into_iter()
                        .map(Elem::to_bytes)
                        .collect(),
                ))
            })?,
            types::ZSET_ZIPLIST => {
                self.blob("Zset ziplist", |b| zset_pairs(packed::ziplist(b)?))?
            }
            types::ZSET_LISTPACK => {
                self.blob("Zset listpack", |b| zset_pairs(packed::listpack(b)?))?
            }
            types::HASH_ZIPLIST => {
                self.blob("Hash ziplist", |b| hash_pairs(packed::ziplist(b)?))?
            }
            types::HASH_LISTPACK => {
                self.blob("Hash listpack", |b| hash_pairs(packed::listpack(b)?))?
            }
            types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
                let n = self.read_len()?;
                let mut v = Vec::new();
                for _ in 0..n {
                    let container = if t == types::LIST_QUICKLIST_2 {
                        let at = self.offset;
                        let c = self.read_len()?;
                        if c != 1 && c != 2 {
                            return Err(self.error_at(at, "Quicklist integrity check failed."));
                        }
                        c
                    } else {
                        2
                    };
                    if container == 1 {
                        v.push(self.read_string()?);
                        continue;
                    }
                    let items = if t == types::LIST_QUICKLIST {
                        self.blob("Quicklist ziplist", |b| {
                            Ok(packed::ziplist(b)?
                                .into_iter()
                                .map(Elem::to_bytes)
                                .collect::<Vec<_>>())
                        })?
                    } else {
                        self.blob("Quicklist listpack", |b| {
                            Ok(packed::listpack(b)?
                                .into_iter()
                                .map(Elem::to_bytes)
                                .collect::<Vec<_>>())
                        })?
                    };
                    // Redis skips empty nodes when loading.
                    v.extend(items);
                }
                RdbValue::List(v)
            }
            types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 | types::STREAM_LISTPACKS_3 => {
                RdbValue::Stream(Box::new(self.read_stream(t)?))
            }
            types::MODULE_PRE_GA | types::MODULE_2 => {
                let id = self.read_len()?;
                return Err(self.error_at(
                    start,
                    &format!(
                        "The RDB file contains module data I can't load: no matching module type '{}'",
                        module_name(id)
                    ),
                ));
            }
            _ => {
                return Err(self.error_at(
                    start.saturating_sub(1),
                    &format!("Unknown RDB encoding type {t}"),
                ));
            }
        })
    }

    fn read_stream_id_lens(&mut self) -> Result<StreamId, RdbError> {
        Ok(StreamId {
            ms: self.read_len()?,
            seq: self.read_len()?,
        })
    }

    fn read_raw_id(&mut self) -> Result<StreamId, RdbError> {
        let mut b = [0u8; 16];
        self.read_exact(&mut b)?;
        Ok(raw_id(&b))
    }

    fn read_stream(&mut self, t: u8) -> Result<StreamModel, RdbError> {
        let mut s = StreamModel::default();
        let nodes = self.read_len()?;
        for _ in 0..nodes {
            let at = self.offset;
            let key = self.read_string()?;
            if key.len() != 16 {
                return Err(
                    self.error_at(at, "Stream node key entry is not the size of a stream ID")
                );
            }
            let master = raw_id(&key);
            let entries = self.blob("Stream listpack", |b| {
                stream_node(master, &packed::listpack(b)?)
            })?;
            s.entries.extend(entries);
        }
        s.length = self.read_len()?;
        s.last_id = self.read_stream_id_lens()?;
        if t >= types::STREAM_LISTPACKS_2 {
            s.first_id = self.read_stream_id_lens()?;
            s.max_deleted_id = self.read_stream_id_lens()?;
            s.entries_added = self.read_len()?;
        } else {
            s.first_id = s.entries.first().map(|e| e.id).unwrap_or_default();
            s.entries_added = s.length;
        }
        let ngroups = self.read_len()?;
        for _ in 0..ngroups {
            let name = self.read_string()?;
            let last_id = self.read_stream_id_lens()?;
            let entries_read = if t >= types::STREAM_LISTPACKS_2 {
                let n = self.read_len()?;
                // SCG_INVALID_ENTRIES_READ is -1 stored as a u64.
                (n != u64::MAX).then_some(n)
            } else {
                None
            };
            let npel = self.read_len()?;
            let mut pending = Vec::with_capacity(Self::cap(npel));
            for _ in 0..npel {
                let id = self.read_raw_id()?;
                let delivery_time = self.u64_le()? as i64;
                let delivery_count = self.read_len()?;
                pending.push(StreamPending {
                    id,
                    delivery_time,
                    delivery_count,
                    consumer: Vec::new(),
                });
            }
            let ncons = self.read_len()?;
            let mut consumers = Vec::with_capacity(Self::cap(ncons));
            for _ in 0..ncons {
                let cname = self.read_string()?;
                let seen_time = self.u64_le()? as i64;
                let active_time = if t >= types::STREAM_LISTPACKS_3 {
                    self.u64_le()? as i64
                } else {
                    seen_time
                };
                let n = self.read_len()?;
                let mut ids = Vec::with_capacity(Self::cap(n));
                for _ in 0..n {
                    let at = self.offset;
                    let id = self.read_raw_id()?;
                    match pending.binary_search_by(|p: &StreamPending| p.id.cmp(&id)) {
                        Ok(i) => pending[i].consumer = cname.clone(),
                        Err(_) => {
                            return Err(
                                self.error_at(at, "Consumer entry not found in group global PEL")
                            );
                        }
                    }
                    ids.push(id);
                }
                consumers.push(StreamConsumer {
                    name: cname,
                    seen_time,
                    active_time,
                    pending: ids,
                });
            }
            s.groups.push(StreamGroup {
                name,
                last_id,
                entries_read,
                pending,
                consumers,
            });
        }
        Ok(s)
    }
}

/// A 128-bit big-endian stream ID.
fn raw_id(b: &[u8]) -> StreamId {
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&b[..8]);
    seq.copy_from_slice(&b[8..16]);
    StreamId {
        ms: u64::from_be_bytes(ms),
        seq: u64::from_be_bytes(seq),
    }
}

/// Decodes one stream listpack node (master entry, then entries that are
/// deltas from the master ID).
fn stream_node(master: StreamId, lp: &[Elem]) -> Result<Vec<StreamEntry>, packed::BlobError> {
    let bad = || (0usize, "malformed stream node".to_string());
    let mut it = lp.iter().copied();
    let int = |it: &mut dyn Iterator<Item = Elem>| it.next().and_then(Elem::as_int).ok_or_else(bad);
    let count = int(&mut it)?;
    let deleted = int(&mut it)?;
    let nfields = int(&mut it)?;
    if count < 0 || deleted < 0 || nfields < 0 || nfields as usize > lp.len() {
        return Err(bad());
    }
    let mut master_fields = Vec::with_capacity(nfields as usize);
    for _ in 0..nfields {
        master_fields.push(it.next().ok_or_else(bad)?.to_bytes());
    }
    if int(&mut it)? != 0 {
        return Err(bad());
    }
    let mut out = Vec::new();
    let total = count.saturating_add(deleted);
    for _ in 0..total {
        let flags = int(&mut it)?;
        let ms = int(&mut it)? as u64;
        let seq = int(&mut it)? as u64;
        let id = StreamId {
            ms: master.ms.wrapping_add(ms),
            seq: master.seq.wrapping_add(seq),
        };
        let mut fields = Vec::new();
        let lp_fields = if flags & 2 != 0 {
            for f in &master_fields {
                fields.push((f.clone(), it.next().ok_or_else(bad)?.to_bytes()));
            }
            master_fields.len() as i64
        } else {
            let n = int(&mut it)?;
            if n < 0 || n as usize > lp.len() {
                return Err(bad());
            }
            for _ in 0..n {
                let f = it.next().ok_or_else(bad)?.to_bytes();
                let v = it.next().ok_or_else(bad)?.to_bytes();
                fields.push((f, v));
            }
            n
        };
        let lp_count = int(&mut it)?;
        let expect = if flags & 2 != 0 {
            lp_fields + 3
        } else {
            lp_fields * 2 + 4
        };
        if lp_count != expect {
            return Err(bad());
        }
        if flags & 1 == 0 {
            out.push(StreamEntry { id, fields });
        }
    }
    if it.next().is_some() || out.len() as i64 != count {
        return Err(bad());
    }
    Ok(out)
}

fn zset_pairs(items: Vec<Elem>) -> Result<RdbValue, packed::BlobError> {
    if !items.len().is_multiple_of(2) {
        return Err((0, "odd number of elements".into()));
    }
    let mut v = Vec::with_capacity(items.len() / 2);
    for p in items.chunks_exact(2) {
        let score = match p[1] {
            Elem::Int(n) => n as f64,
            Elem::Str(s) => crate::util::num::parse_f64_like_strtod(s)
                .filter(|f| !f.is_nan())
                .ok_or_else(|| (0, "invalid score".to_string()))?,
        };
        v.push((p[0].to_bytes(), score));
    }
    Ok(RdbValue::ZSet(v))
}

fn hash_pairs(items: Vec<Elem>) -> Result<RdbValue, packed::BlobError> {
    if !items.len().is_multiple_of(2) {
        return Err((0, "odd number of elements".into()));
    }
    Ok(RdbValue::Hash(
        items
            .chunks_exact(2)
            .map(|p| (p[0].to_bytes(), p[1].to_bytes()))
            .collect(),
    ))
}

/// A module type's 9-character name from its 64-bit id.
fn module_name(id: u64) -> String {
    const CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = String::with_capacity(9);
    for i in 0..9 {
        let c = (id >> (64 - 6 * (i + 1))) & 63;
        name.push(CHARS[c as usize] as char);
    }
    name
}

/// Decodes a whole RDB held in memory into its items (the last is `Eof`).
pub fn read_all(bytes: &[u8]) -> Result<Vec<Item>, RdbError> {
    let mut r = Reader::new(bytes, Some(bytes.len() as u64))?;
    let mut out = Vec::new();
    loop {
        let it = r.next_item()?;
        let eof = it == Item::Eof;
        out.push(it);
        if eof {
            return Ok(out);
        }
    }
}

/// Checks a DUMP payload's footer (RDB version ≤ ours, CRC-64) and decodes
/// its value. `None` means the footer is wrong (Redis's "payload version or
/// checksum are wrong").
pub fn decode_dump_payload(p: &[u8]) -> Option<Result<RdbValue, RdbError>> {
    if p.len() < 10 {
        return None;
    }
    let (body, footer) = p.split_at(p.len() - 8);
    let version = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    if version > super::RDB_VERSION {
        return None;
    }
    let crc = u64::from_le_bytes(footer.try_into().ok()?);
    if CRC64.checksum(body) != crc {
        return None;
    }
    let data = &body[..body.len() - 2];
    let (&t, rest) = data.split_first()?;
    let mut r = Reader::bare(rest, Some(rest.len() as u64), version);
    let v = r.read_value(t);
    Some(match v {
        Ok(_) if r.offset() != rest.len() as u64 => Err(RdbError {
            offset: r.offset() + 1,
            msg: "Trailing bytes after the value".into(),
        }),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::packed::ListpackBuilder;
    use crate::persist::rdb::writer::{Thresholds, Writer};

    /// A whole file holding one key written by `body`.
    fn file(version: &str, t: u8, body: impl FnOnce(&mut Writer<Vec<u8>>)) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), true, true);
        w.raw(format!("REDIS{version}").as_bytes()).unwrap();
        w.select_db(0).unwrap();
        w.key_header(t, b"k", None).unwrap();
        body(&mut w);
        w.finish().unwrap()
    }

    fn only_value(bytes: &[u8]) -> RdbValue {
        read_all(bytes)
            .unwrap()
            .into_iter()
            .find_map(|i| match i {
                Item::Key(k) => Some(k.value),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn rdb11_listpack_set() {
        let mut lp = ListpackBuilder::new();
        for m in ["a", "17", "-5"] {
            lp.push(m.as_bytes());
        }
        let lp = lp.finish();
        let f = file("0011", types::SET_LISTPACK, |w| w.string(&lp).unwrap());
        assert_eq!(
            only_value(&f),
            RdbValue::Set(vec![b"a".to_vec(), b"17".to_vec(), b"-5".to_vec()])
        );
        // Redis 7.0's version is 10; 12 is refused with Redis's words.
        let mut newer = f.clone();
        newer[5..9].copy_from_slice(b"0012");
        let e = read_all(&newer).unwrap_err();
        assert_eq!(e.msg, "Can't handle RDB format version 0012");
    }

    #[test]
    fn old_zset_with_string_doubles_and_specials() {
        let f = file("0006", types::ZSET, |w| {
            w.len(4).unwrap();
            for (m, s) in [("a", &b"1.5"[..]), ("b", b""), ("c", b""), ("d", b"-2e3")] {
                w.string(m.as_bytes()).unwrap();
                match m {
                    "b" => w.byte(254).unwrap(),
                    "c" => w.byte(255).unwrap(),
                    _ => {
                        w.byte(s.len() as u8).unwrap();
                        w.raw(s).unwrap();
                    }
                }
            }
        });
        assert_eq!(
            only_value(&f),
            RdbValue::ZSet(vec![
                (b"a".to_vec(), 1.5),
                (b"b".to_vec(), f64::INFINITY),
                (b"c".to_vec(), f64::NEG_INFINITY),
                (b"d".to_vec(), -2000.0),
            ])
        );
        // A NaN score (253) is refused.
        let nan = file("0006", types::ZSET, |w| {
            w.len(1).unwrap();
            w.string(b"a").unwrap();
            w.byte(253).unwrap();
        });
        assert!(read_all(&nan).unwrap_err().msg.contains("NAN"));
    }

    #[test]
    fn huge_lengths_fail_without_allocating() {
        // A string claiming 2^63 bytes, a set claiming 2^40 members, an LZF
        // string claiming a huge expansion.
        for body in [
            &b"\x00\x01k\x81\x80\x00\x00\x00\x00\x00\x00\x00"[..],
            b"\x02\x01k\x81\x00\x00\x01\x00\x00\x00\x00\x00\x01a",
            b"\x00\x01k\xc3\x02\x81\x00\x00\x10\x00\x00\x00\x00\x00ab",
        ] {
            let mut f = b"REDIS0010".to_vec();
            f.extend_from_slice(body);
            assert!(read_all(&f).is_err());
            let mut r = Reader::new(&f[..], None).unwrap();
            assert!(r.next_item().is_err());
        }
    }

    #[test]
    fn errors_name_the_offset() {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(b"\xfe\x00\x63\x01k");
        let e = read_all(&f).unwrap_err();
        assert_eq!(e.offset, 11);
        assert!(e.msg.contains("Unknown RDB encoding type 99"), "{e}");
        let e = read_all(b"REDIX0010").unwrap_err();
        assert_eq!(
            (e.offset, &e.msg[..]),
            (0, "Wrong signature trying to load DB from file")
        );
    }

    #[test]
    fn module_values_are_refused_clearly() {
        let mut f = b"REDIS0010".to_vec();
        f.extend_from_slice(b"\x07\x01k\x81\x00\x00\x00\x00\x00\x00\x00\x00");
        let e = read_all(&f).unwrap_err();
        assert!(e.msg.contains("module"), "{e}");
    }

    #[test]
    fn writer_round_trip_of_every_type() {
        use crate::persist::rdb::{StreamEntry, StreamId};
        let th = Thresholds::default();
        let big: Vec<Vec<u8>> = (0..3000)
            .map(|i| format!("item-{i}").into_bytes())
            .collect();
        let values = vec![
            RdbValue::Str(b"12".to_vec()),
            RdbValue::Str(vec![b'z'; 1000]),
            RdbValue::List(big.clone()),
            RdbValue::Set(vec![b"3".to_vec(), b"-1".to_vec()]),
            RdbValue::Set(big.clone()),
            RdbValue::Hash(vec![(b"f".to_vec(), b"1".to_vec())]),
            RdbValue::Hash(big.iter().map(|b| (b.clone(), b.clone())).collect()),
            RdbValue::ZSet(vec![(b"a".to_vec(), 1.5), (b"b".to_vec(), f64::INFINITY)]),
            RdbValue::ZSet(
                big.iter()
                    .enumerate()
                    .map(|(i, b)| (b.clone(), i as f64))
                    .collect(),
            ),
            RdbValue::Stream(Box::new(StreamModel {
                entries: (0..250)
                    .map(|i| StreamEntry {
                        id: StreamId {
                            ms: 1000 + i / 3,
                            seq: i % 3,
                        },
                        fields: if i % 7 == 0 {
                            vec![(b"other".to_vec(), b"x".to_vec())]
                        } else {
                            vec![(b"n".to_vec(), i.to_string().into_bytes())]
                        },
                    })
                    .collect(),
                length: 250,
                last_id: StreamId { ms: 1083, seq: 0 },
                first_id: StreamId { ms: 1000, seq: 0 },
                entries_added: 250,
                ..Default::default()
            })),
        ];
        for v in values {
            let mut w = Writer::new(Vec::new(), true, true);
            w.typed_value(&v, &th).unwrap();
            let body = w.into_inner();
            let mut r = Reader::bare(&body[1..], Some(body.len() as u64 - 1), 10);
            let mut back = r.read_value(body[0]).unwrap();
            let mut want = v.clone();
            // Sets written as intsets come back sorted.
            if let (RdbValue::Set(a), RdbValue::Set(b)) = (&mut back, &mut want) {
                a.sort();
                b.sort();
            }
            // Skiplist sorted sets are written from the highest rank down.
            if let RdbValue::ZSet(a) = &mut back {
                a.sort_by(|x, y| x.1.total_cmp(&y.1));
            }
            assert_eq!(back, want);
        }
    }
}
