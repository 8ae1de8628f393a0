//! CLIENT subcommands across connections: LIST/INFO fields, SETNAME and
//! GETNAME, KILL (old and new forms, from another connection and of
//! oneself), PAUSE and UNPAUSE holding back writes or everything, UNBLOCK,
//! and the error replies of each.

mod common;

use common::{RawConn, Server, encode_command};
use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The text of a bulk string reply.
fn bulk_text(reply: &[u8]) -> String {
    let text = s(reply);
    let (_, body) = text.split_once("\r\n").expect("bulk header");
    body.strip_suffix("\r\n").expect("bulk end").to_string()
}

fn int(reply: &[u8]) -> i64 {
    assert_eq!(reply[0], b':', "{}", s(reply));
    s(&reply[1..reply.len() - 2]).parse().unwrap()
}

/// One CLIENT LIST line as ordered (field, value) pairs.
fn fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("field=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn line_map(line: &str) -> HashMap<String, String> {
    fields(line).into_iter().collect()
}

/// CLIENT LIST lines, keyed by id.
fn list(c: &mut RawConn, extra: &[&[u8]]) -> HashMap<i64, HashMap<String, String>> {
    let mut args: Vec<&[u8]> = vec![b"CLIENT", b"LIST"];
    args.extend_from_slice(extra);
    let text = bulk_text(&c.cmd(&args));
    assert!(text.is_empty() || text.ends_with('\n'));
    text.lines()
        .map(|l| {
            let m = line_map(l);
            (m["id"].parse().unwrap(), m)
        })
        .collect()
}

const FIELD_ORDER: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
];

#[test]
fn client_list_and_info_fields() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut me = server.raw();
    let my_id = int(&me.cmd(&[b"CLIENT", b"ID"]));
    let info = bulk_text(&me.cmd(&[b"CLIENT", b"INFO"]));
    assert!(info.ends_with('\n'));
    let f = fields(info.trim_end());
    let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, FIELD_ORDER);
    let m = line_map(info.trim_end());
    assert_eq!(m["id"], my_id.to_string());
    assert_eq!(m["laddr"], server.addr());
    assert!(m["addr"].starts_with("127.0.0.1:"));
    assert_eq!(m["name"], "");
    assert_eq!(m["flags"], "N");
    assert_eq!(m["db"], "0");
    assert_eq!(m["multi"], "-1");
    assert_eq!(m["cmd"], "client|info");
    assert_eq!(m["user"], "default");
    assert_eq!(m["redir"], "-1");
    assert_eq!(m["resp"], "2");
    assert_eq!(m["events"], "r");
    // CLIENT INFO + CLIENT: argument bytes of the running command.
    assert_eq!(m["argv-mem"], "10");
    assert!(m["fd"].parse::<i32>().unwrap() > 0);

    // Another client: its name, db, last command and idle time.
    let mut other = server.raw();
    let other_id = int(&other.cmd(&[b"CLIENT", b"ID"]));
    assert_eq!(other.cmd(&[b"CLIENT", b"SETNAME", b"worker-1"]), b"+OK\r\n");
    assert_eq!(other.cmd(&[b"SELECT", b"5"]), b"+OK\r\n");
    assert_eq!(other.cmd(&[b"CLIENT", b"NO-EVICT", b"on"]), b"+OK\r\n");
    assert_eq!(other.cmd(&[b"HELLO", b"3"])[0], b'%');
    assert_eq!(other.cmd(&[b"ECHO", b"x"]), b"$1\r\nx\r\n");
    let fresh = server.raw(); // never sent anything
    thread::sleep(Duration::from_millis(1100));
    let all = list(&mut me, &[]);
    assert_eq!(all.len(), 3, "{all:?}");
    let o = &all[&other_id];
    assert_eq!(o["name"], "worker-1");
    assert_eq!(o["db"], "5");
    assert_eq!(o["flags"], "e");
    assert_eq!(o["cmd"], "echo");
    assert_eq!(o["resp"], "3");
    assert_eq!(o["argv-mem"], "0");
    assert!(o["idle"].parse::<i64>().unwrap() >= 1, "{o:?}");
    assert!(o["age"].parse::<i64>().unwrap() >= 1, "{o:?}");
    let me_line = &all[&my_id];
    assert_eq!(me_line["cmd"], "client|list");
    assert_eq!(me_line["idle"], "0");
    let fresh_line = all
        .values()
        .find(|m| m["id"] != my_id.to_string() && m["id"] != other_id.to_string())
        .unwrap();
    assert_eq!(fresh_line["cmd"], "NULL");
    drop(fresh);

    // Filters.
    let by_id = list(
        &mut me,
        &[b"ID", other_id.to_string().as_bytes(), b"999999"],
    );
    assert_eq!(by_id.keys().copied().collect::<Vec<_>>(), vec![other_id]);
    assert!(list(&mut me, &[b"TYPE", b"normal"]).len() >= 2);
    assert!(list(&mut me, &[b"TYPE", b"pubsub"]).is_empty());
    assert!(list(&mut me, &[b"TYPE", b"replica"]).is_empty());
    assert!(list(&mut me, &[b"TYPE", b"master"]).is_empty());
    assert_eq!(me.cmd(&[b"CLIENT", b"LIST", b"ID", b"0"]), b"$0\r\n\r\n");
    assert_eq!(
        me.cmd(&[b"CLIENT", b"LIST", b"ID", b"x"]),
        b"-ERR Invalid client ID\r\n"
    );
    assert_eq!(
        me.cmd(&[b"CLIENT", b"LIST", b"TYPE", b"bogus"]),
        b"-ERR Unknown client type 'bogus'\r\n"
    );
    assert_eq!(
        me.cmd(&[b"CLIENT", b"LIST", b"TYPE"]),
        b"-ERR syntax error\r\n"
    );

    // The redis crate's view of the same.
    let mut con = server.client();
    let text: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(text.contains("name=worker-1 "), "{text}");
}

