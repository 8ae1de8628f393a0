//! `ZSetValue`: the scored, ordered member collection behind Redis sorted
//! sets.
//!
//! Members are ordered by (score, member bytes); scores compare as doubles
//! (so `-0` and `0` tie and the member decides) and are never NaN.
//!
//! Two representations, as in Redis:
//! - `Packed` (reported as `listpack`): entries serialized back to back in
//!   one byte vector in order, `[score: 8 bytes LE][varint len][member]`.
//!   Every operation is a linear scan, fine while the set is small
//!   (`zset-max-listpack-entries` members of at most
//!   `zset-max-listpack-value` bytes). Like a listpack, which stores
//!   integral scores as integers, it keeps `-0` as `0`.
//! - `Sorted` (reported as `skiplist`): a member → score [`Dict`] (O(1)
//!   ZSCORE, Redis's SCAN cursor for ZSCAN) plus an order-statistic B+tree
//!   of (score, member) [`Tree`] whose inner nodes keep the size of each
//!   subtree, so rank lookups, rank → entry and range bounds are
//!   O(log n). A B+tree with ~64 entries per leaf costs about 26 bytes per
//!   member (a skiplist node costs Redis ~48), which is what lets the
//!   whole structure stay below Redis's memory use.
//!
//! Conversion to `Sorted` happens when a limit is exceeded; conversion back
//! only when a caller asks ([`ZSetValue::shrink_if_fits`]: Redis does it for
//! the results of ZRANGESTORE, ZUNIONSTORE …). Nothing here knows about
//! commands; limits are passed in by the caller.

use crate::storage::dict::{Dict, hash_bytes};
use compact_bytes::CompactBytes;
use std::cmp::Ordering;

/// Size limits of the packed form (from `zset-max-listpack-*`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most members a packed set may hold.
    pub max_entries: usize,
    /// Longest member a packed set may hold, in bytes.
    pub max_value: usize,
}

/// Orders (score, member) pairs as Redis does.
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

// ----- packed form -----------------------------------------------------------

#[inline]
fn put_varint(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

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

/// Entries back to back, in order.
#[derive(Clone, Default)]
pub struct Packed {
    buf: Vec<u8>,
    len: u32,
}

/// One decoded packed entry: its score, member, and byte range.
#[derive(Clone, Copy)]
struct PEntry<'a> {
    score: f64,
    member: &'a [u8],
    start: usize,
    end: usize,
}

struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = PEntry<'a>;

    #[inline]
    fn next(&mut self) -> Option<PEntry<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let score = f64::from_le_bytes(self.buf[start..start + 8].try_into().expect("8 bytes"));
        let mut pos = start + 8;
        let len = get_varint(self.buf, &mut pos);
        let member = &self.buf[pos..pos + len];
        self.pos = pos + len;
        Some(PEntry {
            score,
            member,
            start,
            end: self.pos,
        })
    }
}

impl Packed {
    fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    fn find(&self, member: &[u8]) -> Option<(usize, PEntry<'_>)> {
        self.iter().enumerate().find(|(_, e)| e.member == member)
    }

    /// Inserts a member known to be absent at its place in the order.
    fn insert(&mut self, member: &[u8], score: f64) {
        // A listpack stores integral scores as integers: -0 becomes 0.
        let score = if score == 0.0 { 0.0 } else { score };
        let at = self
            .iter()
            .find(|e| cmp_entry(e.score, e.member, score, member) == Ordering::Greater)
            .map_or(self.buf.len(), |e| e.start);
        let mut enc = Vec::with_capacity(member.len() + 10);
        enc.extend_from_slice(&score.to_le_bytes());
        put_varint(&mut enc, member.len());
        enc.extend_from_slice(member);
        self.buf.reserve_exact(enc.len());
        self.buf.splice(at..at, enc);
        self.len += 1;
    }

    fn remove_range(&mut self, start: usize, end: usize) {
        self.buf.drain(start..end);
        self.len -= 1;
        if self.len == 0 {
            self.buf = Vec::new();
        } else if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to_fit();
        }
    }
}

// ----- order-statistic B+tree ------------------------------------------------

