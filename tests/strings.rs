//! Integration tests of the string commands through the `redis` crate:
//! expiry behaviour (SET EX/PX/EXAT/PXAT, KEEPTTL, GETEX, SETEX/PSETEX,
//! which commands keep or clear a TTL), NX/XX/GET conditions, binary
//! safety, the `proto-max-bulk-len` limits of APPEND/SETRANGE/LCS, and
//! atomicity of counters and multi-key writes under concurrent clients.
//!
//! TTLs are checked by watching keys disappear (or survive) after short
//! sleeps; when the server also knows `PTTL`, the remaining time is checked
//! to be in range as well.

mod common;

use common::Server;
use redis::{Connection, RedisResult, Value};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time given to a key to expire past its TTL in sleep-based checks.
const GRACE: Duration = Duration::from_millis(250);

fn start() -> Option<(Server, Connection)> {
    let server = Server::start(&["--proto-max-bulk-len", "1mb"])?;
    let conn = server.client();
    Some((server, conn))
}

fn cmd(conn: &mut Connection, args: &[&str]) -> RedisResult<Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(conn)
}

fn get(conn: &mut Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(conn).unwrap()
}

fn get_str(conn: &mut Connection, key: &str) -> Option<String> {
    get(conn, key).map(|v| String::from_utf8(v).unwrap())
}

