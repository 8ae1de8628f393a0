//! Integration tests of the sorted-set commands: random command streams on
//! large (skiplist) and small (listpack) sets compared reply for reply with
//! redis-server, ZSCAN's guarantee on a large set, ZRANDMEMBER's counts,
//! encoding thresholds, WATCH and keyspace notifications.

mod common;

use rand::{Rng, RngExt, SeedableRng};
use redis::{Connection, Value, cmd};
use std::collections::HashSet;

fn encoding(c: &mut Connection, key: &str) -> String {
    cmd("OBJECT").arg("ENCODING").arg(key).query(c).unwrap()
}

/// A random sorted-set command over keys `za`/`zb` (members from a pool
/// of `pool` names, scores small integers so ties are common).
fn random_command(rng: &mut impl Rng, pool: usize) -> Vec<String> {
    let m = |rng: &mut dyn rand::Rng| format!("m:{}", rng.random_range(0..pool));
    let key = |rng: &mut dyn rand::Rng| if rng.random_bool(0.8) { "za" } else { "zb" }.to_string();
    let score = |rng: &mut dyn rand::Rng| match rng.random_range(0..10) {
        0 => "-inf".to_string(),
        1 => "+inf".to_string(),
        2 => format!("{}.5", rng.random_range(-50..50)),
        _ => rng.random_range(-50..50).to_string(),
    };
    let bound = |rng: &mut dyn rand::Rng| {
        let s = score(rng);
        if rng.random_bool(0.3) {
            format!("({s}")
        } else {
            s
        }
    };
    let lex = |rng: &mut dyn rand::Rng| match rng.random_range(0..6) {
        0 => "-".to_string(),
        1 => "+".to_string(),
        2 => format!("(m:{}", rng.random_range(0..pool)),
        _ => format!("[m:{}", rng.random_range(0..pool)),
    };
    let int = |rng: &mut dyn rand::Rng| rng.random_range(-30i64..30).to_string();
    let k = key(rng);
    let v: Vec<String> = match rng.random_range(0..22) {
        0..=5 => {
            let mut v = vec!["ZADD".into(), k];
            for opt in ["NX", "XX", "GT", "LT", "CH"] {
                if rng.random_bool(0.1) {
                    v.push(opt.into());
                }
            }
            for _ in 0..rng.random_range(1..20) {
                v.push(score(rng));
                v.push(m(rng));
            }
            v
        }
        6 => vec!["ZINCRBY".into(), k, score(rng), m(rng)],
        7 => vec!["ZREM".into(), k, m(rng), m(rng)],
        8 => vec!["ZRANK".into(), k, m(rng)],
        9 => vec!["ZREVRANK".into(), k, m(rng)],
        10 => vec!["ZCOUNT".into(), k, bound(rng), bound(rng)],
        11 => vec!["ZRANGE".into(), k, int(rng), int(rng), "WITHSCORES".into()],
        12 => vec!["ZREVRANGE".into(), k, int(rng), int(rng)],
        13 => vec![
            "ZRANGEBYSCORE".into(),
            k,
            bound(rng),
            bound(rng),
            "WITHSCORES".into(),
            "LIMIT".into(),
            rng.random_range(0..5).to_string(),
            rng.random_range(-1..10).to_string(),
        ],
        14 => vec!["ZREVRANGEBYSCORE".into(), k, bound(rng), bound(rng)],
        // Lex ranges are only defined when all scores are equal: key zl.
        15 => match rng.random_range(0..4) {
            0 => vec![
                "ZADD".into(),
                "zl".into(),
                "0".into(),
                m(rng),
                "0".into(),
                m(rng),
            ],
            1 => vec!["ZLEXCOUNT".into(), "zl".into(), lex(rng), lex(rng)],
            2 => vec!["ZREMRANGEBYLEX".into(), "zl".into(), lex(rng), lex(rng)],
            _ => vec![
                "ZRANGE".into(),
                "zl".into(),
                lex(rng),
                lex(rng),
                "BYLEX".into(),
                "REV".into(),
                "LIMIT".into(),
                rng.random_range(0..3).to_string(),
                rng.random_range(-1..5).to_string(),
            ],
        },
        16 => vec!["ZREMRANGEBYSCORE".into(), k, bound(rng), bound(rng)],
        17 => vec!["ZREMRANGEBYRANK".into(), k, int(rng), int(rng)],
        18 => vec!["ZPOPMIN".into(), k, rng.random_range(0..4).to_string()],
        19 => vec!["ZPOPMAX".into(), k],
        20 => vec![
            "ZUNIONSTORE".into(),
            "zc".into(),
            "2".into(),
            "za".into(),
            "zb".into(),
            "AGGREGATE".into(),
            "MAX".into(),
        ],
        _ => vec![
            "ZINTER".into(),
            "2".into(),
            "za".into(),
            "zb".into(),
            "WITHSCORES".into(),
        ],
    };
    v
}

