//! XREAD … BLOCK and XREADGROUP … BLOCK across connections and worker
//! threads: served by XADD from any client (every XREAD waiter, group
//! waiters one entry each in blocking order), `$` resolved when blocking,
//! only the written stream answered, COUNT, timeouts (RESP2/RESP3 null),
//! CLIENT UNBLOCK, disconnects, Redis's errors when the stream or group of
//! an XREADGROUP waiter goes away (DEL, XGROUP DESTROY, FLUSHALL, SET), and
//! a producers/consumers stress test through a consumer group in which
//! every entry must be delivered exactly once.

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

/// The RESP2 reply of a read answering one stream with entries of one
/// field `f` = `v`.
fn one_stream(key: &str, ids: &[&str]) -> Vec<u8> {
    let mut s = format!("*1\r\n*2\r\n{}*{}\r\n", bulk(key), ids.len());
    for id in ids {
        s += &format!("*2\r\n{}*2\r\n{}{}", bulk(id), bulk("f"), bulk("v"));
    }
    s.into_bytes()
}

/// A waited-on key, the writes that end the wait, the waiter's reply.
type Case<'a> = (&'a str, &'a [&'a [&'a str]], &'a Vec<u8>);

/// One stream of an XREAD(GROUP) reply: key and `(id, [(field, value)])`.
type StreamReply = (String, Vec<(String, Vec<(String, String)>)>);

fn xadd(c: &mut Connection, key: &str, id: &str) {
    let _: String = cmd("XADD")
        .arg(key)
        .arg(id)
        .arg("f")
        .arg("v")
        .query(c)
        .unwrap();
}

#[test]
fn xread_waiters_all_get_the_new_entry() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    xadd(&mut admin, "s", "1-0");
    let mut waiters = Vec::new();
    for i in 0..4 {
        let mut c = raw(&server);
        // `$` is the last id when blocking: 1-0 is not returned.
        c.send(b"XREAD BLOCK 0 STREAMS other s 0-0 $\r\n");
        wait_blocked(&mut admin, i + 1);
        waiters.push(c);
    }
    xadd(&mut admin, "s", "2-0");
    for c in &mut waiters {
        // Only the stream written is answered.
        assert_eq!(c.read_reply(), one_stream("s", &["2-0"]));
    }
    assert_eq!(blocked_clients(&mut admin), 0);
    // COUNT bounds a served reply; an explicit id is kept while waiting.
    let mut c = raw(&server);
    c.send(b"XREAD COUNT 2 BLOCK 0 STREAMS fresh 5-0\r\n");
    wait_blocked(&mut admin, 1);
    xadd(&mut admin, "fresh", "4-0"); // not after 5-0: keeps waiting
    let mut t = raw(&server);
    t.cmd(&[b"MULTI"]);
    for id in [&b"6-0"[..], b"7-0", b"8-0"] {
        t.cmd(&[b"XADD", b"fresh", id, b"f", b"v"]);
    }
    t.cmd(&[b"EXEC"]);
    assert_eq!(c.read_reply(), one_stream("fresh", &["6-0", "7-0"]));
}

#[test]
fn xread_ignores_deletion_and_times_out() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    xadd(&mut admin, "d", "1-0");
    let mut c = raw(&server);
    c.send(b"XREAD BLOCK 300 STREAMS d $\r\n");
    wait_blocked(&mut admin, 1);
    let _: i64 = cmd("DEL").arg("d").query(&mut admin).unwrap();
    let _: () = cmd("SET").arg("d").arg("x").query(&mut admin).unwrap();
    assert_eq!(blocked_clients(&mut admin), 1);
    let t = Instant::now();
    assert_eq!(c.read_reply(), b"*-1\r\n");
    assert!(t.elapsed() >= Duration::from_millis(150));
    c.cmd(&[b"HELLO", b"3"]);
    assert_eq!(
        c.cmd(&[b"XREAD", b"BLOCK", b"50", b"STREAMS", b"nokey", b"0"]),
        b"_\r\n"
    );
    // A new stream under the key serves it.
    let _: i64 = cmd("DEL").arg("d").query(&mut admin).unwrap();
    c.send(b"XREAD BLOCK 0 STREAMS d 0\r\n");
    wait_blocked(&mut admin, 1);
    xadd(&mut admin, "d", "3-0");
    assert_eq!(
        c.read_reply(),
        format!(
            "%1\r\n{}*1\r\n*2\r\n{}*2\r\n{}{}",
            bulk("d"),
            bulk("3-0"),
            bulk("f"),
            bulk("v")
        )
        .into_bytes()
    );
}

