//! Lua scripts as a server feature: atomicity against concurrent writers on
//! other threads, the effects reaching the AOF (wrapped in MULTI/EXEC, as
//! Redis 7.0 writes them) and a replica, BUSY and SCRIPT KILL while a
//! script runs too long, MONITOR's `lua` lines, INFO fields, and the
//! typical scripts clients use (lock release, rate limiter) under load.

mod common;

use common::Server;
use redis::Commands;
use std::time::{Duration, Instant};

const TRANSFER: &str = "local a = tonumber(redis.call('get', KEYS[1])) \
     local b = tonumber(redis.call('get', KEYS[2])) \
     redis.call('set', KEYS[1], a - 1) \
     redis.call('set', KEYS[2], b + 1) \
     return a - 1";

#[test]
fn a_script_is_atomic_against_writers_and_readers_on_other_threads() {
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    let mut c = server.client();
    // Keys chosen to live in different shards is likely with many pairs.
    let pairs: Vec<(String, String)> = (0..4)
        .map(|i| (format!("acct:{i}:a"), format!("acct:{i}:b")))
        .collect();
    for (a, b) in &pairs {
        let _: () = c.set(a, 100_000).unwrap();
        let _: () = c.set(b, 0).unwrap();
    }
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(TRANSFER)
        .query(&mut c)
        .unwrap();
    let per_thread = 500;
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let addr = server.addr();
            let sha = sha.clone();
            let pairs = pairs.clone();
            std::thread::spawn(move || {
                let mut c = common::connect(&addr);
                for i in 0..per_thread {
                    let (a, b) = &pairs[(i + t) % pairs.len()];
                    let _: i64 = redis::cmd("EVALSHA")
                        .arg(&sha)
                        .arg(2)
                        .arg(a)
                        .arg(b)
                        .query(&mut c)
                        .unwrap();
                }
            })
        })
        .collect();
    // Readers see the invariant (a + b constant) at every instant.
    let reader = {
        let addr = server.addr();
        let pairs = pairs.clone();
        std::thread::spawn(move || {
            let mut c = common::connect(&addr);
            let mut checks = 0;
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline && checks < 2000 {
                for (a, b) in &pairs {
                    let (x, y): (i64, i64) =
                        redis::cmd("MGET").arg(a).arg(b).query(&mut c).unwrap();
                    assert_eq!(x + y, 100_000, "a script was seen half done");
                    let (x, y): (i64, i64) = redis::cmd("EVAL_RO")
                        .arg("return {tonumber(redis.call('get', KEYS[1])), tonumber(redis.call('get', KEYS[2]))}")
                        .arg(2)
                        .arg(a)
                        .arg(b)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(x + y, 100_000);
                    checks += 1;
                }
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    let total: i64 = pairs.iter().map(|(_, b)| c.get::<_, i64>(b).unwrap()).sum();
    assert_eq!(total, 4 * per_thread as i64, "every transfer happened once");
}

fn aof_text(server: &Server) -> String {
    let dir = server.dir().join("appendonlydir");
    let mut text = String::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    names.sort();
    for p in names {
        text.push_str(&String::from_utf8_lossy(&std::fs::read(p).unwrap()));
    }
    text
}

/// RESP of one command, as the AOF holds it.
fn resp(args: &[&str]) -> String {
    let mut s = format!("*{}\r\n", args.len());
    for a in args {
        s.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s
}

#[test]
fn script_effects_reach_the_aof_wrapped_in_multi_exec() {
    let Some(server) = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]) else {
        return;
    };
    let mut c = server.client();
    let _: String = redis::cmd("EVAL")
        .arg("redis.call('set', KEYS[1], ARGV[1]) redis.call('incr', KEYS[2]) return redis.call('get', KEYS[1])")
        .arg(2)
        .arg("s1")
        .arg("s2")
        .arg("v")
        .query(&mut c)
        .unwrap();
    // One write: not wrapped. SELECT inside the script: a SELECT first.
    let _: String = redis::cmd("EVAL")
        .arg("redis.call('select', 3) return redis.call('set', 's3', '1')")
        .arg(0)
        .query(&mut c)
        .unwrap();
    // Reads and set_repl(REPL_NONE) propagate nothing.
    let _: Option<String> = redis::cmd("EVAL")
        .arg("return redis.call('get', 's1')")
        .arg(0)
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("EVAL")
        .arg("redis.set_repl(redis.REPL_NONE) return redis.call('set', 'hidden', '1')")
        .arg(0)
        .query(&mut c)
        .unwrap();
    let _: String = c.set("after", "1").unwrap();
    let text = aof_text(&server);
    let want = [
        resp(&["SELECT", "0"]),
        resp(&["MULTI"]),
        resp(&["set", "s1", "v"]),
        resp(&["incr", "s2"]),
        resp(&["EXEC"]),
        resp(&["SELECT", "3"]),
        resp(&["set", "s3", "1"]),
        resp(&["SELECT", "0"]),
        resp(&["SET", "after", "1"]),
    ]
    .concat();
    assert_eq!(text, want);
    // The caller's database is unchanged by the script's SELECT.
    let after: Option<String> = c.get("s3").unwrap();
    assert_eq!(after, None);
}

#[test]
fn a_replica_receives_the_effects_of_scripts() {
    let Some(primary) = Server::start(&[]) else {
        return;
    };
    let port = primary.port().to_string();
    let replica = Server::start(&["--replicaof", "127.0.0.1", &port]).unwrap();
    let mut p = primary.client();
    let mut r = replica.client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info: String = redis::cmd("INFO").arg("replication").query(&mut r).unwrap();
        if info.contains("master_link_status:up") {
            break;
        }
        assert!(Instant::now() < deadline, "replica never synced");
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..50 {
        let _: i64 = redis::cmd("EVAL")
            .arg("redis.call('rpush', KEYS[1], ARGV[1]) return redis.call('incr', KEYS[2])")
            .arg(2)
            .arg("list")
            .arg("n")
            .arg(i)
            .query(&mut p)
            .unwrap();
    }
    // math.random is not replayed: the replica gets the value written.
    let _: String = redis::cmd("EVAL")
        .arg("return redis.call('set', 'rnd', math.random(1000000000))")
        .arg(0)
        .query(&mut p)
        .unwrap();
    let want_rnd: String = p.get("rnd").unwrap();
    loop {
        let n: Option<i64> = r.get("n").unwrap();
        let rnd: Option<String> = r.get("rnd").unwrap();
        if let (Some(50), Some(rnd)) = (n, &rnd) {
            assert_eq!(rnd, &want_rnd);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replica did not catch up: n={n:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let list: Vec<i64> = r.lrange("list", 0, -1).unwrap();
    assert_eq!(list, (0..50).collect::<Vec<i64>>());
}

#[test]
fn a_long_script_makes_others_busy_and_script_kill_stops_it() {
    let Some(server) = Server::start(&["--server-threads", "4", "--busy-reply-threshold", "100"])
    else {
        return;
    };
    let mut other = server.raw();
    assert_eq!(
        other.cmd(&[b"SCRIPT", b"KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    let addr = server.addr();
    let runner = std::thread::spawn(move || {
        let mut c = common::connect(&addr);
        let res: redis::RedisResult<()> = redis::cmd("EVAL")
            .arg("local i = 0 while true do i = i + 1 end")
            .arg(0)
            .query(&mut c);
        res.unwrap_err().to_string()
    });
    // Another connection, on another worker thread.
    let mut c = server.raw();
    std::thread::sleep(Duration::from_millis(400));
    let busy = c.cmd(&[b"GET", b"x"]);
    assert_eq!(
        busy,
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(c.cmd(&[b"SCRIPT", b"KILL"]), b"+OK\r\n");
    let err = runner.join().unwrap();
    assert!(
        err.contains("Script killed by user with SCRIPT KILL..."),
        "{err}"
    );
    assert_eq!(c.cmd(&[b"SET", b"x", b"1"]), b"+OK\r\n");
    let log = server.log_text();
    assert!(
        log.contains("Lua script killed by user with SCRIPT KILL."),
        "{log}"
    );
    assert!(
        log.contains("Slow script detected: still in execution after "),
        "{log}"
    );

    // A script that wrote cannot be killed; it finishes on its own.
    let addr = server.addr();
    let runner = std::thread::spawn(move || {
        let mut c = common::connect(&addr);
        let n: i64 = redis::cmd("EVAL")
            .arg("redis.call('set', 'w', '1') local i = 0 while i < 30000000 do i = i + 1 end return i")
            .arg(0)
            .query(&mut c)
            .unwrap();
        n
    });
    std::thread::sleep(Duration::from_millis(300));
    let unkillable = c.cmd(&[b"SCRIPT", b"KILL"]);
    if unkillable != b"-NOTBUSY No scripts in execution right now.\r\n" {
        assert!(
            unkillable.starts_with(b"-UNKILLABLE Sorry the script already executed write commands"),
            "{}",
            String::from_utf8_lossy(&unkillable)
        );
    }
    assert_eq!(runner.join().unwrap(), 30_000_000);
    assert_eq!(c.cmd(&[b"GET", b"w"]), b"$1\r\n1\r\n");
}

#[test]
fn monitor_shows_the_script_and_its_commands_as_lua() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut m = server.raw();
    assert_eq!(m.cmd(&[b"MONITOR"]), b"+OK\r\n");
    let mut c = server.client();
    let _: String = redis::cmd("EVAL")
        .arg("redis.call('select', 2) return redis.call('set', 'k', 'v')")
        .arg(0)
        .query(&mut c)
        .unwrap();
    let lines: Vec<String> = (0..3)
        .map(|_| String::from_utf8_lossy(&m.read_reply()).into_owned())
        .collect();
    assert!(
        lines[0].contains(" [0 127.0.0.1:") && lines[0].contains("\"EVAL\""),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with("[2 lua] \"select\" \"2\"\r\n"),
        "{lines:?}"
    );
    assert!(
        lines[2].ends_with("[2 lua] \"set\" \"k\" \"v\"\r\n"),
        "{lines:?}"
    );
}

#[test]
fn info_counts_cached_scripts_and_commandstats_see_script_calls() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    let field = |c: &mut redis::Connection, section: &str, name: &str| -> String {
        let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
            .unwrap_or_default()
    };
    assert_eq!(field(&mut c, "memory", "number_of_cached_scripts"), "0");
    for body in ["return 1", "return 2", "return redis.call('incr', 'n')"] {
        let _: i64 = redis::cmd("EVAL").arg(body).arg(0).query(&mut c).unwrap();
    }
    let _: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return 1")
        .query(&mut c)
        .unwrap();
    assert_eq!(field(&mut c, "memory", "number_of_cached_scripts"), "3");
    assert!(
        field(&mut c, "memory", "used_memory_lua")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(
        field(&mut c, "memory", "used_memory_scripts")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(field(&mut c, "commandstats", "cmdstat_incr").starts_with("calls=1,"));
    assert!(field(&mut c, "commandstats", "cmdstat_eval").starts_with("calls=3,"));
    let _: String = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    assert_eq!(field(&mut c, "memory", "number_of_cached_scripts"), "0");
}

const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then \
     return redis.call('del', KEYS[1]) else return 0 end";

const LIMITER: &str = "local n = redis.call('incr', KEYS[1]) \
     if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end \
     if n > tonumber(ARGV[2]) then return 0 end return 1";

#[test]
fn lock_release_and_rate_limiter_scripts_under_concurrency() {
    let Some(server) = Server::start(&["--server-threads", "4"]) else {
        return;
    };
    // Many clients take a lock with SET NX and release it with the
    // script: a counter guarded by the lock never loses an update.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let addr = server.addr();
            std::thread::spawn(move || {
                let mut c = common::connect(&addr);
                let token = format!("owner-{t}");
                let mut done = 0;
                while done < 100 {
                    let got: Option<String> = redis::cmd("SET")
                        .arg("lock")
                        .arg(&token)
                        .arg("NX")
                        .arg("PX")
                        .arg(10_000)
                        .query(&mut c)
                        .unwrap();
                    if got.is_none() {
                        continue;
                    }
                    let v: i64 = c.get::<_, Option<i64>>("guarded").unwrap().unwrap_or(0);
                    let _: () = c.set("guarded", v + 1).unwrap();
                    // Someone else's token never releases our lock.
                    let wrong: i64 = redis::cmd("EVAL")
                        .arg(RELEASE)
                        .arg(1)
                        .arg("lock")
                        .arg("intruder")
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(wrong, 0);
                    let released: i64 = redis::cmd("EVAL")
                        .arg(RELEASE)
                        .arg(1)
                        .arg("lock")
                        .arg(&token)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(released, 1);
                    done += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.client();
    let guarded: i64 = c.get("guarded").unwrap();
    assert_eq!(guarded, 400);

    // The limiter admits exactly `limit` calls in its window.
    let admitted: Vec<_> = (0..4)
        .map(|_| {
            let addr = server.addr();
            std::thread::spawn(move || {
                let mut c = common::connect(&addr);
                (0..50)
                    .map(|_| {
                        redis::cmd("EVAL")
                            .arg(LIMITER)
                            .arg(1)
                            .arg("rate")
                            .arg(60_000)
                            .arg(70)
                            .query::<i64>(&mut c)
                            .unwrap()
                    })
                    .sum::<i64>()
            })
        })
        .collect();
    let total: i64 = admitted.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 70);
    let ttl: i64 = c.pttl("rate").unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
}

#[test]
fn commands_in_scripts_send_keyspace_notifications() {
    let Some(server) = Server::start(&["--notify-keyspace-events", "KEA"]) else {
        return;
    };
    let mut sub = server.raw();
    sub.cmd(&[b"PSUBSCRIBE", b"__key*@*__:*"]);
    let mut c = server.client();
    let _: i64 = redis::cmd("EVAL")
        .arg("redis.call('set', KEYS[1], '1') redis.call('select', 1) return redis.call('incr', KEYS[1])")
        .arg(1)
        .arg("k")
        .query(&mut c)
        .unwrap();
    let events: Vec<String> = (0..4)
        .map(|_| String::from_utf8_lossy(&sub.read_reply()).into_owned())
        .collect();
    let channels: Vec<&str> = events
        .iter()
        .map(|e| e.split("\r\n").nth(6).unwrap_or(""))
        .collect();
    // As redis-server sends them (`new` is not in KEA).
    assert_eq!(
        channels,
        [
            "__keyspace@0__:k",
            "__keyevent@0__:set",
            "__keyspace@1__:k",
            "__keyevent@1__:incrby",
        ],
        "{events:?}"
    );
}

#[test]
fn library_settings_live_in_the_interpreter_until_script_flush() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let mut c = server.client();
    let eval = |c: &mut redis::Connection, body: &str| -> redis::RedisResult<String> {
        redis::cmd("EVAL").arg(body).arg(0).query(c)
    };
    assert_eq!(
        eval(&mut c, "return cjson.encode(math.pi)").unwrap(),
        "3.1415926535898"
    );
    eval(&mut c, "cjson.encode_number_precision(3) return 'ok'").unwrap();
    // Another script, another client: the setting stays.
    let mut other = server.client();
    assert_eq!(
        eval(&mut other, "return cjson.encode(math.pi)").unwrap(),
        "3.14"
    );
    // SCRIPT FLUSH starts a new interpreter with default settings.
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    assert_eq!(
        eval(&mut c, "return cjson.encode(math.pi)").unwrap(),
        "3.1415926535898"
    );
    // A JSON document stored by one script is read back by another.
    let doc = r#"{"user":"ann","tags":["a","b"],"score":12.5}"#;
    let _: () = c.set("doc", doc).unwrap();
    let tags: String = redis::cmd("EVAL")
        .arg("local d = cjson.decode(redis.call('get', KEYS[1])) return d.user .. ':' .. table.concat(d.tags, ',') .. ':' .. cjson.encode(d.score)")
        .arg(1)
        .arg("doc")
        .query(&mut c)
        .unwrap();
    assert_eq!(tags, "ann:a,b:12.5");
    // Errors from a library carry the script's position, and pcall sees
    // the bare message.
    let err = eval(&mut c, "return cjson.decode('{')").unwrap_err();
    assert!(
        err.to_string()
            .contains("user_script:1: Expected object key string but found T_END at character 2"),
        "{err}"
    );
    assert_eq!(
        eval(&mut c, "local ok, e = pcall(cjson.decode, '{') return e").unwrap(),
        "Expected object key string but found T_END at character 2"
    );
}
