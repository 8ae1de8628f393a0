//! RDB files: the reader against files written by real Redis (every type and
//! encoding), the writer's output checked by redis-check-rdb and loaded by
//! redis-server, SAVE / restart / DEBUG RELOAD, DUMP/RESTORE both ways.

mod common;
mod rdb_model;

use std::path::Path;

const ASSETS: &str = "/work/shared/redis-assets";

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn reader_matches_expected_all_types() {
    let bytes = read(format!("{ASSETS}/redis-7.0-all-types/dump.rdb"));
    let got = rdb_model::dump_lines(&bytes, now_ms());
    let want: Vec<String> =
        std::fs::read_to_string(format!("{ASSETS}/redis-7.0-all-types/expected.txt"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
}

const DUMP_TOOL: &str = "/work/shared/tools/keyspace_dump.py";

/// keyspace_dump.py's lines for a running server.
fn dump_server(addr: &str) -> Vec<String> {
    let (host, port) = addr.split_once(':').unwrap();
    let out = std::process::Command::new("python3")
        .args([DUMP_TOOL, host, port])
        .output()
        .expect("python3 keyspace_dump.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A temp dir holding `bytes` as `name`.
fn dir_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(name), bytes).unwrap();
    d
}

/// Starts redis-server loading `bytes` as its RDB.
fn redis_loading(bytes: &[u8]) -> Option<(common::Server, tempfile::TempDir)> {
    let d = dir_with("in.rdb", bytes);
    let dir = d.path().to_str().unwrap().to_string();
    let s = common::Oracle::start_with(&["--dir", &dir, "--dbfilename", "in.rdb"])?;
    Some((s, d))
}

/// Starts Ember loading `bytes` as its RDB.
fn ember_loading(bytes: &[u8], extra: &[&str]) -> Option<(common::Server, tempfile::TempDir)> {
    let d = dir_with("in.rdb", bytes);
    let dir = d.path().to_str().unwrap().to_string();
    let mut args = vec!["--dir", &dir, "--dbfilename", "in.rdb"];
    args.extend_from_slice(extra);
    let s = common::Server::start(&args)?;
    Some((s, d))
}

fn check_rdb(path: &Path) {
    let Some(bin) = common::find_on_path("redis-check-rdb") else {
        println!("NOTICE: redis-check-rdb not found");
        return;
    };
    let out = std::process::Command::new(bin).arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb rejected {}:\n{text}",
        path.display()
    );
}

/// Rewrites an RDB through Ember's reader and writer (every key as a
/// neutral value, written in the encoding Redis 7.0 would pick).
fn rewrite(bytes: &[u8], keep: impl Fn(&RdbValue) -> bool) -> Vec<u8> {
    use ember::persist::rdb::reader::{Item, read_all};
    use ember::persist::rdb::writer::{Thresholds, Writer};
    let th = Thresholds::default();
    let mut w = Writer::new(Vec::new(), true, true);
    w.header().unwrap();
    w.aux("redis-ver", b"7.0.15").unwrap();
    for it in read_all(bytes).unwrap() {
        match it {
            Item::SelectDb(n) => w.select_db(n).unwrap(),
            Item::Key(k) if keep(&k.value) => {
                if let Some(ms) = k.expire_ms {
                    w.raw(&[252]).unwrap();
                    w.raw(&ms.to_le_bytes()).unwrap();
                }
                let t = ember::persist::rdb::writer::value_type(&k.value, &th);
                w.byte(t).unwrap();
                w.string(&k.key).unwrap();
                w.value_body(t, &k.value, &th).unwrap();
            }
            _ => {}
        }
    }
    w.finish().unwrap()
}

use ember::persist::rdb::RdbValue;

#[test]
fn writer_output_of_every_type_loads_in_redis() {
    let bytes = read(format!("{ASSETS}/redis-7.0-all-types/dump.rdb"));
    let out = rewrite(&bytes, |_| true);
    let d = dir_with("w.rdb", &out);
    check_rdb(&d.path().join("w.rdb"));
    // Our reader reads it back to the same model.
    assert_eq!(
        rdb_model::dump_lines(&out, now_ms()),
        rdb_model::dump_lines(&bytes, now_ms())
    );
    let Some((redis, _d)) = redis_loading(&out) else {
        return;
    };
    let want: Vec<String> =
        std::fs::read_to_string(format!("{ASSETS}/redis-7.0-all-types/expected.txt"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    let got = dump_server(&redis.addr());
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
}

/// Old-encoding fixtures: what our reader decodes equals what redis-server
/// serves after loading the same file (all types, independent of storage).
#[test]
fn reader_matches_redis_on_every_fixture() {
    for f in [
        "encodings.rdb",
        "hash-zipmap.rdb",
        "hash-ziplist.rdb",
        "list-quicklist.rdb",
        "zset-ziplist.rdb",
        "scriptbackup.rdb",
        "corrupt_empty_keys.rdb",
    ] {
        let bytes = read(format!("{ASSETS}/{f}"));
        let ours = rdb_model::dump_lines(&bytes, now_ms());
        let Some((redis, _d)) = redis_loading(&bytes) else {
            return;
        };
        assert_eq!(ours, dump_server(&redis.addr()), "{f}");
        if f != "scriptbackup.rdb" && f != "corrupt_empty_keys.rdb" {
            assert!(!ours.is_empty(), "{f}");
        }
    }
}

/// The RDB preamble of an AOF decodes too.
#[test]
fn aof_preamble_decodes() {
    let bytes = read(format!("{ASSETS}/rdb-preamble.aof"));
    let mut r = ember::persist::rdb::reader::Reader::new(&bytes[..], None).unwrap();
    loop {
        if r.next_item().unwrap() == ember::persist::rdb::reader::Item::Eof {
            break;
        }
    }
    assert!(bytes[r.offset() as usize..].starts_with(b"*"));
}

#[test]
fn corrupt_file_stops_startup_with_offset() {
    let Some(bin) = common::ember_bin() else {
        return;
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "corrupt_ziplist",
            read(format!("{ASSETS}/corrupt_ziplist.rdb")),
        ),
        ("truncated", {
            let b = read(format!("{ASSETS}/redis-7.0-all-types/dump.rdb"));
            b[..b.len() / 2].to_vec()
        }),
        ("bad checksum", {
            let mut b = read(format!("{ASSETS}/hash-zipmap.rdb"));
            let n = b.len();
            b[n - 1] ^= 0xFF;
            b
        }),
    ];
    for (what, bytes) in cases {
        let d = dir_with("dump.rdb", &bytes);
        let port = common::free_port().to_string();
        let out = std::process::Command::new(&bin)
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--dir", d.path().to_str().unwrap()])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{what}: started anyway:\n{log}");
        assert!(
            log.contains("Internal error in RDB reading offset")
                && log.contains("Terminating server after rdb file reading failure."),
            "{what}:\n{log}"
        );
    }
}

#[test]
fn empty_keys_are_skipped_as_redis_does() {
    let bytes = read(format!("{ASSETS}/corrupt_empty_keys.rdb"));
    let Some((s, _d)) = ember_loading(&bytes, &[]) else {
        return;
    };
    let mut c = s.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0);
    assert!(s.log_text().contains("empty keys skipped: 9."));
}

