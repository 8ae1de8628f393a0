//! HyperLogLog commands against `redis-server`: the same PFADD/PFMERGE
//! sequences must leave byte-identical strings (sparse and dense, across
//! `hll-sparse-max-bytes` settings) and PFCOUNT must give identical counts
//! from 100k to 1M elements; PFCOUNT's cache update must reach the AOF as
//! Redis propagates it and fail a WATCH; events and PFSELFTEST as Redis.

mod common;

use common::{Oracle, RawConn, Server, encode_command, escape};
use std::time::{Duration, Instant};

/// `redis-server` and `ember-server`, or `None` when either is missing.
fn servers(args: &[&str]) -> Option<(Server, Server)> {
    let redis = Oracle::start_with(args)?;
    let ember = Server::start(args)?;
    Some((redis, ember))
}

/// A small deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A distinct-enough element: 4..24 bytes from the generator.
    fn element(&mut self) -> Vec<u8> {
        let len = 4 + self.below(20) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn raw(conn: &mut RawConn, args: &[&[u8]]) -> Vec<u8> {
    conn.cmd(args)
}

/// Runs one command on both servers; the raw replies must be equal.
fn both(r: &mut RawConn, e: &mut RawConn, args: &[&[u8]]) -> Vec<u8> {
    let want = raw(r, args);
    let got = raw(e, args);
    assert_eq!(
        escape(&got),
        escape(&want),
        "reply to {:?}",
        args.iter()
            .take(4)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
    );
    want
}

#[test]
fn counts_and_bytes_match_redis_from_100k_to_1m() {
    let Some((redis, ember)) = servers(&[]) else {
        return;
    };
    let mut rc = redis.client();
    let mut ec = ember.client();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let sizes = [100_000u64, 300_000, 1_000_000];
    for (k, &n) in sizes.iter().enumerate() {
        let key = format!("hll{k}");
        let mut added = 0u64;
        let mut checkpoint = 1_000u64;
        while added < n {
            let mut pipe = redis::pipe();
            for _ in 0..20 {
                if added >= n {
                    break;
                }
                let batch = (n - added).min(1_000);
                let elems: Vec<Vec<u8>> = (0..batch).map(|_| rng.element()).collect();
                pipe.cmd("PFADD").arg(&key).arg(elems).ignore();
                added += batch;
            }
            pipe.query::<()>(&mut rc).expect("redis PFADD");
            pipe.query::<()>(&mut ec).expect("ember PFADD");
            if added >= checkpoint {
                let want: u64 = redis::cmd("PFCOUNT").arg(&key).query(&mut rc).unwrap();
                let got: u64 = redis::cmd("PFCOUNT").arg(&key).query(&mut ec).unwrap();
                assert_eq!(got, want, "PFCOUNT {key} after {added} elements");
                checkpoint *= 4;
            }
        }
        let want: u64 = redis::cmd("PFCOUNT").arg(&key).query(&mut rc).unwrap();
        let got: u64 = redis::cmd("PFCOUNT").arg(&key).query(&mut ec).unwrap();
        assert_eq!(got, want, "PFCOUNT {key} of {n} elements");
        // The standard error is 0.81%; five of them is a generous bound.
        let err = (got as f64 - n as f64).abs() / n as f64;
        assert!(err < 0.05, "PFCOUNT {key} = {got} for {n} elements");
        let want: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut rc).unwrap();
        let got: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut ec).unwrap();
        assert_eq!(got.len(), 12304, "dense sketch length");
        assert!(got == want, "GET {key}: bytes differ");
    }
    // The union, and a merge into a new key, byte for byte.
    for c in [&mut rc, &mut ec] {
        let _: () = redis::cmd("PFMERGE")
            .arg("union")
            .arg(&["hll0", "hll1", "hll2"])
            .query(c)
            .unwrap();
    }
    let union: Vec<u64> = [&mut rc, &mut ec]
        .into_iter()
        .map(|c| {
            redis::cmd("PFCOUNT")
                .arg(&["hll0", "hll1", "hll2"])
                .query(c)
                .unwrap()
        })
        .collect();
    assert_eq!(union[1], union[0], "PFCOUNT of three keys");
    let merged: Vec<Vec<u8>> = [&mut rc, &mut ec]
        .into_iter()
        .map(|c| redis::cmd("GET").arg("union").query(c).unwrap())
        .collect();
    assert!(merged[0] == merged[1], "PFMERGE result differs");
}

