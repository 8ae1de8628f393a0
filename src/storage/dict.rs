//! `Dict<K, V>`: the chained hash table behind every database (and later
//! behind large hashes and sets).
//!
//! Why not `hashbrown`: Redis semantics need control over the table layout.
//! - `SCAN` must return every element that stays present for the whole scan,
//!   even when the table grows or shrinks between calls. That works with
//!   power-of-two bucket arrays walked in reverse-binary cursor order, which
//!   only a chained table gives us.
//! - Eviction and active expiry need cheap random sampling of entries.
//! - Growth must be incremental: while resizing, two bucket arrays coexist
//!   and every mutating operation moves one bucket from the old array to
//!   the new one, so a large table never stalls a request.
//!
//! Layout: each bucket is one `Option<Box<Node>>` (one pointer, thanks to
//! the niche), each node is a single allocation holding the key, the value
//! and the next pointer. Hashes are not stored: they are recomputed with
//! [`hash_bytes`] when a node moves during a resize, which saves 8 bytes per
//! entry. Bucket indexes use the LOW bits of the hash (the keyspace uses the
//! top bits to choose a shard).
//!
//! Every `*_hashed` method takes `hash == hash_bytes(key)`; passing anything
//! else breaks lookups after the next resize.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::iter::Chain;
use std::mem;
use std::slice;
use std::sync::LazyLock;

use compact_bytes::{CompactBytes, CompactBytesSlice};
use rand::Rng;

/// A key that can live in a [`Dict`]: keys are compared and hashed by bytes.
pub trait DictKey {
    fn key_bytes(&self) -> &[u8];
}

impl DictKey for Vec<u8> {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

impl DictKey for Box<[u8]> {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self
    }
}

impl DictKey for CompactBytesSlice {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DictKey for CompactBytes {
    #[inline]
    fn key_bytes(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Hash state chosen once per process (random seed), shared by all tables.
static HASH_STATE: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

/// Hashes a key the way every [`Dict`] does. Stable for the life of the
/// process, different between processes.
#[inline]
pub fn hash_bytes(key: &[u8]) -> u64 {
    let mut hasher = HASH_STATE.build_hasher();
    hasher.write(key);
    hasher.finish()
}

/// Smallest non-empty bucket array.
const MIN_BUCKETS: usize = 4;
/// How many entries `random_entry` samples before picking one of them.
const FAIR_SAMPLE: usize = 15;

type Link<K, V> = Option<Box<Node<K, V>>>;

/// `repr(C)`: the chain pointer and the key, which a lookup reads, come
/// first and share a cache line; the value follows.
#[repr(C)]
struct Node<K, V> {
    next: Link<K, V>,
    key: K,
    value: V,
}

/// One power-of-two bucket array (or none at all: zero buckets).
struct Table<K, V> {
    buckets: Box<[Link<K, V>]>,
    used: usize,
}

impl<K, V> Table<K, V> {
    fn empty() -> Self {
        Table {
            buckets: Box::new([]),
            used: 0,
        }
    }

    fn with_buckets(n: usize) -> Self {
        debug_assert!(n.is_power_of_two());
        // Zeroed allocation instead of writing `None` n times: for large
        // arrays the allocator hands out fresh pages the OS zeroes lazily, so
        // starting a resize costs microseconds instead of a memset of the
        // whole array (measured: 2M buckets, 10 ms with `collect` vs 24 us).
        let buckets = Box::<[Link<K, V>]>::new_zeroed_slice(n);
        // SAFETY: `Link<K, V>` is `Option<Box<Node<K, V>>>` with a sized
        // `Node`; std guarantees that all-zero bytes are a valid `None` for
        // `Option<Box<T>>` (the null-pointer optimization documented on
        // `Option`), so every element is initialized.
        let buckets = unsafe { buckets.assume_init() };
        Table { buckets, used: 0 }
    }

    #[inline]
    fn size(&self) -> usize {
        self.buckets.len()
    }

    /// Bucket index of `hash`; the table must have buckets.
    #[inline]
    fn index(&self, hash: u64) -> usize {
        (hash as usize) & (self.buckets.len() - 1)
    }
}

impl<K, V> Drop for Table<K, V> {
    /// Frees chains iteratively so a pathological chain cannot overflow the
    /// stack through recursive `Box` drops.
    fn drop(&mut self) {
        if self.used == 0 {
            // Typical for the old array once a resize completes.
            return;
        }
        for bucket in self.buckets.iter_mut() {
            let mut cur = bucket.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
            }
        }
    }
}

/// Walks a chain to the slot holding `key`, or to the empty slot at its end.
#[inline]
fn find_slot<'a, K: DictKey, V>(mut link: &'a mut Link<K, V>, key: &[u8]) -> &'a mut Link<K, V> {
    while link.as_ref().is_some_and(|n| n.key.key_bytes() != key) {
        link = &mut link.as_mut().unwrap().next;
    }
    link
}