/// Every fixture loads into Ember exactly as Redis serves it, with the
/// same OBJECT ENCODING.
#[test]
fn ember_loads_every_fixture_like_redis() {
    for f in [
        "hash-zipmap.rdb",
        "hash-ziplist.rdb",
        "encodings.rdb",
        "list-quicklist.rdb",
        "zset-ziplist.rdb",
        "scriptbackup.rdb",
        "redis-7.0-all-types/dump.rdb",
    ] {
        let bytes = read(format!("{ASSETS}/{f}"));
        let Some((redis, _d1)) = redis_loading(&bytes) else {
            return;
        };
        let (ember, _d2) = ember_loading(&bytes, &[]).unwrap();
        let want = dump_server(&redis.addr());
        assert!(!want.is_empty() || f == "scriptbackup.rdb");
        assert_eq!(dump_server(&ember.addr()), want, "{f}");
        assert_eq!(encodings(&ember), encodings(&redis), "{f}");
    }
}

/// (db, key, OBJECT ENCODING) of every key.
fn encodings(s: &common::Server) -> Vec<(i64, Vec<u8>, String)> {
    let mut c = s.client();
    let mut out = Vec::new();
    for db in 0..16 {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut c).unwrap();
        let mut keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
        keys.sort();
        for k in keys {
            let e: String = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&k)
                .query(&mut c)
                .unwrap();
            out.push((db, k, e));
        }
    }
    out
}

