//! Unit tests for the config module. Tests marked "oracle" compare Ember
//! with a real `redis-server` 7.0 and skip (with a printed notice) when it
//! is not installed.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------- helpers ----------

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Load like `from_args` but without changing the working directory.
fn load(args: &[&str]) -> Result<Config, String> {
    Config::load(&s(args), false, None)
}

fn tmpdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ember-config-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn get1(c: &Config, name: &str) -> String {
    let r = c.get(&[name.as_bytes()]);
    assert_eq!(r.len(), 1, "{name}: {r:?}");
    r[0].1.clone()
}

fn set(c: &Config, pairs: &[(&str, &str)]) -> Result<(), String> {
    let p: Vec<(&[u8], &[u8])> = pairs
        .iter()
        .map(|(a, b)| (a.as_bytes(), b.as_bytes()))
        .collect();
    c.set(&p)
}

fn have_redis() -> bool {
    let ok = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("NOTICE: redis-server not found, skipping oracle test");
    }
    ok
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private real Redis, killed on drop.
struct Redis {
    child: Child,
    port: u16,
    _dir: PathBuf,
}

impl Redis {
    fn start(extra: &[&str]) -> Redis {
        let port = free_port();
        let dir = tmpdir(&format!("redis-{port}"));
        let mut args = s(&[
            "--port",
            &port.to_string(),
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]);
        args.extend(s(&["--dir", dir.to_str().unwrap(), "--bind", "127.0.0.1"]));
        args.extend(s(extra));
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis {
            child,
            port,
            _dir: dir,
        }
    }

    fn call(&self, args: &[&[u8]]) -> Reply {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend(format!("${}\r\n", a.len()).bytes());
            out.extend_from_slice(a);
            out.extend(b"\r\n");
        }
        conn.write_all(&out).unwrap();
        read_reply(&mut BufReader::new(conn))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, PartialEq)]
enum Reply {
    Ok,
    Err(String),
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
    Other(String),
}

fn read_reply(r: &mut impl BufRead) -> Reply {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" if rest == "OK" => Reply::Ok,
        "-" => Reply::Err(rest.to_string()),
        "$" => {
            let n: usize = rest.parse().unwrap();
            let mut buf = vec![0; n + 2];
            r.read_exact(&mut buf).unwrap();
            buf.truncate(n);
            Reply::Bulk(buf)
        }
        "*" => {
            let n: usize = rest.parse().unwrap();
            Reply::Array((0..n).map(|_| read_reply(r)).collect())
        }
        _ => Reply::Other(line.to_string()),
    }
}