#[test]
fn group_waiters_share_new_entries_in_blocking_order() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    xadd(&mut admin, "g", "1-0");
    let _: () = cmd("XGROUP")
        .arg("CREATE")
        .arg("g")
        .arg("grp")
        .arg("$")
        .query(&mut admin)
        .unwrap();
    let mut a = raw(&server);
    a.send(b"XREADGROUP GROUP grp alice BLOCK 0 STREAMS g >\r\n");
    wait_blocked(&mut admin, 1);
    let mut b = raw(&server);
    b.send(b"XREADGROUP GROUP grp bob BLOCK 0 STREAMS g >\r\n");
    wait_blocked(&mut admin, 2);
    let mut x = raw(&server);
    x.send(b"XREAD BLOCK 0 STREAMS g $\r\n");
    wait_blocked(&mut admin, 3);
    xadd(&mut admin, "g", "2-0");
    // Alice gets it; Bob has nothing new and keeps waiting; a plain reader
    // behind them is served too.
    assert_eq!(a.read_reply(), one_stream("g", &["2-0"]));
    assert_eq!(x.read_reply(), one_stream("g", &["2-0"]));
    wait_blocked(&mut admin, 1);
    xadd(&mut admin, "g", "3-0");
    assert_eq!(b.read_reply(), one_stream("g", &["3-0"]));
    let pending: Vec<Value> = cmd("XPENDING")
        .arg("g")
        .arg("grp")
        .query(&mut admin)
        .unwrap();
    assert_eq!(pending[0], Value::Int(2));
    // NOACK: delivered without entering the PEL.
    b.send(b"XREADGROUP GROUP grp carol NOACK BLOCK 0 STREAMS g >\r\n");
    wait_blocked(&mut admin, 1);
    xadd(&mut admin, "g", "4-0");
    assert_eq!(b.read_reply(), one_stream("g", &["4-0"]));
    let pending: Vec<Value> = cmd("XPENDING")
        .arg("g")
        .arg("grp")
        .query(&mut admin)
        .unwrap();
    assert_eq!(pending[0], Value::Int(2));
    let info: Vec<Value> = cmd("XINFO")
        .arg("CONSUMERS")
        .arg("g")
        .arg("grp")
        .query(&mut admin)
        .unwrap();
    assert_eq!(info.len(), 3, "the served waiters became consumers");
}

#[test]
fn group_waiters_get_errors_when_their_stream_or_group_goes() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    let setup = |admin: &mut Connection, key: &str| {
        xadd(admin, key, "1-0");
        let _: () = cmd("XGROUP")
            .arg("CREATE")
            .arg(key)
            .arg("grp")
            .arg("$")
            .query(admin)
            .unwrap();
    };
    let gone = b"-UNBLOCKED the stream key no longer exists\r\n".to_vec();
    let nogroup =
        b"-NOGROUP the consumer group this client was blocked on no longer exists\r\n".to_vec();
    let mut c = raw(&server);
    let cases: &[Case] = &[
        ("k1", &[&["DEL", "k1"]], &gone),
        ("k2", &[&["XGROUP", "DESTROY", "k2", "grp"]], &nogroup),
        ("k3", &[&["SET", "k3", "x"]], &gone),
        (
            "k4",
            &[&["SET", "other", "x"], &["RENAME", "k4", "moved"]],
            &gone,
        ),
        ("k5", &[&["FLUSHALL"]], &gone),
    ];
    for (key, writes, want) in cases {
        setup(&mut admin, key);
        c.send(&common::encode_command(&[
            b"XREADGROUP",
            b"GROUP",
            b"grp",
            b"c",
            b"BLOCK",
            b"0",
            b"STREAMS",
            key.as_bytes(),
            b">",
        ]));
        wait_blocked(&mut admin, 1);
        // Another group's destruction or an unrelated write does not.
        let _: () = cmd("XGROUP")
            .arg("CREATE")
            .arg(key)
            .arg("g2")
            .arg("$")
            .query(&mut admin)
            .unwrap();
        let _: i64 = cmd("XGROUP")
            .arg("DESTROY")
            .arg(key)
            .arg("g2")
            .query(&mut admin)
            .unwrap();
        assert_eq!(blocked_clients(&mut admin), 1, "{key}");
        for w in writes.iter() {
            let mut q = cmd(w[0]);
            for a in &w[1..] {
                q.arg(*a);
            }
            let _: Value = q.query(&mut admin).unwrap();
        }
        assert_eq!(&c.read_reply(), *want, "{key}");
        assert_eq!(blocked_clients(&mut admin), 0);
    }
}