/// Commands building strings, sets and hashes in every encoding, in a few
/// databases, some with TTLs.
fn populate(c: &mut redis::Connection) {
    let big: String = (0..300).map(|i| format!("{i:x}")).collect();
    let mut q = redis::pipe();
    q.cmd("SELECT").arg(0).ignore();
    for (k, v) in [
        ("int:small", "7".to_string()),
        ("int:neg", "-123456".to_string()),
        ("int:i32", "2147483647".to_string()),
        ("int:i64", "9223372036854775807".to_string()),
        ("int:lead0", "0123".to_string()),
        ("embstr", "hello world".to_string()),
        ("raw", "x".repeat(100)),
        ("compressible", "abc".repeat(500)),
        ("big", big.clone()),
        ("binary", "\u{0}\u{1}\r\n\u{7f}".to_string()),
        ("empty", String::new()),
    ] {
        q.cmd("SET").arg(k).arg(v).ignore();
    }
    q.cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("PXAT")
        .arg(4102444800000i64)
        .ignore();
    q.cmd("SADD").arg("set:int16").arg(&[1, 2, 3, -5]).ignore();
    q.cmd("SADD").arg("set:int32").arg(&[1, 100000]).ignore();
    q.cmd("SADD")
        .arg("set:int64")
        .arg(&[1i64, 1 << 40])
        .ignore();
    q.cmd("SADD").arg("set:str").arg(&["a", "b", "1"]).ignore();
    let many: Vec<i64> = (0..600).collect();
    q.cmd("SADD").arg("set:bigint").arg(&many).ignore();
    q.cmd("HSET")
        .arg("hash:small")
        .arg(&[("f", "v"), ("n", "12"), ("e", "")])
        .ignore();
    q.cmd("HSET")
        .arg("hash:long")
        .arg("f")
        .arg("y".repeat(100))
        .ignore();
    for i in 0..200 {
        q.cmd("HSET")
            .arg("hash:many")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
    }
    q.cmd("EXPIREAT")
        .arg("hash:many")
        .arg(4102444800i64)
        .ignore();
    q.cmd("RPUSH")
        .arg("list:small")
        .arg(&["a", "1", "-2", "bb"])
        .ignore();
    let items: Vec<String> = (0..3000).map(|i| format!("element-{i}")).collect();
    q.cmd("RPUSH").arg("list:big").arg(&items).ignore();
    q.cmd("ZADD")
        .arg("zset:small")
        .arg(&[("1.5", "a"), ("-inf", "b"), ("+inf", "c"), ("3", "d")])
        .ignore();
    for i in 0..300 {
        q.cmd("ZADD")
            .arg("zset:big")
            .arg(i as f64 / 7.0)
            .arg(format!("m{i}"))
            .ignore();
    }
    q.cmd("ZADD")
        .arg("zset:long")
        .arg(1)
        .arg("z".repeat(100))
        .ignore();
    for i in 0..250 {
        q.cmd("XADD")
            .arg("stream")
            .arg(format!("{}-{}", 1000 + i / 3, i % 3))
            .arg("n")
            .arg(i)
            .ignore();
    }
    q.cmd("XADD")
        .arg("stream")
        .arg("2000-0")
        .arg("other")
        .arg("x")
        .ignore();
    q.cmd("XDEL").arg("stream").arg("1001-1").ignore();
    q.cmd("XGROUP")
        .arg("CREATE")
        .arg("stream")
        .arg("g1")
        .arg("0")
        .ignore();
    q.cmd("XGROUP")
        .arg("CREATE")
        .arg("stream")
        .arg("g2")
        .arg("$")
        .ignore();
    q.cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g1")
        .arg("alice")
        .arg("COUNT")
        .arg(5)
        .arg("STREAMS")
        .arg("stream")
        .arg(">")
        .ignore();
    q.cmd("XACK").arg("stream").arg("g1").arg("1000-1").ignore();
    q.cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg("stream")
        .arg("g1")
        .arg("bob")
        .ignore();
    q.cmd("SELECT").arg(3).ignore();
    q.cmd("SET").arg("in3").arg("three").ignore();
    q.cmd("SADD").arg("s3").arg("m").ignore();
    q.cmd("SELECT").arg(15).ignore();
    q.cmd("HSET").arg("h15").arg("a").arg("b").ignore();
    q.cmd("SELECT").arg(0).ignore();
    q.query::<()>(c).unwrap();
}

fn save_and_read(s: &common::Server) -> Vec<u8> {
    let mut c = s.client();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    read(s.dir().join("dump.rdb"))
}

