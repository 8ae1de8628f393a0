//! Integration tests for `ember-cli`, run against a private `redis-server`:
//! one-shot output compared byte for byte with `redis-cli` in formatted,
//! raw and CSV modes (RESP2 and RESP3), `-e`, `-x`, `-r/-i`, `--scan`, `--bigkeys`,
//! `--latency`, `--stat`, `--pipe`, connection errors, and the REPL driven through a pty.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLI: &str = env!("CARGO_BIN_EXE_ember-cli");

fn require_redis() -> bool {
    std::env::var("EMBER_REQUIRE_REDIS").is_ok_and(|v| v == "1")
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ember-cli-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private redis-server, killed on drop.
struct Server {
    child: Child,
    port: u16,
    _dir: TempDir,
    extra: Vec<String>,
}

impl Server {
    /// Starts a server, or returns `None` (with a notice) when redis-server
    /// or redis-cli is not installed and EMBER_REQUIRE_REDIS is not 1.
    fn start(extra: &[&str]) -> Option<Server> {
        if !have("redis-server") || !have("redis-cli") {
            if require_redis() {
                panic!("redis-server/redis-cli not found and EMBER_REQUIRE_REDIS=1");
            }
            println!("NOTICE: redis-server not found; skipping");
            return None;
        }
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        Some(Server::spawn(free_port(), extra))
    }

    fn spawn(port: u16, extra: Vec<String>) -> Server {
        let dir = TempDir::new("redis");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--dir"])
            .arg(&dir.0)
            .args(&extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            child,
            port,
            _dir: dir,
            extra,
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server and starts a fresh one on the same port.
    fn restart(&mut self) {
        self.stop();
        let fresh = Server::spawn(self.port, self.extra.clone());
        let old = std::mem::replace(self, fresh);
        drop(old);
    }

    /// Runs `redis-cli` against this server (for set-up and as the oracle).
    fn redis_cli(&self, args: &[&str]) -> Output {
        run("redis-cli", self.port, args, None)
    }

    fn ember_cli(&self, args: &[&str]) -> Output {
        run(CLI, self.port, args, None)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(program: &str, port: u16, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(program)
        .args(["-p", &port.to_string()])
        .args(args)
        .env_remove("REDISCLI_AUTH")
        .env_remove("EMBERCLI_AUTH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn load_fixture(s: &Server) {
    let setup: &[&[&str]] = &[
        &["set", "foo", "bar"],
        &["set", "bin", "a\x01b\"c\\\n\t\u{7f} é"],
        &["rpush", "l", "a", "b", "c"],
        &["hset", "h", "f1", "v1", "f2", "v2"],
        &["sadd", "s", "x", "y", "z"],
        &["zadd", "z", "1.5", "a", "2", "b"],
        &["xadd", "st", "1-1", "f", "v"],
        &["set", "we ird\nkey", "v"],
    ];
    for cmd in setup {
        assert!(s.redis_cli(cmd).status.success());
    }
}

/// Asserts that both clients print the same stdout and exit the same way.
fn assert_same(s: &Server, args: &[&str]) {
    let theirs = s.redis_cli(args);
    let ours = s.ember_cli(args);
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "stdout differs for {args:?}\nour stderr: {}",
        text(&ours.stderr)
    );
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "exit status for {args:?}"
    );
}

const BATTERY: &[&[&str]] = &[
    &["get", "foo"],
    &["get", "nosuchkey"],
    &["get", "bin"],
    &["strlen", "foo"],
    &["ping"],
    &["set"],
    &["lrange", "l", "0", "-1"],
    &["lrange", "nosuchkey", "0", "-1"],
    &["hgetall", "h"],
    &["hgetall", "nosuchkey"],
    &["smembers", "s"],
    &["smembers", "nosuchkey"],
    &["zrange", "z", "0", "-1", "withscores"],
    &["zscore", "z", "a"],
    &["xrange", "st", "-", "+"],
    &["config", "get", "maxmemory"],
    &["command", "docs", "set"],
    &["command", "docs", "config"],
    &["info", "keyspace"],
    &[
        "eval",
        "return {1,{2,{3,{}}},'x',{},redis.status_reply('ST'),redis.error_reply('E1 bad')}",
        "0",
    ],
    &["eval", "return {1,2,3,4,5,6,7,8,9,10,{1,2}}", "0"],
    &["eval", "return nil", "0"],
    &["eval", "redis.setresp(3); return true", "0"],
    &["eval", "redis.setresp(3); return false", "0"],
    &["eval", "redis.setresp(3); return {double=3.5}", "0"],
    &["eval", "redis.setresp(3); return {map={a={1,{x=2}}}}", "0"],
    &[
        "eval",
        "redis.setresp(3); return redis.call('smembers', 'nosuchkey')",
        "0",
    ],
];

fn compare_battery(modes: &[&str]) {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    load_fixture(&s);
    for resp in [None, Some("-3")] {
        for cmd in BATTERY {
            let mut args: Vec<&str> = modes.to_vec();
            args.extend(resp);
            args.extend_from_slice(cmd);
            assert_same(&s, &args);
        }
    }
}

#[test]
fn formatted_output_matches_redis_cli() {
    compare_battery(&["--no-raw"]);
}

#[test]
fn raw_output_matches_redis_cli() {
    compare_battery(&["--raw"]);
    // Piped stdout without a flag also means raw.
    compare_battery(&[]);
}

#[test]
fn csv_output_matches_redis_cli() {
    compare_battery(&["--csv"]);
}

#[test]
fn hello_3_switches_the_display_like_redis_cli() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    load_fixture(&s);
    // Lines typed on a non-terminal stdin run one after another.
    let script = b"hello 3\nhgetall h\nzscore z a\nselect 1\nset k v\nget k\nset \"a b\" \"x\\x41\\ny\"\nget \"a b\"\n";
    for mode in ["--no-raw", "--raw", "--csv"] {
        let theirs = run("redis-cli", s.port, &[mode], Some(script));
        let ours = run(CLI, s.port, &[mode], Some(script));
        let strip_id = |o: &Output| {
            text(&o.stdout)
                .lines()
                .filter(|l| !l.contains("\"id\"") && !l.starts_with("id "))
                .map(|l| {
                    let mut l = l.to_string();
                    if let Some(p) = l.find("\"id\",") {
                        let end = l[p + 5..].find(',').map_or(l.len(), |e| p + 5 + e);
                        l.replace_range(p..end, "");
                    }
                    l
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip_id(&ours), strip_id(&theirs), "mode {mode}");
    }
}

#[test]
fn db_and_uri_flags() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    assert_same(&s, &["-n", "2", "set", "k", "in-two"]);
    assert_same(&s, &["-n", "2", "--no-raw", "get", "k"]);
    assert_same(&s, &["--no-raw", "get", "k"]);
    let uri = format!("redis://127.0.0.1:{}/2", s.port);
    let out = Command::new(CLI)
        .args(["-u", &uri, "get", "k"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "in-two\n");
}

#[test]
fn error_exit_code_with_e() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    for mode in ["--no-raw", "--raw"] {
        let ours = s.ember_cli(&["-e", mode, "set"]);
        let theirs = s.redis_cli(&["-e", mode, "set"]);
        assert_eq!(ours.status.code(), Some(1));
        assert_eq!(ours.status.code(), theirs.status.code());
        assert_eq!(ours.stdout, theirs.stdout);
        assert_eq!(
            text(&ours.stderr),
            "ERR wrong number of arguments for 'set' command\n"
        );
    }
    // Without -e an error reply still exits 0, as redis-cli does.
    assert_eq!(s.ember_cli(&["set"]).status.code(), Some(0));
}

#[test]
fn last_argument_from_stdin_with_x() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    let out = run(
        CLI,
        s.port,
        &["-x", "set", "fromstdin"],
        Some(b"hello\nworld\n\x00end"),
    );
    assert_eq!(text(&out.stdout), "OK\n");
    let theirs = s.redis_cli(&["--no-raw", "get", "fromstdin"]);
    assert_eq!(text(&theirs.stdout), "\"hello\\nworld\\n\\x00end\"\n");
    assert_same(&s, &["--no-raw", "get", "fromstdin"]);
}

#[test]
fn repeat_with_interval() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    let started = Instant::now();
    let out = s.ember_cli(&["-r", "3", "-i", "0.2", "incr", "counter"]);
    let elapsed = started.elapsed();
    assert_eq!(text(&out.stdout), "1\n2\n3\n");
    assert!(elapsed >= Duration::from_millis(400), "took {elapsed:?}");
    assert_eq!(text(&s.redis_cli(&["get", "counter"]).stdout), "3\n");
    assert_same(
        &s,
        &["-r", "2", "--no-raw", "lrange", "nosuchkey", "0", "-1"],
    );
}

#[test]
fn scan_with_pattern() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    load_fixture(&s);
    for i in 0..300 {
        s.redis_cli(&["set", &format!("user:{i}"), "v"]);
    }
    let sorted = |o: Output| {
        let mut lines: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    for args in [
        vec!["--scan", "--pattern", "user:*"],
        vec!["--scan"],
        vec!["--no-raw", "--scan", "--pattern", "we*"],
    ] {
        let ours = sorted(s.ember_cli(&args));
        assert!(!ours.is_empty());
        assert_eq!(ours, sorted(s.redis_cli(&args)), "{args:?}");
    }
    assert_eq!(
        sorted(s.ember_cli(&["--scan", "--pattern", "user:*"])).len(),
        300
    );
    // --count (a later redis-cli addition) only changes the SCAN batch size.
    let counted = sorted(s.ember_cli(&["--scan", "--pattern", "user:1?", "--count", "7"]));
    let expected: Vec<String> = (10..20).map(|i| format!("user:{i}")).collect();
    assert_eq!(counted, expected);
}

fn mass_insert_resp(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let (k, v) = (format!("pk:{i}"), format!("value-{i}"));
        out.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"*1\r\n$5\r\nBOGUS\r\n");
    out
}

#[test]
fn pipe_mass_insertion() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    let data = mass_insert_resp(20_000);
    let theirs = run("redis-cli", s.port, &["--pipe"], Some(&data));
    s.redis_cli(&["flushall"]);
    let ours = run(CLI, s.port, &["--pipe"], Some(&data));
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    assert_eq!(
        text(&ours.stdout).lines().last(),
        Some("errors: 1, replies: 20001")
    );
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert!(text(&ours.stderr).contains("ERR unknown command 'BOGUS'"));
    assert_eq!(text(&s.redis_cli(&["dbsize"]).stdout), "20000\n");
    assert_eq!(
        text(&s.redis_cli(&["get", "pk:19999"]).stdout),
        "value-19999\n"
    );

    // Without errors the exit status is 0.
    let ok = run(CLI, s.port, &["--pipe"], Some(b"*1\r\n$4\r\nPING\r\n"));
    assert_eq!(ok.status.code(), Some(0));
    assert!(text(&ok.stdout).ends_with("errors: 0, replies: 1\n"));
}