#[test]
fn client_unblock_disconnect_and_multi() {
    let Some(server) = start() else { return };
    let mut admin = server.client();
    xadd(&mut admin, "u", "1-0");
    let _: () = cmd("XGROUP")
        .arg("CREATE")
        .arg("u")
        .arg("grp")
        .arg("$")
        .query(&mut admin)
        .unwrap();
    let mut b = raw(&server);
    let id = String::from_utf8(b.cmd(&[b"CLIENT", b"ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    b.send(b"XREAD BLOCK 0 STREAMS u $\r\n");
    wait_blocked(&mut admin, 1);
    let n: i64 = cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(&id)
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(b.read_reply(), b"*-1\r\n");
    b.send(b"XREADGROUP GROUP grp c BLOCK 0 STREAMS u >\r\n");
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
    {
        let mut dead = raw(&server);
        dead.send(b"XREADGROUP GROUP grp dead BLOCK 0 STREAMS u >\r\n");
        wait_blocked(&mut admin, 1);
    }
    wait_blocked(&mut admin, 0);
    xadd(&mut admin, "u", "2-0");
    let pending: Vec<Value> = cmd("XPENDING")
        .arg("u")
        .arg("grp")
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        pending[0],
        Value::Int(0),
        "a gone client was delivered an entry"
    );
    // Inside MULTI nothing blocks.
    b.cmd(&[b"MULTI"]);
    b.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"u", b"$"]);
    b.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"grp",
        b"c",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"u",
        b">",
    ]);
    assert_eq!(
        b.cmd(&[b"EXEC"]),
        format!(
            "*2\r\n*-1\r\n{}",
            String::from_utf8(one_stream("u", &["2-0"])).unwrap()
        )
        .into_bytes()
    );
}

#[test]
fn producers_and_group_consumers_every_entry_exactly_once() {
    let Some(server) = start() else { return };
    let addr = server.addr();
    const PRODUCERS: usize = 3;
    const PER_PRODUCER: usize = 300;
    const CONSUMERS: usize = 5;
    let total = PRODUCERS * PER_PRODUCER;
    let keys = ["x0", "x1"];
    {
        let mut c = server.client();
        for k in keys {
            let _: () = cmd("XGROUP")
                .arg("CREATE")
                .arg(k)
                .arg("grp")
                .arg("$")
                .arg("MKSTREAM")
                .query(&mut c)
                .unwrap();
        }
    }
    let received = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for n in 0..CONSUMERS {
        let addr = addr.clone();
        let received = received.clone();
        let count = count.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = common::connect(&addr);
            let name = format!("c{n}");
            let start = Instant::now();
            while count.load(Ordering::SeqCst) < total {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "stress test stuck"
                );
                let v: Option<Vec<StreamReply>> = cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg("grp")
                    .arg(&name)
                    .arg("COUNT")
                    .arg(7)
                    .arg("BLOCK")
                    .arg(200)
                    .arg("STREAMS")
                    .arg(&keys)
                    .arg(&[">", ">"])
                    .query(&mut c)
                    .unwrap();
                for (key, entries) in v.unwrap_or_default() {
                    for (id, fields) in entries {
                        let _: i64 = cmd("XACK")
                            .arg(&key)
                            .arg("grp")
                            .arg(&id)
                            .query(&mut c)
                            .unwrap();
                        received.lock().unwrap().push(fields[0].1.clone());
                        count.fetch_add(1, Ordering::SeqCst);
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
                let _: String = cmd("XADD")
                    .arg(keys[(i + p) % keys.len()])
                    .arg("*")
                    .arg("m")
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
    assert_eq!(got.len(), total, "entries received");
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), total, "an entry was delivered twice");
    let mut admin = server.client();
    for k in keys {
        let pending: Vec<Value> = cmd("XPENDING").arg(k).arg("grp").query(&mut admin).unwrap();
        assert_eq!(pending[0], Value::Int(0));
    }
    wait_blocked(&mut admin, 0);
}