#[test]
fn setname_getname() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut con = server.client();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, None);
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("a-b_c:d.e~!")
        .query(&mut con)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name.as_deref(), Some("a-b_c:d.e~!"));
    for bad in ["has space", "new\nline", "\x7f", "caf\u{e9}"] {
        let err = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(bad)
            .query::<()>(&mut con)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("Client names cannot contain spaces, newlines or special characters"),
            "{err}"
        );
    }
    // An empty name clears it.
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("")
        .query(&mut con)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, None);
}

#[test]
fn kill_from_another_connection() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut killer = server.raw();
    let mut victim = server.raw();
    let victim_id = int(&victim.cmd(&[b"CLIENT", b"ID"]));
    // New form by id.
    assert_eq!(
        killer.cmd(&[b"CLIENT", b"KILL", b"ID", victim_id.to_string().as_bytes()]),
        b":1\r\n"
    );
    let d = victim.read_until_closed();
    assert!(d.closed && d.bytes.is_empty());
    // Gone from the list.
    let deadline = Instant::now() + Duration::from_secs(5);
    while list(&mut killer, &[]).contains_key(&victim_id) {
        assert!(Instant::now() < deadline, "killed client still listed");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        killer.cmd(&[b"CLIENT", b"KILL", b"ID", victim_id.to_string().as_bytes()]),
        b":0\r\n"
    );

    // Old form by address.
    let mut victim = server.raw();
    let addr = line_map(bulk_text(&victim.cmd(&[b"CLIENT", b"INFO"])).trim_end())["addr"].clone();
    assert_eq!(
        killer.cmd(&[b"CLIENT", b"KILL", addr.as_bytes()]),
        b"+OK\r\n"
    );
    assert!(victim.read_until_closed().closed);
    assert_eq!(
        killer.cmd(&[b"CLIENT", b"KILL", addr.as_bytes()]),
        b"-ERR No such client\r\n"
    );

    // ADDR / LADDR / TYPE / USER filters; the caller is skipped by default.
    let mut v1 = server.raw();
    let mut v2 = server.raw();
    assert_eq!(v1.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(v2.cmd(&[b"PING"]), b"+PONG\r\n");
    let laddr = server.addr();
    assert_eq!(
        killer.cmd(&[b"CLIENT", b"KILL", b"LADDR", b"1.2.3.4:5"]),
        b":0\r\n"
    );
    assert_eq!(
        killer.cmd(&[
            b"CLIENT",
            b"KILL",
            b"LADDR",
            laddr.as_bytes(),
            b"TYPE",
            b"normal",
            b"USER",
            b"default"
        ]),
        b":2\r\n"
    );
    assert!(v1.read_until_closed().closed);
    assert!(v2.read_until_closed().closed);
    assert_eq!(killer.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(
        killer.cmd(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]),
        b":0\r\n"
    );

    // MAXAGE: only clients older than that many seconds.
    let mut young = server.raw();
    assert_eq!(young.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(
        killer.cmd(&[b"CLIENT", b"KILL", b"MAXAGE", b"100"]),
        b":0\r\n"
    );
    assert_eq!(young.cmd(&[b"PING"]), b"+PONG\r\n");

    // Errors.
    for (args, err) in [
        (
            &[&b"CLIENT"[..], b"KILL", b"ID", b"0"][..],
            &b"-ERR client-id should be greater than 0\r\n"[..],
        ),
        (
            &[b"CLIENT", b"KILL", b"TYPE", b"nope"],
            b"-ERR Unknown client type 'nope'\r\n",
        ),
        (
            &[b"CLIENT", b"KILL", b"USER", b"nobody"],
            b"-ERR No such user 'nobody'\r\n",
        ),
        (
            &[b"CLIENT", b"KILL", b"SKIPME", b"maybe"],
            b"-ERR syntax error\r\n",
        ),
        (
            &[b"CLIENT", b"KILL", b"ID", b"1", b"TYPE"],
            b"-ERR syntax error\r\n",
        ),
        (
            &[b"CLIENT", b"KILL", b"FOO", b"bar"],
            b"-ERR syntax error\r\n",
        ),
    ] {
        assert_eq!(s(&killer.cmd(args)), s(err), "{args:?}");
    }
}

#[test]
fn kill_oneself() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    // New form with SKIPME no: the reply arrives, then the connection closes.
    let mut c = server.raw();
    let id = int(&c.cmd(&[b"CLIENT", b"ID"]));
    c.send(&encode_command(&[
        b"CLIENT",
        b"KILL",
        b"ID",
        id.to_string().as_bytes(),
        b"SKIPME",
        b"no",
    ]));
    let d = c.read_until_closed();
    assert!(d.closed);
    assert_eq!(d.bytes, b":1\r\n");
    // Default SKIPME yes spares the caller.
    let mut c = server.raw();
    let id = int(&c.cmd(&[b"CLIENT", b"ID"]));
    assert_eq!(
        c.cmd(&[b"CLIENT", b"KILL", b"ID", id.to_string().as_bytes()]),
        b":0\r\n"
    );
    // Old form: a client may kill itself.
    let addr = line_map(bulk_text(&c.cmd(&[b"CLIENT", b"INFO"])).trim_end())["addr"].clone();
    c.send(&encode_command(&[b"CLIENT", b"KILL", addr.as_bytes()]));
    let d = c.read_until_closed();
    assert!(d.closed);
    assert_eq!(d.bytes, b"+OK\r\n");
}

