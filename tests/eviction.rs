//! `maxmemory` and eviction, through the `redis` crate and raw RESP, with
//! `redis-server` run side by side where the behaviour is deterministic
//! (error bytes, WATCH, LFU counters) or statistically comparable (which
//! keys an LRU or TTL policy keeps).

mod common;

use common::{Oracle, RawConn, Server};
use redis::Connection;
use std::time::{Duration, Instant};

/// A field of INFO as a number.
fn info_u64(c: &mut Connection, section: &str, field: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .parse()
        .unwrap()
}

fn config_set(c: &mut Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(c)
        .unwrap();
}

fn used_memory(c: &mut Connection) -> u64 {
    info_u64(c, "memory", "used_memory")
}

fn dbsize(c: &mut Connection) -> u64 {
    redis::cmd("DBSIZE").query(c).unwrap()
}

/// Writes `n` keys `prefix<i>` with `size`-byte values (optionally a TTL
/// of `ttl + i` seconds), pipelined 100 at a time; returns the errors.
fn write_keys(c: &mut Connection, prefix: &str, n: usize, size: usize, ttl: Option<u64>) -> usize {
    let value = vec![b'x'; size];
    let mut errors = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut p = redis::pipe();
        for &i in chunk {
            let cmd = p.cmd("SET").arg(format!("{prefix}{i}")).arg(&value[..]);
            if let Some(t) = ttl {
                cmd.arg("EX").arg(t + i as u64);
            }
        }
        let replies: Vec<redis::RedisResult<redis::Value>> = p
            .query::<Vec<redis::Value>>(c)
            .map(|v| v.into_iter().map(Ok).collect())
            .unwrap_or_else(|e| vec![Err(e)]);
        for r in replies {
            match r {
                Ok(redis::Value::ServerError(_)) | Err(_) => errors += 1,
                _ => {}
            }
        }
    }
    errors
}

/// Both servers, or `None` when one is missing.
fn both(args: &[&str]) -> Option<(Server, Server)> {
    let redis = Oracle::start_with(args)?;
    let ember = Server::start(args)?;
    Some((redis, ember))
}

fn raw(conn: &mut RawConn, args: &[&str]) -> Vec<u8> {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    conn.cmd(&a)
}

/// The OOM refusals byte for byte: noeviction, volatile-* without TTL
/// keys, inside MULTI (queued commands refused, EXEC then aborted), EXEC
/// refused when memory went over after queuing a denyoom command, and
/// commands that are not denyoom still running.
#[test]
fn oom_errors_match_redis() {
    let Some((redis, ember)) = both(&[]) else {
        return;
    };
    let mut transcripts = Vec::new();
    for server in [&redis, &ember] {
        let mut a = server.raw();
        let mut b = server.raw();
        let mut t = Vec::new();
        let mut step = |conn: &mut RawConn, args: &[&str]| {
            t.push(format!("{args:?} -> {}", common::escape(&raw(conn, args))));
        };
        step(&mut a, &["SET", "plain", "1"]);
        for policy in [
            "noeviction",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            step(&mut b, &["CONFIG", "SET", "maxmemory-policy", policy]);
            step(&mut b, &["CONFIG", "SET", "maxmemory", "1"]);
            step(&mut a, &["SET", "k", "v"]);
            step(&mut a, &["INCR", "plain"]);
            step(&mut a, &["GET", "plain"]);
            step(&mut a, &["MULTI"]);
            step(&mut a, &["GET", "plain"]);
            step(&mut a, &["SET", "k", "v"]);
            step(&mut a, &["EXEC"]);
            step(&mut a, &["MULTI"]);
            step(&mut a, &["DISCARD"]);
            step(&mut b, &["CONFIG", "SET", "maxmemory", "0"]);
        }
        // Memory goes over between queuing and EXEC.
        step(&mut a, &["MULTI"]);
        step(&mut a, &["SET", "k", "v"]);
        step(&mut b, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
        step(&mut b, &["CONFIG", "SET", "maxmemory", "1"]);
        step(&mut a, &["EXEC"]);
        step(&mut a, &["EXEC"]);
        // A read-only transaction still runs.
        step(&mut b, &["CONFIG", "SET", "maxmemory", "0"]);
        step(&mut a, &["MULTI"]);
        step(&mut a, &["GET", "plain"]);
        step(&mut b, &["CONFIG", "SET", "maxmemory", "1"]);
        step(&mut a, &["EXEC"]);
        step(&mut a, &["DEL", "plain"]);
        step(&mut b, &["CONFIG", "SET", "maxmemory", "0"]);
        step(&mut a, &["INFO", "nosuch"]);
        transcripts.push(t);
    }
    assert_eq!(transcripts[0], transcripts[1]);
    let mut e = ember.client();
    let err: String = redis::cmd("INFO").arg("errorstats").query(&mut e).unwrap();
    assert!(err.contains("errorstat_OOM:count="), "{err}");
}

/// Under each allkeys-* policy, writing ten times the limit keeps
/// used_memory near maxmemory and evicts.
#[test]
fn used_memory_stays_near_maxmemory_under_allkeys_policies() {
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let mut c = ember.client();
    let limit_extra = 4 << 20;
    for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
        config_set(&mut c, "maxmemory", "0");
        config_set(&mut c, "maxmemory-policy", policy);
        let base = used_memory(&mut c);
        let max = base + limit_extra;
        config_set(&mut c, "maxmemory", &max.to_string());
        let before = info_u64(&mut c, "stats", "evicted_keys");
        let mut peak = 0;
        // 40 MB in 1 KB values, measuring as we go.
        for round in 0..10 {
            let errors = write_keys(&mut c, &format!("{round}:"), 4000, 1000, None);
            assert_eq!(errors, 0, "{policy}: writes refused");
            peak = peak.max(used_memory(&mut c));
        }
        let evicted = info_u64(&mut c, "stats", "evicted_keys") - before;
        let keys = dbsize(&mut c);
        assert!(
            peak <= max + (256 << 10),
            "{policy}: used_memory peaked at {peak}, limit {max}"
        );
        assert!(keys < 10_000 && keys > 1000, "{policy}: {keys} keys left");
        assert_eq!(evicted + keys, 40_000, "{policy}");
        let info: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
        assert!(info.contains(&format!("maxmemory:{max}\r\n")));
        assert!(info.contains(&format!("maxmemory_policy:{policy}\r\n")));
        assert!(info.contains("maxmemory_human:"));
        assert!(info.contains("mem_not_counted_for_evict:0\r\n"));
    }
    config_set(&mut c, "maxmemory", "0");
}

