//! `ListValue`: the sequence behind Redis lists, a quicklist-like chain of
//! packed nodes.
//!
//! Each node is one byte vector: the elements' bytes back to back, then
//! their lengths, in the same order, as LEB128 varints (one byte for an
//! element under 128 bytes). Walking a node keeps two cursors, one in the
//! bytes and one in the lengths; a varint's last byte is the only one with
//! the high bit clear, so the lengths can be read from their end too, and a
//! node is walked from either end. That costs one byte per short element
//! where Redis's listpack spends two (an entry header and a back-length),
//! and integers are kept as their text (Redis packs them in 1-9 bytes).
//! A small list is a single node: one allocation for the whole list. A node
//! is full when adding an element would pass the `list-max-listpack-size`
//! limit (negative: -1..-5 = 4..64 KiB per node; positive: that many
//! elements, and at most 8 KiB as Redis's safety limit); pushes then start
//! a new node at that end, insertions in the middle split the node.
//! Removals drop emptied nodes and merge a node with a neighbour when both
//! fit in one. Node buffers grow through the allocator's size classes
//! ([`crate::alloc::good_size`]), so a buffer never holds room the
//! allocator did not round up to anyway.
//!
//! Costs: push/pop at either end O(node size) = O(1) for a bounded node;
//! access by index O(nodes + node size). Redis 7.0 reports every list as
//! `quicklist` (the single-node `listpack` encoding arrived in 7.2), so
//! [`ListValue::encoding`] always does. Nothing here knows about commands;
//! the fill limit is passed in by the caller.

use std::collections::VecDeque;

use crate::alloc::good_size;

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

/// Makes room for `extra` more bytes in a node's buffer: up to the
/// allocator's size class of the new length. With a node limit of 8 KiB,
/// the buffer passes through about four size classes per doubling (a copy
/// of about five times the final node over its growth); the room left
/// unused is at most one class step (1/8 of the size), and nothing in a
/// full node, whose length is close to the limit, itself a class size.
/// Plain doubling left a partly filled end node up to half empty.
#[inline]
fn reserve_in_node(buf: &mut Vec<u8>, extra: usize) {
    let need = buf.len() + extra;
    if need > buf.capacity() {
        buf.reserve_exact(good_size(need).max(need) - buf.len());
    }
}

#[inline]
fn varint_len(n: usize) -> usize {
    (usize::BITS - (n | 1).leading_zeros()).div_ceil(7) as usize
}

/// Encoded size of an element of `n` bytes (its bytes and its length).
#[inline]
fn entry_len(n: usize) -> usize {
    n + varint_len(n)
}

/// The LEB128 encoding of `n`: (bytes, how many are used).
#[inline]
fn encode_len(mut n: usize) -> ([u8; 10], usize) {
    let mut v = [0u8; 10];
    let mut k = 0;
    while n >= 0x80 {
        v[k] = (n as u8) | 0x80;
        n >>= 7;
        k += 1;
    }
    v[k] = n as u8;
    (v, k + 1)
}

/// Reads the length starting at `l`; returns (length, position after it).
#[inline]
fn len_fwd(buf: &[u8], l: usize) -> (usize, usize) {
    let b = buf[l];
    if b < 0x80 {
        return (b as usize, l + 1);
    }
    let mut p = l;
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return (n, p);
        }
        shift += 7;
    }
}

/// Reads the length ending at `end` (the lengths start at `lens`); returns
/// (length, position where it starts).
#[inline]
fn len_back(buf: &[u8], lens: usize, end: usize) -> (usize, usize) {
    let mut p = end - 1;
    if p == lens || buf[p - 1] < 0x80 {
        return (buf[p] as usize, p);
    }
    // Continuation bytes (high bit set) before the final byte.
    while p > lens && buf[p - 1] >= 0x80 {
        p -= 1;
    }
    (len_fwd(buf, p).0, p)
}

/// A place between elements of a node: (offset in the bytes, offset in the
/// lengths), both from the start of the buffer.
#[derive(Clone, Copy, Debug)]
struct Pos {
    d: usize,
    l: usize,
}

