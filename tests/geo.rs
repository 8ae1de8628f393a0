//! Integration tests of the geospatial commands against redis-server:
//! 10 000 random points (uniform over the globe, clustered, near the
//! poles and the antimeridian), then random GEORADIUS /
//! GEORADIUSBYMEMBER / GEOSEARCH queries (radii and boxes of every size,
//! every unit, WITH* options, ASC/DESC, COUNT [ANY]) whose raw replies must
//! be byte-for-byte equal (members, order, distances, coordinates,
//! hashes); STORE / STOREDIST / GEOSEARCHSTORE results compared through
//! ZRANGE … WITHSCORES on both servers; RESP3 replies; keyspace events.

mod common;

use common::{RawConn, Server, escape};
use rand::{Rng, RngExt, SeedableRng};

fn servers() -> Option<(Server, Server)> {
    let oracle = common::Oracle::start()?;
    let ember = Server::start(&[])?;
    Some((oracle, ember))
}

/// Runs `args` on both connections; the raw replies must be equal.
fn both(r: &mut RawConn, e: &mut RawConn, args: &[String]) -> Vec<u8> {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    let want = r.cmd(&a);
    let got = e.cmd(&a);
    assert_eq!(
        escape(&got),
        escape(&want),
        "replies differ for {}",
        args.join(" ")
    );
    want
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// A random point: uniform, clustered around a few centres, or at the
/// edges of the indexable area.
fn random_point(rng: &mut impl Rng) -> (f64, f64) {
    match rng.random_range(0..10) {
        0..=3 => (
            rng.random_range(-180.0..=180.0),
            rng.random_range(-85.05112878..=85.05112878),
        ),
        4..=6 => {
            let centres = [(13.4, 38.1), (-73.9, 40.7), (151.2, -33.9), (2.35, 48.85)];
            let (x, y) = centres[rng.random_range(0..centres.len())];
            (
                x + rng.random_range(-1.0..1.0),
                y + rng.random_range(-1.0..1.0),
            )
        }
        7 => (
            rng.random_range(179.0..=180.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            rng.random_range(-60.0..60.0),
        ),
        _ => (
            rng.random_range(-180.0..=180.0),
            rng.random_range(80.0..=85.05112878) * if rng.random_bool(0.5) { 1.0 } else { -1.0 },
        ),
    }
}

fn unit(rng: &mut impl Rng) -> (&'static str, f64) {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)][rng.random_range(0..4)]
}

/// A distance in the unit, log-uniform between ~1 m and ~8000 km.
fn random_len(rng: &mut impl Rng, per_unit: f64) -> String {
    let meters = 10f64.powf(rng.random_range(0.0..6.9));
    format!("{:.3}", meters / per_unit)
}

/// Appends random reply options (`store`: no WITH*).
fn options(rng: &mut impl Rng, v: &mut Vec<String>, store: bool) {
    if !store {
        for o in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
            if rng.random_bool(0.4) {
                v.push(o.into());
            }
        }
    }
    match rng.random_range(0..3) {
        0 => v.push("ASC".into()),
        1 => v.push("DESC".into()),
        _ => {}
    }
    if rng.random_bool(0.4) {
        v.push("COUNT".into());
        v.push(rng.random_range(1..50).to_string());
        if rng.random_bool(0.3) {
            v.push("ANY".into());
        }
    }
}

fn load_points(rng: &mut impl Rng, r: &mut RawConn, e: &mut RawConn, key: &str, n: usize) {
    let mut v = s(&["GEOADD", key]);
    for i in 0..n {
        let (lon, lat) = random_point(rng);
        v.push(format!("{lon:.7}"));
        v.push(format!("{lat:.7}"));
        v.push(format!("m{i}"));
        if v.len() > 1500 || i + 1 == n {
            both(r, e, &v);
            v.truncate(2);
        }
    }
}

/// A random search command on `key` (`store`: a storing form into `dst`).
fn random_search(rng: &mut impl Rng, key: &str, n: usize, store: Option<&str>) -> Vec<String> {
    let (u, per) = unit(rng);
    let member = format!("m{}", rng.random_range(0..n));
    let (lon, lat) = random_point(rng);
    let (lon, lat) = (format!("{lon:.6}"), format!("{lat:.6}"));
    let mut v;
    match rng.random_range(0..4) {
        0 => {
            v = s(&["GEORADIUS", key, &lon, &lat]);
            v.push(random_len(rng, per));
            v.push(u.into());
        }
        1 => {
            v = s(&["GEORADIUSBYMEMBER", key, &member]);
            v.push(random_len(rng, per));
            v.push(u.into());
        }
        _ => {
            v = match store {
                Some(d) => s(&["GEOSEARCHSTORE", d, key]),
                None => s(&["GEOSEARCH", key]),
            };
            if rng.random_bool(0.5) {
                v.extend(s(&["FROMMEMBER", &member]));
            } else {
                v.extend(s(&["FROMLONLAT", &lon, &lat]));
            }
            if rng.random_bool(0.5) {
                v.push("BYRADIUS".into());
                v.push(random_len(rng, per));
            } else {
                v.push("BYBOX".into());
                v.push(random_len(rng, per));
                v.push(random_len(rng, per));
            }
            v.push(u.into());
            options(rng, &mut v, store.is_some());
            if store.is_some() && rng.random_bool(0.5) {
                v.push("STOREDIST".into());
            }
            return v;
        }
    }
    options(rng, &mut v, store.is_some());
    if let Some(d) = store {
        v.push(
            if rng.random_bool(0.5) {
                "STORE"
            } else {
                "STOREDIST"
            }
            .into(),
        );
        v.push(d.into());
    }
    v
}

#[test]
fn random_searches_match_redis() {
    let Some((oracle, ember)) = servers() else {
        return;
    };
    let (mut r, mut e) = (oracle.raw(), ember.raw());
    let seed: u64 = std::env::var("EMBER_GEO_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20260);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    const N: usize = 10_000;
    load_points(&mut rng, &mut r, &mut e, "pts", N);
    both(&mut r, &mut e, &s(&["ZCARD", "pts"]));
    both(
        &mut r,
        &mut e,
        &s(&["ZRANGE", "pts", "0", "-1", "WITHSCORES"]),
    );
    let mut nonempty = 0;
    for _ in 0..1500 {
        let q = random_search(&mut rng, "pts", N, None);
        let reply = both(&mut r, &mut e, &q);
        if reply != b"*0\r\n" {
            nonempty += 1;
        }
    }
    assert!(
        nonempty > 100,
        "too few searches found anything: {nonempty}"
    );
    // Positions, hashes and distances of random members.
    for _ in 0..50 {
        let mut v = s(&["GEOPOS", "pts"]);
        let mut h = s(&["GEOHASH", "pts"]);
        for _ in 0..20 {
            let m = format!("m{}", rng.random_range(0..N + 10));
            v.push(m.clone());
            h.push(m);
        }
        both(&mut r, &mut e, &v);
        both(&mut r, &mut e, &h);
        let (u, _) = unit(&mut rng);
        let a = format!("m{}", rng.random_range(0..N));
        let b = format!("m{}", rng.random_range(0..N));
        both(&mut r, &mut e, &s(&["GEODIST", "pts", &a, &b, u]));
    }
}

#[test]
fn stored_results_match_redis() {
    let Some((oracle, ember)) = servers() else {
        return;
    };
    let (mut r, mut e) = (oracle.raw(), ember.raw());
    let mut rng = rand::rngs::StdRng::seed_from_u64(77);
    const N: usize = 3000;
    load_points(&mut rng, &mut r, &mut e, "pts", N);
    // A small set stays a listpack when stored; a large one a skiplist.
    load_points(&mut rng, &mut r, &mut e, "few", 60);
    for i in 0..150 {
        let (key, n) = if i % 3 == 0 { ("few", 60) } else { ("pts", N) };
        let q = random_search(&mut rng, key, n, Some("dst"));
        both(&mut r, &mut e, &q);
        both(
            &mut r,
            &mut e,
            &s(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        );
        both(&mut r, &mut e, &s(&["OBJECT", "ENCODING", "dst"]));
        both(&mut r, &mut e, &s(&["EXISTS", "dst"]));
    }
}

#[test]
fn resp3_replies_match_redis() {
    let Some((oracle, ember)) = servers() else {
        return;
    };
    let (mut r, mut e) = (oracle.raw(), ember.raw());
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    load_points(&mut rng, &mut r, &mut e, "pts", 500);
    r.cmd(&[b"HELLO", b"3"]);
    e.cmd(&[b"HELLO", b"3"]);
    for _ in 0..60 {
        let q = random_search(&mut rng, "pts", 500, None);
        both(&mut r, &mut e, &q);
    }
    both(&mut r, &mut e, &s(&["GEOPOS", "pts", "m1", "m2", "nosuch"]));
    both(&mut r, &mut e, &s(&["GEODIST", "pts", "m1", "m2", "km"]));
    both(&mut r, &mut e, &s(&["GEODIST", "pts", "m1", "nosuch"]));
}

#[test]
fn keyspace_events_match_redis() {
    let Some((oracle, ember)) = servers() else {
        return;
    };
    let mut transcripts = Vec::new();
    for srv in [&oracle, &ember] {
        let mut c = srv.raw();
        c.cmd(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA"]);
        let mut sub = srv.raw();
        sub.cmd(&[b"PSUBSCRIBE", b"__key*@*__:*"]);
        let script: &[&[&str]] = &[
            &[
                "GEOADD",
                "g",
                "13.361389",
                "38.115556",
                "Palermo",
                "15.087269",
                "37.502669",
                "Catania",
            ],
            &["GEOADD", "g", "13.361389", "38.115556", "Palermo"],
            &["GEOADD", "g", "XX", "1", "1", "nobody"],
            &["GEOADD", "g", "CH", "13", "38", "Palermo"],
            &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d1"],
            &["GEORADIUS", "g", "15", "37", "200", "km", "STOREDIST", "d1"],
            &[
                "GEORADIUSBYMEMBER",
                "g",
                "Palermo",
                "1",
                "m",
                "STORE",
                "nothing",
            ],
            &["GEORADIUS", "g", "15", "37", "1", "m", "STORE", "d1"],
            &[
                "GEOSEARCHSTORE",
                "d2",
                "g",
                "FROMLONLAT",
                "15",
                "37",
                "BYBOX",
                "400",
                "400",
                "km",
            ],
            &[
                "GEOSEARCHSTORE",
                "d2",
                "g",
                "FROMLONLAT",
                "15",
                "37",
                "BYBOX",
                "1",
                "1",
                "m",
            ],
            &[
                "GEOSEARCH",
                "missing",
                "FROMLONLAT",
                "15",
                "37",
                "BYBOX",
                "1",
                "1",
                "m",
            ],
            &["GEOPOS", "missing", "a"],
            &["GEORADIUS", "g", "15", "37", "200", "km"],
        ];
        let mut t = Vec::new();
        for line in script {
            let args: Vec<&[u8]> = line.iter().map(|a| a.as_bytes()).collect();
            t.push(format!("> {}", line.join(" ")));
            t.push(escape(&c.cmd(&args)));
            c.cmd(&[b"PING", b"sync"]);
            // Every event arrives before the reply of a later PING of the
            // subscriber itself.
            sub.send(&common::encode_command(&[b"PING", b"mark"]));
            loop {
                let m = sub.read_reply();
                let text = escape(&m);
                if text.contains("mark") {
                    break;
                }
                t.push(text);
            }
        }
        transcripts.push(t);
    }
    assert_eq!(transcripts[1], transcripts[0]);
}

/// Many members at the same few places: equal distances everywhere, so
/// the order of ties (Redis's stable full sort, or its partial quicksort
/// when COUNT cuts the result) is compared too.
#[test]
fn ties_are_ordered_as_redis() {
    let Some((oracle, ember)) = servers() else {
        return;
    };
    let (mut r, mut e) = (oracle.raw(), ember.raw());
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let places: Vec<(f64, f64)> = (0..25)
        .map(|_| (rng.random_range(2.0..2.2), rng.random_range(48.0..48.2)))
        .collect();
    let mut v = s(&["GEOADD", "dups"]);
    for i in 0..600 {
        let (lon, lat) = places[rng.random_range(0..places.len())];
        v.push(format!("{lon:.6}"));
        v.push(format!("{lat:.6}"));
        v.push(format!("d{i}"));
    }
    both(&mut r, &mut e, &v);
    for _ in 0..400 {
        let (lon, lat) = places[rng.random_range(0..places.len())];
        let mut q = s(&[
            "GEORADIUS",
            "dups",
            &format!("{lon:.6}"),
            &format!("{lat:.6}"),
        ]);
        q.push(rng.random_range(1..40).to_string());
        q.push("km".into());
        q.push(if rng.random_bool(0.5) { "ASC" } else { "DESC" }.into());
        if rng.random_bool(0.8) {
            q.push("COUNT".into());
            q.push(rng.random_range(1..700).to_string());
        }
        if rng.random_bool(0.5) {
            q.push("WITHDIST".into());
        }
        both(&mut r, &mut e, &q);
    }
}

/// What GEOADD and the storing searches append to the AOF (GEOADD as
/// `ZADD key [opts] score member …`, the searches verbatim, nothing for
/// writes that changed nothing) equals what redis-server appends.
#[test]
fn aof_propagation_matches_redis() {
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let Some(oracle) = common::Oracle::start_with(&args) else {
        return;
    };
    let Some(ember) = Server::start(&args) else {
        return;
    };
    let mut files = Vec::new();
    for srv in [&oracle, &ember] {
        let mut c = srv.raw();
        for line in [
            "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
            "GEOADD g 13.361389 38.115556 Palermo",
            "GEOADD g xx CH 13 38 Palermo 1 1 nobody",
            "GEOADD g NX 13 38 Palermo 2 2 Other",
            "GEORADIUS g 15 37 200 km STORE d1",
            "GEORADIUS g 15 37 1 m STORE d1",
            "GEORADIUS g 15 37 1 m STORE d1",
            "GEOSEARCHSTORE d2 g FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST",
            "GEOSEARCH g FROMLONLAT 15 37 BYBOX 400 400 km",
            "GEORADIUS g 15 37 200 km",
        ] {
            let a: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            c.cmd(&a);
        }
        let dir = srv.dir().join("appendonlydir");
        let mut incr: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
            .collect();
        incr.sort();
        let text = std::fs::read(incr.last().unwrap()).unwrap();
        files.push(escape(&text));
    }
    assert_eq!(files[1], files[0]);
    assert!(files[0].contains("zadd"), "{}", files[0]);
}
