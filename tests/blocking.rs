//! Blocking list commands across connections and worker threads: FIFO
//! service, timeouts (float, 0 = forever, RESP3 null), disconnects without
//! leaks, CLIENT UNBLOCK in both modes, wake-ups by LMOVE, RENAME and
//! MULTI/EXEC, BLMOVE between keys of different shards, pipelined
//! requests held while blocked, and a producers/consumers stress test in
//! which every element must be received exactly once.

mod common;

use common::{RawConn, Server, blocked_clients, wait_blocked};
use redis::{Value, cmd};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn start() -> Option<Server> {
    Server::start(&["--server-threads", "4"])
}

fn raw(server: &Server) -> RawConn {
    RawConn::connect(&server.addr()).unwrap()
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn key_elem(k: &str, v: &str) -> Vec<u8> {
    format!("*2\r\n{}{}", bulk(k), bulk(v)).into_bytes()
}

#[test]
fn clients_are_served_in_the_order_they_blocked() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    let mut waiters = Vec::new();
    for i in 0..6 {
        let mut c = raw(&server);
        c.send(b"BLPOP q 0\r\n");
        wait_blocked(&mut admin, i + 1);
        waiters.push(c);
    }
    let list: String = cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(
        list.lines()
            .filter(|l| l.contains("flags=b ") && l.contains("cmd=blpop"))
            .count(),
        6
    );
    // One push of six elements: each waiter gets the next one, in order.
    let _: i64 = cmd("RPUSH")
        .arg("q")
        .arg(&["0", "1", "2", "3", "4", "5"])
        .query(&mut admin)
        .unwrap();
    for (i, c) in waiters.iter_mut().enumerate() {
        assert_eq!(c.read_reply(), key_elem("q", &i.to_string()));
    }
    assert_eq!(blocked_clients(&mut admin), 0);
    let n: i64 = cmd("EXISTS").arg("q").query(&mut admin).unwrap();
    assert_eq!(n, 0, "every element was handed out");
}

#[test]
fn timeouts_float_forever_and_resp3() {
    let Some(server) = start() else { return };
    let mut c = server.client();
    let t = Instant::now();
    let v: Value = cmd("BLPOP").arg("nokey").arg(0.25).query(&mut c).unwrap();
    assert_eq!(v, Value::Nil);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(240), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    let mut r = raw(&server);
    r.cmd(&[b"HELLO", b"3"]);
    assert_eq!(r.cmd(&[b"BLPOP", b"nokey", b"0.05"]), b"_\r\n");
    assert_eq!(
        r.cmd(&[b"BLMOVE", b"nokey", b"x", b"LEFT", b"LEFT", b"0.05"]),
        b"_\r\n"
    );
    assert_eq!(
        r.cmd(&[b"BLMPOP", b"0.05", b"1", b"nokey", b"LEFT"]),
        b"_\r\n"
    );
    // 0 waits as long as it takes.
    let mut f = raw(&server);
    f.send(b"BRPOP forever 0\r\n");
    std::thread::sleep(Duration::from_millis(300));
    wait_blocked(&mut c, 1);
    let _: i64 = cmd("LPUSH").arg("forever").arg("x").query(&mut c).unwrap();
    assert_eq!(f.read_reply(), key_elem("forever", "x"));
    // A RESP3 client served by a push gets a RESP3 reply.
    r.send(b"BLMPOP 0 1 three RIGHT COUNT 5\r\n");
    wait_blocked(&mut c, 1);
    let _: i64 = cmd("RPUSH")
        .arg("three")
        .arg(&["a", "b"])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        r.read_reply(),
        b"*2\r\n$5\r\nthree\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n".to_vec()
    );
}