/// volatile-* policies evict only keys with a TTL, then refuse writes.
#[test]
fn volatile_policies_evict_only_keys_with_a_ttl() {
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let mut c = ember.client();
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
        config_set(&mut c, "maxmemory", "0");
        config_set(&mut c, "maxmemory-policy", policy);
        assert_eq!(write_keys(&mut c, "keep:", 2000, 100, None), 0);
        let max = used_memory(&mut c) + (2 << 20);
        config_set(&mut c, "maxmemory", &max.to_string());
        assert_eq!(write_keys(&mut c, "ttl:", 8000, 1000, Some(1000)), 0);
        let evicted = info_u64(&mut c, "stats", "evicted_keys");
        assert!(evicted > 4000, "{policy}: {evicted} evicted");
        let kept: u64 = (0..2000)
            .map(|i| {
                redis::cmd("EXISTS")
                    .arg(format!("keep:{i}"))
                    .query::<u64>(&mut c)
                    .unwrap()
            })
            .sum();
        assert_eq!(kept, 2000, "{policy}: a key without TTL was evicted");
        // Below what the keys without TTL take: once every key with a TTL
        // is gone (runs stop at their time limit), writes fail.
        config_set(&mut c, "maxmemory", "1");
        let deadline = Instant::now() + Duration::from_secs(10);
        while dbsize(&mut c) > 2000 {
            assert!(Instant::now() < deadline, "{policy}: TTL keys left");
            std::thread::sleep(Duration::from_millis(10));
        }
        let r: redis::RedisResult<()> = redis::cmd("SET").arg("more").arg("x").query(&mut c);
        let e = r.unwrap_err();
        assert_eq!(e.code(), Some("OOM"), "{policy}");
        assert_eq!(dbsize(&mut c), 2000, "{policy}");
        let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    }
    config_set(&mut c, "maxmemory", "0");
}

/// The share of keys `late:<i>` (i ≥ n/2) among the survivors of
/// `write_keys(prefix, n, …, Some(ttl))` after halving the memory.
fn volatile_ttl_survivors(server: &Server) -> (u64, u64) {
    let mut c = server.client();
    config_set(&mut c, "maxmemory-policy", "volatile-ttl");
    let base = used_memory(&mut c);
    // 4000 keys of 1 KB, key i expiring in 1000 + i seconds.
    write_keys(&mut c, "k", 4000, 1000, Some(1000));
    let full = used_memory(&mut c);
    config_set(&mut c, "maxmemory", &(base + (full - base) / 2).to_string());
    let _: () = redis::cmd("PING").query(&mut c).unwrap();
    let mut late = 0;
    let mut total = 0;
    for i in 0..4000 {
        let e: u64 = redis::cmd("EXISTS")
            .arg(format!("k{i}"))
            .query(&mut c)
            .unwrap();
        total += e;
        if i >= 2000 {
            late += e;
        }
    }
    config_set(&mut c, "maxmemory", "0");
    (late, total)
}

