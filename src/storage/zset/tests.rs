//! The sorted set against a model: a `BTreeSet` of (score, member) plus a
//! `HashMap` of scores.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// Total order key for the model (no NaN; -0 normalised so it ties with 0
/// exactly as the real comparison does).
#[derive(Clone, Debug, PartialEq)]
struct K(f64, Vec<u8>);
impl Eq for K {}
impl PartialOrd for K {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for K {
    fn cmp(&self, o: &Self) -> Ordering {
        cmp_entry(self.0, &self.1, o.0, &o.1)
    }
}

const LIM: Limits = Limits {
    max_entries: 16,
    max_value: 6,
};

fn check(z: &ZSetValue, model: &BTreeSet<K>, scores: &HashMap<Vec<u8>, f64>) {
    assert_eq!(z.len(), model.len());
    if let ZSetValue::Sorted(s) = z {
        assert_eq!(s.tree.root.check(true), model.len());
        assert_eq!(s.dict.len(), model.len());
    }
    let got = z.to_vec();
    let want: Vec<(f64, Vec<u8>)> = model.iter().map(|k| (k.0, k.1.clone())).collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(g.0 == w.0 && g.1 == w.1, "{got:?} != {want:?}");
    }
    for (i, k) in model.iter().enumerate() {
        let (r, s) = z.rank(&k.1).unwrap();
        assert_eq!(r, i);
        assert_eq!(s, scores[&k.1]);
        let (gs, gm) = z.get(i).unwrap();
        assert!(gs == k.0 && gm == &k.1[..]);
    }
    assert!(z.get(model.len()).is_none());
}

#[test]
fn big_tree_ranks_and_walks() {
    let mut t = Tree::default();
    let n = 20_000;
    for i in 0..n {
        let score = ((i * 7919) % n) as f64;
        t.insert(score, format!("m{i}").as_bytes());
    }
    assert_eq!(t.root.check(true), n);
    for r in [0, 1, 63, 64, 999, 19_999] {
        let it = t.get(r).clone();
        assert_eq!(t.rank(it.score, it.member.as_slice()), r);
        assert_eq!(it.score, r as f64);
    }
    let mut seen = Vec::new();
    t.walk(100, 300, true, |it| seen.push(it.score));
    assert_eq!(seen, (100..300).rev().map(|x| x as f64).collect::<Vec<_>>());
    assert_eq!(t.count_before(|s, _| s < 500.0), 500);
    for i in 0..n {
        let score = ((i * 7919) % n) as f64;
        if i % 3 != 0 {
            assert!(t.remove(score, format!("m{i}").as_bytes()));
        }
    }
    assert!(!t.remove(1.0, b"nope"));
    assert_eq!(t.root.check(true), t.len());
    assert_eq!(t.len(), n.div_ceil(3));
}

#[test]
fn negative_zero_is_zero_when_packed_only() {
    let big = Limits {
        max_entries: 0,
        max_value: 64,
    };
    let mut p = ZSetValue::default();
    p.insert(b"a", -0.0, LIM);
    assert!(p.score(b"a").unwrap().is_sign_positive());
    let mut s = ZSetValue::with_hint(1, 1, big);
    s.insert(b"a", -0.0, big);
    assert_eq!(s.encoding(), "skiplist");
    assert!(s.score(b"a").unwrap().is_sign_negative());
    s.shrink_if_fits(LIM);
    assert_eq!(s.encoding(), "listpack");
    assert!(s.score(b"a").unwrap().is_sign_positive());
}

#[derive(Debug, Clone)]
enum Op {
    Add(Vec<u8>, f64),
    Rem(Vec<u8>),
    Shrink,
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => "[a-z]{1,3}".prop_map(String::into_bytes),
        1 => "[a-z]{7,20}".prop_map(String::into_bytes),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (-20i32..20).prop_map(f64::from),
        2 => -3.0f64..3.0,
        1 => prop_oneof![Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-0.0), Just(0.0)],
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (member(), score()).prop_map(|(m, s)| Op::Add(m, s)),
        3 => member().prop_map(Op::Rem),
        1 => Just(Op::Shrink),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn behaves_like_an_ordered_model(ops in prop::collection::vec(op(), 0..400)) {
        let mut z = ZSetValue::default();
        let mut model: BTreeSet<K> = BTreeSet::new();
        let mut scores: HashMap<Vec<u8>, f64> = HashMap::new();
        for op in ops {
            match op {
                Op::Add(m, s) => {
                    let was_packed = z.is_packed();
                    let old = z.insert(&m, s, LIM);
                    let mold = scores.get(&m).copied();
                    prop_assert_eq!(old.map(f64::to_bits), mold.map(f64::to_bits));
                    if let Some(o) = mold {
                        model.remove(&K(o, m.clone()));
                    }
                    // The packed form stores -0 as 0 (an unchanged score
                    // keeps its old bits).
                    let stored = if was_packed && z.is_packed() && s == 0.0 && mold != Some(s) { 0.0 } else { s };
                    let stored = if mold.is_some_and(|o| o.to_bits() == s.to_bits()) { s } else { stored };
                    model.insert(K(stored, m.clone()));
                    scores.insert(m.clone(), z.score(&m).unwrap());
                    prop_assert_eq!(z.score(&m).unwrap(), stored);
                }
                Op::Rem(m) => {
                    let got = z.remove(&m);
                    let want = scores.remove(&m);
                    prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits));
                    if let Some(o) = want {
                        model.remove(&K(o, m));
                    }
                }
                Op::Shrink => {
                    z.shrink_if_fits(LIM);
                    // Scores may have lost a -0 sign.
                    for (m, s) in scores.iter_mut() {
                        *s = z.score(m).unwrap();
                    }
                }
            }
            if z.is_packed() {
                prop_assert!(z.len() <= LIM.max_entries);
            }
            check(&z, &model, &scores);
            // Range bounds agree with the model.
            let below = z.count_before(|s, _| s < 1.5);
            prop_assert_eq!(below, model.iter().filter(|k| k.0 < 1.5).count());
            prop_assert_eq!(z.count_before_score(|s| s < 1.5), below);
            prop_assert_eq!(
                z.count_before_score(|s| s <= 2.0),
                model.iter().filter(|k| k.0 <= 2.0).count()
            );
            let lex = z.count_before(|_, m| m < &b"m"[..]);
            if model.iter().all(|k| k.0 == model.iter().next().unwrap().0) {
                prop_assert_eq!(lex, model.iter().filter(|k| k.1 < b"m".to_vec()).count());
            }
        }
        let n = z.len();
        let mut rev = Vec::new();
        z.walk(1, n.saturating_sub(1), true, |s, m| rev.push((s, m.to_vec())));
        let mut fwd: Vec<(f64, Vec<u8>)> = model.iter().map(|k| (k.0, k.1.clone())).collect();
        if n >= 2 { fwd = fwd[1..n - 1].to_vec(); } else { fwd.clear(); }
        fwd.reverse();
        prop_assert_eq!(rev, fwd);
        let c = z.clone();
        prop_assert_eq!(c.to_vec(), z.to_vec());
    }
}