/// Most entries in a leaf, most children of an inner node.
const LEAF_CAP: usize = 64;
const INNER_CAP: usize = 32;
/// Below these a node is merged with a neighbour.
const LEAF_MIN: usize = LEAF_CAP / 4;
const INNER_MIN: usize = INNER_CAP / 4;

/// One member of the tree.
#[derive(Clone, Debug)]
pub struct Item {
    pub score: f64,
    pub member: CompactBytes,
}

impl Item {
    #[inline]
    fn cmp_to(&self, score: f64, member: &[u8]) -> Ordering {
        cmp_entry(self.score, self.member.as_slice(), score, member)
    }
}

#[derive(Clone, Debug)]
struct Child {
    /// Entries in the subtree.
    count: usize,
    /// Score of the subtree's last entry: a descent compares scores here
    /// and follows a child only to break a tie (see [`Node::child_for`]).
    max: f64,
    node: Box<Node>,
}

impl Child {
    fn new(count: usize, node: Node) -> Child {
        Child {
            count,
            max: node.last().score,
            node: Box::new(node),
        }
    }

    /// Recomputes `max` after the subtree changed.
    #[inline]
    fn refresh(&mut self) {
        self.max = self.node.last().score;
    }

    /// True when the whole subtree sorts before (score, member).
    #[inline]
    fn before(&self, score: f64, member: &[u8]) -> bool {
        self.max < score
            || (self.max == score && self.node.last().cmp_to(score, member) == Ordering::Less)
    }
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<Item>),
    Inner(Vec<Child>),
}

/// Grows a vector by small steps (a node is rarely full, and doubling
/// would leave half of a split node's capacity unused).
#[inline]
fn grow<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 8).max(4));
    }
}

impl Node {
    fn last(&self) -> &Item {
        match self {
            Node::Leaf(items) => items.last().expect("nodes are never empty"),
            Node::Inner(ch) => ch.last().expect("nodes are never empty").node.last(),
        }
    }

    fn small(&self) -> bool {
        match self {
            Node::Leaf(items) => items.len() < LEAF_MIN,
            Node::Inner(ch) => ch.len() < INNER_MIN,
        }
    }

    /// Index of the child whose range holds (score, member): the first
    /// whose last entry is not below it (`ch.len()` when all are).
    fn child_for(ch: &[Child], score: f64, member: &[u8]) -> usize {
        ch.partition_point(|c| c.before(score, member))
    }

    /// Inserts; returns the new right sibling and its size on a split.
    fn insert(&mut self, item: Item) -> Option<Child> {
        match self {
            Node::Leaf(items) => {
                let at = items.partition_point(|it| {
                    it.cmp_to(item.score, item.member.as_slice()) == Ordering::Less
                });
                grow(items);
                items.insert(at, item);
                if items.len() > LEAF_CAP {
                    let right = items.split_off(items.len() / 2);
                    items.shrink_to_fit();
                    return Some(Child::new(right.len(), Node::Leaf(right)));
                }
                None
            }
            Node::Inner(ch) => {
                let mut i = Node::child_for(ch, item.score, item.member.as_slice());
                if i == ch.len() {
                    i -= 1;
                }
                ch[i].count += 1;
                let split = ch[i].node.insert(item);
                ch[i].refresh();
                if let Some(new) = split {
                    ch[i].count -= new.count;
                    grow(ch);
                    ch.insert(i + 1, new);
                    if ch.len() > INNER_CAP {
                        let right = ch.split_off(ch.len() / 2);
                        ch.shrink_to_fit();
                        let count = right.iter().map(|c| c.count).sum();
                        return Some(Child::new(count, Node::Inner(right)));
                    }
                }
                None
            }
        }
    }

