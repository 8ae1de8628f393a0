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
    let want: Vec<String> = std::fs::read_to_string(format!("{ASSETS}/redis-7.0-all-types/expected.txt"))
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
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
    let want: Vec<String> = std::fs::read_to_string(format!("{ASSETS}/redis-7.0-all-types/expected.txt"))
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