#[test]
fn cannot_connect_is_reported() {
    let port = free_port();
    let out = Command::new(CLI)
        .args(["-p", &port.to_string(), "ping"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("Could not connect to Ember at 127.0.0.1:{port}: Connection refused\n")
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn server_closing_the_connection_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = sock.read(&mut buf);
        // Close without answering.
    });
    let out = Command::new(CLI)
        .args(["-p", &port.to_string(), "ping"])
        .output()
        .unwrap();
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "Error: the server closed the connection\n"
    );
}

#[test]
fn auth_failures_are_reported() {
    let Some(s) = Server::start(&["--requirepass", "sesame"]) else {
        return;
    };
    let bad = s.ember_cli(&["--no-auth-warning", "-a", "wrong", "ping"]);
    assert!(
        text(&bad.stderr).contains("Authentication failed: WRONGPASS"),
        "{}",
        text(&bad.stderr)
    );
    assert_same(&s, &["--no-auth-warning", "-a", "wrong", "ping"]);
    let good = s.ember_cli(&["--no-auth-warning", "-a", "sesame", "ping"]);
    assert_eq!(text(&good.stdout), "PONG\n");
    assert!(good.stderr.is_empty());
    let warned = s.ember_cli(&["-a", "sesame", "ping"]);
    assert!(text(&warned.stderr).starts_with("Warning:"));
    let user = s.ember_cli(&[
        "--user",
        "default",
        "--pass",
        "sesame",
        "--no-auth-warning",
        "ping",
    ]);
    assert_eq!(text(&user.stdout), "PONG\n");
}

