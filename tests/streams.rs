//! Integration tests of the stream commands through the `redis` crate and
//! raw RESP: node boundaries (XINFO STREAM's radix-tree figures and what
//! approximate trimming removes) compared with redis-server under several
//! `stream-node-max-*` settings, XRANGE of a small window in a large stream
//! staying fast, XADD from many threads, WATCH signalling, XREAD/XREADGROUP
//! with BLOCK when data is there, and COPY independence.

mod common;

use common::{Oracle, RawConn, Server};
use std::time::{Duration, Instant};

/// XREAD's reply: per stream, its key and its entries.
type ReadReply = Vec<(String, Vec<(String, Vec<(String, String)>)>)>;

fn start() -> Option<Server> {
    Server::start(&[])
}

fn cmd(c: &mut RawConn, line: &str) -> Vec<u8> {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    c.cmd(&args)
}

/// A scripted workload whose replies depend on node boundaries.
fn workload(max_entries: u32, max_bytes: u32) -> Vec<String> {
    let mut lines = vec![
        format!("CONFIG SET stream-node-max-entries {max_entries}"),
        format!("CONFIG SET stream-node-max-bytes {max_bytes}"),
    ];
    for i in 1..=260u64 {
        let body = match i % 5 {
            0 => format!("f1 v{i} f2 {}", "x".repeat((i % 70) as usize + 1)),
            1 => format!("other {i}"),
            2 => format!("f1 {} f2 2", i * 1000),
            _ => format!("f1 v f2 w{i}"),
        };
        lines.push(format!("XADD s {}-{} {body}", i / 3 + 1, i % 3));
    }
    lines.push("XINFO STREAM s".into());
    for i in (3..200u64).step_by(7) {
        lines.push(format!("XDEL s {}-{}", i / 3 + 1, i % 3));
    }
    lines.push("XINFO STREAM s".into());
    lines.push("XTRIM s MAXLEN ~ 200".into());
    lines.push("XINFO STREAM s".into());
    lines.push("XTRIM s MINID ~ 40".into());
    lines.push("XINFO STREAM s".into());
    lines.push("XTRIM s MAXLEN ~ 10 LIMIT 30".into());
    lines.push("XINFO STREAM s".into());
    lines.push("XTRIM s MAXLEN 150".into());
    lines.push("XINFO STREAM s".into());
    lines.push("XADD s MAXLEN ~ 20 1000-0 a b".into());
    lines.push("XINFO STREAM s".into());
    lines.push("XLEN s".into());
    lines.push("XRANGE s - + COUNT 5".into());
    lines.push("XREVRANGE s + - COUNT 5".into());
    lines
}

#[test]
fn node_boundaries_and_trimming_match_redis() {
    let Some(redis) = Oracle::start() else { return };
    let Some(ember) = start() else { return };
    for (entries, bytes) in [(100, 4096), (7, 200), (0, 120), (3, 0), (1, 4096)] {
        let mut r = redis.raw();
        let mut e = ember.raw();
        cmd(&mut r, "FLUSHALL");
        cmd(&mut e, "FLUSHALL");
        for line in workload(entries, bytes) {
            let a = cmd(&mut r, &line);
            let b = cmd(&mut e, &line);
            assert_eq!(
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b),
                "settings ({entries}, {bytes}): {line}"
            );
        }
    }
}

#[test]
fn small_range_in_a_large_stream_is_fast() {
    let Some(s) = start() else { return };
    let mut c = s.client();
    let n = 200_000u64;
    let mut pipe = redis::pipe();
    for i in 1..=n {
        pipe.cmd("XADD")
            .arg("big")
            .arg(format!("{i}-0"))
            .arg("f")
            .arg(i)
            .ignore();
        if i % 20_000 == 0 {
            pipe.query::<()>(&mut c).unwrap();
            pipe = redis::pipe();
        }
    }
    let len: u64 = redis::cmd("XLEN").arg("big").query(&mut c).unwrap();
    assert_eq!(len, n);
    // 500 windows spread over the stream: a scan from the head would read
    // ~50 M entries; a seek reads one node per query.
    let t = Instant::now();
    for k in 0..500u64 {
        let start = 1 + (k * 397) % (n - 10);
        let got: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg("big")
            .arg(start)
            .arg(start + 4)
            .query(&mut c)
            .unwrap();
        assert_eq!(got.len(), 5);
        assert_eq!(got[0].0, format!("{start}-0"));
        let rev: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg("big")
            .arg(start + 4)
            .arg(start)
            .query(&mut c)
            .unwrap();
        assert_eq!(rev[0].0, format!("{}-0", start + 4));
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "1000 small ranges took {:?}",
        t.elapsed()
    );
}

