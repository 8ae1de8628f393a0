//! List commands through the `redis` crate: a long random sequence of
//! list commands checked against a `VecDeque` model on a list large enough
//! to span many nodes, node counts following `list-max-listpack-size`, and
//! the generic key commands (COPY, RENAME, DEBUG DIGEST-VALUE) on lists.

mod common;

use rand::RngExt;
use redis::{Connection, cmd};
use std::collections::VecDeque;

fn lrange(c: &mut Connection, key: &str) -> Vec<String> {
    cmd("LRANGE").arg(key).arg(0).arg(-1).query(c).unwrap()
}

fn ql_nodes(c: &mut Connection, key: &str) -> usize {
    let s: String = cmd("DEBUG").arg("OBJECT").arg(key).query(c).unwrap();
    s.split_whitespace()
        .find_map(|f| f.strip_prefix("ql_nodes:"))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn random_commands_match_a_model() {
    let Some(server) = common::Server::start(&["--list-max-listpack-size", "-1"]) else {
        return;
    };
    let mut c = server.client();
    let mut m: VecDeque<String> = VecDeque::new();
    let mut rng = rand::rng();
    for step in 0..4000 {
        let v = format!(
            "{}{}",
            "x".repeat(rng.random_range(0..40)),
            rng.random_range(0..50)
        );
        match rng.random_range(0..10) {
            0..=2 => {
                let _: i64 = cmd("RPUSH").arg("l").arg(&v).query(&mut c).unwrap();
                m.push_back(v);
            }
            3..=4 => {
                let _: i64 = cmd("LPUSH").arg("l").arg(&v).query(&mut c).unwrap();
                m.push_front(v);
            }
            5 => {
                let got: Option<String> = cmd("RPOP").arg("l").query(&mut c).unwrap();
                assert_eq!(got, m.pop_back());
            }
            6 if !m.is_empty() => {
                let i = rng.random_range(0..m.len());
                let _: () = cmd("LSET").arg("l").arg(i).arg(&v).query(&mut c).unwrap();
                m[i] = v;
            }
            7 if !m.is_empty() => {
                let i = rng.random_range(0..m.len());
                let pivot = m[i].clone();
                let pos = m.iter().position(|x| *x == pivot).unwrap();
                let n: i64 = cmd("LINSERT")
                    .arg("l")
                    .arg("AFTER")
                    .arg(&pivot)
                    .arg(&v)
                    .query(&mut c)
                    .unwrap();
                m.insert(pos + 1, v);
                assert_eq!(n as usize, m.len());
            }
            8 if !m.is_empty() => {
                let target = m[rng.random_range(0..m.len())].clone();
                let count: i64 = rng.random_range(-2..3);
                let n: i64 = cmd("LREM")
                    .arg("l")
                    .arg(count)
                    .arg(&target)
                    .query(&mut c)
                    .unwrap();
                let mut idx: Vec<usize> = (0..m.len()).filter(|&i| m[i] == target).collect();
                if count < 0 {
                    idx.reverse();
                }
                if count != 0 {
                    idx.truncate(count.unsigned_abs() as usize);
                }
                idx.sort_unstable();
                for i in idx.iter().rev() {
                    m.remove(*i);
                }
                assert_eq!(n as usize, idx.len());
            }
            9 if !m.is_empty() => {
                let i = rng.random_range(0..m.len()) as i64 - m.len() as i64;
                let got: Option<String> = cmd("LINDEX").arg("l").arg(i).query(&mut c).unwrap();
                assert_eq!(got.as_ref(), m.get((m.len() as i64 + i) as usize));
            }
            _ => {}
        }
        if step % 500 == 0 {
            assert_eq!(lrange(&mut c, "l"), m.iter().cloned().collect::<Vec<_>>());
        }
    }
    assert_eq!(lrange(&mut c, "l"), m.iter().cloned().collect::<Vec<_>>());
    let n: usize = cmd("LLEN").arg("l").query(&mut c).unwrap();
    assert_eq!(n, m.len());
}

#[test]
fn node_sizes_follow_the_fill_setting_and_encoding_is_quicklist() {
    let Some(server) = common::Server::start(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut c = server.client();
    let items: Vec<String> = (0..1000).map(|i| format!("{i:08}")).collect();
    let _: i64 = cmd("RPUSH").arg("big").arg(&items).query(&mut c).unwrap();
    let enc: String = cmd("OBJECT")
        .arg("ENCODING")
        .arg("big")
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "quicklist");
    // 8 KiB nodes by default: 1000 elements of 10 encoded bytes = 2 nodes.
    assert_eq!(ql_nodes(&mut c, "big"), 2);
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("list-max-listpack-size")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let _: i64 = cmd("RPUSH")
        .arg("counted")
        .arg(&items)
        .query(&mut c)
        .unwrap();
    assert_eq!(ql_nodes(&mut c, "counted"), 10);
    // Trimming to a few elements leaves one node, still `quicklist` as in
    // Redis 7.0.
    let _: () = cmd("LTRIM")
        .arg("counted")
        .arg(0)
        .arg(2)
        .query(&mut c)
        .unwrap();
    assert_eq!(ql_nodes(&mut c, "counted"), 1);
    let enc: String = cmd("OBJECT")
        .arg("ENCODING")
        .arg("counted")
        .query(&mut c)
        .unwrap();
    assert_eq!(enc, "quicklist");
    // Ranges across node boundaries.
    let got: Vec<String> = cmd("LRANGE")
        .arg("big")
        .arg(95)
        .arg(905)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, items[95..=905].to_vec());
    let pos: i64 = cmd("LPOS")
        .arg("big")
        .arg("00000999")
        .query(&mut c)
        .unwrap();
    assert_eq!(pos, 999);
}