    /// Removes (score, member) and returns it; `None` when absent. With
    /// `present` (the caller knows the entry is in the tree) an entry
    /// whose score no neighbour shares is found without reading members.
    fn remove(&mut self, score: f64, member: &[u8], present: bool) -> Option<Item> {
        match self {
            Node::Leaf(items) => {
                let lo = items.partition_point(|it| it.score < score);
                let unique = present
                    && lo < items.len()
                    && items[lo].score == score
                    && items.get(lo + 1).is_none_or(|next| next.score != score);
                let at = if unique {
                    lo
                } else {
                    let at = items.partition_point(|it| it.cmp_to(score, member) == Ordering::Less);
                    if at == items.len() || items[at].cmp_to(score, member) != Ordering::Equal {
                        return None;
                    }
                    at
                };
                let item = items.remove(at);
                if items.capacity() > items.len() + 16 {
                    items.shrink_to_fit();
                }
                Some(item)
            }
            Node::Inner(ch) => {
                let i = Node::child_for(ch, score, member);
                if i == ch.len() {
                    return None;
                }
                let item = ch[i].node.remove(score, member, present)?;
                ch[i].count -= 1;
                if ch[i].count == 0 {
                    ch.remove(i);
                } else if ch[i].node.small() && ch.len() > 1 {
                    let left = if i + 1 < ch.len() { i } else { i - 1 };
                    Node::merge(ch, left);
                } else {
                    ch[i].refresh();
                }
                Some(item)
            }
        }
    }

    /// Merges children `i` and `i + 1`, splitting the result again in two
    /// halves when it is too large for one node.
    fn merge(ch: &mut Vec<Child>, i: usize) {
        let right = ch.remove(i + 1);
        let left = &mut ch[i];
        left.count += right.count;
        let split = match (&mut *left.node, *right.node) {
            (Node::Leaf(a), Node::Leaf(b)) => {
                a.extend(b);
                if a.len() > LEAF_CAP {
                    let r = a.split_off(a.len() / 2);
                    a.shrink_to_fit();
                    Some(Child::new(r.len(), Node::Leaf(r)))
                } else {
                    None
                }
            }
            (Node::Inner(a), Node::Inner(b)) => {
                a.extend(b);
                if a.len() > INNER_CAP {
                    let r = a.split_off(a.len() / 2);
                    a.shrink_to_fit();
                    let count = r.iter().map(|c| c.count).sum();
                    Some(Child::new(count, Node::Inner(r)))
                } else {
                    None
                }
            }
            _ => unreachable!("siblings have the same height"),
        };
        if let Some(r) = split {
            ch[i].count -= r.count;
            ch.insert(i + 1, r);
        }
        ch[i].refresh();
    }

    /// Entries before the first item for which `item` is false; `child`
    /// says the same of a whole subtree (its last item).
    fn count_before(
        &self,
        item: &impl Fn(&Item) -> bool,
        child: &impl Fn(&Child) -> bool,
    ) -> usize {
        match self {
            Node::Leaf(items) => items.partition_point(item),
            Node::Inner(ch) => {
                let i = ch.partition_point(child);
                let before: usize = ch[..i].iter().map(|c| c.count).sum();
                if i == ch.len() {
                    before
                } else {
                    before + ch[i].node.count_before(item, child)
                }
            }
        }
    }

    fn get(&self, mut rank: usize) -> &Item {
        match self {
            Node::Leaf(items) => &items[rank],
            Node::Inner(ch) => {
                for c in ch {
                    if rank < c.count {
                        return c.node.get(rank);
                    }
                    rank -= c.count;
                }
                panic!("rank out of range")
            }
        }
    }