/// volatile-ttl evicts the keys expiring soonest first (statistically),
/// on both servers.
#[test]
fn volatile_ttl_evicts_the_soonest_expiring_first() {
    let Some((redis, ember)) = both(&[]) else {
        return;
    };
    for server in [&redis, &ember] {
        let (late, total) = volatile_ttl_survivors(server);
        assert!(
            total > 1000 && total < 3000,
            "{}: {total} left",
            server.label()
        );
        assert!(
            late * 100 >= total * 85,
            "{}: only {late} of {total} survivors expire late",
            server.label()
        );
    }
}

/// How many of 1,000 hot keys survive allkeys-lru while cold keys are
/// written for several seconds, the hot ones read all along.
fn lru_hot_survivors(server: &Server) -> u64 {
    let mut c = server.client();
    config_set(&mut c, "maxmemory-policy", "allkeys-lru");
    write_keys(&mut c, "hot:", 1000, 100, None);
    let max = used_memory(&mut c) + (3 << 20);
    config_set(&mut c, "maxmemory", &max.to_string());
    let start = Instant::now();
    let mut round = 0;
    // ~2 MB of cold writes a second for 5 s: the limit holds about 1.5 s
    // of them, and the LRU clock ticks in seconds.
    while start.elapsed() < Duration::from_secs(5) {
        write_keys(&mut c, &format!("cold{round}:"), 200, 1000, None);
        let mut p = redis::pipe();
        for i in 0..1000 {
            p.cmd("GET").arg(format!("hot:{i}")).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
        round += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(info_u64(&mut c, "stats", "evicted_keys") > 2000);
    let kept = (0..1000)
        .map(|i| {
            redis::cmd("EXISTS")
                .arg(format!("hot:{i}"))
                .query::<u64>(&mut c)
                .unwrap()
        })
        .sum();
    config_set(&mut c, "maxmemory", "0");
    kept
}

/// allkeys-lru keeps a recently read hot set, as Redis does.
#[test]
fn lru_keeps_the_hot_set() {
    let Some((redis, ember)) = both(&[]) else {
        return;
    };
    let (r, e) = std::thread::scope(|s| {
        let r = s.spawn(|| lru_hot_survivors(&redis));
        let e = s.spawn(|| lru_hot_survivors(&ember));
        (r.join().unwrap(), e.join().unwrap())
    });
    assert!(r >= 900, "redis kept {r} hot keys");
    assert!(e >= 900, "ember kept {e} hot keys (redis {r})");
}

/// OBJECT FREQ follows Redis's LFU counter: exactly with lfu-log-factor 0
/// (every access counts), growing slowly with the default factor.
#[test]
fn lfu_object_freq_grows_with_accesses() {
    let Some((redis, ember)) = both(&[]) else {
        return;
    };
    let mut freqs = Vec::new();
    for server in [&redis, &ember] {
        let mut c = server.client();
        config_set(&mut c, "maxmemory-policy", "allkeys-lfu");
        config_set(&mut c, "lfu-log-factor", "0");
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
        let mut seen = Vec::new();
        for _ in 0..5 {
            for _ in 0..50 {
                let _: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
            }
            seen.push(
                redis::cmd("OBJECT")
                    .arg("FREQ")
                    .arg("k")
                    .query::<u64>(&mut c)
                    .unwrap(),
            );
        }
        config_set(&mut c, "lfu-log-factor", "10");
        let _: () = redis::cmd("SET").arg("d").arg("v").query(&mut c).unwrap();
        for _ in 0..2000 {
            let _: Option<String> = redis::cmd("GET").arg("d").query(&mut c).unwrap();
        }
        let d: u64 = redis::cmd("OBJECT")
            .arg("FREQ")
            .arg("d")
            .query(&mut c)
            .unwrap();
        assert!(
            (10..60).contains(&d),
            "{}: freq {d} after 2000 reads",
            server.label()
        );
        freqs.push(seen);
    }
    assert_eq!(freqs[0], vec![55, 105, 155, 205, 255]);
    assert_eq!(freqs[0], freqs[1]);
}

/// Every eviction is published as `evicted` (class `e`) on both servers.
#[test]
fn evictions_are_notified() {
    let Some((redis, ember)) = both(&[]) else {
        return;
    };
    for server in [&redis, &ember] {
        let mut c = server.client();
        config_set(&mut c, "notify-keyspace-events", "Ee");
        let mut sub = server.raw();
        raw(&mut sub, &["SUBSCRIBE", "__keyevent@0__:evicted"]);
        write_keys(&mut c, "k", 50, 10, None);
        config_set(&mut c, "maxmemory-policy", "allkeys-random");
        config_set(&mut c, "maxmemory", "1");
        let _: () = redis::cmd("PING").query(&mut c).unwrap();
        let mut got = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let msg = sub.read_reply();
            let text = String::from_utf8_lossy(&msg).into_owned();
            assert!(text.contains("__keyevent@0__:evicted"), "{text}");
            got.insert(text.rsplit("\r\n").nth(1).unwrap().to_string());
        }
        assert_eq!(got.len(), 50, "{}", server.label());
        config_set(&mut c, "maxmemory", "0");
        assert_eq!(dbsize(&mut c), 0);
        assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 50);
    }
}

