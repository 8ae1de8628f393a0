//! Integration tests of the generic key commands: SCAN's guarantee while
//! keys are added, cross-database MOVE / COPY / SWAPDB, RENAME across
//! shards, expired keys hidden from KEYS / SCAN / RANDOMKEY.
//!
//! Other databases are inspected with SWAPDB 0 n (no SELECT needed).

mod common;

use redis::{Connection, Value, cmd};
use std::collections::HashSet;

fn set(c: &mut Connection, k: &str, v: &str) {
    let _: () = cmd("SET").arg(k).arg(v).query(c).unwrap();
}

fn get(c: &mut Connection, k: &str) -> Option<String> {
    cmd("GET").arg(k).query(c).unwrap()
}

fn int(c: &mut Connection, args: &[&str]) -> i64 {
    cmd(args[0]).arg(&args[1..]).query(c).unwrap()
}

fn swap(c: &mut Connection, a: u32, b: u32) {
    let _: () = cmd("SWAPDB").arg(a).arg(b).query(c).unwrap();
}

fn scan_all(
    c: &mut Connection,
    extra: &[&str],
    mut between: impl FnMut(&mut Connection),
) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, keys): (String, Vec<String>) =
            cmd("SCAN").arg(&cursor).arg(extra).query(c).unwrap();
        seen.extend(keys);
        if next == "0" {
            return seen;
        }
        cursor = next;
        between(c);
    }
}

#[test]
fn scan_returns_every_key_present_for_the_whole_scan() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    for i in 0..3000 {
        set(&mut c, &format!("base:{i}"), "v");
    }
    let mut added = 0;
    let mut other = server.client();
    let seen = scan_all(&mut c, &["COUNT", "25"], |_| {
        for _ in 0..60 {
            if added < 6000 {
                set(&mut other, &format!("new:{added}"), "v");
                added += 1;
            }
        }
    });
    assert!(added > 1000, "the scan took too few calls to test anything");
    for i in 0..3000 {
        assert!(seen.contains(&format!("base:{i}")), "base:{i} missed");
    }
    // MATCH and TYPE filter; COUNT only bounds the work per call.
    let seen = scan_all(
        &mut c,
        &["MATCH", "base:1*", "COUNT", "100", "TYPE", "STRING"],
        |_| {},
    );
    let want: HashSet<String> = (0..3000)
        .map(|i| format!("base:{i}"))
        .filter(|k| k.starts_with("base:1"))
        .collect();
    assert_eq!(seen, want);
    assert!(scan_all(&mut c, &["TYPE", "list"], |_| {}).is_empty());
}

