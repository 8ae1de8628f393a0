//! Keyspace notifications compared with the real Redis: each case runs a
//! command script on `ember-server` and `redis-server` while a RESP2
//! subscriber listens on `PSUBSCRIBE __key*@*__:*`; after every command a
//! sentinel PUBLISH marks where its events end. The transcripts (each
//! command, its reply, then every message the subscriber got, with pattern
//! and channel) must be identical, so a wrong event name, class, database,
//! order or a missing/extra event fails the case.
//!
//! Script lines are redis-cli style commands; `!sleep MS` waits (for TTLs
//! and active expiry) and then collects what arrived meanwhile;
//! `!sleep-any-order MS` also sorts it (the active cycle walks Ember's
//! shards, not Redis's databases in order).

mod common;

use common::{Oracle, RawConn, Server, escape, split_args};
use std::time::Duration;

const ARGS: &[&str] = &["--enable-debug-command", "yes"];

/// `redis-server` and `ember-server`, or `None` when either is missing.
fn servers() -> Option<(Server, Server)> {
    let redis = Oracle::start_with(ARGS)?;
    let ember = Server::start(ARGS)?;
    Some((redis, ember))
}

fn cmd(conn: &mut RawConn, line: &str) -> Vec<u8> {
    let args = split_args(line).unwrap_or_else(|| panic!("bad script line {line:?}"));
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    conn.cmd(&refs)
}

/// The elements of a RESP2 array of bulk strings, or `None`.
fn bulks(frame: &[u8]) -> Option<Vec<Vec<u8>>> {
    let text = frame.strip_prefix(b"*")?;
    let nl = text.windows(2).position(|w| w == b"\r\n")?;
    let n: usize = std::str::from_utf8(&text[..nl]).ok()?.parse().ok()?;
    let mut rest = &text[nl + 2..];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        rest = rest.strip_prefix(b"$")?;
        let nl = rest.windows(2).position(|w| w == b"\r\n")?;
        let len: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
        let start = nl + 2;
        out.push(rest.get(start..start + len)?.to_vec());
        rest = rest.get(start + len + 2..)?;
    }
    Some(out)
}

/// A client and a subscriber on one server, for one case.
struct Session {
    client: RawConn,
    sub: RawConn,
}

impl Session {
    /// Empties the server, applies `flags` with CONFIG SET and subscribes.
    fn open(server: &Server, flags: &str) -> Session {
        let mut client = server.raw();
        assert_eq!(cmd(&mut client, "FLUSHALL"), b"+OK\r\n");
        assert_eq!(cmd(&mut client, "DEBUG SET-ACTIVE-EXPIRE 1"), b"+OK\r\n");
        let set = format!("CONFIG SET notify-keyspace-events \"{flags}\"");
        assert_eq!(cmd(&mut client, &set), b"+OK\r\n", "{set}");
        let mut sub = server.raw();
        cmd(&mut sub, "PSUBSCRIBE __key*@*__:*");
        cmd(&mut sub, "SUBSCRIBE sentinel");
        Session { client, sub }
    }

    /// Subscribes without touching the server's settings.
    fn attach(server: &Server) -> Session {
        let client = server.raw();
        let mut sub = server.raw();
        cmd(&mut sub, "PSUBSCRIBE __key*@*__:*");
        cmd(&mut sub, "SUBSCRIBE sentinel");
        Session { client, sub }
    }

    /// Publishes the sentinel and returns every message received before it.
    fn events(&mut self) -> Vec<String> {
        assert_eq!(cmd(&mut self.client, "PUBLISH sentinel end"), b":1\r\n");
        let mut out = Vec::new();
        loop {
            let frame = self.sub.read_reply();
            match bulks(&frame) {
                Some(parts) if parts.len() == 3 && parts[1] == b"sentinel" => return out,
                Some(parts) => out.push(format!(
                    "    {}",
                    parts
                        .iter()
                        .map(|p| escape(p))
                        .collect::<Vec<_>>()
                        .join(" ")
                )),
                None => out.push(format!("    raw {}", escape(&frame))),
            }
        }
    }