/// An eviction invalidates WATCH, as on Redis.
#[test]
fn eviction_invalidates_watch() {
    let Some((redis, ember)) = both(&[]) else {
        return;
    };
    let mut transcripts = Vec::new();
    for server in [&redis, &ember] {
        let mut a = server.raw();
        let mut b = server.raw();
        let mut t = Vec::new();
        let mut step = |conn: &mut RawConn, args: &[&str]| {
            t.push(common::escape(&raw(conn, args)));
        };
        step(&mut a, &["SET", "w", "1"]);
        step(&mut a, &["WATCH", "w"]);
        step(
            &mut b,
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
        );
        step(&mut b, &["CONFIG", "SET", "maxmemory", "1"]);
        step(&mut b, &["GET", "w"]);
        step(&mut b, &["CONFIG", "SET", "maxmemory", "0"]);
        step(&mut a, &["MULTI"]);
        step(&mut a, &["SET", "w", "2"]);
        step(&mut a, &["EXEC"]);
        step(&mut a, &["EXISTS", "w"]);
        transcripts.push(t);
    }
    assert_eq!(transcripts[0], transcripts[1]);
    assert!(transcripts[0][8].contains("*-1"), "{:?}", transcripts[0]);
}

/// Evicted keys reach the AOF as DEL.
#[test]
fn evictions_are_written_to_the_aof_as_del() {
    let Some(ember) = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]) else {
        return;
    };
    let mut c = ember.client();
    write_keys(&mut c, "k", 100, 10, None);
    config_set(&mut c, "maxmemory-policy", "allkeys-lru");
    config_set(&mut c, "maxmemory", "1");
    let _: () = redis::cmd("PING").query(&mut c).unwrap();
    // A run is time-limited (`maxmemory-eviction-tenacity`); on a busy
    // machine the background runs finish the job.
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(&mut c, "stats", "evicted_keys") < 100 {
        assert!(Instant::now() < deadline, "not every key evicted");
        std::thread::sleep(Duration::from_millis(20));
    }
    config_set(&mut c, "maxmemory", "0");
    assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 100);
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut c)
        .unwrap();
    // The AOF's incremental file: every key's SET, then its DEL.
    let dir = ember.dir().join("appendonlydir");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut text = String::new();
        for f in std::fs::read_dir(&dir).unwrap() {
            let p = f.unwrap().path();
            if p.to_string_lossy().ends_with(".incr.aof") {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
        let dels = (0..100)
            .filter(|i| {
                text.contains(&format!(
                    "*2\r\n$3\r\nDEL\r\n${}\r\nk{i}\r\n",
                    format!("k{i}").len()
                ))
            })
            .count();
        if dels == 100 && text.contains("after") {
            // Each DEL comes after its key's SET and before the next write.
            let last_del = text.rfind("DEL").unwrap();
            assert!(text.rfind("after").unwrap() > last_del);
            break;
        }
        assert!(Instant::now() < deadline, "{dels} DELs in the AOF:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CONFIG SET maxmemory below the usage evicts at the next command (for
/// the run's time limit, `maxmemory-eviction-tenacity`), then goes on in
/// the background until under the limit.
#[test]
fn lowering_maxmemory_evicts_down_to_the_new_limit() {
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let mut c = ember.client();
    config_set(&mut c, "maxmemory-policy", "allkeys-lru");
    let base = used_memory(&mut c);
    write_keys(&mut c, "k", 5000, 1000, None);
    config_set(&mut c, "maxmemory", &(base + (1 << 20)).to_string());
    assert!(dbsize(&mut c) < 5000, "the next command evicts");
    // The background runs continue until usage is under the limit: wait
    // for that (not just for the key count), then check both.
    let limit = base + (1 << 20) + (64 << 10);
    let deadline = Instant::now() + Duration::from_secs(10);
    while dbsize(&mut c) > 2000 || used_memory(&mut c) > limit {
        assert!(
            Instant::now() < deadline,
            "{} keys left, used_memory {} > {limit}",
            dbsize(&mut c),
            used_memory(&mut c)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(info_u64(&mut c, "stats", "total_eviction_exceeded_time") > 0);
}