#[test]
fn a_disconnected_waiter_leaks_nothing() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    {
        let mut gone = raw(&server);
        gone.send(b"BLPOP q1 q2 0\r\n");
        let mut gone2 = raw(&server);
        gone2.send(b"BLMOVE q1 elsewhere LEFT LEFT 0\r\n");
        wait_blocked(&mut admin, 2);
    }
    wait_blocked(&mut admin, 0);
    let _: i64 = cmd("RPUSH").arg("q1").arg("x").query(&mut admin).unwrap();
    let _: i64 = cmd("RPUSH").arg("q2").arg("y").query(&mut admin).unwrap();
    let n: i64 = cmd("LLEN").arg("q1").query(&mut admin).unwrap();
    assert_eq!(n, 1, "a dead client took the element");
    let n: i64 = cmd("LLEN").arg("q2").query(&mut admin).unwrap();
    assert_eq!(n, 1);
    // A live waiter behind a dead one is still served.
    let mut dead = raw(&server);
    dead.send(b"BLPOP z 0\r\n");
    wait_blocked(&mut admin, 1);
    let mut live = raw(&server);
    live.send(b"BLPOP z 0\r\n");
    wait_blocked(&mut admin, 2);
    drop(dead);
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("RPUSH").arg("z").arg("v").query(&mut admin).unwrap();
    assert_eq!(live.read_reply(), key_elem("z", "v"));
}