    /// Runs `script`; returns the transcript.
    fn run(&mut self, script: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut queued = false;
        for line in script.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(ms) = line.strip_prefix("!sleep-any-order ") {
                // Keys expired by the active cycle, in no particular order.
                std::thread::sleep(Duration::from_millis(ms.parse().expect("sleep ms")));
                out.push(line.to_string());
                let mut events = self.events();
                events.sort();
                out.extend(events);
                continue;
            }
            if let Some(ms) = line.strip_prefix("!sleep ") {
                std::thread::sleep(Duration::from_millis(ms.parse().expect("sleep ms")));
                out.push(line.to_string());
            } else {
                let reply = cmd(&mut self.client, line);
                out.push(format!("> {line}  => {}", escape(&reply)));
                let name = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                match name.as_str() {
                    "MULTI" => queued = true,
                    "EXEC" | "DISCARD" => queued = false,
                    _ => {}
                }
            }
            // Inside MULTI the sentinel would only be queued.
            if !queued {
                out.extend(self.events());
            }
        }
        out
    }
}

/// Runs each `(flags, script)` case on both servers and compares.
fn compare(cases: &[(&str, &str)]) {
    let Some((redis, ember)) = servers() else {
        return;
    };
    for (flags, script) in cases {
        let want = Session::open(&redis, flags).run(script);
        let got = Session::open(&ember, flags).run(script);
        if want != got {
            let first = want
                .iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()));
            panic!(
                "notify-keyspace-events {flags:?}: transcripts differ at line {first}:\n\
                 redis: {:?}\nember: {:?}\n--- redis ---\n{}\n--- ember ---\n{}\n\n{}",
                want.get(first),
                got.get(first),
                want.join("\n"),
                got.join("\n"),
                ember.log_text()
            );
        }
        // A case that produced no event at all proves nothing.
        assert!(
            want.iter().any(|l| l.starts_with("    ")) || script.contains("# no events"),
            "case with flags {flags:?} produced no events:\n{}",
            want.join("\n")
        );
    }
}

const STRINGS: &str = r#"
SET a 1
SET a 2 NX
SET a 3 XX
SET b 3 XX
SET a 4 GET
SET a 5 EX 100 GET
SET a 6 PX 100000 NX
SET a 7 EXAT 99999999999 XX
SET c 7 PXAT 99999999999999
SET a 9 KEEPTTL
SETEX s 100 v
PSETEX s 100000 v
SETEX s 0 v
SETNX n 1
SETNX n 2
GETSET n 2
GETSET m 2
GETEX n
GETEX n EX 100
GETEX n PX 100000
GETEX n EXAT 99999999999
GETEX n PERSIST
GETEX n PERSIST
GETEX n PXAT 1
GETEX zz EX 10
GETDEL m
GETDEL m
MSET a 1 b 2 a 3
MSETNX c 1 d 2
MSETNX x 1 y 2
APPEND c xx
APPEND f xx
APPEND f ""
APPEND f2 ""
SETRANGE f 0 y
SETRANGE f 1 ""
SETRANGE g 0 ""
SETRANGE g 2 hi
INCR i
INCRBY i 5
DECR i
DECRBY i 2
INCRBYFLOAT i 1.5
INCRBYFLOAT j 1.5
INCR f
INCRBYFLOAT f 1
INCRBY i 9223372036854775807
SET a 1 PXAT 1
GET a
LCS b c
HSET h f v
SET h v GET
APPEND h x
"#;

const BITMAPS: &str = r#"
SETBIT bm 3 1
SETBIT bm 3 1
SETBIT bm 3 0
SETBIT bm 100 0
SETBIT bm2 0 0
GETBIT bm 3
BITCOUNT bm
BITPOS bm 1
BITOP AND dst bm bm2
BITOP NOT dst2 bm
BITOP OR dst nokey nokey2
BITOP OR dst nokey nokey2
BITFIELD bf SET u8 0 255
BITFIELD bf GET u8 0
BITFIELD bf INCRBY u8 0 1
BITFIELD bf SET u8 0 0
BITFIELD bf OVERFLOW FAIL INCRBY u8 0 256
BITFIELD bf2 GET u8 0
BITFIELD bf3 OVERFLOW FAIL INCRBY u8 0 300
BITFIELD_RO bf GET u8 0
SET s x
SETBIT s 1 1
"#;

const KEYS: &str = r#"
SET a 1
SET b 2
RENAME a b
RENAME b b
RENAMENX b c
SET d 1
RENAMENX c d
RENAME nokey x
EXPIRE c 100
RENAME c c2
COPY c2 e
COPY c2 e
COPY c2 e REPLACE
COPY c2 f DB 3
COPY nokey f
MOVE c2 3
SET c2 again
MOVE c2 3
MOVE d 3
DEL e f zz
DEL e f zz
UNLINK d zz
SET u 1
UNLINK u
TOUCH zz
EXISTS zz
TYPE zz
OBJECT ENCODING zz
FLUSHDB
SELECT 3
SET q 1
SWAPDB 0 3
FLUSHALL
# no events after this point
"#;