#[test]
fn ember_snapshot_loads_in_redis_and_back() {
    for compression in ["yes", "no"] {
        let Some(ember) = common::Server::start(&["--rdbcompression", compression]) else {
            return;
        };
        populate(&mut ember.client());
        let want = dump_server(&ember.addr());
        let bytes = save_and_read(&ember);
        check_rdb(&ember.dir().join("dump.rdb"));
        // LZF only when enabled.
        let plain = bytes.windows(6).any(|w| w == b"abcabc");
        assert_eq!(plain, compression == "no");
        let Some((redis, _d)) = redis_loading(&bytes) else {
            return;
        };
        assert_eq!(dump_server(&redis.addr()), want);
        assert_eq!(encodings(&redis), encodings(&ember));
        // And back: Ember reloading its own file.
        let (again, _d2) = ember_loading(&bytes, &[]).unwrap();
        assert_eq!(dump_server(&again.addr()), want);
        assert_eq!(encodings(&again), encodings(&ember));
    }
}

#[test]
fn redis_snapshot_loads_in_ember() {
    let Some(redis) = common::Oracle::start() else {
        return;
    };
    populate(&mut redis.client());
    let want = dump_server(&redis.addr());
    let bytes = save_and_read(&redis);
    let (ember, d) = ember_loading(&bytes, &[]).unwrap();
    assert_eq!(dump_server(&ember.addr()), want);
    assert_eq!(encodings(&ember), encodings(&redis));
    // Saving again gives the same keyspace.
    let _: () = redis::cmd("SAVE").query(&mut ember.client()).unwrap();
    let ours = read(d.path().join("in.rdb"));
    assert_eq!(
        rdb_model::dump_lines(&ours, now_ms()),
        rdb_model::dump_lines(&bytes, now_ms())
    );
}

#[test]
fn checksum_off_writes_zero_and_loads() {
    let Some(ember) = common::Server::start(&["--rdbchecksum", "no"]) else {
        return;
    };
    populate(&mut ember.client());
    let bytes = save_and_read(&ember);
    assert_eq!(&bytes[bytes.len() - 8..], &[0; 8]);
    check_rdb(&ember.dir().join("dump.rdb"));
    let (again, _d) = ember_loading(&bytes, &[]).unwrap();
    assert_eq!(dump_server(&again.addr()), dump_server(&ember.addr()));
}

/// DUMP from one server, RESTORE into the other, both directions, every
/// storage encoding; the restored values and encodings match.
#[test]
fn dump_restore_both_ways() {
    let Some(ember) = common::Server::start(&[]) else {
        return;
    };
    let Some(redis) = common::Oracle::start() else {
        return;
    };
    populate(&mut ember.client());
    populate(&mut redis.client());
    for (from, to) in [(&ember, &redis), (&redis, &ember)] {
        let mut src = from.client();
        let mut dst = to.client();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut src).unwrap();
        assert!(keys.len() > 10);
        for k in &keys {
            let p: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut src).unwrap();
            let mut dk = b"copy:".to_vec();
            dk.extend_from_slice(k);
            let r: redis::Value = redis::cmd("RESTORE")
                .arg(&dk)
                .arg(0)
                .arg(&p)
                .query(&mut dst)
                .unwrap();
            assert_eq!(r, redis::Value::Okay, "{}", String::from_utf8_lossy(k));
            let e1: String = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(k)
                .query(&mut src)
                .unwrap();
            let e2: String = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&dk)
                .query(&mut dst)
                .unwrap();
            assert_eq!(e1, e2, "{}", String::from_utf8_lossy(k));
            let d1: Vec<u8> = redis::cmd("DUMP").arg(k).query(&mut src).unwrap();
            let d2: Vec<u8> = redis::cmd("DUMP").arg(&dk).query(&mut dst).unwrap();
            // Same value: payloads decode to the same model.
            let m1 = ember::persist::rdb::reader::decode_dump_payload(&d1)
                .unwrap()
                .unwrap();
            let m2 = ember::persist::rdb::reader::decode_dump_payload(&d2)
                .unwrap()
                .unwrap();
            assert_eq!(rdb_model::py_value(&m1), rdb_model::py_value(&m2));
        }
    }
}

/// A list payload written by Redis restores.
#[test]
fn restore_of_list_payload_from_redis() {
    let Some(ember) = common::Server::start(&[]) else {
        return;
    };
    let list = b"\x12\x01\x02\x0d\x0d\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff\x0a\x00h\xeb\x0a\x89\x13A\xbb\xb1";
    let mut c = ember.client();
    let _: () = redis::cmd("RESTORE")
        .arg("l")
        .arg(0)
        .arg(&list[..])
        .query(&mut c)
        .unwrap();
    let got: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, ["a", "b"]);
    // The reader decodes it.
    assert_eq!(
        ember::persist::rdb::reader::decode_dump_payload(list)
            .unwrap()
            .unwrap(),
        RdbValue::List(vec![b"a".to_vec(), b"b".to_vec()])
    );
}