fn err_text(r: RedisResult<Value>) -> String {
    let e = r.expect_err("expected an error reply");
    // The crate splits the code from the message; put them back together.
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

/// The key's remaining TTL in ms, or `None` when the server has no PTTL
/// command yet (then only the sleep-based checks run).
fn pttl(conn: &mut Connection, key: &str) -> Option<i64> {
    match redis::cmd("PTTL").arg(key).query::<i64>(conn) {
        Ok(ms) => Some(ms),
        Err(e) if e.to_string().contains("unknown command") => {
            println!("NOTICE: PTTL not available; TTL values not checked");
            None
        }
        Err(e) => panic!("PTTL {key}: {e}"),
    }
}

fn assert_pttl_in(conn: &mut Connection, key: &str, lo: i64, hi: i64) {
    if let Some(ms) = pttl(conn, key) {
        assert!(
            (lo..=hi).contains(&ms),
            "PTTL {key} = {ms}, expected {lo}..={hi}"
        );
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn set_with_expiry_options_expires_the_key() {
    let Some((_s, mut c)) = start() else { return };
    assert_eq!(
        cmd(&mut c, &["SET", "px", "v", "PX", "150"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut c, &["SET", "ex", "v", "EX", "100"]).unwrap(),
        Value::Okay
    );
    let at = (unix_ms() + 150).to_string();
    assert_eq!(
        cmd(&mut c, &["SET", "pxat", "v", "PXAT", &at]).unwrap(),
        Value::Okay
    );
    let at_s = (unix_ms() / 1000 + 100).to_string();
    assert_eq!(
        cmd(&mut c, &["SET", "exat", "v", "EXAT", &at_s]).unwrap(),
        Value::Okay
    );
    assert_pttl_in(&mut c, "px", 1, 150);
    assert_pttl_in(&mut c, "ex", 99_000, 100_000);
    assert_pttl_in(&mut c, "exat", 98_000, 100_000);
    assert_eq!(get_str(&mut c, "px").as_deref(), Some("v"));
    assert_eq!(get_str(&mut c, "pxat").as_deref(), Some("v"));
    thread::sleep(Duration::from_millis(150) + GRACE);
    assert_eq!(get(&mut c, "px"), None);
    assert_eq!(get(&mut c, "pxat"), None);
    assert_eq!(get_str(&mut c, "ex").as_deref(), Some("v"));
    assert_eq!(get_str(&mut c, "exat").as_deref(), Some("v"));
    // An absolute time already past: the key is invisible at once.
    assert_eq!(
        cmd(&mut c, &["SET", "past", "v", "PXAT", "1"]).unwrap(),
        Value::Okay
    );
    assert_eq!(get(&mut c, "past"), None);
}

#[test]
fn keepttl_keeps_and_plain_set_clears_the_ttl() {
    let Some((_s, mut c)) = start() else { return };
    cmd(&mut c, &["SET", "kept", "v", "PX", "200"]).unwrap();
    cmd(&mut c, &["SET", "cleared", "v", "PX", "200"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["SET", "kept", "w", "KEEPTTL"]).unwrap(),
        Value::Okay
    );
    assert_eq!(cmd(&mut c, &["SET", "cleared", "w"]).unwrap(), Value::Okay);
    assert_pttl_in(&mut c, "kept", 1, 200);
    assert_pttl_in(&mut c, "cleared", -1, -1);
    assert_eq!(get_str(&mut c, "kept").as_deref(), Some("w"));
    thread::sleep(Duration::from_millis(200) + GRACE);
    assert_eq!(get(&mut c, "kept"), None);
    assert_eq!(get_str(&mut c, "cleared").as_deref(), Some("w"));
}

#[test]
fn getex_changes_and_removes_the_ttl() {
    let Some((_s, mut c)) = start() else { return };
    cmd(&mut c, &["SET", "a", "1"]).unwrap();
    cmd(&mut c, &["SET", "b", "2", "PX", "200"]).unwrap();
    cmd(&mut c, &["SET", "c", "3"]).unwrap();
    cmd(&mut c, &["SET", "d", "4", "PX", "200"]).unwrap();
    let got: String = redis::cmd("GETEX")
        .arg("a")
        .arg("PX")
        .arg(200)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, "1");
    let got: String = redis::cmd("GETEX")
        .arg("b")
        .arg("PERSIST")
        .query(&mut c)
        .unwrap();
    assert_eq!(got, "2");
    let got: String = redis::cmd("GETEX").arg("d").query(&mut c).unwrap();
    assert_eq!(got, "4");
    assert_pttl_in(&mut c, "a", 1, 200);
    assert_pttl_in(&mut c, "b", -1, -1);
    // An absolute time in the past deletes the key, after answering it.
    let got: String = redis::cmd("GETEX")
        .arg("c")
        .arg("EXAT")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, "3");
    assert_eq!(get(&mut c, "c"), None);
    thread::sleep(Duration::from_millis(200) + GRACE);
    assert_eq!(get(&mut c, "a"), None);
    assert_eq!(get_str(&mut c, "b").as_deref(), Some("2"));
    assert_eq!(get(&mut c, "d"), None, "plain GETEX keeps the TTL");
    assert_eq!(
        err_text(cmd(&mut c, &["GETEX", "b", "EX", "0"])),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(
        cmd(&mut c, &["GETEX", "missing", "EX", "0"]).unwrap(),
        Value::Nil
    );
}

#[test]
fn setex_psetex_and_commands_that_keep_or_clear_ttls() {
    let Some((_s, mut c)) = start() else { return };
    assert_eq!(
        cmd(&mut c, &["PSETEX", "p", "200", "v"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut c, &["SETEX", "s", "100", "v"]).unwrap(),
        Value::Okay
    );
    assert_pttl_in(&mut c, "s", 99_000, 100_000);
    // In-place modifications keep the TTL.
    for (key, init) in [
        ("incr", "1"),
        ("float", "1.5"),
        ("app", "x"),
        ("rng", "abc"),
    ] {
        cmd(&mut c, &["SET", key, init, "PX", "200"]).unwrap();
    }
    assert_eq!(cmd(&mut c, &["INCR", "incr"]).unwrap(), Value::Int(2));
    let f: String = redis::cmd("INCRBYFLOAT")
        .arg("float")
        .arg("1")
        .query(&mut c)
        .unwrap();
    assert_eq!(f, "2.5");
    assert_eq!(cmd(&mut c, &["APPEND", "app", "y"]).unwrap(), Value::Int(2));
    assert_eq!(
        cmd(&mut c, &["SETRANGE", "rng", "1", "Z"]).unwrap(),
        Value::Int(3)
    );
    // Replacing commands clear it.
    for key in ["getset", "mset"] {
        cmd(&mut c, &["SET", key, "old", "PX", "200"]).unwrap();
    }
    let old: String = redis::cmd("GETSET")
        .arg("getset")
        .arg("new")
        .query(&mut c)
        .unwrap();
    assert_eq!(old, "old");
    assert_eq!(
        cmd(&mut c, &["MSET", "mset", "new", "other", "x"]).unwrap(),
        Value::Okay
    );
    thread::sleep(Duration::from_millis(200) + GRACE);
    for key in ["p", "incr", "float", "app", "rng"] {
        assert_eq!(get(&mut c, key), None, "{key} should have expired");
    }
    assert_eq!(get_str(&mut c, "s").as_deref(), Some("v"));
    assert_eq!(get_str(&mut c, "getset").as_deref(), Some("new"));
    assert_eq!(get_str(&mut c, "mset").as_deref(), Some("new"));
}

#[test]
fn set_conditions_and_get_option() {
    let Some((_s, mut c)) = start() else { return };
    assert_eq!(cmd(&mut c, &["SET", "k", "v1", "XX"]).unwrap(), Value::Nil);
    assert_eq!(get(&mut c, "k"), None);
    assert_eq!(cmd(&mut c, &["SET", "k", "v1", "NX"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["SET", "k", "v2", "NX"]).unwrap(), Value::Nil);
    assert_eq!(get_str(&mut c, "k").as_deref(), Some("v1"));
    // GET answers the old value whether or not the condition lets SET run.
    let old: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v3")
        .arg("NX")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(old.as_deref(), Some("v1"));
    assert_eq!(get_str(&mut c, "k").as_deref(), Some("v1"));
    let old: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v4")
        .arg("XX")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(old.as_deref(), Some("v1"));
    assert_eq!(get_str(&mut c, "k").as_deref(), Some("v4"));
    let old: Option<String> = redis::cmd("SET")
        .arg("new")
        .arg("n")
        .arg("GET")
        .query(&mut c)
        .unwrap();
    assert_eq!(old, None);
    assert_eq!(get_str(&mut c, "new").as_deref(), Some("n"));
    assert_eq!(cmd(&mut c, &["SETNX", "new", "x"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["SETNX", "new2", "x"]).unwrap(), Value::Int(1));
    assert_eq!(
        cmd(&mut c, &["MSETNX", "new2", "a", "new3", "b"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        get(&mut c, "new3"),
        None,
        "MSETNX sets nothing when one key exists"
    );
    assert_eq!(
        err_text(cmd(&mut c, &["SET", "k", "v", "EX", "10", "KEEPTTL"])),
        "ERR syntax error"
    );
    assert_eq!(
        err_text(cmd(&mut c, &["SET", "k", "v", "PX", "9223372036854775807"])),
        "ERR invalid expire time in 'set' command"
    );
}

#[test]
fn values_are_binary_safe() {
    let Some((_s, mut c)) = start() else { return };
    let all: Vec<u8> = (0..=255u8).rev().collect();
    let _: () = redis::cmd("SET")
        .arg("bin")
        .arg(&all[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(get(&mut c, "bin").as_deref(), Some(&all[..]));
    let n: i64 = redis::cmd("APPEND")
        .arg("bin")
        .arg(&b"\0\r\n"[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 259);
    let tail: Vec<u8> = redis::cmd("GETRANGE")
        .arg("bin")
        .arg(-4)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(tail, b"\0\0\r\n");
    let n: i64 = redis::cmd("SETRANGE")
        .arg("pad")
        .arg(3)
        .arg(&b"\xff"[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(get(&mut c, "pad").as_deref(), Some(&b"\0\0\0\xff"[..]));
    // A 100 kB value (not embedded, not inline) round-trips intact.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(get(&mut c, "big").as_deref(), Some(&big[..]));
    let n: i64 = redis::cmd("STRLEN").arg("big").query(&mut c).unwrap();
    assert_eq!(n, 100_000);
}

#[test]
fn size_limits_follow_proto_max_bulk_len() {
    // The server runs with proto-max-bulk-len 1mb.
    let Some((_s, mut c)) = start() else { return };
    const LIMIT: i64 = 1 << 20;
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(
        err_text(cmd(&mut c, &["SETRANGE", "s", &LIMIT.to_string(), "x"])),
        too_big
    );
    assert_eq!(get(&mut c, "s"), None);
    let last = (LIMIT - 1).to_string();
    assert_eq!(
        cmd(&mut c, &["SETRANGE", "s", &last, "x"]).unwrap(),
        Value::Int(LIMIT)
    );
    assert_eq!(err_text(cmd(&mut c, &["APPEND", "s", "y"])), too_big);
    assert_eq!(
        err_text(cmd(&mut c, &["SETRANGE", "s", &LIMIT.to_string(), "x"])),
        too_big
    );
    // Writing nothing is never too big.
    assert_eq!(
        cmd(&mut c, &["APPEND", "s", ""]).unwrap(),
        Value::Int(LIMIT)
    );
    assert_eq!(
        cmd(&mut c, &["SETRANGE", "s", "99999999999", ""]).unwrap(),
        Value::Int(LIMIT)
    );
    // LCS refuses a table larger than the limit: 600 x 600 x 4 bytes > 1 MiB.
    let a = "a".repeat(600);
    cmd(&mut c, &["MSET", "x", &a, "y", &a]).unwrap();
    assert_eq!(
        err_text(cmd(&mut c, &["LCS", "x", "y", "LEN"])),
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    );
    cmd(&mut c, &["SET", "y", &a[..400]]).unwrap();
    assert_eq!(
        cmd(&mut c, &["LCS", "x", "y", "LEN"]).unwrap(),
        Value::Int(400)
    );
}

#[test]
fn lcs_finds_a_longest_common_subsequence() {
    let Some((_s, mut c)) = start() else { return };
    cmd(&mut c, &["MSET", "a", "ohmytext", "b", "mynewtext"]).unwrap();
    let s: String = redis::cmd("LCS").arg("a").arg("b").query(&mut c).unwrap();
    assert_eq!(s, "mytext");
    // IDX: matches from the end of the strings backwards, then the length.
    let v = cmd(
        &mut c,
        &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    )
    .unwrap();
    let expected = Value::Array(vec![
        Value::BulkString(b"matches".to_vec()),
        Value::Array(vec![Value::Array(vec![
            Value::Array(vec![Value::Int(4), Value::Int(7)]),
            Value::Array(vec![Value::Int(5), Value::Int(8)]),
            Value::Int(4),
        ])]),
        Value::BulkString(b"len".to_vec()),
        Value::Int(6),
    ]);
    assert_eq!(v, expected);
}

#[test]
fn multi_key_writes_and_counters_are_atomic() {
    let Some((server, mut c)) = start() else {
        return;
    };
    // MSET/MGET over many keys (spread over every shard).
    let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
    let mut mset = redis::cmd("MSET");
    for (i, k) in keys.iter().enumerate() {
        mset.arg(k).arg(i);
    }
    let _: () = mset.query(&mut c).unwrap();
    let vals: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
    assert_eq!(vals, (0..200).collect::<Vec<i64>>());

    // Concurrent INCRBY / INCRBYFLOAT / APPEND from several clients.
    const THREADS: usize = 4;
    const ROUNDS: usize = 300;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut conn = server.client();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let _: i64 = redis::cmd("INCRBY")
                        .arg("ctr")
                        .arg(2)
                        .query(&mut conn)
                        .unwrap();
                    let _: String = redis::cmd("INCRBYFLOAT")
                        .arg("flt")
                        .arg("0.5")
                        .query(&mut conn)
                        .unwrap();
                    let _: i64 = redis::cmd("APPEND")
                        .arg("log")
                        .arg("x")
                        .query(&mut conn)
                        .unwrap();
                    // Two keys set together are always seen together.
                    let _: () = redis::cmd("MSET")
                        .arg("p:{a}")
                        .arg("same")
                        .arg("p:{b}")
                        .arg("same")
                        .query(&mut conn)
                        .unwrap();
                    let _: () = redis::cmd("MSET")
                        .arg("p:{a}")
                        .arg("other")
                        .arg("p:{b}")
                        .arg("other")
                        .query(&mut conn)
                        .unwrap();
                    let pair: Vec<String> = redis::cmd("MGET")
                        .arg("p:{a}")
                        .arg("p:{b}")
                        .query(&mut conn)
                        .unwrap();
                    assert_eq!(pair[0], pair[1], "MSET must be atomic");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total = (THREADS * ROUNDS) as i64;
    let n: i64 = redis::cmd("GET").arg("ctr").query(&mut c).unwrap();
    assert_eq!(n, 2 * total);
    let f: String = redis::cmd("GET").arg("flt").query(&mut c).unwrap();
    assert_eq!(f, (total / 2).to_string());
    let n: i64 = redis::cmd("STRLEN").arg("log").query(&mut c).unwrap();
    assert_eq!(n, total);
}

#[test]
fn counter_errors() {
    let Some((_s, mut c)) = start() else { return };
    cmd(&mut c, &["SET", "max", "9223372036854775807"]).unwrap();
    assert_eq!(
        err_text(cmd(&mut c, &["INCR", "max"])),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err_text(cmd(&mut c, &["DECRBY", "max", "-9223372036854775808"])),
        "ERR decrement would overflow"
    );
    cmd(&mut c, &["SET", "txt", "12a"]).unwrap();
    assert_eq!(
        err_text(cmd(&mut c, &["INCR", "txt"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err_text(cmd(&mut c, &["INCRBYFLOAT", "txt", "1"])),
        "ERR value is not a valid float"
    );
    cmd(&mut c, &["SET", "f", "1"]).unwrap();
    assert_eq!(
        err_text(cmd(&mut c, &["INCRBYFLOAT", "f", "inf"])),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(get_str(&mut c, "f").as_deref(), Some("1"));
    // A string made of digits by APPEND counts like an integer.
    cmd(&mut c, &["APPEND", "digits", "12"]).unwrap();
    cmd(&mut c, &["APPEND", "digits", "34"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["DECRBY", "digits", "1234"]).unwrap(),
        Value::Int(0)
    );
}
