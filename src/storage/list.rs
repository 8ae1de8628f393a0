//! `ListValue`: the sequence behind Redis lists, a quicklist-like chain of
//! packed nodes.
//!
//! Each node is one byte vector holding its elements back to back, each as
//! `[varint len][bytes][varint len, bytes reversed]` (the trailing copy of
//! the length lets a node be walked from its end, as a listpack's
//! back-length does). A small list is a single node: one allocation for the
//! whole list. A node is full when adding an element would pass the
//! `list-max-listpack-size` limit (negative: -1..-5 = 4..64 KiB per node;
//! positive: that many elements, and at most 8 KiB as Redis's safety
//! limit); pushes then start a new node at that end, insertions in the
//! middle split the node. Removals drop emptied nodes and merge a node with
//! a neighbour when both fit in one.
//!
//! Costs: push/pop at either end O(node size) = O(1) for a bounded node;
//! access by index O(nodes + node size). Redis 7.0 reports every list as
//! `quicklist` (the single-node `listpack` encoding arrived in 7.2), so
//! [`ListValue::encoding`] always does. Nothing here knows about commands;
//! the fill limit is passed in by the caller.

use std::collections::VecDeque;

/// Redis's byte limit for a node when the fill is given as an element count.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// The node size rule from `list-max-listpack-size`.
#[derive(Clone, Copy, Debug)]
pub struct Fill(pub i64);

impl Fill {
    /// True when a node of `bytes` bytes and `count` elements may take one
    /// more element of `extra` encoded bytes.
    fn allows(self, bytes: usize, count: usize, extra: usize) -> bool {
        if count == 0 {
            return true;
        }
        let total = bytes + extra;
        if self.0 >= 0 {
            (count as i64) < self.0.max(1) && total <= SIZE_SAFETY_LIMIT
        } else {
            let level = (-self.0).clamp(1, 5) as u32;
            total <= 4096usize << (level - 1)
        }
    }
}

impl Fill {
    /// Largest encoded size a node may reach (for sizing its buffer).
    fn max_bytes(self) -> usize {
        if self.0 >= 0 {
            SIZE_SAFETY_LIMIT
        } else {
            4096usize << ((-self.0).clamp(1, 5) as u32 - 1)
        }
    }
}

/// Makes room for `extra` more bytes in a node's buffer, growing by
/// doubling but never past the node's size limit, so a full node wastes
/// little (plain `Vec` doubling from an odd size would leave up to a
/// quarter of a full node unused). Growing by allocator size class
/// instead (four per power of two) or to the exact size measured the same
/// RSS on `scripts/mem-vs-redis --datasets lists`, with more copying.
#[inline]
fn reserve_in_node(buf: &mut Vec<u8>, extra: usize, fill: Fill) {
    let need = buf.len() + extra;
    if need > buf.capacity() {
        let want = need.next_power_of_two().min(fill.max_bytes()).max(need);
        buf.reserve_exact(want - buf.len());
    }
}

#[inline]
fn varint_len(n: usize) -> usize {
    (usize::BITS - (n | 1).leading_zeros()).div_ceil(7) as usize
}

/// Encoded size of an element of `n` bytes.
#[inline]
fn entry_len(n: usize) -> usize {
    n + 2 * varint_len(n)
}

/// Writes the encoding of `data` into `dst` (exactly `entry_len` bytes).
fn write_entry(dst: &mut [u8], data: &[u8]) {
    let mut n = data.len();
    let mut k = 0;
    while n >= 0x80 {
        dst[k] = (n as u8) | 0x80;
        n >>= 7;
        k += 1;
    }
    dst[k] = n as u8;
    k += 1;
    let (head, rest) = dst.split_at_mut(k);
    rest[..data.len()].copy_from_slice(data);
    for (d, s) in rest[data.len()..].iter_mut().zip(head.iter().rev()) {
        *d = *s;
    }
}

fn put_entry(buf: &mut Vec<u8>, data: &[u8]) {
    let mut v = [0u8; 10];
    let mut k = 0;
    let mut n = data.len();
    while n >= 0x80 {
        v[k] = (n as u8) | 0x80;
        n >>= 7;
        k += 1;
    }
    v[k] = n as u8;
    k += 1;
    buf.extend_from_slice(&v[..k]);
    buf.extend_from_slice(data);
    buf.extend(v[..k].iter().rev());
}

