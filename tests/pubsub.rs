//! Pub/Sub between clients: delivery across worker threads, patterns, shard
//! channels, publish order, RESP3 pushes mixed with replies, and the
//! output-buffer limit that disconnects a subscriber that does not read.

mod common;

use common::{RawConn, Server, encode_command};
use std::time::{Duration, Instant};

fn message(channel: &str, payload: &str) -> Vec<u8> {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        channel.len(),
        payload.len()
    )
    .into_bytes()
}

#[test]
fn messages_reach_subscribers_on_every_thread() {
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    // Eight subscribers, spread over the workers by the acceptor.
    let mut subs: Vec<RawConn> = (0..8).map(|_| server.raw()).collect();
    for s in &mut subs {
        let r = s.cmd(&[b"SUBSCRIBE", b"news"]);
        assert!(r.starts_with(b"*3\r\n$9\r\nsubscribe\r\n"), "{r:?}");
    }
    let mut p = server.raw();
    assert_eq!(p.cmd(&[b"PUBLISH", b"news", b"hello"]), b":8\r\n");
    assert_eq!(p.cmd(&[b"PUBLISH", b"other", b"x"]), b":0\r\n");
    for s in &mut subs {
        assert_eq!(s.read_reply(), message("news", "hello"));
    }
    assert_eq!(
        p.cmd(&[b"PUBSUB", b"NUMSUB", b"news"]),
        b"*2\r\n$4\r\nnews\r\n:8\r\n"
    );
    // A subscriber that leaves is no longer counted.
    drop(subs.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.cmd(&[b"PUBLISH", b"news", b"again"]) != b":7\r\n" {
        assert!(
            Instant::now() < deadline,
            "departed subscriber still counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn patterns_and_shard_channels() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut ps = server.raw();
    ps.cmd(&[b"PSUBSCRIBE", b"user:*"]);
    let mut ss = server.raw();
    ss.cmd(&[b"SSUBSCRIBE", b"orders"]);
    let mut p = server.raw();
    assert_eq!(p.cmd(&[b"PUBLISH", b"user:42", b"hi"]), b":1\r\n");
    assert_eq!(
        ps.read_reply(),
        b"*4\r\n$8\r\npmessage\r\n$6\r\nuser:*\r\n$7\r\nuser:42\r\n$2\r\nhi\r\n"
    );
    // Shard channels are their own namespace.
    assert_eq!(p.cmd(&[b"PUBLISH", b"orders", b"x"]), b":0\r\n");
    assert_eq!(p.cmd(&[b"SPUBLISH", b"orders", b"y"]), b":1\r\n");
    assert_eq!(
        ss.read_reply(),
        b"*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$1\r\ny\r\n"
    );
}

#[test]
fn one_publishers_messages_arrive_in_order() {
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    let mut sub = server.raw();
    sub.cmd(&[b"SUBSCRIBE", b"seq"]);
    let mut p = server.raw();
    let mut batch = Vec::new();
    for i in 0..2000 {
        batch.extend_from_slice(&encode_command(&[
            b"PUBLISH",
            b"seq",
            i.to_string().as_bytes(),
        ]));
    }
    p.send(&batch);
    for _ in 0..2000 {
        assert_eq!(p.read_reply(), b":1\r\n");
    }
    for i in 0..2000 {
        assert_eq!(sub.read_reply(), message("seq", &i.to_string()));
    }
}

#[test]
fn resp3_subscriber_runs_commands_and_gets_pushes() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut sub = server.raw();
    sub.cmd(&[b"HELLO", b"3"]);
    assert_eq!(
        sub.cmd(&[b"SUBSCRIBE", b"ch"]),
        b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(sub.cmd(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    // Publishing to its own channel: the push comes before the count.
    sub.send(&encode_command(&[b"PUBLISH", b"ch", b"self"]));
    assert_eq!(
        sub.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nself\r\n"
    );
    assert_eq!(sub.read_reply(), b":1\r\n");
    let mut p = server.raw();
    assert_eq!(p.cmd(&[b"PUBLISH", b"ch", b"other"]), b":1\r\n");
    assert_eq!(
        sub.read_reply(),
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nother\r\n"
    );
    assert_eq!(sub.cmd(&[b"GET", b"k"]), b"$1\r\nv\r\n");
}

#[test]
fn subscriber_that_does_not_read_is_disconnected_at_the_limit() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut admin = server.raw();
    assert_eq!(
        admin.cmd(&[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"pubsub 1mb 0 0"
        ]),
        b"+OK\r\n"
    );
    let mut slow = server.raw();
    slow.cmd(&[b"SUBSCRIBE", b"firehose"]);
    // Publish far more than the socket buffers and the limit can hold,
    // without ever reading on the subscriber side.
    let payload = vec![b'x'; 64 * 1024];
    let mut p = server.raw();
    let mut dropped = false;
    for _ in 0..2000 {
        let r = p.cmd(&[b"PUBLISH", b"firehose", &payload]);
        if r == b":0\r\n" {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the slow subscriber was never disconnected");
    let list = String::from_utf8_lossy(&admin.cmd(&[b"CLIENT", b"LIST"])).into_owned();
    assert!(!list.contains("sub=1"), "{list}");
    assert!(
        server
            .log_text()
            .contains("scheduled to be closed ASAP for overcoming of output buffer limits."),
        "{}",
        server.log_text()
    );
}