#[test]
fn client_unblock_timeout_and_error() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    let mut b = raw(&server);
    let id = String::from_utf8(b.cmd(&[b"CLIENT", b"ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(&id)
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 0, "not blocked yet");
    b.send(b"BLPOP k 0\r\n");
    wait_blocked(&mut admin, 1);
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(&id)
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(b.read_reply(), b"*-1\r\n");
    b.send(b"BLMOVE k d LEFT LEFT 0\r\n");
    wait_blocked(&mut admin, 1);
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(&id)
        .arg("ERROR")
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        b.read_reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(blocked_clients(&mut admin), 0);
    // The unblocked client is gone from the queue: a push stays.
    let _: i64 = cmd("RPUSH").arg("k").arg("x").query(&mut admin).unwrap();
    let n: i64 = cmd("LLEN").arg("k").query(&mut admin).unwrap();
    assert_eq!(n, 1);
    assert_eq!(b.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn wakeups_by_lmove_rename_and_exec() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    // LMOVE into the awaited key.
    let mut w = raw(&server);
    w.send(b"BLPOP target 0\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("RPUSH").arg("from").arg("m").query(&mut admin).unwrap();
    let _: String = cmd("LMOVE")
        .arg("from")
        .arg("target")
        .arg("LEFT")
        .arg("RIGHT")
        .query(&mut admin)
        .unwrap();
    assert_eq!(w.read_reply(), key_elem("target", "m"));
    // RENAME onto the awaited key.
    w.send(b"BRPOP renamed 0\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("RPUSH")
        .arg("tmp")
        .arg(&["a", "b"])
        .query(&mut admin)
        .unwrap();
    let _: () = cmd("RENAME")
        .arg("tmp")
        .arg("renamed")
        .query(&mut admin)
        .unwrap();
    assert_eq!(w.read_reply(), key_elem("renamed", "b"));
    // A transaction: served after EXEC, seeing its final state.
    w.send(b"BLPOP tx 0\r\n");
    wait_blocked(&mut admin, 1);
    let mut t = raw(&server);
    t.cmd(&[b"MULTI"]);
    t.cmd(&[b"RPUSH", b"tx", b"1", b"2"]);
    t.cmd(&[b"LPOP", b"tx"]);
    assert_eq!(t.cmd(&[b"EXEC"]), b"*2\r\n:2\r\n$1\r\n1\r\n".to_vec());
    assert_eq!(w.read_reply(), key_elem("tx", "2"));
    // COPY onto the awaited key.
    w.send(b"BLPOP copied 0\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("RPUSH").arg("orig").arg("c").query(&mut admin).unwrap();
    let _: i64 = cmd("COPY")
        .arg("orig")
        .arg("copied")
        .query(&mut admin)
        .unwrap();
    assert_eq!(w.read_reply(), key_elem("copied", "c"));
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn blmove_between_shards_and_chained_waiters() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    // Twenty pairs of keys: with 16 shards most pairs sit in different
    // shards, so the served move needs the destination's shard too.
    for i in 0..20 {
        let mut w = raw(&server);
        let src = format!("src{i}");
        let dst = format!("dst{i}");
        w.send(&common::encode_command(&[
            b"BLMOVE",
            src.as_bytes(),
            dst.as_bytes(),
            b"RIGHT",
            b"LEFT",
            b"0",
        ]));
        wait_blocked(&mut admin, 1);
        // Someone else also waits on the destination.
        let mut d = raw(&server);
        d.send(&common::encode_command(&[b"BLPOP", dst.as_bytes(), b"0"]));
        wait_blocked(&mut admin, 2);
        let _: i64 = cmd("RPUSH")
            .arg(&src)
            .arg(&["a", "b"])
            .query(&mut admin)
            .unwrap();
        assert_eq!(w.read_reply(), bulk("b").into_bytes());
        assert_eq!(d.read_reply(), key_elem(&dst, "b"));
        let rest: Vec<String> = cmd("LRANGE")
            .arg(&src)
            .arg(0)
            .arg(-1)
            .query(&mut admin)
            .unwrap();
        assert_eq!(rest, vec!["a"]);
        let n: i64 = cmd("EXISTS").arg(&dst).query(&mut admin).unwrap();
        assert_eq!(n, 0);
        wait_blocked(&mut admin, 0);
    }
}

#[test]
fn pipelined_requests_wait_behind_a_blocked_command() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    let mut c = raw(&server);
    c.send(b"BLPOP p 0\r\nPING\r\nRPUSH after 1\r\n");
    wait_blocked(&mut admin, 1);
    let n: i64 = cmd("EXISTS").arg("after").query(&mut admin).unwrap();
    assert_eq!(n, 0, "a request after the blocked one ran");
    let _: i64 = cmd("RPUSH").arg("p").arg("x").query(&mut admin).unwrap();
    assert_eq!(c.read_reply(), key_elem("p", "x"));
    assert_eq!(c.read_reply(), b"+PONG\r\n");
    assert_eq!(c.read_reply(), b":1\r\n");
}

#[test]
fn producers_and_consumers_every_element_exactly_once() {
    let Some(server) = start() else { return };
    let addr = server.addr();
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 400;
    const CONSUMERS: usize = 6;
    let total = PRODUCERS * PER_PRODUCER;
    let keys = ["s0", "s1", "s2"];
    let received = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..CONSUMERS {
        let addr = addr.clone();
        let received = received.clone();
        let count = count.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = common::connect(&addr);
            let start = Instant::now();
            while count.load(Ordering::SeqCst) < total {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "stress test stuck"
                );
                let v: Option<(String, String)> =
                    cmd("BLPOP").arg(&keys).arg(0.2).query(&mut c).unwrap();
                if let Some((_, e)) = v {
                    received.lock().unwrap().push(e);
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    for p in 0..PRODUCERS {
        let addr = addr.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = common::connect(&addr);
            for i in 0..PER_PRODUCER {
                let key = keys[(i + p) % keys.len()];
                let cmd_name = if i % 2 == 0 { "RPUSH" } else { "LPUSH" };
                let _: i64 = cmd(cmd_name)
                    .arg(key)
                    .arg(format!("{p}:{i}"))
                    .query(&mut c)
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let got = received.lock().unwrap();
    assert_eq!(got.len(), total, "elements received");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), total, "an element was received twice");
    let mut admin = server.client();
    for k in keys {
        let n: i64 = cmd("EXISTS").arg(k).query(&mut admin).unwrap();
        assert_eq!(n, 0);
    }
    wait_blocked(&mut admin, 0);
}