/// Reads the element starting at `pos`; returns (data range, next pos).
#[inline]
fn read_fwd(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let b = buf[pos];
    if b < 0x80 {
        // An element shorter than 128 bytes: one length byte each side.
        let s = pos + 1;
        let e = s + b as usize;
        return (s, e, e + 1);
    }
    let mut p = pos;
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    (p, p + n, p + n + varint_len(n))
}

/// Reads the element ending at `end`; returns (start of the element, data
/// range).
#[inline]
fn read_back(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut p = end;
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        p -= 1;
        let b = buf[p];
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    let data_end = p;
    let data_start = data_end - n;
    (data_start - varint_len(n), data_start, data_end)
}

/// One packed node.
#[derive(Clone, Default, Debug)]
struct Node {
    buf: Vec<u8>,
    count: usize,
}

impl Node {
    fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Node {
        let mut n = Node::default();
        for it in items {
            put_entry(&mut n.buf, it);
            n.count += 1;
        }
        n.buf.shrink_to_fit();
        n
    }

    fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            buf: &self.buf,
            front: 0,
            back: self.buf.len(),
        }
    }

    /// Byte offset of element `i` (i < count), walking from the nearer end.
    fn offset(&self, i: usize) -> usize {
        if i <= self.count / 2 {
            let mut pos = 0;
            for _ in 0..i {
                pos = read_fwd(&self.buf, pos).2;
            }
            pos
        } else {
            let mut end = self.buf.len();
            for _ in i..self.count {
                end = read_back(&self.buf, end).0;
            }
            end
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        let (s, e, _) = read_fwd(&self.buf, self.offset(i));
        &self.buf[s..e]
    }

    fn insert(&mut self, i: usize, data: &[u8]) {
        let at = if i == self.count {
            self.buf.len()
        } else {
            self.offset(i)
        };
        // Open a gap and encode in place (no temporary buffer).
        let k = entry_len(data.len());
        let old = self.buf.len();
        self.buf.resize(old + k, 0);
        self.buf.copy_within(at..old, at + k);
        write_entry(&mut self.buf[at..at + k], data);
        self.count += 1;
    }

    fn remove(&mut self, i: usize) -> Vec<u8> {
        let at = self.offset(i);
        let (s, e, next) = read_fwd(&self.buf, at);
        let v = self.buf[s..e].to_vec();
        self.buf.drain(at..next);
        self.count -= 1;
        v
    }

    /// Passes the first element to `f`, then removes it.
    fn pop_front_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        let (s, e, next) = read_fwd(&self.buf, 0);
        let r = f(&self.buf[s..e]);
        self.buf.drain(..next);
        self.count -= 1;
        r
    }

    /// Passes the last element to `f`, then removes it.
    fn pop_back_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        let (start, s, e) = read_back(&self.buf, self.buf.len());
        let r = f(&self.buf[s..e]);
        self.buf.truncate(start);
        self.count -= 1;
        r
    }

    fn pop_back(&mut self) -> Vec<u8> {
        let (start, s, e) = read_back(&self.buf, self.buf.len());
        let v = self.buf[s..e].to_vec();
        self.buf.truncate(start);
        self.count -= 1;
        v
    }
}

/// Elements of one node, from either end.
pub struct NodeIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (s, e, next) = read_fwd(self.buf, self.front);
        self.front = next;
        Some(&self.buf[s..e])
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (start, s, e) = read_back(self.buf, self.back);
        self.back = start;
        Some(&self.buf[s..e])
    }
}

/// A list.
#[derive(Clone, Default, Debug)]
pub struct ListValue {
    nodes: VecDeque<Node>,
    len: usize,
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue::default()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `OBJECT ENCODING` (Redis 7.0 says `quicklist` for every list).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Number of packed nodes (DEBUG, tests).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Encoded bytes of every node (DEBUG OBJECT).
    pub fn node_bytes(&self) -> usize {
        self.nodes.iter().map(|n| n.buf.len()).sum()
    }

