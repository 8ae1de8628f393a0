//! The set type: an unordered collection of distinct byte strings.
//!
//! Two forms, as in Redis 7.0 (`OBJECT ENCODING` names them):
//! - `intset`: while every member is a canonical 64-bit integer and there
//!   are at most `set-max-intset-entries` of them, members are kept as a
//!   sorted array of integers of the narrowest width that fits them all
//!   (16, 32 or 64 bits; widened when needed, never narrowed). Iteration
//!   is in ascending numeric order.
//! - `hashtable`: a [`Dict`] keyed by the member bytes, with no value.
//!   Why `Dict` rather than `hashbrown`: SSCAN needs a cursor that survives
//!   resizes (reverse-binary bucket order), and SPOP/SRANDMEMBER need cheap
//!   random entries; `Dict` provides both. Each member is one 32-byte node
//!   (next pointer + a 24-byte `CompactBytes` that stores members of up to
//!   23 bytes inline, so a lookup compares without following a pointer)
//!   plus its bucket pointer.
//!
//! A set converts from `intset` to `hashtable` once (a non-integer member,
//! or one member too many) and never back. Nothing here knows about
//! commands or replies.

use crate::storage::dict::Dict;
use crate::util::num::parse_i64;
use compact_bytes::CompactBytes;
use rand::{Rng, RngExt};

/// The members of an integer set, sorted ascending, in the narrowest width
/// that holds them all. Exact-size boxed slices (no capacity word, no
/// spare room, like Redis's intset reallocated per change): 24 bytes, so a
/// [`SetValue`] fits inline in the keyspace entry.
#[derive(Clone, Debug)]
pub enum IntSet {
    W16(Box<[i16]>),
    W32(Box<[i32]>),
    W64(Box<[i64]>),
}

/// Inserts `x` at `at` in an exact-size boxed slice (one reallocation).
fn boxed_insert<T>(b: &mut Box<[T]>, at: usize, x: T) {
    let mut v = std::mem::take(b).into_vec();
    v.reserve_exact(1);
    v.insert(at, x);
    *b = v.into_boxed_slice();
}

/// Removes the element at `at` of an exact-size boxed slice, shrinking it.
fn boxed_remove<T>(b: &mut Box<[T]>, at: usize) -> T {
    let mut v = std::mem::take(b).into_vec();
    let x = v.remove(at);
    *b = v.into_boxed_slice();
    x
}

/// Runs `$body` with `$v` bound to the vector of whichever width is in use.
macro_rules! each_width {
    ($s:expr, $v:ident => $body:expr) => {
        match $s {
            IntSet::W16($v) => $body,
            IntSet::W32($v) => $body,
            IntSet::W64($v) => $body,
        }
    };
}

/// Binary search for `n` in a sorted vector of a narrower type; `None` when
/// `n` does not fit that type (so it cannot be present).
fn search<T: TryFrom<i64> + Ord>(v: &[T], n: i64) -> Option<Result<usize, usize>> {
    T::try_from(n).ok().map(|x| v.binary_search(&x))
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet::W16(Box::default())
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        each_width!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member at position `i` (ascending order).
    // The 64-bit arm's cast is a no-op.
    #[allow(clippy::unnecessary_cast)]
    pub fn get(&self, i: usize) -> i64 {
        each_width!(self, v => v[i] as i64)
    }

    pub fn contains(&self, n: i64) -> bool {
        matches!(each_width!(self, v => search(v, n)), Some(Ok(_)))
    }

    /// Adds `n`; false when it was already present.
    pub fn insert(&mut self, n: i64) -> bool {
        loop {
            let pos = each_width!(self, v => search(v, n));
            match pos {
                Some(Ok(_)) => return false,
                Some(Err(at)) => {
                    match self {
                        IntSet::W16(v) => boxed_insert(v, at, n as i16),
                        IntSet::W32(v) => boxed_insert(v, at, n as i32),
                        IntSet::W64(v) => boxed_insert(v, at, n),
                    }
                    return true;
                }
                None => self.widen(),
            }
        }
    }

    /// Moves to the next wider integer type.
    fn widen(&mut self) {
        *self = match self {
            IntSet::W16(v) => IntSet::W32(v.iter().map(|&x| x as i32).collect()),
            IntSet::W32(v) => IntSet::W64(v.iter().map(|&x| x as i64).collect()),
            IntSet::W64(_) => unreachable!("every i64 fits 64 bits"),
        };
    }

    /// Removes `n`; false when it was absent.
    pub fn remove(&mut self, n: i64) -> bool {
        match each_width!(self, v => search(v, n)) {
            Some(Ok(at)) => {
                self.remove_at(at);
                true
            }
            _ => false,
        }
    }

    /// Removes and returns the member at position `i`.
    #[allow(clippy::unnecessary_cast)]
    pub fn remove_at(&mut self, i: usize) -> i64 {
        each_width!(self, v => boxed_remove(v, i) as i64)
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Bytes of the element array.
    pub fn heap_bytes(&self) -> usize {
        each_width!(self, v => std::mem::size_of_val(&**v))
    }
}

/// One member as stored: an integer (intset form) or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (integers in decimal).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Member::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
            Member::Bytes(b) => b.to_vec(),
        }
    }

    /// Calls `f` with the member's bytes without allocating.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }
}

