//! The server as a process: command line and config file, log format,
//! pipelining, large values, many connections and threads, atomicity of
//! commands under concurrent clients.

mod common;

use common::{Server, ember_bin, encode_command, free_port};
use redis::Commands;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs ember-server with `args` expecting it to exit at once; returns
/// (exit code, stdout + stderr).
fn run_to_exit(args: &[&str]) -> Option<(i32, String)> {
    let bin = ember_bin()?;
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ember-server");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Some((out.status.code().unwrap_or(-1), text))
}

#[test]
fn unknown_directive_in_file_is_fatal_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "port 7000\nno-such-directive yes\n").unwrap();
    let Some((code, text)) = run_to_exit(&[conf.to_str().unwrap()]) else {
        return;
    };
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("*** FATAL CONFIG FILE ERROR"), "{text}");
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains(">>> 'no-such-directive yes'"), "{text}");
    assert!(
        text.contains("Bad directive or wrong number of arguments"),
        "{text}"
    );
}

#[test]
fn bad_value_on_command_line_is_fatal() {
    let Some((code, text)) = run_to_exit(&["--port", "notaport"]) else {
        return;
    };
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("argument couldn't be parsed into an integer"),
        "{text}"
    );
}

#[test]
fn version_flag() {
    let Some((code, text)) = run_to_exit(&["--version"]) else {
        return;
    };
    assert_eq!(code, 0);
    assert!(text.contains("v=0.1.0"), "{text}");
}

#[test]
fn config_file_then_overrides_and_ignored_directives_logged() {
    let Some(bin) = ember_bin() else {
        eprintln!("NOTICE: ember-server not built; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ember.conf");
    let file_port = free_port();
    let port = free_port();
    // The file's port is overridden by --port on the command line.
    std::fs::write(
        &conf,
        format!(
            "# a user's file\nport {file_port}\nbind 127.0.0.1\nsave \"\"\njemalloc-bg-thread yes\noom-score-adj no\n"
        ),
    )
    .unwrap();
    let log_path = dir.path().join("log.txt");
    let mut child = Command::new(bin)
        .arg(&conf)
        .args(["--port", &port.to_string(), "--logfile"])
        .arg(&log_path)
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    let mut ok = false;
    for _ in 0..200 {
        if let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
        {
            let pong: String = redis::cmd("PING").query(&mut c).unwrap();
            assert_eq!(pong, "PONG");
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let file_port_open = std::net::TcpStream::connect(("127.0.0.1", file_port)).is_ok();
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "server did not answer on the --port:\n{log}");
    assert!(!file_port_open, "the file's port must be overridden");
    assert!(log.contains("Configuration loaded"), "{log}");
    for name in ["jemalloc-bg-thread", "oom-score-adj"] {
        assert_eq!(
            log.matches(&format!("Directive '{name}'")).count(),
            1,
            "ignored directive {name} logged once:\n{log}"
        );
    }
}

#[test]
fn log_lines_use_redis_format() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let log = server.log_text();
    let ready = log
        .lines()
        .find(|l| l.ends_with("Ready to accept connections"))
        .unwrap_or_else(|| panic!("no ready line:\n{log}"));
    // pid:M dd Mon yyyy hh:mm:ss.mmm * Ready to accept connections
    let (pid, rest) = ready.split_once(':').unwrap();
    assert!(pid.chars().all(|c| c.is_ascii_digit()), "{ready}");
    let parts: Vec<&str> = rest.split(' ').collect();
    assert_eq!(parts[0], "M", "{ready}");
    assert_eq!(parts[1].len(), 2, "{ready}");
    assert_eq!(parts[2].len(), 3, "{ready}");
    assert_eq!(parts[3].len(), 4, "{ready}");
    assert_eq!(parts[4].len(), 12, "{ready}");
    assert_eq!(parts[5], "*", "{ready}");
    assert!(log.contains("Ember version="), "{log}");
    assert!(log.contains(&format!("port={}", server.port())), "{log}");
}

#[test]
fn thread_count_is_configurable() {
    let Some(server) = Server::start(&["--server-threads", "3"]) else {
        return;
    };
    assert!(
        server.log_text().contains("threads=3"),
        "{}",
        server.log_text()
    );
    // Connections are spread over the workers; all of them work.
    let clients: Vec<_> = (0..6).map(|_| server.client()).collect();
    for (i, mut c) in clients.into_iter().enumerate() {
        let _: () = c.set(format!("k{i}"), i).unwrap();
        let v: usize = c.get(format!("k{i}")).unwrap();
        assert_eq!(v, i);
    }
}

#[test]
fn deep_pipeline_in_one_write() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut raw = server.raw();
    let n = 20_000;
    let mut req = Vec::new();
    for i in 0..n {
        let k = format!("key:{i}");
        let v = format!("value:{i}");
        req.extend_from_slice(&encode_command(&[b"SET", k.as_bytes(), v.as_bytes()]));
        req.extend_from_slice(&encode_command(&[b"GET", k.as_bytes()]));
    }
    raw.send(&req);
    for i in 0..n {
        assert_eq!(raw.read_reply(), b"+OK\r\n");
        let v = format!("value:{i}");
        let expect = format!("${}\r\n{v}\r\n", v.len());
        assert_eq!(raw.read_reply(), expect.as_bytes());
    }
}