#[inline]
fn find_in_chain<'a, K: DictKey, V>(
    mut link: &'a Link<K, V>,
    key: &[u8],
) -> Option<&'a Node<K, V>> {
    while let Some(node) = link {
        if node.key.key_bytes() == key {
            return Some(node);
        }
        link = &node.next;
    }
    None
}

/// Incrementally resized chained hash table keyed by bytes.
pub struct Dict<K, V> {
    /// `ht[0]` is the main table; `ht[1]` has buckets only while resizing.
    ht: [Table<K, V>; 2],
    /// While resizing: every bucket of `ht[0]` below this index is empty
    /// (already moved to `ht[1]`).
    rehash_idx: usize,
}

impl<K: DictKey, V> Default for Dict<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: DictKey + fmt::Debug, V: fmt::Debug> fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: DictKey, V> Dict<K, V> {
    /// An empty table; allocates nothing until the first insert.
    pub fn new() -> Self {
        Dict {
            ht: [Table::empty(), Table::empty()],
            rehash_idx: 0,
        }
    }

    /// An empty table that holds `n` entries without resizing.
    pub fn with_capacity(n: usize) -> Self {
        let mut d = Self::new();
        if n > 0 {
            d.ht[0] = Table::with_buckets(n.max(MIN_BUCKETS).next_power_of_two());
        }
        d
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.ht[0].used + self.ht[1].used
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while entries are being moved between two bucket arrays.
    #[inline]
    pub fn is_rehashing(&self) -> bool {
        !self.ht[1].buckets.is_empty()
    }

    /// Buckets allocated across both arrays.
    pub fn bucket_count(&self) -> usize {
        self.ht[0].size() + self.ht[1].size()
    }

    /// Memory owned by the table itself: bucket arrays plus nodes (not any
    /// heap memory owned by keys or values; allocator rounding ignored).
    pub fn heap_bytes(&self) -> usize {
        self.bucket_count() * mem::size_of::<Link<K, V>>()
            + self.len() * mem::size_of::<Node<K, V>>()
    }

    // ----- lookups -------------------------------------------------------

    fn find_node(&self, hash: u64, key: &[u8]) -> Option<&Node<K, V>> {
        let t0 = &self.ht[0];
        if t0.used > 0
            && let Some(node) = find_in_chain(&t0.buckets[t0.index(hash)], key)
        {
            return Some(node);
        }
        let t1 = &self.ht[1];
        if t1.used > 0 {
            return find_in_chain(&t1.buckets[t1.index(hash)], key);
        }
        None
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.get_hashed(hash_bytes(key), key)
    }

    #[inline]
    pub fn get_hashed(&self, hash: u64, key: &[u8]) -> Option<&V> {
        self.find_node(hash, key).map(|n| &n.value)
    }

    #[inline]
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&K, &V)> {
        self.get_key_value_hashed(hash_bytes(key), key)
    }

    #[inline]
    pub fn get_key_value_hashed(&self, hash: u64, key: &[u8]) -> Option<(&K, &V)> {
        self.find_node(hash, key).map(|n| (&n.key, &n.value))
    }

