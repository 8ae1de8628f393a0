//! Writes RDB version 10 the way Redis 7.0 does: strings integer-encoded
//! when they fit 32 bits, LZF-compressed when `rdbcompression` is on and it
//! saves space, listpacks for small hashes/sorted sets/list nodes, intsets
//! for small integer sets, plain length-prefixed forms for the big
//! encodings, streams as STREAM_LISTPACKS_2, and the CRC-64 trailer (zero
//! when `rdbchecksum` is off).
//!
//! Storage-specific callers (persist::convert) use the per-encoding body
//! methods directly; [`Writer::value`] writes a neutral [`RdbValue`] with
//! the encoding Redis would pick under the given [`Thresholds`].

use super::packed::{ListpackBuilder, encode_intset};
use super::{CRC64, RDB_VERSION, RdbValue, StreamId, StreamModel, opcodes, types};
use std::io::{self, Write};

static CRC: crc::Crc<u64> = CRC64;

/// The size limits that decide between packed and plain encodings
/// (Redis's `*-max-listpack-*`, `set-max-intset-entries`,
/// `list-max-listpack-size`, `stream-node-max-*`).
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub zset_entries: usize,
    pub zset_value: usize,
    pub set_intset_entries: usize,
    /// `list-max-listpack-size`: > 0 = entries per node, -1..-5 = 4..64 KiB.
    pub list_node_size: i64,
    pub stream_node_bytes: usize,
    pub stream_node_entries: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hash_entries: 128,
            hash_value: 64,
            zset_entries: 128,
            zset_value: 64,
            set_intset_entries: 512,
            list_node_size: -2,
            stream_node_bytes: 4096,
            stream_node_entries: 100,
        }
    }
}

/// An RDB writer over any `Write`; keeps the running CRC-64.
pub struct Writer<W: Write> {
    w: W,
    digest: crc::Digest<'static, u64>,
    compress: bool,
    checksum: bool,
}

impl<W: Write> Writer<W> {
    pub fn new(w: W, compress: bool, checksum: bool) -> Writer<W> {
        Writer {
            w,
            digest: CRC.digest(),
            compress,
            checksum,
        }
    }

