//! Client output buffer limits (`client-output-buffer-limit`) and the
//! CLIENT LIST fields that describe a client's buffers. Each scenario runs
//! on ember and, when it is installed, on the real redis-server, and the
//! two must behave alike: a subscriber, a pipelining normal client or a
//! monitor that does not read is disconnected at its class's limit while
//! the server's memory stays bounded; with no limit, a client that writes a
//! big pipeline before reading is served in full.

mod common;

use common::{Oracle, RawConn, Server, encode_command};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Ember, then redis-server when it is installed.
fn servers() -> Vec<Server> {
    let mut v = Vec::new();
    if let Some(s) = Server::start(&[]) {
        v.push(s);
    }
    if let Some(s) = Oracle::start() {
        v.push(s);
    }
    v
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Resident memory of the server process, bytes.
fn rss(admin: &mut RawConn) -> u64 {
    let info = text(&admin.cmd(&[b"INFO", b"server"]));
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .expect("process_id in INFO")
        .trim()
        .to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

fn config_set(admin: &mut RawConn, value: &str) {
    let r = admin.cmd(&[
        b"CONFIG",
        b"SET",
        b"client-output-buffer-limit",
        value.as_bytes(),
    ]);
    assert_eq!(r, b"+OK\r\n", "{}", text(&r));
}

/// The CLIENT LIST line of the client named `name`, if connected.
fn client_line(admin: &mut RawConn, name: &str) -> Option<String> {
    let list = text(&admin.cmd(&[b"CLIENT", b"LIST"]));
    let key = format!(" name={name} ");
    list.lines().find(|l| l.contains(&key)).map(str::to_string)
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=");
    line.split(' ')
        .find_map(|f| f.strip_prefix(key.as_str()))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

fn num(line: &str, name: &str) -> u64 {
    field(line, name).parse().expect("numeric field")
}

/// Waits until the client named `name` is gone from CLIENT LIST.
fn wait_gone(admin: &mut RawConn, name: &str, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(line) = client_line(admin, name) {
        assert!(
            Instant::now() < deadline,
            "{label}: {name} still connected: {line}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the log line Redis writes when it closes a client for its
/// output buffer, and returns it.
fn wait_limit_log(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.log_text();
        if let Some(l) = log
            .lines()
            .find(|l| l.contains(" for overcoming of output buffer limits"))
        {
            return l.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "{}: no output-buffer log line in\n{log}",
            server.label()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client that sets its name (to find it in CLIENT LIST).
fn named(server: &Server, name: &str) -> RawConn {
    let mut c = server.raw();
    assert_eq!(c.cmd(&[b"CLIENT", b"SETNAME", name.as_bytes()]), b"+OK\r\n");
    c
}

#[test]
fn slow_subscriber_is_killed_at_the_limit_while_rss_stays_bounded() {
    for server in servers() {
        let label = server.label().to_string();
        let mut admin = server.raw();
        config_set(&mut admin, "pubsub 8mb 2mb 1");
        let mut sub = named(&server, "slowsub");
        let r = sub.cmd(&[b"SUBSCRIBE", b"firehose"]);
        assert!(r.starts_with(b"*3\r\n$9\r\nsubscribe"), "{}", text(&r));
        let start = rss(&mut admin);
        // 200 MB of messages, the subscriber never reading.
        let payload = vec![b'x'; 64 * 1024];
        let mut publisher = server.raw();
        let one = encode_command(&[b"PUBLISH", b"firehose", &payload]);
        let mut counts = Vec::new();
        let mut peak = start;
        for round in 0..100 {
            let batch: Vec<u8> = one.repeat(32);
            publisher.send(&batch);
            for _ in 0..32 {
                counts.push(publisher.read_reply());
            }
            if round % 10 == 0 {
                peak = peak.max(rss(&mut admin));
            }
        }
        peak = peak.max(rss(&mut admin));
        let first_zero = counts
            .iter()
            .position(|c| c == b":0\r\n")
            .unwrap_or_else(|| panic!("{label}: the subscriber was never disconnected"));
        assert!(first_zero > 0, "{label}: the first PUBLISH reached nobody");
        assert!(
            counts[..first_zero].iter().all(|c| c == b":1\r\n"),
            "{label}"
        );
        assert!(
            counts[first_zero..].iter().all(|c| c == b":0\r\n"),
            "{label}: receivers came back after the disconnection"
        );
        // About 8 MB were queued when it went: far fewer than 200 MB.
        assert!(first_zero < 1000, "{label}: killed after {first_zero}");
        assert!(
            peak < start + 64 * 1024 * 1024,
            "{label}: RSS grew from {start} to {peak}"
        );
        wait_gone(&mut admin, "slowsub", &label);
        let line = wait_limit_log(&server);
        assert!(
            line.contains("scheduled to be closed ASAP for overcoming of output buffer limits.")
                && line.contains(" name=slowsub ")
                && line.contains(" flags=P ")
                && line.contains(" sub=1 "),
            "{label}: {line}"
        );
        // The subscriber sees some messages, then the end of the stream.
        sub.set_timeout(Duration::from_secs(10));
        assert!(sub.read_until_closed().closed, "{label}");
    }
}

#[test]
fn pipelining_client_that_does_not_read_is_killed_at_the_normal_limit() {
    for server in servers() {
        let label = server.label().to_string();
        let mut admin = server.raw();
        config_set(&mut admin, "normal 4mb 1mb 1");
        let big = vec![b'v'; 1024 * 1024];
        assert_eq!(admin.cmd(&[b"SET", b"big", &big]), b"+OK\r\n");
        let start = rss(&mut admin);
        let mut greedy = named(&server, "greedy");
        // One GET per write: the server must keep reading and running them
        // while the earlier replies wait for the socket.
        let get = encode_command(&[b"GET", b"big"]);
        for _ in 0..200 {
            if greedy.try_send(&get).is_err() {
                break;
            }
        }
        wait_gone(&mut admin, "greedy", &label);
        let peak = rss(&mut admin);
        assert!(
            peak < start + 64 * 1024 * 1024,
            "{label}: RSS grew from {start} to {peak}"
        );
        let line = wait_limit_log(&server);
        assert!(
            line.contains("scheduled to be closed ASAP for overcoming of output buffer limits.")
                && line.contains(" name=greedy ")
                && line.contains(" flags=N ")
                && line.contains(" cmd=get "),
            "{label}: {line}"
        );
        assert!(num(&line, "omem") >= 1024 * 1024, "{label}: {line}");
        // Others are served as before.
        assert_eq!(admin.cmd(&[b"STRLEN", b"big"]), b":1048576\r\n");
    }
}

#[test]
fn soft_limit_disconnects_only_after_its_seconds() {
    for server in servers() {
        let label = server.label().to_string();
        let mut admin = server.raw();
        config_set(&mut admin, "normal 0 512kb 1");
        let big = vec![b'v'; 1024 * 1024];
        assert_eq!(admin.cmd(&[b"SET", b"big", &big]), b"+OK\r\n");
        let mut c = named(&server, "softie");
        let sent = Instant::now();
        c.send(&encode_command(&[b"GET", b"big"]).repeat(12));
        std::thread::sleep(Duration::from_millis(300));
        // Over the soft limit, but not for long enough.
        let line = client_line(&mut admin, "softie")
            .unwrap_or_else(|| panic!("{label}: disconnected before the soft seconds"));
        assert!(num(&line, "omem") > 512 * 1024, "{label}: {line}");
        assert_eq!(field(&line, "events"), "rw", "{label}: {line}");
        // Without any new output, the periodic check closes it once the
        // soft limit has held for more than its second.
        wait_gone(&mut admin, "softie", &label);
        assert!(
            sent.elapsed() >= Duration::from_secs(1),
            "{label}: closed after {:?}",
            sent.elapsed()
        );
        let line = wait_limit_log(&server);
        assert!(
            line.contains(" name=softie ")
                && line.ends_with(" closed for overcoming of output buffer limits."),
            "{label}: {line}"
        );
    }
}

#[test]
fn monitor_that_does_not_read_is_a_normal_client() {
    for server in servers() {
        let label = server.label().to_string();
        let mut admin = server.raw();
        config_set(&mut admin, "normal 1mb 0 0");
        let mut mon = named(&server, "watcher");
        assert_eq!(mon.cmd(&[b"MONITOR"]), b"+OK\r\n");
        let value = vec![b'm'; 64 * 1024];
        let mut writer = server.raw();
        let set = encode_command(&[b"SET", b"k", &value]);
        for _ in 0..400 {
            writer.send(&set);
            assert_eq!(writer.read_reply(), b"+OK\r\n");
            if client_line(&mut admin, "watcher").is_none() {
                break;
            }
        }
        wait_gone(&mut admin, "watcher", &label);
        let line = wait_limit_log(&server);
        assert!(
            line.contains(" name=watcher ") && line.contains(" flags=O "),
            "{label}: {line}"
        );
    }
}

#[test]
fn without_limit_a_pipeline_written_before_reading_is_served() {
    for server in servers() {
        let label = server.label().to_string();
        // Far more requests and replies than the socket buffers hold: a
        // server that stopped reading while replies wait would deadlock
        // with a client that writes everything first.
        let payload = vec![b'e'; 4096];
        let one = encode_command(&[b"ECHO", &payload]);
        let n = 10_000;
        let mut stream = TcpStream::connect(server.addr()).expect("connect");
        stream
            .set_write_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let all = one.repeat(n);
        stream
            .write_all(&all)
            .unwrap_or_else(|e| panic!("{label}: writing the pipeline: {e}"));
        let expect_one = format!("$4096\r\n{}\r\n", "e".repeat(4096)).into_bytes();
        let mut got = vec![0u8; expect_one.len() * n];
        stream
            .read_exact(&mut got)
            .unwrap_or_else(|e| panic!("{label}: reading the replies: {e}"));
        assert!(got == expect_one.repeat(n), "{label}: replies differ");
        assert!(
            !server
                .log_text()
                .contains("for overcoming of output buffer limits"),
            "{label}"
        );
    }
}

/// CLIENT LIST fields of a client in each state, reduced to what must agree
/// with Redis (exact byte counts depend on the allocator).
fn states(server: &Server) -> Vec<String> {
    let mut admin = server.raw();
    let mut seen = Vec::new();
    let mut note = |line: String, fields: &[&str], nonzero: &[&str]| {
        let mut s = String::new();
        for f in fields {
            s.push_str(&format!("{f}={} ", field(&line, f)));
        }
        for f in nonzero {
            s.push_str(&format!("{f}>0:{} ", num(&line, f) > 0));
        }
        seen.push(s);
    };
    let plain = ["flags", "sub", "psub", "multi", "cmd", "events"];

    let mut c = named(server, "sub");
    c.send(&encode_command(&[b"SUBSCRIBE", b"a", b"b"]));
    c.send(&encode_command(&[b"PSUBSCRIBE", b"p*"]));
    c.read_replies(3);
    note(
        client_line(&mut admin, "sub").unwrap(),
        &plain,
        &["qbuf", "omem", "multi-mem"],
    );

    let mut c = named(server, "tx");
    assert_eq!(c.cmd(&[b"MULTI"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"SET", b"k", b"v"]), b"+QUEUED\r\n");
    assert_eq!(c.cmd(&[b"GET", b"k"]), b"+QUEUED\r\n");
    note(
        client_line(&mut admin, "tx").unwrap(),
        &plain,
        &["qbuf", "omem", "multi-mem"],
    );
    assert_eq!(c.cmd(&[b"EXEC"]), b"*2\r\n+OK\r\n$1\r\nv\r\n");
    note(
        client_line(&mut admin, "tx").unwrap(),
        &plain,
        &["qbuf", "omem", "multi-mem"],
    );

    let mut c = named(server, "partial");
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nab");
    std::thread::sleep(Duration::from_millis(100));
    note(
        client_line(&mut admin, "partial").unwrap(),
        &["flags", "multi", "events"],
        &["qbuf", "omem"],
    );

    let big = vec![b'v'; 1024 * 1024];
    assert_eq!(admin.cmd(&[b"SET", b"big", &big]), b"+OK\r\n");
    let mut c = named(server, "reader");
    c.send(&encode_command(&[b"GET", b"big"]).repeat(10));
    std::thread::sleep(Duration::from_millis(300));
    let line = client_line(&mut admin, "reader").unwrap();
    assert!(num(&line, "tot-mem") > num(&line, "omem"), "{line}");
    note(line, &plain, &["qbuf", "omem", "oll"]);
    c.set_timeout(Duration::from_secs(10));
    c.read_replies(10);
    std::thread::sleep(Duration::from_millis(100));
    note(
        client_line(&mut admin, "reader").unwrap(),
        &plain,
        &["qbuf", "omem", "oll", "obl"],
    );
    seen
}

#[test]
fn client_list_buffer_fields_follow_the_client_state() {
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let got = states(&ember);
    let expected = [
        "flags=P sub=2 psub=1 multi=-1 cmd=psubscribe events=r qbuf>0:false omem>0:false multi-mem>0:false ",
        "flags=x sub=0 psub=0 multi=2 cmd=get events=r qbuf>0:false omem>0:false multi-mem>0:true ",
        "flags=N sub=0 psub=0 multi=-1 cmd=exec events=r qbuf>0:false omem>0:false multi-mem>0:false ",
        "flags=N multi=-1 events=r qbuf>0:true omem>0:false ",
        "flags=N sub=0 psub=0 multi=-1 cmd=get events=rw qbuf>0:false omem>0:true oll>0:true ",
        "flags=N sub=0 psub=0 multi=-1 cmd=get events=r qbuf>0:false omem>0:false oll>0:false obl>0:false ",
    ];
    assert_eq!(got, expected);
    if let Some(redis) = Oracle::start() {
        assert_eq!(states(&redis), expected, "redis-server");
    }
}

#[test]
fn config_set_output_buffer_limit_matches_redis() {
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let Some(redis) = Oracle::start() else {
        return;
    };
    let values: &[&str] = &[
        "normal 1mb 2mb 3",
        "replica 1 2 3",
        "slave 10mb 5mb 10 pubsub 1gb 0 0",
        "PUBSUB 1k 1KB +1",
        "Normal 2G 1g 0 Replica 0 0 0",
        "normal 0 0",
        "bad 0 0 0",
        "master 0 0 0",
        "normal x 0 0",
        "normal 0 0 -1",
        "normal 0 -1 0",
        "normal 0 0 1x",
        "normal 1mb 0 0 pubsub 1",
        "",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ];
    let mut e = ember.raw();
    let mut r = redis.raw();
    for v in values {
        for args in [
            vec![
                b"CONFIG".as_slice(),
                b"SET",
                b"client-output-buffer-limit",
                v.as_bytes(),
            ],
            vec![b"CONFIG".as_slice(), b"GET", b"client-output-buffer-limit"],
        ] {
            let (a, b) = (e.cmd(&args), r.cmd(&args));
            assert_eq!(text(&a), text(&b), "after CONFIG SET {v:?}");
        }
    }
}