    #[inline]
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find_node(hash_bytes(key), key).is_some()
    }

    #[inline]
    pub fn contains_key_hashed(&self, hash: u64, key: &[u8]) -> bool {
        self.find_node(hash, key).is_some()
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.get_mut_hashed(hash_bytes(key), key)
    }

    /// Mutable lookup; like every `&mut self` operation it also moves one
    /// bucket forward if a resize is in progress.
    pub fn get_mut_hashed(&mut self, hash: u64, key: &[u8]) -> Option<&mut V> {
        self.step();
        let [t0, t1] = &mut self.ht;
        if t0.used > 0 {
            let idx = t0.index(hash);
            if let Some(node) = find_slot(&mut t0.buckets[idx], key) {
                return Some(&mut node.value);
            }
        }
        if t1.used > 0 {
            let idx = t1.index(hash);
            if let Some(node) = find_slot(&mut t1.buckets[idx], key) {
                return Some(&mut node.value);
            }
        }
        None
    }

    /// Inserts `key` (new entries go at the head of their chain, as
    /// [`Dict::insert_new_hashed`]) or, when an equal key is present,
    /// overwrites the stored key and value in place: for keys that carry a
    /// payload (a hash's field and value), an update costs no free and no
    /// allocation. True when the key was inserted.
    pub fn upsert_key_hashed(&mut self, hash: u64, key: K, value: V) -> bool {
        self.step();
        let [t0, t1] = &mut self.ht;
        for t in [t0, t1] {
            if t.used == 0 {
                continue;
            }
            let idx = t.index(hash);
            if let Some(node) = find_slot(&mut t.buckets[idx], key.key_bytes()) {
                node.key = key;
                node.value = value;
                return false;
            }
        }
        self.insert_new_hashed(hash, key, value);
        true
    }

    // ----- insertion -----------------------------------------------------

    /// Inserts or replaces. On replace the stored key is kept and the old
    /// value returned.
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let hash = hash_bytes(key.key_bytes());
        self.insert_hashed(hash, key, value)
    }

    pub fn insert_hashed(&mut self, hash: u64, key: K, value: V) -> Option<V> {
        match self.slot_for(hash, key.key_bytes()) {
            (slot, None) => Some(mem::replace(&mut slot.as_mut().unwrap().value, value)),
            (slot, Some(used)) => {
                *slot = Some(Box::new(Node {
                    next: None,
                    key,
                    value,
                }));
                *used += 1;
                None
            }
        }
    }

    /// Inserts a key the caller knows is absent, skipping the lookup.
    pub fn insert_new_hashed(&mut self, hash: u64, key: K, value: V) {
        debug_assert!(
            !self.contains_key_hashed(hash, key.key_bytes()),
            "insert_new_hashed: key already present"
        );
        self.step();
        self.expand_if_needed();
        let t = self.insert_table();
        let table = &mut self.ht[t];
        let idx = table.index(hash);
        let next = table.buckets[idx].take();
        table.buckets[idx] = Some(Box::new(Node { next, key, value }));
        table.used += 1;
    }

    /// Returns the value for `key`, inserting `make()` first if absent.
    /// `make` must return a key equal to `key`. The flag is true when the
    /// entry was inserted.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> (K, V),
    ) -> (&mut V, bool) {
        self.get_or_insert_with_hashed(hash_bytes(key), key, make)
    }

    pub fn get_or_insert_with_hashed(
        &mut self,
        hash: u64,
        key: &[u8],
        make: impl FnOnce() -> (K, V),
    ) -> (&mut V, bool) {
        let (slot, used) = self.slot_for(hash, key);
        let Some(used) = used else {
            return (&mut slot.as_mut().unwrap().value, false);
        };
        let (k, value) = make();
        debug_assert_eq!(k.key_bytes(), key, "get_or_insert_with: made key differs");
        *used += 1;
        let node = slot.insert(Box::new(Node {
            next: None,
            key: k,
            value,
        }));
        (&mut node.value, true)
    }

    /// Prepares an insert of `key`: advances the resize and grows if
    /// needed, then finds the slot holding `key` (counter `None`) or else the
    /// empty slot at the end of its chain in the table new entries go to,
    /// with that table's entry counter, which the caller bumps on insert.
    fn slot_for(&mut self, hash: u64, key: &[u8]) -> (&mut Link<K, V>, Option<&mut usize>) {
        self.step();
        self.expand_if_needed();
        let rehashing = self.is_rehashing();
        let [t0, t1] = &mut self.ht;
        let idx0 = t0.index(hash);
        let Table { buckets, used } = t0;
        let slot0 = find_slot(&mut buckets[idx0], key);
        if slot0.is_some() {
            return (slot0, None);
        }
        if !rehashing {
            return (slot0, Some(used));
        }
        let idx1 = t1.index(hash);
        let Table { buckets, used } = t1;
        let slot1 = find_slot(&mut buckets[idx1], key);
        if slot1.is_some() {
            return (slot1, None);
        }
        (slot1, Some(used))
    }

    #[inline]
    fn insert_table(&self) -> usize {
        usize::from(self.is_rehashing())
    }

    // ----- removal -------------------------------------------------------

    #[inline]
    pub fn remove(&mut self, key: &[u8]) -> Option<(K, V)> {
        self.remove_hashed(hash_bytes(key), key)
    }

    pub fn remove_hashed(&mut self, hash: u64, key: &[u8]) -> Option<(K, V)> {
        self.step();
        let mut removed = None;
        for table in self.ht.iter_mut() {
            if table.used == 0 {
                continue;
            }
            let idx = table.index(hash);
            let slot = find_slot(&mut table.buckets[idx], key);
            if let Some(mut node) = slot.take() {
                *slot = node.next.take();
                table.used -= 1;
                removed = Some(node);
                break;
            }
        }
        let node = *removed?;
        self.shrink_if_needed();
        Some((node.key, node.value))
    }

    /// Removes every entry and frees the bucket arrays.
    pub fn clear(&mut self) {
        self.ht = [Table::empty(), Table::empty()];
        self.rehash_idx = 0;
    }

    /// Takes every entry out, leaving the table empty (and unallocated).
    pub fn drain(&mut self) -> IntoIter<K, V> {
        mem::take(self).into_iter()
    }

    /// Keeps only the entries for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        for table in self.ht.iter_mut() {
            let mut left = table.used;
            for bucket in table.buckets.iter_mut() {
                if left == 0 {
                    break;
                }
                let mut link = bucket;
                while let Some(node) = link.as_mut() {
                    left -= 1;
                    if f(&node.key, &mut node.value) {
                        link = &mut link.as_mut().unwrap().next;
                    } else {
                        let mut node = link.take().unwrap();
                        *link = node.next.take();
                        table.used -= 1;
                    }
                }
            }
        }
        self.shrink_if_needed();
    }

    // ----- resizing ------------------------------------------------------

    /// Moves up to `buckets` non-empty buckets to the new array (visiting at
    /// most ten times as many empty ones). When idle, first checks whether
    /// the table should shrink, so a periodic caller also reclaims memory.
    /// Returns true while a resize is still in progress.
    pub fn rehash_step(&mut self, buckets: usize) -> bool {
        if !self.is_rehashing() {
            self.shrink_if_needed();
            if !self.is_rehashing() {
                return false;
            }
        }
        if buckets == 0 {
            // No work asked for: not even finishing a drained rehash.
            return true;
        }
        let mut empty_visits = buckets.saturating_mul(10);
        let mut moves = buckets;
        while moves > 0 && self.ht[0].used > 0 {
            while self.ht[0].buckets[self.rehash_idx].is_none() {
                self.rehash_idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    return true;
                }
            }
            self.move_bucket();
            moves -= 1;
        }
        if self.ht[0].used == 0 {
            self.ht[0] = mem::replace(&mut self.ht[1], Table::empty());
            self.rehash_idx = 0;
            // Enough entries may have gone meanwhile to shrink right away.
            self.shrink_if_needed();
            return self.is_rehashing();
        }
        true
    }

    /// One bucket of incremental resize, done by every mutating operation.
    #[inline]
    fn step(&mut self) {
        if self.is_rehashing() {
            self.rehash_step(1);
        }
    }

    /// Moves the chain at `rehash_idx` from `ht[0]` to `ht[1]`.
    fn move_bucket(&mut self) {
        let [t0, t1] = &mut self.ht;
        let mut chain = t0.buckets[self.rehash_idx].take();
        while let Some(mut node) = chain {
            chain = node.next.take();
            let idx = t1.index(hash_bytes(node.key.key_bytes()));
            node.next = t1.buckets[idx].take();
            t1.buckets[idx] = Some(node);
            t0.used -= 1;
            t1.used += 1;
        }
        self.rehash_idx += 1;
    }

    /// Grows (doubling) when the load factor would exceed 1.
    #[inline]
    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.ht[0].size();
        if size == 0 {
            self.ht[0] = Table::with_buckets(MIN_BUCKETS);
        } else if self.ht[0].used >= size {
            self.resize_for(self.ht[0].used + 1);
        }
    }

    /// Shrinks when fewer than 1/8 of the buckets are in use.
    #[inline]
    fn shrink_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let size = self.ht[0].size();
        if size > MIN_BUCKETS && self.ht[0].used * 8 < size {
            self.resize_for(self.ht[0].used);
        }
    }

    /// Starts moving to a bucket array sized for `n` entries (immediately if
    /// the table is empty).
    fn resize_for(&mut self, n: usize) {
        debug_assert!(!self.is_rehashing());
        let size = n.max(MIN_BUCKETS).next_power_of_two();
        if size == self.ht[0].size() {
            return;
        }
        if self.ht[0].used == 0 {
            self.ht[0] = Table::with_buckets(size);
        } else {
            self.ht[1] = Table::with_buckets(size);
            self.rehash_idx = 0;
        }
    }

    /// Makes room for `additional` more entries without further growth
    /// (for bulk loads). Does nothing while a resize is in progress.
    pub fn reserve(&mut self, additional: usize) {
        if self.is_rehashing() {
            return;
        }
        let want = self.len() + additional;
        if want > self.ht[0].size() {
            self.resize_for(want);
        }
    }

    // ----- iteration -----------------------------------------------------

    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            buckets: self.ht[0].buckets.iter().chain(self.ht[1].buckets.iter()),
            node: None,
            left: self.len(),
        }
    }

    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        let left = self.len();
        let [t0, t1] = &mut self.ht;
        IterMut {
            buckets: t0.buckets.iter_mut().chain(t1.buckets.iter_mut()),
            node: None,
            left,
        }
    }

    /// One step of a `SCAN`: calls `f` for every entry of the bucket(s) at
    /// `cursor` and returns the next cursor, 0 when the scan is complete.
    ///
    /// The cursor counts in reverse-binary order over the bucket index bits,
    /// so it stays meaningful when the table grows or shrinks between calls:
    /// every entry present for the whole scan is visited at least once
    /// (possibly more than once if the table shrank). While resizing, the
    /// bucket of the smaller array and all buckets of the larger array that
    /// expand from it are visited together.
    pub fn scan<'a>(&'a self, cursor: u64, mut f: impl FnMut(&'a K, &'a V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        if !self.is_rehashing() {
            let t = &self.ht[0];
            let mask = (t.size() - 1) as u64;
            visit_chain(&t.buckets[(v & mask) as usize], &mut f);
            return next_cursor(v, mask);
        }
        let (small, large) = if self.ht[0].size() <= self.ht[1].size() {
            (&self.ht[0], &self.ht[1])
        } else {
            (&self.ht[1], &self.ht[0])
        };
        let m_small = (small.size() - 1) as u64;
        let m_large = (large.size() - 1) as u64;
        visit_chain(&small.buckets[(v & m_small) as usize], &mut f);
        loop {
            visit_chain(&large.buckets[(v & m_large) as usize], &mut f);
            v = next_cursor(v, m_large);
            // Stop once the bits the large array has beyond the small one
            // wrapped back to zero: all expansions of this small bucket seen.
            if v & (m_small ^ m_large) == 0 {
                break;
            }
        }
        v
    }

    /// [`scan`](Self::scan) handing out mutable values (same cursor, same
    /// guarantee): the snapshot walker marks the entries it serialises.
    pub fn scan_mut(&mut self, cursor: u64, mut f: impl FnMut(&K, &mut V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        if !self.is_rehashing() {
            let t = &mut self.ht[0];
            let mask = (t.size() - 1) as u64;
            visit_chain_mut(&mut t.buckets[(v & mask) as usize], &mut f);
            return next_cursor(v, mask);
        }
        let [t0, t1] = &mut self.ht;
        let (small, large) = if t0.size() <= t1.size() {
            (t0, t1)
        } else {
            (t1, t0)
        };
        let m_small = (small.size() - 1) as u64;
        let m_large = (large.size() - 1) as u64;
        visit_chain_mut(&mut small.buckets[(v & m_small) as usize], &mut f);
        loop {
            visit_chain_mut(&mut large.buckets[(v & m_large) as usize], &mut f);
            v = next_cursor(v, m_large);
            if v & (m_small ^ m_large) == 0 {
                break;
            }
        }
        v
    }

    /// Runs [`scan`](Self::scan) steps until at least `count` entries were
    /// visited, the scan completed, or `10 * count` steps found too few.
    pub fn scan_count<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a K, &'a V),
    ) -> u64 {
        let mut seen = 0usize;
        let mut steps = count.max(1).saturating_mul(10);
        let mut v = cursor;
        loop {
            v = self.scan(v, |k, val| {
                seen += 1;
                f(k, val)
            });
            steps -= 1;
            if v == 0 || seen >= count || steps == 0 {
                return v;
            }
        }
    }

    // ----- sampling ------------------------------------------------------

    /// Calls `f` for up to `count` entries taken from consecutive buckets
    /// starting at a random position (cheap; entries are not independent).
    /// May return fewer than `count` when the table is sparse, and may
    /// repeat an entry when `count` is close to `len()` (the walk can wrap
    /// around). With `count >= len()` every entry is returned exactly once.
    pub fn sample<'a, R: Rng + ?Sized>(
        &'a self,
        count: usize,
        rng: &mut R,
        mut f: impl FnMut(&'a K, &'a V),
    ) {
        if count >= self.len() {
            for (k, v) in self.iter() {
                f(k, v);
            }
            return;
        }
        if count == 0 {
            return;
        }
        let rehashing = self.is_rehashing();
        let (t0, t1) = (&self.ht[0], &self.ht[1]);
        let max_mask = t0.size().max(t1.size()) - 1;
        let mut i = rng.next_u64() as usize & max_mask;
        let mut steps = count.saturating_mul(10);
        let mut empty_run = 0usize;
        let mut stored = 0usize;
        if !rehashing {
            // The loop below restricted to one table (same visits, same
            // random draws), without its per-bucket table checks.
            let buckets = &t0.buckets[..];
            while stored < count && steps > 0 {
                steps -= 1;
                let mut link = &buckets[i];
                if link.is_none() {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = rng.next_u64() as usize & max_mask;
                        empty_run = 0;
                    }
                } else {
                    empty_run = 0;
                    while let Some(node) = link {
                        f(&node.key, &node.value);
                        stored += 1;
                        if stored == count {
                            return;
                        }
                        link = &node.next;
                    }
                }
                i = (i + 1) & max_mask;
            }
            return;
        }
        while stored < count && steps > 0 {
            steps -= 1;
            for (j, table) in self.ht.iter().enumerate() {
                if j == 1 && !rehashing {
                    break;
                }
                if j == 0 && rehashing && i < self.rehash_idx {
                    // Buckets of ht[0] below rehash_idx were moved. If ht[1]
                    // cannot hold index i either, jump to the unmoved part.
                    if i >= t1.size() {
                        i = self.rehash_idx;
                    } else {
                        continue;
                    }
                }
                if i >= table.size() {
                    continue;
                }
                let mut link = &table.buckets[i];
                if link.is_none() {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = rng.next_u64() as usize & max_mask;
                        empty_run = 0;
                    }
                    continue;
                }
                empty_run = 0;
                while let Some(node) = link {
                    f(&node.key, &node.value);
                    stored += 1;
                    if stored == count {
                        return;
                    }
                    link = &node.next;
                }
            }
            i = (i + 1) & max_mask;
        }
    }

    /// A random entry, roughly uniformly chosen: picks among a sample of
    /// consecutive buckets, falling back to probing random buckets.
    pub fn random_entry<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&K, &V)> {
        if self.is_empty() {
            return None;
        }
        let mut picks: [Option<(&K, &V)>; FAIR_SAMPLE] = [None; FAIR_SAMPLE];
        let mut n = 0;
        self.sample(FAIR_SAMPLE, rng, |k, v| {
            picks[n] = Some((k, v));
            n += 1;
        });
        if n > 0 {
            return picks[(rng.next_u64() % n as u64) as usize];
        }
        self.random_bucket_entry(rng)
    }

    /// Probes random buckets until a non-empty one turns up, then picks a
    /// random entry of its chain. Needs a non-empty table.
    fn random_bucket_entry<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<(&K, &V)> {
        let (t0, t1) = (&self.ht[0], &self.ht[1]);
        let head = loop {
            let link = if self.is_rehashing() {
                let span = (t0.size() + t1.size() - self.rehash_idx) as u64;
                let h = self.rehash_idx + (rng.next_u64() % span) as usize;
                if h >= t0.size() {
                    &t1.buckets[h - t0.size()]
                } else {
                    &t0.buckets[h]
                }
            } else {
                &t0.buckets[rng.next_u64() as usize & (t0.size() - 1)]
            };
            if let Some(node) = link.as_deref() {
                break node;
            }
        };
        let mut len = 0u64;
        let mut link = Some(head);
        while let Some(node) = link {
            len += 1;
            link = node.next.as_deref();
        }
        let mut node: &Node<K, V> = head;
        for _ in 0..rng.next_u64() % len {
            node = node.next.as_deref().unwrap();
        }
        Some((&node.key, &node.value))
    }
}