const EXPIRE: &str = r#"
SET x 1
EXPIRE x 100
EXPIRE x 100 NX
EXPIRE x 200 XX
EXPIRE x 50 GT
EXPIRE x 50 LT
PEXPIRE x 100000
EXPIREAT x 99999999999
PEXPIREAT x 99999999999999
PEXPIRETIME x
PERSIST x
PERSIST x
PERSIST nokey
EXPIRE nokey 10
EXPIRE x -1
SET x 1
PEXPIREAT x 1
SET x 1
EXPIREAT x 1 NX
SET x 1
EXPIRE x 0
"#;

/// Lazy expiry: with active expiry off, every kind of access to a key whose
/// TTL passed reports `expired` first (and a write then `new`).
const LAZY: &str = r#"
DEBUG SET-ACTIVE-EXPIRE 0
SET y 1 PX 10
!sleep 30
GET y
SET y 1 PX 10
!sleep 30
SET y 2
SET y 1 PX 10
!sleep 30
SET y 2 KEEPTTL
SET y 1 PX 10
!sleep 30
SET y 2 EX 100
SET y 1 PX 10
!sleep 30
EXISTS y
SET y 1 PX 10
!sleep 30
RENAME y z
SET y 1 PX 10
SET z 1 PX 10
!sleep 30
RENAME y2 z
SET y 1
SET z 1 PX 10
!sleep 30
RENAME y z
SET y 1 PX 10
!sleep 30
INCR y
SET y 1 PX 10
!sleep 30
APPEND y x
SET y 1 PX 10
!sleep 30
SETRANGE y 0 x
SET y 1 PX 10
!sleep 30
INCRBYFLOAT y 1
SET y 1 PX 10
!sleep 30
MSETNX y 1
SET y 1 PX 10
!sleep 30
SETNX y 1
SET y 1 PX 10
!sleep 30
SETBIT y 0 1
SET y 1 PX 10
!sleep 30
DEL y
SET y 1 PX 10
!sleep 30
TTL y
SET y 1 PX 10
!sleep 30
PERSIST y
SET y 1 PX 10
!sleep 30
EXPIRE y 100
SET y 1 PX 10
!sleep 30
COPY y w
SET y 1
SET w 1 PX 10
!sleep 30
COPY y w
SET y 1 PX 10
!sleep 30
MOVE y 3
HSET h f v
PEXPIRE h 10
!sleep 30
HSET h f v
PEXPIRE h 10
!sleep 30
HGET h f
SADD s a
PEXPIRE s 10
!sleep 30
SADD s a
PEXPIRE s 10
!sleep 30
SMEMBERS s
# Store commands with an empty result delete a stale destination as a
# plain delete (`del`, not `expired`).
SET d 1 PX 10
!sleep 30
BITOP OR d nokey
SET d 1 PX 10
!sleep 30
SUNIONSTORE d nokey
SET d 1 PX 10
!sleep 30
SINTERSTORE d nokey
SET d 1 PX 10
!sleep 30
BITOP OR d d
SET d 1 PX 10
!sleep 30
GETEX d EX 100
SET d 1 PX 10
!sleep 30
SET d 1 GET
SET d 1 PX 10
!sleep 30
MSET d 2 e 3
SET d 1 PX 10
!sleep 30
SETEX d 100 x
SADD s1 1
SADD d 1
PEXPIRE d 10
!sleep 30
SINTERSTORE d s1
SADD d 1
PEXPIRE d 10
!sleep 30
SMOVE s1 d 1
HSET h a 1
PEXPIRE h 10
!sleep 30
HDEL h a
SET x 1 EX 100
SET y 1 EX 100
RENAME x y
TTL y
SET x 1
RENAME x y
TTL y
SET x 1 PX 10
SET y 1
!sleep 30
RENAMENX y x
FLUSHALL
SET y 1 PX 10
!sleep 30
SCAN 0
SET y 1 PX 10
!sleep 30
KEYS *
"#;

const HASHES: &str = r#"
HSET h a 1 b 2
HSET h a 1
HMSET h a 1
HSETNX h a 1
HSETNX h c 1
HSETNX h2 c 1
HINCRBY h c 5
HINCRBY h3 c 5
HINCRBYFLOAT h c 1.5
HINCRBYFLOAT h4 c 1.5
HINCRBYFLOAT h c abc
HINCRBY h a abc
HINCRBY h5 f 9223372036854775807
HINCRBY h5 f 1
HDEL h zz
HDEL nokey a
HDEL h a b zz
HDEL h c
HDEL h2 c
HGET nokey f
HGETALL nokey
SET str 1
HSET str a 1
"#;

