//! The append-only file as a process sees it: durability across SIGKILL
//! (`appendfsync always` loses no acknowledged write; `everysec` loses at
//! most about a second), round trips of AOF directories with the real
//! redis-server in both directions, BGREWRITEAOF under writes,
//! `aof-load-truncated`, `CONFIG SET appendonly yes` at runtime.
//!
//! `EMBER_AOF_CRASH_ROUNDS` sets the number of kill/restart rounds of the
//! crash tests (default 4; CI runs 20).

mod common;

use common::{RawConn, ember_bin, find_on_path, free_port};
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A server process on a directory that outlives it (restarts reuse it).
struct Proc {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Proc {
    /// Starts `bin` on `dir`; `Err(log)` if it exits during start-up.
    fn try_start(bin: &Path, dir: &Path, args: &[&str]) -> Result<Proc, String> {
        let port = free_port();
        let log = dir.join(format!("server-{port}.log"));
        let f = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--dir", dir.to_str().unwrap()])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(f.try_clone().unwrap()))
            .stderr(Stdio::from(f))
            .spawn()
            .expect("spawn server");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return Err(std::fs::read_to_string(&log).unwrap_or_default());
            }
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                let mut c = RawConn::new(s, Duration::from_secs(2));
                if c.try_send(b"*1\r\n$4\r\nPING\r\n").is_ok()
                    && matches!(c.try_read_reply(), Ok(r) if r == b"+PONG\r\n")
                {
                    return Ok(Proc { child, port, log });
                }
            }
            assert!(Instant::now() < deadline, "server did not start");
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn start(bin: &Path, dir: &Path, args: &[&str]) -> Proc {
        Proc::try_start(bin, dir, args).unwrap_or_else(|log| panic!("start failed:\n{log}"))
    }

