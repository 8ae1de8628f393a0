//! Blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) across
//! connections and worker threads: FIFO service, wake-ups by every kind of
//! write onto the awaited key (ZADD, ZINCRBY, ZUNIONSTORE, ZRANGESTORE,
//! RENAME, COPY, EXEC), timeouts (float, 0 = forever, RESP3 null),
//! disconnects without leaks, CLIENT UNBLOCK, list and sorted-set waiters
//! on one key, and a producers/consumers stress test in which every member
//! must be received exactly once.

mod common;

use common::{RawConn, Server, blocked_clients, wait_blocked};
use redis::{Connection, Value, cmd};
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

/// BZPOPMIN/BZPOPMAX's RESP2 reply `[key, member, score]`.
fn kms(k: &str, m: &str, s: &str) -> Vec<u8> {
    format!("*3\r\n{}{}{}", bulk(k), bulk(m), bulk(s)).into_bytes()
}

#[test]
fn clients_are_served_in_the_order_they_blocked() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    let mut waiters = Vec::new();
    for i in 0..6 {
        let mut c = raw(&server);
        c.send(b"BZPOPMIN nothing q 0\r\n");
        wait_blocked(&mut admin, i + 1);
        waiters.push(c);
    }
    let list: String = cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(
        list.lines()
            .filter(|l| l.contains("flags=b ") && l.contains("cmd=bzpopmin"))
            .count(),
        6
    );
    // One ZADD of six members: each waiter gets the next lowest, in order.
    let _: i64 = cmd("ZADD")
        .arg("q")
        .arg(&[5, 0, 4, 1, 3, 2].map(|i| (i, format!("m{i}"))))
        .query(&mut admin)
        .unwrap();
    for (i, c) in waiters.iter_mut().enumerate() {
        assert_eq!(c.read_reply(), kms("q", &format!("m{i}"), &i.to_string()));
    }
    assert_eq!(blocked_clients(&mut admin), 0);
    let n: i64 = cmd("EXISTS").arg("q").query(&mut admin).unwrap();
    assert_eq!(n, 0, "every member was handed out");
}