/// Sends `args` on a new thread and returns the reply with the time it took.
fn timed(mut c: RawConn, args: Vec<Vec<u8>>) -> thread::JoinHandle<(RawConn, Vec<u8>, Duration)> {
    thread::spawn(move || {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let start = Instant::now();
        let r = c.cmd(&refs);
        (c, r, start.elapsed())
    })
}

fn v(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

#[test]
fn pause_write_delays_writes_only() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut admin = server.raw();
    let mut w = server.raw();
    assert_eq!(w.cmd(&[b"SET", b"k", b"before"]), b"+OK\r\n");
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"PAUSE", b"600", b"WRITE"]),
        b"+OK\r\n"
    );
    // Reads go through at once.
    let start = Instant::now();
    assert_eq!(w.cmd(&[b"GET", b"k"]), b"$6\r\nbefore\r\n");
    assert!(start.elapsed() < Duration::from_millis(300));
    // Errors are answered at once too.
    assert_eq!(
        w.cmd(&[b"SET", b"k"]),
        b"-ERR wrong number of arguments for 'set' command\r\n"
    );
    // The write waits for the end of the pause.
    let (mut w, r, took) = timed(w, v(&["SET", "k", "after"])).join().unwrap();
    assert_eq!(r, b"+OK\r\n");
    assert!(took >= Duration::from_millis(400), "write took {took:?}");
    assert!(took < Duration::from_secs(3), "write took {took:?}");
    assert_eq!(w.cmd(&[b"GET", b"k"]), b"$5\r\nafter\r\n");

    // While it waits the client shows as blocked, and the value is unchanged.
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"PAUSE", b"10000", b"WRITE"]),
        b"+OK\r\n"
    );
    let w_id = int(&w.cmd(&[b"CLIENT", b"ID"]));
    let waiting = timed(w, v(&["SET", "k", "third"]));
    thread::sleep(Duration::from_millis(200));
    let l = list(&mut admin, &[b"ID", w_id.to_string().as_bytes()]);
    assert_eq!(l[&w_id]["flags"], "b");
    assert_eq!(l[&w_id]["cmd"], "set");
    assert_eq!(admin.cmd(&[b"GET", b"k"]), b"$5\r\nafter\r\n");
    // CLIENT UNBLOCK does not release a client held by a pause (Redis 7.0.15
    // crashes on this; later versions answer 0 too).
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"UNBLOCK", w_id.to_string().as_bytes()]),
        b":0\r\n"
    );
    // UNPAUSE releases it well before the 10 s.
    assert_eq!(admin.cmd(&[b"CLIENT", b"UNPAUSE"]), b"+OK\r\n");
    let (_, r, took) = waiting.join().unwrap();
    assert_eq!(r, b"+OK\r\n");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(admin.cmd(&[b"GET", b"k"]), b"$5\r\nthird\r\n");
}

