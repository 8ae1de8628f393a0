//! Geospatial commands (GEOADD, GEOPOS, GEODIST, GEOHASH, GEORADIUS,
//! GEORADIUSBYMEMBER and their `_RO` forms, GEOSEARCH, GEOSEARCHSTORE)
//! over sorted sets whose scores are 52-bit geohashes
//! ([`crate::storage::geo`] does the geometry).
//!
//! As in Redis, GEOADD is ZADD with computed scores: it reports `zadd` and
//! propagates as `ZADD key [opts] score member …`. The search commands
//! share one handler ([`search_generic`]) whose argument parsing follows
//! Redis's loop step by step, because the order in which errors are
//! found (a missing FROMMEMBER member before a later syntax error, …) is
//! visible to clients. Coordinates are answered in Redis's "human" long
//! double form (`%.17Lf`, trailing zeros removed), distances with `%.4f`.

use super::flags::{DENYOOM, READONLY, WRITE};
use super::zsets::limits;
use super::{Args, CommandDef, Ctx, Keys, acl};
use crate::protocol::reply::{Reply, Resp};
use crate::storage::geo::{self, Found, Shape, ShapeKind};
use crate::storage::keyspace::Db;
use crate::storage::notify::{GENERIC, ZSET};
use crate::storage::value::Value;
use crate::storage::zset::ZSetValue;
use crate::util::num::{parse_f64_like_strtod, parse_i64};

pub const COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "geoadd",
        arity: -5,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::GEO | acl::SLOW,
        keys: Keys::ONE,
        group: "geo",
        since: "3.2.0",
        summary: "Adds points (longitude, latitude, name) to a geospatial index.",
        handler: geoadd,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "geodist",
        arity: -4,
        flags: READONLY,
        acl: acl::READ | acl::GEO | acl::SLOW,
        keys: Keys::ONE,
        group: "geo",
        since: "3.2.0",
        summary: "Distance between two points of a geospatial index.",
        handler: geodist,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "geohash",
        arity: -2,
        flags: READONLY,
        acl: acl::READ | acl::GEO | acl::SLOW,
        keys: Keys::ONE,
        group: "geo",
        since: "3.2.0",
        summary: "Standard geohash strings of points.",
        handler: geohash,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "geopos",
        arity: -2,
        flags: READONLY,
        acl: acl::READ | acl::GEO | acl::SLOW,
        keys: Keys::ONE,
        group: "geo",
        since: "3.2.0",
        summary: "Longitude and latitude of points.",
        handler: geopos,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "georadius",
        arity: -6,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::GEO | acl::SLOW,
        keys: Keys::Custom(radius_keys),
        group: "geo",
        since: "3.2.0",
        summary: "Points within a radius of a position, optionally stored (deprecated).",
        handler: georadius,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "georadius_ro",
        arity: -6,
        flags: READONLY,
        acl: acl::READ | acl::GEO | acl::SLOW,
        keys: Keys::ONE,
        group: "geo",
        since: "3.2.10",
        summary: "GEORADIUS without STORE (deprecated).",
        handler: georadius_ro,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "georadiusbymember",
        arity: -5,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::GEO | acl::SLOW,
        keys: Keys::Custom(radius_keys),
        group: "geo",
        since: "3.2.0",
        summary: "Points within a radius of a member, optionally stored (deprecated).",
        handler: georadiusbymember,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "georadiusbymember_ro",
        arity: -5,
        flags: READONLY,
        acl: acl::READ | acl::GEO | acl::SLOW,
        keys: Keys::ONE,
        group: "geo",
        since: "3.2.10",
        summary: "GEORADIUSBYMEMBER without STORE (deprecated).",
        handler: georadiusbymember_ro,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "geosearch",
        arity: -7,
        flags: READONLY,
        acl: acl::READ | acl::GEO | acl::SLOW,
        keys: Keys::ONE,
        group: "geo",
        since: "6.2.0",
        summary: "Points within a circle or box around a member or position.",
        handler: geosearch,
        ..CommandDef::DEFAULT
    },
    CommandDef {
        name: "geosearchstore",
        arity: -8,
        flags: WRITE | DENYOOM,
        acl: acl::WRITE | acl::GEO | acl::SLOW,
        keys: Keys::Range {
            first: 1,
            last: 2,
            step: 1,
        },
        group: "geo",
        since: "6.2.0",
        summary: "GEOSEARCH whose result is stored as a sorted set.",
        handler: geosearchstore,
        ..CommandDef::DEFAULT
    },
];