/// One packed node (see the module comment for the layout).
#[derive(Clone, Default, Debug)]
struct Node {
    buf: Vec<u8>,
    /// Where the lengths start (= the elements' total size).
    data_len: usize,
    count: usize,
}

impl Node {
    /// A node of the given elements in one buffer of the allocator's size.
    fn from_items(items: &[&[u8]]) -> Node {
        let data_len: usize = items.iter().map(|x| x.len()).sum();
        let lens: usize = items.iter().map(|x| varint_len(x.len())).sum();
        let mut buf = Vec::with_capacity(good_size(data_len + lens).max(data_len + lens));
        for it in items {
            buf.extend_from_slice(it);
        }
        for it in items {
            let (v, k) = encode_len(it.len());
            buf.extend_from_slice(&v[..k]);
        }
        Node {
            buf,
            data_len,
            count: items.len(),
        }
    }

    /// Encoded bytes (elements and lengths).
    #[inline]
    fn bytes(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    fn start(&self) -> Pos {
        Pos {
            d: 0,
            l: self.data_len,
        }
    }

    #[inline]
    fn end(&self) -> Pos {
        Pos {
            d: self.data_len,
            l: self.buf.len(),
        }
    }

    fn iter(&self) -> NodeIter<'_> {
        self.iter_between(self.start(), self.end())
    }

    fn iter_between(&self, front: Pos, back: Pos) -> NodeIter<'_> {
        NodeIter {
            buf: &self.buf,
            lens: self.data_len,
            front,
            back,
        }
    }

    /// The place before element `i` (i <= count), walking from the nearer
    /// end.
    fn pos(&self, i: usize) -> Pos {
        if i <= self.count / 2 {
            let mut p = self.start();
            for _ in 0..i {
                let (n, l) = len_fwd(&self.buf, p.l);
                p = Pos { d: p.d + n, l };
            }
            p
        } else {
            let mut p = self.end();
            for _ in i..self.count {
                let (n, l) = len_back(&self.buf, self.data_len, p.l);
                p = Pos { d: p.d - n, l };
            }
            p
        }
    }

    /// Element `i` (< count).
    fn get(&self, i: usize) -> &[u8] {
        let p = self.pos(i);
        let n = len_fwd(&self.buf, p.l).0;
        &self.buf[p.d..p.d + n]
    }

    /// Inserts `data` at place `p`.
    fn insert_at(&mut self, p: Pos, data: &[u8]) {
        let n = data.len();
        let (v, k) = encode_len(n);
        let old = self.buf.len();
        reserve_in_node(&mut self.buf, n + k);
        self.buf.resize(old + n + k, 0);
        // Lengths after the place move by both sizes; the bytes after the
        // place and the lengths before it move by the element's size.
        self.buf.copy_within(p.l..old, p.l + n + k);
        self.buf.copy_within(p.d..p.l, p.d + n);
        self.buf[p.d..p.d + n].copy_from_slice(data);
        self.buf[p.l + n..p.l + n + k].copy_from_slice(&v[..k]);
        self.data_len += n;
        self.count += 1;
    }

    fn insert(&mut self, i: usize, data: &[u8]) {
        let p = if i == self.count {
            self.end()
        } else {
            self.pos(i)
        };
        self.insert_at(p, data);
    }

    /// Removes the elements between places `a` and `b` (`count` of them).
    fn remove_between(&mut self, a: Pos, b: Pos, count: usize) {
        let old = self.buf.len();
        let bytes = b.d - a.d;
        // The bytes after `b` and the lengths before `a` close the first
        // gap; the lengths after `b` close both.
        self.buf.copy_within(b.d..a.l, a.d);
        self.buf.copy_within(b.l..old, a.l - bytes);
        self.buf.truncate(old - bytes - (b.l - a.l));
        self.data_len -= bytes;
        self.count -= count;
    }

    /// Removes elements `i..j` (j <= count).
    fn remove_range(&mut self, i: usize, j: usize) {
        let a = self.pos(i);
        let b = if j == self.count {
            self.end()
        } else {
            self.pos(j)
        };
        self.remove_between(a, b, j - i);
    }

    /// Passes element `i` to `f`, then removes it.
    fn remove_with<R>(&mut self, i: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let a = self.pos(i);
        let (n, l) = len_fwd(&self.buf, a.l);
        let r = f(&self.buf[a.d..a.d + n]);
        self.remove_between(a, Pos { d: a.d + n, l }, 1);
        r
    }

    fn remove(&mut self, i: usize) -> Vec<u8> {
        self.remove_with(i, |v| v.to_vec())
    }

    /// Passes the first element to `f`, then removes it.
    fn pop_front_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        self.remove_with(0, f)
    }

    /// Passes the last element to `f`, then removes it.
    fn pop_back_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> R {
        let b = self.end();
        let (n, l) = len_back(&self.buf, self.data_len, b.l);
        let a = Pos { d: b.d - n, l };
        let r = f(&self.buf[a.d..b.d]);
        self.remove_between(a, b, 1);
        r
    }

    fn pop_back(&mut self) -> Vec<u8> {
        self.pop_back_with(|v| v.to_vec())
    }

    /// Appends every element of `other` (both fit in one node).
    fn append(&mut self, other: &Node) {
        let total = self.buf.len() + other.buf.len();
        let mut buf = Vec::with_capacity(good_size(total).max(total));
        buf.extend_from_slice(&self.buf[..self.data_len]);
        buf.extend_from_slice(&other.buf[..other.data_len]);
        buf.extend_from_slice(&self.buf[self.data_len..]);
        buf.extend_from_slice(&other.buf[other.data_len..]);
        self.buf = buf;
        self.data_len += other.data_len;
        self.count += other.count;
    }

    /// Gives back buffer room the allocator would not round up to anyway
    /// (a node that will not grow again).
    fn shrink(&mut self) {
        if good_size(self.buf.len()) < self.buf.capacity() {
            self.buf.shrink_to_fit();
        }
    }
}

