//! Replication against the real `redis-server` 7.0, both directions: full
//! sync and the command stream (keyspaces compared with keyspace_dump.py),
//! partial resync after the link is killed (`+CONTINUE`, no second full
//! sync), and a failover (REPLICAOF NO ONE, the old primary re-pointed)
//! that loses no write WAIT confirmed. Every wait is bounded.

mod common;

use common::{Oracle, Server};
use redis::Connection;
use std::process::Command;
use std::time::{Duration, Instant};

const DUMP_TOOL: &str = "/work/shared/tools/keyspace_dump.py";

fn dump(s: &Server) -> String {
    let out = Command::new("python3")
        .args([DUMP_TOOL, "127.0.0.1", &s.port().to_string()])
        .output()
        .expect("python3 keyspace_dump.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn info(c: &mut Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).unwrap()
}

fn field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

/// Polls `cond` every 50 ms for up to `secs`; panics with `what` after.
fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn link_up(replica: &Server) {
    let mut c = replica.client();
    wait_for(10, "master_link_status:up", || {
        field(&info(&mut c, "replication"), "master_link_status").as_deref() == Some("up")
    });
}

/// Waits until the replica has processed everything the primary sent.
fn caught_up(primary: &Server, replica: &Server) {
    let (mut p, mut r) = (primary.client(), replica.client());
    wait_for(10, "the replica's offset to reach the primary's", || {
        let po = field(&info(&mut p, "replication"), "master_repl_offset");
        let ro = field(&info(&mut r, "replication"), "slave_repl_offset");
        po.is_some() && po == ro
    });
}

/// A mixed write load over several types, databases, TTLs, transactions
/// and commands whose effect must be propagated deterministically.
fn write_load(s: &Server, round: u32) {
    let mut c = s.client();
    for i in 0..60 {
        let k = format!("r{round}:k{i}");
        let _: () = redis::cmd("SET").arg(&k).arg(i).query(&mut c).unwrap();
        let _: i64 = redis::cmd("INCRBY").arg(&k).arg(5).query(&mut c).unwrap();
        let _: () = redis::cmd("HSET")
            .arg(format!("r{round}:h{}", i % 7))
            .arg(format!("f{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("RPUSH")
            .arg(format!("r{round}:l{}", i % 3))
            .arg(i)
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("SADD")
            .arg(format!("r{round}:s"))
            .arg(i)
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("ZADD")
            .arg(format!("r{round}:z"))
            .arg(i as f64 / 3.0)
            .arg(format!("m{i}"))
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("EXPIRE")
        .arg(format!("r{round}:k1"))
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("r{round}:ex"))
        .arg("v")
        .arg("EX")
        .arg(500)
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("INCRBYFLOAT")
        .arg(format!("r{round}:f"))
        .arg("1.1")
        .query(&mut c)
        .unwrap();
    let _: redis::Value = redis::cmd("SPOP")
        .arg(format!("r{round}:s"))
        .arg(3)
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(format!("r{round}:x"))
        .arg("*")
        .arg("a")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(format!("r{round}:k2"))
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("LPOP")
        .arg(format!("r{round}:l0"))
        .query(&mut c)
        .unwrap();
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(format!("r{round}:t1"))
        .arg("a")
        .cmd("INCR")
        .arg(format!("r{round}:t2"))
        .query::<()>(&mut c)
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(5).query(&mut c).unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("r{round}:db5"))
        .arg("x")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
}

fn ember_primary() -> Option<Server> {
    Server::start(&["--repl-diskless-sync-delay", "0"])
}

#[test]
fn redis_replica_of_ember_gets_the_same_keyspace() {
    let Some(primary) = ember_primary() else {
        return;
    };
    write_load(&primary, 0);
    let port = primary.port().to_string();
    let Some(replica) = Oracle::start_with(&["--replicaof", "127.0.0.1", &port]) else {
        return;
    };
    link_up(&replica);
    write_load(&primary, 1);
    caught_up(&primary, &replica);
    assert_eq!(dump(&primary), dump(&replica));
    // The primary lists its replica.
    let mut p = primary.client();
    let i = info(&mut p, "replication");
    assert_eq!(field(&i, "connected_slaves").as_deref(), Some("1"), "{i}");
    assert!(
        field(&i, "slave0").is_some_and(|v| v.contains("state=online")),
        "{i}"
    );
    let role: redis::Value = redis::cmd("ROLE").query(&mut p).unwrap();
    assert!(format!("{role:?}").contains("master"));
}

#[test]
fn ember_replica_of_redis_gets_the_same_keyspace() {
    let Some(primary) = Oracle::start_with(&["--repl-diskless-sync-delay", "0"]) else {
        return;
    };
    write_load(&primary, 0);
    let port = primary.port().to_string();
    let Some(replica) = Server::start(&["--replicaof", "127.0.0.1", &port]) else {
        return;
    };
    link_up(&replica);
    write_load(&primary, 1);
    caught_up(&primary, &replica);
    assert_eq!(dump(&primary), dump(&replica));
    // Read-only replica.
    let mut r = replica.client();
    let e = redis::cmd("SET")
        .arg("x")
        .arg("1")
        .query::<()>(&mut r)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("You can't write against a read only replica"),
        "{e}"
    );
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut r).unwrap();
    assert_eq!(role.len(), 5);
    // WAIT on the primary counts the Ember replica's ACK.
    let mut p = primary.client();
    let _: () = redis::cmd("SET").arg("w").arg("1").query(&mut p).unwrap();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut p).unwrap();
    assert_eq!(n, 1);
}