#[test]
fn random_sparse_and_dense_sequences_match_redis() {
    let Some((redis, ember)) = servers(&[]) else {
        return;
    };
    let mut r = redis.raw();
    let mut e = ember.raw();
    let mut rng = Rng(42);
    let keys: [&[u8]; 4] = [b"a", b"b", b"c", b"d"];
    for limit in ["3000", "0", "40", "700", "25000"] {
        both(&mut r, &mut e, &[b"FLUSHALL"]);
        both(
            &mut r,
            &mut e,
            &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", limit.as_bytes()],
        );
        both(
            &mut r,
            &mut e,
            &[b"CONFIG", b"GET", b"hll-sparse-max-bytes"],
        );
        for _ in 0..400 {
            let key = keys[rng.below(4) as usize];
            let roll = rng.below(100);
            if roll < 70 {
                // Few distinct elements per call keep sketches sparse long.
                let elems: Vec<Vec<u8>> = (0..rng.below(6))
                    .map(|_| format!("e{}", rng.below(30_000)).into_bytes())
                    .collect();
                let mut args: Vec<&[u8]> = vec![b"PFADD", key];
                args.extend(elems.iter().map(Vec::as_slice));
                both(&mut r, &mut e, &args);
            } else if roll < 80 {
                both(&mut r, &mut e, &[b"PFCOUNT", key]);
            } else if roll < 85 {
                both(
                    &mut r,
                    &mut e,
                    &[b"PFCOUNT", key, keys[rng.below(4) as usize]],
                );
            } else if roll < 92 {
                let other = keys[rng.below(4) as usize];
                both(&mut r, &mut e, &[b"PFMERGE", key, other]);
            } else if roll < 94 {
                both(&mut r, &mut e, &[b"PFDEBUG", b"TODENSE", key]);
            } else {
                both(&mut r, &mut e, &[b"PFDEBUG", b"DECODE", key]);
            }
            both(&mut r, &mut e, &[b"GET", key]);
            both(&mut r, &mut e, &[b"OBJECT", b"ENCODING", key]);
        }
        for key in keys {
            both(&mut r, &mut e, &[b"PFDEBUG", b"GETREG", key]);
        }
    }
    both(
        &mut r,
        &mut e,
        &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"-1"],
    );
    both(
        &mut r,
        &mut e,
        &[b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"1kb"],
    );
    both(
        &mut r,
        &mut e,
        &[b"CONFIG", b"GET", b"hll-sparse-max-bytes"],
    );
}

/// The commands of an AOF's incremental file, as raw RESP.
fn incr_aof(server: &Server) -> Vec<u8> {
    let dir = server.dir().join("appendonlydir");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".incr.aof") {
            return std::fs::read(entry.path()).unwrap_or_default();
        }
    }
    Vec::new()
}

#[test]
fn cache_updates_and_conversions_are_propagated_as_redis_does() {
    let Some((redis, ember)) = servers(&["--appendonly", "yes", "--appendfsync", "always"]) else {
        return;
    };
    let mut r = redis.raw();
    let mut e = ember.raw();
    let script: &[&[&[u8]]] = &[
        &[b"PFADD", b"h", b"a", b"b"],
        // Stale cache: recomputed and stored, propagated.
        &[b"PFCOUNT", b"h"],
        // Valid cache: a plain read.
        &[b"PFCOUNT", b"h"],
        &[b"PFCOUNT", b"h", b"nokey"],
        &[b"PFCOUNT", b"nokey"],
        // No register changed: nothing to propagate.
        &[b"PFADD", b"h", b"a"],
        &[b"PFDEBUG", b"ENCODING", b"h"],
        &[b"PFDEBUG", b"DECODE", b"h"],
        // Sparse to dense: forced out.
        &[b"PFDEBUG", b"TODENSE", b"h"],
        &[b"PFDEBUG", b"TODENSE", b"h"],
        &[b"PFADD", b"g", b"x"],
        &[b"PFDEBUG", b"GETREG", b"g"],
        &[b"PFDEBUG", b"GETREG", b"g"],
        // PFMERGE always writes.
        &[b"PFMERGE", b"m"],
        &[b"PFMERGE", b"m", b"h", b"g"],
        &[b"SET", b"end", b"1"],
    ];
    for args in script {
        both(&mut r, &mut e, args);
    }
    let want = incr_aof(&redis);
    assert!(
        want.ends_with(&encode_command(&[b"SET", b"end", b"1"])),
        "redis AOF: {}",
        escape(&want)
    );
    // The one PFCOUNT that stored its cache and both conversions are there.
    let count = |needle: &[u8]| want.windows(needle.len()).filter(|w| *w == needle).count();
    assert_eq!(count(b"PFCOUNT"), 1, "redis AOF: {}", escape(&want));
    assert_eq!(count(b"PFDEBUG"), 2, "redis AOF: {}", escape(&want));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = incr_aof(&ember);
    while got != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        got = incr_aof(&ember);
    }
    assert_eq!(escape(&got), escape(&want), "AOF contents");
}

