//! `HashValue`: the field → value map behind Redis hashes.
//!
//! Two representations, as in Redis:
//! - `Packed` (reported as `listpack`): every pair serialized one after the
//!   other in a single byte vector, `[varint field len][field][varint value
//!   len][value]`. Lookups are linear scans, which is fine because the form
//!   is only used while the hash is small (`hash-max-listpack-entries`
//!   pairs, fields and values of at most `hash-max-listpack-value` bytes).
//!   Insertion order is kept, so iteration is deterministic like a listpack.
//! - `Table` (reported as `hashtable`): a [`Dict`] whose key is a [`Pair`]
//!   holding both the field and the value (`[varint field len][field]
//!   [value]`, inline in the node up to 30 bytes, boxed beyond) and whose
//!   value is `()`. A short pair costs one 40-byte node plus its bucket
//!   pointer. The dict gives incremental rehashing, a SCAN cursor that
//!   survives resizes, and random sampling (HRANDFIELD); `std`/hashbrown
//!   tables give neither a resize-proof cursor nor cheap sampling.
//!
//! A hash converts from packed to table once it outgrows the limits and
//! never converts back (Redis does the same). Nothing here knows about
//! commands; the limits are passed in by the caller.

use crate::storage::dict::{Dict, DictKey, hash_bytes};
use rand::{Rng, RngExt};

/// Size limits of the packed form (from `hash-max-listpack-*`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most pairs a packed hash may hold.
    pub max_entries: usize,
    /// Longest field or value a packed hash may hold, in bytes.
    pub max_value: usize,
}

/// Appends `n` as a LEB128 varint.
#[inline]
fn put_varint(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// Bytes [`put_varint`] writes for `n`.
#[inline]
fn varint_len(n: usize) -> usize {
    (usize::BITS - (n | 1).leading_zeros()).div_ceil(7) as usize
}

/// Reads a varint at `buf[*pos..]`, advancing `pos`.
#[inline]
fn get_varint(buf: &[u8], pos: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// Bytes of a pair kept inside the dict node itself.
const INLINE_CAP: usize = 30;

/// One field and its value (the table form's key), encoded as
/// `[varint field len][field][value]`. Short pairs (up to 30 encoded bytes,
/// the common case) live inline in the 32-byte key, so the dict node is
/// the only allocation; longer ones take one boxed slice.
#[derive(Clone)]
pub enum Pair {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        let total = field.len() + value.len() + 1;
        if field.len() < 0x80 && total <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[0] = field.len() as u8;
            buf[1..1 + field.len()].copy_from_slice(field);
            buf[1 + field.len()..total].copy_from_slice(value);
            return Pair::Inline {
                len: total as u8,
                buf,
            };
        }
        let mut buf = Vec::with_capacity(field.len() + value.len() + 2);
        put_varint(&mut buf, field.len());
        buf.extend_from_slice(field);
        buf.extend_from_slice(value);
        Pair::Heap(buf.into_boxed_slice())
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Pair::Inline { len, buf } => &buf[..*len as usize],
            Pair::Heap(b) => b,
        }
    }

    /// Offset where the field starts and its length.
    #[inline]
    fn split(&self) -> (usize, usize) {
        let mut pos = 0;
        let len = get_varint(self.bytes(), &mut pos);
        (pos, len)
    }

    #[inline]
    pub fn field(&self) -> &[u8] {
        let (start, len) = self.split();
        &self.bytes()[start..start + len]
    }

    #[inline]
    pub fn value(&self) -> &[u8] {
        let (start, len) = self.split();
        &self.bytes()[start + len..]
    }

    /// Heap bytes owned beyond the pair itself.
    fn heap_len(&self) -> usize {
        match self {
            Pair::Inline { .. } => 0,
            Pair::Heap(b) => b.len(),
        }
    }
}

impl DictKey for Pair {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self.field()
    }
}

/// Pairs serialized back to back (the small form). The buffer is an
/// exact-size boxed slice rather than a `Vec` (no capacity word): that keeps
/// a whole [`HashValue`] at 24 bytes, small enough to live inline in the
/// keyspace entry without a box of its own. Every change reallocates to the
/// new exact size, as a listpack does.
#[derive(Clone, Default)]
struct Packed {
    buf: Box<[u8]>,
    len: u32,
}

/// Position of one pair inside a [`Packed`] buffer.
#[derive(Clone, Copy)]
struct Slot {
    /// Start of the pair (its field length varint).
    start: usize,
    /// Start and end of the value bytes.
    value: (usize, usize),
}

impl Packed {
    /// Decodes the pair starting at `pos`: (field range, value range, end).
    #[inline]
    fn decode(&self, mut pos: usize) -> ((usize, usize), (usize, usize), usize) {
        let flen = get_varint(&self.buf, &mut pos);
        let f = (pos, pos + flen);
        pos += flen;
        let vlen = get_varint(&self.buf, &mut pos);
        let v = (pos, pos + vlen);
        (f, v, pos + vlen)
    }