#[inline]
fn visit_chain<'a, K, V>(mut link: &'a Link<K, V>, f: &mut impl FnMut(&'a K, &'a V)) {
    while let Some(node) = link {
        f(&node.key, &node.value);
        link = &node.next;
    }
}

fn visit_chain_mut<K, V>(mut link: &mut Link<K, V>, f: &mut impl FnMut(&K, &mut V)) {
    while let Some(node) = link {
        f(&node.key, &mut node.value);
        link = &mut node.next;
    }
}

/// Increments the cursor's masked bits in reverse-binary order: set the
/// bits above the mask, reverse, add one, reverse back.
#[inline]
fn next_cursor(v: u64, mask: u64) -> u64 {
    ((v | !mask).reverse_bits().wrapping_add(1)).reverse_bits()
}

type BucketIter<'a, K, V> = slice::Iter<'a, Link<K, V>>;
type BucketIterMut<'a, K, V> = slice::IterMut<'a, Link<K, V>>;

/// Borrowing iterator over a [`Dict`].
pub struct Iter<'a, K, V> {
    buckets: Chain<BucketIter<'a, K, V>, BucketIter<'a, K, V>>,
    node: Option<&'a Node<K, V>>,
    left: usize,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(node) = self.node {
                self.node = node.next.as_deref();
                self.left -= 1;
                return Some((&node.key, &node.value));
            }
            self.node = self.buckets.next()?.as_deref();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