#[test]
fn bzpopmax_and_bzmpop_served_in_both_protocols() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    let mut a = raw(&server);
    a.send(b"BZPOPMAX k1 k2 0\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("ZADD")
        .arg("k2")
        .arg(&[("1", "a"), ("2.5", "b")])
        .query(&mut admin)
        .unwrap();
    assert_eq!(a.read_reply(), kms("k2", "b", "2.5"));
    // BZMPOP with COUNT takes up to COUNT members of the key written.
    a.send(b"BZMPOP 0 2 m1 m2 MAX COUNT 2\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("ZADD")
        .arg("m2")
        .arg(&[(1, "x"), (2, "y"), (3, "z")])
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        a.read_reply(),
        format!(
            "*2\r\n{}*2\r\n*2\r\n{}{}*2\r\n{}{}",
            bulk("m2"),
            bulk("z"),
            bulk("3"),
            bulk("y"),
            bulk("2")
        )
        .into_bytes()
    );
    // RESP3: scores are doubles.
    let mut r = raw(&server);
    r.cmd(&[b"HELLO", b"3"]);
    r.send(b"BZPOPMIN r3 0\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("ZADD")
        .arg("r3")
        .arg(1.5)
        .arg("m")
        .query(&mut admin)
        .unwrap();
    assert_eq!(r.read_reply(), b"*3\r\n$2\r\nr3\r\n$1\r\nm\r\n,1.5\r\n");
    r.send(b"BZMPOP 0 1 r4 MIN\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("ZADD")
        .arg("r4")
        .arg(2)
        .arg("n")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        r.read_reply(),
        b"*2\r\n$2\r\nr4\r\n*1\r\n*2\r\n$1\r\nn\r\n,2\r\n"
    );
}

#[test]
fn timeouts_float_forever_and_resp3() {
    let Some(server) = start() else { return };
    let mut c = server.client();
    let t = Instant::now();
    let v: Value = cmd("BZPOPMIN")
        .arg("nokey")
        .arg(0.25)
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(240), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    let mut r = raw(&server);
    assert_eq!(
        r.cmd(&[b"BZMPOP", b"0.05", b"1", b"nokey", b"MIN"]),
        b"*-1\r\n"
    );
    r.cmd(&[b"HELLO", b"3"]);
    assert_eq!(r.cmd(&[b"BZPOPMAX", b"nokey", b"0.05"]), b"_\r\n");
    assert_eq!(
        r.cmd(&[b"BZMPOP", b"0.05", b"1", b"nokey", b"MAX"]),
        b"_\r\n"
    );
    // 0 waits as long as it takes.
    let mut f = raw(&server);
    f.send(b"BZPOPMIN forever 0\r\n");
    std::thread::sleep(Duration::from_millis(300));
    wait_blocked(&mut c, 1);
    let _: i64 = cmd("ZADD")
        .arg("forever")
        .arg(7)
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert_eq!(f.read_reply(), kms("forever", "x", "7"));
}

#[test]
fn wakeups_by_every_kind_of_write() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    let mut w = raw(&server);
    let expect = |w: &mut RawConn, admin: &mut Connection, key: &str, setup: &[&[&str]]| {
        w.send(&common::encode_command(&[
            b"BZPOPMIN",
            key.as_bytes(),
            b"0",
        ]));
        wait_blocked(admin, 1);
        for line in setup {
            let mut c = cmd(line[0]);
            for a in &line[1..] {
                c.arg(*a);
            }
            let _: Value = c.query(admin).unwrap();
        }
        let reply = w.read_reply();
        assert!(
            reply.starts_with(format!("*3\r\n{}", bulk(key)).as_bytes()),
            "{key}: {}",
            String::from_utf8_lossy(&reply)
        );
        reply
    };
    expect(&mut w, &mut admin, "inc", &[&["ZINCRBY", "inc", "2", "m"]]);
    let r = expect(
        &mut w,
        &mut admin,
        "union",
        &[
            &["ZADD", "src1", "1", "a"],
            &["ZADD", "src2", "2", "b"],
            &["ZUNIONSTORE", "union", "2", "src1", "src2"],
        ],
    );
    assert_eq!(r, kms("union", "a", "1"));
    let r = expect(
        &mut w,
        &mut admin,
        "ranged",
        &[&["ZRANGESTORE", "ranged", "src2", "0", "-1"]],
    );
    assert_eq!(r, kms("ranged", "b", "2"));
    expect(
        &mut w,
        &mut admin,
        "renamed",
        &[&["RENAME", "src1", "renamed"]],
    );
    expect(&mut w, &mut admin, "copied", &[&["COPY", "src2", "copied"]]);
    // A transaction: served after EXEC, seeing its final state.
    w.send(b"BZPOPMAX tx 0\r\n");
    wait_blocked(&mut admin, 1);
    let mut t = raw(&server);
    t.cmd(&[b"MULTI"]);
    t.cmd(&[b"ZADD", b"tx", b"1", b"a", b"2", b"b"]);
    t.cmd(&[b"ZREM", b"tx", b"b"]);
    assert_eq!(t.cmd(&[b"EXEC"]), b"*2\r\n:2\r\n:1\r\n".to_vec());
    assert_eq!(w.read_reply(), kms("tx", "a", "1"));
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn list_and_zset_waiters_on_one_key_each_get_their_type() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    let mut l = raw(&server);
    l.send(b"BLPOP both 0\r\n");
    wait_blocked(&mut admin, 1);
    let mut z = raw(&server);
    z.send(b"BZPOPMIN both 0\r\n");
    wait_blocked(&mut admin, 2);
    // The list waiter is first in line but cannot take from a sorted set.
    let _: i64 = cmd("ZADD")
        .arg("both")
        .arg(1)
        .arg("m")
        .query(&mut admin)
        .unwrap();
    assert_eq!(z.read_reply(), kms("both", "m", "1"));
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("RPUSH").arg("both").arg("e").query(&mut admin).unwrap();
    assert_eq!(
        l.read_reply(),
        format!("*2\r\n{}{}", bulk("both"), bulk("e")).into_bytes()
    );
}