#[test]
fn large_values_round_trip() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    let big: Vec<u8> = (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let _: () = c.set("big", &big).unwrap();
    let back: Vec<u8> = c.get("big").unwrap();
    assert_eq!(back.len(), big.len());
    assert!(back == big);
}

#[test]
fn request_split_across_many_writes() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut raw = server.raw();
    let value = vec![b'v'; 100_000];
    let req = encode_command(&[b"SET", b"split", &value]);
    for chunk in req.chunks(777) {
        raw.send(chunk);
        std::thread::sleep(Duration::from_micros(200));
    }
    assert_eq!(raw.read_reply(), b"+OK\r\n");
    let reply = raw.cmd(&[b"GET", b"split"]);
    let mut expect = format!("${}\r\n", value.len()).into_bytes();
    expect.extend_from_slice(&value);
    expect.extend_from_slice(b"\r\n");
    assert!(reply == expect);
}

#[test]
fn many_concurrent_clients_on_all_threads() {
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    let addr = server.addr();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = common::connect(&addr);
                for i in 0..300 {
                    let k = format!("t{t}:{i}");
                    let _: () = c.set(&k, i).unwrap();
                    let v: i64 = c.get(&k).unwrap();
                    assert_eq!(v, i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 16 * 300);
}

#[test]
fn incr_is_atomic_across_threads() {
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    let addr = server.addr();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = common::connect(&addr);
                let mut p = redis::pipe();
                for _ in 0..2000 {
                    p.incr("counter", 1).ignore();
                }
                let _: () = p.query(&mut c).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.client();
    let v: i64 = c.get("counter").unwrap();
    assert_eq!(v, 8 * 2000);
}

#[test]
fn mset_is_atomic_against_concurrent_mget() {
    // MSET of the same value to keys spread over many shards must never be
    // seen half done by MGET on another thread.
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    let keys: Vec<String> = (0..32).map(|i| format!("atom:{i}")).collect();
    let addr = server.addr();
    let writer = {
        let addr = addr.clone();
        let keys = keys.clone();
        std::thread::spawn(move || {
            let mut c = common::connect(&addr);
            for round in 0..1500 {
                let pairs: Vec<(&str, i64)> = keys.iter().map(|k| (k.as_str(), round)).collect();
                let _: () = c.mset(&pairs).unwrap();
            }
        })
    };
    let mut c = server.client();
    let mut checks = 0;
    while !writer.is_finished() || checks == 0 {
        let vals: Vec<Option<i64>> = c.mget(&keys).unwrap();
        let first = vals[0];
        assert!(vals.iter().all(|v| *v == first), "torn MSET seen: {vals:?}");
        checks += 1;
    }
    writer.join().unwrap();
}

#[test]
fn server_survives_abrupt_disconnects() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    for _ in 0..50 {
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        // Half a request, then gone.
        let _ = s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc");
        drop(s);
    }
    let mut c = server.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn config_set_port_moves_the_listener() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut raw = server.raw();
    let new_port = free_port();
    let reply = raw.cmd(&[b"CONFIG", b"SET", b"port", new_port.to_string().as_bytes()]);
    assert_eq!(reply, b"+OK\r\n");
    let mut moved = common::RawConn::connect(&format!("127.0.0.1:{new_port}")).unwrap();
    assert_eq!(moved.cmd(&[b"PING"]), b"+PONG\r\n");
    assert!(
        std::net::TcpStream::connect(server.addr()).is_err(),
        "the old port must be closed"
    );
    // A port in use is refused and the current one keeps working.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let reply = moved.cmd(&[b"CONFIG", b"SET", b"port", busy_port.as_bytes()]);
    assert_eq!(
        reply,
        &b"-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"[..]
    );
    let mut again = common::RawConn::connect(&format!("127.0.0.1:{new_port}")).unwrap();
    assert_eq!(again.cmd(&[b"PING"]), b"+PONG\r\n");
    let port = again.cmd(&[b"CONFIG", b"GET", b"port"]);
    assert!(
        String::from_utf8_lossy(&port).contains(&new_port.to_string()),
        "{port:?}"
    );
}

#[test]
fn config_set_bind_to_an_unusable_address_fails_and_keeps_listening() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut raw = server.raw();
    // TEST-NET-2: documentation range, not an address of this host.
    let reply = raw.cmd(&[b"CONFIG", b"SET", b"bind", b"198.51.100.77"]);
    assert_eq!(
        reply,
        &b"-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n"[..]
    );
    let mut again = server.raw();
    assert_eq!(again.cmd(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn config_set_loglevel_takes_effect() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let protocol_error = |server: &Server| {
        let mut raw = server.raw();
        raw.send(b"*abc\r\n");
        let _ = raw.read_until_closed();
    };
    // At the default level (notice) protocol errors are not logged.
    protocol_error(&server);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!server.log_text().contains("Protocol error"));
    let mut c = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("loglevel")
        .arg("verbose")
        .query(&mut c)
        .unwrap();
    protocol_error(&server);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.log_text().contains("Protocol error") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