    fn client(&self) -> redis::Connection {
        common::connect(&format!("127.0.0.1:{}", self.port))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush anything.
    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (a clean shutdown).
    fn term(mut self) {
        unsafe_free_sigterm(self.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM through the `kill` utility (no unsafe code in tests).
fn unsafe_free_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

fn ember() -> Option<PathBuf> {
    let b = ember_bin();
    if b.is_none() {
        println!("NOTICE: ember-server is not built; skipping");
    }
    b
}

fn redis_bin() -> Option<PathBuf> {
    let b = find_on_path("redis-server");
    if b.is_none() {
        assert!(
            std::env::var("EMBER_REQUIRE_REDIS").as_deref() != Ok("1"),
            "redis-server not found"
        );
        println!("NOTICE: redis-server not found; skipping");
    }
    b
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
}

fn wait_rewrite_done(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(c, "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < deadline, "rewrite did not finish");
        thread::sleep(Duration::from_millis(20));
    }
}

fn rounds() -> usize {
    std::env::var("EMBER_AOF_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

/// Writes acknowledged by the server during one round.
#[derive(Default)]
struct Acked {
    sets: Vec<u64>,
    incrs: u64,
    pushes: Vec<u64>,
    /// Commands sent whose reply never came (may or may not be applied).
    in_flight: u64,
}

/// Runs numbered SET / INCR / RPUSH commands on `writers` connections
/// until the server dies; returns what was acknowledged.
fn write_until_killed(port: u16, start: u64, writers: usize, stop: Arc<AtomicBool>) -> Acked {
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut hs = Vec::new();
    for w in 0..writers as u64 {
        let acked = acked.clone();
        let stop = stop.clone();
        hs.push(thread::spawn(move || {
            let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
                return;
            };
            let mut c = RawConn::new(s, Duration::from_secs(5));
            let mut i = start + w;
            while !stop.load(Ordering::Relaxed) {
                let n = i.to_string();
                let key = format!("k:{n}");
                let cmd: Vec<&[u8]> = match i % 3 {
                    0 => vec![b"SET", key.as_bytes(), n.as_bytes()],
                    1 => vec![b"INCR", b"counter"],
                    _ => vec![b"RPUSH", b"list", n.as_bytes()],
                };
                if c.try_send(&common::encode_command(&cmd)).is_err() {
                    break;
                }
                match c.try_read_reply() {
                    Ok(r) if !r.is_empty() && r[0] != b'-' => {
                        let mut a = acked.lock().unwrap();
                        match i % 3 {
                            0 => a.sets.push(i),
                            1 => a.incrs += 1,
                            _ => a.pushes.push(i),
                        }
                    }
                    _ => {
                        acked.lock().unwrap().in_flight += 1;
                        break;
                    }
                }
                i += writers as u64;
            }
        }));
    }
    for h in hs {
        let _ = h.join();
    }
    Arc::try_unwrap(acked).ok().unwrap().into_inner().unwrap()
}

/// What survived: (acknowledged writes missing, counter, list length).
fn check_round(c: &mut redis::Connection, acked: &Acked, counter_before: i64) -> (u64, i64) {
    let mut lost = 0;
    for i in &acked.sets {
        let v: Option<String> = redis::cmd("GET").arg(format!("k:{i}")).query(c).unwrap();
        if v.as_deref() != Some(i.to_string().as_str()) {
            lost += 1;
        }
    }
    let counter: i64 = redis::cmd("GET")
        .arg("counter")
        .query::<Option<i64>>(c)
        .unwrap()
        .unwrap_or(0);
    let want = counter_before + acked.incrs as i64;
    if counter < want {
        lost += (want - counter) as u64;
    }
    assert!(
        counter <= want + acked.in_flight as i64,
        "counter {counter} > acknowledged {want} + in flight {}",
        acked.in_flight
    );
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query(c)
        .unwrap();
    let have: std::collections::HashSet<&str> = list.iter().map(|s| s.as_str()).collect();
    for i in &acked.pushes {
        if !have.contains(i.to_string().as_str()) {
            lost += 1;
        }
    }
    (lost, counter)
}

/// Kills the server at random moments under numbered writes; returns the
/// writes lost per round.
fn crash_rounds(policy: &str, rounds: usize) -> Vec<(u64, u64)> {
    let Some(bin) = ember() else {
        return Vec::new();
    };
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", policy];
    let mut counter = 0i64;
    let mut next = 0u64;
    let mut out = Vec::new();
    for round in 0..rounds {
        let p = Proc::start(&bin, dir.path(), &args);
        let stop = Arc::new(AtomicBool::new(false));
        let port = p.port;
        let (s2, start) = (stop.clone(), next);
        let writer = thread::spawn(move || write_until_killed(port, start, 4, s2));
        // Kill at a random moment 100..400 ms into the round.
        let nap = 100 + (std::process::id() as u64 * 7919 + round as u64 * 104_729) % 300;
        thread::sleep(Duration::from_millis(nap));
        p.kill9();
        stop.store(true, Ordering::Relaxed);
        let acked = writer.join().unwrap();
        let total = acked.sets.len() as u64 + acked.incrs + acked.pushes.len() as u64;
        let p = Proc::start(&bin, dir.path(), &args);
        let mut c = p.client();
        let (lost, now) = check_round(&mut c, &acked, counter);
        counter = now;
        next += 1_000_000;
        out.push((lost, total));
        if policy == "always" {
            assert_eq!(
                lost,
                0,
                "round {round}: acknowledged writes lost\n{}",
                p.log_text()
            );
        }
        p.kill9();
    }
    out
}

#[test]
fn appendfsync_always_loses_no_acknowledged_write_across_sigkill() {
    let res = crash_rounds("always", rounds());
    let total: u64 = res.iter().map(|r| r.1).sum();
    println!(
        "appendfsync always: {} rounds, {total} acknowledged writes, lost = {}",
        res.len(),
        res.iter().map(|r| r.0).sum::<u64>()
    );
    assert!(res.is_empty() || total > 0, "nothing was written");
}

#[test]
fn appendfsync_everysec_loses_at_most_about_a_second() {
    let res = crash_rounds("everysec", rounds().min(6));
    for (i, (lost, total)) in res.iter().enumerate() {
        println!("appendfsync everysec: round {i}: {total} acknowledged, lost {lost}");
        // A round lasts under half a second: it can lose at most all of it.
        assert!(lost <= total);
    }
}

/// The keyspace of databases 0..4 as text, type by type (sorted members,
/// a TTL shown as present or not).
fn dump(c: &mut redis::Connection) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for db in 0..4 {
        redis::cmd("SELECT").arg(db).exec(c).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        for k in keys {
            let t: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
            let v = match t.as_str() {
                "string" => format!(
                    "{:?}",
                    redis::cmd("GET").arg(&k).query::<Vec<u8>>(c).unwrap()
                ),
                "list" => format!(
                    "{:?}",
                    redis::cmd("LRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .query::<Vec<Vec<u8>>>(c)
                        .unwrap()
                ),
                "set" => {
                    let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(&k).query(c).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "hash" => {
                    let m: BTreeMap<Vec<u8>, Vec<u8>> =
                        redis::cmd("HGETALL").arg(&k).query(c).unwrap();
                    format!("{m:?}")
                }
                "zset" => format!(
                    "{:?}",
                    redis::cmd("ZRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query::<Vec<Vec<u8>>>(c)
                        .unwrap()
                ),
                "stream" => {
                    let entries: redis::Value = redis::cmd("XRANGE")
                        .arg(&k)
                        .arg("-")
                        .arg("+")
                        .query(c)
                        .unwrap();
                    let info: BTreeMap<String, redis::Value> =
                        redis::cmd("XINFO").arg("STREAM").arg(&k).query(c).unwrap();
                    let keep = [
                        "length",
                        "last-generated-id",
                        "max-deleted-entry-id",
                        "entries-added",
                        "groups",
                    ];
                    let info: Vec<String> = keep
                        .iter()
                        .map(|f| format!("{f}={:?}", info.get(*f)))
                        .collect();
                    let groups: redis::Value =
                        redis::cmd("XINFO").arg("GROUPS").arg(&k).query(c).unwrap();
                    let pending: redis::Value = redis::cmd("XPENDING")
                        .arg(&k)
                        .arg("g1")
                        .query(c)
                        .unwrap_or(redis::Value::Nil);
                    format!("{entries:?} {info:?} {groups:?} {pending:?}")
                }
                other => format!("<{other}>"),
            };
            let ttl: i64 = redis::cmd("PTTL").arg(&k).query(c).unwrap();
            out.insert(
                format!("{db}:{}", String::from_utf8_lossy(&k)),
                format!("{t} {v} ttl={}", ttl > 0),
            );
        }
    }
    redis::cmd("SELECT").arg(0).exec(c).unwrap();
    out
}

/// Compares two dumps, showing only the keys that differ.
fn same(got: &BTreeMap<String, String>, want: &BTreeMap<String, String>, what: &str) {
    let keys: std::collections::BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    let diff: Vec<String> = keys
        .into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .map(|k| format!("{k}:\n  got  {:?}\n  want {:?}", got.get(k), want.get(k)))
        .collect();
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}

/// Every type and encoding the server supports, in several databases.
fn fill(c: &mut redis::Connection) {
    let q = |c: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.exec(c).unwrap();
    };
    q(c, &["SET", "str", "hello world"]);
    q(c, &["SET", "int", "12345"]);
    q(c, &["SET", "bin", "a\r\nb\x00c"]);
    q(c, &["SET", "ttl", "v", "EX", "1000"]);
    q(c, &["INCRBYFLOAT", "float", "1.5"]);
    q(c, &["RPUSH", "list", "a", "b", "c"]);
    let many: Vec<String> = (0..300).map(|i| format!("element-{i}")).collect();
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("biglist").arg(&many);
    cmd.exec(c).unwrap();
    q(c, &["SADD", "intset", "1", "2", "3", "-7"]);
    let mut cmd = redis::cmd("SADD");
    cmd.arg("bigset").arg(&many);
    cmd.exec(c).unwrap();
    q(c, &["HSET", "hash", "f1", "v1", "f2", "v2"]);
    let mut cmd = redis::cmd("HSET");
    cmd.arg("bighash");
    for m in &many {
        cmd.arg(m).arg(m);
    }
    cmd.exec(c).unwrap();
    q(c, &["EXPIRE", "hash", "5000"]);
    q(
        c,
        &[
            "ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c", "0.1", "d",
        ],
    );
    let mut cmd = redis::cmd("ZADD");
    cmd.arg("bigzset");
    for (i, m) in many.iter().enumerate() {
        cmd.arg(i as f64 / 3.0).arg(m);
    }
    cmd.exec(c).unwrap();
    q(c, &["ZADD", "zset", "INCR", "0.2", "d"]);
    q(c, &["ZPOPMIN", "zset"]);
    q(c, &["XADD", "stream", "1-1", "f", "v"]);
    q(c, &["XADD", "stream", "*", "f2", "v2", "f3", "v3"]);
    q(c, &["XADD", "stream", "99999999999999-1", "a", "b"]);
    q(c, &["XADD", "stream", "99999999999999-2", "c", "d"]);
    q(c, &["XGROUP", "CREATE", "stream", "g1", "0"]);
    q(c, &["XGROUP", "CREATECONSUMER", "stream", "g1", "idle"]);
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            "stream",
            ">",
        ],
    );
    // (A pending entry that was deleted does not survive a rewrite, in
    // Redis either: XCLAIM drops it.)
    q(c, &["XDEL", "stream", "99999999999999-1"]);
    q(c, &["XADD", "empty", "5-5", "x", "y"]);
    q(c, &["XDEL", "empty", "5-5"]);
    q(c, &["SELECT", "2"]);
    q(c, &["SET", "in-db-2", "x"]);
    q(c, &["LPUSH", "l2", "z"]);
    q(c, &["SELECT", "0"]);
    // Writes that must be made deterministic.
    q(c, &["SADD", "popme", "a", "b", "c"]);
    q(c, &["SPOP", "popme"]);
    q(c, &["MULTI"]);
    q(c, &["INCR", "tx"]);
    q(c, &["INCR", "tx"]);
    q(c, &["EXEC"]);
    q(c, &["DEL", "int"]);
}

#[test]
fn ember_aof_loads_into_redis_and_back() {
    let (Some(bin), Some(rbin)) = (ember(), redis_bin()) else {
        return;
    };
    // The RDB-preamble base (`aof-use-rdb-preamble yes`) needs the RDB
    // writer; this build writes a RESP base either way.
    {
        let preamble = "no";
        let dir = tempfile::tempdir().unwrap();
        let args = ["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
        let p = Proc::start(&bin, dir.path(), &args);
        let mut c = p.client();
        fill(&mut c);
        // Part in the base, part in the increment.
        redis::cmd("BGREWRITEAOF").exec(&mut c).unwrap();
        wait_rewrite_done(&mut c);
        redis::cmd("RPUSH")
            .arg("list")
            .arg("after-rewrite")
            .exec(&mut c)
            .unwrap();
        let want = dump(&mut c);
        p.term();
        // redis-check-aof accepts the directory.
        let manifest = dir.path().join("appendonlydir/appendonly.aof.manifest");
        if let Some(check) = find_on_path("redis-check-aof") {
            let out = Command::new(check).arg(&manifest).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("All AOF files and manifest are valid"),
                "{text}"
            );
        }
        // Ember itself reloads it.
        let p = Proc::start(&bin, dir.path(), &args);
        same(&dump(&mut p.client()), &want, "ember reload");
        p.term();
        // Real Redis loads it to the same keyspace.
        let r = Proc::start(&rbin, dir.path(), &args);
        same(&dump(&mut r.client()), &want, "redis loading ember's AOF");
        // Redis writes more and rewrites; Ember loads Redis's directory.
        let mut rc = r.client();
        redis::cmd("SADD")
            .arg("from-redis")
            .arg("x")
            .exec(&mut rc)
            .unwrap();
        redis::cmd("HSET")
            .arg("hash")
            .arg("f3")
            .arg("v3")
            .exec(&mut rc)
            .unwrap();
        redis::cmd("BGREWRITEAOF").exec(&mut rc).unwrap();
        thread::sleep(Duration::from_millis(200));
        wait_rewrite_done(&mut rc);
        redis::cmd("LPUSH")
            .arg("list")
            .arg("redis-incr")
            .exec(&mut rc)
            .unwrap();
        let want = dump(&mut rc);
        r.term();
        let p = Proc::start(&bin, dir.path(), &args);
        same(&dump(&mut p.client()), &want, "ember loading redis's AOF");
    }
}

fn incr_file(dir: &Path) -> PathBuf {
    let m = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    let name = m
        .lines()
        .rev()
        .find(|l| l.ends_with("type i"))
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_string();
    dir.join("appendonlydir").join(name)
}

#[test]
fn a_torn_last_command_is_truncated_or_refused_as_configured() {
    let Some(bin) = ember() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes"];
    let p = Proc::start(&bin, dir.path(), &args);
    let mut c = p.client();
    redis::cmd("SET").arg("a").arg("1").exec(&mut c).unwrap();
    redis::cmd("SET").arg("b").arg("2").exec(&mut c).unwrap();
    p.term();
    let incr = incr_file(dir.path());
    let good = std::fs::metadata(&incr).unwrap().len();
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$3\r\nab");
    std::fs::write(&incr, &data).unwrap();

    let err = Proc::try_start(
        &bin,
        dir.path(),
        &["--appendonly", "yes", "--aof-load-truncated", "no"],
    )
    .err()
    .expect("must refuse to start");
    assert!(
        err.contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>."),
        "{err}"
    );

    let p = Proc::start(&bin, dir.path(), &args);
    let log = p.log_text();
    assert!(
        log.contains(
            "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!"
        ),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {good} !!!"
        )),
        "{log}"
    );
    assert!(
        log.contains(
            "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"
        ),
        "{log}"
    );
    let mut c = p.client();
    let b: String = redis::cmd("GET").arg("b").query(&mut c).unwrap();
    assert_eq!(b, "2");
    let cval: Option<String> = redis::cmd("GET").arg("c").query(&mut c).unwrap();
    assert_eq!(cval, None);
    // New writes land after the cut and load again.
    redis::cmd("SET").arg("d").arg("4").exec(&mut c).unwrap();
    p.term();
    let p = Proc::start(
        &bin,
        dir.path(),
        &["--appendonly", "yes", "--aof-load-truncated", "no"],
    );
    let d: String = redis::cmd("GET").arg("d").query(&mut p.client()).unwrap();
    assert_eq!(d, "4");
}

#[test]
fn bgrewriteaof_during_writes_loses_nothing() {
    let Some(bin) = ember() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let p = Proc::start(&bin, dir.path(), &args);
    let stop = Arc::new(AtomicBool::new(false));
    let port = p.port;
    let s2 = stop.clone();
    let writer = thread::spawn(move || write_until_killed(port, 0, 3, s2));
    let mut c = p.client();
    for _ in 0..5 {
        thread::sleep(Duration::from_millis(60));
        loop {
            match redis::cmd("BGREWRITEAOF").query::<String>(&mut c) {
                Ok(_) => break,
                Err(e) => {
                    assert!(e.to_string().contains("already in progress"), "{e}");
                    thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
    wait_rewrite_done(&mut c);
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    assert!(info_field(&mut c, "aof_rewrites").parse::<u64>().unwrap() >= 5);
    thread::sleep(Duration::from_millis(50));
    p.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().unwrap();
    let p = Proc::start(&bin, dir.path(), &args);
    let (lost, _) = check_round(&mut p.client(), &acked, 0);
    assert_eq!(lost, 0, "{}", p.log_text());
    // Only the current base and increment remain.
    let files: Vec<String> = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
}

#[test]
fn config_set_appendonly_yes_rewrites_first() {
    let Some(bin) = ember() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start(&bin, dir.path(), &["--appendonly", "no"]);
    let mut c = p.client();
    fill(&mut c);
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .exec(&mut c)
        .unwrap();
    redis::cmd("SET")
        .arg("after")
        .arg("1")
        .exec(&mut c)
        .unwrap();
    wait_rewrite_done(&mut c);
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    assert!(
        p.log_text()
            .contains("Background append only file rewriting started")
    );
    redis::cmd("SET")
        .arg("later")
        .arg("2")
        .exec(&mut c)
        .unwrap();
    let want = dump(&mut c);
    p.term();
    let p = Proc::start(&bin, dir.path(), &["--appendonly", "yes"]);
    assert_eq!(dump(&mut p.client()), want);
    // And off again: the file stops growing.
    let mut c = p.client();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("no")
        .exec(&mut c)
        .unwrap();
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    let before = std::fs::metadata(incr_file(dir.path())).unwrap().len();
    redis::cmd("SET")
        .arg("unlogged")
        .arg("x")
        .exec(&mut c)
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    assert_eq!(
        std::fs::metadata(incr_file(dir.path())).unwrap().len(),
        before
    );
}

#[test]
fn automatic_rewrite_on_growth() {
    let Some(bin) = ember() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start(
        &bin,
        dir.path(),
        &[
            "--appendonly",
            "yes",
            "--auto-aof-rewrite-min-size",
            "10kb",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut c = p.client();
    let big = "x".repeat(1000);
    for _ in 0..40 {
        redis::cmd("SET")
            .arg("same")
            .arg(&big)
            .exec(&mut c)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "aof_rewrites") == "0" {
        assert!(Instant::now() < deadline, "no automatic rewrite");
        thread::sleep(Duration::from_millis(50));
    }
    wait_rewrite_done(&mut c);
    assert!(
        p.log_text()
            .contains("Starting automatic rewriting of AOF on")
    );
    let size: u64 = info_field(&mut c, "aof_current_size").parse().unwrap();
    assert!(size < 10_000, "rewritten AOF is {size} bytes");
}