/// Elements of one node, from either end.
pub struct NodeIter<'a> {
    buf: &'a [u8],
    lens: usize,
    front: Pos,
    back: Pos,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front.l >= self.back.l {
            return None;
        }
        let (n, l) = len_fwd(self.buf, self.front.l);
        let d = self.front.d;
        self.front = Pos { d: d + n, l };
        Some(&self.buf[d..d + n])
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front.l >= self.back.l {
            return None;
        }
        let (n, l) = len_back(self.buf, self.lens, self.back.l);
        let d = self.back.d;
        self.back = Pos { d: d - n, l };
        Some(&self.buf[d - n..d])
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
        self.nodes.iter().map(Node::bytes).sum()
    }

    pub fn push(&mut self, end: End, data: &[u8], fill: Fill) {
        let extra = entry_len(data.len());
        let fits = |n: &Node| fill.allows(n.bytes(), n.count, extra);
        match end {
            End::Right => match self.nodes.back_mut() {
                Some(n) if fits(n) => n.insert_at(n.end(), data),
                _ => {
                    // The last node is full: it will not grow again.
                    if let Some(n) = self.nodes.back_mut() {
                        n.shrink();
                    }
                    self.nodes.push_back(Node::from_items(&[data]))
                }
            },
            End::Left => match self.nodes.front_mut() {
                Some(n) if fits(n) => n.insert_at(n.start(), data),
                _ => {
                    if let Some(n) = self.nodes.front_mut() {
                        n.shrink();
                    }
                    self.nodes.push_front(Node::from_items(&[data]))
                }
            },
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let v = match end {
            End::Left => {
                let n = self.nodes.front_mut()?;
                let v = n.pop_front_with(|v| v.to_vec());
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
        let mut cur: Vec<&[u8]> = Vec::new();
        let mut bytes = 0;
        for it in old.iter() {
            if !fill.allows(bytes, cur.len(), entry_len(it.len())) {
                parts.push(Node::from_items(&cur));
                cur.clear();
                bytes = 0;
            }
            bytes += entry_len(it.len());
            cur.push(it);
        }
        parts.push(Node::from_items(&cur));
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
            n.count as i64 <= fill.0.max(1) && n.bytes() <= SIZE_SAFETY_LIMIT
        } else {
            let level = (-fill.0).clamp(1, 5) as u32;
            n.bytes() <= 4096usize << (level - 1)
        }
    }

    /// Merges node `k` with node `k + 1` when both fit in one node.
    fn merge_at(&mut self, k: usize, fill: Fill) {
        if k + 1 >= self.nodes.len() {
            return;
        }
        let (a, b) = (&self.nodes[k], &self.nodes[k + 1]);
        let count = a.count + b.count;
        let bytes = a.bytes() + b.bytes();
        let fits = if fill.0 >= 0 {
            count as i64 <= fill.0.max(1) && bytes <= SIZE_SAFETY_LIMIT
        } else {
            let level = (-fill.0).clamp(1, 5) as u32;
            bytes <= 4096usize << (level - 1)
        };
        if fits {
            let b = self.nodes.remove(k + 1).expect("node index");
            self.nodes[k].append(&b);
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
            let mut p = if first && j > 0 {
                node.pos(j)
            } else {
                node.start()
            };
            first = false;
            while p.l < buf.len() {
                let (n, l) = len_fwd(buf, p.l);
                f(&buf[p.d..p.d + n]);
                left -= 1;
                if left == 0 {
                    return;
                }
                p = Pos { d: p.d + n, l };
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
            self.nodes[0].remove_range(0, left);
            self.len -= left;
        }
        if right > 0 {
            let n = self.nodes.back_mut().expect("non-empty");
            n.remove_range(n.count - right, n.count);
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
                let kept: Vec<&[u8]> = items
                    .iter()
                    .zip(&keep)
                    .filter(|(_, k)| **k)
                    .map(|(it, _)| *it)
                    .collect();
                self.nodes[k] = Node::from_items(&kept);
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
            if n.iter().count() != n.count || n.iter().rev().count() != n.count {
                return Err(format!("node {k} count mismatch"));
            }
            let (bytes, lens) = n.iter().fold((0, 0), |(b, l), it| {
                (b + it.len(), l + varint_len(it.len()))
            });
            if bytes != n.data_len || bytes + lens != n.bytes() {
                return Err(format!("node {k} sizes do not add up"));
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
        // 1000 * 9 encoded bytes = 9000 bytes: two 8 KiB nodes.
        assert_eq!(l.node_count(), 2);
        let mut l = ListValue::new();
        for i in 0..10 {
            l.push(End::Left, format!("{i}").as_bytes(), Fill(3));
        }
        assert_eq!(l.node_count(), 4);
        l.check(Fill(3)).unwrap();
        assert_eq!(l.get(0), Some(&b"9"[..]));
    }

    #[test]
    fn node_buffers_hold_no_room_past_the_allocator_size_class() {
        // Pushed one by one from both ends, as RPUSH/LPUSH do: the
        // partly filled end node must not keep doubled room (2,600 bytes
        // in a 4,096-byte buffer), and a full node is shrunk.
        for end in [End::Left, End::Right] {
            let mut l = ListValue::new();
            for i in 0..1000u32 {
                let e = format!("element:{}", i.wrapping_mul(2_654_435_761) >> 2);
                l.push(end, e.as_bytes(), Fill(-2));
            }
            l.check(Fill(-2)).unwrap();
            assert_eq!(l.node_count(), 3);
            for n in &l.nodes {
                assert!(
                    n.buf.capacity() <= good_size(n.bytes()),
                    "{} bytes in a buffer of {}",
                    n.bytes(),
                    n.buf.capacity()
                );
            }
        }
    }

    #[test]
    fn lengths_of_every_size_walk_both_ways() {
        let sizes = [0usize, 1, 127, 128, 129, 300, 16_383, 16_384, 70_000];
        let items: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![b'x'; n]).collect();
        let refs: Vec<&[u8]> = items.iter().map(|v| &v[..]).collect();
        let n = Node::from_items(&refs);
        assert_eq!(n.iter().map(<[u8]>::len).collect::<Vec<_>>(), sizes);
        let mut rev: Vec<usize> = n.iter().rev().map(<[u8]>::len).collect();
        rev.reverse();
        assert_eq!(rev, sizes);
        for (i, &len) in sizes.iter().enumerate() {
            assert_eq!(n.get(i).len(), len);
        }
        // One byte of length per element under 128 bytes.
        assert_eq!(
            Node::from_items(&[b"element:123456789"]).bytes(),
            "element:123456789".len() + 1
        );
    }
}