    fn find(&self, field: &[u8]) -> Option<Slot> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (f, v, end) = self.decode(pos);
            if &self.buf[f.0..f.1] == field {
                return Some(Slot {
                    start: pos,
                    value: v,
                });
            }
            pos = end;
        }
        None
    }

    fn iter(&self) -> PackedIter<'_> {
        PackedIter { p: self, pos: 0 }
    }

    fn push(&mut self, field: &[u8], value: &[u8]) {
        // Exact growth, like a listpack's realloc per insert: the form is
        // small, and spare capacity would cost more than the copying.
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.reserve_exact(
            varint_len(field.len()) + field.len() + varint_len(value.len()) + value.len(),
        );
        put_varint(&mut buf, field.len());
        buf.extend_from_slice(field);
        put_varint(&mut buf, value.len());
        buf.extend_from_slice(value);
        self.buf = buf.into_boxed_slice();
        self.len += 1;
    }

    /// Replaces the value of the pair at `slot` (its field stays in place).
    fn replace(&mut self, slot: Slot, value: &[u8]) {
        let (vs, ve) = slot.value;
        if ve - vs == value.len() {
            self.buf[vs..ve].copy_from_slice(value);
            return;
        }
        // Rewrite the value length varint and the value.
        let mut pos = slot.start;
        let flen = get_varint(&self.buf, &mut pos);
        let len_at = pos + flen;
        let mut buf = Vec::with_capacity(self.buf.len() - (ve - len_at) + value.len() + 2);
        buf.extend_from_slice(&self.buf[..len_at]);
        put_varint(&mut buf, value.len());
        buf.extend_from_slice(value);
        buf.extend_from_slice(&self.buf[ve..]);
        self.buf = buf.into_boxed_slice();
    }

    fn remove(&mut self, slot: Slot) {
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.drain(slot.start..slot.value.1);
        self.len -= 1;
        // Shrinks to the exact size (an empty buffer frees it).
        self.buf = buf.into_boxed_slice();
    }
}

struct PackedIter<'a> {
    p: &'a Packed,
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.p.buf.len() {
            return None;
        }
        let (f, v, end) = self.p.decode(self.pos);
        self.pos = end;
        let b = &self.p.buf;
        Some((&b[f.0..f.1], &b[v.0..v.1]))
    }
}

enum Repr {
    Packed(Packed),
    Table(Box<Dict<Pair, ()>>),
}

/// A Redis hash value.
pub struct HashValue {
    repr: Repr,
}

impl Default for HashValue {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for HashValue {
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Packed(p) => Repr::Packed(p.clone()),
            Repr::Table(d) => {
                let mut t = Dict::with_capacity(d.len());
                for (k, _) in d.iter() {
                    t.insert_new_hashed(hash_bytes(k.field()), k.clone(), ());
                }
                Repr::Table(Box::new(t))
            }
        };
        HashValue { repr }
    }
}

impl std::fmt::Debug for HashValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

/// Iterator over the pairs of a hash.
pub enum Iter<'a> {
    Packed(PackedIterPub<'a>),
    Table(crate::storage::dict::Iter<'a, Pair, ()>),
}

/// Opaque iterator over the packed form.
pub struct PackedIterPub<'a>(PackedIter<'a>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Packed(it) => it.0.next(),
            Iter::Table(it) => it.next().map(|(k, _)| (k.field(), k.value())),
        }
    }
}