    pub fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.digest.update(b);
        self.w.write_all(b)
    }

    pub fn byte(&mut self, b: u8) -> io::Result<()> {
        self.raw(&[b])
    }

    /// `REDIS0010`.
    pub fn header(&mut self) -> io::Result<()> {
        self.raw(format!("REDIS{RDB_VERSION:04}").as_bytes())
    }

    pub fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.byte(n as u8)
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.byte(0x80)?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.byte(0x81)?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// An integer in the int8/16/32 string encodings; false when it does
    /// not fit 32 bits.
    fn try_int(&mut self, n: i64) -> io::Result<bool> {
        if let Ok(x) = i8::try_from(n) {
            self.raw(&[0xC0, x as u8])?;
        } else if let Ok(x) = i16::try_from(n) {
            self.byte(0xC1)?;
            self.raw(&x.to_le_bytes())?;
        } else if let Ok(x) = i32::try_from(n) {
            self.byte(0xC2)?;
            self.raw(&x.to_le_bytes())?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// A string holding the decimal form of `n` (an `int`-encoded value).
    pub fn int_string(&mut self, n: i64) -> io::Result<()> {
        if !self.try_int(n)? {
            let s = n.to_string();
            self.len(s.len() as u64)?;
            self.raw(s.as_bytes())?;
        }
        Ok(())
    }

    /// A string: integer-encoded if it is a canonical integer of at most
    /// 11 characters fitting 32 bits, LZF-compressed when enabled, longer
    /// than 20 bytes and at least 4 bytes smaller, else plain.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11
            && let Some(n) = crate::util::num::parse_i64(s)
            && self.try_int(n)?
        {
            return Ok(());
        }
        if self.compress && s.len() > 20 {
            let mut out = vec![0u8; s.len() - 4];
            if let Ok(clen) = lzf_rust::compress(s, &mut out)
                && clen > 0
            {
                self.byte(0xC3)?;
                self.len(clen as u64)?;
                self.len(s.len() as u64)?;
                return self.raw(&out[..clen]);
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// A binary double (RDB_TYPE_ZSET_2 scores).
    pub fn binary_double(&mut self, f: f64) -> io::Result<()> {
        self.raw(&f.to_bits().to_le_bytes())
    }

    pub fn aux(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        self.byte(opcodes::AUX)?;
        self.string(key.as_bytes())?;
        self.string(value)
    }

    pub fn select_db(&mut self, db: u64) -> io::Result<()> {
        self.byte(opcodes::SELECTDB)?;
        self.len(db)
    }

    pub fn resize_db(&mut self, keys: u64, expires: u64) -> io::Result<()> {
        self.byte(opcodes::RESIZEDB)?;
        self.len(keys)?;
        self.len(expires)
    }

    /// The record header of a key: expiry (if any), type, name.
    pub fn key_header(&mut self, t: u8, key: &[u8], expire_ms: Option<i64>) -> io::Result<()> {
        if let Some(ms) = expire_ms {
            self.byte(opcodes::EXPIRETIME_MS)?;
            self.raw(&ms.to_le_bytes())?;
        }
        self.byte(t)?;
        self.string(key)
    }

    /// EOF opcode and checksum; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.byte(opcodes::EOF)?;
        let crc = if self.checksum {
            self.digest.clone().finalize()
        } else {
            0
        };
        self.w.write_all(&crc.to_le_bytes())?;
        Ok(self.w)
    }

    /// The CRC-64 of everything written so far.
    pub fn crc(&self) -> u64 {
        self.digest.clone().finalize()
    }

    pub fn into_inner(self) -> W {
        self.w
    }

    // ---- value bodies ------------------------------------------------------

    /// RDB_TYPE_SET_INTSET body.
    pub fn intset_body(&mut self, sorted: &[i64]) -> io::Result<()> {
        let b = encode_intset(sorted);
        self.string(&b)
    }

    /// RDB_TYPE_SET / RDB_TYPE_LIST body (count + strings).
    pub fn strings_body<'a>(
        &mut self,
        n: usize,
        items: impl Iterator<Item = &'a [u8]>,
    ) -> io::Result<()> {
        self.len(n as u64)?;
        for i in items {
            self.string(i)?;
        }
        Ok(())
    }

    /// A listpack blob (HASH_LISTPACK, ZSET_LISTPACK bodies).
    pub fn listpack_body<'a>(&mut self, items: impl Iterator<Item = &'a [u8]>) -> io::Result<()> {
        let mut lp = ListpackBuilder::new();
        for i in items {
            lp.push(i);
        }
        self.string(&lp.finish())
    }

    /// RDB_TYPE_HASH body.
    pub fn hash_body<'a>(
        &mut self,
        n: usize,
        pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> io::Result<()> {
        self.len(n as u64)?;
        for (f, v) in pairs {
            self.string(f)?;
            self.string(v)?;
        }
        Ok(())
    }

    /// RDB_TYPE_ZSET_2 body; `pairs` in the order to write (Redis writes
    /// from the highest rank down so loading appends cheaply).
    pub fn zset2_body<'a>(
        &mut self,
        n: usize,
        pairs: impl Iterator<Item = (&'a [u8], f64)>,
    ) -> io::Result<()> {
        self.len(n as u64)?;
        for (m, s) in pairs {
            self.string(m)?;
            self.binary_double(s)?;
        }
        Ok(())
    }

    /// RDB_TYPE_LIST_QUICKLIST_2 body: packed listpack nodes split as
    /// `list-max-listpack-size` would.
    pub fn quicklist2_body<'a>(
        &mut self,
        items: impl Iterator<Item = &'a [u8]>,
        node_size: i64,
    ) -> io::Result<()> {
        let byte_limit = match node_size {
            n if n >= 0 => usize::MAX,
            -1 => 4096,
            -2 => 8192,
            -3 => 16384,
            -4 => 32768,
            _ => 65536,
        };
        let entry_limit = if node_size > 0 {
            node_size as usize
        } else {
            usize::MAX
        };
        let mut nodes = Vec::new();
        let mut cur = ListpackBuilder::new();
        let mut count = 0usize;
        for i in items {
            if count > 0 && (count >= entry_limit || cur.len() + i.len() + 11 > byte_limit) {
                nodes.push(std::mem::take(&mut cur).finish());
                cur = ListpackBuilder::new();
                count = 0;
            }
            cur.push(i);
            count += 1;
        }
        if count > 0 {
            nodes.push(cur.finish());
        }
        self.len(nodes.len() as u64)?;
        for n in nodes {
            self.len(2)?; // QUICKLIST_NODE_CONTAINER_PACKED
            self.string(&n)?;
        }
        Ok(())
    }

    fn raw_id(&mut self, id: StreamId) -> io::Result<()> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&id.ms.to_be_bytes());
        b[8..].copy_from_slice(&id.seq.to_be_bytes());
        self.raw(&b)
    }

    /// RDB_TYPE_STREAM_LISTPACKS_2 body.
    pub fn stream_body(&mut self, s: &StreamModel, th: &Thresholds) -> io::Result<()> {
        // Split entries into nodes.
        let mut nodes: Vec<(StreamId, Vec<u8>)> = Vec::new();
        let mut i = 0;
        while i < s.entries.len() {
            let master = &s.entries[i];
            let master_fields: Vec<&[u8]> = master.fields.iter().map(|(f, _)| &f[..]).collect();
            let mut lp = ListpackBuilder::new();
            let mut body = ListpackBuilder::new();
            let mut n = 0usize;
            while i < s.entries.len() && n < th.stream_node_entries.max(1) {
                let e = &s.entries[i];
                if n > 0 && th.stream_node_bytes > 0 && body.len() >= th.stream_node_bytes {
                    break;
                }
                let same = e.fields.len() == master_fields.len()
                    && e.fields
                        .iter()
                        .zip(&master_fields)
                        .all(|((f, _), m)| f == m);
                body.push_int(if same { 2 } else { 0 });
                body.push_int(e.id.ms.wrapping_sub(master.id.ms) as i64);
                body.push_int(e.id.seq.wrapping_sub(master.id.seq) as i64);
                if same {
                    for (_, v) in &e.fields {
                        body.push(v);
                    }
                    body.push_int(e.fields.len() as i64 + 3);
                } else {
                    body.push_int(e.fields.len() as i64);
                    for (f, v) in &e.fields {
                        body.push(f);
                        body.push(v);
                    }
                    body.push_int(e.fields.len() as i64 * 2 + 4);
                }
                n += 1;
                i += 1;
            }
            lp.push_int(n as i64);
            lp.push_int(0);
            lp.push_int(master_fields.len() as i64);
            for f in &master_fields {
                lp.push(f);
            }
            lp.push_int(0);
            let mut bytes = lp.finish();
            // Append the entries' encoded bytes after the master entry.
            let b = body.finish();
            let master_count = u16::from_le_bytes([bytes[4], bytes[5]]) as usize;
            let body_count = u16::from_le_bytes([b[4], b[5]]) as usize;
            bytes.pop();
            bytes.extend_from_slice(&b[6..]);
            let total = bytes.len() as u32;
            bytes[0..4].copy_from_slice(&total.to_le_bytes());
            let count = (master_count + body_count).min(0xFFFF) as u16;
            bytes[4..6].copy_from_slice(&count.to_le_bytes());
            nodes.push((master.id, bytes));
        }
        self.len(nodes.len() as u64)?;
        for (id, lp) in &nodes {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&id.ms.to_be_bytes());
            k[8..].copy_from_slice(&id.seq.to_be_bytes());
            self.string(&k)?;
            self.string(lp)?;
        }
        self.len(s.length)?;
        self.len(s.last_id.ms)?;
        self.len(s.last_id.seq)?;
        self.len(s.first_id.ms)?;
        self.len(s.first_id.seq)?;
        self.len(s.max_deleted_id.ms)?;
        self.len(s.max_deleted_id.seq)?;
        self.len(s.entries_added)?;
        self.len(s.groups.len() as u64)?;
        for g in &s.groups {
            self.string(&g.name)?;
            self.len(g.last_id.ms)?;
            self.len(g.last_id.seq)?;
            self.len(g.entries_read.unwrap_or(u64::MAX))?;
            self.len(g.pending.len() as u64)?;
            for p in &g.pending {
                self.raw_id(p.id)?;
                self.raw(&p.delivery_time.to_le_bytes())?;
                self.len(p.delivery_count)?;
            }
            self.len(g.consumers.len() as u64)?;
            for c in &g.consumers {
                self.string(&c.name)?;
                self.raw(&c.seen_time.to_le_bytes())?;
                self.len(c.pending.len() as u64)?;
                for id in &c.pending {
                    self.raw_id(*id)?;
                }
            }
        }
        Ok(())
    }

    /// Writes a neutral value (type byte first) in the encoding Redis 7.0
    /// would use for it. Returns the type written.
    pub fn typed_value(&mut self, v: &RdbValue, th: &Thresholds) -> io::Result<()> {
        let t = value_type(v, th);
        self.byte(t)?;
        self.value_body(t, v, th)
    }

    /// The body of `v` for type `t` (from [`value_type`]).
    pub fn value_body(&mut self, t: u8, v: &RdbValue, th: &Thresholds) -> io::Result<()> {
        match v {
            RdbValue::Str(s) => self.string(s),
            RdbValue::List(l) => self.quicklist2_body(l.iter().map(|x| &x[..]), th.list_node_size),
            RdbValue::Set(s) => {
                if t == types::SET_INTSET {
                    let mut ints: Vec<i64> = s
                        .iter()
                        .filter_map(|m| crate::util::num::parse_i64(m))
                        .collect();
                    ints.sort_unstable();
                    self.intset_body(&ints)
                } else {
                    self.strings_body(s.len(), s.iter().map(|x| &x[..]))
                }
            }
            RdbValue::Hash(h) => {
                if t == types::HASH_LISTPACK {
                    self.listpack_body(h.iter().flat_map(|(f, v)| [&f[..], &v[..]]))
                } else {
                    self.hash_body(h.len(), h.iter().map(|(f, v)| (&f[..], &v[..])))
                }
            }
            RdbValue::ZSet(z) => {
                if t == types::ZSET_LISTPACK {
                    let scores: Vec<Vec<u8>> = z
                        .iter()
                        .map(|(_, s)| {
                            let mut b = Vec::new();
                            crate::util::float::fmt_double(*s, &mut b);
                            b
                        })
                        .collect();
                    self.listpack_body(
                        z.iter()
                            .zip(&scores)
                            .flat_map(|((m, _), s)| [&m[..], &s[..]]),
                    )
                } else {
                    self.zset2_body(z.len(), z.iter().rev().map(|(m, s)| (&m[..], *s)))
                }
            }
            RdbValue::Stream(s) => self.stream_body(s, th),
        }
    }
}

