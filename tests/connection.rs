//! Connection-level behaviour of ember-server: HELLO and protocol switching,
//! AUTH flows with `requirepass`, SELECT, RESET, CLIENT REPLY, and the
//! server's connection limits and process options (maxclients, timeout,
//! protected mode, Unix socket, pidfile, daemonize).

mod common;

use common::{RawConn, Server, encode_command};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// HELLO's reply for protocol `proto` and client `id`, byte for byte.
fn hello_reply(proto: u8, id: i64) -> Vec<u8> {
    let head = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{head}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
         $5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
         $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
    .into_bytes()
}

/// An ember-server started without the harness's PING check (which a
/// server with `requirepass` answers with NOAUTH); killed on drop.
struct Bare {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Bare {
    fn start(extra: &[&str]) -> Option<Bare> {
        let bin = common::ember_bin()?;
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ember-server");
        let bare = Bare {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "ember-server not listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(bare)
    }

    fn raw(&self) -> RawConn {
        RawConn::connect(&self.addr()).expect("connect")
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_id(c: &mut RawConn) -> i64 {
    let r = c.cmd(&[b"CLIENT", b"ID"]);
    s(&r[1..r.len() - 2]).parse().expect("CLIENT ID integer")
}

#[test]
fn hello_switches_protocol() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.raw();
    let id = client_id(&mut c);
    assert_eq!(c.cmd(&[b"HELLO"]), hello_reply(2, id));
    assert_eq!(c.cmd(&[b"HELLO", b"3"]), hello_reply(3, id));
    // RESP3 encodings now: null, map, verbatim.
    assert_eq!(c.cmd(&[b"GET", b"nokey"]), b"_\r\n");
    assert_eq!(c.cmd(&[b"CLIENT", b"GETNAME"]), b"_\r\n");
    let info = c.cmd(&[b"CLIENT", b"INFO"]);
    assert!(info.starts_with(b"="), "{}", s(&info));
    assert!(s(&info).contains("txt:id="));
    assert!(s(&info).contains(" resp=3\n"));
    // HELLO without a version keeps the current one.
    assert_eq!(c.cmd(&[b"HELLO"]), hello_reply(3, id));
    assert_eq!(c.cmd(&[b"HELLO", b"2"]), hello_reply(2, id));
    assert_eq!(c.cmd(&[b"GET", b"nokey"]), b"$-1\r\n");
    assert_eq!(
        c.cmd(&[b"HELLO", b"4"]),
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        c.cmd(&[b"HELLO", b"x"]),
        b"-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        c.cmd(&[b"HELLO", b"3", b"SETNAME"]),
        b"-ERR Syntax error in HELLO option 'SETNAME'\r\n"
    );
    assert_eq!(
        c.cmd(&[b"HELLO", b"3", b"SETNAME", b"a b"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    // A failed HELLO changes nothing.
    assert_eq!(c.cmd(&[b"GET", b"nokey"]), b"$-1\r\n");
    assert_eq!(
        c.cmd(&[b"HELLO", b"3", b"SETNAME", b"conn1"]),
        hello_reply(3, id)
    );
    assert_eq!(c.cmd(&[b"CLIENT", b"GETNAME"]), b"$5\r\nconn1\r\n");
    // Without a password any password of `default` is accepted; other users
    // do not exist.
    assert_eq!(
        c.cmd(&[b"HELLO", b"2", b"AUTH", b"default", b"whatever"]),
        hello_reply(2, id)
    );
    assert_eq!(
        c.cmd(&[b"HELLO", b"2", b"AUTH", b"bob", b"x"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
}

#[test]
fn hello_through_redis_crate_resp3() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let url = format!("redis://{}/?protocol=resp3", server.addr());
    let mut con = redis::Client::open(url)
        .unwrap()
        .get_connection()
        .expect("RESP3 connection");
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v, "v");
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(info.contains("resp=3"), "{info}");
}

#[test]
fn auth_flows_with_requirepass() {
    let Some(server) = Bare::start(&["--requirepass", "sekret"]) else {
        return;
    };
    let mut c = server.raw();
    assert_eq!(c.cmd(&[b"PING"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd(&[b"HELLO", b"3"]),
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(c.cmd(&[b"AUTH", b"nope"]), wrongpass);
    assert_eq!(c.cmd(&[b"AUTH", b"default", b"nope"]), wrongpass);
    assert_eq!(c.cmd(&[b"AUTH", b"bob", b"sekret"]), wrongpass);
    assert_eq!(
        c.cmd(&[b"AUTH", b"a", b"b", b"c"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        c.cmd(&[b"HELLO", b"3", b"AUTH", b"default", b"nope"]),
        wrongpass
    );
    assert_eq!(c.cmd(&[b"PING"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(c.cmd(&[b"AUTH", b"sekret"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    // A later failure does not log the client out.
    assert_eq!(c.cmd(&[b"AUTH", b"nope"]), wrongpass);
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    // RESET logs out.
    assert_eq!(c.cmd(&[b"RESET"]), b"+RESET\r\n");
    assert_eq!(c.cmd(&[b"PING"]), b"-NOAUTH Authentication required.\r\n");
    let id = client_id_after_auth(&mut c);
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(c.cmd(&[b"RESET"]), b"+RESET\r\n");
    assert_eq!(
        c.cmd(&[
            b"HELLO", b"3", b"AUTH", b"default", b"sekret", b"SETNAME", b"me"
        ]),
        hello_reply(3, id)
    );
    assert_eq!(c.cmd(&[b"CLIENT", b"GETNAME"]), b"$2\r\nme\r\n");

    // Through the redis crate: password in the URL.
    let url = format!("redis://:sekret@{}/", server.addr());
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

fn client_id_after_auth(c: &mut RawConn) -> i64 {
    assert_eq!(c.cmd(&[b"AUTH", b"default", b"sekret"]), b"+OK\r\n");
    client_id(c)
}

#[test]
fn auth_without_password_configured() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&[b"AUTH", b"x"]),
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n".to_vec()
    );
    assert_eq!(c.cmd(&[b"AUTH", b"default", b"x"]), b"+OK\r\n");
}

#[test]
fn select_and_reset() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.raw();
    assert_eq!(c.cmd(&[b"SELECT", b"15"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"SET", b"k", b"in15"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[b"SELECT", b"16"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        c.cmd(&[b"SELECT", b"-1"]),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        c.cmd(&[b"SELECT", b"x"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(c.cmd(&[b"GET", b"k"]), b"$4\r\nin15\r\n");
    assert_eq!(c.cmd(&[b"CLIENT", b"SETNAME", b"n"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"HELLO", b"3"])[0], b'%');
    assert_eq!(c.cmd(&[b"CLIENT", b"NO-EVICT", b"on"]), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"RESET"]), b"+RESET\r\n");
    // Back to db 0, RESP2, no name; NO-EVICT is kept (as Redis does).
    assert_eq!(c.cmd(&[b"GET", b"k"]), b"$-1\r\n");
    assert_eq!(c.cmd(&[b"CLIENT", b"GETNAME"]), b"$-1\r\n");
    let info = s(&c.cmd(&[b"CLIENT", b"INFO"]));
    assert!(info.contains(" db=0 "), "{info}");
    assert!(info.contains(" flags=e "), "{info}");
    assert!(info.contains(" resp=2\n"), "{info}");
    // Other databases are only visible after SELECT.
    let mut other = server.client();
    let _: () = redis::cmd("SELECT").arg(15).query(&mut other).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut other).unwrap();
    assert_eq!(v, "in15");
}

#[test]
fn ping_echo_quit() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.raw();
    assert_eq!(c.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(c.cmd(&[b"PING", b"a\r\nb"]), b"$4\r\na\r\nb\r\n");
    assert_eq!(c.cmd(&[b"ECHO", b""]), b"$0\r\n\r\n");
    assert_eq!(
        c.cmd(&[b"ECHO"]),
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    // QUIT answers OK and closes; what follows it is not run.
    c.send(
        &[
            encode_command(&[b"QUIT"]),
            encode_command(&[b"SET", b"q", b"1"]),
        ]
        .concat(),
    );
    let d = c.read_until_closed();
    assert!(d.closed);
    assert_eq!(d.bytes, b"+OK\r\n");
    let mut c2 = server.raw();
    assert_eq!(c2.cmd(&[b"GET", b"q"]), b"$-1\r\n");
}

#[test]
fn client_reply_off_and_skip() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.raw();
    // OFF: nothing, not even errors, until ON.
    c.send(&encode_command(&[b"CLIENT", b"REPLY", b"OFF"]));
    c.send(&encode_command(&[b"SET", b"a", b"1"]));
    c.send(&encode_command(&[b"NOSUCHCOMMAND"]));
    c.send(&encode_command(&[b"CLIENT", b"REPLY", b"ON"]));
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.cmd(&[b"GET", b"a"]), b"$1\r\n1\r\n");
    // SKIP: no reply to itself nor to the next command.
    c.send(&encode_command(&[b"CLIENT", b"REPLY", b"SKIP"]));
    c.send(&encode_command(&[b"ECHO", b"skipped"]));
    c.send(&encode_command(&[b"ECHO", b"seen"]));
    assert_eq!(c.read_reply(), b"$4\r\nseen\r\n");
    // SKIP while OFF stays OFF.
    c.send(&encode_command(&[b"CLIENT", b"REPLY", b"OFF"]));
    c.send(&encode_command(&[b"CLIENT", b"REPLY", b"SKIP"]));
    c.send(&encode_command(&[b"ECHO", b"x"]));
    c.send(&encode_command(&[b"ECHO", b"y"]));
    c.send(&encode_command(&[b"CLIENT", b"REPLY", b"ON"]));
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(
        c.cmd(&[b"CLIENT", b"REPLY", b"MAYBE"]),
        b"-ERR syntax error\r\n"
    );
    // RESET turns replies back on.
    c.send(&encode_command(&[b"CLIENT", b"REPLY", b"OFF"]));
    c.send(&encode_command(&[b"ECHO", b"x"]));
    assert_eq!(c.cmd(&[b"RESET"]), b"+RESET\r\n");
    c.set_timeout(Duration::from_millis(300));
    assert!(c.try_read_reply().is_err(), "nothing else may arrive");
}

#[test]
fn maxclients_refuses_extra_connections() {
    let Some(server) = Server::start(&["--maxclients", "2"]) else {
        return;
    };
    let mut a = server.raw();
    // The harness's start-up probe may still be closing: wait until `a` is
    // the only client.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list = a.cmd(&[b"CLIENT", b"LIST"]);
        if list.iter().filter(|&&c| c == b'\n').count() == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "probe connection never left");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut b = server.raw();
    assert_eq!(a.cmd(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(b.cmd(&[b"PING"]), b"+PONG\r\n");
    let mut third = server.raw();
    let d = third.read_until_closed();
    assert!(d.closed, "the third client must be disconnected");
    assert_eq!(d.bytes, b"-ERR max number of clients reached\r\n");
    // Once one leaves, a newcomer gets in.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = server.raw();
        c.set_timeout(Duration::from_secs(2));
        match c.try_read_reply_after(&encode_command(&[b"PING"])) {
            Some(r) if r == b"+PONG\r\n" => break,
            _ => assert!(Instant::now() < deadline, "slot never freed"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(b.cmd(&[b"PING"]), b"+PONG\r\n");
}

trait SendRead {
    fn try_read_reply_after(&mut self, req: &[u8]) -> Option<Vec<u8>>;
}

impl SendRead for RawConn {
    fn try_read_reply_after(&mut self, req: &[u8]) -> Option<Vec<u8>> {
        self.try_send(req).ok()?;
        self.try_read_reply().ok()
    }
}

#[test]
fn timeout_closes_idle_clients() {
    let Some(server) = Server::start(&["--timeout", "1"]) else {
        return;
    };
    let mut idle = server.raw();
    assert_eq!(idle.cmd(&[b"PING"]), b"+PONG\r\n");
    let mut busy = server.raw();
    let start = Instant::now();
    // The busy client keeps talking every 300 ms for 2.5 s.
    while start.elapsed() < Duration::from_millis(2500) {
        assert_eq!(busy.cmd(&[b"PING"]), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(300));
    }
    idle.set_timeout(Duration::from_secs(3));
    let d = idle.read_until_closed();
    assert!(
        d.closed,
        "idle client still open after {:?}",
        start.elapsed()
    );
    assert!(d.bytes.is_empty());
    assert_eq!(busy.cmd(&[b"PING"]), b"+PONG\r\n");
}

/// A local address of this host outside the loopback network, if any.
fn non_loopback_ipv4() -> Option<std::net::IpAddr> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // No packet is sent: connecting a UDP socket only picks a route.
    sock.connect("192.0.2.1:9").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn protected_mode_refuses_remote_clients() {
    let Some(ip) = non_loopback_ipv4() else {
        println!("NOTICE: no non-loopback address; skipping protected mode test");
        return;
    };
    let Some(server) = Server::start(&["--bind", "*", "--protected-mode", "yes"]) else {
        return;
    };
    let mut remote = RawConn::connect(&format!("{ip}:{}", server.port())).expect("connect");
    remote.send(&encode_command(&[b"PING"]));
    let d = remote.read_until_closed();
    assert!(d.closed);
    let text = s(&d.bytes);
    assert!(
        text.starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."),
        "{text}"
    );
    assert!(text.ends_with("accepting connections from the outside.\r\n"));
    assert_eq!(d.bytes.len(), 1067, "same text as Redis 7.0");
    // Loopback clients are served.
    assert_eq!(server.raw().cmd(&[b"PING"]), b"+PONG\r\n");

    // With protected mode off, or a password set, remote clients are served.
    for args in [
        &["--bind", "*", "--protected-mode", "no"][..],
        &["--bind", "*", "--requirepass", "pw"][..],
    ] {
        let Some(server) = Bare::start(args) else {
            return;
        };
        let mut remote = RawConn::connect(&format!("{ip}:{}", server.port)).expect("connect");
        let r = remote.cmd(&[b"PING"]);
        assert!(
            r == b"+PONG\r\n" || r == b"-NOAUTH Authentication required.\r\n",
            "{}",
            s(&r)
        );
    }
}

#[test]
fn unix_socket_with_permissions() {
    let sock_dir = tempfile::tempdir().unwrap();
    let path = sock_dir.path().join("ember.sock");
    let path_s = path.to_string_lossy().into_owned();
    let Some(server) = Server::start(&["--unixsocket", &path_s, "--unixsocketperm", "700"]) else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let mut u = UnixStream::connect(&path).expect("unix connect");
    u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    u.write_all(&encode_command(&[b"SET", b"via", b"unix"]))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = u.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"+OK\r\n");
    u.write_all(&encode_command(&[b"CLIENT", b"INFO"])).unwrap();
    let n = u.read(&mut buf).unwrap();
    let info = s(&buf[..n]);
    assert!(
        info.contains(&format!(" addr={path_s}:0 laddr={path_s}:0 ")),
        "{info}"
    );
    assert!(info.contains(" flags=U "), "{info}");
    // Same data over TCP.
    assert_eq!(server.raw().cmd(&[b"GET", b"via"]), b"$4\r\nunix\r\n");
    // Unix clients are local: protected mode does not refuse them (checked
    // above by the successful SET).
}

#[test]
fn pidfile_holds_the_server_pid() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("ember.pid");
    let pidfile_s = pidfile.to_string_lossy().into_owned();
    let Some(server) = Server::start(&["--pidfile", &pidfile_s]) else {
        return;
    };
    let text = std::fs::read_to_string(&pidfile).expect("pid file written");
    assert!(text.ends_with('\n'));
    let pid: u32 = text.trim().parse().expect("a pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        s(&cmdline).contains(&server.port().to_string()),
        "pid {pid} is not the server"
    );
    // SHUTDOWN removes it.
    let mut c = server.raw();
    c.send(&encode_command(&[b"SHUTDOWN"]));
    let _ = c.read_until_closed();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pidfile.exists() {
        assert!(Instant::now() < deadline, "pid file not removed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills a daemon left behind by a failing test.
struct KillOnDrop(Option<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: plain kill(2) of the daemon this test started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn wait_for(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() || std::fs::read(path).map(|b| b.is_empty()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "{what} never appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn daemonize_with_logfile() {
    let Some(bin) = common::ember_bin() else {
        println!("NOTICE: ember-server is not built; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("d.pid");
    let logfile = dir.path().join("d.log");
    let port = common::free_port();
    let status = Command::new(&bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--daemonize", "yes"])
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--logfile")
        .arg(&logfile)
        .arg("--dir")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run ember-server");
    // The launching process returns at once; the daemon lives on.
    assert!(status.success());
    wait_for(&pidfile, "pid file");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut guard = KillOnDrop(Some(pid));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            break RawConn::new(s, Duration::from_secs(5));
        }
        assert!(Instant::now() < deadline, "daemon not listening");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(conn.cmd(&[b"PING"]), b"+PONG\r\n");
    // Detached: its own session, not our child.
    // SAFETY: getsid(2) only reads process state.
    let sid = unsafe { libc::getsid(pid) };
    assert_eq!(sid, pid, "the daemon leads its own session");
    wait_for(&logfile, "log file");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("Ready to accept connections"), "{log}");
    assert!(log.contains(&format!("pid={pid}")), "{log}");
    conn.send(&encode_command(&[b"SHUTDOWN"]));
    let _ = conn.read_until_closed();
    let deadline = Instant::now() + Duration::from_secs(10);
    // SAFETY: signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(Instant::now() < deadline, "daemon did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    guard.0 = None;
    assert!(!pidfile.exists(), "pid file removed at shutdown");
}