#[test]
fn scan_cursor_errors_and_forms() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&[b"SCAN", b"x1"]), b"-ERR invalid cursor\r\n");
    assert_eq!(raw.cmd(&[b"SCAN", b" 1"]), b"-ERR invalid cursor\r\n");
    assert_eq!(
        raw.cmd(&[b"SCAN", b"18446744073709551616"]),
        b"-ERR invalid cursor\r\n"
    );
    // strtoul forms Redis accepts.
    assert_eq!(raw.cmd(&[b"SCAN", b""]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(raw.cmd(&[b"SCAN", b"+0"]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(
        raw.cmd(&[b"SCAN", b"0", b"COUNT", b"0"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        raw.cmd(&[b"SCAN", b"0", b"COUNT", b"x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn move_copy_and_swapdb_across_databases() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    set(&mut c, "m", "one");
    assert_eq!(int(&mut c, &["PEXPIRE", "m", "100000"]), 1);
    assert_eq!(int(&mut c, &["MOVE", "m", "1"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "m"]), 0);
    assert_eq!(int(&mut c, &["MOVE", "m", "1"]), 0);
    // Look at database 1 through SWAPDB: the TTL moved with the key.
    swap(&mut c, 0, 1);
    assert_eq!(get(&mut c, "m").as_deref(), Some("one"));
    let ttl = int(&mut c, &["PTTL", "m"]);
    assert!(ttl > 90_000 && ttl <= 100_000, "ttl {ttl}");
    swap(&mut c, 0, 1);
    // MOVE refuses when the target has the key.
    set(&mut c, "m", "zero");
    assert_eq!(int(&mut c, &["MOVE", "m", "1"]), 0);
    assert_eq!(get(&mut c, "m").as_deref(), Some("zero"));

    // COPY into another database, with and without REPLACE.
    set(&mut c, "src", "s");
    assert_eq!(int(&mut c, &["COPY", "src", "m", "DB", "1"]), 0);
    assert_eq!(int(&mut c, &["COPY", "src", "m", "DB", "1", "REPLACE"]), 1);
    assert_eq!(int(&mut c, &["COPY", "src", "src", "DB", "2"]), 1);
    assert_eq!(get(&mut c, "src").as_deref(), Some("s"));
    swap(&mut c, 0, 1);
    assert_eq!(get(&mut c, "m").as_deref(), Some("s"));
    assert_eq!(
        int(&mut c, &["PTTL", "m"]),
        -1,
        "REPLACE dropped the old TTL"
    );
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    swap(&mut c, 0, 1);
    swap(&mut c, 0, 2);
    assert_eq!(get(&mut c, "src").as_deref(), Some("s"));
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    swap(&mut c, 0, 2);
    assert_eq!(int(&mut c, &["DBSIZE"]), 2);

    // FLUSHDB only empties the selected database; FLUSHALL all of them.
    let _: () = cmd("FLUSHDB").query(&mut c).unwrap();
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    swap(&mut c, 0, 1);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    let _: () = cmd("FLUSHALL").arg("ASYNC").query(&mut c).unwrap();
    for db in 1..16 {
        swap(&mut c, 0, db);
        assert_eq!(int(&mut c, &["DBSIZE"]), 0, "db {db}");
    }
}

#[test]
fn rename_and_copy_keep_ttl_across_shards() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    // Many pairs so that source and destination land in different shards.
    for i in 0..64 {
        let (a, b) = (format!("a{i}"), format!("b{i}"));
        set(&mut c, &a, &i.to_string());
        assert_eq!(int(&mut c, &["PEXPIRE", &a, "500000"]), 1);
        let _: () = cmd("RENAME").arg(&a).arg(&b).query(&mut c).unwrap();
        assert_eq!(get(&mut c, &b), Some(i.to_string()));
        assert!(int(&mut c, &["PTTL", &b]) > 400_000);
        assert_eq!(int(&mut c, &["EXISTS", &a]), 0);
        assert_eq!(int(&mut c, &["RENAMENX", &b, &a]), 1);
        set(&mut c, &b, "taken");
        assert_eq!(int(&mut c, &["RENAMENX", &a, &b]), 0);
        assert_eq!(int(&mut c, &["COPY", &a, &b, "REPLACE"]), 1);
        assert!(int(&mut c, &["PTTL", &b]) > 400_000);
    }
    assert_eq!(int(&mut c, &["DBSIZE"]), 128);
    assert_eq!(int(&mut c, &["DEL", "a1", "b1", "a1", "nokey"]), 2);
    assert_eq!(int(&mut c, &["EXISTS", "a2", "a2", "b2", "nokey"]), 3);
    assert_eq!(int(&mut c, &["TOUCH", "a2", "a2", "nokey"]), 2);
    assert_eq!(int(&mut c, &["UNLINK", "a2", "b2"]), 2);
}

#[test]
fn expired_keys_are_hidden_from_whole_keyspace_commands() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    set(&mut c, "live", "v");
    for i in 0..50 {
        let k = format!("gone:{i}");
        set(&mut c, &k, "v");
        assert_eq!(int(&mut c, &["PEXPIRE", &k, "30"]), 1);
    }
    std::thread::sleep(std::time::Duration::from_millis(60));
    let keys: Vec<String> = cmd("KEYS").arg("*").query(&mut c).unwrap();
    assert_eq!(keys, vec!["live".to_string()]);
    assert_eq!(
        scan_all(&mut c, &[], |_| {}),
        HashSet::from(["live".to_string()])
    );
    for _ in 0..20 {
        let k: Option<String> = cmd("RANDOMKEY").query(&mut c).unwrap();
        assert_eq!(k.as_deref(), Some("live"));
    }
    // Everything expired has been reclaimed by now (SCAN deletes what it meets).
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    assert_eq!(int(&mut c, &["TTL", "gone:1"]), -2);
}

#[test]
fn object_subcommands() {
    let Some(server) = common::Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    set(&mut c, "small", "7");
    set(&mut c, "big", "123456");
    set(&mut c, "s", "hello");
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "small"]), 2147483647);
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "big"]), 1);
    assert_eq!(int(&mut c, &["OBJECT", "REFCOUNT", "s"]), 1);
    let enc: String = cmd("OBJECT")
        .arg("ENCODING")
        .arg("s")
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "embstr");
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "s"]) <= 2);
    let v: Value = cmd("OBJECT")
        .arg("IDLETIME")
        .arg("nokey")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil);
    let err = cmd("OBJECT")
        .arg("FREQ")
        .arg("s")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("An LFU maxmemory policy is not selected"),
        "{err}"
    );
    let help: Vec<String> = cmd("OBJECT").arg("HELP").query(&mut c).unwrap();
    assert!(help[0].starts_with("OBJECT <subcommand>"));
    assert!(help.iter().any(|l| l.starts_with("REFCOUNT")));
}