#[test]
fn copy_rename_and_digest_of_lists() {
    let Some(server) = common::Server::start(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut c = server.client();
    let _: i64 = cmd("RPUSH")
        .arg("a")
        .arg(&["1", "2", "3"])
        .query(&mut c)
        .unwrap();
    let _: i64 = cmd("COPY").arg("a").arg("b").query(&mut c).unwrap();
    let da: Vec<String> = cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_eq!(da[0], da[1]);
    // Order matters in a list's digest.
    let _: i64 = cmd("RPUSH")
        .arg("c")
        .arg(&["3", "2", "1"])
        .query(&mut c)
        .unwrap();
    let dc: Vec<String> = cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("c")
        .query(&mut c)
        .unwrap();
    assert_ne!(da[0], dc[0]);
    // The copy is independent.
    let _: i64 = cmd("RPUSH").arg("b").arg("4").query(&mut c).unwrap();
    assert_eq!(lrange(&mut c, "a"), vec!["1", "2", "3"]);
    let _: () = cmd("RENAME").arg("b").arg("r").query(&mut c).unwrap();
    assert_eq!(lrange(&mut c, "r"), vec!["1", "2", "3", "4"]);
    let t: String = cmd("TYPE").arg("r").query(&mut c).unwrap();
    assert_eq!(t, "list");
}

/// Keyevent notifications of list commands, compared with redis-server.
#[test]
fn keyspace_events_match_redis() {
    let Some(oracle) = common::Oracle::start() else {
        return;
    };
    let Some(ember) = common::Server::start(&[]) else {
        return;
    };
    let script: &[&[&str]] = &[
        &["RPUSH", "k", "a", "b", "c"],
        &["LPUSHX", "k", "z"],
        &["LPOP", "k"],
        &["RPOP", "k", "2"],
        &["LSET", "k", "0", "x"],
        &["LINSERT", "k", "BEFORE", "x", "y"],
        &["LREM", "k", "0", "y"],
        &["LTRIM", "k", "1", "0"],
        &["RPUSH", "s", "1", "2"],
        &["LMOVE", "s", "d", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "s", "d"],
        &["RPOPLPUSH", "d", "d"],
        &["LMPOP", "1", "d", "RIGHT", "COUNT", "5"],
        &["BLPOP", "nokey", "d", "0.01"],
        &["RPUSH", "end", "x"],
    ];
    let mut events = Vec::new();
    for server in [&oracle, &ember] {
        let mut c = server.client();
        let _: () = cmd("CONFIG")
            .arg("SET")
            .arg("notify-keyspace-events")
            .arg("KEA")
            .query(&mut c)
            .unwrap();
        let mut sub = server.raw();
        sub.cmd(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]);
        for line in script {
            let _: redis::Value = cmd(line[0]).arg(&line[1..]).query(&mut c).unwrap();
        }
        let mut got = Vec::new();
        loop {
            let msg = sub.read_reply();
            let text = String::from_utf8_lossy(&msg).into_owned();
            let done = text.contains("\r\nend\r\n");
            got.push(text);
            if done {
                break;
            }
        }
        events.push(got);
    }
    assert_eq!(events[1], events[0]);
}
