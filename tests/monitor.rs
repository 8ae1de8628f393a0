//! MONITOR: the stream a monitoring client receives, compared line by line
//! with the real redis-server (timestamps and client ports masked).

mod common;

use common::{Oracle, RawConn, Server, encode_command};
use std::time::Duration;

/// Runs the same commands on `server` while a MONITOR watches; returns the
/// monitor's lines with the time and the client's port replaced.
fn monitor_lines(server: &Server) -> Vec<String> {
    let mut m = server.raw();
    assert_eq!(m.cmd(&[b"MONITOR"]), b"+OK\r\n");
    let mut c = server.raw();
    let cmds: &[&[&[u8]]] = &[
        &[b"SET", b"k", b"a b\n\x01\\\"\xff"],
        &[b"AUTH", b"secret"],
        &[b"AUTH", b"user", b"pw"],
        &[b"HELLO", b"2", b"AUTH", b"default", b"pw", b"SETNAME", b"x"],
        &[b"SELECT", b"1"],
        &[b"GET", b"x"],
        &[b"MULTI"],
        &[b"SET", b"a", b"1"],
        &[b"EXEC"],
        &[b"CONFIG", b"GET", b"port"],
        &[b"NOSUCH"],
        &[b"GET"],
        &[b"PING"],
    ];
    for cmd in cmds {
        c.send(&encode_command(cmd));
        let _ = c.read_reply();
    }
    let mut lines = Vec::new();
    m.set_timeout(Duration::from_secs(2));
    for _ in 0..10 {
        let line = String::from_utf8_lossy(&m.read_reply()).into_owned();
        // "+1700000000.123456 [0 127.0.0.1:5555] ..." -> "+T [0 ADDR] ..."
        let (_, rest) = line.split_once(" [").expect("monitor line");
        let (db, rest) = rest.split_once(' ').unwrap();
        let (_, rest) = rest.split_once("] ").unwrap();
        lines.push(format!("+T [{db} ADDR] {rest}"));
    }
    m.set_timeout(Duration::from_millis(300));
    assert!(
        m.try_read_reply().is_err(),
        "more monitor lines than expected"
    );
    lines
}

#[test]
fn monitor_stream_matches_redis() {
    let Some(ember) = Server::start(&[]) else {
        return;
    };
    let ours = monitor_lines(&ember);
    assert!(
        ours[3].contains("\"AUTH\" \"(redacted)\" \"(redacted)\""),
        "{ours:?}"
    );
    let Some(redis) = Oracle::start() else {
        return;
    };
    let theirs = monitor_lines(&redis);
    assert_eq!(ours, theirs);
}

#[test]
fn monitor_sees_commands_from_other_threads_and_stops_on_reset() {
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    let mut m = server.raw();
    m.cmd(&[b"MONITOR"]);
    let mut clients: Vec<RawConn> = (0..4).map(|_| server.raw()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.cmd(&[b"SET", format!("k{i}").as_bytes(), b"v"]);
    }
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(String::from_utf8_lossy(&m.read_reply()).into_owned());
    }
    for i in 0..4 {
        assert!(
            seen.iter()
                .any(|l| l.ends_with(&format!("\"SET\" \"k{i}\" \"v\"\r\n"))),
            "{seen:?}"
        );
    }
    assert_eq!(m.cmd(&[b"RESET"]), b"+RESET\r\n");
    clients[0].cmd(&[b"PING"]);
    m.set_timeout(Duration::from_millis(300));
    assert!(m.try_read_reply().is_err(), "RESET must end monitoring");
}