const SETS: &str = r#"
SADD s 1 2 3
SADD s 1
SPOP s 0
SPOP s 5
SADD s 1
SPOP s 1
SADD s 1 2
SPOP s 2
SADD s 1
SPOP s
SPOP nos
SPOP nos 3
SREM s zz
SADD s 1 2
SREM s 1 zz
SREM s 2
SREM nos 1
SADD s 1 2
SADD t 3
SMOVE s t 1
SMOVE s t 3
SMOVE s t 2
SMOVE t u 3
SMOVE t t 1
SMOVE nos t 1
SADD t 1 2
SADD u 2 3
SINTERSTORE d t u
SUNIONSTORE d t u
SDIFFSTORE d t u
SINTERSTORE d t nokey
SINTERSTORE d t nokey
SDIFFSTORE d t t
SUNIONSTORE d nokey
SINTERSTORE d t u
SDIFFSTORE d t t
SINTERCARD 2 t u
SISMEMBER nokey a
SET str 1
SADD str a
SINTERSTORE str t u
"#;

/// Lists (their events come with the lists family; checked here too).
const LISTS: &str = r#"
LPUSH l a b
RPUSH l c
LPUSHX l d
LPUSHX nol d
LPOP l
RPOP l 2
LSET l 0 x
LINSERT l BEFORE x y
LREM l 0 y
LTRIM l 0 0
LTRIM l 1 0
RPUSH l a b
LMOVE l m LEFT RIGHT
RPOPLPUSH l m
LMPOP 1 m LEFT COUNT 5
BLPOP nol 0.01
RPUSH l a
BLPOP l 0
LRANGE nol 0 -1
"#;

/// Reads that miss (class `m`).
const MISSES: &str = r#"
GET n
MGET n n2
STRLEN n
GETRANGE n 0 1
EXISTS n n2
TYPE n
TTL n
PEXPIRETIME n
OBJECT ENCODING n
OBJECT FREQ n
TOUCH n
HGET n f
HMGET n f g
HLEN n
HEXISTS n f
HRANDFIELD n
HSCAN n 0
SMEMBERS n
SISMEMBER n a
SCARD n
SRANDMEMBER n
SSCAN n 0
SINTER n n2
SUNION n n2
SDIFF n n2
BITCOUNT n
GETBIT n 3
BITFIELD_RO n GET u8 0
LCS n n2
COPY n n3
RENAME n n3
MOVE n 3
PERSIST n
EXPIRE n 10
DEL n
GETEX n
GETDEL n
GETSET n 1
SELECT 3
GET n
"#;

/// Events in a database other than 0 and inside a transaction.
const DATABASES: &str = r#"
SELECT 3
SET k v
EXPIRE k 100
SADD s a
MOVE k 0
SELECT 0
MOVE k 5
COPY s s DB 3
COPY s s2 DB 3
SELECT 5
MULTI
SET a 1
INCR a
DEL a
SADD s x
EXEC
"#;

#[test]
fn string_and_bitmap_events() {
    compare(&[
        ("KEA", STRINGS),
        ("KEAnm", STRINGS),
        ("KEA", BITMAPS),
        ("KEAnm", BITMAPS),
    ]);
}

#[test]
fn generic_key_and_expire_events() {
    compare(&[
        ("KEA", KEYS),
        ("KEAn", KEYS),
        ("KEA", EXPIRE),
        ("Eg", EXPIRE),
    ]);
}

#[test]
fn hash_and_set_events() {
    compare(&[
        ("KEA", HASHES),
        ("KEAn", HASHES),
        ("KEA", SETS),
        ("KEAnm", SETS),
    ]);
}

#[test]
fn list_events() {
    compare(&[("KEAnm", LISTS), ("El", LISTS)]);
}

#[test]
fn lazy_expiry_reports_expired_before_the_command() {
    compare(&[("KEAnm", LAZY), ("Ex", LAZY)]);
}

#[test]
fn key_misses_and_other_databases() {
    compare(&[
        ("Km", MISSES),
        ("KEA", MISSES),
        ("KEAn", DATABASES),
        ("Eg", DATABASES),
    ]);
}