/// Keys of GEORADIUS / GEORADIUSBYMEMBER: the source, and the last
/// STORE/STOREDIST destination (Redis's `georadiusGetKeys`).
fn radius_keys(args: &Args, out: &mut Vec<usize>) {
    out.push(1);
    if let Some(i) = store_index(args) {
        out.push(i);
    }
}

fn store_index(args: &Args) -> Option<usize> {
    let mut found = None;
    let mut i = 5;
    while i < args.len() {
        let a = args.get(i);
        if (a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist"))
            && i + 1 < args.len()
        {
            found = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    found
}

const NOT_FLOAT: &str = "ERR value is not a valid float";
const BAD_MEMBER: &str = "ERR could not decode requested zset member";

// ----- shared helpers ------------------------------------------------------------

enum Lookup {
    Missing,
    ZSet,
    WrongType,
}

/// Looks `key` up for reading (hit/miss counted, `keymiss` reported).
fn lookup(db: &mut Db, key: &[u8]) -> Lookup {
    match db.get(key).map(|e| &e.value) {
        None => Lookup::Missing,
        Some(Value::ZSet(_)) => Lookup::ZSet,
        Some(_) => Lookup::WrongType,
    }
}

/// The sorted set at `key`, already looked up.
fn zset<'e>(db: &'e mut Db, key: &[u8]) -> Option<&'e ZSetValue> {
    match db.peek(key).map(|e| &e.value) {
        Some(Value::ZSet(z)) => Some(z),
        _ => None,
    }
}

/// A longitude and latitude argument pair; answers the error itself.
fn lon_lat(ctx: &mut Ctx, lon: &[u8], lat: &[u8]) -> Option<(f64, f64)> {
    let (Some(x), Some(y)) = (parse_f64_like_strtod(lon), parse_f64_like_strtod(lat)) else {
        ctx.out.err(NOT_FLOAT);
        return None;
    };
    if !geo::valid_lon_lat(x, y) {
        ctx.out.err(&format!(
            "ERR invalid longitude,latitude pair {x:.6},{y:.6}"
        ));
        return None;
    }
    Some((x, y))
}

/// A unit's length in meters; answers the error itself.
fn unit(ctx: &mut Ctx, u: &[u8]) -> Option<f64> {
    let m = if u.eq_ignore_ascii_case(b"m") {
        1.0
    } else if u.eq_ignore_ascii_case(b"km") {
        1000.0
    } else if u.eq_ignore_ascii_case(b"ft") {
        0.3048
    } else if u.eq_ignore_ascii_case(b"mi") {
        1609.34
    } else {
        ctx.out
            .err("ERR unsupported unit provided. please use M, KM, FT, MI");
        return None;
    };
    Some(m)
}

/// `radius unit`: (radius, meters per unit).
fn radius_arg(ctx: &mut Ctx, r: &[u8], u: &[u8]) -> Option<(f64, f64)> {
    let Some(r) = parse_f64_like_strtod(r) else {
        ctx.out.err("ERR need numeric radius");
        return None;
    };
    if r < 0.0 {
        ctx.out.err("ERR radius cannot be negative");
        return None;
    }
    Some((r, unit(ctx, u)?))
}

/// `width height unit`: (width, height, meters per unit).
fn box_arg(ctx: &mut Ctx, w: &[u8], h: &[u8], u: &[u8]) -> Option<(f64, f64, f64)> {
    let Some(w) = parse_f64_like_strtod(w) else {
        ctx.out.err("ERR need numeric width");
        return None;
    };
    let Some(h) = parse_f64_like_strtod(h) else {
        ctx.out.err("ERR need numeric height");
        return None;
    };
    if h < 0.0 || w < 0.0 {
        ctx.out.err("ERR height or width cannot be negative");
        return None;
    }
    Some((w, h, unit(ctx, u)?))
}

/// A distance as Redis 7.0 writes it (`fixedpoint_d2string` with 4
/// digits): the value times 10^4 rounded to an integer by `llrint` (ties
/// to even, on the product), then printed with a point before the last
/// four digits. Not `%.4f`: 21777017.390450001 gives `…3904`, not `…3905`.
fn fmt_distance(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".to_string();
    }
    let scaled = d * 10000.0;
    // llrint on x86-64: out of range (or NaN) gives LLONG_MIN.
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    let r = scaled.round_ties_even();
    let v: i64 = if (-TWO63..TWO63).contains(&r) {
        r as i64
    } else {
        i64::MIN
    };
    let sign = if v < 0 { "-" } else { "" };
    let u = v.unsigned_abs();
    format!("{sign}{}.{:04}", u / 10000, u % 10000)
}