    pub fn push(&mut self, end: End, data: &[u8], fill: Fill) {
        let extra = entry_len(data.len());
        let fits = |n: &Node| fill.allows(n.buf.len(), n.count, extra);
        match end {
            End::Right => match self.nodes.back_mut() {
                Some(n) if fits(n) => {
                    reserve_in_node(&mut n.buf, extra, fill);
                    put_entry(&mut n.buf, data);
                    n.count += 1;
                }
                _ => {
                    // The last node is full: it will not grow again.
                    if let Some(n) = self.nodes.back_mut() {
                        n.buf.shrink_to_fit();
                    }
                    self.nodes.push_back(Node::from_items([data]))
                }
            },
            End::Left => match self.nodes.front_mut() {
                Some(n) if fits(n) => {
                    reserve_in_node(&mut n.buf, extra, fill);
                    n.insert(0, data)
                }
                _ => {
                    if let Some(n) = self.nodes.front_mut() {
                        n.buf.shrink_to_fit();
                    }
                    self.nodes.push_front(Node::from_items([data]))
                }
            },
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let v = match end {
            End::Left => {
                let n = self.nodes.front_mut()?;
                let v = n.remove(0);
                if n.count == 0 {
                    self.nodes.pop_front();
                }
                v
            }
            End::Right => {
                let n = self.nodes.back_mut()?;
                let v = n.pop_back();
                if n.count == 0 {
                    self.nodes.pop_back();
                }
                v
            }
        };
        self.len -= 1;
        Some(v)
    }

    /// Removes the element at `end`, first passing it to `f` (so a caller
    /// that only writes it somewhere needs no copy of its own).
    pub fn pop_with<R>(&mut self, end: End, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let r = match end {
            End::Left => {
                let n = self.nodes.front_mut()?;
                let r = n.pop_front_with(f);
                if n.count == 0 {
                    self.nodes.pop_front();
                }
                r
            }
            End::Right => {
                let n = self.nodes.back_mut()?;
                let r = n.pop_back_with(f);
                if n.count == 0 {
                    self.nodes.pop_back();
                }
                r
            }
        };
        self.len -= 1;
        Some(r)
    }

    /// The element at the given end without removing it.
    pub fn peek(&self, end: End) -> Option<&[u8]> {
        match end {
            End::Left => self.nodes.front()?.iter().next(),
            End::Right => self.nodes.back()?.iter().next_back(),
        }
    }

    /// (node, index in node) of element `i` (< len).
    fn locate(&self, mut i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            for (k, n) in self.nodes.iter().enumerate() {
                if i < n.count {
                    return (k, i);
                }
                i -= n.count;
            }
        } else {
            let mut from_end = self.len - i;
            for k in (0..self.nodes.len()).rev() {
                let c = self.nodes[k].count;
                if from_end <= c {
                    return (k, c - from_end);
                }
                from_end -= c;
            }
        }
        unreachable!("index checked against len")
    }