mod repl {
    use super::*;
    use rexpect::reader::Options;
    use rexpect::session::{PtySession, spawn_with_options};

    fn start(s: &Server, home: &TempDir) -> PtySession {
        let mut cmd = Command::new(CLI);
        cmd.args(["-p", &s.port.to_string()])
            .env("HOME", &home.0)
            .env("TERM", "xterm")
            .env_remove("EMBERCLI_HISTFILE");
        spawn_with_options(
            cmd,
            Options::default()
                .timeout_ms(Some(10_000))
                .strip_ansi_escape_codes(true),
        )
        .expect("spawn ember-cli in a pty")
    }

    #[test]
    fn prompt_quoting_help_hints_history() {
        let Some(s) = Server::start(&[]) else {
            return;
        };
        let home = TempDir::new("home");
        let mut p = start(&s, &home);
        let prompt = format!("127.0.0.1:{}> ", s.port);
        p.exp_string(&prompt).unwrap();

        p.send_line(r#"set "a b" "x\x41\ny""#).unwrap();
        p.exp_string("OK").unwrap();
        p.send_line(r#"get "a b""#).unwrap();
        p.exp_string(r#""xA\ny""#).unwrap();

        p.send_line("rpush l a b").unwrap();
        p.exp_string("(integer) 2").unwrap();
        p.send_line("lrange l 0 -1").unwrap();
        p.exp_string("1) \"a\"").unwrap();
        p.exp_string("2) \"b\"").unwrap();

        p.send_line("select 1").unwrap();
        p.exp_string(&format!("127.0.0.1:{}[1]> ", s.port)).unwrap();

        p.send_line("help set").unwrap();
        p.exp_string("SET key value [NX|XX] [GET]").unwrap();
        p.exp_string("summary: Set the string value of a key")
            .unwrap();
        p.exp_string("group: string").unwrap();

        p.send_line("help @hyperloglog").unwrap();
        p.exp_string("PFADD key [element [element ...]]").unwrap();

        p.send_line(r#"set "unbalanced"#).unwrap();
        p.exp_string("Invalid argument(s)").unwrap();

        // Hints appear as the command is typed.
        p.send("hset ").unwrap();
        p.flush().unwrap();
        p.exp_string("key field value [field value ...]").unwrap();
        p.send("h1 ").unwrap();
        p.flush().unwrap();
        p.exp_string("field value [field value ...]").unwrap();
        p.send_line("f v").unwrap();
        p.exp_string("(integer) 1").unwrap();

        // Tab completes a command name.
        p.send("pin\t").unwrap();
        p.flush().unwrap();
        p.exp_string("ping").unwrap();
        p.send_line("").unwrap();
        p.exp_string("PONG").unwrap();

        // Lines typed ahead (or pasted) are all run, in order.
        p.send_line("echo one").unwrap();
        p.send_line("echo two").unwrap();
        p.exp_string("\"one\"").unwrap();
        p.exp_string("\"two\"").unwrap();

        p.send_line("quit").unwrap();
        p.exp_eof().unwrap();
        let history = std::fs::read_to_string(home.0.join(".embercli_history")).unwrap();
        assert!(history.contains("select 1"), "{history}");
        assert!(history.contains("hset h1 f v"), "{history}");
    }

    #[test]
    fn reconnects_after_restart_and_streams_until_ctrl_c() {
        let Some(mut s) = Server::start(&[]) else {
            return;
        };
        let home = TempDir::new("home");
        let mut p = start(&s, &home);
        let prompt = format!("127.0.0.1:{}> ", s.port);
        p.exp_string(&prompt).unwrap();
        p.send_line("set before restart").unwrap();
        p.exp_string("OK").unwrap();

        s.restart();
        p.send_line("get before").unwrap();
        p.exp_string("(nil)").unwrap();
        p.exp_string(&prompt).unwrap();

        s.stop();
        p.send_line("ping").unwrap();
        p.exp_string(&format!(
            "Could not connect to Ember at 127.0.0.1:{}",
            s.port
        ))
        .unwrap();
        p.exp_string("not connected> ").unwrap();

        s.restart();
        p.send_line("ping").unwrap();
        p.exp_string("PONG").unwrap();

        p.send_line("subscribe news").unwrap();
        p.exp_string("Reading messages").unwrap();
        p.exp_string("3) (integer) 1").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let n = s.redis_cli(&["publish", "news", "hello"]);
            if text(&n.stdout) == "1\n" || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        p.exp_string("3) \"hello\"").unwrap();
        p.send_control('c').unwrap();
        p.exp_string(&prompt).unwrap();
        p.send_line("ping").unwrap();
        p.exp_string("PONG").unwrap();
        p.send_control('d').unwrap();
        p.exp_eof().unwrap();
    }
}

/// Runs `ember-cli` with a live view flag, lets it print for `run_for`, then
/// interrupts it as Ctrl-C would and returns what it printed and its status.
fn run_live_view(
    port: u16,
    args: &[&str],
    run_for: Duration,
) -> (String, std::process::ExitStatus) {
    let mut cmd = Command::new(CLI);
    cmd.args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A test run started in the background inherits SIGINT ignored; the
    // CLI must see Ctrl-C as a terminal user's would.
    // SAFETY: only signal(2), which is async-signal-safe, runs in the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    std::thread::sleep(run_for);
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    (text(&out.stdout), out.status)
}

#[test]
fn latency_view_reports_min_max_avg_and_samples() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    let (out, _) = run_live_view(s.port, &["--latency"], Duration::from_millis(1500));
    let last = out
        .split(['\r', '\n'])
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string();
    // e.g. "min: 0.07, max: 0.23, avg: 0.13 (98 samples)"
    let nums: Vec<f64> = last
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|t| !t.is_empty() && *t != ".")
        .map(|t| t.parse().unwrap())
        .collect();
    assert!(
        last.starts_with("min: ") && last.ends_with(" samples)"),
        "{last:?}"
    );
    assert_eq!(nums.len(), 4, "{last:?}");
    let (min, max, avg, samples) = (nums[0], nums[1], nums[2], nums[3]);
    assert!(min <= avg && avg <= max, "{last:?}");
    assert!(samples >= 10.0, "too few samples in 1.5 s: {last:?}");
}

#[test]
fn stat_view_prints_a_row_per_interval() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    load_fixture(&s);
    let (out, _) = run_live_view(
        s.port,
        &["--stat", "-i", "0.2"],
        Duration::from_millis(1500),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("keys"), "{out}");
    for col in ["mem", "clients", "blocked", "requests", "connections"] {
        assert!(lines[0].contains(col), "missing {col}: {out}");
    }
    let rows: Vec<&&str> = lines[1..]
        .iter()
        .filter(|l| !l.starts_with("keys"))
        .collect();
    assert!(rows.len() >= 3, "{out}");
    // The fixture holds 8 keys; the first column is the key count.
    assert!(
        rows.iter()
            .all(|r| r.split_whitespace().next() == Some("8")),
        "{out}"
    );
}

#[test]
fn bigkeys_names_the_biggest_key_of_each_type() {
    let Some(s) = Server::start(&[]) else {
        return;
    };
    load_fixture(&s);
    s.redis_cli(&["rpush", "longlist", "1", "2", "3", "4", "5", "6"]);
    let out = text(&s.ember_cli(&["--bigkeys"]).stdout);
    assert!(out.contains("Sampled 9 keys"), "{out}");
    assert!(
        out.contains("Largest   list: \"longlist\" with 6 items"),
        "{out}"
    );
    assert!(
        out.contains("Largest    set: \"s\" with 3 members"),
        "{out}"
    );
    assert!(out.contains("2 list keys with 9 items"), "{out}");
}

#[test]
fn shutdown_is_silent_and_succeeds_like_redis_cli() {
    // The server closes the connection instead of answering SHUTDOWN; both
    // clients take that as success: no output, exit status 0.
    let Some(mut s) = Server::start(&[]) else {
        return;
    };
    let ours = run(CLI, s.port, &["shutdown", "nosave"], None);
    assert_eq!(ours.status.code(), Some(0), "{}", text(&ours.stderr));
    assert_eq!(text(&ours.stdout), "");
    assert_eq!(text(&ours.stderr), "");
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "server still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    let Some(s2) = Server::start(&[]) else {
        return;
    };
    let theirs = run("redis-cli", s2.port, &["shutdown", "nosave"], None);
    assert_eq!(theirs.status.code(), Some(0));
    assert_eq!(text(&theirs.stdout), "");
    assert_eq!(text(&theirs.stderr), "");
}