/// The RDB type Redis 7.0 would save `v` as under `th`.
pub fn value_type(v: &RdbValue, th: &Thresholds) -> u8 {
    match v {
        RdbValue::Str(_) => types::STRING,
        RdbValue::List(_) => types::LIST_QUICKLIST_2,
        RdbValue::Set(s) => {
            if s.len() <= th.set_intset_entries
                && s.iter().all(|m| crate::util::num::parse_i64(m).is_some())
            {
                types::SET_INTSET
            } else {
                types::SET
            }
        }
        RdbValue::Hash(h) => {
            if h.len() <= th.hash_entries
                && h.iter()
                    .all(|(f, v)| f.len() <= th.hash_value && v.len() <= th.hash_value)
            {
                types::HASH_LISTPACK
            } else {
                types::HASH
            }
        }
        RdbValue::ZSet(z) => {
            if z.len() <= th.zset_entries && z.iter().all(|(m, _)| m.len() <= th.zset_value) {
                types::ZSET_LISTPACK
            } else {
                types::ZSET_2
            }
        }
        RdbValue::Stream(_) => types::STREAM_LISTPACKS_2,
    }
}

/// Appends the DUMP footer (RDB version, CRC-64 of everything) to a
/// type-byte + value body.
pub fn finish_dump_payload(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}