fn run(c: &mut Connection, args: &[String]) -> Value {
    let mut command = cmd(&args[0]);
    for a in &args[1..] {
        command.arg(a);
    }
    command
        .query::<Value>(c)
        .unwrap_or_else(|e| Value::SimpleString(format!("error: {e}")))
}

fn compare_streams(pool: usize, steps: usize, seed: u64) {
    let Some(oracle) = common::Oracle::start() else {
        return;
    };
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let (mut r, mut e) = (oracle.client(), server.client());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for step in 0..steps {
        let args = random_command(&mut rng, pool);
        let (want, got) = (run(&mut r, &args), run(&mut e, &args));
        assert_eq!(got, want, "step {step}: {args:?}");
        if step % 50 == 0 {
            for k in ["za", "zb", "zc", "zl"] {
                let all = ["ZRANGE", k, "0", "-1", "WITHSCORES"].map(String::from);
                assert_eq!(run(&mut e, &all), run(&mut r, &all), "step {step}");
                let enc = ["OBJECT", "ENCODING", k].map(String::from);
                assert_eq!(run(&mut e, &enc), run(&mut r, &enc), "step {step} {k}");
            }
        }
    }
}

#[test]
fn random_commands_match_redis_on_small_sets() {
    compare_streams(40, 3000, 7);
}

#[test]
fn random_commands_match_redis_on_large_sets() {
    compare_streams(3000, 4000, 11);
}

#[test]
fn encoding_thresholds_and_config() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    for i in 0..128 {
        let _: i64 = cmd("ZADD")
            .arg("z")
            .arg(i)
            .arg(format!("m{i}"))
            .query(&mut c)
            .unwrap();
    }
    assert_eq!(encoding(&mut c, "z"), "listpack");
    let _: i64 = cmd("ZADD")
        .arg("z")
        .arg(1)
        .arg("one-more")
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    // Never converted back by removals.
    let _: i64 = cmd("ZREMRANGEBYRANK")
        .arg("z")
        .arg(0)
        .arg(-3)
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding(&mut c, "z"), "skiplist");
    // A ZADD of more pairs than the limit creates a skiplist directly.
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("zset-max-listpack-entries")
        .arg(2)
        .query(&mut c)
        .unwrap();
    let _: i64 = cmd("ZADD")
        .arg("y")
        .arg(1)
        .arg("a")
        .arg(2)
        .arg("a")
        .arg(3)
        .arg("a")
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding(&mut c, "y"), "skiplist");
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("zset-max-ziplist-value")
        .arg(3)
        .query(&mut c)
        .unwrap();
    let _: i64 = cmd("ZADD")
        .arg("x")
        .arg(1)
        .arg("abcd")
        .query(&mut c)
        .unwrap();
    assert_eq!(encoding(&mut c, "x"), "skiplist");
}