/// Redis's "human" long double text: `%.17Lf` with trailing zeros and a
/// trailing dot removed, `-0` as `0`.
fn fmt_human(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

/// A coordinate: a bulk string in RESP2, a double in RESP3, both in the
/// human form.
fn reply_coord(out: &mut Reply, v: f64) {
    let s = fmt_human(v);
    match out.resp() {
        Resp::V2 => out.bulk(s.as_bytes()),
        _ => out.raw(|b| {
            b.push(b',');
            b.extend_from_slice(s.as_bytes());
            b.extend_from_slice(b"\r\n");
        }),
    }
}

// ----- GEOADD --------------------------------------------------------------------

fn geoadd(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut at = 2;
    while at < args.len() {
        let o = args.get(at);
        if o.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if o.eq_ignore_ascii_case(b"ch") {
            ch = true;
        } else {
            break;
        }
        at += 1;
    }
    let rest = args.len() - at;
    // The ZADD it becomes refuses zero elements with the same error.
    if !rest.is_multiple_of(3) || (nx && xx) || rest == 0 {
        return ctx.syntax_error();
    }
    let n = rest / 3;
    let mut scores = Vec::with_capacity(n);
    let mut maxlen = 0;
    for i in 0..n {
        let t = at + 3 * i;
        let Some((lon, lat)) = lon_lat(ctx, args.get(t), args.get(t + 1)) else {
            return;
        };
        scores.push(geo::score_of(lon, lat).unwrap_or(0));
        maxlen = maxlen.max(args.get(t + 2).len());
    }
    let lim = limits(ctx);
    let created = match ctx.db.get_for_write(key).map(|e| &e.value) {
        Some(Value::ZSet(_)) => false,
        Some(_) => return ctx.wrong_type(),
        None if xx => return ctx.out.int(0),
        None => {
            let z = ZSetValue::with_hint(n, maxlen, lim);
            ctx.db.set(key, Value::ZSet(Box::new(z)), false);
            true
        }
    };
    let Some(Value::ZSet(z)) = ctx.db.peek(key).map(|e| &mut e.value) else {
        return ctx.out.err("ERR internal error: sorted set vanished");
    };
    let (mut added, mut updated) = (0usize, 0usize);
    for (i, &bits) in scores.iter().enumerate() {
        let member = args.get(at + 3 * i + 2);
        let score = bits as f64;
        match z.score(member) {
            Some(cur) if !nx && cur != score => {
                z.insert(member, score, lim);
                updated += 1;
            }
            Some(_) => {}
            None if !xx => {
                z.insert(member, score, lim);
                added += 1;
            }
            None => {}
        }
    }
    let changed = added + updated;
    if changed > 0 {
        ctx.notify(ZSET, "zadd", key);
        if !created {
            ctx.db.touched(key);
        }
        ctx.db.dirty += changed as u64 - 1;
        if ctx.propagating() {
            let texts: Vec<String> = scores.iter().map(u64::to_string).collect();
            let mut v: Vec<&[u8]> = Vec::with_capacity(at + 2 * n);
            v.push(b"zadd");
            for i in 1..at {
                v.push(args.get(i));
            }
            for (i, t) in texts.iter().enumerate() {
                v.push(t.as_bytes());
                v.push(args.get(at + 3 * i + 2));
            }
            ctx.propagate_as(&v);
        }
    }
    ctx.out.int((if ch { changed } else { added }) as i64);
}

// ----- GEOPOS / GEOHASH / GEODIST -----------------------------------------------

/// GEOPOS/GEOHASH: the score of each member named from argument 2 on
/// (`None` for a missing member or key), found with one lookup of the key;
/// `None` (error answered) when the key holds another type.
fn member_scores(ctx: &mut Ctx, args: &Args) -> Option<Vec<Option<f64>>> {
    let key = args.get(1);
    let members = 2..args.len();
    match lookup(ctx.db, key) {
        Lookup::WrongType => {
            ctx.wrong_type();
            None
        }
        Lookup::Missing => Some(members.map(|_| None).collect()),
        Lookup::ZSet => {
            let z = zset(ctx.db, key);
            Some(
                members
                    .map(|i| z.and_then(|z| z.score(args.get(i))))
                    .collect(),
            )
        }
    }
}

fn geopos(ctx: &mut Ctx, args: &Args) {
    let Some(scores) = member_scores(ctx, args) else {
        return;
    };
    ctx.out.array(scores.len());
    for score in scores {
        match score {
            None => ctx.out.null_array(),
            Some(s) => {
                let (lon, lat) = geo::decode_score(s);
                ctx.out.array(2);
                reply_coord(ctx.out, lon);
                reply_coord(ctx.out, lat);
            }
        }
    }
}

fn geohash(ctx: &mut Ctx, args: &Args) {
    let Some(scores) = member_scores(ctx, args) else {
        return;
    };
    ctx.out.array(scores.len());
    for score in scores {
        match score {
            None => ctx.out.null(),
            Some(s) => ctx.out.bulk(&geo::geohash_string(s)),
        }
    }
}

fn geodist(ctx: &mut Ctx, args: &Args) {
    let to_meter = match args.len() {
        5 => match unit(ctx, args.get(4)) {
            Some(m) => m,
            None => return,
        },
        n if n > 5 => return ctx.syntax_error(),
        _ => 1.0,
    };
    let key = args.get(1);
    match lookup(ctx.db, key) {
        Lookup::WrongType => return ctx.wrong_type(),
        Lookup::Missing => return ctx.out.null(),
        Lookup::ZSet => {}
    }
    let Some(z) = zset(ctx.db, key) else {
        return ctx.out.null();
    };
    let (Some(a), Some(b)) = (z.score(args.get(2)), z.score(args.get(3))) else {
        return ctx.out.null();
    };
    let (lon1, lat1) = geo::decode_score(a);
    let (lon2, lat2) = geo::decode_score(b);
    let d = geo::distance(lon1, lat1, lon2, lat2) / to_meter;
    ctx.out.bulk(fmt_distance(d).as_bytes());
}

// ----- the searches ----------------------------------------------------------------

/// Search around coordinates (GEORADIUS).
const BY_COORDS: u8 = 1;
/// Search around a member (GEORADIUSBYMEMBER).
const BY_MEMBER: u8 = 2;
/// No STORE/STOREDIST (the `_RO` forms).
const NO_STORE: u8 = 4;
/// GEOSEARCH's arguments.
const SEARCH: u8 = 8;
/// GEOSEARCHSTORE: destination first, STOREDIST a flag.
const SEARCH_STORE: u8 = 16;

#[derive(PartialEq, Clone, Copy)]
enum Sort {
    None,
    Asc,
    Desc,
}

fn georadius(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, 1, BY_COORDS);
}