    /// Calls `f` for the entries of ranks `start..end` (relative to this
    /// node), in order or in reverse.
    fn walk<'a>(&'a self, start: usize, end: usize, rev: bool, f: &mut impl FnMut(&'a Item)) {
        match self {
            Node::Leaf(items) => {
                let s = &items[start..end];
                if rev {
                    s.iter().rev().for_each(f);
                } else {
                    s.iter().for_each(f);
                }
            }
            Node::Inner(ch) => {
                let mut spans = Vec::with_capacity(ch.len());
                let mut off = 0;
                for c in ch {
                    let (lo, hi) = (off, off + c.count);
                    if hi > start && lo < end {
                        spans.push((c, start.max(lo) - lo, end.min(hi) - lo));
                    }
                    off = hi;
                }
                if rev {
                    spans.reverse();
                }
                for (c, s, e) in spans {
                    c.node.walk(s, e, rev, f);
                }
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Node::Leaf(items) => {
                items.capacity() * size_of::<Item>()
                    + items
                        .iter()
                        .filter(|i| i.member.spilled())
                        .map(|i| i.member.len())
                        .sum::<usize>()
            }
            Node::Inner(ch) => {
                ch.capacity() * size_of::<Child>()
                    + ch.iter()
                        .map(|c| size_of::<Node>() + c.node.heap_bytes())
                        .sum::<usize>()
            }
        }
    }

    /// Checks the invariants (tests): counts, order, fill.
    #[cfg(test)]
    fn check(&self, root: bool) -> usize {
        match self {
            Node::Leaf(items) => {
                assert!(items.len() <= LEAF_CAP);
                assert!(root || !items.is_empty());
                for w in items.windows(2) {
                    assert_eq!(
                        w[0].cmp_to(w[1].score, w[1].member.as_slice()),
                        Ordering::Less
                    );
                }
                items.len()
            }
            Node::Inner(ch) => {
                assert!(ch.len() <= INNER_CAP && (root || !ch.is_empty()));
                let mut total = 0;
                for c in ch {
                    assert_eq!(c.node.check(false), c.count);
                    assert_eq!(c.max.to_bits(), c.node.last().score.to_bits());
                    total += c.count;
                }
                for w in ch.windows(2) {
                    let (a, b) = (w[0].node.last(), w[1].node.get(0));
                    assert_eq!(a.cmp_to(b.score, b.member.as_slice()), Ordering::Less);
                }
                total
            }
        }
    }
}

/// An order-statistic B+tree of (score, member) entries.
#[derive(Clone, Debug)]
pub struct Tree {
    root: Node,
    len: usize,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            root: Node::Leaf(Vec::new()),
            len: 0,
        }
    }
}

impl Tree {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts an entry that is not present yet.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        self.insert_item(Item {
            score,
            member: CompactBytes::new(member),
        });
    }

    fn insert_item(&mut self, item: Item) {
        self.len += 1;
        if let Some(right) = self.root.insert(item) {
            let left_count = self.len - right.count;
            let old = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            self.root = Node::Inner(vec![Child::new(left_count, old), right]);
        }
    }

    /// Removes an entry; false when absent.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        self.take(score, member, false).is_some()
    }

    /// Moves `member`, which is present with score `old`, to `new` (its
    /// item is reused: no allocation for the member).
    pub fn rescore(&mut self, old: f64, new: f64, member: &[u8]) {
        let mut item = self
            .take(old, member, true)
            .expect("the caller's dict holds the member with this score");
        item.score = new;
        self.insert_item(item);
    }

    /// Removes an entry known to be present (see [`Node::remove`]).
    pub fn remove_present(&mut self, score: f64, member: &[u8]) {
        let taken = self.take(score, member, true);
        debug_assert!(taken.is_some());
    }

    fn take(&mut self, score: f64, member: &[u8], present: bool) -> Option<Item> {
        let item = self.root.remove(score, member, present)?;
        self.len -= 1;
        loop {
            match &mut self.root {
                Node::Inner(ch) if ch.len() == 1 => {
                    let only = ch.pop().expect("one child");
                    self.root = *only.node;
                }
                Node::Inner(ch) if ch.is_empty() => self.root = Node::Leaf(Vec::new()),
                _ => break,
            }
        }
        Some(item)
    }

    /// How many entries come before the first one for which `pred` is
    /// false (`pred` must hold for a prefix of the order).
    pub fn count_before(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        if self.len == 0 {
            return 0;
        }
        self.root.count_before(
            &|it: &Item| pred(it.score, it.member.as_slice()),
            &|c: &Child| {
                let l = c.node.last();
                pred(l.score, l.member.as_slice())
            },
        )
    }

    /// [`Tree::count_before`] for a predicate of the score alone (score
    /// ranges): the descent reads no member.
    pub fn count_before_score(&self, pred: impl Fn(f64) -> bool) -> usize {
        if self.len == 0 {
            return 0;
        }
        self.root
            .count_before(&|it: &Item| pred(it.score), &|c: &Child| pred(c.max))
    }

    /// Rank of (score, member), which must be present.
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        if self.len == 0 {
            return 0;
        }
        self.root.count_before(
            &|it: &Item| it.cmp_to(score, member) == Ordering::Less,
            &|c: &Child| c.before(score, member),
        )
    }

    /// The entry at `rank` (< len).
    pub fn get(&self, rank: usize) -> &Item {
        self.root.get(rank)
    }

    /// Calls `f` for ranks `start..end`, ascending or (`rev`) descending.
    pub fn walk<'a>(&'a self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&'a Item)) {
        let end = end.min(self.len);
        if start < end {
            self.root.walk(start, end, rev, &mut f);
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.root.heap_bytes()
    }
}