impl HashValue {
    /// An empty hash in the packed form.
    pub fn new() -> HashValue {
        HashValue {
            repr: Repr::Packed(Packed::default()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len as usize,
            Repr::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while in the small form.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// `OBJECT ENCODING` name: `listpack` or `hashtable`.
    pub fn encoding(&self) -> &'static str {
        if self.is_packed() {
            "listpack"
        } else {
            "hashtable"
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed(p) => p.find(field).map(|s| &p.buf[s.value.0..s.value.1]),
            Repr::Table(d) => d.get_key_value(field).map(|(k, _)| k.value()),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match &self.repr {
            Repr::Packed(p) => p.find(field).is_some(),
            Repr::Table(d) => d.contains_key(field),
        }
    }

    /// Converts to the table form (no-op if already there).
    pub fn convert_to_table(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut d = Dict::with_capacity(p.len as usize);
            for (f, v) in p.iter() {
                d.insert(Pair::new(f, v), ());
            }
            self.repr = Repr::Table(Box::new(d));
        }
    }

    /// Converts to the table form if any of `args` is longer than the
    /// packed form allows (Redis checks the arguments before writing).
    pub fn convert_for_args<'a>(&mut self, args: impl IntoIterator<Item = &'a [u8]>, lim: Limits) {
        if self.is_packed() && args.into_iter().any(|a| a.len() > lim.max_value) {
            self.convert_to_table();
        }
    }

    /// Sets `field` to `value`; returns true when the field is new.
    /// Converts to the table form when the field or value is too long or
    /// the hash grows past `lim.max_entries`.
    pub fn insert(&mut self, field: &[u8], value: &[u8], lim: Limits) -> bool {
        self.convert_for_args([field, value], lim);
        match &mut self.repr {
            Repr::Packed(p) => {
                if let Some(slot) = p.find(field) {
                    p.replace(slot, value);
                    return false;
                }
                p.push(field, value);
                if p.len as usize > lim.max_entries {
                    self.convert_to_table();
                }
                true
            }
            Repr::Table(d) => {
                // The value lives inside the dict key: an update overwrites
                // the stored pair in place.
                d.upsert_key_hashed(hash_bytes(field), Pair::new(field, value), ())
            }
        }
    }

    /// Removes `field`; returns whether it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(p) => match p.find(field) {
                Some(slot) => {
                    p.remove(slot);
                    true
                }
                None => false,
            },
            Repr::Table(d) => d.remove(field).is_some(),
        }
    }

    /// Every pair (packed: insertion order; table: bucket order).
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Packed(p) => Iter::Packed(PackedIterPub(p.iter())),
            Repr::Table(d) => Iter::Table(d.iter()),
        }
    }

    /// One HSCAN step: calls `f` for the pairs visited and returns the next
    /// cursor (0 = done). The packed form returns everything at once with
    /// cursor 0, as Redis does for a listpack.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.repr {
            Repr::Packed(p) => {
                for (k, v) in p.iter() {
                    f(k, v);
                }
                0
            }
            Repr::Table(d) => d.scan_count(cursor, count, |k, _| f(k.field(), k.value())),
        }
    }

    /// A random pair (roughly uniform), `None` when empty.
    pub fn random<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Packed(p) => {
                if p.len == 0 {
                    return None;
                }
                let i = rng.random_range(0..p.len as usize);
                p.iter().nth(i)
            }
            Repr::Table(d) => d.random_entry(rng).map(|(k, _)| (k.field(), k.value())),
        }
    }

    /// `count` random pairs, repetitions allowed (HRANDFIELD with a
    /// negative count).
    pub fn random_with_repeats<R: Rng + ?Sized>(
        &self,
        count: usize,
        rng: &mut R,
        mut f: impl FnMut(&[u8], &[u8]),
    ) {
        if self.is_empty() {
            return;
        }
        match &self.repr {
            Repr::Packed(p) => {
                let all: Vec<(&[u8], &[u8])> = p.iter().collect();
                for _ in 0..count {
                    let (k, v) = all[rng.random_range(0..all.len())];
                    f(k, v);
                }
            }
            Repr::Table(_) => {
                for _ in 0..count {
                    if let Some((k, v)) = self.random(rng) {
                        f(k, v);
                    }
                }
            }
        }
    }

    /// `count` distinct random pairs (`count` < len; HRANDFIELD with a
    /// positive count). Order is random.
    pub fn random_distinct<R: Rng + ?Sized>(
        &self,
        count: usize,
        rng: &mut R,
    ) -> Vec<(&[u8], &[u8])> {
        let n = self.len();
        if count >= n {
            return self.iter().collect();
        }
        if self.is_packed() || count * 3 > n {
            // Partial Fisher-Yates over all pairs.
            let mut all: Vec<(&[u8], &[u8])> = self.iter().collect();
            for i in 0..count {
                let j = rng.random_range(i..all.len());
                all.swap(i, j);
            }
            all.truncate(count);
            return all;
        }
        // Few pairs from a large table: sample until enough distinct ones.
        let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            if let Some((k, v)) = self.random(rng)
                && seen.insert(k)
            {
                out.push((k, v));
            }
        }
        out
    }

    /// Approximate heap bytes owned by this hash (for MEMORY USAGE-like
    /// reporting).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.buf.len(),
            Repr::Table(d) => d.heap_bytes() + d.iter().map(|(k, _)| k.heap_len()).sum::<usize>(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const LIM: Limits = Limits {
        max_entries: 8,
        max_value: 16,
    };

    #[test]
    fn packed_basics_and_conversion() {
        let mut h = HashValue::new();
        assert!(h.insert(b"a", b"1", LIM));
        assert!(!h.insert(b"a", b"22", LIM));
        assert_eq!(h.get(b"a"), Some(&b"22"[..]));
        assert!(h.is_packed());
        assert!(h.insert(b"b", b"x", LIM));
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 1);
        // Long value converts.
        h.insert(b"c", &[b'v'; 17], LIM);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"b"), Some(&b"x"[..]));
        assert_eq!(h.get(b"c").map(|v| v.len()), Some(17));
        // Too many entries converts.
        let mut h = HashValue::new();
        for i in 0..8 {
            h.insert(format!("f{i}").as_bytes(), b"v", LIM);
        }
        assert!(h.is_packed());
        h.insert(b"f8", b"v", LIM);
        assert!(!h.is_packed());
        // Never converts back.
        for i in 0..9 {
            h.remove(format!("f{i}").as_bytes());
        }
        assert!(h.is_empty() && !h.is_packed());
    }

    #[test]
    fn varint_lengths() {
        for n in [0usize, 1, 127, 128, 16383, 16384, 1 << 40] {
            let mut b = Vec::new();
            put_varint(&mut b, n);
            assert_eq!(b.len(), varint_len(n), "{n}");
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos), n);
        }
    }

    #[test]
    fn pair_is_compact() {
        assert_eq!(std::mem::size_of::<Pair>(), 32);
        assert!(std::mem::size_of::<HashValue>() <= 32);
        for (f, v) in [
            (&b""[..], &b""[..]),
            (b"field:1", b"value:1"),
            (&[1u8; 29], b""),
        ] {
            let p = Pair::new(f, v);
            assert!(matches!(p, Pair::Inline { .. }));
            assert_eq!((p.field(), p.value()), (f, v));
        }
        let p = Pair::new(&[1u8; 20], &[2u8; 10]);
        assert!(matches!(p, Pair::Heap(_)));
        assert_eq!((p.field(), p.value()), (&[1u8; 20][..], &[2u8; 10][..]));
    }

    #[test]
    fn long_lengths_roundtrip() {
        let lim = Limits {
            max_entries: 100,
            max_value: 100_000,
        };
        let mut h = HashValue::new();
        let big = vec![7u8; 300];
        h.insert(&big, &big, lim);
        h.insert(b"k", &big[..200], lim);
        h.insert(&big, b"short", lim);
        assert_eq!(h.get(&big), Some(&b"short"[..]));
        assert_eq!(h.get(b"k"), Some(&big[..200]));
        h.insert(b"k", &big, lim);
        assert_eq!(h.get(b"k"), Some(&big[..]));
        assert!(h.is_packed());
    }

    #[test]
    fn scan_visits_everything() {
        let mut h = HashValue::new();
        for i in 0..1000 {
            h.insert(format!("f{i}").as_bytes(), b"v", LIM);
        }
        let mut seen = std::collections::HashSet::new();
        let mut c = 0;
        loop {
            c = h.scan(c, 10, |k, _| {
                seen.insert(k.to_vec());
            });
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn random_distinct_is_distinct() {
        let mut rng = rand::rng();
        for n in [5usize, 50, 1000] {
            let mut h = HashValue::new();
            for i in 0..n {
                h.insert(format!("f{i}").as_bytes(), b"v", LIM);
            }
            for count in [1, n / 4, n / 2, n - 1, n, n + 3] {
                let got = h.random_distinct(count, &mut rng);
                let set: std::collections::HashSet<_> = got.iter().map(|p| p.0).collect();
                assert_eq!(got.len(), count.min(n));
                assert_eq!(set.len(), got.len());
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, Vec<u8>),
        Del(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..40, proptest::collection::vec(any::<u8>(), 0..24)).prop_map(|(f, v)| Op::Set(f, v)),
            1 => (0u8..40).prop_map(Op::Del),
        ]
    }

    proptest! {
        #[test]
        fn matches_hashmap_model(ops in proptest::collection::vec(op(), 0..200)) {
            let mut h = HashValue::new();
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut was_table = false;
            for o in ops {
                match o {
                    Op::Set(f, v) => {
                        let field = format!("field{f}").into_bytes();
                        let new = h.insert(&field, &v, LIM);
                        prop_assert_eq!(new, model.insert(field, v.clone()).is_none());
                    }
                    Op::Del(f) => {
                        let field = format!("field{f}").into_bytes();
                        prop_assert_eq!(h.remove(&field), model.remove(&field).is_some());
                    }
                }
                // Encoding follows the limits and never goes back.
                if was_table {
                    prop_assert!(!h.is_packed());
                }
                if h.is_packed() {
                    prop_assert!(h.len() <= LIM.max_entries);
                    prop_assert!(h.iter().all(|(_, v)| v.len() <= LIM.max_value));
                }
                was_table = !h.is_packed();
                prop_assert_eq!(h.len(), model.len());
            }
            let got: HashMap<Vec<u8>, Vec<u8>> =
                h.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(&got, &model);
            for (k, v) in &model {
                prop_assert_eq!(h.get(k), Some(v.as_slice()));
            }
            let c = h.clone();
            let cloned: HashMap<Vec<u8>, Vec<u8>> =
                c.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(cloned, model);
        }
    }
}