/// A member taken out of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedMember {
    Int(i64),
    Bytes(CompactBytes),
}

impl OwnedMember {
    pub fn as_member(&self) -> Member<'_> {
        match self {
            OwnedMember::Int(n) => Member::Int(*n),
            OwnedMember::Bytes(b) => Member::Bytes(b.as_slice()),
        }
    }
}

/// A set value: 24 bytes, held inline by `Value::Set` (the table form is
/// boxed so the small form pays for no extra allocation).
pub enum SetValue {
    Ints(IntSet),
    Table(Box<Dict<CompactBytes, ()>>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Ints(IntSet::default())
    }
}

impl Clone for SetValue {
    fn clone(&self) -> Self {
        match self {
            SetValue::Ints(s) => SetValue::Ints(s.clone()),
            SetValue::Table(d) => {
                let mut copy = Dict::with_capacity(d.len());
                for (k, _) in d.iter() {
                    copy.insert_new_hashed(
                        crate::storage::dict::hash_bytes(k.as_slice()),
                        k.clone(),
                        (),
                    );
                }
                SetValue::Table(Box::new(copy))
            }
        }
    }
}

impl std::fmt::Debug for SetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl SetValue {
    /// An empty set (intset form until a member forces the conversion).
    pub fn new() -> SetValue {
        SetValue::default()
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(s) => s.len(),
            SetValue::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Ints(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Ints(s) => parse_i64(member).is_some_and(|n| s.contains(n)),
            SetValue::Table(d) => d.contains_key(member),
        }
    }

    /// Adds `member`; false when it was already present. `max_intset` is
    /// `set-max-intset-entries`: the intset form converts to a hash table
    /// when it would grow past it or when the member is not an integer.
    pub fn insert(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let SetValue::Ints(s) = self {
            match parse_i64(member) {
                Some(n) => {
                    if !s.insert(n) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert(0);
                    }
                    return true;
                }
                None => self.convert(1),
            }
        }
        let SetValue::Table(d) = self else {
            unreachable!("converted above")
        };
        let hash = crate::storage::dict::hash_bytes(member);
        if d.contains_key_hashed(hash, member) {
            return false;
        }
        d.insert_new_hashed(hash, CompactBytes::new(member), ());
        true
    }

    /// Switches an intset to the hash table form, with room for `extra`
    /// more members.
    fn convert(&mut self, extra: usize) {
        if let SetValue::Ints(s) = self {
            let mut d = Dict::with_capacity(s.len() + extra);
            let mut buf = itoa::Buffer::new();
            for n in s.iter() {
                let b = buf.format(n).as_bytes();
                d.insert_new_hashed(
                    crate::storage::dict::hash_bytes(b),
                    CompactBytes::new(b),
                    (),
                );
            }
            *self = SetValue::Table(Box::new(d));
        }
    }

    /// Removes `member`; false when it was absent.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Ints(s) => parse_i64(member).is_some_and(|n| s.remove(n)),
            SetValue::Table(d) => d.remove(member).is_some(),
        }
    }

    /// Every member: ascending for intsets, table order otherwise.
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            SetValue::Ints(s) => SetIter::Ints(s, 0),
            SetValue::Table(d) => SetIter::Table(d.iter()),
        }
    }

    /// A random member (uniform for intsets, close to uniform for tables).
    pub fn random<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Member<'_>> {
        match self {
            SetValue::Ints(s) if s.is_empty() => None,
            SetValue::Ints(s) => Some(Member::Int(s.get(rng.random_range(0..s.len())))),
            SetValue::Table(d) => d
                .random_entry(rng)
                .map(|(k, _)| Member::Bytes(k.as_slice())),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Option<OwnedMember> {
        match self {
            SetValue::Ints(s) if s.is_empty() => None,
            SetValue::Ints(s) => Some(OwnedMember::Int(s.remove_at(rng.random_range(0..s.len())))),
            SetValue::Table(d) => {
                // Remove by a copy of the chosen member's bytes, and hand
                // out the stored member itself: no clone of a spilled one.
                let mut copy = [0u8; 64];
                let chosen = d.random_entry(rng)?.0.as_slice();
                let key = match chosen.len() {
                    n if n <= copy.len() => {
                        copy[..n].copy_from_slice(chosen);
                        d.remove(&copy[..n])
                    }
                    _ => {
                        let owned = chosen.to_vec();
                        d.remove(&owned)
                    }
                };
                key.map(|(k, ())| OwnedMember::Bytes(k))
            }
        }
    }

    /// One SSCAN step from `cursor`: calls `f` for the members visited and
    /// returns the next cursor (0 = done). An intset is returned whole.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Member<'a>)) -> u64 {
        match self {
            SetValue::Ints(s) => {
                for n in s.iter() {
                    f(Member::Int(n));
                }
                0
            }
            SetValue::Table(d) => {
                d.scan_count(cursor, count, |k, _| f(Member::Bytes(k.as_slice())))
            }
        }
    }

    /// Approximate heap memory owned by the set (allocator rounding and
    /// spilled member bytes not counted).
    pub fn heap_bytes(&self) -> usize {
        match self {
            SetValue::Ints(s) => s.heap_bytes(),
            SetValue::Table(d) => d.heap_bytes(),
        }
    }
}

