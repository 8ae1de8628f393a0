//! MULTI/EXEC/WATCH across connections and threads: another client's write
//! (or an expiry) fails a watching EXEC; EXEC is atomic against concurrent
//! writers on other threads.

mod common;

use common::Server;
use redis::Commands;
use std::time::Duration;

#[test]
fn write_from_another_client_fails_exec() {
    let Some(server) = Server::start(&["--server-threads", "2"]) else {
        return;
    };
    let mut a = server.client();
    let mut b = server.client();
    let _: () = a.set("k", 1).unwrap();
    let _: () = redis::cmd("WATCH").arg("k").query(&mut a).unwrap();
    let _: () = b.set("k", 2).unwrap();
    let res: Option<(String,)> = redis::pipe()
        .atomic()
        .set("other", 1)
        .query(&mut a)
        .unwrap();
    assert_eq!(res, None, "EXEC must fail after another client's write");
    let other: Option<i64> = a.get("other").unwrap();
    assert_eq!(other, None);
    // Without the interfering write, the same transaction runs.
    let _: () = redis::cmd("WATCH").arg("k").query(&mut a).unwrap();
    let res: Option<(String,)> = redis::pipe()
        .atomic()
        .set("other", 1)
        .query(&mut a)
        .unwrap();
    assert_eq!(res, Some(("OK".to_string(),)));
}

#[test]
fn expiry_of_a_watched_key_fails_exec() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut a = server.client();
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg(1)
        .arg("PX")
        .arg(100)
        .query(&mut a)
        .unwrap();
    let _: () = redis::cmd("WATCH").arg("ttl").query(&mut a).unwrap();
    std::thread::sleep(Duration::from_millis(250));
    let res: Option<(String,)> = redis::pipe().atomic().set("x", 1).query(&mut a).unwrap();
    assert_eq!(res, None, "a watched key that expired fails the EXEC");
}

#[test]
fn exec_is_atomic_against_writers_on_other_threads() {
    // Two counters always moved together inside MULTI; a concurrent reader
    // using MULTI/EXEC must always see them equal, and the final sum must
    // account for every increment.
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    let addr = server.addr();
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = common::connect(&addr);
                for _ in 0..300 {
                    let _: (i64, i64) = redis::pipe()
                        .atomic()
                        .incr("left", 1)
                        .incr("right", 1)
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    let mut c = server.client();
    let mut checks = 0;
    while writers.iter().any(|w| !w.is_finished()) || checks == 0 {
        let (l, r): (Option<i64>, Option<i64>) = redis::pipe()
            .atomic()
            .get("left")
            .get("right")
            .query(&mut c)
            .unwrap();
        assert_eq!(l, r, "a transaction was seen half done");
        checks += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    let l: i64 = c.get("left").unwrap();
    assert_eq!(l, 1200);
}

#[test]
fn watch_based_optimistic_increment_loses_no_update() {
    // The classic WATCH/GET/MULTI/SET/EXEC retry loop from several threads:
    // every successful EXEC must be counted exactly once.
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    let addr = server.addr();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = common::connect(&addr);
                let mut done = 0;
                while done < 100 {
                    let _: () = redis::cmd("WATCH").arg("cas").query(&mut c).unwrap();
                    let v: Option<i64> = c.get("cas").unwrap();
                    let res: Option<(String,)> = redis::pipe()
                        .atomic()
                        .set("cas", v.unwrap_or(0) + 1)
                        .query(&mut c)
                        .unwrap();
                    if res.is_some() {
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.client();
    let v: i64 = c.get("cas").unwrap();
    assert_eq!(v, 400);
}

#[test]
fn whole_keyspace_commands_run_inside_exec() {
    // EXEC holds every shard; commands that read the whole keyspace must
    // use that view instead of locking again (which would deadlock).
    let Some(server) = Server::start(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut raw = server.raw();
    raw.set_timeout(Duration::from_secs(5));
    assert_eq!(raw.cmd(&[b"SET", b"a", b"1"]), b"+OK\r\n");
    assert_eq!(raw.cmd(&[b"MULTI"]), b"+OK\r\n");
    for cmd in [
        &[&b"INFO"[..], b"keyspace"][..],
        &[b"DEBUG", b"DIGEST"],
        &[b"DEBUG", b"OBJECT", b"a"],
        &[b"DBSIZE"],
        &[b"KEYS", b"*"],
        &[b"SCAN", b"0"],
        &[b"RANDOMKEY"],
        &[b"SWAPDB", b"0", b"1"],
        &[b"SWAPDB", b"0", b"1"],
        &[b"FLUSHALL"],
    ] {
        assert_eq!(raw.cmd(cmd), b"+QUEUED\r\n");
    }
    let reply = raw.cmd(&[b"EXEC"]);
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("*10\r\n"), "{text}");
    assert!(text.contains("db0:keys=1,expires=0"), "{text}");
    assert!(text.contains("encoding:int"), "{text}");
    assert!(text.ends_with("+OK\r\n"), "{text}");
    assert_eq!(raw.cmd(&[b"DBSIZE"]), b":0\r\n");
}