    /// Element `i` (0-based from the left), if any.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (k, j) = self.locate(i);
        Some(self.nodes[k].get(j))
    }

    /// Replaces element `i` (< len).
    pub fn set(&mut self, i: usize, data: &[u8], fill: Fill) {
        let (k, j) = self.locate(i);
        self.nodes[k].remove(j);
        self.nodes[k].insert(j, data);
        self.fix_node(k, fill);
    }

    /// Inserts `data` so it becomes element `i` (i <= len).
    pub fn insert(&mut self, i: usize, data: &[u8], fill: Fill) {
        if i == 0 {
            return self.push(End::Left, data, fill);
        }
        if i == self.len {
            return self.push(End::Right, data, fill);
        }
        let (k, j) = self.locate(i);
        self.nodes[k].insert(j, data);
        self.len += 1;
        self.fix_node(k, fill);
    }

    /// Removes element `i` (< len).
    pub fn remove(&mut self, i: usize, fill: Fill) -> Vec<u8> {
        let (k, j) = self.locate(i);
        let v = self.nodes[k].remove(j);
        self.len -= 1;
        if self.nodes[k].count == 0 {
            self.nodes.remove(k);
            if k > 0 {
                self.merge_at(k - 1, fill);
            }
        } else {
            self.merge_around(k, fill);
        }
        v
    }

    /// Splits node `k` if it went past the limit after a change in place.
    fn fix_node(&mut self, k: usize, fill: Fill) {
        if self.node_ok(&self.nodes[k], fill) {
            return;
        }
        // Rebuild into as many nodes as needed, filled greedily.
        let old = self.nodes.remove(k).expect("node index");
        let mut parts: Vec<Node> = Vec::new();
        let mut cur = Node::default();
        for it in old.iter() {
            if !fill.allows(cur.buf.len(), cur.count, entry_len(it.len())) {
                parts.push(std::mem::take(&mut cur));
            }
            put_entry(&mut cur.buf, it);
            cur.count += 1;
        }
        parts.push(cur);
        for (off, p) in parts.into_iter().enumerate() {
            self.nodes.insert(k + off, p);
        }
    }

    /// True when node `n` respects the limit (a lone element may exceed it).
    fn node_ok(&self, n: &Node, fill: Fill) -> bool {
        if n.count <= 1 {
            return true;
        }
        if fill.0 >= 0 {
            n.count as i64 <= fill.0.max(1) && n.buf.len() <= SIZE_SAFETY_LIMIT
        } else {
            let level = (-fill.0).clamp(1, 5) as u32;
            n.buf.len() <= 4096usize << (level - 1)
        }
    }

    /// Merges node `k` with node `k + 1` when both fit in one node.
    fn merge_at(&mut self, k: usize, fill: Fill) {
        if k + 1 >= self.nodes.len() {
            return;
        }
        let (a, b) = (&self.nodes[k], &self.nodes[k + 1]);
        let merged = Node {
            buf: Vec::new(),
            count: a.count + b.count,
        };
        let bytes = a.buf.len() + b.buf.len();
        let fits = if fill.0 >= 0 {
            merged.count as i64 <= fill.0.max(1) && bytes <= SIZE_SAFETY_LIMIT
        } else {
            let level = (-fill.0).clamp(1, 5) as u32;
            bytes <= 4096usize << (level - 1)
        };
        if fits {
            let b = self.nodes.remove(k + 1).expect("node index");
            let a = &mut self.nodes[k];
            a.buf.extend_from_slice(&b.buf);
            a.count += b.count;
        }
    }

    fn merge_around(&mut self, k: usize, fill: Fill) {
        self.merge_at(k, fill);
        if k > 0 {
            self.merge_at(k - 1, fill);
        }
    }

    /// Every element from the left.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.nodes.iter().flat_map(|n| n.iter())
    }

    /// Elements `start..=stop` from the left (the caller clamps to len).
    pub fn range(&self, start: usize, stop: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (k, j) = if start < self.len {
            self.locate(start)
        } else {
            (self.nodes.len(), 0)
        };
        let n = if start < self.len && stop >= start {
            stop.min(self.len - 1) - start + 1
        } else {
            0
        };
        self.nodes
            .range(k.min(self.nodes.len())..)
            .enumerate()
            .flat_map(move |(o, node)| node.iter().skip(if o == 0 { j } else { 0 }))
            .take(n)
    }

    /// Calls `f` on elements `start..=stop` from the left, in order (the
    /// caller clamps to len): LRANGE's loop, without iterator adapters.
    pub fn for_range(&self, start: usize, stop: usize, mut f: impl FnMut(&[u8])) {
        if start >= self.len || stop < start {
            return;
        }
        let mut left = stop.min(self.len - 1) - start + 1;
        let (k, j) = self.locate(start);
        let mut first = true;
        for node in self.nodes.range(k..) {
            let buf = &node.buf[..];
            let mut pos = if first && j > 0 { node.offset(j) } else { 0 };
            first = false;
            while pos < buf.len() {
                let (s, e, next) = read_fwd(buf, pos);
                f(&buf[s..e]);
                left -= 1;
                if left == 0 {
                    return;
                }
                pos = next;
            }
        }
    }

    /// Keeps only elements `start..=stop` (LTRIM); an empty range empties
    /// the list.
    pub fn trim(&mut self, start: usize, stop: usize, fill: Fill) {
        if start > stop || start >= self.len {
            self.nodes.clear();
            self.len = 0;
            return;
        }
        let stop = stop.min(self.len - 1);
        let mut right = self.len - 1 - stop;
        let mut left = start;
        // Whole nodes first, then element by element.
        while let Some(n) = self.nodes.front()
            && n.count <= left
        {
            left -= n.count;
            self.len -= n.count;
            self.nodes.pop_front();
        }
        while let Some(n) = self.nodes.back()
            && n.count <= right
        {
            right -= n.count;
            self.len -= n.count;
            self.nodes.pop_back();
        }
        if left > 0 {
            let n = &mut self.nodes[0];
            let cut = n.offset(left);
            n.buf.drain(..cut);
            n.count -= left;
            self.len -= left;
        }
        if right > 0 {
            let n = self.nodes.back_mut().expect("non-empty");
            let cut = n.offset(n.count - right);
            n.buf.truncate(cut);
            n.count -= right;
            self.len -= right;
        }
        if self.nodes.len() > 1 {
            self.merge_at(0, fill);
        }
        let last = self.nodes.len().saturating_sub(2);
        self.merge_at(last, fill);
    }

    /// Removes up to `limit` elements (0 = all) equal to `value`, scanning
    /// from the left or from the right (LREM). Returns how many went.
    pub fn remove_value(&mut self, value: &[u8], limit: usize, from: End, fill: Fill) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = match from {
            End::Left => (0..self.nodes.len()).collect(),
            End::Right => (0..self.nodes.len()).rev().collect(),
        };
        for k in order {
            if limit != 0 && removed == limit {
                break;
            }
            let node = &self.nodes[k];
            let items: Vec<&[u8]> = node.iter().collect();
            let mut keep = vec![true; items.len()];
            let idx: Box<dyn Iterator<Item = usize>> = match from {
                End::Left => Box::new(0..items.len()),
                End::Right => Box::new((0..items.len()).rev()),
            };
            let mut hit = false;
            for i in idx {
                if limit != 0 && removed == limit {
                    break;
                }
                if items[i] == value {
                    keep[i] = false;
                    removed += 1;
                    hit = true;
                }
            }
            if hit {
                let n = Node::from_items(
                    items
                        .iter()
                        .zip(&keep)
                        .filter(|(_, k)| **k)
                        .map(|(it, _)| *it),
                );
                self.nodes[k] = n;
            }
        }
        self.len -= removed;
        if removed > 0 {
            self.nodes.retain(|n| n.count > 0);
            let mut k = 0;
            while k + 1 < self.nodes.len() {
                let before = self.nodes.len();
                self.merge_at(k, fill);
                if self.nodes.len() == before {
                    k += 1;
                }
            }
        }
        removed
    }

    /// Checks the internal invariants (tests).
    pub fn check(&self, fill: Fill) -> Result<(), String> {
        let total: usize = self.nodes.iter().map(|n| n.count).sum();
        if total != self.len {
            return Err(format!("len {} but nodes hold {total}", self.len));
        }
        for (k, n) in self.nodes.iter().enumerate() {
            if n.count == 0 {
                return Err(format!("node {k} empty"));
            }
            if n.iter().count() != n.count {
                return Err(format!("node {k} count mismatch"));
            }
            if !self.node_ok(n, fill) {
                return Err(format!("node {k} over the limit"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        PopWith(bool),
        Range(usize, usize),
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(usize),
        Trim(usize, usize),
        RemoveValue(Vec<u8>, usize, bool),
    }

    fn elem() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => prop::collection::vec(b'a'..b'd', 0..3),
            1 => prop::collection::vec(any::<u8>(), 0..300),
            1 => prop::collection::vec(any::<u8>(), 100..3000),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<bool>(), elem()).prop_map(|(l, e)| Op::Push(l, e)),
            3 => any::<bool>().prop_map(Op::Pop),
            2 => any::<bool>().prop_map(Op::PopWith),
            1 => (0usize..500, 0usize..500).prop_map(|(a, b)| Op::Range(a, b)),
            1 => (any::<usize>(), elem()).prop_map(|(i, e)| Op::Set(i, e)),
            2 => (any::<usize>(), elem()).prop_map(|(i, e)| Op::Insert(i, e)),
            2 => any::<usize>().prop_map(Op::Remove),
            1 => (0usize..40, 0usize..400).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => (elem(), 0usize..3, any::<bool>()).prop_map(|(e, c, l)| Op::RemoveValue(e, c, l)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn list_matches_a_vecdeque(
            fill in prop_oneof![Just(-1i64), Just(-2), Just(1), Just(3), Just(16)],
            ops in prop::collection::vec(op(), 0..400),
        ) {
            let fill = Fill(fill);
            let mut l = ListValue::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(left, e) => {
                        if left { l.push(End::Left, &e, fill); m.push_front(e); }
                        else { l.push(End::Right, &e, fill); m.push_back(e); }
                    }
                    Op::Pop(left) => {
                        let (a, b) = if left { (l.pop(End::Left), m.pop_front()) }
                            else { (l.pop(End::Right), m.pop_back()) };
                        prop_assert_eq!(a, b);
                    }
                    Op::PopWith(left) => {
                        let end = if left { End::Left } else { End::Right };
                        let a = l.pop_with(end, |v| v.to_vec());
                        let b = if left { m.pop_front() } else { m.pop_back() };
                        prop_assert_eq!(a, b);
                    }
                    Op::Range(a, b) => {
                        let mut got = Vec::new();
                        l.for_range(a, b, |v| got.push(v.to_vec()));
                        let want: Vec<Vec<u8>> = if a > b || a >= m.len() { Vec::new() } else {
                            m.range(a..=b.min(m.len() - 1)).cloned().collect()
                        };
                        prop_assert_eq!(got, want);
                    }
                    Op::Set(i, e) => if !m.is_empty() {
                        let i = i % m.len();
                        l.set(i, &e, fill);
                        m[i] = e;
                    },
                    Op::Insert(i, e) => {
                        let i = i % (m.len() + 1);
                        l.insert(i, &e, fill);
                        m.insert(i, e);
                    }
                    Op::Remove(i) => if !m.is_empty() {
                        let i = i % m.len();
                        prop_assert_eq!(l.remove(i, fill), m.remove(i).unwrap());
                    },
                    Op::Trim(a, b) => {
                        l.trim(a, b, fill);
                        if a > b || a >= m.len() { m.clear(); } else {
                            let b = b.min(m.len() - 1);
                            m = m.range(a..=b).cloned().collect();
                        }
                    }
                    Op::RemoveValue(e, limit, left) => {
                        let n = l.remove_value(&e, limit, if left { End::Left } else { End::Right }, fill);
                        let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == e).collect();
                        if !left { idx.reverse(); }
                        if limit != 0 { idx.truncate(limit); }
                        idx.sort_unstable();
                        for i in idx.iter().rev() { m.remove(*i); }
                        prop_assert_eq!(n, idx.len());
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                if let Err(e) = l.check(fill) { return Err(TestCaseError::fail(e)); }
            }
            let all: Vec<Vec<u8>> = l.iter().map(|s| s.to_vec()).collect();
            prop_assert_eq!(&all, &m.iter().cloned().collect::<Vec<_>>());
            let rev: Vec<Vec<u8>> = l.iter().rev().map(|s| s.to_vec()).collect();
            prop_assert_eq!(rev, m.iter().rev().cloned().collect::<Vec<_>>());
            for (i, want) in m.iter().enumerate() { prop_assert_eq!(l.get(i), Some(&want[..])); }
            if !m.is_empty() {
                let a = m.len() / 3;
                let b = m.len() - 1;
                let r: Vec<Vec<u8>> = l.range(a, b).map(|s| s.to_vec()).collect();
                prop_assert_eq!(r, m.range(a..=b).cloned().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn pushes_split_into_nodes_by_the_fill_rule() {
        let mut l = ListValue::new();
        for i in 0..1000 {
            l.push(End::Right, format!("{i:08}").as_bytes(), Fill(-2));
        }
        // 1000 * 10 encoded bytes = 10000 bytes: two 8 KiB nodes.
        assert_eq!(l.node_count(), 2);
        let mut l = ListValue::new();
        for i in 0..10 {
            l.push(End::Left, format!("{i}").as_bytes(), Fill(3));
        }
        assert_eq!(l.node_count(), 4);
        l.check(Fill(3)).unwrap();
        assert_eq!(l.get(0), Some(&b"9"[..]));
    }
}