#[test]
fn zscan_returns_every_member_of_a_large_set() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    let mut all = HashSet::new();
    for chunk in 0..50 {
        let mut z = cmd("ZADD");
        z.arg("big");
        for i in 0..100 {
            let m = format!("m:{}", chunk * 100 + i);
            z.arg(i).arg(&m);
            all.insert(m);
        }
        let _: i64 = z.query(&mut c).unwrap();
    }
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<String>) = cmd("ZSCAN")
            .arg("big")
            .arg(cursor)
            .arg("COUNT")
            .arg(37)
            .query(&mut c)
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        // Removing other members while scanning must not hide survivors.
        let _: i64 = cmd("ZREM")
            .arg("big")
            .arg(format!("gone{cursor}"))
            .query(&mut c)
            .unwrap();
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen, all);
}

#[test]
fn zrandmember_counts() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    for (key, n) in [("small", 10), ("large", 500)] {
        let mut z = cmd("ZADD");
        z.arg(key);
        for i in 0..n {
            z.arg(i).arg(format!("m{i}"));
        }
        let _: i64 = z.query(&mut c).unwrap();
        for count in [1usize, 3, n / 2, n - 1, n, n + 5] {
            let got: Vec<String> = cmd("ZRANDMEMBER")
                .arg(key)
                .arg(count)
                .query(&mut c)
                .unwrap();
            let distinct: HashSet<_> = got.iter().collect();
            assert_eq!(got.len(), count.min(n));
            assert_eq!(distinct.len(), got.len());
        }
        let got: Vec<String> = cmd("ZRANDMEMBER")
            .arg(key)
            .arg(-(3 * n as i64))
            .query(&mut c)
            .unwrap();
        assert_eq!(got.len(), 3 * n);
        let pairs: Vec<String> = cmd("ZRANDMEMBER")
            .arg(key)
            .arg(4)
            .arg("WITHSCORES")
            .query(&mut c)
            .unwrap();
        for p in pairs.chunks(2) {
            assert_eq!(format!("m{}", p[1]), p[0]);
        }
    }
}

#[test]
fn writes_fail_watch_and_notify() {
    let Some(server) = common::Server::start(&["--notify-keyspace-events", "KEA"]) else {
        return;
    };
    let mut c = server.client();
    let mut sub = server.client();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").unwrap();
    let mut w = server.client();
    let _: () = cmd("WATCH").arg("z").query(&mut w).unwrap();
    let _: i64 = cmd("ZADD")
        .arg("z")
        .arg(1)
        .arg("a")
        .arg(2)
        .arg("b")
        .query(&mut c)
        .unwrap();
    let _: () = cmd("MULTI").query(&mut w).unwrap();
    let _: () = cmd("PING").query(&mut w).unwrap();
    let res: Value = cmd("EXEC").query(&mut w).unwrap();
    assert_eq!(res, Value::Nil);
    let _: f64 = cmd("ZINCRBY")
        .arg("z")
        .arg(1)
        .arg("a")
        .query(&mut c)
        .unwrap();
    let _: i64 = cmd("ZREM").arg("z").arg("a").query(&mut c).unwrap();
    let _: Value = cmd("ZPOPMIN").arg("z").query(&mut c).unwrap();
    let _: i64 = cmd("ZUNIONSTORE")
        .arg("d")
        .arg(1)
        .arg("nokey")
        .query(&mut c)
        .unwrap();
    let _: i64 = cmd("ZADD").arg("s").arg(1).arg("x").query(&mut c).unwrap();
    let _: i64 = cmd("ZRANGESTORE")
        .arg("d")
        .arg("s")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    let mut events = Vec::new();
    ps.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    while events.len() < 7 {
        let msg = ps.get_message().unwrap();
        let ev: String = msg
            .get_channel_name()
            .trim_start_matches("__keyevent@0__:")
            .to_string();
        let key: String = msg.get_payload().unwrap();
        events.push(format!("{ev} {key}"));
    }
    // (`KEA` leaves out the `n` class, so no "new" events.)
    assert_eq!(
        events,
        [
            "zadd z",
            "zincr z",
            "zrem z",
            "zpopmin z",
            "del z",
            "zadd s",
            "zrangestore d"
        ]
    );
}
