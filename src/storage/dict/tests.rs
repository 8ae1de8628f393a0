//! Tests for `Dict`: model-based proptests against `HashMap`, the SCAN
//! guarantee across resizes, sampling, and an ignored micro benchmark.

use super::*;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

fn key(prefix: &str, i: u32) -> Vec<u8> {
    format!("{prefix}{i}").into_bytes()
}

/// Structural invariants: chains sit in the bucket their hash selects,
/// counters match, moved buckets are empty, no duplicate keys, load factor.
fn check_invariants<K: DictKey, V>(d: &Dict<K, V>) {
    let mut keys = HashSet::new();
    for (t, table) in d.ht.iter().enumerate() {
        assert!(table.size() == 0 || table.size().is_power_of_two());
        let mut count = 0;
        for (i, bucket) in table.buckets.iter().enumerate() {
            let mut link = bucket;
            while let Some(node) = link {
                let k = node.key.key_bytes();
                assert_eq!(table.index(hash_bytes(k)), i, "node in wrong bucket");
                if t == 0 && d.is_rehashing() {
                    assert!(i >= d.rehash_idx, "entry left in a moved bucket");
                }
                assert!(keys.insert(k.to_vec()), "duplicate key");
                count += 1;
                link = &node.next;
            }
        }
        assert_eq!(count, table.used, "used counter of table {t}");
    }
    if d.is_rehashing() {
        assert!(d.rehash_idx <= d.ht[0].size());
        assert!(d.ht[0].size() > 0);
    } else {
        assert_eq!(d.rehash_idx, 0);
    }
}

fn contents(d: &Dict<Vec<u8>, u32>) -> HashMap<Vec<u8>, u32> {
    let out: HashMap<_, _> = d.iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(out.len(), d.len(), "iter yields each entry once");
    out
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u32, u32),
    InsertNew(u32, u32),
    GetOrInsert(u32, u32),
    Remove(u32),
    Get(u32),
    GetMut(u32, u32),
    InsertRange(u32, u32),
    RemoveRange(u32, u32),
    Retain(u32),
    Rehash(usize),
    Clear,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let k = 0u32..400;
    prop_oneof![
        6 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::InsertNew(k, v)),
        2 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
        5 => k.clone().prop_map(Op::Remove),
        3 => k.clone().prop_map(Op::Get),
        2 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        2 => (k.clone(), 1u32..200).prop_map(|(k, n)| Op::InsertRange(k, n)),
        2 => (k.clone(), 1u32..400).prop_map(|(k, n)| Op::RemoveRange(k, n)),
        1 => (2u32..6).prop_map(Op::Retain),
        2 => (0usize..8).prop_map(Op::Rehash),
        1 => Just(Op::Clear),
    ]
}

