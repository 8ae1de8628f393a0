//! Server commands through the `redis` crate: INFO fields and counters,
//! CONFIG GET/SET/RESETSTAT/REWRITE, SLOWLOG, LATENCY, DEBUG (allowed and
//! refused), TIME, LASTSAVE and SHUTDOWN.

mod common;

use common::Server;
use redis::{Connection, Value};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// INFO as `field → value` (section headers and blank lines dropped).
fn info(con: &mut Connection, section: &str) -> HashMap<String, String> {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    text.split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(':').expect("field:value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn num(fields: &HashMap<String, String>, name: &str) -> i64 {
    fields
        .get(name)
        .unwrap_or_else(|| panic!("INFO has no {name}"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

/// `name=N` inside a `a=1,b=2` INFO value.
fn sub_field(line: &str, name: &str) -> i64 {
    line.split(',')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .parse()
        .unwrap()
}

/// `errorstat_ERR`'s count (0 when absent).
fn es_count(con: &mut Connection) -> i64 {
    info(con, "errorstats")
        .get("errorstat_ERR")
        .map(|v| sub_field(v, "count"))
        .unwrap_or(0)
}

fn start(extra: &[&str]) -> Option<(Server, Connection)> {
    let server = Server::start(extra)?;
    let con = server.client();
    Some((server, con))
}

#[test]
fn info_sections_and_format() {
    let Some((_s, mut con)) = start(&[]) else {
        return;
    };
    let text: String = redis::cmd("INFO").query(&mut con).unwrap();
    let headers: Vec<&str> = text.split("\r\n").filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        headers,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    // CRLF line ends only, sections separated by one blank line.
    assert!(!text.replace("\r\n", "").contains('\n'));
    assert!(text.contains("\r\n\r\n# Clients\r\n"));
    let all: String = redis::cmd("INFO").arg("all").query(&mut con).unwrap();
    assert!(all.contains("# Commandstats\r\n"));
    assert!(all.contains("# Latencystats\r\n"));
    // Several sections, any case, printed in Redis's order.
    let two: String = redis::cmd("INFO")
        .arg("KEYSPACE")
        .arg("cpu")
        .query(&mut con)
        .unwrap();
    assert!(two.starts_with("# CPU\r\n"));
    assert!(two.contains("\r\n\r\n# Keyspace\r\n"));
    let none: String = redis::cmd("INFO").arg("nosuch").query(&mut con).unwrap();
    assert_eq!(none, "");

    let server = info(&mut con, "server");
    assert_eq!(server["redis_version"], "7.0.15");
    assert_eq!(server["redis_mode"], "standalone");
    assert_eq!(server["arch_bits"], "64");
    assert_eq!(num(&server, "tcp_port"), _s.port() as i64);
    assert_eq!(server["run_id"].len(), 40);
    assert!(num(&server, "process_id") > 0);
    assert!(num(&server, "uptime_in_seconds") >= 0);
    let mem = info(&mut con, "memory");
    assert!(num(&mem, "used_memory") > 0);
    assert!(num(&mem, "used_memory_rss") > 0);
    assert!(num(&mem, "used_memory_peak") >= num(&mem, "used_memory"));
    assert_eq!(mem["maxmemory_policy"], "noeviction");
    let repl = info(&mut con, "replication");
    assert_eq!(repl["role"], "master");
    assert_eq!(repl["master_replid"].len(), 40);
    let cpu = info(&mut con, "cpu");
    assert!(cpu["used_cpu_user"].parse::<f64>().unwrap() >= 0.0);
    // The harness's start-up probe connection may still be closing.
    let mut connected = 0;
    for _ in 0..100 {
        connected = num(&info(&mut con, "clients"), "connected_clients");
        if connected == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(connected, 1);
}

/// `used_memory` counts the bytes in live allocations (as Redis's zmalloc
/// does), not the allocator's committed pages: it follows a big value's
/// SET and DEL closely, and stays below the allocator's active bytes.
#[test]
fn info_used_memory_follows_allocations() {
    let Some((_s, mut con)) = start(&[]) else {
        return;
    };
    let used = |con: &mut Connection| num(&info(con, "memory"), "used_memory");
    let before = used(&mut con);
    let big = vec![b'x'; 8 << 20];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut con)
        .unwrap();
    let with = used(&mut con);
    assert!(
        (8 << 20..(8 << 20) + (1 << 20)).contains(&(with - before)),
        "SET of 8 MB: used_memory {before} -> {with}"
    );
    let _: () = redis::cmd("DEL").arg("big").query(&mut con).unwrap();
    let after = used(&mut con);
    assert!(
        (after - before).abs() < 1 << 20,
        "DEL: used_memory {before} -> {after}"
    );
    let mem = info(&mut con, "memory");
    assert!(num(&mem, "used_memory_peak") >= with);
    assert!(num(&mem, "allocator_active") >= num(&mem, "allocator_allocated"));
    assert_eq!(num(&mem, "allocator_allocated"), num(&mem, "used_memory"));
}

#[test]
fn info_counters_follow_commands() {
    let Some((_s, mut con)) = start(&[]) else {
        return;
    };
    let before = num(&info(&mut con, "stats"), "total_commands_processed");
    for i in 0..5 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    let _: Option<String> = redis::cmd("GET").arg("k1").query(&mut con).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("missing").query(&mut con).unwrap();
    // SET … EX may not exist yet in this build (the strings family grows
    // separately): the TTL checks run once it does.
    let with_ttl = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query::<()>(&mut con)
        .is_ok();
    let stats = info(&mut con, "stats");
    // 5 SET + 2 GET + 1 SET + the first INFO.
    assert_eq!(num(&stats, "total_commands_processed"), before + 9);
    assert!(num(&stats, "total_net_input_bytes") > 0);
    assert!(num(&stats, "total_connections_received") >= 1);
    assert!(num(&stats, "keyspace_hits") >= 1);
    assert!(num(&stats, "keyspace_misses") >= 1);

    let ks = info(&mut con, "keyspace");
    let db0 = &ks["db0"];
    if with_ttl {
        assert!(db0.starts_with("keys=6,expires=1,avg_ttl="), "{db0}");
        let ttl: i64 = db0.rsplit('=').next().unwrap().parse().unwrap();
        assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
    } else {
        assert_eq!(db0, "keys=5,expires=0,avg_ttl=0");
    }

    let cs = info(&mut con, "commandstats");
    let set = &cs["cmdstat_set"];
    assert!(set.starts_with("calls=6,usec="), "{set}");
    assert!(set.contains(",usec_per_call="), "{set}");
    assert_eq!(sub_field(set, "rejected_calls"), 0);
    let failed = sub_field(set, "failed_calls");
    assert_eq!(failed, if with_ttl { 0 } else { 1 });
    assert!(cs["cmdstat_get"].starts_with("calls=2,"));
    assert!(cs.contains_key("cmdstat_info"));

    // Errors show in errorstats and as failed (ran) or rejected (arity) calls.
    let errs_before = es_count(&mut con);
    let err = redis::cmd("GET").arg("a").arg("b").query::<()>(&mut con);
    assert!(err.is_err());
    let err = redis::cmd("SET")
        .arg("k1")
        .arg("v")
        .arg("XX")
        .arg("NX")
        .query::<()>(&mut con);
    assert!(err.is_err());
    assert_eq!(es_count(&mut con), errs_before + 2);
    let cs = info(&mut con, "commandstats");
    assert_eq!(sub_field(&cs["cmdstat_set"], "failed_calls"), failed + 1);
    // (Redis also counts the arity error as a rejected GET call; the
    // dispatcher does not record rejections it cannot attribute yet.)
    let stats = info(&mut con, "stats");
    assert!(num(&stats, "total_error_replies") >= 2);

    let lat = info(&mut con, "latencystats");
    let p = &lat["latency_percentiles_usec_set"];
    assert!(
        p.starts_with("p50=") && p.contains(",p99=") && p.contains(",p99.9="),
        "{p}"
    );

    // CONFIG RESETSTAT clears the counters.
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let cs = info(&mut con, "commandstats");
    assert!(!cs.contains_key("cmdstat_set"));
    assert!(info(&mut con, "errorstats").is_empty());
    let stats = info(&mut con, "stats");
    // RESETSTAT itself and the two INFO calls since.
    assert_eq!(num(&stats, "total_commands_processed"), 3);
}

#[test]
fn config_get_set() {
    let Some((_s, mut con)) = start(&[]) else {
        return;
    };
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, ["maxmemory", "0"]);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("10mb")
        .arg("hz")
        .arg("20")
        .query(&mut con)
        .unwrap();
    let got: HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .arg("hz")
        .query(&mut con)
        .unwrap();
    assert_eq!(got["maxmemory"], "10485760");
    assert_eq!(got["hz"], "20");
    assert_eq!(info(&mut con, "server")["hz"], "20");
    assert_eq!(info(&mut con, "memory")["maxmemory_human"], "10.00M");
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("lots")
        .query::<()>(&mut con)
        .unwrap_err();
    assert_eq!(
        err.detail(),
        Some(
            "CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
        )
    );
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("daemonize")
        .arg("yes")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("can't set immutable config"));
    // Without a config file, REWRITE says so.
    let err = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("running without a config file"));
    let help: Vec<String> = redis::cmd("CONFIG").arg("HELP").query(&mut con).unwrap();
    assert!(help[0].starts_with("CONFIG <subcommand>"));
}

#[test]
fn config_rewrite_keeps_comments() {
    let Some(bin) = common::ember_bin() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("ember.conf");
    let port = common::free_port();
    std::fs::write(
        &conf,
        format!(
            "# my precious comment\nport {port}\nbind 127.0.0.1\n\n# about memory\nmaxmemory 1mb\nsave \"\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .arg(&conf)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut con = loop {
        if let Ok(c) = redis::Client::open(url.as_str()).and_then(|c| c.get_connection()) {
            break c;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("2mb")
        .arg("hz")
        .arg("15")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CONFIG").arg("REWRITE").query(&mut con).unwrap();
    let text = std::fs::read_to_string(&conf).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("# my precious comment\n"), "{text}");
    assert!(text.contains("# about memory\n"), "{text}");
    assert!(text.contains("maxmemory 2mb"), "{text}");
    assert!(text.contains("hz 15"), "{text}");
    assert!(!text.contains("maxmemory 1mb"), "{text}");
}

#[test]
fn slowlog_records_commands() {
    let Some((_s, mut con)) = start(&["--slowlog-log-slower-than", "0"]) else {
        return;
    };
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let _: () = redis::cmd("SET")
        .arg("slow")
        .arg("value")
        .query(&mut con)
        .unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    // SLOWLOG RESET itself is logged after it ran, then SET.
    assert_eq!(len, 2);
    let entries: Value = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(1)
        .query(&mut con)
        .unwrap();
    let Value::Array(entries) = entries else {
        panic!("not an array")
    };
    assert_eq!(entries.len(), 1);
    let Value::Array(e) = &entries[0] else {
        panic!("entry not an array")
    };
    assert_eq!(e.len(), 6);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let Value::Int(t) = e[1] else { panic!("time") };
    assert!((t - now).abs() <= 5);
    let args: Vec<String> = redis::from_redis_value(e[3].clone()).unwrap();
    assert_eq!(args, ["SLOWLOG", "LEN"]);
    let addr: String = redis::from_redis_value(e[4].clone()).unwrap();
    assert!(addr.starts_with("127.0.0.1:"));
    // Newest first: GET 1, LEN, SET; ids grow by one.
    let three: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(3)
        .query(&mut con)
        .unwrap();
    let Value::Array(set) = &three[2] else {
        panic!("entry")
    };
    let args: Vec<String> = redis::from_redis_value(set[3].clone()).unwrap();
    assert_eq!(args, ["SET", "slow", "value"]);
    let (Value::Int(id_set), Value::Int(id_len)) = (&set[0], &e[0]) else {
        panic!("ids")
    };
    assert_eq!(id_set + 1, *id_len);
    let all: Vec<Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert!(all.len() >= 3);
    let err = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-2)
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("count should be greater than or equal to -1")
    );
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg("-1")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut con).unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut con).unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut con).unwrap();
    assert_eq!(len, 0);
}

