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