fn apply(d: &mut Dict<Vec<u8>, u32>, model: &mut HashMap<Vec<u8>, u32>, op: &Op) {
    match *op {
        Op::Insert(k, v) => {
            assert_eq!(d.insert(key("k", k), v), model.insert(key("k", k), v));
            // Growth starts before the load factor passes 1.
            assert!(d.is_rehashing() || d.ht[0].used <= d.ht[0].size());
        }
        Op::InsertNew(k, v) => {
            let kb = key("k", k);
            if let std::collections::hash_map::Entry::Vacant(e) = model.entry(kb.clone()) {
                d.insert_new_hashed(hash_bytes(&kb), kb, v);
                e.insert(v);
            } else {
                assert!(d.contains_key(&kb));
            }
        }
        Op::GetOrInsert(k, v) => {
            let kb = key("k", k);
            let was = model.get(&kb).copied();
            let (val, inserted) = d.get_or_insert_with(&kb, || (kb.clone(), v));
            assert_eq!(inserted, was.is_none());
            assert_eq!(*val, was.unwrap_or(v));
            *val = val.wrapping_add(1);
            *model.entry(kb).or_insert(v) = was.unwrap_or(v).wrapping_add(1);
        }
        Op::Remove(k) => {
            let kb = key("k", k);
            assert_eq!(d.remove(&kb), model.remove_entry(&kb));
        }
        Op::Get(k) => {
            let kb = key("k", k);
            assert_eq!(d.get(&kb), model.get(&kb));
            assert_eq!(d.contains_key(&kb), model.contains_key(&kb));
            assert_eq!(d.get_key_value(&kb), model.get_key_value(&kb));
        }
        Op::GetMut(k, v) => {
            let kb = key("k", k);
            match (d.get_mut(&kb), model.get_mut(&kb)) {
                (Some(a), Some(b)) => {
                    assert_eq!(*a, *b);
                    *a = v;
                    *b = v;
                }
                (None, None) => {}
                (a, b) => panic!("get_mut mismatch: {a:?} vs {b:?}"),
            }
        }
        Op::InsertRange(lo, n) => {
            for k in lo..lo + n {
                assert_eq!(d.insert(key("k", k), k), model.insert(key("k", k), k));
            }
        }
        Op::RemoveRange(lo, n) => {
            for k in lo..lo + n {
                let kb = key("k", k);
                assert_eq!(d.remove(&kb), model.remove_entry(&kb));
            }
        }
        Op::Retain(m) => {
            d.retain(|_, v| {
                *v = v.wrapping_add(1);
                *v % m != 0
            });
            model.retain(|_, v| {
                *v = v.wrapping_add(1);
                *v % m != 0
            });
        }
        Op::Rehash(n) => {
            let before = d.is_rehashing();
            let more = d.rehash_step(n);
            assert_eq!(more, d.is_rehashing());
            if before && n == 0 {
                assert!(more);
            }
        }
        Op::Clear => {
            d.clear();
            model.clear();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_hashmap_model(ops in prop::collection::vec(op_strategy(), 1..120)) {
        let mut d: Dict<Vec<u8>, u32> = Dict::new();
        let mut model = HashMap::new();
        for op in &ops {
            apply(&mut d, &mut model, op);
            prop_assert_eq!(d.len(), model.len());
            prop_assert_eq!(d.is_empty(), model.is_empty());
            check_invariants(&d);
            prop_assert_eq!(&contents(&d), &model);
        }
        // Everything left is still reachable through every lookup path.
        for (k, v) in &model {
            prop_assert_eq!(d.get_hashed(hash_bytes(k), k), Some(v));
        }
        let drained: HashMap<_, _> = d.drain().collect();
        prop_assert_eq!(drained, model);
        prop_assert!(d.is_empty());
        prop_assert_eq!(d.bucket_count(), 0);
    }
}

#[test]
fn grows_and_shrinks_incrementally() {
    let mut d: Dict<Vec<u8>, u32> = Dict::new();
    assert_eq!(d.bucket_count(), 0);
    let mut saw_rehash_grow = false;
    for i in 0..1000 {
        d.insert(key("k", i), i);
        saw_rehash_grow |= d.is_rehashing();
        check_invariants(&d);
    }
    assert!(saw_rehash_grow);
    while d.rehash_step(100) {}
    assert_eq!(d.bucket_count(), 1024);
    let mut saw_rehash_shrink = false;
    for i in 0..990 {
        assert_eq!(d.remove(&key("k", i)), Some((key("k", i), i)));
        saw_rehash_shrink |= d.is_rehashing() && d.ht[1].size() < d.ht[0].size();
    }
    assert!(saw_rehash_shrink);
    while d.rehash_step(100) {}
    check_invariants(&d);
    assert!(d.bucket_count() <= 16, "shrunk to {}", d.bucket_count());
    for i in 990..1000 {
        assert_eq!(d.get(&key("k", i)), Some(&i));
    }
    // Removing the rest leaves the minimum table.
    for i in 990..1000 {
        d.remove(&key("k", i));
    }
    while d.rehash_step(100) {}
    assert_eq!(d.bucket_count(), MIN_BUCKETS);
}

#[test]
fn rehash_step_alone_finishes_and_triggers_shrink() {
    let mut d: Dict<Vec<u8>, u32> = (0..600).map(|i| (key("k", i), i)).collect();
    while d.rehash_step(1) {}
    assert_eq!(d.bucket_count(), 1024);
    // retain removes many entries; the shrink starts without further ops.
    d.retain(|_, v| *v < 20);
    assert!(d.is_rehashing());
    let mut steps = 0;
    while d.rehash_step(1) {
        steps += 1;
        assert!(steps < 10_000);
    }
    assert_eq!(d.bucket_count(), 32);
    assert_eq!(d.len(), 20);
    check_invariants(&d);
}

#[test]
fn with_capacity_and_reserve_avoid_growth() {
    let mut d: Dict<Vec<u8>, u32> = Dict::with_capacity(100);
    assert_eq!(d.bucket_count(), 128);
    for i in 0..128 {
        d.insert(key("k", i), i);
        assert!(!d.is_rehashing());
    }
    let mut e: Dict<Vec<u8>, u32> = Dict::new();
    e.reserve(1000);
    assert_eq!(e.bucket_count(), 1024);
    assert!(!e.is_rehashing());
}

#[test]
fn key_types_and_replace_keeps_key() {
    let mut d: Dict<Box<[u8]>, &str> = Dict::new();
    d.insert(Box::from(&b"a"[..]), "1");
    assert_eq!(d.insert(Box::from(&b"a"[..]), "2"), Some("1"));
    assert_eq!(d.get(b"a"), Some(&"2"));
    let mut c: Dict<CompactBytes, u8> = Dict::new();
    c.insert(CompactBytes::new(b"short"), 1);
    c.insert(CompactBytes::new(&[7u8; 100]), 2);
    assert_eq!(c.get(b"short"), Some(&1));
    assert_eq!(c.get(&[7u8; 100]), Some(&2));
    let mut s: Dict<CompactBytesSlice, u8> = Dict::new();
    s.insert(CompactBytesSlice::new(b"x"), 3);
    assert_eq!(s.remove(b"x").map(|(_, v)| v), Some(3));
    // insert on an existing key returns the old value and keeps the
    // original key object (observable through its pointer identity).
    let mut d: Dict<Vec<u8>, u32> = Dict::new();
    let k1 = b"same".to_vec();
    let p1 = k1.as_ptr();
    d.insert(k1, 1);
    d.insert(b"same".to_vec(), 2);
    assert_eq!(d.get_key_value(b"same").unwrap().0.as_ptr(), p1);
}

#[test]
fn iter_mut_drain_into_iter_and_drops() {
    let token = Rc::new(());
    let mut d: Dict<Vec<u8>, (u32, Rc<()>)> = Dict::new();
    for i in 0..300 {
        d.insert(key("k", i), (i, token.clone()));
    }
    assert!(d.is_rehashing() || d.bucket_count() == 512);
    for (_, v) in d.iter_mut() {
        v.0 *= 2;
    }
    assert_eq!(d.iter().len(), 300);
    let total: u32 = d.iter().map(|(_, v)| v.0).sum();
    assert_eq!(total, (0..300).map(|i| i * 2).sum());
    // A partly consumed drain frees the rest.
    let mut it = d.drain();
    assert_eq!(it.len(), 300);
    it.next().unwrap();
    drop(it);
    assert_eq!(Rc::strong_count(&token), 1);
    assert!(d.is_empty());
    for i in 0..50 {
        d.insert(key("k", i), (i, token.clone()));
    }
    let n = d.into_iter().filter(|(_, v)| v.0 % 2 == 0).count();
    assert_eq!(n, 25);
    assert_eq!(Rc::strong_count(&token), 1);
    let mut d: Dict<Vec<u8>, Rc<()>> = (0..100).map(|i| (key("k", i), token.clone())).collect();
    d.clear();
    assert_eq!(Rc::strong_count(&token), 1);
}

#[test]
fn long_chain_drop_does_not_recurse() {
    // Hashes cannot be chosen, so link a 200k-node chain by hand; dropping
    // it recursively would overflow the test thread's stack.
    let mut d: Dict<Vec<u8>, ()> = Dict::with_capacity(4);
    let mut head = None;
    for i in 0..200_000u32 {
        head = Some(Box::new(Node {
            next: head,
            key: i.to_le_bytes().to_vec(),
            value: (),
        }));
    }
    d.ht[0].buckets[0] = head;
    d.ht[0].used = 200_000;
    assert_eq!(d.len(), 200_000);
    drop(d);
}

// ----- SCAN ----------------------------------------------------------------

fn scan_all(d: &Dict<Vec<u8>, u32>, count: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        cursor = d.scan_count(cursor, count, |k, _| out.push(k.clone()));
        calls += 1;
        assert!(calls < 1_000_000);
        if cursor == 0 {
            return out;
        }
    }
}

#[test]
fn scan_of_a_stable_table_visits_each_entry_once() {
    for n in [0u32, 1, 3, 5, 17, 100, 1000] {
        let mut d: Dict<Vec<u8>, u32> = Dict::new();
        for i in 0..n {
            d.insert(key("k", i), i);
        }
        // Both when idle and frozen in the middle of a resize.
        for _ in 0..2 {
            let seen = scan_all(&d, 1);
            assert_eq!(
                seen.len(),
                n as usize,
                "duplicates or misses, rehashing={}",
                d.is_rehashing()
            );
            let set: HashSet<_> = seen.into_iter().collect();
            assert_eq!(set.len(), n as usize);
            while d.rehash_step(1) {}
        }
    }
    // Frozen mid-shrink too.
    let mut d: Dict<Vec<u8>, u32> = (0..1000).map(|i| (key("k", i), i)).collect();
    while d.rehash_step(10) {}
    d.retain(|_, v| *v < 50);
    d.rehash_step(3);
    assert!(d.is_rehashing());
    let seen = scan_all(&d, 7);
    assert_eq!(seen.len(), 50);
}

#[derive(Debug, Clone)]
enum ScanMut {
    InsertExtra(u32, u32),
    RemoveExtra(u32, u32),
    RemoveStable(u32, u32),
    Rehash(usize),
}

fn scan_mut_strategy() -> impl Strategy<Value = ScanMut> {
    prop_oneof![
        (0u32..2000, 1u32..800).prop_map(|(a, n)| ScanMut::InsertExtra(a, n)),
        (0u32..2000, 1u32..2000).prop_map(|(a, n)| ScanMut::RemoveExtra(a, n)),
        (0u32..400, 1u32..40).prop_map(|(a, n)| ScanMut::RemoveStable(a, n)),
        (0usize..50).prop_map(ScanMut::Rehash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Every entry present from the first SCAN call to the last is returned
    /// at least once, while other entries come and go between calls and the
    /// table grows and shrinks.
    #[test]
    fn scan_returns_everything_present_throughout(
        initial in 0u32..400,
        extra in 0u32..600,
        steps in prop::collection::vec((1usize..20, prop::collection::vec(scan_mut_strategy(), 0..4)), 1..40),
    ) {
        let mut d: Dict<Vec<u8>, u32> = Dict::new();
        for i in 0..initial {
            d.insert(key("s", i), i);
        }
        for i in 0..extra {
            d.insert(key("x", i), i);
        }
        let mut removed_stable = HashSet::new();
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut calls = 0usize;
        let mut sizes = HashSet::new();
        loop {
            let count = steps.get(calls).map_or(10, |s| s.0);
            cursor = d.scan_count(cursor, count, |k, _| {
                seen.insert(k.clone());
            });
            calls += 1;
            if cursor == 0 {
                break;
            }
            prop_assert!(calls < 100_000, "scan did not terminate");
            if let Some((_, muts)) = steps.get(calls - 1) {
                for m in muts {
                    match *m {
                        ScanMut::InsertExtra(a, n) => {
                            for i in a..a + n {
                                d.insert(key("x", i), i);
                            }
                        }
                        ScanMut::RemoveExtra(a, n) => {
                            for i in a..a + n {
                                d.remove(&key("x", i));
                            }
                        }
                        ScanMut::RemoveStable(a, n) => {
                            for i in a..a + n {
                                if d.remove(&key("s", i)).is_some() {
                                    removed_stable.insert(i);
                                }
                            }
                        }
                        ScanMut::Rehash(n) => {
                            d.rehash_step(n);
                        }
                    }
                    sizes.insert(d.bucket_count());
                }
            }
        }
        check_invariants(&d);
        for i in 0..initial {
            if !removed_stable.contains(&i) {
                prop_assert!(seen.contains(&key("s", i)), "missed s{} (calls {})", i, calls);
            }
        }
        // Nothing is invented: every returned key was inserted at some point.
        for k in &seen {
            prop_assert!(k[0] == b's' || k[0] == b'x');
        }
    }
}

#[test]
fn scan_survives_grow_and_shrink_between_calls() {
    // Deterministic version of the property with a large resize each way
    // in the middle of a scan.
    let mut d: Dict<Vec<u8>, u32> = (0..100).map(|i| (key("s", i), i)).collect();
    let mut seen = HashSet::new();
    let mut cursor = d.scan(0, |k, _| {
        seen.insert(k.clone());
    });
    for i in 0..5000 {
        d.insert(key("x", i), i);
    }
    for _ in 0..5 {
        cursor = d.scan(cursor, |k, _| {
            seen.insert(k.clone());
        });
    }
    for i in 0..5000 {
        d.remove(&key("x", i));
    }
    while cursor != 0 {
        cursor = d.scan(cursor, |k, _| {
            seen.insert(k.clone());
        });
    }
    for i in 0..100 {
        assert!(seen.contains(&key("s", i)));
    }
}

// ----- sampling --------------------------------------------------------------

#[test]
fn sample_and_random_entry_return_present_entries() {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut d: Dict<Vec<u8>, u32> = Dict::new();
    assert!(d.random_entry(&mut rng).is_none());
    let mut calls = 0;
    d.sample(5, &mut rng, |_, _| calls += 1);
    assert_eq!(calls, 0);
    for round in 0..3000u32 {
        // Grow, then shrink; sample in every state including mid-resize.
        if round < 1500 {
            d.insert(key("k", round), round);
        } else {
            d.remove(&key("k", round - 1500));
        }
        if d.is_empty() {
            continue;
        }
        let (k, v) = d.random_entry(&mut rng).unwrap();
        assert_eq!(d.get(k), Some(v));
        let mut got = Vec::new();
        d.sample(16, &mut rng, |k, v| got.push((k.clone(), *v)));
        assert!(got.len() <= 16.min(d.len()));
        if d.len() <= 16 {
            // Asking for the whole table returns each entry exactly once.
            let distinct: HashSet<_> = got.iter().map(|(k, _)| k.clone()).collect();
            assert_eq!(distinct.len(), d.len());
            assert_eq!(got.len(), d.len());
        }
        for (k, v) in got {
            assert_eq!(d.get(&k), Some(&v));
        }
    }
}

#[test]
fn sample_finds_entries_in_a_dense_table() {
    let mut rng = SmallRng::seed_from_u64(3);
    let d: Dict<Vec<u8>, u32> = (0..1000).map(|i| (key("k", i), i)).collect();
    let mut total = 0;
    for _ in 0..100 {
        let mut n = 0;
        d.sample(20, &mut rng, |_, _| n += 1);
        total += n;
    }
    // Load factor is near 1 here, so samples are nearly always full.
    assert!(total >= 1900, "{total}");
}

#[test]
fn random_entry_reaches_every_key_roughly_fairly() {
    let mut rng = SmallRng::seed_from_u64(11);
    for n in [1u32, 2, 7, 40, 200] {
        let mut d: Dict<Vec<u8>, u32> = (0..n).map(|i| (key("k", i), i)).collect();
        for frozen_mid_resize in [false, true] {
            if frozen_mid_resize {
                // Grow past a power of two and keep the resize unfinished.
                let base = d.len() as u32;
                let mut i = 0;
                while !d.is_rehashing() {
                    d.insert(key("k", base + i), base + i);
                    i += 1;
                }
            }
            let len = d.len();
            let draws = 200 * len;
            let mut hits: HashMap<u32, usize> = HashMap::new();
            for _ in 0..draws {
                let (_, v) = d.random_entry(&mut rng).unwrap();
                *hits.entry(*v).or_default() += 1;
            }
            assert_eq!(hits.len(), len, "n={n} mid_resize={frozen_mid_resize}");
            let min = *hits.values().min().unwrap();
            assert!(min >= 200 / 8, "n={n}: least-picked key got {min} of ~200");
        }
    }
}

#[test]
fn heap_bytes_counts_buckets_and_nodes() {
    let d: Dict<Vec<u8>, u64> = (0..100).map(|i| (key("k", i), u64::from(i))).collect();
    let node = mem::size_of::<Node<Vec<u8>, u64>>();
    assert_eq!(node, 8 + 24 + 8);
    assert_eq!(mem::size_of::<Link<Vec<u8>, u64>>(), 8);
    assert_eq!(d.heap_bytes(), d.bucket_count() * 8 + 100 * node);
}

// ----- micro benchmark ---------------------------------------------------------

/// `cargo test --release --lib dict::tests::bench -- --ignored --nocapture`
///
/// Throughput passes move pre-built keys in (no cloning or timer calls per
/// operation); the worst single insert is measured in a separate pass.
#[test]
#[ignore]
fn bench_against_std_hashmap() {
    use std::hint::black_box;
    use std::time::{Duration, Instant};
    const N: u32 = 1_000_000;
    let keys: Vec<Vec<u8>> = (0..N).map(|i| key("key:", i)).collect();
    let misses: Vec<Vec<u8>> = (0..N).map(|i| key("miss:", i)).collect();
    let per = |d: Duration| d.as_nanos() as f64 / f64::from(N);
    println!(
        "{N} keys               insert ns/op  get-hit ns/op  get-miss ns/op  worst insert  table bytes/entry"
    );

    fn dict_row<K: DictKey>(
        name: &str,
        make: impl Fn(&[u8]) -> K,
        keys: &[Vec<u8>],
        misses: &[Vec<u8>],
    ) {
        let per = |d: Duration| d.as_nanos() as f64 / keys.len() as f64;
        let owned: Vec<K> = keys.iter().map(|k| make(k)).collect();
        let mut d: Dict<K, u32> = Dict::new();
        let t = Instant::now();
        for (i, k) in owned.into_iter().enumerate() {
            d.insert(k, i as u32);
        }
        let insert = t.elapsed();
        let t = Instant::now();
        let mut sum = 0u64;
        for k in keys {
            sum += u64::from(*d.get(black_box(k)).unwrap());
        }
        let hit = t.elapsed();
        let t = Instant::now();
        for k in misses {
            assert!(!d.contains_key(black_box(k)));
        }
        let miss = t.elapsed();
        black_box(sum);
        let bytes = d.heap_bytes() as f64 / keys.len() as f64;
        drop(d);
        let owned: Vec<K> = keys.iter().map(|k| make(k)).collect();
        let mut d: Dict<K, u32> = Dict::new();
        let mut worst = Duration::ZERO;
        for (i, k) in owned.into_iter().enumerate() {
            let s = Instant::now();
            d.insert(k, i as u32);
            worst = worst.max(s.elapsed());
        }
        println!(
            "{name:<22} {:>10.1}  {:>13.1}  {:>14.1}  {:>12?}  {:>8.1}",
            per(insert),
            per(hit),
            per(miss),
            worst,
            bytes
        );
    }
    dict_row("Dict<Vec<u8>>", |k| k.to_vec(), &keys, &misses);
    dict_row("Dict<CompactBytes>", CompactBytes::new, &keys, &misses);

    let mut h: HashMap<Vec<u8>, u32, foldhash::fast::RandomState> = HashMap::default();
    let owned = keys.clone();
    let t = Instant::now();
    for (i, k) in owned.into_iter().enumerate() {
        h.insert(k, i as u32);
    }
    let insert = t.elapsed();
    let t = Instant::now();
    let mut sum = 0u64;
    for k in &keys {
        sum += u64::from(*h.get(black_box(k)).unwrap());
    }
    let hit = t.elapsed();
    let t = Instant::now();
    for k in &misses {
        assert!(!h.contains_key(black_box(k)));
    }
    let miss = t.elapsed();
    black_box(sum);
    // hashbrown: one control byte per slot plus the (K, V) slot itself.
    let bytes =
        (h.capacity() * 8 / 7 * (mem::size_of::<(Vec<u8>, u32)>() + 1)) as f64 / f64::from(N);
    drop(h);
    let mut h: HashMap<Vec<u8>, u32, foldhash::fast::RandomState> = HashMap::default();
    let mut worst = Duration::ZERO;
    for (i, k) in keys.clone().into_iter().enumerate() {
        let s = Instant::now();
        h.insert(k, i as u32);
        worst = worst.max(s.elapsed());
    }
    println!(
        "{:<22} {:>10.1}  {:>13.1}  {:>14.1}  {:>12?}  {:>8.1}",
        "std HashMap<Vec<u8>>",
        per(insert),
        per(hit),
        per(miss),
        worst,
        bytes
    );
}