#[test]
fn disconnect_and_client_unblock_leave_no_waiter_behind() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    {
        let mut gone = raw(&server);
        gone.send(b"BZPOPMIN d1 d2 0\r\n");
        let mut gone2 = raw(&server);
        gone2.send(b"BZMPOP 0 1 d1 MAX COUNT 3\r\n");
        wait_blocked(&mut admin, 2);
    }
    wait_blocked(&mut admin, 0);
    let _: i64 = cmd("ZADD")
        .arg("d1")
        .arg(1)
        .arg("x")
        .query(&mut admin)
        .unwrap();
    let n: i64 = cmd("ZCARD").arg("d1").query(&mut admin).unwrap();
    assert_eq!(n, 1, "a dead client took the member");
    let mut b = raw(&server);
    let id = String::from_utf8(b.cmd(&[b"CLIENT", b"ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    b.send(b"BZPOPMIN u 0\r\n");
    wait_blocked(&mut admin, 1);
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(&id)
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(b.read_reply(), b"*-1\r\n");
    b.send(b"BZMPOP 0 1 u MIN\r\n");
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
    let _: i64 = cmd("ZADD")
        .arg("u")
        .arg(1)
        .arg("x")
        .query(&mut admin)
        .unwrap();
    let n: i64 = cmd("ZCARD").arg("u").query(&mut admin).unwrap();
    assert_eq!(n, 1, "an unblocked client took the member");
    assert_eq!(b.cmd(&[b"PING"]), b"+PONG\r\n");
    // Inside MULTI the blocking forms answer at once.
    b.cmd(&[b"MULTI"]);
    b.cmd(&[b"BZPOPMIN", b"nokey", b"0"]);
    b.cmd(&[b"BZMPOP", b"0", b"1", b"nokey", b"MIN"]);
    assert_eq!(b.cmd(&[b"EXEC"]), b"*2\r\n*-1\r\n*-1\r\n");
}

#[test]
fn producers_and_consumers_every_member_exactly_once() {
    let Some(server) = start() else { return };
    let addr = server.addr();
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 400;
    const CONSUMERS: usize = 6;
    let total = PRODUCERS * PER_PRODUCER;
    let keys = ["z0", "z1", "z2"];
    let received = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for n in 0..CONSUMERS {
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
                if n % 2 == 0 {
                    let v: Option<(String, String, f64)> =
                        cmd("BZPOPMIN").arg(&keys).arg(0.2).query(&mut c).unwrap();
                    if let Some((_, m, _)) = v {
                        received.lock().unwrap().push(m);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                } else {
                    let v: Option<(String, Vec<(String, f64)>)> = cmd("BZMPOP")
                        .arg(0.2)
                        .arg(keys.len())
                        .arg(&keys)
                        .arg("MAX")
                        .arg("COUNT")
                        .arg(3)
                        .query(&mut c)
                        .unwrap();
                    if let Some((_, ms)) = v {
                        let n = ms.len();
                        received
                            .lock()
                            .unwrap()
                            .extend(ms.into_iter().map(|(m, _)| m));
                        count.fetch_add(n, Ordering::SeqCst);
                    }
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
                let _: i64 = cmd("ZADD")
                    .arg(key)
                    .arg(i)
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
    assert_eq!(got.len(), total, "members received");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), total, "a member was received twice");
    let mut admin = server.client();
    for k in keys {
        let n: i64 = cmd("EXISTS").arg(k).query(&mut admin).unwrap();
        assert_eq!(n, 0);
    }
    wait_blocked(&mut admin, 0);
}

#[test]
fn served_pops_and_reads_notify_as_redis() {
    let Some(server) = Server::start(&["--server-threads", "4", "--notify-keyspace-events", "KEA"])
    else {
        return;
    };
    let mut admin = server.client();
    let mut sub = server.client();
    let mut ps = sub.as_pubsub();
    ps.psubscribe("__keyevent@0__:*").unwrap();
    let mut w = raw(&server);
    w.send(b"BZPOPMAX z 0\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("ZADD")
        .arg("z")
        .arg(1)
        .arg("m")
        .query(&mut admin)
        .unwrap();
    assert_eq!(w.read_reply(), kms("z", "m", "1"));
    let _: String = cmd("XADD")
        .arg("s")
        .arg("1-0")
        .arg("f")
        .arg("v")
        .query(&mut admin)
        .unwrap();
    let _: () = cmd("XGROUP")
        .arg("CREATE")
        .arg("s")
        .arg("g")
        .arg("$")
        .query(&mut admin)
        .unwrap();
    w.send(b"XREADGROUP GROUP g alice BLOCK 0 STREAMS s >\r\n");
    wait_blocked(&mut admin, 1);
    let _: String = cmd("XADD")
        .arg("s")
        .arg("2-0")
        .arg("f")
        .arg("v")
        .query(&mut admin)
        .unwrap();
    w.read_reply();
    let mut events = Vec::new();
    ps.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while events.len() < 7 {
        let msg = ps.get_message().unwrap();
        let ev: String = msg
            .get_channel_name()
            .trim_start_matches("__keyevent@0__:")
            .to_string();
        let key: String = msg.get_payload().unwrap();
        events.push(format!("{ev} {key}"));
    }
    assert_eq!(
        events,
        [
            "zadd z",
            "zpopmax z",
            "del z",
            "xadd s",
            "xgroup-create s",
            "xadd s",
            "xgroup-createconsumer s"
        ]
    );
}