#[test]
fn pfcount_storing_its_cache_fails_a_watch() {
    let Some((redis, ember)) = servers(&[]) else {
        return;
    };
    for server in [&redis, &ember] {
        let mut a = server.raw();
        let mut b = server.raw();
        let who = server.label();
        assert_eq!(raw(&mut a, &[b"PFADD", b"h", b"x", b"y"]), b":1\r\n");
        // Stale cache: PFCOUNT stores the count, which touches the key.
        raw(&mut a, &[b"WATCH", b"h"]);
        assert_eq!(raw(&mut b, &[b"PFCOUNT", b"h"]), b":2\r\n");
        raw(&mut a, &[b"MULTI"]);
        raw(&mut a, &[b"PING"]);
        assert_eq!(raw(&mut a, &[b"EXEC"]), b"*-1\r\n", "{who}: stale cache");
        // Valid cache: a pure read.
        raw(&mut a, &[b"WATCH", b"h"]);
        assert_eq!(raw(&mut b, &[b"PFCOUNT", b"h"]), b":2\r\n");
        raw(&mut a, &[b"MULTI"]);
        raw(&mut a, &[b"PING"]);
        assert_eq!(
            raw(&mut a, &[b"EXEC"]),
            b"*1\r\n+PONG\r\n",
            "{who}: valid cache"
        );
    }
}

/// Messages a subscriber received up to the sentinel publication.
fn drain_events(sub: &mut RawConn) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let msg = escape(&sub.read_reply());
        if msg.contains("sentinel") {
            return out;
        }
        out.push(msg);
    }
}

#[test]
fn keyspace_events_match_redis() {
    let Some((redis, ember)) = servers(&["--notify-keyspace-events", "KEA"]) else {
        return;
    };
    let script: &[&[&[u8]]] = &[
        &[b"PFADD", b"h", b"a"],
        &[b"PFADD", b"h", b"a"],
        &[b"PFADD", b"h", b"b"],
        &[b"PFCOUNT", b"h"],
        &[b"PFCOUNT", b"h", b"missing"],
        &[b"PFMERGE", b"m", b"h"],
        &[b"PFMERGE", b"m"],
        &[b"PFDEBUG", b"TODENSE", b"m"],
        &[b"SET", b"s", b"x"],
        &[b"PFADD", b"s", b"x"],
    ];
    let mut transcripts = Vec::new();
    for server in [&redis, &ember] {
        let mut c = server.raw();
        let mut sub = server.raw();
        sub.cmd(&[b"PSUBSCRIBE", b"__key*@*__:*"]);
        sub.cmd(&[b"SUBSCRIBE", b"sentinel"]);
        let mut t = Vec::new();
        for args in script {
            t.push(escape(&c.cmd(args)));
            c.cmd(&[b"PUBLISH", b"sentinel", b"-"]);
            t.extend(drain_events(&mut sub));
        }
        transcripts.push(t);
    }
    assert_eq!(transcripts[1], transcripts[0]);
    assert!(transcripts[0].iter().any(|m| m.contains("pfadd")));
}

#[test]
fn pfselftest_passes() {
    let Some((redis, ember)) = servers(&[]) else {
        return;
    };
    for server in [&redis, &ember] {
        let mut c = server.raw();
        c.set_timeout(Duration::from_secs(120));
        assert_eq!(
            c.cmd(&[b"PFSELFTEST"]),
            b"+OK\r\n",
            "{} PFSELFTEST",
            server.label()
        );
    }
}
