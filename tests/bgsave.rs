//! BGSAVE: replies and INFO fields against redis-server, a consistent
//! point in time while transactions keep writing (the file loaded by real
//! redis-server and by Ember, checked by redis-check-rdb), flushes, swaps
//! and deletions during the save, and the aborts of SHUTDOWN and FLUSHALL.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn info_field(c: &mut redis::Connection, name: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .trim()
        .to_string()
}

/// Waits until no background save runs.
fn wait_bgsave(c: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(c, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_rdb(path: &std::path::Path) {
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

/// A directory holding `src` as `in.rdb`, for a server to load.
fn dir_with_copy(src: &std::path::Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(src, d.path().join("in.rdb")).unwrap();
    d
}

fn fill(c: &mut redis::Connection, prefix: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut cmd = redis::cmd("MSET");
        for i in chunk {
            cmd.arg(format!("{prefix}{i}")).arg(format!("value-{i}"));
        }
        let _: () = cmd.query(c).unwrap();
    }
}

/// The same command sequence on Ember and redis-server, both saving slowly
/// (`rdb-key-save-delay`), gives the same replies.
#[test]
fn replies_match_redis() {
    let args = ["--rdb-key-save-delay", "2000"];
    let Some(ember) = common::Server::start(&args) else {
        return;
    };
    let Some(redis) = common::Oracle::start_with(&args) else {
        return;
    };
    let mut transcripts = Vec::new();
    for s in [&redis, &ember] {
        let mut c = s.client();
        fill(&mut c, "k", 400);
        let mut raw = s.raw();
        let mut t: Vec<Vec<u8>> = vec![
            raw.cmd(&[b"BGSAVE", b"now"]),
            raw.cmd(&[b"BGSAVE", b"schedule", b"x"]),
            raw.cmd(&[b"BGSAVE"]),
            raw.cmd(&[b"BGSAVE"]),
            raw.cmd(&[b"BGSAVE", b"SCHEDULE"]),
            raw.cmd(&[b"SAVE"]),
            info_field(&mut c, "rdb_bgsave_in_progress").into_bytes(),
            info_field(&mut c, "current_save_keys_total").into_bytes(),
        ];
        // Writes go on while the save runs.
        t.push(raw.cmd(&[b"SET", b"during", b"1"]));
        wait_bgsave(&mut c);
        t.push(info_field(&mut c, "rdb_last_bgsave_status").into_bytes());
        t.push(info_field(&mut c, "rdb_changes_since_last_save").into_bytes());
        t.push(info_field(&mut c, "rdb_saves").into_bytes());
        // Inside EXEC a BGSAVE is scheduled, then run by the cron.
        t.push(raw.cmd(&[b"MULTI"]));
        t.push(raw.cmd(&[b"BGSAVE"]));
        t.push(raw.cmd(&[b"EXEC"]));
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut c, "rdb_saves") != "2" {
            assert!(Instant::now() < deadline, "{}: scheduled save", s.label());
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_bgsave(&mut c);
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("rdb-key-save-delay")
            .arg("0")
            .query(&mut c)
            .unwrap();
        t.push(raw.cmd(&[b"BGSAVE"]));
        wait_bgsave(&mut c);
        t.push(info_field(&mut c, "rdb_bgsave_in_progress").into_bytes());
        t.push(info_field(&mut c, "rdb_current_bgsave_time_sec").into_bytes());
        transcripts.push(t);
        check_rdb(&s.dir().join("dump.rdb"));
    }
    let show = |t: &Vec<Vec<u8>>| {
        t.iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(show(&transcripts[1]), show(&transcripts[0]));
    let log = ember.log_text();
    for line in [
        "Background saving started by pid",
        "DB saved on disk",
        "Background saving terminated with success",
    ] {
        assert!(log.contains(line), "no '{line}' in the log:\n{log}");
    }
}

/// Writers keep invariants with MULTI/EXEC while BGSAVE runs: the file,
/// loaded by redis-server and by Ember, holds them all at one instant.
#[test]
fn snapshot_is_one_instant_under_transactions() {
    const FILLER: usize = 20_000;
    const SLOTS: i64 = 50;
    let Some(ember) = common::Server::start(&["--rdb-key-save-delay", "40"]) else {
        return;
    };
    let mut c = ember.client();
    fill(&mut c, "filler:", FILLER);
    let stop = Arc::new(AtomicBool::new(false));
    let addr = ember.addr();
    // Writer 1: a sequence number, the last writer of each slot, and
    // transfers between accounts (the sum stays 0).
    let w1 = {
        let (stop, addr) = (stop.clone(), addr.clone());
        std::thread::spawn(move || {
            let mut c = common::connect(&addr);
            let mut n: i64 = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg("seq")
                    .ignore()
                    .cmd("SET")
                    .arg(format!("slot:{}", n % SLOTS))
                    .arg(n)
                    .ignore()
                    .cmd("INCRBY")
                    .arg(format!("acct:{}", n % 10))
                    .arg(7)
                    .ignore()
                    .cmd("DECRBY")
                    .arg(format!("acct:{}", (n + 3) % 10))
                    .arg(7)
                    .ignore()
                    .query(&mut c)
                    .unwrap();
            }
            n
        })
    };
    // Writer 2: replaces filler:i by new:i, in order, noting how far it got.
    let w2 = {
        let (stop, addr) = (stop.clone(), addr.clone());
        std::thread::spawn(move || {
            let mut c = common::connect(&addr);
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) && i < FILLER {
                let _: () = redis::pipe()
                    .atomic()
                    .cmd("DEL")
                    .arg(format!("filler:{i}"))
                    .ignore()
                    .cmd("SET")
                    .arg(format!("new:{i}"))
                    .arg(i)
                    .ignore()
                    .cmd("SET")
                    .arg("created")
                    .arg(i)
                    .ignore()
                    .query(&mut c)
                    .unwrap();
                i += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let r: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(r, "Background saving started");
    let seq_at_start: i64 = redis::cmd("GET").arg("seq").query(&mut c).unwrap();
    wait_bgsave(&mut c);
    let seq_at_end: i64 = redis::cmd("GET").arg("seq").query(&mut c).unwrap();
    stop.store(true, Ordering::Relaxed);
    w1.join().unwrap();
    w2.join().unwrap();
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert!(
        seq_at_end > seq_at_start + 10,
        "clients were not served during the save ({seq_at_start} → {seq_at_end})"
    );
    let file = ember.dir().join("dump.rdb");
    check_rdb(&file);

    let mut loaded = Vec::new();
    let d1 = dir_with_copy(&file);
    let dir1 = d1.path().to_str().unwrap().to_string();
    let load_args = ["--dir", dir1.as_str(), "--dbfilename", "in.rdb"];
    if let Some(r) = common::Oracle::start_with(&load_args) {
        loaded.push(r);
    }
    let d2 = dir_with_copy(&file);
    let dir2 = d2.path().to_str().unwrap().to_string();
    loaded
        .push(common::Server::start(&["--dir", dir2.as_str(), "--dbfilename", "in.rdb"]).unwrap());
    for s in &loaded {
        let mut c = s.client();
        let seq: i64 = redis::cmd("GET").arg("seq").query(&mut c).unwrap();
        assert!(seq > 0 && seq < seq_at_end, "{}: seq {seq}", s.label());
        for j in 0..SLOTS {
            // The last n <= seq with n % SLOTS == j.
            let want = seq - (seq - j).rem_euclid(SLOTS);
            let got: Option<i64> = redis::cmd("GET")
                .arg(format!("slot:{j}"))
                .query(&mut c)
                .unwrap();
            assert_eq!(got, (want > 0).then_some(want), "{}: slot {j}", s.label());
        }
        let mut sum = 0;
        for a in 0..10 {
            let v: Option<i64> = redis::cmd("GET")
                .arg(format!("acct:{a}"))
                .query(&mut c)
                .unwrap();
            sum += v.unwrap_or(0);
        }
        assert_eq!(sum, 0, "{}: transfers not atomic in the file", s.label());
        let created: Option<i64> = redis::cmd("GET").arg("created").query(&mut c).unwrap();
        let created = created.unwrap_or(-1);
        let mut pipe = redis::pipe();
        for i in 0..FILLER {
            pipe.cmd("EXISTS").arg(format!("filler:{i}"));
            pipe.cmd("EXISTS").arg(format!("new:{i}"));
        }
        let ex: Vec<i64> = pipe.query(&mut c).unwrap();
        for i in 0..FILLER {
            let done = (i as i64) <= created;
            assert_eq!(
                (ex[2 * i], ex[2 * i + 1]),
                (!done as i64, done as i64),
                "{}: filler/new {i} with created = {created}",
                s.label()
            );
        }
        let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        let slots = SLOTS.min(seq);
        let accts = 10.min(seq + 3).min(10);
        assert_eq!(
            size,
            FILLER as i64 + 2 + slots + accts,
            "{}: extra or missing keys",
            s.label()
        );
    }
}

/// FLUSHDB, SWAPDB, deletes, overwrites, new TTLs and expiries while the
/// save runs: the file is the dataset at BGSAVE (same DEBUG DIGEST).
#[test]
fn flush_swap_delete_expire_during_save() {
    let args = [
        "--rdb-key-save-delay",
        "100",
        "--enable-debug-command",
        "yes",
    ];
    let Some(ember) = common::Server::start(&args) else {
        return;
    };
    let mut c = ember.client();
    fill(&mut c, "a", 3000);
    let _: () = redis::cmd("SELECT").arg(1).query(&mut c).unwrap();
    fill(&mut c, "b", 2000);
    for i in 0..200 {
        let _: () = redis::cmd("PEXPIRE")
            .arg(format!("b{i}"))
            .arg(3_600_000)
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("list")
        .arg("x")
        .arg("y")
        .query(&mut c)
        .unwrap();
    let digest: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut c).unwrap();
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    let mut raw = ember.raw();
    raw.cmd(&[b"SELECT", b"1"]);
    for i in (0..2000).step_by(3) {
        raw.cmd(&[b"PEXPIRE", format!("b{i}").as_bytes(), b"1"]);
    }
    raw.cmd(&[b"SELECT", b"0"]);
    for i in (0..3000).step_by(7) {
        raw.cmd(&[b"DEL", format!("a{i}").as_bytes()]);
        raw.cmd(&[b"SET", format!("a{}", i + 1).as_bytes(), b"changed"]);
        raw.cmd(&[b"SET", format!("fresh{i}").as_bytes(), b"new"]);
    }
    raw.cmd(&[b"RPUSH", b"list", b"z"]);
    raw.cmd(&[b"SWAPDB", b"0", b"2"]);
    raw.cmd(&[b"SELECT", b"1"]);
    raw.cmd(&[b"FLUSHDB"]);
    raw.cmd(&[b"SET", b"after-flush", b"1"]);
    raw.cmd(&[b"SWAPDB", b"1", b"2"]);
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    wait_bgsave(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let file = ember.dir().join("dump.rdb");
    check_rdb(&file);
    let d = dir_with_copy(&file);
    let dir = d.path().to_str().unwrap().to_string();
    let loaded = common::Server::start(&[
        "--dir",
        dir.as_str(),
        "--dbfilename",
        "in.rdb",
        "--enable-debug-command",
        "yes",
    ])
    .unwrap();
    let mut l = loaded.client();
    let got: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut l).unwrap();
    assert_eq!(got, digest);
}

/// SHUTDOWN kills a running save as Redis does (log line, no temp file,
/// the previous RDB untouched); FLUSHALL too.
#[test]
fn shutdown_and_flushall_abort_the_save() {
    let Some(mut ember) = common::Server::start(&["--rdb-key-save-delay", "100000"]) else {
        return;
    };
    let mut c = ember.client();
    fill(&mut c, "k", 100);
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "0");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        ember
            .log_text()
            .contains("Background saving terminated by signal 10")
    );
    fill(&mut c, "k", 100);
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut c);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ember.is_running() {
        assert!(Instant::now() < deadline, "no exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        ember
            .log_text()
            .contains("There is a child saving an .rdb. Killing it!")
    );
    let names: Vec<String> = std::fs::read_dir(ember.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("temp-") || n == "dump.rdb"),
        "{names:?}"
    );
}

/// `save <s> <n>` points start a BGSAVE (not a SAVE).
#[test]
fn save_points_use_bgsave() {
    let Some(ember) = common::Server::start(&["--save", "1 1"]) else {
        return;
    };
    let mut c = ember.client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ember
        .log_text()
        .contains("Background saving terminated with success")
    {
        assert!(Instant::now() < deadline, "no background save");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        ember
            .log_text()
            .contains("1 changes in 1 seconds. Saving...")
    );
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    check_rdb(&ember.dir().join("dump.rdb"));
}