#[test]
fn debug_commands_when_enabled() {
    let Some((_s, mut con)) = start(&[
        "--enable-debug-command",
        "yes",
        "--latency-monitor-threshold",
        "50",
    ]) else {
        return;
    };
    let t0 = Instant::now();
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg("0.12")
        .query(&mut con)
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(120));
    // The slow DEBUG SLEEP is a latency event.
    let latest: Vec<(String, i64, i64, i64)> =
        redis::cmd("LATENCY").arg("LATEST").query(&mut con).unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].0, "command");
    assert!(latest[0].2 >= 120 && latest[0].3 >= 120, "{latest:?}");
    let hist: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert_eq!(hist.len(), 1);
    let graph: String = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("command")
        .query(&mut con)
        .unwrap();
    assert!(graph.starts_with("command - high "), "{graph}");
    let doctor: String = redis::cmd("LATENCY").arg("DOCTOR").query(&mut con).unwrap();
    assert!(doctor.contains("command"), "{doctor}");
    let histogram: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("debug")
        .query(&mut con)
        .unwrap();
    let Value::Array(h) = histogram else {
        panic!("{histogram:?}")
    };
    assert_eq!(h[0], Value::BulkString(b"debug".to_vec()));
    let n: i64 = redis::cmd("LATENCY").arg("RESET").query(&mut con).unwrap();
    assert_eq!(n, 1);

    let _: () = redis::cmd("SET")
        .arg("n")
        .arg(12345)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    let obj: String = redis::cmd("DEBUG")
        .arg("OBJECT")
        .arg("n")
        .query(&mut con)
        .unwrap();
    assert!(obj.starts_with("Value at:0x"), "{obj}");
    assert!(
        obj.contains(" refcount:1 encoding:int serializedlength:3 lru:"),
        "{obj}"
    );
    assert!(obj.contains(" lru_seconds_idle:"));
    let obj: String = redis::cmd("DEBUG")
        .arg("OBJECT")
        .arg("s")
        .query(&mut con)
        .unwrap();
    assert!(obj.contains("encoding:embstr serializedlength:6 "), "{obj}");
    let err = redis::cmd("DEBUG")
        .arg("OBJECT")
        .arg("nokey")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("no such key"));

    // Digests: order-independent, change with the data, zeros when empty.
    let d1: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
    assert_eq!(d1.len(), 40);
    assert_ne!(d1, "0".repeat(40));
    let vals: Vec<String> = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("s")
        .arg("nokey")
        .query(&mut con)
        .unwrap();
    assert_eq!(vals[1], "0".repeat(40));
    assert_ne!(vals[0], vals[1]);
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("other")
        .query(&mut con)
        .unwrap();
    let d2: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
    assert_ne!(d1, d2);
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("hello")
        .query(&mut con)
        .unwrap();
    let d3: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
    assert_eq!(d1, d3);
    let _: () = redis::cmd("DEL").arg("s").arg("n").query(&mut con).unwrap();
    let d4: String = redis::cmd("DEBUG").arg("DIGEST").query(&mut con).unwrap();
    assert_eq!(d4, "0".repeat(40));

    // SET-ACTIVE-EXPIRE 0 keeps expired keys in the table until touched.
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut con)
        .unwrap();
    let with_ttl = redis::cmd("SET")
        .arg("e")
        .arg("1")
        .arg("PX")
        .arg(1)
        .query::<()>(&mut con)
        .is_ok();
    if with_ttl {
        std::thread::sleep(Duration::from_millis(300));
        assert!(info(&mut con, "keyspace")["db0"].starts_with("keys=1,"));
    }
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(1)
        .query(&mut con)
        .unwrap();

    let before = info(&mut con, "replication")["master_replid"].clone();
    let _: () = redis::cmd("DEBUG")
        .arg("CHANGE-REPL-ID")
        .query(&mut con)
        .unwrap();
    assert_ne!(info(&mut con, "replication")["master_replid"], before);

    let err = redis::cmd("DEBUG")
        .arg("NOSUCH")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("Try DEBUG HELP"));
}