#[test]
fn xadd_from_many_threads_gives_increasing_unique_ids() {
    let Some(s) = start() else { return };
    let addr = s.addr();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = common::connect(&addr);
                let mut ids = Vec::new();
                for i in 0..300 {
                    let id: String = redis::cmd("XADD")
                        .arg("s")
                        .arg("*")
                        .arg("t")
                        .arg(t)
                        .arg("i")
                        .arg(i)
                        .query(&mut c)
                        .unwrap();
                    ids.push(id);
                }
                ids
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(t.join().unwrap());
    }
    let mut c = s.client();
    let len: usize = redis::cmd("XLEN").arg("s").query(&mut c).unwrap();
    assert_eq!(len, 2400);
    let listed: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("s")
        .arg("-")
        .arg("+")
        .query(&mut c)
        .unwrap();
    let mut sorted = all.clone();
    let key = |id: &String| {
        let (a, b) = id.split_once('-').unwrap();
        (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap())
    };
    sorted.sort_by_key(key);
    sorted.dedup();
    assert_eq!(sorted.len(), 2400, "duplicate ids");
    let listed_ids: Vec<String> = listed.into_iter().map(|e| e.0).collect();
    assert_eq!(listed_ids, sorted);
}

#[test]
fn xadd_signals_watchers_and_xread_block_serves_available_data() {
    let Some(s) = start() else { return };
    let mut a = s.client();
    let mut b = s.client();
    let _: () = redis::cmd("WATCH").arg("s").query(&mut a).unwrap();
    let _: String = redis::cmd("XADD")
        .arg("s")
        .arg("1-1")
        .arg("f")
        .arg("v")
        .query(&mut b)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut a).unwrap();
    let _: () = redis::cmd("XLEN").arg("s").query(&mut a).unwrap();
    let res: Option<Vec<u64>> = redis::cmd("EXEC").query(&mut a).unwrap();
    assert_eq!(res, None, "EXEC must fail after another client's XADD");

    // BLOCK with data available answers at once, also for groups.
    let t = Instant::now();
    let got: ReadReply = redis::cmd("XREAD")
        .arg("BLOCK")
        .arg(0)
        .arg("STREAMS")
        .arg("s")
        .arg("0")
        .query(&mut a)
        .unwrap();
    assert_eq!(got[0].1[0].0, "1-1");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("s")
        .arg("g")
        .arg("0")
        .query(&mut a)
        .unwrap();
    let got: ReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g")
        .arg("c")
        .arg("BLOCK")
        .arg(0)
        .arg("STREAMS")
        .arg("s")
        .arg(">")
        .query(&mut a)
        .unwrap();
    assert_eq!(got[0].1[0].1, vec![("f".to_string(), "v".to_string())]);
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn copy_is_independent_and_groups_are_copied() {
    let Some(s) = start() else { return };
    let mut c = s.client();
    for i in 1..=5 {
        let _: String = redis::cmd("XADD")
            .arg("s")
            .arg(format!("{i}-0"))
            .arg("f")
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("s")
        .arg("g")
        .arg("0")
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("COPY").arg("s").arg("d").query(&mut c).unwrap();
    let _: i64 = redis::cmd("XDEL")
        .arg("s")
        .arg("1-0")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg("s")
        .arg("g")
        .query(&mut c)
        .unwrap();
    let len: i64 = redis::cmd("XLEN").arg("d").query(&mut c).unwrap();
    assert_eq!(len, 5);
    let groups: Vec<redis::Value> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg("d")
        .query(&mut c)
        .unwrap();
    assert_eq!(groups.len(), 1);
    let t: String = redis::cmd("TYPE").arg("d").query(&mut c).unwrap();
    assert_eq!(t, "stream");
}

#[test]
fn keyspace_notifications_use_redis_event_names() {
    let Some(s) = start() else { return };
    let mut c = s.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Et")
        .query(&mut c)
        .unwrap();
    let mut sub = s.raw();
    cmd(&mut sub, "PSUBSCRIBE __keyevent@0__:*");
    let script = [
        "XADD s 1-0 f v",
        "XADD s MAXLEN 1 2-0 f v",
        "XDEL s 2-0",
        "XADD s 3-0 f v",
        "XTRIM s MAXLEN 0",
        "XSETID s 10-0",
        "XGROUP CREATE s g $",
        "XGROUP CREATECONSUMER s g c",
        "XGROUP SETID s g 0",
        "XADD s 11-0 f v",
        "XREADGROUP GROUP g d STREAMS s >",
        "XGROUP DELCONSUMER s g d",
        "XGROUP DESTROY s g",
    ];
    let mut raw = s.raw();
    for line in script {
        cmd(&mut raw, line);
    }
    let want = [
        "xadd",
        "xadd",
        "xtrim",
        "xdel",
        "xadd",
        "xtrim",
        "xsetid",
        "xgroup-create",
        "xgroup-createconsumer",
        "xgroup-setid",
        "xadd",
        "xgroup-createconsumer",
        "xgroup-delconsumer",
        "xgroup-destroy",
    ];
    for ev in want {
        let msg = String::from_utf8_lossy(&sub.read_reply()).to_string();
        assert!(
            msg.contains(&format!("__keyevent@0__:{ev}\r\n")),
            "expected {ev}, got {msg:?}"
        );
    }
}