fn info_field(c: &mut redis::Connection, name: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .to_string()
}

#[test]
fn save_restart_and_reload() {
    let Some(ember) = common::Server::start(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let dir = ember.dir().to_str().unwrap().to_string();
    let mut c = ember.client();
    populate(&mut c);
    let want = dump_server(&ember.addr());
    assert_eq!(info_field(&mut c, "rdb_saves"), "0");
    assert_ne!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    let before: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let after: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(after > before);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    assert!(ember.log_text().contains("DB saved on disk"));
    // No temp file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty());

    // DEBUG RELOAD: same keyspace, changes counter reset.
    let _: () = redis::cmd("SET")
        .arg("after-save")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let want2 = dump_server(&ember.addr());
    let _: () = redis::cmd("DEBUG").arg("RELOAD").query(&mut c).unwrap();
    assert_eq!(dump_server(&ember.addr()), want2);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    // NOSAVE reloads the file as it is: a later write is lost.
    let _: () = redis::cmd("SET")
        .arg("lost")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("RELOAD")
        .arg("NOSAVE")
        .query(&mut c)
        .unwrap();
    assert_eq!(dump_server(&ember.addr()), want2);
    assert_ne!(want, want2);

    // A restart from the same dir loads the file.
    let file = read(ember.dir().join("dump.rdb"));
    drop(c);
    let (again, _d) = ember_loading(&file, &[]).unwrap();
    assert_eq!(dump_server(&again.addr()), want2);
    let mut c2 = again.client();
    assert_ne!(info_field(&mut c2, "rdb_last_load_keys_loaded"), "0");
    assert!(again.log_text().contains("DB loaded from disk: "));
}

/// SHUTDOWN saves when save points are set (and with SAVE), not with
/// NOSAVE; SIGTERM saves too.
#[test]
fn shutdown_saves() {
    let Some(bin) = common::ember_bin() else {
        return;
    };
    for (how, save_conf, expect_file) in [
        ("SHUTDOWN", "3600 1", true),
        ("SHUTDOWN NOSAVE", "3600 1", false),
        ("SHUTDOWN SAVE", "", true),
        ("SHUTDOWN", "", false),
        ("SIGTERM", "3600 1", true),
    ] {
        let d = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let mut child = std::process::Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                save_conf,
            ])
            .args(["--dir", d.path().to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let mut c = loop {
            if let Ok(cl) = redis::Client::open(format!("redis://{addr}"))
                .unwrap()
                .get_connection()
            {
                break cl;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
        if how == "SIGTERM" {
            unsafe_free_kill(child.id());
        } else {
            let mut cmd = redis::cmd("SHUTDOWN");
            for a in how.split(' ').skip(1) {
                cmd.arg(a);
            }
            let _ = cmd.query::<()>(&mut c);
        }
        let status = child.wait().unwrap();
        assert!(status.success(), "{how}");
        let file = d.path().join("dump.rdb");
        assert_eq!(file.exists(), expect_file, "{how} with save '{save_conf}'");
        if expect_file {
            let lines = rdb_model::dump_lines(&read(&file), now_ms());
            assert_eq!(lines, vec!["(0, b'k', 'string', -1, b'v')".to_string()]);
        }
    }
}

/// Sends SIGTERM through the `kill` utility (no unsafe code needed).
fn unsafe_free_kill(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// `save 1 1`: a write is saved by the cron within a few seconds.
#[test]
fn save_points_trigger_a_save() {
    let Some(ember) = common::Server::start(&["--save", "1 1"]) else {
        return;
    };
    let mut c = ember.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let file = ember.dir().join("dump.rdb");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !file.exists() {
        assert!(std::time::Instant::now() < deadline, "no save");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        ember
            .log_text()
            .contains("1 changes in 1 seconds. Saving...")
    );
}

/// A save that cannot complete leaves the previous snapshot intact.
#[test]
fn failed_save_keeps_previous_file() {
    let Some(ember) = common::Server::start(&[]) else {
        return;
    };
    let mut c = ember.client();
    let _: () = redis::cmd("SET").arg("k").arg("old").query(&mut c).unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let file = ember.dir().join("dump.rdb");
    let good = read(&file);
    // Find the server's pid from INFO and block its temp file name with a
    // directory, so the save fails before touching dump.rdb.
    let info: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .unwrap()
        .trim()
        .to_string();
    std::fs::create_dir(ember.dir().join(format!("temp-{pid}.rdb"))).unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("new").query(&mut c).unwrap();
    assert_eq!(ember.raw().cmd(&[b"SAVE"]), b"-ERR\r\n");
    assert_eq!(read(&file), good);
    assert!(
        ember
            .log_text()
            .contains("Failed opening the temp RDB file")
    );
    // SHUTDOWN SAVE refuses to exit when the save fails.
    let r: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("SAVE").query(&mut c);
    assert!(
        r.unwrap_err()
            .to_string()
            .contains("Errors trying to SHUTDOWN")
    );
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

mod robustness {
    use ember::persist::rdb::reader::{decode_dump_payload, read_all};
    use proptest::prelude::*;

    fn fixture() -> Vec<u8> {
        std::fs::read("/work/shared/redis-assets/redis-7.0-all-types/dump.rdb").unwrap()
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = fixture();
        // Every prefix would take long in debug builds: a spread of them,
        // plus all of the first and last kilobyte.
        let mut cuts: Vec<usize> = (0..512).chain(b.len() - 512..b.len()).collect();
        cuts.extend((0..b.len()).step_by(1999));
        for n in cuts {
            let e = read_all(&b[..n]).unwrap_err();
            assert!(e.offset <= n as u64, "{n}: {e}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_bytes_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = read_all(&data);
            let mut with_header = b"REDIS0010".to_vec();
            with_header.append(&mut data);
            let _ = read_all(&with_header);
            let _ = decode_dump_payload(&with_header[9..]);
        }

        #[test]
        fn flipped_bytes_never_panic(pos in any::<prop::sample::Index>(), val in any::<u8>()) {
            let mut b = fixture();
            let i = pos.index(b.len());
            b[i] = val;
            let _ = read_all(&b);
        }
    }
}

/// RESTORE's keyspace events (restore, new, del when REPLACE meets an
/// expired TTL) are the ones Redis sends.
#[test]
fn restore_notifications_match_redis() {
    let Some(redis) = common::Oracle::start() else {
        return;
    };
    let ember = common::Server::start(&[]).unwrap();
    let payload: &[u8] = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
    let mut got = Vec::new();
    for s in [&ember, &redis] {
        let mut c = s.raw();
        c.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA"]);
        let mut sub = s.raw();
        sub.cmd(&[b"PSUBSCRIBE", b"__key*__:*"]);
        c.cmd(&[b"RESTORE", b"k", b"0", payload]);
        c.cmd(&[b"RESTORE", b"k", b"1", payload, b"ABSTTL", b"REPLACE"]);
        c.cmd(&[b"RESTORE", b"k2", b"100000", payload]);
        c.cmd(&[b"PING"]);
        std::thread::sleep(std::time::Duration::from_millis(200));
        sub.set_timeout(std::time::Duration::from_millis(300));
        let mut msgs = Vec::new();
        while let Ok(m) = sub.try_read_reply() {
            msgs.extend_from_slice(&m);
        }
        assert!(!msgs.is_empty());
        got.push(msgs);
    }
    assert_eq!(
        String::from_utf8_lossy(&got[0]),
        String::from_utf8_lossy(&got[1])
    );
}

/// Redis's multi-part AOF whose base file is an RDB preamble loads into
/// Ember to the expected keyspace (the AOF loader hands the preamble to the
/// RDB reader).
#[test]
fn aof_with_rdb_preamble_base_loads() {
    let src = format!("{ASSETS}/redis-7.0-all-types/appendonlydir");
    let d = tempfile::tempdir().unwrap();
    let aofdir = d.path().join("appendonlydir");
    std::fs::create_dir(&aofdir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::write(aofdir.join(e.file_name()), read(e.path())).unwrap();
    }
    assert!(read(aofdir.join("appendonly.aof.2.base.rdb")).starts_with(b"REDIS"));
    let dir = d.path().to_str().unwrap().to_string();
    let Some(ember) = common::Server::start(&["--dir", &dir, "--appendonly", "yes"]) else {
        return;
    };
    let want: Vec<String> =
        std::fs::read_to_string(format!("{ASSETS}/redis-7.0-all-types/expected.txt"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
    let got = dump_server(&ember.addr());
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    assert!(
        ember
            .log_text()
            .contains("Reading RDB base file on AOF loading...")
    );
}