#[test]
fn debug_refused_when_disabled() {
    let Some((_s, mut con)) = start(&[]) else {
        return;
    };
    let err = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg(0)
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string().contains("DEBUG command not allowed"),
        "{err}"
    );
}

#[test]
fn time_and_lastsave() {
    let Some((_s, mut con)) = start(&[]) else {
        return;
    };
    let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut con).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((secs - now).abs() <= 2);
    assert!((0..1_000_000).contains(&micros));
    let last: i64 = redis::cmd("LASTSAVE").query(&mut con).unwrap();
    assert!(last <= now + 1 && last > now - 600);
}

#[test]
fn shutdown_exits() {
    let Some(mut server) = Server::start(&[]) else {
        return;
    };
    let mut con = server.client();
    let err = redis::cmd("SHUTDOWN")
        .arg("ABORT")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("No shutdown in progress"));
    // SHUTDOWN SAVE and a failing save are covered in tests/rdb.rs.
    assert!(server.is_running());
    // The connection closes without a reply.
    assert!(
        redis::cmd("SHUTDOWN")
            .arg("NOSAVE")
            .query::<()>(&mut con)
            .is_err()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.is_running() {
        assert!(Instant::now() < deadline, "still running after SHUTDOWN");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server.log_text().contains("ready to exit"));
}
