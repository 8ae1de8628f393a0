//! Integration tests of the set commands: the properties of random replies
//! (SPOP / SRANDMEMBER counts, membership, distinctness, rough uniformity),
//! SSCAN's guarantee on a large set, encodings across the intset threshold,
//! WATCH and dirty counting, and large set algebra checked against a model.

mod common;

use redis::{Connection, cmd};
use std::collections::{HashMap, HashSet};

fn sadd(c: &mut Connection, key: &str, members: &[String]) -> i64 {
    cmd("SADD").arg(key).arg(members).query(c).unwrap()
}

fn smembers(c: &mut Connection, key: &str) -> HashSet<String> {
    cmd("SMEMBERS").arg(key).query(c).unwrap()
}

fn encoding(c: &mut Connection, key: &str) -> String {
    cmd("OBJECT").arg("ENCODING").arg(key).query(c).unwrap()
}

fn names(range: std::ops::Range<usize>, prefix: &str) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn srandmember_counts_and_distribution() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    for (key, members) in [("ints", names(0..10, "")), ("words", names(0..10, "w"))] {
        sadd(&mut c, key, &members);
        let all: HashSet<String> = members.iter().cloned().collect();
        // Positive count: distinct members, exactly min(count, size).
        for count in [1, 3, 9, 10, 15] {
            let got: Vec<String> = cmd("SRANDMEMBER")
                .arg(key)
                .arg(count)
                .query(&mut c)
                .unwrap();
            assert_eq!(got.len(), count.min(10));
            let distinct: HashSet<_> = got.iter().cloned().collect();
            assert_eq!(distinct.len(), got.len(), "{key} {count}: {got:?}");
            assert!(distinct.is_subset(&all));
        }
        // Negative count: exactly |count| draws with repetition, roughly
        // uniform over the members.
        let draws: Vec<String> = cmd("SRANDMEMBER")
            .arg(key)
            .arg(-20_000)
            .query(&mut c)
            .unwrap();
        assert_eq!(draws.len(), 20_000);
        let mut freq: HashMap<String, usize> = HashMap::new();
        for d in draws {
            assert!(all.contains(&d));
            *freq.entry(d).or_default() += 1;
        }
        assert_eq!(freq.len(), 10, "{key}: every member drawn");
        for (m, n) in &freq {
            assert!(
                (1400..2600).contains(n),
                "{key}: {m} drawn {n} times of 20000"
            );
        }
        // Single draws too.
        let mut seen = HashSet::new();
        for _ in 0..500 {
            let m: String = cmd("SRANDMEMBER").arg(key).query(&mut c).unwrap();
            seen.insert(m);
        }
        assert_eq!(seen, all);
        // SRANDMEMBER never changes the set.
        assert_eq!(smembers(&mut c, key), all);
    }
}

#[test]
fn spop_removes_what_it_returns() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    for (key, members) in [
        ("ints", names(0..300, "")),
        ("words", names(0..300, "m")),
        ("big", names(0..5000, "")),
    ] {
        sadd(&mut c, key, &members);
        let mut left: HashSet<String> = members.iter().cloned().collect();
        // Counts taking both strategies (small and large share of the set).
        for count in [1usize, 7, 40, 100] {
            let got: Vec<String> = cmd("SPOP").arg(key).arg(count).query(&mut c).unwrap();
            assert_eq!(got.len(), count);
            for m in &got {
                assert!(left.remove(m), "{key}: {m} popped twice or never there");
            }
            assert_eq!(smembers(&mut c, key), left);
        }
        let one: String = cmd("SPOP").arg(key).query(&mut c).unwrap();
        assert!(left.remove(&one));
        let rest: Vec<String> = cmd("SPOP").arg(key).arg(1_000_000).query(&mut c).unwrap();
        assert_eq!(rest.into_iter().collect::<HashSet<_>>(), left);
        let exists: i64 = cmd("EXISTS").arg(key).query(&mut c).unwrap();
        assert_eq!(exists, 0, "{key}: emptied by SPOP, so deleted");
    }
    // Every member of a small set is eventually chosen by single pops.
    let mut first = HashSet::new();
    for _ in 0..300 {
        sadd(&mut c, "s", &names(0..5, "x"));
        let m: String = cmd("SPOP").arg("s").query(&mut c).unwrap();
        first.insert(m);
        let _: i64 = cmd("DEL").arg("s").query(&mut c).unwrap();
    }
    assert_eq!(first.len(), 5);
}

