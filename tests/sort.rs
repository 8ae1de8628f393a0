//! Integration tests of SORT / SORT_RO: a large set sorted numerically and
//! alphabetically against a model, BY/GET through hashes and strings
//! compared with redis-server, and SORT with patterns running while other
//! clients write (it locks every shard, so it sees a consistent snapshot).

mod common;

use redis::{Connection, Value, cmd};

fn sort(c: &mut Connection, args: &[&str]) -> Value {
    let mut q = cmd("SORT");
    for a in args {
        q.arg(*a);
    }
    q.query(c)
        .unwrap_or_else(|e| Value::SimpleString(format!("error: {e}")))
}

#[test]
fn large_sets_sorted_like_a_model() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    let nums: Vec<i64> = (0..3000).map(|i| (i * 7919) % 10007 - 5000).collect();
    let _: i64 = cmd("SADD").arg("n").arg(&nums).query(&mut c).unwrap();
    let got: Vec<i64> = cmd("SORT").arg("n").query(&mut c).unwrap();
    let mut want = nums.clone();
    want.sort();
    assert_eq!(got, want);
    let got: Vec<String> = cmd("SORT")
        .arg("n")
        .arg("ALPHA")
        .arg("DESC")
        .arg("LIMIT")
        .arg(10)
        .arg(20)
        .query(&mut c)
        .unwrap();
    let mut alpha: Vec<String> = nums.iter().map(i64::to_string).collect();
    alpha.sort();
    alpha.reverse();
    assert_eq!(got, alpha[10..30].to_vec());
    // A sorted set with BY nosort keeps its own order.
    for (i, n) in nums.iter().enumerate() {
        let _: i64 = cmd("ZADD")
            .arg("z")
            .arg(*n)
            .arg(format!("m{i}"))
            .query(&mut c)
            .unwrap();
    }
    let own: Vec<String> = cmd("ZRANGE").arg("z").arg(0).arg(-1).query(&mut c).unwrap();
    let got: Vec<String> = cmd("SORT_RO")
        .arg("z")
        .arg("BY")
        .arg("nosort")
        .query(&mut c)
        .unwrap();
    assert_eq!(got, own);
}

#[test]
fn by_and_get_patterns_match_redis() {
    let Some(oracle) = common::Oracle::start() else {
        return;
    };
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    for c in [&mut oracle.client(), &mut server.client()] {
        for i in 0..200 {
            let _: i64 = cmd("SADD").arg("ids").arg(i).query(c).unwrap();
            let _: i64 = cmd("HSET")
                .arg(format!("user:{i}"))
                .arg("age")
                .arg((i * 37) % 101)
                .arg("name")
                .arg(format!("n{}", (i * 13) % 200))
                .query(c)
                .unwrap();
            let _: () = cmd("SET")
                .arg(format!("w:{i}"))
                .arg(format!("{}.5", (i * 11) % 97))
                .query(c)
                .unwrap();
        }
    }
    let (mut r, mut e) = (oracle.client(), server.client());
    for args in [
        &[
            "ids",
            "BY",
            "user:*->age",
            "GET",
            "#",
            "GET",
            "user:*->name",
        ][..],
        &["ids", "BY", "w:*", "DESC", "LIMIT", "5", "50", "GET", "w:*"],
        &["ids", "BY", "user:*->name", "ALPHA", "GET", "user:*->age"],
        &["ids", "BY", "user:*->nosuch", "GET", "#"],
        &["ids", "BY", "user:*->name", "GET", "nosuch:*"],
    ] {
        assert_eq!(sort(&mut e, args), sort(&mut r, args), "{args:?}");
    }
}

#[test]
fn sort_with_patterns_is_atomic_against_writers() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    for i in 0..50 {
        let _: i64 = cmd("SADD").arg("ids").arg(i).query(&mut c).unwrap();
        let _: () = cmd("SET")
            .arg(format!("v:{i}"))
            .arg(0)
            .query(&mut c)
            .unwrap();
    }
    // A writer bumps every v:* key in one MSET; SORT must never see a
    // mix of two generations.
    let addr = server.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut w = common::connect(&addr);
        let mut generation = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            generation += 1;
            let mut m = cmd("MSET");
            for i in 0..50 {
                m.arg(format!("v:{i}")).arg(generation);
            }
            let _: () = m.query(&mut w).unwrap();
        }
    });
    for _ in 0..300 {
        let got: Vec<i64> = cmd("SORT")
            .arg("ids")
            .arg("BY")
            .arg("v:*")
            .arg("GET")
            .arg("v:*")
            .query(&mut c)
            .unwrap();
        assert_eq!(got.len(), 50);
        assert!(got.iter().all(|g| *g == got[0]), "{got:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
}