/// Iterator over a set's members.
pub enum SetIter<'a> {
    Ints(&'a IntSet, usize),
    Table(crate::storage::dict::Iter<'a, CompactBytes, ()>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match self {
            SetIter::Ints(s, i) => {
                if *i >= s.len() {
                    return None;
                }
                *i += 1;
                Some(Member::Int(s.get(*i - 1)))
            }
            SetIter::Table(it) => it.next().map(|(k, _)| Member::Bytes(k.as_slice())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn members(s: &SetValue) -> HashSet<Vec<u8>> {
        s.iter().map(|m| m.to_vec()).collect()
    }

    #[test]
    fn intset_widens_and_stays_sorted() {
        let mut s = IntSet::default();
        assert!(s.insert(5));
        assert!(s.insert(-3));
        assert!(!s.insert(5));
        assert!(matches!(s, IntSet::W16(_)));
        assert!(s.insert(100_000));
        assert!(matches!(s, IntSet::W32(_)));
        assert!(s.insert(i64::MIN));
        assert!(matches!(s, IntSet::W64(_)));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 5, 100_000]);
        assert!(s.contains(100_000));
        assert!(!s.contains(7));
        assert!(s.remove(-3));
        assert!(!s.remove(-3));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn encodings_follow_redis_rules() {
        let mut s = SetValue::new();
        for i in 0..512 {
            assert!(s.insert(i.to_string().as_bytes(), 512));
        }
        assert_eq!(s.encoding(), "intset");
        assert!(s.insert(b"512", 512));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 513);
        assert!(s.contains(b"17"));

        let mut t = SetValue::new();
        t.insert(b"1", 512);
        // Non-canonical integers are strings.
        t.insert(b"01", 512);
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.contains(b"1") && t.contains(b"01"));
        assert!(!t.contains(b"001"));
    }

    #[test]
    fn pop_and_random_drain_everything() {
        let mut rng = rand::rng();
        for words in [false, true] {
            let mut s = SetValue::new();
            let mut model = HashSet::new();
            for i in 0..1000 {
                let m = if words {
                    format!("m{i}").into_bytes()
                } else {
                    i.to_string().into_bytes()
                };
                s.insert(&m, 2000);
                model.insert(m);
            }
            assert!(model.contains(&s.random(&mut rng).unwrap().to_vec()));
            while let Some(m) = s.pop_random(&mut rng) {
                assert!(model.remove(&m.as_member().to_vec()));
            }
            assert!(model.is_empty());
            assert!(s.is_empty());
        }
    }

    #[test]
    fn scan_visits_every_member() {
        let mut s = SetValue::new();
        for i in 0..3000 {
            s.insert(format!("k{i}").as_bytes(), 512);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = s.scan(cursor, 10, |m| {
                seen.insert(m.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, members(&s));
        let copy = s.clone();
        assert_eq!(members(&copy), members(&s));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Rem(Vec<u8>),
        Pop,
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (-40i64..40).prop_map(|n| n.to_string().into_bytes()),
            1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(70_000i64), Just(-5_000_000_000i64)]
                .prop_map(|n| n.to_string().into_bytes()),
            1 => "[a-c0]{1,3}".prop_map(String::into_bytes),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => member().prop_map(Op::Add),
            3 => member().prop_map(Op::Rem),
            1 => Just(Op::Pop),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_hashset(ops in prop::collection::vec(op(), 0..200), max in 0usize..20) {
            let mut s = SetValue::new();
            let mut model: HashSet<Vec<u8>> = HashSet::new();
            let mut rng = rand::rng();
            let mut was_table = false;
            for op in ops {
                match op {
                    Op::Add(m) => prop_assert_eq!(s.insert(&m, max), model.insert(m)),
                    Op::Rem(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::Pop => match s.pop_random(&mut rng) {
                        Some(m) => prop_assert!(model.remove(&m.as_member().to_vec())),
                        None => prop_assert!(model.is_empty()),
                    },
                }
                prop_assert_eq!(s.len(), model.len());
                // Never converts back.
                if was_table {
                    prop_assert_eq!(s.encoding(), "hashtable");
                }
                was_table = s.encoding() == "hashtable";
                if s.encoding() == "intset" {
                    prop_assert!(s.len() <= max);
                    let v: Vec<i64> = match &s { SetValue::Ints(i) => i.iter().collect(), _ => unreachable!() };
                    prop_assert!(v.windows(2).all(|w| w[0] < w[1]));
                }
            }
            prop_assert_eq!(members(&s), model.clone());
            for m in &model {
                prop_assert!(s.contains(m));
            }
        }
    }
}