// ----- the sorted set --------------------------------------------------------

/// The large form: member → score, plus the order.
pub struct Sorted {
    /// Members inline up to 23 bytes: ZADD/ZSCORE compare without a
    /// pointer chase.
    dict: Dict<CompactBytes, f64>,
    tree: Tree,
}

impl Clone for Sorted {
    fn clone(&self) -> Self {
        let mut dict = Dict::with_capacity(self.dict.len());
        for (k, v) in self.dict.iter() {
            dict.insert_new_hashed(hash_bytes(k.as_slice()), k.clone(), *v);
        }
        Sorted {
            dict,
            tree: self.tree.clone(),
        }
    }
}

/// A sorted set.
#[derive(Clone)]
pub enum ZSetValue {
    Packed(Packed),
    Sorted(Box<Sorted>),
}

impl std::fmt::Debug for ZSetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        self.walk(0, self.len(), false, |s, m| {
            l.entry(&(s, String::from_utf8_lossy(m)));
        });
        l.finish()
    }
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Packed(Packed::default())
    }
}

impl ZSetValue {
    /// An empty set in the form Redis creates for `size_hint` members of
    /// at most `max_len` bytes (its `zsetTypeCreate`).
    pub fn with_hint(size_hint: usize, max_len: usize, lim: Limits) -> ZSetValue {
        if size_hint <= lim.max_entries && max_len <= lim.max_value {
            ZSetValue::Packed(Packed::default())
        } else {
            ZSetValue::Sorted(Box::new(Sorted {
                dict: Dict::with_capacity(size_hint.min(1 << 16)),
                tree: Tree::default(),
            }))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Packed(p) => p.len as usize,
            ZSetValue::Sorted(s) => s.tree.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Packed(_) => "listpack",
            ZSetValue::Sorted(_) => "skiplist",
        }
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, ZSetValue::Packed(_))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Packed(p) => p.find(member).map(|(_, e)| e.score),
            ZSetValue::Sorted(s) => s.dict.get(member).copied(),
        }
    }

    /// Converts to the large form.
    pub fn convert_to_sorted(&mut self) {
        let ZSetValue::Packed(p) = self else {
            return;
        };
        let mut s = Sorted {
            dict: Dict::with_capacity(p.len as usize),
            tree: Tree::default(),
        };
        for e in p.iter() {
            s.dict
                .insert_new_hashed(hash_bytes(e.member), CompactBytes::new(e.member), e.score);
            s.tree.insert(e.score, e.member);
        }
        *self = ZSetValue::Sorted(Box::new(s));
    }

    /// Converts to the packed form when the set fits the limits (Redis's
    /// `zsetConvertToListpackIfNeeded`, used for stored results).
    pub fn shrink_if_fits(&mut self, lim: Limits) {
        let ZSetValue::Sorted(s) = self else {
            return;
        };
        if s.tree.len() > lim.max_entries {
            return;
        }
        let mut fits = true;
        s.tree.walk(0, s.tree.len(), false, |it| {
            fits &= it.member.len() <= lim.max_value;
        });
        if !fits {
            return;
        }
        let mut p = Packed::default();
        s.tree.walk(0, s.tree.len(), false, |it| {
            // Appending in order keeps it sorted; -0 normalised as on insert.
            let score = if it.score == 0.0 { 0.0 } else { it.score };
            p.buf.extend_from_slice(&score.to_le_bytes());
            put_varint(&mut p.buf, it.member.len());
            p.buf.extend_from_slice(it.member.as_slice());
            p.len += 1;
        });
        p.buf.shrink_to_fit();
        *self = ZSetValue::Packed(p);
    }

    /// Sets `member`'s score, adding it when absent; returns the previous
    /// score. Converts to the large form when the packed one would
    /// outgrow `lim`.
    pub fn insert(&mut self, member: &[u8], score: f64, lim: Limits) -> Option<f64> {
        if let ZSetValue::Packed(p) = self {
            if let Some((_, e)) = p.find(member) {
                let old = e.score;
                if old != score || old.is_sign_negative() != score.is_sign_negative() {
                    let (start, end) = (e.start, e.end);
                    p.remove_range(start, end);
                    p.insert(member, score);
                }
                return Some(old);
            }
            if p.len as usize + 1 > lim.max_entries || member.len() > lim.max_value {
                self.convert_to_sorted();
            } else {
                p.insert(member, score);
                return None;
            }
        }
        let ZSetValue::Sorted(s) = self else {
            unreachable!("converted above")
        };
        let h = hash_bytes(member);
        match s.dict.get_mut_hashed(h, member) {
            Some(cur) => {
                let old = *cur;
                if old != score || old.is_sign_negative() != score.is_sign_negative() {
                    *cur = score;
                    s.tree.rescore(old, score, member);
                }
                Some(old)
            }
            None => {
                s.dict
                    .insert_new_hashed(h, CompactBytes::new(member), score);
                s.tree.insert(score, member);
                None
            }
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Packed(p) => {
                let (_, e) = p.find(member)?;
                let (score, start, end) = (e.score, e.start, e.end);
                p.remove_range(start, end);
                Some(score)
            }
            ZSetValue::Sorted(s) => {
                let (_, score) = s.dict.remove(member)?;
                s.tree.remove_present(score, member);
                Some(score)
            }
        }
    }

    /// 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSetValue::Packed(p) => p.find(member).map(|(i, e)| (i, e.score)),
            ZSetValue::Sorted(s) => {
                let score = *s.dict.get(member)?;
                Some((s.tree.rank(score, member), score))
            }
        }
    }

    /// How many entries precede the first for which `pred` is false;
    /// `pred` must hold for a prefix of the order (a range bound).
    pub fn count_before(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Packed(p) => p.iter().take_while(|e| pred(e.score, e.member)).count(),
            ZSetValue::Sorted(s) => s.tree.count_before(pred),
        }
    }

    /// [`ZSetValue::count_before`] for a predicate of the score alone.
    pub fn count_before_score(&self, pred: impl Fn(f64) -> bool) -> usize {
        match self {
            ZSetValue::Packed(p) => p.iter().take_while(|e| pred(e.score)).count(),
            ZSetValue::Sorted(s) => s.tree.count_before_score(pred),
        }
    }

    /// The entry at `rank` (ascending); `None` past the end.
    pub fn get(&self, rank: usize) -> Option<(f64, &[u8])> {
        match self {
            ZSetValue::Packed(p) => p.iter().nth(rank).map(|e| (e.score, e.member)),
            ZSetValue::Sorted(s) => (rank < s.tree.len()).then(|| {
                let it = s.tree.get(rank);
                (it.score, it.member.as_slice())
            }),
        }
    }

    /// Calls `f` for the entries of ranks `start..end` (ascending ranks),
    /// visited in ascending order, or descending when `rev`.
    pub fn walk<'a>(
        &'a self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(f64, &'a [u8]),
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match self {
            ZSetValue::Packed(p) => {
                if rev {
                    let all: Vec<PEntry> = p.iter().skip(start).take(end - start).collect();
                    for e in all.into_iter().rev() {
                        f(e.score, e.member);
                    }
                } else {
                    for e in p.iter().skip(start).take(end - start) {
                        f(e.score, e.member);
                    }
                }
            }
            ZSetValue::Sorted(s) => s.tree.walk(start, end, rev, |it: &'a Item| {
                f(it.score, it.member.as_slice())
            }),
        }
    }

    /// Every entry in ascending order, collected.
    pub fn to_vec(&self) -> Vec<(f64, Vec<u8>)> {
        let mut v = Vec::with_capacity(self.len());
        self.walk(0, self.len(), false, |s, m| v.push((s, m.to_vec())));
        v
    }

    /// One ZSCAN step: the whole set with cursor 0 for the packed form,
    /// Redis's dict cursor otherwise.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match self {
            ZSetValue::Packed(p) => {
                for e in p.iter() {
                    f(e.member, e.score);
                }
                0
            }
            ZSetValue::Sorted(s) => s.dict.scan_count(cursor, count, |k, v| f(k.as_slice(), *v)),
        }
    }

    /// Approximate heap memory owned by the set.
    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSetValue::Packed(p) => p.buf.capacity(),
            ZSetValue::Sorted(s) => s.dict.heap_bytes() + s.tree.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests;