/// Kills the link from the side given, writes meanwhile, and checks the
/// replica comes back through `+CONTINUE`.
#[test]
fn partial_resync_after_killing_the_link_ember_primary() {
    let Some(primary) = ember_primary() else {
        return;
    };
    let port = primary.port().to_string();
    let Some(replica) = Oracle::start_with(&["--replicaof", "127.0.0.1", &port]) else {
        return;
    };
    link_up(&replica);
    write_load(&primary, 0);
    caught_up(&primary, &replica);
    let mut p = primary.client();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut p)
        .unwrap();
    assert_eq!(killed, 1);
    write_load(&primary, 1);
    link_up(&replica);
    caught_up(&primary, &replica);
    assert_eq!(dump(&primary), dump(&replica));
    let log = replica.log_text();
    assert!(
        log.contains("Successful partial resynchronization with master"),
        "{log}"
    );
    assert_eq!(log.matches("Full resync from master").count(), 1, "{log}");
}

#[test]
fn partial_resync_after_killing_the_link_ember_replica() {
    let Some(primary) = Oracle::start_with(&["--repl-diskless-sync-delay", "0"]) else {
        return;
    };
    let port = primary.port().to_string();
    let Some(replica) = Server::start(&["--replicaof", "127.0.0.1", &port]) else {
        return;
    };
    link_up(&replica);
    write_load(&primary, 0);
    caught_up(&primary, &replica);
    let mut r = replica.client();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("master")
        .query(&mut r)
        .unwrap();
    assert_eq!(killed, 1);
    write_load(&primary, 1);
    std::thread::sleep(Duration::from_millis(200));
    link_up(&replica);
    caught_up(&primary, &replica);
    assert_eq!(dump(&primary), dump(&replica));
    let mut p = primary.client();
    let stats = info(&mut p, "stats");
    assert_eq!(field(&stats, "sync_full").as_deref(), Some("1"), "{stats}");
    assert_eq!(
        field(&stats, "sync_partial_ok").as_deref(),
        Some("1"),
        "{stats}"
    );
}

/// Ember primary A, Ember replica B: writes confirmed by WAIT survive
/// promoting B and re-pointing A at it, which continues B's history.
#[test]
fn failover_keeps_every_write_wait_confirmed() {
    let Some(a) = ember_primary() else {
        return;
    };
    let a_port = a.port().to_string();
    let Some(b) = Server::start(&[
        "--replicaof",
        "127.0.0.1",
        &a_port,
        "--repl-diskless-sync-delay",
        "0",
    ]) else {
        return;
    };
    link_up(&b);
    let mut ca = a.client();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut ca)
            .unwrap();
        if i % 50 == 49 {
            let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut ca).unwrap();
            assert_eq!(n, 1, "WAIT after write {i}");
        }
    }
    // Promote B, then make A its replica.
    let mut cb = b.client();
    let _: () = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query(&mut cb)
        .unwrap();
    let b_port = b.port().to_string();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(&b_port)
        .query(&mut ca)
        .unwrap();
    link_up(&a);
    for i in 0..200 {
        let v: Option<i64> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut cb)
            .unwrap();
        assert_eq!(v, Some(i), "k{i} on the promoted replica");
    }
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut cb)
        .unwrap();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut cb).unwrap();
    assert_eq!(n, 1);
    caught_up(&b, &a);
    assert_eq!(dump(&a), dump(&b));
    // A continued B's history (PSYNC2): a partial resync, not a full one.
    let log = a.log_text();
    assert!(
        log.contains("Successful partial resynchronization with master"),
        "{log}"
    );
    let ib = info(&mut cb, "replication");
    assert_eq!(field(&ib, "role").as_deref(), Some("master"));
    assert!(field(&ib, "second_repl_offset").is_some_and(|v| v != "-1"));
}
