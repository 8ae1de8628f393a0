//! Integration tests of expiry: a million keys expiring at the same moment
//! are reclaimed by active expiry within seconds while the server keeps
//! answering quickly; lazy expiry and the EXPIRE option rules end to end.

mod common;

use common::{RawConn, encode_command};
use redis::cmd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const KEYS: usize = 1_000_000;
const BATCH: usize = 10_000;

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Sends commands `make(i)` for i in 0..KEYS, pipelined in batches, and
/// checks every reply equals `want`.
fn pipeline(conn: &mut RawConn, want: &[u8], make: impl Fn(usize, &mut Vec<u8>)) {
    let mut buf = Vec::new();
    for start in (0..KEYS).step_by(BATCH) {
        buf.clear();
        let end = (start + BATCH).min(KEYS);
        for i in start..end {
            make(i, &mut buf);
        }
        conn.send(&buf);
        let replies = conn.read_replies(end - start);
        assert_eq!(replies, want.repeat(end - start), "batch at {start}");
    }
}

fn dbsize(conn: &mut RawConn) -> i64 {
    let r = conn.cmd(&[b"DBSIZE"]);
    std::str::from_utf8(&r[1..r.len() - 2])
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_million_keys_expiring_together_are_reclaimed_without_stalling() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut load = server.raw();
    load.set_timeout(Duration::from_secs(60));
    let t = Instant::now();
    pipeline(&mut load, b"+OK\r\n", |i, buf| {
        let k = format!("key:{i}");
        buf.extend(encode_command(&[b"SET", k.as_bytes(), b"v"]));
    });
    let set_time = t.elapsed();
    // Every key gets the same absolute expiry, far enough ahead for the
    // second pass to finish first (it costs about as much as the first).
    let at = unix_ms() + (set_time.as_millis() as i64) * 2 + 2000;
    let at_s = at.to_string();
    pipeline(&mut load, b":1\r\n", |i, buf| {
        let k = format!("key:{i}");
        buf.extend(encode_command(&[
            b"PEXPIREAT",
            k.as_bytes(),
            at_s.as_bytes(),
        ]));
    });
    let mut probe = server.raw();
    probe.cmd(&[b"SET", b"live", b"v"]);
    assert_eq!(
        dbsize(&mut probe),
        KEYS as i64 + 1,
        "keys expired before the deadline"
    );
    while unix_ms() < at {
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    let mut worst_ping = Duration::ZERO;
    let mut worst_get = Duration::ZERO;
    loop {
        let t = Instant::now();
        assert_eq!(probe.cmd(&[b"PING"]), b"+PONG\r\n");
        worst_ping = worst_ping.max(t.elapsed());
        let t = Instant::now();
        assert_eq!(probe.cmd(&[b"GET", b"live"]), b"$1\r\nv\r\n");
        worst_get = worst_get.max(t.elapsed());
        let n = dbsize(&mut probe);
        if n == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{n} keys left after 20 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    println!(
        "reclaimed {KEYS} keys in {took:?}; worst PING {worst_ping:?}, worst GET {worst_get:?}"
    );
    // A stall (the cycle holding a shard for the whole reclaim) would be
    // seconds; the bound leaves room for a debug build on a busy machine.
    assert!(
        worst_ping < Duration::from_millis(250),
        "PING took {worst_ping:?}"
    );
    assert!(
        worst_get < Duration::from_millis(250),
        "GET took {worst_get:?}"
    );
}

#[test]
fn lazy_expiry_and_options() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    let _: () = cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let r: i64 = cmd("PEXPIRE").arg("k").arg(40).query(&mut c).unwrap();
    assert_eq!(r, 1);
    let pttl: i64 = cmd("PTTL").arg("k").query(&mut c).unwrap();
    assert!((1..=40).contains(&pttl), "pttl {pttl}");
    let at: i64 = cmd("PEXPIRETIME").arg("k").query(&mut c).unwrap();
    assert!((at - unix_ms()).abs() < 1000);
    std::thread::sleep(Duration::from_millis(60));
    let v: Option<String> = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, None);
    let ttl: i64 = cmd("TTL").arg("k").query(&mut c).unwrap();
    assert_eq!(ttl, -2);
    // A GT on a key without TTL never applies; LT always does.
    let _: () = cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let r: i64 = cmd("EXPIRE")
        .arg("k")
        .arg(100)
        .arg("GT")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 0);
    let r: i64 = cmd("EXPIRE")
        .arg("k")
        .arg(100)
        .arg("LT")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, 1);
    // A time in the past deletes the key.
    let r: i64 = cmd("EXPIREAT").arg("k").arg(1).query(&mut c).unwrap();
    assert_eq!(r, 1);
    let n: i64 = cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0);
    let err = cmd("EXPIRE")
        .arg("k")
        .arg(1)
        .arg("NX")
        .arg("GT")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string().contains("NX and XX, GT or LT options"),
        "{err}"
    );
}