fn georadius_ro(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, 1, BY_COORDS | NO_STORE);
}

fn georadiusbymember(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, 1, BY_MEMBER);
}

fn georadiusbymember_ro(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, 1, BY_MEMBER | NO_STORE);
}

fn geosearch(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, 1, SEARCH);
}

fn geosearchstore(ctx: &mut Ctx, args: &Args) {
    search_generic(ctx, args, 2, SEARCH | SEARCH_STORE);
}

/// The centre of a search from a member's position; answers the error.
fn member_centre(ctx: &mut Ctx, key: &[u8], member: &[u8]) -> Option<(f64, f64)> {
    match zset(ctx.db, key).and_then(|z| z.score(member)) {
        Some(s) => Some(geo::decode_score(s)),
        None => {
            ctx.out.err(BAD_MEMBER);
            None
        }
    }
}

/// Redis's `georadiusGeneric`: every search command.
fn search_generic(ctx: &mut Ctx, args: &Args, src_at: usize, flags: u8) {
    let src = args.get(src_at);
    let exists = match lookup(ctx.db, src) {
        Lookup::WrongType => return ctx.wrong_type(),
        Lookup::Missing => false,
        Lookup::ZSet => true,
    };
    let mut store: Option<usize> = None;
    let mut storedist = false;
    let (mut lon, mut lat) = (0.0, 0.0);
    let mut kind = ShapeKind::Radius(0.0);
    let mut conversion = 0.0;
    let base;
    if flags & BY_COORDS != 0 {
        base = 6;
        let Some(c) = lon_lat(ctx, args.get(2), args.get(3)) else {
            return;
        };
        (lon, lat) = c;
        let Some((r, m)) = radius_arg(ctx, args.get(4), args.get(5)) else {
            return;
        };
        (kind, conversion) = (ShapeKind::Radius(r), m);
    } else if flags & BY_MEMBER != 0 {
        base = 5;
        if exists {
            let Some(c) = member_centre(ctx, src, args.get(2)) else {
                return;
            };
            (lon, lat) = c;
            let Some((r, m)) = radius_arg(ctx, args.get(3), args.get(4)) else {
                return;
            };
            (kind, conversion) = (ShapeKind::Radius(r), m);
        }
    } else if flags & SEARCH_STORE != 0 {
        base = 3;
        store = Some(1);
    } else {
        base = 2;
    }

    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let remaining = args.len().saturating_sub(base);
    let mut i = 0;
    while i < remaining {
        let at = base + i;
        let a = args.get(at);
        let is = |w: &[u8]| a.eq_ignore_ascii_case(w);
        if is(b"withdist") {
            withdist = true;
        } else if is(b"withhash") {
            withhash = true;
        } else if is(b"withcoord") {
            withcoord = true;
        } else if is(b"any") {
            any = true;
        } else if is(b"asc") {
            sort = Sort::Asc;
        } else if is(b"desc") {
            sort = Sort::Desc;
        } else if is(b"count") && i + 1 < remaining {
            let Some(n) = parse_i64(args.get(at + 1)) else {
                return ctx.not_integer();
            };
            if n <= 0 {
                return ctx.out.err("ERR COUNT must be > 0");
            }
            count = n;
            i += 1;
        } else if (is(b"store") || is(b"storedist"))
            && i + 1 < remaining
            && flags & (NO_STORE | SEARCH) == 0
        {
            store = Some(at + 1);
            storedist = is(b"storedist");
            i += 1;
        } else if is(b"storedist") && flags & SEARCH_STORE != 0 {
            storedist = true;
        } else if is(b"frommember") && i + 1 < remaining && flags & SEARCH != 0 && !fromloc {
            if exists {
                let Some(c) = member_centre(ctx, src, args.get(at + 1)) else {
                    return;
                };
                (lon, lat) = c;
            }
            frommember = true;
            i += 1;
        } else if is(b"fromlonlat") && i + 2 < remaining && flags & SEARCH != 0 && !frommember {
            let Some(c) = lon_lat(ctx, args.get(at + 1), args.get(at + 2)) else {
                return;
            };
            (lon, lat) = c;
            fromloc = true;
            i += 2;
        } else if is(b"byradius") && i + 2 < remaining && flags & SEARCH != 0 && !bybox {
            let Some((r, m)) = radius_arg(ctx, args.get(at + 1), args.get(at + 2)) else {
                return;
            };
            (kind, conversion) = (ShapeKind::Radius(r), m);
            byradius = true;
            i += 2;
        } else if is(b"bybox") && i + 3 < remaining && flags & SEARCH != 0 && !byradius {
            let Some((w, h, m)) =
                box_arg(ctx, args.get(at + 1), args.get(at + 2), args.get(at + 3))
            else {
                return;
            };
            (kind, conversion) = (ShapeKind::Box(w, h), m);
            bybox = true;
            i += 3;
        } else {
            return ctx.syntax_error();
        }
        i += 1;
    }

    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if flags & SEARCH_STORE != 0 {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return ctx.out.err(&format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        ));
    }
    let name = String::from_utf8_lossy(args.get(0)).into_owned();
    if flags & SEARCH != 0 && !(frommember || fromloc) {
        return ctx.out.err(&format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
    }
    if flags & SEARCH != 0 && !(byradius || bybox) {
        return ctx.out.err(&format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
    }
    if any && count == 0 {
        return ctx.out.err("ERR the ANY argument requires COUNT argument");
    }
    // The destination must be one of the keys the dispatcher locked.
    if let Some(d) = store
        && flags & SEARCH == 0
        && store_index(args) != Some(d)
    {
        return ctx.syntax_error();
    }
    let dst = store.map(|d| args.get(d));

    if !exists {
        match dst {
            Some(d) => {
                if ctx.db.remove(d).is_some() {
                    ctx.notify(GENERIC, "del", d);
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return;
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let shape = Shape {
        lon,
        lat,
        kind,
        conversion,
    };
    let limit = if any { count as usize } else { 0 };
    let Some(z) = zset(ctx.db, src) else {
        return ctx.out.array(0);
    };
    let mut found = geo::search(z, &shape, limit);
    if found.is_empty() && dst.is_none() {
        return ctx.out.array(0);
    }
    let returned = if count == 0 || (found.len() as u64) < count as u64 {
        found.len()
    } else {
        count as usize
    };
    if sort != Sort::None {
        geo::sort_by_distance(&mut found, sort == Sort::Desc, returned);
    }
    found.truncate(returned);
    for f in found.iter_mut() {
        f.dist /= conversion;
    }
    match dst {
        None => reply_found(ctx.out, &found, withdist, withhash, withcoord),
        Some(d) => store_found(ctx, d, found, storedist, flags & SEARCH != 0),
    }
}

fn reply_found(out: &mut Reply, found: &[Found], withdist: bool, withhash: bool, withcoord: bool) {
    let extra = withdist as usize + withhash as usize + withcoord as usize;
    out.array(found.len());
    for f in found {
        if extra > 0 {
            out.array(extra + 1);
        }
        out.bulk(&f.member);
        if withdist {
            out.bulk(fmt_distance(f.dist).as_bytes());
        }
        if withhash {
            out.int(geo::score_as_i64(f.score));
        }
        if withcoord {
            out.array(2);
            reply_coord(out, f.lon);
            reply_coord(out, f.lat);
        }
    }
}

/// STORE / STOREDIST / GEOSEARCHSTORE: the results as a sorted set
/// (scores: geohashes, or distances in the unit), or `dst` deleted when
/// there are none.
fn store_found(ctx: &mut Ctx, dst: &[u8], found: Vec<Found>, storedist: bool, search: bool) {
    let n = found.len();
    if n == 0 {
        if ctx.db.remove(dst).is_some() {
            ctx.notify(GENERIC, "del", dst);
        }
        return ctx.out.int(0);
    }
    let lim = limits(ctx);
    let maxlen = found.iter().map(|f| f.member.len()).max().unwrap_or(0);
    let mut z = ZSetValue::with_hint(n, maxlen, lim);
    for f in &found {
        z.insert(&f.member, if storedist { f.dist } else { f.score }, lim);
    }
    ctx.db.set(dst, Value::ZSet(Box::new(z)), false);
    ctx.db.dirty += n as u64 - 1;
    let event = if search {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    ctx.notify(ZSET, event, dst);
    ctx.out.int(n as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_format() {
        assert_eq!(fmt_human(13.361389338970184), "13.36138933897018433");
        assert_eq!(fmt_human(180.0), "180");
        assert_eq!(fmt_human(-0.0), "0");
        assert_eq!(fmt_human(0.5), "0.5");
        assert_eq!(fmt_distance(0.0), "0.0000");
        assert_eq!(fmt_distance(0.00025), "0.0002");
        assert_eq!(fmt_distance(0.00035), "0.0004");
        assert_eq!(fmt_distance(21_777_017.390_45), "21777017.3904");
        assert_eq!(fmt_distance(166274.15156960033), "166274.1516");
        assert_eq!(fmt_distance(f64::NAN), "-922337203685477.5808");
    }

    #[test]
    fn human_format_matches_printf() {
        let mut seed = 99u64;
        for _ in 0..20000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = ((seed >> 11) as f64 / (1u64 << 53) as f64) * 360.0 - 180.0;
            let mut buf = [0u8; 128];
            // SAFETY: the buffer holds any %.17f of a value below 1000 and
            // is NUL-terminated by snprintf; the format takes one double.
            let n =
                unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17f".as_ptr(), v) };
            let c = String::from_utf8(buf[..n as usize].to_vec()).unwrap();
            assert_eq!(format!("{v:.17}"), c);
        }
    }
}