#[test]
fn sscan_returns_every_member_while_the_set_changes() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    let members = names(0..20_000, "member:");
    sadd(&mut c, "big", &members);
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut extra = 0;
    loop {
        let (next, batch): (String, Vec<String>) = cmd("SSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(50)
            .query(&mut c)
            .unwrap();
        seen.extend(batch);
        // Grow the set during the scan (forces resizes).
        if extra < 20_000 {
            sadd(&mut c, "big", &names(extra..extra + 500, "late:"));
            extra += 500;
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    for m in &members {
        assert!(seen.contains(m), "{m} missed by SSCAN");
    }
    // MATCH filters.
    let (_, small): (String, Vec<String>) = cmd("SSCAN")
        .arg("big")
        .arg(0)
        .arg("MATCH")
        .arg("member:1999*")
        .arg("COUNT")
        .arg(1_000_000)
        .query(&mut c)
        .unwrap();
    let small: HashSet<String> = small.into_iter().collect();
    let want: HashSet<String> = ["member:1999".to_string()]
        .into_iter()
        .chain((0..10).map(|i| format!("member:1999{i}")))
        .collect();
    assert_eq!(small, want);
}

#[test]
fn encoding_threshold_and_algebra_against_a_model() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    sadd(&mut c, "a", &names(0..512, ""));
    assert_eq!(encoding(&mut c, "a"), "intset");
    sadd(&mut c, "a", &["512".to_string()]);
    assert_eq!(encoding(&mut c, "a"), "hashtable");
    let evens: Vec<String> = (0..3000).step_by(2).map(|i| i.to_string()).collect();
    sadd(&mut c, "b", &evens);
    let a: HashSet<String> = names(0..513, "").into_iter().collect();
    let b: HashSet<String> = evens.iter().cloned().collect();

    let inter: HashSet<String> = cmd("SINTER").arg("a").arg("b").query(&mut c).unwrap();
    assert_eq!(inter, a.intersection(&b).cloned().collect());
    let union: HashSet<String> = cmd("SUNION").arg("a").arg("b").query(&mut c).unwrap();
    assert_eq!(union, a.union(&b).cloned().collect());
    let diff: HashSet<String> = cmd("SDIFF").arg("b").arg("a").query(&mut c).unwrap();
    assert_eq!(diff, b.difference(&a).cloned().collect());
    let card: i64 = cmd("SINTERCARD")
        .arg(2)
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_eq!(card as usize, inter.len());

    let n: i64 = cmd("SINTERSTORE")
        .arg("i")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_eq!(n as usize, inter.len());
    // 257 integers: small enough for an intset again.
    assert_eq!(encoding(&mut c, "i"), "intset");
    let n: i64 = cmd("SDIFFSTORE")
        .arg("d")
        .arg("b")
        .arg("a")
        .query(&mut c)
        .unwrap();
    assert_eq!(n as usize, b.len() - inter.len());
    assert_eq!(encoding(&mut c, "d"), "hashtable");
    assert_eq!(smembers(&mut c, "d"), b.difference(&a).cloned().collect());
}

#[test]
fn writes_count_changes_and_signal_watchers() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    let mut other = server.client();
    sadd(&mut c, "w", &["a".to_string()]);
    let _: () = cmd("WATCH").arg("w").query(&mut c).unwrap();
    // A no-op change must not abort the transaction...
    sadd(&mut other, "w", &["a".to_string()]);
    let _: () = cmd("MULTI").query(&mut c).unwrap();
    let _: () = cmd("SCARD").arg("w").query(&mut c).unwrap();
    let res: Option<Vec<i64>> = cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(res, Some(vec![1]));
    // ... a real one must.
    let _: () = cmd("WATCH").arg("w").query(&mut c).unwrap();
    let removed: i64 = cmd("SREM").arg("w").arg("a").query(&mut other).unwrap();
    assert_eq!(removed, 1);
    let _: () = cmd("MULTI").query(&mut c).unwrap();
    let _: () = cmd("SCARD").arg("w").query(&mut c).unwrap();
    let res: Option<Vec<i64>> = cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(res, None);

    // dirty grows by one per member added or removed, as in Redis.
    let info = |c: &mut Connection| -> i64 {
        let text: String = cmd("INFO").arg("persistence").query(c).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = info(&mut c);
    sadd(&mut c, "n", &names(0..5, ""));
    assert_eq!(info(&mut c) - before, 5);
    let _: i64 = cmd("SREM")
        .arg("n")
        .arg(0)
        .arg(1)
        .arg(9)
        .query(&mut c)
        .unwrap();
    assert_eq!(info(&mut c) - before, 7);
}

#[test]
fn copy_and_debug_digest_of_sets() {
    let Some(server) = common::Server::start(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut c = server.client();
    sadd(&mut c, "s", &names(0..1000, "e"));
    let copied: i64 = cmd("COPY").arg("s").arg("t").query(&mut c).unwrap();
    assert_eq!(copied, 1);
    assert_eq!(smembers(&mut c, "t"), smembers(&mut c, "s"));
    let _: i64 = cmd("SREM").arg("t").arg("e1").query(&mut c).unwrap();
    assert_eq!(smembers(&mut c, "s").len(), 1000, "the copy is independent");
    // Digests ignore member order but not content.
    let da: String = cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("s")
        .query(&mut c)
        .map(|v: Vec<String>| v[0].clone())
        .unwrap();
    let _: i64 = cmd("SADD").arg("t").arg("e1").query(&mut c).unwrap();
    let db: String = cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("t")
        .query(&mut c)
        .map(|v: Vec<String>| v[0].clone())
        .unwrap();
    assert_eq!(da, db);
    let _: i64 = cmd("SADD").arg("t").arg("extra").query(&mut c).unwrap();
    let dc: String = cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("t")
        .query(&mut c)
        .map(|v: Vec<String>| v[0].clone())
        .unwrap();
    assert_ne!(da, dc);
}