fn redis_get_all(r: &Redis, pattern: &str) -> Vec<(String, String)> {
    let Reply::Array(items) = r.call(&[b"CONFIG", b"GET", pattern.as_bytes()]) else {
        panic!("CONFIG GET failed")
    };
    items
        .chunks(2)
        .map(|kv| match (&kv[0], &kv[1]) {
            (Reply::Bulk(k), Reply::Bulk(v)) => (lossy(k), lossy(v)),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// stderr of `redis-server args...` that must fail at startup.
fn redis_startup_error(args: &[String], stdin: Option<&str>) -> String {
    let mut child = Command::new("redis-server")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("redis-server accepted {args:?} and kept running");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "redis-server accepted {args:?}");
    let mut text = lossy(&out.stderr);
    text.push_str(&lossy(&out.stdout));
    text
}

// ---------- argument splitting ----------

#[test]
fn split_args_quoting_and_escapes() {
    let sp =
        |x: &str| split_args(x.as_bytes()).map(|v| v.iter().map(|a| lossy(a)).collect::<Vec<_>>());
    assert_eq!(sp("  set  a   b "), Some(s(&["set", "a", "b"])));
    assert_eq!(sp(r#"a "b c" 'd e'"#), Some(s(&["a", "b c", "d e"])));
    assert_eq!(
        sp(r#""\x41\x4a\n\t\"\\" 'it\'s'"#),
        Some(s(&["AJ\n\t\"\\", "it's"]))
    );
    assert_eq!(sp(r#""\x4" '\n'"#), Some(s(&["x4", "\\n"])));
    assert_eq!(
        sp(r#"a"b c"d"#),
        None,
        "closing quote must be followed by a space"
    );
    assert_eq!(
        sp(r#"ab"c d" e"#),
        Some(s(&["abc d", "e"])),
        "quote may open mid-word"
    );
    assert_eq!(sp(r#""unterminated"#), None);
    assert_eq!(sp("'unterminated"), None);
    assert_eq!(sp(r#""""#), Some(s(&[""])));
    assert_eq!(sp("   "), Some(vec![]));
}

#[test]
fn memory_and_integer_parsing() {
    use value::{parse_memory, parse_strict_i64};
    assert_eq!(parse_memory(b"1gb"), Some(1 << 30));
    assert_eq!(parse_memory(b"100MB"), Some(100 << 20));
    assert_eq!(parse_memory(b"1k"), Some(1000));
    assert_eq!(parse_memory(b"10M"), Some(10_000_000));
    assert_eq!(parse_memory(b"42"), Some(42));
    assert_eq!(parse_memory(b"5b"), Some(5));
    assert_eq!(parse_memory(b""), Some(0));
    assert_eq!(parse_memory(b"1.5mb"), None);
    assert_eq!(parse_memory(b"-1"), None);
    assert_eq!(parse_memory(b"1t"), None);
    assert_eq!(parse_memory(b"99999999999999999999999"), Some(u64::MAX));
    assert_eq!(parse_strict_i64(b"-12"), Some(-12));
    assert_eq!(parse_strict_i64(b"012"), None);
    assert_eq!(parse_strict_i64(b"-0"), None);
    assert_eq!(parse_strict_i64(b"+1"), None);
    assert_eq!(parse_strict_i64(b"9223372036854775808"), None);
}

#[test]
fn glob_matching() {
    let m = |p: &str, t: &str| glob::glob_match(p.as_bytes(), t.as_bytes(), true);
    assert!(m("*", "anything"));
    assert!(m("max*", "maxmemory"));
    assert!(m("MAX*", "maxmemory"));
    assert!(m("p?rt", "port"));
    assert!(m("*[xy]*", "maxmemory"));
    assert!(!m("[^m]*", "maxmemory"));
    assert!(m("[a-n]ax*", "maxmemory"));
    assert!(m(r"a\*b", "a*b"));
    assert!(!m(r"a\*b", "axb"));
    assert!(!m("port?", "port"));
}

// ---------- file and command line parsing ----------

#[test]
fn defaults_match_the_table() {
    let c = load(&[]).unwrap();
    let st = c.settings();
    assert_eq!(st.port, 6379);
    assert_eq!(st.bind, s(&["*", "-::*"]));
    assert_eq!(st.save, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(st.maxmemory_policy, MaxmemoryPolicy::NoEviction);
    assert_eq!(st.client_output_buffer_limit[1].hard_bytes, 256 << 20);
    assert_eq!(st.proto_max_bulk_len, 512 << 20);
    assert_eq!(st.list_max_listpack_size, -2);
    assert_eq!(st.io_threads, 1);
    assert!(st.server_threads >= 1);
    assert_eq!(get1(&c, "server-threads"), "0");
    assert_eq!(get1(&c, "save"), "3600 1 300 100 60 10000");
    assert!(c.ignored_in_use().is_empty());
    assert!(c.config_file().is_none());
}

#[test]
fn aof_directives_are_implemented_and_typed() {
    let c = load(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-load-truncated",
        "no",
        "--aof-use-rdb-preamble",
        "no",
        "--auto-aof-rewrite-percentage",
        "50",
        "--auto-aof-rewrite-min-size",
        "1mb",
        "--appendfilename",
        "x.aof",
        "--appenddirname",
        "aofdir",
    ])
    .unwrap();
    let st = c.settings();
    assert!(st.appendonly);
    assert_eq!(st.appendfsync, AppendFsync::Always);
    assert!(!st.aof_load_truncated);
    assert!(!st.aof_use_rdb_preamble);
    assert_eq!(st.auto_aof_rewrite_percentage, 50);
    assert_eq!(st.auto_aof_rewrite_min_size, 1 << 20);
    assert_eq!(st.appendfilename, "x.aof");
    assert_eq!(st.appenddirname, "aofdir");
    // Acted on, so not reported as accepted-but-ignored.
    assert!(c.ignored_in_use().is_empty(), "{:?}", c.ignored_in_use());
}

#[test]
fn file_parsing_comments_quotes_aliases_multi_args() {
    let dir = tmpdir("parse");
    let inc = write(&dir, "inc.conf", "timeout 42\n");
    let main = write(
        &dir,
        "main.conf",
        &format!(
            "# a comment\n\n   port 7000   \r\nslaveof 10.0.0.1 6380\nhash-max-ziplist-entries 77\n\
             requirepass \"p\\x41ss word\"\nbind 127.0.0.1 ::1\nsave 100 1\nsave \"200 2 300 3\"\n\
             maxmemory 1gb\nclient-output-buffer-limit pubsub 1mb 2mb 3\nnotify-keyspace-events KEA\n\
             include {inc}\nrename-command FLUSHALL \"\"\nlist-max-ziplist-entries 5\nMAXMEMORY-POLICY AllKeys-LRU\n\
             user alice on >pw ~* +@all\nactivedefrag yes\nloglevel 'warning'\n"
        ),
    );
    let c = load(&[&main, "--hz", "20", "--unixsocketperm", "700"]).unwrap();
    let st = c.settings();
    assert_eq!(st.port, 7000);
    assert_eq!(st.replicaof, Some(("10.0.0.1".to_string(), 6380)));
    assert_eq!(get1(&c, "replicaof"), "10.0.0.1 6380");
    assert_eq!(get1(&c, "slaveof"), "10.0.0.1 6380");
    assert_eq!(st.hash_max_listpack_entries, 77);
    assert_eq!(st.requirepass.as_deref(), Some(&b"pAss word"[..]));
    assert_eq!(st.bind, s(&["127.0.0.1", "::1"]));
    assert_eq!(st.save, vec![(100, 1), (200, 2), (300, 3)]);
    assert_eq!(st.maxmemory, 1 << 30);
    assert_eq!(get1(&c, "maxmemory"), "1073741824");
    assert_eq!(st.client_output_buffer_limit[2].hard_bytes, 1 << 20);
    assert_eq!(st.client_output_buffer_limit[2].soft_seconds, 3);
    assert_eq!(st.notify_keyspace_events, "AKE");
    assert_eq!(st.timeout, 42);
    assert_eq!(st.hz, 20);
    assert_eq!(st.unixsocketperm, 0o700);
    assert_eq!(get1(&c, "unixsocketperm"), "700");
    assert_eq!(st.maxmemory_policy, MaxmemoryPolicy::AllkeysLru);
    assert_eq!(st.loglevel, LogLevel::Warning);
    assert_eq!(
        c.renamed_commands(),
        vec![("FLUSHALL".to_string(), String::new())]
    );
    // Directives not acted on are reported too.
    assert_eq!(
        c.ignored_in_use(),
        s(&[
            "activedefrag",
            "replicaof",
            "list-max-ziplist-entries",
            "user"
        ])
    );
    assert_eq!(c.config_file(), Some(std::fs::canonicalize(&main).unwrap()));
}

#[test]
fn save_lines_reset_and_command_line_save() {
    let dir = tmpdir("save");
    let f = write(&dir, "a.conf", "save 10 1\nsave \"\"\nsave 20 2\n");
    assert_eq!(load(&[&f]).unwrap().settings().save, vec![(20, 2)]);
    assert!(load(&["--save", ""]).unwrap().settings().save.is_empty());
    assert!(
        load(&["--save", "--port", "7"])
            .unwrap()
            .settings()
            .save
            .is_empty()
    );
    assert!(
        load(&["--port", "7", "--save"])
            .unwrap()
            .settings()
            .save
            .is_empty()
    );
    assert_eq!(
        load(&["--save", "5", "6"]).unwrap().settings().save,
        vec![(5, 6)]
    );
    // A value may follow in the same argument.
    assert_eq!(load(&["--port 6390"]).unwrap().settings().port, 6390);
}

#[test]
fn stdin_and_include_glob() {
    let dir = tmpdir("glob");
    write(&dir, "a.conf", "hz 33\n");
    write(&dir, "b.conf", "hz 44\n");
    write(&dir, "c.txt", "hz 55\n");
    let main = write(
        &dir,
        "main.conf",
        &format!("include {}/*.conf\n", dir.display()),
    );
    // main.conf itself also matches *.conf but has only the include... so
    // use a separate directory for the main file.
    let sub = tmpdir("glob-main");
    let main2 = write(
        &sub,
        "m.conf",
        &format!("include {}/[ab].conf\n", dir.display()),
    );
    assert_eq!(load(&[&main2]).unwrap().settings().hz, 44);
    let _ = main;
    let c = Config::load(&s(&[&main2, "-"]), false, Some(b"hz 66\n")).unwrap();
    assert_eq!(c.settings().hz, 66);
    let c = Config::load(&s(&["-", "--port", "9"]), false, Some(b"hz 67\n")).unwrap();
    assert_eq!((c.settings().hz, c.settings().port), (67, 9));
}

#[test]
fn loads_debian_redis_conf() {
    let path = "/etc/redis/redis.conf";
    if !Path::new(path).exists() {
        println!("NOTICE: {path} not present, skipping");
        return;
    }
    // May fail only for permission reasons when not readable.
    if std::fs::read(path).is_err() {
        println!("NOTICE: {path} not readable, skipping");
        return;
    }
    let c = load(&[path]).unwrap_or_else(|e| panic!("{e}"));
    let st = c.settings();
    assert_eq!(st.client_output_buffer_limit[1].hard_bytes, 256 << 20);
    assert!(!c.ignored_in_use().is_empty());
}

// ---------- errors ----------

#[test]
fn error_shapes_without_redis() {
    let dir = tmpdir("errs");
    let f = write(&dir, "bad.conf", "# c\n\n  maxmemory abc  \n");
    assert_eq!(
        load(&[&f]).err().unwrap(),
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'maxmemory abc'\nargument must be a memory value"
    );
    assert_eq!(
        load(&["/nonexistent/x.conf"]).err().unwrap(),
        "Fatal error, can't open config file '/nonexistent/x.conf': No such file or directory"
    );
    let e = load(&["--port", "abc"]).err().unwrap();
    assert!(
        e.contains("at line 2\n>>> 'port \"abc\"'\nargument couldn't"),
        "{e}"
    );
}

/// Every bad file / command line gives the same message as redis-server.
#[test]
fn oracle_error_shapes_match_redis() {
    if !have_redis() {
        return;
    }
    let dir = tmpdir("oracle-errs");
    let files = [
        "port 7499\nfoo bar\n",
        "# c\n\n  maxmemory abc  \n",
        "maxmemory 1 2\n",
        "maxmemory\n",
        "port \"abc\n",
        "port 'abc\n",
        "port \"abc\"x\n",
        "daemonize maybe\n",
        "save abc\n",
        "save 0 1\n",
        "rename-command a\n",
        "list-max-ziplist-entries 5 6\n",
        "loglevel bad\n",
        "supervised bad\n",
        "syslog-facility bad\n",
        "enable-debug-command sometimes\n",
        "sentinel foo\n",
        "replicaof a\n",
        "replicaof a b\n",
        "client-output-buffer-limit normal 1 2\n",
        "client-output-buffer-limit master 1 2 3\n",
        "appendfilename a/b\n",
        "appenddirname a/b\n",
        "dbfilename a/b\n",
        "dir /nonexistent-ember-dir\n",
        "databases 0\n",
        "io-threads 500\n",
        "unixsocketperm 999\n",
        "maxmemory-clients 101%\n",
        "notify-keyspace-events Q\n",
        "oom-score-adj-values 1 2\n",
        "latency-tracking-info-percentiles 101\n",
        "shutdown-on-sigint save nosave\n",
        "proc-title-template {nope}\n",
        "hz 1k\n",
        "tcp-backlog -1\n",
        "port 1\n\nbind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
    ];
    for (n, text) in files.iter().enumerate() {
        let path = write(&dir, &format!("f{n}.conf"), text);
        let want = redis_startup_error(&s(&[&path]), None);
        let got = load(&[&path])
            .err()
            .unwrap_or_else(|| panic!("ember accepted {text:?}"));
        assert_eq!(got + "\n", want, "file {text:?}");
    }
    let ok = write(&dir, "ok.conf", "port 1\nhz 5\n");
    let cmdlines: Vec<Vec<&str>> = vec![
        vec!["--port", "abc"],
        vec!["--port", "7499", "--maxmemory", "1", "2", "--hz", "x"],
        vec![&ok, "--save", "--hz", "x"],
        vec![&ok, "--hz x"],
        vec![&ok, "--hz", "a b"],
        vec![&ok, "--hz", "a\"b"],
        vec![&ok, "--hz"],
        vec![&ok, "--nosuch", "1"],
    ];
    for args in cmdlines {
        let want = redis_startup_error(&s(&args), None);
        let got = load(&args)
            .err()
            .unwrap_or_else(|| panic!("ember accepted {args:?}"));
        assert_eq!(got + "\n", want, "args {args:?}");
    }
    // stdin is appended after the file.
    let want = redis_startup_error(&s(&[&ok, "-"]), Some("hz q\n"));
    let got = Config::load(&s(&[&ok, "-"]), false, Some(b"hz q\n"))
        .err()
        .unwrap();
    assert!(
        want.starts_with(&(got.clone() + "\n")),
        "{want:?} vs {got:?}"
    );
    // Missing file: Redis logs the same text behind a log prefix.
    let want = redis_startup_error(&s(&["/nonexistent/x.conf"]), None);
    let got = load(&["/nonexistent/x.conf"]).err().unwrap();
    assert!(want.trim_end().ends_with(&got), "{want:?} vs {got:?}");
}

// ---------- CONFIG GET ----------

#[test]
fn get_patterns_aliases_dedup_hidden() {
    let c = Config::default();
    let names = |pats: &[&str]| {
        let p: Vec<&[u8]> = pats.iter().map(|x| x.as_bytes()).collect();
        c.get(&p).into_iter().map(|(k, _)| k).collect::<Vec<_>>()
    };
    assert_eq!(names(&["PORT"]), s(&["PORT"]));
    assert_eq!(names(&["Port", "port", "p?rt"]), s(&["Port"]));
    let mut got = names(&["maxmemory*"]);
    got.sort();
    assert_eq!(
        got,
        s(&[
            "maxmemory",
            "maxmemory-clients",
            "maxmemory-eviction-tenacity",
            "maxmemory-policy",
            "maxmemory-samples"
        ])
    );
    let both = names(&["*-read-only"]);
    assert!(
        both.contains(&"replica-read-only".to_string())
            && both.contains(&"slave-read-only".to_string())
    );
    assert_eq!(names(&["lua-time-limit"]), s(&["lua-time-limit"]));
    assert!(
        names(&["watchdog*"]).is_empty(),
        "hidden configs only by exact name"
    );
    assert_eq!(names(&["watchdog-period"]), s(&["watchdog-period"]));
    assert!(names(&["nonexistent"]).is_empty());
    assert_eq!(names(&["hz", "hz", "HZ"]), s(&["hz"]));
}

/// `CONFIG GET *` lists exactly the names real Redis lists (plus Ember's
/// own `server-threads`), with the same default values.
#[test]
fn oracle_get_all_names_and_defaults_match_redis() {
    if !have_redis() {
        return;
    }
    let r = Redis::start(&[]);
    let theirs = redis_get_all(&r, "*");
    let c = load(&[]).unwrap();
    let ours = c.get(&[b"*"]);
    let their_names: HashSet<_> = theirs.iter().map(|(k, _)| k.clone()).collect();
    let our_names: HashSet<_> = ours.iter().map(|(k, _)| k.clone()).collect();
    let missing: Vec<_> = their_names.difference(&our_names).collect();
    let mut extra: Vec<_> = our_names.difference(&their_names).collect();
    extra.sort();
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert_eq!(extra, vec!["busy-poll-usecs", "server-threads"]);
    // Defaults; these were overridden on the Redis command line.
    let skip = ["port", "dir", "bind", "appendonly", "daemonize"];
    for (k, v) in &theirs {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let mine = &ours.iter().find(|(n, _)| n == k).unwrap().1;
        assert_eq!(mine, v, "default of {k}");
    }
}

// ---------- CONFIG SET ----------

/// Same reply and same resulting value as Redis for a list of CONFIG SETs.
#[test]
fn oracle_set_errors_and_values_match_redis() {
    if !have_redis() {
        return;
    }
    let r = Redis::start(&["--save", ""]);
    let c = load(&["--save", ""]).unwrap();
    let cases: &[&[&str]] = &[
        &["foo", "1"],
        &["maxmemory", "abc"],
        &["MaxMemory", "abc"],
        &["maxmemory", "-1"],
        &["maxmemory", "1.5mb"],
        &["maxmemory", " 1"],
        &["maxmemory", "01"],
        &["maxmemory", "1K"],
        &["maxmemory", ""],
        &["maxmemory", "99999999999999999999999"],
        &["maxmemory", "20000000000gb"],
        &["maxmemory", "5GB"],
        &["maxmemory-clients", "abc"],
        &["maxmemory-clients", "200%"],
        &["maxmemory-clients", "-5%"],
        &["maxmemory-clients", "50%"],
        &["maxmemory-clients", "0"],
        &["daemonize", "yes"],
        &["DAEMONIZE", "yes"],
        &["dbfilename", "a/b"],
        &["dir", "/tmp"],
        &["appendonly", "maybe"],
        &["appendonly", "1"],
        &["maxmemory-policy", "bad"],
        &["maxmemory-policy", "ALLKEYS-lfu"],
        &["loglevel", "debug verbose"],
        &["loglevel", "WARNING"],
        &["port", "70000"],
        &["port", "abc"],
        &["port", "-0"],
        &["hz", "-1"],
        &["hz", "010"],
        &["hz", "1k"],
        &["hz", "20"],
        &["maxclients", "0"],
        &["maxclients", "-1"],
        &["unixsocketperm", "999"],
        &["slowlog-max-len", "-1"],
        &["slowlog-log-slower-than", "-2"],
        &["list-max-listpack-size", "-9223372036854775808"],
        &["HASH-MAX-ZIPLIST-ENTRIES", "-5"],
        &["hash-max-ziplist-value", "1kb"],
        &["maxmemory", "1", "maxmemory", "2"],
        &["maxmemory", "1", "MAXMEMORY", "2"],
        &["maxmemory", "1", "foo", "2"],
        &["maxmemory", "1", "daemonize", "yes", "foo", "1"],
        &["maxmemory", "x", "daemonize", "yes"],
        &["slave-read-only", "no", "replica-read-only", "yes"],
        &["save", "abc"],
        &["save", "1 2 3"],
        &["save", "0 0"],
        &["save", "3600  1"],
        &["save", "+10 00"],
        &["save", ""],
        &["save", "100 1 200 2"],
        &["client-output-buffer-limit", "normal 0 0"],
        &["client-output-buffer-limit", "bad 0 0 0"],
        &["client-output-buffer-limit", "master 0 0 0"],
        &["client-output-buffer-limit", "normal x 0 0"],
        &["client-output-buffer-limit", "normal 0 0 -1"],
        &[
            "client-output-buffer-limit",
            "normal 1mb 2mb 3 replica 1 2 3",
        ],
        &["client-output-buffer-limit", "PUBSUB 1 1 +1"],
        &["client-output-buffer-limit", ""],
        &["notify-keyspace-events", "Q"],
        &["notify-keyspace-events", "KEA"],
        &["notify-keyspace-events", "Kx$gh"],
        &["notify-keyspace-events", "KEAmn"],
        &["notify-keyspace-events", "Kgmnd"],
        &["notify-keyspace-events", "etdn"],
        &["notify-keyspace-events", ""],
        &["oom-score-adj-values", "1 2"],
        &["oom-score-adj-values", "1 2 5000"],
        &["oom-score-adj-values", "+1 02 3"],
        &["oom-score-adj", "relative"],
        &["latency-tracking-info-percentiles", "200"],
        &["latency-tracking-info-percentiles", "abc"],
        &["latency-tracking-info-percentiles", "50.0000 99.900 100"],
        &["latency-tracking-info-percentiles", ""],
        &["replicaof", "a 1"],
        &["slaveof", "a 1"],
        &["io-threads", "2"],
        &["server_cpulist", "1"],
        &["list-max-ziplist-entries", "5"],
        &["key-load-delay", "abc"],
        &["use-exit-on-panic", "x"],
        &["active-defrag-cycle-min", "0"],
        &["timeout", "99999999999"],
        &["proto-max-bulk-len", "10"],
        &["repl-backlog-size", "0"],
        &["proc-title-template", "{bad}"],
        &["proc-title-template", ""],
        &["proc-title-template", "{title} x"],
        &["cluster-announce-hostname", "a b"],
        &["shutdown-on-sigint", "x"],
        &["shutdown-on-sigint", "save now force"],
        &["shutdown-on-sigint", "force nosave"],
        &["shutdown-on-sigint", "save nosave"],
        &["shutdown-on-sigint", "default now"],
        &["shutdown-on-sigint", ""],
        &["propagation-error-behavior", "x"],
        &["replica-ignore-disk-write-errors", "x"],
        &["sanitize-dump-payload", "x"],
        &["repl-diskless-load", "x"],
        &["cluster-preferred-endpoint-type", "x"],
        &["tls-auth-clients", "x"],
        &["acl-pubsub-default", "x"],
        &["masterauth", "a b"],
        &["masterauth", ""],
        &["masteruser", "bob"],
        &["bind", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"],
    ];
    for case in cases {
        let mut args: Vec<&[u8]> = vec![b"CONFIG", b"SET"];
        args.extend(case.iter().map(|x| x.as_bytes()));
        let want = match r.call(&args) {
            Reply::Ok => Ok(()),
            Reply::Err(e) => Err(e),
            other => panic!("{other:?}"),
        };
        let pairs: Vec<(&str, &str)> = case.chunks(2).map(|p| (p[0], p[1])).collect();
        let got = set(&c, &pairs);
        assert_eq!(got, want, "CONFIG SET {case:?}");
        for (name, _) in &pairs {
            // `dir`, `port` and `bind` differ between the two servers by construction.
            if lookup(&name.to_ascii_lowercase()).is_some()
                && !["dir", "port", "bind"].contains(name)
            {
                let theirs = redis_get_all(&r, name);
                assert_eq!(
                    c.get(&[name.as_bytes()]),
                    theirs,
                    "value of {name} after {case:?}"
                );
            }
        }
    }
}

#[test]
fn set_is_atomic_and_bumps_version() {
    let c = load(&[]).unwrap();
    let v0 = c.version();
    set(&c, &[("maxmemory", "10mb"), ("hz", "50")]).unwrap();
    assert!(c.version() > v0);
    assert_eq!((c.settings().maxmemory, c.settings().hz), (10 << 20, 50));
    let v1 = c.version();
    let before = c.settings();
    let err = set(&c, &[("maxmemory", "1"), ("hz", "7"), ("save", "x")]).unwrap_err();
    assert_eq!(
        err,
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(c.version(), v1);
    assert_eq!(c.settings().maxmemory, before.maxmemory);
    assert_eq!(get1(&c, "hz"), "50");
    // A failing hook undoes everything, including earlier hooks.
    let calls = Arc::new(Mutex::new(Vec::new()));
    let log = calls.clone();
    c.on_change(
        "hz",
        Box::new(move |s| {
            log.lock().push(s.hz);
            Ok(())
        }),
    );
    c.on_change(
        "port",
        Box::new(|s| {
            if s.port == 1 {
                Err("Unable to listen on this port".into())
            } else {
                Ok(())
            }
        }),
    );
    let err = set(&c, &[("hz", "60"), ("port", "1")]).unwrap_err();
    assert_eq!(
        err,
        "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port"
    );
    assert_eq!(*calls.lock(), vec![60, 50], "hook applied then rolled back");
    assert_eq!((c.settings().hz, c.settings().port), (50, 6379));
    assert_eq!(c.version(), v1);
    set(&c, &[("hz", "61"), ("port", "7777")]).unwrap();
    assert_eq!((c.settings().hz, c.settings().port), (61, 7777));
    // Setting the same value does not call the hook.
    set(&c, &[("hz", "61")]).unwrap();
    assert_eq!(*calls.lock(), vec![60, 50, 61]);
}

#[test]
fn protected_dir_and_chdir_errors() {
    let c = load(&[]).unwrap();
    assert_eq!(
        set(&c, &[("dir", "/tmp")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    let c = load(&["--enable-protected-configs", "local"]).unwrap();
    assert!(
        set(&c, &[("dir", "/tmp")]).is_err(),
        "remote client refused"
    );
    let tmp = std::fs::canonicalize(std::env::temp_dir()).unwrap();
    let pairs: [(&[u8], &[u8]); 1] = [(b"dir", tmp.to_str().unwrap().as_bytes())];
    c.set_for_client(&pairs, true).unwrap();
    assert_eq!(c.settings().dir, tmp.to_str().unwrap());
    let c = load(&["--enable-protected-configs", "yes"]).unwrap();
    let before = c.settings().dir.clone();
    assert_eq!(
        set(&c, &[("hz", "99"), ("dir", "/nonexistent-ember")]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory"
    );
    assert_eq!((c.settings().hz, c.settings().dir.clone()), (10, before));
}

#[test]
fn concurrent_readers_see_whole_snapshots() {
    let c = Arc::new(load(&[]).unwrap());
    let reader = {
        let c = c.clone();
        std::thread::spawn(move || {
            for _ in 0..2000 {
                let s = c.settings();
                // maxmemory and hz are always changed together.
                let s = &*s;
                let paired = s.maxmemory == u64::from(s.hz) * 1000;
                assert!(paired || (s.hz == 10 && s.maxmemory == 0), "torn snapshot");
            }
        })
    };
    for hz in 11..200u32 {
        let mm = (hz * 1000).to_string();
        set(&c, &[("hz", &hz.to_string()), ("maxmemory", &mm)]).unwrap();
    }
    reader.join().unwrap();
}

// ---------- CONFIG REWRITE ----------

const REWRITE_SOURCE: &str = "# My config\n   port PORT   \n# memory comment\nmaxmemory 100mb\n\n\nsave 100 1\n\
bind 127.0.0.1\nslaveof 127.0.0.1 9999\nsave 200 2\nmasterauth secret\n# trailing comment\nhz 15\nhz 16\n\
logfile \"\"\ninclude INC\nrename-command FLUSHALL \"\"\n";

/// The CONFIG SET rounds applied before each rewrite.
const REWRITE_ROUNDS: &[&[&str]] = &[
    &[
        "maxmemory",
        "3000000",
        "hz",
        "10",
        "save",
        "",
        "notify-keyspace-events",
        "KEA",
        "maxmemory-clients",
        "10%",
        "appendonly",
        "no",
        "client-output-buffer-limit",
        "pubsub 1mb 2mb 3",
        "loglevel",
        "warning",
        "timeout",
        "7",
    ],
    &["save", "5 5 6 6", "maxmemory", "2gb"],
    &["save", "7 7", "maxmemory", "0", "masterauth", ""],
];

fn rewrite_fixture(tag: &str, port: u16) -> (PathBuf, String) {
    let dir = tmpdir(tag);
    let inc = write(&dir, "inc.conf", "timeout 5\n");
    let text = REWRITE_SOURCE
        .replace("PORT", &port.to_string())
        .replace("INC", &inc);
    let main = write(&dir, "r.conf", &text);
    (dir, main)
}

#[test]
fn rewrite_keeps_comments_order_and_appends_new_lines() {
    let (dir, main) = rewrite_fixture("rewrite", 7412);
    let c = load(&[&main]).unwrap();
    let round: Vec<(&str, &str)> = REWRITE_ROUNDS[0].chunks(2).map(|p| (p[0], p[1])).collect();
    set(&c, &round).unwrap();
    c.rewrite().unwrap();
    let got = std::fs::read_to_string(&main).unwrap();
    let cwd = c.settings().dir.clone();
    let want = format!(
        "# My config\nport 7412\n# memory comment\nmaxmemory 3000000\n\nsave \"\"\nbind 127.0.0.1\n\
replicaof 127.0.0.1 9999\n\nmasterauth \"secret\"\n# trailing comment\nhz 10\n\nlogfile \"\"\n\
include {}/inc.conf\nrename-command FLUSHALL \"\"\n\n{}\nloglevel warning\ntimeout 7\nmaxmemory-clients 10%\n\
dir \"{cwd}\"\nclient-output-buffer-limit pubsub 1mb 2mb 3\nnotify-keyspace-events \"AKE\"\n\
latency-tracking-info-percentiles 50 99 99.9\n",
        dir.display(),
        rewrite::MARKER
    );
    assert_eq!(got, want);
    // The rewritten file loads back to the same values.
    let again = load(&[&main]).unwrap();
    assert_eq!(again.get(&[b"*"]), c.get(&[b"*"]));
    // Lines reuse the directive's old lines in order: the output buffer
    // "normal" class takes the old "pubsub" line, "pubsub" is appended again.
    again.rewrite().unwrap();
    let third = std::fs::read_to_string(&main).unwrap();
    assert!(
        third.contains(&format!(
            "\ndir \"{cwd}\"\nclient-output-buffer-limit normal 0 0 0\n"
        )),
        "{third}"
    );
    assert!(
        third.ends_with("\n\nclient-output-buffer-limit pubsub 1mb 2mb 3\n"),
        "{third}"
    );
    assert!(!third.contains("replica 256mb"), "{third}");
    assert!(
        third.contains("\nclient-output-buffer-limit pubsub 1mb 2mb 3\n"),
        "{third}"
    );
}

#[test]
fn rewrite_without_file_is_an_error() {
    let c = load(&["--port", "7000"]).unwrap();
    assert_eq!(
        c.rewrite().unwrap_err(),
        "ERR The server is running without a config file"
    );
}

/// Same rewrite rounds on Redis and Ember give the same file, except for
/// the order of appended lines, Redis's ACL `user` line and `dir`.
#[test]
fn oracle_rewrite_matches_redis() {
    if !have_redis() {
        return;
    }
    let port = free_port();
    let (_d1, theirs_path) = rewrite_fixture("rewrite-redis", port);
    let (_d2, ours_path) = rewrite_fixture("rewrite-ember", port);
    let r = {
        let mut child = Command::new("redis-server")
            .args([&theirs_path, "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("redis-server did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis {
            child,
            port,
            _dir: tmpdir("unused"),
        }
    };
    let c = load(&[&ours_path]).unwrap();
    let normalise = |text: &str| {
        let mut head = Vec::new();
        let mut tail = Vec::new();
        let mut in_tail = false;
        for line in text.lines() {
            if line == rewrite::MARKER || line == "# Generated by CONFIG REWRITE" {
                in_tail = true;
                continue;
            }
            if line.starts_with("user ") || line.starts_with("dir ") {
                continue;
            }
            if in_tail {
                tail.push(line.to_string());
            } else {
                head.push(line.to_string());
            }
        }
        tail.retain(|l| !l.is_empty());
        tail.sort();
        (head, tail)
    };
    for (n, round) in REWRITE_ROUNDS.iter().enumerate() {
        let mut args: Vec<&[u8]> = vec![b"CONFIG", b"SET"];
        args.extend(round.iter().map(|x| x.as_bytes()));
        assert_eq!(r.call(&args), Reply::Ok);
        assert_eq!(r.call(&[b"CONFIG", b"REWRITE"]), Reply::Ok);
        let pairs: Vec<(&str, &str)> = round.chunks(2).map(|p| (p[0], p[1])).collect();
        set(&c, &pairs).unwrap();
        c.rewrite().unwrap();
        let theirs = std::fs::read_to_string(&theirs_path).unwrap();
        // The include lines name each fixture's own directory.
        let ours = std::fs::read_to_string(&ours_path)
            .unwrap()
            .replace("rewrite-ember", "rewrite-redis");
        assert_eq!(
            normalise(&ours),
            normalise(&theirs),
            "round {n}:\n{ours}\n---\n{theirs}"
        );
    }
}

#[test]
fn rdb_directives_are_implemented() {
    let dir = tmpdir("rdbdirs");
    let f = write(
        &dir,
        "r.conf",
        "dbfilename snap.rdb\nrdbcompression no\nrdbchecksum no\nsave 5 1\n",
    );
    let c = load(&[&f]).unwrap();
    let st = c.settings();
    assert_eq!(st.dbfilename, "snap.rdb");
    assert!(!st.rdbcompression && !st.rdbchecksum);
    assert!(c.ignored_in_use().is_empty(), "{:?}", c.ignored_in_use());
}