/// Iterator over a [`Dict`] with mutable values.
pub struct IterMut<'a, K, V> {
    buckets: Chain<BucketIterMut<'a, K, V>, BucketIterMut<'a, K, V>>,
    node: Option<&'a mut Node<K, V>>,
    left: usize,
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(node) = self.node.take() {
                let Node { next, key, value } = node;
                self.node = next.as_deref_mut();
                self.left -= 1;
                return Some((&*key, value));
            }
            self.node = self.buckets.next()?.as_deref_mut();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}

/// Owning iterator: what [`Dict::drain`] and `into_iter` return. Entries
/// not consumed are freed when it is dropped.
pub struct IntoIter<K, V> {
    tables: [Table<K, V>; 2],
    table: usize,
    bucket: usize,
    chain: Link<K, V>,
    left: usize,
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(mut node) = self.chain.take() {
                self.chain = node.next.take();
                self.left -= 1;
                let Node { key, value, .. } = *node;
                return Some((key, value));
            }
            let table = self.tables.get_mut(self.table)?;
            match table.buckets.get_mut(self.bucket) {
                Some(bucket) => {
                    self.chain = bucket.take();
                    self.bucket += 1;
                }
                None => {
                    self.table += 1;
                    self.bucket = 0;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<K, V> ExactSizeIterator for IntoIter<K, V> {}

impl<K, V> Drop for IntoIter<K, V> {
    fn drop(&mut self) {
        let mut cur = self.chain.take();
        while let Some(mut node) = cur {
            cur = node.next.take();
        }
    }
}

impl<K: DictKey, V> IntoIterator for Dict<K, V> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    fn into_iter(mut self) -> IntoIter<K, V> {
        let left = self.len();
        let tables = mem::replace(&mut self.ht, [Table::empty(), Table::empty()]);
        IntoIter {
            tables,
            table: 0,
            bucket: 0,
            chain: None,
            left,
        }
    }
}

impl<'a, K: DictKey, V> IntoIterator for &'a Dict<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<K: DictKey, V> FromIterator<(K, V)> for Dict<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut d = Dict::new();
        for (k, v) in iter {
            d.insert(k, v);
        }
        d
    }
}

#[cfg(test)]
mod tests;