/// Each class letter lets through only its own events, on the channels
/// chosen by K and E.
#[test]
fn class_letters_filter_events() {
    let all = [STRINGS, BITMAPS, KEYS, EXPIRE, HASHES, SETS].concat();
    compare(&[
        ("Kg", &all),
        ("E$", &all),
        ("Kh", &all),
        ("Es", &all),
        ("Kl", "SET a 1\nSADD s a\n# no events"),
        ("Ez", "SET a 1\nHSET h a 1\n# no events"),
        ("Et", "SET a 1\nDEL a\n# no events"),
        ("Kd", "SET a 1\nDEL a\n# no events"),
        ("g$", "SET a 1\nDEL a\n# no events"),
        ("KEg$lshzxetd", &all),
    ]);
}

/// Active expiry reports `expired` from the server's own cycle, in the
/// key's database; a key written again first reports nothing.
#[test]
fn active_expiry_reports_expired() {
    compare(&[
        (
            "Exe",
            "SET a 1 PX 50\nSELECT 4\nSET b 1 PX 100\nSET c 1 PX 100\nPERSIST c\n!sleep-any-order 800",
        ),
        ("KEA", "SET a 1 PX 50\n!sleep 800\nGET a"),
        ("Kg", "SET a 1 PX 50\n!sleep 800\n# no events"),
    ]);
}

/// `--notify-keyspace-events` on the command line is in effect from the
/// start, and CONFIG GET shows it as Redis does.
#[test]
fn flags_given_at_start() {
    let args = [
        "--enable-debug-command",
        "yes",
        "--notify-keyspace-events",
        "KEA$nm",
    ];
    let Some(redis) = Oracle::start_with(&args) else {
        return;
    };
    let Some(ember) = Server::start(&args) else {
        return;
    };
    let script = "CONFIG GET notify-keyspace-events\nSET a 1\nGET zz\nHSET h f v\nDEL a h";
    let want = Session::attach(&redis).run(script);
    let got = Session::attach(&ember).run(script);
    assert_eq!(got, want);
    assert!(want.len() > 10, "{want:?}");
}

/// CONFIG SET notify-keyspace-events takes effect at once; "" turns it off.
#[test]
fn config_set_switches_notifications_at_runtime() {
    compare(&[(
        "",
        r#"
SET a 1
CONFIG SET notify-keyspace-events KEA
CONFIG GET notify-keyspace-events
SET a 2
CONFIG SET notify-keyspace-events E$
SET a 3
DEL a
CONFIG SET notify-keyspace-events Ag
CONFIG GET notify-keyspace-events
SET a 4
CONFIG SET notify-keyspace-events KEAnmd
CONFIG GET notify-keyspace-events
GET zz
CONFIG SET notify-keyspace-events Kx
CONFIG GET notify-keyspace-events
CONFIG SET notify-keyspace-events "KE$q"
CONFIG GET notify-keyspace-events
SET a 5
CONFIG SET notify-keyspace-events ""
CONFIG GET notify-keyspace-events
SET a 6
DEL a
"#,
    )]);
}

/// Reads every byte the server sends on `conn` within a short wait.
fn read_all(conn: &mut RawConn, replies: usize) -> Vec<u8> {
    conn.read_replies(replies)
}

/// A RESP3 client subscribed to keyspace events gets the push for its own
/// write before the command's reply, as in Redis; inside MULTI the pushes
/// come before EXEC's array.
#[test]
fn resp3_subscriber_gets_its_own_events_before_the_reply() {
    let Some((redis, ember)) = servers() else {
        return;
    };
    let run = |server: &Server| -> Vec<u8> {
        let mut c = server.raw();
        cmd(&mut c, "CONFIG SET notify-keyspace-events KEA");
        cmd(&mut c, "HELLO 3");
        let mut out = cmd(&mut c, "PSUBSCRIBE __keyspace@*__:*");
        // SET: one push, then +OK.
        c.send(&common::encode_command(&[b"SET", b"a", b"1"]));
        out.extend(read_all(&mut c, 2));
        // A pipeline: each command's pushes precede its reply.
        let mut batch = Vec::new();
        for line in ["SET a 2 EX 100", "DEL a", "PING", "PUBLISH other x"] {
            let args = split_args(line).unwrap();
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            batch.extend(common::encode_command(&refs));
        }
        c.send(&batch);
        out.extend(read_all(&mut c, 7));
        for line in ["MULTI", "SADD s a", "SREM s a"] {
            out.extend(cmd(&mut c, line));
        }
        c.send(&common::encode_command(&[b"EXEC"]));
        out.extend(read_all(&mut c, 4));
        cmd(&mut c, "CONFIG SET notify-keyspace-events \"\"");
        out
    };
    let want = run(&redis);
    let got = run(&ember);
    assert_eq!(escape(&got), escape(&want));
}