#[test]
fn pause_all_delays_everything_and_flushes_earlier_replies() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut admin = server.raw();
    let mut c = server.raw();
    assert_eq!(admin.cmd(&[b"CLIENT", b"PAUSE", b"500"]), b"+OK\r\n");
    // Pipelined before the pause applies? No: the whole pipeline waits,
    // but an unknown command is answered at once.
    assert_eq!(
        c.cmd(&[b"NOSUCH"]),
        b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
    );
    let start = Instant::now();
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    assert!(start.elapsed() >= Duration::from_millis(300));
    // The pausing client itself waits in ALL mode, and a pause never
    // shrinks: WRITE 300 then ALL 100 keeps ALL until the later end.
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"PAUSE", b"400", b"WRITE"]),
        b"+OK\r\n"
    );
    let start = Instant::now();
    assert_eq!(admin.cmd(&[b"CLIENT", b"PAUSE", b"50", b"ALL"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );

    // Replies to commands before a held-back one are sent first.
    assert_eq!(
        admin.cmd(&[b"CLIENT", b"PAUSE", b"600", b"WRITE"]),
        b"+OK\r\n"
    );
    let start = Instant::now();
    c.send(
        &[
            encode_command(&[b"ECHO", b"first"]),
            encode_command(&[b"SET", b"x", b"1"]),
        ]
        .concat(),
    );
    assert_eq!(c.read_reply(), b"$5\r\nfirst\r\n");
    assert!(start.elapsed() < Duration::from_millis(400));
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert!(start.elapsed() >= Duration::from_millis(400));
}

#[test]
fn pause_and_unblock_errors() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.raw();
    for (args, want) in [
        (
            &[&b"CLIENT"[..], b"PAUSE", b"abc"][..],
            &b"-ERR timeout is not an integer or out of range\r\n"[..],
        ),
        (&[b"CLIENT", b"PAUSE", b"-1"], b"-ERR timeout is negative\r\n"),
        (
            &[b"CLIENT", b"PAUSE", b"abc", b"nope"],
            b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n",
        ),
        (
            &[b"CLIENT", b"pause", b"10", b"WRITE", b"x"],
            b"-ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.\r\n",
        ),
        (
            &[b"CLIENT", b"PAUSE"],
            b"-ERR wrong number of arguments for 'client|pause' command\r\n",
        ),
        (&[b"CLIENT", b"PAUSE", b"0"], b"+OK\r\n"),
        (&[b"CLIENT", b"UNPAUSE"], b"+OK\r\n"),
        (&[b"CLIENT", b"UNBLOCK", b"1"], b":0\r\n"),
        (
            &[b"CLIENT", b"UNBLOCK", b"x"],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            &[b"CLIENT", b"UNBLOCK", b"1", b"maybe"],
            b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
        ),
        (&[b"CLIENT", b"UNBLOCK", b"1", b"error"], b":0\r\n"),
        (
            &[b"CLIENT", b"NOPE"],
            b"-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n",
        ),
        (
            &[b"CLIENT", b"CACHING", b"yes"],
            b"-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n",
        ),
        (&[b"CLIENT", b"GETREDIR"], b":-1\r\n"),
        (&[b"CLIENT", b"TRACKING", b"off"], b"+OK\r\n"),
        (&[b"CLIENT", b"TRACKING", b"maybe"], b"-ERR syntax error\r\n"),
        (
            &[b"CLIENT", b"TRACKINGINFO"],
            b"*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n",
        ),
    ] {
        assert_eq!(s(&c.cmd(args)), s(want), "{args:?}");
    }
    // Tracking itself is not available.
    assert_eq!(c.cmd(&[b"CLIENT", b"TRACKING", b"on"])[0], b'-');
    // HELP: an array of status lines naming every subcommand.
    let help = s(&c.cmd(&[b"CLIENT", b"HELP"]));
    assert!(help.starts_with('*'));
    for sub in [
        "CACHING",
        "GETREDIR",
        "GETNAME",
        "ID",
        "INFO",
        "KILL",
        "LIST",
        "UNPAUSE",
        "PAUSE",
        "REPLY",
        "SETNAME",
        "UNBLOCK",
        "TRACKING",
        "TRACKINGINFO",
        "NO-EVICT",
        "HELP",
    ] {
        assert!(help.contains(&format!("\r\n+{sub}")), "{sub} missing");
    }
}
